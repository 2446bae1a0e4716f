"""Pure analysis of a run document: scores, change status, groupings.

Every renderer reads a run document (``schema: civiscan/run``, version 1) and
asks this module the same questions: which department does a finding belong
to, what is a department's score, did a finding change since the previous
run. Answering them once here keeps the formats consistent with each other.
The definitions are documented in docs/reports.md.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from scanner.models import Severity, Status

from .evidence import clip

SCHEMA = "civiscan/run"
SCHEMA_VERSION = 1

Doc = Mapping[str, Any]


class DocumentError(ValueError):
    """The run document is not one this renderer understands."""


class Change(str, enum.Enum):
    """A finding's status compared with the previous comparable run."""

    NEW = "new"
    STILL_FAILING = "still_failing"
    FIXED = "fixed"
    REGRESSED = "regressed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Status names as plain strings: documents hold strings, and comparing against
# ``Status.X.value`` in loops over 200,000 findings costs seconds (enum lookups).
PASS, FAIL, ERROR, WAIVED, NOT_APPLICABLE = (
    s.value for s in (Status.PASS, Status.FAIL, Status.ERROR, Status.WAIVED, Status.NOT_APPLICABLE)
)
_SEVERITIES = {s.value: s for s in Severity}
WEIGHTS = {s.value: s.weight for s in Severity}


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


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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


# --- scores -------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """Severity-weighted compliance score of a set of findings.

    Each applicable rule x asset pair weighs its severity's weight
    (:attr:`Severity.weight`). Passing and waived pairs count in favour, failing
    and not-assessed (``error``) pairs against; ``not_applicable`` pairs are left
    out. ``value`` is ``None`` when nothing weighs anything (no applicable pair,
    or only ``info`` rules).
    """

    passed: int = 0
    waived: int = 0
    failed: int = 0
    not_assessed: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.passed + self.waived + self.failed + self.not_assessed

    def share(self, weight: int) -> float:
        return 100.0 * weight / self.total if self.total else 0.0

    @property
    def value(self) -> float | None:
        if not self.total:
            return None
        return self.share(self.passed + self.waived)

    @property
    def waived_points(self) -> float:
        """How many of the score's points rest on waivers."""
        return self.share(self.waived)

    def count(self, status: Status) -> int:
        return self.counts.get(status.value, 0)


def score(findings: Iterable[Mapping[str, Any]]) -> Score:
    weights: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for finding in findings:
        status = finding.get("status", "")
        counts[status] += 1
        weights[status] += WEIGHTS.get(finding.get("severity", ""), 0)
    return Score(
        passed=weights[PASS],
        waived=weights[WAIVED],
        failed=weights[FAIL],
        not_assessed=weights[ERROR],
        counts=dict(counts),
    )


def format_score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def format_delta(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "n/a"
    delta = now - before
    if abs(delta) < 0.05:
        return "no change"
    return f"{delta:+.1f} points"


# --- change status ----------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Change status of every current finding against a previous run.

    ``changes`` maps a fingerprint to its :class:`Change` (absent: no category,
    e.g. still passing, or waived). ``dropped`` lists the previous run's failing
    findings that this run did not evaluate at all (asset or rule removed,
    asset not reached): they are not "fixed", since nothing showed they pass.
    """

    previous_run: int | None
    changes: Mapping[str, Change]
    dropped: tuple[Mapping[str, Any], ...] = ()

    def tally(self, fingerprints: Iterable[str]) -> Counter[Change]:
        return Counter(self.changes[f] for f in fingerprints if f in self.changes)


def compare(doc: Doc, previous: Doc | None) -> Comparison:
    """Classify each failing or fixed finding of *doc* against *previous*.

    * ``new``: fails now; did not fail in the previous run and had never been
      seen failing before it (``first_seen`` is at or after the previous run's
      start, or unknown);
    * ``still_failing``: fails now and failed in the previous run;
    * ``regressed``: fails now; did not fail in the previous run, but had been
      seen failing before it (``first_seen`` earlier than the previous run's
      start), so it was fixed once and came back;
    * ``fixed``: passes now and failed in the previous run.

    A finding waived in the previous run had the problem too (only excused),
    so if it fails now (its waiver expired) it is still failing, and if it
    passes now it is fixed. This matches ``first_seen``, which the store sets to
    the first run where the finding failed or was waived. An ``error`` shows
    nothing either way.
    """
    if previous is None:
        return Comparison(None, {})
    before = {f["fingerprint"]: f for f in previous.get("findings", ())}
    previous_start = parse_time(previous.get("run", {}).get("started"))
    changes: dict[str, Change] = {}
    current: set[str] = set()
    for finding in doc.get("findings", ()):
        fp = finding["fingerprint"]
        current.add(fp)
        old = before.get(fp)
        failed_before = old is not None and old.get("status") in (FAIL, WAIVED)
        status = finding.get("status")
        if status == FAIL:
            if failed_before:
                changes[fp] = Change.STILL_FAILING
            elif _seen_failing_before(finding, previous_start):
                changes[fp] = Change.REGRESSED
            else:
                changes[fp] = Change.NEW
        elif status == PASS and failed_before:
            changes[fp] = Change.FIXED
    dropped = tuple(f for fp, f in before.items() if fp not in current and f.get("status") in (FAIL, WAIVED))
    return Comparison(previous.get("run", {}).get("id"), changes, dropped)


def _seen_failing_before(finding: Mapping[str, Any], previous_start: datetime | None) -> bool:
    first_seen = parse_time(finding.get("first_seen"))
    if first_seen is None or previous_start is None:
        return False
    try:
        return first_seen < previous_start
    except TypeError:  # one naive, one aware: the document broke its own contract
        return False


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
        self._scores: dict[str, Score] = {}

    def score(self, department: str) -> Score:
        """The department's :func:`score`, computed once."""
        if department not in self._scores:
            self._scores[department] = score(self.findings_by_department.get(department, ()))
        return self._scores[department]

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
            if asset.get("state") == "pending":
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
        "assessed": sum(1 for a in assets if a.get("state") == "done"),
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
