"""The tls family's evidence for people: a certificate as subject, issuer and expiry in days."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner.timeutil import readable_time


def _listed(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _expiry(evidence: Mapping[str, Any]) -> str:
    days = evidence.get("days_left")
    when = readable_time(evidence.get("not_after"))
    if isinstance(days, int) and not isinstance(days, bool):
        if days < 0:
            return f"Expired {when} ({-days} days ago)"
        return f"Expires {when} (in {days} days)"
    return f"Expires {when}"


def render(check_id: str, evidence: Mapping[str, Any]) -> Sequence[str] | None:
    """Certificates by subject, issuer and days left; protocols and suites as lists."""
    lines = []
    if evidence.get("subject") is not None or evidence.get("issuer") is not None:
        lines.append(f"Subject: {evidence.get('subject') or 'none'}")
        lines.append(f"Issuer: {evidence.get('issuer') or 'none'}")
    if evidence.get("not_after"):
        lines.append(_expiry(evidence))
    if evidence.get("key"):
        lines.append(f"Key: {evidence['key']}")
    for problem in evidence.get("problems") or ():
        if isinstance(problem, Mapping) and problem.get("message"):
            lines.append(f"Problem: {problem['message']}")
        elif isinstance(problem, str):
            lines.append(f"Problem: {problem}")
    if "accepted" in evidence:
        lines.append(f"Accepted: {_listed(evidence['accepted'])}")
    if evidence.get("forbidden_accepted"):
        lines.append(f"Accepted although forbidden: {_listed(evidence['forbidden_accepted'])}")
    if evidence.get("violations"):
        lines.append(f"Not allowed: {_listed(evidence['violations'])}")
    return lines or None
