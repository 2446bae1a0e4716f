"""The store interface: what civiscan keeps about runs, whatever holds it.

:class:`Store` is what every backend implements (typed reads and writes, no
connection handed out). ``Store(location)`` opens the backend the location
names: a ``postgresql://`` URL opens :class:`scanner.store.postgres.PostgresStore`,
anything else is the path of a :class:`scanner.store.sqlite.SqliteStore` file.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..evaluate import Finding
from ..lease import Holder
from ..models import Asset, CollectError
from ..plugin import Dataset
from ..policy import RuleSet
from ..rundoc import AssetState, RunRecord, RunRecords, RunStatus, build_document

BUSY_SECONDS = 30.0
"""How long a write waits for another writer's lock before failing."""

URL_SCHEMES = ("postgresql://", "postgres://")


class StoreLocationError(ValueError):
    """A store location that is refused (a password in a URL); the message names no secret."""


def is_url(location: str | os.PathLike[str]) -> bool:
    return isinstance(location, str) and location.lower().startswith(URL_SCHEMES)


def check_url(url: str) -> None:
    """Refuse a PostgreSQL URL carrying a password (argv and logs would show it)."""
    parts = urlsplit(url)
    if parts.password is not None or any(k.lower() == "password" for k, _ in parse_qsl(parts.query)):
        host = parts.hostname or ""
        raise StoreLocationError(
            f"postgresql://…@{host}: a password in the store URL is refused (it would show in"
            " process lists and logs); give it through PGPASSWORD, ~/.pgpass or a libpq service file"
        )


class RunHeld(Exception):
    """The run is being scanned by another live process."""

    def __init__(self, run_id: int, holder: Holder, heartbeat: dt.datetime | None) -> None:
        self.run_id, self.holder, self.heartbeat = run_id, holder, heartbeat
        beat = f", last heartbeat {heartbeat.isoformat(timespec='seconds')}" if heartbeat else ""
        super().__init__(f"run {run_id} is being scanned by {holder.describe()}{beat}")



def default_db_path() -> Path | str:
    """``$CIVISCAN_DB`` (a path or a ``postgresql://`` URL), else ``$XDG_DATA_HOME/civiscan/civiscan.db``."""
    env = os.environ.get("CIVISCAN_DB")
    if env:
        return env if is_url(env) else Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "civiscan" / "civiscan.db"


class Store(abc.ABC):
    """What civiscan keeps about runs, whatever holds it.

    ``Store(location)`` opens the backend ``location`` names; every backend
    answers the same typed reads and writes and builds the same run document.
    """

    location: str
    """Where the store is, for messages (never a credential)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Store:
        # Store(location) is how callers open a store; the location picks the backend.
        if cls is Store:
            location = args[0] if args else kwargs.get("location", kwargs.get("path"))
            if is_url(location):
                from .postgres import PostgresStore

                cls = PostgresStore
            else:
                from .sqlite import SqliteStore

                cls = SqliteStore
        return super().__new__(cls)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abc.abstractmethod
    def close(self) -> None: ...

    @property
    @abc.abstractmethod
    def schema_version(self) -> int: ...

    @abc.abstractmethod
    def migrate(self) -> None: ...

    # --- writing
    @abc.abstractmethod
    def create_run(
        self,
        ruleset: RuleSet,
        assets: Sequence[Asset],
        settings: Mapping[str, Any],
        started: dt.datetime,
        inventory_digest: str | None = None,
        departments: Sequence[Mapping[str, str]] = (),
    ) -> int: ...

    @abc.abstractmethod
    def save_asset(
        self,
        run_id: int,
        asset: Asset,
        facts: Mapping[str, Any],
        errors: Mapping[str, CollectError],
        findings: Iterable[Finding],
        finished: dt.datetime,
        versions: Mapping[str, int] | None = None,
    ) -> None: ...

    @abc.abstractmethod
    def replace_findings(self, run_id: int, findings: Iterable[Finding]) -> None: ...

    @abc.abstractmethod
    def finish_run(self, run_id: int, status: RunStatus, exit_code: int, finished: dt.datetime) -> None: ...

    @abc.abstractmethod
    def update_settings(self, run_id: int, settings: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def clone_run(self, source: int, ruleset: RuleSet, started: dt.datetime) -> int: ...

    # --- leases
    @abc.abstractmethod
    def claim(self, run_id: int) -> None: ...

    @abc.abstractmethod
    def heartbeat(self, run_id: int) -> None: ...

    @abc.abstractmethod
    def mark_interrupted(self) -> list[int]: ...

    @abc.abstractmethod
    def lease(self, run_id: int) -> tuple[Holder | None, dt.datetime | None]:
        """The holder of ``run_id`` and its last heartbeat (None, None when nobody holds it)."""

    # --- reading
    @abc.abstractmethod
    def resolve_run(self, ref: str | int) -> int | None: ...

    @abc.abstractmethod
    def run(self, run_id: int) -> RunRecord: ...

    @abc.abstractmethod
    def runs(self, limit: int = 50) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def assets(self, run_id: int, state: AssetState | None = None) -> list[Asset]: ...

    @abc.abstractmethod
    def asset_states(self, run_id: int) -> dict[str, AssetState]: ...

    @abc.abstractmethod
    def facts(
        self, run_id: int, asset_id: str | None = None
    ) -> dict[str, tuple[dict[str, Any], dict[str, CollectError]]]:
        """``{asset id: (facts by plugin, errors by plugin)}`` of a run (of one asset only, if given)."""

    @abc.abstractmethod
    def facts_versions(self, run_id: int) -> dict[tuple[str, str], int]: ...

    @abc.abstractmethod
    def findings(self, run_id: int) -> Iterator[dict[str, Any]]: ...

    @abc.abstractmethod
    def previous_run(self, run_id: int) -> int | None: ...

    @abc.abstractmethod
    def first_seen(self, run_id: int) -> dict[str, str]: ...

    def records(self, run_id: int) -> RunRecords:
        """Everything the run document is built from."""
        return RunRecords(
            run=self.run(run_id),
            assets=self.assets(run_id),
            states=self.asset_states(run_id),
            facts=self.facts(run_id),
            findings=list(self.findings(run_id)),
            first_seen=self.first_seen(run_id),
            previous_run=self.previous_run(run_id),
        )

    def document(self, run_id: int) -> dict[str, Any]:
        """The run as the versioned JSON document (docs/json.md)."""
        return build_document(self.records(run_id))

    # --- history reads (judged by scanner/history.py)
    @abc.abstractmethod
    def history_runs(
        self,
        limit: int,
        *,
        department: str | None = None,
        asset: str | None = None,
        policy_key: str | None = None,
        up_to: int | None = None,
        complete: bool = False,
    ) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def history_counts(
        self, run_ids: Sequence[int], *, department: str | None = None, asset: str | None = None
    ) -> dict[int, dict[str, tuple[int, dict[tuple[str, str], int]]]]: ...

    @abc.abstractmethod
    def run_departments(self, run_ids: Sequence[int]) -> dict[int, frozenset[str]]: ...

    # --- notifications (scanner/notify)
    @abc.abstractmethod
    def queue_notifications(
        self, run_id: int, entries: Iterable[tuple[str, str, str, bool]], queued: dt.datetime
    ) -> None:
        """Queue ``(event, recipient, payload JSON, once ever)`` entries of a run, in one transaction.

        An entry already queued is kept; a once-ever event is skipped if the
        recipient had it queued in any run.
        """

    @abc.abstractmethod
    def pending_notifications(self, recipient: str, limit: int) -> list[tuple[int, str, str]]:
        """``(run id, event, payload JSON)`` not sent yet to ``recipient``, oldest run first."""

    @abc.abstractmethod
    def last_notification_sent(self, recipient: str) -> dt.datetime | None: ...

    @abc.abstractmethod
    def mark_notifications_sent(self, recipient: str, keys: Iterable[tuple[int, str]], sent: dt.datetime) -> None:
        """Record ``(run id, event)`` entries as delivered to ``recipient``."""

    # --- datasets
    @abc.abstractmethod
    def dataset(self, name: str) -> Dataset | None:
        """A read-only handle on dataset ``name`` (None when this store cannot lend it)."""

    @abc.abstractmethod
    def write_dataset(self, name: str) -> contextlib.AbstractContextManager[Any]:
        """A DB-API connection (``execute``/``executemany`` with ``?`` parameters) on dataset
        ``name``'s tables inside one write transaction."""

    # --- retention
    @abc.abstractmethod
    def delete_run(self, run_id: int) -> None: ...

    # --- the scheduled agent (scanner/agent): schedule locks and the runs each made
    @abc.abstractmethod
    def acquire_schedule(
        self, schedule: str, slot: dt.datetime | None, now: dt.datetime
    ) -> tuple[str, Holder | None]:
        """Take ``schedule`` for this process and ``slot`` in one serialised step.

        ``("held", holder)`` when a live holder has it, ``("done", None)`` when
        ``slot`` was run already, else ``("taken", dead holder taken over or None)``.
        """

    @abc.abstractmethod
    def renew_schedule(self, schedule: str, now: dt.datetime) -> None: ...

    @abc.abstractmethod
    def release_schedule(self, schedule: str) -> None: ...

    @abc.abstractmethod
    def schedule_last_slot(self, schedule: str) -> dt.datetime | None: ...

    @abc.abstractmethod
    def schedule_holder(self, schedule: str) -> Holder | None: ...

    @abc.abstractmethod
    def add_schedule_run(self, run_id: int, schedule: str, slot: dt.datetime) -> None: ...

    @abc.abstractmethod
    def unsettled_schedule_runs(self, schedule: str) -> list[tuple[int, RunStatus]]:
        """The schedule's interrupted or complete runs not closed (settled) yet, oldest first."""

    @abc.abstractmethod
    def close_schedule_runs(self, run_ids: Iterable[int]) -> None: ...

    @abc.abstractmethod
    def schedule_runs(self, schedule: str) -> list[dict[str, Any]]:
        """The runs ``schedule`` made, oldest first: ``id, status, exit_code, started, finished``."""

