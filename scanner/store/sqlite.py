"""The embedded backend: one SQLite file, read and written through ``sqlite3``.

WAL mode, ``synchronous=NORMAL``, foreign keys on; the schema version is
``PRAGMA user_version`` (the migrations are :mod:`scanner.store.schema`'s).
Several processes may share one file: every write is a ``BEGIN IMMEDIATE``
transaction (waiting up to :data:`BUSY_SECONDS` for another writer), so a
read-then-write inside one (a lease taken, a schedule claimed) is serialised
against every other writer.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..plugin import Dataset, DatasetUnavailable, Rows
from .base import BUSY_SECONDS
from .schema import DATASETS, MIGRATIONS
from .sql import SqlStore


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



_DATASET_MMAP_BYTES = 1 << 30
"""Address space a dataset's read-only connection maps of the store file (not memory it takes)."""


class _SqliteDataset:
    """A dataset read through its own read-only connection, so any thread may read it."""

    def __init__(self, path: Path) -> None:
        self.source = str(path)
        self._uri = path.as_uri() + "?mode=ro"

    @contextlib.contextmanager
    def read(self) -> Iterator[Rows]:
        try:
            conn = sqlite3.connect(self._uri, uri=True, timeout=BUSY_SECONDS)
            # Pages are read through a memory map, not one read() call each: a judge
            # reads scattered rows of large tables (feed rows, advisories) once each.
            conn.execute(f"PRAGMA mmap_size={_DATASET_MMAP_BYTES}")
            # One read transaction: every read of the caller sees one state of the store.
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise DatasetUnavailable(f"the store {self.source} cannot be opened ({exc})") from None
        try:
            yield conn
        finally:
            conn.close()


class SqliteStore(SqlStore):
    _refused = (sqlite3.OperationalError,)

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
        # BEGIN IMMEDIATE takes the file's write lock: every writer is serialised.
        return SqliteStore._Tx(self._conn)

    # --- datasets ----------------------------------------------------------

    def dataset(self, name: str) -> Dataset | None:
        if name not in DATASETS or str(self.path) == ":memory:":
            return None
        return _SqliteDataset(self.path.resolve())
