"""The store: runs, assets, facts and findings, written as each asset finishes.

:class:`Store` is the interface every backend implements (typed reads and
writes, no connection handed out). ``Store(location)`` opens the backend the
location names: a path is an embedded SQLite file (:class:`SqliteStore`), a
``postgresql://host[:port]/db`` URL a PostgreSQL database
(:class:`scanner.store.postgres.PostgresStore`, imported only when one is
opened). Both run one schema and one migration history
(:mod:`scanner.store.schema`). The run document is built from the records a
backend reads by the pure :func:`scanner.rundoc.build_document`.

Data imported into the store for plugins to read (the advisory feeds) is a
*dataset*: its tables are part of the store's migrations, commands write it
through :meth:`Store.write_dataset`, and plugins read it through
:meth:`Store.dataset`, lent to them as ``ctx.dataset(name)``.

Default location: ``$CIVISCAN_DB``, else ``$XDG_DATA_HOME/civiscan/civiscan.db``
(``~/.local/share``). Nothing secret is ever written: assets carry only the
*names* of environment variables that hold credentials, and a PostgreSQL URL
carrying a password is refused (libpq's environment, ``~/.pgpass`` or a service
file give it).

Several processes may share one store: every write is one transaction, a run
being scanned is held by its process (:mod:`scanner.lease`), and a run whose
holder died is marked ``interrupted`` by the next process that opens the store.
"""

from __future__ import annotations

from ..rundoc import AssetState, RunStatus
from .base import (
    BUSY_SECONDS,
    RunHeld,
    Store,
    StoreLocationError,
    check_url,
    default_db_path,
    is_url,
)
from .schema import ADVISORY_TABLES, DATASETS, MIGRATIONS, ensure_advisory_tables
from .sqlite import SqliteStore

__all__ = [
    "ADVISORY_TABLES",
    "BUSY_SECONDS",
    "DATASETS",
    "MIGRATIONS",
    "AssetState",
    "RunHeld",
    "RunStatus",
    "SqliteStore",
    "Store",
    "StoreLocationError",
    "check_url",
    "default_db_path",
    "ensure_advisory_tables",
    "is_url",
]
