"""The packages and os families' evidence for people: installed -> fixed version, with the
advisory; where an end-of-life date came from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .checks import rating


def _advisory(match: Mapping[str, Any]) -> str:
    fixed = match.get("fixed")
    target = f"fixed in {fixed}" if fixed else "no fix yet"
    rated = rating(match, unrated="")
    line = f"{match.get('package')} {match.get('installed')} -> {target} ({match.get('id')}{', ' + rated if rated else ''})"
    if match.get("until_reboot"):
        line += (f"; the fix is installed ({match.get('installed_kernel')}) but kernel "
                 f"{match.get('running_kernel')} still runs: vulnerable until reboot")
    return line


def render(check_id: str, evidence: Mapping[str, Any]) -> Sequence[str] | None:
    """One line per advisory (information items too), package below its minimum or forbidden package found."""
    lines = [_advisory(m) for m in evidence.get("advisories") or () if isinstance(m, Mapping)]
    if evidence.get("truncated"):
        lines.append(f"{evidence.get('counted')} advisories in all; the raw evidence lists the first")
    lines.extend(
        f"Information: {_advisory(m)}" for m in evidence.get("informational") or () if isinstance(m, Mapping)
    )
    for entry in evidence.get("below") or ():
        if isinstance(entry, Mapping):
            lines.append(
                f"{entry.get('package')} {entry.get('installed')} -> at least {entry.get('minimum')}"
            )
    for entry in evidence.get("found") or ():
        if isinstance(entry, Mapping):
            lines.append(f"Forbidden, installed: {entry.get('package')} {entry.get('version')}")
    if evidence.get("release"):
        checked = evidence.get("packages_checked")
        lines.append(
            f"{evidence['release']}"
            + (f", {checked} packages checked" if checked is not None else "")
        )
    return lines or None


def render_os(check_id: str, evidence: Mapping[str, Any]) -> Sequence[str] | None:
    """Where ``os.supported_release`` took the end-of-life date from, and that source's date."""
    source = evidence.get("eol_source")
    if check_id != "os.supported_release" or not source:
        return None
    dated = evidence.get("eol_feed_date")
    line = f"{evidence.get('os')} {evidence.get('release')}: end of support {evidence.get('eol')}, from the {source}"
    return [line + (f" dated {str(dated)[:10]}" if dated else "")]
