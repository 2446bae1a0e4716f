"""What each schedule did and will do: ``civiscan agent status`` and the monitoring textfile.

The textfile is the Prometheus node-exporter textfile-collector format
(docs/agent.md lists the metrics); it is rewritten atomically, so the
collector reads the previous file or the new one, never a torn one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ExitCode
from ..fsutil import atomic_write
from ..output import inert
from ..store import RunStatus, Store
from ..timeutil import readable_time
from .config import Schedule

_FAILED_CODES = (int(ExitCode.CONFIG), int(ExitCode.INCOMPLETE), int(ExitCode.INTERNAL), int(ExitCode.INTERRUPTED))


@dataclass(frozen=True)
class ScheduleStatus:
    name: str
    next_slot: dt.datetime
    last_run: int | None = None
    last_status: str | None = None
    last_exit: int | None = None
    last_started: dt.datetime | None = None
    last_finished: dt.datetime | None = None
    last_success: dt.datetime | None = None
    failures: int = 0
    held_by: str | None = None
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.last_started and self.last_finished:
            return (self.last_finished - self.last_started).total_seconds()
        return None


def _when(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def schedule_status(store: Store, schedule: Schedule, now: dt.datetime, *, scores: bool = False) -> ScheduleStatus:
    """The schedule's last run and next slot, from the store (any agent's runs count)."""
    rows = store.schedule_runs(schedule.name)[::-1]
    failures = sum(1 for r in rows if r["status"] == RunStatus.INTERRUPTED or r["exit_code"] in _FAILED_CODES)
    success = next((r for r in rows if r["status"] == "complete" and r["exit_code"] in (0, 1)), None)
    holder = store.schedule_holder(schedule.name)
    by_department: dict[str, float] = {}
    if scores and success is not None:
        from ..reports.analysis import Index

        index = Index(store.document(int(success["id"])))
        by_department = {d: v for d in index.departments if (v := index.score(d).value) is not None}
    last = rows[0] if rows else None
    return ScheduleStatus(
        schedule.name,
        schedule.slot_after(now),
        last_run=int(last["id"]) if last else None,
        last_status=last["status"] if last else None,
        last_exit=last["exit_code"] if last else None,
        last_started=_when(last["started"]) if last else None,
        last_finished=_when(last["finished"]) if last else None,
        last_success=_when(success["finished"]) if success else None,
        failures=failures,
        held_by=holder.describe() if holder else None,
        scores=by_department,
    )


def status_table(rows: Sequence[ScheduleStatus]) -> str:
    header = ("schedule", "last run", "result", "exit", "finished", "next run")
    lines = [header]
    for s in rows:
        result = s.last_status or "-"
        if s.held_by:
            result = f"{result} (held by {s.held_by})"
        lines.append((
            s.name,
            str(s.last_run) if s.last_run is not None else "-",
            result,
            str(s.last_exit) if s.last_exit is not None else "-",
            readable_time(s.last_finished) if s.last_finished else "-",
            readable_time(s.next_slot),
        ))
    widths = [max(len(inert(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(inert(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() for line in lines)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


_METRICS = (
    ("civiscan_agent_last_success_timestamp_seconds", "gauge", "When the schedule's last complete run finished (Unix time)."),
    ("civiscan_agent_run_failures_total", "counter", "Runs of the schedule that were interrupted or could not assess everything."),
    ("civiscan_agent_last_run_duration_seconds", "gauge", "Wall time of the schedule's last finished run."),
    ("civiscan_agent_last_run_exit_code", "gauge", "Exit code of the schedule's last finished run (0 compliant, 1 failures, 3 incomplete, 130 interrupted)."),
    ("civiscan_agent_department_score", "gauge", "Compliance score (percent) of each department in the schedule's last complete run."),
    ("civiscan_agent_heartbeat_timestamp_seconds", "gauge", "When the agent last wrote this file (Unix time)."),
)


def metrics_text(rows: Iterable[ScheduleStatus], now: dt.datetime) -> str:
    samples: dict[str, list[str]] = {name: [] for name, _, _ in _METRICS}
    for s in rows:
        label = f'schedule="{_label(s.name)}"'
        if s.last_success:
            samples["civiscan_agent_last_success_timestamp_seconds"].append(f"{{{label}}} {s.last_success.timestamp():.3f}")
        samples["civiscan_agent_run_failures_total"].append(f"{{{label}}} {s.failures}")
        if s.duration is not None:
            samples["civiscan_agent_last_run_duration_seconds"].append(f"{{{label}}} {s.duration:.3f}")
        if s.last_exit is not None:
            samples["civiscan_agent_last_run_exit_code"].append(f"{{{label}}} {s.last_exit}")
        for department, value in sorted(s.scores.items()):
            samples["civiscan_agent_department_score"].append(
                f'{{{label},department="{_label(department)}"}} {value:.2f}')
    samples["civiscan_agent_heartbeat_timestamp_seconds"].append(f" {now.timestamp():.3f}")
    out = []
    for name, kind, help_text in _METRICS:
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        out += [f"{name}{sample}" for sample in samples[name]]
    return "\n".join(out) + "\n"


def write_metrics(path: str, rows: Iterable[ScheduleStatus], now: dt.datetime) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # 0o644: node-exporter runs as its own user and must read it.
    atomic_write(target, metrics_text(rows, now), mode=0o644)
