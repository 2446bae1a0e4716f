"""``civiscan feeds import|list`` and ``civiscan affected``: advisory feeds and who they hit.

Registered in the ``civiscan.commands`` entry-point group. Feeds are imported
into the store's ``advisories`` dataset, which ``packages.vulnerable`` is lent
when it evaluates; ``affected`` judges the latest stored facts of every asset
against it, without contacting any host.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click

from scanner.cli import Fail, db_option, open_store
from scanner.errors import ExitCode
from scanner.models import Asset
from scanner.plugin import FactsVersionError, Snapshot
from scanner.store import Store, default_db_path, is_url
from scanner.timeutil import readable_time

from . import feeds as feedlib
from . import update as updatelib
from .checks import tracker_state

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


_WARNINGS_SHOWN = 20


@click.group()
def feeds() -> None:
    """Offline feeds: advisories (OSV, Debian Security Tracker) and plugins' datasets (tracker lists)."""


@feeds.command("import")
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", metavar="NAME", help="Feed name (default: derived from its ecosystems).")
@db_option
def feeds_import(paths: tuple[str, ...], name: str | None, db: str | None) -> None:
    """Import OSV advisories (directory, JSON or per-ecosystem zip), a Debian tracker JSON file, Red Hat CSAF 2.0 advisories (a file or a directory), or a plugin's dataset (DuckDuckGo Tracker Radar files)."""
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
        except feedlib.FeedFormatError as exc:  # its message names the file (and where in it)
            raise Fail(str(exc)) from None
        except (ValueError, OSError, zipfile.BadZipFile, KeyError, TypeError) as exc:
            raise Fail(f"{path}: cannot import: {exc}") from None
        info = result.feed
        releases = ", ".join(f"{r} ({n})" for r, n in sorted(result.releases.items())) or "none"
        click.echo(f"{path}: feed '{info.name}' ({info.kind}), {info.advisories} {_noun(info.kind)}, "
                   f"dated {readable_time(info.feed_date) or 'unknown'}; releases: {releases}")
        for line in result.warnings[:_WARNINGS_SHOWN]:
            click.echo(f"warning: {path}: {line}", err=True)
        if len(result.warnings) > _WARNINGS_SHOWN:
            click.echo(f"warning: {path}: and {len(result.warnings) - _WARNINGS_SHOWN} more such records", err=True)


def _noun(kind: str) -> str:
    """What a feed of ``kind`` counts: an endoflife.date list holds release cycles."""
    return "cycles" if kind == "eol" else "advisories"


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
        click.echo(f"{info.name:<30} {info.kind:<16} {info.advisories:>8} {_noun(info.kind):<10}  "
                   f"dated {readable_time(info.feed_date) or '?'}  imported {readable_time(info.imported_at)}")
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
            "or pass --feed NAME=URL (civiscan docs packages lists the usual URLs)"
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


# ------------------------------------------------------------------ affected

# How many of the newest runs are searched for each asset's latest facts.
_RUNS_SEARCHED = 1000
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9._:+-]{1,99}$")


def advisory_hits(ident: str, matches: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The matches of one host that are advisory ``ident``, by id or alias (case-insensitive). Pure."""
    want = ident.upper()
    out = []
    for found in matches:
        names = {str(found.get("id") or "").upper(), *(str(a).upper() for a in found.get("aliases") or ())}
        if want in names:
            out.append(
                {
                    k: found.get(k)
                    for k in ("id", "aliases", "package", "installed", "fixed", "severity", "state",
                              "urgency", "running_kernel", "installed_kernel", "until_reboot")
                    if k in found
                }
            )
    return out


def latest_facts(store: Store, registry: Any) -> list[tuple[Asset, int, Mapping[str, Any]]]:
    """Each asset's newest stored ``packages`` facts (in the shape the plugin reads), with its run."""
    seen: set[str] = set()
    out: list[tuple[Asset, int, Mapping[str, Any]]] = []
    for run in store.runs(_RUNS_SEARCHED):
        run_id = int(run["id"])
        stored = store.facts(run_id)
        if not any("packages" in facts for facts, _errors in stored.values()):
            continue
        versions = store.facts_versions(run_id)
        assets = {a.id: a for a in store.assets(run_id)}
        for asset_id, (facts, _errors) in stored.items():
            if asset_id in seen or "packages" not in facts or asset_id not in assets:
                continue
            try:
                readable = registry.readable_facts("packages", versions.get((asset_id, "packages"), 1), facts["packages"])
            except FactsVersionError:
                continue
            seen.add(asset_id)
            out.append((assets[asset_id], run_id, readable))
    return out


@click.command("affected")
@click.argument("advisory")
@click.option("--department", metavar="NAME", help="Only this department's assets.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="A table per department, or JSON.")
@db_option
def affected(advisory: str, department: str | None, fmt: str, db: str | None) -> None:
    """Which hosts an advisory (CVE-ID, DSA/USN/OSV id or an alias) affects, per department.

    \b
    Judged now, against the imported feeds, from each asset's latest stored
    facts: no host is contacted. Exit code 0 when none is affected, 1 when
    some are, 3 when none is but some hosts could not be judged (no facts of
    theirs can be matched, e.g. no feed covers their release), 2 on bad input.
    """
    from scanner.cli import plugin_registry

    from .checks import judged_matches

    if not _ID.match(advisory):
        raise Fail(f"{advisory!r} is not an advisory id (e.g. CVE-2024-6387, DSA-5532-1)")
    store = open_store(db)
    registry = plugin_registry()
    hosts = latest_facts(store, registry)
    if department is not None:
        if department not in {a.department for a, _r, _f in hosts}:
            raise Fail(f"no stored packages facts of department '{department}'")
        hosts = [h for h in hosts if h[0].department == department]
    found: list[dict[str, Any]] = []
    unjudged: list[dict[str, Any]] = []
    with Snapshot(store) as lent:
        index = lent.dataset("advisories")
        for asset, run_id, facts in sorted(hosts, key=lambda h: (h[0].department, h[0].id)):
            matched = judged_matches(facts, index)
            if not matched.get("feed"):
                unjudged.append({"department": asset.department, "asset_id": asset.id, "run": run_id,
                                 "problem": matched.get("feed_problem")})
                continue
            hits = advisory_hits(advisory, matched.get("matches") or ())
            if hits:
                found.append({"department": asset.department, "asset_id": asset.id, "asset": asset.name,
                              "run": run_id, "collected_at": facts.get("collected_at"),
                              "release": facts.get("release"), "packages": hits})
    report = {"advisory": advisory, "hosts_judged": len(hosts) - len(unjudged), "affected": found,
              "not_judged": unjudged}
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print_affected(report)
    raise SystemExit(1 if found else 3 if unjudged else 0)


def _print_affected(report: Mapping[str, Any]) -> None:
    found = report["affected"]
    click.echo(f"{report['advisory']}: {len(found)} of {report['hosts_judged']} judged hosts affected")
    current = None
    for host in found:
        if host["department"] != current:
            current = host["department"]
            click.echo(f"\n{current}")
        for pkg in host["packages"]:
            fixed = pkg.get("fixed") or "no fix yet"
            extra = ""
            state = tracker_state(pkg)
            if state:
                extra += f" [{state}]"
            if pkg.get("until_reboot"):
                extra += f" [vulnerable until reboot: {pkg.get('installed_kernel')} installed]"
            click.echo(f"  {host['asset']:<30} {pkg['package']:<24} {pkg['installed']} -> {fixed}  ({pkg['id']}){extra}")
    if report["not_judged"]:
        click.echo(f"\nnot judged ({len(report['not_judged'])}):")
        for host in report["not_judged"]:
            click.echo(f"  {host['asset_id']}: {host['problem']}")
