"""Tracker lists: DuckDuckGo Tracker Radar files, the ``trackers`` dataset and lookups.

A tracker list is imported with ``civiscan feeds import`` into the store's
``trackers`` dataset (tables ``tracker_sources`` and ``tracker_domains``); the
web checks read it through ``ctx.dataset("trackers")`` and fall back to the
sample bundled in ``data/tracker_radar`` when none is imported. Nothing here
touches the network.

Formats read: a Tracker Radar domain file (``{"domain", "owner", "categories",
...}``), a folder of them (the Tracker Radar's ``domains/``, searched
recursively), or a tracker data set in DuckDuckGo's blocklist shape
(``{"trackers": {domain: {...same fields}}}``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from scanner.plugin import Dataset, Rows

DATASET = "trackers"
MAX_FILE_BYTES = 32 * 1024 * 1024
"""A larger file is refused: the biggest Tracker Radar domain file is under 1 MB."""
MAX_FILES = 50_000
SNIFF_BYTES = 4096

PLAIN_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Session Replay", "session recording"),
    ("Advertising", "advertising"),
    ("Ad Motivated Tracking", "advertising"),
    ("Action Pixels", "advertising"),
    ("Ad Fraud", "advertising"),
    ("Analytics", "analytics"),
    ("Audience Measurement", "analytics"),
    ("Third-Party Analytics Marketing", "analytics"),
    ("Social Network", "social media"),
    ("Social - Share", "social media"),
    ("Social - Comment", "social media"),
    ("Tag Manager", "tag management"),
)
"""Tracker Radar categories that make a domain a tracker, first match first, in plain words.
A domain with none of them (a CDN, a payment page) is a third party, not a tracker."""


class TrackerFormatError(ValueError):
    """A tracker list that cannot be read; the message starts with ``file[:line:col]:``."""


@dataclass(frozen=True)
class TrackerDomain:
    host: str
    owner: str
    categories: tuple[str, ...]
    prevalence: float | None = None


def _text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def parse_radar_entry(document: Any) -> TrackerDomain | None:
    """One Tracker Radar domain entry; None when it is not one (never trusted blindly)."""
    if not isinstance(document, Mapping):
        return None
    host = _text(document.get("domain"), 253).strip().rstrip(".").lower()
    owner = document.get("owner")
    if not host or " " in host or not isinstance(owner, Mapping):
        return None
    name = _text(owner.get("displayName")) or _text(owner.get("name"))
    raw = document.get("categories")
    categories = tuple(c[:80] for c in raw if isinstance(c, str))[:20] if isinstance(raw, list) else ()
    prevalence = document.get("prevalence")
    return TrackerDomain(host, name or host, categories,
                         float(prevalence) if isinstance(prevalence, (int, float)) else None)


def parse_radar(document: Any) -> list[TrackerDomain]:
    """A domain file, or a ``{"trackers": {...}}`` data set, as entries."""
    if isinstance(document, Mapping) and isinstance(document.get("trackers"), Mapping):
        entries = (parse_radar_entry(v) for v in document["trackers"].values())
    else:
        entries = iter([parse_radar_entry(document)])
    return [e for e in entries if e is not None]


def describe(entry: TrackerDomain) -> dict[str, Any] | None:
    """The evidence for a tracker: who, and what it does in plain words; None if no tracker."""
    plain = next((words for raw, words in PLAIN_CATEGORIES if raw in entry.categories), None)
    if plain is None:
        return None
    purposes = list(dict.fromkeys(w for raw, w in PLAIN_CATEGORIES if raw in entry.categories))
    return {"name": entry.owner, "domain": entry.host, "category": plain, "purposes": purposes}


class TrackerIndex:
    """Tracker domains by host; a host matches itself or its nearest listed parent domain."""

    def __init__(self, entries: Iterable[TrackerDomain], origin: Mapping[str, Any]) -> None:
        # host -> its description, None for a listed domain that is no tracker
        self._by_host: dict[str, dict[str, Any] | None] = {}
        for entry in entries:
            if entry.host not in self._by_host:
                self._by_host[entry.host] = describe(entry)
        self.origin = dict(origin, domains=len(self._by_host))

    def lookup(self, host: str) -> dict[str, Any] | None:
        labels = host.rstrip(".").lower().split(".")
        for i in range(len(labels) - 1):
            name = ".".join(labels[i:])
            if name in self._by_host:
                found = self._by_host[name]
                return dict(found) if found is not None else None
        return None


# -- reading files ---------------------------------------------------------------------------


def _load(file: Path, size: int) -> tuple[bytes, Any]:
    if size > MAX_FILE_BYTES:
        raise TrackerFormatError(f"{file}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    data = file.read_bytes()
    try:
        return data, json.loads(data)
    except json.JSONDecodeError as exc:
        raise TrackerFormatError(f"{file}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    except (UnicodeDecodeError, RecursionError):
        raise TrackerFormatError(f"{file}:1:1: not UTF-8 JSON") from None


def _json_files(path: Path) -> Iterator[tuple[Path, int]]:
    """(regular file, size) of ``path`` or of the ``*.json`` under it; symlinks are not followed."""
    if path.is_file():
        yield path, path.stat().st_size
        return
    names: list[str] = []
    for folder, _dirs, files in os.walk(path):  # followlinks=False: linked folders are skipped
        names += [os.path.join(folder, f) for f in files if f.endswith(".json")]
        if len(names) > MAX_FILES:
            raise TrackerFormatError(f"{path}: more than {MAX_FILES} JSON files")
    for name in sorted(names):
        info = os.lstat(name)
        if stat.S_ISREG(info.st_mode):
            yield Path(name), info.st_size


def _sniff(file: Path) -> bool:
    try:
        with file.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    return b'"owner"' in head and (b'"domain"' in head or b'"trackers"' in head)


def recognises(path: str) -> bool:
    """Is ``path`` a Tracker Radar file, a folder of them, or a tracker data set?"""
    target = Path(path)
    if target.is_file():
        return target.suffix == ".json" and _sniff(target)
    if target.is_dir():
        for folder, _dirs, files in os.walk(target):
            first = sorted(f for f in files if f.endswith(".json"))[:1]
            if first:
                return _sniff(Path(folder, first[0]))
    return False


def read_path(path: str) -> tuple[list[TrackerDomain], str]:
    """(every entry under ``path``, the SHA-256 of the files read)."""
    target = Path(path)
    if not target.exists():
        raise TrackerFormatError(f"{target}: no such file or directory")
    digest = hashlib.sha256()
    entries: list[TrackerDomain] = []
    for file, size in _json_files(target):
        data, document = _load(file, size)
        entries += parse_radar(document)
        digest.update(data)
    if not entries:
        raise TrackerFormatError(f"{target}: no Tracker Radar domain entry found")
    return entries, digest.hexdigest()


# -- the dataset -----------------------------------------------------------------------------


def import_path(conn: Any, path: str, *, name: str | None = None, now: str | None = None) -> str:
    """Replace tracker list ``name`` (default ``tracker-radar``) with the entries under ``path``.

    ``conn`` is the open transaction of ``Store.write_dataset("trackers")``. Returns
    the one-line summary ``civiscan feeds import`` prints.
    """
    entries, sha = read_path(path)
    feed = name or "tracker-radar"
    imported = now or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    unique = {e.host: e for e in reversed(entries)}
    conn.execute("DELETE FROM tracker_domains WHERE feed = ?", (feed,))
    conn.execute("DELETE FROM tracker_sources WHERE name = ?", (feed,))
    conn.execute("INSERT INTO tracker_sources VALUES (?, ?, ?, ?, ?, ?)",
                 (feed, "tracker-radar", str(path), imported, len(unique), sha))
    conn.executemany(
        "INSERT INTO tracker_domains VALUES (?, ?, ?, ?, ?)",
        [(feed, e.host, e.owner, json.dumps(list(e.categories)), e.prevalence)
         for e in unique.values()],
    )
    trackers = sum(1 for e in unique.values() if describe(e) is not None)
    return (f"{path}: tracker list '{feed}' (tracker-radar), {len(unique)} domains, "
            f"{trackers} of them trackers")


def list_lines(conn: Rows) -> list[str]:
    """One line per imported tracker list, for ``civiscan feeds list``."""
    rows = conn.execute("SELECT name, kind, domains, imported_at FROM tracker_sources ORDER BY name")
    from scanner.timeutil import readable_time

    return [f"{n:<30} {k:<16} {d:>8} domains      imported {readable_time(i)}" for n, k, d, i in rows]


def _read_dataset(rows: Rows) -> TrackerIndex | None:
    sources = list(rows.execute("SELECT name, imported_at, domains FROM tracker_sources ORDER BY name"))
    if not sources:
        return None
    entries = [
        TrackerDomain(host, owner, tuple(json.loads(categories)), prevalence)
        for host, owner, categories, prevalence in rows.execute(
            "SELECT host, owner, categories, prevalence FROM tracker_domains ORDER BY feed, host")
    ]
    return TrackerIndex(entries, {"list": "imported", "feeds": [s[0] for s in sources],
                                  "imported_at": max(s[1] for s in sources)})


# The index of an imported list is reused until its sources change: the key is the
# dataset's source, checked against the sources' names, import times and sizes.
_CACHE: dict[str, tuple[tuple[Any, ...], TrackerIndex]] = {}
_CACHE_LOCK = threading.Lock()


def dataset_index(dataset: Dataset | None) -> TrackerIndex:
    """The imported tracker list, else the bundled sample. Blocking: run it off the loop.

    Raises :class:`scanner.plugin.DatasetUnavailable` when the store cannot be read.
    """
    if dataset is None:
        return bundled_index()
    with dataset.read() as rows:
        identity = tuple(rows.execute(
            "SELECT name, imported_at, domains FROM tracker_sources ORDER BY name"))
        if not identity:
            return bundled_index()
        with _CACHE_LOCK:
            hit = _CACHE.get(dataset.source)
            if hit is not None and hit[0] == identity:
                return hit[1]
        index = _read_dataset(rows) or bundled_index()
    with _CACHE_LOCK:
        _CACHE.clear()  # one store per process in practice; keep at most one index
        _CACHE[dataset.source] = (identity, index)
    return index


@functools.cache
def bundled_index() -> TrackerIndex:
    """The Tracker Radar sample shipped in ``data/tracker_radar`` (see its README)."""
    folder = resources.files(__package__).joinpath("data/tracker_radar")
    entries: list[TrackerDomain] = []
    for item in sorted(folder.iterdir(), key=lambda f: f.name):
        if item.name.endswith(".json"):
            entries += parse_radar(json.loads(item.read_text("utf-8")))
    return TrackerIndex(entries, {"list": "bundled sample", "feeds": ["tracker-radar sample"]})


@dataclass(frozen=True)
class TrackerRadarFormat:
    """The ``civiscan feeds import`` format this plugin registers (``civiscan.feed_formats``)."""

    name: str = "tracker-radar"
    dataset: str = DATASET

    def recognises(self, path: str) -> bool:
        return recognises(path)

    def import_path(self, conn: Any, path: str, *, name: str | None = None) -> str:
        return import_path(conn, path, name=name)

    def list_lines(self, rows: Rows) -> Sequence[str]:
        return list_lines(rows)


tracker_radar = TrackerRadarFormat()
