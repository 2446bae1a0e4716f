"""CSV: one row per finding, RFC 4180 quoting, safe to open in a spreadsheet.

The ``csv`` module quotes every field that holds a comma, quote or line break,
so remediation text with all three survives a round trip. A cell that starts
with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with an
apostrophe: spreadsheets would otherwise run a target's string as a formula.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from typing import Any, TextIO

from . import evidence
from .analysis import Comparison, Index

COLUMNS = (
    "run_id",
    "department",
    "asset_id",
    "asset_name",
    "asset_kind",
    "address",
    "url",
    "rule_id",
    "rule_title",
    "policy",
    "severity",
    "status",
    "change",
    "message",
    "reason",
    "waiver_id",
    "waiver_state",
    "waiver_expires",
    "waiver_ticket",
    "first_seen",
    "fingerprint",
    "remediation",
    "references",
    "evidence",
)

# One encoder for every row: json.dumps(..., **options) builds a new one per call.
_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
_FORMULA_START = frozenset("=+-@\t\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    return "'" + text if text[:1] in _FORMULA_START else text


def _references(rule: Mapping[str, Any]) -> str:
    refs = rule.get("references") or {}
    return "; ".join(
        f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in sorted(refs.items())
    )


def write(index: Index, comparison: Comparison, out: TextIO) -> None:
    """Rows to *out*, which must be opened with ``newline=""``."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    run_id = index.run.get("id")
    references = {rule_id: _references(index.rule(rule_id)) for rule_id in index.rules}
    for department in index.departments:
        for finding in index.findings_by_department[department]:
            asset = index.assets[finding["asset_id"]]
            rule = index.rule(finding["rule_id"])
            waiver = finding.get("waiver") or {}
            change = comparison.changes.get(finding["fingerprint"])
            proof = [
                {
                    "check": c.get("check"),
                    "status": c.get("status"),
                    "evidence": evidence.redact(c.get("evidence")),
                }
                for c in finding.get("checks") or ()
            ]
            row = (
                run_id,
                department,
                asset["id"],
                asset.get("name"),
                asset.get("kind"),
                asset.get("address"),
                asset.get("url"),
                finding["rule_id"],
                rule.get("title"),
                rule.get("policy"),
                finding.get("severity"),
                finding.get("status"),
                change.value if change else "",
                finding.get("message"),
                finding.get("reason"),
                waiver.get("id"),
                waiver.get("state"),
                waiver.get("expires"),
                waiver.get("ticket"),
                finding.get("first_seen"),
                finding["fingerprint"],
                rule.get("remediation"),
                references.get(finding["rule_id"], ""),
                _JSON.encode(proof),
            )
            writer.writerow([cell(v) for v in row])
