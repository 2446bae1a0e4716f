"""Client-initiated renegotiation on TLS 1.0, 1.1 and 1.2, on one connection.

A full handshake, then a second ClientHello inside the encrypted connection
carrying ``renegotiation_info`` with the client's verify_data (RFC 5746). A
ServerHello in answer means the server renegotiates on the client's request
(a CPU-exhaustion lever, testssl.sh's "client-initiated renegotiation"); an
alert (``no_renegotiation``) or a hang-up means it refuses. The renegotiating
ServerHello also tells secure from insecure renegotiation: RFC 5746 makes it
echo both Finished verify_data; a server that renegotiates without that echo
lets a man in the middle splice its own prefix into the client's connection
(CVE-2009-3555).

The client speaks what legacy servers speak, so that they are answered too:

* key exchange ECDHE (the TLS 1.3 key-share groups), DHE (the server's own
  group, RFC 5246 section 8.1.2), both also anonymous, or static RSA (RFC
  5246 section 7.4.7.1);
* AES-GCM (RFC 5288), ChaCha20-Poly1305 (RFC 7905) and AES-CBC with
  HMAC-SHA1/SHA256/SHA384, MAC-then-encrypt, with the TLS 1.0 implicit IV
  (RFC 2246 section 6.2.3.2) or the TLS 1.1+ explicit one (RFC 4346);
* the TLS 1.0/1.1 PRF (MD5 xor SHA-1 halves, RFC 2246 section 5) and the TLS
  1.2 PRF with the suite's hash (RFC 5246 section 5), extended master secret
  (RFC 7627) when the server agrees.

Primitives come from ``cryptography``; the record layer and key schedule are
here. The server's certificate and signatures are not checked, but its
Finished is: an answer is only read on a connection both sides agree on.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import os
import secrets
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import dh, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.utils import CryptographyDeprecationWarning

from . import handshake as H
from . import records as R
from . import suites as S
from . import tls13

VERSIONS = {S.Protocol.TLSv1_2: 0x0303, S.Protocol.TLSv1_1: 0x0302, S.Protocol.TLSv1_0: 0x0301}
_KEX = ("ECDHE", "DHE", "RSA")
_AUTH = ("RSA", "ECDSA", "DSS", "anon")  # no signature is checked, so anonymous DH costs nothing
_CIPHERS = {"AES_128_GCM": ("gcm", 16), "AES_256_GCM": ("gcm", 32),
            "CHACHA20_POLY1305": ("chacha", 32),
            "AES_128_CBC": ("cbc", 16), "AES_256_CBC": ("cbc", 32)}
_MACS = {"SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384", "AEAD": None}
_MAX_SKIPPED = 8  # application data records read past while waiting for the answer


class Suite(NamedTuple):
    """A suite the probe can complete a handshake with."""

    code: int
    iana: str
    kex: str  # ECDHE, DHE or RSA
    cipher: str  # gcm, chacha or cbc
    key_len: int
    mac: str | None  # HMAC hash of a CBC suite
    prf: str  # TLS 1.2 PRF hash
    tls12: bool  # valid in TLS 1.2 only
    anonymous: bool  # offered last: a server must not pick it for want of others


@functools.cache
def spoken() -> Mapping[int, Suite]:
    """Every suite of the registry the probe speaks, by code."""
    found: dict[int, Suite] = {}
    for code, suite in S.cipher_suites().items():
        if (suite.kex not in _KEX or suite.auth not in _AUTH
                or suite.cipher not in _CIPHERS or suite.mac not in _MACS
                or "export" in suite.categories):
            continue
        cipher, key_len = _CIPHERS[suite.cipher]
        found[code] = Suite(code, suite.iana, suite.kex, cipher, key_len, _MACS[suite.mac],
                            "sha384" if suite.iana.endswith("_SHA384") else "sha256",
                            S.Protocol.TLSv1_0 not in suite.versions, suite.auth == "anon")
    return found


def _preference(suite: Suite) -> tuple[bool, int, int]:
    return suite.anonymous, _KEX.index(suite.kex), ("gcm", "chacha", "cbc").index(suite.cipher)


def offer(version: int) -> tuple[int, ...]:
    """The suites a hello of ``version`` offers: forward secrecy and AEAD first."""
    usable = [s for s in spoken().values() if version >= 0x0303 or not s.tls12]
    return tuple(s.code for s in sorted(usable, key=_preference))


def choose_version(facts: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """The version to renegotiate on, from the enumeration's facts, or None and why not.

    The highest accepted version up to TLS 1.2 at which the server picked a
    suite the probe speaks; failing that, the highest accepted one (the server
    may still take one of the offered suites). ``(None, None)``: nothing below
    TLS 1.3 is accepted, so renegotiation does not apply.
    """
    protocols = facts.get("protocols") or {}
    ciphers = facts.get("ciphers") or {}
    accepted = [p for p in VERSIONS if protocols.get(p.value)]
    for proto in accepted:
        codes = {int(c["code"], 16) for c in ciphers.get(proto.value) or ()}
        if codes & set(offer(VERSIONS[proto])):
            return VERSIONS[proto], None
    if accepted:
        return VERSIONS[accepted[0]], None
    if protocols.get(S.Protocol.SSLv3.value):
        return None, "the server accepts only SSL 3.0 below TLS 1.3, which the probe does not speak"
    return None, None


@dataclass(frozen=True)
class Answer(H.Answer):
    """A renegotiation answer: ``secure`` tells whether the renegotiating hello was RFC 5746's."""

    secure: bool | None = None
    protocol: str | None = None
    suite: str | None = None

    def fact(self) -> dict[str, Any]:
        return {"accepted": self.value, "answer": self.why, "secure": self.secure,
                "protocol": self.protocol, "suite": self.suite}


# ------------------------------------------------------------------ key schedule (pure)


def _p_hash(hash_name: str, secret: bytes, seed: bytes, length: int) -> bytes:
    out, a = b"", seed
    while len(out) < length:
        a = hmac.new(secret, a, hash_name).digest()
        out += hmac.new(secret, a + seed, hash_name).digest()
    return out[:length]


def prf(hash_name: str, secret: bytes, label: bytes, seed: bytes, length: int,
        version: int = 0x0303) -> bytes:
    """The TLS PRF: TLS 1.2's P_hash (RFC 5246 section 5), or TLS 1.0/1.1's P_MD5 xor P_SHA-1."""
    if version >= 0x0303:
        return _p_hash(hash_name, secret, label + seed, length)
    half = (len(secret) + 1) // 2
    md5 = _p_hash("md5", secret[:half], label + seed, length)
    sha1 = _p_hash("sha1", secret[len(secret) - half:], label + seed, length)
    return bytes(a ^ b for a, b in zip(md5, sha1, strict=True))


def handshake_hash(version: int, hash_name: str, transcript: bytes) -> bytes:
    """What Finished and the extended master secret hash: MD5 + SHA-1 before TLS 1.2."""
    if version >= 0x0303:
        return hashlib.new(hash_name, transcript).digest()
    return hashlib.md5(transcript).digest() + hashlib.sha1(transcript).digest()


class Direction(Protocol):
    """One direction of a record layer."""

    def seal(self, content_type: int, payload: bytes) -> bytes: ...

    def open(self, rec: R.Record) -> bytes: ...


def _header(seq: int, content_type: int, version: int, length: int) -> bytes:
    return seq.to_bytes(8, "big") + struct.pack("!BHH", content_type, version, length)


class Aead:
    """AEAD records: AES-GCM or ChaCha20-Poly1305.

    AES-GCM (RFC 5288) takes a 4-byte salt from the key block and sends an
    8-byte explicit nonce in each record; ChaCha20-Poly1305 (RFC 7905) takes a
    12-byte IV and xors the sequence number into it, sending nothing.
    """

    # Record-layer state: a plain class, as Cbc and handshake._Aead13 (which says why).
    __slots__ = ("version", "aead", "iv", "seq")

    def __init__(self, version: int, aead: AESGCM | ChaCha20Poly1305, iv: bytes, seq: int = 0) -> None:
        self.version = version
        self.aead = aead
        self.iv = iv
        self.seq = seq

    @property
    def _explicit(self) -> int:
        return 8 if len(self.iv) == 4 else 0

    def _nonce(self, explicit: bytes) -> bytes:
        if self._explicit:
            return self.iv + explicit
        return bytes(a ^ b for a, b in zip(self.iv, self.seq.to_bytes(12, "big"), strict=True))

    def seal(self, content_type: int, payload: bytes) -> bytes:
        explicit = self.seq.to_bytes(8, "big") if self._explicit else b""
        sealed = self.aead.encrypt(self._nonce(explicit), payload,
                                   _header(self.seq, content_type, self.version, len(payload)))
        self.seq += 1
        return R.record(content_type, self.version, explicit + sealed)

    def open(self, rec: R.Record) -> bytes:
        if len(rec.fragment) < self._explicit + 16:
            raise H.ProbeFailed("an encrypted record is too short")
        explicit, sealed = rec.fragment[:self._explicit], rec.fragment[self._explicit:]
        aad = _header(self.seq, rec.content_type, rec.version, len(sealed) - 16)
        try:
            plain = self.aead.decrypt(self._nonce(explicit), sealed, aad)
        except InvalidTag:
            raise H.ProbeFailed("a record failed to decrypt") from None
        self.seq += 1
        return plain


class Cbc:
    """AES-CBC records, MAC then pad then encrypt (RFC 5246 section 6.2.3.2).

    TLS 1.0 chains the IV from the previous record (the key block gives the
    first); TLS 1.1 and later send a fresh IV in front of each record.
    """

    __slots__ = ("version", "key", "mac_key", "mac", "iv", "seq")

    def __init__(self, version: int, key: bytes, mac_key: bytes, mac: str, iv: bytes = b"",
                 seq: int = 0) -> None:
        self.version = version
        self.key = key
        self.mac_key = mac_key
        self.mac = mac
        self.iv = iv
        self.seq = seq

    @property
    def _explicit(self) -> bool:
        return self.version >= 0x0302

    def _mac(self, content_type: int, payload: bytes) -> bytes:
        header = _header(self.seq, content_type, self.version, len(payload))
        return hmac.new(self.mac_key, header + payload, self.mac).digest()

    def seal(self, content_type: int, payload: bytes) -> bytes:
        data = payload + self._mac(content_type, payload)
        pad = 15 - len(data) % 16
        data += bytes([pad]) * (pad + 1)
        iv = os.urandom(16) if self._explicit else self.iv
        sealed = Cipher(algorithms.AES(self.key), modes.CBC(iv)).encryptor().update(data)
        if not self._explicit:
            self.iv = sealed[-16:]
        self.seq += 1
        return R.record(content_type, self.version, (iv if self._explicit else b"") + sealed)

    def open(self, rec: R.Record) -> bytes:
        data, iv = rec.fragment, self.iv
        if self._explicit:
            iv, data = data[:16], data[16:]
        mac_len = hashlib.new(self.mac).digest_size
        if len(iv) != 16 or not data or len(data) % 16 or len(data) < mac_len + 1:
            raise H.ProbeFailed("an encrypted record is not a whole number of AES blocks")
        plain = Cipher(algorithms.AES(self.key), modes.CBC(iv)).decryptor().update(data)
        if not self._explicit:
            self.iv = data[-16:]
        pad = plain[-1]
        if pad + 1 + mac_len > len(plain) or plain[-pad - 1:] != bytes([pad]) * (pad + 1):
            raise H.ProbeFailed("a record failed to decrypt (bad padding)")
        content, mac = plain[:-pad - 1 - mac_len], plain[-pad - 1 - mac_len:-pad - 1]
        if not hmac.compare_digest(mac, self._mac(rec.content_type, content)):
            raise H.ProbeFailed("a record failed to decrypt (bad MAC)")
        self.seq += 1
        return content


def key_block(suite: Suite, version: int, master: bytes, client_random: bytes,
              server_random: bytes) -> tuple[Direction, Direction]:
    """The client's and the server's record protection (RFC 5246 section 6.3)."""
    if suite.cipher == "cbc":
        assert suite.mac is not None
        mac_len, iv_len = hashlib.new(suite.mac).digest_size, 16 if version == 0x0301 else 0
    else:
        mac_len, iv_len = 0, 4 if suite.cipher == "gcm" else 12
    sizes = (mac_len, mac_len, suite.key_len, suite.key_len, iv_len, iv_len)
    block = prf(suite.prf, master, b"key expansion", server_random + client_random, sum(sizes),
                version)
    parts, pos = [], 0
    for size in sizes:
        parts.append(block[pos:pos + size])
        pos += size
    c_mac, s_mac, c_key, s_key, c_iv, s_iv = parts
    if suite.cipher == "gcm":
        return Aead(version, AESGCM(c_key), c_iv), Aead(version, AESGCM(s_key), s_iv)
    if suite.cipher == "chacha":
        return (Aead(version, ChaCha20Poly1305(c_key), c_iv),
                Aead(version, ChaCha20Poly1305(s_key), s_iv))
    assert suite.mac is not None
    return (Cbc(version, c_key, c_mac, suite.mac, c_iv),
            Cbc(version, s_key, s_mac, suite.mac, s_iv))


# ------------------------------------------------------------------ key exchange


def _ecdhe(ske: bytes) -> tuple[bytes, bytes]:
    if len(ske) < 4 or ske[0] != 3:
        raise H.ProbeFailed("the ServerKeyExchange does not name a curve")
    group, point = int.from_bytes(ske[1:3], "big"), ske[4:4 + ske[3]]
    if group not in tls13.SUPPORTED_GROUPS:
        raise H.ProbeFailed(f"the server chose curve {group}, which the probe cannot compute")
    share = tls13.KeyShare(group)
    public = share.public()
    return share.shared_secret(point), bytes([len(public)]) + public


def _dhe(ske: bytes) -> tuple[bytes, bytes]:
    values: list[int] = []
    pos = 0
    for _ in range(3):  # dh_p, dh_g, dh_Ys (RFC 5246 section 7.4.3)
        length = int.from_bytes(ske[pos:pos + 2], "big")
        if pos + 2 + length > len(ske) or not length:
            raise H.ProbeFailed("the ServerKeyExchange does not hold DH parameters")
        values.append(int.from_bytes(ske[pos + 2:pos + 2 + length], "big"))
        pos += 2 + length
    prime, generator, server_y = values
    if not 1 < server_y < prime - 1:
        raise H.ProbeFailed("the server's DH public value is out of range")
    try:
        with warnings.catch_warnings():
            # cryptography deprecates finite-field DH; the servers judged here still use it.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            numbers = dh.DHParameterNumbers(prime, generator)
            private = numbers.parameters().generate_private_key()
            shared = private.exchange(dh.DHPublicNumbers(server_y, numbers).public_key())
            mine = private.public_key().public_numbers().y
    except ValueError:
        # cryptography refuses a prime that is not safe unless told the subgroup order q,
        # which a ServerKeyExchange does not carry: DSA-style groups (openssl dhparam
        # -dsaparam) are common on legacy servers, so those are computed directly.
        secret = secrets.randbelow(prime - 3) + 2
        mine = pow(generator, secret, prime)
        shared = pow(server_y, secret, prime).to_bytes((prime.bit_length() + 7) // 8, "big")
    # RFC 5246 section 8.1.2: the leading zero bytes of Z are stripped.
    return shared.lstrip(b"\x00"), R.vec16(mine.to_bytes((mine.bit_length() + 7) // 8, "big"))


def _rsa(certificate: bytes | None, client_version: int) -> tuple[bytes, bytes]:
    from cryptography import x509  # here, not at import: listing commands must not load X.509

    if certificate is None:
        raise H.ProbeFailed("the server sent no certificate for RSA key exchange")
    for der in R.parse_certificate(certificate).chain:
        try:
            key = x509.load_der_x509_certificate(der).public_key()
        except ValueError:
            continue
        if isinstance(key, rsa.RSAPublicKey):
            premaster = client_version.to_bytes(2, "big") + os.urandom(46)
            return premaster, R.vec16(key.encrypt(premaster, padding.PKCS1v15()))
    raise H.ProbeFailed("the server's certificate has no RSA key for RSA key exchange")


# ------------------------------------------------------------------ the probe


async def client_renegotiation(open_connection: H.Open, sni: str | None, timeout: float,
                               version: int = 0x0303) -> H.Answer:
    """Does the server renegotiate when the client asks, on a connection of ``version``?"""
    return await H._probe(open_connection,
                          lambda conn: _renegotiate(conn, sni, timeout, version), timeout)


def _hello(version: int, sni: str | None, renegotiation: bytes = b"") -> R.ClientHelloSpec:
    return R.ClientHelloSpec(
        version=version, suites=offer(version), sni=sni, groups=tls13.SUPPORTED_GROUPS,
        signature_schemes=H.SIGNATURE_SCHEMES, status_request=False, renegotiation=renegotiation)


def _protocol(version: int) -> str:
    return next(p.value for p, wire in VERSIONS.items() if wire == version)


async def _renegotiate(conn: H._Conn, sni: str | None, timeout: float, offered: int) -> Answer:
    spec = _hello(offered, sni)
    hello = R.client_hello_body(spec)
    await conn.send(R.record(R.ContentType.HANDSHAKE, 0x0301, hello))
    try:
        flight = await H._plain_flight(conn, R.HandshakeType.SERVER_HELLO_DONE)
    except H.ProbeFailed as exc:
        raise H.ProbeFailed(f"{exc}, offered the {len(spec.suites)} suites the probe speaks "
                            f"at {_protocol(offered)}") from None
    sh = R.parse_server_hello(flight[0][1])
    version, suite = sh.version, spoken().get(sh.cipher)
    if version not in VERSIONS.values() or version > offered:
        raise H.ProbeFailed(f"the server answered with version 0x{version:04X}")
    if suite is None or (suite.tls12 and version < 0x0303):
        raise H.ProbeFailed(f"the server chose suite 0x{sh.cipher:04X}, which was not offered")
    messages = dict(flight)
    ske = messages.get(R.HandshakeType.SERVER_KEY_EXCHANGE, b"")
    if suite.kex == "ECDHE":
        premaster, exchange = _ecdhe(ske)
    elif suite.kex == "DHE":
        premaster, exchange = _dhe(ske)
    else:
        premaster, exchange = _rsa(messages.get(R.HandshakeType.CERTIFICATE), offered)
    transcript = hello + b"".join(H._message(t, b) for t, b in flight)
    out = b""
    if R.HandshakeType.CERTIFICATE_REQUEST in messages:  # answered with no certificate
        out += H._message(R.HandshakeType.CERTIFICATE, b"\x00\x00\x00")
    out += H._message(16, exchange)
    transcript += out
    if sh.ext(R.Ext.EXTENDED_MASTER_SECRET) is not None:
        master = prf(suite.prf, premaster, b"extended master secret",
                     handshake_hash(version, suite.prf, transcript), 48, version)
    else:
        master = prf(suite.prf, premaster, b"master secret", spec.random + sh.random, 48, version)
    client, server = key_block(suite, version, master, spec.random, sh.random)
    client_verify = prf(suite.prf, master, b"client finished",
                        handshake_hash(version, suite.prf, transcript), 12, version)
    transcript += H._message(R.HandshakeType.FINISHED, client_verify)
    await conn.send(R.record(R.ContentType.HANDSHAKE, version, out)
                    + R.record(R.ContentType.CHANGE_CIPHER_SPEC, version, b"\x01")
                    + client.seal(R.ContentType.HANDSHAKE,
                                  H._message(R.HandshakeType.FINISHED, client_verify)))
    server_verify = await _server_finished(conn, server)
    expected = prf(suite.prf, master, b"server finished",
                   handshake_hash(version, suite.prf, transcript), 12, version)
    if not hmac.compare_digest(server_verify, expected):
        raise H.ProbeFailed("the server's Finished does not verify")
    again = R.client_hello_body(_hello(offered, sni, renegotiation=client_verify))
    await conn.send(client.seal(R.ContentType.HANDSHAKE, again))
    found = await _answer(conn, server, timeout, client_verify + server_verify)
    return Answer(found.value, found.why, secure=found.secure, protocol=_protocol(version),
                  suite=suite.iana)


async def _server_finished(conn: H._Conn, server: Direction) -> bytes:
    """The server's ChangeCipherSpec, then its encrypted Finished: its verify_data."""
    while True:
        rec = await conn.record()
        if rec is None:
            raise H.ProbeFailed("the server closed the connection instead of finishing the handshake")
        if rec.content_type == R.ContentType.ALERT:
            raise H.ProbeFailed(f"the server ended the handshake with {H._alert_text(rec.fragment)}")
        if rec.content_type == R.ContentType.CHANGE_CIPHER_SPEC:
            break
    assembler = R.HandshakeAssembler()
    while True:
        rec = await conn.record()
        if rec is None or rec.content_type != R.ContentType.HANDSHAKE:
            raise H.ProbeFailed("no Finished from the server")
        for msg_type, body in assembler.feed(server.open(rec)):
            if msg_type != R.HandshakeType.FINISHED:
                raise H.ProbeFailed(f"handshake message {msg_type} where the Finished belongs")
            return body


async def _answer(conn: H._Conn, server: Direction, timeout: float, both_verify: bytes) -> Answer:
    """How the server answers the renegotiating hello."""
    assembler = R.HandshakeAssembler()
    for _ in range(_MAX_SKIPPED):
        try:
            rec = await asyncio.wait_for(conn.record(), timeout / 2)
        except TimeoutError:
            return Answer(False, "the server ignored the renegotiation request")
        if rec is None:
            return Answer(False, "the server closed the connection")
        plain = server.open(rec)
        if rec.content_type == R.ContentType.ALERT:
            return Answer(False, H._alert_text(plain))
        if rec.content_type != R.ContentType.HANDSHAKE:
            continue
        for msg_type, body in assembler.feed(plain):
            if msg_type == R.HandshakeType.SERVER_HELLO:
                return _renegotiated(R.parse_server_hello(body), both_verify)
            if msg_type == R.HandshakeType.HELLO_REQUEST:
                return Answer(None, "the server sent a HelloRequest instead of answering")
            raise H.ProbeFailed(f"handshake message {msg_type} in answer to the renegotiation")
    return Answer(None, "the server sent only application data after the renegotiation request")


def _renegotiated(sh: R.ServerHello, both_verify: bytes) -> Answer:
    echo = sh.ext(R.Ext.RENEGOTIATION_INFO)
    if echo == bytes([len(both_verify)]) + both_verify:
        return Answer(True, "the server answered with a ServerHello", secure=True)
    if echo is None:
        return Answer(True, "the server answered with a ServerHello without renegotiation_info "
                      "(insecure renegotiation, RFC 5746 absent)", secure=False)
    return Answer(True, "the server answered with a ServerHello whose renegotiation_info does "
                  "not carry both Finished verify_data (insecure renegotiation)", secure=False)


__all__ = ["Answer", "Suite", "choose_version", "client_renegotiation", "handshake_hash",
           "key_block", "offer", "prf", "spoken"]
