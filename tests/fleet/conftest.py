"""Fixtures of the fleet tests: a real redis-server and real Celery workers, all on loopback.

redis-server (Debian's package) listens on 127.62.0.1 on a free port, with no
persistence, for the whole session. Workers are ``civiscan worker``
subprocesses; each test module starts the ones it needs once. A short
visibility timeout (4 s) and host lease (3 s) let the tests see a vanished
worker's jobs and slots come back quickly; every job here takes well under 4 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from tests.conftest import require_tool

REDIS_ADDRESS = "127.62.0.1"
FLEET_ENV = {"CIVISCAN_BROKER_VISIBILITY_TIMEOUT": "4", "CIVISCAN_FLEET_HOST_LEASE": "3"}


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


class Proc:
    """A subprocess whose output lines are collected as they come; tests await lines, never sleep."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None, name: str = "") -> None:
        self.name = name or argv[0]
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.popen = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env=env, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if m := regex.search(line):
                        return m
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not self._reader.is_alive()):
                    tail = "\n".join(self.lines[-30:])
                    raise AssertionError(f"{self.name}: no line matching {pattern!r}; output so far:\n{tail}")
                self._cond.wait(min(left, 0.5))

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def kill(self) -> None:
        """SIGKILL the process (and its pool), like a machine that is lost."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(5)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    binary = require_tool("redis-server")
    port = free_port(REDIS_ADDRESS)
    server = Proc([binary, "--bind", REDIS_ADDRESS, "--port", str(port), "--save", "", "--appendonly", "no",
                   "--protected-mode", "yes", "--databases", "1"], name="redis-server")
    try:
        server.wait_for("Ready to accept connections", 30)
        yield f"redis://{REDIS_ADDRESS}:{port}/0"
    finally:
        server.stop()


def civiscan(*args: str) -> list[str]:
    return [sys.executable, "-m", "scanner", *args]


def fleet_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **FLEET_ENV, **extra}


WorkerFactory = Callable[..., list[Proc]]


@pytest.fixture(scope="module")
def start_workers(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerFactory]:
    """``start_workers({"w1": (), "za": ("a",)})``: real workers (name -> zones), all ready when returned.

    They start at once and are stopped together after the module.
    """
    started: list[Proc] = []
    db = tmp_path_factory.mktemp("worker-store") / "worker.db"

    def start(queues_of: Mapping[str, Sequence[str]], concurrency: int = 4) -> list[Proc]:
        procs = []
        for name, queues in queues_of.items():
            argv = civiscan("worker", "--broker", redis_url, "--name", name, "--db", str(db),
                            "--concurrency", str(concurrency), *(a for q in queues for a in ("--queue", q)))
            procs.append(Proc(argv, env=fleet_env(), name=name))
        started.extend(procs)
        for proc in procs:
            proc.wait_for(r" ready\.", 60)
        return procs

    yield start
    for proc in started:
        proc.terminate()
    for proc in started:
        proc.stop()


def received_tasks(worker: Proc) -> list[str]:
    """The task ids a worker took, from its log."""
    return re.findall(r"Task civiscan\.job\[([^\]]+)\] received", worker.text())


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``predicate`` (every 20 ms) until it is true: for state only the store can tell."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        threading.Event().wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")
