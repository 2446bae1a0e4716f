"""Who holds a run: the process scanning it, recognisable after its pid is reused.

A run being scanned records its holder (pid, host, and the process's start
time) and a heartbeat the holder renews every :data:`HEARTBEAT_SECONDS`. On the
holder's own host, liveness is decided from ``/proc``: the pid must exist *and*
have started at the recorded moment, so a dead holder whose pid was given to
another process is still dead. A holder on another host (a store on a shared
volume) cannot be probed: it is presumed dead once its heartbeat is older than
:data:`STALE_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_SECONDS = 10.0
# Six missed heartbeats: a holder elsewhere that has not renewed for a minute is gone.
STALE_SECONDS = 60.0


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_start(pid: int) -> str | None:
    """``BOOT_ID:TICKS`` when ``pid`` runs here (``""`` when /proc cannot tell), None when it does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        stat = ""
    if stat:
        # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and fields[0] in ("Z", "X"):  # exited, not yet reaped by its parent
            return None
        return f"{_boot_id()}:{fields[19]}" if len(fields) > 19 else ""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    start: str

    @classmethod
    def current(cls) -> Holder:
        return cls(os.getpid(), socket.gethostname(), process_start(os.getpid()) or "")

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def is_alive(holder: Holder, heartbeat: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether ``holder`` still holds its run (see the module docstring)."""
    fresh = heartbeat is not None and (now - heartbeat).total_seconds() < STALE_SECONDS
    if holder.host != socket.gethostname():
        return fresh
    start = process_start(holder.pid)
    if start is None:
        return False
    if start and holder.start:
        return start == holder.start
    # No /proc on one side: a live pid proves little (it may be reused), the heartbeat decides.
    return fresh
