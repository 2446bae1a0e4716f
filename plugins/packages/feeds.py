"""Offline advisory feeds: import OSV, Debian tracker, Alpine secdb and end-of-life data into SQLite.

Backend of ``civiscan feeds import PATH``. The tables (``feed_*``) are the
store's ``advisories`` dataset, created by the store's migrations: imports
write through :meth:`scanner.store.Store.write_dataset` (or any sqlite3
connection), reads take the :class:`scanner.plugin.Rows` a dataset lends.

Accepted inputs (detected from the content, see :func:`import_path`):

* OSV: a directory of ``*.json`` records (searched recursively), an OSV
  ``all.zip`` dump, a single record, or a JSON list of records. Ecosystems such
  as ``Debian:12``, ``Ubuntu:22.04:LTS``, ``Alpine:v3.19``, ``Rocky Linux:9``,
  ``AlmaLinux:9`` and ``Red Hat:enterprise_linux:9::baseos`` are indexed by
  release (:func:`release_of_ecosystem`); others are kept but match no host.
* The Debian Security Tracker JSON (``{source package: {CVE: {releases: ...}}}``),
  with each release's state (:func:`tracker_state`) and urgency.
* An Alpine secdb file (``secdb.alpinelinux.org/<branch>/<repo>.json``).
* endoflife.date release cycles (:func:`eol_cycles`), for ``os.supported_release``.
* Red Hat CSAF 2.0 security advisories (``RHSA-*.json``, or a directory of them): :mod:`.csaf`.

Every affected range becomes one row keyed by (release, source package). A feed
re-imported under the same name replaces its previous rows, in one transaction.
Severity is normalised to critical/high/medium/low/info or ``unknown``; the
mapping is documented in docs/packages.md and implemented by :func:`severity_of_text`
and :func:`cvss_base_score` (the ``cvss`` library: CVSS v3.0, v3.1 and v4.0).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib.resources
import json
import os
import re
import sqlite3
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from scanner.plugin import Rows
from scanner.store import ensure_advisory_tables
from scanner.timeutil import parse_timestamp

SEVERITIES = ("critical", "high", "medium", "low", "info", "unknown")

# Debian codenames by release number (the tracker keys releases by codename).
DEBIAN_CODENAMES = {
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
}

def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the ``feed_*`` tables on a bare connection (a store's migrations create them)."""
    ensure_advisory_tables(conn)


# ------------------------------------------------------------------ severity

_TEXT_SEVERITY = {
    "critical": "critical",
    "important": "high",
    "high": "high",
    "moderate": "medium",
    "medium": "medium",
    "low": "low",
    "negligible": "info",
    "unimportant": "info",
    "none": "info",
    "info": "info",
}


def severity_of_text(text: object) -> str:
    """Map a vendor's word (Debian urgency, Ubuntu priority, Red Hat impact) to a level.

    ``important`` -> high, ``moderate`` -> medium, ``negligible``/``unimportant``
    -> info; ``not yet assigned``, ``end-of-life`` and anything unknown -> ``unknown``.
    """
    if not isinstance(text, str):
        return "unknown"
    word = text.strip().rstrip("*").strip().lower()
    return _TEXT_SEVERITY.get(word, "unknown")


@functools.lru_cache(maxsize=4096)
def cvss_base_score(vector: str) -> float | None:
    """Base score of a CVSS v3.0/v3.1 or v4.0 vector (FIRST's formulas, via the ``cvss`` library), or None."""
    from cvss import CVSS3, CVSS4  # imported when a feed is imported or scored
    from cvss.exceptions import CVSSError

    text = vector.strip()
    try:
        if text.startswith("CVSS:3."):
            return float(CVSS3(text).base_score)
        if text.startswith("CVSS:4.0/"):
            return float(CVSS4(text).base_score)
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
    return None


def cvss3_base_score(vector: str) -> float | None:
    """Base score of a ``CVSS:3.x/AV:../..`` vector, or None (also for any other version)."""
    return cvss_base_score(vector) if vector.strip().startswith("CVSS:3.") else None


def severity_of_score(score: float) -> str:
    """CVSS qualitative rating: 9.0+ critical, 7.0+ high, 4.0+ medium, 0.1+ low, 0 info."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0:
        return "low"
    return "info"


# Keys under ecosystem_specific / database_specific that hold a vendor's word.
_VENDOR_KEYS = ("urgency", "severity", "priority", "ubuntu_priority")
# Red Hat family advisories put the impact in front of the title: "Important: openssh security update".
_IMPACT_PREFIX = ("Critical", "Important", "Moderate", "Low")


# A module stream in a Red Hat family advisory title: "Moderate: ruby:3.3 security update",
# "Important: virt:rhel and virt-devel:rhel security update" (name:stream, no further colon).
_MODULE_STREAM = re.compile(r"(?<![\w.+:-])([A-Za-z0-9][\w.+-]*):([\w.+-]+)(?![\w.+:-])")


def module_streams(summary: str) -> frozenset[str]:
    """The module streams (``name:stream``) an advisory's title names; empty for most advisories."""
    head, sep, rest = summary.partition(":")
    text = rest if sep and head.strip() in _IMPACT_PREFIX else summary
    return frozenset(f"{name}:{stream}" for name, stream in _MODULE_STREAM.findall(text))


def _vendor_word(record: Mapping[str, Any], affected: Mapping[str, Any]) -> str | None:
    """The vendor's own rating word: the affected entry beats the record; an Ubuntu entry; a title prefix."""
    for holder in (affected, record):
        for section in ("ecosystem_specific", "database_specific"):
            extra = holder.get(section)
            if isinstance(extra, dict):
                for key in _VENDOR_KEYS:
                    word = extra.get(key)
                    if isinstance(word, str) and severity_of_text(word) != "unknown":
                        return word
    for holder in (affected, record):
        for entry in holder.get("severity") or ():
            if isinstance(entry, dict) and entry.get("type") == "Ubuntu":
                word = entry.get("score")
                if isinstance(word, str) and severity_of_text(word) != "unknown":
                    return word
    summary = record.get("summary")
    if isinstance(summary, str):
        head, sep, _rest = summary.partition(":")
        if sep and head.strip() in _IMPACT_PREFIX:
            return head.strip()
    return None


def _cvss_vector(record: Mapping[str, Any], affected: Mapping[str, Any]) -> tuple[str, float] | None:
    """The first scorable vector, v3 before v4, the affected entry before the record."""
    for wanted in ("CVSS_V3", "CVSS_V4"):
        for holder in (affected, record):
            for entry in holder.get("severity") or ():
                if not isinstance(entry, dict) or entry.get("type") != wanted:
                    continue
                vector = entry.get("score")
                if isinstance(vector, str):
                    score = cvss_base_score(vector)
                    if score is not None:
                        return vector, score
    return None


# ------------------------------------------------------------------ releases


def release_of_ecosystem(ecosystem: str) -> str | None:
    """The release key a host matches against, or None if civiscan cannot map it.

    ``Debian:12`` -> ``debian:12``; ``Ubuntu:22.04:LTS`` -> ``ubuntu:22.04``;
    ``Ubuntu:Pro:22.04:LTS`` -> ``ubuntu-pro:22.04``; ``Alpine:v3.19`` -> ``alpine:3.19``;
    ``Rocky Linux:9`` -> ``rocky:9``; ``AlmaLinux:9`` -> ``almalinux:9``;
    ``Red Hat:enterprise_linux:9::appstream`` and ``Red Hat:rhel_els:6`` -> ``rhel:9``, ``rhel:6``
    (minor-release streams such as ``Red Hat:rhel_eus:9.2::appstream`` map to no host).
    """
    parts = ecosystem.split(":")
    base = parts[0]
    rest = parts[1:]
    if base == "Debian" and rest and rest[0]:
        return f"debian:{rest[0]}"
    if base == "Ubuntu" and rest:
        if rest[0] == "Pro" and len(rest) > 1:
            return f"ubuntu-pro:{rest[1]}"
        return f"ubuntu:{rest[0]}"
    if base == "Alpine" and rest and rest[0].startswith("v"):
        return f"alpine:{rest[0][1:]}"
    if base == "Rocky Linux" and rest and rest[0]:
        return f"rocky:{rest[0].split('.')[0]}"
    if base == "AlmaLinux" and rest and rest[0]:
        return f"almalinux:{rest[0].split('.')[0]}"
    if base == "Red Hat" and len(rest) >= 2 and rest[0] in ("enterprise_linux", "rhel_els"):
        return f"rhel:{rest[1].split('.')[0]}"
    return None


# ------------------------------------------------------------------ rows


class Affected(NamedTuple):
    """One affected range of one advisory for one (release, source package).

    A named tuple, so a plain row tuple in the same field order (what
    :func:`package_rows` returns) becomes one with ``Affected._make(row)``.
    ``state`` and ``urgency`` are what the store keeps of the vendor's own
    judgement (:class:`ParsedRow`: a Debian tracker state such as ``no-dsa``,
    the tracker's urgency ``high**``); None for rows parsed but not stored yet.
    """

    advisory: str
    package: str
    introduced: str | None
    fixed: str | None
    last_affected: str | None
    severity: str
    note: str | None = None
    state: str | None = None
    urgency: str | None = None


# An Affected as a plain tuple. The matcher keeps ~100,000 of these per release:
# the garbage collector stops tracking a plain tuple of strings, not a named one.
AffectedRow = tuple[
    str, str, str | None, str | None, str | None, str, str | None, str | None, str | None
]


class Advisory(NamedTuple):
    """An advisory's metadata. A named tuple: an evaluation builds one per matched
    advisory (~100,000 for a city), at a quarter of a frozen dataclass's cost."""

    id: str
    aliases: tuple[str, ...]
    summary: str
    url: str | None
    published: str | None
    modified: str | None
    cvss_vector: str | None = None
    cvss_score: float | None = None

    @property
    def canonical(self) -> str:
        """The id matching groups by: :func:`canonical_id` of the id and its aliases."""
        return canonical_id(self.id, self.aliases)


def canonical_id(adv_id: str, aliases: Iterable[str]) -> str:
    """The CVE an advisory is about when it names exactly one, else its own id.

    ``DEBIAN-CVE-2024-2511`` (alias ``CVE-2024-2511``) -> ``CVE-2024-2511``; a DSA
    fixing two CVEs stays ``DSA-5587-1``.
    """
    if adv_id.startswith("CVE-"):
        return adv_id
    cves = sorted({a for a in aliases if a.startswith("CVE-")})
    return cves[0] if len(cves) == 1 else adv_id


class ParsedRow(NamedTuple):
    """One affected row as parsed, with what the store keeps beside the matcher's fields.

    ``state``: ``resolved`` (a fix exists), ``open``, ``undetermined``, ``no-dsa``,
    ``postponed``, ``ignored`` or ``end-of-life``; ``urgency``: the vendor's word as
    given; ``range_type``: ``ECOSYSTEM``, ``SEMVER``, ``VERSIONS`` (a listed version)
    or ``TRACKER``/``SECDB``.
    """

    ecosystem: str
    release: str
    row: Affected
    state: str | None = None
    urgency: str | None = None
    range_type: str | None = None


@dataclass(frozen=True)
class FeedInfo:
    name: str
    kind: str
    source: str
    imported_at: str
    feed_date: str | None
    advisories: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "imported_at": self.imported_at,
            "date": self.feed_date,
            "advisories": self.advisories,
        }


@dataclass
class ImportResult:
    feed: FeedInfo
    affected_rows: int
    releases: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    """What the importer read otherwise than the record says (one line each, for the user)."""


def plain_text(text: object, limit: int = 300) -> str:
    """First paragraph of a description as one line of plain text."""
    if not isinstance(text, str):
        return ""
    first = text.strip().split("\n\n", 1)[0]
    line = " ".join(first.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def iso_utc(value: object) -> str | None:
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    return parsed.astimezone(dt.UTC).isoformat(timespec="seconds") if parsed else None


# SemVer 2.0 versions without pre-release or build parts: these order the same under
# SemVer precedence and under the dpkg, rpm and apk comparators.
_PLAIN_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
Interval = tuple[str | None, str | None, str | None, str]


def _range_fits(kind: object, events: Sequence[Mapping[str, Any]]) -> bool:
    if kind == "ECOSYSTEM":
        return True
    if kind != "SEMVER":
        return False
    for event in events:
        for key in ("introduced", "fixed", "last_affected", "limit"):
            value = event.get(key)
            if value is None or (key == "introduced" and value == "0") or value == "*":
                continue
            if not _PLAIN_SEMVER.fullmatch(str(value)):
                return False
    return True


def _lower(key: Any, a: str, b: str) -> str:
    """The lower of two versions under ``key`` (a sort key function), ``a`` if unreadable."""
    try:
        return b if key(b) < key(a) else a
    except ValueError:
        return a


def _intervals(ranges: object, key: Any = None) -> Iterator[Interval]:
    """(introduced, fixed, last_affected, range type) for the usable ranges of an OSV entry.

    ``ECOSYSTEM`` ranges, and ``SEMVER`` ranges whose versions are plain ``X.Y.Z``
    (where SemVer and the distro comparators agree); ``GIT`` and other SEMVER
    ranges are skipped. A ``limit`` event caps every interval of its range: an
    unbounded one ends (as ``fixed``) at the limit, a bounded one at the lower of
    its end and the limit (``key`` orders them; without it the end is kept).
    """
    if not isinstance(ranges, list):
        return
    for rng in ranges:
        if not isinstance(rng, dict):
            continue
        events = [e for e in rng.get("events") or () if isinstance(e, dict)]
        kind = rng.get("type")
        if not _range_fits(kind, events):
            continue
        limits = [str(e["limit"]) for e in events if "limit" in e and str(e["limit"]) != "*"]
        limit: str | None = None
        for value in limits:
            limit = value if limit is None or key is None else _lower(key, limit, value)
        found: list[tuple[str | None, str | None, str | None]] = []
        start: str | None = None
        opened = False
        for event in events:
            if "introduced" in event:
                start = str(event["introduced"])
                opened = True
            elif "fixed" in event and opened:
                found.append((start, str(event["fixed"]), None))
                opened = False
            elif "last_affected" in event and opened:
                found.append((start, None, str(event["last_affected"])))
                opened = False
        if opened:
            found.append((start, None, None))
        for introduced, fixed, last in found:
            if limit is not None:
                if fixed is None and last is None:
                    fixed = limit
                elif fixed is not None and key is not None:
                    fixed = _lower(key, fixed, limit)
                elif last is not None and key is not None and _lower(key, last, limit) == limit:
                    with contextlib.suppress(ValueError):
                        if key(limit) <= key(last):
                            fixed, last = limit, None
            yield (introduced, fixed, last, str(kind))


def _covered(key: Any, version: str, intervals: Sequence[Interval]) -> bool:
    """Whether ``version`` lies in one of the intervals (unreadable versions count as covered)."""
    try:
        at = key(version)
        for introduced, fixed, last, _kind in intervals:
            if introduced not in (None, "0") and at < key(introduced):
                continue
            if fixed is not None and not at < key(fixed):
                continue
            if last is not None and key(last) < at:
                continue
            return True
    except ValueError:
        return True
    return False


def _listed_versions(affected: Mapping[str, Any], key: Any, intervals: Sequence[Interval]) -> list[str]:
    """``versions`` entries no range already covers: each is affected exactly."""
    if key is None:
        return []
    out: list[str] = []
    for version in affected.get("versions") or ():
        if isinstance(version, str) and version not in out and not _covered(key, version, intervals):
            out.append(version)
    return out


def _osv_url(record: Mapping[str, Any]) -> str | None:
    refs = [r for r in record.get("references") or () if isinstance(r, dict) and r.get("url")]
    for wanted in ("ADVISORY", "WEB"):
        for ref in refs:
            if ref.get("type") == wanted:
                return str(ref["url"])
    return str(refs[0]["url"]) if refs else None


def _is_rpm_release(release: str) -> bool:
    from .match import format_for_release

    return format_for_release(release) == "rpm"


@functools.lru_cache(maxsize=256)
def _release_key_function(release: str) -> Any:
    """The sort key of a release's comparator, or None for releases no host matches."""
    from . import versions
    from .match import format_for_release

    fmt = format_for_release(release)
    return versions.sort_key(fmt) if fmt else None


# A source RPM file name: NAME-VERSION-RELEASE.src.rpm (version and release hold no "-").
_SRPM_FILE = re.compile(r"(?P<name>[^/\s]+)-(?P<version>[^-/\s]+)-(?P<release>[^-/\s]+)\.src\.rpm")


def srpm_file(name: str) -> tuple[str, str] | None:
    """``(package, version-release)`` of a source RPM file name, or None for a package name.

    ``SLOF-20210217-2.module+el8.10.0+20141+6faa2812.src.rpm`` ->
    ``("SLOF", "20210217-2.module+el8.10.0+20141+6faa2812")``. Red Hat OSV records
    name some packages this way (ossf/osv-schema#422).
    """
    found = _SRPM_FILE.fullmatch(name)
    return (found["name"], f"{found['version']}-{found['release']}") if found else None


def rpm_evr_ok(value: str) -> bool:
    """Whether ``value`` can be an rpm ``[epoch:]version[-release]``: an epoch is digits, and
    no other ``:`` appears (rpm reads ``virt-devel:rhel`` as version ``virt``, which no
    package has: it is a module stream, misplaced in a ``fixed`` event)."""
    head, colon, rest = value.partition(":")
    if colon and not (head.isdigit() and head.isascii()):
        return False
    return bool(rest if colon else head) and ":" not in rest


def _rpm_package(
    adv_id: str, name: str, intervals: list[Interval], warn: list[str] | None
) -> tuple[str, list[Interval]]:
    """The package and intervals of an rpm-family entry, read as the record means them.

    A source RPM file named as the package is read as its package name; a
    ``fixed`` event that is no version is replaced by the file's own version
    (the build the advisory ships). Each such reading is a warning, so an entry
    never silently matches nothing.
    """
    srpm = srpm_file(name)
    package = srpm[0] if srpm else name
    out: list[Interval] = []
    for introduced, fixed, last, kind in intervals:
        bad = [v for v in (introduced, fixed, last) if v not in (None, "0") and not rpm_evr_ok(v)]
        if bad and srpm and fixed is not None and not rpm_evr_ok(fixed) and all(
            v == fixed for v in bad
        ):
            if warn is not None:
                warn.append(
                    f"{adv_id}: package {name!r} is a source RPM file and its fixed version "
                    f"{fixed!r} is not a version: read as {package} fixed in {srpm[1]} "
                    "(the file's version; a package with an epoch needs it in the feed)"
                )
            out.append((introduced, srpm[1], last, kind))
            continue
        if bad:
            if warn is not None:
                warn.append(
                    f"{adv_id}: {name}: {', '.join(repr(v) for v in bad)} is not an rpm version; "
                    "this range is skipped"
                )
            continue
        out.append((introduced, fixed, last, kind))
    if srpm and warn is not None and out == intervals:
        warn.append(f"{adv_id}: package {name!r} is a source RPM file: read as package {package}")
    return package, out


def osv_rows(
    record: Mapping[str, Any], warn: list[str] | None = None
) -> tuple[Advisory, list[ParsedRow]] | None:
    """Parse one OSV record: its advisory and its affected rows.

    Withdrawn records and records without an id give None. ``warn`` collects
    what was read otherwise than the record says (:func:`_rpm_package`).
    """
    adv_id = record.get("id")
    if not isinstance(adv_id, str) or record.get("withdrawn"):
        return None
    # Distro advisories (DSA, USN, RLSA) list the CVEs they fix under "related"
    # or "upstream"; those identify the same problem for de-duplication.
    names: list[str] = []
    for key in ("aliases", "upstream", "related"):
        for alias in record.get(key) or ():
            if isinstance(alias, str) and alias != adv_id and alias not in names:
                names.append(alias)
    aliases = tuple(names)
    scored = _cvss_vector(record, {})
    rows: list[ParsedRow] = []
    for affected in record.get("affected") or ():
        if not isinstance(affected, dict):
            continue
        package = affected.get("package")
        if not isinstance(package, dict):
            continue
        ecosystem, name = package.get("ecosystem"), package.get("name")
        if not isinstance(ecosystem, str) or not isinstance(name, str):
            continue
        release = release_of_ecosystem(ecosystem) or f"other:{ecosystem}"
        urgency = _vendor_word(record, affected)
        own = _cvss_vector({}, affected)
        if scored is None:
            scored = own
        if urgency is not None:
            severity = severity_of_text(urgency)
        else:
            vector = own or scored
            severity = severity_of_score(vector[1]) if vector else "unknown"
        key = _release_key_function(release)
        intervals = list(_intervals(affected.get("ranges"), key))
        if _is_rpm_release(release):
            name, intervals = _rpm_package(adv_id, name, intervals, warn)
        for introduced, fixed, last, kind in intervals:
            state = "resolved" if fixed is not None else "open"
            row = Affected(adv_id, name, introduced, fixed, last, severity)
            rows.append(ParsedRow(ecosystem, release, row, state, urgency, kind))
        for version in _listed_versions(affected, key, intervals):
            row = Affected(adv_id, name, version, None, version, severity, "listed version")
            rows.append(ParsedRow(ecosystem, release, row, "open", urgency, "VERSIONS"))
    advisory = Advisory(
        id=adv_id,
        aliases=aliases,
        summary=plain_text(record.get("summary")) or plain_text(record.get("details")),
        url=_osv_url(record),
        published=iso_utc(record.get("published")),
        modified=iso_utc(record.get("modified")),
        cvss_vector=scored[0] if scored else None,
        cvss_score=scored[1] if scored else None,
    )
    return advisory, rows


def tracker_state(rel: Mapping[str, Any]) -> str | None:
    """The state of one release entry of the Debian tracker, or None when it gives no row.

    ``resolved`` with a fixed version; ``open`` and ``undetermined`` as such unless the
    security team decided otherwise: ``end-of-life`` (urgency: the package is out of
    security support in that release), ``postponed`` or ``ignored`` (``nodsa_reason``)
    and ``no-dsa`` (``nodsa`` without a reason: a minor issue, fixed in a point release
    if at all).
    """
    status = rel.get("status")
    if status == "resolved":
        fixed = rel.get("fixed_version")
        return "resolved" if isinstance(fixed, str) and fixed != "0" else None
    if status not in ("open", "undetermined"):
        return None
    if str(rel.get("urgency") or "").strip().lower() == "end-of-life":
        return "end-of-life"
    reason = str(rel.get("nodsa_reason") or "").strip().lower()
    if reason in ("postponed", "ignored"):
        return reason
    if rel.get("nodsa") is not None:
        return "no-dsa"
    return str(status)


def debian_tracker_rows(data: Mapping[str, Any]) -> Iterator[tuple[Advisory, list[ParsedRow]]]:
    """Parse the Debian Security Tracker JSON, one (advisory, rows) per (package, CVE).

    ``resolved`` with ``fixed_version`` "0" means the release was never
    affected and gives no row; ``open``/``undetermined`` give an unfixed row whose
    state (:func:`tracker_state`) and urgency the store keeps.
    """
    for package, issues in data.items():
        if not isinstance(issues, dict):
            continue
        for issue_id, issue in issues.items():
            if not isinstance(issue, dict):
                continue
            rows: list[ParsedRow] = []
            for codename, rel in (issue.get("releases") or {}).items():
                number = DEBIAN_CODENAMES.get(codename)
                if number is None or not isinstance(rel, dict):
                    continue
                state = tracker_state(rel)
                if state is None:
                    continue
                fixed = str(rel["fixed_version"]) if state == "resolved" else None
                note = None if state in ("resolved", "open") else state
                urgency = rel.get("urgency")
                row = Affected(
                    str(issue_id), str(package), "0", fixed, None, severity_of_text(urgency), note
                )
                rows.append(
                    ParsedRow(
                        f"Debian:{number}",
                        f"debian:{number}",
                        row,
                        state,
                        urgency if isinstance(urgency, str) else None,
                        "TRACKER",
                    )
                )
            if rows:
                advisory = Advisory(
                    id=str(issue_id),
                    aliases=(),
                    summary=plain_text(issue.get("description")),
                    url=f"https://security-tracker.debian.org/tracker/{issue_id}",
                    published=None,
                    modified=None,
                )
                yield advisory, rows


def alpine_secdb_rows(data: Mapping[str, Any]) -> Iterator[tuple[Advisory, list[ParsedRow]]]:
    """Parse one Alpine secdb file (``secdb.alpinelinux.org/<branch>/<repo>.json``).

    ``secfixes`` maps a fixed version to the ids it fixes; an entry may hold several
    ids separated by spaces (``"CVE-2018-7540 XSA-252"``): the first names the
    advisory, the others are its aliases. The version ``0`` lists issues that do
    not affect the package and gives no row; so does a version apk-tools refuses
    (real files hold a few, such as ``4.10-1-r1``).
    """
    branch = str(data.get("distroversion") or "")
    ecosystem = f"Alpine:{branch}"
    release = release_of_ecosystem(ecosystem) or f"other:{ecosystem}"
    repo = str(data.get("reponame") or "")
    from .versions import check_apk

    found: dict[str, tuple[Advisory, list[ParsedRow]]] = {}
    for entry in data.get("packages") or ():
        pkg = entry.get("pkg") if isinstance(entry, dict) else None
        if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
            continue
        fixes = pkg.get("secfixes")
        if not isinstance(fixes, dict):
            continue
        for version, ids in fixes.items():
            if str(version) == "0" or not isinstance(ids, list):
                continue
            try:
                check_apk(str(version))
            except ValueError:
                continue  # apk-tools refuses it (``apk version -c``): no order to judge by
            for text in ids:
                names = str(text).split()
                if not names:
                    continue
                adv_id = names[0]
                row = Affected(adv_id, pkg["name"], "0", str(version), None, "unknown")
                parsed = ParsedRow(ecosystem, release, row, "resolved", None, "SECDB")
                if adv_id in found:
                    advisory, rows = found[adv_id]
                    extra = tuple(n for n in names[1:] if n not in advisory.aliases)
                    if extra:
                        advisory = Advisory(
                            adv_id, advisory.aliases + extra, "", advisory.url, None, None
                        )
                    found[adv_id] = (advisory, [*rows, parsed])
                    continue
                url = f"https://security.alpinelinux.org/vuln/{adv_id}" if adv_id.startswith("CVE-") else None
                advisory = Advisory(adv_id, tuple(names[1:]), f"{pkg['name']} ({repo})", url, None, None)
                found[adv_id] = (advisory, [parsed])
    yield from found.values()


# ------------------------------------------------------------------ import


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


_AFFECTED_INSERT = (
    "INSERT INTO feed_affected (feed, advisory, release, package, introduced, fixed, "
    "last_affected, severity, note, state, urgency, range_type, seq) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ADVISORY_INSERT = (
    "INSERT INTO feed_advisories (feed, id, aliases, summary, url, published, modified, "
    "canonical, cvss_vector, cvss_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _store(
    conn: sqlite3.Connection,
    parsed: Iterable[tuple[Advisory, list[ParsedRow]]],
    *,
    name: str,
    kind: str,
    source: str,
    imported_at: str,
    feed_date: str | None = None,
    sha256: str | None = None,
) -> ImportResult:
    """Replace feed ``name`` with ``parsed``, in one transaction (the caller's, if one is open)."""
    advisories: dict[str, tuple[Any, ...]] = {}
    aliases: dict[tuple[str, str], None] = {}
    affected: list[tuple[Any, ...]] = []
    releases: dict[tuple[str, str], int] = {}
    newest = feed_date
    for advisory, rows in parsed:
        if advisory.modified and (kind == "osv") and (newest is None or advisory.modified > newest):
            newest = advisory.modified
        advisories[advisory.id] = (
            name,
            advisory.id,
            json.dumps(list(advisory.aliases)),
            advisory.summary,
            advisory.url,
            advisory.published,
            advisory.modified,
            advisory.canonical,
            advisory.cvss_vector,
            advisory.cvss_score,
        )
        for alias in advisory.aliases:
            aliases[(advisory.id, alias)] = None
        for ecosystem, release, row, state, urgency, range_type in rows:
            releases[(release, ecosystem)] = releases.get((release, ecosystem), 0) + 1
            affected.append(
                (
                    name,
                    row.advisory,
                    release,
                    row.package,
                    row.introduced,
                    row.fixed,
                    row.last_affected,
                    row.severity,
                    row.note,
                    state,
                    urgency,
                    range_type,
                )
            )
    info = FeedInfo(name, kind, source, imported_at, newest, len(advisories))
    with _atomic(conn):
        for table, column in (
            ("feed_affected", "feed"),
            ("feed_aliases", "feed"),
            ("feed_advisories", "feed"),
            ("feed_releases", "feed"),
            ("feed_sources", "name"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
        conn.executemany(_ADVISORY_INSERT, advisories.values())
        conn.executemany(
            "INSERT INTO feed_aliases (feed, advisory, alias) VALUES (?, ?, ?)",
            [(name, adv, alias) for adv, alias in aliases],
        )
        # seq: the import order, after every row already stored (the reader's order within a package).
        (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM feed_affected").fetchone()
        conn.executemany(_AFFECTED_INSERT, [(*row, int(last) + n) for n, row in enumerate(affected, 1)])
        conn.executemany(
            "INSERT INTO feed_releases (feed, release, ecosystem, rows) VALUES (?, ?, ?, ?)",
            [(name, rel, eco, count) for (rel, eco), count in releases.items()],
        )
        conn.execute(
            "INSERT INTO feed_sources (name, kind, source, imported_at, feed_date, advisories, sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, kind, source, imported_at, newest, len(advisories), sha256),
        )
        conn.execute("DELETE FROM feed_newest WHERE feed = ?", (name,))
        conn.executemany(_NEWEST_INSERT, _newest_rows(name, imported_at, affected))
    per_release: dict[str, int] = {}
    for (rel, _eco), count in releases.items():
        per_release[rel] = per_release.get(rel, 0) + count
    return ImportResult(info, len(affected), per_release)


_NEWEST_INSERT = (
    "INSERT INTO feed_newest (feed, imported_at, release, package, fixed, ranges, unreadable) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _newest_rows(name: str, imported_at: str, affected: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """The ``feed_newest`` rows of a feed's affected rows (as ``_AFFECTED_INSERT`` takes them):
    :func:`.match.newest_fix` per release and package, for releases some host matches."""
    from .match import format_for_release, newest_fix

    by_package: dict[tuple[str, str], list[AffectedRow]] = {}
    for _feed, advisory, release, package, introduced, fixed, last, *_rest in affected:
        rows = by_package.get((release, package))
        if rows is None:
            rows = by_package[(release, package)] = []
        rows.append((advisory, package, introduced, fixed, last, "", None, None, None))
    for (release, package), rows in sorted(by_package.items()):
        fmt = format_for_release(release)
        if fmt is not None:
            yield (name, imported_at, release, package, *newest_fix(rows, fmt))


@contextlib.contextmanager
def _atomic(conn: sqlite3.Connection) -> Iterator[None]:
    """The caller's open transaction (``Store.write_dataset``), else one of its own."""
    if conn.in_transaction:
        yield
        return
    with conn:
        yield


def _default_osv_name(ecosystems: Iterable[str]) -> str:
    bases = sorted({e.split(":", 1)[0] for e in ecosystems})
    return "osv:" + "+".join(bases) if bases else "osv"


def import_osv_records(
    conn: sqlite3.Connection,
    records: Iterable[Mapping[str, Any]],
    *,
    name: str | None = None,
    source: str = "",
    now: str | None = None,
    sha256: str | None = None,
) -> ImportResult:
    """Import OSV records as feed ``name`` (default ``osv:<ecosystems>``).

    The result's ``warnings`` list what was read otherwise than a record says.
    """
    warnings: list[str] = []
    parsed = [p for p in (osv_rows(r, warnings) for r in records if isinstance(r, dict)) if p is not None]
    ecosystems = {row.ecosystem for _adv, rows in parsed for row in rows}
    result = _store(
        conn,
        parsed,
        name=name or _default_osv_name(ecosystems),
        kind="osv",
        source=source,
        imported_at=now or _now(),
        sha256=sha256,
    )
    result.warnings = warnings
    return result


def import_debian_tracker(
    conn: sqlite3.Connection,
    data: Mapping[str, Any],
    *,
    name: str | None = None,
    source: str = "",
    feed_date: str | None = None,
    now: str | None = None,
    sha256: str | None = None,
) -> ImportResult:
    """Import the Debian Security Tracker JSON as feed ``name`` (default ``debian-tracker``).

    The tracker JSON carries no dates, so ``feed_date`` (the file's modification
    time when imported from a path) stands for the feed's own date.
    """
    return import_parsed(
        conn, debian_tracker_rows(data), "debian-tracker", "debian-tracker", name=name,
        source=source, feed_date=feed_date, now=now, sha256=sha256,
    )


def import_alpine_secdb(
    conn: sqlite3.Connection, data: Mapping[str, Any], **options: Any
) -> ImportResult:
    """Import one Alpine secdb file as feed ``name`` (default ``alpine-secdb:<branch>-<repo>``).

    Takes :func:`import_debian_tracker`'s keywords. secdb carries no dates:
    ``feed_date`` (the file's modification time when imported from a path)
    stands for the feed's own date.
    """
    default = f"alpine-secdb:{data.get('distroversion')}-{data.get('reponame') or 'main'}"
    return import_parsed(conn, alpine_secdb_rows(data), "alpine-secdb", default, **options)


def import_parsed(
    conn: sqlite3.Connection,
    parsed: Iterable[tuple[Advisory, list[ParsedRow]]],
    kind: str,
    default_name: str,
    *,
    name: str | None = None,
    source: str = "",
    feed_date: str | None = None,
    now: str | None = None,
    sha256: str | None = None,
) -> ImportResult:
    """Store parsed advisories as feed ``name`` (default ``default_name``) of ``kind``, dated ``feed_date``."""
    return _store(
        conn, parsed, name=name or default_name, kind=kind, source=source,
        imported_at=now or _now(), feed_date=feed_date, sha256=sha256,
    )


def _looks_like_secdb(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("distroversion"), str)
        and isinstance(data.get("packages"), list)
    )


def _looks_like_tracker(data: object) -> bool:
    if not isinstance(data, dict) or "id" in data or not data:
        return False
    for issues in list(data.values())[:20]:
        if isinstance(issues, dict):
            for issue in list(issues.values())[:5]:
                if isinstance(issue, dict) and "releases" in issue:
                    return True
    return False


def load_json(raw: bytes, where: str) -> Any:
    """``raw`` parsed, or a :class:`FeedFormatError` naming ``where:line:col``."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FeedFormatError(f"{where}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except UnicodeDecodeError as exc:
        raise FeedFormatError(f"{where}:1:1: not UTF-8 JSON (byte {exc.start})") from None


def _json_records(path: Path) -> Iterator[Mapping[str, Any]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield from _records_of(load_json(file.read_bytes(), str(file)))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".json") and not info.is_dir():
                    yield from _records_of(load_json(archive.read(info), f"{path}:{info.filename}"))
    else:
        yield from _records_of(load_json(path.read_bytes(), str(path)))


def _records_of(data: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(data, list):
        yield from (r for r in data if isinstance(r, dict))
    elif isinstance(data, dict):
        yield data


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FeedFormatError(ValueError):
    """A file no importer reads; the message starts with ``file[:line:col]:``."""


def import_path(
    conn: sqlite3.Connection,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    now: str | None = None,
) -> ImportResult:
    """Import an OSV directory/zip/JSON file, a Debian tracker, Alpine secdb, endoflife.date
    or Red Hat CSAF 2.0 JSON file, or a directory of CSAF files, from ``path``."""
    from . import csaf

    target = Path(path)
    if not target.exists():
        raise FeedFormatError(f"{target}: no such file or directory")
    source = str(target)
    sha = _sha256(target)
    if target.is_dir():
        files = sorted(target.rglob("*.json"))
        first = load_json(files[0].read_bytes(), str(files[0])) if files else None
        if csaf.looks_like_csaf(first):
            documents = (
                (str(f), raw, first if f is files[0] else load_json(raw, str(f)))
                for f in files for raw in (f.read_bytes(),)
            )
            return csaf.import_documents(conn, documents, name=name, source=source, now=now)
    if target.is_file() and not zipfile.is_zipfile(target):
        raw = target.read_bytes()
        data = load_json(raw, source)
        mtime = dt.datetime.fromtimestamp(target.stat().st_mtime, dt.UTC)
        file_date = mtime.isoformat(timespec="seconds")
        options: dict[str, Any] = {
            "name": name, "source": source, "now": now, "sha256": sha, "feed_date": file_date,
        }
        if _looks_like_tracker(data):
            return import_debian_tracker(conn, data, **options)
        if _looks_like_secdb(data):
            return import_alpine_secdb(conn, data, **options)
        if eol_cycles(data, target.stem) is not None:
            return import_eol(conn, data, product=target.stem, **options)
        if csaf.looks_like_csaf(data):
            return csaf.import_documents(conn, [(source, raw, data)], **options)
        records = list(_records_of(data))
    else:
        records = list(_json_records(target))
    if not records or not any("id" in r for r in records):
        raise FeedFormatError(
            f"{target}: not an OSV, Debian tracker, Alpine secdb, endoflife.date or CSAF 2.0 JSON file"
        )
    return import_osv_records(conn, records, name=name, source=source, now=now, sha256=sha)


# ------------------------------------------------------------------ end of life


class EolCycle(NamedTuple):
    """One release cycle of an endoflife.date product; dates are ISO days or None."""

    product: str
    cycle: str
    codename: str | None
    release_date: str | None
    eol: str | None
    extended_support: str | None
    lts: bool
    latest: str | None


def _eol_date(value: object) -> str | None:
    """An endoflife.date field: a date string is the date; ``true``/``false`` carry none."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value[:10]).isoformat()
    return None


def eol_cycles(data: object, product: str) -> list[EolCycle] | None:
    """Release cycles of an endoflife.date API answer, or None when ``data`` is not one.

    Two shapes: the release-cycle list (``/api/<product>.json``: ``[{"cycle": "12",
    "eol": "2026-06-10", "extendedSupport": "2028-06-30", ...}]``, the product named
    by the file) and the v1 product answer (``{"result": {"name": ..., "releases":
    [{"name": "12", "eolFrom": ..., "eoesFrom": ...}]}}``).
    """
    if isinstance(data, dict) and isinstance(data.get("result"), dict):
        result = data["result"]
        releases = result.get("releases")
        if not isinstance(releases, list) or not isinstance(result.get("name"), str):
            return None
        out = []
        for rel in releases:
            if isinstance(rel, dict) and isinstance(rel.get("name"), str):
                latest = rel.get("latest")
                out.append(
                    EolCycle(
                        result["name"], rel["name"], _str_or_none(rel.get("codename")),
                        _eol_date(rel.get("releaseDate")), _eol_date(rel.get("eolFrom")),
                        _eol_date(rel.get("eoesFrom")), bool(rel.get("isLts")),
                        _str_or_none(latest.get("name") if isinstance(latest, dict) else None),
                    )
                )
        return out
    if not isinstance(data, list) or not data:
        return None
    if not all(isinstance(c, dict) and "cycle" in c and "eol" in c and "id" not in c for c in data):
        return None
    return [
        EolCycle(
            product, str(c["cycle"]), _str_or_none(c.get("codename")),
            _eol_date(c.get("releaseDate")), _eol_date(c.get("eol")),
            _eol_date(c.get("extendedSupport")), bool(c.get("lts")), _str_or_none(c.get("latest")),
        )
        for c in data
    ]


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def import_eol(
    conn: sqlite3.Connection,
    data: object,
    *,
    product: str,
    name: str | None = None,
    source: str = "",
    feed_date: str | None = None,
    now: str | None = None,
    sha256: str | None = None,
) -> ImportResult:
    """Import endoflife.date release cycles as feed ``name`` (default ``eol:<product>``)."""
    cycles = eol_cycles(data, product)
    if cycles is None:
        raise FeedFormatError(f"{source or product}: not an endoflife.date release-cycle list")
    product = cycles[0].product if cycles else product
    feed = name or f"eol:{product}"
    imported_at = now or _now()
    with _atomic(conn):
        for table, column in (("feed_eol", "feed"), ("feed_releases", "feed"), ("feed_sources", "name")):
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (feed,))
        conn.executemany(
            "INSERT INTO feed_eol (feed, product, cycle, codename, release_date, eol, "
            "extended_support, lts, latest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(feed, c.product, c.cycle, c.codename, c.release_date, c.eol, c.extended_support,
              int(c.lts), c.latest) for c in {c.cycle: c for c in cycles}.values()],
        )
        conn.execute(
            "INSERT INTO feed_sources (name, kind, source, imported_at, feed_date, advisories, sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (feed, "eol", source, imported_at, feed_date, len(cycles), sha256),
        )
    info = FeedInfo(feed, "eol", source, imported_at, feed_date, len(cycles))
    return ImportResult(info, 0, {})


# ------------------------------------------------------------------ reading


def list_feeds(conn: Rows) -> list[FeedInfo]:
    """Every imported feed, by name. Empty when the schema does not exist yet."""
    try:
        rows = list(conn.execute(
            "SELECT name, kind, source, imported_at, feed_date, advisories FROM feed_sources ORDER BY name"
        ))
    except sqlite3.OperationalError:
        return []
    return [FeedInfo(*row) for row in rows]


@dataclass(frozen=True)
class ReleaseFeed:
    """What the feeds know about one release, restricted to some packages."""

    release: str
    feeds: tuple[FeedInfo, ...]
    affected: Mapping[str, Sequence[Affected]]
    advisories: Mapping[str, Advisory]


def feeds_for_release(conn: Rows, release: str) -> tuple[FeedInfo, ...]:
    """Feeds that hold at least one row for ``release``."""
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT feed FROM feed_releases WHERE release = ? ORDER BY feed",
                (release,),
            )
        ]
    except sqlite3.OperationalError:
        return ()
    return tuple(f for f in list_feeds(conn) if f.name in names)


_CHUNK = 500
# Column order of Affected: a row from SQLite is an AffectedRow.
_AFFECTED_COLUMNS = "advisory, package, introduced, fixed, last_affected, severity, note, state, urgency"


def _chunks(values: Sequence[str]) -> Iterator[tuple[Sequence[str], str]]:
    """Slices of at most _CHUNK values, each with its ``?,?,...`` placeholders."""
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        yield chunk, ",".join("?" * len(chunk))


def _affected(
    conn: Rows, release: str, packages: Iterable[str] | None, columns: str
) -> Iterator[Any]:
    """``columns`` of the release's rows (of some packages), by package, in import order."""
    order = "ORDER BY package, seq"  # served by the (release, package, seq) index: no sort
    if packages is None:
        yield from conn.execute(
            f"SELECT {columns} FROM feed_affected WHERE release = ? {order}", (release,)
        )
        return
    for chunk, marks in _chunks(sorted(set(packages))):
        yield from conn.execute(
            f"SELECT {columns} FROM feed_affected "
            f"WHERE release = ? AND package IN ({marks}) {order}",
            (release, *chunk),
        )


def package_rows(
    conn: Rows, release: str, packages: Iterable[str]
) -> dict[str, list[AffectedRow]]:
    """Affected rows of ``release`` for the named packages, by package, as plain tuples.

    Within a package, rows keep their import order, as in :func:`load_release`
    (the order decides which of two rows of one advisory names a merged match).
    """
    out: dict[str, list[AffectedRow]] = {}
    for row in _affected(conn, release, packages, _AFFECTED_COLUMNS):
        rows = out.get(row[1])
        if rows is None:
            out[row[1]] = [row]
        else:
            rows.append(row)
    return out


def load_release(
    conn: Rows, release: str, packages: Iterable[str] | None = None
) -> ReleaseFeed:
    """Affected rows (and their advisories) for ``release``, optionally for some packages only."""
    feeds = feeds_for_release(conn, release)
    affected: dict[str, list[Affected]] = {}
    wanted: set[tuple[str, str]] = set()
    for feed, *fields in _affected(conn, release, packages, f"feed, {_AFFECTED_COLUMNS}"):
        row = Affected._make(fields)
        affected.setdefault(row.package, []).append(row)
        wanted.add((feed, row.advisory))
    advisories = _load_advisories(conn, wanted)
    return ReleaseFeed(release, feeds, affected, advisories)


def newest_fixes(
    conn: Rows, release: str, sources: Sequence[FeedInfo]
) -> list[tuple[str, str | None, int, int]] | None:
    """``(package, newest fix, other ranges, unreadable rows)`` of every feed ``sources`` of ``release``.

    What each import stored (:func:`.match.newest_fix`, one row per feed and
    package). None when some feed of ``sources`` has no such rows as of its
    own import (imported by a civiscan that did not store them, or re-imported
    by one since): the caller then computes them from the rows.
    """
    imported = {f.name: f.imported_at for f in sources}
    seen: set[str] = set()
    out: list[tuple[str, str | None, int, int]] = []
    for feed, imported_at, package, fixed, ranges, unreadable in conn.execute(
        "SELECT feed, imported_at, package, fixed, ranges, unreadable FROM feed_newest WHERE release = ?",
        (release,),
    ):
        if feed not in imported:
            continue
        if imported_at != imported[feed]:
            return None
        seen.add(feed)
        out.append((package, fixed, int(ranges), int(unreadable)))
    return out if seen == imported.keys() else None


def _advisory_rows(
    conn: Rows, feed: str, ids: Sequence[str]
) -> Iterator[tuple[str, Advisory]]:
    for chunk, marks in _chunks(ids):
        for adv_id, aliases, summary, url, published, modified in conn.execute(
            "SELECT id, aliases, summary, url, published, modified FROM feed_advisories "
            f"WHERE feed = ? AND id IN ({marks})",
            (feed, *chunk),
        ):
            yield adv_id, _advisory((adv_id, _aliases(aliases), summary, url, published, modified, None, None))


# An Advisory from a tuple of all its fields, without the named tuple's own checks.
_advisory = functools.partial(tuple.__new__, Advisory)


def _aliases(text: str) -> tuple[str, ...]:
    """The stored JSON list of aliases: split without a JSON decoder when nothing is escaped."""
    if text == "[]":
        return ()
    inner = text[2:-2]
    if text.startswith('["') and text.endswith('"]') and "\\" not in inner:
        if '"' not in inner:
            return (inner,)
        # Every quote of an unescaped list is one of json.dumps's own separators.
        if '"' not in inner.replace('", "', ""):
            return tuple(inner.split('", "'))
    return tuple(json.loads(text))


def _load_advisories(conn: Rows, wanted: set[tuple[str, str]]) -> dict[str, Advisory]:
    """Advisories by id; an id several feeds know is taken from the first feed by name."""
    out: dict[str, Advisory] = {}
    by_feed: dict[str, list[str]] = {}
    for feed, adv in wanted:
        by_feed.setdefault(feed, []).append(adv)
    for feed, ids in sorted(by_feed.items()):
        for adv_id, advisory in _advisory_rows(conn, feed, sorted(ids)):
            out.setdefault(adv_id, advisory)
    return out


def release_advisories(
    conn: Rows, release: str, ids: Iterable[str], sources: Sequence[FeedInfo] | None = None
) -> dict[str, Advisory]:
    """Metadata of the advisories ``ids`` of ``release``, exactly as :func:`load_release` gives it.

    Cheap when a few of many advisories are wanted. When several feeds of the
    release know an id, it is taken from the first feed by name that has rows
    for it in this release; only those rare ids cost a look at the rows.
    ``sources``: the release's :func:`feeds_for_release`, when the caller has read them.
    """
    wanted = sorted(set(ids))
    if sources is None:
        sources = feeds_for_release(conn, release)
    if len(sources) == 1:  # one candidate per id: the release's only feed
        return dict(_advisory_rows(conn, sources[0].name, wanted))
    candidates: dict[str, list[tuple[str, Advisory]]] = {}
    for info in sources:
        for adv_id, advisory in _advisory_rows(conn, info.name, wanted):
            candidates.setdefault(adv_id, []).append((info.name, advisory))
    shared = sorted(adv_id for adv_id, found in candidates.items() if len(found) > 1)
    with_rows: set[tuple[str, str]] = set()
    for chunk, marks in _chunks(shared):
        with_rows.update(
            conn.execute(
                "SELECT DISTINCT feed, advisory FROM feed_affected "
                f"WHERE release = ? AND advisory IN ({marks})",
                (release, *chunk),
            )
        )
    out: dict[str, Advisory] = {}
    for adv_id, found in candidates.items():
        if len(found) == 1:
            out[adv_id] = found[0][1]
            continue
        chosen = next((adv for feed, adv in found if (feed, adv_id) in with_rows), None)
        if chosen is not None:
            out[adv_id] = chosen
    return out


def eol_rows(
    conn: Rows, product: str, cycles: Sequence[str]
) -> list[tuple[str, str | None, str, str | None, str | None]]:
    """``(feed, feed date, cycle, eol, extended support)`` of ``product``'s named cycles, by feed name."""
    if not cycles:
        return []
    marks = ",".join("?" * len(cycles))
    try:
        return list(conn.execute(
            "SELECT e.feed, s.feed_date, e.cycle, e.eol, e.extended_support FROM feed_eol e "
            "JOIN feed_sources s ON s.name = e.feed "
            f"WHERE e.product = ? AND e.cycle IN ({marks}) ORDER BY e.feed",
            (product, *cycles),
        ))
    except sqlite3.OperationalError:
        return []


def sample_feed_paths() -> list[Path]:
    """The bundled sample feeds: real-format OSV records and a Debian tracker extract.

    Small and hand-made for the demo and tests; their dates are fixed, so a
    policy judging against them needs a generous ``max_feed_age_days``.
    """
    base = Path(str(importlib.resources.files("scanner.plugins.packages") / "data"))
    return [base / "osv", base / "debian-tracker-sample.json"]


__all__ = [
    "DEBIAN_CODENAMES",
    "SEVERITIES",
    "Advisory",
    "Affected",
    "AffectedRow",
    "EolCycle",
    "FeedFormatError",
    "FeedInfo",
    "ImportResult",
    "ParsedRow",
    "ReleaseFeed",
    "alpine_secdb_rows",
    "canonical_id",
    "cvss3_base_score",
    "cvss_base_score",
    "debian_tracker_rows",
    "ensure_schema",
    "eol_cycles",
    "eol_rows",
    "feeds_for_release",
    "import_alpine_secdb",
    "import_debian_tracker",
    "import_eol",
    "import_osv_records",
    "import_parsed",
    "import_path",
    "iso_utc",
    "list_feeds",
    "load_json",
    "load_release",
    "module_streams",
    "newest_fixes",
    "osv_rows",
    "package_rows",
    "plain_text",
    "release_advisories",
    "release_of_ecosystem",
    "rpm_evr_ok",
    "sample_feed_paths",
    "severity_of_score",
    "severity_of_text",
    "srpm_file",
    "tracker_state",
]
