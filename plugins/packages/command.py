"""``civiscan feeds import|list``: the offline advisory feeds the ``packages`` checks match against.

Registered in the ``civiscan.commands`` entry-point group. Feeds are imported
into the store's ``advisories`` dataset, which collection reads through
``Context.dataset("advisories")``.
"""

from __future__ import annotations

import zipfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from scanner.cli import Fail, db_option, open_store
from scanner.errors import ExitCode
from scanner.store import default_db_path, is_url

from . import feeds as feedlib
from . import update as updatelib

FORMATS_GROUP = "civiscan.feed_formats"
"""Entry points of other datasets' importers: objects with ``dataset``, ``recognises(path)``,
``import_path(conn, path, name=...) -> str`` and ``list_lines(rows) -> [str]`` (docs/plugins.md)."""


def _formats() -> list[Any]:
    found = []
    for ep in sorted(entry_points(group=FORMATS_GROUP), key=lambda e: e.name):
        try:
            found.append(ep.load())
        except Exception as exc:  # a broken plugin is a warning, never a crash
            click.echo(f"warning: feed format '{ep.name}' failed to load: {type(exc).__name__}: {exc}", err=True)
    return found


@click.group()
def feeds() -> None:
    """Offline feeds: advisories (OSV, Debian Security Tracker) and plugins' datasets (tracker lists)."""


@feeds.command("import")
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", metavar="NAME", help="Feed name (default: derived from its ecosystems).")
@db_option
def feeds_import(paths: tuple[str, ...], name: str | None, db: str | None) -> None:
    """Import OSV advisories (directory, JSON or per-ecosystem zip), a Debian tracker JSON file, or a plugin's dataset (DuckDuckGo Tracker Radar files)."""
    store = open_store(db)
    formats = _formats()
    for path in paths:
        other = next((f for f in formats if f.recognises(path)), None)
        if other is not None:
            try:
                with store.write_dataset(other.dataset) as conn:
                    click.echo(other.import_path(conn, path, name=name))
            except (ValueError, OSError) as exc:
                raise Fail(str(exc)) from None
            continue
        try:
            with store.write_dataset("advisories") as conn:
                result = feedlib.import_path(conn, path, name=name)
        except (feedlib.FeedFormatError, ValueError, OSError, zipfile.BadZipFile, KeyError, TypeError) as exc:
            raise Fail(f"{path}: cannot import: {exc}") from None
        info = result.feed
        releases = ", ".join(f"{r} ({n})" for r, n in sorted(result.releases.items())) or "none"
        click.echo(f"{path}: feed '{info.name}' ({info.kind}), {info.advisories} advisories, dated {info.feed_date or 'unknown'}; releases: {releases}")


@feeds.command("list")
@db_option
def feeds_list(db: str | None) -> None:
    """List imported feeds with their dates."""
    store = open_store(db)
    advisories = store.dataset("advisories")
    rows = []
    if advisories is not None:
        with advisories.read() as conn:
            rows = feedlib.list_feeds(conn)
    others = []
    for fmt in _formats():
        dataset = store.dataset(fmt.dataset)
        if dataset is not None:
            with dataset.read() as conn:
                others += fmt.list_lines(conn)
    if not rows and not others:
        click.echo("No feeds imported (civiscan feeds import PATH).")
    for info in rows:
        click.echo(f"{info.name:<30} {info.kind:<16} {info.advisories:>8} advisories  dated {info.feed_date or '?'}  imported {info.imported_at}")
    for line in others:
        click.echo(line)


class _FeedSpec(click.ParamType):
    """``NAME=URL``, checked where it is written (a bad one in civiscan.toml is reported at its line)."""

    name = "feed"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> updatelib.FeedSpec:
        if isinstance(value, updatelib.FeedSpec):
            return value
        try:
            return updatelib.parse_spec(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@feeds.command("update")
@click.option(
    "--feed", "feed_specs", multiple=True, metavar="NAME=URL", type=_FeedSpec(),
    help="A feed to download (repeatable): the allow-list, usually the 'feed' list of [feeds.update] in civiscan.toml.",
)
@click.option("--dir", "directory", metavar="DIR", help="Where downloads are kept (default: a 'feeds' folder beside the store).")
@click.option("--max-bytes", type=click.IntRange(min=1), default=updatelib.DEFAULT_MAX_BYTES, show_default=True, help="Largest download accepted, in bytes.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=updatelib.DEFAULT_TIMEOUT, show_default=True, help="Seconds each network step may take (connect, each read); a download gets ten times this in all.")
@click.option("--ca-file", metavar="PEM", help="Extra trust anchors for the feeds' TLS certificates, added to the system store.")
@db_option
def feeds_update(
    feed_specs: tuple[updatelib.FeedSpec, ...], directory: str | None, max_bytes: int, timeout: float,
    ca_file: str | None, db: str | None,
) -> None:
    """Download the configured feeds (conditional requests) and import the ones that changed."""
    specs = list(feed_specs)
    twice = sorted({s.name for s in specs if sum(o.name == s.name for o in specs) > 1})
    if twice:
        raise Fail(f"--feed: {', '.join(twice)} named twice")
    if not specs:
        raise Fail(
            "no feeds configured: add feed = [\"NAME=URL\", ...] under [feeds.update] in civiscan.toml, "
            "or pass --feed NAME=URL (docs/packages.md lists the usual URLs)"
        )
    if ca_file and not Path(ca_file).is_file():
        raise Fail(f"{ca_file}: --ca-file not found")
    store = open_store(db)
    if directory:
        folder = Path(directory)
    elif is_url(store.location):  # a PostgreSQL store: keep downloads beside the default store
        folder = default_db_path().parent / "feeds"
    else:
        folder = Path(store.location).resolve().parent / "feeds"
    outcomes = updatelib.update(
        store, specs, folder, ca_file=ca_file, max_bytes=max_bytes, timeout=timeout
    )
    failed = [o for o in outcomes if not o.ok]
    for outcome in outcomes:
        click.echo(outcome.line if outcome.ok else f"error: {outcome.line}", err=not outcome.ok)
    if failed:
        raise Fail(f"{len(failed)} of {len(outcomes)} feeds not updated", ExitCode.INCOMPLETE)
