"""One holder per schedule, across every agent on a store, surviving crashes.

A schedule's lock is a row of the store's ``agent_schedules`` table naming its
holder the way a run's lease does (pid, host, process start time; see
:mod:`scanner.lease`, whose liveness test decides here too). Taking it is one
``BEGIN IMMEDIATE`` transaction, so two agents deciding at the same moment are
serialised by SQLite: the second sees the first as a live holder. The row also
keeps the last slot run, so a slot one agent has run is never run again by
another that woke a moment later. A holder that died (SIGKILL, power loss) is
taken over by the next agent that wants the schedule.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from ..lease import Holder, is_alive
from ..store import SqliteStore as Store


class Outcome(enum.StrEnum):
    TAKEN = "taken"
    HELD = "held"  # a live holder has it
    DONE = "done"  # the slot has been run already


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    holder: Holder | None = None  # HELD: who; TAKEN: the dead holder taken over, if any


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def acquire(store: Store, schedule: str, slot: dt.datetime | None, now: dt.datetime) -> Claim:
    """Take ``schedule`` for ``slot`` (None: a resumed run, no new slot)."""
    me = Holder.current()
    with store.transaction() as conn:
        row = conn.execute("SELECT * FROM agent_schedules WHERE name=?", (schedule,)).fetchone()
        stale = None
        if row is not None and row["holder_pid"] is not None:
            holder = Holder(int(row["holder_pid"]), row["holder_host"] or "", row["holder_start"] or "")
            beat = dt.datetime.fromisoformat(row["heartbeat"]) if row["heartbeat"] else None
            if is_alive(holder, beat, now):
                return Claim(Outcome.HELD, holder)
            stale = holder
        last = row["last_slot"] if row is not None else None
        if slot is not None and last and dt.datetime.fromisoformat(last) >= slot:
            # The slot was run; a dead holder's row is freed all the same.
            if stale is not None:
                conn.execute("UPDATE agent_schedules SET holder_pid=NULL WHERE name=?", (schedule,))
            return Claim(Outcome.DONE)
        conn.execute(
            "INSERT INTO agent_schedules (name, holder_pid, holder_host, holder_start, heartbeat, last_slot)"
            " VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET holder_pid=excluded.holder_pid,"
            " holder_host=excluded.holder_host, holder_start=excluded.holder_start,"
            " heartbeat=excluded.heartbeat, last_slot=COALESCE(excluded.last_slot, last_slot)",
            (schedule, me.pid, me.host, me.start, _stamp(now), _stamp(slot) if slot else None),
        )
    return Claim(Outcome.TAKEN, stale)


def renew(store: Store, schedule: str, now: dt.datetime) -> None:
    me = Holder.current()
    with store.transaction() as conn:
        conn.execute(
            "UPDATE agent_schedules SET heartbeat=? WHERE name=? AND holder_pid=? AND holder_host=? AND holder_start=?",
            (_stamp(now), schedule, me.pid, me.host, me.start),
        )


def release(store: Store, schedule: str) -> None:
    me = Holder.current()
    with store.transaction() as conn:
        conn.execute(
            "UPDATE agent_schedules SET holder_pid=NULL, holder_host=NULL, holder_start=NULL"
            " WHERE name=? AND holder_pid=? AND holder_host=? AND holder_start=?",
            (schedule, me.pid, me.host, me.start),
        )


def last_slot(store: Store, schedule: str) -> dt.datetime | None:
    row = next(iter(store.query("SELECT last_slot FROM agent_schedules WHERE name=?", (schedule,))), None)
    return dt.datetime.fromisoformat(row[0]) if row is not None and row[0] else None
