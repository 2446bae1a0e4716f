"""The CLI on a PostgreSQL store: selection by --db / CIVISCAN_DB, refused passwords, history, diff, feeds."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.store import Store

LAB = "127.61.0.2"
POLICY = """
policy: {id: p, version: "1", title: t}
rules:
  - {id: only-known, title: Only known ports, severity: medium, checks: [{check: ports.allowed, options: {allowed: [22], port_set: top100, ports: [PORTS]}}]}
"""


def civiscan(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    environment.pop("CIVISCAN_DB", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                          env=environment, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("how", ["--db", "CIVISCAN_DB"])
@pytest.mark.parametrize("url", ["postgresql://civiscan:s3cr3t-pw@127.0.0.1:1/db",
                                 "postgresql://civiscan@127.0.0.1:1/db?password=s3cr3t-pw"])
def test_a_url_with_a_password_is_refused(tmp_path: Path, how: str, url: str) -> None:
    args, env = (["--db", url], None) if how == "--db" else ([], {"CIVISCAN_DB": url})
    result = civiscan(tmp_path, "runs", *args, env=env)
    assert result.returncode == 2
    assert "password in the store URL is refused" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_an_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    result = civiscan(tmp_path, "runs", "--db", "postgresql://civiscan@127.0.0.1:1/db")
    assert result.returncode == 2
    assert result.stderr.startswith("error: postgresql://civiscan@127.0.0.1:1/db: cannot open the store: connection")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.fixture
def lab_ports() -> list[int]:
    from tests.ports.conftest import Lab

    with Lab() as lab:
        yield sorted({lab.open(LAB), lab.open(LAB)})


def test_scan_runs_history_diff_and_report_on_postgres(tmp_path: Path, fresh_postgres_url: str, lab_ports: list[int]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY.replace("PORTS", ", ".join(map(str, lab_ports))))
    env = {"CIVISCAN_DB": fresh_postgres_url}
    for _ in range(2):
        scan = civiscan(tmp_path, "scan", "-p", str(policy), "--scope", LAB, "--port-scanner", "connect", LAB,
                        "-f", "json", "-o", "run.json", env=env)
        assert scan.returncode == 1, scan.stderr
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["run"]["id"] == 2 if "run" in doc else doc["id"] == 2
    runs = civiscan(tmp_path, "runs", env=env)
    assert runs.returncode == 0 and runs.stdout.count("complete") == 2, runs.stdout
    history = civiscan(tmp_path, "history", "-f", "json", env=env)
    assert history.returncode == 0, history.stderr
    assert len(json.loads(history.stdout)["runs"]) == 2
    diff = civiscan(tmp_path, "diff", "1", "2", "-f", "json", env=env)
    assert diff.returncode == 0, diff.stderr
    with Store(fresh_postgres_url) as store:
        store.delete_run(1)  # retention
        assert [r["id"] for r in store.runs()] == [2]
        assert store.previous_run(2) is None


def test_feeds_imported_into_postgres_are_matched_by_the_packages_plugin(tmp_path: Path, fresh_postgres_url: str) -> None:
    import asyncio

    from scanner.models import Asset, AssetKind
    from scanner.plugin import CheckRequest, Context
    from scanner.plugins.packages import PackagesPlugin, feeds
    from scanner.plugins.packages.checks import judged_matches

    osv, _tracker = feeds.sample_feed_paths()
    imported = civiscan(tmp_path, "feeds", "import", str(osv), "--name", "osv", env={"CIVISCAN_DB": fresh_postgres_url})
    assert imported.returncode == 0, imported.stderr
    listed = civiscan(tmp_path, "feeds", "list", env={"CIVISCAN_DB": fresh_postgres_url})
    assert listed.stdout.split()[:2] == ["osv", "osv"], listed.stdout
    host = json.loads((Path(__file__).parents[1] / "data" / "packages" / "feeds" / "host-debian12.json").read_text())

    async def collect_host_facts(asset: Asset, ctx: Context) -> dict:
        return host

    asset = Asset(id="it/web1", name="web1", kind=AssetKind.HOST, department="it", address="127.0.0.1")
    with Store(fresh_postgres_url) as store:
        dataset = store.dataset("advisories")
        assert dataset is not None and dataset.source == fresh_postgres_url.replace("civiscan@", "")
        facts = asyncio.run(PackagesPlugin(collect_host_facts).collect(
            asset, [CheckRequest("packages.vulnerable", {})], Context(timeout=5, datasets=store)))
        with dataset.read() as rows, pytest.raises(Exception, match="read-only"):
            rows.execute("DELETE FROM feed_sources")
        # Facts only: the feed in PostgreSQL is read when the facts are judged.
        found = judged_matches(facts, dataset)
    assert "matches" not in facts
    assert found["feed"]["sources"][0]["name"] == "osv"
    assert {m["id"] for m in found["matches"]} >= {"DSA-5532-1", "DSA-5724-1", "DEBIAN-CVE-2025-32462"}


def test_the_password_comes_from_libpq_and_is_never_shown(tmp_path: Path, postgres_server: Any) -> None:
    secret = "pw-" + os.urandom(8).hex()
    url = postgres_server.password_database("auditor", secret)
    missing = civiscan(tmp_path, "runs", "--db", url, env={"PGPASSFILE": str(tmp_path / "none")})
    assert missing.returncode == 2 and "cannot open the store" in missing.stderr, missing.stderr
    given = civiscan(tmp_path, "runs", "--db", url, env={"PGPASSWORD": secret})
    assert given.returncode == 0, given.stderr
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:secured:auditor:{secret}\n")
    pgpass.chmod(0o600)
    from_file = civiscan(tmp_path, "feeds", "list", "--db", url, env={"PGPASSFILE": str(pgpass)})
    assert from_file.returncode == 0, from_file.stderr
    with _env(PGPASSWORD=secret), Store(url) as store:
        assert secret not in store.location
        dataset = store.dataset("advisories")
        assert dataset is not None and secret not in dataset.source
    for result in (missing, given, from_file):
        assert secret not in result.stdout + result.stderr


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
