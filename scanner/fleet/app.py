"""The Celery app of the fleet, the same on the coordinator and on every worker.

* JSON only: ``accept_content=["json"]`` refuses a pickled message before it
  is decoded (a pickle is code); the task and event serializers are JSON too.
* At-least-once delivery: ``acks_late`` (a job is acknowledged after it ran),
  ``task_reject_on_worker_lost`` (a job whose pool process died goes back to
  the queue), prefetch 1 (a worker holds no more jobs than it runs). A worker
  that vanishes altogether leaves its jobs unacknowledged; the other workers'
  periodic sweep puts them back in their queue once the visibility timeout
  (:mod:`.broker`) has passed.
* No result backend: a job's outcome is pushed by the worker to the run's
  reply list (:mod:`.keys`), which the coordinator pops — one O(1) read per
  outcome, nothing to poll per job, and outcomes that arrive while no
  coordinator runs wait there for the resumed one. Outcomes carry their run and
  asset, and the store's write is per (run, asset), so a redelivered job never
  doubles a finding.
"""

from __future__ import annotations

from typing import Any

from . import keys
from .broker import BrokerConfig


def make_app(config: BrokerConfig) -> Any:
    from celery import Celery

    app = Celery("civiscan", broker=config.url, set_as_current=False)
    ssl_options = config.ssl_options()
    # Sweep for the jobs of vanished workers a few times per visibility timeout.
    sweep = max(1, min(10, int(config.visibility_timeout // 3)))
    app.conf.update(
        broker_password=config.password,
        broker_use_ssl=ssl_options,
        broker_transport_options={
            "visibility_timeout": config.visibility_timeout,
            "unacked_restore_interval": sweep,
            "unacked_restore_throttle": 1,
            # The sweep's lock: a worker killed while sweeping must not stop every sweep for
            # kombu's default 5 minutes. A sweep takes milliseconds; two at once restore a job
            # twice at worst, which the (run, asset) keying absorbs.
            "unacked_mutex_expire": max(5, 3 * sweep),
        },
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_default_queue=keys.DEFAULT_QUEUE,
        task_create_missing_queues=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app
