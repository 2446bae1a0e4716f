"""Patch-level plugins: ``packages`` (installed packages, advisories) and ``os``.

Both plugins share one collection per host (``ctx.shared(("host-facts", id))``:
one SSH round trip) and store only what their checks need:

* ``packages`` facts: release, package format, ``{name: version}`` of every
  installed package, and the advisory matches against the offline feed index
  the store lends (``ctx.dataset("advisories")``, read-only) with the feed's
  name and date, so ``packages.*`` checks judge stored facts without I/O;
* ``os`` facts: os-release, kernel, reboot flag, last update, container flag.

Matching happens at collection time because the feed is an input of the run,
like the host itself; the feed's identity and date are part of the facts.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from scanner.models import Asset
from scanner.plugin import CheckRequest, Context, Dataset, DatasetUnavailable, Rows, needed

from . import feeds, match, versions
from .checks import EOL_PRODUCTS, FEED, OS_CHECKS, PACKAGES_CHECKS, end_of_support, release_candidates
from .collect import collect_host_facts

HostFacts = Callable[[Asset, Context], Awaitable[dict[str, Any]]]
"""Collect one host's raw facts (release, packages, kernel, ...) once for both plugins."""

_ABSENT_STATES = frozenset({"config-files", "not-installed", "removed", "purged"})


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


async def _host_facts(collect: HostFacts, asset: Asset, ctx: Context) -> dict[str, Any]:
    facts: dict[str, Any] = await ctx.shared(("host-facts", asset.id), lambda: collect(asset, ctx))
    return facts


def _os_summary(os_facts: Mapping[str, Any] | None) -> dict[str, Any]:
    os_facts = os_facts or {}
    keep = ("id", "version_id", "codename", "pretty_name", "id_like")
    return {k: os_facts.get(k) for k in keep}


def installed_versions(packages: Sequence[Mapping[str, Any]], fmt: str) -> dict[str, str]:
    """``{binary name: version}``; with several architectures, the lowest version."""
    out: dict[str, str] = {}
    for pkg in packages:
        name = pkg.get("name")
        version = pkg.get("version")
        if not name or not version or pkg.get("status") in _ABSENT_STATES:
            continue
        current = out.get(name)
        if current is None:
            out[name] = str(version)
            continue
        try:
            if versions.compare(fmt, str(version), current) < 0:
                out[name] = str(version)
        except ValueError:
            continue
    return out


def feed_facts(index: Dataset | None, host: Mapping[str, Any]) -> dict[str, Any]:
    """Match the host's packages against the feed index; blocking (runs in the pool).

    Returns ``feed`` (None when no usable feed exists, with ``feed_problem``
    saying why), ``matches`` and ``unreadable_feed_rows``.
    """
    os_facts = host.get("os") or {}
    release = match.release_key(os_facts)
    fmt = str(host.get("package_format") or "")
    name = match.describe_release(os_facts)
    out: dict[str, Any] = {
        "feed": None,
        "feed_problem": None,
        "matches": [],
        "unreadable_feed_rows": 0,
    }
    if release is None:
        out["feed_problem"] = f"{name} is not a release civiscan can match against advisory feeds"
        return out
    expected = match.format_for_release(release)
    if expected != fmt:
        out["feed_problem"] = f"{name} reports package format {fmt!r}, expected {expected!r}"
        return out
    if index is None:
        out["feed_problem"] = "no store database is configured, so no advisory feed is available"
        return out
    try:
        # One read: the feed identity checked against the cache and every row
        # read for this host come from the same state of the store.
        with index.read() as conn:
            sources = feeds.feeds_for_release(conn, release)
            if not sources:
                out["feed_problem"] = (
                    f"no imported advisory feed covers {name} (release {release}); "
                    "run civiscan feeds import"
                )
                return out
            scheme = match.version_scheme(host.get("packages") or [], fmt)
            cached = _release_index(index.source, release, scheme, sources)
            lookup = match.source_lookup(host.get("packages") or [], scheme)
            cached.load(conn, lookup.keys())
            hits = match.find_hits(lookup, cached.packages)
            advisories = cached.advisories(conn, hits.advisory_ids())
    except DatasetUnavailable as exc:
        out["feed_problem"] = str(exc)
        return out
    dates = [f.feed_date for f in sources]
    out["feed"] = {
        "release": release,
        "sources": [f.to_json() for f in sources],
        # The stalest feed decides freshness: any stale source may miss advisories.
        "date": None if None in dates else min(d for d in dates if d is not None),
    }
    out["matches"] = match.build_matches(hits, advisories)
    out["unreadable_feed_rows"] = hits.unreadable
    return out


def eol_facts(index: Dataset | None, os_facts: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The end of support of the host's release from an imported endoflife.date feed, or None.

    Blocking (runs in the pool). ``{feed, date, product, cycle, end}``: the facts keep
    the date judged against, so re-evaluating needs no feed. The most specific
    cycle wins (VERSION_ID, then major.minor, then major).
    """
    os_id = str((os_facts or {}).get("id") or "").lower()
    product = EOL_PRODUCTS.get(os_id)
    if index is None or product is None:
        return None
    candidates = release_candidates(os_facts or {})
    try:
        with index.read() as conn:
            rows = feeds.eol_rows(conn, product, candidates)
    except DatasetUnavailable:
        return None
    for candidate in candidates:
        for feed, date, cycle, eol, extended in rows:
            end = end_of_support(os_id, eol, extended)
            if cycle == candidate and end:
                return {"feed": feed, "date": date, "product": product, "cycle": cycle, "end": end}
    return None


class _ReleaseIndex:
    """One release's feed rows readied for matching, filled in as hosts need them.

    Only the packages some host has installed are read and turned into sort
    keys, and only the advisories some host matched are read; both are kept for
    the next hosts. Thread-safe: hosts are matched in the engine's thread pool.
    """

    def __init__(self, release: str, fmt: str) -> None:
        self.release = release
        self.fmt = fmt
        self.packages: dict[str, match.PackageRows] = {}
        self._loaded: set[str] = set()
        self._advisories: dict[str, feeds.Advisory | None] = {}
        self._lock = threading.Lock()

    def load(self, conn: Rows, names: Iterable[object]) -> None:
        """Read and prepare the rows of every name not seen yet (names without rows too)."""
        with self._lock:
            missing = [n for n in set(names) - self._loaded if isinstance(n, str)]
            if not missing:
                return
            for package, rows in feeds.package_rows(conn, self.release, missing).items():
                self.packages[package] = match.prepare_rows(rows, self.fmt)
            self._loaded.update(missing)

    def advisories(self, conn: Rows, ids: set[str]) -> dict[str, feeds.Advisory]:
        """The metadata of advisories ``ids``, read from the store once per id."""
        with self._lock:
            missing = [i for i in ids if i not in self._advisories]
            if missing:
                found = feeds.release_advisories(conn, self.release, missing)
                for adv_id in missing:
                    self._advisories[adv_id] = found.get(adv_id)
            known = {i: self._advisories[i] for i in ids}
        return {i: adv for i, adv in known.items() if adv is not None}


# A release's index is reused by every host of a run (and of later runs in the
# same worker process) until the feeds change: the cache key is the dataset's
# source, and each feed's name, import time, date and size, re-read from the
# store for every host, so a cached entry is only ever a faster path to the same result.
_INDEXES: dict[tuple[str, str, str], tuple[tuple[Any, ...], _ReleaseIndex]] = {}
_INDEXES_LIMIT = 8
_INDEXES_LOCK = threading.Lock()


def _release_index(
    source: str, release: str, fmt: str, sources: Sequence[feeds.FeedInfo]
) -> _ReleaseIndex:
    identity = tuple((f.name, f.imported_at, f.feed_date, f.advisories) for f in sources)
    cache_key = (source, release, fmt)
    with _INDEXES_LOCK:
        hit = _INDEXES.get(cache_key)
        if hit is not None and hit[0] == identity:
            return hit[1]
        index = _ReleaseIndex(release, fmt)
        _INDEXES.pop(cache_key, None)
        if len(_INDEXES) >= _INDEXES_LIMIT:
            _INDEXES.pop(next(iter(_INDEXES)))
        _INDEXES[cache_key] = (identity, index)
        return index


class PackagesPlugin:
    """Installed packages and their advisory matches; ``collect_host`` reads the host."""

    name = "packages"
    checks = PACKAGES_CHECKS
    reasons: Mapping[str, str] = MappingProxyType(
        {FEED: "no usable advisory feed: none imported for the release, or too old"}
    )
    # Runs stored before the advisory index was lent as a dataset carry the
    # store's location as a setting.
    redact = frozenset({"db_path"})

    def __init__(self, collect_host: HostFacts = collect_host_facts) -> None:
        self._collect_host = collect_host

    async def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> dict[str, Any]:
        host = await _host_facts(self._collect_host, asset, ctx)
        fmt = str(host.get("package_format") or "")
        packages = host.get("packages") or []
        facts: dict[str, Any] = {
            "collected_at": host.get("collected_at") or _now(),
            "os": _os_summary(host.get("os")),
            "release": match.release_key(host.get("os")),
            "package_format": fmt,
            "arch": host.get("arch"),
            "package_count": len(packages),
            "packages": installed_versions(packages, fmt) if fmt in versions.FORMATS else {},
            "version_scheme": match.version_scheme(packages, fmt),
            "transport": host.get("transport"),
        }
        if "feed" in needed(self.checks, requests):
            facts.update(await ctx.run_blocking(feed_facts, ctx.dataset("advisories"), host))
        return facts


class OsPlugin:
    """The operating system's release, kernel and update state; ``collect_host`` reads the host."""

    name = "os"
    checks = OS_CHECKS

    def __init__(self, collect_host: HostFacts = collect_host_facts) -> None:
        self._collect_host = collect_host

    async def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> dict[str, Any]:
        del requests
        host = await _host_facts(self._collect_host, asset, ctx)
        eol = await ctx.run_blocking(eol_facts, ctx.dataset("advisories"), host.get("os"))
        return {
            "collected_at": host.get("collected_at") or _now(),
            "os": _os_summary(host.get("os")),
            "eol": eol,
            "kernel": host.get("kernel"),
            "reboot_required": host.get("reboot_required"),
            "last_update": host.get("last_update"),
            "container": bool(host.get("container")),
            "transport": host.get("transport"),
        }


packages_plugin = PackagesPlugin()
os_plugin = OsPlugin()

__all__ = ["OsPlugin", "PackagesPlugin", "feed_facts", "installed_versions", "os_plugin", "packages_plugin"]
