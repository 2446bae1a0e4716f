"""Patch-level plugins: ``packages`` (installed packages, advisories) and ``os``.

Both plugins share one collection per host (``ctx.shared(("host-facts", id))``:
one SSH round trip) and store only facts:

* ``packages`` facts: release, package format, ``{name: version}`` of every
  installed package, the source packages with the version that counts and the
  binaries built from them, the package manager's version and the running and
  installed kernels. No advisory is matched at collection time;
* ``os`` facts: os-release, kernel, reboot flag, last update, container flag.

``packages.vulnerable`` judges the facts against the advisory feeds as they
are when it evaluates (``Check.datasets``: the evaluator lends it the store's
``advisories`` dataset), so ``civiscan feeds import`` then ``civiscan evaluate
RUN`` answers for a new advisory without connecting to any host. The feed's
identity and date are part of every verdict's evidence.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import operator
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from scanner.models import Asset
from scanner.plugin import CheckRequest, Context, Dataset, DatasetUnavailable, Rows, Setting
from scanner.transports import DEFAULT_SSH_CONFIG

from . import feeds, match, versions
from .checks import (
    EOL_PRODUCTS,
    FEED,
    OS_CHECKS,
    PACKAGES_CHECKS,
    end_of_support,
    installed_packages,
    release_candidates,
)
from .collect import collect_host_facts
from .parsers import Package, is_module_build, kernel_packages, newest_kernel
from .evidence import render as render_evidence
from .evidence import render_os as render_os_evidence

SETTINGS: Mapping[str, Setting] = MappingProxyType({
    "ssh_config": Setting(
        "str",
        "OpenSSH client config file read for Host entries (HostName, Port, User, IdentityFile,"
        " ProxyJump); an empty value reads none.",
        default=DEFAULT_SSH_CONFIG,
        flag="--ssh-config",
    ),
    "command_timeout": Setting(
        "float",
        "Seconds the collection script may run on a host (SSH or local); unset, --timeout.",
        default=None,
        minimum=0.05,
        maximum=3600,
        flag="--command-timeout",
    ),
})
"""Run-wide settings of the host transports, shared by ``packages`` and ``os``."""

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
    """``{binary name: version}``; with several architectures, the lowest version.

    ``fmt`` is the host's own ordering (:func:`match.version_scheme`: ``apk3`` on a
    host whose apk-tools is 3.x), so "lowest" is what the host itself would say.
    """
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


FACTS_VERSION = 4
"""Version 1 carried the advisory matches made at collection time; version 2
carries the source packages and kernels they are matched from at evaluation;
version 3 stores the source packages and the installed packages as columns
(lists in step); version 4 stores each column as one string
(:func:`source_facts`, :func:`package_columns`, :func:`column`)."""


def column(text: object) -> list[str]:
    """The items of a stored column: one string, the items separated by newlines (``""``: none).

    One string decodes at a fraction of the cost of a JSON list of 2,000 strings,
    and a column judging does not read (``packages``) is never split. No item
    holds a newline (package names, versions and binary names are single words).
    """
    return text.split("\n") if isinstance(text, str) and text else []


def _joined(items: Sequence[str]) -> str:
    text = "\n".join(items)
    if items and text.count("\n") != len(items) - 1:
        # A line break inside an item (no collector yields one) would shift the
        # columns against each other: it is stored as a space.
        text = "\n".join(item.replace("\n", " ") for item in items)
    return text


def package_columns(installed: Mapping[str, str]) -> dict[str, str]:
    """``{name: "...", version: "..."}``: ``{binary: version}`` as two columns in step, sorted by name.

    Judging advisories never reads them (:func:`.checks.installed_packages` does).
    """
    names = sorted(installed)
    return {"name": _joined(names), "version": _joined([installed[n] for n in names])}

SourceColumns = tuple[list[str], list[str], list[str]]
"""Source names, the versions that count and the space-separated binaries, in step."""


def source_facts(packages: Sequence[Mapping[str, Any]], fmt: str) -> dict[str, str]:
    """``{source: "...", version: "...", binaries: "bin1 bin2\\n..."}``: what matching reads from a host.

    Three columns in step, sorted by source name. The version that counts is
    the lowest comparable one of the source's binaries (dpkg: their source
    version, so a binNMU never hides a fix); binary names hold no spaces.
    """
    if fmt not in versions.SCHEMES:
        return _columns({})
    return _columns(
        {src: [group.version, list(group.binaries)] for src, group in match.group_by_source(packages, fmt).items()}
    )


def _columns(sources: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    """Version 4 ``sources`` of version 2's ``{source: [version, [binaries]]}``."""
    names = sorted(sources)
    return {
        "source": _joined(names),
        "version": _joined([str(sources[n][0]) for n in names]),
        "binaries": _joined([" ".join(sources[n][1]) for n in names]),
    }


def source_columns(facts: Mapping[str, Any]) -> SourceColumns:
    """The ``sources`` columns of (version 4) facts; empty ones when the facts have none."""
    sources = facts.get("sources") or {}
    return column(sources.get("source")), column(sources.get("version")), column(sources.get("binaries"))


_MANAGER_PACKAGE = {"dpkg": "dpkg", "rpm": "rpm", "apk": "apk-tools"}


def package_manager(packages: Sequence[Mapping[str, Any]], fmt: str) -> dict[str, Any] | None:
    """The package manager and its version, read from its own installed package."""
    name = _MANAGER_PACKAGE.get(fmt)
    for pkg in packages:
        if name and pkg.get("name") == name and pkg.get("version"):
            return {"name": fmt, "package": name, "version": str(pkg["version"])}
    return None


def kernel_facts(
    packages: Sequence[Mapping[str, Any]], fmt: str, os_id: str, kernel: Mapping[str, Any]
) -> dict[str, Any]:
    """The running kernel (``uname -r``, its build line) and the installed kernel packages.

    ``running_version`` is the package version of the running kernel: the
    version of the installed package that provides it, else what the build
    line says (Debian ``uname -v``, Ubuntu ``/proc/version_signature``) or
    the release string itself (RHEL family, Alpine); None when unknown.
    ``source`` is the source package kernel advisories name.
    """
    running = str(kernel.get("running") or "")
    present = [p for p in packages if p.get("name") and p.get("status") not in _ABSENT_STATES]
    images = kernel_packages(fmt, [_package(p) for p in present])
    by_name = {str(p.get("name")): p for p in present}
    installed = [{"name": k.name, "version": k.version, "release": k.release} for k in images]
    newest = newest_kernel(fmt, images, running) if running else None
    providing = next((k for k in images if k.release == running), None)
    chosen = providing or newest
    if chosen is not None:
        source = kernel_source(fmt, str((by_name.get(chosen.name) or {}).get("source") or chosen.name))
    elif fmt == "rpm":
        source = "kernel"
    elif fmt == "apk" and running:
        source = f"linux-{running.rsplit('-', 1)[-1]}"
    else:
        source = "linux" if fmt == "dpkg" and running else None
    # A kernel image's own version is its source's (a signed image's source
    # package has a version of its own, ``6.1.69+1`` for ``6.1.69-1``).
    if providing is not None:
        version: str | None = providing.version
    else:
        version = running_kernel_version(
            fmt, os_id, running, str(kernel.get("build") or ""), str(kernel.get("signature") or "")
        )
    return {
        "running": running or None,
        "build": kernel.get("build") or None,
        "running_version": version,
        "source": source,
        "newest_version": newest.version if newest is not None else None,
        "images": sorted(k.name for k in images),
        "installed": installed,
    }


_DEBIAN_ARCHES = frozenset({"amd64", "arm64", "armhf", "armel", "i386", "ppc64el", "s390x", "mips64el", "riscv64"})


def kernel_source(fmt: str, source: str) -> str:
    """The source package kernel advisories name, for a kernel image's source. Pure.

    Signed images come from a wrapper source: Debian ``linux-signed-amd64`` ->
    ``linux``; Ubuntu ``linux-signed`` -> ``linux``, ``linux-signed-hwe-6.5`` ->
    ``linux-hwe-6.5``. Other formats name the source as is (``kernel``,
    ``linux-lts``).
    """
    if fmt != "dpkg" or not source.startswith("linux-signed"):
        return source
    rest = source[len("linux-signed") :].lstrip("-")
    return "linux" if not rest or rest in _DEBIAN_ARCHES else f"linux-{rest}"


def _package(pkg: Mapping[str, Any]) -> Package:
    return Package(
        name=str(pkg.get("name") or ""),
        version=str(pkg.get("version") or ""),
        source=str(pkg.get("source") or pkg.get("name") or ""),
        source_version=str(pkg.get("source_version") or pkg.get("version") or ""),
        arch=str(pkg.get("arch") or ""),
        status=str(pkg.get("status") or "installed"),
    )


_DEBIAN_BUILD = re.compile(r"\bDebian (\d[A-Za-z0-9.+~:-]*)")
_UBUNTU_SIGNATURE = re.compile(r"^Ubuntu (\d[A-Za-z0-9.+~-]*?)-[a-z][a-z0-9-]*(?: |$)")
_UBUNTU_BUILD = re.compile(r"^#(\d+)(?:~[0-9A-Za-z.]+)?-Ubuntu\b")
_RPM_ARCHES = (".x86_64", ".aarch64", ".ppc64le", ".s390x", ".i686", ".noarch")


def running_kernel_version(fmt: str, os_id: str, release: str, build: str, signature: str = "") -> str | None:
    """The package version of a running kernel from what the kernel says about itself. Pure.

    * Debian: ``uname -v`` ``#1 SMP PREEMPT_DYNAMIC Debian 6.1.69-1 (2023-12-30)`` -> ``6.1.69-1``;
    * Ubuntu: ``/proc/version_signature`` ``Ubuntu 5.15.0-91.101-generic 5.15.131`` ->
      ``5.15.0-91.101``, else ``uname -r`` ``5.15.0-91-generic`` with ``uname -v``
      ``#101-Ubuntu SMP ...`` -> ``5.15.0-91.101``;
    * RHEL family: ``uname -r`` ``5.14.0-362.8.1.el9_3.x86_64`` -> ``5.14.0-362.8.1.el9_3``;
    * Alpine: ``uname -r`` ``6.6.8-0-lts`` -> ``6.6.8-r0``.
    """
    release = release.strip()
    if fmt == "dpkg":
        if os_id == "ubuntu" or signature.startswith("Ubuntu "):
            sig = _UBUNTU_SIGNATURE.match(signature.strip())
            if sig:
                return sig.group(1)
            upload = _UBUNTU_BUILD.match(build.strip())
            abi = re.match(r"^(\d+\.\d+\.\d+-\d+)-[a-z]", release)
            if upload and abi:
                return f"{abi.group(1)}.{upload.group(1)}"
            return None
        found = _DEBIAN_BUILD.search(build)
        return found.group(1) if found else None
    if fmt == "rpm":
        plain = release.split("+", 1)[0]
        for arch in _RPM_ARCHES:
            if plain.endswith(arch):
                return plain[: -len(arch)] or None
        return None
    if fmt == "apk":
        found = re.match(r"^(\d[0-9.]*[0-9a-z_]*)-(\d+)-[a-z0-9]+$", release)
        return f"{found.group(1)}-r{found.group(2)}" if found else None
    return None


def migrate_facts(version: int, facts: Mapping[str, Any]) -> dict[str, Any]:
    """Upgrade stored ``packages`` facts to the current version.

    Version 1 facts hold advisory matches made at collection time and no
    source packages: they are judged from those stored matches (the evidence
    says so) until the host is scanned again. Version 2 facts hold the same
    sources and packages as version 4, as ``{source: [version, [binaries]]}``
    and ``{binary: version}``; version 3 facts hold each column as a list.
    """
    if version == 3:
        return {
            **facts,
            "sources": {k: _joined(v) for k, v in (facts.get("sources") or {}).items()},
            "packages": {k: _joined(v) for k, v in (facts.get("packages") or {}).items()},
        }
    if version == 2:
        return {
            **facts,
            "sources": _columns(facts.get("sources") or {}),
            "packages": package_columns(facts.get("packages") or {}),
        }
    if version != 1:
        raise ValueError(f"unknown packages facts version {version}")
    out = {k: v for k, v in facts.items() if k not in ("feed", "feed_problem", "matches", "unreadable_feed_rows")}
    out["packages"] = package_columns(facts.get("packages") or {})
    out["sources"] = None
    out["kernel"] = None
    out["package_manager"] = None
    out["collection_matches"] = (
        {k: facts.get(k) for k in ("feed", "feed_problem", "matches", "unreadable_feed_rows")}
        if "feed" in facts or "matches" in facts
        else None
    )
    return out


def candidates(facts: Mapping[str, Any], index: _ReleaseIndex) -> tuple[dict[str, match._Group], int]:
    """The feed names of a host that some row of ``index`` may affect, with their groups.

    Names are the sources (and on rpm the binaries too: Red Hat feeds name
    binary packages); each keeps the version that counts. A name is a
    candidate when the feed has a range other than "fixed in X" for it, or
    when its version is below its newest fix; every other name is past every
    advisory, which one comparison says. The running kernel's source counts
    with the running kernel's version: a fixed kernel installed but not booted
    leaves the host vulnerable. Also returns the unreadable rows of all names.
    """
    fmt = str(facts.get("version_scheme") or facts.get("package_format") or "")
    key = versions.sort_key(fmt)
    names, found_versions, binaries = source_columns(facts)
    kernel = facts.get("kernel") or {}
    ksource, kversion = kernel.get("source"), kernel.get("running_version")
    if ksource and kversion:
        names, found_versions, binaries = list(names), list(found_versions), list(binaries)
        at = names.index(ksource) if ksource in names else -1
        images = " ".join(kernel.get("images") or ()) or (binaries[at] if at >= 0 else ksource)
        if at >= 0:
            found_versions[at], binaries[at] = kversion, images
        else:
            names.append(ksource)
            found_versions.append(kversion)
            binaries.append(images)
    found: dict[str, match._Group] = {}
    if fmt in _BYTES_KEYS:
        found = _below_limits(names, found_versions, binaries, key, index, rpm=fmt == "rpm")
    else:
        found = _below_tops(names, found_versions, binaries, key, index, rpm=False)
    bad = index.unreadable
    unreadable = sum(bad[n] for n in bad.keys() & set(names)) if bad else 0
    return found, unreadable


# The comparators whose sort keys are bytes (versions.py): one memcmp per comparison.
_BYTES_KEYS = ("dpkg", "rpm")


def _below_limits(
    names: list[str], found_versions: list[str], binaries: list[str], key: Callable[[str], Any],
    index: _ReleaseIndex, *, rpm: bool,
) -> dict[str, match._Group]:
    """:func:`candidates` for sort keys that are bytes.

    The hot loop of re-judging a city runs in C: a key per version (from the
    index's own table of installed versions), a limit per name (b"" for a name
    without rows: no key is below it), one comparison each. On rpm every binary
    answers for its source too, after the source's own name (the first name
    that is below its limit keeps it). A host with an unreadable version takes
    the general path.
    """
    known = index.installed_keys
    keys = list(map(known.get, found_versions))
    if None in keys:
        if len(known) > _INSTALLED_KEYS_LIMIT:
            known.clear()
        try:
            for at, vkey in enumerate(keys):
                if vkey is None:
                    keys[at] = known[found_versions[at]] = key(found_versions[at])
        except ValueError:
            return _below_tops(names, found_versions, binaries, key, index, rpm=rpm)
    asked: Sequence[str] = names
    owner: Sequence[int] = range(len(names))
    if rpm:
        split = [bins.split() for bins in binaries]
        asked = [n for at, source in enumerate(names) for n in (source, *split[at])]
        owner = [at for at, bins in enumerate(split) for _ in range(len(bins) + 1)]
    below = map(operator.lt, map(keys.__getitem__, owner), map(index.limits.get, asked, itertools.repeat(b"")))
    found: dict[str, match._Group] = {}
    for j in itertools.compress(itertools.count(), below):
        if asked[j] not in found:
            i = owner[j]
            found[asked[j]] = (names[i], found_versions[i], keys[i], tuple(binaries[i].split()))
    return found


def _below_tops(
    names: list[str], found_versions: list[str], binaries: list[str], key: Callable[[str], Any],
    index: _ReleaseIndex, *, rpm: bool,
) -> dict[str, match._Group]:
    """:func:`candidates` one source at a time (any comparator; rpm names binaries too)."""
    get = index.limits.get
    found: dict[str, match._Group] = {}
    for source, version, bins in zip(names, found_versions, binaries):
        split = bins.split()
        for name in (source, *split) if rpm else (source,):
            top = get(name)
            if top is None:
                continue
            try:
                vkey = key(version)
            except ValueError:
                break
            if (top is _ALWAYS or vkey < top) and name not in found:
                found[name] = (source, version, vkey, tuple(split))
    return found


def module_streams(packages: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{binary name: name:stream}`` of the installed rpm packages that belong to a module stream."""
    return {
        str(p["name"]): str(p["module"])
        for p in packages
        if p.get("module") and p.get("name") and p.get("status") not in _ABSENT_STATES
    }


def _stream_hits(
    hits: match.Hits, advisories: Mapping[str, feeds.Advisory], streams: Mapping[str, str]
) -> match.Hits:
    """``hits`` without the module-stream fixes that are not for the installed package's stream.

    A module stream's packages (release ``...module+el9.4.0+...``) are updated by
    builds of that stream only, and a package outside every stream by builds
    outside them: an advisory fixed in ``3.3.1-2.module+el9.4.0+20787+4c237fd3``
    (RLSA-2024:3671, "ruby:3.3") says nothing about the default ``ruby-3.0.4-160.el9_0``,
    nor about ruby from the ``ruby:3.1`` stream (``streams``, from MODULARITYLABEL).
    Kept: a module build below a plain fix, and a module fix whose stream either
    side does not name (an advisory title without ``name:stream``, a host whose
    rpm predates module labels).
    """

    def applies(row: feeds.Affected, modular: bool, host: set[str]) -> bool:
        if row.fixed is None or not is_module_build(row.fixed):
            return True
        if not modular:
            return False
        advisory = advisories.get(row.advisory)
        named = feeds.module_streams(advisory.summary) if advisory else frozenset()
        return not (host and named and host.isdisjoint(named))

    kept = []
    for group, rows in hits.by_name:
        modular = is_module_build(group.version)
        host = {streams[b] for b in group.binaries if b in streams}
        chosen = tuple(r for r in rows if applies(r, modular, host))
        if chosen:
            kept.append((group, chosen))
    return match.Hits(tuple(kept), hits.unreadable)


def _names(facts: Mapping[str, Any]) -> set[str]:
    """Every feed name a host answers to (with the running kernel's source)."""
    sources, _versions, binaries = source_columns(facts)
    names = set(sources)
    if facts.get("package_format") == "rpm":
        for entry in binaries:
            names.update(entry.split())
    source = (facts.get("kernel") or {}).get("source")
    if source:
        names.add(source)
    return names


def advisory_matches(index: Dataset | None, facts: Mapping[str, Any]) -> dict[str, Any]:
    """Match a host's stored facts against the feeds of ``index`` as they are now.

    Returns ``feed`` (None when no usable feed exists, with ``feed_problem``
    saying why), ``matches`` and ``unreadable_feed_rows``.
    """
    os_facts = facts.get("os") or {}
    release = facts.get("release") or match.release_key(os_facts)
    fmt = str(facts.get("package_format") or "")
    name = match.describe_release(os_facts)
    out: dict[str, Any] = {"feed": None, "feed_problem": None, "matches": [], "unreadable_feed_rows": 0}
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
            scheme = str(facts.get("version_scheme") or fmt)
            cached = _release_index(index.source, release, scheme, sources)
            if not cached.summarise(conn, sources):
                cached.load(conn, _names(facts))
            lookup, unreadable = candidates(facts, cached)
            cached.load(conn, lookup)
            hits = match.find_hits(lookup, cached.packages)
            advisories = cached.advisories(conn, hits.advisory_ids(), sources) if hits.by_name else {}
            if fmt == "rpm":
                hits = _stream_hits(hits, advisories, facts.get("module_streams") or {})
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
    out["matches"] = _kernel_notes(match.build_matches(hits, advisories), facts)
    out["unreadable_feed_rows"] = unreadable
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


def _kernel_notes(matches: list[dict[str, Any]], facts: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Mark kernel matches fixed by an installed but not running kernel: vulnerable until reboot."""
    kernel = facts.get("kernel") or {}
    source, running = kernel.get("source"), kernel.get("running_version")
    if not source or not running:
        return matches
    fmt = str(facts.get("package_format") or "")
    newest = kernel.get("newest_version")
    for found in matches:
        if found["package"] != source:
            continue
        found["running_kernel"] = kernel.get("running")
        fixed = found.get("fixed")
        if newest and fixed and newest != running:
            found["installed_kernel"] = newest
            with contextlib.suppress(ValueError):
                found["until_reboot"] = versions.compare(fmt, newest, fixed) >= 0
    return matches


def packages_facts(host: Mapping[str, Any]) -> dict[str, Any]:
    """The ``packages`` facts of one host's raw facts (collect.py's). Pure."""
    fmt = str(host.get("package_format") or "")
    packages = host.get("packages") or []
    os_id = str((host.get("os") or {}).get("id") or "")
    scheme = match.version_scheme(packages, fmt)
    return {
        "collected_at": host.get("collected_at") or _now(),
        "os": _os_summary(host.get("os")),
        "release": match.release_key(host.get("os")),
        "package_format": fmt,
        "arch": host.get("arch"),
        "package_count": len(packages),
        "packages": package_columns(installed_versions(packages, scheme) if fmt in versions.FORMATS else {}),
        "version_scheme": scheme,
        "sources": source_facts(packages, scheme),
        "module_streams": module_streams(packages) if fmt == "rpm" else {},
        "package_manager": package_manager(packages, fmt),
        "kernel": kernel_facts(packages, fmt, os_id, host.get("kernel") or {}),
        "transport": host.get("transport"),
    }


def feed_facts(index: Dataset | None, host: Mapping[str, Any]) -> dict[str, Any]:
    """Match raw host facts (collect.py's) against ``index``: collection and judging in one step.

    For tools and benchmarks that start from a host's raw facts; the plugin
    itself stores facts and matches when it evaluates (:func:`advisory_matches`).
    """
    facts = packages_facts(host)
    return advisory_matches(index, facts)


# Above every dpkg and rpm key (their first byte is below 0x80): the limit of a
# name whose rows are not all "fixed in X", so every version of it is looked at.
_ALWAYS = b"\xff"
_INSTALLED_KEYS_LIMIT = 1 << 20


class _ReleaseIndex:
    """One release's feed rows readied for matching, filled in as hosts need them.

    The newest fix of every package comes from what ``feeds import`` stored
    (:meth:`summarise`), so only the rows of packages some host is below are
    read and turned into sort keys; feeds imported without that summary are
    summarised from the rows of the packages hosts have installed, as they come.
    Only the advisories some host matched are read. All is kept for the next
    hosts. Thread-safe: hosts are matched in the engine's thread pool.
    """

    def __init__(self, release: str, fmt: str) -> None:
        self.release = release
        self.fmt = fmt
        self.packages: dict[str, match.PackageRows] = {}
        # Per name with rows: the key of its newest fix when every row says
        # "fixed in X" (a version at or above it is past them all), else _ALWAYS
        # (ranges that need a look at every row); and its unreadable rows.
        self.limits: dict[str, Any] = {}
        # Sort keys of installed versions, by version: a fleet repeats them.
        self.installed_keys: dict[str, Any] = {}
        self.unreadable: dict[str, int] = {}
        self._loaded: set[str] = set()
        self._advisories: dict[str, feeds.Advisory | None] = {}
        self._lock = threading.Lock()
        self._summarised: bool | None = None

    def summarise(self, conn: Rows, sources: Sequence[feeds.FeedInfo]) -> bool:
        """Take every package's limit and unreadable rows from the feeds' stored summary
        (:func:`feeds.newest_fixes`), once; False when there is none to take.

        The summary is keyed with the release's own comparator: a host ordering
        versions otherwise (``apk3``) has its limits computed from the rows.
        """
        with self._lock:
            if self._summarised is None:
                found = feeds.newest_fixes(conn, self.release, sources) if match.format_for_release(self.release) == self.fmt else None
                self._summarised = found is not None and self._take_summary(found)
            return self._summarised

    def _take_summary(self, found: Iterable[tuple[str, str | None, int, int]]) -> bool:
        key = versions.sort_key(self.fmt)
        limits: dict[str, Any] = {}
        unreadable: dict[str, int] = {}
        try:
            for package, fixed, ranges, bad in found:
                if bad:
                    unreadable[package] = unreadable.get(package, 0) + bad
                limit = limits.get(package)
                if ranges:
                    limits[package] = _ALWAYS
                elif fixed is not None and limit is not _ALWAYS:
                    fixed_key = key(fixed)
                    if limit is None or limit < fixed_key:
                        limits[package] = fixed_key
        except ValueError:  # stored by a civiscan that read versions otherwise: use the rows
            return False
        self.limits, self.unreadable = limits, unreadable
        return True

    def load(self, conn: Rows, names: Iterable[object]) -> None:
        """Read and prepare the rows of every name not seen yet (names without rows too)."""
        with self._lock:
            missing = [n for n in set(names) - self._loaded if isinstance(n, str)]
            if not missing:
                return
            summarised = self._summarised
            for package, rows in feeds.package_rows(conn, self.release, missing).items():
                prepared = self.packages[package] = match.prepare_rows(rows, self.fmt)
                if summarised:
                    continue
                if prepared.other:
                    self.limits[package] = _ALWAYS
                elif prepared.fixed_keys:
                    self.limits[package] = prepared.fixed_keys[-1]
                if prepared.unreadable:
                    self.unreadable[package] = prepared.unreadable
            self._loaded.update(missing)

    def advisories(
        self, conn: Rows, ids: set[str], sources: Sequence[feeds.FeedInfo]
    ) -> dict[str, feeds.Advisory]:
        """The metadata of advisories ``ids`` (of the feeds ``sources``), read from the store once per id."""
        with self._lock:
            missing = [i for i in ids if i not in self._advisories]
            if missing:
                found = feeds.release_advisories(conn, self.release, missing, sources)
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
    evidence = staticmethod(render_evidence)
    checks = PACKAGES_CHECKS
    reasons: Mapping[str, str] = MappingProxyType(
        {FEED: "no usable advisory feed: none imported for the release, or too old"}
    )
    # Runs stored before the advisory index was lent as a dataset carry the
    # store's location as a setting.
    redact = frozenset({"db_path"})
    settings = SETTINGS
    facts_version = FACTS_VERSION
    migrate_facts = staticmethod(migrate_facts)

    def __init__(self, collect_host: HostFacts = collect_host_facts) -> None:
        self._collect_host = collect_host

    async def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> dict[str, Any]:
        del requests  # every check reads the same facts; the feed is read when judging
        host = await _host_facts(self._collect_host, asset, ctx)
        return packages_facts(host)


class OsPlugin:
    """The operating system's release, kernel and update state; ``collect_host`` reads the host."""

    name = "os"
    evidence = staticmethod(render_os_evidence)
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

__all__ = [
    "FACTS_VERSION",
    "SETTINGS",
    "OsPlugin",
    "PackagesPlugin",
    "advisory_matches",
    "column",
    "feed_facts",
    "installed_packages",
    "installed_versions",
    "kernel_facts",
    "kernel_source",
    "migrate_facts",
    "module_streams",
    "os_plugin",
    "package_columns",
    "packages_facts",
    "packages_plugin",
    "running_kernel_version",
    "source_columns",
    "source_facts",
]
