"""The tls plugin against real loopback servers: stdlib ``ssl`` servers and hostile ones."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason, Status
from scanner.plugin import CheckRequest, Context
from scanner.plugins.tls import plugin
from scanner.plugins.tls import suites as S

pytestmark = pytest.mark.integration

Serve = Callable[..., Any]
Pki = Any
HOSTNAME = "tls.lab.test"


def endpoint(server: Any, host: str = HOSTNAME, address: str | None = None) -> Asset:
    shown = f"[{host}]" if ":" in host else host
    return Asset(id=f"lab/{host}", name=host, kind=AssetKind.ENDPOINT, department="lab",
                 url=f"https://{shown}:{server.port}/", address=address or server.address)


def collect(asset: Asset, timeout: float = 3.0, settings: dict[str, Any] | None = None,
            requests: tuple[CheckRequest, ...] = ()) -> dict[str, Any]:
    ctx = Context(timeout=timeout, settings=settings or {})
    return asyncio.run(plugin.collect(asset, list(requests), ctx))


def peek_hello(conn: socket.socket) -> bytes:
    """The whole first record, without consuming it (so ssl can still read it)."""
    deadline = time.monotonic() + 5
    data = b""
    while time.monotonic() < deadline:
        data = conn.recv(65536, socket.MSG_PEEK)
        if not data:
            return b""
        if len(data) >= 5 and len(data) >= 5 + struct.unpack("!H", data[3:5])[0]:
            return data
        time.sleep(0.005)
    return data


def suite_count(hello: bytes) -> int:
    pos = 9 + 2 + 32
    pos += 1 + hello[pos]
    return int(struct.unpack("!H", hello[pos:pos + 2])[0]) // 2


def reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class TestModernServer:
    @pytest.fixture
    def facts(self, pki: Pki, serve: Serve, lab: Any) -> dict[str, Any]:
        server = serve(lab.tls_handler(lab.server_context(pki)))
        return collect(endpoint(server), settings={"ca_file": str(pki.ca)})

    def test_protocols(self, facts: dict[str, Any]) -> None:
        assert facts["protocols"] == {"SSLv2": False, "SSLv3": False, "TLSv1.0": False,
                                      "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}

    def test_tls13_suites(self, facts: dict[str, Any]) -> None:
        names = {s["iana"] for s in facts["ciphers"]["TLSv1.3"]}
        assert names == {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                         "TLS_CHACHA20_POLY1305_SHA256"}

    def test_tls12_suites_match_openssl(self, facts: dict[str, Any], pki: Pki, lab: Any) -> None:
        expected = {c["name"] for c in lab.server_context(pki).get_ciphers()
                    if c["protocol"] == "TLSv1.2" and c["auth"] == "auth-rsa"
                    and c["kea"] == "kx-ecdhe"}
        assert {s["openssl"] for s in facts["ciphers"]["TLSv1.2"]} == expected

    def test_server_order_detected_with_its_order(self, facts: dict[str, Any]) -> None:
        assert facts["server_order"]["TLSv1.2"] is True
        assert facts["order"]["TLSv1.2"][0] == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"

    def test_groups_and_curves(self, facts: dict[str, Any]) -> None:
        assert {"x25519", "secp256r1", "secp384r1"} <= set(facts["groups"])
        assert {"x25519", "secp256r1", "secp384r1"} <= set(facts["ecdhe_curves"])

    def test_chain_read_from_the_encrypted_tls13_handshake(self, facts: dict[str, Any]) -> None:
        assert facts["chain_protocol"] == "TLSv1.3"
        assert len(facts["certificate"]["certificates"]) == 2

    def test_certificate_is_verified_with_the_ca_file(self, facts: dict[str, Any]) -> None:
        assert facts["certificate"]["verification"]["verified"] is True
        assert facts["certificate"]["leaf"] == 0

    def test_no_stapling(self, facts: dict[str, Any]) -> None:
        assert facts["ocsp_stapling"] is False

    def test_connection_budget(self, facts: dict[str, Any]) -> None:
        assert 10 <= facts["connections"] <= 40

    def test_facts_are_json(self, facts: dict[str, Any]) -> None:
        assert json.loads(json.dumps(facts)) == facts

    def test_checks_run_on_the_facts(self, facts: dict[str, Any]) -> None:
        check = {c.id: c for c in plugin.checks}["tls.protocols"]
        outcome = check.evaluate(facts, {"minimum": None, "allowed": None, "required": []})
        assert outcome.status is Status.PASS


def test_legacy_server_offers_tls10_and_anonymous_suites(pki: Pki, serve: Serve, lab: Any) -> None:
    ctx = lab.server_context(pki, minimum=ssl.TLSVersion.TLSv1, ciphers="ALL:@SECLEVEL=0")
    facts = collect(endpoint(serve(lab.tls_handler(ctx))))
    assert facts["protocols"]["TLSv1.0"] and facts["protocols"]["TLSv1.1"]
    cats = {c for s in facts["ciphers"]["TLSv1.0"] for c in s["categories"]}
    assert {"anonymous", "cbc", "no_forward_secrecy"} <= cats


def test_tls13_only_server(pki: Pki, serve: Serve, lab: Any) -> None:
    ctx = lab.server_context(pki, minimum=ssl.TLSVersion.TLSv1_3)
    facts = collect(endpoint(serve(lab.tls_handler(ctx))))
    assert facts["protocols"]["TLSv1.2"] is False and facts["protocols"]["TLSv1.3"] is True
    assert facts["chain_protocol"] == "TLSv1.3" and facts["certificate"] is not None


def test_client_order_server(pki: Pki, serve: Serve, lab: Any) -> None:
    ctx = lab.server_context(pki, maximum=ssl.TLSVersion.TLSv1_2, server_order=False)
    facts = collect(endpoint(serve(lab.tls_handler(ctx))))
    assert facts["server_order"]["TLSv1.2"] is False and "TLSv1.2" not in facts["order"]


def test_ecdsa_certificate_gives_ecdsa_suites(pki: Pki, serve: Serve, lab: Any) -> None:
    ctx = lab.server_context(pki, key="ec", maximum=ssl.TLSVersion.TLSv1_2)
    facts = collect(endpoint(serve(lab.tls_handler(ctx))))
    assert all(s["auth"] == "ECDSA" for s in facts["ciphers"]["TLSv1.2"])


def test_sni_is_sent_when_reached_through_resolve(pki: Pki, serve: Serve, lab: Any) -> None:
    seen: list[str | None] = []
    ctx = lab.server_context(pki)
    ctx.sni_callback = lambda sock, name, c: seen.append(name)  # type: ignore[assignment,misc]
    server = serve(lab.tls_handler(ctx))
    asset = Asset(id="lab/x", name="x", kind=AssetKind.ENDPOINT, department="lab",
                  url=f"https://{HOSTNAME}:{server.port}/")
    facts = collect(asset, settings={"resolve": {f"{HOSTNAME}:{server.port}": server.address}})
    assert facts["address"] == server.address and facts["sni"] == HOSTNAME
    assert seen and set(seen) == {HOSTNAME}


def test_ipv6_literal_endpoint(pki: Pki, serve: Serve, lab: Any) -> None:
    try:
        server = serve(lab.tls_handler(lab.server_context(pki)), address="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    asset = Asset(id="lab/v6", name="v6", kind=AssetKind.ENDPOINT, department="lab",
                  url=f"https://[::1]:{server.port}/")
    facts = collect(asset)
    assert facts["sni"] is None and facts["protocols"]["TLSv1.3"] is True


def test_only_what_the_requested_checks_need(pki: Pki, serve: Serve, lab: Any) -> None:
    server = serve(lab.tls_handler(lab.server_context(pki)))
    full = collect(endpoint(server))
    small = collect(endpoint(server), requests=(CheckRequest("tls.protocols", {}),))
    assert small["protocols"] == full["protocols"]
    assert small["connections"] < full["connections"] and small["groups"] is None


class TestHostileServers:
    def failure(self, asset: Asset, timeout: float = 3.0) -> CollectFailed:
        with pytest.raises(CollectFailed) as info:
            collect(asset, timeout=timeout)
        return info.value

    def test_plain_http_on_the_tls_port(self, serve: Serve) -> None:
        def http(conn: socket.socket) -> None:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        err = self.failure(endpoint(serve(http)))
        assert err.reason is ErrorReason.PROTOCOL and "plain HTTP" in err.message

    def test_silent_server_is_a_timeout_not_a_no(self, serve: Serve) -> None:
        def silent(conn: socket.socket) -> None:
            conn.settimeout(5)
            while conn.recv(4096):  # read the hello, never answer, until the client leaves
                pass

        server = serve(silent)
        err = self.failure(endpoint(server), timeout=0.3)
        assert err.reason is ErrorReason.TIMEOUT
        assert len(server.accepted) == 1  # it gave up after one probe

    def test_refused_port(self, lab: Any) -> None:
        address = lab.next_address()
        with socket.socket() as s:
            s.bind((address, 0))
            port = s.getsockname()[1]
        asset = Asset(id="lab/r", name="r", kind=AssetKind.ENDPOINT, department="lab",
                      url=f"https://{HOSTNAME}:{port}/", address=address)
        assert self.failure(asset).reason is ErrorReason.REFUSED

    def test_server_that_always_sends_an_alert(self, serve: Serve) -> None:
        def alert(conn: socket.socket) -> None:
            conn.recv(65536)
            conn.sendall(bytes.fromhex("15030300020228"))

        err = self.failure(endpoint(serve(alert)))
        assert err.reason is ErrorReason.TLS and "handshake_failure" in err.message

    def test_truncated_record(self, serve: Serve) -> None:
        def truncated(conn: socket.socket) -> None:
            conn.recv(65536)
            conn.sendall(b"\x16\x03\x03\x00\x50" + b"\x02" * 20)

        err = self.failure(endpoint(serve(truncated)))
        assert err.reason is ErrorReason.PROTOCOL and "got 20 of 80 bytes" in err.message

    def test_malformed_server_hello(self, serve: Serve) -> None:
        def malformed(conn: socket.socket) -> None:
            conn.recv(65536)
            body = b"\x03\x03" + b"r" * 10
            conn.sendall(b"\x16\x03\x03" + struct.pack("!H", 4 + len(body))
                         + b"\x02\x00\x00" + bytes([len(body)]) + body)

        err = self.failure(endpoint(serve(malformed)))
        assert err.reason is ErrorReason.PROTOCOL and "ServerHello: random needs 32 bytes" in err.message

    @pytest.mark.parametrize(("limit", "fail", "anomaly", "over"), [
        (64, "reset", "hangs up on ClientHellos with 127 cipher suites", 2),
        (127, "reset", "fails on ClientHellos with 342 cipher suites", 1),
        (127, "decode_error", "fails on ClientHellos with 342 cipher suites", 1),
    ], ids=["resets-above-64", "resets-above-127", "decode-error-above-127"])
    def test_server_that_fails_on_large_hellos(self, pki: Pki, serve: Serve, lab: Any, limit: int,
                                               fail: str, anomaly: str, over: int) -> None:
        ctx = lab.server_context(pki)
        inner = lab.tls_handler(ctx)
        sizes: list[int] = []

        def intolerant(conn: socket.socket) -> None:
            hello = peek_hello(conn)
            if hello[:1] == b"\x16":
                sizes.append(suite_count(hello))
                if sizes[-1] > limit:
                    if fail == "reset":
                        reset(conn)
                    else:
                        conn.sendall(bytes.fromhex("15030300020232"))  # alert decode_error
                        conn.close()
                    return
            inner(conn)

        reference = collect(endpoint(serve(lab.tls_handler(ctx))))
        facts = collect(endpoint(serve(intolerant)))
        assert facts["protocols"] == reference["protocols"]
        assert facts["ciphers"]["TLSv1.2"] == reference["ciphers"]["TLSv1.2"]
        assert any(anomaly in a for a in facts["anomalies"])
        # The first hellos tell; every later one stays within the limit.
        assert len([n for n in sizes if n > limit]) == over

    @staticmethod
    def recorded(pki: Pki, serve: Serve, lab: Any) -> tuple[dict[str, Any], list[bytes]]:
        """The facts of a modern server, and the first record of every connection it got."""
        hellos: list[bytes] = []
        inner = lab.tls_handler(lab.server_context(pki))

        def recording(conn: socket.socket) -> None:
            hellos.append(peek_hello(conn))
            inner(conn)

        return collect(endpoint(serve(recording))), hellos

    def test_one_hello_carries_every_suite_when_the_server_takes_it(
            self, pki: Pki, serve: Serve, lab: Any) -> None:
        facts, hellos = self.recorded(pki, serve, lab)
        assert facts["anomalies"] == []
        assert suite_count(hellos[0]) == len(S.candidates(S.Protocol.TLSv1_2))

    def test_ssl3_refused_with_tls10_and_11_by_one_version_refusal(
            self, pki: Pki, serve: Serve, lab: Any) -> None:
        facts, hellos = self.recorded(pki, serve, lab)
        assert facts["protocols"]["SSLv3"] is False
        assert facts["protocols"]["TLSv1.0"] is False
        # No SSL 3.0 hello: the TLS 1.1 one's protocol_version alert said it.
        assert b"\x03\x00" not in [h[9:11] for h in hellos if h[:1] == b"\x16"]

    def test_version_that_times_out_is_unknown_not_refused(self, pki: Pki, serve: Serve, lab: Any) -> None:
        inner = lab.tls_handler(lab.server_context(pki))

        def silent_on_tls10(conn: socket.socket) -> None:
            # Silent on any hello offering at most TLS 1.1: TLS 1.0 may be asked for by either.
            hello = peek_hello(conn)
            if hello[9:11] in (b"\x03\x01", b"\x03\x02"):
                time.sleep(1.5)
                return
            inner(conn)

        facts = collect(endpoint(serve(silent_on_tls10)), timeout=0.5)
        assert facts["protocols"]["TLSv1.0"] is None
        assert "TLSv1.0" in facts["errors"]
        check = {c.id: c for c in plugin.checks}["tls.protocols"]
        outcome = check.evaluate(facts, {"minimum": None, "allowed": None, "required": []})
        assert outcome.status is Status.ERROR
