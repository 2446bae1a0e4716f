"""The engine streams findings into a real SQLite store; runs can be resumed and re-evaluated."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3

import pytest

from scanner.engine import ScanSettings, make_job, run_job, scan_assets
from scanner.errors import ExitCode
from scanner.inventory import Scope, parse_scope_args
from scanner.models import Asset, AssetKind, Severity
from scanner.policy import load_policies
from scanner.scan import Plan, execute, finish, reevaluate, start
from scanner.store import MIGRATIONS, Store

POLICY = """
policy: {id: p, version: "1", title: t}
rules:
  - {id: small, title: Value is small, severity: high, checks: [{check: fake.value, options: {maximum: 5}}]}
"""
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def host(name: str, address: str = "127.0.0.1") -> Asset:
    return Asset(id=f"d/{name}", name=name, kind=AssetKind.HOST, department="d", address=address)


@pytest.fixture
def ruleset(write, registry):
    return load_policies([write("p.yaml", POLICY)], registry)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "c.db") as s:
        yield s


def scope() -> Scope:
    return parse_scope_args(["127.0.0.0/8"])


def test_schema_is_versioned_and_in_wal_mode(store):
    assert store.schema_version == len(MIGRATIONS)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    sqlite3.connect(path).execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer than this civiscan"):
        Store(path)


def test_job_is_json_in_json_out(ruleset, registry, fake_plugin):
    fake_plugin.broken = {"bad"}
    settings = ScanSettings(timeout=1)
    job = make_job(host("bad"), ruleset, settings)
    assert json.loads(json.dumps(job)) == job
    result = asyncio.run(run_job(job, registry))
    assert result == {"facts": {}, "errors": {"fake": {"reason": "timeout", "message": "no answer within the timeout"}}}


def test_scan_stores_facts_and_findings_and_keeps_going_after_errors(store, ruleset, registry, fake_plugin):
    fake_plugin.values = {"a": 1, "b": 9}
    fake_plugin.broken = {"c"}
    assets = [host("a"), host("b"), host("c")]
    plan = Plan(tuple(assets), ruleset, scope())
    run_id = start(store, plan, ScanSettings(timeout=1), NOW)
    code = execute(store, run_id, assets, ruleset, registry, ScanSettings(timeout=1), scope(), NOW, Severity.LOW)
    assert code is ExitCode.FAILURES
    doc = store.document(run_id)
    by_asset = {f["asset_id"]: f for f in doc["findings"]}
    assert by_asset["d/a"]["status"] == "pass"
    assert by_asset["d/b"]["status"] == "fail" and by_asset["d/b"]["first_seen"] == NOW.isoformat()
    assert by_asset["d/c"]["status"] == "error" and by_asset["d/c"]["reason"] == "timeout"
    assert {a["id"]: a["facts"] for a in doc["assets"]}["d/b"] == {"fake": {"value": 9}}
    assert doc["run"]["status"] == "complete" and doc["run"]["exit_code"] == 1


def test_out_of_scope_asset_gets_scope_error_and_no_collection(store, ruleset, registry, fake_plugin):
    outside = host("x", address="192.0.2.1")
    run_id = start(store, Plan((outside,), ruleset, scope()), ScanSettings(), NOW)
    execute(store, run_id, [outside], ruleset, registry, ScanSettings(), scope(), NOW, Severity.LOW)
    (finding,) = store.document(run_id)["findings"]
    assert finding["status"] == "error" and finding["reason"] == "scope"
    assert fake_plugin.calls == []


def test_resume_scans_only_pending_assets(store, ruleset, registry, fake_plugin):
    assets = [host("a"), host("b")]
    run_id = start(store, Plan(tuple(assets), ruleset, scope()), ScanSettings(), NOW)
    # First asset finished, then the process died: b is still pending.
    asyncio.run(scan_assets(store, run_id, assets[:1], ruleset, registry, ScanSettings(), scope(), NOW))
    assert [a.id for a in store.assets(run_id, state="pending")] == ["d/b"]
    assert finish(store, run_id, Severity.LOW, interrupted=True) is ExitCode.INTERRUPTED
    fake_plugin.calls.clear()
    pending = store.assets(run_id, state="pending")
    code = execute(store, run_id, pending, ruleset, registry, ScanSettings(), scope(), NOW, Severity.LOW)
    assert fake_plugin.calls == ["d/b"]
    assert code is ExitCode.COMPLIANT and store.run(run_id).status == "complete"


def test_first_seen_is_kept_across_runs(store, ruleset, registry, fake_plugin):
    fake_plugin.values = {"b": 9}
    later = NOW + dt.timedelta(days=7)
    for when in (NOW, later):
        run_id = start(store, Plan((host("b"),), ruleset, scope()), ScanSettings(), when)
        execute(store, run_id, [host("b")], ruleset, registry, ScanSettings(), scope(), when, Severity.LOW)
    doc = store.document(run_id)
    assert doc["findings"][0]["first_seen"] == NOW.isoformat()
    assert doc["run"]["previous_run"] == run_id - 1


def test_reevaluate_stored_facts_under_a_new_policy(write, store, ruleset, registry, fake_plugin):
    fake_plugin.values = {"b": 4}
    run_id = start(store, Plan((host("b"),), ruleset, scope()), ScanSettings(), NOW)
    execute(store, run_id, [host("b")], ruleset, registry, ScanSettings(), scope(), NOW, Severity.LOW)
    stricter = load_policies([write("s.yaml", POLICY.replace("maximum: 5", "maximum: 2"))], registry)
    fake_plugin.calls.clear()
    new, code = reevaluate(store, run_id, stricter, registry, Severity.LOW)
    assert fake_plugin.calls == [] and code is ExitCode.FAILURES
    assert store.document(new)["findings"][0]["status"] == "fail"


def test_no_secret_is_stored(tmp_path, store, ruleset, registry, monkeypatch):
    from scanner.models import SSHSettings

    monkeypatch.setenv("PARKS_PW", "hunter2-secret")
    a = Asset(id="d/a", name="a", kind=AssetKind.HOST, department="d", address="127.0.0.1",
              ssh=SSHSettings(user="audit", password_env="PARKS_PW"))
    run_id = start(store, Plan((a,), ruleset, scope()), ScanSettings(), NOW)
    execute(store, run_id, [a], ruleset, registry, ScanSettings(), scope(), NOW, Severity.LOW)
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("c.db*"))
    assert b"PARKS_PW" in raw and b"hunter2-secret" not in raw
