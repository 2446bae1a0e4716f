"""One holder per schedule, across every agent on a store, surviving crashes.

A schedule's lock is a row of the store's ``agent_schedules`` table naming its
holder the way a run's lease does (pid, host, process start time; see
:mod:`scanner.lease`, whose liveness test decides here too). Taking it is one
serialised transaction of the store (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
row lock), so two agents deciding at the same moment are serialised: the second
sees the first as a live holder. The row also
keeps the last slot run, so a slot one agent has run is never run again by
another that woke a moment later. A holder that died (SIGKILL, power loss) is
taken over by the next agent that wants the schedule.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from ..lease import Holder
from ..store import Store


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
    outcome, holder = store.acquire_schedule(schedule, slot, now)
    return Claim(Outcome(outcome), holder)


def renew(store: Store, schedule: str, now: dt.datetime) -> None:
    store.renew_schedule(schedule, now)


def release(store: Store, schedule: str) -> None:
    store.release_schedule(schedule)


def last_slot(store: Store, schedule: str) -> dt.datetime | None:
    return store.schedule_last_slot(schedule)
