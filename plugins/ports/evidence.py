"""The ports family's evidence for people: ``3306/mysql, 5900/vnc``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def port_text(port: Any) -> str:
    """``3306/mysql`` (``3306/mysql MySQL 8.0.36`` with service versions); ``3306`` unnamed."""
    if not isinstance(port, Mapping):
        return str(port)
    text = str(port.get("port"))
    if port.get("service"):
        text += f"/{port['service']}"
    product = " ".join(str(port[k]) for k in ("product", "version") if port.get(k))
    return f"{text} {product}" if product else text


def _ports(value: Any) -> str:
    if not isinstance(value, list) or not value:
        return "none"
    return ", ".join(port_text(p) for p in value)


def render(check_id: str, evidence: Mapping[str, Any]) -> Sequence[str] | None:
    """Ports that decided the verdict first, then what was probed, and from where."""
    lines = []
    if evidence.get("unexpected"):
        lines.append(f"Open but not allowed: {_ports(evidence['unexpected'])}")
    if evidence.get("forbidden_open"):
        lines.append(f"Forbidden and open: {_ports(evidence['forbidden_open'])}")
    if "open" in evidence:
        lines.append(f"Open ports: {_ports(evidence['open'])}")
    for key, label in (("allowed", "Allowed"), ("forbidden", "Forbidden")):
        if evidence.get(key):
            lines.append(f"{label}: {evidence[key]}")
    if evidence.get("forbidden_unanswered"):
        lines.append(f"Forbidden, no answer: {evidence['forbidden_unanswered']}")
    if evidence.get("scanned"):
        count = evidence.get("scanned_count")
        how = f" with {evidence['scanner']}" if evidence.get("scanner") else ""
        where = f" on {evidence['address']}" if evidence.get("address") else ""
        lines.append(f"Probed {count} ports ({evidence['scanned']}){how}{where}")
    if evidence.get("unanswered"):
        lines.append(f"No answer: {evidence['unanswered']}")
    return lines or None
