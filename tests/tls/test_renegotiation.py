"""Client-initiated renegotiation on legacy servers: real OpenSSL and nginx, and a scripted one.

``openssl s_server`` (OpenSSL 3) refuses client-initiated renegotiation
unless started with ``-client_renegotiation``; each server here speaks one
key exchange, cipher and version, so the probe must complete that handshake
(its Finished is verified) to answer. No package builds a server without
RFC 5746, so the insecure case is a scripted TLS 1.0 server that answers the
renegotiating hello without renegotiation_info; it uses the probe's own key
schedule, which the OpenSSL servers check independently.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import CheckRequest, Context
from scanner.plugins.tls import plugin
from scanner.plugins.tls import records as R
from scanner.plugins.tls import renegotiation as RN

pytestmark = pytest.mark.integration
HOST = "tls.lab.test"
NET = f"127.67.{101 + os.getpid() % 50}"
_hosts = iter(range(1, 250))


def judge(address: str, port: int, check_id: str = "tls.client_renegotiation",
          **given: Any) -> tuple[dict[str, Any], Any]:
    check = {c.id: c for c in plugin.checks}[check_id]
    options, problems = validate_options(check.options, given, check_id)
    assert problems == []
    asset = Asset(id="t/t", name="t", kind=AssetKind.ENDPOINT, department="t",
                  url=f"https://{HOST}:{port}/", address=address)
    facts = asyncio.run(plugin.collect(asset, [CheckRequest(check_id, options)],
                                       Context(timeout=5.0)))
    return facts, check.evaluate(facts, options)


# ------------------------------------------------------------------ openssl s_server


@pytest.fixture
def s_server(lab: Any, pki: Any) -> Iterator[Callable[..., tuple[str, int]]]:
    """``s_server(*options)`` starts ``openssl s_server`` with the RSA leaf; (address, port)."""
    openssl = lab.require_tool("openssl")
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> tuple[str, int]:
        address = f"{NET}.{next(_hosts)}"
        port = lab.free_port(address)
        # stdin stays open: s_server reads it for commands, and EOF would stop it.
        proc = subprocess.Popen(
            [openssl, "s_server", "-accept", f"{address}:{port}", "-cert", str(pki.rsa_chain),
             "-key", str(pki.rsa_key), "-quiet", "-naccept", "100", *options],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(proc)
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else b""
                raise RuntimeError(f"s_server exited: {err.decode()[-500:]}")
            try:
                socket.create_connection((address, port), timeout=0.2).close()
                return address, port
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("s_server did not start listening") from None
                time.sleep(0.02)

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(("options", "protocol", "suite"), [
    (("-cipher", "AES128-SHA"), "TLSv1.2", "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (("-cipher", "AES256-SHA256"), "TLSv1.2", "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (("-cipher", "AES256-GCM-SHA384"), "TLSv1.2", "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (("-cipher", "DHE-RSA-AES128-SHA"), "TLSv1.2", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (("-cipher", "DHE-RSA-AES256-GCM-SHA384"), "TLSv1.2", "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (("-cipher", "ECDHE-RSA-AES128-SHA"), "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (("-cipher", "ECDHE-RSA-AES256-SHA384"), "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (("-cipher", "ECDHE-RSA-CHACHA20-POLY1305"), "TLSv1.2",
     "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (("-cipher", "DHE-RSA-CHACHA20-POLY1305"), "TLSv1.2",
     "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (("-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0"), "TLSv1.0", "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (("-tls1", "-cipher", "DHE-RSA-AES256-SHA:@SECLEVEL=0"), "TLSv1.0",
     "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (("-tls1_1", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"), "TLSv1.1",
     "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (("-tls1_1", "-cipher", "AES256-SHA:@SECLEVEL=0"), "TLSv1.1", "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (("-cipher", "ADH-AES128-GCM-SHA256:@SECLEVEL=0"), "TLSv1.2",
     "TLS_DH_anon_WITH_AES_128_GCM_SHA256"),
    (("-tls1", "-cipher", "AECDH-AES256-SHA:@SECLEVEL=0"), "TLSv1.0",
     "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"),
], ids=["rsa-aes128-sha", "rsa-aes256-sha256", "rsa-aes256-gcm-sha384", "dhe-aes128-sha",
        "dhe-aes256-gcm", "ecdhe-aes128-sha", "ecdhe-aes256-sha384", "ecdhe-chacha20",
        "dhe-chacha20", "tls1.0-rsa-cbc", "tls1.0-dhe-cbc", "tls1.1-ecdhe-cbc", "tls1.1-rsa-cbc",
        "anonymous-dh-gcm", "tls1.0-anonymous-ecdh-cbc"])
def test_openssl_allowing_client_renegotiation_is_caught_on_every_suite_it_speaks(
        s_server: Callable[..., tuple[str, int]], options: tuple[str, ...], protocol: str,
        suite: str) -> None:
    facts, outcome = judge(*s_server("-client_renegotiation", *options))
    assert facts["client_renegotiation"] == {
        "accepted": True, "secure": True, "answer": "the server answered with a ServerHello",
        "protocol": protocol, "suite": suite}, facts["errors"]
    assert outcome.status is Status.FAIL


@pytest.mark.parametrize(("options", "protocol"), [
    ((), "TLSv1.2"),
    (("-no_renegotiation", "-client_renegotiation"), "TLSv1.2"),
    (("-legacy_renegotiation",), "TLSv1.2"),
    (("-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0"), "TLSv1.0"),
], ids=["default", "no-renegotiation", "legacy-renegotiation", "tls1.0-default"])
def test_openssl_refusing_client_renegotiation_passes(
        s_server: Callable[..., tuple[str, int]], options: tuple[str, ...], protocol: str) -> None:
    facts, outcome = judge(*s_server("-cipher", "AES128-SHA", *options))
    found = facts["client_renegotiation"]
    assert found is not None, facts["errors"]
    assert (found["accepted"], found["secure"], found["protocol"]) == (False, None, protocol)
    assert found["answer"] == "alert no_renegotiation"
    assert outcome.status is Status.PASS


def test_unsafe_legacy_renegotiation_allowed_is_still_secure_with_an_rfc5746_client(
        s_server: Callable[..., tuple[str, int]]) -> None:
    # -legacy_renegotiation only lets clients without RFC 5746 renegotiate; ours speaks it.
    facts, outcome = judge(*s_server("-legacy_renegotiation", "-client_renegotiation"),
                           allowed=True)
    assert facts["client_renegotiation"]["accepted"] is True, facts["errors"]
    assert facts["client_renegotiation"]["secure"] is True
    assert outcome.status is Status.PASS


def test_a_tls10_only_server_costs_one_connection_more(
        s_server: Callable[..., tuple[str, int]]) -> None:
    site = s_server("-client_renegotiation", "-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0")
    alone, _ = judge(*site, "tls.protocols")
    with_probe, _ = judge(*site)
    assert with_probe["client_renegotiation"]["accepted"] is True
    assert with_probe["connections"] - alone["connections"] == 1


def test_a_server_with_no_suite_the_probe_speaks_is_unknown_with_the_reason(
        s_server: Callable[..., tuple[str, int]]) -> None:
    facts, outcome = judge(*s_server("-client_renegotiation", "-cipher", "CAMELLIA128-SHA"))
    assert facts["client_renegotiation"] is None
    assert facts["errors"]["client_renegotiation"] == (
        "the server answered the handshake with alert handshake_failure, offered the "
        f"{len(RN.offer(0x0303))} suites the probe speaks at TLSv1.2")
    assert outcome.status is Status.ERROR


# ------------------------------------------------------------------ nginx


@pytest.fixture(scope="module")
def nginx(lab: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = lab.Nginx(lab.require_tool("nginx"), Path(tmp_path_factory.mktemp("nginx-reneg")))
    rsa_cert = f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
    added = {
        "tls10-cbc": server.add(rsa_cert + " ssl_protocols TLSv1; ssl_ciphers AES128-SHA:@SECLEVEL=0;",
                                address=f"{NET}.250"),
        "dhe-cbc": server.add(rsa_cert + " ssl_protocols TLSv1.2; ssl_ciphers DHE-RSA-AES256-SHA256;"
                              f" ssl_dhparam {pki.dh2048};", address=f"{NET}.251"),
    }
    server.start()
    yield added
    server.stop()


@pytest.mark.parametrize(("site", "protocol"), [("tls10-cbc", "TLSv1.0"), ("dhe-cbc", "TLSv1.2")])
def test_nginx_refuses_client_renegotiation_on_legacy_suites(
        nginx: dict[str, Any], site: str, protocol: str) -> None:
    facts, outcome = judge(nginx[site].address, nginx[site].port)
    found = facts["client_renegotiation"]
    assert found is not None, facts["errors"]
    assert (found["accepted"], found["protocol"]) == (False, protocol)
    assert outcome.status is Status.PASS


# ------------------------------------------------------------------ a server without RFC 5746


def _read_record(stream: BinaryIO) -> R.Record:
    head = stream.read(5)
    if len(head) < 5:
        raise ConnectionError("closed")
    ctype, version, length = struct.unpack("!BHH", head)
    return R.Record(ctype, version, stream.read(length))


def _msg(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def legacy_server(pki: Any) -> Callable[[socket.socket], None]:
    """A TLS 1.0 server of before RFC 5746: RSA + AES128-SHA, renegotiates on request."""
    key = serialization.load_pem_private_key(pki.rsa_key.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    leaf = x509.load_pem_x509_certificates(pki.rsa_chain.read_bytes())[0]
    der = leaf.public_bytes(serialization.Encoding.DER)
    suite = RN.spoken()[0x002F]

    def handle(conn: socket.socket) -> None:
        stream = conn.makefile("rb")
        rec = _read_record(stream)
        hello = rec.fragment
        body = hello[4:]
        if rec.content_type != 22 or len(body) < 40:  # an SSL 2.0 hello, or not a hello
            return
        n = body[34]
        count = int.from_bytes(body[35 + n:37 + n], "big")
        offered = {int.from_bytes(body[37 + n + i:39 + n + i], "big") for i in range(0, count, 2)}
        if body[:2] < b"\x03\x01" or 0x002F not in offered:
            conn.sendall(R.record(21, 0x0301, b"\x02\x28"))
            return
        client_random, server_random = body[2:34], os.urandom(32)
        flight = (_msg(2, b"\x03\x01" + server_random + b"\x00\x00\x2f\x00")  # no extensions
                  + _msg(11, (len(der) + 3).to_bytes(3, "big") + len(der).to_bytes(3, "big") + der)
                  + _msg(14, b""))
        conn.sendall(R.record(22, 0x0301, flight))
        cke = _read_record(stream).fragment
        premaster = key.decrypt(cke[6:], padding.PKCS1v15())
        master = RN.prf("sha256", premaster, b"master secret", client_random + server_random, 48,
                        0x0301)
        client, server = RN.key_block(suite, 0x0301, master, client_random, server_random)
        assert _read_record(stream).content_type == 20
        finished = client.open(_read_record(stream))
        transcript = hello + flight + cke + finished
        verify = RN.prf("sha256", master, b"server finished",
                        RN.handshake_hash(0x0301, "sha256", transcript), 12, 0x0301)
        conn.sendall(R.record(20, 0x0301, b"\x01") + server.seal(22, _msg(20, verify)))
        again = client.open(_read_record(stream))
        assert again[0] == 1  # the renegotiating ClientHello
        conn.sendall(server.seal(22, _msg(2, b"\x03\x01" + os.urandom(32) + b"\x00\x00\x2f\x00")))
        conn.recv(1)

    return handle


def test_renegotiation_without_rfc5746_fails_even_when_allowed(
        serve: Callable[..., Any], pki: Any) -> None:
    site = serve(legacy_server(pki), f"{NET}.252")
    facts, outcome = judge(site.address, site.port, allowed=True)
    assert facts["client_renegotiation"] == {
        "accepted": True, "secure": False, "protocol": "TLSv1.0",
        "suite": "TLS_RSA_WITH_AES_128_CBC_SHA",
        "answer": "the server answered with a ServerHello without renegotiation_info "
                  "(insecure renegotiation, RFC 5746 absent)"}, facts["errors"]
    assert facts["secure_renegotiation"] == {"TLSv1.0": False}
    assert outcome.status is Status.FAIL
    assert "CVE-2009-3555" in outcome.message


# ------------------------------------------------------------------ pure parts


def test_the_tls12_prf_matches_the_published_test_vector() -> None:
    # The widely used TLS 1.2 PRF (SHA-256) vector from the IETF TLS list (ietf.org/mail-archive/web/tls).
    secret = bytes.fromhex("9bbe436ba940f017b17652849a71db35")
    seed = bytes.fromhex("a0ba9f936cda311827a6f796ffd5198c")
    out = RN.prf("sha256", secret, b"test label", seed, 16)
    assert out.hex() == "e3f229ba727be17b8d122620557cd453"


@pytest.mark.parametrize(("version", "code"), [
    (0x0301, 0x002F), (0x0302, 0x002F), (0x0303, 0x002F), (0x0303, 0x003D), (0x0303, 0xC030),
    (0x0303, 0xCCA8),
], ids=["tls1.0-cbc-implicit-iv", "tls1.1-cbc-explicit-iv", "tls1.2-cbc-sha", "tls1.2-cbc-sha256",
        "tls1.2-gcm", "tls1.2-chacha20"])
def test_records_sealed_by_one_side_open_on_the_other(version: int, code: int) -> None:
    suite = RN.spoken()[code]
    randoms = os.urandom(32), os.urandom(32)
    sender, _ = RN.key_block(suite, version, b"m" * 48, *randoms)
    receiver, _ = RN.key_block(suite, version, b"m" * 48, *randoms)
    records = R.RecordBuffer().feed(sender.seal(22, b"one") + sender.seal(23, b"two" * 100))
    assert [receiver.open(r) for r in records] == [b"one", b"two" * 100]


def test_a_tampered_cbc_record_is_refused() -> None:
    suite = RN.spoken()[0x002F]
    sender, _ = RN.key_block(suite, 0x0302, b"m" * 48, b"c" * 32, b"s" * 32)
    receiver, _ = RN.key_block(suite, 0x0302, b"m" * 48, b"c" * 32, b"s" * 32)
    [rec] = R.RecordBuffer().feed(sender.seal(22, b"hello"))
    flipped = R.Record(rec.content_type, rec.version, rec.fragment[:-17] + bytes(
        [rec.fragment[-17] ^ 1]) + rec.fragment[-16:])
    with pytest.raises(RN.H.ProbeFailed, match="failed to decrypt"):
        receiver.open(flipped)


def _facts(protocols: dict[str, bool], picks: dict[str, list[int]]) -> dict[str, Any]:
    return {"protocols": protocols,
            "ciphers": {p: [{"code": f"0x{c:04X}"} for c in codes] for p, codes in picks.items()}}


@pytest.mark.parametrize(("facts", "chosen"), [
    (_facts({"TLSv1.2": True, "TLSv1.0": True}, {"TLSv1.2": [0x002F], "TLSv1.0": [0x002F]}),
     (0x0303, None)),
    (_facts({"TLSv1.2": True, "TLSv1.0": True}, {"TLSv1.2": [0x0041], "TLSv1.0": [0x002F]}),
     (0x0301, None)),
    (_facts({"TLSv1.1": True}, {"TLSv1.1": [0x000A]}), (0x0302, None)),
    (_facts({"SSLv3": True, "TLSv1.0": False}, {}),
     (None, "the server accepts only SSL 3.0 below TLS 1.3, which the probe does not speak")),
    (_facts({"TLSv1.3": True, "TLSv1.2": False}, {}), (None, None)),
], ids=["highest", "highest-with-a-spoken-suite", "unspoken-suites-still-tried", "sslv3-only",
        "tls13-only"])
def test_the_version_renegotiated_on(facts: dict[str, Any], chosen: tuple[Any, Any]) -> None:
    assert RN.choose_version(facts) == chosen
