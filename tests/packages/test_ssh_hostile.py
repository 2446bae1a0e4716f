"""Hostile SSH servers cannot exhaust the scanner's memory or spill paramiko's tracebacks.

The servers are scripted in the test on 127.0.41.22x: a real SSH banner and
KEXINIT, then a packet header announcing 4 GiB (or a banner line without
end), then bytes as fast as the client takes them. The scan runs as a CLI
subprocess under RLIMIT_AS, so an unbounded buffer fails the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.packages.sshd_lab import SSHDLab, new_ed25519

pytestmark = pytest.mark.integration

ADDRESS_SPACE = 600 * 1024 * 1024
CHUNK = b"\0" * 65536

POLICY = """
policy: {id: hostile, version: "1", title: Hostile servers}
rules:
  - {id: release, title: Release, severity: high, checks: [{check: os.supported_release}]}
"""


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _packet(payload: bytes) -> bytes:
    padding = 8 - (len(payload) + 5) % 8
    padding += 8 if padding < 4 else 0
    return struct.pack(">IB", len(payload) + padding + 1, padding) + payload + b"\0" * padding


def kexinit() -> bytes:
    names = [b"ecdh-sha2-nistp256", b"ssh-ed25519", b"aes128-ctr", b"aes128-ctr",
             b"hmac-sha2-256", b"hmac-sha2-256", b"none", b"none", b"", b""]
    return _packet(bytes([20]) + os.urandom(16) + b"".join(map(_string, names)) + b"\0" + b"\0" * 4)


# What each server sends before it streams CHUNKs for ever.
OPENINGS = {
    # 0xfffffffc: a length paramiko's blocking check accepts (length - 4 is a multiple of 8).
    "huge-packet": b"SSH-2.0-hostile\r\n" + kexinit() + b"\xff\xff\xff\xfc\x04",
    "endless-banner": b"SSH-2.0-",
}


@contextlib.contextmanager
def hostile_server(address: str, opening: bytes) -> Iterator[int]:
    listener = socket.socket()
    listener.bind((address, 0))
    listener.listen(8)
    listener.settimeout(0.2)  # close() does not wake a blocked accept(): poll the stop flag
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(opening)
                    while not stop.is_set():
                        conn.sendall(CHUNK)
                except OSError:
                    continue  # the client hung up: what a bounded client does

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()
        worker.join(10)


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def scan(tmp_path: Path, address: str, port: int) -> subprocess.CompletedProcess[str]:
    key = tmp_path / "id"
    new_ed25519(key)
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "inventory.yaml").write_text(
        "scope: {networks: [127.0.41.0/24]}\ndepartments:\n  lab:\n    assets:\n"
        f"      - host: {address}\n        ssh: {{port: {port}, key_file: {key}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "CI")}
    # One malloc arena per thread reserves 64 MiB of address space each; the
    # limit is meant for buffers, not for how many threads glibc prepares for.
    env.update(CIVISCAN_DB=str(tmp_path / "store.db"), HOME=str(tmp_path), MALLOC_ARENA_MAX="2")
    return subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "-p", "policy.yaml", "-i", "inventory.yaml",
         "--timeout", "3", "--format", "json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        preexec_fn=limit_memory,
    )


@pytest.fixture(
    scope="module",
    params=[("127.0.41.221", "huge-packet"), ("127.0.41.222", "endless-banner")],
    ids=["huge-packet", "endless-banner"],
)
def hostile_scan(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    """One CLI scan of one hostile server; the tests below judge different parts of it."""
    address, kind = request.param
    with hostile_server(address, OPENINGS[kind]) as port:
        return scan(tmp_path_factory.mktemp(kind), address, port)


def test_hostile_server_is_a_protocol_error_in_bounded_memory(
    hostile_scan: subprocess.CompletedProcess[str],
) -> None:
    findings = json.loads(hostile_scan.stdout)["findings"]
    assert [(f["status"], f["reason"]) for f in findings] == [("error", "protocol")], hostile_scan.stderr


def test_hostile_server_leaves_no_traceback_on_stderr(
    hostile_scan: subprocess.CompletedProcess[str],
) -> None:
    assert "Traceback" not in hostile_scan.stderr
    assert "Exception (client)" not in hostile_scan.stderr


def test_enrol_against_an_ed25519_only_server_prints_no_traceback(tmp_path: Path) -> None:
    with SSHDLab(require_tool("sshd"), tmp_path / "lab", {"127.0.41.223": "debian12"}) as lab:
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "CI")}
        env["HOME"] = str(tmp_path)
        proc = subprocess.run(
            [sys.executable, "-m", "scanner", "hosts", "enrol", "127.0.41.223", "--port",
             str(lab.port), "--known-hosts", str(tmp_path / "known_hosts")],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )
    assert proc.returncode == 0 and lab.fingerprint in proc.stdout
    assert "Traceback" not in proc.stderr and "Exception (client)" not in proc.stderr
