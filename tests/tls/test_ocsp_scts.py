"""SCTs delivered in the stapled OCSP response (RFC 6962 section 3.3) count for CT.

``cryptography`` cannot put extensions on a single response, so the test
builds a signed response with it, adds the singleExtensions field holding an
SCT list to the DER, and signs the new tbsResponseData again with the same
key: a response exactly as a CA that embeds SCTs would send it.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from scanner.models import Status
from scanner.options import validate_options
from scanner.plugins.tls.certchecks import CHECKS
from scanner.plugins.tls.ocsp import ocsp_facts

NOW = dt.datetime.now(dt.UTC)
SCT_LIST_OID = bytes.fromhex("060a2b06010401d679020405")  # 1.3.6.1.4.1.11129.2.4.5


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _children(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, content) of each element in a DER constructed value's contents."""
    out, pos = [], 0
    while pos < len(data):
        tag, first = data[pos], data[pos + 1]
        pos += 2
        if first & 0x80:
            n = first & 0x7F
            length = int.from_bytes(data[pos:pos + n], "big")
            pos += n
        else:
            length = first
        out.append((tag, data[pos:pos + length]))
        pos += length
    return out


def _content(data: bytes) -> bytes:
    [(_, content)] = _children(data)
    return content


def sct(log: int) -> bytes:
    signature = os.urandom(70)
    body = (b"\x00" + bytes([log]) * 32 + struct.pack("!Q", 1_700_000_000_000) + b"\x00\x00"
            + b"\x04\x03" + struct.pack("!H", len(signature)) + signature)
    return struct.pack("!H", len(body)) + body


def with_scts(der: bytes, key: ec.EllipticCurvePrivateKey, count: int) -> bytes:
    status, (_, response_bytes) = _children(_content(der))
    (_, oid), (_, basic_der) = _children(_content(response_bytes))
    tbs, alg, _, *certs = _children(_content(basic_der))
    parts = _children(tbs[1])
    index = next(i for i, (tag, _) in enumerate(parts) if tag == 0x30)  # responses
    [single] = _children(parts[index][1])
    scts = b"".join(sct(n) for n in range(count))
    sct_list = struct.pack("!H", len(scts)) + scts
    extension = _tlv(0x30, SCT_LIST_OID + _tlv(0x04, _tlv(0x04, sct_list)))
    single_der = _tlv(0x30, single[1] + _tlv(0xA1, _tlv(0x30, extension)))
    parts[index] = (0x30, single_der)
    new_tbs = _tlv(0x30, b"".join(_tlv(tag, content) for tag, content in parts))
    signature = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    basic = _tlv(0x30, new_tbs + _tlv(alg[0], alg[1]) + _tlv(0x03, b"\x00" + signature)
                 + b"".join(_tlv(t, c) for t, c in certs))
    inner = _tlv(0x30, _tlv(0x06, oid) + _tlv(0x04, basic))
    return _tlv(0x30, _tlv(status[0], status[1]) + _tlv(0xA0, inner))


def _pki() -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "civiscan CT CA")])
    ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
          .serial_number(1).not_valid_before(NOW - dt.timedelta(days=1))
          .not_valid_after(NOW + dt.timedelta(days=9))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(key, hashes.SHA256()))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ct.lab.test")]))
            .issuer_name(name).public_key(leaf_key.public_key()).serial_number(77)
            .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=5))
            .sign(key, hashes.SHA256()))
    return ca, leaf, key


def stapled(count: int) -> tuple[dict[str, Any], x509.Certificate]:
    ca, leaf, key = _pki()
    der = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf, issuer=ca, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=NOW - dt.timedelta(hours=1), next_update=NOW + dt.timedelta(days=1),
        revocation_time=None, revocation_reason=None,
    ).responder_id(ocsp.OCSPResponderEncoding.NAME, ca).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)
    return ocsp_facts(with_scts(der, key, count), leaf, ca, NOW), leaf


def test_scts_in_the_stapled_response_are_counted_and_the_signature_still_verifies() -> None:
    facts, _ = stapled(2)
    assert (facts["sct_count"], facts["signature_valid"], facts["for_leaf"]) == (2, True, True)


def test_they_satisfy_certificate_transparency_with_the_other_sources() -> None:
    response, _ = stapled(2)
    check = {c.id: c for c in CHECKS}["tls.certificate_transparency"]
    options, problems = validate_options(check.options, {}, check.id)
    assert problems == []
    facts = {"sct_tls_extension": 0, "certificate": {
        "leaf": 0, "certificates": [{"index": 0, "sct_count": 0}], "ocsp": response}}
    outcome = check.evaluate(facts, options)
    assert outcome.status is Status.PASS, outcome.message
    assert outcome.evidence["sct_in_ocsp_response"] == 2


def test_a_response_without_the_extension_has_none() -> None:
    ca, leaf, key = _pki()
    der = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf, issuer=ca, algorithm=hashes.SHA1(), cert_status=ocsp.OCSPCertStatus.GOOD,
        this_update=NOW, next_update=None, revocation_time=None, revocation_reason=None,
    ).responder_id(ocsp.OCSPResponderEncoding.NAME, ca).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)
    assert ocsp_facts(der, leaf, ca, NOW)["sct_count"] == 0
