"""The stapled OCSP response, parsed into facts (RFC 6960); judged in :mod:`.certchecks`.

:func:`ocsp_facts` records what the response says (status, times, which
certificate it is about) and what can be checked without the network: whether
it names the served leaf (serial and issuer hashes) and whether its signature
verifies against the issuer or a responder the issuer delegated to. Never
raises on hostile input.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

_MESSAGE_LIMIT = 400


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def ocsp_facts(
    der: bytes, leaf: x509.Certificate, issuer: x509.Certificate | None, now: dt.datetime
) -> dict[str, Any]:
    """``{"response_status", "cert_status", "this_update", ..., "for_leaf", "signature_valid"}``.

    ``issuer`` is the leaf's issuer if known (served, from the CA bundle, or the
    anchor); without it neither the issuer hashes nor the signature can be checked
    (``None``).
    """
    facts: dict[str, Any] = {"error": None, "response_status": None, "cert_status": None}
    try:
        response = ocsp.load_der_ocsp_response(bytes(der))
        facts["response_status"] = response.response_status.name.lower()
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return facts
        facts.update(_single_response(response))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        facts["error"] = str(exc)[:_MESSAGE_LIMIT] or type(exc).__name__
        return facts
    facts["for_leaf"] = _names_leaf(response, leaf, issuer)
    signer, valid = _signature(response, issuer, now)
    facts["signer"] = signer
    facts["signature_valid"] = valid
    return facts


def _single_response(response: ocsp.OCSPResponse) -> dict[str, Any]:
    status = response.certificate_status
    responder_hash = response.responder_key_hash
    return {
        "cert_status": status.name.lower(),
        "serial": format(response.serial_number, "x"),
        "produced_at": _iso(response.produced_at_utc),
        "this_update": _iso(response.this_update_utc),
        "next_update": _iso(response.next_update_utc),
        "revocation_time": _iso(response.revocation_time_utc),
        "revocation_reason": response.revocation_reason.name if response.revocation_reason else None,
        "responder": (
            response.responder_name.rfc4514_string()
            if response.responder_name is not None
            else responder_hash.hex() if responder_hash else None
        ),
        "responses": sum(1 for _ in response.responses),
        "sct_count": _sct_count(response),
    }


def _sct_count(response: ocsp.OCSPResponse) -> int:
    """SCTs in the single response's extension 1.3.6.1.4.1.11129.2.4.5 (RFC 6962 3.3)."""
    try:
        scts = response.single_extensions.get_extension_for_class(
            x509.SignedCertificateTimestamps).value
    except (x509.ExtensionNotFound, ValueError):
        return 0
    return len(scts)


def _names_leaf(
    response: ocsp.OCSPResponse, leaf: x509.Certificate, issuer: x509.Certificate | None
) -> bool | None:
    """Is the response about this leaf? False on a serial or issuer mismatch, None if unknowable."""
    if response.serial_number != leaf.serial_number:
        return False
    if issuer is None:
        return None
    try:
        # The request builder hashes the issuer's name and key exactly as RFC 6960 says.
        expected = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(leaf, issuer, response.hash_algorithm)
            .build()
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return (
        expected.issuer_name_hash == response.issuer_name_hash
        and expected.issuer_key_hash == response.issuer_key_hash
    )


def _signature(
    response: ocsp.OCSPResponse, issuer: x509.Certificate | None, now: dt.datetime
) -> tuple[str | None, bool | None]:
    """(who signed: ``issuer`` | ``delegated`` | None, does the signature verify?)."""
    if issuer is None:
        return None, None
    if _verifies(response, issuer):
        return "issuer", True
    for responder in response.certificates:
        if _delegated(responder, issuer, now) and _verifies(response, responder):
            return "delegated", True
    return None, False


def _delegated(responder: x509.Certificate, issuer: x509.Certificate, now: dt.datetime) -> bool:
    """A responder certificate the issuer signed for OCSP signing, valid now (RFC 6960 §4.2.2.2)."""
    try:
        responder.verify_directly_issued_by(issuer)
        usage = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm, x509.ExtensionNotFound):
        return False
    current = responder.not_valid_before_utc <= now <= responder.not_valid_after_utc
    return ExtendedKeyUsageOID.OCSP_SIGNING in usage and current


def _verifies(response: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    try:
        key = signer.public_key()
        digest = response.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey) and digest is not None:
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), digest)
        elif isinstance(key, ec.EllipticCurvePublicKey) and digest is not None:
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(digest))
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


__all__ = ["ocsp_facts"]
