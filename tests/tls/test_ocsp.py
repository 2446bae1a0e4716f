"""The stapled OCSP response: parsed into facts, judged by tls.certificate and tls.ocsp_stapling."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scanner.lab.pki import LabPKI
from scanner.models import Status
from scanner.options import validate_options
from scanner.plugins.tls.certchecks import CHECKS
from scanner.plugins.tls.certs import describe_chain

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("pki"), now=NOW)


def response(pki: LabPKI, *, status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
             this_update: dt.datetime = NOW - DAY, next_update: dt.datetime | None = NOW + 3 * DAY,
             cert: x509.Certificate | None = None, signer: Any = None,
             signed_by: x509.Certificate | None = None) -> bytes:
    """A DER OCSP response about the good-rsa leaf, signed by its issuer unless told otherwise."""
    leaf = cert or x509.load_der_x509_certificate(pki.leaf("good-rsa").chain[0])
    issuer = pki.intermediate
    revoked = status is ocsp.OCSPCertStatus.REVOKED
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf, issuer=issuer.cert, algorithm=hashes.SHA1(), cert_status=status,
        this_update=this_update, next_update=next_update,
        revocation_time=NOW - 2 * DAY if revoked else None,
        revocation_reason=x509.ReasonFlags.key_compromise if revoked else None)
    if signed_by is not None:
        builder = builder.certificates([signed_by]).responder_id(
            ocsp.OCSPResponderEncoding.HASH, signed_by)
    else:
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.NAME, issuer.cert)
    return builder.sign(signer or issuer.key, hashes.SHA256()).public_bytes(Encoding.DER)


def responder(pki: LabPKI, *, delegated: bool) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """An OCSP-signing certificate, issued by the leaf's issuer or (not delegated) by itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "civiscan Lab OCSP responder")])
    issuer_name, issuer_key = (pki.intermediate.cert.subject, pki.intermediate.key) if delegated \
        else (name, key)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(4242)
        .not_valid_before(NOW - 10 * DAY).not_valid_after(NOW + 10 * DAY)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    return cert, key


def facts_with(pki: LabPKI, der: bytes) -> dict[str, Any]:
    leaf = pki.leaf("good-rsa")
    cert = describe_chain(list(leaf.chain), leaf.hostname, ca_file=str(pki.ca_bundle), now=NOW,
                          ocsp_response=der, ocsp_stapled=True)
    return {"certificate": cert, "ocsp_stapling": True}


def judge(check_id: str, facts: dict[str, Any], **given: Any):
    check = {c.id: c for c in CHECKS}[check_id]
    options, problems = validate_options(check.options, given, check_id)
    assert problems == []
    return check.evaluate(facts, options)


def codes(outcome) -> list[str]:
    return sorted(p["code"] for p in outcome.evidence.get("problems", []))


def test_good_response_facts(pki: LabPKI) -> None:
    seen = facts_with(pki, response(pki))["certificate"]["ocsp"]
    assert seen["response_status"] == "successful" and seen["cert_status"] == "good"
    assert (seen["for_leaf"], seen["signature_valid"], seen["signer"]) == (True, True, "issuer")
    assert seen["this_update"] == "2026-02-28T12:00:00Z"
    assert seen["next_update"] == "2026-03-04T12:00:00Z"


def test_good_fresh_response_passes_both_checks(pki: LabPKI) -> None:
    facts = facts_with(pki, response(pki))
    assert judge("tls.certificate", facts).status is Status.PASS
    assert judge("tls.ocsp_stapling", facts).status is Status.PASS


def test_delegated_responder_is_accepted(pki: LabPKI) -> None:
    cert, key = responder(pki, delegated=True)
    seen = facts_with(pki, response(pki, signer=key, signed_by=cert))["certificate"]["ocsp"]
    assert (seen["signature_valid"], seen["signer"]) == (True, "delegated")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"status": ocsp.OCSPCertStatus.REVOKED}, ["revoked"]),
        ({"status": ocsp.OCSPCertStatus.UNKNOWN}, ["ocsp_mismatch"]),
        ({"this_update": NOW - 9 * DAY, "next_update": NOW - DAY}, ["ocsp_stale"]),
        ({"this_update": NOW - 20 * DAY, "next_update": None}, ["ocsp_stale"]),
        ({"signer": "stranger"}, ["ocsp_mismatch"]),
        ({"cert": "other"}, ["ocsp_mismatch"]),
    ],
    ids=["revoked", "unknown", "expired", "too-old", "wrong-signer", "other-certificate"],
)
def test_bad_staple_is_a_certificate_problem(pki: LabPKI, given: dict[str, Any],
                                             expected: list[str]) -> None:
    if given.get("signer") == "stranger":
        given["signed_by"], given["signer"] = responder(pki, delegated=False)
    if given.get("cert") == "other":
        given["cert"] = x509.load_der_x509_certificate(pki.leaf("good-ecdsa").chain[0])
    facts = facts_with(pki, response(pki, **given))
    certificate = judge("tls.certificate", facts)
    assert certificate.status is Status.FAIL
    assert codes(certificate) == expected
    assert certificate.evidence["problems"][0]["ocsp"]["cert_status"] is not None
    assert judge("tls.ocsp_stapling", facts).status is Status.FAIL


def test_revoked_message_names_the_date_and_reason(pki: LabPKI) -> None:
    facts = facts_with(pki, response(pki, status=ocsp.OCSPCertStatus.REVOKED))
    message = judge("tls.certificate", facts).message
    assert "revoked on 27 Feb 2026, 12:00 UTC (key_compromise)" in message


def test_max_age_is_an_option(pki: LabPKI) -> None:
    facts = facts_with(pki, response(pki, this_update=NOW - 5 * DAY, next_update=NOW + DAY))
    assert judge("tls.certificate", facts).status is Status.PASS
    assert codes(judge("tls.certificate", facts, ocsp_max_age_days=3)) == ["ocsp_stale"]
    assert judge("tls.ocsp_stapling", facts, max_age_days=3).status is Status.FAIL


def test_revocation_may_be_left_unjudged(pki: LabPKI) -> None:
    facts = facts_with(pki, response(pki, status=ocsp.OCSPCertStatus.REVOKED))
    assert judge("tls.certificate", facts, revocation=False).status is Status.PASS


@pytest.mark.parametrize("der", [b"junk", b"\x30\x03\x0a\x01\x01"], ids=["garbage", "malformed"])
def test_unusable_staple_is_a_problem_not_a_crash(pki: LabPKI, der: bytes) -> None:
    facts = facts_with(pki, der)
    assert codes(judge("tls.certificate", facts)) == ["ocsp_mismatch"]
