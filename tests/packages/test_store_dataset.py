"""The advisory feeds as the store's ``advisories`` dataset: migrated, written, lent to jobs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.engine import ScanSettings, make_job, run_job
from scanner.models import Asset, AssetKind
from scanner.options import validate_options
from scanner.plugin import Context, DatasetUnavailable, Registry, lend
from scanner.plugins.packages import PackagesPlugin, feeds, source_columns
from scanner.policy import RuleSet
from scanner.store import MIGRATIONS, Store

HOST = Path(__file__).resolve().parents[1] / "data" / "packages" / "feeds" / "host-debian12.json"
ASSET = Asset(id="it/web1", name="web1", kind=AssetKind.HOST, department="it", address="127.0.0.1")
OSV, _TRACKER = feeds.sample_feed_paths()
FEED_TABLES = {"feed_sources", "feed_releases", "feed_advisories", "feed_affected"}


def _tables(path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _imported(path: Path) -> Path:
    with Store(path) as store, store.write_dataset("advisories") as conn:
        feeds.import_path(conn, OSV, name="osv")
    return path


def _civiscan(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVISCAN_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_a_new_store_holds_the_advisory_tables(tmp_path: Path) -> None:
    Store(tmp_path / "c.db").close()
    assert _tables(tmp_path / "c.db") >= FEED_TABLES


def test_a_store_whose_feed_tables_predate_the_migration_keeps_its_feeds(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for migration in MIGRATIONS[:4]:
            migration(conn)
        conn.execute("PRAGMA user_version = 4")
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        feeds.ensure_schema(conn)  # how an import created them before they were migrations
        feeds.import_path(conn, OSV, name="osv")
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        dataset = store.dataset("advisories")
        assert dataset is not None
        with dataset.read() as rows:
            assert [f.name for f in feeds.list_feeds(rows)] == ["osv"]


def test_feeds_import_and_list_keep_their_output(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    imported = _civiscan(db, "feeds", "import", str(OSV), "--name", "osv")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith(f"{OSV}: feed 'osv' (osv), ")
    listed = _civiscan(db, "feeds", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:2] == ["osv", "osv"]


def test_a_dataset_read_cannot_write(tmp_path: Path) -> None:
    with Store(_imported(tmp_path / "c.db")) as store:
        dataset = store.dataset("advisories")
    assert dataset is not None
    with dataset.read() as rows, pytest.raises(sqlite3.OperationalError, match="readonly"):
        rows.execute("DELETE FROM feed_sources")


@pytest.mark.parametrize("name", ["runs", "findings", "nothing"], ids=["runs", "findings", "unknown"])
def test_only_declared_datasets_are_lent(tmp_path: Path, name: str) -> None:
    with Store(tmp_path / "c.db") as store:
        assert store.dataset(name) is None


def test_a_vanished_store_is_an_unavailable_dataset(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "c.db"
    with Store(path) as store:
        dataset = store.dataset("advisories")
    assert dataset is not None
    path.unlink()
    with pytest.raises(DatasetUnavailable, match="cannot be opened"), dataset.read():
        pass


def test_a_job_names_no_store(tmp_path: Path) -> None:
    job = make_job(ASSET, RuleSet((), (), ()), ScanSettings())
    assert "store" not in job and str(tmp_path) not in json.dumps(job)


def _packages_job() -> dict[str, Any]:
    return {"asset": ASSET.to_json(), "plugins": {"packages": [{"check": "packages.vulnerable", "options": {}}]},
            "timeout": 5, "settings": {}}


@pytest.fixture
def registry() -> Registry:
    host = json.loads(HOST.read_text())

    async def recorded(asset: Asset, ctx: Context) -> dict[str, Any]:
        return host

    reg = Registry()
    reg.add(PackagesPlugin(recorded))
    return reg


def _vulnerable(facts: dict[str, Any], lent: Store | None) -> Any:
    check = PackagesPlugin.checks[0]
    options, _ = validate_options(check.options, {"max_feed_age_days": 36500}, check.id)
    return check.evaluate(facts, options, lend(check, lent))


def test_a_job_yields_facts_and_the_evaluator_lends_the_feed(tmp_path: Path, registry: Registry) -> None:
    # The job reads no feed: its facts are the host's, whatever store the runner lends.
    with Store(_imported(tmp_path / "c.db")) as lent:
        result = asyncio.run(run_job(_packages_job(), registry, datasets=lent))
        facts = result["facts"]["packages"]
        assert "matches" not in facts and "feed" not in facts
        sources, found, _binaries = source_columns(facts)
        assert found[sources.index("openssl")] == "3.0.11-1~deb12u1"
        outcome = _vulnerable(facts, lent)
    assert outcome.evidence["feed"]["sources"][0]["name"] == "osv"
    assert "DSA-5532-1" in {m["id"] for m in outcome.evidence["advisories"]}


def test_evaluating_without_a_lent_index_has_no_feed(registry: Registry) -> None:
    result = asyncio.run(run_job(_packages_job(), registry))
    outcome = _vulnerable(result["facts"]["packages"], None)
    assert outcome.reason == "feed" and "no store database" in outcome.message
