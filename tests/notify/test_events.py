"""Events computed from two run documents, per department (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from scanner.notify.events import EventKind, events_for_run
from scanner.store import RunStatus
from tests.notify.conftest import START, record_run

NOW = START + dt.timedelta(hours=1)


def kinds(events, department=None):
    return sorted((e.kind.value, e.data.get("asset", {}).get("id")) for e in events if department in (None, e.department))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("pass", "fail", [("new_failure", "parks/web")]),
        ("fail", "fail", []),
        ("fail", "pass", []),
        ("pass", "pass", []),
    ],
    ids=["new-failure", "still-failing-is-quiet", "fixed-is-quiet", "unchanged"],
)
def test_change_status_decides_the_event(store, before, after, expected):
    first = record_run(store, {"parks/web": {"tls.modern": before}})
    second = record_run(store, {"parks/web": {"tls.modern": after}}, started=START + dt.timedelta(minutes=30))
    events = events_for_run(store.document(second), store.document(first), now=NOW)
    assert kinds(events) == expected


def test_a_failure_that_comes_back_is_a_regression(store):
    record_run(store, {"parks/web": {"tls.modern": "fail"}})
    fixed = record_run(store, {"parks/web": {"tls.modern": "pass"}}, started=START + dt.timedelta(minutes=10))
    back = record_run(store, {"parks/web": {"tls.modern": "fail"}}, started=START + dt.timedelta(minutes=20))
    events = events_for_run(store.document(back), store.document(fixed), now=NOW)
    assert kinds(events) == [("regression", "parks/web")]


def test_an_asset_that_becomes_unreachable_is_told_once(store):
    first = record_run(store, {"parks/web": {"tls.modern": "pass"}})
    down = record_run(store, {"parks/web": {"tls.modern": "error"}}, unreachable=["parks/web"], started=START + dt.timedelta(minutes=10))
    still = record_run(store, {"parks/web": {"tls.modern": "error"}}, unreachable=["parks/web"], started=START + dt.timedelta(minutes=20))
    assert kinds(events_for_run(store.document(down), store.document(first), now=NOW)) == [("unreachable", "parks/web")]
    assert kinds(events_for_run(store.document(still), store.document(down), now=NOW)) == []


@pytest.mark.parametrize(
    ("ends", "warned"),
    [("2026-12-05T00:00:00+00:00", True), ("2027-03-01T00:00:00+00:00", False)],
    ids=["within-14-days", "months-away"],
)
def test_a_waiver_expiring_within_the_warning_days_is_an_event(store, ends, warned):
    run = record_run(store, {"parks/web": {"tls.modern": "waived"}}, waivers={("parks/web", "tls.modern"): ends})
    events = events_for_run(store.document(run), None, now=NOW, waiver_warning_days=14)
    assert (EventKind.WAIVER_EXPIRING in {e.kind for e in events}) is warned


def test_an_interrupted_run_tells_each_department_what_was_not_reached(store):
    run = record_run(
        store, {"parks/web": {"tls.modern": "pass"}}, pending=["parks/db", "records/vault"], status=RunStatus.INTERRUPTED
    )
    events = [e for e in events_for_run(store.document(run), None, now=NOW) if e.kind is EventKind.INCOMPLETE]
    assert {e.department: [a["id"] for a in e.data["pending_assets"]] for e in events} == {
        "parks": ["parks/db"],
        "records": ["records/vault"],
    }


def test_events_of_a_department_name_only_its_assets(store):
    first = record_run(store, {"parks/web": {"r": "pass"}, "records/vault": {"r": "pass"}})
    second = record_run(store, {"parks/web": {"r": "fail"}, "records/vault": {"r": "fail"}}, started=START + dt.timedelta(minutes=5))
    events = events_for_run(store.document(second), store.document(first), now=NOW, summary=True)
    for event in events:
        assert event.department in str(event.to_json())
        other = "records" if event.department == "parks" else "parks"
        assert other not in str(event.to_json())
