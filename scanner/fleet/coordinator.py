"""``civiscan scan --engine celery``: enqueue one job per pending asset, store outcomes as they arrive.

The coordinator holds the run (its lease, as a local scan does), so a killed
coordinator's run is resumed like a local one: ``civiscan scan --resume RUN``
re-enqueues only the assets not yet stored. Each start is an *attempt*, named
by a random id: a resume first marks the previous attempt cancelled (workers
skip its jobs still queued), and outcomes that the previous attempt's jobs
pushed meanwhile are read from the run's reply list and stored, not run again.

An outcome is stored only for an asset the run still waits for, and the
store's write replaces any earlier one of the same (run, asset): a job
delivered twice never doubles a finding.

Ctrl-C (or SIGTERM) revokes the jobs not yet started (it marks the attempt
cancelled; workers drop its jobs), and leaves the run interrupted with every stored outcome kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kombu.exceptions
import redis.exceptions

from ..engine import Job, QuietObserver, RunSpec, store_outcome
from ..errors import ConfigError, Position
from ..models import Asset
from ..store import AssetState
from . import keys
from .broker import BrokerConfig

log = logging.getLogger("civiscan.fleet")

# The broker failing under the coordinator (this module is imported only by the celery engine).
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError, OSError,
)

# Seconds one blocking pop waits before the coordinator looks at its stop flag again.
POP_SECONDS = 1.0


def zone_of(asset: Asset) -> str | None:
    return getattr(asset, "zone", None)


@dataclass
class FleetRunner:
    """``RunSpec.runner`` for the celery engine."""

    config: BrokerConfig

    def check(self) -> None:
        """Refuse (ConfigError, exit 2) a broker that does not answer, before any run is created."""
        client = self.config.redis()
        try:
            client.ping()
        except Exception as exc:
            raise ConfigError.at(Position("<command line>"),
                                 f"broker {self.config.url} does not answer: {type(exc).__name__}: {exc}") from None
        finally:
            client.close()

    async def __call__(self, spec: RunSpec) -> None:
        await Coordinator(self.config, spec).run()


class Coordinator:
    def __init__(self, config: BrokerConfig, spec: RunSpec) -> None:
        self.config = config
        self.spec = spec
        self.client = config.redis()
        self.attempt = uuid.uuid4().hex[:16]
        self.run_key = ""
        self.waiting: dict[str, str] = {}  # asset id -> task id, not yet stored

    def _take_over(self) -> None:
        """Cancel the run's previous attempt and record ours with the run (for the next resume)."""
        store, run_id = self.spec.store, self.spec.run_id
        settings = dict(store.run(run_id).settings)
        self.run_key = str(settings.get("fleet_run") or uuid.uuid4().hex)
        settings["fleet_run"] = self.run_key
        previous = settings.get("fleet_attempt")
        if previous:
            self.client.set(keys.cancelled(str(previous)), 1, ex=keys.STATE_TTL_SECONDS)
        settings["fleet_attempt"] = self.attempt
        settings["fleet_broker"] = self.config.url  # never holds a password (scanner/fleet/broker.py)
        store.update_settings(run_id, settings)

    def _enqueue(self, app: Any) -> None:
        spec = self.spec
        states = keys.states(self.run_key)
        with self.client.pipeline() as pipe:
            pipe.delete(states)
            if self.waiting:
                pipe.hset(states, mapping=dict.fromkeys(self.waiting, "queued"))
                pipe.expire(states, keys.STATE_TTL_SECONDS)
            pipe.execute()
        by_id = {a.id: a for a in spec.assets}
        with app.producer_or_acquire() as producer:
            for asset_id, task_id in self.waiting.items():
                asset = by_id[asset_id]
                job = Job.build(spec.run_id, asset, spec.ruleset, spec.settings, spec.scope)
                app.send_task(keys.TASK, args=[{"attempt": self.attempt, "run_key": self.run_key, "job": job.to_json()}],
                              task_id=task_id, queue=keys.queue_for(zone_of(asset)), producer=producer,
                              serializer="json")

    def _pop(self, wait: bool = True) -> list[Mapping[str, Any]]:
        """Outcomes pushed so far (waiting up to POP_SECONDS for the first, if ``wait``)."""
        key = keys.replies(self.run_key)
        raw = []
        if wait:
            first = self.client.blpop([key], timeout=POP_SECONDS)
            if first is None:
                return []
            raw.append(first[1])
        with self.client.pipeline() as pipe:
            pipe.lrange(key, 0, 499)
            pipe.ltrim(key, 500, -1)
            more, _ = pipe.execute()
        raw.extend(more)
        out = []
        for item in raw:
            try:
                out.append(json.loads(item)["outcome"])  # the key names the run; the outcome names its asset
            except (ValueError, KeyError, TypeError):
                log.warning("run %s: a malformed reply was dropped", self.spec.run_id)
        return out

    def _store(self, outcomes: list[Mapping[str, Any]]) -> int:
        for outcome in outcomes:
            asset_id = outcome.get("asset", {}).get("id")
            if asset_id not in self.waiting:
                continue  # a duplicate, or another attempt's job already stored
            store_outcome(self.spec, outcome)
            del self.waiting[asset_id]
            self.client.hdel(keys.states(self.run_key), asset_id)
        return len(outcomes)

    def _cancel(self) -> None:
        """Revoke the attempt's jobs not yet run: workers drop every job of a cancelled attempt.

        One key per attempt instead of Celery's per-task revoke: a revoke lives
        in each running worker's memory only (a worker started later, or
        restarted, runs the job anyway) and costs a broadcast per job.
        """
        self.client.set(keys.cancelled(self.attempt), 1, ex=keys.STATE_TTL_SECONDS)
        if self.waiting:
            self.client.hdel(keys.states(self.run_key), *self.waiting)

    async def run(self) -> None:
        from .app import make_app

        spec = self.spec
        observer = spec.observer or QuietObserver()
        app = make_app(self.config)
        pending = {a.id for a in spec.store.assets(spec.run_id, state=AssetState.PENDING)}
        self.waiting = {a.id: keys.task_id(self.attempt, a.id) for a in spec.assets if a.id in pending}
        observer.started(len(spec.assets))
        stopped = False
        try:
            self._take_over()
            # Outcomes of a previous attempt that arrived while no coordinator ran: stored, not rerun.
            while self._store(self._pop(wait=False)):
                pass
            self._enqueue(app)
            # A worker killed between taking a job and recording it as unacknowledged loses
            # it for good (the broker's restore never sees it). After a silence that long the
            # unfinished jobs are sent again; a duplicate outcome is dropped by _store.
            resend_after = max(30.0, 2 * self.config.visibility_timeout)
            heard = time.monotonic()
            while self.waiting:
                if spec.stop is not None and spec.stop.is_set():
                    stopped = True
                    break
                if self._store(await asyncio.to_thread(self._pop)):
                    heard = time.monotonic()
                elif time.monotonic() - heard > resend_after:
                    log.warning("run %s: no outcome for %.0f s; sending the %d unfinished jobs again",
                                spec.run_id, resend_after, len(self.waiting))
                    self._enqueue(app)
                    heard = time.monotonic()
            if stopped:
                self._cancel()
            else:
                self.client.delete(keys.states(self.run_key), keys.replies(self.run_key))
        except BROKER_ERRORS as exc:
            # The broker is gone. What is stored stays; the run is left unfinished for a resume.
            log.error("run %s: the broker %s failed (%s: %s); %d assets not stored",
                      spec.run_id, self.config.url, type(exc).__name__, exc, len(self.waiting))
            with contextlib.suppress(Exception):
                self._cancel()
        except BaseException:
            # Ctrl-C / SIGTERM cancel this task: revoke what has not run, keep what is stored.
            with contextlib.suppress(Exception):
                self._cancel()
            raise
        finally:
            observer.finished()
            self.client.close()
