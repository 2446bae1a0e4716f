"""Pure analysis of a run document: scores, change status, groupings.

Every renderer reads a run document (``schema: civiscan/run``, version 1) and
asks this module the same questions: which department does a finding belong
to, what is a department's score, did a finding change since the previous
run. Answering them once here keeps the formats consistent with each other.
The definitions are documented in docs/reports.md; scores and change status
themselves live in :mod:`scanner.history`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from scanner.history import (
    ERROR,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    WAIVED,
    WEIGHTS,
    Change,
    Comparison,
    Score,
    compare,
    format_delta,
    format_score,
    parse_time,
    score,
    score_counts,
)
from scanner.models import Severity, Status
from scanner.rundoc import SCHEMA, SCHEMA_VERSION, AssetState

from .evidence import clip

# Scores and change status are the core's (scanner/history.py, shared with
# ``civiscan diff`` and ``civiscan history``); renderers import them from here.
__all__ = [
    "ERROR", "FAIL", "MAX_REASON", "MAX_REASONS", "NOT_APPLICABLE", "PASS", "SCHEMA", "SCHEMA_VERSION",
    "WAIVED", "WEIGHTS", "Change", "Comparison", "DocumentError", "Index", "RuleRow", "Score",
    "Unassessed", "check_document", "compare", "counted_score", "format_delta", "format_score", "parse_day",
    "parse_time", "previous_document", "score", "severity_of", "slug", "subset", "top_failing_rules",
]

Doc = Mapping[str, Any]


class DocumentError(ValueError):
    """The run document is not one this renderer understands."""


_SEVERITIES = {s.value: s for s in Severity}


def severity_of(value: str) -> Severity:
    """The severity named by *value*; an unknown name counts as ``info``.

    A document is untrusted input: an odd severity must not crash a report.
    """
    return _SEVERITIES.get(value, Severity.INFO)


def check_document(doc: Doc, what: str = "run document") -> None:
    """Raise :class:`DocumentError` unless *doc* is a version-1 run document."""
    if not isinstance(doc, Mapping):
        raise DocumentError(f"{what}: expected a JSON object")
    if doc.get("schema") != SCHEMA or doc.get("schema_version") != SCHEMA_VERSION:
        raise DocumentError(
            f"{what}: expected schema {SCHEMA!r} version {SCHEMA_VERSION}, got "
            f"{doc.get('schema')!r} version {doc.get('schema_version')!r}"
        )
    for key in ("run", "departments", "assets", "rules", "findings", "waivers"):
        if key not in doc:
            raise DocumentError(f"{what}: missing key {key!r}")


def parse_day(value: str | None) -> date | None:
    """A waiver expiry: a date, or a date-time whose calendar day counts."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        moment = parse_time(value)
        return moment.date() if moment else None


def slug(name: str) -> str:
    """A file-name-safe, collision-free form of a department name.

    Anything but ``[a-z0-9-]`` is folded away; whenever that changed the name, a
    short hash of the original is appended so two names can never share a file.
    """
    folded = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "department"
    if folded == name:
        return folded
    return f"{folded}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class RuleRow:
    """A rule failing across the run: how often, and in how many departments."""

    rule_id: str
    title: str
    severity: str
    failing: int
    departments: int


def top_failing_rules(index: Index, limit: int) -> list[RuleRow]:
    """Rules ranked by severity weight x failing pairs, then by count, then id."""
    failing: Counter[str] = Counter()
    departments: dict[str, set[str]] = defaultdict(set)
    severities: dict[str, Severity] = {}
    for finding in index.doc["findings"]:
        if finding.get("status") != FAIL:
            continue
        rule_id = finding["rule_id"]
        failing[rule_id] += 1
        departments[rule_id].add(index.department_of(finding))
        severities[rule_id] = severity_of(finding.get("severity", ""))
    ranked = sorted(failing, key=lambda r: (-severities[r].weight * failing[r], -failing[r], r))
    return [
        RuleRow(
            rule_id=r,
            title=str(index.rule(r).get("title", "")),
            severity=severities[r].value,
            failing=failing[r],
            departments=len(departments[r]),
        )
        for r in ranked[:limit]
    ]


def counted_score(findings: Iterable[Mapping[str, Any]]) -> Score:
    """:func:`score` of *findings*, the same value, with the counting done by
    :class:`~collections.Counter` in C: scores are taken over every finding of
    a run, and of the previous run, once per department and once overall."""
    return score_counts(_status_counts(findings))


def _status_counts(findings: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((f.get("status", ""), f.get("severity", "")) for f in findings)


# --- the indexed document -----------------------------------------------------------


MAX_REASONS = 3
MAX_REASON = 200


@dataclass(frozen=True)
class Unassessed:
    """An asset that could not be (fully) assessed, with the reasons why
    (at most :data:`MAX_REASONS`, each clipped to :data:`MAX_REASON` characters)."""

    asset: Mapping[str, Any]
    reasons: tuple[str, ...]


class Index:
    """A run document with the lookups every renderer needs, built once."""

    def __init__(self, doc: Doc) -> None:
        check_document(doc)
        self.doc = doc
        self.run: Mapping[str, Any] = doc["run"]
        self.assets: dict[str, Mapping[str, Any]] = {a["id"]: a for a in doc["assets"]}
        self.rules: dict[str, Mapping[str, Any]] = {r["id"]: r for r in doc["rules"]}
        departments = list(doc["departments"])
        by_department: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for finding in doc["findings"]:
            asset = self.assets.get(finding["asset_id"])
            if asset is None:
                raise DocumentError(
                    f"finding {finding.get('fingerprint')!r} names unknown asset "
                    f"{finding['asset_id']!r}"
                )
            by_department[asset["department"]].append(finding)
        for asset in doc["assets"]:
            if asset["department"] not in departments:
                departments.append(asset["department"])
        self.departments: list[str] = departments
        self.findings_by_department: dict[str, list[Mapping[str, Any]]] = {
            d: by_department.get(d, []) for d in departments
        }
        self.asset_counts: Counter[str] = Counter(a["department"] for a in doc["assets"])
        self._unassessed: list[Unassessed] | None = None
        self._counts: dict[str, Counter[tuple[str, str]]] = {}
        self._scores: dict[str, Score] = {}
        self._overall: Score | None = None

    def _department_counts(self, department: str) -> Counter[tuple[str, str]]:
        """The department's findings as ``{(status, severity): how many}``, counted once."""
        counts = self._counts.get(department)
        if counts is None:
            counts = self._counts[department] = _status_counts(
                self.findings_by_department.get(department, ())
            )
        return counts

    def score(self, department: str) -> Score:
        """The department's :func:`score`, computed once."""
        if department not in self._scores:
            self._scores[department] = score_counts(self._department_counts(department))
        return self._scores[department]

    def overall(self) -> Score:
        """The :func:`score` of the whole run, computed once, from the departments'
        counts (every finding is in one department): the findings are not walked again."""
        if self._overall is None:
            total: Counter[tuple[str, str]] = Counter()
            for department in self.departments:
                total.update(self._department_counts(department))
            self._overall = score_counts(total)
        return self._overall

    def department_of(self, finding: Mapping[str, Any]) -> str:
        return str(self.assets[finding["asset_id"]]["department"])

    def rule(self, rule_id: str) -> Mapping[str, Any]:
        """The rule, or a stand-in naming it when the document lacks it."""
        return self.rules.get(rule_id) or {"id": rule_id, "title": rule_id, "checks": []}

    def unassessed(self, department: str | None = None) -> list[Unassessed]:
        """Assets not reached, or with collection errors or ``error`` findings."""
        if self._unassessed is None:
            self._unassessed = self._find_unassessed()
        if department is None:
            return self._unassessed
        return [u for u in self._unassessed if u.asset["department"] == department]

    def _find_unassessed(self) -> list[Unassessed]:
        error_findings: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        for finding in self.doc["findings"]:
            if finding.get("status") == ERROR:
                error_findings[finding["asset_id"]].append(finding)
        result = []
        for asset in self.doc["assets"]:
            reasons: list[str] = []
            if asset.get("state") == AssetState.PENDING:
                reasons.append("not reached: the run ended before this asset was scanned")
            for plugin, error in sorted((asset.get("errors") or {}).items()):
                reasons.append(f"{plugin}: {error.get('reason')}: {error.get('message')}")
            if not reasons:
                for finding in error_findings.get(asset["id"], ()):
                    reason = (
                        f"{finding['rule_id']}: {finding.get('reason')}: {finding.get('message')}"
                    )
                    if reason not in reasons:
                        reasons.append(reason)
            if reasons:
                shown = [clip(r, MAX_REASON) for r in reasons[:MAX_REASONS]]
                if len(reasons) > MAX_REASONS:
                    shown.append(f"and {len(reasons) - MAX_REASONS} more")
                result.append(Unassessed(asset, tuple(shown)))
        return result


def subset(doc: Doc, department: str) -> dict[str, Any]:
    """The document as if the run had covered only *department*.

    Waivers are rebuilt from this department's findings: the run-wide waiver
    list carries selectors and match counts that name other departments' assets.
    """
    index = Index(doc)
    if department not in index.departments:
        raise DocumentError(f"no department {department!r} in run {doc['run'].get('id')}")
    assets = [a for a in doc["assets"] if a["department"] == department]
    findings = index.findings_by_department[department]
    rule_ids = {f["rule_id"] for f in findings}
    matched: Counter[str] = Counter(
        f["waiver"]["id"] for f in findings if f.get("waiver") and f["waiver"].get("id")
    )
    waivers = []
    for waiver in doc["waivers"]:
        if waiver.get("id") in matched:
            kept = {k: v for k, v in waiver.items() if k != "assets"}
            kept["matched"] = matched[waiver["id"]]
            waivers.append(kept)
    counts = Counter(f.get("status") for f in findings)
    summary = {
        "assets": len(assets),
        "assessed": sum(1 for a in assets if a.get("state") == AssetState.DONE),
        "findings": {s.value: counts.get(s.value, 0) for s in Status},
    }
    return {
        **{
            k: v
            for k, v in doc.items()
            if k not in ("departments", "assets", "rules", "findings", "waivers", "summary")
        },
        "departments": [department],
        "assets": assets,
        "rules": [r for r in doc["rules"] if r["id"] in rule_ids],
        "findings": findings,
        "waivers": waivers,
        "summary": summary,
    }


PREVIOUS_MESSAGE = 300
"""Characters of a previous failing finding's message kept (shown for findings no longer evaluated)."""


def previous_document(
    run: Mapping[str, Any],
    asset_departments: Iterable[tuple[str, str]],
    findings: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    """The previous run as renderers need it, built from a stream of its findings.

    Comparison and "since the previous run" need, per finding, only its
    fingerprint, asset, rule, status and severity, and for a failing or waived
    one its message and waiver: a fifth of the whole document. Reading the
    findings one at a time (``store.findings(run_id)``) never holds the whole
    previous document, which for a city-sized run is hundreds of megabytes.
    Repeated strings (ids, statuses) are interned, so each is stored once.
    """
    intern = sys.intern
    departments: dict[str, str] = {}
    assets = []
    for asset_id, department in asset_departments:
        departments[asset_id] = department
        assets.append({"id": intern(asset_id), "department": intern(department)})
    slim = []
    for f in findings:
        status = intern(str(f.get("status", "")))
        kept: dict[str, Any] = {
            "fingerprint": f["fingerprint"],
            "asset_id": intern(f["asset_id"]),
            "rule_id": intern(f["rule_id"]),
            "status": status,
            "severity": intern(str(f.get("severity", ""))),
        }
        if status in (FAIL, WAIVED):
            kept["message"] = clip(str(f.get("message") or ""), PREVIOUS_MESSAGE)
            waiver = f.get("waiver")
            if isinstance(waiver, Mapping):
                kept["waiver"] = {"id": waiver.get("id"), "expires": waiver.get("expires")}
        if kept["asset_id"] not in departments:
            departments[kept["asset_id"]] = ""
            assets.append({"id": kept["asset_id"], "department": ""})
        slim.append(kept)
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run": {"id": run.get("id"), "started": run.get("started"), "status": run.get("status")},
        "departments": sorted({d for d in departments.values() if d}),
        "assets": assets,
        "rules": [],
        "findings": slim,
        "waivers": [],
    }
