"""Every SSH hop passes the scope gate before any packet: jump hosts, HostName rewrites, ProxyJump.

The scope is 127.0.41.0/24 (plus 127.0.42.1 where the real jump sshd of
tests/packages/sshd_lab.py is allowed). Out-of-scope hops are loopback
listeners on 127.0.45.x that record, in their backlog, whether anything
connected; the kernel completes a TCP handshake without accept().
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import ipaddress
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.gate import Gate
from scanner.inventory import Scope
from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason, SSHSettings
from scanner.plugin import Context
from scanner.plugins.packages.collect import collect_host_facts
from tests.conftest import require_tool
from tests.packages.sshd_lab import SSHDLab, new_ed25519

pytestmark = pytest.mark.integration

SCOPE = Scope((ipaddress.ip_network("127.0.41.0/24"),))


class Listener:
    """A TCP listener that never accepts: ``connected()`` says whether anyone came."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(16)
        self.port: int = self.sock.getsockname()[1]

    def connected(self) -> bool:
        self.sock.setblocking(False)
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        conn.close()
        return True


@contextlib.contextmanager
def listeners(*addresses: str) -> Iterator[list[Listener]]:
    made = [Listener(a) for a in addresses]
    try:
        yield made
    finally:
        for listener in made:
            listener.sock.close()


@pytest.fixture(autouse=True)
def no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "id"
    new_ed25519(path)
    return path


def host(address: str, port: int | None, key: Path, **ssh: Any) -> Asset:
    return Asset(
        id=f"lab/{address}", name=address, kind=AssetKind.HOST, department="lab",
        address=address,
        ssh=SSHSettings(user=getpass.getuser(), port=port, key_file=str(key), **ssh),
    )


def failure(target: Asset, tmp_path: Path, scope: Scope = SCOPE, config: str = "") -> CollectFailed:
    settings = {"known_hosts": str(tmp_path / "known_hosts"), "ssh_config": ""}
    if config:
        (tmp_path / "ssh_config").write_text(config)
        settings["ssh_config"] = str(tmp_path / "ssh_config")
    ctx = Context(5.0, settings, gate=Gate(scope))
    with pytest.raises(CollectFailed) as info:
        asyncio.run(collect_host_facts(target, ctx))
    return info.value


def test_out_of_scope_jump_host_is_never_contacted(tmp_path: Path, key: Path) -> None:
    with listeners("127.0.41.210", "127.0.45.1") as (target, jump):
        error = failure(host(target.address, target.port, key, jump=f"127.0.45.1:{jump.port}"), tmp_path)
        assert (jump.connected(), target.connected()) == (False, False)
    assert error.reason is ErrorReason.SCOPE
    assert error.message.startswith("refused: 127.0.45.1 is outside the allowed networks")
    assert f"SSH jump host from ssh.jump 127.0.45.1:{jump.port}" in error.message


def test_second_jump_of_a_chain_out_of_scope_stops_the_first(tmp_path: Path, key: Path) -> None:
    with listeners("127.0.41.211", "127.0.41.212", "127.0.45.2") as (target, first, second):
        chain = f"127.0.41.212:{first.port},127.0.45.2:{second.port}"
        error = failure(host(target.address, target.port, key, jump=chain), tmp_path)
        assert [x.connected() for x in (first, second, target)] == [False, False, False]
    assert error.reason is ErrorReason.SCOPE and "127.0.45.2" in error.message


def test_ssh_config_hostname_out_of_scope_is_refused(tmp_path: Path, key: Path) -> None:
    with listeners("127.0.45.3") as (rewritten,):
        config = f"Host 127.0.41.213\n  HostName 127.0.45.3\n  Port {rewritten.port}\n"
        error = failure(host("127.0.41.213", None, key), tmp_path, config=config)
        assert not rewritten.connected()
    assert error.reason is ErrorReason.SCOPE
    assert f"SSH target 127.0.41.213 via HostName 127.0.45.3:{rewritten.port}" in error.message


def test_ssh_config_proxyjump_out_of_scope_is_refused(tmp_path: Path, key: Path) -> None:
    with listeners("127.0.41.214", "127.0.45.4") as (target, jump):
        config = f"Host 127.0.41.214\n  ProxyJump 127.0.45.4:{jump.port}\n"
        error = failure(host(target.address, target.port, key), tmp_path, config=config)
        assert (jump.connected(), target.connected()) == (False, False)
    assert error.reason is ErrorReason.SCOPE
    assert f"SSH jump host from ProxyJump 127.0.45.4:{jump.port}" in error.message


def test_proxycommand_is_not_supported(tmp_path: Path, key: Path) -> None:
    with listeners("127.0.41.215") as (target,):
        config = "Host 127.0.41.215\n  ProxyCommand nc 127.0.45.5 22\n"
        error = failure(host(target.address, target.port, key), tmp_path, config=config)
        assert not target.connected()
    assert error.reason is ErrorReason.NOT_SUPPORTED and "ProxyCommand" in error.message


# --------------------------------------------------------------------------- a real jump host


@pytest.fixture(scope="module")
def labs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SSHDLab, SSHDLab]]:
    sshd = require_tool("sshd")
    with (
        SSHDLab(sshd, tmp_path_factory.mktemp("scope-target"), {"127.0.41.216": "debian12"}) as lab,
        SSHDLab(sshd, tmp_path_factory.mktemp("scope-jump"), {"127.0.42.1": "debian12"}) as jump,
    ):
        # The jump sshd trusts the same user key as the target (docs/ssh.md).
        (jump.dir / "authorized_keys").write_text(Path(f"{lab.user_key_path}.pub").read_text())
        yield lab, jump


def test_in_scope_jump_host_forwards_to_the_target(labs: tuple[SSHDLab, SSHDLab], tmp_path: Path) -> None:
    lab, jump = labs
    known = tmp_path / "known_hosts"
    known.write_text(lab.known_hosts.read_text() + jump.known_hosts.read_text())
    target = host("127.0.41.216", lab.port, lab.user_key_path, jump=f"127.0.42.1:{jump.port}")
    scope = Scope((*SCOPE.networks, ipaddress.ip_network("127.0.42.1/32")))
    ctx = Context(10.0, {"known_hosts": str(known), "ssh_config": ""}, gate=Gate(scope))
    facts = asyncio.run(collect_host_facts(target, ctx))
    assert facts["os"]["id"] == "debian"
    assert (lab.sessions("127.0.41.216"), jump.sessions("127.0.42.1")) == (1, 0)


def test_scan_reports_an_out_of_scope_jump_host_as_a_scope_error(tmp_path: Path, key: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        'policy: {id: p, version: "1", title: P}\n'
        "rules:\n  - {id: release, title: Release, severity: high, checks: [{check: os.supported_release}]}\n"
    )
    # A jump address written in the inventory is refused by validation already;
    # a name is only known to be out of scope once it is resolved, here by --resolve.
    with listeners("127.0.45.6") as (jump,):
        inventory = tmp_path / "inventory.yaml"
        inventory.write_text(
            "scope: {networks: [127.0.41.0/24]}\ndepartments:\n  lab:\n    assets:\n"
            f"      - host: 127.0.41.217\n        ssh: {{port: 2222, key_file: {key}, "
            f"jump: 'bastion.lab.test:{jump.port}'}}\n"
        )
        env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "CI")}
        env.update(CIVISCAN_DB=str(tmp_path / "store.db"), HOME=str(tmp_path))
        proc = subprocess.run(
            [sys.executable, "-m", "scanner", "scan", "-p", str(policy), "-i", str(inventory),
             "--format", "json", "--resolve", f"bastion.lab.test:{jump.port}:127.0.45.6"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )
        assert not jump.connected()
    findings = json.loads(proc.stdout)["findings"]
    assert [(f["status"], f["reason"]) for f in findings] == [("error", "scope")], proc.stderr
    assert "bastion.lab.test is reached at 127.0.45.6" in findings[0]["message"]
    assert "SSH jump host from ssh.jump bastion.lab.test" in findings[0]["message"]
