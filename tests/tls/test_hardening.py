"""Renegotiation, compression, TLS_FALLBACK_SCSV, Heartbleed and CCS injection.

The vulnerable answers come from a scripted server: no Debian package builds
an OpenSSL with compression, without RFC 5746, with Heartbleed or with the
early-ChangeCipherSpec bug any more, so the script answers the way those
servers did (the same bytes on the wire). The negative case is real nginx
on Debian's OpenSSL 3.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import Context
from scanner.plugins.tls import dhparams, plugin
from scanner.plugins.tls import records as R

pytestmark = pytest.mark.integration
HOST = "hardening.lab.test"
SUITES = (0xC02F, 0x002F)  # ECDHE-RSA-AES128-GCM-SHA256, AES128-SHA


@dataclass(frozen=True)
class Behaviour:
    """How the scripted server misbehaves."""

    renegotiation_info: bool = True
    deflate: bool = False
    honours_scsv: bool = True
    heartbeat: bool = False
    heartbleed: bool = False
    early_ccs: bool = False
    scts: int = 0  # SCTs sent in the signed_certificate_timestamp extension
    cert: bytes = b"\x30\x03\x02\x01\x00"
    rsa_key: Any = None  # decrypts the ClientKeyExchange (ROBOT)
    padding_oracle: bool = False  # answers broken PKCS#1 padding unlike good padding


def scripted(lab: Any, behaviour: Behaviour) -> Callable[[socket.socket], None]:
    """A TLS 1.0-1.2 server with RSA key exchange, misbehaving as ``behaviour`` says."""

    def handle(conn: socket.socket) -> None:
        if conn.recv(1, socket.MSG_PEEK)[:1] != b"\x16":
            return  # the SSLv2 hello: hang up
        data = lab.read_client_hello(conn)
        if len(data) < 9:
            return  # the scanner hung up
        hello = lab.parse_client_hello(data)
        if hello["version"] < 0x0301:
            conn.sendall(R.record(21, 0x0301, b"\x02\x46"))
            return
        version = min(hello["version"], 0x0303)
        if behaviour.honours_scsv and R.TLS_FALLBACK_SCSV in hello["suites"] and version < 0x0303:
            conn.sendall(R.record(21, version, b"\x02\x56"))
            return
        chosen = next((s for s in SUITES if s in hello["suites"]), None)
        if chosen is None:
            conn.sendall(R.record(21, version, b"\x02\x28"))
            return
        exts = b""
        if behaviour.renegotiation_info and 0xFF01 in hello["exts"]:
            exts += b"\xff\x01\x00\x01\x00"
        if behaviour.heartbeat and 15 in hello["exts"]:
            exts += b"\x00\x0f\x00\x01\x01"
        if behaviour.scts and 18 in hello["exts"]:
            sct = struct.pack("!H", 4) + b"sct!"
            listed = struct.pack("!H", len(sct) * behaviour.scts) + sct * behaviour.scts
            exts += struct.pack("!HH", 18, len(listed)) + listed
        method = 1 if behaviour.deflate and 1 in hello["compression"] else 0
        sh = (struct.pack("!H", version) + b"r" * 32 + b"\x00" + struct.pack("!HB", chosen, method)
              + struct.pack("!H", len(exts)) + exts)
        cert = behaviour.cert
        certs = struct.pack("!I", len(cert))[1:] + cert
        conn.sendall(R.record(22, version, b"\x02" + struct.pack("!I", len(sh))[1:] + sh
                              + b"\x0b" + struct.pack("!I", len(certs) + 3)[1:]
                              + struct.pack("!I", len(certs))[1:] + certs + b"\x0e\x00\x00\x00"))
        _after_flight(lab.read_client_hello(conn), conn, version, behaviour)

    return handle


def _after_flight(data: bytes, conn: socket.socket, version: int, behaviour: Behaviour) -> None:
    if len(data) < 6:
        return  # the scanner hung up after the flight
    content_type, fragment = data[0], data[5:]
    if content_type == 24 and behaviour.heartbleed:
        claimed = struct.unpack("!H", fragment[1:3])[0]
        # What CVE-2014-0160 did: echo ``claimed`` bytes of memory, not the 0 sent.
        conn.sendall(R.record(24, version, b"\x02" + fragment[1:3] + b"m" * (claimed + 16)))
    elif content_type == 20 and behaviour.early_ccs:
        # CVE-2014-0224: the early CCS is accepted; the second one (in the
        # same read) then fails the MAC of keys derived from an empty master secret.
        conn.sendall(R.record(21, version, b"\x02\x14"))
    elif content_type == 20:
        conn.sendall(R.record(21, version, b"\x02\x0a"))
    elif content_type == 22 and fragment[:1] == b"\x10" and behaviour.rsa_key is not None:
        numbers = behaviour.rsa_key.private_numbers()
        ciphertext = fragment[6:6 + struct.unpack("!H", fragment[4:6])[0]]
        size = len(ciphertext)
        plain = pow(int.from_bytes(ciphertext, "big"), numbers.d,
                    numbers.public_numbers.n).to_bytes(size, "big")
        well_formed = (plain[:2] == b"\x00\x02" and 0 not in plain[2:size - 49]
                       and plain[size - 49] == 0 and plain[size - 48:size - 46] == b"\x03\x03")
        # A patched server goes on with a random premaster and fails the Finished
        # either way; the oracle of the ROBOT paper says which padding was bad.
        alert = b"\x02\x14" if well_formed or not behaviour.padding_oracle else b"\x02\x28"
        conn.sendall(R.record(21, version, alert))
    else:
        conn.recv(1)  # RFC 6520: discard the malformed heartbeat, keep waiting


def collect(address: str, port: int, ca_file: str | None = None) -> dict[str, Any]:
    asset = Asset(id=f"lab/{HOST}", name=HOST, kind=AssetKind.ENDPOINT, department="lab",
                  url=f"https://{HOST}:{port}/", address=address)
    settings = {"ca_file": ca_file} if ca_file else {}
    return asyncio.run(plugin.collect(asset, [], Context(timeout=2.0, settings=settings)))


def judge(check_id: str, facts: dict[str, Any], given: dict[str, Any] | None = None) -> Any:
    check = {c.id: c for c in plugin.checks}[check_id]
    options, problems = validate_options(check.options, given or {}, check_id)
    assert problems == []
    return check.evaluate(facts, options)


def must_staple_leaf(pki: Any, directory: Path) -> tuple[Path, Path]:
    """An RSA leaf for HOST from the test CA, with the TLS feature status_request (Must-Staple)."""
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    key = rsa.generate_private_key(65537, 2048)
    now = dt.datetime.now(dt.UTC)
    leaf = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(
            x509.oid.NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca.subject).public_key(key.public_key()).serial_number(77)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=20))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    chain, key_file = directory / "must-staple.pem", directory / "must-staple.key"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + pki.ca.read_bytes())
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return chain, key_file


def _der(tag: int, body: bytes) -> bytes:
    if len(body) < 128:
        return bytes([tag, len(body)]) + body
    size = (len(body).bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + len(body).to_bytes(size, "big") + body


def dh_params_pem(prime: int, generator: int) -> bytes:
    """PKCS#3 DHParameter in PEM, as nginx's ssl_dhparam reads it (cryptography deprecates FFDH)."""
    def integer(n: int) -> bytes:
        return _der(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big"))

    der = _der(0x30, integer(prime) + integer(generator))
    text = base64.encodebytes(der).decode().replace("\n", "")
    lines = "\n".join(text[i:i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN DH PARAMETERS-----\n{lines}\n-----END DH PARAMETERS-----\n".encode()


@pytest.fixture(scope="module")
def nginx(lab: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Facts of real nginx sites: legacy (TLS 1.1-1.3, SECLEVEL 0), TLS 1.2-1.3 with OpenSSL's
    defaults, a session cache without tickets, a Must-Staple certificate without a staple, DHE
    with a DSA-style modulus, with ffdhe2048 and with the 1024-bit Oakley group 2."""
    directory = Path(tmp_path_factory.mktemp("nginx"))
    server = lab.Nginx(lab.require_tool("nginx"), directory)
    rsa_cert = f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
    staple_chain, staple_key = must_staple_leaf(pki, directory)
    ffdhe = directory / "ffdhe2048.pem"
    prime = next(p for p, name in dhparams.known_groups().items() if name == "ffdhe2048")
    ffdhe.write_bytes(dh_params_pem(prime, 2))
    oakley = directory / "oakley2.pem"
    oakley.write_bytes(dh_params_pem(
        next(p for p, name in dhparams.known_groups().items() if name == "oakley-group-2"), 2))
    dhe = rsa_cert + " ssl_protocols TLSv1.2; ssl_ciphers DHE-RSA-AES128-GCM-SHA256;"
    sites = {
        "legacy": server.add(rsa_cert + " ssl_protocols TLSv1.1 TLSv1.2 TLSv1.3;"
                             " ssl_ciphers DEFAULT:@SECLEVEL=0;"),
        "defaults": server.add(rsa_cert + " ssl_protocols TLSv1.2 TLSv1.3;"),
        "static_rsa": server.add(rsa_cert + " ssl_protocols TLSv1.2;"
                                 " ssl_ciphers AES128-SHA:AES256-GCM-SHA384;"),
        "cache": server.add(rsa_cert + " ssl_session_tickets off;"
                            " ssl_session_cache shared:civiscan:1m;"),
        "dsa_dh": server.add(dhe + f" ssl_dhparam {pki.dh2048};"),
        "ffdhe": server.add(dhe + f" ssl_dhparam {ffdhe};"),
        "oakley2": server.add(rsa_cert + " ssl_protocols TLSv1.2;"
                              " ssl_ciphers DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0;"
                              f" ssl_dhparam {oakley};"),
        "must_staple": server.add(f"ssl_certificate {staple_chain};"
                                  f" ssl_certificate_key {staple_key};"),
    }
    server.start()
    try:
        return {name: collect(site.address, site.port, str(pki.ca)) for name, site in sites.items()}
    finally:
        server.stop()


# ------------------------------------------------------------------ real OpenSSL: nothing wrong


@pytest.mark.parametrize(("site", "fact", "value"), [
    ("legacy", "secure_renegotiation", {"TLSv1.1": True, "TLSv1.2": True}),
    ("legacy", "compression", ["null"]),
    ("legacy", "heartbeat", False),
    ("legacy", "fallback_scsv", True),
    ("legacy", "heartbleed", False),
    ("legacy", "ccs_injection", False),
    ("legacy", "weak_signature_algorithms", ["rsa_pkcs1_sha1"]),
    ("defaults", "weak_signature_algorithms", []),
    ("defaults", "signature_algorithms", {"TLSv1.2": ["rsa_pkcs1_sha256"],
                                          "TLSv1.3": ["rsa_pss_rsae_sha256"]}),
    ("defaults", "session_resumption", {"session_ids": False, "tickets": True}),
    ("cache", "session_resumption", {"session_ids": True, "tickets": False}),
    ("defaults", "sct_tls_extension", 0),
    ("static_rsa", "robot", False),
    ("ffdhe", "dh_groups", [{"bits": 2048, "generator": 2, "safe_prime": True,
                             "name": "ffdhe2048"}]),
], ids=["renegotiation", "compression", "heartbeat", "fallback", "heartbleed", "ccs",
        "seclevel0-signs-with-sha1", "default-refuses-sha1", "schemes-used", "tickets",
        "session-cache", "no-sct-extension", "openssl-is-no-oracle", "ffdhe2048-is-safe"])
def test_openssl_facts(nginx: dict[str, dict[str, Any]], site: str, fact: str, value: Any) -> None:
    assert nginx[site][fact] == value


@pytest.mark.parametrize("check_id", [
    "tls.secure_renegotiation", "tls.compression", "tls.fallback_scsv", "tls.heartbleed",
    "tls.ccs_injection", "tls.signature_algorithms", "tls.session_resumption"])
def test_openssl_defaults_pass(nginx: dict[str, dict[str, Any]], check_id: str) -> None:
    assert judge(check_id, nginx["defaults"]).status is Status.PASS


def test_dsaparam_modulus_is_not_a_safe_prime(nginx: dict[str, dict[str, Any]]) -> None:
    (group,) = nginx["dsa_dh"]["dh_groups"]
    assert (group["bits"], group["safe_prime"], group["name"]) == (2048, False, None)


def test_rfc7919_group_passes(nginx: dict[str, dict[str, Any]]) -> None:
    assert judge("tls.dh_groups", nginx["ffdhe"]).status is Status.PASS


def test_the_1024_bit_oakley_group_is_named_and_fails(nginx: dict[str, dict[str, Any]]) -> None:
    assert nginx["oakley2"]["dh_groups"] == [OAKLEY2]  # a safe prime: only its name betrays it
    outcome = judge("tls.dh_groups", nginx["oakley2"])
    assert outcome.status is Status.FAIL
    assert "oakley-group-2" in outcome.message


@pytest.mark.parametrize(("site", "check_id", "options"), [
    ("legacy", "tls.signature_algorithms", {}),
    ("defaults", "tls.session_resumption", {"tickets": "forbidden"}),
    ("cache", "tls.session_resumption", {"session_ids": "forbidden"}),
    ("must_staple", "tls.ocsp_stapling", {"required": False}),
    ("defaults", "tls.certificate_transparency", {}),
    ("dsa_dh", "tls.dh_groups", {}),
], ids=["sha1-signatures", "tickets-forbidden", "session-ids-forbidden",
        "must-staple-without-staple", "no-scts", "dsaparam-modulus"])
def test_openssl_fails(nginx: dict[str, dict[str, Any]], site: str, check_id: str,
                       options: dict[str, Any]) -> None:
    assert judge(check_id, nginx[site], options).status is Status.FAIL


# ------------------------------------------------------------------ scripted vulnerable servers


def scripted_facts(lab: Any, serve: Callable[..., Any], **misbehaviour: bool) -> dict[str, Any]:
    server = serve(scripted(lab, Behaviour(**misbehaviour)))
    return collect(server.address, server.port)


@pytest.mark.parametrize(("misbehaviour", "fact", "value", "check_id"), [
    ({"renegotiation_info": False}, "secure_renegotiation",
     {"TLSv1.0": False, "TLSv1.1": False, "TLSv1.2": False}, "tls.secure_renegotiation"),
    ({"deflate": True}, "compression", ["DEFLATE"], "tls.compression"),
    ({"honours_scsv": False}, "fallback_scsv", False, "tls.fallback_scsv"),
    ({"heartbeat": True, "heartbleed": True}, "heartbleed", True, "tls.heartbleed"),
    ({"early_ccs": True}, "ccs_injection", True, "tls.ccs_injection"),
], ids=["insecure-renegotiation", "deflate", "no-scsv", "heartbleed", "ccs-injection"])
def test_vulnerable_server_fails(lab: Any, serve: Callable[..., Any],
                                 misbehaviour: dict[str, bool], fact: str, value: Any,
                                 check_id: str) -> None:
    facts = scripted_facts(lab, serve, **misbehaviour)
    assert facts[fact] == value
    assert judge(check_id, facts).status is Status.FAIL


def test_scts_in_the_tls_extension_are_counted(lab: Any, serve: Callable[..., Any]) -> None:
    # No Debian nginx module sends SCTs in the handshake: the script does.
    facts = scripted_facts(lab, serve, scts=2)
    assert facts["sct_tls_extension"] == 2


@pytest.mark.parametrize(("oracle", "robot"), [(True, True), (False, False)],
                         ids=["padding-oracle", "constant-answer"])
def test_robot(lab: Any, pki: Any, serve: Callable[..., Any], oracle: bool, robot: bool) -> None:
    # No Debian TLS library is a padding oracle any more: the script decrypts for real.
    key = serialization.load_pem_private_key(pki.rsa_key.read_bytes(), None)
    leaf = x509.load_pem_x509_certificate(pki.rsa_chain.read_bytes())
    server = serve(scripted(lab, Behaviour(cert=leaf.public_bytes(serialization.Encoding.DER),
                                           rsa_key=key, padding_oracle=oracle)))
    facts = collect(server.address, server.port)
    assert facts["robot"] is robot
    assert judge("tls.robot", facts).status is (Status.FAIL if robot else Status.PASS)


def test_heartbeat_without_overread_is_not_heartbleed(lab: Any,
                                                      serve: Callable[..., Any]) -> None:
    facts = scripted_facts(lab, serve, heartbeat=True)
    assert (facts["heartbeat"], facts["heartbleed"]) == (True, False)


def test_well_behaved_scripted_server(lab: Any, serve: Callable[..., Any]) -> None:
    facts = scripted_facts(lab, serve)
    assert [facts[k] for k in ("compression", "fallback_scsv", "heartbleed", "ccs_injection")] == [
        ["null"], True, False, False]


# ------------------------------------------------------------------ checks on stored facts

TLS12_13 = {"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False,
            "TLSv1.2": True, "TLSv1.3": True}
TLS13 = {**TLS12_13, "TLSv1.2": False}


@pytest.mark.parametrize(("check_id", "facts", "status"), [
    ("tls.fallback_scsv", {"protocols": TLS13, "fallback_scsv": None}, Status.NOT_APPLICABLE),
    ("tls.fallback_scsv", {"protocols": TLS12_13, "fallback_scsv": None}, Status.ERROR),
    ("tls.fallback_scsv", {"protocols": TLS12_13}, Status.ERROR),
    ("tls.heartbleed", {"protocols": TLS13, "heartbleed": None}, Status.NOT_APPLICABLE),
    ("tls.heartbleed", {"protocols": TLS12_13, "heartbleed": None,
                        "errors": {"heartbleed": "no answer"}}, Status.ERROR),
    ("tls.ccs_injection", {"protocols": TLS12_13, "ccs_injection": None}, Status.ERROR),
    ("tls.robot", {"protocols": TLS12_13, "robot": None, "ciphers": {"TLSv1.2": [
        {"kex": "ECDHE", "categories": []}]}}, Status.NOT_APPLICABLE),
    ("tls.robot", {"protocols": TLS12_13, "robot": None, "ciphers": {"TLSv1.2": [
        {"kex": "RSA", "categories": ["no_forward_secrecy"]}]}}, Status.ERROR),
    ("tls.compression", {"protocols": TLS13, "compression": None}, Status.NOT_APPLICABLE),
    ("tls.compression", {"protocols": TLS12_13}, Status.ERROR),
    ("tls.secure_renegotiation", {"protocols": TLS13, "secure_renegotiation": {}},
     Status.NOT_APPLICABLE),
    ("tls.secure_renegotiation", {"protocols": TLS12_13}, Status.ERROR),
], ids=["fallback-one-version", "fallback-not-probed", "fallback-old-facts",
        "heartbleed-tls13-only", "heartbleed-unknown", "ccs-not-probed", "robot-no-rsa-kex",
        "robot-not-probed", "compression-tls13-only",
        "compression-old-facts", "renegotiation-tls13-only", "renegotiation-old-facts"])
def test_unknown_is_never_a_pass(check_id: str, facts: dict[str, Any], status: Status) -> None:
    assert judge(check_id, facts).status is status


@pytest.mark.parametrize(("check_id", "facts", "options"), [
    ("tls.compression", {"compression": ["DEFLATE", "null"]}, {"allowed": ["DEFLATE"]}),
    ("tls.fallback_scsv", {"protocols": TLS12_13, "fallback_scsv": False}, {"required": False}),
    ("tls.secure_renegotiation", {"secure_renegotiation": {"TLSv1.0": False, "TLSv1.2": True}},
     {"protocols": ["TLSv1.2"]}),
], ids=["deflate-allowed", "fallback-informational", "renegotiation-only-judged-versions"])
def test_options_relax_the_check(check_id: str, facts: dict[str, Any],
                                 options: dict[str, Any]) -> None:
    assert judge(check_id, facts, options).status is Status.PASS


OAKLEY2 = {"bits": 1024, "generator": 2, "safe_prime": True, "name": "oakley-group-2"}
DSA_STYLE = {"bits": 2048, "generator": 2, "safe_prime": False, "name": None}
EARLY = {"offered": True, "max_early_data_size": 16384}
SIGNED = {"protocols": TLS12_13, "signature_algorithms": {"TLSv1.3": ["rsa_pss_rsae_sha256"]},
          "weak_signature_algorithms": []}


def _scts(embedded: int) -> dict[str, Any]:
    return {"sct_tls_extension": 0,
            "certificate": {"leaf": 0, "certificates": [{"index": 0, "sct_count": embedded}]}}


@pytest.mark.parametrize(("check_id", "facts", "options", "default", "given"), [
    ("tls.dh_groups", {"dh_groups": [OAKLEY2]}, {"forbid_groups": []}, Status.FAIL, Status.PASS),
    ("tls.dh_groups", {"dh_groups": [DSA_STYLE]}, {"safe_prime": False}, Status.FAIL, Status.PASS),
    ("tls.early_data", {"early_data": EARLY}, {"allowed": True}, Status.FAIL, Status.PASS),
    ("tls.certificate_transparency", _scts(1), {"min_scts": 1}, Status.FAIL, Status.PASS),
    ("tls.certificate_transparency", _scts(2), {"min_scts": 3}, Status.PASS, Status.FAIL),
    ("tls.signature_algorithms", SIGNED, {"forbid": ["rsa_pss_rsae_sha256"]}, Status.PASS,
     Status.FAIL),
], ids=["known-group-allowed", "non-safe-prime-allowed", "0rtt-allowed", "one-sct-enough",
        "three-scts-wanted", "scheme-forbidden"])
def test_each_option_changes_the_verdict(check_id: str, facts: dict[str, Any],
                                         options: dict[str, Any], default: Status,
                                         given: Status) -> None:
    assert (judge(check_id, facts).status, judge(check_id, facts, options).status) == (
        default, given)


@pytest.mark.parametrize(("embedded", "extension", "status"), [
    (2, 0, Status.PASS), (1, 1, Status.PASS), (0, 1, Status.FAIL), (1, None, Status.ERROR)],
    ids=["embedded", "both-add-up", "too-few", "extension-not-measured"])
def test_certificate_transparency_counts_both_sources(embedded: int, extension: int | None,
                                                      status: Status) -> None:
    facts = {"sct_tls_extension": extension,
             "certificate": {"leaf": 0, "certificates": [{"index": 0, "sct_count": embedded}]}}
    assert judge("tls.certificate_transparency", facts).status is status
