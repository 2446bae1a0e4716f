"""The agent's pure parts and its store pieces: slots, retention choice, metrics, locks, delete_run."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from scanner.agent import locks
from scanner.agent.config import Schedule, parse_duration
from scanner.agent.runner import expired
from scanner.agent.status import ScheduleStatus, metrics_text
from scanner.lease import Holder
from scanner.policy import RuleSet
from scanner.store import RunHeld, RunStatus, Store

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "text,seconds",
    [("2s", 2.0), ("500ms", 0.5), ("5m", 300.0), ("1.5h", 5400.0), ("1d", 86400.0), (3, 3.0), ("soon", None), (True, None)],
    ids=["seconds", "milliseconds", "minutes", "hours", "days", "bare-number", "word", "boolean"],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "cron,timezone,after,expected",
    [
        ("0 2 * * *", "UTC", "2026-03-01T02:00:00+00:00", "2026-03-02T02:00:00+00:00"),
        ("0 2 * * *", "Europe/Berlin", "2026-01-10T12:00:00+00:00", "2026-01-11T01:00:00+00:00"),
        ("0 2 * * *", "Europe/Berlin", "2026-07-10T12:00:00+00:00", "2026-07-11T00:00:00+00:00"),
    ],
    ids=["utc", "berlin-winter", "berlin-summer"],
)
def test_cron_slots_follow_the_schedules_time_zone(cron, timezone, after, expected):
    schedule = Schedule("s", ("baseline",), cron=cron, timezone=timezone, targets=("127.0.0.1",))
    assert schedule.slot_after(at(after)) == at(expected)


def test_interval_slots_are_the_same_for_every_agent():
    schedule = Schedule("s", ("baseline",), interval=2.0, targets=("127.0.0.1",))
    first = schedule.slot_after(at("2026-03-01T00:00:00.300+00:00"))
    assert first == at("2026-03-01T00:00:02+00:00") == schedule.slot_after(at("2026-03-01T00:00:01.900+00:00"))


RUNS = [(i, at(f"2026-03-{i:02d}T00:00:00+00:00")) for i in range(1, 6)]
NOW = at("2026-03-06T00:00:00+00:00")


@pytest.mark.parametrize(
    "keep_runs,keep_days,current,doomed",
    [(2, None, 5, [1, 2, 3]), (None, 3, 5, [1, 2]), (4, 2, 5, [1, 2, 3]), (1, None, 4, [1, 2, 3]), (None, None, 5, [])],
    ids=["keep-runs", "keep-days", "both", "current-kept", "none"],
)
def test_retention_picks_runs_beyond_the_count_or_older_than_the_days(keep_runs, keep_days, current, doomed):
    assert expired(RUNS, keep_runs, keep_days, NOW, current) == doomed


def test_metrics_are_node_exporter_text_with_escaped_labels():
    row = ScheduleStatus('we"ird\\', NOW, last_run=3, last_exit=1, failures=2, scores={"parks": 87.5},
                         last_started=NOW, last_finished=NOW + dt.timedelta(seconds=4), last_success=NOW)
    text = metrics_text([row], NOW)
    assert 'civiscan_agent_department_score{schedule="we\\"ird\\\\",department="parks"} 87.50' in text
    assert 'civiscan_agent_last_run_duration_seconds{schedule="we\\"ird\\\\"} 4.000' in text
    assert "# TYPE civiscan_agent_run_failures_total counter" in text
    assert text.endswith(f"civiscan_agent_heartbeat_timestamp_seconds {NOW.timestamp():.3f}\n")


def _dead_holder() -> Holder:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid is no process now
    me = Holder.current()
    return Holder(child.pid, me.host, "0:1")


def test_a_lock_of_a_dead_process_is_taken_over_and_a_live_one_is_not(tmp_path):
    store = Store(tmp_path / "s.db")
    dead = _dead_holder()
    with store.transaction() as conn:
        conn.execute("INSERT INTO agent_schedules (name, holder_pid, holder_host, holder_start, heartbeat)"
                     " VALUES ('lab', ?, ?, ?, ?)", (dead.pid, dead.host, dead.start, NOW.isoformat()))
    claim = locks.acquire(store, "lab", NOW, dt.datetime.now(UTC))
    assert (claim.outcome, claim.holder) == (locks.Outcome.TAKEN, dead)
    assert locks.acquire(Store(tmp_path / "s.db"), "lab", NOW + dt.timedelta(hours=1), dt.datetime.now(UTC)).outcome \
        is locks.Outcome.HELD  # held by this (live) process


def test_a_slot_once_run_is_not_run_again(tmp_path):
    store = Store(tmp_path / "s.db")
    assert locks.acquire(store, "lab", NOW, NOW).outcome is locks.Outcome.TAKEN
    locks.release(store, "lab")
    assert locks.acquire(store, "lab", NOW, NOW).outcome is locks.Outcome.DONE
    assert locks.acquire(store, "lab", NOW + dt.timedelta(seconds=1), NOW).outcome is locks.Outcome.TAKEN


def test_delete_run_removes_its_rows_and_refuses_a_run_being_scanned(tmp_path):
    store = Store(tmp_path / "s.db")
    ruleset = RuleSet((), (), ())
    done = store.create_run(ruleset, (), {}, NOW)
    store.finish_run(done, RunStatus.COMPLETE, 0, NOW)
    live = store.create_run(ruleset, (), {}, NOW)
    store.delete_run(done)
    assert store.resolve_run(done) is None
    with pytest.raises(RunHeld):
        store.delete_run(live)
    assert store.resolve_run(live) == live


@pytest.mark.parametrize("fmt", ["text", "json"], ids=["text", "json"])
def test_log_lines_keep_target_text_inert(fmt):
    import io
    import json

    from scanner.agent.logs import Log

    out = io.StringIO()
    Log(fmt, out)("run.failed", "asset \x1b]0;owned\x07 failed", schedule="lab", asset="a\nb")
    (line,) = out.getvalue().splitlines()
    assert "\x1b" not in line and "\x07" not in line
    if fmt == "json":
        assert json.loads(line)["message"] == "asset \x1b]0;owned\x07 failed"
    else:
        assert "\\x1b]0;owned\\x07" in line and "asset=a\\x0ab" in line
