"""The Redis keys of the fleet, besides the broker's own queues.

Everything is under ``civiscan:`` so a shared Redis can hold other data.
"""

from __future__ import annotations

import hashlib

DEFAULT_QUEUE = "civiscan"
ZONE_PREFIX = "civiscan.zone."
TASK = "civiscan.job"
# How long a run's fleet state (replies, asset states) outlives its last write.
STATE_TTL_SECONDS = 7 * 24 * 3600


def queue_for(zone: str | None) -> str:
    """The queue of an asset's network zone; the default queue for assets with none."""
    return f"{ZONE_PREFIX}{zone}" if zone else DEFAULT_QUEUE


# A run's fleet key is a random id stored with the run (its settings' ``fleet_run``), not
# its number: two stores sharing one broker both have a run 1.


def replies(run_key: str) -> str:
    """A list: each worker pushes one outcome per finished job; the coordinator pops them."""
    return f"civiscan:run:{run_key}:replies"


def states(run_key: str) -> str:
    """A hash asset id -> ``queued`` | ``running`` of the jobs not yet stored."""
    return f"civiscan:run:{run_key}:states"


def cancelled(attempt: str) -> str:
    """Set when the coordinator that enqueued ``attempt`` revoked it (Ctrl-C or a resume)."""
    return f"civiscan:attempt:{attempt}:cancelled"


def host(address: str) -> str:
    """A sorted set of the connection slots held to ``address`` across the fleet."""
    return f"civiscan:host:{address}"


def task_id(attempt: str, asset_id: str) -> str:
    """One job's Celery task id: the same asset in the same attempt always gets the same one."""
    digest = hashlib.sha256(asset_id.encode()).hexdigest()[:16]
    return f"civiscan-{attempt}-{digest}"
