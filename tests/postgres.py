"""A real PostgreSQL on loopback for the tests: one server per session, one database per test.

Debian's ``postgresql`` package (tools/system-deps.sh installs it) keeps its
binaries in ``/usr/lib/postgresql/<major>/bin``. PostgreSQL refuses to run as
root and CI runs as root, so the cluster belongs to ``nobody`` and is started
through ``runuser``; it listens on 127.0.0.1 on a free port, its socket in its
own folder, with ``trust`` authentication for the user ``civiscan`` (no
password anywhere).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool

USER = "civiscan"
PASSWORD_DATABASE = "secured"
"""The one database whose connections need a password (scram-sha-256); every other one trusts."""


def postgres_bin(name: str) -> str:
    """The newest installed PostgreSQL's ``name`` binary (fails under CI, skips elsewhere, when absent)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    return found[-1] if found else require_tool(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "nobody", "--", *argv]
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


class PostgresServer:
    """A throwaway cluster: ``start()``, ``new_database()``, ``stop()``."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="civiscan-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "nobody")
        _as_owner([self.initdb, "-D", str(self.data), "-A", "trust", "-U", USER, "--no-sync"])
        # One database needs a password (the first matching line wins): where credentials are tested.
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host {PASSWORD_DATABASE} all 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        _as_owner([self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"])

    def stop(self) -> None:
        try:
            _as_owner([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def password_database(self, role: str, password: str) -> str:
        """A fresh :data:`PASSWORD_DATABASE` owned by ``role``, who logs in with ``password``; its URL has no password."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(PASSWORD_DATABASE)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(PASSWORD_DATABASE), sql.Identifier(role)))
        return f"postgresql://{role}@127.0.0.1:{self.port}/{PASSWORD_DATABASE}"

    def new_database(self) -> str:
        """A fresh, empty database's URL."""
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use, stopped at the session's end)."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql://civiscan@127.0.0.1:PORT/DB``: a database of the session (for session fixtures)."""
    return postgres_server.new_database()


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of an empty database of this test's own."""
    return postgres_server.new_database()
