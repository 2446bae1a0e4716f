"""Facts now, judgement whenever: a feed imported after the scan is judged without SSH.

A real sshd serves a recorded Debian 12 host; civiscan scans it once over SSH.
Then an evening feed with a new advisory is imported and ``civiscan evaluate``
and ``civiscan affected`` answer from the stored facts: the lab counts every
command sshd runs, and sshd is even stopped before the re-judging.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.packages.sshd_lab import SSHDLab

pytestmark = pytest.mark.integration

ADDRESS = "127.63.0.1"
SAMPLE = Path(__file__).resolve().parents[2] / "plugins" / "packages" / "data" / "osv"

POLICY = """
policy: {id: rejudge-test, version: "1", title: Re-judging test}
rules:
  - id: no-high-vulns
    title: No high vulnerabilities
    severity: high
    checks: [{check: packages.vulnerable, options: {min_severity: high, max_feed_age_days: 36500}}]
"""

# Published "this evening": bash on Debian 12 (installed 5.2.15-2) is fixed in 5.2.15-2+deb12u1.
EVENING = {
    "schema_version": "1.6.0",
    "id": "DSA-9901-1",
    "summary": "bash - security update",
    "details": "A flaw in bash's parser.",
    "aliases": ["CVE-2026-77777"],
    "published": "2026-12-01T18:00:00Z",
    "modified": "2026-12-01T18:00:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "bash"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.2.15-2+deb12u1"}]}],
        }
    ],
}


def test_a_new_feed_is_judged_against_stored_facts_without_ssh(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "CI")}
    env["CIVISCAN_DB"] = str(tmp_path / "store.db")
    env["HOME"] = str(tmp_path / "home")

    def civiscan(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    lab = SSHDLab(require_tool("sshd"), tmp_path / "lab", {ADDRESS: "debian12"})
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "scope: {networks: [127.63.0.0/24]}\ndepartments:\n  water:\n    assets:\n"
        f"      - host: {ADDRESS}\n        ssh: {{user: {getpass.getuser()}, port: {lab.port}, "
        f"key_file: {lab.user_key_path}}}\n"
    )
    assert civiscan("feeds", "import", str(SAMPLE)).returncode == 0
    with lab:
        scan = civiscan("scan", "-p", str(policy), "-i", str(inventory), "--known-hosts",
                        str(lab.known_hosts), "--format", "json")
        assert scan.returncode in (0, 1), scan.stderr
        sessions = lab.sessions(ADDRESS)
    assert sessions == 1
    first = {f["rule_id"]: f for f in json.loads(scan.stdout)["findings"]}["no-high-vulns"]
    assert "DSA-9901-1" not in json.dumps(first)
    run_id = str(json.loads(scan.stdout)["run"]["id"])

    evening = tmp_path / "evening.json"
    evening.write_text(json.dumps(EVENING))
    imported = civiscan("feeds", "import", str(evening), "--name", "debian-evening")
    assert imported.returncode == 0, imported.stderr

    # sshd is down: nothing below could reach the host even if it tried.
    judged = civiscan("evaluate", run_id, "-p", str(policy), "-f", "json", "-q")
    assert judged.returncode == 1, judged.stderr
    finding = {f["rule_id"]: f for f in json.loads(judged.stdout)["findings"]}["no-high-vulns"]
    assert finding["status"] == "fail"
    evidence = finding["checks"][0]["evidence"]
    advisory = next(a for a in evidence["advisories"] if a["id"] == "DSA-9901-1")
    assert (advisory["installed"], advisory["fixed"]) == ("5.2.15-2", "5.2.15-2+deb12u1")
    assert "CVE-2026-77777" in advisory["aliases"]
    feeds = {s["name"]: s["date"] for s in evidence["feed"]["sources"]}
    assert feeds["debian-evening"] == "2026-12-01T18:00:00+00:00"
    assert "debian-evening dated 2026-12-01" in finding["message"]

    affected = civiscan("affected", "CVE-2026-77777", "-f", "json")
    assert affected.returncode == 1, affected.stderr
    hosts = json.loads(affected.stdout)
    assert hosts["advisory"] == "CVE-2026-77777"
    assert [(h["department"], h["asset_id"]) for h in hosts["affected"]] == [("water", f"water/{ADDRESS}")]
    assert hosts["affected"][0]["packages"][0]["fixed"] == "5.2.15-2+deb12u1"
    assert civiscan("affected", "CVE-2026-00000").returncode == 0
    assert lab.sessions(ADDRESS) == sessions  # no SSH session since the scan
