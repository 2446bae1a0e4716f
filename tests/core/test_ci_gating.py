"""What a CI job sees: the whole findings table off a terminal, -o needing json, one --sign-key."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from scanner.output import summary_table

ADDRESS = "127.0.143.1"  # this file's own loopback address
RULES = 70  # more than the 60 rows a terminal shows


def doc(rows: int, message: str = "Forbidden port is open") -> dict:
    return {
        "run": {"id": 1, "status": "complete", "started": "2026-12-01T00:00:00+00:00",
                "policies": [{"id": "p", "version": "1"}]},
        "summary": {"assets": 1, "assessed": 1, "findings": {"fail": rows}},
        "rules": [],
        "findings": [{"status": "fail", "severity": "high", "asset_id": "web/www",
                      "rule_id": f"rule-{i:03d}-with-a-name-longer-than-the-column", "message": message}
                     for i in range(rows)],
        "waivers": [],
    }


def test_terminal_table_stops_at_the_limit():
    table = summary_table(doc(RULES))
    assert f"... and {RULES - 60} more" in table


def test_full_table_lists_every_row_whole():
    long_message = "x" * 400
    table = summary_table(doc(RULES, long_message), full=True)
    assert "more (civiscan show" not in table
    assert table.count(long_message) == RULES
    assert "rule-069-with-a-name-longer-than-the-column" in table


@pytest.fixture
def listener():
    server = socket.create_server((ADDRESS, 0))
    yield server.getsockname()[1]
    server.close()


def forbidden_policy(tmp_path: Path, port: int) -> str:
    rules = "".join(
        f"  - id: forbidden-port-rule-number-{i:03d}-of-a-long-policy\n"
        f"    title: Port {port} stays closed\n    severity: high\n"
        f"    rationale: r\n    remediation: r\n"
        f"    checks:\n      - check: ports.forbidden\n        options: {{ports: [{port}]}}\n"
        for i in range(RULES)
    )
    path = tmp_path / "forbidden.yaml"
    path.write_text(f'policy: {{id: forbidden, version: "1", title: Forbidden}}\nrules:\n{rules}')
    return str(path)


def test_scan_off_a_terminal_prints_every_failing_finding(tmp_path, run_cli, listener):
    done = run_cli("scan", "-p", forbidden_policy(tmp_path, listener), ADDRESS)
    assert done.returncode == 1, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(rows) == RULES
    assert "forbidden-port-rule-number-069-of-a-long-policy" in done.stdout
    assert "more (civiscan show" not in done.stdout


def test_output_file_without_json_is_refused_before_the_scan(tmp_path, run_cli):
    done = run_cli("scan", "-p", "baseline", "-o", "out.json", ADDRESS)
    assert done.returncode == 2
    assert "-o out.json writes the JSON document: add --format json" in done.stderr
    assert "No runs stored yet." in run_cli("runs").stdout


def test_scan_signs_the_report_with_sign_key(tmp_path, run_cli, listener):
    assert run_cli("signing-key", "key.pem").returncode == 0
    done = run_cli("scan", "-p", forbidden_policy(tmp_path, listener), ADDRESS, "--report", "out",
               "--sign-key", "key.pem", "-q")
    assert done.returncode == 1, done.stderr
    checked = run_cli("verify", "out", "--public-key", "key.pem.pub")
    assert checked.returncode == 0, checked.stdout
    assert "signature valid under the given public key" in checked.stdout


def test_scan_refuses_a_missing_sign_key_before_the_scan(run_cli):
    done = run_cli("scan", "-p", "baseline", ADDRESS, "--sign-key", "absent.pem")
    assert done.returncode == 2
    assert "absent.pem: --sign-key not found" in done.stderr


def test_signing_key_names_the_flag_scan_takes(run_cli):
    done = run_cli("signing-key", "k.pem")
    assert "give it to scan or report as --sign-key" in done.stdout


def test_signing_key_into_a_missing_folder_is_an_output_error_not_a_crash(run_cli):
    done = run_cli("signing-key", "no-such-folder/k.pem")
    assert done.returncode == 74, done.stderr
    assert done.stderr.startswith("error: no-such-folder/k.pem: cannot write the key: No such file or directory")


def test_a_shortened_table_names_the_command_that_lists_the_rest():
    assert "(civiscan show 1 --all, or --format json)" in summary_table(doc(RULES))
    table = summary_table(doc(RULES), show_all="civiscan show 1 --all --db other.db")
    assert f"... and {RULES - 60} more (civiscan show 1 --all --db other.db, or --format json)" in table


def test_the_rest_is_shown_from_the_store_the_run_is_in(tmp_path, monkeypatch):
    from scanner.cli import show_all_command
    from scanner.store import Store

    with Store(tmp_path / "ci.db") as store:
        monkeypatch.delenv("CIVISCAN_DB", raising=False)
        assert show_all_command(store, 7) == f"civiscan show 7 --all --db {tmp_path / 'ci.db'}"
        monkeypatch.setenv("CIVISCAN_DB", str(tmp_path / "ci.db"))  # the default store then
        assert show_all_command(store, 7) == "civiscan show 7 --all"
