"""Pure TLS/SSL record code: build ClientHellos, parse what servers answer.

No I/O here. The builders return the exact bytes to send; the parsers take
bytes and either return frozen dataclasses or raise :class:`ParseError` with a
message precise enough to put in a finding ("handshake message type 11
declares 5000 bytes but the connection closed after 1200").
"""

from __future__ import annotations

import enum
import ipaddress
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

MAX_RECORD = 2**14 + 2048  # largest legal TLSCiphertext fragment
HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")


class ParseError(ValueError):
    """The server's bytes are not a well-formed TLS/SSL message."""


class NotTLS(ParseError):
    """The server answered with something that is not TLS at all (e.g. plain HTTP)."""


class ContentType(enum.IntEnum):
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23
    HEARTBEAT = 24


COMPRESSION_NAMES = {0: "null", 1: "DEFLATE", 64: "LZS"}
TLS_FALLBACK_SCSV = 0x5600  # RFC 7507


class HandshakeType(enum.IntEnum):
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    NEW_SESSION_TICKET = 4
    ENCRYPTED_EXTENSIONS = 8
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    SERVER_HELLO_DONE = 14
    CERTIFICATE_VERIFY = 15
    FINISHED = 20
    CERTIFICATE_STATUS = 22
    MESSAGE_HASH = 254


class Ext(enum.IntEnum):
    SERVER_NAME = 0
    STATUS_REQUEST = 5
    SUPPORTED_GROUPS = 10
    EC_POINT_FORMATS = 11
    SIGNATURE_ALGORITHMS = 13
    HEARTBEAT = 15
    SIGNED_CERTIFICATE_TIMESTAMP = 18
    PADDING = 21
    EXTENDED_MASTER_SECRET = 23
    SESSION_TICKET = 35
    SUPPORTED_VERSIONS = 43
    COOKIE = 44
    PSK_KEY_EXCHANGE_MODES = 45
    KEY_SHARE = 51
    RENEGOTIATION_INFO = 0xFF01


ALERT_NAMES = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


# ---------------------------------------------------------------- building


def _u8(n: int) -> bytes:
    return struct.pack("!B", n)


def _u16(n: int) -> bytes:
    return struct.pack("!H", n)


def _u24(n: int) -> bytes:
    return struct.pack("!I", n)[1:]


def _vec8(data: bytes) -> bytes:
    return _u8(len(data)) + data


def vec16(data: bytes) -> bytes:
    return _u16(len(data)) + data


def _vec24(data: bytes) -> bytes:
    return _u24(len(data)) + data


def _ext(ext_type: int, data: bytes) -> bytes:
    return _u16(ext_type) + vec16(data)


def sni_name(host: str | None) -> str | None:
    """The server_name to send for ``host``: DNS names only (RFC 6066 forbids IP literals)."""
    if not host:
        return None
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.rstrip(".").lower()
    return None


@dataclass(frozen=True)
class ClientHelloSpec:
    """Everything a ClientHello we send can vary in.

    ``version`` is the highest version offered (wire value, e.g. 0x0303);
    ``tls13`` adds supported_versions=[1.3] and uses ``key_shares`` (an empty
    tuple asks the server for a HelloRetryRequest naming its group).
    ``extensions=False`` gives a bare SSLv3-style hello.
    """

    version: int
    suites: tuple[int, ...]
    sni: str | None = None
    groups: tuple[int, ...] = ()
    signature_schemes: tuple[int, ...] = ()
    tls13: bool = False
    key_shares: tuple[tuple[int, bytes], ...] = ()
    status_request: bool = True
    extensions: bool = True
    random: bytes = field(default_factory=lambda: os.urandom(32))
    session_id: bytes = b""
    cookie: bytes | None = None  # TLS 1.3: echoed from a HelloRetryRequest
    pad_to: int = 512
    compression: tuple[int, ...] = (0,)  # TLS 1.3 allows only null (0)
    heartbeat: bool = False  # RFC 6520 heartbeat extension, peer_allowed_to_send
    session_ticket: bool = False  # RFC 5077: an empty ticket asks for a new one
    sct: bool = False  # RFC 6962: ask for SCTs in the signed_certificate_timestamp extension
    renegotiation: bytes = b""  # RFC 5746: client_verify_data, in a renegotiating hello only


def client_hello_body(spec: ClientHelloSpec) -> bytes:
    """The ClientHello handshake message (header included), without the record layer."""
    if len(spec.random) != 32:
        raise ValueError("client random must be 32 bytes")
    legacy_version = 0x0303 if spec.tls13 else spec.version
    suites = b"".join(_u16(s) for s in spec.suites)
    if not spec.extensions:
        # SSLv3 hellos signal secure renegotiation with the SCSV instead of the extension.
        suites += _u16(0x00FF)
    body = (
        _u16(legacy_version)
        + spec.random
        + _vec8(spec.session_id)
        + vec16(suites)
        + _vec8(bytes(spec.compression))
    )
    if spec.extensions:
        body += vec16(_extensions(spec, len(body)))
    return _u8(HandshakeType.CLIENT_HELLO) + _vec24(body)


def _extensions(spec: ClientHelloSpec, body_so_far: int) -> bytes:
    exts = b""
    name = sni_name(spec.sni)
    if name:
        encoded = name.encode("idna") if not name.isascii() else name.encode()
        exts += _ext(Ext.SERVER_NAME, vec16(b"\x00" + vec16(encoded)))
    if spec.status_request:
        exts += _ext(Ext.STATUS_REQUEST, b"\x01" + _u16(0) + _u16(0))
    if spec.groups:
        exts += _ext(Ext.SUPPORTED_GROUPS, vec16(b"".join(_u16(g) for g in spec.groups)))
        exts += _ext(Ext.EC_POINT_FORMATS, _vec8(b"\x00"))
    if spec.signature_schemes and (spec.tls13 or spec.version >= 0x0303):
        exts += _ext(Ext.SIGNATURE_ALGORITHMS,
                     vec16(b"".join(_u16(s) for s in spec.signature_schemes)))
    exts += _ext(Ext.EXTENDED_MASTER_SECRET, b"")
    if spec.session_ticket:
        exts += _ext(Ext.SESSION_TICKET, b"")
    if spec.sct:
        exts += _ext(Ext.SIGNED_CERTIFICATE_TIMESTAMP, b"")
    exts += _ext(Ext.RENEGOTIATION_INFO, _vec8(spec.renegotiation))
    if spec.heartbeat:
        exts += _ext(Ext.HEARTBEAT, b"\x01")
    if spec.tls13:
        exts += _ext(Ext.SUPPORTED_VERSIONS, _vec8(_u16(0x0304)))
        exts += _ext(Ext.PSK_KEY_EXCHANGE_MODES, _vec8(b"\x01"))
        shares = b"".join(_u16(g) + vec16(key) for g, key in spec.key_shares)
        exts += _ext(Ext.KEY_SHARE, vec16(shares))
        if spec.cookie is not None:
            exts += _ext(Ext.COOKIE, spec.cookie)
    # RFC 7685 padding: hellos of 256-511 bytes hang some F5 load balancers.
    hello_len = 4 + body_so_far + 2 + len(exts)
    if hello_len < spec.pad_to:
        pad = spec.pad_to - hello_len - 4
        exts += _ext(Ext.PADDING, b"\x00" * max(pad, 0))
    return exts


def record(content_type: int, version: int, payload: bytes) -> bytes:
    """Wrap ``payload`` in records of at most 2**14 bytes."""
    out = b""
    for start in range(0, max(len(payload), 1), 2**14):
        chunk = payload[start : start + 2**14]
        out += _u8(content_type) + _u16(version) + vec16(chunk)
    return out


def build_client_hello(spec: ClientHelloSpec) -> bytes:
    """The bytes to send: the ClientHello in handshake record(s).

    The record layer says TLS 1.0 (0x0301) for every TLS hello, as browsers do,
    and SSL 3.0 for an SSLv3 hello; servers judge the version inside the hello.
    """
    record_version = 0x0300 if spec.version == 0x0300 else 0x0301
    return record(ContentType.HANDSHAKE, record_version, client_hello_body(spec))


def heartbeat_request(version: int, claimed: int = 0x4000) -> bytes:
    """A heartbeat request record claiming ``claimed`` payload bytes and carrying none.

    RFC 6520 says to discard it; a Heartbleed-vulnerable OpenSSL copies
    ``claimed`` bytes of its memory into the response instead.
    """
    return record(ContentType.HEARTBEAT, version, _u8(1) + _u16(claimed))


def change_cipher_spec(version: int) -> bytes:
    """A ChangeCipherSpec record (sent early, it is the CVE-2014-0224 probe)."""
    return record(ContentType.CHANGE_CIPHER_SPEC, version, b"\x01")


def build_sslv2_client_hello(cipher_specs: Sequence[int], challenge: bytes | None = None) -> bytes:
    """An SSL 2.0 CLIENT-HELLO offering only SSL 2.0 (version 0x0002)."""
    challenge = challenge if challenge is not None else os.urandom(16)
    specs = b"".join(struct.pack("!I", c)[1:] for c in cipher_specs)
    msg = (
        b"\x01"
        + _u16(0x0002)
        + _u16(len(specs))
        + _u16(0)
        + _u16(len(challenge))
        + specs
        + challenge
    )
    return _u16(0x8000 | len(msg)) + msg


# ---------------------------------------------------------------- parsing


class _Reader:
    """Bounds-checked cursor over one message; every overrun is a ParseError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int, field_name: str) -> bytes:
        if self.pos + n > len(self.data):
            raise ParseError(
                f"{self.what}: {field_name} needs {n} bytes at offset {self.pos}, "
                f"only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, name: str) -> int:
        return self.take(1, name)[0]

    def u16(self, name: str) -> int:
        return int.from_bytes(self.take(2, name), "big")

    def u24(self, name: str) -> int:
        return int.from_bytes(self.take(3, name), "big")

    def vec8(self, name: str) -> bytes:
        return self.take(self.u8(name + " length"), name)

    def vec16(self, name: str) -> bytes:
        return self.take(self.u16(name + " length"), name)

    def vec24(self, name: str) -> bytes:
        return self.take(self.u24(name + " length"), name)

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def end(self) -> None:
        if self.left:
            raise ParseError(f"{self.what}: {self.left} unexpected trailing bytes")


class Record(NamedTuple):
    content_type: int
    version: int
    fragment: bytes


class Alert(NamedTuple):
    level: int
    description: int

    @property
    def name(self) -> str:
        return ALERT_NAMES.get(self.description, f"alert_{self.description}")

    @property
    def fatal(self) -> bool:
        return self.level == 2


def _describe_garbage(data: bytes) -> str:
    head = data[:16]
    printable = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    if printable:
        text = head.decode("ascii").splitlines()[0] if head.strip() else ""
        return f"text {text!r}"
    return "bytes " + head.hex(" ")


class RecordBuffer:
    """Accumulates bytes from the wire and yields complete TLS records."""

    def __init__(self) -> None:
        self._buf = b""
        self.total = 0

    def feed(self, data: bytes) -> list[Record]:
        self._buf += data
        self.total += len(data)
        out: list[Record] = []
        while len(self._buf) >= 5:
            if out and out[-1].content_type == ContentType.ALERT:
                break  # what follows an alert is not read: vsftpd adds a plain "500 OOPS"
            ctype, major, minor, length = struct.unpack("!BBBH", self._buf[:5])
            if ctype not in ContentType._value2member_map_ or major != 3 or minor > 4:
                if self.total == len(self._buf) and self._buf.startswith(b"HTTP/"):
                    raise NotTLS(f"the server answered in plain HTTP ({_describe_garbage(self._buf)})")
                if not out and self.total == len(self._buf):
                    raise NotTLS(f"the server's answer is not TLS ({_describe_garbage(self._buf)})")
                raise ParseError(
                    f"malformed TLS record header {self._buf[:5].hex(' ')} "
                    f"at byte {self.total - len(self._buf)} of the answer"
                )
            if length > MAX_RECORD:
                raise ParseError(f"TLS record declares {length} bytes, above the 18432-byte maximum")
            if len(self._buf) < 5 + length:
                break
            out.append(Record(ctype, (major << 8) | minor, self._buf[5 : 5 + length]))
            self._buf = self._buf[5 + length :]
        return out

    def check_eof(self) -> None:
        """Call when the peer closed: leftover bytes mean a truncated record."""
        if not self._buf:
            return
        if len(self._buf) < 5:
            if self.total == len(self._buf) and self._buf.startswith(b"HTTP"):
                raise NotTLS(f"the server answered in plain HTTP ({_describe_garbage(self._buf)})")
            raise ParseError(
                f"connection closed inside a TLS record header ({len(self._buf)} of 5 bytes)"
            )
        length = int.from_bytes(self._buf[3:5], "big")
        raise ParseError(
            f"connection closed inside a TLS record: got {len(self._buf) - 5} of {length} bytes"
        )


def parse_alert(fragment: bytes) -> Alert:
    if len(fragment) != 2:
        raise ParseError(f"alert record of {len(fragment)} bytes (an alert is 2 bytes)")
    return Alert(fragment[0], fragment[1])


class HandshakeAssembler:
    """Reassembles handshake messages that span (or share) records."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, fragment: bytes) -> list[tuple[int, bytes]]:
        self._buf += fragment
        out: list[tuple[int, bytes]] = []
        while len(self._buf) >= 4:
            msg_type = self._buf[0]
            length = int.from_bytes(self._buf[1:4], "big")
            if length > 2**24 - 1 or length > 1 << 20:
                raise ParseError(f"handshake message type {msg_type} declares {length} bytes")
            if len(self._buf) < 4 + length:
                break
            out.append((msg_type, self._buf[4 : 4 + length]))
            self._buf = self._buf[4 + length :]
        return out

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def check_eof(self) -> None:
        if not self._buf:
            return
        if len(self._buf) < 4:
            raise ParseError(f"connection closed inside a handshake header ({len(self._buf)} of 4 bytes)")
        length = int.from_bytes(self._buf[1:4], "big")
        raise ParseError(
            f"handshake message type {self._buf[0]} declares {length} bytes but the connection "
            f"closed after {len(self._buf) - 4}"
        )


class ServerHello(NamedTuple):
    legacy_version: int
    random: bytes
    session_id: bytes
    cipher: int
    compression: int
    extensions: tuple[tuple[int, bytes], ...]

    @property
    def is_hrr(self) -> bool:
        return self.random == HRR_RANDOM

    def ext(self, ext_type: int) -> bytes | None:
        for t, data in self.extensions:
            if t == ext_type:
                return data
        return None

    @property
    def version(self) -> int:
        """The negotiated version: supported_versions when present (TLS 1.3), else legacy."""
        data = self.ext(Ext.SUPPORTED_VERSIONS)
        if data is not None and len(data) == 2:
            return int.from_bytes(data, "big")
        return self.legacy_version

    @property
    def key_share_group(self) -> int | None:
        data = self.ext(Ext.KEY_SHARE)
        if data is None or len(data) < 2:
            return None
        return int.from_bytes(data[:2], "big")

    @property
    def key_share(self) -> bytes | None:
        """The server's public key share (ServerHello, not HRR)."""
        data = self.ext(Ext.KEY_SHARE)
        if data is None or self.is_hrr:
            return None
        r = _Reader(data, "key_share extension")
        r.u16("group")
        key = r.vec16("key_exchange")
        r.end()
        return key

    @property
    def secure_renegotiation(self) -> bool:
        """RFC 5746: an initial handshake's renegotiation_info echo is one empty vector."""
        return self.ext(Ext.RENEGOTIATION_INFO) == b"\x00"

    @property
    def session_ticket(self) -> bool:
        """The server will issue a session ticket (RFC 5077)."""
        return self.ext(Ext.SESSION_TICKET) is not None

    @property
    def sct_count(self) -> int:
        """SCTs in the signed_certificate_timestamp extension (RFC 6962), 0 without it."""
        data = self.ext(Ext.SIGNED_CERTIFICATE_TIMESTAMP)
        return 0 if data is None else count_scts(data)

    @property
    def heartbeat(self) -> bool:
        """The server answered the RFC 6520 heartbeat extension."""
        return self.ext(Ext.HEARTBEAT) is not None

    @property
    def staples_ocsp(self) -> bool:
        """TLS <= 1.2: an (empty) status_request echo promises a CertificateStatus message."""
        return self.ext(Ext.STATUS_REQUEST) is not None


def parse_server_hello(body: bytes) -> ServerHello:
    r = _Reader(body, "ServerHello")
    version = r.u16("version")
    if version >> 8 != 3:
        raise ParseError(f"ServerHello: version 0x{version:04X} is not SSL 3 / TLS")
    random = r.take(32, "random")
    session_id = r.vec8("session_id")
    if len(session_id) > 32:
        raise ParseError(f"ServerHello: session_id of {len(session_id)} bytes (max 32)")
    cipher = r.u16("cipher_suite")
    compression = r.u8("compression_method")
    exts: list[tuple[int, bytes]] = []
    if r.left:
        er = _Reader(r.vec16("extensions"), "ServerHello extensions")
        while er.left:
            ext_type = er.u16("extension type")
            exts.append((ext_type, er.vec16(f"extension {ext_type}")))
    r.end()
    return ServerHello(version, random, session_id, cipher, compression, tuple(exts))


def count_scts(data: bytes) -> int:
    """The number of SCTs in a SignedCertificateTimestampList (RFC 6962 section 3.3)."""
    r = _Reader(data, "SignedCertificateTimestampList")
    lr = _Reader(r.vec16("sct_list"), "SCT list")
    r.end()
    count = 0
    while lr.left:
        if not lr.vec16(f"SCT {count}"):
            raise ParseError(f"SignedCertificateTimestampList: SCT {count} is empty")
        count += 1
    return count


class CertificateMessage(NamedTuple):
    chain: tuple[bytes, ...]
    ocsp_response: bytes | None = None  # TLS 1.3: status_request extension of the leaf entry
    sct_count: int = 0  # TLS 1.3: signed_certificate_timestamp extension of the leaf entry


def parse_certificate(body: bytes, tls13: bool = False) -> CertificateMessage:
    r = _Reader(body, "Certificate")
    if tls13:
        r.vec8("certificate_request_context")
    lr = _Reader(r.vec24("certificate_list"), "Certificate list")
    r.end()
    chain: list[bytes] = []
    ocsp: bytes | None = None
    scts = 0
    while lr.left:
        cert = lr.vec24(f"certificate {len(chain)}")
        if not cert:
            raise ParseError(f"Certificate: certificate {len(chain)} is empty")
        if tls13:
            er = _Reader(lr.vec16("certificate entry extensions"), "certificate entry extensions")
            while er.left:
                ext_type = er.u16("extension type")
                data = er.vec16(f"extension {ext_type}")
                if ext_type == Ext.STATUS_REQUEST and not chain:
                    ocsp = parse_certificate_status(data)
                elif ext_type == Ext.SIGNED_CERTIFICATE_TIMESTAMP and not chain:
                    scts = count_scts(data)
        chain.append(cert)
    return CertificateMessage(tuple(chain), ocsp, scts)


def parse_certificate_status(body: bytes) -> bytes:
    """CertificateStatus (RFC 6066): status_type ocsp(1) + the DER OCSPResponse."""
    r = _Reader(body, "CertificateStatus")
    status_type = r.u8("status_type")
    if status_type != 1:
        raise ParseError(f"CertificateStatus: unknown status_type {status_type}")
    response = r.vec24("ocsp_response")
    r.end()
    return response


class KeyExchangeParams(NamedTuple):
    """What a ServerKeyExchange tells about the ephemeral key: DH modulus or EC group."""

    kind: str  # "dh", "ecdh", "rsa" (export temporary key), "psk" (hint only), "other"
    dh_bits: int | None = None
    group: int | None = None  # named curve code point
    explicit_curve: bool = False
    rsa_bits: int | None = None
    signature_scheme: int | None = None  # TLS 1.2: the scheme that signed the parameters
    dh_prime: int | None = None
    dh_generator: int | None = None


def parse_server_key_exchange(body: bytes, kex: str, tls12: bool = False) -> KeyExchangeParams:
    """Parse a ServerKeyExchange for key exchange ``kex``; in TLS 1.2, its signature scheme too."""
    params = _key_exchange_params(body, kex)
    rest = body[params[1]:]
    if tls12 and len(rest) >= 2:
        return params[0]._replace(signature_scheme=int.from_bytes(rest[:2], "big"))
    return params[0]


def _key_exchange_params(body: bytes, kex: str) -> tuple[KeyExchangeParams, int]:
    """Parse the parameters part of a ServerKeyExchange for key exchange ``kex``.

    ``kex`` is the suite's key exchange as in :mod:`suites` (``DHE``,
    ``ECDHE``, ``DHE_PSK``, ``ECDHE_PSK``, ``RSA`` for export suites, ...).
    Returns the parameters and where they end (the signature, not checked,
    follows).
    """
    r = _Reader(body, f"ServerKeyExchange ({kex})")
    if kex.endswith("_PSK") or kex == "PSK":
        r.vec16("psk_identity_hint")
        if kex in ("PSK", "RSA_PSK"):
            return KeyExchangeParams("psk"), r.pos
        kex = kex.removesuffix("_PSK")
    if kex in ("DHE", "DH"):
        p = int.from_bytes(r.vec16("dh_p"), "big")
        g = int.from_bytes(r.vec16("dh_g"), "big")
        r.vec16("dh_Ys")
        return KeyExchangeParams("dh", dh_bits=p.bit_length(), dh_prime=p, dh_generator=g), r.pos
    if kex in ("ECDHE", "ECDH"):
        curve_type = r.u8("curve_type")
        if curve_type == 3:
            group = r.u16("named_curve")
            r.vec8("public point")
            return KeyExchangeParams("ecdh", group=group), r.pos
        if curve_type in (1, 2):
            return KeyExchangeParams("ecdh", explicit_curve=True), len(body)
        raise ParseError(f"ServerKeyExchange: unknown ECParameters curve_type {curve_type}")
    if kex == "RSA":
        modulus = r.vec16("rsa_modulus")
        r.vec16("rsa_exponent")
        return KeyExchangeParams("rsa", rsa_bits=int.from_bytes(modulus, "big").bit_length()), r.pos
    return KeyExchangeParams("other"), len(body)


class SSLv2ServerHello(NamedTuple):
    certificate: bytes
    cipher_specs: tuple[int, ...]
    version: int


def parse_sslv2_server_hello(data: bytes) -> SSLv2ServerHello:
    """Parse an SSL 2.0 SERVER-HELLO (record header included)."""
    if len(data) < 2:
        raise ParseError("SSLv2 answer shorter than its 2-byte header")
    if not data[0] & 0x80:
        raise ParseError("SSLv2 answer uses a 3-byte header, which a SERVER-HELLO never does")
    length = ((data[0] & 0x7F) << 8) | data[1]
    if len(data) < 2 + length:
        raise ParseError(f"SSLv2 record declares {length} bytes, got {len(data) - 2}")
    r = _Reader(data[2 : 2 + length], "SSLv2 SERVER-HELLO")
    msg_type = r.u8("msg_type")
    if msg_type == 0:
        raise ParseError(f"SSLv2 ERROR message (code {r.u16('error_code')})")
    if msg_type != 4:
        raise ParseError(f"SSLv2 message type {msg_type} where SERVER-HELLO (4) was expected")
    r.u8("session_id_hit")
    r.u8("certificate_type")
    version = r.u16("server_version")
    cert_len = r.u16("certificate_length")
    specs_len = r.u16("cipher_specs_length")
    conn_len = r.u16("connection_id_length")
    cert = r.take(cert_len, "certificate")
    if specs_len % 3:
        raise ParseError(f"SSLv2 SERVER-HELLO: cipher specs length {specs_len} is not a multiple of 3")
    specs = r.take(specs_len, "cipher_specs")
    r.take(conn_len, "connection_id")
    codes = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, len(specs), 3))
    return SSLv2ServerHello(cert, codes, version)


def sslv2_record_length(data: bytes) -> int | None:
    """Total bytes of the first SSLv2 record in ``data`` (None until the header is in)."""
    if len(data) < 2:
        return None
    if data[0] & 0x80:
        return 2 + (((data[0] & 0x7F) << 8) | data[1])
    if len(data) < 3:
        return None
    return 3 + (((data[0] & 0x3F) << 8) | data[1])
