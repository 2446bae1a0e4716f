"""The quick-start demo: lab up, scan, store, reports — the README's first command."""

from __future__ import annotations

import json
import sqlite3

import pytest

from scanner.lab.demo import run_demo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    code = run_demo(out, echo=lines.append)
    assert code == 0
    return out, "\n".join(lines)


def findings(out):
    with sqlite3.connect(out / "civiscan.db") as conn:
        rows = conn.execute("SELECT asset_id, rule_id, status, reason, checks_json FROM findings").fetchall()
    return {(a, r): (s, reason, json.loads(c)) for a, r, s, reason, c in rows}


def test_demo_prints_where_the_reports_went(demo):
    out, text = demo
    assert f"organisation summary: {(out / 'report' / 'index.html').resolve()}" in text
    assert (out / "report" / "index.html").is_file()


def test_demo_finds_the_planted_mistakes(demo):
    out, _ = demo
    f = findings(out)
    status, _, checks = f[("water/billing", "tls-protocols")]
    assert status == "fail" and "TLSv1.0" in json.dumps(checks)
    assert f[("water/billing", "tls-certificate")][0] == "fail"
    assert f[("parks/parks-files", "no-cleartext-admin")][0] == "fail"
    assert f[("parks/www", "web-hsts")][0] == "fail"


def test_demo_silent_endpoint_is_an_error_not_a_pass(demo):
    out, _ = demo
    assert f_status(out, "finance/status", "tls-protocols") == ("error", "timeout")


def test_demo_waivers_active_expired_and_stale(demo):
    out, text = demo
    assert f_status(out, "water/scada-gateway", "no-exposed-databases") == ("waived", None)
    assert "waiver W-DEMO-2 (no-cleartext-admin): expired" in text
    assert "waiver W-DEMO-3 (web-hsts): stale" in text


def test_demo_assesses_this_machine_locally(demo):
    out, _ = demo
    status, reason = f_status(out, "it-ops/scanner-host", "supported-release")
    assert status in ("pass", "fail"), reason


def f_status(out, asset, rule):
    status, reason, _ = findings(out)[(asset, rule)]
    return status, reason
