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
    run_id = cell(index.run.get("id"))
    # Cells that depend only on the rule or the asset are made once, not per finding.
    rule_cells: dict[str, tuple[str, ...]] = {}
    asset_cells: dict[str, tuple[str, ...]] = {}
    encode = _JSON.encode
    for department in index.departments:
        department_cell = cell(department)
        for finding in index.findings_by_department[department]:
            rule_id = finding["rule_id"]
            by_rule = rule_cells.get(rule_id)
            if by_rule is None:
                rule = index.rule(rule_id)
                by_rule = rule_cells[rule_id] = (
                    cell(rule.get("title")), cell(rule.get("policy")), cell(rule.get("remediation")),
                    cell(_references(rule)),
                )
            by_asset = asset_cells.get(finding["asset_id"])
            if by_asset is None:
                asset = index.assets[finding["asset_id"]]
                by_asset = asset_cells[finding["asset_id"]] = tuple(
                    cell(asset.get(k)) for k in ("id", "name", "kind", "address", "url")
                )
            waiver = finding.get("waiver") or {}
            change = comparison.changes.get(finding["fingerprint"])
            proof = [
                {"check": c.get("check"), "status": c.get("status"), "evidence": c.get("evidence")}
                for c in finding.get("checks") or ()
            ]
            writer.writerow((
                run_id,
                department_cell,
                *by_asset,
                cell(rule_id),
                by_rule[0],
                by_rule[1],
                cell(finding.get("severity")),
                cell(finding.get("status")),
                change.value if change else "",
                cell(finding.get("message")),
                cell(finding.get("reason")),
                cell(waiver.get("id")),
                cell(waiver.get("state")),
                cell(waiver.get("expires")),
                cell(waiver.get("ticket")),
                cell(finding.get("first_seen")),
                cell(finding["fingerprint"]),
                by_rule[2],
                by_rule[3],
                cell(evidence.redacted_json(proof, encode)),
            ))
