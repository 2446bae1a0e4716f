"""Match a host's installed packages against the advisories of its release. Pure.

Matching is by SOURCE package and release, with the distro's own comparator:
dpkg for Debian/Ubuntu, rpm for the RHEL family, apk for Alpine. A binary
package is judged through its source package (``openssl`` covers ``libssl3``
and ``openssl``), because distro advisories name source packages.

The installed version compared against a fixed version is:

* dpkg: the source version (``${source:Version}``), so binNMU suffixes such as
  ``+b1`` on a binary never hide a fix;
* rpm: the binary EVR (with epoch) - binaries built from one source RPM share it,
  and the source RPM file name carries no epoch;
* apk: the package version (subpackages share their origin's version).

When several binaries of one source disagree, the lowest version counts.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from scanner.models import severity_rank

from . import versions
from .feeds import Advisory, Affected, AffectedRow, ReleaseFeed

_FAMILY_FORMAT = {
    "debian": "dpkg",
    "ubuntu": "dpkg",
    "alpine": "apk",
    "rocky": "rpm",
    "almalinux": "rpm",
    "rhel": "rpm",
}
_RPM_FAMILY = ("rocky", "almalinux", "rhel")

# Package states that mean "files are on disk" (dpkg 'ii', 'hi', 'iU', ...).
_ABSENT_STATES = frozenset({"config-files", "not-installed", "removed", "purged"})


def release_key(os_facts: Mapping[str, Any] | None) -> str | None:
    """The feed release key of a host, from its os-release facts, or None if unknown.

    debian 12 (or codename bookworm) -> ``debian:12``; ubuntu 22.04 -> ``ubuntu:22.04``;
    alpine 3.19.1 -> ``alpine:3.19``; rocky 9.3 -> ``rocky:9``; almalinux 9.4 ->
    ``almalinux:9``; rhel 9.4 -> ``rhel:9``.
    """
    from .feeds import DEBIAN_CODENAMES

    if not os_facts:
        return None
    os_id = str(os_facts.get("id") or "").lower()
    version = str(os_facts.get("version_id") or "")
    codename = str(os_facts.get("codename") or "").lower()
    if os_id == "debian":
        major = version.split(".")[0] if version else DEBIAN_CODENAMES.get(codename, "")
        return f"debian:{major}" if major else None
    if not version:
        return None
    if os_id == "ubuntu":
        return f"ubuntu:{version}"
    if os_id == "alpine":
        parts = version.split(".")
        return f"alpine:{parts[0]}.{parts[1]}" if len(parts) >= 2 else None
    if os_id in _RPM_FAMILY:
        return f"{os_id}:{version.split('.')[0]}"
    return None


def format_for_release(release: str) -> str | None:
    """The comparator a release's advisories need (``dpkg``, ``rpm``, ``apk``)."""
    return _FAMILY_FORMAT.get(release.split(":", 1)[0])


def version_scheme(packages: Iterable[Mapping[str, Any]], fmt: str) -> str:
    """The comparator the host itself orders versions by.

    The package format's, except on apk: a host whose apk-tools package is 3.x or
    later (Alpine 3.23+) orders by the apk-tools 3.x rules (``apk3``).
    """
    if fmt != "apk":
        return fmt
    tools = next((p.get("version") for p in packages if p.get("name") == "apk-tools"), None)
    return versions.apk_scheme(str(tools) if tools else None)


def describe_release(os_facts: Mapping[str, Any] | None) -> str:
    """A readable name for messages: PRETTY_NAME, else ``id version``."""
    if not os_facts:
        return "an unknown operating system"
    pretty = os_facts.get("pretty_name")
    if isinstance(pretty, str) and pretty:
        return pretty
    return " ".join(str(os_facts.get(k) or "") for k in ("id", "version_id")).strip() or "unknown"


@dataclass(frozen=True)
class SourceGroup:
    """The installed binaries of one source package and the version that counts."""

    source: str
    version: str
    binaries: tuple[str, ...]


# (source, version, sort key of the version, binary names): a SourceGroup in the
# making, cheap to build for every installed package of every host. Only tuples
# (no lists): the collector stops tracking a tuple of strings once it has seen it.
_Group = tuple[str, str, Any, tuple[str, ...]]


def _groups(packages: Iterable[Mapping[str, Any]], fmt: str) -> dict[str, _Group]:
    """``{source: group}`` with the lowest comparable version per source."""
    key = versions.sort_key(fmt)
    use_source_version = fmt == "dpkg"
    groups: dict[str, _Group] = {}
    for pkg in packages:
        get = pkg.get
        name = get("name")
        if not name or get("status") in _ABSENT_STATES:
            continue
        source = get("source") or name
        if use_source_version:
            version = get("source_version") or get("version") or ""
        else:
            version = get("version") or ""
        try:
            vkey = key(version)
        except ValueError:
            continue
        current = groups.get(source)
        if current is None:
            groups[source] = (source, version, vkey, (name,))
        elif vkey < current[2]:
            groups[source] = (source, version, vkey, (*current[3], name))
        else:
            groups[source] = (*current[:3], (*current[3], name))
    return groups


def _source_group(group: _Group) -> SourceGroup:
    source, version, _key, names = group
    return SourceGroup(source, version, tuple(sorted(set(names))) if len(names) > 1 else names)


def group_by_source(packages: Iterable[Mapping[str, Any]], fmt: str) -> dict[str, SourceGroup]:
    """Installed packages grouped by source name, each with its lowest comparable version."""
    return {source: _source_group(group) for source, group in _groups(packages, fmt).items()}


_BARE_CVE = ("CVE-", "TEMP-")
"""Prefixes of bare CVE entries (not a vendor's advisory)."""


def _merge(earlier: dict[str, Any], row: Affected, advisory: Any, identity: list[str]) -> None:
    """Fold a second advisory about the same CVE into ``earlier``.

    Feeds differ in what they know: the Debian tracker has no dates and often
    no urgency, a DSA has both. Keep the most severe known rating, the earliest
    publication date and a fixed version when either side has one (with its
    state, ``resolved``); without a fix, a Debian tracker state (``no-dsa``,
    ``postponed``, ...) replaces a plain ``open``. The first urgency given is kept.
    """
    for ident in identity:
        if ident != earlier["id"] and ident not in earlier["aliases"]:
            earlier["aliases"].append(ident)
    if severity_rank(row.severity) > severity_rank(earlier["severity"]):
        earlier["severity"] = row.severity
    published = advisory.published if advisory else None
    if published and (earlier["published"] is None or published < earlier["published"]):
        earlier["published"] = published
    if earlier["fixed"] is None and row.fixed is not None:
        earlier["fixed"] = row.fixed
        if row.state:
            earlier["state"] = row.state  # the fix decides: "resolved"
    elif earlier["fixed"] is None and row.state and earlier.get("state") in (None, "open"):
        earlier["state"] = row.state  # the tracker's decision (no-dsa, ...) beats a bare "open"
    if row.urgency and not earlier.get("urgency"):
        earlier["urgency"] = row.urgency
    if not earlier["url"] and advisory and advisory.url:
        earlier["url"] = advisory.url
    if not earlier["summary"] and advisory:
        earlier["summary"] = advisory.summary


_first = operator.itemgetter(0)
# A plain row as an Affected, without the named tuple's length check (store rows have every field).
_affected = functools.partial(tuple.__new__, Affected)


class PackageRows(NamedTuple):
    """One package's rows, readied for matching many hosts.

    Most rows say "affected from the beginning until fixed in X"; they are kept
    sorted by the key of X, so one bisection finds every row whose fix is newer
    than the installed version. Other ranges are checked one by one. Rows are
    kept as given (plain :data:`~.feeds.AffectedRow` tuples from the store).
    """

    fixed_keys: tuple[Any, ...]
    fixed_rows: tuple[AffectedRow, ...]
    other: tuple[tuple[Any, Any, Any, AffectedRow], ...]
    unreadable: int


def prepare_rows(rows: Iterable[AffectedRow], fmt: str) -> PackageRows:
    """Turn one package's rows into ``fmt`` sort keys, for any number of hosts."""
    key = versions.sort_key(fmt)
    simple: list[tuple[Any, AffectedRow]] = []
    other: list[tuple[Any, Any, Any, AffectedRow]] = []
    unreadable = 0
    for row in rows:
        introduced, fixed, last_affected = row[2], row[3], row[4]
        try:
            if fixed is not None and (introduced is None or introduced == "0"):
                simple.append((key(fixed), row))
            else:
                other.append(
                    (
                        None if introduced is None or introduced == "0" else key(introduced),
                        None if fixed is None else key(fixed),
                        None if last_affected is None else key(last_affected),
                        row,
                    )
                )
        except ValueError:
            unreadable += 1
    simple.sort(key=_first)
    return PackageRows(
        tuple([k for k, _ in simple]), tuple([r for _, r in simple]), tuple(other), unreadable
    )


def newest_fix(rows: Iterable[AffectedRow], fmt: str) -> tuple[str | None, int, int]:
    """What ``feeds import`` keeps of one package's rows: (the newest fixed version of
    its "fixed in X" rows or None, the count of other ranges, the count of unreadable rows).

    A version at or above the newest fix of a package without other ranges is
    past every row of it, whatever the rows say otherwise.
    """
    prepared = prepare_rows(rows, fmt)
    newest = prepared.fixed_rows[-1][3] if prepared.fixed_rows else None
    return newest, len(prepared.other), prepared.unreadable


def _hits(rows: PackageRows, installed: Any) -> list[AffectedRow]:
    found = list(rows.fixed_rows[bisect.bisect_right(rows.fixed_keys, installed) :])
    for introduced, fixed, last, row in rows.other:
        if introduced is not None and installed < introduced:
            continue
        if fixed is not None:
            if installed < fixed:
                found.append(row)
        elif last is not None:
            if installed <= last:
                found.append(row)
        else:
            found.append(row)
    return found


@dataclass(frozen=True)
class Hits:
    """The rows that affect one host, by feed package name, before advisory metadata."""

    by_name: tuple[tuple[SourceGroup, tuple[Affected, ...]], ...]
    unreadable: int

    def advisory_ids(self) -> set[str]:
        """Every advisory id among the rows, for loading just their metadata."""
        return {row.advisory for _group, rows in self.by_name for row in rows}


def source_lookup(packages: Iterable[Mapping[str, Any]], fmt: str) -> dict[str, _Group]:
    """Every feed package name the installed packages answer to, with their source group.

    Keys are source names, and on rpm also binary names: RPM feeds may name
    binary packages (Red Hat) as well as source RPMs.
    """
    groups = _groups(packages, fmt)
    if fmt == "rpm":
        for group in list(groups.values()):
            for binary in group[3]:
                groups.setdefault(binary, group)
    return groups


def find_hits(lookup: Mapping[str, _Group], prepared: Mapping[str, PackageRows]) -> Hits:
    """The feed rows of ``prepared`` that affect the groups of :func:`source_lookup`.

    Names missing from ``prepared`` have no rows. The unreadable count covers
    the rows of every installed name, affected or not.
    """
    found: list[tuple[str, _Group, list[AffectedRow]]] = []
    unreadable = 0
    get = prepared.get
    for name, group in lookup.items():
        rows = get(name)
        if rows is None:
            continue
        fixed_keys, _fixed_rows, other, bad = rows
        unreadable += bad
        installed = group[2]
        # Most installed versions are past every fix: one comparison says so.
        if other or (fixed_keys and installed < fixed_keys[-1]):
            hits = _hits(rows, installed)
            if hits:
                found.append((name, group, hits))
    found.sort(key=_first)
    by_name = []
    for _name, group, hits in found:
        affected = list(map(_affected, hits))
        affected.sort(key=_first)
        # Vendor advisories (DSA, USN, RLSA, DEBIAN-CVE) come before bare CVE
        # entries, so a merged match is named after the advisory that has dates.
        bare = [r for r in affected if r[0].startswith(_BARE_CVE)]
        if bare:
            affected = [r for r in affected if not r[0].startswith(_BARE_CVE)] + bare
        by_name.append((_source_group(group), tuple(affected)))
    return Hits(tuple(by_name), unreadable)


def build_matches(hits: Hits, advisories: Mapping[str, Advisory]) -> list[dict[str, Any]]:
    """One match per advisory and source package; advisories sharing a CVE id are merged.

    ``advisories`` holds the metadata of (at least) every id in ``hits``; an id
    missing from it gives a match without aliases, dates, summary or URL.
    """
    matches: list[dict[str, Any]] = []
    # Per source package: every id and alias seen so far, with the match it went to.
    by_source: dict[str, dict[str, dict[str, Any]]] = {}
    get_advisory = advisories.get
    for group, rows in hits.by_name:
        source = group.source
        seen = by_source.get(source)
        if seen is None:
            seen = by_source[source] = {}
        for row in rows:
            adv_id = row.advisory
            advisory = get_advisory(adv_id)
            aliases = list(advisory.aliases) if advisory is not None else []
            earlier = seen.get(adv_id)
            if earlier is None:
                for alias in aliases:
                    earlier = seen.get(alias)
                    if earlier is not None:
                        break
            identity = [adv_id, *aliases]
            if earlier is not None:
                _merge(earlier, row, advisory, identity)
                for ident in identity:
                    seen[ident] = earlier
                continue
            if advisory is not None:
                published, modified, summary, url = advisory.published, advisory.modified, advisory.summary, advisory.url
            else:
                published = modified = url = None
                summary = ""
            match: dict[str, Any] = {
                "id": adv_id,
                "aliases": aliases,
                "package": source,
                "binaries": list(group.binaries),
                "installed": group.version,
                "fixed": row.fixed,
                "severity": row.severity,
                "published": published,
                "modified": modified,
                "summary": summary,
                "url": url,
            }
            if row.note:
                match["note"] = row.note
            if row.state:
                match["state"] = row.state
            if row.urgency:
                match["urgency"] = row.urgency
            matches.append(match)
            for ident in identity:
                seen[ident] = match
    return matches


def match_packages(
    packages: Sequence[Mapping[str, Any]], fmt: str, feed: ReleaseFeed
) -> tuple[list[dict[str, Any]], int]:
    """Advisories that affect ``packages``; also the count of unreadable feed rows.

    Each match: ``id, aliases, package (source), binaries, installed, fixed (None
    = no fix yet), severity, published, modified, summary, url``; ``note``
    when the feed gives one (``postponed``, ``no-dsa``, ``undetermined``), and
    the feed's ``state`` (``resolved``, ``open``, a Debian tracker state) and
    ``urgency`` (the vendor's word as published: ``high**``, ``unimportant``). Two
    advisories that share a CVE id for the same package are merged into one.
    The plugin matches many hosts through the same steps with a cache between
    them (:func:`source_lookup`, :func:`prepare_rows`, :func:`find_hits`,
    :func:`build_matches`).
    """
    lookup = source_lookup(packages, fmt)
    prepared = {
        name: prepare_rows(feed.affected[name], fmt) for name in lookup if name in feed.affected
    }
    hits = find_hits(lookup, prepared)
    return build_matches(hits, feed.advisories), hits.unreadable


def source_names(packages: Iterable[Mapping[str, Any]], fmt: str) -> set[str]:
    """Every name a feed row may use for these packages (sources, and binaries on rpm)."""
    names: set[str] = set()
    for pkg in packages:
        name = str(pkg.get("name") or "")
        names.add(str(pkg.get("source") or name))
        if fmt == "rpm" and name:
            names.add(name)
    names.discard("")
    return names


__all__ = [
    "Hits",
    "PackageRows",
    "SourceGroup",
    "build_matches",
    "describe_release",
    "find_hits",
    "format_for_release",
    "group_by_source",
    "match_packages",
    "newest_fix",
    "prepare_rows",
    "release_key",
    "source_lookup",
    "source_names",
    "version_scheme",
]
