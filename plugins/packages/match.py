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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import versions
from .feeds import Affected, ReleaseFeed

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


def group_by_source(packages: Iterable[Mapping[str, Any]], fmt: str) -> dict[str, SourceGroup]:
    """Installed packages grouped by source name, each with its lowest comparable version."""
    key = versions.sort_key(fmt)
    use_source_version = fmt == "dpkg"
    groups: dict[str, tuple[str, Any, list[str]]] = {}
    for pkg in packages:
        name = pkg.get("name")
        if not name or pkg.get("status") in _ABSENT_STATES:
            continue
        source = pkg.get("source") or name
        version = pkg.get("version") or ""
        if use_source_version:
            version = pkg.get("source_version") or version
        try:
            vkey = key(version)
        except ValueError:
            continue
        current = groups.get(source)
        if current is None:
            groups[source] = (version, vkey, [name])
        else:
            current[2].append(name)
            if vkey < current[1]:
                groups[source] = (version, vkey, current[2])
    return {
        source: SourceGroup(
            source, version, tuple(sorted(set(names))) if len(names) > 1 else tuple(names)
        )
        for source, (version, _k, names) in groups.items()
    }


def _bare_cve(advisory_id: str) -> bool:
    return advisory_id.startswith(("CVE-", "TEMP-"))


_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}


def _merge(earlier: dict[str, Any], row: Affected, advisory: Any, identity: list[str]) -> None:
    """Fold a second advisory about the same CVE into ``earlier``.

    Feeds differ in what they know: the Debian tracker has no dates and often
    no urgency, a DSA has both. Keep the most severe known rating, the earliest
    publication date and a fixed version when either side has one.
    """
    for ident in identity:
        if ident != earlier["id"] and ident not in earlier["aliases"]:
            earlier["aliases"].append(ident)
    if _RANK.get(row.severity, -1) > _RANK.get(earlier["severity"], -1):
        earlier["severity"] = row.severity
    published = advisory.published if advisory else None
    if published and (earlier["published"] is None or published < earlier["published"]):
        earlier["published"] = published
    if earlier["fixed"] is None and row.fixed is not None:
        earlier["fixed"] = row.fixed
    if not earlier["url"] and advisory and advisory.url:
        earlier["url"] = advisory.url
    if not earlier["summary"] and advisory:
        earlier["summary"] = advisory.summary


@dataclass(frozen=True)
class _PackageRows:
    """One package's rows, readied for matching many hosts.

    Most rows say "affected from the beginning until fixed in X"; they are kept
    sorted by the key of X, so one bisection finds every row whose fix is newer
    than the installed version. Other ranges are checked one by one.
    """

    fixed_keys: tuple[Any, ...]
    fixed_rows: tuple[Affected, ...]
    other: tuple[tuple[Any, Any, Any, Affected], ...]
    unreadable: int


@dataclass(frozen=True)
class PreparedFeed:
    """A release's feed rows with every version already turned into a sort key."""

    fmt: str
    feed: ReleaseFeed
    packages: Mapping[str, _PackageRows]


def prepare(feed: ReleaseFeed, fmt: str) -> PreparedFeed:
    """Turn ``feed``'s versions into ``fmt`` sort keys once, for any number of hosts."""
    key = versions.sort_key(fmt)
    prepared: dict[str, _PackageRows] = {}
    for name, rows in feed.affected.items():
        simple: list[tuple[Any, Affected]] = []
        other: list[tuple[Any, Any, Any, Affected]] = []
        unreadable = 0
        for row in rows:
            try:
                if row.introduced in (None, "0") and row.fixed is not None:
                    simple.append((key(row.fixed), row))
                else:
                    other.append(
                        (
                            None if row.introduced in (None, "0") else key(row.introduced),
                            None if row.fixed is None else key(row.fixed),
                            None if row.last_affected is None else key(row.last_affected),
                            row,
                        )
                    )
            except ValueError:
                unreadable += 1
        simple.sort(key=lambda pair: pair[0])
        prepared[name] = _PackageRows(
            tuple(k for k, _ in simple), tuple(r for _, r in simple), tuple(other), unreadable
        )
    return PreparedFeed(fmt, feed, prepared)


def _hits(rows: _PackageRows, installed: Any) -> list[Affected]:
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


def match_packages(
    packages: Sequence[Mapping[str, Any]], fmt: str, feed: ReleaseFeed | PreparedFeed
) -> tuple[list[dict[str, Any]], int]:
    """Advisories that affect ``packages``; also the count of unreadable feed rows.

    Each match: ``id, aliases, package (source), binaries, installed, fixed (None
    = no fix yet), severity, published, modified, summary, url`` and ``note``
    when the feed gives one (``postponed``, ``no-dsa``, ``undetermined``). Two
    advisories that share a CVE id for the same package are merged into one.
    Pass a :class:`PreparedFeed` to match many hosts against one release.
    """
    ready = feed if isinstance(feed, PreparedFeed) and feed.fmt == fmt else None
    if ready is None:
        ready = prepare(feed.feed if isinstance(feed, PreparedFeed) else feed, fmt)
    key = versions.sort_key(fmt)
    groups = group_by_source(packages, fmt)
    if fmt == "rpm":
        # RPM feeds may name binary packages (Red Hat) as well as source RPMs.
        for group in list(groups.values()):
            for binary in group.binaries:
                groups.setdefault(binary, group)
    advisories = ready.feed.advisories
    matches: list[dict[str, Any]] = []
    unreadable = 0
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for name in sorted(groups.keys() & ready.packages.keys()):
        group = groups[name]
        rows = ready.packages[name]
        unreadable += rows.unreadable
        hits = _hits(rows, key(group.version))
        # Vendor advisories (DSA, USN, RLSA, DEBIAN-CVE) come before bare CVE
        # entries, so a merged match is named after the advisory that has dates.
        hits.sort(key=lambda r: (_bare_cve(r.advisory), r.advisory))
        for row in hits:
            advisory = advisories.get(row.advisory)
            aliases = list(advisory.aliases) if advisory else []
            identity = [row.advisory, *aliases]
            earlier = next(
                (seen[(group.source, i)] for i in identity if (group.source, i) in seen), None
            )
            if earlier is not None:
                _merge(earlier, row, advisory, identity)
                for ident in identity:
                    seen[(group.source, ident)] = earlier
                continue
            match: dict[str, Any] = {
                "id": row.advisory,
                "aliases": aliases,
                "package": group.source,
                "binaries": list(group.binaries),
                "installed": group.version,
                "fixed": row.fixed,
                "severity": row.severity,
                "published": advisory.published if advisory else None,
                "modified": advisory.modified if advisory else None,
                "summary": advisory.summary if advisory else "",
                "url": advisory.url if advisory else None,
            }
            if row.note:
                match["note"] = row.note
            matches.append(match)
            for ident in identity:
                seen[(group.source, ident)] = match
    return matches, unreadable


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
    "PreparedFeed",
    "SourceGroup",
    "describe_release",
    "format_for_release",
    "group_by_source",
    "match_packages",
    "prepare",
    "release_key",
    "source_names",
]
