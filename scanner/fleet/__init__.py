"""The distributed engine: the same per-asset jobs on Celery workers, with Redis as broker.

* :mod:`.broker` — where the broker is and how to reach it (password and TLS
  from the environment, never argv);
* :mod:`.app` — the Celery app both sides share (JSON only, late acks);
* :mod:`.worker` — what a worker does with one job (``civiscan worker``);
* :mod:`.coordinator` — ``civiscan scan --engine celery``: enqueue, then
  judge and store each outcome as it arrives;
* :mod:`.limiter` — the per-host connection limit, held across the fleet;
* :mod:`.keys` — the Redis keys both sides use.

Nothing here imports Celery until a fleet command runs (docs/scale-out.md, "Fleet").
"""
