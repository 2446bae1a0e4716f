"""Patch levels end to end through the CLI: real sshd, strict host keys, enrol, feed, scan."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.packages.sshd_lab import SSHDLab

pytestmark = pytest.mark.integration

# A loopback network of this process's own (as NET in tests/core/test_cli.py), so suites run side by side.
NET = f"127.{100 + os.getpid() % 100}.43"
DEBIAN, ROCKY = f"{NET}.1", f"{NET}.2"
HOSTS = {DEBIAN: "debian12", ROCKY: "rocky9"}

POLICY = """
policy: {id: patch-test, version: "1", title: Patch test}
rules:
  - id: no-high-vulns
    title: No high vulnerabilities
    severity: high
    checks: [{check: packages.vulnerable, options: {min_severity: high, max_feed_age_days: 36500}}]
  - id: supported-release
    title: Supported release
    severity: high
    checks: [{check: os.supported_release}]
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHDLab]:
    with SSHDLab(require_tool("sshd"), tmp_path_factory.mktemp("sshd-cli"), HOSTS) as running:
        yield running


@pytest.fixture
def civiscan(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "CI")}
    env["CIVISCAN_DB"] = str(tmp_path / "store.db")
    env["HOME"] = str(tmp_path / "home")  # no personal known_hosts or ssh config leaks in

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)

    return run


def write_inventory(tmp_path: Path, lab: SSHDLab) -> Path:
    hosts = "".join(
        f"      - host: {address}\n        ssh: {{user: {getpass.getuser()}, port: {lab.port}, key_file: {lab.user_key_path}}}\n"
        for address in HOSTS
    )
    path = tmp_path / "inventory.yaml"
    path.write_text(f"scope: {{networks: [{NET}.0/24]}}\ndepartments:\n  lab:\n    assets:\n{hosts}")
    return path


def test_unknown_hosts_are_refused_until_enrolled(
    lab: SSHDLab, tmp_path: Path, civiscan, check_run_document
) -> None:
    inventory = write_inventory(tmp_path, lab)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    known = tmp_path / "known_hosts"
    known.write_text("")
    sample = Path(__file__).resolve().parents[2] / "plugins" / "packages" / "data" / "osv"
    assert civiscan("feeds", "import", str(sample)).returncode == 0

    first = civiscan("scan", "-p", str(policy), "-i", str(inventory), "--known-hosts", str(known), "--format", "json")
    assert first.returncode == 3, first.stderr
    findings = json.loads(first.stdout)["findings"]
    assert {(f["status"], f["reason"]) for f in findings} == {("error", "host_key")}
    assert f"civiscan hosts enrol {DEBIAN} --port {lab.port}" in findings[0]["message"]

    enrolled = civiscan("hosts", "enrol", DEBIAN, "--port", str(lab.port), "--known-hosts", str(known))
    assert enrolled.returncode == 0, enrolled.stderr
    assert lab.fingerprint in enrolled.stdout

    second = civiscan("scan", "-p", str(policy), "-i", str(inventory), "--known-hosts", str(known), "--format", "json")
    doc = json.loads(second.stdout)
    check_run_document(doc)
    by_key = {(f["asset_id"], f["rule_id"]): f for f in doc["findings"]}
    debian = by_key[(f"lab/{DEBIAN}", "no-high-vulns")]
    assert debian["status"] in ("pass", "fail") and debian["reason"] is None
    assert by_key[(f"lab/{DEBIAN}", "supported-release")]["status"] == "pass"
    assert by_key[(f"lab/{ROCKY}", "no-high-vulns")]["reason"] == "host_key"
    facts = {a["id"]: a["facts"] for a in doc["assets"]}[f"lab/{DEBIAN}"]
    assert facts["os"]["os"]["id"] == "debian"
