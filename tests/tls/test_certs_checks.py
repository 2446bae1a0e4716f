"""tls.certificate and tls.ocsp_stapling judge describe_chain facts; every floor is an option."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from scanner.lab.pki import LabPKI
from scanner.models import AssetKind, ErrorReason, Status
from scanner.options import validate_options
from scanner.plugins.tls.certchecks import CHECKS as CERT_CHECKS
from scanner.plugins.tls.certs import describe_chain

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
CHECKS = {c.id: c for c in CERT_CHECKS}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("pki"), now=NOW)


def facts_for(pki: LabPKI, variant: str, hostname: str | None = None) -> dict[str, Any]:
    leaf = pki.leaf(variant)
    cert = describe_chain(
        list(leaf.chain), hostname or leaf.hostname, ca_file=str(pki.ca_bundle), now=NOW
    )
    return {"certificate": cert}


def run(check_id: str, facts: dict[str, Any], **given: Any):
    check = CHECKS[check_id]
    options, problems = validate_options(check.options, given, check_id)
    assert problems == []
    return check.evaluate(facts, options)


def failure_codes(outcome) -> list[str]:
    return sorted(p["code"] for p in outcome.evidence.get("problems", []))


def test_checks_are_endpoint_checks_with_docs() -> None:
    assert set(CHECKS) == {"tls.certificate", "tls.ocsp_stapling", "tls.certificate_transparency",
                           "tls.revocation"}
    for check in CERT_CHECKS:
        assert check.kinds == frozenset({AssetKind.ENDPOINT})
        assert "PASS" in check.documentation and "FAIL" in check.documentation


@pytest.mark.parametrize("variant", ["good-rsa", "good-ecdsa", "hostile-subject", "long-chain"])
def test_good_certificates_pass(pki: LabPKI, variant: str) -> None:
    outcome = run("tls.certificate", facts_for(pki, variant))
    assert outcome.status is Status.PASS, outcome.message


def test_pass_evidence_names_the_certificate(pki: LabPKI) -> None:
    outcome = run("tls.certificate", facts_for(pki, "good-ecdsa"))
    assert outcome.evidence["subject"] == "CN=good-ecdsa.lab.test,O=civiscan lab"
    assert outcome.evidence["key"] == "ECDSA 256 (secp256r1)"
    assert outcome.evidence["days_left"] == 89
    assert outcome.evidence["not_after"] == "2026-05-29T12:00:00Z"
    assert len(outcome.evidence["sha256"]) == 64
    assert "expires in 89 days" in outcome.message


def test_bad_certificate_fails_with_its_problems(pki: LabPKI) -> None:
    # Every variant's problem codes are tested in test_certs.py::test_variant_problems.
    outcome = run("tls.certificate", facts_for(pki, "sha1-intermediate"))
    assert outcome.status is Status.FAIL
    assert failure_codes(outcome) == ["weak_signature"]


def test_fail_message_is_a_sentence_per_problem(pki: LabPKI) -> None:
    outcome = run("tls.certificate", facts_for(pki, "expired", "elsewhere.lab.test"))
    assert outcome.message.startswith("The certificate for elsewhere.lab.test has 2 problems: ")
    assert "expired on 19 Feb 2026, 12:00 UTC" in outcome.message


@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ("self-signed", {"trusted": False}),
        ("untrusted-root", {"trusted": False}),
        ("wrong-host", {"hostname": False}),
        ("expires-soon", {"min_days_left": 10}),
        ("rsa1024", {"key_types": {"rsa": 1024}}),
        ("sha1", {"signature_algorithms": ["sha1WithRSAEncryption"]}),
        ("long-lifespan", {"max_lifespan_days": 825}),
        ("good-rsa", {"key_types": {"rsa": 0}}),
    ],
    ids=[
        "untrusted-allowed",
        "untrusted-root-allowed",
        "any-host",
        "short-notice",
        "rsa1024-allowed",
        "sha1-leaf-allowed",
        "long-lifespan-allowed",
        "any-rsa-size",
    ],
)
def test_options_relax_the_leaf(pki: LabPKI, variant: str, options: dict[str, Any]) -> None:
    outcome = run("tls.certificate", facts_for(pki, variant), **options)
    assert outcome.status is Status.PASS, outcome.message


@pytest.mark.parametrize(
    ("variant", "options", "expected"),
    [
        ("good-rsa", {"min_days_left": 90}, ["expires_soon"]),
        ("good-rsa", {"key_types": {"ecdsa": 256}}, ["key_type"]),
        ("good-rsa", {"key_types": {"rsa": 3072}}, ["weak_key"]),
        ("good-rsa", {"signature_algorithms": ["ecdsa-with-SHA256"]}, ["signature_algorithm"]),
        ("good-rsa", {"max_lifespan_days": 60}, ["lifespan_too_long"]),
        ("expired", {"trusted": False, "hostname": False}, ["expired"]),
        (
            "sha1-intermediate",
            {"signature_algorithms": ["sha256WithRSAEncryption"]},
            ["weak_signature"],
        ),
    ],
    ids=[
        "min-days",
        "key-type",
        "key-size",
        "signature",
        "lifespan",
        "expired-always",
        "chain-sha1-always",
    ],
)
def test_options_tighten_the_leaf(pki: LabPKI, variant, options, expected) -> None:
    outcome = run("tls.certificate", facts_for(pki, variant), **options)
    assert outcome.status is Status.FAIL
    assert failure_codes(outcome) == expected


def test_bad_key_types_value_is_a_configuration_error() -> None:
    check = CHECKS["tls.certificate"]
    _, problems = validate_options(check.options, {"key_types": {"rsa": "big"}}, check.id)
    assert "'rsa': expected an integer" in problems[0].message


def test_no_certificate_facts_is_an_error() -> None:
    outcome = run("tls.certificate", {})
    assert (outcome.status, outcome.reason) == (Status.ERROR, ErrorReason.NO_DATA)


def test_unparseable_leaf_fails(pki: LabPKI) -> None:
    cert = describe_chain([b"junk"], "x.lab.test", ca_file=None, now=NOW)
    outcome = run("tls.certificate", {"certificate": cert})
    assert outcome.status is Status.FAIL
    assert "could not be read" in outcome.message


@pytest.mark.parametrize(
    ("facts", "options", "status"),
    [
        ({"ocsp_stapling": True}, {}, Status.PASS),
        ({"ocsp_stapling": False}, {}, Status.FAIL),
        ({"ocsp_stapling": False}, {"required": False}, Status.PASS),
        ({"ocsp_stapling": {"stapled": True}}, {}, Status.PASS),
        ({"certificate": {"ocsp_stapled": False}}, {}, Status.FAIL),
        ({"ocsp_stapling": None}, {}, Status.ERROR),
        ({}, {}, Status.ERROR),
    ],
    ids=[
        "stapled",
        "not-stapled",
        "not-required",
        "mapping",
        "from-certificate",
        "unknown",
        "missing",
    ],
)
def test_ocsp_stapling(facts, options, status) -> None:
    outcome = run("tls.ocsp_stapling", facts, **options)
    assert outcome.status is status
    if status is not Status.ERROR:
        assert "ocsp_stapled" in outcome.evidence
