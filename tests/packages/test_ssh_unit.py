"""SSH transport logic that needs no server: hop parsing, ~/.ssh/config, fingerprints."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason, SSHSettings
from scanner.transports import ssh
from tests.packages.sshd_lab import known_hosts_line, new_ed25519


def host(address: str = "10.1.2.3", **settings: object) -> Asset:
    return Asset(
        id="it/h",
        name="h",
        kind=AssetKind.HOST,
        department="it",
        address=address,
        ssh=SSHSettings(**settings),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("bastion", (None, "bastion", None)),
        ("ops@bastion:2222", ("ops", "bastion", 2222)),
        ("[::1]:2200", (None, "::1", 2200)),
        ("ops@[fe80::1]", ("ops", "fe80::1", None)),
        ("::1", (None, "::1", None)),
    ],
    ids=["host", "user-host-port", "v6-port", "v6-user", "bare-v6"],
)
def test_parse_hop(spec: str, expected: tuple[object, ...]) -> None:
    assert ssh.parse_hop(spec) == expected


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("SHA256:abcDEF+/0", "SHA256:abcDEF+/0"),
        ("sha256:abcDEF+/0=", "SHA256:abcDEF+/0"),
        ("abcDEF+/0", "SHA256:abcDEF+/0"),
    ],
    ids=["openssh", "lowercase-padded", "bare"],
)
def test_normalise_fingerprint(text: str, normal: str) -> None:
    assert ssh.normalise_fingerprint(text) == normal


def test_key_fingerprint_matches_ssh_keygen(tmp_path: Path, tool) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    key = new_ed25519(tmp_path / "k")
    out = subprocess.run(
        [tool("ssh-keygen"), "-lf", str(tmp_path / "k.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split()[1] == ssh.key_fingerprint(key)


@pytest.mark.parametrize(
    ("port", "name"), [(22, "10.0.0.1"), (2222, "[10.0.0.1]:2222")], ids=["22", "other"]
)
def test_known_hosts_name(port: int, name: str) -> None:
    assert ssh.known_hosts_name("10.0.0.1", port) == name


def test_inventory_settings_win_over_defaults(tmp_path: Path) -> None:
    target = ssh.resolve(
        host(user="audit", port=2200, key_file=str(tmp_path / "id"), jump="ops@jump:2022"),
        {"ssh_config": "", "known_hosts": str(tmp_path / "kh")},
    )
    assert (target.target.host, target.target.port, target.target.user) == (
        "10.1.2.3",
        2200,
        "audit",
    )
    assert target.target.key_files == (str(tmp_path / "id"),)
    assert [(j.user, j.host, j.port) for j in target.jumps] == [("ops", "jump", 2022)]
    assert target.known_hosts == (str(tmp_path / "kh"),)


def test_ssh_config_host_entry_is_honoured(tmp_path: Path) -> None:
    key = tmp_path / "id_lab"
    key.write_text("x")
    config = tmp_path / "config"
    config.write_text(
        f"Host web1\n  HostName 10.9.8.7\n  User deploy\n  Port 2201\n  IdentityFile {key}\n"
        "  ProxyJump ops@bastion:2022\n  UserKnownHostsFile /tmp/lab_known\n"
    )
    target = ssh.resolve(host("web1"), {"ssh_config": str(config)})
    assert (target.target.host, target.target.port, target.target.user) == (
        "10.9.8.7",
        2201,
        "deploy",
    )
    assert target.target.key_files == (str(key),)
    assert [(j.user, j.host, j.port) for j in target.jumps] == [("ops", "bastion", 2022)]
    assert target.known_hosts == (ssh.SYSTEM_KNOWN_HOSTS, "/tmp/lab_known")


def test_default_known_hosts_are_system_and_user_files() -> None:
    target = ssh.resolve(host(), {"ssh_config": ""})
    assert target.known_hosts[0] == "/etc/ssh/ssh_known_hosts"
    assert target.known_hosts[1].endswith("/.ssh/known_hosts")


def test_pinned_fingerprints_replace_known_hosts() -> None:
    target = ssh.resolve(host(host_key_fingerprints=("sha256:abc=",)), {"ssh_config": ""})
    assert (target.known_hosts, target.pins) == ((), ("SHA256:abc",))


def test_missing_password_variable_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_NO_SUCH_SECRET", raising=False)
    with pytest.raises(CollectFailed) as info:
        ssh._secrets(SSHSettings(password_env="LAB_NO_SUCH_SECRET"), "h:22", None)
    assert info.value.reason is ErrorReason.AUTH
    assert "LAB_NO_SUCH_SECRET" in info.value.message


def test_prompt_supplies_a_missing_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_NO_SUCH_SECRET", raising=False)
    asked: list[str] = []
    secrets = ssh._secrets(
        SSHSettings(passphrase_env="LAB_NO_SUCH_SECRET"),
        "h:22",
        lambda what: asked.append(what) or "s3",
    )
    assert secrets.passphrase == "s3" and asked == ["passphrase for the SSH key of h:22"]
    assert "s3" not in repr(secrets)


def test_hashed_known_hosts_line_names_its_host(tmp_path: Path) -> None:
    key = new_ed25519(tmp_path / "k")
    line = known_hosts_line("127.0.0.9", 2222, key, hashed=True)
    assert line.startswith("|1|")
    assert ssh._line_names_host(line, "[127.0.0.9]:2222")
    assert not ssh._line_names_host(line, "[127.0.0.9]:2223")


def test_known_hosts_files_are_read_by_paramiko_with_port_names(tmp_path: Path) -> None:
    key = new_ed25519(tmp_path / "k")
    path = tmp_path / "known_hosts"
    path.write_text(known_hosts_line("127.0.0.9", 2222, key, hashed=True))
    keys = paramiko.HostKeys(str(path))
    assert keys.check("[127.0.0.9]:2222", key)


def test_explicit_port_22_wins_over_ssh_config(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host web1\n  Port 2201\n")
    assert ssh.resolve(host("web1", port=22), {"ssh_config": str(config)}).target.port == 22
    assert ssh.resolve(host("web1"), {"ssh_config": str(config)}).target.port == 2201
    assert ssh.resolve(host("web2"), {"ssh_config": str(config)}).target.port == 22
