"""The agent's loop: when each schedule runs, and what signals do.

The loop runs in the main thread (which receives the signals); each run of a
schedule gets a thread of its own (scanner/agent/runner.py), and a schedule
has at most one at a time in this process, and, through its lock in the store
(scanner/agent/locks.py), at most one across every agent on that store.

* SIGTERM, SIGINT: start nothing more (no run, no asset not yet started); give
  the assets being scanned ``grace`` seconds to finish, then cut them (finished assets are kept, the run is closed as
  interrupted and is resumed on the next start); publish; exit 0.
* SIGHUP: read the configuration again; an invalid one is logged and the
  running one kept.
"""

from __future__ import annotations

import datetime as dt
import random
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from ..errors import ConfigError, ExitCode
from ..lease import HEARTBEAT_SECONDS
from ..plugin import Registry
from ..policy import load_policies
from ..scan import ScanRequest, prepare
from ..store import RunStatus, Store
from . import locks, runner
from .config import AgentConfig, Schedule, load_config
from .logs import Log
from .status import ScheduleStatus, schedule_status, write_metrics

# How long a cut run may take to close after its grace (cancelling is prompt; this bounds a bug).
CLOSE_SECONDS = 30.0


def load(path: str, registry: Registry) -> AgentConfig:
    """The configuration at ``path`` with every schedule's policies and inventory loaded once.

    A schedule whose policy or inventory is broken makes the whole file
    invalid, at start and on reload, rather than failing at its first run.
    """
    config = load_config(path, registry, runner.notify_loader())
    for schedule in config.schedules:
        if schedule.rejudge is not None:
            load_policies(schedule.policies, registry)
            continue
        prepare(ScanRequest(schedule.policies, schedule.inventory, schedule.targets, schedule.scope, {},
                            schedule.departments), registry)
    return config


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Slot:
    """A schedule's state in this agent."""

    schedule: Schedule
    due: dt.datetime  # the slot's moment
    fire: dt.datetime  # the slot plus its jitter
    worker: threading.Thread | None = None
    cutter: runner.Cutter | None = None
    waiting: dt.datetime | None = None  # overlap: wait — the one slot to run when the worker ends
    results: list[runner.Outcome] = field(default_factory=list)


class Agent:
    def __init__(self, config: AgentConfig, registry: Registry, log: Log, *,
                 reload: Callable[[], AgentConfig] | None = None) -> None:
        self.config = config
        self.registry = registry
        self.log = log
        self._reload = reload
        self._wake = threading.Event()
        self._stop = False
        self._hup = False
        self._stores: dict[Path | str, Store] = {}
        self._slots: dict[str, _Slot] = {}
        self._retiring: list[_Slot] = []
        self._metrics: list[ScheduleStatus] | None = None
        self._random = random.SystemRandom()

    # --- signals ---------------------------------------------------------------

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True
        self._wake.set()

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._hup = True
        self._wake.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        if self._reload is not None:
            signal.signal(signal.SIGHUP, self._on_hup)

    # --- the loop --------------------------------------------------------------

    def store(self, schedule: Schedule) -> Store:
        path = runner.store_path(schedule)
        if path not in self._stores:
            self._stores[path] = Store(path)
        return self._stores[path]

    def _slot(self, schedule: Schedule, now: dt.datetime) -> _Slot:
        due = schedule.slot_after(now)
        return _Slot(schedule, due, due + dt.timedelta(seconds=self._random.uniform(0, schedule.jitter)))

    def serve(self) -> ExitCode:
        """Run schedules until SIGTERM or SIGINT; return the exit code (0)."""
        now = _now()
        self.log("agent.started", f"{len(self.config.schedules)} schedule(s) from {self.config.path}",
                 schedules=[s.name for s in self.config.schedules])
        self._slots = {s.name: self._slot(s, now) for s in self.config.schedules}
        self.recover()
        beat = now
        while not self._stop:
            if self._hup:
                self._hup = False
                self.reload()
            now = _now()
            self._reap()
            for slot in list(self._slots.values()):
                if slot.fire <= now:
                    self._due(slot, now)
            if (now - beat).total_seconds() >= HEARTBEAT_SECONDS:
                beat = now
                self._renew(now)
                self.write_metrics(now, refresh=False)
            nearest = min((s.fire for s in self._slots.values()), default=now + dt.timedelta(seconds=1))
            # Wake at least every second: a worker may end (overlap: wait) and heartbeats are due.
            self._wake.wait(max(0.01, min(1.0, (nearest - _now()).total_seconds())))
            self._wake.clear()
        self.shutdown()
        return ExitCode.COMPLIANT

    def once(self) -> ExitCode:
        """Run every schedule now (after finishing or closing interrupted runs), then return."""
        self.recover()
        now = _now()
        for schedule in self.config.schedules:
            slot = self._slots.setdefault(schedule.name, _Slot(schedule, now, now))
            if slot.worker is None:
                self._start(slot, now)
        while any(s.worker is not None for s in self._slots.values()) and not self._stop:
            self._wake.wait(0.2)
            self._wake.clear()
            self._reap()
        self.shutdown()
        if self._stop:  # stopped on purpose: what finished is stored, the rest resumes next time
            return ExitCode.COMPLIANT
        results = [r for s in self._slots.values() for r in s.results]
        incomplete = any(r.run_id is None or r.code in (ExitCode.INCOMPLETE, ExitCode.INTERRUPTED, ExitCode.INTERNAL)
                         for r in results)
        return ExitCode.INCOMPLETE if incomplete or not results else ExitCode.COMPLIANT

    def _due(self, slot: _Slot, now: dt.datetime) -> None:
        due = slot.due
        nxt = self._slot(slot.schedule, max(now, due))
        slot.due, slot.fire = nxt.due, nxt.fire
        if slot.worker is None:
            self._start(slot, due)
            return
        name = slot.schedule.name
        if slot.schedule.overlap == "wait":
            if slot.waiting is None:
                slot.waiting = due
                self.log("run.waiting", f"schedule {name}: the previous run is still running; this slot waits for it",
                         schedule=name, slot=due.isoformat())
            else:
                self.log("run.skipped", f"schedule {name}: a slot already waits; slot skipped", schedule=name,
                         slot=due.isoformat())
        else:
            self.log("run.skipped", f"schedule {name}: the previous run is still running; slot skipped",
                     schedule=name, slot=due.isoformat())

    def _start(self, slot: _Slot, due: dt.datetime, resume_id: int | None = None) -> None:
        schedule = slot.schedule
        claim = locks.acquire(self.store(schedule), schedule.name, None if resume_id else due, _now())
        if claim.outcome is locks.Outcome.HELD:
            holder = claim.holder.describe() if claim.holder else "another agent"
            self.log("run.skipped", f"schedule {schedule.name} is held by {holder}; slot skipped",
                     schedule=schedule.name, slot=due.isoformat())
            return
        if claim.outcome is locks.Outcome.DONE:
            self.log("run.skipped", f"schedule {schedule.name}: another agent ran this slot",
                     schedule=schedule.name, slot=due.isoformat())
            return
        if claim.holder is not None:
            self.log("lock.taken_over", f"schedule {schedule.name}: took over the lock of {claim.holder.describe()}, "
                     "which is no longer running", schedule=schedule.name)
        cutter = runner.Cutter()

        def work() -> None:
            try:
                outcome = runner.run(schedule, due, self.registry, self.log, cutter, resume_id)
            except Exception as exc:  # a crash of one run must not end the agent
                outcome = runner.Outcome(None, ExitCode.INTERNAL, f"{type(exc).__name__}: {exc}")
            finally:
                with Store(runner.store_path(schedule)) as store:
                    locks.release(store, schedule.name)
                self._wake.set()
            slot.results.append(outcome)
            if outcome.error:
                self.log("run.failed", f"schedule {schedule.name}: {outcome.error}", level="error",
                         schedule=schedule.name)
            elif outcome.note:
                self.log("run.skipped", f"schedule {schedule.name}: {outcome.note}", schedule=schedule.name,
                         run=outcome.run_id)
            else:
                self.log("run.finished", f"run {outcome.run_id} of schedule {schedule.name}: {outcome.code.name.lower()}",
                         schedule=schedule.name, run=outcome.run_id, exit_code=int(outcome.code))

        slot.cutter = cutter
        slot.worker = threading.Thread(target=work, name=f"civiscan-{schedule.name}", daemon=True)
        slot.worker.start()

    def _every(self) -> list[_Slot]:
        return [*self._slots.values(), *self._retiring]

    def _reap(self) -> None:
        ended = False
        self._retiring = [s for s in self._retiring if s.worker is not None and s.worker.is_alive()]
        for slot in self._slots.values():
            if slot.worker is not None and not slot.worker.is_alive():
                slot.worker.join()
                slot.worker = slot.cutter = None
                ended = True
                if slot.waiting is not None and not self._stop:
                    waiting, slot.waiting = slot.waiting, None
                    self._start(slot, waiting)
        if ended:
            self.write_metrics(_now())

    def _renew(self, now: dt.datetime) -> None:
        for slot in self._every():
            if slot.worker is not None:
                locks.renew(self.store(slot.schedule), slot.schedule.name, now)

    def recover(self) -> None:
        """Finish what agents which died (or were stopped) left undone.

        Opening the store already closed the runs of dead holders as
        ``interrupted``; ``on_interrupted`` decides whether the latest such run
        of each schedule is finished now (``resume``) or left closed (``close``).
        A run that completed but whose agent died before its reports and
        notifications were out is published and notified now (a run is
        *settled* once that is done). Only each schedule's latest unsettled
        run is taken up; older ones are settled as they are.
        """
        for schedule in self.config.schedules:
            store = self.store(schedule)
            rows = store.unsettled_schedule_runs(schedule.name)
            if not rows:
                continue
            latest, status = rows[-1]
            take = latest if status is RunStatus.COMPLETE or self.config.on_interrupted == "resume" else None
            closed = [run_id for run_id, state in rows if state is RunStatus.INTERRUPTED and run_id != take]
            store.close_schedule_runs(run_id for run_id, _state in rows if run_id != take)
            if closed:
                self.log("run.closed", f"schedule {schedule.name}: run(s) {', '.join(map(str, closed))} left "
                         "unfinished are closed as interrupted", schedule=schedule.name, runs=closed)
            if take is not None:
                if status is RunStatus.INTERRUPTED:
                    self.log("run.resuming", f"schedule {schedule.name}: resuming interrupted run {take}",
                             schedule=schedule.name, run=take)
                slot = self._slots.setdefault(schedule.name, self._slot(schedule, _now()))
                self._start(slot, _now(), resume_id=take)

    def reload(self) -> None:
        assert self._reload is not None
        try:
            config = self._reload()
        except ConfigError as exc:
            self.log("config.invalid", f"the configuration was not reloaded; keeping the running one: {exc.problems[0]}",
                     level="error", problems=[str(p) for p in exc.problems])
            return
        now = _now()
        slots = {}
        for schedule in config.schedules:
            old = self._slots.get(schedule.name)
            if old is not None and old.schedule == schedule:
                slots[schedule.name] = old
                continue
            new = self._slot(schedule, now)
            if old is not None:  # changed: a run in progress finishes under the old settings
                new.worker, new.cutter, new.results = old.worker, old.cutter, old.results
            slots[schedule.name] = new
        # A removed schedule's running run still finishes; it is reaped, never scheduled again.
        self._retiring += [old for name, old in self._slots.items() if name not in slots and old.worker is not None]
        self._slots, self.config, self._metrics = slots, config, None
        self.log("config.reloaded", f"{len(config.schedules)} schedule(s) from {config.path}",
                 schedules=[s.name for s in config.schedules])

    def shutdown(self) -> None:
        """Let running runs finish within the grace period, cut the rest, and close the stores."""
        running = [s for s in self._every() if s.worker is not None]
        if running:
            self.log("agent.stopping", f"waiting up to {self.config.grace:g}s for {len(running)} run(s)",
                     schedules=[s.schedule.name for s in running])
        for slot in running:
            if slot.cutter is not None:
                slot.cutter.stop.set()
        deadline = _now() + dt.timedelta(seconds=self.config.grace)
        for slot in running:
            assert slot.worker is not None
            slot.worker.join(max(0.0, (deadline - _now()).total_seconds()))
        for slot in running:
            assert slot.worker is not None
            if slot.worker.is_alive() and slot.cutter is not None:
                self.log("run.cut", f"schedule {slot.schedule.name}: grace period over; the run is cut "
                         "(finished assets are kept)", level="warning", schedule=slot.schedule.name)
                slot.cutter.cut()
        for slot in running:
            assert slot.worker is not None
            slot.worker.join(CLOSE_SECONDS)
        self._reap_quietly()
        self.write_metrics(_now())
        for store in self._stores.values():
            store.close()
        self.log("agent.stopped", "stopped")

    def _reap_quietly(self) -> None:
        for slot in self._every():
            if slot.worker is not None and not slot.worker.is_alive():
                slot.worker = slot.cutter = None

    def write_metrics(self, now: dt.datetime, *, refresh: bool = True) -> None:
        """Rewrite the metrics file; ``refresh=False`` (a heartbeat) keeps the last figures.

        Scores come from a whole run document, too costly to read every 10 s
        for a city; they only change when a run ends anyway.
        """
        if not self.config.metrics_file:
            return
        try:
            if refresh or self._metrics is None:
                self._metrics = [schedule_status(self.store(s), s, now, scores=True) for s in self.config.schedules]
            write_metrics(self.config.metrics_file, self._metrics, now)
        except OSError as exc:
            self.log("metrics.failed", f"{self.config.metrics_file}: {exc}", level="error")

