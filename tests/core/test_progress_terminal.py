"""The progress bar of `civiscan scan` on a real terminal (a pty), and its absence off one.

The target is a loopback server that accepts connections and never answers, so
the asset stays in flight until --timeout and the bar must tick on its own.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ADDRESS = f"127.0.{155 + os.getpid() % 50}.7"
POLICY = """\
policy: {id: hsts, version: "1", title: HSTS}
rules:
  - id: hsts
    title: HSTS is sent
    severity: medium
    rationale: Browsers keep to HTTPS.
    remediation: Send Strict-Transport-Security.
    checks: [{check: http.hsts}]
"""
BAR = re.compile(r"\[[#-]{30}\] \d+/\d+ assets")
ELAPSED = re.compile(r"0/1 assets .*?(\d+\.\d)s  1 in flight: (\S+) \d+s")


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port on loopback that accepts and then says nothing until the client gives up."""
    listener = socket.create_server((ADDRESS, 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def scan_args(tmp_path: Path, port: int) -> list[str]:
    (tmp_path / "hsts.yaml").write_text(POLICY)
    return [sys.executable, "-m", "scanner", "--no-config", "scan", "-p", str(tmp_path / "hsts.yaml"),
            "--db", str(tmp_path / "store.db"), "--timeout", "1.5", f"https://{ADDRESS}:{port}/"]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("CIVISCAN_")}
    return {**env, "COLUMNS": "200"}


def test_on_a_terminal_the_bar_ticks_and_names_the_asset_in_flight(tmp_path, silent_server):
    controller, terminal = os.openpty()
    proc = subprocess.Popen(scan_args(tmp_path, silent_server), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=terminal, env=environment(), cwd=tmp_path)
    os.close(terminal)
    drawn = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
        proc.stdout.read()
        proc.wait(timeout=30)
    text = drawn.decode("utf-8", "replace")
    ticks = ELAPSED.findall(text)
    assert BAR.search(text), text[-500:]
    assert proc.returncode == 3, text[-500:]  # the timeout is an error: incomplete
    assert len({elapsed for elapsed, _ in ticks}) >= 2, text[-500:]  # redrawn while nothing finished
    assert all(f"{ADDRESS}:{silent_server}" in asset for _, asset in ticks)
    final = text.rstrip().split("\r")[-1]
    assert "1/1 assets" in final and "1 errors" in final and "in flight" not in final


def test_off_a_terminal_no_bar_is_drawn(tmp_path, silent_server):
    proc = subprocess.run(scan_args(tmp_path, silent_server), capture_output=True, text=True,
                          env=environment(), cwd=tmp_path, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert not BAR.search(proc.stderr) and "in flight" not in proc.stderr and "\r" not in proc.stderr
