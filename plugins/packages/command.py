"""``civiscan feeds import|list``: the offline advisory feeds the ``packages`` checks match against.

Registered in the ``civiscan.commands`` entry-point group. Feeds are imported
into the store's ``advisories`` dataset, which collection reads through
``Context.dataset("advisories")``.
"""

from __future__ import annotations

import zipfile

import click

from scanner.cli import Fail, db_option, open_store

from . import feeds as feedlib


@click.group()
def feeds() -> None:
    """Offline advisory feeds (OSV, Debian Security Tracker) for patch-level checks."""


@feeds.command("import")
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", metavar="NAME", help="Feed name (default: derived from its ecosystems).")
@db_option
def feeds_import(paths: tuple[str, ...], name: str | None, db: str | None) -> None:
    """Import OSV advisories (directory, JSON or per-ecosystem zip) or a Debian tracker JSON file."""
    store = open_store(db)
    for path in paths:
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
    advisories = open_store(db).dataset("advisories")
    rows = []
    if advisories is not None:
        with advisories.read() as conn:
            rows = feedlib.list_feeds(conn)
    if not rows:
        click.echo("No feeds imported (civiscan feeds import PATH).")
    for info in rows:
        click.echo(f"{info.name:<30} {info.kind:<16} {info.advisories:>8} advisories  dated {info.feed_date or '?'}  imported {info.imported_at}")
