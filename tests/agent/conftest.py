"""The agent under test: a real ``civiscan agent`` process, loopback listeners, its store and logs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.lab.servers import Lab

# Generous: the machine is shared; nothing asserts on how long anything took.
WAIT_SECONDS = 90.0

# The example plugin reads a TCP greeting; a silent listener makes a run last its whole timeout.
POLICY = """
policy: {{id: banners, version: "1", title: Banner policy}}
rules:
  - id: no-version-banner
    title: Greetings hide versions
    severity: medium
    rationale: Versions help attackers pick exploits.
    remediation: Configure the service to send a generic greeting.
    checks: [{{check: banner.no_version, options: {{port: {port}}}}}]
"""


def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab() as servers:
        yield servers


class AgentProcess:
    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        self.proc, self.log_path = proc, log

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"event": "text", "message": line})
        return out

    def saw(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [e for e in self.events() if e.get("event") == event
                and all(e.get(k) == v for k, v in fields.items())]

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self) -> int:
        return self.proc.wait(timeout=WAIT_SECONDS)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=WAIT_SECONDS)


class Setup:
    """A folder with a policy, an inventory, an agent config and a store."""

    def __init__(self, root: Path, plugin_dir: Path) -> None:
        self.root, self.plugin_dir = root, plugin_dir
        self.db = root / "store.db"
        self.config = root / "agent.yaml"
        self.reports = root / "reports"
        self._agents: list[AgentProcess] = []

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    wait_for = staticmethod(wait_for)

    def policy(self, port: int) -> Path:
        return self.write("policy.yaml", POLICY.format(port=port))

    def env(self) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": str(self.plugin_dir), "CIVISCAN_DB": str(self.db)}
        env.pop("CI", None)
        return env

    def civiscan(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                              env=self.env(), cwd=self.root, timeout=WAIT_SECONDS)

    def start(self, *args: str, name: str = "agent") -> AgentProcess:
        log = self.root / f"{name}-{len(self._agents)}.log"
        handle = log.open("w", encoding="utf-8")
        proc = subprocess.Popen(
            [sys.executable, "-m", "scanner", "agent", "--config", str(self.config), "--log-format", "json", *args],
            stdout=subprocess.DEVNULL, stderr=handle, text=True, env=self.env(), cwd=self.root,
        )
        handle.close()
        agent = AgentProcess(proc, log)
        self._agents.append(agent)
        return agent

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        try:
            with sqlite3.connect(self.db, timeout=30) as conn:
                return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []

    def scalar(self, sql: str, *params: Any) -> Any:
        """The single value ``sql`` selects, or 0 (no store yet, no row, NULL)."""
        rows = self.query(sql, *params)
        return (rows[0][0] if rows else None) or 0

    def runs(self, schedule: str = "lab") -> list[tuple[Any, ...]]:
        """(id, status, exit_code, started, finished) of the schedule's runs, oldest first."""
        return self.query(
            "SELECT r.id, r.status, r.exit_code, r.started, r.finished FROM agent_runs a JOIN runs r"
            " ON r.id = a.run_id WHERE a.schedule=? ORDER BY r.id", schedule)

    def finished(self, schedule: str = "lab") -> list[tuple[Any, ...]]:
        return [r for r in self.runs(schedule) if r[1] != "running"]

    def close(self) -> None:
        for agent in self._agents:
            agent.stop()


@pytest.fixture
def setup(tmp_path: Path, plugin_dir: Path) -> Iterator[Setup]:
    s = Setup(tmp_path, plugin_dir)
    yield s
    s.close()
