"""Scores per run from stored counts, the trend line, and remediation deadlines at their boundaries."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from scanner.history import deadline, point, score, score_counts, trend

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SLA = {"critical": 7, "high": 30}


def findings(*pairs: tuple[str, str, int]) -> list[dict[str, str]]:
    return [{"status": s, "severity": v} for s, v, n in pairs for _ in range(n)]


@pytest.mark.parametrize(
    "pairs",
    [
        (("pass", "high", 3), ("fail", "critical", 1)),
        (("waived", "low", 2), ("error", "medium", 1), ("not_applicable", "high", 5)),
        (("fail", "info", 4),),
    ],
    ids=["weighted", "waived-error-na", "info-only"],
)
def test_score_from_counts_equals_score_from_findings(pairs):
    counts = Counter({(s, v): n for s, v, n in pairs})
    assert score_counts(counts) == score(findings(*pairs))


def test_a_point_sums_only_the_departments_asked_for():
    counts = {"parks": (2, {("pass", "high"): 1, ("fail", "high"): 1}), "water": (1, {("fail", "high"): 1})}
    row = {"id": 3, "started": "2026-11-20T10:00:00+00:00", "status": "complete", "policy_key": "baseline"}
    parks = point(row, counts, ["parks"])
    assert (parks.assets, parks.score.value) == (2, 50.0)
    assert point(row, counts).score.value == pytest.approx(100 / 3)


def test_trend_runs_from_the_first_to_the_last_scored_run():
    row = {"started": "", "status": "complete", "policy_key": "b"}
    points = [
        point({**row, "id": 1}, {"parks": (1, {("fail", "high"): 1})}),
        point({**row, "id": 2}, {"parks": (1, {})}),  # nothing scored: left out
        point({**row, "id": 3}, {"parks": (1, {("pass", "high"): 1})}),
    ]
    assert trend(points) == "0.0% in run 1 -> 100.0% in run 3 (+100.0 points over 2 runs)"


@pytest.mark.parametrize(
    ("age", "severity", "text", "overdue"),
    [
        (timedelta(days=12), "high", "failing for 12 days — due in 18 days", False),
        (timedelta(days=29, hours=23), "high", "failing for 29 days — due in 1 day", False),
        (timedelta(days=30), "high", "failing for 30 days — due today", False),
        (timedelta(days=31), "high", "failing for 31 days — overdue by 1 day", True),
        (timedelta(days=10), "critical", "failing for 10 days — overdue by 3 days", True),
        (timedelta(hours=3), "critical", "failing for 0 days — due in 7 days", False),
        (timedelta(days=400), "info", "failing for 400 days — no remediation deadline for this severity", False),
    ],
    ids=["within", "last-day-before", "due-day", "day-after", "overdue", "just-seen", "no-deadline"],
)
def test_deadline_counts_whole_days_from_first_seen(age, severity, text, overdue):
    due = deadline((NOW - age).isoformat(), severity, SLA, NOW)
    assert due is not None
    assert (due.text, due.overdue) == (text, overdue)


def test_a_finding_never_seen_before_has_no_deadline_yet():
    assert deadline(None, "critical", SLA, NOW) is None
