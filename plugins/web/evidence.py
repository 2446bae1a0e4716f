"""The web family's evidence for people: the third parties and trackers a page loads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _site(item: Mapping[str, Any]) -> str:
    text = str(item.get("site"))
    tracker = item.get("tracker")
    if isinstance(tracker, Mapping) and tracker.get("name"):
        text += f": {tracker['name']} ({tracker.get('category') or 'tracker'})"
    kinds = [k for k in item.get("kinds") or () if isinstance(k, str)]
    if kinds:
        text += f"; loads {', '.join(kinds)}"
    if item.get("allowed") is True:
        text += " (allowed)"
    return text


def render(check_id: str, evidence: Mapping[str, Any]) -> Sequence[str] | None:
    """Third parties (tracker names first-class), trackers, then any problem sentences."""
    lines = [f"Third party {_site(t)}" for t in evidence.get("third_parties") or ()
             if isinstance(t, Mapping)]
    lines += [f"Tracker {t.get('name')} ({t.get('category') or 'tracker'}) on {t.get('site')}"
              for t in evidence.get("trackers") or () if isinstance(t, Mapping)]
    lines += [f"Problem: {p}" for p in evidence.get("problems") or () if isinstance(p, str)]
    if "policy" in evidence and check_id == "web.referrer_policy":
        lines.append(f"Referrer-Policy: {evidence['policy'] or 'not set'}")
    return lines or None
