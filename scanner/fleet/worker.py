"""What a worker does with one job: re-check scope, collect, push the outcome to the run's reply list.

The job function is the engine's own (:func:`scanner.engine.collect`): the
asset is admitted through the scope gate the job carries before any packet,
here on the worker, whatever the coordinator checked (defence in depth).
Advisory feeds and other datasets come from the worker's own store (``--db``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..engine import Job, collect
from ..models import CollectError, ErrorReason
from ..plugin import DatasetProvider, Registry
from . import keys
from .broker import BrokerConfig
from .limiter import FleetHostLimits

log = logging.getLogger("civiscan.worker")

# Mark an asset running only while the coordinator still waits for it.
_MARK_RUNNING = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], 'running')
end
return 0
"""


@dataclass
class WorkerState:
    config: BrokerConfig
    registry: Registry
    datasets: DatasetProvider | None
    executor: ThreadPoolExecutor
    client: Any
    name: str


_state: WorkerState | None = None
_lock = threading.Lock()


def configure(config: BrokerConfig, registry: Registry, datasets: DatasetProvider | None,
              threads: int, name: str | None = None) -> WorkerState:
    """Set what every job of this process uses (before the worker starts; a forked pool inherits it)."""
    global _state
    with _lock:
        _state = WorkerState(
            config, registry, datasets,
            ThreadPoolExecutor(max_workers=max(4, threads), thread_name_prefix="civiscan-job"),
            config.redis(), name or socket.gethostname(),
        )
    return _state


def _crash_outcome(job: Job, exc: BaseException) -> dict[str, Any]:
    message = f"worker crashed: {type(exc).__name__}: {exc}"[:500]
    return {
        "asset": job.asset.to_json(),
        "refused": None,
        "facts": {},
        "errors": {name: CollectError(ErrorReason.BUG, message).to_json() for name in job.plugins},
        "versions": {},
    }


def run_message(message: dict[str, Any]) -> None:
    """The Celery task: one job, its outcome pushed to the run's reply list."""
    state = _state
    if state is None:
        raise RuntimeError("worker not configured")
    job = Job.from_json(message["job"])
    attempt, run_key = str(message["attempt"]), str(message["run_key"])
    client = state.client
    if client.exists(keys.cancelled(attempt)):
        log.info("run %s: job for %s skipped (its scan was stopped)", job.run_id, job.asset.id)
        return
    client.eval(_MARK_RUNNING, 1, keys.states(run_key), job.asset.id)
    limits = FleetHostLimits(client, job.per_host, state.config.host_lease)
    try:
        outcome = asyncio.run(collect(job, state.registry, executor=state.executor,
                                      host_limits=limits, datasets=state.datasets))
    except Exception as exc:  # collect never raises; a broken worker must still answer
        log.exception("run %s: job for %s crashed", job.run_id, job.asset.id)
        outcome = _crash_outcome(job, exc)
    reply = json.dumps({"attempt": attempt, "worker": state.name, "outcome": outcome}, default=str)
    with client.pipeline() as pipe:
        pipe.rpush(keys.replies(run_key), reply)
        pipe.expire(keys.replies(run_key), keys.STATE_TTL_SECONDS)
        pipe.execute()


def register(app: Any) -> Any:
    return app.task(name=keys.TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(run_message)
