"""The agent end to end: schedules, overlap, signals, crashes, several agents, reports, retention."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import signal
import socket
from pathlib import Path

import pytest

A1, A2, A3 = "127.0.171.1", "127.0.171.2", "127.0.171.3"
RELAY = "127.0.171.9"


def config(policy: str, targets: str = A1, *, interval: str = "1s", timeout: str = "2", grace: str = "30s",
           extra: str = "", agent: str = "") -> str:
    return f"""
agent:
  grace: {grace}
{agent}
schedules:
  lab:
    interval: {interval}
    policies: [{policy}]
    targets: [{targets}]
    reports: reports
    scan: {{timeout: {timeout}}}
{extra}
"""


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def _no_overlap(runs) -> bool:
    spans = sorted((_when(r[3]), _when(r[4])) for r in runs if r[4])
    return all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))


def test_several_runs_happen_on_an_interval(setup, lab):
    listener = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    setup.write("agent.yaml", config(setup.policy(listener.port).name))
    agent = setup.start()
    runs = setup.wait_for(lambda: len(setup.finished()) >= 3 and setup.finished(), "three finished runs")
    assert [r[1:3] for r in runs[:3]] == [("complete", 0)] * 3
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0


@pytest.mark.parametrize("overlap,logged", [("skip", "run.skipped"), ("wait", "run.waiting")], ids=["skip", "wait"])
def test_a_run_that_outlasts_its_interval_never_overlaps_the_next(setup, lab, overlap, logged):
    silent = lab.tcp(A1, 0, silent=True)  # every run lasts its 3 s timeout; the interval is 1 s
    setup.write("agent.yaml", config(setup.policy(silent.port).name, timeout="3",
                                     extra=f"    overlap: {overlap}"))
    agent = setup.start()
    runs = setup.wait_for(lambda: len(setup.finished()) >= 3 and setup.finished(), "three finished runs")
    assert _no_overlap(runs)
    assert len([r for r in setup.runs() if r[1] == "running"]) <= 1
    assert agent.saw(logged, schedule="lab")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_stop_signal_mid_run_cuts_it_at_the_grace_exits_zero_and_keeps_finished_assets(setup, lab, signum):
    quick = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    lab.tcp(A2, quick.port, silent=True)  # holds the run far beyond the grace period
    setup.write("agent.yaml", config(setup.policy(quick.port).name, f"{A1}, {A2}", interval="1h",
                                     timeout="300", grace="1s"))
    agent = setup.start("--once")
    setup.wait_for(lambda: setup.scalar("SELECT COUNT(*) FROM assets WHERE state='done'") == 1, "one asset done")
    agent.signal(signum)
    assert agent.wait() == 0
    assert agent.saw("run.cut", schedule="lab")
    ((run_id, status, *_),) = setup.runs()
    assert status == "interrupted"
    assert setup.query("SELECT asset_id, status FROM findings WHERE run_id=?", run_id) == [(f"adhoc/{A1}", "pass")]
    assert setup.query("SELECT asset_id FROM assets WHERE run_id=? AND state='pending'", run_id) == [(f"adhoc/{A2}",)]


def test_sigterm_lets_the_asset_being_scanned_finish_and_starts_no_other(setup, lab):
    quick = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    silent = lab.tcp(A2, quick.port, silent=True)  # scanned first, alone: it ends at its 3 s timeout
    lab.tcp(A3, quick.port, greeting=b"220 mail ready\r\n")
    setup.write("agent.yaml", config(setup.policy(quick.port).name, f"{A2}, {A1}, {A3}", interval="1h",
                                     timeout="3", grace="120s").replace("scan: {timeout: 3}",
                                                                         "scan: {timeout: 3, concurrency: 1}"))
    agent = setup.start("--once")
    setup.wait_for(lambda: silent.accepted, "the first asset's scan to start")
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    assert not agent.saw("run.cut")
    ((run_id, status, *_),) = setup.runs()
    assert status == "interrupted"
    assert setup.query("SELECT asset_id, status, reason FROM findings WHERE run_id=?", run_id) == [
        (f"adhoc/{A2}", "error", "timeout")]
    assert sorted(setup.query("SELECT asset_id FROM assets WHERE run_id=? AND state='pending'", run_id)) == [
        (f"adhoc/{A1}",), (f"adhoc/{A3}",)]


@pytest.mark.parametrize("choice,status,event", [("close", "interrupted", "run.closed"),
                                                  ("resume", "complete", "run.resuming")], ids=["close", "resume"])
def test_a_killed_agent_restarts_and_closes_or_resumes_its_run(setup, lab, choice, status, event):
    quick = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    slow = lab.tcp(A2, quick.port, silent=True)
    setup.write("agent.yaml", config(setup.policy(quick.port).name, f"{A1}, {A2}", interval="1h", timeout="300",
                                     agent=f"  on_interrupted: {choice}"))
    first = setup.start("--once")
    setup.wait_for(lambda: setup.scalar("SELECT COUNT(*) FROM assets WHERE state='done'") == 1, "one asset done")
    first.signal(signal.SIGKILL)
    first.wait()
    assert setup.runs()[0][1] == "running"  # what the killed agent left behind
    lab.set_behaviour(slow, "close")  # the slow target now answers at once
    second = setup.start()
    setup.wait_for(lambda: second.saw(event), event)
    setup.wait_for(lambda: setup.runs() and setup.runs()[0][1] == status, f"run 1 {status}")
    # Settled: resumed and published, or closed; a later start has nothing left to do with it.
    setup.wait_for(lambda: setup.query("SELECT closed FROM agent_runs WHERE run_id=1") == [(1,)], "run 1 settled")
    second.signal(signal.SIGTERM)
    assert second.wait() == 0
    assert setup.runs()[0][1] == status  # never left running, never resumed twice


def test_sighup_reloads_a_valid_config_and_keeps_the_old_on_an_invalid_one(setup, lab):
    listener = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    policy = setup.policy(listener.port).name
    setup.write("agent.yaml", config(policy))
    agent = setup.start()
    setup.wait_for(lambda: setup.finished(), "a first run")
    setup.write("agent.yaml", config(policy) + "  other:\n    interval: 1s\n    policies: [policy.yaml]\n"
                f"    targets: [{A1}]\n")
    agent.signal(signal.SIGHUP)
    setup.wait_for(lambda: agent.saw("config.reloaded"), "the reload")
    setup.wait_for(lambda: setup.finished("other"), "a run of the new schedule")
    setup.write("agent.yaml", config(policy).replace("interval: 1s", "interval: soon"))
    agent.signal(signal.SIGHUP)
    (invalid,) = setup.wait_for(lambda: agent.saw("config.invalid"), "the refused reload")
    assert "agent.yaml:6:15: 'interval' of schedule 'lab' must be a duration" in invalid["message"]
    count = len(setup.finished("other"))
    setup.wait_for(lambda: len(setup.finished("other")) > count, "the old config still running")
    assert agent.proc.poll() is None


def test_two_agents_on_one_store_never_double_run_a_schedule(setup, lab):
    listener = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    setup.write("agent.yaml", config(setup.policy(listener.port).name))
    agents = [setup.start(), setup.start()]
    runs = setup.wait_for(lambda: len(setup.finished()) >= 6 and setup.finished(), "six finished runs")
    slots = [s for (s,) in setup.query("SELECT slot FROM agent_runs")]
    assert len(slots) == len(set(slots))
    assert _no_overlap(runs)
    assert all(a.proc.poll() is None for a in agents)
    assert any(a.saw("run.skipped") for a in agents)  # they did compete for the slots
    assert setup.query("PRAGMA integrity_check") == [("ok",)]


INVENTORY = """
scope: {{networks: [127.0.171.0/24]}}
departments:
  parks:
    assets: [{{host: {a1}, name: parks-mail}}]
  water:
    assets: [{{host: {a2}, name: water-mail}}]
"""


def test_each_department_folder_holds_only_its_own_assets(setup, lab):
    good = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    lab.tcp(A2, good.port, greeting=b"220 ExampleMTA 4.2 ready\r\n")
    setup.write("inventory.yaml", INVENTORY.format(a1=A1, a2=A2))
    setup.write("agent.yaml", config(setup.policy(good.port).name).replace(f"targets: [{A1}]", "inventory: inventory.yaml")
                .replace("reports: reports", "reports: reports\n    formats: [html, json, csv]"))
    agent = setup.start("--once")
    assert agent.wait() == 0
    ((run_id, *_),) = setup.runs()
    tree = setup.reports
    assert sorted(p.name for p in tree.iterdir()) == ["_security-office", "parks", "water"]
    for department in ("parks", "water"):
        folder = tree / department / f"run-{run_id}"
        doc = json.loads((folder / "run.json").read_text())
        assert {a["department"] for a in doc["assets"]} == {department}
        assert {f["asset_id"].split("/")[0] for f in doc["findings"]} == {department}
        assert sorted(p.name for p in folder.glob("*.html")) == [f"dept-{department}.html"]
        other = "water" if department == "parks" else "parks"
        assert all(other not in p.read_text() for p in folder.iterdir() if p.suffix in (".html", ".csv"))
        assert (tree / department / "latest").resolve() == folder.resolve()
    office = json.loads((tree / "_security-office" / f"run-{run_id}" / "run.json").read_text())
    assert {a["department"] for a in office["assets"]} == {"parks", "water"}


def _rows(setup, run_id: int) -> list[int]:
    return [setup.query(f"SELECT COUNT(*) FROM {t} WHERE {c}=?", run_id)[0][0]
            for t, c in (("runs", "id"), ("assets", "run_id"), ("facts", "run_id"), ("findings", "run_id"),
                         ("agent_runs", "run_id"))]


def test_retention_deletes_exactly_the_expired_runs_rows_and_folders(setup, lab):
    listener = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    setup.write("agent.yaml", config(setup.policy(listener.port).name, extra="    keep_runs: 2"))
    agent = setup.start()
    setup.wait_for(lambda: setup.scalar("SELECT MAX(id) FROM runs WHERE status != 'running'") >= 4, "run 4 finished")
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    kept = [r[0] for r in setup.runs()]
    newest = setup.scalar("SELECT MAX(id) FROM runs")
    assert kept == [newest - 1, newest]
    for run_id in range(1, newest - 1):
        assert _rows(setup, run_id) == [0, 0, 0, 0, 0]
    for run_id in kept:
        assert _rows(setup, run_id) == [1, 1, 1, 1, 1]
    folders = sorted(p.relative_to(setup.reports).as_posix() for p in setup.reports.glob("*/run-*"))
    assert folders == sorted(f"{d}/run-{r}" for d in ("_security-office", "adhoc") for r in kept)


@pytest.mark.parametrize(
    "case,broken,expected",
    [
        ("bad-interval", "interval: 1s", "agent.yaml:6:15: 'interval' of schedule 'lab' must be a duration"),
        ("unknown-key", "policies: [policy.yaml]", "agent.yaml:7:5: unknown key 'polices' in schedule 'lab' (did you mean 'policies'?)"),
        ("unknown-scan-key", "scan: {timeout: 2}", "agent.yaml:10:12: unknown key 'timout' in 'scan' of schedule 'lab' (did you mean 'timeout'?)"),
        ("unknown-setting", "scan: {timeout: 2}", "agent.yaml:10:23: unknown plugin setting 'banner_max_bytez' (did you mean 'banner_max_bytes'?)"),
        ("bad-setting-value", "scan: {timeout: 2}", "agent.yaml:10:41: setting 'banner_max_bytes': 0 is below the minimum 1"),
    ],
    ids=["bad-interval", "unknown-key", "unknown-scan-key", "unknown-setting", "bad-setting-value"],
)
@pytest.mark.parametrize("command", [("agent", "--config"), ("validate",)], ids=["agent", "validate"])
def test_an_invalid_config_is_a_positioned_error_exit_2(setup, case, broken, expected, command):
    setup.policy(2525)
    fixed = {"bad-interval": "interval: often", "unknown-key": "polices: [policy.yaml]",
             "unknown-scan-key": "scan: {timout: 2}",
             "unknown-setting": "scan: {settings: {banner_max_bytez: 5}}",
             "bad-setting-value": "scan: {settings: {banner_max_bytes: 0}}"}[case]
    setup.write("agent.yaml", config("policy.yaml").replace(broken, fixed))
    proc = setup.civiscan(*command, str(setup.config))
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_validate_accepts_an_agent_config(setup):
    setup.policy(2525)
    setup.write("agent.yaml", config("policy.yaml"))
    proc = setup.civiscan("validate", str(setup.config))
    assert proc.returncode == 0, proc.stderr
    assert "ok (agent: 1 schedules)" in proc.stdout


def test_once_runs_every_schedule_once_then_status_and_metrics_show_it(setup, lab):
    listener = lab.tcp(A1, 0, greeting=b"220 mail ready\r\n")
    setup.write("agent.yaml", config(setup.policy(listener.port).name, interval="1h",
                                     agent=f"  metrics_file: {setup.root / 'civiscan.prom'}"))
    agent = setup.start("--once")
    assert agent.wait() == 0
    assert [r[1:3] for r in setup.runs()] == [("complete", 0)]
    status = setup.civiscan("agent", "status", "--config", str(setup.config), "--format", "json")
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert (row["schedule"], row["last_run"], row["status"], row["exit_code"]) == ("lab", 1, "complete", 0)
    assert _when(row["next_run"]) > _when(setup.runs()[0][3])
    table = setup.civiscan("agent", "status", "--config", str(setup.config)).stdout.splitlines()
    assert table[0].split() == ["schedule", "last", "run", "result", "exit", "finished", "next", "run"]
    assert table[1].split()[:4] == ["lab", "1", "complete", "0"]
    moment = r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC"
    assert re.fullmatch(f"lab +1 +complete +0 +{moment} +{moment}", table[1]), table[1]
    metrics = Path(setup.root / "civiscan.prom").read_text()
    assert 'civiscan_agent_run_failures_total{schedule="lab"} 0' in metrics
    assert 'civiscan_agent_department_score{schedule="lab",department="adhoc"} 100.00' in metrics
    assert 'civiscan_agent_last_success_timestamp_seconds{schedule="lab"}' in metrics


NOTIFY_INVENTORY = """
scope: {{networks: [127.0.171.0/24]}}
departments:
  parks:
    contacts: {{email: [parks-it@city.example]}}
    assets: [{{host: {a1}, name: parks-mail}}]
  water:
    contacts: {{email: [water-it@city.example]}}
    assets: [{{host: {a2}, name: water-mail}}]
"""


def test_after_a_run_each_department_is_mailed_its_own_changes(setup, lab):
    from aiosmtpd.controller import Controller

    mails: list[tuple[list[str], str]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            mails.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    with socket.socket() as probe:  # a free port: the controller's readiness check cannot use port 0
        probe.bind((RELAY, 0))
        port = probe.getsockname()[1]
    relay = Controller(Handler(), hostname=RELAY, port=port)
    relay.start()
    try:
        good = lab.tcp(A1, 0, greeting=b"220 ExampleMTA 1.0 ready\r\n")
        lab.tcp(A2, good.port, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        setup.write("inventory.yaml", NOTIFY_INVENTORY.format(a1=A1, a2=A2))
        notifications = ("    notifications:\n      notify_when: always\n      allow_networks: [127.0.0.0/8]\n"
                         f"      smtp: {{host: {RELAY}, port: {port}, starttls: false, sender: civiscan@city.example}}\n")
        setup.write("agent.yaml", config(setup.policy(good.port).name, interval="1h", extra=notifications)
                    .replace(f"targets: [{A1}]", "inventory: inventory.yaml"))
        agent = setup.start("--once")
        assert agent.wait() == 0
    finally:
        relay.stop()
    by_recipient = {tuple(rcpt): body for rcpt, body in mails}
    assert set(by_recipient) == {("parks-it@city.example",), ("water-it@city.example",)}
    assert "water-mail" not in by_recipient[("parks-it@city.example",)]
    assert "parks-mail" not in by_recipient[("water-it@city.example",)]
    assert agent.saw("notify")


def test_a_run_completed_before_its_agent_died_is_published_and_notified_once_on_restart(setup, lab):
    """The agent died between a run's last asset and its reports and messages."""
    from aiosmtpd.controller import Controller

    mails: list[list[str]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            mails.append(list(envelope.rcpt_tos))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind((RELAY, 0))
        port = probe.getsockname()[1]
    relay = Controller(Handler(), hostname=RELAY, port=port)
    relay.start()
    try:
        good = lab.tcp(A1, 0, greeting=b"220 ExampleMTA 1.0 ready\r\n")
        lab.tcp(A2, good.port, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        setup.write("inventory.yaml", NOTIFY_INVENTORY.format(a1=A1, a2=A2))
        base = config(setup.policy(good.port).name, interval="1h").replace(f"targets: [{A1}]",
                                                                          "inventory: inventory.yaml")
        setup.write("agent.yaml", base)  # no notifications yet: the run ends without any message
        assert setup.start("--once").wait() == 0
        ((run_id, status, *_),) = setup.runs()
        assert status == "complete"
        # What an agent SIGKILLed after the scan but before publishing leaves: an unsettled run.
        setup.query("UPDATE agent_runs SET closed=0 WHERE run_id=?", run_id)
        for folder in (setup.root / "reports").iterdir():
            for child in sorted(folder.rglob("*"), reverse=True):
                child.unlink() if not child.is_dir() or child.is_symlink() else child.rmdir()
        notifications = ("    notifications:\n      notify_when: always\n      allow_networks: [127.0.0.0/8]\n"
                         f"      smtp: {{host: {RELAY}, port: {port}, starttls: false, sender: civiscan@city.example}}\n")
        setup.write("agent.yaml", base + notifications)
        agent = setup.start("--once", name="second")
        assert agent.wait() == 0
        assert agent.saw("run.catching_up", run=run_id)
        assert len(setup.runs()) == 1  # published and notified; nothing rescanned
        assert (setup.root / "reports" / "parks" / f"run-{run_id}").is_dir()
        assert sorted(mails) == [["parks-it@city.example"], ["water-it@city.example"]]
        assert setup.query("SELECT closed FROM agent_runs WHERE run_id=?", run_id) == [(1,)]
        third = setup.start("--once", name="third")  # settled now: caught up once, never again
        assert third.wait() == 0
        assert not third.saw("run.catching_up")
        assert len(setup.runs()) == 2  # a new run: one message per department per run, none twice
        assert sorted(mails) == [["parks-it@city.example"]] * 2 + [["water-it@city.example"]] * 2
    finally:
        relay.stop()
