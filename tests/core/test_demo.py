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
    code = run_demo(out, echo=lines.append, full=False)  # as on a terminal
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


def test_the_demos_shortened_table_names_its_own_store(demo):
    out, text = demo
    more = [line for line in text.splitlines() if line.startswith("... and ")]
    assert more and more[0].endswith(f"show 1 --all --db {out / 'civiscan.db'}, or --format json)")


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


def test_a_second_demo_shows_what_changed_since_the_first(demo):
    out, first = demo
    assert "since the previous demo run" not in first
    lines: list[str] = []
    assert run_demo(out, echo=lines.append) == 0  # pytest's stdout is no terminal: every row
    text = "\n".join(lines)
    assert not [line for line in text.splitlines() if line.startswith("... and ")]
    with sqlite3.connect(out / "civiscan.db") as conn:
        (shown,) = conn.execute(
            "SELECT count(*) FROM findings WHERE run_id = 2 AND status NOT IN ('pass', 'not_applicable')").fetchone()
    assert shown > 40 and len(text.splitlines()) > shown
    assert "since the previous demo run (run 1): " in text
    assert f"diff 1 2 --db {out / 'civiscan.db'}" in text


def test_the_demos_hints_name_civiscan_the_way_it_was_called(monkeypatch, tmp_path):
    import shutil
    import sys

    from scanner.lab import demo as demo_module

    installed = tmp_path / "bin" / "civiscan"
    installed.parent.mkdir()
    installed.write_text("")
    monkeypatch.setattr(sys, "argv", [str(installed), "demo"])
    monkeypatch.setattr(shutil, "which", lambda name: str(installed))
    assert demo_module.command_name() == "civiscan"  # on PATH: the plain name
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bin/civiscan", "demo"])
    assert demo_module.command_name() == "bin/civiscan"  # not on PATH: the path that was typed
    monkeypatch.setattr(sys, "argv", ["/somewhere/scanner/__main__.py", "demo"])
    assert demo_module.command_name() == f"{sys.executable} -m scanner"


def test_a_demo_on_a_folder_whose_demo_is_running_says_who_runs_it(tmp_path):
    import fcntl
    import os

    from scanner.lab.demo import DemoBusy

    fd = os.open(tmp_path / ".demo.lock", os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242")
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running demo holds it
    try:
        with pytest.raises(DemoBusy, match=r"already running on .* \(pid 4242\).*kill 4242"):
            run_demo(tmp_path, echo=lambda _line: None)
    finally:
        os.close(fd)


def test_a_demo_whose_addresses_are_taken_says_so_instead_of_a_traceback(tmp_path):
    import os
    import socket

    from scanner.lab.demo import DemoBusy

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.77.1", 2121))
        taken.listen()
        with pytest.raises(DemoBusy, match="addresses .* are in use") as busy:
            run_demo(tmp_path / "other", echo=lambda _line: None)
    assert f"process {os.getpid()} (" in str(busy.value) and f"kill {os.getpid()};" in str(busy.value)


def test_the_lab_listeners_are_read_from_proc_net_tcp():
    import socket
    import struct

    from scanner.lab.demo import lab_listeners

    def row(address: str, port: int, state: str, inode: str) -> str:
        local = f"{struct.unpack('=I', socket.inet_aton(address))[0]:08X}:{port:04X}"
        return f"   0: {local} 00000000:0000 {state} 00000000:00000000 00:00000000 00000000  1000 0 {inode} 1"

    text = "\n".join(["  sl  local_address rem_address   st ...", row("127.0.77.1", 2121, "0A", "111"),
                      row("127.0.77.11", 8443, "01", "222"), row("127.0.7.1", 2121, "0A", "333")])
    assert lab_listeners(text) == {"111"}  # listening on the lab's network; not connected, not elsewhere


def test_the_folders_demo_and_report_write_by_default_are_git_ignored():
    import shutil
    import subprocess
    from pathlib import Path

    from scanner.cli import report
    from scanner.lab.demo import demo

    repo = Path(__file__).resolve().parents[2]
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    folders = [next(p.default for p in command.params if p.name == "outdir") for command in (demo, report)]
    assert folders == ["civiscan-demo", "civiscan-report"]
    paths = [f"{folder}/{name}" for folder in folders for name in ("civiscan.db", "index.html")]
    done = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", *paths],
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == paths, done.stderr  # check-ignore prints the ignored ones
