"""An inventory's ssh.jump hosts are in scope, or validation says where they are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.inventory import load_inventory

SCOPE = "scope: {networks: [127.0.0.0/8, '::1/128'], domains: [parks.example]}\n"


def inventory(jump: str) -> str:
    return SCOPE + f"departments:\n  parks:\n    assets:\n      - host: 127.0.0.1\n        ssh: {{jump: '{jump}'}}\n"


def problems(write, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_inventory(write("inv.yaml", text))
    return [f"{Path(p.where.path).name}:{p.where.line}:{p.where.col}: {p.message}" for p in info.value.problems]


OUT_OF_SCOPE = {
    "address": ("10.9.9.9", "jump host '10.9.9.9' is out of scope: 10.9.9.9 is outside the allowed networks"),
    "user-address-port": ("audit@10.9.9.9:2222", "jump host 'audit@10.9.9.9:2222' is out of scope: 10.9.9.9 is outside"),
    "ipv6-in-brackets": ("[2001:db8::7]:22", "jump host '[2001:db8::7]:22' is out of scope: 2001:db8::7 is outside"),
    "name-outside-domains": ("bastion.evil.example", "jump host 'bastion.evil.example' is out of scope: bastion.evil.example is outside the allowed domains"),
    "second-hop-of-a-list": ("127.0.0.2,audit@10.9.9.9", "jump host 'audit@10.9.9.9' is out of scope"),
    "shorthand-address": ("2130706433", "jump host '2130706433' is not an IP address in canonical form"),
    "bad-port": ("127.0.0.2:99999", "jump host '127.0.0.2:99999': port must be 1-65535"),
    "not-a-port": ("127.0.0.2:ssh", "jump host '127.0.0.2:ssh' must be [user@]host[:port]"),
}


@pytest.mark.parametrize("jump,expected", OUT_OF_SCOPE.values(), ids=OUT_OF_SCOPE.keys())
def test_jump_host_outside_scope_is_reported_at_the_jump_value(write, jump, expected):
    found = problems(write, inventory(jump))
    assert any(p.startswith("inv.yaml:6:21: ") and expected in p for p in found), found


def test_jump_from_defaults_is_reported_where_defaults_set_it(write):
    text = SCOPE + "defaults:\n  ssh: {jump: 10.9.9.9}\ndepartments:\n  parks:\n    assets:\n      - host: 127.0.0.1\n"
    assert "inv.yaml:3:15: jump host '10.9.9.9' is out of scope: 10.9.9.9 is outside the allowed networks (127.0.0.0/8, ::1/128)" in problems(write, text)


def test_jump_hosts_in_scope_are_accepted(write):
    inv = load_inventory(write("inv.yaml", inventory("audit@127.0.0.2:2222,bastion.parks.example,[::1]:22")))
    assert inv.assets[0].ssh is not None
    assert inv.assets[0].ssh.jump == "audit@127.0.0.2:2222,bastion.parks.example,[::1]:22"


def test_validate_prints_the_jump_position_and_exits_2(civiscan_bounded, write):
    proc = civiscan_bounded("validate", write("inv.yaml", inventory("audit@10.9.9.9")))
    assert proc.returncode == 2
    assert "inv.yaml:6:21: jump host 'audit@10.9.9.9' is out of scope" in proc.stderr
