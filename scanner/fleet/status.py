"""Queued / running / done counts of the runs the celery engine scans, for ``civiscan runs``.

Done comes from the store; queued and running from the run's state hash in
Redis (:mod:`.keys`), which coordinator and workers keep as jobs move.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..store import RunStatus, Store
from . import keys
from .broker import ENV_URL, BrokerConfig


def fleet_lines(store: Store, runs: Sequence[Mapping[str, Any]], env: Mapping[str, str] | None = None) -> list[str]:
    """One line per unfinished celery run: ``run N (celery): Q queued, R running, D/T done``."""
    env = os.environ if env is None else env
    lines = []
    clients: dict[str, Any] = {}
    for row in runs:
        if row["status"] == RunStatus.COMPLETE.value:
            continue
        settings = store.run(int(row["id"])).settings
        if settings.get("engine") != "celery" or not settings.get("fleet_run"):
            continue
        done = f"{row['done']}/{row['assets']} done"
        url = env.get(ENV_URL) or str(settings.get("fleet_broker") or "")
        try:
            if url not in clients:
                clients[url] = BrokerConfig.load(url, env).redis()
            states = [s.decode() if isinstance(s, bytes) else s
                      for s in clients[url].hvals(keys.states(str(settings["fleet_run"])))]
        except Exception as exc:  # the broker may be gone; the store's part still shows
            reason = type(exc).__name__
            lines.append(f"run {row['id']} (celery): {done}; queue state unavailable ({reason})")
            continue
        lines.append(f"run {row['id']} (celery): {states.count('queued')} queued, "
                     f"{states.count('running')} running, {done}")
    for client in clients.values():
        client.close()
    return lines
