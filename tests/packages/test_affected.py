"""``civiscan affected``: the hosts an advisory hits, per department, from each asset's latest facts.

The store holds two runs made the way a scan leaves them (no host is contacted):
an older run in which every Debian 12 host still has the vulnerable bash, and a
newer one in which ``parks/web`` has been patched. The newest facts of an asset
are the ones judged, so the patched host is not affected any more.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind
from scanner.plugin import load_registry
from scanner.plugins.packages import packages_facts, packages_plugin
from scanner.plugins.packages.parsers import parse_dpkg_query
from scanner.policy import load_policies
from scanner.store import RunStatus, Store

POLICY = """
policy: {id: affected-test, version: "1", title: Affected test}
rules:
  - id: no-vulns
    title: No vulnerabilities
    severity: high
    checks: [{check: packages.vulnerable, options: {max_feed_age_days: 36500}}]
"""

FEED = {
    "schema_version": "1.6.0",
    "id": "DSA-9902-1",
    "summary": "bash - security update",
    "aliases": ["CVE-2026-88888"],
    "published": "2026-12-01T18:00:00Z",
    "modified": "2026-12-01T18:00:00Z",
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "bash"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+deb12u1"}]}],
        }
    ],
}
OLD, FIXED = "5.2.15-2", "5.2.15-2+deb12u1"
DEBIAN12 = {"id": "debian", "version_id": "12", "version_codename": "bookworm"}


def _host(bash: str) -> dict[str, Any]:
    line = f"bash\t{bash}\t\t\tii \tamd64\n"
    return {"collected_at": "2026-11-30T08:00:00+00:00", "os": DEBIAN12, "package_format": "dpkg",
            "packages": [p.to_json() for p in parse_dpkg_query(line)], "kernel": {"running": "6.1.0-28-amd64"}}


def _store_run(db: Path, policy: Path, hosts: dict[str, str], when: dt.datetime) -> None:
    """A finished run holding ``{department/name: bash version}`` hosts' package facts."""
    assets = [
        Asset(id=key, name=key.split("/")[1], kind=AssetKind.HOST, department=key.split("/")[0],
              address=f"127.0.0.{n}")
        for n, key in enumerate(hosts, 10)
    ]
    with Store(db) as opened:
        run = opened.create_run(load_policies([str(policy)], load_registry()), assets, {}, when, None, ())
        for asset, bash in zip(assets, hosts.values(), strict=True):
            opened.save_asset(run, asset, {"packages": packages_facts(_host(bash))}, {}, [], when,
                              versions={"packages": packages_plugin.facts_version})
        opened.finish_run(run, RunStatus.COMPLETE, 0, when)


@pytest.fixture
def civiscan(tmp_path: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "CI")}
    env["CIVISCAN_DB"] = str(tmp_path / "store.db")
    env["HOME"] = str(tmp_path / "home")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    monday = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    _store_run(tmp_path / "store.db", policy,
               {"water/pump": OLD, "parks/web": OLD, "parks/mail": OLD}, monday)
    _store_run(tmp_path / "store.db", policy, {"parks/web": FIXED}, monday + dt.timedelta(days=1))
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(FEED))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)

    assert run("feeds", "import", str(feed)).returncode == 0
    return run


def test_the_latest_facts_of_each_asset_are_judged(civiscan: Any) -> None:
    done = civiscan("affected", "CVE-2026-88888", "-f", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["hosts_judged"] == 3
    assert [(h["department"], h["asset_id"]) for h in report["affected"]] == [
        ("parks", "parks/mail"), ("water", "water/pump")]  # parks/web: patched in the newer run
    assert {h["packages"][0]["fixed"] for h in report["affected"]} == {FIXED}


def test_the_table_groups_the_hosts_under_their_department(civiscan: Any) -> None:
    done = civiscan("affected", "DSA-9902-1")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "DSA-9902-1: 2 of 3 judged hosts affected"
    parks, water = lines.index("parks"), lines.index("water")
    assert parks < water
    assert lines[parks + 1].split()[:2] == ["mail", "bash"]
    assert lines[water + 1].split()[:2] == ["pump", "bash"]
    assert f"{OLD} -> {FIXED}" in lines[water + 1]


def test_department_narrows_the_answer(civiscan: Any) -> None:
    done = civiscan("affected", "CVE-2026-88888", "--department", "parks", "-f", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["hosts_judged"], [h["asset_id"] for h in report["affected"]]) == (2, ["parks/mail"])


def test_an_unknown_department_is_bad_input(civiscan: Any) -> None:
    done = civiscan("affected", "CVE-2026-88888", "--department", "roads")
    assert done.returncode == 2
    assert "no stored packages facts of department 'roads'" in done.stderr
