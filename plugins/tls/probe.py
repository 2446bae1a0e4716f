"""Raw-socket TLS enumeration: protocols, suites, order, groups, chain, stapling.

One probe = one TCP connection = one ClientHello; the server's first flight
(ServerHello ... ServerHelloDone, a HelloRetryRequest, or an alert) is read
and the connection dropped. No key exchange is completed, except the single
TLS 1.3 probe that derives the handshake keys to read the encrypted
certificate chain (:mod:`tls13`).

Enumeration is "offer everything, remove the chosen suite, repeat" (the
reference's section 7.3): S + 1 probes per version for S accepted suites, as
one hello carries every untried suite (S + k for k windows of at most
``MAX_SUITES`` on a server that fails on such a hello). The server's order falls out of
the pick sequence; the accepted suites offered reversed after the pending
ones (:meth:`Scanner._tail`) tell whether the server enforces it, usually on
a hello that ends a window anyway. TLS 1.3 groups come from
HelloRetryRequests (empty key_share) of hellos that also offer the pending
suites (:meth:`Scanner._group_step`), TLS 1.2 curves from ServerKeyExchange
messages of hellos listing the unseen curves first.

Adding a probe, cheapest first:

* a fact every ServerHello or first flight shows: read it from the
  ``results`` of each :class:`VersionScan` in :meth:`Scanner._result`;
* a message sent after a TLS <= 1.2 first flight (an attack probe): a branch
  in :class:`_Ride`, which picks it for an enumeration hello whose first
  flight fits, keeps the answer, and leaves the probe's own method a fallback
  connection (``Prober.follow_up``) when no hello fitted;
* its own hellos: a :class:`Plan` field (declared in a check module's
  ``NEEDS``) and a ``Scanner`` method awaited in :meth:`Scanner.run` after
  the enumeration, skipped when its precondition is absent.

Every probe result is tri-state: accepted, rejected (alert, or the server
hung up on a small hello), or error (timeout, refused, malformed answer). An
error is never read as "rejected": the fact becomes unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

from scanner.models import CollectFailed, ErrorReason
from scanner.netutil import classify, describe, format_hostport

from . import records as R
from . import robot, starttls, tls13
from . import suites as S

WHOLE = 32767  # every untried suite in one hello: a ClientHello can carry that many
MAX_SUITES = 127  # testssl.sh: some servers fail on hellos with >= 128 suites
SMALL_SUITES = 24  # a browser-sized hello, for servers that hang up on big ones
READ_CHUNK = 65536

Slot = Callable[[], AbstractAsyncContextManager[object]]
After: TypeAlias = "bytes | Callable[[HelloResult], bytes | None]"


class Status(str, enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ERROR = "error"


class Endpoint(NamedTuple):
    """Where to connect (``address``) and which name to ask for (``sni``)."""

    address: str
    port: int
    sni: str | None
    starttls: str | None = None  # a key of starttls.UPGRADES: upgrade each connection first

    def __str__(self) -> str:
        where = format_hostport(self.address, self.port)
        return f"{self.sni} at {where}" if self.sni else where


async def connect(endpoint: Endpoint, timeout: float,
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """One TCP connection to ``endpoint``, ready for a ClientHello: every probe opens it here.

    For a STARTTLS endpoint the protocol's upgrade runs first (within the same
    ``timeout``); a refusal raises :class:`starttls.Refused`.
    """
    if endpoint.starttls is None:
        return await asyncio.wait_for(
            asyncio.open_connection(endpoint.address, endpoint.port), timeout)
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            endpoint.address, endpoint.port, limit=starttls.MAX_LINE)
        try:
            await starttls.upgrade(endpoint.starttls, reader, writer)
        except starttls.Refused as exc:
            writer.transport.abort()
            raise CollectFailed(exc.reason, f"{endpoint}: {exc.message}") from None
        except BaseException:
            writer.transport.abort()
            raise
        return reader, writer


class HelloResult(NamedTuple):
    """What one probe learnt."""

    status: Status
    version: int | None = None
    cipher: int | None = None
    hrr: bool = False
    group: int | None = None
    alert: R.Alert | None = None
    closed: bool = False  # the server hung up without a TLS answer
    chain: tuple[bytes, ...] = ()
    ocsp: bytes | None = None
    kx: R.KeyExchangeParams | None = None
    sslv2_ciphers: tuple[int, ...] = ()
    error: CollectFailed | None = None
    server_hello: R.ServerHello | None = None
    flight_done: bool = False  # the whole first flight arrived (ServerHelloDone)
    signature_scheme: int | None = None  # signed the key exchange (1.2) or transcript (1.3)
    sct_count: int = 0  # SCTs in the TLS extension (ServerHello, or the TLS 1.3 leaf entry)
    follow: FollowUp | None = None  # the answer to ``after`` (Prober.hello)

    @property
    def why(self) -> str:
        if self.alert is not None:
            return f"alert {self.alert.name}"
        if self.closed:
            return "the server closed the connection"
        if self.error is not None:
            return self.error.message
        return "no answer"


def _supported_groups(protocol: S.Protocol) -> tuple[int, ...]:
    """Client preference order: popular groups first, then the rest of the registry."""
    preferred = (0x11EC, 29, 23, 24, 25, 30, 256, 257, 258, 259, 260)
    wanted = [
        g.code
        for g in S.NAMED_GROUPS.values()
        if (g.tls13 if protocol is S.Protocol.TLSv1_3 else g.tls12)
    ]
    head = [g for g in preferred if g in wanted]
    return tuple(head + [g for g in wanted if g not in head])


TLS13_GROUPS = _supported_groups(S.Protocol.TLSv1_3)
TLS12_GROUPS = _supported_groups(S.Protocol.TLSv1_2)
TLS12_EC_GROUPS = tuple(g for g in TLS12_GROUPS if S.NAMED_GROUPS[g].kind in ("ec", "ecx"))
SIGNATURE_SCHEMES = tuple(S.SIGNATURE_SCHEMES)
WEAK_SIGNATURE_SCHEMES = tuple(
    code for code, name in S.SIGNATURE_SCHEMES.items()
    if name.endswith(("_sha1", "_md5")))
FULL_HANDSHAKE_SHARES = (29, 23)  # x25519 and P-256 cover nearly every TLS 1.3 server


class Prober:
    """Sends single ClientHellos to one endpoint and reads the first server flight."""

    def __init__(self, endpoint: Endpoint, timeout: float, slot: Slot) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._slot = slot
        self.connections = 0

    def spec(self, protocol: S.Protocol, suites: Sequence[int], groups: Sequence[int] | None = None,
             key_shares: tuple[tuple[int, bytes], ...] = (),
             signature_schemes: Sequence[int] = SIGNATURE_SCHEMES) -> R.ClientHelloSpec:
        """The ClientHello we send for ``protocol`` offering ``suites``."""
        tls13_hello = protocol is S.Protocol.TLSv1_3
        extensions = protocol is not S.Protocol.SSLv3
        if groups is None:
            groups = TLS13_GROUPS if tls13_hello else TLS12_GROUPS
        return R.ClientHelloSpec(
            version=protocol.wire,
            suites=tuple(suites),
            sni=self.endpoint.sni,
            groups=tuple(groups),
            signature_schemes=tuple(signature_schemes),
            tls13=tls13_hello,
            key_shares=key_shares,
            extensions=extensions,
            session_id=os.urandom(32) if tls13_hello else b"",
            # Below TLS 1.3 every hello also asks for DEFLATE, heartbeats, a session
            # ticket and SCTs: the ServerHellos of the enumeration then tell
            # compression (CRIME), heartbeat, ticket and SCT support at no extra
            # connection.
            compression=(0,) if tls13_hello else (1, 0),
            heartbeat=extensions and not tls13_hello,
            session_ticket=extensions and not tls13_hello,
            sct=extensions and not tls13_hello,
        )

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        async with self._slot():
            self.connections += 1
            reader, writer = await connect(self.endpoint, self.timeout)
            try:
                yield reader, writer
            finally:
                writer.transport.abort()

    async def hello(self, spec: R.ClientHelloSpec, full13: bool = False,
                    after: After | None = None) -> HelloResult:
        """One probe. ``full13`` completes enough of TLS 1.3 to read the certificate.

        ``after`` is sent once a whole TLS <= 1.2 first flight is in, and the
        server's answer kept in ``follow``: a follow-up without a connection
        of its own. A callable ``after`` sees the first flight and returns the
        bytes to send, or ``None`` to send nothing.
        """
        flight = Flight(spec, full13)
        try:
            async with self._connect() as (reader, writer):
                async with asyncio.timeout(self.timeout):
                    reply = flight.first_hello()
                    while not flight.done:
                        try:
                            if reply:
                                writer.write(reply)
                                await writer.drain()
                            data = await reader.read(READ_CHUNK)
                        except (ConnectionResetError, BrokenPipeError):
                            data = b""  # a reset is the server hanging up, as is EOF
                        if not data:
                            return flight.at_eof()
                        reply = flight.feed(data)
                result = flight.result()
                if after is None or result.status is not Status.ACCEPTED or not result.flight_done:
                    return result
                payload = after(result) if callable(after) else after
                if payload is None:
                    return result
                return result._replace(follow=await self._answer(reader, writer, payload, result))
        except R.ParseError as exc:
            return HelloResult(Status.ERROR, error=CollectFailed(
                ErrorReason.PROTOCOL, f"{self.endpoint}: {exc}"))
        except (TimeoutError, OSError, CollectFailed) as exc:
            if flight.server_hello is not None:
                # The answer that matters arrived; the rest of the flight did not.
                return flight.result()
            return HelloResult(Status.ERROR, error=_failure(exc, self.endpoint))

    async def follow_up(self, spec: R.ClientHelloSpec, payload: bytes) -> FollowUp:
        """Read the first flight of a TLS <= 1.2 hello, send ``payload``, read the answer.

        The answer is the first alert or heartbeat record, a hang-up, or silence
        for the whole timeout.
        """
        flight = Flight(spec, False)
        try:
            async with self._connect() as (reader, writer):
                async with asyncio.timeout(self.timeout):
                    writer.write(flight.first_hello())
                    await writer.drain()
                    while not flight.done:
                        data = await _read(reader)
                        if not data:
                            return FollowUp(flight.at_eof())
                        flight.feed(data)
                hello = flight.result()
                if hello.status is not Status.ACCEPTED or not hello.flight_done:
                    return FollowUp(hello)
                return await self._answer(reader, writer, payload, hello)
        except R.ParseError as exc:
            return FollowUp(HelloResult(Status.ERROR, error=CollectFailed(
                ErrorReason.PROTOCOL, f"{self.endpoint}: {exc}")))
        except (TimeoutError, OSError, CollectFailed) as exc:
            return FollowUp(HelloResult(Status.ERROR, error=_failure(exc, self.endpoint)))

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      payload: bytes, hello: HelloResult) -> FollowUp:
        records = R.RecordBuffer()
        try:
            async with asyncio.timeout(self.timeout):
                writer.write(payload)
                await writer.drain()
                while True:
                    data = await _read(reader)
                    if not data:
                        return FollowUp(hello, closed=True)
                    for rec in records.feed(data):
                        if rec.content_type in (R.ContentType.ALERT, R.ContentType.HEARTBEAT):
                            return FollowUp(hello, answer=rec)
        except TimeoutError:
            return FollowUp(hello, silent=True)
        except (ConnectionResetError, BrokenPipeError):
            return FollowUp(hello, closed=True)

    async def sslv2(self) -> HelloResult:
        """Offer SSL 2.0 only; an SSLv2 SERVER-HELLO lists every SSLv2 cipher at once."""
        hello = R.build_sslv2_client_hello(list(S.SSL2_CIPHERS))
        data = b""
        try:
            async with self._connect() as (reader, writer):
                async with asyncio.timeout(self.timeout):
                    writer.write(hello)
                    await writer.drain()
                    while True:
                        try:
                            chunk = await reader.read(READ_CHUNK)
                        except (ConnectionResetError, BrokenPipeError):
                            chunk = b""
                        if not chunk:
                            break
                        data += chunk
                        if data[0] in (R.ContentType.ALERT, R.ContentType.HANDSHAKE):
                            break  # a TLS answer: this server does not speak SSL 2.0
                        need = R.sslv2_record_length(data)
                        if need is not None and len(data) >= need:
                            break
        except (TimeoutError, OSError, CollectFailed) as exc:
            return HelloResult(Status.ERROR, error=_failure(exc, self.endpoint))
        if not data:
            return HelloResult(Status.REJECTED, closed=True)
        if data[0] in (R.ContentType.ALERT, R.ContentType.HANDSHAKE):
            alert = None
            if data[0] == R.ContentType.ALERT and len(data) >= 7:
                alert = R.Alert(data[5], data[6])
            return HelloResult(Status.REJECTED, alert=alert)
        try:
            sh = R.parse_sslv2_server_hello(data)
        except R.NotTLS as exc:
            return HelloResult(Status.ERROR, error=CollectFailed(ErrorReason.PROTOCOL, str(exc)))
        except R.ParseError as exc:
            if data[0] & 0x80 and len(data) > 2 and data[2] == 0:
                return HelloResult(Status.REJECTED)  # SSLv2 ERROR message
            return HelloResult(Status.ERROR, error=CollectFailed(
                ErrorReason.PROTOCOL, f"{self.endpoint}: {exc}"))
        if not sh.cipher_specs:
            return HelloResult(Status.REJECTED)
        return HelloResult(Status.ACCEPTED, version=0x0002, sslv2_ciphers=sh.cipher_specs,
                           chain=(sh.certificate,) if sh.certificate else ())


class FollowUp(NamedTuple):
    """What a server did with a message sent after its first flight."""

    hello: HelloResult
    answer: R.Record | None = None  # the first alert or heartbeat record
    closed: bool = False
    silent: bool = False  # nothing within the timeout


def _answer_text(follow: FollowUp) -> str:
    """How a server reacted to a follow-up, in words that compare equal when the reaction is."""
    if follow.answer is not None and follow.answer.content_type == R.ContentType.ALERT \
            and len(follow.answer.fragment) == 2:
        return f"alert {R.parse_alert(follow.answer.fragment).name}"
    if follow.answer is not None:
        return f"record type {follow.answer.content_type}"
    return "silent" if follow.silent else "closed"


async def _read(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.read(READ_CHUNK)
    except (ConnectionResetError, BrokenPipeError):
        return b""  # a reset is the server hanging up, as is EOF


def _rsa_kex(code: int) -> bool:
    suite = S.suite_for(code)
    return suite.kex == "RSA" and "export" not in suite.categories


def _unseen_first(scan: VersionScan) -> tuple[int, ...] | None:
    """Every group, those no answer of ``scan`` has used yet first.

    The enumeration hellos then name a new curve (TLS <= 1.2 ServerKeyExchange)
    or group (TLS 1.3 HelloRetryRequest) whenever the server follows the
    client's group order, so the group probes that follow have less to find.
    The set offered never changes, so neither does which suites the server
    can choose. ``None`` (the default list) for SSL 3.0, which sends no groups.
    """
    if scan.protocol is S.Protocol.SSLv3:
        return None
    if scan.protocol is S.Protocol.TLSv1_3:
        base = TLS13_GROUPS
        seen = {r.group for r in scan.results if r.status is Status.ACCEPTED}
    else:
        base = TLS12_GROUPS
        seen = {r.kx.group for r in scan.results if r.kx is not None}
    return (*(g for g in base if g not in seen), *(g for g in base if g in seen))


REFUSALS = (40, 70, 71)  # handshake_failure, protocol_version, insufficient_security


def _odd_failure(result: HelloResult) -> bool:
    """No ServerHello, and not the way a server refuses a version or suites: a hang-up,
    another alert, or a malformed answer (a hello too large for it, perhaps)."""
    if result.status is Status.ERROR:
        return result.error is not None and result.error.reason is ErrorReason.PROTOCOL
    if result.status is Status.REJECTED:
        return result.alert is None or result.alert.description not in REFUSALS
    return False


def _failure(exc: BaseException, endpoint: Endpoint) -> CollectFailed:
    if isinstance(exc, CollectFailed):
        return exc  # already says where (connect: a refused STARTTLS)
    reason = classify(exc)
    return CollectFailed(reason, f"{endpoint}: {describe(exc)}")


class Flight:
    """State of one probe's conversation (pure: bytes in, result out).

    ``shares`` are the TLS 1.3 client keys for a ``full13`` flight (fresh ones
    when not given; tests pass recorded ones to decrypt a recorded answer).
    """

    def __init__(self, spec: R.ClientHelloSpec, full13: bool,
                 shares: dict[int, tls13.KeyShare] | None = None) -> None:
        self.spec = spec
        self.full13 = full13 and spec.tls13
        self.records = R.RecordBuffer()
        self.handshakes = R.HandshakeAssembler()
        self.done = False
        self.server_hello: R.ServerHello | None = None
        self.alert: R.Alert | None = None
        self.chain: tuple[bytes, ...] = ()
        self.ocsp: bytes | None = None
        self.kx: R.KeyExchangeParams | None = None
        self.hrr_group: int | None = None
        self.signature_scheme: int | None = None
        self.sct_count = 0
        self._shares: dict[int, tls13.KeyShare] = dict(shares or {})
        self._transcript = b""
        self._decryptor: tls13.RecordDecryptor | None = None
        self._inner = R.HandshakeAssembler()
        self._retried = False
        self.flight_done = False

    def first_hello(self) -> bytes:
        spec = self.spec
        if self.full13:
            if not self._shares:
                self._shares = {g: tls13.KeyShare(g) for g in FULL_HANDSHAKE_SHARES}
            spec = dataclasses.replace(
                spec, key_shares=tuple((g, s.public()) for g, s in self._shares.items()))
            self.spec = spec
        body = R.client_hello_body(spec)
        self._transcript = body
        return R.build_client_hello(spec)

    def feed(self, data: bytes) -> bytes:
        """Consume server bytes; return bytes to send back (a second ClientHello after HRR)."""
        reply = b""
        for rec in self.records.feed(data):
            if self.done:
                break
            if rec.content_type == R.ContentType.ALERT:
                if self._decryptor is None:
                    self.alert = R.parse_alert(rec.fragment)
                self.done = True
            elif rec.content_type == R.ContentType.HANDSHAKE:
                for msg_type, body in self.handshakes.feed(rec.fragment):
                    reply += self._handshake(msg_type, body)
                    if self.done:
                        break
            elif rec.content_type == R.ContentType.APPLICATION_DATA and self._decryptor:
                header = bytes([rec.content_type]) + rec.version.to_bytes(2, "big") + len(
                    rec.fragment).to_bytes(2, "big")
                inner_type, plain = self._decryptor.decrypt(header, rec.fragment)
                if inner_type != R.ContentType.HANDSHAKE:
                    self.done = True
                    break
                for msg_type, body in self._inner.feed(plain):
                    self._encrypted_handshake(msg_type, body)
                    if self.done:
                        break
            elif rec.content_type == R.ContentType.CHANGE_CIPHER_SPEC:
                continue
            else:
                self.done = True
        return reply

    def _handshake(self, msg_type: int, body: bytes) -> bytes:
        if msg_type == R.HandshakeType.SERVER_HELLO:
            sh = R.parse_server_hello(body)
            message = bytes([msg_type]) + len(body).to_bytes(3, "big") + body
            if sh.is_hrr:
                self.hrr_group = sh.key_share_group
                if self.full13 and not self._retried:
                    return self._second_hello(sh, message)
                self.server_hello = sh
                self.done = True
                return b""
            self.server_hello = sh
            if sh.version == 0x0304:
                if not self.full13 or not tls13.can_decrypt(sh.cipher):
                    self.done = True
                    return b""
                self._start_decryption(sh, message)
            return b""
        if self.server_hello is None:
            raise R.ParseError(f"handshake message type {msg_type} arrived before the ServerHello")
        if msg_type == R.HandshakeType.CERTIFICATE:
            self.chain = R.parse_certificate(body).chain
        elif msg_type == R.HandshakeType.CERTIFICATE_STATUS:
            self.ocsp = R.parse_certificate_status(body)
        elif msg_type == R.HandshakeType.SERVER_KEY_EXCHANGE:
            kex = S.suite_for(self.server_hello.cipher).kex
            self.kx = R.parse_server_key_exchange(body, kex,
                                                  tls12=self.server_hello.version == 0x0303)
            self.signature_scheme = self.kx.signature_scheme
        elif msg_type == R.HandshakeType.SERVER_HELLO_DONE:
            self.flight_done = True
            self.done = True
        return b""

    def _second_hello(self, hrr: R.ServerHello, hrr_message: bytes) -> bytes:
        group = hrr.key_share_group
        self._retried = True
        if group is None or group not in tls13.SUPPORTED_GROUPS:
            # A group we cannot compute: settle for what the HRR says.
            self.server_hello = hrr
            self.done = True
            return b""
        share = tls13.KeyShare(group)
        self._shares = {group: share}
        cookie = hrr.ext(44)
        spec = dataclasses.replace(self.spec, key_shares=((group, share.public()),),
                                   cookie=cookie)
        body = R.client_hello_body(spec)
        self._transcript = (
            tls13.hrr_transcript_prefix(hrr.cipher, self._transcript) + hrr_message + body
        )
        return R.build_client_hello(spec)

    def _start_decryption(self, sh: R.ServerHello, message: bytes) -> None:
        group = sh.key_share_group
        peer = sh.key_share
        if group not in self._shares or peer is None:
            raise R.ParseError(f"ServerHello key share for group {group}, which we did not offer")
        secret = self._shares[group].shared_secret(peer)
        keys = tls13.server_handshake_keys(sh.cipher, secret, self._transcript + message)
        self._decryptor = tls13.RecordDecryptor(keys)

    def _encrypted_handshake(self, msg_type: int, body: bytes) -> None:
        if msg_type == R.HandshakeType.CERTIFICATE:
            cert = R.parse_certificate(body, tls13=True)
            self.chain = cert.chain
            self.ocsp = cert.ocsp_response
            self.sct_count = cert.sct_count
        elif msg_type == R.HandshakeType.CERTIFICATE_VERIFY:
            if len(body) >= 2:
                self.signature_scheme = int.from_bytes(body[:2], "big")
            self.done = True
        elif msg_type == R.HandshakeType.FINISHED:
            self.done = True  # PSK or no certificate: nothing more to read

    def at_eof(self) -> HelloResult:
        if self.server_hello is not None:
            return self.result()
        self.records.check_eof()
        self.handshakes.check_eof()
        return HelloResult(Status.REJECTED, closed=True)

    def result(self) -> HelloResult:
        sh = self.server_hello
        if sh is None:
            if self.alert is not None:
                return HelloResult(Status.REJECTED, alert=self.alert)
            return HelloResult(Status.REJECTED, closed=True)
        group = self.hrr_group if sh.is_hrr else sh.key_share_group
        return HelloResult(
            Status.ACCEPTED,
            version=sh.version,
            cipher=sh.cipher,
            hrr=sh.is_hrr,
            group=group,
            alert=self.alert,
            chain=self.chain,
            ocsp=self.ocsp,
            kx=self.kx,
            server_hello=sh,
            flight_done=self.flight_done,
            signature_scheme=self.signature_scheme,
            sct_count=self.sct_count or sh.sct_count,
        )


# ------------------------------------------------------------------ enumeration


class Plan(NamedTuple):
    """Which facts to collect beyond the accepted protocols and the chain."""

    ciphers: bool = True
    order: bool = True
    groups: bool = True
    fallback: bool = True  # one downgraded hello with TLS_FALLBACK_SCSV
    heartbleed: bool = True  # one connection, only if the server answers heartbeats
    ccs_injection: bool = True  # one connection
    weak_signatures: bool = True  # one connection, offering only SHA-1/MD5 schemes
    robot: bool = True  # five connections, only with an accepted RSA key exchange suite

    @classmethod
    def nothing(cls) -> Plan:
        """Only what every scan collects: the accepted protocols, the chain, the staple.

        The ServerHellos of those probes also give renegotiation, compression
        and heartbeat support.
        """
        return cls(*(False,) * len(cls._fields))

    @classmethod
    def only(cls, *wanted: str) -> Plan:
        """Nothing but the ``wanted`` probes (field names)."""
        return cls.nothing()._replace(**dict.fromkeys(wanted, True))

    def __or__(self, other: Plan) -> Plan:
        return Plan(*(mine or theirs for mine, theirs in zip(self, other, strict=True)))


@dataclass
class VersionScan:
    protocol: S.Protocol
    accepted: bool | None = None
    picks: list[int] = field(default_factory=list)
    complete: bool = True
    server_order: bool | None = None
    order: list[int] | None = None
    error: str | None = None
    first_window: tuple[int, ...] = ()
    results: list[HelloResult] = field(default_factory=list)
    # TLS 1.3: the hellos asking for an unseen group are over (refused, or failed)
    groups_done: bool = False
    groups_failed: bool = False
    tail_first: bool = False  # a group hello's pick came from a one-suite tail (_group_step)
    alone_refused: bool = False  # a group hello offering the pending suites alone was refused
    # (accepted suites offered reversed after the pending ones, the server's pick)
    tail_picks: list[tuple[frozenset[int], int]] = field(default_factory=list)
    client_order: bool | None = None  # TLS <= 1.2: what such a tail showed
    no_tail: bool = False  # the server's pick from a tail fits neither order

    @property
    def shown_order(self) -> int | None:
        """The server's pick from the last tail, when it told which order rules.

        The tail may have held fewer accepted suites than were found later;
        the answer (the client's last suite, or the server's first choice) is
        the same as that of a hello offering them all reversed.
        """
        if self.tail_picks and self.client_order is not None and not self.no_tail:
            return self.tail_picks[-1][1]
        return None

    def fail(self, result: HelloResult) -> None:
        self.complete = False
        self.error = result.why
        if not self.picks:
            self.accepted = None


@dataclass
class ScanResult:
    endpoint: Endpoint
    versions: dict[S.Protocol, VersionScan]
    groups: list[int] | None
    ecdhe_curves: list[int] | None
    dh_bits: int | None
    chain: tuple[bytes, ...]
    chain_protocol: S.Protocol | None
    ocsp_stapling: bool | None
    ocsp_response: bytes | None
    anomalies: list[str]
    errors: dict[str, str]
    connections: int
    secure_renegotiation: dict[S.Protocol, bool] = field(default_factory=dict)
    compression: list[int] | None = None
    heartbeat: bool | None = None
    fallback_scsv: bool | None = None
    heartbleed: bool | None = None
    ccs_injection: bool | None = None
    session_ids: bool | None = None
    session_tickets: bool | None = None
    sct_count: int | None = None
    signature_schemes: dict[S.Protocol, list[int]] = field(default_factory=dict)
    weak_signature: list[int] | None = None
    robot: bool | None = None
    robot_answers: dict[str, str] | None = None
    dh_params: list[tuple[int, int]] = field(default_factory=list)  # (prime, generator) seen


class _Ride:
    """The follow-up an enumeration hello of ``scan`` carries, chosen when its first flight is in.

    Probes that need nothing but a whole TLS <= 1.2 first flight of the right
    kind ride on an enumeration hello instead of a connection of their own:
    the CCS injection records on the first TLS 1.2 one, ROBOT's well-formed
    variants on TLS 1.2 hellos that pick ROBOT's suite (the first RSA key
    exchange suite picked). ``name`` says which was sent.
    """

    def __init__(self, scanner: Scanner, scan: VersionScan) -> None:
        self.scanner = scanner
        self.scan = scan
        self.name: str | None = None

    def __call__(self, result: HelloResult) -> bytes | None:
        scanner, proto = self.scanner, self.scan.protocol
        wire = proto.wire
        if result.version != wire or result.cipher is None:
            return None
        suite = S.suite_for(result.cipher)
        if scanner.plan.robot and proto is S.Protocol.TLSv1_2 and result.chain \
                and proto not in scanner._robot_rides and suite.kex == "RSA" \
                and "export" not in suite.categories \
                and not any(_rsa_kex(p) for p in self.scan.picks):
            key = robot.rsa_public_key(result.chain[0])
            if key is not None:  # the first RSA key exchange pick: ROBOT's suite
                scanner._robot_rides[proto] = (result.cipher, key, {})
        ride = scanner._robot_rides.get(proto)
        variant = None
        if ride is not None and ride[0] == result.cipher:
            variant = next((v for v in robot.VARIANTS
                            if v not in ride[2] and f"robot:{v}" not in scanner._riding), None)
        if ride is not None and variant is not None:
            modulus, exponent = ride[1]
            message = robot.plaintexts((modulus.bit_length() + 7) // 8, wire)[variant]
            self.name = f"robot:{variant}"
            scanner._riding.add(self.name)
            return robot.client_flight(robot.encrypt(message, modulus, exponent), wire)
        if proto is S.Protocol.TLSv1_2 and scanner.plan.ccs_injection \
                and scanner._ccs_follow is None and "ccs" not in scanner._riding:
            scanner._riding.add("ccs")
            self.name = "ccs"
            return R.change_cipher_spec(wire) * 2
        return None

    def keep(self, result: HelloResult) -> None:
        """Store the answer where the probe that was spared will look for it."""
        scanner = self.scanner
        scanner._riding.discard(self.name or "")
        if result.follow is None or result.cipher is None or self.name is None:
            return
        if self.name == "ccs":
            scanner._ccs_follow = result.follow
        elif self.name.startswith("robot:"):
            scanner._robot_rides[self.scan.protocol][2][self.name[6:]] = result.follow


class Scanner:
    """Runs the whole enumeration for one endpoint."""

    def __init__(self, prober: Prober, plan: Plan = Plan()) -> None:
        self.p = prober
        self.plan = plan
        self.max_suites = WHOLE
        self.large_hellos = False  # a hello of more than MAX_SUITES suites had a ServerHello
        self.anomalies: list[str] = []
        self.group_errors: dict[str, str] = {}
        self._ccs_follow: FollowUp | None = None
        self._riding: set[str] = set()
        # ROBOT variants sent on enumeration hellos: (suite, RSA key, variant -> answer)
        self._robot_rides: dict[S.Protocol, tuple[int, tuple[int, int], dict[str, FollowUp]]] = {}

    async def run(self) -> ScanResult:
        tls12 = VersionScan(S.Protocol.TLSv1_2)
        first_window = tuple(S.candidates(S.Protocol.TLSv1_2)[: self.max_suites])
        ride = _Ride(self, tls12)
        first = await self.p.hello(self.p.spec(S.Protocol.TLSv1_2, first_window), after=ride)
        ride.keep(first)
        tls12.results.append(first)
        first, first_window = await self._retry_small(tls12, first_window, first)
        if first.status is Status.ERROR:
            assert first.error is not None
            raise first.error
        versions = {p: VersionScan(p) for p in S.PROTOCOLS}
        versions[S.Protocol.TLSv1_2] = tls12
        negotiates = first.status is Status.ACCEPTED and first.version == tls12.protocol.wire
        tasks = [
            self._sslv2(versions[S.Protocol.SSLv2]),
            self._below_12(versions[S.Protocol.SSLv3], versions[S.Protocol.TLSv1_0],
                           versions[S.Protocol.TLSv1_1], negotiates),
            self._suites(tls12, first=(first_window, first)),
            self._tls13(versions[S.Protocol.TLSv1_3]),
        ]
        outcomes = await asyncio.gather(*tasks)
        groups = outcomes[3]
        curves, fallback, heartbleed, weak, robot_answers = await asyncio.gather(
            self._curves(versions), self._fallback(versions), self._heartbleed(versions),
            self._weak_signature(versions), self._robot(versions))
        ccs = await self._ccs_injection(versions)
        result = self._result(versions, groups, curves)
        return dataclasses.replace(
            result, fallback_scsv=fallback, heartbleed=heartbleed, ccs_injection=ccs,
            weak_signature=weak, robot_answers=robot_answers,
            robot=None if robot_answers is None else robot.verdict(robot_answers),
            connections=self.p.connections)

    # -- downgrade and vulnerability probes

    async def _fallback(self, versions: dict[S.Protocol, VersionScan]) -> bool | None:
        """RFC 7507: a hello for a lower version carrying TLS_FALLBACK_SCSV must be refused.

        ``None`` when the server accepts fewer than two versions (there is
        nothing to fall back to) or the answer proves nothing.
        """
        if not self.plan.fallback:
            return None
        accepted = [p for p in S.PROTOCOLS if p is not S.Protocol.SSLv2 and versions[p].accepted]
        if len(accepted) < 2:
            return None
        lower = versions[accepted[-2]]
        suites = lower.picks or S.candidates(lower.protocol)[: self.max_suites]
        spec = self.p.spec(lower.protocol, [*suites, R.TLS_FALLBACK_SCSV])
        result = await self.p.hello(spec)
        if result.alert is not None and result.alert.description == 86:
            return True
        if result.status is Status.ACCEPTED and result.version == lower.protocol.wire:
            return False
        self.group_errors["fallback_scsv"] = (
            f"a {lower.protocol.value} hello with TLS_FALLBACK_SCSV got {result.why}, "
            "neither inappropriate_fallback nor a ServerHello")
        return None

    async def _weak_signature(self, versions: dict[S.Protocol, VersionScan]) -> list[int] | None:
        """Does the server sign its TLS 1.2 key exchange with SHA-1, MD5 or SHA-224?

        One hello offering only those schemes and the accepted (EC)DHE suites:
        the ServerKeyExchange names the scheme used, a refusal means none.
        ``None`` when TLS 1.2 has no signed key exchange, or on an error.
        """
        scan = versions[S.Protocol.TLSv1_2]
        signed = [s for s in scan.picks if S.suite_for(s).kex in ("ECDHE", "DHE")
                  and S.suite_for(s).auth in ("RSA", "DSS", "ECDSA")]
        if not self.plan.weak_signatures or not scan.accepted or not signed:
            return None
        result = await self.p.hello(self.p.spec(
            scan.protocol, signed, signature_schemes=WEAK_SIGNATURE_SCHEMES))
        if result.status is Status.REJECTED:
            return []
        if result.status is Status.ACCEPTED and result.signature_scheme is not None:
            return [result.signature_scheme]
        self.group_errors["weak_signature"] = (
            f"a TLSv1.2 hello offering only SHA-1, MD5 and SHA-224 signatures got {result.why}")
        return None

    async def _robot(self, versions: dict[S.Protocol, VersionScan]) -> dict[str, str] | None:
        """ROBOT: the server's answer to each ClientKeyExchange variant (see :mod:`robot`).

        Only with an accepted (non-export) RSA key exchange suite and an RSA
        leaf; one connection per variant, on the best such version.
        """
        if not self.plan.robot:
            return None
        for proto in (S.Protocol.TLSv1_2, S.Protocol.TLSv1_1, S.Protocol.TLSv1_0, S.Protocol.SSLv3):
            scan = versions[proto]
            rsa_kex = [s for s in scan.picks if S.suite_for(s).kex == "RSA"
                       and "export" not in S.suite_for(s).categories]
            chains = [r.chain for r in scan.results if r.chain and r.version == proto.wire]
            if rsa_kex and chains:
                break
        else:
            return None
        ride = self._robot_rides.get(proto)
        ridden: dict[str, FollowUp] = {}
        if ride is not None and ride[0] == rsa_kex[0]:
            key: tuple[int, int] | None = ride[1]
            ridden = ride[2]
        else:
            key = robot.rsa_public_key(chains[0][0])
        if key is None:
            return None
        modulus, exponent = key
        size = (modulus.bit_length() + 7) // 8
        messages = robot.plaintexts(size, proto.wire)
        sent = {name: m for name, m in messages.items() if name not in ridden}
        follows = dict(zip(sent, await asyncio.gather(*(
            self.p.follow_up(self.p.spec(proto, rsa_kex[:1]),
                             robot.client_flight(robot.encrypt(m, modulus, exponent), proto.wire))
            for m in sent.values())), strict=True))
        follows.update(ridden)
        answers: dict[str, str] = {}
        for name in messages:
            follow = follows[name]
            if follow.hello.status is not Status.ACCEPTED or not follow.hello.flight_done:
                self.group_errors["robot"] = f"{name} variant: {follow.hello.why}"
                return None
            answers[name] = _answer_text(follow)
        return answers

    def _best_below_13(self, versions: dict[S.Protocol, VersionScan],
                       heartbeat: bool = False) -> VersionScan | None:
        for proto in (S.Protocol.TLSv1_2, S.Protocol.TLSv1_1, S.Protocol.TLSv1_0, S.Protocol.SSLv3):
            scan = versions[proto]
            if not scan.accepted or not scan.picks:
                continue
            if not heartbeat or any(r.server_hello is not None and r.server_hello.heartbeat
                                    for r in scan.results):
                return scan
        return None

    async def _heartbleed(self, versions: dict[S.Protocol, VersionScan]) -> bool | None:
        """CVE-2014-0160: a heartbeat request claiming 16 kB and carrying none.

        Only a server that answers the heartbeat extension is probed (as
        testssl.sh does): an OpenSSL without heartbeat support cannot leak
        through it. A vulnerable server answers with a heartbeat response
        longer than the request; RFC 6520 says to discard the request, so an
        alert, a hang-up or silence all mean "not vulnerable".
        """
        if not self.plan.heartbleed or self._best_below_13(versions) is None:
            return None
        scan = self._best_below_13(versions, heartbeat=True)
        if scan is None:
            return False
        follow = await self.p.follow_up(self.p.spec(scan.protocol, scan.picks[:1]),
                                        R.heartbeat_request(scan.protocol.wire))
        if follow.hello.status is not Status.ACCEPTED or not follow.hello.flight_done:
            self.group_errors["heartbleed"] = follow.hello.why
            return None
        answer = follow.answer
        return (answer is not None and answer.content_type == R.ContentType.HEARTBEAT
                and len(answer.fragment) > 3 + 16)

    async def _ccs_injection(self, versions: dict[S.Protocol, VersionScan]) -> bool | None:
        """CVE-2014-0224: two ChangeCipherSpec records right after the server's first flight.

        A patched server refuses the first with unexpected_message; a
        vulnerable one accepts it, switches to keys derived from an empty
        master secret, and fails the second record's MAC (bad_record_mac,
        decryption_failed or record_overflow). The records ride on the first
        TLS 1.2 curve probe when there is one; otherwise they cost a
        connection of their own.
        """
        if not self.plan.ccs_injection:
            return None
        follow = self._ccs_follow
        if follow is None:
            scan = self._best_below_13(versions)
            if scan is None:
                return None
            wire = scan.protocol.wire
            follow = await self.p.follow_up(self.p.spec(scan.protocol, scan.picks[:1]),
                                            R.change_cipher_spec(wire) * 2)
        if follow.hello.status is not Status.ACCEPTED or not follow.hello.flight_done:
            self.group_errors["ccs_injection"] = follow.hello.why
            return None
        answer = follow.answer
        if answer is not None and answer.content_type == R.ContentType.ALERT:
            alert = R.parse_alert(answer.fragment) if len(answer.fragment) == 2 else None
            return alert is not None and alert.description in (20, 21, 22)
        if follow.closed:
            return False
        self.group_errors["ccs_injection"] = (
            "no answer to an early ChangeCipherSpec within the timeout")
        return None

    # -- per version

    async def _offer(self, scan: VersionScan, window: Sequence[int], full13: bool = False,
                     groups: Sequence[int] | None = None, after: After | None = None,
                     ) -> HelloResult:
        result = await self.p.hello(self.p.spec(scan.protocol, window, groups), full13=full13,
                                    after=after)
        scan.results.append(result)
        return (await self._retry_small(scan, window, result, full13, groups))[0]

    async def _retry_small(self, scan: VersionScan, window: Sequence[int], result: HelloResult,
                           full13: bool = False, groups: Sequence[int] | None = None,
                           ) -> tuple[HelloResult, Sequence[int]]:
        """Some servers fail on long hellos; shorter ones tell them apart.

        Until a hello of more than ``MAX_SUITES`` suites has had a ServerHello,
        one that gets no answer a refusing server gives (see
        :func:`_odd_failure`) is tried again with ``MAX_SUITES``; a hang-up on
        that, with a browser-sized one. Whatever
        works becomes the window size for the rest of the endpoint, and the
        intolerance is an anomaly. Returns the result that counts and the
        suites that hello offered.
        """
        if result.status is Status.ACCEPTED and len(window) > MAX_SUITES:
            self.large_hellos = True
        if len(window) > MAX_SUITES and not self.large_hellos and _odd_failure(result):
            shorter = window[:MAX_SUITES]
            retried = await self.p.hello(self.p.spec(scan.protocol, shorter, groups),
                                         full13=full13)
            scan.results.append(retried)
            if not _odd_failure(retried):
                self.anomalies.append(
                    f"the server fails on ClientHellos with {len(window)} cipher suites "
                    f"({result.why}); probing with {MAX_SUITES} at a time")
                self.max_suites = min(self.max_suites, MAX_SUITES)
                return retried, shorter
            result, window = retried, shorter
        if not result.closed or len(window) <= SMALL_SUITES:
            return result, window
        small_window = window[:SMALL_SUITES]
        small = await self.p.hello(self.p.spec(scan.protocol, small_window, groups),
                                   full13=full13)
        scan.results.append(small)
        if small.closed:
            return small, window  # it hangs up on any hello: that is its answer
        if self.max_suites > SMALL_SUITES:
            self.anomalies.append(
                f"the server hangs up on ClientHellos with {len(window)} cipher suites; "
                f"probing with {SMALL_SUITES} at a time")
            self.max_suites = SMALL_SUITES
        return small, small_window

    async def _suites(self, scan: VersionScan,
                      first: tuple[Sequence[int], HelloResult] | None = None) -> None:
        """Removal loop over every candidate suite of ``scan.protocol``."""
        pending = S.candidates(scan.protocol)
        full13 = scan.protocol is S.Protocol.TLSv1_3
        while pending:
            if full13 and scan.picks and self.plan.groups and not scan.groups_done:
                await self._group_step(scan, pending)
                continue
            if first is not None:
                window, result = first  # in ``scan.results`` already, tried smaller if need be
                first = None
            else:
                tail = self._tail(scan)
                window = [*pending[: self.max_suites - len(tail)], *tail]
                groups = _unseen_first(scan)
                ride = None if full13 else _Ride(self, scan)
                result = await self.p.hello(self.p.spec(scan.protocol, window, groups),
                                            full13=full13 and not scan.picks, after=ride)
                if ride is not None:
                    ride.keep(result)
                scan.results.append(result)
                result, window = await self._retry_small(
                    scan, window, result, full13 and not scan.picks, groups)
                if tail:
                    window = [s for s in window if s not in tail]
                    if result.status is Status.ACCEPTED and result.version == scan.protocol.wire \
                            and result.cipher in tail:
                        if self._tail_pick(scan, tail, result.cipher):
                            pending = [s for s in pending if s not in window]
                        continue
            if not scan.first_window:
                scan.first_window = tuple(window)
            if result.status is Status.ERROR:
                scan.fail(result)
                return
            if result.status is Status.REJECTED:
                version_refused = result.alert is not None and result.alert.description == 70
                if not scan.picks and (version_refused or result.closed):
                    scan.accepted = False
                    return
                pending = [s for s in pending if s not in window]
                continue
            if result.version != scan.protocol.wire:
                if not scan.picks:
                    scan.accepted = False
                    return
                self.anomalies.append(
                    f"{scan.protocol.value}: the server switched to version "
                    f"0x{result.version or 0:04X} in the middle of the enumeration")
                pending = [s for s in pending if s not in window]
                continue
            assert result.cipher is not None
            if result.cipher not in window:
                self.anomalies.append(
                    f"{scan.protocol.value}: the server chose {S.suite_for(result.cipher).iana}, "
                    "which the ClientHello did not offer")
                pending = [s for s in pending if s not in window]
                continue
            scan.accepted = True
            scan.picks.append(result.cipher)
            pending.remove(result.cipher)
            if not self.plan.ciphers:
                scan.complete = False
                return
        if scan.accepted is None:
            scan.accepted = False
        if scan.accepted and self.plan.order and scan.protocol is not S.Protocol.TLSv1_3:
            await self._order(scan, reversed_pick=scan.shown_order)

    def _tail(self, scan: VersionScan) -> tuple[int, ...]:
        """Accepted suites to offer after the pending ones of an enumeration hello.

        (TLS 1.3: once the group probes, which carry a tail of their own, are over.)

        Until the server's order is known: every accepted suite, reversed. A
        server that picks a pending suite is unaffected (it prefers that one,
        or the client lists it first). One that picks the first of the tail
        honours the client's order, so none of the pending suites is accepted:
        the hello is both a refusal of the window and the reversed-order
        probe. One that picks its own first choice enforces its order. ROBOT's
        suite leads the tail while variants are left to send (unless it is
        the server's first choice, which must stay apart from the tail's
        head), so a client-order server picks it where the window ends and the
        hello carries a variant; once the client's order is known to rule,
        ROBOT's suite alone is the tail.
        """
        if scan.protocol is S.Protocol.SSLv2 or scan.no_tail:
            return ()
        ride = self._robot_rides.get(scan.protocol)
        robot_suite = ride[0] if ride is not None and len(ride[2]) < len(robot.VARIANTS) else None
        if scan.client_order is None:
            if not self.plan.order or len(scan.picks) < 2:
                return ()
            tail = scan.picks[::-1]
            if robot_suite in tail and robot_suite != scan.picks[0]:
                tail = [robot_suite, *(s for s in tail if s != robot_suite)]
            return tuple(tail)
        if scan.client_order and robot_suite is not None:
            return (robot_suite,)
        return ()

    def _tail_pick(self, scan: VersionScan, tail: tuple[int, ...], pick: int) -> bool:
        """Learn from a pick among the tail; whether the window's pending suites are refused."""
        if len(tail) == 1:
            return bool(scan.client_order)
        scan.tail_picks.append((frozenset(tail), pick))
        if pick == tail[0]:
            scan.client_order = True
            return True
        if pick == scan.picks[0]:
            scan.client_order = False
        else:
            scan.no_tail = True
        return False

    async def _below_12(self, ssl3: VersionScan, tls10: VersionScan, tls11: VersionScan,
                        negotiates: bool) -> None:
        """TLS 1.1, 1.0 and SSL 3.0, from one hello when the server refuses them all (the usual case).

        A server that answered a TLS 1.2 hello with TLS 1.2 negotiates versions
        as RFC 5246 (appendix E.1) says: offered at most TLS 1.1, it answers
        with the highest version it has up to that one. A version refusal
        (protocol_version) then means none of the three; a hang-up (even on a
        browser-sized hello) neither TLS version, SSL 3.0 getting its own
        hello; a TLS 1.0 answer means TLS 1.0 but not 1.1. Any other answer,
        or a server that did not negotiate TLS 1.2, gets one enumeration per
        version.
        """
        if not negotiates:
            await asyncio.gather(self._suites(ssl3), self._suites(tls10), self._suites(tls11))
            return
        window = S.candidates(tls11.protocol)[: self.max_suites]
        result = await self.p.hello(self.p.spec(tls11.protocol, window, _unseen_first(tls11)))
        tls11.results.append(result)
        result, window = await self._retry_small(tls11, window, result)
        refused = result.alert is not None and result.alert.description == 70
        if result.status is Status.REJECTED and refused:
            ssl3.accepted = tls10.accepted = tls11.accepted = False
            return
        if result.status is Status.REJECTED and result.closed:
            tls10.accepted = tls11.accepted = False
            await self._suites(ssl3)
            return
        if result.status is Status.ACCEPTED and result.version == tls10.protocol.wire:
            tls11.results.remove(result)
            tls10.results.append(result)
            tls11.accepted = False
            await asyncio.gather(self._suites(tls10, first=(window, result)), self._suites(ssl3))
            return
        await asyncio.gather(self._suites(tls11, first=(window, result)), self._suites(tls10),
                             self._suites(ssl3))

    async def _group_step(self, scan: VersionScan, pending: list[int]) -> None:
        """One TLS 1.3 hello that asks for a group no answer has named, and for a suite.

        It offers the pending suites, then the accepted ones reversed, and only
        the unseen groups. Since an accepted suite is always on offer (TLS 1.3
        suites do not depend on the group), a refusal means no unseen group is
        supported: the group enumeration is over. A pending suite the server
        picks is accepted. Picking the head of the tail (the suite found
        last) is what a server that follows the client's order does when no
        pending suite is acceptable, and what a server with its own order
        never does (it picks its first choice, which is in the tail too), as
        for TLS <= 1.2 (:meth:`_tail`): the window's pending suites are
        refused. Any other accepted pick says nothing about the pending ones.
        A client-order server thus finds a new group and a new suite per
        connection, and the reversed tail tells its order and ends the suites.

        A server that picks from the tail although pending suites came first
        (its own order, or no pending suite left) is offered the pending
        suites alone: with its own order it names a new suite and a new group
        at once. A refusal of such a hello means no pending suite or no unseen
        group; the next hello, with the tail, tells which (a group from the
        same unseen ones: the pending suites are refused).
        """
        seen = {r.group for r in scan.results if r.status is Status.ACCEPTED and r.group}
        unseen = [g for g in TLS13_GROUPS if g not in seen]
        if not unseen:
            scan.groups_done = True
            return
        alone = bool(pending) and not scan.alone_refused and (
            scan.client_order is False or scan.tail_first)
        tail = [] if alone else scan.picks[::-1]
        window = [*pending[: max(self.max_suites - len(tail), 1)], *tail]
        result = await self._offer(scan, window, groups=unseen)
        if result.status is Status.ERROR:
            self.group_errors["TLSv1.3 groups"] = result.why
            scan.groups_done = scan.groups_failed = True
        elif result.status is Status.REJECTED:
            if alone:
                scan.alone_refused = True
            else:
                scan.groups_done = True
        elif result.version != scan.protocol.wire or result.cipher not in window \
                or result.group not in unseen:
            self.anomalies.append(
                f"TLSv1.3: a hello offering {len(unseen)} unseen groups got version "
                f"0x{result.version or 0:04X}, suite {S.suite_for(result.cipher or 0).iana} and "
                f"group {S.group_name(result.group or 0)}, not all of which it offered")
            scan.groups_done = True
        elif result.cipher in pending:
            scan.picks.append(result.cipher)
            pending.remove(result.cipher)
            scan.tail_first = False
        elif scan.alone_refused:
            # The same unseen groups, and one of them works: the pending suites were refused.
            scan.alone_refused = False
            pending[:] = [s for s in pending if s not in window]
        elif len(tail) > 1 and result.cipher is not None:
            if self._tail_pick(scan, tuple(tail), result.cipher):
                pending[:] = [s for s in pending if s not in window]
        else:
            scan.tail_first = True

    async def _order(self, scan: VersionScan, groups: Sequence[int] | None = None,
                     reversed_pick: int | None = None) -> None:
        """Does the server impose its order? Offer the accepted suites reversed."""
        accepted = scan.picks
        if len(accepted) < 2 or not scan.complete:
            return
        offered = [s for s in S.candidates(scan.protocol) if s in accepted]
        if set(accepted) <= set(scan.first_window):
            forward = accepted[0]
        else:
            forward_result = await self._offer(scan, offered, groups=groups)
            if forward_result.status is not Status.ACCEPTED or forward_result.cipher is None:
                return
            forward = forward_result.cipher
        if reversed_pick is None:
            result = await self._offer(scan, offered[::-1], groups=groups)
            if result.status is not Status.ACCEPTED or result.cipher not in accepted:
                return
            reversed_pick = result.cipher
        scan.server_order = reversed_pick == forward
        if not scan.server_order:
            return
        if set(accepted) <= set(scan.first_window):
            scan.order = list(accepted)
            return
        # The picks came from several windows: one more removal pass over the accepted set.
        order = [forward]
        rest = [s for s in offered if s != forward]
        while len(rest) > 1:
            result = await self._offer(scan, rest, groups=groups)
            if result.status is not Status.ACCEPTED or result.cipher not in rest:
                return
            order.append(result.cipher)
            rest.remove(result.cipher)
        scan.order = order + rest

    async def _sslv2(self, scan: VersionScan) -> None:
        result = await self.p.sslv2()
        scan.results.append(result)
        if result.status is Status.ERROR:
            scan.fail(result)
        elif result.status is Status.REJECTED:
            scan.accepted = False
        else:
            scan.accepted = True
            scan.picks = list(result.sslv2_ciphers)

    async def _tls13(self, scan: VersionScan) -> list[int] | None:
        """TLS 1.3 suites, then groups through HelloRetryRequests (which also give the order)."""
        await self._suites(scan)
        if not scan.accepted:
            return None
        if not self.plan.groups and not self.plan.order:
            return None
        known = [r.group for r in scan.results if r.status is Status.ACCEPTED and r.group]
        found = list(dict.fromkeys(g for g in known if g is not None))
        remaining = [g for g in TLS13_GROUPS if g not in found]
        offered = [s for s in S.candidates(scan.protocol) if s in scan.picks]
        reversed_pick = scan.shown_order
        complete = not scan.groups_failed
        while remaining and self.plan.groups and not scan.groups_done:
            suites = offered[::-1] if reversed_pick is None else offered
            result = await self._offer(scan, suites, groups=remaining)
            if result.status is Status.ERROR:
                self.group_errors["TLSv1.3 groups"] = result.why
                complete = False
                break
            if result.status is Status.REJECTED:
                break
            if reversed_pick is None and result.cipher in offered:
                reversed_pick = result.cipher
            if result.group not in remaining:
                self.anomalies.append(
                    f"TLSv1.3: the server asked for group {S.group_name(result.group or 0)}, "
                    "which the ClientHello did not offer")
                break
            found.append(result.group)
            remaining.remove(result.group)
        if self.plan.order:
            await self._order(scan, groups=TLS13_GROUPS, reversed_pick=reversed_pick)
        return found if complete and self.plan.groups else None

    async def _curves(self, versions: dict[S.Protocol, VersionScan]) -> list[int] | None:
        """ECDHE curves of the best TLS <= 1.2 version with ECDHE suites."""
        if not self.plan.groups:
            return None
        for proto in (S.Protocol.TLSv1_2, S.Protocol.TLSv1_1, S.Protocol.TLSv1_0, S.Protocol.SSLv3):
            scan = versions[proto]
            if not scan.accepted:
                continue
            ecdhe = [s for s in scan.picks if S.suite_for(s).kex in ("ECDHE", "ECDHE_PSK")]
            if not ecdhe:
                return [] if scan.complete else None
            found = list(dict.fromkeys(
                r.kx.group for r in scan.results
                if r.kx is not None and r.kx.group is not None
            ))
            remaining = [g for g in TLS12_EC_GROUPS if g not in found]
            while remaining:
                # The first curve probe also carries the CCS injection probe.
                after = None
                if self.plan.ccs_injection and self._ccs_follow is None:
                    after = R.change_cipher_spec(proto.wire) * 2
                result = await self._offer(scan, ecdhe, groups=remaining, after=after)
                if result.follow is not None:
                    self._ccs_follow = result.follow
                if result.status is Status.ERROR:
                    self.group_errors[f"{proto.value} curves"] = result.why
                    return None
                if result.status is Status.REJECTED:
                    break
                group = result.kx.group if result.kx else None
                if group is None or group not in remaining:
                    self.anomalies.append(
                        f"{proto.value}: the server used curve {S.group_name(group or 0)}, "
                        "which the ClientHello did not offer")
                    break
                found.append(group)
                remaining.remove(group)
            return found
        return None

    # -- assembly

    def _result(self, versions: dict[S.Protocol, VersionScan], groups: list[int] | None,
                curves: list[int] | None) -> ScanResult:
        chain: tuple[bytes, ...] = ()
        chain_protocol: S.Protocol | None = None
        for proto in (S.Protocol.TLSv1_3, S.Protocol.TLSv1_2, S.Protocol.TLSv1_1,
                      S.Protocol.TLSv1_0, S.Protocol.SSLv3, S.Protocol.SSLv2):
            for r in versions[proto].results:
                if r.status is Status.ACCEPTED and r.chain and r.version == proto.wire:
                    chain, chain_protocol = r.chain, proto
                    break
            if chain:
                break
        staples = [r.ocsp for v in versions.values() for r in v.results if r.ocsp]
        stapled = bool(staples)
        full_flights = any(
            r.chain for v in versions.values() for r in v.results
            if r.status is Status.ACCEPTED and v.protocol is not S.Protocol.SSLv2
        )
        ocsp: bool | None = True if stapled else (False if full_flights else None)
        dh = [
            r.kx.dh_bits for v in versions.values() for r in v.results
            if r.kx is not None and r.kx.dh_bits is not None
        ]
        dh_params = list(dict.fromkeys(
            (r.kx.dh_prime, r.kx.dh_generator or 0) for v in versions.values() for r in v.results
            if r.kx is not None and r.kx.dh_prime is not None))
        errors = {v.protocol.value: v.error for v in versions.values() if v.error}
        errors.update(self.group_errors)
        renegotiation: dict[S.Protocol, bool] = {}
        chosen: set[int] = set()
        heartbeat: bool | None = None
        session_ids: bool | None = None
        tickets: bool | None = None
        for proto in (S.Protocol.SSLv3, S.Protocol.TLSv1_0, S.Protocol.TLSv1_1, S.Protocol.TLSv1_2):
            hellos = [r.server_hello for r in versions[proto].results
                      if r.status is Status.ACCEPTED and r.server_hello is not None
                      and r.version == proto.wire]
            if not hellos:
                continue
            renegotiation[proto] = all(h.secure_renegotiation for h in hellos)
            chosen.update(h.compression for h in hellos)
            heartbeat = bool(heartbeat) or any(h.heartbeat for h in hellos)
            # Our hellos send no session ID, so any ID in the answer is one the server caches.
            session_ids = bool(session_ids) or any(h.session_id for h in hellos)
            tickets = bool(tickets) or any(h.session_ticket for h in hellos)
        schemes = {
            v.protocol: list(dict.fromkeys(
                r.signature_scheme for r in v.results if r.signature_scheme is not None))
            for v in versions.values()
        }
        scts = [r.sct_count for v in versions.values() for r in v.results
                if r.status is Status.ACCEPTED and r.chain]
        return ScanResult(
            endpoint=self.p.endpoint,
            versions=versions,
            groups=groups,
            ecdhe_curves=curves,
            dh_bits=min(dh) if dh else None,
            chain=chain,
            chain_protocol=chain_protocol,
            ocsp_stapling=ocsp,
            ocsp_response=staples[0] if staples else None,
            anomalies=self.anomalies,
            errors=errors,
            connections=self.p.connections,
            secure_renegotiation=renegotiation,
            compression=sorted(chosen) if renegotiation else None,
            heartbeat=heartbeat,
            session_ids=session_ids,
            session_tickets=tickets,
            sct_count=max(scts) if scts else None,
            signature_schemes={p: found for p, found in schemes.items() if found},
            dh_params=dh_params,
        )


async def scan(endpoint: Endpoint, timeout: float, slot: Slot, plan: Plan = Plan()) -> ScanResult:
    """Enumerate ``endpoint``; raises CollectFailed if it does not answer TLS at all."""
    prober = Prober(endpoint, timeout, slot)
    result = await Scanner(prober, plan).run()
    if all(v.accepted is False for v in result.versions.values()):
        why = _rejections(result)
        raise CollectFailed(
            ErrorReason.TLS, f"{endpoint}: the server refused every SSL/TLS version ({why})")
    return result


def _rejections(result: ScanResult) -> str:
    reasons = sorted({r.why for v in result.versions.values() for r in v.results})
    return "; ".join(reasons) or "no answer"
