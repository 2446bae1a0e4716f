"""`scan -o`, `scan --report` and `report` into folders holding planted links leave the victim alone."""

from __future__ import annotations

from pathlib import Path

import pytest

POLICY = """\
policy: {id: telnet, version: "1", title: No telnet}
rules:
  - id: no-telnet
    title: Telnet is closed
    severity: high
    rationale: Telnet sends passwords in clear text.
    remediation: Disable telnet.
    checks: [{check: ports.forbidden, options: {ports: [23]}}]
"""
TARGET = "127.0.152.1"  # nothing listens on 23 there: a quick pass
ORIGINAL = "precious\n"


@pytest.fixture
def civiscan(tmp_path: Path, run_cli):  # type: ignore[no-untyped-def]
    (tmp_path / "policy.yaml").write_text(POLICY)
    return run_cli


def plant(folder: Path, names: list[str], victim: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / name).symlink_to(victim)


def test_scan_output_file_replaces_a_planted_link(civiscan, tmp_path, victim) -> None:
    (tmp_path / "run.json").symlink_to(victim)
    done = civiscan("scan", "-p", "policy.yaml", TARGET, "-f", "json", "-o", "run.json", "-q")
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == ORIGINAL
    assert '"schema": "civiscan/run"' in (tmp_path / "run.json").read_text()


def test_scan_report_folder_with_planted_links(civiscan, tmp_path, victim) -> None:
    plant(tmp_path / "reports", [".index.html.tmp", "index.html", ".manifest.json.tmp"], victim)
    done = civiscan("scan", "-p", "policy.yaml", TARGET, "--report", "reports", "-q")
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == ORIGINAL


def test_report_command_with_planted_links(civiscan, tmp_path, victim) -> None:
    assert civiscan("scan", "-p", "policy.yaml", TARGET, "-q").returncode == 0
    plant(tmp_path / "reports", [".junit.xml.tmp", "junit.xml", ".run.sarif.tmp"], victim)
    done = civiscan("report", "last", "-f", "junit", "-f", "sarif", "-o", "reports")
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == ORIGINAL
