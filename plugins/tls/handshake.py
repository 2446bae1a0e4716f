"""Probes that need a completed handshake: their connection, and TLS 1.3 early data.

The enumeration never finishes a handshake; these two probes must, each on
one connection of its own:

* **Client-initiated renegotiation** (TLS 1.0 to 1.2): in :mod:`.renegotiation`,
  on this module's connection and record reading.
* **Early data** (TLS 1.3): a full handshake (RFC 8446 key schedule), the
  client Finished, then the server's NewSessionTicket messages: an
  ``early_data`` extension in a ticket announces how many bytes of 0-RTT data
  the server would accept when the ticket is resumed (replayable data).

Neither checks the server's certificate or signatures: they learn how the
server behaves, nothing is sent after the probe but a close.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from . import records as R
from . import tls13

READ_CHUNK = 65536
MAX_BYTES = 1 << 20  # a server sending more than this during a probe is answered with a hang-up

TLS13_SUITES = {0x1301: ("sha256", 16), 0x1302: ("sha384", 32), 0x1303: ("sha256", 32)}
GROUPS = (29, 23, 24)
SIGNATURE_SCHEMES = (0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
                     0x0807, 0x0808)

Open = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class ProbeFailed(Exception):
    """The probe could not get as far as the question (refused, malformed, unsupported)."""


@dataclass(frozen=True)
class Answer:
    """``value`` True/False, or None with ``why``."""

    value: bool | None
    why: str | None = None
    detail: int | None = None  # early data: max_early_data_size


# ------------------------------------------------------------------ records (pure)


class _Aead13:
    """One direction of a TLS 1.3 record layer under one traffic secret."""

    # Plain state, not a dataclass: nothing compares or prints it, and a dataclass's
    # generated methods cost a scan's every start more than this class's whole use.
    __slots__ = ("suite", "secret", "seq")

    def __init__(self, suite: int, secret: bytes, seq: int = 0) -> None:
        self.suite = suite
        self.secret = secret
        self.seq = seq

    def _parts(self) -> tuple[AESGCM | ChaCha20Poly1305, bytes]:
        hash_name, key_len = TLS13_SUITES[self.suite]
        key = tls13.hkdf_expand_label(hash_name, self.secret, "key", b"", key_len)
        iv = tls13.hkdf_expand_label(hash_name, self.secret, "iv", b"", 12)
        nonce = bytes(a ^ b for a, b in zip(iv, self.seq.to_bytes(12, "big"), strict=True))
        self.seq += 1
        return (ChaCha20Poly1305(key) if self.suite == 0x1303 else AESGCM(key)), nonce

    def seal(self, content_type: int, payload: bytes) -> bytes:
        inner = payload + bytes([content_type])
        header = struct.pack("!BHH", 23, 0x0303, len(inner) + 16)
        aead, nonce = self._parts()
        return header + aead.encrypt(nonce, inner, header)

    def open(self, rec: R.Record) -> tuple[int, bytes]:
        header = struct.pack("!BHH", rec.content_type, rec.version, len(rec.fragment))
        aead, nonce = self._parts()
        try:
            inner = aead.decrypt(nonce, rec.fragment, header).rstrip(b"\x00")
        except InvalidTag:
            raise ProbeFailed("a TLS 1.3 record failed to decrypt") from None
        if not inner:
            raise ProbeFailed("a TLS 1.3 record has no inner content type")
        return inner[-1], inner[:-1]


def _message(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def early_data_size(ticket: bytes) -> int | None:
    """max_early_data_size of a NewSessionTicket body's early_data extension, or None."""
    try:
        pos = 8
        pos += 1 + ticket[pos]
        pos += 2 + int.from_bytes(ticket[pos:pos + 2], "big")
        end = pos + 2 + int.from_bytes(ticket[pos:pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            ext_type, length = struct.unpack("!HH", ticket[pos:pos + 4])
            if ext_type == 42 and length == 4:
                return int.from_bytes(ticket[pos + 4:pos + 8], "big")
            pos += 4 + length
    except IndexError:
        return None
    return None


# ------------------------------------------------------------------ the connection


class _Conn:
    """Reads records and handshake messages from one connection, bounded in bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.records = R.RecordBuffer()
        self.pending: list[R.Record] = []
        self.received = 0

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def record(self) -> R.Record | None:
        """The next record; None when the server hung up."""
        while not self.pending:
            try:
                data = await self.reader.read(READ_CHUNK)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                return None
            self.received += len(data)
            if self.received > MAX_BYTES:
                raise ProbeFailed(f"the server sent more than {MAX_BYTES} bytes")
            self.pending.extend(self.records.feed(data))
        return self.pending.pop(0)


def _alert_text(fragment: bytes) -> str:
    return f"alert {R.parse_alert(fragment).name}" if len(fragment) == 2 else "an alert"


async def _plain_flight(conn: _Conn, until: int) -> list[tuple[int, bytes]]:
    """Clear-text handshake messages up to and including type ``until``."""
    assembler = R.HandshakeAssembler()
    messages: list[tuple[int, bytes]] = []
    while True:
        rec = await conn.record()
        if rec is None:
            raise ProbeFailed("the server closed the connection during the handshake")
        if rec.content_type == R.ContentType.ALERT:
            raise ProbeFailed(f"the server answered the handshake with {_alert_text(rec.fragment)}")
        if rec.content_type == R.ContentType.CHANGE_CIPHER_SPEC:
            continue
        if rec.content_type != R.ContentType.HANDSHAKE:
            raise ProbeFailed(f"unexpected record type {rec.content_type} during the handshake")
        for msg in assembler.feed(rec.fragment):
            messages.append(msg)
            if msg[0] == until or (msg[0] == R.HandshakeType.SERVER_HELLO
                                   and R.parse_server_hello(msg[1]).is_hrr):
                return messages


def _hello13(sni: str | None, shares: tuple[tuple[int, bytes], ...]) -> R.ClientHelloSpec:
    return R.ClientHelloSpec(
        version=0x0304, suites=tuple(TLS13_SUITES), sni=sni, groups=GROUPS,
        signature_schemes=SIGNATURE_SCHEMES, tls13=True, key_shares=shares,
        status_request=False, session_id=os.urandom(32))


async def _probe(open_connection: Open, body: Callable[[_Conn], Awaitable[Answer]],
                 timeout: float) -> Answer:
    """Run ``body`` on one fresh connection, within ``timeout``; failures become unknown answers."""
    reader, writer = await open_connection()
    try:
        async with asyncio.timeout(timeout):
            return await body(_Conn(reader, writer))
    except ProbeFailed as exc:
        return Answer(None, str(exc))
    except R.ParseError as exc:
        return Answer(None, f"malformed answer: {exc}")
    finally:
        writer.transport.abort()


async def early_data(open_connection: Open, sni: str | None, timeout: float) -> Answer:
    """Does a TLS 1.3 session ticket announce early data (``detail``: max_early_data_size)?"""
    return await _probe(open_connection, lambda conn: _tickets(conn, sni, timeout), timeout)


async def _tickets(conn: _Conn, sni: str | None, timeout: float) -> Answer:
    shares = {g: tls13.KeyShare(g) for g in (29, 23)}
    spec = _hello13(sni, tuple((g, s.public()) for g, s in shares.items()))
    hello = R.client_hello_body(spec)
    await conn.send(R.record(R.ContentType.HANDSHAKE, 0x0301, hello))
    [(_, body)] = await _plain_flight(conn, R.HandshakeType.SERVER_HELLO)
    sh = R.parse_server_hello(body)
    if sh.is_hrr or sh.version != 0x0304:
        raise ProbeFailed("the server did not complete a TLS 1.3 hello with x25519 or P-256")
    if sh.cipher not in TLS13_SUITES or sh.key_share_group not in shares or sh.key_share is None:
        raise ProbeFailed("the server chose a TLS 1.3 suite or group the probe cannot compute")
    hash_name, _ = TLS13_SUITES[sh.cipher]
    hlen = hashlib.new(hash_name).digest_size
    zeros = b"\x00" * hlen
    empty = hashlib.new(hash_name, b"").digest()
    transcript = hello + _message(2, body)
    shared = shares[sh.key_share_group].shared_secret(sh.key_share)
    early = tls13.hkdf_extract(hash_name, zeros, zeros)
    hs = tls13.hkdf_extract(
        hash_name, tls13.hkdf_expand_label(hash_name, early, "derived", empty, hlen), shared)
    th = hashlib.new(hash_name, transcript).digest()
    c_hs = tls13.hkdf_expand_label(hash_name, hs, "c hs traffic", th, hlen)
    server = _Aead13(sh.cipher, tls13.hkdf_expand_label(hash_name, hs, "s hs traffic", th, hlen))
    assembler = R.HandshakeAssembler()
    finished = False
    while not finished:
        rec = await conn.record()
        if rec is None:
            raise ProbeFailed("the server closed the connection during the handshake")
        if rec.content_type == R.ContentType.CHANGE_CIPHER_SPEC:
            continue
        if rec.content_type == R.ContentType.ALERT:
            raise ProbeFailed(f"the server ended the handshake with {_alert_text(rec.fragment)}")
        inner_type, plain = server.open(rec)
        if inner_type != R.ContentType.HANDSHAKE:
            raise ProbeFailed("the server sent something else than its handshake")
        for msg_type, msg in assembler.feed(plain):
            if msg_type == 13:
                raise ProbeFailed("the server asks for a client certificate")
            transcript += _message(msg_type, msg)
            finished = finished or msg_type == 20
    th = hashlib.new(hash_name, transcript).digest()
    master = tls13.hkdf_extract(
        hash_name, tls13.hkdf_expand_label(hash_name, hs, "derived", empty, hlen), zeros)
    s_ap = tls13.hkdf_expand_label(hash_name, master, "s ap traffic", th, hlen)
    key = tls13.hkdf_expand_label(hash_name, c_hs, "finished", b"", hlen)
    verify = hmac.new(key, th, hash_name).digest()
    client = _Aead13(sh.cipher, c_hs)
    await conn.send(R.record(R.ContentType.CHANGE_CIPHER_SPEC, 0x0303, b"\x01")
                    + client.seal(R.ContentType.HANDSHAKE, _message(20, verify)))
    app = _Aead13(sh.cipher, s_ap)
    tickets = R.HandshakeAssembler()
    seen = 0
    while True:
        try:
            rec = await asyncio.wait_for(conn.record(), timeout / 2)
        except TimeoutError:
            rec = None
        if rec is None:
            break
        if rec.content_type != 23:
            continue
        inner_type, plain = app.open(rec)
        if inner_type != R.ContentType.HANDSHAKE:
            break
        for msg_type, msg in tickets.feed(plain):
            if msg_type == 4:
                seen += 1
                size = early_data_size(msg)
                if size is not None:
                    return Answer(size > 0, f"a session ticket allows {size} bytes of early data",
                                  detail=size)
        if seen >= 2:
            break
    if seen:
        return Answer(False, f"{seen} session ticket(s) without early_data")
    return Answer(None, "the server issued no TLS 1.3 session ticket")


__all__ = ["Answer", "early_data", "early_data_size"]
