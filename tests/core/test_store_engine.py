"""The engine streams findings into a real SQLite store; runs can be resumed and re-evaluated."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sqlite3
from dataclasses import replace

import pytest

from scanner.engine import ScanSettings, make_job, run_job, scan_assets
from scanner.errors import ExitCode
from scanner.inventory import Scope, parse_scope_args
from scanner.models import Asset, AssetKind, Severity
from scanner.policy import load_policies
from scanner.scan import Plan, execute, finish, reevaluate, resume, start
from scanner.store import MIGRATIONS, RunHeld, RunStatus, Store

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
    with contextlib.closing(sqlite3.connect(store.path)) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


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
    assert result == {"facts": {}, "errors": {"fake": {"reason": "timeout", "message": "no answer within the timeout"}}, "versions": {}}


def test_scan_stores_facts_and_findings_and_keeps_going_after_errors(store, ruleset, registry, fake_plugin):
    fake_plugin.values = {"a": 1, "b": 9}
    fake_plugin.broken = {"c"}
    assets = [host("a"), host("b"), host("c")]
    spec = start(store, Plan(tuple(assets), ruleset, scope()), registry, ScanSettings(timeout=1), now=NOW)
    run_id = spec.run_id
    code = execute(spec)
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
    spec = start(store, Plan((outside,), ruleset, scope()), registry, ScanSettings(), now=NOW)
    execute(spec)
    (finding,) = store.document(spec.run_id)["findings"]
    assert finding["status"] == "error" and finding["reason"] == "scope"
    assert fake_plugin.calls == []


def test_resume_scans_only_pending_assets(store, ruleset, registry, fake_plugin):
    assets = [host("a"), host("b")]
    spec = start(store, Plan(tuple(assets), ruleset, scope()), registry, ScanSettings(), now=NOW)
    run_id = spec.run_id
    # First asset finished, then the process died: b is still pending.
    asyncio.run(scan_assets(replace(spec, assets=spec.assets[:1])))
    assert [a.id for a in store.assets(run_id, state="pending")] == ["d/b"]
    assert finish(store, run_id, Severity.LOW, interrupted=True) is ExitCode.INTERRUPTED
    fake_plugin.calls.clear()
    code = execute(resume(store, run_id, registry))
    assert fake_plugin.calls == ["d/b"]
    assert code is ExitCode.COMPLIANT and store.run(run_id).status == "complete"


def test_first_seen_is_kept_across_runs(store, ruleset, registry, fake_plugin):
    fake_plugin.values = {"b": 9}
    later = NOW + dt.timedelta(days=7)
    for when in (NOW, later):
        spec = start(store, Plan((host("b"),), ruleset, scope()), registry, ScanSettings(), now=when)
        execute(spec)
    run_id = spec.run_id
    doc = store.document(run_id)
    assert doc["findings"][0]["first_seen"] == NOW.isoformat()
    assert doc["run"]["previous_run"] == run_id - 1


def test_reevaluate_stored_facts_under_a_new_policy(write, store, ruleset, registry, fake_plugin):
    fake_plugin.values = {"b": 4}
    spec = start(store, Plan((host("b"),), ruleset, scope()), registry, ScanSettings(), now=NOW)
    run_id = spec.run_id
    execute(spec)
    stricter = load_policies([write("s.yaml", POLICY.replace("maximum: 5", "maximum: 2"))], registry)
    fake_plugin.calls.clear()
    new, code = reevaluate(store, run_id, stricter, registry, Severity.LOW)
    assert fake_plugin.calls == [] and code is ExitCode.FAILURES
    assert store.document(new)["findings"][0]["status"] == "fail"


def test_no_ssh_secret_reaches_the_store(tmp_path, tool):
    """A real scan over SSH with a passphrase-protected key: the passphrase is read and used
    (facts are collected), yet no byte of it is in the store file, its WAL or its index."""
    import getpass
    import subprocess
    import sys

    from tests.packages.sshd_lab import SSHDLab

    secret = "correct-horse-7f3a9c-battery"
    with SSHDLab(tool("sshd"), tmp_path / "lab", {"127.0.43.1": "debian12"}) as lab:
        key = lab.user_key_path
        subprocess.run([tool("ssh-keygen"), "-q", "-p", "-P", "", "-N", secret, "-f", str(key)], check=True)
        (tmp_path / "inv.yaml").write_text(
            "scope: {networks: [127.0.43.0/24]}\ndepartments:\n  lab:\n    assets:\n"
            f"      - host: 127.0.43.1\n        ssh: {{user: {getpass.getuser()}, port: {lab.port},"
            f" key_file: {key}, passphrase_env: LAB_KEY_PASSPHRASE, password_env: LAB_PASSWORD}}\n"
        )
        (tmp_path / "p.yaml").write_text(
            'policy: {id: p, version: "1", title: t}\nrules:\n  - {id: fresh, title: t, severity: low,'
            " checks: [{check: os.supported_release}]}\n"
        )
        env = {**os.environ, "LAB_KEY_PASSPHRASE": secret, "LAB_PASSWORD": secret + "-pw", "CIVISCAN_DB": str(tmp_path / "c.db")}
        env.pop("SSH_AUTH_SOCK", None)
        proc = subprocess.run(
            [sys.executable, "-m", "scanner", "scan", "-p", "p.yaml", "-i", "inv.yaml", "--known-hosts",
             str(lab.known_hosts), "-f", "json", "--timeout", "20"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )
    doc = json.loads(proc.stdout)
    assert doc["assets"][0]["facts"].get("os"), proc.stderr  # the key was decrypted: the secret was used
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("c.db*"))
    assert b"LAB_KEY_PASSPHRASE" in raw  # the variable's name is stored ...
    assert secret.encode() not in raw and secret.encode() not in (proc.stdout + proc.stderr).encode()  # ... never its value


def _set_holder(path, pid, host=None, start=None, heartbeat=None) -> None:
    import socket

    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE runs SET holder_pid=?, holder_host=?, holder_start=COALESCE(?, holder_start),"
            " heartbeat=COALESCE(?, heartbeat) WHERE id=1",
            (pid, host or socket.gethostname(), start, heartbeat),
        )


def _exited_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _stored_run(tmp_path, ruleset, registry) -> None:
    with Store(tmp_path / "held.db") as s:
        start(s, Plan((host("a"),), ruleset, scope()), registry, ScanSettings(), now=NOW)


@pytest.mark.parametrize(
    "holder",
    [
        lambda: {"pid": _exited_pid()},
        lambda: {"pid": os.getpid(), "start": "another-boot:1"},
        lambda: {"pid": os.getpid(), "host": "elsewhere", "heartbeat": (NOW - dt.timedelta(hours=1)).isoformat()},
    ],
    ids=["holder-exited", "pid-reused-by-another-process", "other-host-heartbeat-stale"],
)
def test_a_run_whose_holder_is_gone_is_interrupted_when_the_store_opens(tmp_path, ruleset, registry, holder):
    _stored_run(tmp_path, ruleset, registry)
    _set_holder(tmp_path / "held.db", **holder())
    with Store(tmp_path / "held.db") as s:
        record = s.run(1)
    assert (record.status, record.exit_code) == ("interrupted", 130)


@pytest.mark.parametrize(
    "holder",
    [lambda: {"pid": os.getpid()},
     lambda: {"pid": 1, "host": "elsewhere", "heartbeat": dt.datetime.now(dt.UTC).isoformat()}],
    ids=["this-live-process", "other-host-heartbeat-fresh"],
)
def test_a_run_held_by_a_live_process_stays_running_and_cannot_be_resumed(tmp_path, ruleset, registry, holder):
    _stored_run(tmp_path, ruleset, registry)
    _set_holder(tmp_path / "held.db", **holder())
    with Store(tmp_path / "held.db") as s:
        assert s.run(1).status == "running"
        with pytest.raises(RunHeld, match="run 1 is being scanned by pid"):
            resume(s, 1, registry)


def test_resume_takes_over_the_lease_of_an_interrupted_run(tmp_path, ruleset, registry):
    _stored_run(tmp_path, ruleset, registry)
    _set_holder(tmp_path / "held.db", _exited_pid())
    with Store(tmp_path / "held.db") as s:
        spec = resume(s, 1, registry)
        holder, _beat = s.lease(1)
        assert (s.run(1).status, holder and holder.pid) == (RunStatus.RUNNING, os.getpid())
        assert execute(spec) is ExitCode.COMPLIANT
        assert s.lease(1)[0] is None


def test_a_version_1_store_is_migrated_and_its_running_run_is_interrupted(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (started, status, tool_version, ruleset_json, policy_key, settings_json)"
                 " VALUES (?, 'running', '0', ?, 'p', '{}')", (NOW.isoformat(), json.dumps({"policies": [], "rules": [], "waivers": []})))
    conn.close()
    with Store(path) as s:
        assert s.schema_version == len(MIGRATIONS)
        assert s.run(1).status is RunStatus.INTERRUPTED


def test_the_lease_is_renewed_while_the_scan_runs(store, ruleset, registry, fake_plugin, monkeypatch):
    import time

    import scanner.scan

    monkeypatch.setattr(scanner.scan, "HEARTBEAT_SECONDS", 0.01)
    spec = start(store, Plan((host("a"),), ruleset, scope()), registry, ScanSettings(), now=NOW)
    watcher = sqlite3.connect(store.path)
    first = watcher.execute("SELECT heartbeat FROM runs WHERE id=?", (spec.run_id,)).fetchone()[0]

    async def collect_until_renewed(asset, requests, ctx):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            beat = watcher.execute("SELECT heartbeat FROM runs WHERE id=?", (spec.run_id,)).fetchone()[0]
            if beat != first:
                return {"value": 1}
            await asyncio.sleep(0.01)
        return {"value": 9}

    monkeypatch.setattr(fake_plugin, "collect", collect_until_renewed)
    assert execute(spec) is ExitCode.COMPLIANT
