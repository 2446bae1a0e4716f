"""Detection of what no local OpenSSL can serve (SSLv2, SSLv3, RC4, 3DES, EXPORT).

The server here is scripted: it parses our ClientHello, picks by its own
preference list and answers with a real ServerHello + Certificate +
ServerHelloDone (or an SSLv2 SERVER-HELLO, or an alert). No handshake is ever
completed by the scanner, so this exercises the same code paths as a real
legacy server would.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from scanner.models import Asset, AssetKind
from scanner.plugin import Context
from scanner.plugins.tls import plugin
from scanner.plugins.tls import records as R

pytestmark = pytest.mark.integration
HOST = "legacy.lab.test"


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def scripted(prefs: Mapping[int, Sequence[int]], sslv2: Sequence[int] = (),
             cert: bytes = b"\x30\x03\x02\x01\x00") -> Callable[[socket.socket], None]:
    """A handler answering like a server with ``prefs`` (wire version -> suites, server order).

    Versions are negotiated as RFC 5246 (appendix E.1) says: a hello for a
    version the server lacks gets its highest version below that one.
    """

    def handle(conn: socket.socket) -> None:
        head = _recv_exact(conn, 2)
        if head[0] & 0x80:  # SSLv2 CLIENT-HELLO
            _recv_exact(conn, ((head[0] & 0x7F) << 8 | head[1]))
            if not sslv2:
                return
            specs = b"".join(struct.pack("!I", c)[1:] for c in sslv2)
            msg = (b"\x04\x00\x01\x00\x02" + struct.pack("!HHH", len(cert), len(specs), 16)
                   + cert + specs + b"i" * 16)
            conn.sendall(struct.pack("!H", 0x8000 | len(msg)) + msg)
            return
        rest = _recv_exact(conn, 3)
        body = _recv_exact(conn, struct.unpack("!H", rest[1:3])[0])[4:]
        version = struct.unpack("!H", body[:2])[0]
        pos = 34
        pos += 1 + body[pos]
        n = struct.unpack("!H", body[pos:pos + 2])[0]
        offered = {struct.unpack("!H", body[pos + 2 + i:pos + 4 + i])[0] for i in range(0, n, 2)}
        # Like real servers, it answers with its highest version up to the offered one.
        version = max((v for v in prefs if v <= version), default=0)
        if not version:
            conn.sendall(R.record(21, 0x0301, b"\x02\x46"))  # protocol_version
            return
        chosen = next((s for s in prefs[version] if s in offered), None)
        if chosen is None:
            conn.sendall(R.record(21, version, b"\x02\x28"))  # handshake_failure
            return
        sh = struct.pack("!H", version) + b"r" * 32 + b"\x00" + struct.pack("!HB", chosen, 0)
        certs = struct.pack("!I", len(cert))[1:] + cert
        msgs = (b"\x02" + struct.pack("!I", len(sh))[1:] + sh
                + b"\x0b" + struct.pack("!I", len(certs) + 3)[1:] + struct.pack("!I", len(certs))[1:]
                + certs + b"\x0e\x00\x00\x00")
        conn.sendall(R.record(22, version, msgs))

    return handle


def collect(server: Any) -> dict[str, Any]:
    asset = Asset(id="lab/legacy", name="legacy", kind=AssetKind.ENDPOINT, department="lab",
                  url=f"https://{HOST}:{server.port}/", address=server.address)
    return asyncio.run(plugin.collect(asset, [], Context(timeout=3.0)))


RC4_3DES = [0x0005, 0x0004, 0x000A, 0x0003]  # RC4-SHA, RC4-MD5, DES-CBC3-SHA, EXP-RC4-MD5


@pytest.fixture
def facts(serve: Callable[..., Any]) -> dict[str, Any]:
    prefs = {0x0300: RC4_3DES, 0x0301: RC4_3DES, 0x0303: [0xC02F, *RC4_3DES]}
    return collect(serve(scripted(prefs, sslv2=[0x0700C0, 0x020080])))


def test_versions(facts: dict[str, Any]) -> None:
    assert facts["protocols"] == {"SSLv2": True, "SSLv3": True, "TLSv1.0": True,
                                  "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": False}


def test_sslv3_suites_in_server_order(facts: dict[str, Any]) -> None:
    assert [s["openssl"] for s in facts["ciphers"]["SSLv3"]] == [
        "RC4-SHA", "RC4-MD5", "DES-CBC3-SHA", "EXP-RC4-MD5"]
    assert facts["server_order"]["SSLv3"] is True


def test_weak_categories(facts: dict[str, Any]) -> None:
    cats = {c for s in facts["ciphers"]["TLSv1.0"] for c in s["categories"]}
    assert {"rc4", "3des", "export", "md5"} <= cats


def test_sslv2_ciphers(facts: dict[str, Any]) -> None:
    assert [s["openssl"] for s in facts["ciphers"]["SSLv2"]] == ["DES-CBC3-MD5", "EXP-RC4-MD5"]


def test_tls12_order_is_the_servers(facts: dict[str, Any]) -> None:
    assert facts["order"]["TLSv1.2"][:2] == ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                             "TLS_RSA_WITH_RC4_128_SHA"]


def test_client_order_server_is_detected(serve: Callable[..., Any]) -> None:
    def client_order(conn: socket.socket) -> None:
        # Follow the client's order: answer with the offered suite that comes first.
        head = _recv_exact(conn, 5)
        if head[0] != 22:
            return  # the SSLv2 hello: hang up
        body = _recv_exact(conn, struct.unpack("!H", head[3:5])[0])[4:]
        pos = 34
        pos += 1 + body[pos]
        n = struct.unpack("!H", body[pos:pos + 2])[0]
        offered = [struct.unpack("!H", body[pos + 2 + i:pos + 4 + i])[0] for i in range(0, n, 2)]
        mine = [s for s in offered if s in (0x0005, 0x000A)]
        version = struct.unpack("!H", body[:2])[0]
        if version != 0x0301 or not mine:
            conn.sendall(R.record(21, 0x0301, b"\x02\x28"))
            return
        sh = b"\x03\x01" + b"r" * 32 + b"\x00" + struct.pack("!HB", mine[0], 0)
        conn.sendall(R.record(22, 0x0301, b"\x02" + struct.pack("!I", len(sh))[1:] + sh
                              + b"\x0e\x00\x00\x00"))

    facts = collect(serve(client_order))
    assert facts["protocols"]["TLSv1.0"] is True
    assert facts["server_order"]["TLSv1.0"] is False
