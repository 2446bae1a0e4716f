"""Renegotiation, compression, TLS_FALLBACK_SCSV, Heartbleed and CCS injection.

The vulnerable answers come from a scripted server: no Debian package builds
an OpenSSL with compression, without RFC 5746, with Heartbleed or with the
early-ChangeCipherSpec bug any more, so the script answers the way those
servers did (the same bytes on the wire). The negative case is real nginx
on Debian's OpenSSL 3.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import Context
from scanner.plugins.tls import plugin
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
        method = 1 if behaviour.deflate and 1 in hello["compression"] else 0
        sh = (struct.pack("!H", version) + b"r" * 32 + b"\x00" + struct.pack("!HB", chosen, method)
              + struct.pack("!H", len(exts)) + exts)
        cert = b"\x30\x03\x02\x01\x00"
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


@pytest.fixture(scope="module")
def nginx_facts(lab: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    server = lab.Nginx(lab.require_tool("nginx"), Path(tmp_path_factory.mktemp("nginx")))
    rsa = f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
    site = server.add(rsa + " ssl_protocols TLSv1.1 TLSv1.2 TLSv1.3;"
                      " ssl_ciphers DEFAULT:@SECLEVEL=0;")
    server.start()
    try:
        return collect(site.address, site.port, str(pki.ca))
    finally:
        server.stop()


# ------------------------------------------------------------------ real OpenSSL: nothing wrong


@pytest.mark.parametrize(("fact", "value"), [
    ("secure_renegotiation", {"TLSv1.1": True, "TLSv1.2": True}),
    ("compression", ["null"]),
    ("heartbeat", False),
    ("fallback_scsv", True),
    ("heartbleed", False),
    ("ccs_injection", False),
], ids=["renegotiation", "compression", "heartbeat", "fallback", "heartbleed", "ccs"])
def test_openssl_facts(nginx_facts: dict[str, Any], fact: str, value: Any) -> None:
    assert nginx_facts[fact] == value


@pytest.mark.parametrize("check_id", [
    "tls.secure_renegotiation", "tls.compression", "tls.fallback_scsv", "tls.heartbleed",
    "tls.ccs_injection"])
def test_openssl_passes(nginx_facts: dict[str, Any], check_id: str) -> None:
    assert judge(check_id, nginx_facts).status is Status.PASS


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
    ("tls.compression", {"protocols": TLS13, "compression": None}, Status.NOT_APPLICABLE),
    ("tls.compression", {"protocols": TLS12_13}, Status.ERROR),
    ("tls.secure_renegotiation", {"protocols": TLS13, "secure_renegotiation": {}},
     Status.NOT_APPLICABLE),
    ("tls.secure_renegotiation", {"protocols": TLS12_13}, Status.ERROR),
], ids=["fallback-one-version", "fallback-not-probed", "fallback-old-facts",
        "heartbleed-tls13-only", "heartbleed-unknown", "ccs-not-probed", "compression-tls13-only",
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
