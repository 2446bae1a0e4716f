"""The agent end to end: schedules, overlap, signals, crashes, several agents, reports, retention."""

from __future__ import annotations

import json
import signal

ADDR = "127.0.171.1"


def config(policy: str, targets: str = ADDR, *, interval: str = "1s", extra: str = "", agent: str = "") -> str:
    return f"""
agent:
  grace: 30s
{agent}
schedules:
  lab:
    interval: {interval}
    policies: [{policy}]
    targets: [{targets}]
    reports: reports
    scan: {{timeout: 2}}
{extra}
"""


def test_several_runs_happen_on_an_interval(setup, lab):
    listener = lab.tcp(ADDR, 0, greeting=b"220 mail ready\r\n")
    setup.write("agent.yaml", config(setup.policy(listener.port).name))
    agent = setup.start()
    runs = setup.wait_for(lambda: len(setup.finished()) >= 3 and setup.finished(), "three finished runs")
    assert [r[1:3] for r in runs[:3]] == [("complete", 0)] * 3
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
