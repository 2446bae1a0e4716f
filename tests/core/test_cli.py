"""The command line end to end: a third-party plugin, exit codes, JSON, kill and resume."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.lab.servers import Lab

# Each test process takes its own 127.N.0.0/16 (N from 100 to 199), so that two checkouts
# running this file at once never compete for the fixed port 2525 of one address.
NET = f"127.{100 + os.getpid() % 100}"


def _prints_run_json(args: tuple[str, ...]) -> bool:
    pairs = set(itertools.pairwise(args))
    command = args[0] if args else ""
    return command in ("scan", "show", "evaluate", "report") and bool(
        pairs & {("--format", "json"), ("-f", "json")}) and "-o" not in args and "--output" not in args


@pytest.fixture
def civiscan(tmp_path, plugin_dir, check_run_document):
    db = tmp_path / "store.db"

    def run(*args: str, check_exit: int | None = None, **kw) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(plugin_dir), "CIVISCAN_DB": str(db)}
        env.pop("CI", None)
        proc = subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120, **kw)
        if check_exit is not None:
            assert proc.returncode == check_exit, proc.stdout + proc.stderr
        if _prints_run_json(args) and proc.stdout.strip():
            # Every run document a test sees is held to the published schema.
            check_run_document(json.loads(proc.stdout))
        return proc

    run.db = db  # type: ignore[attr-defined]
    run.env = lambda: {**os.environ, "PYTHONPATH": str(plugin_dir), "CIVISCAN_DB": str(db)}  # type: ignore[attr-defined]
    return run


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


def test_third_party_plugin_is_listed_and_broken_one_warns(civiscan):
    proc = civiscan("checks", check_exit=0)
    assert "banner.no_version" in proc.stdout
    assert "plugin 'broken' from civiscan-example-plugin failed to load" in proc.stderr


def test_check_doc_and_disable_plugin(civiscan):
    doc = civiscan("checks", "--doc", "banner.no_version", check_exit=0).stdout
    assert "PASS: greeting" in doc and "port (tcp_port, required)" in doc
    listed = civiscan("checks", "--disable-plugin", "banner", check_exit=0).stdout
    assert "banner.no_version" not in listed


def test_validate_prints_positions_and_exits_2(civiscan, write):
    bad = write("bad.yaml", BANNER_POLICY.replace("port: 2525", "prot: 2525"))
    proc = civiscan("validate", bad, check_exit=2)
    assert "bad.yaml:8:51: unknown option 'prot' for check banner.no_version (did you mean 'port'?)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "ok (policy: 1 rules" in civiscan("validate", write("good.yaml", BANNER_POLICY), check_exit=0).stdout


@pytest.mark.parametrize(
    "greeting,expected",
    [(b"220 mail ready\r\n", 0), (b"220 ExampleMTA 4.2 ready\r\n", 1)],
    ids=["generic-greeting-passes", "version-greeting-fails"],
)
def test_scan_exit_code_and_json(civiscan, write, greeting, expected):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.91.1", 2525, greeting=greeting)
        proc = civiscan("scan", "-p", policy, f"{NET}.91.1", "--format", "json", "--timeout", "2")
    assert proc.returncode == expected, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "civiscan/run" and doc["schema_version"] == 1
    (finding,) = doc["findings"]
    assert finding["checks"][0]["evidence"]["banner"] == greeting.decode().strip()
    assert len(finding["fingerprint"]) == 24


def test_unreachable_and_silent_targets_are_errors_and_scan_goes_on(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.91.2", 2525, greeting=b"220 hello\r\n")
        lab.tcp(f"{NET}.91.3", 2525, silent=True)
        proc = civiscan("scan", "-p", policy, f"{NET}.91.2", f"{NET}.91.3", f"{NET}.91.4", "--format", "json", "--timeout", "0.5")
    assert proc.returncode == 3, proc.stderr
    by_asset = {f["asset_id"]: f for f in json.loads(proc.stdout)["findings"]}
    assert by_asset[f"adhoc/{NET}.91.2"]["status"] == "pass"
    assert (by_asset[f"adhoc/{NET}.91.3"]["status"], by_asset[f"adhoc/{NET}.91.3"]["reason"]) == ("error", "timeout")
    assert (by_asset[f"adhoc/{NET}.91.4"]["status"], by_asset[f"adhoc/{NET}.91.4"]["reason"]) == ("error", "refused")


def test_target_outside_inventory_scope_is_refused(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    inv = write("inv.yaml", f"scope: {{networks: [{NET}.92.0/24]}}\ndepartments:\n  parks:\n    assets:\n      - host: {NET}.92.1\n")
    proc = civiscan("scan", "-p", policy, "-i", inv, f"{NET}.93.1", check_exit=2)
    assert "outside the allowed scope are refused" in proc.stderr and f"{NET}.93.1" in proc.stderr


def _done_assets(db: Path, run: int = 1) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT COUNT(*) FROM assets WHERE run_id=? AND state='done'", (run,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _wait_for(predicate, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _start_scan(civiscan, write, lab):
    policy = write("p.yaml", BANNER_POLICY)
    lab.tcp(f"{NET}.94.1", 2525, greeting=b"220 hi\r\n")
    lab.tcp(f"{NET}.94.2", 2525, greeting=b"220 hi\r\n")
    silent = lab.tcp(f"{NET}.94.3", 2525, silent=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "scan", "-p", policy, f"{NET}.94.1", f"{NET}.94.2", f"{NET}.94.3",
         "--concurrency", "1", "--timeout", "60", "--format", "json"],
        env=civiscan.env(), cwd=Path(policy).parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for(lambda: _done_assets(civiscan.db) == 2)
    time.sleep(0.2)  # the silent asset is now being waited on
    return proc, silent


def test_sigkill_keeps_finished_assets_and_resume_completes(civiscan, write):
    with Lab() as lab:
        proc, silent = _start_scan(civiscan, write, lab)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert _done_assets(civiscan.db) == 2
        lab.set_behaviour(silent, "close")
        # The silent server now closes at once: the banner read ends with an empty greeting.
        resumed = civiscan("scan", "--resume", "1", "--format", "json")
    assert resumed.returncode == 0, resumed.stderr
    doc = json.loads(resumed.stdout)
    assert doc["run"]["status"] == "complete" and len(doc["findings"]) == 3


def test_ctrl_c_exits_130_and_keeps_what_finished(civiscan, write):
    with Lab() as lab:
        proc, _ = _start_scan(civiscan, write, lab)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "civiscan scan --resume 1" in err
    runs = civiscan("runs", check_exit=0).stdout
    assert "interrupted" in runs and "2/3" in runs


def test_a_finished_scan_leaves_its_store_closed(civiscan, write, tmp_path):
    """The command closes the store itself: its exit does not collect what is alive then."""
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.95.2", 2525, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        civiscan("scan", "-p", policy, f"{NET}.95.2", "-q", "--db", "closed.db", check_exit=1)
    assert (tmp_path / "closed.db").is_file()
    # SQLite removes the write-ahead log when the last connection closes.
    assert not (tmp_path / "closed.db-wal").exists() and not (tmp_path / "closed.db-shm").exists()


def test_reports_are_rendered_from_the_store_signed_and_verified(civiscan, write, tmp_path):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.95.1", 2525, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        civiscan("scan", "-p", policy, f"{NET}.95.1", "--report", "first", "-q", check_exit=1)
    assert (tmp_path / "first" / "index.html").is_file()
    civiscan("signing-key", "key.pem", check_exit=0)
    out = civiscan("report", "last", "--format", "html", "--format", "sarif", "--format", "junit",
                   "--department", "adhoc", "-o", "signed", "--sign-key", "key.pem", check_exit=0).stdout
    assert "run.sarif" in out and "junit.xml" in out
    verified = civiscan("verify", "signed", "--public-key", "key.pem.pub")
    assert verified.returncode == 0, verified.stdout
    (tmp_path / "signed" / "junit.xml").write_text("<testsuites/>")
    tampered = civiscan("verify", "signed", "--public-key", "key.pem.pub")
    assert tampered.returncode == 1 and "junit.xml" in tampered.stdout


def test_show_and_runs_and_unknown_run(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.95.2", 2525, greeting=b"220 hi\r\n")
        civiscan("scan", "-p", policy, f"{NET}.95.2", "-q", check_exit=0)
    assert "no-version-banner" in civiscan("show", "last", "--all", check_exit=0).stdout
    assert json.loads(civiscan("show", "1", "--format", "json", check_exit=0).stdout)["run"]["id"] == 1
    missing = civiscan("show", "42", check_exit=2)
    assert "no run '42'" in missing.stderr


def _run_status(db: Path, run: int = 1) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT status FROM runs WHERE id=?", (run,)).fetchone()[0]


def test_resume_while_the_run_is_still_scanning_is_refused(civiscan, write):
    with Lab() as lab:
        proc, _ = _start_scan(civiscan, write, lab)
        try:
            second = civiscan("scan", "--resume", "1", "--format", "json")
        finally:
            proc.kill()
            proc.wait(timeout=10)
    assert second.returncode == 2, second.stderr
    assert f"run 1 is being scanned by pid {proc.pid}" in second.stderr
    assert second.stdout == ""


def test_a_sigkilled_run_is_listed_as_interrupted(civiscan, write):
    with Lab() as lab:
        proc, _ = _start_scan(civiscan, write, lab)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert _run_status(civiscan.db) == "running"  # nothing could record the kill...
    listed = civiscan("runs", check_exit=0).stdout
    (row,) = [line for line in listed.splitlines() if line.split()[0] == "1"]
    assert "interrupted" in row and "130" in row and "2/3" in row  # ...the next store opener does


def test_parallel_scans_on_a_fresh_store_all_succeed(civiscan, write, tmp_path):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.96.1", 2525, greeting=b"220 hi\r\n")
        for attempt in range(8):
            env = {**civiscan.env(), "CIVISCAN_DB": str(tmp_path / f"fresh-{attempt}.db")}
            procs = [
                subprocess.Popen([sys.executable, "-m", "scanner", "scan", "-p", policy, f"{NET}.96.1", "-q"],
                                 env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(2)
            ]
            outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
            assert [code for code, _ in outcomes] == [0, 0], outcomes
            listed = civiscan("runs", "--db", env["CIVISCAN_DB"], check_exit=0).stdout
            assert listed.count("complete") == 2, listed


def test_resume_applies_a_new_timeout_and_stores_it(civiscan, write):
    with Lab() as lab:
        proc, _ = _start_scan(civiscan, write, lab)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        # The silent server still never answers: with the run's own 60 s this would hang.
        resumed = civiscan("scan", "--resume", "1", "--timeout", "0.3", "--format", "json")
    assert resumed.returncode == 3, resumed.stderr
    (finding,) = [f for f in json.loads(resumed.stdout)["findings"] if f["asset_id"] == f"adhoc/{NET}.94.3"]
    assert finding["reason"] == "timeout"
    with sqlite3.connect(civiscan.db) as conn:
        settings = json.loads(conn.execute("SELECT settings_json FROM runs WHERE id=1").fetchone()[0])
    assert (settings["timeout"], settings["concurrency"]) == (0.3, 1)


@pytest.mark.parametrize(
    "flags",
    [["--port-scanner", "nmap"], ["--scope", "127.0.0.0/8"], ["127.0.0.1"]],
    ids=["plugin-setting", "scope", "target"],
)
def test_resume_refuses_settings_it_cannot_change(civiscan, flags):
    proc = civiscan("scan", "--resume", "1", *flags, check_exit=2)
    assert "--resume continues a run with its own" in proc.stderr and "cannot be given" in proc.stderr


@pytest.mark.parametrize(
    "make,flags",
    [
        (lambda d: d.joinpath("taken").write_text("x"), ["--report", "taken"]),
        (lambda d: d.joinpath("taken").write_text("x"), ["--report", "taken/sub"]),
        (lambda d: d.joinpath("out.json").mkdir(), ["-f", "json", "-o", "out.json"]),
        (lambda d: None, ["-f", "json", "-o", "missing/out.json"]),
    ],
    ids=["report-dir-is-a-file", "report-dir-under-a-file", "output-is-a-directory", "output-dir-missing"],
)
def test_unwritable_outputs_are_refused_before_the_scan(civiscan, write, tmp_path, make, flags):
    policy = write("p.yaml", BANNER_POLICY)
    make(tmp_path)
    proc = civiscan("scan", "-p", policy, f"{NET}.97.1", *flags, check_exit=2)
    assert f"error: {flags[-2]} {flags[-1]}: " in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert not civiscan.db.exists()  # refused before a run was even stored


def _unwritable_directory(tmp_path: Path) -> str:
    """A directory this process cannot create files in.

    Mode bits do not stop root, so as root it is a sysfs directory, which no
    one may create files in.
    """
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir(mode=0o555)
        return "ro"
    if not os.path.isdir("/sys/kernel"):
        pytest.fail("no /sys/kernel: cannot make a directory root cannot write")
    return "/sys/kernel"


def test_a_read_only_report_directory_is_refused_before_the_scan(civiscan, write, tmp_path):
    policy = write("p.yaml", BANNER_POLICY)
    target = _unwritable_directory(tmp_path)
    proc = civiscan("scan", "-p", policy, f"{NET}.97.1", "--report", target, check_exit=2)
    assert f"--report {target}: is not writable" in proc.stderr and not civiscan.db.exists()


def test_an_output_that_fails_after_the_scan_exits_74_and_names_the_stored_run(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.97.2", 2525, greeting=b"220 hi\r\n")
        proc = civiscan("scan", "-p", policy, f"{NET}.97.2", "-f", "json", "-o", "/dev/full", check_exit=74)
    assert "cannot write the output" in proc.stderr and "exit code 0 (compliant)" in proc.stderr
    assert "civiscan report 1" in proc.stderr and "internal error" not in proc.stderr
    assert _run_status(civiscan.db) == "complete"


def test_an_internal_error_exits_70_not_2(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.97.3", 2525, greeting=b"220 hi\r\n")
        civiscan("scan", "-p", policy, f"{NET}.97.3", "-q", check_exit=0)
    with sqlite3.connect(civiscan.db) as conn:
        conn.execute("UPDATE runs SET ruleset_json='{' WHERE id=1")  # a store no civiscan writes
    proc = civiscan("show", "1", check_exit=70)
    assert "internal error: JSONDecodeError" in proc.stderr


# --- what a third-party plugin declares, the core serves -------------------------------


def test_third_party_setting_becomes_a_scan_flag(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.91.5", 2525, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        proc = civiscan("scan", "-p", policy, f"{NET}.91.5", "--format", "json", "--banner-max-bytes", "8")
    assert proc.returncode == 0, proc.stderr  # the version is past the 8 bytes read
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["checks"][0]["evidence"]["banner"] == "220 Exam"


def test_third_party_setting_range_is_the_flags_range(civiscan):
    proc = civiscan("scan", f"{NET}.91.5", "--banner-max-bytes", "5000", check_exit=2)
    assert "5000 is not in the range 1<=x<=4096" in proc.stderr


def test_third_party_command_joins_the_command_line(civiscan):
    assert "banner-policy" in civiscan("--help", check_exit=0).stdout
    out = civiscan("banner-policy", "--port", "2525", check_exit=0).stdout
    assert "{check: banner.no_version, options: {port: 2525}}" in out


@pytest.mark.parametrize(
    "port,expected",
    [('"2525"', None), ("70000", "bad.yaml:8:57: option 'port' of check banner.no_version: expected a TCP port 1-65535, got 70000")],
    ids=["string-port-accepted", "out-of-range-port-refused"],
)
def test_third_party_option_type_validates_policies(civiscan, write, port, expected):
    proc = civiscan("validate", write("bad.yaml", BANNER_POLICY.replace("port: 2525", f"port: {port}")))
    if expected is None:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode == 2 and expected in proc.stderr


def test_third_party_error_reason_is_stored_as_declared(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.91.6", 2525, greeting=b"\x00\x01\x02\r\n")
        proc = civiscan("scan", "-p", policy, f"{NET}.91.6", "--format", "json", "--timeout", "2")
    assert proc.returncode == 3, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert (finding["status"], finding["reason"]) == ("error", "binary_greeting")


def test_third_party_redaction_key_is_left_out_of_reports(civiscan, write, tmp_path):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.91.7", 2525, greeting=b"220 mail ready\r\n")
        civiscan("scan", "-p", policy, f"{NET}.91.7", "-q", check_exit=0)
    civiscan("report", "last", "-f", "csv", "-o", str(tmp_path / "out"), check_exit=0)
    text = "".join(p.read_text() for p in (tmp_path / "out").rglob("*.csv"))
    assert "omitted: local setting" in text and socket.gethostname() not in text


@pytest.fixture
def banner_run(civiscan, write):
    policy = write("p.yaml", BANNER_POLICY)
    with Lab() as lab:
        lab.tcp(f"{NET}.91.8", 2525, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        civiscan("scan", "-p", policy, f"{NET}.91.8", "-q", check_exit=1)
    return policy


def _store_facts_as(db: Path, version: int, data: dict) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE facts SET facts_version=?, data_json=? WHERE plugin='banner'", (version, json.dumps(data)))


def test_facts_are_stored_with_the_plugins_schema_version(civiscan, banner_run):
    with sqlite3.connect(civiscan.db) as conn:
        assert conn.execute("SELECT facts_version FROM facts WHERE plugin='banner'").fetchall() == [(2,)]


def test_evaluate_migrates_facts_the_plugin_can_upgrade(civiscan, banner_run):
    _store_facts_as(civiscan.db, 1, {"greetings": {"2525": "220 ExampleMTA 4.2 ready"}})
    proc = civiscan("evaluate", "last", "-p", banner_run, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["status"] == "fail"


def test_evaluate_refuses_facts_of_a_schema_the_plugin_cannot_read(civiscan, banner_run):
    _store_facts_as(civiscan.db, 3, {"banners": {}})
    proc = civiscan("evaluate", "last", "-p", banner_run, check_exit=2)
    assert "banner facts have schema version 3; the loaded banner plugin reads version 2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(civiscan("runs", check_exit=0).stdout.strip().splitlines()) == 2  # header + the scan: no new run


def test_check_doc_names_the_source_file(civiscan):
    assert "source: civiscan_example/__init__.py" in civiscan("checks", "--doc", "banner.no_version", check_exit=0).stdout
    assert "source: scanner/plugins/ports/checks.py" in civiscan("checks", "--doc", "ports.allowed", check_exit=0).stdout


def test_checks_markdown_prints_a_familys_reference(civiscan):
    out = civiscan("checks", "--markdown", "banner", check_exit=0).stdout
    assert out.startswith("### `banner.no_version`") and "| `port` | tcp_port | required |" in out
    assert "no loaded plugin has checks of family 'bannr' (did you mean 'banner'?)" in civiscan("checks", "--markdown", "bannr", check_exit=2).stderr


def test_a_command_collects_young_objects_every_10000_allocations_not_700():
    """The objects a command's imports make are walked a few times, not dozens (scanner.cli.main)."""
    probe = ("import gc, contextlib, io\nfrom scanner.cli import main\nbefore = gc.get_threshold()\n"
             "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
             "    main(['--version'])\nprint(before, gc.get_threshold())\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split(") (") == ["(700, 10, 10", "10000, 10, 10)\n"], done.stdout + done.stderr
