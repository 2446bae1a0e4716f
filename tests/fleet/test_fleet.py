"""The celery engine end to end: a real redis-server, real ``civiscan worker`` processes, loopback labs.

Three workers serve the default queue for the module; the zone tests start
their own on zone queues. Every scan is a ``civiscan scan`` subprocess, so
Ctrl-C and SIGKILL hit a real coordinator.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.fleet import keys
from scanner.lab.pki import LabPKI
from scanner.store import AssetState, SqliteStore

from .conftest import Proc, WorkerFactory, civiscan, fleet_env, free_port, received_tasks, wait_until

_ESTATE = Path(__file__).resolve().parents[2] / "bench" / "scale" / "estate.py"
_spec = importlib.util.spec_from_file_location("civiscan_scale_estate", _ESTATE)
assert _spec is not None and _spec.loader is not None
estate_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = estate_module  # dataclasses look their module up
_spec.loader.exec_module(estate_module)
estate = estate_module.estate


@pytest.fixture(scope="module")
def fleet(start_workers: WorkerFactory) -> list[Proc]:
    """Three workers of the default queue."""
    return start_workers({"w1": (), "w2": (), "w3": ()})


@pytest.fixture(scope="module")
def zoned(start_workers: WorkerFactory) -> dict[str, Proc]:
    """Workers of zone queues, started together: two for the kill test, one per zone, one for pickles."""
    names = {"victim": ("kill",), "survivor": ("kill",), "zone-a": ("a",), "zone-b": ("b",), "pickle-target": ("pickle",)}
    return dict(zip(names, start_workers(names, concurrency=2), strict=True))


def scan_argv(est: Any, db: Path, engine: str, broker: str, *extra: str) -> list[str]:
    return civiscan("scan", "-p", str(est.policy), "-i", str(est.inventory), "--ca-file", str(est.ca_file),
                    "--port-scanner", "connect", "--timeout", "1", "--engine", engine, "--broker", broker,
                    "--db", str(db), "-q", *extra)


def run_scan(est: Any, db: Path, engine: str, broker: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(scan_argv(est, db, engine, broker, *extra), capture_output=True, text=True,
                          env=fleet_env(), timeout=120)


def comparable(db: Path) -> dict[str, Any]:
    """The run document without what differs between two scans of the same estate: ids and clocks."""
    with SqliteStore(db) as store:
        run_id = store.resolve_run("last")
        assert run_id is not None
        doc = store.document(run_id)
    text = re.sub(r'"checked_at": "[^"]*"', '"checked_at": ""', json.dumps(doc["assets"], sort_keys=True))
    findings = [{k: v for k, v in f.items() if k != "first_seen"} for f in doc["findings"]]
    return {"assets": json.loads(text), "findings": findings, "summary": doc["summary"], "status": doc["run"]["status"]}


def finding_keys(db: Path) -> list[tuple[str, str]]:
    with SqliteStore(db) as store:
        run_id = store.resolve_run("last")
        assert run_id is not None
        return [(f["asset_id"], f["rule_id"]) for f in store.findings(run_id)]


def test_distributed_scan_finds_what_the_local_engine_finds(fleet: list[Proc], redis_url: str, tmp_path: Path) -> None:
    with estate(tmp_path / "estate", 6, 4) as est:
        local = run_scan(est, tmp_path / "local.db", "local", redis_url)
        celery = run_scan(est, tmp_path / "celery.db", "celery", redis_url)
    assert local.returncode == 1, local.stderr
    assert celery.returncode == 1, celery.stderr
    expected = comparable(tmp_path / "local.db")
    assert expected["summary"]["assessed"] == 10
    assert expected["summary"]["findings"]["fail"] > 0
    assert comparable(tmp_path / "celery.db") == expected
    # The jobs were spread over the workers.
    assert sum(1 for w in fleet if received_tasks(w)) >= 2


def test_a_worker_killed_mid_run_loses_no_asset_and_doubles_none(
    zoned: dict[str, Proc], redis_url: str, tmp_path: Path
) -> None:
    victim, survivor = zoned["victim"], zoned["survivor"]
    with estate(tmp_path / "estate", 8, 0, slow=True, zones=("kill",)) as est:
        local = run_scan(est, tmp_path / "local.db", "local", redis_url)
        coordinator = Proc(scan_argv(est, tmp_path / "celery.db", "celery", redis_url), env=fleet_env(), name="scan")
        victim.wait_for(r"Task civiscan\.job\[.*\] received", 30)
        victim.kill()
        assert coordinator.popen.wait(90) == 1, coordinator.text()
    assert local.returncode == 1
    keys_seen = finding_keys(tmp_path / "celery.db")
    assert len(keys_seen) == len(set(keys_seen))
    assert comparable(tmp_path / "celery.db") == comparable(tmp_path / "local.db")
    # The survivor ran what the victim had taken: every job was redelivered, none lost.
    assert set(received_tasks(victim)) <= set(received_tasks(survivor))


def test_a_killed_coordinator_resumes_and_completes(fleet: list[Proc], redis_url: str, tmp_path: Path) -> None:
    db = tmp_path / "celery.db"
    with estate(tmp_path / "estate", 30, 0, slow=True) as est:
        local = run_scan(est, tmp_path / "local.db", "local", redis_url)
        coordinator = Proc(scan_argv(est, db, "celery", redis_url), env=fleet_env(), name="scan")

        def some_done() -> bool:
            if not db.exists():
                return False
            with SqliteStore(db) as store:
                run_id = store.resolve_run("last")
                return run_id is not None and bool(store.assets(run_id, state=AssetState.DONE))

        wait_until(some_done, 60, "a first stored asset")
        coordinator.kill()
        runs = subprocess.run(civiscan("runs", "--db", str(db)), capture_output=True, text=True, env=fleet_env())
        assert runs.returncode == 0, runs.stderr
        assert re.search(r"run 1 \(celery\): \d+ queued, \d+ running, \d+/30 done", runs.stdout), runs.stdout
        resumed = subprocess.run(civiscan("scan", "--resume", "1", "--db", str(db), "--broker", redis_url, "-q"),
                                 capture_output=True, text=True, env=fleet_env(), timeout=120)
    assert resumed.returncode == 1, resumed.stderr
    assert local.returncode == 1
    keys_seen = finding_keys(db)
    assert len(keys_seen) == len(set(keys_seen))
    assert comparable(db) == comparable(tmp_path / "local.db")


def test_ctrl_c_keeps_finished_assets_and_revokes_the_rest(fleet: list[Proc], redis_url: str, tmp_path: Path) -> None:
    db = tmp_path / "celery.db"
    with estate(tmp_path / "estate", 40, 0, slow=True) as est:
        coordinator = Proc(scan_argv(est, db, "celery", redis_url), env=fleet_env(), name="scan")

        def done_count() -> int:
            if not db.exists():
                return 0
            with SqliteStore(db) as store:
                run_id = store.resolve_run("last")
                return len(store.assets(run_id, state=AssetState.DONE)) if run_id else 0

        wait_until(done_count, 60, "a first stored asset")
        coordinator.popen.send_signal(signal.SIGINT)
        assert coordinator.popen.wait(30) == 130, coordinator.text()
        assert "civiscan scan --resume 1" in coordinator.text()
        with SqliteStore(db) as store:
            settings = store.run(1).settings
            pending = store.assets(1, state=AssetState.PENDING)
            assert pending and store.assets(1, state=AssetState.DONE)
        import redis

        client = redis.Redis.from_url(redis_url)
        assert client.exists(keys.cancelled(settings["fleet_attempt"]))
        assert client.hlen(keys.states(settings["fleet_run"])) == 0
        resumed = subprocess.run(civiscan("scan", "--resume", "1", "--db", str(db), "--broker", redis_url, "-q"),
                                 capture_output=True, text=True, env=fleet_env(), timeout=120)
    assert resumed.returncode == 1, resumed.stderr
    keys_seen = finding_keys(db)
    assert len(keys_seen) == len(set(keys_seen))
    with SqliteStore(db) as store:
        assert not store.assets(1, state=AssetState.PENDING)


class CountingTlsServer:
    """Counts the connections open at once; each is answered after a pause, so slots are held a while."""

    def __init__(self, address: str, ctx: ssl.SSLContext) -> None:
        self.sock = __import__("socket").create_server((address, free_port(address)))
        self.port = self.sock.getsockname()[1]
        self.ctx = ctx
        self.now = self.peak = self.total = 0
        self.lock = threading.Lock()
        self.closing = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: Any) -> None:
        with self.lock:
            self.now += 1
            self.total += 1
            self.peak = max(self.peak, self.now)
        try:
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(5)
                tls.recv(65536)
                threading.Event().wait(0.25)  # the fragile server is slow to answer
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError:
            pass
        finally:
            with self.lock:
                self.now -= 1

    def close(self) -> None:
        self.closing = True
        self.sock.close()


def test_the_per_host_limit_holds_across_the_fleet(fleet: list[Proc], redis_url: str, tmp_path: Path) -> None:
    pki = LabPKI(tmp_path / "pki", domain="fleet.test")
    leaf = pki.leaf("good-ecdsa", "fragile.fleet.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(leaf.fullchain), str(leaf.key))
    server = CountingTlsServer("127.62.9.1", ctx)
    assets = "\n".join(f'      - {{endpoint: "https://fragile.fleet.test:{server.port}/", address: 127.62.9.1, name: c{i}}}'
                       for i in range(9))
    (tmp_path / "inventory.yaml").write_text(
        "scope: {networks: [127.62.0.0/16], domains: [fleet.test]}\ndepartments:\n  fragile:\n    assets:\n" + assets + "\n")
    (tmp_path / "policy.yaml").write_text(
        'policy: {id: fragile, version: "1", title: Fragile}\nrules:\n  - id: hsts\n    title: HSTS\n'
        "    severity: low\n    checks: [{check: http.hsts}]\n")
    try:
        result = subprocess.run(
            civiscan("scan", "-p", str(tmp_path / "policy.yaml"), "-i", str(tmp_path / "inventory.yaml"),
                     "--ca-file", str(pki.ca_bundle), "--engine", "celery", "--broker", redis_url, "--per-host", "2",
                     "--db", str(tmp_path / "c.db"), "-q"),
            capture_output=True, text=True, env=fleet_env(), timeout=120)
    finally:
        server.close()
    assert result.returncode == 1, result.stderr  # no HSTS header: every asset fails
    assert server.total >= 9
    assert server.peak == 2, f"{server.peak} connections at once"
    spread = [w for w in fleet if received_tasks(w)]
    assert len(spread) >= 2


def test_zone_jobs_run_only_on_their_zone_workers(zoned: dict[str, Proc], redis_url: str, tmp_path: Path) -> None:
    worker_a, worker_b = zoned["zone-a"], zoned["zone-b"]
    db = tmp_path / "zones.db"
    with estate(tmp_path / "estate", 8, 0, zones=("a", "b")) as est:
        result = run_scan(est, db, "celery", redis_url)
    assert result.returncode == 1, result.stderr
    with SqliteStore(db) as store:
        attempt = store.run(1).settings["fleet_attempt"]
        by_zone: dict[str, set[str]] = {}
        for asset in store.assets(1):
            assert asset.zone in ("a", "b")
            by_zone.setdefault(asset.zone, set()).add(keys.task_id(attempt, asset.id))
    assert set(received_tasks(worker_a)) == by_zone["a"]
    assert set(received_tasks(worker_b)) == by_zone["b"]


class _Planted:
    """Unpickling this would create a file: what a pickled message could do to a worker."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def test_a_pickled_job_is_refused(zoned: dict[str, Proc], redis_url: str, tmp_path: Path) -> None:
    from scanner.fleet.app import make_app
    from scanner.fleet.broker import BrokerConfig

    worker = zoned["pickle-target"]
    marker = tmp_path / "unpickled"
    app = make_app(BrokerConfig.load(redis_url, {}))
    app.send_task(keys.TASK, args=[_Planted(marker)], queue=keys.queue_for("pickle"), serializer="pickle")
    worker.wait_for(r"(?i)refusing to deserialize .*pickle", 30)
    assert not marker.exists()
    assert worker.popen.poll() is None
