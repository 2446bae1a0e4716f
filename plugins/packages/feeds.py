"""Offline advisory feeds: import OSV and Debian Security Tracker data into SQLite.

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
* The Debian Security Tracker JSON (``{source package: {CVE: {releases: ...}}}``).

Every affected range becomes one row keyed by (release, source package). A feed
re-imported under the same name replaces its previous rows, in one transaction.
Severity is normalised to critical/high/medium/low/info or ``unknown``; the
mapping is documented in docs/packages.md and implemented by :func:`severity_of_text`
and :func:`cvss3_base_score`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.resources
import json
import math
import os
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


_CVSS3_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def _roundup(value: float) -> float:
    """CVSS v3.1 Roundup: the smallest one-decimal number >= value, float-safe."""
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    """Base score of a ``CVSS:3.x/AV:../..`` vector (FIRST CVSS v3.1 formula), or None."""
    parts = vector.strip().split("/")
    if not parts or not parts[0].startswith("CVSS:3"):
        return None
    metrics: dict[str, str] = {}
    for part in parts[1:]:
        key, sep, value = part.partition(":")
        if sep:
            metrics[key] = value
    try:
        scope_changed = metrics["S"] == "C"
        privileges = {
            "N": 0.85,
            "L": 0.68 if scope_changed else 0.62,
            "H": 0.5 if scope_changed else 0.27,
        }
        iss = 1 - (
            (1 - _CVSS3_WEIGHTS["C"][metrics["C"]])
            * (1 - _CVSS3_WEIGHTS["I"][metrics["I"]])
            * (1 - _CVSS3_WEIGHTS["A"][metrics["A"]])
        )
        exploitability = (
            8.22
            * _CVSS3_WEIGHTS["AV"][metrics["AV"]]
            * _CVSS3_WEIGHTS["AC"][metrics["AC"]]
            * privileges[metrics["PR"]]
            * _CVSS3_WEIGHTS["UI"][metrics["UI"]]
        )
    except KeyError:
        return None
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if scope_changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    if scope_changed:
        return _roundup(min(1.08 * (impact + exploitability), 10))
    return _roundup(min(impact + exploitability, 10))


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


def _osv_severity(record: Mapping[str, Any], affected: Mapping[str, Any]) -> str:
    """A vendor word beats a computed CVSS score; the affected entry beats the record."""
    for holder in (affected, record):
        for section in ("ecosystem_specific", "database_specific"):
            extra = holder.get(section)
            if isinstance(extra, dict):
                for key in ("urgency", "severity", "priority"):
                    level = severity_of_text(extra.get(key))
                    if level != "unknown":
                        return level
    for holder in (affected, record):
        entries = holder.get("severity")
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            kind, score = entry.get("type"), entry.get("score")
            if not isinstance(score, str):
                continue
            if kind == "Ubuntu":
                level = severity_of_text(score)
                if level != "unknown":
                    return level
            elif kind == "CVSS_V3":
                value = cvss3_base_score(score)
                if value is not None:
                    return severity_of_score(value)
    return "unknown"


# ------------------------------------------------------------------ releases


def release_of_ecosystem(ecosystem: str) -> str | None:
    """The release key a host matches against, or None if civiscan cannot map it.

    ``Debian:12`` -> ``debian:12``; ``Ubuntu:22.04:LTS`` -> ``ubuntu:22.04``;
    ``Ubuntu:Pro:22.04:LTS`` -> ``ubuntu-pro:22.04``; ``Alpine:v3.19`` -> ``alpine:3.19``;
    ``Rocky Linux:9`` -> ``rocky:9``; ``AlmaLinux:9`` -> ``almalinux:9``;
    ``Red Hat:enterprise_linux:9::appstream`` -> ``rhel:9``.
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
    if base == "Red Hat" and len(rest) >= 2 and rest[0] == "enterprise_linux":
        return f"rhel:{rest[1].split('.')[0]}"
    return None


# ------------------------------------------------------------------ rows


class Affected(NamedTuple):
    """One affected range of one advisory for one (release, source package).

    A named tuple, so a plain row tuple in the same field order (what
    :func:`package_rows` returns) becomes one with ``Affected._make(row)``.
    """

    advisory: str
    package: str
    introduced: str | None
    fixed: str | None
    last_affected: str | None
    severity: str
    note: str | None = None


# An Affected as a plain tuple. The matcher keeps ~100,000 of these per release:
# the garbage collector stops tracking a plain tuple of strings, not a named one.
AffectedRow = tuple[str, str, str | None, str | None, str | None, str, str | None]


@dataclass(frozen=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    url: str | None
    published: str | None
    modified: str | None


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


def _plain(text: object, limit: int = 300) -> str:
    """First paragraph of a description as one line of plain text."""
    if not isinstance(text, str):
        return ""
    first = text.strip().split("\n\n", 1)[0]
    line = " ".join(first.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _iso_utc(value: object) -> str | None:
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    return parsed.astimezone(dt.UTC).isoformat(timespec="seconds") if parsed else None


def _intervals(ranges: object) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(introduced, fixed, last_affected) for every ECOSYSTEM range of an OSV entry."""
    if not isinstance(ranges, list):
        return
    for rng in ranges:
        if not isinstance(rng, dict) or rng.get("type") != "ECOSYSTEM":
            continue
        start: str | None = None
        opened = False
        for event in rng.get("events") or ():
            if not isinstance(event, dict):
                continue
            if "introduced" in event:
                start = str(event["introduced"])
                opened = True
            elif "fixed" in event and opened:
                yield (start, str(event["fixed"]), None)
                opened = False
            elif "last_affected" in event and opened:
                yield (start, None, str(event["last_affected"]))
                opened = False
        if opened:
            yield (start, None, None)


def _osv_url(record: Mapping[str, Any]) -> str | None:
    refs = [r for r in record.get("references") or () if isinstance(r, dict) and r.get("url")]
    for wanted in ("ADVISORY", "WEB"):
        for ref in refs:
            if ref.get("type") == wanted:
                return str(ref["url"])
    return str(refs[0]["url"]) if refs else None


def osv_rows(
    record: Mapping[str, Any],
) -> tuple[Advisory, list[tuple[str, str, Affected]]] | None:
    """Parse one OSV record: its advisory and (ecosystem, release, affected) rows.

    Withdrawn records and records without an id give None.
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
    advisory = Advisory(
        id=adv_id,
        aliases=aliases,
        summary=_plain(record.get("summary")) or _plain(record.get("details")),
        url=_osv_url(record),
        published=_iso_utc(record.get("published")),
        modified=_iso_utc(record.get("modified")),
    )
    rows: list[tuple[str, str, Affected]] = []
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
        severity = _osv_severity(record, affected)
        for introduced, fixed, last in _intervals(affected.get("ranges")):
            rows.append(
                (
                    ecosystem,
                    release,
                    Affected(adv_id, name, introduced, fixed, last, severity),
                )
            )
    return advisory, rows


def debian_tracker_rows(
    data: Mapping[str, Any],
) -> Iterator[tuple[Advisory, list[tuple[str, str, Affected]]]]:
    """Parse the Debian Security Tracker JSON, one (advisory, rows) per (package, CVE).

    ``resolved`` with ``fixed_version`` "0" means the release was never
    affected and gives no row; ``open``/``undetermined`` give an unfixed row.
    """
    for package, issues in data.items():
        if not isinstance(issues, dict):
            continue
        for issue_id, issue in issues.items():
            if not isinstance(issue, dict):
                continue
            rows: list[tuple[str, str, Affected]] = []
            for codename, rel in (issue.get("releases") or {}).items():
                number = DEBIAN_CODENAMES.get(codename)
                if number is None or not isinstance(rel, dict):
                    continue
                status = rel.get("status")
                fixed = rel.get("fixed_version")
                note = None
                if status == "resolved":
                    if not isinstance(fixed, str) or fixed == "0":
                        continue
                elif status in ("open", "undetermined"):
                    fixed = None
                    reason = rel.get("nodsa_reason") or ("no-dsa" if rel.get("nodsa") else "")
                    note = (
                        "; ".join(x for x in (str(status), str(reason)) if x and x != "open")
                        or None
                    )
                else:
                    continue
                rows.append(
                    (
                        f"Debian:{number}",
                        f"debian:{number}",
                        Affected(
                            str(issue_id),
                            str(package),
                            "0",
                            fixed,
                            None,
                            severity_of_text(rel.get("urgency")),
                            note,
                        ),
                    )
                )
            if rows:
                advisory = Advisory(
                    id=str(issue_id),
                    aliases=(),
                    summary=_plain(issue.get("description")),
                    url=f"https://security-tracker.debian.org/tracker/{issue_id}",
                    published=None,
                    modified=None,
                )
                yield advisory, rows


# ------------------------------------------------------------------ import


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _store(
    conn: sqlite3.Connection,
    parsed: Iterable[tuple[Advisory, list[tuple[str, str, Affected]]]],
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
        )
        for ecosystem, release, row in rows:
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
                )
            )
    info = FeedInfo(name, kind, source, imported_at, newest, len(advisories))
    with _atomic(conn):
        for table, column in (
            ("feed_affected", "feed"),
            ("feed_advisories", "feed"),
            ("feed_releases", "feed"),
            ("feed_sources", "name"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))
        conn.executemany(
            "INSERT INTO feed_advisories VALUES (?, ?, ?, ?, ?, ?, ?)", advisories.values()
        )
        # seq: the import order, after every row already stored (the reader's order within a package).
        (last,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM feed_affected").fetchone()
        conn.executemany(
            "INSERT INTO feed_affected (feed, advisory, release, package, introduced, fixed,"
            " last_affected, severity, note, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, int(last) + n) for n, row in enumerate(affected, 1)],
        )
        conn.executemany(
            "INSERT INTO feed_releases VALUES (?, ?, ?, ?)",
            [(name, rel, eco, count) for (rel, eco), count in releases.items()],
        )
        conn.execute(
            "INSERT INTO feed_sources VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, kind, source, imported_at, newest, len(advisories), sha256),
        )
    per_release: dict[str, int] = {}
    for (rel, _eco), count in releases.items():
        per_release[rel] = per_release.get(rel, 0) + count
    return ImportResult(info, len(affected), per_release)


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
    """Import OSV records as feed ``name`` (default ``osv:<ecosystems>``)."""
    parsed = [p for p in (osv_rows(r) for r in records if isinstance(r, dict)) if p is not None]
    ecosystems = {eco for _adv, rows in parsed for eco, _rel, _row in rows}
    return _store(
        conn,
        parsed,
        name=name or _default_osv_name(ecosystems),
        kind="osv",
        source=source,
        imported_at=now or _now(),
        sha256=sha256,
    )


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
    return _store(
        conn,
        debian_tracker_rows(data),
        name=name or "debian-tracker",
        kind="debian-tracker",
        source=source,
        imported_at=now or _now(),
        feed_date=feed_date,
        sha256=sha256,
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


def _json_records(path: Path) -> Iterator[Mapping[str, Any]]:
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield from _records_of(json.loads(file.read_bytes()))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".json") and not info.is_dir():
                    yield from _records_of(json.loads(archive.read(info)))
    else:
        yield from _records_of(json.loads(path.read_bytes()))


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
    """The file is neither OSV nor the Debian Security Tracker JSON."""


def import_path(
    conn: sqlite3.Connection,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    now: str | None = None,
) -> ImportResult:
    """Import an OSV directory/zip/JSON file or a Debian tracker JSON file from ``path``."""
    target = Path(path)
    if not target.exists():
        raise FileNotFoundError(f"{target}: no such file or directory")
    source = str(target)
    sha = _sha256(target)
    if target.is_file() and not zipfile.is_zipfile(target):
        data = json.loads(target.read_bytes())
        if _looks_like_tracker(data):
            mtime = dt.datetime.fromtimestamp(target.stat().st_mtime, dt.UTC)
            return import_debian_tracker(
                conn,
                data,
                name=name,
                source=source,
                feed_date=mtime.isoformat(timespec="seconds"),
                now=now,
                sha256=sha,
            )
        records = list(_records_of(data))
    else:
        records = list(_json_records(target))
    if not records or not any("id" in r for r in records):
        raise FeedFormatError(f"{target}: no OSV records and not a Debian tracker JSON file")
    return import_osv_records(conn, records, name=name, source=source, now=now, sha256=sha)


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
_AFFECTED_COLUMNS = "advisory, package, introduced, fixed, last_affected, severity, note"


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


def _advisory_rows(
    conn: Rows, feed: str, ids: Sequence[str]
) -> Iterator[tuple[str, Advisory]]:
    for chunk, marks in _chunks(ids):
        for adv_id, aliases, summary, url, published, modified in conn.execute(
            "SELECT id, aliases, summary, url, published, modified FROM feed_advisories "
            f"WHERE feed = ? AND id IN ({marks})",
            (feed, *chunk),
        ):
            yield (
                adv_id,
                Advisory(adv_id, tuple(json.loads(aliases)), summary, url, published, modified),
            )


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
    conn: Rows, release: str, ids: Iterable[str]
) -> dict[str, Advisory]:
    """Metadata of the advisories ``ids`` of ``release``, exactly as :func:`load_release` gives it.

    Cheap when a few of many advisories are wanted. When several feeds of the
    release know an id, it is taken from the first feed by name that has rows
    for it in this release; only those rare ids cost a look at the rows.
    """
    wanted = sorted(set(ids))
    candidates: dict[str, list[tuple[str, Advisory]]] = {}
    for info in feeds_for_release(conn, release):
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
    "FeedFormatError",
    "FeedInfo",
    "ImportResult",
    "ReleaseFeed",
    "cvss3_base_score",
    "debian_tracker_rows",
    "ensure_schema",
    "feeds_for_release",
    "import_debian_tracker",
    "import_osv_records",
    "import_path",
    "list_feeds",
    "load_release",
    "osv_rows",
    "package_rows",
    "release_advisories",
    "release_of_ecosystem",
    "sample_feed_paths",
    "severity_of_score",
    "severity_of_text",
]
