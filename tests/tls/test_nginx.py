"""The tls plugin against real nginx (Debian's OpenSSL 3) on loopback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import Context, load_registry
from scanner.plugins.tls import plugin
from scanner.policy import load_policies

pytestmark = pytest.mark.integration
HOST = "tls.lab.test"
INTERMEDIATE = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


def sites(pki: Any) -> dict[str, str]:
    rsa = f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
    both = rsa + f" ssl_certificate {pki.ec_chain}; ssl_certificate_key {pki.ec_key};"
    return {
        "intermediate": both + " ssl_protocols TLSv1.2 TLSv1.3;"
        f" ssl_ciphers {INTERMEDIATE}; ssl_ecdh_curve X25519:prime256v1:secp384r1;"
        " ssl_prefer_server_ciphers off;",
        "tls13_only": rsa + " ssl_protocols TLSv1.3;",
        "legacy_tls10": rsa + " ssl_protocols TLSv1 TLSv1.1 TLSv1.2; ssl_ciphers DEFAULT:@SECLEVEL=0;",
        "cbc_static_rsa": rsa + " ssl_protocols TLSv1.2;"
        " ssl_ciphers AES128-SHA:AES256-SHA256:ECDHE-RSA-AES128-SHA:@SECLEVEL=0;"
        " ssl_prefer_server_ciphers on;",
        "null_anon": rsa + " ssl_protocols TLSv1.2;"
        " ssl_ciphers aNULL:eNULL:@SECLEVEL=0;",
        "dhe1024": rsa + " ssl_protocols TLSv1.2;"
        " ssl_ciphers DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0;"
        f" ssl_dhparam {pki.dh1024};",
        "stapling": rsa + " ssl_protocols TLSv1.2 TLSv1.3;"
        f" ssl_stapling on; ssl_stapling_file {pki.ocsp_response};",
        "stapling_revoked": rsa + " ssl_protocols TLSv1.2 TLSv1.3;"
        f" ssl_stapling on; ssl_stapling_file {pki.ocsp_revoked};",
        "reversed_chain": f"ssl_certificate {pki.reversed_chain}; ssl_certificate_key {pki.ca_key};"
        " ssl_protocols TLSv1.2 TLSv1.3;",
        "server_order": rsa + " ssl_protocols TLSv1.2;"
        " ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:"
        "ECDHE-RSA-AES256-GCM-SHA384; ssl_prefer_server_ciphers on;",
    }


@pytest.fixture(scope="module")
def nginx(lab: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = lab.Nginx(lab.require_tool("nginx"), Path(tmp_path_factory.mktemp("nginx")))
    added = {name: server.add(directives) for name, directives in sites(pki).items()}
    server.start()
    yield added
    server.stop()


def scan(site: Any, pki: Any) -> dict[str, Any]:
    asset = Asset(id=f"lab/{HOST}", name=HOST, kind=AssetKind.ENDPOINT, department="lab",
                  url=f"https://{HOST}:{site.port}/", address=site.address)
    ctx = Context(timeout=3.0, settings={"ca_file": str(pki.ca)})
    return asyncio.run(plugin.collect(asset, [], ctx))


def validated(check_id: str, given: dict[str, Any]) -> dict[str, Any]:
    check = {c.id: c for c in plugin.checks}[check_id]
    options, problems = validate_options(check.options, given, check_id)
    assert problems == []
    return options


def iana(facts: dict[str, Any], proto: str) -> set[str]:
    return {s["iana"] for s in facts["ciphers"][proto]}


def openssl(facts: dict[str, Any], proto: str) -> set[str]:
    return {s["openssl"] for s in facts["ciphers"][proto]}


def rules_of(policy: str, facts: dict[str, Any]) -> dict[str, Status]:
    """Judge facts with a shipped policy's rules: rule id -> worst check status."""
    registry = load_registry()
    ruleset = load_policies([policy], registry)
    verdicts: dict[str, Status] = {}
    for rule in ruleset.rules:
        statuses = [registry.checks[use.check_id].evaluate(facts, use.options).status
                    for use in rule.checks]
        verdicts[rule.id] = (Status.FAIL if Status.FAIL in statuses else
                             Status.ERROR if Status.ERROR in statuses else statuses[0])
    return verdicts


@pytest.fixture(scope="module")
def facts(nginx: dict[str, Any], pki: Any) -> dict[str, Any]:
    """The Mozilla-intermediate site, scanned once for the TestIntermediate tests."""
    return scan(nginx["intermediate"], pki)


class TestIntermediate:
    def test_protocols(self, facts: dict[str, Any]) -> None:
        accepted = [p for p, v in facts["protocols"].items() if v]
        assert accepted == ["TLSv1.2", "TLSv1.3"]

    def test_all_six_mozilla_suites_with_both_certificates(self, facts: dict[str, Any]) -> None:
        assert openssl(facts, "TLSv1.2") == set(INTERMEDIATE.split(":"))

    def test_groups_and_curves(self, facts: dict[str, Any]) -> None:
        assert set(facts["groups"]) == {"x25519", "secp256r1", "secp384r1"}
        assert set(facts["ecdhe_curves"]) == {"x25519", "secp256r1", "secp384r1"}

    def test_client_order(self, facts: dict[str, Any]) -> None:
        assert facts["server_order"]["TLSv1.2"] is False

    def test_within_the_connection_budget(self, facts: dict[str, Any]) -> None:
        assert facts["connections"] <= 30

    def test_passes_mozilla_intermediate_tls_rules(self, facts: dict[str, Any]) -> None:
        verdicts = rules_of("mozilla-intermediate", facts)
        for rule in ("tls-protocols", "tls-weak-ciphers", "tls-cipher-suites",
                     "tls-key-exchange-strength", "tls-curves", "tls-client-order"):
            assert verdicts[rule] is Status.PASS, rule


def test_tls13_only(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["tls13_only"], pki)
    assert [p for p, v in facts["protocols"].items() if v] == ["TLSv1.3"]
    assert facts["certificate"]["verification"]["verified"] is True
    assert facts["chain_protocol"] == "TLSv1.3"


def test_tls10_and_tls11_at_seclevel_0(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["legacy_tls10"], pki)
    assert facts["protocols"]["TLSv1.0"] and facts["protocols"]["TLSv1.1"]
    assert rules_of("mozilla-intermediate", facts)["tls-protocols"] is Status.FAIL
    assert rules_of("mozilla-old", facts)["tls-protocols"] is Status.PASS


def test_cbc_and_static_rsa(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["cbc_static_rsa"], pki)
    assert openssl(facts, "TLSv1.2") == {"AES128-SHA", "AES256-SHA256", "ECDHE-RSA-AES128-SHA"}
    assert facts["order"]["TLSv1.2"][0] == "TLS_RSA_WITH_AES_128_CBC_SHA"
    check = {c.id: c for c in plugin.checks}["tls.ciphers"]
    outcome = check.evaluate(facts, {"forbid": ["no_forward_secrecy"], "allowed": None,
                                     "allowed_tls13": None, "min_dh_bits": 2048})
    assert outcome.status is Status.FAIL and "TLS_RSA_WITH_AES_128_CBC_SHA" in outcome.message


def test_null_and_anonymous_suites(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["null_anon"], pki)
    cats = {c for s in facts["ciphers"]["TLSv1.2"] for c in s["categories"]}
    assert {"null", "anonymous"} <= cats
    assert rules_of("mozilla-intermediate", facts)["tls-weak-ciphers"] is Status.FAIL


def test_dhe_1024(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["dhe1024"], pki)
    assert facts["dh_bits"] == 1024
    assert rules_of("mozilla-intermediate-5.7", facts)["tls-key-exchange-strength"] is Status.FAIL


def test_ocsp_stapling(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["stapling"], pki)
    assert facts["ocsp_stapling"] is True
    staple = facts["certificate"]["ocsp"]
    assert (staple["cert_status"], staple["for_leaf"], staple["signature_valid"]) == ("good", True, True)


def test_server_order_and_its_sequence(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["server_order"], pki)
    assert facts["server_order"]["TLSv1.2"] is True
    assert facts["order"]["TLSv1.2"] == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                         "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                                         "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]


def test_reversed_chain_is_misordered_not_a_ca_leaf(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["reversed_chain"], pki)
    cert = facts["certificate"]
    assert [c["is_ca"] for c in cert["certificates"]] == [True, False]
    assert cert["leaf"] == 1 and cert["chain"] == [1, 0]
    outcome = {c.id: c for c in plugin.checks}["tls.certificate"].evaluate(
        facts, validated("tls.certificate", {"min_days_left": 0}))  # the lab leaf lives 20 days
    assert outcome.status is Status.FAIL
    assert [p["code"] for p in outcome.evidence["problems"]] == ["misordered_chain"]
    assert outcome.evidence["subject"] == f"CN={HOST}"


def tls_command(site: Any, pki: Any) -> subprocess.CompletedProcess[str]:
    """``civiscan tls`` at a terminal, by name at the site's address."""
    proc = subprocess.run(
        [sys.executable, "-m", "scanner", "tls", "--timeout", "3", "--ca-file", str(pki.ca),
         "--resolve", f"{HOST}:{site.port}:{site.address}", f"{HOST}:{site.port}"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_tls_command_shows_the_leaf_of_a_reversed_chain_and_says_the_order_is_wrong(
        nginx: dict[str, Any], pki: Any) -> None:
    proc = tls_command(nginx["reversed_chain"], pki)
    lines = [line.strip() for line in proc.stdout.splitlines()]
    assert f"certificate: CN={HOST}" in lines
    assert "issuer: CN=civiscan test CA" in lines
    assert any(line.startswith("The server sends its chain out of order: the certificate for the host is "
                               "number 1 of 2") for line in lines), proc.stdout


def test_tls_command_says_nothing_of_order_for_a_chain_served_leaf_first(nginx: dict[str, Any], pki: Any) -> None:
    proc = tls_command(nginx["tls13_only"], pki)
    assert f"certificate: CN={HOST}" in [line.strip() for line in proc.stdout.splitlines()]
    assert "out of order" not in proc.stdout


def test_stapled_revoked_response_fails_both_checks(nginx: dict[str, Any], pki: Any) -> None:
    facts = scan(nginx["stapling_revoked"], pki)
    assert facts["certificate"]["ocsp"]["cert_status"] == "revoked"
    by_id = {c.id: c for c in plugin.checks}
    certificate = by_id["tls.certificate"].evaluate(facts, validated("tls.certificate", {"min_days_left": 0}))
    assert [p["code"] for p in certificate.evidence["problems"]] == ["revoked"]
    stapling = by_id["tls.ocsp_stapling"].evaluate(facts, validated("tls.ocsp_stapling", {}))
    assert stapling.status is Status.FAIL and "revoked" in stapling.message
