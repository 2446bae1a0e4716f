"""What each department is told about a run: events computed purely from two run documents.

The change status (new, regressed, ...) is the one reports use
(:func:`scanner.reports.analysis.compare`); this module only picks the events
worth a message and cuts them per department. Every event belongs to exactly
one department and carries only that department's asset and finding, so a
message built from one department's events cannot name another's.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..reports.analysis import FAIL, PASS, WAIVED, Change, Doc, Index, compare, parse_time


class EventKind(enum.StrEnum):
    NEW_FAILURE = "new_failure"
    REGRESSION = "regression"
    UNREACHABLE = "unreachable"
    WAIVER_EXPIRING = "waiver_expiring"
    INCOMPLETE = "incomplete"
    SUMMARY = "summary"  # only with notify_when: always

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    EventKind.NEW_FAILURE: "new failure",
    EventKind.REGRESSION: "regression",
    EventKind.UNREACHABLE: "became unreachable",
    EventKind.WAIVER_EXPIRING: "waiver expiring",
    EventKind.INCOMPLETE: "run incomplete",
    EventKind.SUMMARY: "run summary",
}

# A waiver warning is about a standing condition, not this run: it is sent once
# per waiver and expiry, whichever run first sees it (the others are repeats).
ONCE_EVER = frozenset({EventKind.WAIVER_EXPIRING})


@dataclass(frozen=True)
class Event:
    kind: EventKind
    department: str
    key: str  # unique within the run; with the run id and recipient, the unit of "sent once"
    run: Mapping[str, Any]  # id, started, finished, status
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "department": self.department, "key": self.key, "run": dict(self.run), **self.data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        rest = {k: v for k, v in data.items() if k not in ("kind", "department", "key", "run")}
        return cls(EventKind(data["kind"]), data["department"], data["key"], data["run"], rest)


def events_for_run(
    doc: Doc,
    previous: Doc | None,
    *,
    now: dt.datetime,
    waiver_warning_days: int = 14,
    summary: bool = False,
) -> list[Event]:
    """Every event of ``doc`` against ``previous`` (the last run of the same schedule), per department."""
    index = Index(doc)
    comparison = compare(doc, previous)
    run = {k: doc["run"].get(k) for k in ("id", "started", "finished", "status")}
    events: list[Event] = []

    def asset_of(asset_id: str) -> dict[str, Any]:
        asset = index.assets[asset_id]
        return {"id": asset["id"], "name": asset.get("name"), "kind": asset.get("kind")}

    def finding_data(finding: Mapping[str, Any]) -> dict[str, Any]:
        rule = index.rule(finding["rule_id"])
        return {
            "asset": asset_of(finding["asset_id"]),
            "rule": {"id": finding["rule_id"], "title": rule.get("title", ""), "severity": finding.get("severity")},
            "fingerprint": finding["fingerprint"],
            "message": finding.get("message", ""),
        }

    horizon = now + dt.timedelta(days=waiver_warning_days)
    for department in index.departments:
        findings = index.findings_by_department[department]
        for finding in findings:
            change = comparison.changes.get(finding["fingerprint"])
            if change in (Change.NEW, Change.REGRESSED):
                kind = EventKind.NEW_FAILURE if change is Change.NEW else EventKind.REGRESSION
                events.append(Event(kind, department, f"{kind.value}:{finding['fingerprint']}", run, finding_data(finding)))
            waiver = finding.get("waiver") or {}
            ends = parse_time(waiver.get("ends"))
            if finding.get("status") == WAIVED and ends is not None and now <= ends <= horizon:
                data = finding_data(finding)
                data["waiver"] = {"id": waiver.get("id"), "ends": waiver.get("ends"), "ticket": waiver.get("ticket")}
                key = f"{EventKind.WAIVER_EXPIRING.value}:{finding['fingerprint']}:{waiver.get('ends')}"
                events.append(Event(EventKind.WAIVER_EXPIRING, department, key, run, data))
        events.extend(_unreachable(index, previous, department, run, asset_of))
        pending = [a for a in doc["assets"] if a["department"] == department and a.get("state") != "done"]
        if run["status"] != "complete" or pending:
            data = {"status": run["status"], "pending_assets": [asset_of(a["id"]) for a in pending]}
            events.append(Event(EventKind.INCOMPLETE, department, f"incomplete:{department}", run, data))
        if summary:
            score = index.score(department)
            tally = comparison.tally(f["fingerprint"] for f in findings)
            data = {
                "score": None if score.value is None else round(score.value, 1),
                "counts": {s: sum(1 for f in findings if f.get("status") == s) for s in (PASS, FAIL, "error", WAIVED)},
                "changes": {c.value: tally.get(c, 0) for c in Change},
                "assets": index.asset_counts[department],
            }
            events.append(Event(EventKind.SUMMARY, department, f"summary:{department}", run, data))
    return events


def _unreachable(index: Index, previous: Doc | None, department: str, run: Mapping[str, Any], asset_of: Any) -> list[Event]:
    """Assets that could not be assessed now but could be in the previous run (or had no previous run).

    Assets the run never reached (it ended first) are the ``incomplete`` event's.
    """
    before = {u.asset["id"] for u in Index(previous).unassessed(department)} if previous else set()
    events = []
    for item in index.unassessed(department):
        asset_id = item.asset["id"]
        if item.asset.get("state") != "done" or asset_id in before:
            continue
        data = {"asset": asset_of(asset_id), "reasons": list(item.reasons)}
        events.append(Event(EventKind.UNREACHABLE, department, f"unreachable:{asset_id}", run, data))
    return events
