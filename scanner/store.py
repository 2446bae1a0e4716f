"""The store: runs, assets, facts and findings, written as each asset finishes.

:class:`Store` is the interface every backend implements (typed reads and
writes, no connection handed out); :class:`SqliteStore` is the embedded one.
``Store(location)`` opens the backend the location names (a path: SQLite).
The run document is built from the records a backend reads by the pure
:func:`scanner.rundoc.build_document`.

Data imported into the store for plugins to read (the advisory feeds) is a
*dataset*: its tables are part of the store's migrations, commands write it
through :meth:`Store.write_dataset`, and plugins read it through
:meth:`Store.dataset`, lent to them as ``ctx.dataset(name)``.

SQLite: one file, WAL mode, a schema version with forward migrations. Default path:
``$CIVISCAN_DB``, else ``$XDG_DATA_HOME/civiscan/civiscan.db`` (``~/.local/share``).
Nothing secret is ever written: assets carry only the *names* of environment
variables that hold credentials.

Several processes may share one store: every write is a ``BEGIN IMMEDIATE``
transaction (waiting up to :data:`BUSY_SECONDS` for another writer), a run
being scanned is held by its process (:mod:`scanner.lease`), and a run whose
holder died is marked ``interrupted`` by the next process that opens the store.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ExitCode
from .evaluate import Finding
from .lease import Holder, is_alive
from .models import Asset, CollectError
from .plugin import Dataset, DatasetUnavailable, Rows
from .policy import RuleSet
from .rundoc import AssetState, RunRecord, RunRecords, RunStatus, build_document

BUSY_SECONDS = 30.0


def _when_free(step: Callable[[], object], wait: float = BUSY_SECONDS) -> None:
    """Run ``step``, retrying while another connection holds the lock it needs.

    Switching a new file to WAL needs a lock that SQLite does not wait for
    (its busy handler is not called for it), so two processes opening a fresh
    store at once could fail with "database is locked" without this.
    """
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class RunHeld(Exception):
    """The run is being scanned by another live process."""

    def __init__(self, run_id: int, holder: Holder, heartbeat: dt.datetime | None) -> None:
        self.run_id, self.holder, self.heartbeat = run_id, holder, heartbeat
        beat = f", last heartbeat {heartbeat.isoformat(timespec='seconds')}" if heartbeat else ""
        super().__init__(f"run {run_id} is being scanned by {holder.describe()}{beat}")


def default_db_path() -> Path:
    env = os.environ.get("CIVISCAN_DB")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "civiscan" / "civiscan.db"


def _script(conn: sqlite3.Connection, sql: str) -> None:
    # executescript() would COMMIT first and break the migration's transaction.
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m1(conn: sqlite3.Connection) -> None:
    _script(
        conn,
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started TEXT NOT NULL,
            finished TEXT,
            status TEXT NOT NULL,
            exit_code INTEGER,
            tool_version TEXT NOT NULL,
            ruleset_json TEXT NOT NULL,
            policy_key TEXT NOT NULL,
            inventory_digest TEXT,
            settings_json TEXT NOT NULL,
            departments_json TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE assets (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            asset_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            department TEXT NOT NULL,
            kind TEXT NOT NULL,
            spec_json TEXT NOT NULL,
            state TEXT NOT NULL,
            finished TEXT,
            PRIMARY KEY (run_id, asset_id)
        );
        CREATE TABLE facts (
            run_id INTEGER NOT NULL,
            asset_id TEXT NOT NULL,
            plugin TEXT NOT NULL,
            data_json TEXT,
            error_json TEXT,
            PRIMARY KEY (run_id, asset_id, plugin),
            FOREIGN KEY (run_id, asset_id) REFERENCES assets(run_id, asset_id) ON DELETE CASCADE
        );
        CREATE TABLE findings (
            run_id INTEGER NOT NULL,
            asset_id TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            status TEXT NOT NULL,
            severity TEXT NOT NULL,
            message TEXT NOT NULL,
            reason TEXT,
            checks_json TEXT NOT NULL,
            waiver_json TEXT,
            fingerprint TEXT NOT NULL,
            PRIMARY KEY (run_id, asset_id, rule_id),
            FOREIGN KEY (run_id, asset_id) REFERENCES assets(run_id, asset_id) ON DELETE CASCADE
        );
        CREATE INDEX findings_fingerprint ON findings(fingerprint, status);
        CREATE INDEX runs_policy ON runs(policy_key, started);
        """
    )


def _m2(conn: sqlite3.Connection) -> None:
    # The lease of the process scanning a run (scanner/lease.py).
    _script(
        conn,
        """
        ALTER TABLE runs ADD COLUMN holder_pid INTEGER;
        ALTER TABLE runs ADD COLUMN holder_host TEXT;
        ALTER TABLE runs ADD COLUMN holder_start TEXT;
        ALTER TABLE runs ADD COLUMN heartbeat TEXT;
        """,
    )


def _m3(conn: sqlite3.Connection) -> None:
    # The plugin's facts schema version, so evaluate can refuse facts of another shape.
    conn.execute("ALTER TABLE facts ADD COLUMN facts_version INTEGER NOT NULL DEFAULT 1")


def _m4(conn: sqlite3.Connection) -> None:
    # One row per (run, event, recipient) of a notification (scanner/notify): written before
    # sending, ``sent`` set once delivered, so a restart never sends it twice.
    _script(
        conn,
        """
        CREATE TABLE notifications_sent (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            event TEXT NOT NULL,
            recipient TEXT NOT NULL,
            payload_json TEXT NOT NULL,
            queued TEXT NOT NULL,
            sent TEXT,
            PRIMARY KEY (run_id, event, recipient)
        );
        CREATE INDEX notifications_recipient ON notifications_sent(recipient, sent);
        """,
    )


def _m5(conn: sqlite3.Connection) -> None:
    # The scheduled agent (scanner/agent/): who holds each schedule, the last slot
    # it ran, and which runs each schedule made (one run per schedule and slot).
    _script(
        conn,
        """
        CREATE TABLE agent_schedules (
            name TEXT PRIMARY KEY,
            holder_pid INTEGER,
            holder_host TEXT,
            holder_start TEXT,
            heartbeat TEXT,
            last_slot TEXT
        );
        CREATE TABLE agent_runs (
            run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
            schedule TEXT NOT NULL,
            slot TEXT NOT NULL,
            closed INTEGER NOT NULL DEFAULT 0,
            UNIQUE (schedule, slot)
        );
        """,
    )


ADVISORY_TABLES = """
CREATE TABLE IF NOT EXISTS feed_sources (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    feed_date TEXT,
    advisories INTEGER NOT NULL,
    sha256 TEXT
);
CREATE TABLE IF NOT EXISTS feed_releases (
    feed TEXT NOT NULL,
    release TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (feed, release, ecosystem)
);
CREATE TABLE IF NOT EXISTS feed_advisories (
    feed TEXT NOT NULL,
    id TEXT NOT NULL,
    aliases TEXT NOT NULL,
    summary TEXT NOT NULL,
    url TEXT,
    published TEXT,
    modified TEXT,
    PRIMARY KEY (feed, id)
);
CREATE TABLE IF NOT EXISTS feed_affected (
    feed TEXT NOT NULL,
    advisory TEXT NOT NULL,
    release TEXT NOT NULL,
    package TEXT NOT NULL,
    introduced TEXT,
    fixed TEXT,
    last_affected TEXT,
    severity TEXT NOT NULL,
    note TEXT
);
CREATE INDEX IF NOT EXISTS feed_affected_by_package ON feed_affected (release, package);
"""
"""The ``advisories`` dataset (offline advisory feeds, docs/packages.md)."""


def _m6(conn: sqlite3.Connection) -> None:
    # IF NOT EXISTS adopts the identical tables that feed imports created
    # outside the migrations before this version.
    _script(conn, ADVISORY_TABLES)


TRACKER_TABLES = """
CREATE TABLE tracker_sources (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    domains INTEGER NOT NULL,
    sha256 TEXT
);
CREATE TABLE tracker_domains (
    feed TEXT NOT NULL,
    host TEXT NOT NULL,
    owner TEXT NOT NULL,
    categories TEXT NOT NULL,
    prevalence REAL,
    PRIMARY KEY (feed, host)
);
"""
"""The ``trackers`` dataset (imported tracker lists, docs/web.md): one row per tracker domain,
``categories`` a JSON list of the list's own category names."""


def _m7_trackers(conn: sqlite3.Connection) -> None:
    _script(conn, TRACKER_TABLES)


# Each migration moves the schema from version N-1 to N; never edit a shipped one, append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1, _m2, _m3, _m4, _m5, _m6, _m7_trackers]

DATASETS: Mapping[str, tuple[str, ...]] = {
    "advisories": ("feed_sources", "feed_releases", "feed_advisories", "feed_affected"),
    "trackers": ("tracker_sources", "tracker_domains"),
}
"""Each dataset a store holds for plugins, with its tables."""


def _insert_run(
    conn: sqlite3.Connection,
    ruleset: RuleSet,
    settings: Mapping[str, Any],
    started: dt.datetime,
    inventory_digest: str | None,
    departments: Sequence[Mapping[str, str]],
) -> int:
    holder = Holder.current()
    cur = conn.execute(
        "INSERT INTO runs (started, status, tool_version, ruleset_json, policy_key,"
        " inventory_digest, settings_json, departments_json, holder_pid, holder_host, holder_start,"
        " heartbeat) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            started.isoformat(),
            RunStatus.RUNNING.value,
            __version__,
            json.dumps(ruleset.to_json(), default=str),
            ",".join(sorted(p.id for p in ruleset.policies)),
            inventory_digest,
            json.dumps(dict(settings), default=str),
            json.dumps(list(departments)),
            holder.pid,
            holder.host,
            holder.start,
            _now().isoformat(),
        ),
    )
    return int(cur.lastrowid or 0)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _holder(row: sqlite3.Row) -> Holder | None:
    if row["holder_pid"] is None:
        return None
    return Holder(int(row["holder_pid"]), row["holder_host"] or "", row["holder_start"] or "")


def _heartbeat(row: sqlite3.Row) -> dt.datetime | None:
    return dt.datetime.fromisoformat(row["heartbeat"]) if row["heartbeat"] else None


def _insert_findings(conn: sqlite3.Connection, run_id: int, findings: Iterable[Finding]) -> None:
    conn.executemany(
        "INSERT INTO findings (run_id, asset_id, rule_id, status, severity, message, reason,"
        " checks_json, waiver_json, fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (
                run_id,
                f.asset_id,
                f.rule_id,
                f.status.value,
                f.severity.value,
                f.message,
                f.reason.value if f.reason else None,
                json.dumps([c.to_json() for c in f.checks], default=str),
                json.dumps(dict(f.waiver)) if f.waiver else None,
                f.fingerprint,
            )
            for f in findings
        ],
    )


class Store(abc.ABC):
    """What civiscan keeps about runs, whatever holds it.

    ``Store(location)`` opens the backend ``location`` names; every backend
    answers the same typed reads and writes and builds the same run document.
    """

    location: str
    """Where the store is, for messages (never a credential)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Store:
        # Store(path) is how callers open a store; the location picks the backend.
        return super().__new__(SqliteStore if cls is Store else cls)

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
    def facts(self, run_id: int) -> dict[str, tuple[dict[str, Any], dict[str, CollectError]]]: ...

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
        """A DB-API connection on dataset ``name``'s tables inside one write transaction."""


class _SqliteDataset:
    """A dataset read through its own read-only connection, so any thread may read it."""

    def __init__(self, path: Path) -> None:
        self.source = str(path)
        self._uri = path.as_uri() + "?mode=ro"

    @contextlib.contextmanager
    def read(self) -> Iterator[Rows]:
        try:
            conn = sqlite3.connect(self._uri, uri=True, timeout=BUSY_SECONDS)
            # One read transaction: every read of the caller sees one state of the store.
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise DatasetUnavailable(f"the store {self.source} cannot be opened ({exc})") from None
        try:
            yield conn
        finally:
            conn.close()


class SqliteStore(Store):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.location = str(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # timeout= is SQLite's busy timeout: a writer waits for another instead of failing.
        self._conn = sqlite3.connect(str(path), timeout=BUSY_SECONDS, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        _when_free(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self.migrate()
        self.mark_interrupted()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    # --- schema ------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this civiscan "
                f"({len(MIGRATIONS)}); upgrade civiscan"
            )

    def migrate(self) -> None:
        self._check_version(self.schema_version)
        if self.schema_version == len(MIGRATIONS):
            return
        # Another process may be migrating the same file right now: the version read
        # before taking the write lock is only a hint, the one read under it decides.
        with self.transaction():
            version = self.schema_version
            self._check_version(version)
            for number in range(version + 1, len(MIGRATIONS) + 1):
                MIGRATIONS[number - 1](self._conn)
                self._conn.execute(f"PRAGMA user_version = {number}")

    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self._conn.execute("BEGIN IMMEDIATE")
            return self._conn

        def __exit__(self, exc_type: object, *rest: object) -> None:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> SqliteStore._Tx:
        return SqliteStore._Tx(self._conn)

    # --- writing -----------------------------------------------------------

    def create_run(
        self,
        ruleset: RuleSet,
        assets: Sequence[Asset],
        settings: Mapping[str, Any],
        started: dt.datetime,
        inventory_digest: str | None = None,
        departments: Sequence[Mapping[str, str]] = (),
    ) -> int:
        with self.transaction() as conn:
            run_id = _insert_run(conn, ruleset, settings, started, inventory_digest, departments)
            conn.executemany(
                "INSERT INTO assets (run_id, asset_id, seq, department, kind, spec_json, state)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (run_id, a.id, i, a.department, a.kind.value, json.dumps(a.to_json()),
                     AssetState.PENDING.value)
                    for i, a in enumerate(assets)
                ],
            )
        return run_id

    def save_asset(
        self,
        run_id: int,
        asset: Asset,
        facts: Mapping[str, Any],
        errors: Mapping[str, CollectError],
        findings: Iterable[Finding],
        finished: dt.datetime,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        """Write one asset's facts and findings atomically and mark it done.

        ``versions`` holds each plugin's facts schema version (default 1).
        """
        versions = versions or {}
        with self.transaction() as conn:
            conn.execute("DELETE FROM facts WHERE run_id=? AND asset_id=?", (run_id, asset.id))
            conn.execute("DELETE FROM findings WHERE run_id=? AND asset_id=?", (run_id, asset.id))
            plugins = sorted(set(facts) | set(errors))
            conn.executemany(
                "INSERT INTO facts (run_id, asset_id, plugin, data_json, error_json, facts_version)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (
                        run_id,
                        asset.id,
                        p,
                        json.dumps(facts[p], default=str) if p in facts else None,
                        json.dumps(errors[p].to_json()) if p in errors else None,
                        versions.get(p, 1),
                    )
                    for p in plugins
                ],
            )
            _insert_findings(conn, run_id, findings)
            conn.execute(
                "UPDATE assets SET state=?, finished=?, spec_json=? WHERE run_id=? AND asset_id=?",
                (AssetState.DONE.value, finished.isoformat(), json.dumps(asset.to_json()), run_id, asset.id),
            )

    def replace_findings(self, run_id: int, findings: Iterable[Finding]) -> None:
        """Swap a run's findings (re-evaluation of stored facts under a new policy)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM findings WHERE run_id=?", (run_id,))
            _insert_findings(conn, run_id, findings)

    def finish_run(self, run_id: int, status: RunStatus, exit_code: int, finished: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status=?, exit_code=?, finished=?, holder_pid=NULL, holder_host=NULL,"
                " holder_start=NULL WHERE id=?",
                (status.value, exit_code, finished.isoformat(), run_id),
            )

    def update_settings(self, run_id: int, settings: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET settings_json=? WHERE id=?", (json.dumps(dict(settings), default=str), run_id))

    # --- leases ------------------------------------------------------------

    def claim(self, run_id: int) -> None:
        """Hold ``run_id`` for this process (to resume it). Raises RunHeld if a live process holds it."""
        now = _now()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            holder = _holder(row)
            if row["status"] == RunStatus.RUNNING and holder and is_alive(holder, _heartbeat(row), now):
                raise RunHeld(run_id, holder, _heartbeat(row))
            me = Holder.current()
            conn.execute(
                "UPDATE runs SET status=?, finished=NULL, exit_code=NULL, holder_pid=?, holder_host=?,"
                " holder_start=?, heartbeat=? WHERE id=?",
                (RunStatus.RUNNING.value, me.pid, me.host, me.start, now.isoformat(), run_id),
            )

    def heartbeat(self, run_id: int) -> None:
        """Renew this process's lease on ``run_id`` (a lease it lost is not taken back)."""
        me = Holder.current()
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET heartbeat=? WHERE id=? AND holder_pid=? AND holder_host=? AND holder_start=?",
                (_now().isoformat(), run_id, me.pid, me.host, me.start),
            )

    def mark_interrupted(self) -> list[int]:
        """Mark ``interrupted`` every running run whose holder is gone (killed, crashed, lost power)."""
        now = _now()
        rows = self._conn.execute("SELECT * FROM runs WHERE status=?", (RunStatus.RUNNING.value,)).fetchall()
        dead = [r for r in rows if not ((h := _holder(r)) and is_alive(h, _heartbeat(r), now))]
        if not dead:
            return []
        try:
            with self.transaction() as conn:
                for r in dead:
                    # Only if nobody claimed it since it was read (same holder, still running).
                    conn.execute(
                        "UPDATE runs SET status=?, exit_code=?, finished=COALESCE(heartbeat, started),"
                        " holder_pid=NULL, holder_host=NULL, holder_start=NULL"
                        " WHERE id=? AND status=? AND holder_pid IS ? AND holder_start IS ?",
                        (RunStatus.INTERRUPTED.value, int(ExitCode.INTERRUPTED), r["id"],
                         RunStatus.RUNNING.value, r["holder_pid"], r["holder_start"]),
                    )
        except sqlite3.OperationalError:
            # A read-only store still answers; the next writable open records the interruption.
            return []
        return [int(r["id"]) for r in dead]

    def clone_run(self, source: int, ruleset: RuleSet, started: dt.datetime) -> int:
        """A new run with the facts of ``source`` and no findings (for ``civiscan evaluate``)."""
        record = self.run(source)
        with self.transaction() as conn:
            new = _insert_run(
                conn,
                ruleset,
                {**record.settings, "evaluated_from_run": source},
                started,
                record.inventory_digest,
                record.departments,
            )
            conn.execute(
                "INSERT INTO assets (run_id, asset_id, seq, department, kind, spec_json, state, finished)"
                " SELECT ?, asset_id, seq, department, kind, spec_json, state, finished FROM assets WHERE run_id=?",
                (new, source),
            )
            conn.execute(
                "INSERT INTO facts (run_id, asset_id, plugin, data_json, error_json, facts_version)"
                " SELECT ?, asset_id, plugin, data_json, error_json, facts_version FROM facts WHERE run_id=?",
                (new, source),
            )
        return new

    # --- retention ---------------------------------------------------------

    def delete_run(self, run_id: int) -> None:
        """Delete a finished run with its assets, facts and findings, in one transaction.

        Tables that refer to runs (the agent's, the notifications') follow
        through their ``ON DELETE CASCADE``. A run still held by a live process is refused.
        """
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return
            holder = _holder(row)
            if row["status"] == RunStatus.RUNNING.value and holder and is_alive(holder, _heartbeat(row), _now()):
                raise RunHeld(run_id, holder, _heartbeat(row))
            for table in ("findings", "facts", "assets"):
                conn.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id=?", (run_id,))

    # --- reading -----------------------------------------------------------

    def resolve_run(self, ref: str | int) -> int | None:
        """A run id from ``7``, ``last`` or ``latest``."""
        text = str(ref).strip().lower()
        if text in ("last", "latest"):
            row = self._conn.execute("SELECT MAX(id) FROM runs").fetchone()
            return int(row[0]) if row[0] is not None else None
        if text.isdigit():
            row = self._conn.execute("SELECT id FROM runs WHERE id=?", (int(text),)).fetchone()
            return int(row[0]) if row else None
        return None

    def run(self, run_id: int) -> RunRecord:
        row = self._conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return RunRecord(
            id=row["id"],
            started=dt.datetime.fromisoformat(row["started"]),
            finished=dt.datetime.fromisoformat(row["finished"]) if row["finished"] else None,
            status=RunStatus(row["status"]),
            exit_code=row["exit_code"],
            tool_version=row["tool_version"],
            ruleset=RuleSet.from_json(json.loads(row["ruleset_json"])),
            inventory_digest=row["inventory_digest"],
            settings=json.loads(row["settings_json"]),
            departments=json.loads(row["departments_json"]),
        )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT r.id, r.started, r.finished, r.status, r.exit_code, r.policy_key,"
            " (SELECT COUNT(*) FROM assets a WHERE a.run_id=r.id) AS assets,"
            " (SELECT COUNT(*) FROM assets a WHERE a.run_id=r.id AND a.state=?) AS done,"
            " (SELECT COUNT(*) FROM findings f WHERE f.run_id=r.id AND f.status='fail') AS failures,"
            " (SELECT COUNT(*) FROM findings f WHERE f.run_id=r.id AND f.status='error') AS errors"
            " FROM runs r ORDER BY r.id DESC LIMIT ?",
            (AssetState.DONE.value, limit),
        ).fetchall()
        return [dict(r) for r in rows]

    def assets(self, run_id: int, state: AssetState | None = None) -> list[Asset]:
        sql = "SELECT spec_json FROM assets WHERE run_id=?"
        args: list[Any] = [run_id]
        if state:
            sql += " AND state=?"
            args.append(AssetState(state).value)
        rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        return [Asset.from_json(json.loads(r[0])) for r in rows]

    def facts(self, run_id: int) -> dict[str, tuple[dict[str, Any], dict[str, CollectError]]]:
        out: dict[str, tuple[dict[str, Any], dict[str, CollectError]]] = {}
        for row in self._conn.execute(
            "SELECT asset_id, plugin, data_json, error_json FROM facts WHERE run_id=?", (run_id,)
        ):
            facts, errors = out.setdefault(row[0], ({}, {}))
            if row[2] is not None:
                facts[row[1]] = json.loads(row[2])
            if row[3] is not None:
                errors[row[1]] = CollectError.from_json(json.loads(row[3]))
        return out

    def facts_versions(self, run_id: int) -> dict[tuple[str, str], int]:
        """``{(asset id, plugin): facts schema version}`` of a run's stored facts."""
        rows = self._conn.execute(
            "SELECT asset_id, plugin, facts_version FROM facts WHERE run_id=? AND data_json IS NOT NULL",
            (run_id,),
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def findings(self, run_id: int) -> Iterator[dict[str, Any]]:
        for row in self._conn.execute(
            "SELECT asset_id, rule_id, status, severity, message, reason, checks_json, waiver_json,"
            " fingerprint FROM findings WHERE run_id=? ORDER BY asset_id, rule_id",
            (run_id,),
        ):
            yield {
                "fingerprint": row["fingerprint"],
                "asset_id": row["asset_id"],
                "rule_id": row["rule_id"],
                "status": row["status"],
                "severity": row["severity"],
                "message": row["message"],
                "reason": row["reason"],
                "checks": json.loads(row["checks_json"]),
                "waiver": json.loads(row["waiver_json"]) if row["waiver_json"] else None,
            }

    def previous_run(self, run_id: int) -> int | None:
        """The newest earlier finished run applying the same policies."""
        row = self._conn.execute(
            "SELECT p.id FROM runs p, runs r WHERE r.id=? AND p.policy_key=r.policy_key"
            " AND p.id < r.id AND p.status=? ORDER BY p.id DESC LIMIT 1",
            (run_id, RunStatus.COMPLETE.value),
        ).fetchone()
        return int(row[0]) if row else None

    def first_seen(self, run_id: int) -> dict[str, str]:
        """For each fingerprint failing in ``run_id``: when it was first seen failing."""
        rows = self._conn.execute(
            "SELECT f.fingerprint, MIN(r.started) FROM findings f JOIN runs r ON r.id=f.run_id"
            " WHERE f.status IN ('fail','waived') AND f.run_id <= ? AND f.fingerprint IN"
            " (SELECT fingerprint FROM findings WHERE run_id=? AND status IN ('fail','waived'))"
            " GROUP BY f.fingerprint",
            (run_id, run_id),
        )
        return {r[0]: r[1] for r in rows}

    def asset_states(self, run_id: int) -> dict[str, AssetState]:
        rows = self._conn.execute("SELECT asset_id, state FROM assets WHERE run_id=?", (run_id,))
        return {r[0]: AssetState(r[1]) for r in rows}

    def lease(self, run_id: int) -> tuple[Holder | None, dt.datetime | None]:
        row = self._conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return _holder(row), _heartbeat(row)

    # --- notifications -----------------------------------------------------

    def queue_notifications(
        self, run_id: int, entries: Iterable[tuple[str, str, str, bool]], queued: dt.datetime
    ) -> None:
        with self.transaction() as conn:
            for event, recipient, payload, once_ever in entries:
                if once_ever and conn.execute(
                    "SELECT 1 FROM notifications_sent WHERE event=? AND recipient=?", (event, recipient)
                ).fetchone():
                    continue
                conn.execute(
                    "INSERT OR IGNORE INTO notifications_sent (run_id, event, recipient, payload_json, queued)"
                    " VALUES (?,?,?,?,?)",
                    (run_id, event, recipient, payload, queued.isoformat()),
                )

    def pending_notifications(self, recipient: str, limit: int) -> list[tuple[int, str, str]]:
        rows = self._conn.execute(
            "SELECT run_id, event, payload_json FROM notifications_sent WHERE recipient=? AND sent IS NULL"
            " ORDER BY run_id, event LIMIT ?",
            (recipient, limit),
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def last_notification_sent(self, recipient: str) -> dt.datetime | None:
        row = self._conn.execute("SELECT MAX(sent) FROM notifications_sent WHERE recipient=?", (recipient,)).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row and row[0] else None

    def mark_notifications_sent(self, recipient: str, keys: Iterable[tuple[int, str]], sent: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE notifications_sent SET sent=? WHERE run_id=? AND event=? AND recipient=?",
                [(sent.isoformat(), run_id, event, recipient) for run_id, event in keys],
            )

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """SQLite only: a read of tables no typed method covers yet (the agent's schedules)."""
        return self._conn.execute(sql, params).fetchall()

    # --- datasets ----------------------------------------------------------

    def dataset(self, name: str) -> Dataset | None:
        if name not in DATASETS or str(self.path) == ":memory:":
            return None
        return _SqliteDataset(self.path.resolve())

    @contextlib.contextmanager
    def write_dataset(self, name: str) -> Iterator[sqlite3.Connection]:
        if name not in DATASETS:
            raise KeyError(name)
        with self.transaction() as conn:
            yield conn

    # --- history reads (judged by scanner/history.py) ----------------------

    def history_runs(
        self,
        limit: int,
        *,
        department: str | None = None,
        asset: str | None = None,
        policy_key: str | None = None,
        up_to: int | None = None,
        complete: bool = False,
    ) -> list[dict[str, Any]]:
        """Newest first: the last ``limit`` runs holding an asset of ``department`` and/or
        the asset ``asset`` (its id, or its name in any department), as rows of
        ``id, started, status, policy_key``; only runs with id at most ``up_to``,
        applying ``policy_key``, and (``complete``) that finished."""
        where, args = _asset_filter(department, asset)
        sql = (
            "SELECT r.id, r.started, r.status, r.policy_key FROM runs r WHERE EXISTS"
            f" (SELECT 1 FROM assets a WHERE a.run_id=r.id{where})"
        )
        if policy_key is not None:
            sql += " AND r.policy_key=?"
            args.append(policy_key)
        if up_to is not None:
            sql += " AND r.id<=?"
            args.append(up_to)
        if complete:
            sql += " AND r.status=?"
            args.append(RunStatus.COMPLETE.value)
        rows = self._conn.execute(sql + " ORDER BY r.id DESC LIMIT ?", [*args, limit]).fetchall()
        return [dict(r) for r in rows]

    def history_counts(
        self, run_ids: Sequence[int], *, department: str | None = None, asset: str | None = None
    ) -> dict[int, dict[str, tuple[int, dict[tuple[str, str], int]]]]:
        """For each run: per department, its asset count and its findings counted by
        ``(status, severity)``, restricted like :meth:`history_runs` (no facts are read)."""
        out: dict[int, dict[str, tuple[int, dict[tuple[str, str], int]]]] = {}
        where, args = _asset_filter(department, asset)
        for run_id in run_ids:
            per: dict[str, tuple[int, dict[tuple[str, str], int]]] = {}
            for name, n in self._conn.execute(
                f"SELECT a.department, COUNT(*) FROM assets a WHERE a.run_id=?{where} GROUP BY a.department",
                [run_id, *args],
            ):
                per[name] = (int(n), {})
            for name, status, severity, n in self._conn.execute(
                "SELECT a.department, f.status, f.severity, COUNT(*) FROM findings f JOIN assets a"
                f" ON a.run_id=f.run_id AND a.asset_id=f.asset_id WHERE f.run_id=?{where}"
                " GROUP BY a.department, f.status, f.severity",
                [run_id, *args],
            ):
                per.setdefault(name, (0, {}))[1][(status, severity)] = int(n)
            out[run_id] = per
        return out

    def run_departments(self, run_ids: Sequence[int]) -> dict[int, frozenset[str]]:
        """The departments each run covered (no findings are read)."""
        out: dict[int, set[str]] = {run_id: set() for run_id in run_ids}
        for run_id in run_ids:
            for (name,) in self._conn.execute("SELECT DISTINCT department FROM assets WHERE run_id=?", (run_id,)):
                out[run_id].add(name)
        return {k: frozenset(v) for k, v in out.items()}


def _asset_filter(department: str | None, asset: str | None) -> tuple[str, list[Any]]:
    """SQL conditions on ``assets a`` for the history reads (an asset id is ``department/name``)."""
    sql, args = "", []
    if department is not None:
        sql += " AND a.department=?"
        args.append(department)
    if asset is not None:
        sql += " AND (a.asset_id=? OR substr(a.asset_id, length(a.department) + 2)=?)"
        args += [asset, asset]
    return sql, args
