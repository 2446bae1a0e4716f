"""One run of a schedule, start to end: scan, publish, prune, notify.

The scan itself is :func:`scanner.scan.prepare` / :func:`~scanner.scan.start`
(or :func:`~scanner.scan.resume`) and :func:`~scanner.scan.execute`, the calls
behind ``civiscan scan``. A run happens in its own thread with its own store
connection; the loop (scanner/agent/loop.py) only decides when.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import scan as lib
from ..engine import ScanSettings
from ..errors import ConfigError, ExitCode
from ..evaluate import Finding
from ..inventory import Department, load_inventory
from ..models import Asset
from ..plugin import FactsVersionError, Registry
from ..policy import RuleSet
from ..store import DATASETS, RunHeld, RunStatus, Store, default_db_path, is_url
from .config import NotifyLoader, Schedule
from .logs import Log

SECURITY_OFFICE = "_security-office"  # never a department name: those start with a letter or digit


def notify_loader() -> NotifyLoader:
    """What turns a schedule's ``notifications:`` node into the notification library's config."""
    from ..notify import load_config

    return load_config


def store_path(schedule: Schedule) -> Path | str:
    """The schedule's store: a SQLite path or a ``postgresql://`` URL."""
    if schedule.db:
        return schedule.db if is_url(schedule.db) else Path(schedule.db)
    return default_db_path()


class Cutter:
    """The observer of a run that lets another thread stop it, then cut it short.

    :func:`scanner.scan.execute` runs its own event loop; ``started`` is called
    inside it, which is where the loop and the scan's task are learnt. ``cut``
    cancels that task from any thread: finished assets stay stored, the rest
    stay pending and the run is closed as interrupted.
    """

    def __init__(self) -> None:
        self.stop = threading.Event()  # RunSpec.stop: set, no further asset starts
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._cut = False

    def started(self, total: int) -> None:
        with self._lock:
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
            if self._cut and self._task is not None:
                self._task.cancel()

    def asset_started(self, asset: Asset) -> None:
        pass

    def asset_done(self, asset: Asset, findings: Sequence[Finding]) -> None:
        pass

    def finished(self) -> None:
        with self._lock:
            self._loop = self._task = None

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            if self._loop is not None and self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)


@dataclass(frozen=True)
class Outcome:
    run_id: int | None
    code: ExitCode
    error: str | None = None
    note: str | None = None  # nothing was done, and why (a re-judging schedule with nothing new)


def run(schedule: Schedule, slot: dt.datetime, registry: Registry, log: Log, cutter: Cutter,
        resume_id: int | None = None) -> Outcome:
    """Scan ``schedule`` for ``slot`` (or finish run ``resume_id``), then publish, prune, notify."""
    with Store(store_path(schedule)) as store:
        if resume_id is not None and store.run(resume_id).status is RunStatus.COMPLETE:
            # The scan finished but the agent died before publishing and notifying.
            log("run.catching_up", f"run {resume_id} of schedule {schedule.name} is complete; "
                "publishing and notifying it now", schedule=schedule.name, run=resume_id)
            after(store, schedule, resume_id, log)
            return Outcome(resume_id, ExitCode(store.run(resume_id).exit_code or 0))
        if schedule.rejudge is not None:
            return rejudge(schedule, slot, registry, log)
        try:
            if resume_id is not None:
                runner = lib.engine_runner(lib.run_engine(store, resume_id), schedule.scan.broker)
                spec = lib.resume(store, resume_id, registry, fail_on=schedule.fail_on, observer=cutter)
            else:
                plan = lib.prepare(lib.ScanRequest(schedule.policies, schedule.inventory, schedule.targets,
                                                   schedule.scope, {}, schedule.departments), registry)
                opts = schedule.scan
                settings = ScanSettings(timeout=opts.timeout, concurrency=opts.concurrency,
                                        per_host=opts.per_host, plugin_settings=dict(opts.settings))
                runner = lib.engine_runner(opts.engine, opts.broker)
                stamp = datasets_stamp(store, _datasets_of(plan.ruleset, registry))
                spec = lib.start(store, plan, registry, settings, fail_on=schedule.fail_on, observer=cutter,
                                 engine=opts.engine)
                store.update_settings(spec.run_id, {**store.run(spec.run_id).settings, STAMP: stamp})
                store.add_schedule_run(spec.run_id, schedule.name, slot)
        except (ConfigError, RunHeld) as exc:
            return Outcome(None, ExitCode.CONFIG, str(exc))
        spec = replace(spec, stop=cutter.stop, runner=runner)
        log("run.started", f"run {spec.run_id} of schedule {schedule.name}", schedule=schedule.name,
            run=spec.run_id, assets=len(spec.assets), resumed=resume_id is not None)
        code = lib.execute(spec)
        after(store, schedule, spec.run_id, log)
        return Outcome(spec.run_id, code)


# The run setting that records the state of the datasets a run was judged against.
STAMP = "datasets_stamp"


def _datasets_of(ruleset: RuleSet, registry: Registry) -> set[str]:
    """The datasets the checks of ``ruleset`` are lent when they evaluate."""
    return {
        name
        for rule in ruleset.rules
        for use in rule.checks
        if (check := registry.check(use.check_id)) is not None
        for name in check.datasets
    }


def datasets_stamp(store: Store, names: set[str]) -> str:
    """A digest of the state of datasets ``names``, to tell whether they changed.

    A dataset's first table is its catalogue (the store's ``DATASETS``): every
    import rewrites its row there (for the advisory feeds, ``feed_sources``:
    each feed's name, import time, date and size), so its rows tell the state.
    """
    digest = hashlib.sha256()
    for name in sorted(names):
        tables = DATASETS.get(name) or ()
        digest.update(name.encode() + b"\0")
        dataset = store.dataset(name) if tables else None
        if dataset is not None:
            with dataset.read() as conn:
                for row in conn.execute(f"SELECT * FROM {tables[0]} ORDER BY 1"):
                    digest.update(json.dumps(list(row), default=str).encode() + b"\n")
    return digest.hexdigest()[:32]


def rejudge(schedule: Schedule, slot: dt.datetime, registry: Registry, log: Log) -> Outcome:
    """Evaluate the latest run of ``schedule`` or of the schedule it names again, if the data changed.

    The source is the newest complete run of either schedule. When the state of
    the datasets the policies' checks read (:func:`datasets_stamp`) is the one
    that run was judged against, nothing is done; otherwise its stored facts are
    judged again as a new run of this schedule (no host is contacted), which is
    then published, pruned and notified like a scan.
    """
    from ..policy import load_policies

    with Store(store_path(schedule)) as store:
        try:
            ruleset = load_policies(schedule.policies, registry)
        except ConfigError as exc:
            return Outcome(None, ExitCode.CONFIG, str(exc))
        complete = [int(r["id"]) for name in {schedule.name, schedule.rejudge}
                    for r in store.schedule_runs(name) if r["status"] == RunStatus.COMPLETE.value]
        if not complete:
            return Outcome(None, ExitCode.COMPLIANT, note=f"schedule {schedule.rejudge} has no complete run to re-judge")
        source = max(complete)
        stamp = datasets_stamp(store, _datasets_of(ruleset, registry))
        if store.run(source).settings.get(STAMP) == stamp:
            return Outcome(source, ExitCode.COMPLIANT, note=f"the data run {source} was judged against is unchanged")
        try:
            new, code = lib.reevaluate(store, source, ruleset, registry, schedule.fail_on)
        except FactsVersionError as exc:
            return Outcome(None, ExitCode.CONFIG, f"cannot re-judge run {source}: {exc}")
        store.update_settings(new, {**store.run(new).settings, STAMP: stamp})
        store.add_schedule_run(new, schedule.name, slot)
        log("run.rejudged", f"run {new} of schedule {schedule.name}: run {source} judged again", schedule=schedule.name,
            run=new, source=source)
        after(store, schedule, new, log)
        return Outcome(new, code)


def after(store: Store, schedule: Schedule, run_id: int, log: Log) -> None:
    """Publish the run's reports, apply retention, notify; each step's failure is logged, not fatal."""
    doc = store.document(run_id)
    if schedule.reports:
        try:
            publish(store, doc, schedule, Path(schedule.reports))
        except OSError as exc:
            log("reports.failed", f"cannot write the reports of run {run_id}: {exc}", level="error",
                schedule=schedule.name, run=run_id)
    try:
        pruned = prune(store, schedule, run_id, dt.datetime.now(dt.UTC))
    except OSError as exc:
        log("retention.failed", str(exc), level="error", schedule=schedule.name)
    else:
        if pruned:
            log("retention", f"deleted runs {', '.join(map(str, pruned))}", schedule=schedule.name, deleted=pruned)
    if schedule.notifications is not None:
        notify(store, schedule, run_id, log)
    if doc["run"]["status"] == RunStatus.COMPLETE.value:
        # Settled: a restarted agent has nothing left to do for this run.
        store.close_schedule_runs([run_id])


class _Forward(logging.Handler):
    """The notification library logs to a :class:`logging.Logger`; its records become agent log lines."""

    def __init__(self, log: Log, **fields: Any) -> None:
        super().__init__()
        self.log, self.fields = log, fields

    def emit(self, record: logging.LogRecord) -> None:
        self.log("notify", record.getMessage(), level=record.levelname.lower(), **self.fields)


def notify(store: Store, schedule: Schedule, run_id: int, log: Log) -> None:
    """Tell each department of the run its own changes (scanner.notify never raises)."""
    from ..notify import send_for_run

    departments: tuple[Department, ...] = ()
    if schedule.inventory:
        try:  # the contacts as the inventory says now (it is read again at every run anyway)
            departments = tuple(load_inventory(schedule.inventory).departments)
        except ConfigError as exc:
            log("notify", f"department contacts unavailable: {exc.problems[0]}", level="error",
                schedule=schedule.name, run=run_id)
    logger = logging.Logger("civiscan.notify")
    logger.addHandler(_Forward(log, schedule=schedule.name, run=run_id))
    report = send_for_run(store, run_id, schedule.notifications, previous_run_id=store.previous_run(run_id),
                          departments=departments, log=logger)
    log("notify", f"run {run_id}: {report.sent} of {len(report.deliveries)} deliveries sent",
        level="info" if report.ok else "error", schedule=schedule.name, run=run_id,
        deliveries=[d.to_json() for d in report.deliveries], error=report.error)


def _folder(root: Path, name: str, run_id: int) -> Path:
    return root / name / f"run-{run_id}"


def publish(store: Store, doc: dict[str, Any], schedule: Schedule, root: Path) -> list[Path]:
    """Render each department's reports into its own folder and the organisation's into the office's.

    ``<root>/<department>/run-<id>/`` holds only that department's pages and
    machine files (``render(..., department=...)`` cuts the document first);
    ``<root>/_security-office/run-<id>/`` holds the whole run. Each folder is
    written under a temporary name and renamed into place, so a reader (a web
    server publishing the tree) never sees half a report; ``latest`` in each
    department folder then points at the newest run.
    """
    from ..reports import render

    run_id = int(doc["run"]["id"])
    previous_id = store.previous_run(run_id)
    previous = store.document(previous_id) if previous_id else None
    written = []
    for name, department in [*((d, d) for d in doc["departments"]), (SECURITY_OFFICE, None)]:
        final = _folder(root, name, run_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
        partial.mkdir()
        try:
            render(doc, list(schedule.formats), partial, previous=previous, department=department)
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)
        finally:
            if partial.exists():
                shutil.rmtree(partial)
        link = final.with_name(f".latest.{secrets.token_hex(6)}")
        link.symlink_to(final.name)
        os.replace(link, final.parent / "latest")
        written.append(final)
    return written


def schedule_runs(store: Store, schedule: str) -> list[tuple[int, dt.datetime]]:
    """The runs ``schedule`` made, oldest first, with their start."""
    return [(int(r["id"]), dt.datetime.fromisoformat(r["started"])) for r in store.schedule_runs(schedule)]


def expired(runs: Sequence[tuple[int, dt.datetime]], keep_runs: int | None, keep_days: int | None,
            now: dt.datetime, current: int) -> list[int]:
    """The runs retention deletes: beyond the newest ``keep_runs``, or older than ``keep_days``.

    The current run is always kept, whatever its age.
    """
    doomed: set[int] = set()
    if keep_runs is not None:
        doomed.update(run_id for run_id, _ in runs[: max(0, len(runs) - keep_runs)])
    if keep_days is not None:
        cutoff = now - dt.timedelta(days=keep_days)
        doomed.update(run_id for run_id, started in runs if started < cutoff)
    doomed.discard(current)
    return sorted(doomed)


def prune(store: Store, schedule: Schedule, current: int, now: dt.datetime) -> list[int]:
    """Delete expired runs: their report folders first, then their rows.

    In that order a crash in between leaves rows whose folders are gone, and
    the next pass deletes them; the other order would orphan folders for ever.
    """
    if schedule.keep_runs is None and schedule.keep_days is None:
        return []
    deleted = []
    for run_id in expired(schedule_runs(store, schedule.name), schedule.keep_runs, schedule.keep_days, now, current):
        record = store.run(run_id)
        if record.status is RunStatus.RUNNING:
            continue
        if schedule.reports:
            root = Path(schedule.reports)
            for folder in root.glob(f"*/run-{run_id}"):
                shutil.rmtree(folder)
        store.delete_run(run_id)
        deleted.append(run_id)
    return deleted
