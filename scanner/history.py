"""History: how runs compare, how scores move, and how long findings have been failing.

Pure logic over run documents (``schema: civiscan/run``) and the counts the
store reads for many runs at once. ``civiscan diff``, ``civiscan history``
and the reports all ask these questions here, so they answer them alike.
The definitions are documented in docs/history.md and docs/reports.md.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .models import Severity, Status
from .timeutil import parse_timestamp, readable_time

if TYPE_CHECKING:
    from .store import Store

Doc = Mapping[str, Any]

# Status names as plain strings: documents hold strings, and comparing against
# ``Status.X.value`` in loops over 200,000 findings costs seconds (enum lookups).
PASS, FAIL, ERROR, WAIVED, NOT_APPLICABLE = (
    s.value for s in (Status.PASS, Status.FAIL, Status.ERROR, Status.WAIVED, Status.NOT_APPLICABLE)
)
WEIGHTS = {s.value: s.weight for s in Severity}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


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
    return _score(weights, counts)


def score_counts(counts: Mapping[tuple[str, str], int]) -> Score:
    """The :func:`score` of findings given as ``{(status, severity): how many}``."""
    weights: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for (status, severity), n in counts.items():
        by_status[status] += n
        weights[status] += WEIGHTS.get(severity, 0) * n
    return _score(weights, by_status)


def _score(weights: Mapping[str, int], counts: Mapping[str, int]) -> Score:
    return Score(
        passed=weights.get(PASS, 0),
        waived=weights.get(WAIVED, 0),
        failed=weights.get(FAIL, 0),
        not_assessed=weights.get(ERROR, 0),
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


class Change(str, enum.Enum):
    """A finding's status compared with an earlier run."""

    NEW = "new"
    STILL_FAILING = "still_failing"
    FIXED = "fixed"
    REGRESSED = "regressed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class WaiverChange(str, enum.Enum):
    """How a finding's waiver differs from the earlier run's."""

    ADDED = "added"  # waived now, not waived then
    REMOVED = "removed"  # waived then, not now (expired, withdrawn, or the finding passes)
    CHANGED = "changed"  # waived both times, by another waiver or until another day


@dataclass(frozen=True)
class Comparison:
    """Change status of every current finding against a previous run.

    ``changes`` maps a fingerprint to its :class:`Change` (absent: no category,
    e.g. still passing, or waived). ``waivers`` maps a fingerprint to its
    :class:`WaiverChange` when its waiver differs. ``dropped`` lists the previous
    run's failing findings that this run did not evaluate at all (asset or rule
    removed, asset not reached): they are not "fixed", since nothing showed they pass.
    """

    previous_run: int | None
    changes: Mapping[str, Change]
    dropped: tuple[Mapping[str, Any], ...] = ()
    waivers: Mapping[str, WaiverChange] = field(default_factory=dict)

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
    nothing either way. Independently, a waiver that was added, removed or
    changed (another waiver id, another expiry) is recorded in ``waivers``.
    """
    if previous is None:
        return Comparison(None, {})
    before = {f["fingerprint"]: f for f in previous.get("findings", ())}
    previous_start = parse_time(previous.get("run", {}).get("started"))
    changes: dict[str, Change] = {}
    waivers: dict[str, WaiverChange] = {}
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
        waiver_change = _waiver_change(old, finding)
        if waiver_change is not None:
            waivers[fp] = waiver_change
    dropped = tuple(f for fp, f in before.items() if fp not in current and f.get("status") in (FAIL, WAIVED))
    return Comparison(previous.get("run", {}).get("id"), changes, dropped, waivers)


def _waiver_change(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> WaiverChange | None:
    was = old is not None and old.get("status") == WAIVED
    now = new.get("status") == WAIVED
    if now and not was:
        return WaiverChange.ADDED
    if was and not now:
        return WaiverChange.REMOVED
    if was and now and old is not None and _waiver_key(old) != _waiver_key(new):
        return WaiverChange.CHANGED
    return None


def _waiver_key(finding: Mapping[str, Any]) -> tuple[Any, Any]:
    waiver = finding.get("waiver") or {}
    return waiver.get("id"), waiver.get("expires")


def _seen_failing_before(finding: Mapping[str, Any], previous_start: datetime | None) -> bool:
    first_seen = parse_time(finding.get("first_seen"))
    if first_seen is None or previous_start is None:
        return False
    try:
        return first_seen < previous_start
    except TypeError:  # one naive, one aware: the document broke its own contract
        return False


# --- diff of two runs -------------------------------------------------------------


DIFF_CATEGORIES = ("new", "regressed", "still_failing", "fixed", "waived_changed", "not_evaluated")
"""The sections of a diff, in the order they are shown (docs/history.md)."""


@dataclass(frozen=True)
class DiffEntry:
    """One finding that changed between two runs, as both runs saw it."""

    category: str
    fingerprint: str
    asset_id: str
    asset_name: str
    department: str
    rule_id: str
    severity: str
    before: str | None  # status in the earlier run (None: not evaluated there)
    after: str | None  # status in the later run (None: not evaluated there)
    waiver_before: str | None
    waiver_after: str | None
    change: str | None  # the change status (compare), also when category is waived_changed
    waiver_change: str | None
    message: str
    first_seen: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "fingerprint": self.fingerprint,
            "asset_id": self.asset_id,
            "asset_name": self.asset_name,
            "department": self.department,
            "rule_id": self.rule_id,
            "severity": self.severity,
            "before": {"status": self.before, "waiver": self.waiver_before},
            "after": {"status": self.after, "waiver": self.waiver_after},
            "change": self.change,
            "waiver_change": self.waiver_change,
            "message": self.message,
            "first_seen": self.first_seen,
        }


@dataclass(frozen=True)
class Diff:
    before: Mapping[str, Any]  # the earlier run's "run" section
    after: Mapping[str, Any]
    department: str | None
    entries: tuple[DiffEntry, ...]

    def counts(self) -> dict[str, int]:
        tally = Counter(e.category for e in self.entries)
        return {c: tally.get(c, 0) for c in DIFF_CATEGORIES}

    def section(self, category: str) -> list[DiffEntry]:
        return [e for e in self.entries if e.category == category]

    def to_json(self) -> dict[str, Any]:
        def run(info: Mapping[str, Any]) -> dict[str, Any]:
            return {
                "id": info.get("id"),
                "started": info.get("started"),
                "status": info.get("status"),
                "policies": [p.get("id") for p in info.get("policies") or ()],
            }

        return {
            "schema": "civiscan/diff",
            "schema_version": 1,
            "before": run(self.before),
            "after": run(self.after),
            "department": self.department,
            "counts": self.counts(),
            "findings": [e.to_json() for e in self.entries],
        }


def restrict(doc: Doc, department: str | None) -> Doc:
    """*doc* with only the assets and findings of *department* (all when None)."""
    if department is None:
        return doc
    assets = [a for a in doc.get("assets", ()) if a.get("department") == department]
    ids = {a["id"] for a in assets}
    findings = [f for f in doc.get("findings", ()) if f.get("asset_id") in ids]
    return {**doc, "assets": assets, "findings": findings, "departments": [department]}


def diff(before: Doc, after: Doc, department: str | None = None) -> Diff:
    """What changed from run *before* to run *after*, by fingerprint (:func:`compare`).

    A finding's waiver change puts it under ``waived_changed`` only when nothing
    else changed about it (it is waived now, or was waived and still fails);
    ``fixed`` and ``still_failing`` entries whose waiver ended say so in
    ``waiver_change``.
    """
    before, after = restrict(before, department), restrict(after, department)
    comparison = compare(after, before)
    old = {f["fingerprint"]: f for f in before.get("findings", ())}
    assets = {a["id"]: a for a in (*before.get("assets", ()), *after.get("assets", ()))}
    entries: list[DiffEntry] = []
    for finding in after.get("findings", ()):
        fp = finding["fingerprint"]
        change = comparison.changes.get(fp)
        waiver_change = comparison.waivers.get(fp)
        if change is Change.STILL_FAILING and waiver_change is WaiverChange.REMOVED:
            category = "waived_changed"  # the waiver lapsed: the news is the waiver, not the failure
        elif change is not None:
            category = change.value
        elif waiver_change is not None:
            category = "waived_changed"
        else:
            continue
        entries.append(_entry(category, old.get(fp), finding, assets, change, waiver_change))
    for finding in comparison.dropped:
        entries.append(_entry("not_evaluated", finding, None, assets, None, None))
    order = {c: i for i, c in enumerate(DIFF_CATEGORIES)}
    entries.sort(key=lambda e: (order[e.category], -_rank(e.severity), e.asset_id, e.rule_id))
    return Diff(before.get("run", {}), after.get("run", {}), department, tuple(entries))


def _rank(severity: str) -> int:
    try:
        return Severity(severity).rank
    except ValueError:
        return -1


def _entry(
    category: str,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    assets: Mapping[str, Mapping[str, Any]],
    change: Change | None,
    waiver_change: WaiverChange | None,
) -> DiffEntry:
    shown = new if new is not None else old
    assert shown is not None
    asset = assets.get(shown["asset_id"], {})
    return DiffEntry(
        category=category,
        fingerprint=str(shown["fingerprint"]),
        asset_id=str(shown["asset_id"]),
        asset_name=str(asset.get("name") or shown["asset_id"]),
        department=str(asset.get("department") or ""),
        rule_id=str(shown["rule_id"]),
        severity=str(shown.get("severity") or ""),
        before=old.get("status") if old is not None else None,
        after=new.get("status") if new is not None else None,
        waiver_before=_waiver_id(old),
        waiver_after=_waiver_id(new),
        change=change.value if change else None,
        waiver_change=waiver_change.value if waiver_change else None,
        message=str(shown.get("message") or ""),
        first_seen=shown.get("first_seen"),
    )


def _waiver_id(finding: Mapping[str, Any] | None) -> str | None:
    if finding is None or finding.get("status") != WAIVED:
        return None
    waiver = finding.get("waiver") or {}
    return str(waiver.get("id") or "") or None


# --- trends -----------------------------------------------------------------------


RunCounts = Mapping[str, tuple[int, Mapping[tuple[str, str], int]]]
"""One run's counts as the store reads them: department -> (assets, {(status, severity): n})."""


@dataclass(frozen=True)
class Point:
    """One run in a trend: its score and counts for the scope asked about."""

    run_id: int
    started: str
    status: str
    policies: str
    assets: int
    score: Score

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "started": self.started,
            "status": self.status,
            "policies": self.policies,
            "assets": self.assets,
            "score": None if self.score.value is None else round(self.score.value, 2),
            "findings": {s.value: self.score.counts.get(s.value, 0) for s in Status},
        }


def point(run: Mapping[str, Any], counts: RunCounts, departments: Iterable[str] | None = None) -> Point:
    """The :class:`Point` of *run* (a store row: id, started, status, policy_key)
    over *departments* (all the run's when None)."""
    wanted = set(counts) if departments is None else set(departments)
    merged: Counter[tuple[str, str]] = Counter()
    assets = 0
    for name, (n, by_pair) in counts.items():
        if name in wanted:
            assets += n
            merged.update(by_pair)
    return Point(
        run_id=int(run["id"]),
        started=str(run.get("started") or ""),
        status=str(run.get("status") or ""),
        policies=str(run.get("policy_key") or ""),
        assets=assets,
        score=score_counts(merged),
    )


@dataclass(frozen=True)
class Trends:
    """Score over the last runs of the same scope, city-wide and per department.

    Oldest first, the current run last. ``city`` counts only runs that covered
    the same departments as the current one; each department's trend counts the
    runs that covered that department.
    """

    city: tuple[Point, ...] = ()
    departments: Mapping[str, tuple[Point, ...]] = field(default_factory=dict)

    def of(self, department: str | None) -> tuple[Point, ...]:
        return self.city if department is None else self.departments.get(department, ())


def trend(points: Sequence[Point]) -> str:
    """One line saying how the score moved from the first to the last point."""
    scored = [p for p in points if p.score.value is not None]
    if len(scored) < 2:
        return "not enough scored runs for a trend"
    first, last = scored[0], scored[-1]
    return (
        f"{format_score(first.score.value)} in run {first.run_id} -> {format_score(last.score.value)}"
        f" in run {last.run_id} ({format_delta(last.score.value, first.score.value)} over {len(scored)} runs)"
    )


# --- remediation deadlines --------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """How long a failing finding has been failing against its severity's deadline."""

    days_failing: int
    sla_days: int | None  # None: the severity has no deadline

    @property
    def days_left(self) -> int | None:
        return None if self.sla_days is None else self.sla_days - self.days_failing

    @property
    def overdue(self) -> bool:
        left = self.days_left
        return left is not None and left < 0

    @property
    def text(self) -> str:
        failing = f"failing for {_days(self.days_failing)}"
        left = self.days_left
        if left is None:
            return f"{failing} — no remediation deadline for this severity"
        if left < 0:
            return f"{failing} — overdue by {_days(-left)}"
        if left == 0:
            return f"{failing} — due today"
        return f"{failing} — due in {_days(left)}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def deadline(first_seen: str | None, severity: str, sla: Mapping[str, int], now: datetime) -> Deadline | None:
    """The :class:`Deadline` of a finding first seen failing at *first_seen*.

    Whole days count: a finding is due on day ``sla`` after it was first seen
    and overdue from the day after. None when *first_seen* is unknown.
    """
    since = parse_timestamp(first_seen)
    if since is None:
        return None
    days = max(0, (now - since).days)
    return Deadline(days, sla.get(severity))


# --- text forms ---------------------------------------------------------------------
# Lines for a terminal are made inert by the caller (scanner.output.inert_lines).

_LABELS = {
    "new": "New",
    "regressed": "Regressed",
    "still_failing": "Still failing",
    "fixed": "Fixed",
    "waived_changed": "Waived changed",
    "not_evaluated": "No longer evaluated",
}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&:\"'=$%^;@/])")
_MD_SPACE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _run_title(info: Mapping[str, Any]) -> str:
    return f"run {info.get('id')} ({readable_time(info.get('started'))})"


def _waiver_note(e: DiffEntry) -> str:
    if e.waiver_change == WaiverChange.ADDED.value:
        return f"waived by {e.waiver_after}"
    if e.waiver_change == WaiverChange.REMOVED.value:
        return f"waiver {e.waiver_before} ended"
    if e.waiver_change == WaiverChange.CHANGED.value:
        return f"waiver {e.waiver_before} -> {e.waiver_after}"
    return ""


def _describe(e: DiffEntry) -> str:
    note = _waiver_note(e)
    before, after = e.before or "not evaluated", e.after or "not evaluated"
    return f"{before} -> {after}" + (f", {note}" if note else "")


def diff_lines(d: Diff) -> list[str]:
    """The diff as a plain-text table, one section per category."""
    scope = f", department {d.department}" if d.department else ""
    counts = d.counts()
    lines = [
        f"civiscan diff: {_run_title(d.before)} -> {_run_title(d.after)}{scope}",
        ", ".join(f"{counts[c]} {_LABELS[c].lower()}" for c in DIFF_CATEGORIES),
    ]
    for category in DIFF_CATEGORIES:
        entries = d.section(category)
        if not entries:
            continue
        lines += ["", f"{_LABELS[category].upper()} ({len(entries)})"]
        asset_w = min(40, max(len("ASSET"), *(len(e.asset_id) for e in entries)))
        rule_w = min(30, max(len("RULE"), *(len(e.rule_id) for e in entries)))
        lines.append(f"  {'SEVERITY':<8} {'ASSET':<{asset_w}} {'RULE':<{rule_w}} STATUS")
        for e in entries:
            lines.append(
                f"  {e.severity:<8} {_fit(e.asset_id, asset_w):<{asset_w}} {_fit(e.rule_id, rule_w):<{rule_w}} {_describe(e)}"
            )
    if not d.entries:
        lines += ["", "Nothing changed."]
    return lines


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def markdown_text(text: object) -> str:
    """*text* as literal Markdown: every punctuation character backslash-escaped (so
    no link, image, HTML, emphasis or table cell can be made of it) and line
    breaks and control characters folded to one space."""
    return _MD_SPECIAL.sub(r"\\\1", _MD_SPACE.sub(" ", str(text)))


def diff_markdown(d: Diff) -> str:
    """The diff as Markdown (a CI job summary or a ticket): one table per category."""
    m = markdown_text
    scope = f", department {m(d.department)}" if d.department else ""
    counts = d.counts()
    out = [
        f"## civiscan diff: {m(_run_title(d.before))} → {m(_run_title(d.after))}{scope}",
        "",
        "| " + " | ".join(_LABELS[c] for c in DIFF_CATEGORIES) + " |",
        "|" + "---:|" * len(DIFF_CATEGORIES),
        "| " + " | ".join(str(counts[c]) for c in DIFF_CATEGORIES) + " |",
    ]
    for category in DIFF_CATEGORIES:
        entries = d.section(category)
        if not entries:
            continue
        out += ["", f"### {_LABELS[category]} ({len(entries)})", "", "| Severity | Asset | Rule | Status | Message |", "|---|---|---|---|---|"]
        for e in entries:
            out.append(f"| {m(e.severity)} | {m(e.asset_id)} | {m(e.rule_id)} | {m(_describe(e))} | {m(e.message[:300])} |")
    return "\n".join(out) + "\n"


def history_lines(points: Sequence[Point], scope: str) -> list[str]:
    """Score and counts per run, oldest first, then the trend."""
    if not points:
        return [f"No runs of {scope} stored."]
    lines = [f"civiscan history of {scope}: {len(points)} runs, oldest first"]
    lines.append(
        f"{'RUN':>5}  {'STARTED':<25} {'STATUS':<11} {'ASSETS':>6} {'SCORE':>6}  {'CHANGE':<13}"
        f" {'FAIL':>5} {'ERROR':>5} {'WAIVED':>6} {'PASS':>5} {'N/A':>5}  POLICIES"
    )
    previous: Point | None = None
    for p in points:
        if previous is None:
            change = ""
        elif previous.policies != p.policies:
            change = "other policies"
        else:
            change = format_delta(p.score.value, previous.score.value)
        c = p.score.counts
        lines.append(
            f"{p.run_id:>5}  {readable_time(p.started):<25} {p.status:<11} {p.assets:>6} {format_score(p.score.value):>6}  {change:<13}"
            f" {c.get(FAIL, 0):>5} {c.get(ERROR, 0):>5} {c.get(WAIVED, 0):>6} {c.get(PASS, 0):>5}"
            f" {c.get(NOT_APPLICABLE, 0):>5}  {p.policies}"
        )
        previous = p
    lines += ["", "trend: " + trend(points)]
    return lines


# --- reading history from the store -----------------------------------------------
# The only functions here that touch I/O: each reads through public Store methods
# and hands rows to the pure functions above.

TREND_RUNS = 12
"""Runs a report's trend shows, the current one included."""
TREND_CANDIDATES = 200
"""Earlier runs of the same policies searched for the trends' points."""


def load_trends(store: Store, run_id: int, limit: int = TREND_RUNS) -> Trends:
    """The trends of run *run_id*: the last *limit* runs applying the same policies
    (finished ones, and the run itself), city-wide and per department."""
    current_rows = store.history_runs(1, up_to=run_id)
    if not current_rows or current_rows[0]["id"] != run_id:
        return Trends()
    current = current_rows[0]
    key = current["policy_key"]
    departments = sorted(store.run_departments([run_id])[run_id])
    # Each run is counted once for all its departments: runs usually cover many
    # departments, and one pass over a run's findings is the expensive part.
    counted: dict[int, RunCounts] = {}

    def counts_of(run: Mapping[str, Any]) -> RunCounts:
        if run["id"] not in counted:
            counted[run["id"]] = store.history_counts([run["id"]])[run["id"]]
        return counted[run["id"]]

    candidates = store.history_runs(TREND_CANDIDATES, policy_key=key, up_to=run_id - 1, complete=True)
    covered = store.run_departments([r["id"] for r in candidates])
    per_department: dict[str, tuple[Point, ...]] = {}
    for name in departments:
        rows = [current, *[r for r in candidates if name in covered[r["id"]]][: limit - 1]]
        per_department[name] = tuple(point(r, counts_of(r), [name]) for r in reversed(rows))
    same = [r for r in candidates if covered[r["id"]] == frozenset(departments)][: limit - 1]
    city = [point(r, counts_of(r)) for r in reversed([current, *same])]
    return Trends(tuple(city), per_department)


def load_findings(store: Store, run_id: int) -> dict[str, Any]:
    """Run *run_id* as a run document without facts or rules: enough for :func:`diff`
    and a fraction of :meth:`Store.document`'s size for a large run."""
    record = store.run(run_id)
    first = store.first_seen(run_id)
    findings = []
    for finding in store.findings(run_id):
        finding["first_seen"] = first.get(finding["fingerprint"])
        finding.pop("checks", None)
        findings.append(finding)
    assets = [{"id": a.id, "name": a.name, "department": a.department} for a in store.assets(run_id)]
    return {
        "run": {
            "id": record.id,
            "started": record.started.isoformat(),
            "status": record.status.value,
            "policies": [{"id": p.id, "version": p.version} for p in record.ruleset.policies],
        },
        "departments": sorted({a["department"] for a in assets}),
        "assets": assets,
        "findings": findings,
    }
