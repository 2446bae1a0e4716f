"""CSV: one row per finding, RFC 4180 quoting, safe to open in a spreadsheet.

Every field that holds a comma, quote or line break is quoted, as the ``csv``
module quotes it (:func:`field`), so remediation text with all three survives a round trip. A cell that starts
with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with an
apostrophe: spreadsheets would otherwise run a target's string as a formula.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
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


_NEEDS_QUOTES = re.compile('[",\r\n]')
ROWS_PER_WRITE = 2_000


def field(text: str) -> str:
    """*text* as one CSV field, quoted exactly as ``csv.writer`` quotes it (minimal
    quoting, doubled quotes, ``\r\n`` rows): only when it holds ``,``, ``"`` or a line
    break. ``str.replace`` and one regular-expression search run in C over the text
    at once, where ``csv.writer`` tests every character for each of its specials."""
    if _NEEDS_QUOTES.search(text) is None:
        return text
    return '"' + text.replace('"', '""') + '"'


def row(cells: Sequence[str]) -> str:
    """One CSV line of *cells* (each already a :func:`cell`), as ``csv.writer`` writes it
    (which quotes a lone empty field, or the line would read as no field at all)."""
    if len(cells) == 1 and not cells[0]:
        return '""\r\n'
    return ",".join(map(field, cells)) + "\r\n"


def write(index: Index, comparison: Comparison, out: TextIO) -> None:
    """Rows to *out*, which must be opened with ``newline=""``.

    Byte for byte what ``csv.writer(out, lineterminator="\r\n")`` writes, in
    a fraction of the time (:func:`field`): a city-sized run is 120 MB of CSV.
    Fields that depend only on the asset or the rule are quoted once; rows are
    made and written a few thousand at a time (:class:`_Rows`), where the
    fields of each finding's own text are looked at together.
    """
    out.write(row(COLUMNS))
    run_id = cell(index.run.get("id"))
    # Fields that depend only on the rule or the asset are made once, not per finding.
    rule_head: dict[str, str] = {}  # rule_id, rule_title, policy
    rule_tail: dict[str, str] = {}  # remediation, references
    short: dict[str, str] = {}  # fields of few distinct values (severity, status, waiver...)
    changes = comparison.changes

    def few(value: Any) -> str:
        if type(value) is not str:
            return field(cell(value))
        text = short.get(value)
        if text is None:
            text = short[value] = field(cell(value))
        return text

    rows = _Rows()
    for department in index.departments:
        department_field = field(cell(department))
        asset_head: dict[str, str] = {}  # run_id, department, the asset's five cells
        for finding in index.findings_by_department[department]:
            rule_id = finding["rule_id"]
            head = rule_head.get(rule_id)
            if head is None:
                rule = index.rule(rule_id)
                head = rule_head[rule_id] = ",".join(
                    map(field, (cell(rule_id), cell(rule.get("title")), cell(rule.get("policy"))))
                )
                rule_tail[rule_id] = ",".join(
                    map(field, (cell(rule.get("remediation")), cell(_references(rule))))
                )
            asset_id = finding["asset_id"]
            where = asset_head.get(asset_id)
            if where is None:
                asset = index.assets[asset_id]
                where = asset_head[asset_id] = ",".join(
                    (
                        field(run_id),
                        department_field,
                        *(field(cell(asset.get(k))) for k in ("id", "name", "kind", "address", "url")),
                    )
                )
            waiver = finding.get("waiver")
            if waiver:
                waiver_fields = ",".join((
                    few(waiver.get("id")), few(waiver.get("state")),
                    few(waiver.get("expires")), few(waiver.get("ticket")),
                ))
            else:
                waiver_fields = ",,,"
            change = changes.get(finding["fingerprint"])
            reason = finding.get("reason")
            rows.heads.append(",".join((
                where,
                head,
                few(finding.get("severity")),
                few(finding.get("status")),
                change.value if change else "",
            )))
            rows.messages.append(cell(finding.get("message")))
            rows.middles.append(",".join((
                "" if reason is None else few(reason),
                waiver_fields,
                few(finding.get("first_seen")),
            )))
            rows.fingerprints.append(cell(finding["fingerprint"]))
            rows.tails.append(rule_tail[rule_id])
            rows.proofs.append([
                {"check": c.get("check"), "status": c.get("status"), "evidence": c.get("evidence")}
                for c in finding.get("checks") or ()
            ])
            if len(rows.heads) >= ROWS_PER_WRITE:
                rows.flush(out)
    rows.flush(out)


def _fields(cells: list[str]) -> list[str]:
    """:func:`field` of each of *cells*; when none needs quoting (a few searches in C
    over them all, joined), the list itself."""
    joined = "\x00".join(cells)
    if '"' in joined or "," in joined or "\n" in joined or "\r" in joined:
        return list(map(field, cells))
    return cells


_ROW = "{},{},{},{},{},{}\r\n".format


class _Rows:
    """Rows not yet written, column by column: the cells before the message, the
    message, the cells between it and the fingerprint, the fingerprint, the rule's
    last two, and the evidence (of each, its checks' results)."""

    def __init__(self) -> None:
        self.heads: list[str] = []
        self.messages: list[str] = []
        self.middles: list[str] = []
        self.fingerprints: list[str] = []
        self.tails: list[str] = []
        self.proofs: list[Any] = []

    def flush(self, out: TextIO) -> None:
        """Write the rows, their *proofs*' redacted JSON encoded in one pass; empty every column."""
        if not self.heads:
            return
        out.write("".join(map(
            _ROW, self.heads, _fields(self.messages), self.middles,
            _fields(self.fingerprints), self.tails, _evidence_fields(self.proofs),
        )))
        for column in (self.heads, self.messages, self.middles, self.fingerprints, self.tails,
                       self.proofs):
            column.clear()


def _evidence_fields(proofs: list[Any]) -> list[str]:
    """The evidence cell of each row: *proofs* (lists of objects) as redacted JSON, quoted.

    A JSON text never starts a formula (it starts with ``[``) nor holds a line
    break, so one :func:`field` of the lines joined quotes them all, and the
    lines are split back apart; only a text without a quote or a comma (``[]``,
    no checks) is left unquoted, as :func:`field` leaves it."""
    text = evidence.redacted_json_lines(proofs, _JSON.encode)
    quoted = ('"' + text.replace('"', '""').replace("\n", '"\n"') + '"').split("\n")
    if '"[]"' in quoted:  # whole cells only: inside a quoted one, the brackets' quotes are doubled
        return [c if c != '"[]"' else "[]" for c in quoted]
    return quoted
