"""Only canonical IP literals are addresses; shorthand forms are refused before any scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.inventory import adhoc_assets, load_inventory, parse_scope_args
from scanner.scan import parse_resolve

# Each of these reaches 127.0.0.1 through inet_aton/getaddrinfo, and none is a hostname.
SHORTHAND = {
    "decimal": "2130706433",
    "octal": "0177.0.0.1",
    "hex-dotted": "0x7f.1",
    "two-parts": "127.1",
    "hex-whole": "0x7f000001",
    "ipv6-zone": "fe80::1%eth0",
    "trailing-dot-number": "127.0.0.1.",
}
HEAD = "scope: {networks: [127.0.0.0/8, 'fe80::/10'], domains: [parks.example]}\ndepartments:\n  parks:\n    assets:\n"


def problems(write, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_inventory(write("inv.yaml", text))
    return [f"{Path(p.where.path).name}:{p.where.line}:{p.where.col}: {p.message}" for p in info.value.problems]


@pytest.mark.parametrize("text", SHORTHAND.values(), ids=SHORTHAND.keys())
def test_shorthand_host_is_refused_at_its_position(write, text):
    found = problems(write, HEAD + f"      - host: '{text}'\n")
    assert any(p.startswith("inv.yaml:5:15: invalid host:") and "not an IP address in canonical form" in p for p in found), found


@pytest.mark.parametrize("text", SHORTHAND.values(), ids=SHORTHAND.keys())
def test_shorthand_endpoint_address_is_refused(write, text):
    found = problems(write, HEAD + f"      - endpoint: https://www.parks.example/\n        address: '{text}'\n")
    assert any(p.startswith("inv.yaml:6:18: 'address' must be an IP address:") for p in found), found


@pytest.mark.parametrize("text", ["2130706433", "0x7f.1", "127.1"], ids=["decimal", "hex-dotted", "two-parts"])
def test_shorthand_url_host_is_refused(write, text):
    found = problems(write, HEAD + f"      - endpoint: https://{text}/\n")
    assert any("has an invalid host" in p and "canonical form" in p for p in found), found


@pytest.mark.parametrize("text", ["127.1", "2130706433", "*.0x7f"], ids=["two-parts", "decimal", "wildcard-hex"])
def test_shorthand_scope_domain_is_refused(write, text):
    found = problems(write, f"scope: {{domains: ['{text}']}}\ndepartments: {{}}\n")
    assert any(p.startswith(f"inv.yaml:1:18: invalid domain '{text}'") for p in found), found


@pytest.mark.parametrize("text", SHORTHAND.values(), ids=SHORTHAND.keys())
def test_shorthand_adhoc_target_is_refused(text):
    with pytest.raises(ConfigError, match="not an IP address in canonical form"):
        adhoc_assets([text])


@pytest.mark.parametrize("text", ["127.1", "2130706433"], ids=["two-parts", "decimal"])
def test_shorthand_scope_argument_is_refused(text):
    with pytest.raises(ConfigError, match="is neither a network nor a domain"):
        parse_scope_args([text])


def test_names_that_only_start_with_digits_are_hostnames():
    assets = adhoc_assets(["1password.example", "0x7f.example", "deadbeef", "::1", "127.0.0.1"])
    assert [a.address for a in assets] == ["1password.example", "0x7f.example", "deadbeef", "::1", "127.0.0.1"]


RESOLVE_BAD = {
    "port-too-big": ("www.x.test:99999:127.0.0.1", "port must be a number from 1 to 65535"),
    "port-zero": ("www.x.test:0:127.0.0.1", "port must be a number from 1 to 65535"),
    "port-not-a-number": ("www.x.test:https:127.0.0.1", "port must be a number from 1 to 65535"),
    "address-is-a-name": ("www.x.test:443:other.test", "ADDRESS 'other.test' is not an IP address"),
    "address-shorthand": ("www.x.test:443:127.1", "ADDRESS '127.1' is not an IP address"),
    "no-address": ("www.x.test:443", "must be HOST:PORT:ADDRESS"),
    "host-shorthand": ("2130706433:443:127.0.0.1", "host '2130706433' is not an IP address in canonical form"),
}


@pytest.mark.parametrize("value,expected", RESOLVE_BAD.values(), ids=RESOLVE_BAD.keys())
def test_bad_resolve_is_a_config_error(value, expected):
    with pytest.raises(ConfigError, match=expected):
        parse_resolve([value])


def test_resolve_takes_ipv4_and_bracketed_ipv6():
    assert parse_resolve(["WWW.x.test:443:127.0.0.9", "v6.x.test:8443:[::1]"]) == {
        "www.x.test:443": "127.0.0.9",
        "v6.x.test:8443": "::1",
    }


def test_bad_resolve_exits_2_before_scanning(civiscan_bounded, write):
    policy = write("p.yaml", 'policy: {id: p, version: "1", title: t}\nrules: [{id: r, title: t, severity: low, checks: [{check: ports.allowed, options: {allowed: [22]}}]}]\n')
    proc = civiscan_bounded("scan", "-p", policy, "https://www.x.test/", "--resolve", "www.x.test:99999:127.0.0.1")
    assert proc.returncode == 2
    assert "<command line>: --resolve 'www.x.test:99999:127.0.0.1': port must be a number from 1 to 65535" in proc.stderr
