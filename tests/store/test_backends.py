"""Both backends: one schema and migration history, the same records and documents, the same leases."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scanner.engine import ScanSettings
from scanner.errors import ExitCode
from scanner.inventory import parse_scope_args
from scanner.models import Asset, AssetKind
from scanner.plugin import load_registry
from scanner.policy import load_policies
from scanner.rundoc import RunStatus
from scanner.scan import Plan, execute, resume, start
from scanner.store import MIGRATIONS, SqliteStore, Store
from scanner.store.postgres import PostgresStore

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
LAB = "127.61.0.1"
POLICY = """
policy: {id: p, version: "1", title: t}
rules:
  - {id: no-telnet, title: No telnet, severity: high, checks: [{check: ports.forbidden, options: {ports: [23]}}]}
  - {id: only-known, title: Only known ports, severity: medium, checks: [{check: ports.allowed, options: {allowed: [22], port_set: top100, ports: [PORTS]}}]}
"""


def _tables(location: str) -> set[str]:
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    else:
        with contextlib.closing(sqlite3.connect(location)) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows} - {"sqlite_sequence", "civiscan_schema"}


def test_migrations_run_from_empty_to_one_schema(location: str, tmp_path: Path) -> None:
    with Store(location) as store:
        assert store.schema_version == len(MIGRATIONS)
    with Store(location) as store:  # reopening migrates nothing
        assert store.schema_version == len(MIGRATIONS)
    Store(str(tmp_path / "reference.db")).close()
    assert _tables(location) == _tables(str(tmp_path / "reference.db"))


def test_a_postgres_store_of_a_newer_civiscan_is_refused(fresh_postgres_url: str) -> None:
    Store(fresh_postgres_url).close()
    with psycopg.connect(fresh_postgres_url) as conn:
        conn.execute("UPDATE civiscan_schema SET version = 99")
    with pytest.raises(RuntimeError, match="newer than this civiscan"):
        Store(fresh_postgres_url)


def test_a_store_file_of_schema_6_is_continued_without_loss(tmp_path: Path) -> None:
    """A file as civiscan wrote it before the feed order column: runs and feed rows are kept."""
    path = tmp_path / "v6.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for migration in MIGRATIONS[:6]:
            migration(conn)
        conn.execute("PRAGMA user_version = 6")
        conn.execute("INSERT INTO runs (started, finished, status, exit_code, tool_version, ruleset_json, policy_key,"
                     " settings_json) VALUES (?, ?, 'complete', 0, '0', ?, 'p', '{}')",
                     (NOW.isoformat(), NOW.isoformat(), json.dumps({"policies": [], "rules": [], "waivers": []})))
        for package in ("zlib", "bash", "bash", "bash"):  # rows of one package keep their insertion order
            conn.execute("INSERT INTO feed_affected VALUES ('osv', ?, 'debian:12', ?, NULL, ?, NULL, 'high', NULL)",
                         (f"A-{conn.total_changes}", package, str(conn.total_changes)))
    with SqliteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.run(1).status is RunStatus.COMPLETE
        dataset = store.dataset("advisories")
        assert dataset is not None
        with dataset.read() as rows:
            order = [tuple(r) for r in rows.execute(
                "SELECT package, advisory FROM feed_affected WHERE release = ? ORDER BY package, seq", ("debian:12",))]
    assert order == [("bash", "A-2"), ("bash", "A-3"), ("bash", "A-4"), ("zlib", "A-1")]


class _Tee:
    """The scan writes through this into two stores at once; reads come from the first."""

    WRITES = frozenset({"create_run", "save_asset", "finish_run", "heartbeat", "claim", "update_settings",
                        "replace_findings"})

    def __init__(self, first: Store, second: Store) -> None:
        self.first, self.second = first, second

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.first, name)
        if name not in self.WRITES:
            return method

        def both(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            assert getattr(self.second, name)(*args, **kwargs) == result
            return result

        return both


@pytest.fixture
def port_lab() -> Any:
    from tests.ports.conftest import Lab

    with Lab() as lab:
        yield {"open": sorted({lab.open(LAB), lab.open(LAB), lab.mute(LAB)}), "lab": lab}


def test_the_same_scan_gives_byte_identical_run_documents(tmp_path: Path, fresh_postgres_url: str, port_lab: Any) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.replace("PORTS", ", ".join(map(str, port_lab["open"]))))
    registry = load_registry()
    ruleset = load_policies([str(policy)], registry)
    assets = (Asset(id=f"it/{LAB}", name=LAB, kind=AssetKind.HOST, department="it", address=LAB),
              Asset(id="it/gone", name="gone", kind=AssetKind.HOST, department="it", address="192.0.2.1"))
    settings = ScanSettings(timeout=2.0, plugin_settings={"port_scanner": "connect"})
    with SqliteStore(tmp_path / "c.db") as lite, PostgresStore(fresh_postgres_url) as pg:
        for _ in range(2):  # the second run has a previous run and first-seen dates
            spec = start(_Tee(lite, pg), Plan(assets, ruleset, parse_scope_args([LAB])), registry,  # type: ignore[arg-type]
                         settings, now=NOW)
            execute(spec)
        for run_id in (1, 2):
            a, b = lite.document(run_id), pg.document(run_id)
            assert json.dumps(a, indent=2).encode() == json.dumps(b, indent=2).encode()
        assert len(a["assets"]) == 2
        assert lite.runs() == pg.runs()
        assert lite.history_runs(10) == pg.history_runs(10)
        assert lite.history_counts([1, 2]) == pg.history_counts([1, 2])


# --- leases on PostgreSQL -------------------------------------------------------

CLAIMER = textwrap.dedent(
    """
    import sys
    from scanner.store import RunHeld, Store
    store = Store(sys.argv[1])
    try:
        store.claim(1)
        print("taken", flush=True)
    except RunHeld:
        print("held", flush=True)
    sys.stdin.read()  # hold the lease (stay alive) until the test has both answers
    """
)


def _interrupted_run(url: str, tmp_path: Path) -> None:
    """Run 1 of ``url``, left running by a process that has exited."""
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.replace("PORTS", "1"))
    script = textwrap.dedent(
        f"""
        import sys
        from scanner.engine import ScanSettings
        from scanner.inventory import parse_scope_args
        from scanner.models import Asset, AssetKind
        from scanner.plugin import load_registry
        from scanner.policy import load_policies
        from scanner.scan import Plan, start
        from scanner.store import Store
        registry = load_registry()
        ruleset = load_policies([{str(policy)!r}], registry)
        asset = Asset(id="it/a", name="a", kind=AssetKind.HOST, department="it", address="{LAB}")
        start(Store(sys.argv[1]), Plan((asset,), ruleset, parse_scope_args(["{LAB}"])), registry, ScanSettings())
        """
    )
    subprocess.run([sys.executable, "-c", script, url], check=True, timeout=60)


def test_a_dead_coordinators_run_is_interrupted_and_taken_over(fresh_postgres_url: str, tmp_path: Path) -> None:
    _interrupted_run(fresh_postgres_url, tmp_path)
    with Store(fresh_postgres_url) as store:
        assert store.run(1).status is RunStatus.INTERRUPTED
        spec = resume(store, 1, load_registry())
        holder, _beat = store.lease(1)
        assert holder is not None and holder.pid == os.getpid()
        assert execute(spec) in (ExitCode.COMPLIANT, ExitCode.FAILURES)
        assert store.lease(1) == (None, store.lease(1)[1])


def test_two_coordinators_never_both_hold_a_run(fresh_postgres_url: str, tmp_path: Path) -> None:
    _interrupted_run(fresh_postgres_url, tmp_path)
    claimers = [subprocess.Popen([sys.executable, "-c", CLAIMER, fresh_postgres_url], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        answers = sorted(c.stdout.readline().strip() for c in claimers)  # type: ignore[union-attr]
    finally:
        for c in claimers:
            c.communicate("", timeout=30)
    assert answers == ["held", "taken"]


def test_a_schedule_lock_has_one_holder(location: str) -> None:
    with Store(location) as store:
        slot = NOW
        assert store.acquire_schedule("nightly", slot, NOW) == ("taken", None)
        outcome, holder = store.acquire_schedule("nightly", slot, NOW)
        assert outcome == "held" and holder is not None and holder.pid == os.getpid()
        assert store.schedule_holder("nightly") == holder
        store.release_schedule("nightly")
        assert store.schedule_holder("nightly") is None
        assert store.acquire_schedule("nightly", slot, NOW) == ("done", None)
        assert store.schedule_last_slot("nightly") == slot


def test_the_cli_and_a_sqlite_store_never_import_sqlalchemy_or_psycopg(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        import scanner.cli
        from scanner.store import Store
        Store({str(tmp_path / "c.db")!r}).close()
        print(sorted(m for m in ("sqlalchemy", "psycopg", "alembic") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_libpq_service_file_names_the_database(postgres_server: Any, fresh_postgres_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    database = fresh_postgres_url.rsplit("/", 1)[1]
    service = tmp_path / "pg_service.conf"
    service.write_text(f"[civiscan-test]\nhost=127.0.0.1\nport={postgres_server.port}\ndbname={database}\nuser=civiscan\n")
    monkeypatch.setenv("PGSERVICEFILE", str(service))
    with Store("postgresql://?service=civiscan-test") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.location == "postgresql://?service=civiscan-test"
    with psycopg.connect(fresh_postgres_url) as conn:  # the service's database is the one migrated
        assert conn.execute("SELECT version FROM civiscan_schema").fetchone() == (len(MIGRATIONS),)


def test_processes_opening_a_new_postgres_store_at_once_migrate_it_once(fresh_postgres_url: str) -> None:
    opener = "import sys; from scanner.store import Store; Store(sys.argv[1]).close(); print('ok')"
    openers = [subprocess.Popen([sys.executable, "-c", opener, fresh_postgres_url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [o.communicate(timeout=60) for o in openers]
    assert [out for out, _err in results] == ["ok\n"] * 3, [err for _out, err in results]
    with psycopg.connect(fresh_postgres_url) as conn:
        assert conn.execute("SELECT version FROM civiscan_schema").fetchall() == [(len(MIGRATIONS),)]


def test_the_postgresql_server_binaries_are_installed() -> None:
    """tools/system-deps.sh installs Debian's postgresql; its binaries live outside PATH."""
    from tests.postgres import postgres_bin

    for name in ("initdb", "pg_ctl"):
        assert os.access(postgres_bin(name), os.X_OK)
