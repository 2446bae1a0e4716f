"""The SSH transport against real OpenSSH sshd on loopback (tests/packages/sshd_lab.py).

Addresses 127.0.41.x are lab hosts of one sshd; 127.0.42.1 is a second sshd
used as a jump host; 127.0.41.200-201 have no sshd.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason, SSHSettings
from scanner.plugin import Context
from scanner.plugins.packages.collect import collect_host_facts
from scanner.transports import ssh
from tests.conftest import require_tool
from tests.packages.sshd_lab import SSHDLab, free_port, known_hosts_line, new_ed25519

pytestmark = pytest.mark.integration

HOSTS = {
    "127.0.41.1": "debian12",
    "127.0.41.2": "rocky9",
    "127.0.41.3": "alpine319",
    "127.0.41.4": "hostile",
    "127.0.41.5": "hang",
    "127.0.41.6": "ubuntu2204",
    "127.0.41.7": "debian12",
    "127.0.41.8": "debian12",
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHDLab]:
    sshd = require_tool("sshd")
    with SSHDLab(sshd, tmp_path_factory.mktemp("sshd-lab"), HOSTS) as running:
        yield running


@pytest.fixture(scope="module")
def jump_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHDLab]:
    sshd = require_tool("sshd")
    with SSHDLab(sshd, tmp_path_factory.mktemp("sshd-jump"), {"127.0.42.1": "debian12"}) as running:
        yield running


@pytest.fixture(autouse=True)
def no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the lab's key may authenticate; a developer's agent must not interfere."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def asset(address: str, port: int, key: Path | None = None, **settings: Any) -> Asset:
    settings.setdefault("user", getpass.getuser())
    return Asset(
        id=f"lab/{address}",
        name=address,
        kind=AssetKind.HOST,
        department="lab",
        address=address,
        ssh=SSHSettings(port=port, key_file=str(key) if key else None, **settings),
    )


def collect(
    target: Asset, known_hosts: Path | str, timeout: float = 10.0, **settings: Any
) -> dict[str, Any]:
    ctx = Context(
        timeout=timeout, settings={"known_hosts": str(known_hosts), "ssh_config": "", **settings}
    )
    return asyncio.run(collect_host_facts(target, ctx))


def failure(target: Asset, known_hosts: Path | str, **kwargs: Any) -> CollectFailed:
    with pytest.raises(CollectFailed) as info:
        collect(target, known_hosts, **kwargs)
    return info.value


def lab_asset(lab: SSHDLab, address: str, **settings: Any) -> Asset:
    return asset(address, lab.port, lab.user_key_path, **settings)


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize(
    ("address", "os_id", "fmt", "count"),
    [
        ("127.0.41.1", "debian", "dpkg", 25),
        ("127.0.41.6", "ubuntu", "dpkg", 19),
        ("127.0.41.2", "rocky", "rpm", 16),
        ("127.0.41.3", "alpine", "apk", 8),
    ],
    ids=["debian12", "ubuntu2204", "rocky9", "alpine319"],
)
def test_facts_over_ssh(lab: SSHDLab, address: str, os_id: str, fmt: str, count: int) -> None:
    facts = collect(lab_asset(lab, address), lab.known_hosts)
    assert (facts["os"]["id"], facts["package_format"], facts["transport"]) == (os_id, fmt, "ssh")
    assert len(facts["packages"]) == count


def test_two_plugins_of_one_job_share_one_ssh_command(lab: SSHDLab) -> None:
    target = lab_asset(lab, "127.0.41.7")
    ctx = Context(timeout=10, settings={"known_hosts": str(lab.known_hosts), "ssh_config": ""})

    async def both() -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(collect_host_facts(target, ctx), collect_host_facts(target, ctx))
        )

    first, second = asyncio.run(both())
    assert first == second
    assert lab.sessions("127.0.41.7") == 1


def test_hostile_output_over_ssh_is_plain_text(lab: SSHDLab) -> None:
    facts = collect(lab_asset(lab, "127.0.41.4"), lab.known_hosts)
    names = {pkg["name"]: pkg["version"] for pkg in facts["packages"]}
    assert names["<img src=x onerror=alert(1)>"] == "1.0\"'$(id)"
    assert "pkg-after-marker" in names
    assert facts["os"]["id"] == "debian"


def test_hashed_known_hosts_entry_is_accepted(lab: SSHDLab, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("127.0.41.1", lab.port, lab.host_key, hashed=True))
    assert collect(lab_asset(lab, "127.0.41.1"), known)["os"]["id"] == "debian"


def test_pinned_fingerprint_is_accepted_without_known_hosts(lab: SSHDLab, tmp_path: Path) -> None:
    target = lab_asset(lab, "127.0.41.1", host_key_fingerprints=(lab.fingerprint,))
    assert collect(target, tmp_path / "empty")["package_format"] == "dpkg"


def test_ssh_config_alias_is_honoured(lab: SSHDLab, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        f"Host labhost\n  HostName 127.0.41.1\n  Port {lab.port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {lab.user_key_path}\n"
    )
    target = Asset(
        id="lab/alias", name="alias", kind=AssetKind.HOST, department="lab", address="labhost"
    )
    ctx = Context(
        timeout=10, settings={"known_hosts": str(lab.known_hosts), "ssh_config": str(config)}
    )
    assert asyncio.run(collect_host_facts(target, ctx))["os"]["id"] == "debian"


def test_jump_host_forwards_to_the_target(lab: SSHDLab, jump_lab: SSHDLab, tmp_path: Path) -> None:
    # The jump sshd trusts the same user key as the lab.
    (jump_lab.dir / "authorized_keys").write_text(Path(f"{lab.user_key_path}.pub").read_text())
    known = tmp_path / "known_hosts"
    known.write_text(lab.known_hosts.read_text() + jump_lab.known_hosts.read_text())
    target = lab_asset(lab, "127.0.41.8", jump=f"{getpass.getuser()}@127.0.42.1:{jump_lab.port}")
    assert collect(target, known)["kernel"]["running"] == "6.1.0-17-amd64"
    assert lab.sessions("127.0.41.8") == 1
    assert jump_lab.sessions("127.0.42.1") == 0  # the jump host only forwarded


def test_unknown_jump_host_is_refused(lab: SSHDLab, jump_lab: SSHDLab) -> None:
    target = lab_asset(lab, "127.0.41.1", jump=f"127.0.42.1:{jump_lab.port}")
    error = failure(target, lab.known_hosts)
    assert error.reason is ErrorReason.HOST_KEY
    assert f"civiscan hosts enrol 127.0.42.1 --port {jump_lab.port}" in error.message


# --------------------------------------------------------------------------- host keys


def test_unknown_host_is_refused_with_the_enrol_command(lab: SSHDLab, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    error = failure(lab_asset(lab, "127.0.41.1"), known)
    assert error.reason is ErrorReason.HOST_KEY
    assert lab.fingerprint in error.message
    assert (
        f"civiscan hosts enrol 127.0.41.1 --port {lab.port} --known-hosts {known}" in error.message
    )


def test_changed_host_key_is_refused(lab: SSHDLab, tmp_path: Path) -> None:
    impostor = new_ed25519(tmp_path / "old_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("127.0.41.1", lab.port, impostor))
    error = failure(lab_asset(lab, "127.0.41.1"), known)
    assert error.reason is ErrorReason.HOST_KEY
    assert "CHANGED" in error.message
    assert ssh.key_fingerprint(impostor) in error.message and lab.fingerprint in error.message
    assert f"civiscan hosts enrol 127.0.41.1 --port {lab.port}" in error.message


def test_key_known_for_another_port_is_not_trusted(lab: SSHDLab, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_line("127.0.41.1", lab.port + 1, lab.host_key))
    assert failure(lab_asset(lab, "127.0.41.1"), known).reason is ErrorReason.HOST_KEY


def test_wrong_pin_is_refused(lab: SSHDLab, tmp_path: Path) -> None:
    target = lab_asset(lab, "127.0.41.1", host_key_fingerprints=("SHA256:" + "A" * 43,))
    error = failure(target, tmp_path / "empty")
    assert error.reason is ErrorReason.HOST_KEY
    assert "pinned" in error.message


def test_enrol_records_the_offered_key(lab: SSHDLab, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    keys = ssh.enrol("127.0.41.1", lab.port, str(known), timeout=10)
    assert keys == [("ssh-ed25519", lab.fingerprint)]
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    assert collect(lab_asset(lab, "127.0.41.1"), known)["os"]["id"] == "debian"


def test_enrol_twice_adds_nothing(lab: SSHDLab, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    ssh.enrol("127.0.41.1", lab.port, str(known), timeout=10)
    before = known.read_text()
    ssh.enrol("127.0.41.1", lab.port, str(known), timeout=10)
    assert known.read_text() == before


def test_enrol_refuses_a_changed_key_unless_replacing(lab: SSHDLab, tmp_path: Path) -> None:
    impostor = new_ed25519(tmp_path / "old_host_key")
    known = tmp_path / "known_hosts"
    other = known_hosts_line("127.0.41.2", lab.port, lab.host_key)
    known.write_text(known_hosts_line("127.0.41.1", lab.port, impostor, hashed=True) + other)
    with pytest.raises(CollectFailed) as info:
        ssh.enrol("127.0.41.1", lab.port, str(known), timeout=10)
    assert info.value.reason is ErrorReason.HOST_KEY
    ssh.enrol("127.0.41.1", lab.port, str(known), timeout=10, replace=True)
    assert known.read_text() == other + known_hosts_line("127.0.41.1", lab.port, lab.host_key)


# --------------------------------------------------------------------------- failures


def test_wrong_user_key_is_an_auth_error(lab: SSHDLab, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    new_ed25519(stranger)
    error = failure(asset("127.0.41.1", lab.port, stranger), lab.known_hosts)
    assert error.reason is ErrorReason.AUTH


def test_password_from_the_environment_never_reaches_the_message(
    lab: SSHDLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_SSH_PASSWORD", "hunter2-do-not-print")
    stranger = tmp_path / "stranger"
    new_ed25519(stranger)
    target = asset("127.0.41.1", lab.port, stranger, password_env="LAB_SSH_PASSWORD")
    error = failure(target, lab.known_hosts)
    assert error.reason is ErrorReason.AUTH
    assert "hunter2" not in error.message and "hunter2" not in repr(error)


@pytest.mark.parametrize("fmt", ["openssh-ed25519", "pem-rsa"])
def test_wrong_key_passphrase_is_an_auth_error(
    lab: SSHDLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key: Any
    if fmt == "pem-rsa":
        key, form = rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.TraditionalOpenSSL
    else:
        key, form = ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.OpenSSH
    encrypted = tmp_path / "encrypted"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, form, serialization.BestAvailableEncryption(b"the-right-one")
        )
    )
    monkeypatch.setenv("LAB_SSH_PASSPHRASE", "not-the-right-one")
    target = asset("127.0.41.1", lab.port, encrypted, passphrase_env="LAB_SSH_PASSPHRASE")
    error = failure(target, lab.known_hosts)
    assert error.reason is ErrorReason.AUTH and str(encrypted) in error.message
    assert "right-one" not in error.message


def test_missing_key_file_is_an_auth_error(lab: SSHDLab, tmp_path: Path) -> None:
    error = failure(asset("127.0.41.1", lab.port, tmp_path / "nope"), lab.known_hosts)
    assert error.reason is ErrorReason.AUTH and "does not exist" in error.message


def test_nothing_listening_is_refused(tmp_path: Path) -> None:
    # On loopback a closed port answers with a reset at once: "refused", never
    # "unreachable" (that needs a route that fails, which loopback cannot show).
    port = free_port(["127.0.41.200"])
    new_ed25519(tmp_path / "k")
    error = failure(asset("127.0.41.200", port, tmp_path / "k"), tmp_path / "kh")
    assert error.reason is ErrorReason.REFUSED


def test_server_that_never_sends_a_banner_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.41.201", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever speaks
        key = tmp_path / "k"
        new_ed25519(key)
        error = failure(
            asset("127.0.41.201", silent.getsockname()[1], key), tmp_path / "kh", timeout=0.5
        )
    assert error.reason is ErrorReason.TIMEOUT


def test_command_that_hangs_times_out(lab: SSHDLab) -> None:
    error = failure(lab_asset(lab, "127.0.41.5"), lab.known_hosts, command_timeout=0.5)
    assert error.reason is ErrorReason.TIMEOUT
    assert "did not finish within 0.5 s" in error.message


def test_server_that_hangs_up_at_once_is_a_reset(tmp_path: Path) -> None:
    key = tmp_path / "k"
    new_ed25519(key)
    with socket.socket() as rude:
        rude.bind(("127.0.41.202", 0))
        rude.listen(8)

        def hang_up() -> None:
            conn, _ = rude.accept()
            conn.close()

        worker = threading.Thread(target=hang_up)
        worker.start()
        error = failure(asset("127.0.41.202", rude.getsockname()[1], key), tmp_path / "kh")
        worker.join()
    assert error.reason is ErrorReason.RESET
