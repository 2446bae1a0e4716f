"""Baselines: CI fails only on failures it did not know about (pure logic, then the command line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scanner import baseline as bl
from scanner.errors import ConfigError, ExitCode
from scanner.lab.servers import Lab
from scanner.models import Severity

KNOWN, OTHER = "a" * 24, "b" * 24


def finding(fingerprint: str, status: str = "fail", severity: str = "high") -> dict:
    return {"fingerprint": fingerprint, "status": status, "severity": severity, "asset_id": "d/x", "rule_id": "r"}


def test_known_failures_are_forgiven_and_new_ones_fail():
    base = bl.Baseline(frozenset({KNOWN}), "run 1")
    assert bl.gate(ExitCode.FAILURES, [finding(KNOWN)], Severity.LOW, base) is ExitCode.COMPLIANT
    assert bl.gate(ExitCode.FAILURES, [finding(KNOWN), finding(OTHER)], Severity.LOW, base) is ExitCode.FAILURES
    # A new failure below --fail-on does not fail; an error is never forgiven.
    assert bl.gate(ExitCode.FAILURES, [finding(KNOWN), finding(OTHER, severity="low")], Severity.HIGH,
                   base) is ExitCode.COMPLIANT
    assert bl.gate(ExitCode.FAILURES, [finding(KNOWN), finding(KNOWN, "error")], Severity.LOW,
                   base) is ExitCode.INCOMPLETE
    assert bl.new_failures([finding(KNOWN), finding(OTHER), finding(OTHER, "pass")], base) == [finding(OTHER)]


@pytest.mark.parametrize("code", [ExitCode.INTERRUPTED, ExitCode.INTERNAL, ExitCode.OUTPUT])
def test_a_run_that_did_not_reach_a_verdict_keeps_its_code(code):
    assert bl.gate(code, [finding(KNOWN)], Severity.LOW, bl.Baseline(frozenset({KNOWN}), "f")) is code


def test_a_written_baseline_reads_back_and_a_run_document_is_a_baseline_too():
    doc = {"run": {"id": 7, "started": "2026-12-02T05:00:00+00:00"},
           "findings": [finding(KNOWN), finding(OTHER, "pass")]}
    written = bl.document(doc)
    assert [e["fingerprint"] for e in written["findings"]] == [KNOWN]
    assert bl.parse(json.dumps(written), "b.json").fingerprints == {KNOWN}
    run_doc = {"schema": "civiscan/run", **doc}
    assert bl.parse(json.dumps(run_doc), "run.json").fingerprints == {KNOWN}


@pytest.mark.parametrize("text,where,words", [
    ('{"schema": "civiscan/baseline",\n  "findings": [}', "b.json:2:16", "not valid JSON"),
    ("[]", "b.json:1:1", "JSON object"),
    ('{"schema": "trivy"}', "b.json:1:1", "unknown baseline schema"),
    ('{"schema": "civiscan/baseline", "schema_version": 9, "findings": []}', "b.json:1:1", "version 9"),
    ('{"schema": "civiscan/baseline", "schema_version": 1, "findings": [{"fp": 1}]}', "b.json:1:1", "fingerprint"),
])
def test_a_bad_baseline_names_file_line_and_column(text, where, words):
    with pytest.raises(ConfigError) as err:
        bl.parse(text, "b.json")
    assert str(err.value).startswith(where) and words in str(err.value)


BANNER_POLICY = """
policy: {id: banners, version: "1", title: Banner policy}
rules:
  - id: no-version-banner
    title: Greetings hide versions
    severity: medium
    rationale: Versions help attackers pick exploits.
    remediation: Configure the service to send a generic greeting.
    checks: [{check: banner.no_version, options: {port: 2525}}]
"""
OLD, NEW = "127.69.0.1", "127.69.0.2"


def test_ci_fails_only_on_a_failure_the_baseline_does_not_know(tmp_path, plugin_dir, write):
    env = {**os.environ, "PYTHONPATH": str(plugin_dir), "CIVISCAN_DB": str(tmp_path / "store.db")}
    env.pop("CI", None)

    def civiscan(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(OLD, 2525, greeting=b"220 ExampleMTA 4.2 ready\r\n")  # the legacy failure, known
        lab.tcp(NEW, 2525, greeting=b"220 mail ready\r\n")
        first = civiscan("scan", "-p", policy, OLD, NEW, "--timeout", "2")
        assert first.returncode == 1, first.stderr
        wrote = civiscan("baseline", "write", "latest", "known.json")
        assert wrote.returncode == 0 and "1 failing finding" in wrote.stderr
        assert json.loads((tmp_path / "known.json").read_text())["schema"] == "civiscan/baseline"

        again = civiscan("scan", "-p", policy, OLD, NEW, "--timeout", "2", "--baseline", "known.json")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "1 known failure(s) forgiven, 0 new" in again.stderr
        assert "KNOWN" in again.stdout and f"adhoc/{OLD}" in again.stdout
        by_run = civiscan("evaluate", "2", "-p", policy, "--baseline", "1")  # a stored run as the baseline
        assert by_run.returncode == 0, by_run.stderr

    with Lab() as lab:  # a regression: the second server now discloses its version
        lab.tcp(OLD, 2525, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        lab.tcp(NEW, 2525, greeting=b"220 ExampleMTA 4.3 ready\r\n")
        regressed = civiscan("scan", "-p", policy, OLD, NEW, "--timeout", "2", "--baseline", "known.json")
        assert regressed.returncode == 1, regressed.stderr
        assert "1 known failure(s) forgiven, 1 new" in regressed.stderr
        quiet = civiscan("scan", "-p", policy, OLD, NEW, "--timeout", "2", "--severity", "high")
        assert quiet.returncode == 1  # --severity shows less; --fail-on still decides
        assert f"adhoc/{NEW}" not in quiet.stdout and "2 below severity high not shown" in quiet.stdout

    bad = civiscan("scan", "-p", policy, OLD, "--baseline", "no-such-thing")
    assert bad.returncode == 2 and "no such file, and no run 'no-such-thing'" in bad.stderr
    (tmp_path / "broken.json").write_text("{\n  oops")
    broken = civiscan("scan", "-p", policy, OLD, "--baseline", "broken.json")
    assert broken.returncode == 2 and "broken.json:2:3: not valid JSON" in broken.stderr
