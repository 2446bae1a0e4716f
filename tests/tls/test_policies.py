"""The shipped Mozilla policies: well-formed, exact profile values, valid check options."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import yaml

from scanner.options import validate_options
from scanner.plugins.tls import plugin
from scanner.plugins.tls import suites as S

POLICIES = ["mozilla-modern", "mozilla-intermediate", "mozilla-intermediate-5.7", "mozilla-old"]
CHECKS = {c.id: c for c in plugin.checks}


def load(name: str) -> dict[str, Any]:
    text = resources.files("scanner.policies").joinpath(f"{name}.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def options_of(policy: dict[str, Any], check_id: str, rule_id: str) -> dict[str, Any]:
    (rule,) = [r for r in policy["rules"] if r["id"] == rule_id]
    (check,) = [c for c in rule["checks"] if c["check"] == check_id]
    return check["options"]


@pytest.mark.parametrize("name", POLICIES)
def test_header(name: str) -> None:
    policy = load(name)["policy"]
    assert policy["id"] == name and isinstance(policy["version"], str) and policy["title"]


@pytest.mark.parametrize("name", POLICIES)
def test_rules_are_complete_and_unique(name: str) -> None:
    rules = load(name)["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        assert rule["severity"] in ("critical", "high", "medium", "low", "info")
        assert rule["rationale"] and rule["remediation"] and rule["title"]


@pytest.mark.parametrize("name", POLICIES)
def test_check_options_validate(name: str) -> None:
    for rule in load(name)["rules"]:
        for entry in rule["checks"]:
            check = CHECKS[entry["check"]]
            _, problems = validate_options(check.options, entry.get("options"), check.id)
            assert not problems, (rule["id"], problems)


@pytest.mark.parametrize("name", POLICIES)
def test_every_suite_and_group_name_is_known(name: str) -> None:
    policy = load(name)
    ciphers = options_of(policy, "tls.ciphers", "tls-cipher-suites")
    for suite in ciphers["allowed"] + ciphers["allowed_tls13"]:
        assert S.suite_by_name(suite) is not None, suite
    for group in options_of(policy, "tls.key_exchange", "tls-curves")["allowed_groups"]:
        assert S.group_by_name(group) is not None, group


@pytest.mark.parametrize(
    ("name", "versions", "suites", "curves", "lifespan"),
    [
        ("mozilla-modern", ["TLSv1.3"], 0, ["X25519MLKEM768", "X25519", "prime256v1", "secp384r1"], 90),
        ("mozilla-intermediate", ["TLSv1.2", "TLSv1.3"], 6,
         ["X25519MLKEM768", "X25519", "prime256v1", "secp384r1"], 366),
        ("mozilla-intermediate-5.7", ["TLSv1.2", "TLSv1.3"], 9, ["X25519", "prime256v1", "secp384r1"],
         366),
        ("mozilla-old", ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"], 21,
         ["X25519MLKEM768", "X25519", "prime256v1", "secp384r1"], 366),
    ],
    ids=POLICIES,
)
def test_profile_values(name: str, versions: list[str], suites: int, curves: list[str],
                        lifespan: int) -> None:
    policy = load(name)
    assert options_of(policy, "tls.protocols", "tls-protocols")["allowed"] == versions
    ciphers = options_of(policy, "tls.ciphers", "tls-cipher-suites")
    assert len(ciphers["allowed"]) == suites
    assert ciphers["allowed_tls13"] == ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                        "TLS_CHACHA20_POLY1305_SHA256"]
    assert options_of(policy, "tls.key_exchange", "tls-curves")["allowed_groups"] == curves
    assert options_of(policy, "tls.certificate", "tls-certificate")["max_lifespan_days"] == lifespan


def test_intermediate_60_suites_are_mozillas() -> None:
    allowed = options_of(load("mozilla-intermediate"), "tls.ciphers", "tls-cipher-suites")["allowed"]
    assert [hex(S.suite_by_name(n).code) for n in allowed] == [  # type: ignore[union-attr]
        "0xc02b", "0xc02f", "0xc02c", "0xc030", "0xcca9", "0xcca8"]


def test_old_allows_3des_but_intermediate_forbids_it() -> None:
    old = options_of(load("mozilla-old"), "tls.ciphers", "tls-weak-ciphers")["forbid"]
    intermediate = options_of(load("mozilla-intermediate"), "tls.ciphers", "tls-weak-ciphers")["forbid"]
    assert "3des" not in old and "3des" in intermediate


@pytest.mark.parametrize("name", POLICIES)
def test_every_profile_judges_renegotiation_compression_downgrade_and_the_named_bugs(
        name: str) -> None:
    checks = {c["check"]: r["severity"] for r in load(name)["rules"] for c in r["checks"]}
    assert {k: checks.get(k) for k in (
        "tls.secure_renegotiation", "tls.compression", "tls.fallback_scsv", "tls.heartbleed",
        "tls.ccs_injection", "tls.robot", "tls.dh_groups", "tls.client_renegotiation",
        "tls.early_data")} == {
        "tls.secure_renegotiation": "medium", "tls.compression": "high",
        "tls.fallback_scsv": "medium", "tls.heartbleed": "critical", "tls.ccs_injection": "high",
        "tls.robot": "high", "tls.dh_groups": "medium", "tls.client_renegotiation": "medium",
        "tls.early_data": "low"}


@pytest.mark.parametrize("name", POLICIES)
def test_every_tls_check_is_judged_or_named_as_left_out(name: str) -> None:
    # A new check needs a decision per profile: a rule, or a line in the header saying why not.
    text = resources.files("scanner.policies").joinpath(f"{name}.yaml").read_text("utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    left_out = set(re.findall(r"\btls\.[a-z_]+", header))
    judged = {c["check"] for r in load(name)["rules"] for c in r["checks"]}
    assert judged & left_out == set()
    assert judged | left_out == set(CHECKS)
