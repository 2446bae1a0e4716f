"""``civiscan evaluate`` re-judges stored certificate facts under a stricter policy, without a rescan."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
V1_FACTS = Path(__file__).resolve().parents[1] / "data" / "tls" / "facts-v1"  # tests/tls/record_v1_facts.py

POLICY = """
policy: {{id: certs, version: "1", title: Certificate floors}}
rules:
  - id: tls-certificate
    title: Certificate is strong enough
    severity: high
    checks: [{{check: tls.certificate, options: {options}}}]
"""


def civiscan(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVISCAN_DB": str(tmp_path / "store.db")}
    env.pop("CI", None)
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def finding(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    (only,) = [f for f in json.loads(proc.stdout)["findings"] if f["rule_id"] == "tls-certificate"]
    return only


@pytest.mark.parametrize(
    ("stricter", "problem"),
    [("{min_days_left: 0, chain_key_bits: {ecdsa: 384}}", "weak_key"),
     ("{min_days_left: 25}", "expires_soon")],
    ids=["chain-ecdsa-384", "25-days-left"],
)
def test_stricter_floor_changes_the_stored_verdict(tmp_path: Path, lab: Any, pki: Any, serve: Any,
                                                   stricter: str, problem: str) -> None:
    # The lab leaf (RSA 2048, 20 days left) is served with its P-256 CA.
    server = serve(lab.tls_handler(lab.server_context(pki)))
    (tmp_path / "lenient.yaml").write_text(POLICY.format(options="{min_days_left: 0}"))
    (tmp_path / "stricter.yaml").write_text(POLICY.format(options=stricter))
    target = f"{lab.HOSTNAME}:{server.port}"
    scanned = civiscan(tmp_path, "scan", "-p", "lenient.yaml", f"https://{target}/", "--resolve",
                       f"{target}:{server.address}", "--ca-file", str(pki.ca), "--format", "json",
                       "--timeout", "3", "-q")
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    assert finding(scanned)["status"] == "pass"
    connections = len(server.accepted)

    judged = civiscan(tmp_path, "evaluate", "last", "-p", "stricter.yaml", "--format", "json", "-q")
    assert judged.returncode == 1, judged.stdout + judged.stderr
    verdict = finding(judged)
    assert verdict["status"] == "fail"
    assert problem in json.dumps(verdict)
    assert len(server.accepted) == connections  # judged from the store: no connection made


def test_evaluate_upgrades_and_judges_a_store_holding_version_1_facts(tmp_path: Path, lab: Any, pki: Any, serve: Any) -> None:
    server = serve(lab.tls_handler(lab.server_context(pki)))
    (tmp_path / "certs.yaml").write_text(POLICY.format(options="{min_days_left: 0}"))
    target = f"{lab.HOSTNAME}:{server.port}"
    scanned = civiscan(tmp_path, "scan", "-p", "certs.yaml", f"https://{target}/", "--resolve",
                       f"{target}:{server.address}", "--ca-file", str(pki.ca), "--format", "json",
                       "--timeout", "3", "-q")
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    with sqlite3.connect(tmp_path / "store.db") as conn:
        changed = conn.execute("UPDATE facts SET facts_version=1, data_json=? WHERE plugin='tls'",
                               (json.dumps(json.loads((V1_FACTS / "expired.json").read_text())["v1"]),)).rowcount
    assert changed == 1

    judged = civiscan(tmp_path, "evaluate", "last", "-p", "certs.yaml", "--format", "json", "-q")
    assert judged.returncode == 1, judged.stdout + judged.stderr
    verdict = finding(judged)
    assert verdict["status"] == "fail"
    (check,) = verdict["checks"]
    assert [p["code"] for p in check["evidence"]["problems"]] == ["expired"]
