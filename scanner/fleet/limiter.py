"""The per-host connection limit, held across the whole fleet.

Locally, ``ctx.host_slot(address)`` takes one of ``per_host`` slots of an
asyncio semaphore per address. On workers the same call takes a slot of a
counting semaphore in Redis, so a fragile server sees at most ``per_host``
connections from all workers together, not ``per_host`` per worker.

The semaphore is the usual sorted-set pattern: the set ``civiscan:host:ADDR``
holds one member per slot held, scored with the time it was last renewed. A
Lua script (atomic in Redis) drops members older than the lease, then adds
ours if fewer than the limit remain. A holder renews its slot every third of
the lease; a worker that died stops renewing and its slot frees when the lease
runs out. Time is Redis's own clock, so workers' clocks need not agree.
Waiters poll with a growing delay (5 ms to 100 ms, jittered).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

from . import keys

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - lease)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
return 0
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
  return 1
end
return 0
"""


class HostSemaphore:
    """One address's fleet-wide slots: ``async with sem:`` holds one while the block runs."""

    def __init__(self, client: Any, address: str, limit: int, lease: float, scripts: tuple[Any, Any] | None = None) -> None:
        self._client = client
        self._key = keys.host(address)
        self._limit = max(1, int(limit))
        self._lease_ms = max(1000, int(lease * 1000))
        self._acquire, self._renew = scripts or scripts_of(client)
        self._held: contextlib.AbstractAsyncContextManager[None] | None = None

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        token = uuid.uuid4().hex
        delay = 0.005
        # redis-py's client is synchronous; one call on loopback or a LAN is well under a millisecond.
        while not self._acquire(keys=[self._key], args=[self._limit, self._lease_ms, token]):
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(0.1, delay * 2)

        async def renew() -> None:
            while True:
                await asyncio.sleep(self._lease_ms / 3000)
                self._renew(keys=[self._key], args=[self._lease_ms, token])

        renewing = asyncio.ensure_future(renew())
        try:
            yield
        finally:
            renewing.cancel()
            self._client.zrem(self._key, token)

    async def __aenter__(self) -> None:
        held = self._slot()
        await held.__aenter__()
        self._held = held

    async def __aexit__(self, *exc: Any) -> None:
        held, self._held = self._held, None
        if held is not None:
            await held.__aexit__(*exc)


def scripts_of(client: Any) -> tuple[Any, Any]:
    return client.register_script(_ACQUIRE), client.register_script(_RENEW)


class FleetHostLimits(dict[str, Any]):
    """What the engine lends as ``host_limits``: a fleet-wide semaphore for every address asked for."""

    def __init__(self, client: Any, per_host: int, lease: float) -> None:
        super().__init__()
        self._client, self._per_host, self._lease = client, per_host, lease
        self._scripts = scripts_of(client)

    def get(self, address: str, default: Any = None) -> Any:  # type: ignore[override]
        # A new semaphore object per use: each ``async with`` holds its own slot.
        return HostSemaphore(self._client, address, self._per_host, self._lease, self._scripts)
