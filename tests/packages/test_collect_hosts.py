"""The real collection script, run by /bin/sh over recorded host roots, and on this machine."""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason, SSHSettings
from scanner.plugin import Context
from scanner.plugins.packages.collect import build_script, collect_host_facts, facts_from_output
from scanner.transports import CommandResult
from scanner.transports.local import LocalTransport
from tests.packages.sshd_lab import local_transport_for, materialise_host

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
FACT_KEYS = {
    "os",
    "arch",
    "package_format",
    "kernel",
    "packages",
    "reboot_required",
    "last_update",
    "container",
    "transport",
    "collected_at",
}


def collect_recorded(name: str, tmp_path: Path, sudo: bool = False) -> dict[str, Any]:
    host = materialise_host(name, tmp_path / name)
    nonce = secrets.token_hex(16)
    result = asyncio.run(local_transport_for(host).run_script(build_script(nonce, sudo)))
    return facts_from_output(result, nonce, "local", NOW)


EXPECTED = {
    "debian12": {
        "os": {
            "id": "debian",
            "version_id": "12",
            "codename": "bookworm",
            "pretty_name": "Debian GNU/Linux 12 (bookworm)",
            "id_like": [],
        },
        "arch": "x86_64",
        "package_format": "dpkg",
        "kernel": {
            "running": "6.1.0-17-amd64",
            "installed": ["6.1.0-17-amd64", "6.1.0-18-amd64"],
            "newest": "6.1.0-18-amd64",
            "build": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.69-1 (2023-12-30)",
            "signature": "",
        },
        "reboot_required": {
            "required": True,
            "evidence": "the newest installed kernel 6.1.0-18-amd64 (linux-image-6.1.0-18-amd64 "
            "6.1.76-1) is not the running kernel 6.1.0-17-amd64",
        },
        "last_update": {
            "time": "2026-10-28T09:12:44+00:00",
            "evidence": "/var/log/dpkg.log.1: 2026-10-28 09:12:44 upgrade openssl:amd64 "
            "3.0.11-1~deb12u1 3.0.11-1~deb12u2",
        },
        "container": False,
    },
    "ubuntu2204": {
        "os": {
            "id": "ubuntu",
            "version_id": "22.04",
            "codename": "jammy",
            "pretty_name": "Ubuntu 22.04.4 LTS",
            "id_like": ["debian"],
        },
        "arch": "x86_64",
        "package_format": "dpkg",
        "kernel": {
            "running": "5.15.0-88-generic",
            "installed": ["5.15.0-88-generic", "5.15.0-91-generic"],
            "newest": "5.15.0-91-generic",
            "build": "#98-Ubuntu SMP Mon Oct 2 15:18:56 UTC 2023",
            "signature": "",
        },
        "reboot_required": {
            "required": True,
            "evidence": "/var/run/reboot-required exists (packages: "
            "linux-image-5.15.0-91-generic, linux-base)",
        },
        "last_update": {
            "time": "2026-11-20T05:41:09+00:00",
            "evidence": "/var/log/dpkg.log: 2026-11-20 06:41:09 upgrade linux-image-generic:amd64 "
            "5.15.0.88.85 5.15.0.91.88",
        },
        "container": False,
    },
    "rocky9": {
        "os": {
            "id": "rocky",
            "version_id": "9.3",
            "codename": None,
            "pretty_name": "Rocky Linux 9.3 (Blue Onyx)",
            "id_like": ["rhel", "centos", "fedora"],
        },
        "arch": "x86_64",
        "package_format": "rpm",
        "kernel": {
            "running": "5.14.0-362.13.1.el9_3.x86_64",
            "installed": ["5.14.0-362.13.1.el9_3.x86_64", "5.14.0-362.8.1.el9_3.x86_64"],
            "newest": "5.14.0-362.13.1.el9_3.x86_64",
            "build": "#1 SMP PREEMPT_DYNAMIC Wed Jan 10 2024",
            "signature": "",
        },
        "reboot_required": {
            "required": False,
            "evidence": "the running kernel 5.14.0-362.13.1.el9_3.x86_64 is the newest installed kernel",
        },
        "last_update": {
            "time": "2026-10-26T08:00:00+00:00",
            "evidence": "newest rpm install time: openssl-1:3.0.7-24.el9.x86_64",
        },
        "container": False,
    },
    "alpine319": {
        "os": {
            "id": "alpine",
            "version_id": "3.19.1",
            "codename": None,
            "pretty_name": "Alpine Linux v3.19",
            "id_like": [],
        },
        "arch": "x86_64",
        "package_format": "apk",
        "kernel": {
            "running": "6.1.0-18-amd64",
            "installed": [],
            "newest": None,
            "build": "#1 SMP",
            "signature": "",
        },
        "reboot_required": {"required": None, "evidence": "container"},
        "last_update": {
            "time": "2026-10-31T12:33:20+00:00",
            "evidence": "time of the last change to /lib/apk/db/installed",
        },
        "container": True,
    },
}
PACKAGE_COUNTS = {"debian12": 25, "ubuntu2204": 19, "rocky9": 16, "alpine319": 8}


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=sorted(EXPECTED))
def test_recorded_host_facts(name: str, tmp_path: Path) -> None:
    facts = collect_recorded(name, tmp_path)
    assert set(facts) == FACT_KEYS
    packages = facts.pop("packages")
    assert facts.pop("transport") == "local"
    assert facts.pop("collected_at") == "2026-11-25T12:00:00+00:00"
    assert facts == EXPECTED[name]
    assert len(packages) == PACKAGE_COUNTS[name]


def test_recorded_facts_with_sudo_fallback_enabled_are_the_same(tmp_path: Path) -> None:
    facts = collect_recorded("debian12", tmp_path, sudo=True)
    assert facts["last_update"] == EXPECTED["debian12"]["last_update"]


def test_hostile_host_data_is_stored_as_plain_text(tmp_path: Path) -> None:
    facts = collect_recorded("hostile", tmp_path)
    names = {pkg["name"]: pkg for pkg in facts["packages"]}
    assert names["<img src=x onerror=alert(1)>"]["version"] == "1.0\"'$(id)"
    assert names["{{ 7*7 }}"]["version"] == "${jndi:ldap://x}"
    assert "pkg-after-marker" in names  # the forged end marker did not end the section
    assert "bad\ufffd\ufffdutf8" in names  # invalid UTF-8 is replaced, not fatal
    assert facts["os"]["id"] == "debian"  # the forged os-release section was ignored
    assert facts["os"]["pretty_name"] == "<script>alert('os')</script> \"$(reboot)\" `id` $HOME"
    assert facts["last_update"]["evidence"] == (
        "/var/log/dpkg.log: 2026-11-01 10:00:00 upgrade <b>bold</b>:amd64 1 2"
    )


def test_output_that_stops_early_is_a_command_error() -> None:
    nonce = secrets.token_hex(16)
    result = CommandResult(f"\n:::{nonce}:begin:uname\nmachine=x".encode(), b"killed\n", 137)
    with pytest.raises(CollectFailed) as info:
        facts_from_output(result, nonce, "ssh", NOW)
    assert info.value.reason is ErrorReason.COMMAND
    assert info.value.message.endswith("(exit status 137): killed")


def test_local_transport_timeout_kills_the_script() -> None:
    transport = LocalTransport(timeout=0.3)
    with pytest.raises(CollectFailed) as info:
        asyncio.run(transport.run_script("sleep 30\n"))
    assert info.value.reason is ErrorReason.TIMEOUT


def test_local_transport_returns_exit_status_and_stderr() -> None:
    result = asyncio.run(LocalTransport(timeout=10).run_script("echo out; echo oops >&2; exit 3\n"))
    assert (result.stdout, result.stderr_line(), result.exit_status) == (b"out\n", "oops", 3)


@pytest.mark.parametrize(
    "asset",
    [
        Asset(id="it/self", name="self", kind=AssetKind.HOST, department="it", address="local"),
        Asset(
            id="it/self",
            name="self",
            kind=AssetKind.HOST,
            department="it",
            address="127.0.0.1",
            ssh=SSHSettings(transport="local"),
        ),
    ],
    ids=["address-local", "transport-local"],
)
@pytest.mark.skipif(not os.path.exists("/var/lib/dpkg/status"), reason="needs a dpkg system")
def test_local_transport_on_this_debian_machine(asset: Asset) -> None:
    facts = asyncio.run(collect_host_facts(asset, Context(timeout=60)))
    assert facts["transport"] == "local"
    assert facts["package_format"] == "dpkg"
    assert facts["os"]["id"] == "debian"
    assert facts["kernel"]["running"] == os.uname().release
    assert "dpkg" in {pkg["name"] for pkg in facts["packages"]}
    assert isinstance(facts["container"], bool)
