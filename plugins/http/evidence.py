"""The http family's evidence for people: the header values the checks read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

HSTS = "Strict-Transport-Security"
_NOT_HEADERS = frozenset(
    {"url", "header", "max_age", "include_subdomains", "preload", "status", "location",
     "set_cookie", "tls_verified"}
)


def _name(key: str) -> str:
    """``x-content-type-options`` -> ``X-Content-Type-Options``."""
    return "-".join(part.capitalize() for part in key.split("-"))


def render(check_id: str, evidence: Mapping[str, Any]) -> Sequence[str] | None:
    """``Header: value`` per header read (``not sent`` when absent), redirects as status -> target."""
    lines = []
    if check_id == "http.hsts":
        lines.append(f"{HSTS}: {evidence.get('header') or 'not sent'}")
    if check_id == "http.redirect_to_https" and evidence.get("status") is not None:
        lines.append(f"HTTP {evidence.get('status')} -> {evidence.get('location') or 'no Location'}")
    for cookie in evidence.get("set_cookie") or ():
        lines.append(f"Set-Cookie: {cookie}")
    for key, value in evidence.items():
        if key in _NOT_HEADERS or not isinstance(key, str) or isinstance(value, Mapping | list):
            continue
        lines.append(f"{_name(key)}: {'not sent' if value is None else value}")
    if evidence.get("url"):
        lines.append(f"Read from {evidence['url']}")
    return lines or None
