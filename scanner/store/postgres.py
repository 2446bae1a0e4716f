"""The PostgreSQL backend: the same schema and SQL as SQLite, for stores many machines write.

Opened by ``Store("postgresql://host[:port]/db")``. The engine (connection
pool, URL, dialect) is SQLAlchemy's over the psycopg 3 driver; the store's
statements are the shared constants of :mod:`scanner.store.sql`, each
translated once from ``?`` to the driver's parameter style and run at the
driver (measured in docs/scale-out.md). Imported only when such a store is
opened: the CLI and every SQLite store start without SQLAlchemy or psycopg.

Credentials never come from the URL (one with a password is refused): libpq
reads them from ``PGPASSWORD``, ``PGSERVICE`` / a service file, or
``~/.pgpass``.

Semantics that differ from SQLite's single writer lock:

* a read-then-write (a lease claimed, a run deleted, a schedule taken) locks
  its row with ``SELECT ... FOR UPDATE``, and a row that may not exist yet
  (a schedule's first claim, a once-ever notification) takes a transaction
  advisory lock on its key;
* SQLite's busy timeout is ``lock_timeout`` (:data:`BUSY_SECONDS`);
* a dataset is read through its own pooled connection in one
  ``REPEATABLE READ READ ONLY`` transaction;
* the schema version is the ``civiscan_schema`` table, migrated under an
  advisory lock so two processes opening a new database do not both migrate.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
import sqlalchemy

from ..plugin import Dataset, DatasetUnavailable, Rows
from .base import BUSY_SECONDS, check_url
from .schema import DATASETS, MIGRATIONS
from .sql import SqlStore

_MIGRATION_LOCK = 0x63697669  # the advisory lock key of schema migrations ("civi")


@functools.lru_cache(maxsize=1024)
def driver_sql(sql: str) -> str:
    """``sql`` with ``?`` parameters in psycopg's style (``%s``; a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Row(tuple):  # type: ignore[type-arg]
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    _names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@functools.lru_cache(maxsize=256)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"_names": {n: i for i, n in enumerate(names)}, "__slots__": ()})


def _row_factory(cursor: Any) -> Any:
    cls = _row_class(tuple(c.name for c in cursor.description or ()))
    return lambda values: tuple.__new__(cls, values)


class Connection:
    """A psycopg connection taking the store's ``?`` SQL: ``execute``, ``executemany``."""

    dialect = "postgresql"
    in_transaction = True  # what plugins' writers see inside Store.write_dataset

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        if not params:  # no parameters: psycopg sends the text as it is
            return self.raw.execute(sql)  # type: ignore[arg-type]
        return self.raw.execute(driver_sql(sql), tuple(params))  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Any) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            with self.raw.cursor() as cur:
                cur.executemany(driver_sql(sql), rows)


_engines: dict[str, sqlalchemy.Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: str) -> sqlalchemy.Engine:
    """One pooled engine per URL and process."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            parsed = sqlalchemy.make_url(url).set(drivername="postgresql+psycopg")
            engine = sqlalchemy.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
            _engines[url] = engine
        return engine


def _raw(engine: sqlalchemy.Engine) -> tuple[Any, psycopg.Connection[Any]]:
    """A pooled connection (give it back with ``.close()``) and its psycopg connection, autocommitting."""
    pooled = engine.raw_connection()
    raw: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
    if raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raw.rollback()
    raw.autocommit = True
    raw.row_factory = _row_factory
    return pooled, raw


def identity(url: str) -> str:
    """``postgresql://host:port/db``: where the rows are, with no user or credential."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    service = dict(parse_qsl(parts.query)).get("service")
    return f"postgresql://{parts.hostname or ''}{port}{parts.path}" + (f"?service={service}" if service else "")


class _PostgresDataset:
    """A dataset read through a pooled connection of its own, in one read-only snapshot."""

    def __init__(self, engine: sqlalchemy.Engine, source: str) -> None:
        self._engine = engine
        self.source = source

    @contextlib.contextmanager
    def read(self) -> Iterator[Rows]:
        try:
            pooled, raw = _raw(self._engine)
        except (sqlalchemy.exc.SQLAlchemyError, psycopg.Error) as exc:
            raise DatasetUnavailable(f"the store {self.source} cannot be reached ({exc})") from None
        try:
            raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield Connection(raw)  # type: ignore[misc]
        finally:
            try:
                raw.execute("ROLLBACK")
            finally:
                pooled.close()


class PostgresStore(SqlStore):
    _FOR_UPDATE = " FOR UPDATE"
    _refused = (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)

    def __init__(self, url: str) -> None:
        check_url(url)
        self.location = identity(url)
        self._engine = _engine(url)
        self._pooled, raw = _raw(self._engine)
        # SQLite's busy timeout: a writer waits this long for a lock, then fails.
        raw.execute(f"SET lock_timeout = {int(BUSY_SECONDS * 1000)}")
        self._conn = Connection(raw)
        self.migrate()
        self.mark_interrupted()

    def close(self) -> None:
        if self._pooled is not None:
            self._pooled.close()
            self._pooled = None

    def __enter__(self) -> PostgresStore:
        return self

    # --- transactions ------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        self._conn.raw.execute("BEGIN")
        try:
            yield self._conn
        except BaseException:
            self._conn.raw.execute("ROLLBACK")
            raise
        self._conn.raw.execute("COMMIT")

    def _serialize(self, conn: Any, key: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (key,))

    # --- schema ------------------------------------------------------------

    def _version(self) -> int:
        row = self._conn.execute("SELECT to_regclass('civiscan_schema')").fetchone()
        if row is None or row[0] is None:
            return 0
        row = self._conn.execute("SELECT version FROM civiscan_schema").fetchone()
        return int(row[0]) if row else 0

    @property
    def schema_version(self) -> int:
        return self._version()

    def migrate(self) -> None:
        self._check_version(self._version())
        if self._version() == len(MIGRATIONS):
            return
        with self.transaction() as conn:
            # DDL is transactional here: every migration and the version commit together.
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS civiscan_schema (version INTEGER NOT NULL)")
            version = self._version()
            self._check_version(version)
            for number in range(version + 1, len(MIGRATIONS) + 1):
                MIGRATIONS[number - 1](conn)
            conn.execute("DELETE FROM civiscan_schema")
            conn.execute("INSERT INTO civiscan_schema (version) VALUES (?)", (len(MIGRATIONS),))

    # --- datasets ----------------------------------------------------------

    def dataset(self, name: str) -> Dataset | None:
        if name not in DATASETS:
            return None
        return _PostgresDataset(self._engine, self.location)
