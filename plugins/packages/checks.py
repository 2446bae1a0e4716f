"""The ``packages.*`` and ``os.*`` checks: pure judgements on stored host facts.

``packages.*`` checks read the facts of the ``packages`` plugin (installed
packages and their sources, kernels); ``packages.vulnerable`` judges them
against the advisory feeds lent at evaluation time; ``os.*`` checks read the facts of the ``os`` plugin (release, kernel,
reboot flag, last update). Every time comparison is relative to
``facts["collected_at"]``, never to the wall clock, so re-evaluating stored
facts gives the same verdict.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import importlib.resources
import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from scanner.models import AssetKind, ErrorReason, Outcome, PluginReason, Severity, severity_rank
from scanner.options import Option
from scanner.plugin import Check, Lent
from scanner.timeutil import parse_timestamp

from . import versions

_LEVELS = ("critical", "high", "medium", "low", "info")
_SEVERITY_CHOICES = tuple(_LEVELS)
_HOST = frozenset({AssetKind.HOST})
_SHOWN = 3  # advisories or packages named in a message; evidence holds the rest
_EVIDENCE_LIMIT = 100

FEED = PluginReason("feed")
"""No usable advisory feed: none imported for the release, or it is too old."""


def _collected_at(facts: Mapping[str, Any]) -> dt.datetime | None:
    return parse_timestamp(facts.get("collected_at"))


# ------------------------------------------------------------------ packages.vulnerable

# Debian security tracker states that say "known, and deliberately not fixed
# by a security update (yet)"; by default they inform rather than fail.
DEBIAN_STATES = ("no-dsa", "ignored", "postponed", "end-of-life", "undetermined")
_INFO_STATES = ("no-dsa", "ignored", "postponed", "end-of-life")


def tracker_state(found: Mapping[str, Any]) -> str | None:
    """The Debian tracker state of a match: ``no-dsa``, ``ignored``, ``postponed``,
    ``end-of-life``, ``undetermined``, or None (an ordinary advisory).

    Read from the match's ``state`` when the feed stores one (``resolved`` and
    ``open`` are ordinary advisories), else from its ``urgency`` and the free-text
    ``note`` older imports and stored matches carry (``"undetermined; postponed"``).
    """
    state = found.get("state")
    if isinstance(state, str) and state:
        return state if state in DEBIAN_STATES else None
    if str(found.get("urgency") or "").strip().lower() == "end-of-life":
        return "end-of-life"
    words = [w.strip().lower() for w in str(found.get("note") or "").split(";")]
    for candidate in ("end-of-life", "ignored", "postponed", "no-dsa", "undetermined"):
        if candidate in words:
            return candidate
    return None


def evaluate_vulnerable(
    facts: Mapping[str, Any], options: Mapping[str, Any], datasets: Lent | None = None
) -> Outcome:
    """No installed package is affected by a known advisory at or above a severity.

    Advisories come from the offline feeds (``civiscan feeds import``) as they
    are when the check evaluates: the scan's own evaluation, ``civiscan
    evaluate RUN`` and the agent's re-judging all read the store's feeds then,
    matching the stored source packages by release with the distro's
    comparator. A feed imported after the scan applies at the next evaluation,
    without connecting to the host. Facts stored before judging moved to
    evaluation (packages facts version 1) are judged on the matches they carry.

    The running kernel counts with its own version: a fixed kernel installed
    but not booted is still vulnerable, reported "vulnerable until reboot"
    with the running and the installed kernel in the evidence.

    Options: ``min_severity`` (str, default ``"high"``): lowest severity that
    counts. ``grace_days`` (int, default ``0``): an advisory counts only when it
    was published at least this many days before the newer of the scan and the
    feed's date (advisories with no publication date, such as Debian tracker
    entries, always count). ``max_feed_age_days`` (int, default ``7``): the
    feed's own date must be at most this many days older than the facts,
    otherwise the result is an error (reason ``feed``), never a pass.
    ``ignore_unfixed`` (bool, default ``false``): skip advisories with no fixed
    version yet. ``unknown_severity`` (str, default ``"medium"``): the level an
    advisory without a rating is treated as. ``info_states`` (list[str],
    default ``[no-dsa, ignored, postponed, end-of-life]``): Debian tracker
    states that are information (an ``info`` item, listed under
    ``informational`` in the evidence with its state and urgency), never a
    failure; give ``[]`` to count them all, leave out ``end-of-life`` to count
    packages Debian no longer supports, or add ``undetermined``.

    A host whose release has no feed, or whose feed is missing, is an error
    with reason ``feed``: it cannot be evaluated.

    PASS: Debian 12 host with openssl 3.0.15-1~deb12u1 and a feed whose only
    openssl advisory is fixed in 3.0.11-1~deb12u2.
    FAIL: the same host with openssl 3.0.11-1~deb12u1 ("openssl 3.0.11-1~deb12u1
    is affected by DSA-5532-1 (high), fixed in 3.0.11-1~deb12u2").
    """
    found = judged_matches(facts, (datasets or {}).get("advisories"))
    return judge_matches(facts, found, options)


def judged_matches(facts: Mapping[str, Any], advisories: Any) -> Mapping[str, Any]:
    """The matches to judge: from the lent feeds, or those version 1 facts carry."""
    legacy = facts.get("collection_matches")
    if facts.get("sources") is None and "collection_matches" in facts:
        if not legacy:
            return {
                "feed": None,
                "feed_problem": "these facts predate judging at evaluation time and hold no "
                "advisory matches; scan the host again",
                "matches": [],
            }
        return {**legacy, "judged": "stored matches made at collection time (facts version 1)"}
    from . import advisory_matches  # the plugin's feed index, shared by every host judged

    return advisory_matches(advisories, facts)


def judge_matches(
    facts: Mapping[str, Any], found: Mapping[str, Any], options: Mapping[str, Any]
) -> Outcome:
    """The verdict on one host's matches (:func:`judged_matches`). Pure."""
    feed = found.get("feed")
    release = facts.get("release")
    if not feed:
        problem = found.get("feed_problem") or "no advisory feed is available"
        return Outcome.error(FEED, f"Cannot evaluate: {problem}.", release=release)
    collected = _collected_at(facts)
    feed_date = parse_timestamp(feed.get("date"))
    max_age = int(options["max_feed_age_days"])
    if collected is None:
        return Outcome.error(ErrorReason.NO_DATA, "The facts carry no collection time.")
    if feed_date is None:
        return Outcome.error(
            FEED,
            "Cannot evaluate: the advisory feed has no date, so its freshness is unknown.",
            feed=feed,
        )
    age_days = (collected - feed_date).total_seconds() / 86400
    if age_days > max_age:
        return Outcome.error(
            FEED,
            f"Cannot evaluate: the advisory feed for {release} is {age_days:.0f} days old "
            f"(dated {feed_date.date().isoformat()}); at most {max_age} days are allowed. "
            "Run: civiscan feeds update",
            feed=feed,
            feed_age_days=round(age_days, 1),
        )

    min_rank = Severity(options["min_severity"]).rank
    unknown_rank = Severity(options["unknown_severity"]).rank
    grace = dt.timedelta(days=int(options["grace_days"]))
    reference = max(collected, feed_date)
    info_states = set(options["info_states"])
    counted: list[dict[str, Any]] = []
    informational: list[dict[str, Any]] = []
    for entry in found.get("matches") or ():
        rank = severity_rank(entry.get("severity"))
        if (rank if rank >= 0 else unknown_rank) < min_rank:
            continue
        if options["ignore_unfixed"] and entry.get("fixed") is None:
            continue
        if grace:
            published = parse_timestamp(entry.get("published"))
            if published is not None and reference - published < grace:
                continue
        state = tracker_state(entry)
        if state is not None:
            entry = {**entry, "state": state}
        if state in info_states:
            informational.append(entry)
        else:
            counted.append(entry)

    evidence_base: dict[str, Any] = {
        "release": release,
        "feed": feed,
        "min_severity": options["min_severity"],
        "packages_checked": facts.get("package_count"),
    }
    if found.get("judged"):
        evidence_base["judged"] = found["judged"]
    if facts.get("kernel"):
        kernel = facts["kernel"]
        evidence_base["kernel"] = {
            "running": kernel.get("running"),
            "running_version": kernel.get("running_version"),
            "newest_installed": kernel.get("newest_version"),
        }
    if informational:
        informational.sort(key=lambda m: (m["package"], m["id"]))
        evidence_base["informational"] = [
            {**_evidence_match(m), "level": "info"} for m in informational[:_EVIDENCE_LIMIT]
        ]
    source = _feed_label(feed)
    note = _information_note(informational)
    if not counted:
        total = len(found.get("matches") or ()) - len(informational)
        return Outcome.passed(
            f"No installed package is affected by an advisory at {options['min_severity']} "
            f"or above ({total} lower or excluded advisories matched{note}; {source}).",
            **evidence_base,
        )
    counted.sort(key=lambda m: (-severity_rank(m.get("severity")), m["package"], m["id"]))
    packages = sorted({m["package"] for m in counted})
    shown = "; ".join(_describe_match(m) for m in counted[:_SHOWN])
    more = f"; and {len(counted) - _SHOWN} more" if len(counted) > _SHOWN else ""
    return Outcome.failed(
        f"{len(counted)} advisories at {options['min_severity']} or above affect "
        f"{len(packages)} installed source packages: {shown}{more} ({source}{note}).",
        **evidence_base,
        counted=len(counted),
        advisories=[_evidence_match(m) for m in counted[:_EVIDENCE_LIMIT]],
        truncated=len(counted) > _EVIDENCE_LIMIT,
    )


def _information_note(informational: Sequence[Mapping[str, Any]]) -> str:
    """``; 2 more are Debian no-dsa/postponed issues, shown as information: ...``."""
    if not informational:
        return ""
    states = "/".join(sorted({str(m["state"]) for m in informational}))
    shown = "; ".join(_describe_match(m) for m in informational[:_SHOWN])
    more = f"; and {len(informational) - _SHOWN} more" if len(informational) > _SHOWN else ""
    return f"; {len(informational)} more are Debian {states} issues, shown as information: {shown}{more}"


def _feed_label(feed: Mapping[str, Any]) -> str:
    """``feed osv dated 2026-11-03`` / ``feeds a dated ..., b dated ...``."""
    parts = []
    for src in feed.get("sources") or ():
        date = parse_timestamp(src.get("date"))
        parts.append(f"{src.get('name')} dated {date.date().isoformat() if date else 'unknown'}")
    return ("feed " if len(parts) == 1 else "feeds ") + ", ".join(parts) if parts else "feed of unknown name"


VULNERABLE = Check(
    id="packages.vulnerable",
    title="No installed package has a known vulnerability",
    kinds=_HOST,
    evaluate=evaluate_vulnerable,
    datasets=("advisories",),
    options={
        "min_severity": Option(
            "str", "lowest severity that counts", default="high", choices=_SEVERITY_CHOICES
        ),
        "grace_days": Option(
            "int", "days after publication before an advisory counts", default=0, minimum=0
        ),
        "max_feed_age_days": Option(
            "int", "oldest acceptable feed, in days", default=7, minimum=0
        ),
        "ignore_unfixed": Option(
            "bool", "skip advisories without a fixed version", default=False
        ),
        "unknown_severity": Option(
            "str",
            "level of advisories without a rating",
            default="medium",
            choices=_SEVERITY_CHOICES,
        ),
        "info_states": Option(
            "list[str]",
            "Debian tracker states that inform instead of failing",
            default=list(_INFO_STATES),
            choices=DEBIAN_STATES,
        ),
    },
)


def rating(match: Mapping[str, Any], unrated: str = "unknown") -> str:
    """``high``, ``high, urgency high**``, ``info, urgency unimportant, no-dsa``: the
    level (``unrated`` when the match has none), the vendor's word when it says more
    than the level, the tracker state."""
    level = str(match.get("severity") or unrated)
    state = tracker_state(match)
    parts = [level] if level else []
    urgency = match.get("urgency")
    word = urgency.strip() if isinstance(urgency, str) else ""
    if word and word.lower() not in (level, state):
        parts.append(f"urgency {word}")
    if state:
        parts.append(state)
    return ", ".join(parts)


def _describe_match(match: Mapping[str, Any]) -> str:
    fixed = match.get("fixed")
    fix = f"fixed in {fixed}" if fixed else "no fix available yet"
    text = f"{match['package']} {match['installed']} is affected by {match['id']} ({rating(match)}), {fix}"
    if match.get("running_kernel"):
        text += f" (running kernel {match['running_kernel']})"
    if match.get("until_reboot"):
        text += f"; {match['installed_kernel']} is installed: vulnerable until reboot"
    return text


def _evidence_match(match: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "id",
        "aliases",
        "package",
        "binaries",
        "installed",
        "fixed",
        "severity",
        "state",
        "urgency",
        "published",
        "url",
        "note",
        "running_kernel",
        "installed_kernel",
        "until_reboot",
    )
    return {k: match[k] for k in keep if k in match}


# ------------------------------------------------------------------ packages.minimum_versions


def installed_packages(facts: Mapping[str, Any]) -> dict[str, str]:
    """``{binary: version}`` of the facts' ``packages`` columns (:func:`.package_columns`)."""
    from . import column

    packages = facts.get("packages")
    if not isinstance(packages, Mapping):
        return {}
    return dict(zip(column(packages.get("name")), column(packages.get("version")), strict=False))


def evaluate_minimum_versions(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Named packages are installed at or above a minimum version.

    The comparator follows the host's package format (dpkg, rpm or apk), so
    ``1:2.0`` beats ``3.0`` on dpkg and ``3.0.15-1~deb12u1`` is below ``3.0.15-1``.
    Give the epoch when the distro uses one (``rpm -q`` and ``dpkg-query`` print it):
    a minimum without an epoch means epoch 0.

    Options: ``minimum`` (map, required): package name -> lowest acceptable
    version, e.g. ``{openssl: "3.0.15-1~deb12u1", sudo: "1.9.13p3-1+deb12u1"}``.
    ``missing`` (str, default ``"ignore"``): ``fail`` to also fail when a named
    package is not installed.

    PASS: openssl 3.0.15-1~deb12u1 installed, minimum 3.0.11-1~deb12u2.
    FAIL: openssl 3.0.11-1~deb12u1 installed, minimum 3.0.11-1~deb12u2
    ("openssl 3.0.11-1~deb12u1 is below the minimum 3.0.11-1~deb12u2").
    """
    fmt = facts.get("package_format")
    if fmt not in versions.FORMATS:
        return Outcome.error(ErrorReason.NOT_SUPPORTED, f"Unknown package format {fmt!r}.")
    installed = installed_packages(facts)
    fmt = facts.get("version_scheme") or fmt  # apk3: the host's apk-tools orders by the 3.x rules
    below: list[dict[str, str]] = []
    missing: list[str] = []
    checked: list[dict[str, str]] = []
    for name, minimum in sorted(options["minimum"].items()):
        minimum = str(minimum)
        current = installed.get(name)
        if current is None:
            missing.append(name)
            continue
        try:
            versions.check(fmt, minimum)
            result = versions.compare(fmt, current, minimum)
        except ValueError as exc:
            return Outcome.error(
                ErrorReason.NOT_SUPPORTED,
                f"Cannot compare {name}: {exc}.",
                package=name,
                installed=current,
                minimum=minimum,
            )
        entry = {"package": name, "installed": current, "minimum": minimum}
        checked.append(entry)
        if result < 0:
            below.append(entry)
    problems = [
        f"{e['package']} {e['installed']} is below the minimum {e['minimum']}" for e in below
    ]
    if options["missing"] == "fail":
        problems += [f"{name} is not installed" for name in missing]
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
        return Outcome.failed(f"{shown}{more}.", below=below, missing=missing, package_format=fmt)
    return Outcome.passed(
        f"All {len(checked)} installed packages with a minimum meet it"
        + (f" ({len(missing)} not installed)." if missing else "."),
        checked=checked,
        missing=missing,
        package_format=fmt,
    )


MINIMUM_VERSIONS = Check(
    id="packages.minimum_versions",
    title="Packages are at or above minimum versions",
    kinds=_HOST,
    evaluate=evaluate_minimum_versions,
    options={
        "minimum": Option(
            "map[str,str]",
            "package name -> lowest acceptable version (quote versions: 1.10 is not 1.1)",
        ),
        "missing": Option(
            "str", "what a missing package means", default="ignore", choices=("ignore", "fail")
        ),
    },
)


# ------------------------------------------------------------------ packages.forbidden


def evaluate_forbidden(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """None of the forbidden packages is installed.

    Options: ``packages`` (list[str], required): package names, shell-style
    patterns allowed, e.g. ``[telnetd, rsh-server, "rsh-*", nis]``.

    PASS: no installed package matches.
    FAIL: ``telnetd`` 0.17+2.4-2 is installed ("Forbidden packages are installed: telnetd 0.17+2.4-2").
    """
    installed = installed_packages(facts)
    found = []
    for name in sorted(installed):
        for pattern in options["packages"]:
            if fnmatch.fnmatchcase(name, pattern):
                found.append({"package": name, "version": installed[name], "pattern": pattern})
                break
    if found:
        shown = ", ".join(f"{f['package']} {f['version']}" for f in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        return Outcome.failed(f"Forbidden packages are installed: {shown}{more}.", found=found)
    return Outcome.passed(
        f"None of {len(options['packages'])} forbidden packages is installed.",
        forbidden=list(options["packages"]),
    )


FORBIDDEN = Check(
    id="packages.forbidden",
    title="Forbidden packages are not installed",
    kinds=_HOST,
    evaluate=evaluate_forbidden,
    options={"packages": Option("list[str]", "package names or shell patterns")},
)


# ------------------------------------------------------------------ os.*


def evaluate_reboot_required(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The host runs its newest installed kernel and no package asks for a reboot.

    Not applicable in containers (no kernel of their own). Unknown is an error,
    never a pass.

    Options: none.

    PASS: running 6.1.0-28-amd64, newest installed 6.1.0-28-amd64, no
    /var/run/reboot-required.
    FAIL: running 6.1.0-18-amd64 while 6.1.0-28-amd64 is installed
    ("A reboot is required: ...").
    """
    del options
    kernel = facts.get("kernel") or {}
    if facts.get("container"):
        return Outcome.not_applicable("The target is a container; it has no kernel of its own.")
    reboot = facts.get("reboot_required") or {}
    required = reboot.get("required")
    evidence = {
        "running_kernel": kernel.get("running"),
        "newest_kernel": kernel.get("newest"),
        "evidence": reboot.get("evidence"),
    }
    if required is None:
        return Outcome.error(
            ErrorReason.NO_DATA,
            "Could not determine whether a reboot is required"
            + (f": {reboot['evidence']}." if reboot.get("evidence") else "."),
            **evidence,
        )
    if required:
        why = reboot.get("evidence") or "the newest installed kernel is not running"
        return Outcome.failed(f"A reboot is required: {why}.", **evidence)
    return Outcome.passed(
        f"No reboot is required (running kernel {kernel.get('running') or 'unknown'}).", **evidence
    )


REBOOT_REQUIRED = Check(
    id="os.reboot_required",
    title="No reboot is pending",
    kinds=_HOST,
    evaluate=evaluate_reboot_required,
)


def evaluate_last_update_age(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Packages were last installed or upgraded at most ``max_days`` before the scan.

    Options: ``max_days`` (int, default ``30``).

    PASS: last upgrade 2026-11-01, scanned 2026-11-10, max_days 30.
    FAIL: last upgrade 2026-08-01, scanned 2026-11-10 ("Packages were last updated 101 days ago ...").
    """
    last = facts.get("last_update") or {}
    when = parse_timestamp(last.get("time"))
    collected = _collected_at(facts)
    evidence = {"last_update": last.get("time"), "evidence": last.get("evidence")}
    if when is None:
        return Outcome.error(
            ErrorReason.NO_DATA,
            "The time of the last package update could not be determined"
            + (f" ({last['evidence']})." if last.get("evidence") else "."),
            **evidence,
        )
    if collected is None:
        return Outcome.error(ErrorReason.NO_DATA, "The facts carry no collection time.", **evidence)
    age = (collected - when).total_seconds() / 86400
    limit = int(options["max_days"])
    evidence["age_days"] = round(age, 1)
    if age > limit:
        return Outcome.failed(
            f"Packages were last updated {age:.0f} days ago ({when.date().isoformat()}); "
            f"at most {limit} days are allowed.",
            **evidence,
        )
    return Outcome.passed(
        f"Packages were last updated {age:.0f} days ago ({when.date().isoformat()}).", **evidence
    )


LAST_UPDATE_AGE = Check(
    id="os.last_update_age",
    title="Packages were updated recently",
    kinds=_HOST,
    evaluate=evaluate_last_update_age,
    options={
        "max_days": Option(
            "int", "most days since the last package update", default=30, minimum=0
        )
    },
)


# endoflife.date products by os-release ID, and the date that ends free security
# support: Debian counts its LTS (``extendedSupport``); Ubuntu standard support
# without ESM, Alpine main and the RHEL family's maintenance support are ``eol``.
EOL_PRODUCTS: Mapping[str, str] = MappingProxyType({
    "debian": "debian",
    "ubuntu": "ubuntu",
    "alpine": "alpine-linux",
    "rhel": "rhel",
    "rocky": "rocky-linux",
    "almalinux": "almalinux",
})
_EXTENDED_IS_FREE = frozenset({"debian"})
EOL_SNAPSHOT_DATE = "2026-08-22"
"""The date of the bundled endoflife.date snapshot (plugins/packages/data/eol/)."""


def end_of_support(os_id: str, eol: str | None, extended: str | None) -> str | None:
    """The day free security support ends for a release cycle of ``os_id``."""
    if os_id in _EXTENDED_IS_FREE and extended:
        return extended
    return eol


@functools.lru_cache(maxsize=1)
def bundled_eol() -> Mapping[str, Mapping[str, str]]:
    """``{os id: {cycle: end of support}}`` from the bundled endoflife.date snapshot."""
    from .feeds import eol_cycles

    base = importlib.resources.files("scanner.plugins.packages") / "data" / "eol"
    table: dict[str, dict[str, str]] = {}
    for os_id, product in EOL_PRODUCTS.items():
        cycles = eol_cycles(json.loads((base / f"{product}.json").read_text("utf-8")), product) or []
        table[os_id] = {
            c.cycle: end
            for c in cycles
            if (end := end_of_support(os_id, c.eol, c.extended_support)) is not None
        }
    return table


def _eol_table(option: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for key, value in option.items():
        if isinstance(value, Mapping):
            table.setdefault(str(key).lower(), {}).update({str(k): v for k, v in value.items()})
        else:
            os_id, _, version = str(key).partition(":")
            table.setdefault(os_id.lower(), {})[version] = value
    return table


def release_candidates(os_facts: Mapping[str, Any]) -> list[str]:
    """Release cycles to look up, most specific first: VERSION_ID, major.minor, major."""
    from .feeds import DEBIAN_CODENAMES

    version = str(os_facts.get("version_id") or "")
    if not version and os_facts.get("id") == "debian":
        version = DEBIAN_CODENAMES.get(str(os_facts.get("codename") or ""), "")
    parts = version.split(".")
    candidates = [version, ".".join(parts[:2]), parts[0]]
    return [c for i, c in enumerate(candidates) if c and c not in candidates[:i]]


def _end_of_life(
    os_id: str, candidates: Sequence[str], option: Mapping[str, Any], feed: Mapping[str, Any] | None
) -> tuple[str, Any, dict[str, Any]] | None:
    """(cycle, end date, where it came from): the ``eol`` option, then the imported
    feed's cycle (``feed``: read at judging, else the one the facts carry), then the
    bundled snapshot."""
    table = _eol_table(option).get(os_id, {})
    for candidate in candidates:
        if candidate in table:
            return candidate, table[candidate], {"eol_source": "policy option eol"}
    if isinstance(feed, Mapping) and feed.get("end"):
        return str(feed.get("cycle")), feed["end"], {
            "eol_source": f"feed {feed.get('feed')}", "eol_feed_date": feed.get("date"),
        }
    bundled = bundled_eol().get(os_id, {})
    for candidate in candidates:
        if candidate in bundled:
            return candidate, bundled[candidate], {
                "eol_source": "bundled endoflife.date snapshot", "eol_feed_date": EOL_SNAPSHOT_DATE,
            }
    return None


def evaluate_supported_release(
    facts: Mapping[str, Any], options: Mapping[str, Any], datasets: Lent | None = None
) -> Outcome:
    """The operating system release is still within its vendor's security support.

    End-of-life dates come from endoflife.date release cycles: the feed
    imported when the check is judged (``civiscan feeds import debian.json``,
    then ``civiscan evaluate RUN`` applies it without a rescan), else the one
    the facts recorded at collection, else the bundled snapshot; the evidence names the source
    and its date, and reports show both ("alpine 3.20: end of support
    2026-04-01, from the bundled endoflife.date snapshot dated 2026-08-22"). Debian counts its free LTS; Ubuntu standard support without
    ESM; Alpine main; the RHEL family's maintenance support.

    Options: ``eol`` (map, default ``{}``): end-of-life dates that override
    both, either nested ``{debian: {"10": 2024-06-30}}`` or flat
    ``{"debian:10": 2024-06-30}``. The release is looked up by VERSION_ID,
    then major.minor, then major.

    PASS: Debian 12 scanned 2026-11-10 (support until 2028-06-30).
    FAIL: Debian 10 scanned 2026-11-10 ("Debian GNU/Linux 10 (buster) reached
    end of support on 2024-06-30").
    """
    os_facts = facts.get("os") or {}
    os_id = str(os_facts.get("id") or "").lower()
    name = os_facts.get("pretty_name") or f"{os_id} {os_facts.get('version_id') or ''}".strip()
    collected = _collected_at(facts)
    if not os_id or collected is None:
        return Outcome.error(ErrorReason.NO_DATA, "The operating system release is unknown.")
    feed = facts.get("eol")
    if datasets is not None and datasets.get("advisories") is not None:
        from . import eol_facts  # the plugin's dataset reader; a feed imported since the scan wins

        feed = eol_facts(datasets["advisories"], os_facts) or feed
    found = _end_of_life(os_id, release_candidates(os_facts), options["eol"], feed)
    if found is None:
        return Outcome.error(
            ErrorReason.NO_DATA,
            f"No end-of-life date is known for {name}; add it to the eol option "
            "or import an endoflife.date list (civiscan feeds import).",
            os=os_id,
            version=os_facts.get("version_id"),
        )
    candidate, value, source = found
    end = parse_timestamp(value)
    if end is None:
        return Outcome.error(
            ErrorReason.NOT_SUPPORTED,
            f"The end-of-life date {value!r} for {os_id} {candidate} is not a date.",
        )
    evidence = {
        "os": os_id,
        "release": candidate,
        "eol": end.date().isoformat(),
        "scanned": collected.date().isoformat(),
        **source,
    }
    if collected.date() > end.date():
        return Outcome.failed(f"{name} reached end of support on {end.date().isoformat()}.", **evidence)
    return Outcome.passed(f"{name} is supported until {end.date().isoformat()}.", **evidence)


SUPPORTED_RELEASE = Check(
    id="os.supported_release",
    title="The OS release is still supported",
    kinds=_HOST,
    evaluate=evaluate_supported_release,
    datasets=("advisories",),
    options={"eol": Option("map", "end-of-life dates by OS and release that override the feed and the bundled snapshot", default={})},
)


PACKAGES_CHECKS: Sequence[Check] = (VULNERABLE, MINIMUM_VERSIONS, FORBIDDEN)

OS_CHECKS: Sequence[Check] = (REBOOT_REQUIRED, LAST_UPDATE_AGE, SUPPORTED_RELEASE)
