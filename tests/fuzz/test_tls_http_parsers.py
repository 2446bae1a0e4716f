"""Fuzzing the parsers that read what targets send: TLS records and handshakes, HTTP heads.

Each property feeds bounded random or mutated input and accepts only a result or
the parser's documented error (:class:`ParseError` for TLS messages, ValueError
for a response head that is not HTTP); any other exception is a crash.
Hypothesis keeps no example database (a run does not replay the last one's
failures: each regression found is pinned with ``@example``) and has no
deadline: the input sizes bound the time, not a clock.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scanner.plugins.http import parse as http
from scanner.plugins.tls import records
from scanner.plugins.tls.certs import describe_chain
from scanner.plugins.tls.records import ParseError

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HEAVY = settings(FUZZ, max_examples=120)

latin1 = st.text(st.characters(max_codepoint=255), max_size=300)
wire = st.binary(max_size=4096)


# -- TLS records and handshake messages -------------------------------------------------


def _u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


@st.composite
def server_hellos(draw: st.DrawFn) -> bytes:
    """Well-formed ServerHello bodies, then maybe cut or with one byte changed."""
    extensions = draw(st.lists(st.tuples(
        st.sampled_from([0, 5, 10, 11, 16, 23, 43, 51, 65281, draw(st.integers(0, 65535))]),
        st.binary(max_size=80),
    ), max_size=6))
    ext_bytes = b"".join(_u16(t) + _u16(len(d)) + d for t, d in extensions)
    session_id = draw(st.binary(max_size=40))
    body = (
        _u16(draw(st.sampled_from([0x0300, 0x0301, 0x0303, 0x0304, 0x0200, 0x7F1C])))
        + draw(st.sampled_from([records.HRR_RANDOM, bytes(32)]))
        + bytes([len(session_id)]) + session_id
        + _u16(draw(st.integers(0, 65535))) + bytes([draw(st.integers(0, 255))])
        + (_u16(len(ext_bytes)) + ext_bytes if draw(st.booleans()) else b"")
    )
    return draw(_mutated(body))


def _mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` unchanged, cut short, with one byte replaced, or with bytes appended."""
    if not data:
        return st.just(data)
    return st.one_of(
        st.just(data),
        st.integers(0, len(data)).map(lambda n: data[:n]),
        st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)).map(
            lambda change: data[: change[0]] + bytes([change[1]]) + data[change[0] + 1 :]
        ),
        st.binary(min_size=1, max_size=64).map(lambda tail: data + tail),
    )


def _look_at_server_hello(hello: records.ServerHello) -> None:
    """Read every property: only ``key_share`` may raise (ParseError) on a bad extension."""
    _ = (hello.version, hello.key_share_group, hello.staples_ocsp, hello.is_hrr)
    try:
        _ = hello.key_share
    except ParseError:
        pass


@FUZZ
@given(st.one_of(server_hellos(), wire))
def test_server_hello(body: bytes) -> None:
    try:
        hello = records.parse_server_hello(body)
    except ParseError:
        return
    _look_at_server_hello(hello)


@st.composite
def certificate_messages(draw: st.DrawFn) -> tuple[bytes, bool]:
    tls13 = draw(st.booleans())
    entries = b""
    for cert in draw(st.lists(st.binary(max_size=120), max_size=4)):
        entries += len(cert).to_bytes(3, "big") + cert
        if tls13:
            ext = draw(st.sampled_from([b"", _u16(5) + _u16(4) + b"\x01\x00\x00\x00"]))
            entries += _u16(len(ext)) + ext
    body = (b"\x00" if tls13 else b"") + len(entries).to_bytes(3, "big") + entries
    return draw(_mutated(body)), tls13


@FUZZ
@given(st.one_of(certificate_messages(), st.tuples(wire, st.booleans())))
def test_certificate_message(case: tuple[bytes, bool]) -> None:
    body, tls13 = case
    try:
        message = records.parse_certificate(body, tls13=tls13)
    except ParseError:
        return
    assert all(message.chain)


@FUZZ
@given(wire)
def test_certificate_status(body: bytes) -> None:
    try:
        records.parse_certificate_status(body)
    except ParseError:
        pass


KEX = ["DHE", "DH", "ECDHE", "ECDH", "RSA", "PSK", "DHE_PSK", "ECDHE_PSK", "RSA_PSK", "SRP"]


@FUZZ
@given(wire, st.sampled_from(KEX))
def test_server_key_exchange(body: bytes, kex: str) -> None:
    try:
        records.parse_server_key_exchange(body, kex)
    except ParseError:
        pass


@FUZZ
@given(st.lists(wire, max_size=4))
def test_record_buffer(chunks: list[bytes]) -> None:
    buffer = records.RecordBuffer()
    try:
        for chunk in chunks:
            for record in buffer.feed(chunk):
                assert len(record.fragment) <= records.MAX_RECORD
        buffer.check_eof()
    except ParseError:
        pass


@st.composite
def record_streams(draw: st.DrawFn) -> bytes:
    """TLS records with plausible headers around random handshake fragments."""
    stream = b""
    for fragment in draw(st.lists(st.binary(max_size=300), max_size=4)):
        ctype = draw(st.sampled_from([20, 21, 22, 23, 24]))
        stream += struct.pack("!BBBH", ctype, 3, draw(st.integers(0, 4)), len(fragment)) + fragment
    return draw(_mutated(stream))


@FUZZ
@given(st.one_of(record_streams(), wire), st.integers(1, 64))
def test_records_into_handshake_messages(stream: bytes, step: int) -> None:
    buffer, assembler = records.RecordBuffer(), records.HandshakeAssembler()
    try:
        for start in range(0, len(stream), step):
            for record in buffer.feed(stream[start : start + step]):
                if record.content_type == records.ContentType.ALERT:
                    _ = records.parse_alert(record.fragment).name
                elif record.content_type == records.ContentType.HANDSHAKE:
                    for msg_type, body in assembler.feed(record.fragment):
                        if msg_type == records.HandshakeType.SERVER_HELLO:
                            _look_at_server_hello(records.parse_server_hello(body))
        buffer.check_eof()
        assembler.check_eof()
    except ParseError:
        pass


@FUZZ
@given(st.one_of(wire, wire.map(lambda b: bytes([0x80 | (len(b) >> 8 & 0x7F), len(b) & 0xFF]) + b)))
def test_sslv2_server_hello(data: bytes) -> None:
    records.sslv2_record_length(data)
    try:
        records.parse_sslv2_server_hello(data)
    except ParseError:
        pass


# -- certificates -------------------------------------------------------------------------


def _chain() -> tuple[bytes, bytes]:
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz.lab.test")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=5))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("fuzz.lab.test"), x509.DNSName("*.lab.test")]), critical=False)
        .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier("http://ca.lab.test/ca.der"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return leaf.public_bytes(Encoding.DER), ca.public_bytes(Encoding.DER)


LEAF, CA = _chain()
V2_LEAF = LEAF.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x01", 1)
"""The leaf claiming X.509 version 2: cryptography raises InvalidVersion, not a ValueError."""


@HEAVY
@given(st.one_of(_mutated(LEAF), wire), st.booleans(), st.one_of(st.none(), wire))
@example(V2_LEAF, False, None)
def test_describe_chain_never_raises(leaf: bytes, with_ca: bool, ocsp: bytes | None) -> None:
    facts = describe_chain(
        [leaf, CA] if with_ca else [leaf], "fuzz.lab.test", ca_file=None,
        now=dt.datetime.now(dt.UTC), ocsp_response=ocsp, ocsp_stapled=ocsp is not None,
        system_store=None,
    )
    assert isinstance(facts["certificates"], list)


# -- HTTP ---------------------------------------------------------------------------------

HEADER_NAMES = ["Strict-Transport-Security", "Set-Cookie", "Content-Security-Policy",
                "Location", "Referrer-Policy", "X-Frame-Options", "Server", "X-Powered-By",
                "X-Content-Type-Options", "Permissions-Policy"]
hsts_values = st.one_of(
    latin1,
    st.builds(lambda zeros, digits, rest: "max-age=" + "0" * zeros + "9" * digits + rest,
              st.integers(0, 50), st.integers(0, 6000), latin1),
    st.lists(st.sampled_from(["max-age=1", "max-age", 'max-age="5"', "includeSubDomains",
                              "preload=1", "a b", "", "max-age=-1"]), max_size=40).map("; ".join),
)
header_values = st.one_of(latin1, hsts_values)


@st.composite
def response_heads(draw: st.DrawFn) -> bytes:
    lines = [draw(st.sampled_from(["HTTP/1.1 200 OK", "HTTP/1.0 301 Moved", "HTTP/1.1 308",
                                   "HTTP/2 200", "http/1.1 200 OK"]))]
    for name, value in draw(st.lists(st.tuples(
        st.one_of(st.sampled_from(HEADER_NAMES), latin1), header_values), max_size=12,
    )):
        lines.append(f"{name}: {value}" if draw(st.booleans()) else f" {value}")
    ending = draw(st.sampled_from(["\r\n", "\n"]))
    return (ending.join(lines) + ending * 2).encode("latin-1")


@FUZZ
@given(st.one_of(response_heads(), wire))
def test_response_head_and_every_header_parser(data: bytes) -> None:
    try:
        head = http.parse_response_head(data)
    except ValueError:
        return
    http.header_map(head)
    hsts = http.parse_hsts(head.values("strict-transport-security"))
    assert hsts["max_age"] is None or 0 <= hsts["max_age"] <= http.MAX_AGE_CAP
    http.security_header_facts(head)
    for cookie in head.values("set-cookie"):
        assert "=<redacted>" in http.parse_set_cookie(cookie)["attributes"]
    http.product_disclosure(head.first("server"))
    http.redirect_facts(head.status, head.first("location"), "http://www.lab.test/", "www.lab.test")


@FUZZ
@given(st.lists(hsts_values, max_size=3))
def test_hsts(values: list[str]) -> None:
    facts = http.parse_hsts(values)
    assert facts["malformed"] is None or len(facts["malformed"]) < 1000


@FUZZ
@given(latin1, latin1)
def test_csp_and_referrer_policy(csp: str, referrer: str) -> None:
    http.csp_directives(csp)
    http.frame_ancestors([csp])
    http.effective_referrer_policy([referrer])


url_parts = st.text(st.sampled_from([*"aZ09.-_:[]@%\"<> /\\?#", "ü", "\x00", "\x1b"]),
                    max_size=40)


@FUZZ
@given(st.one_of(
    st.builds(lambda scheme, rest: f"{scheme}://{rest}",
              st.sampled_from(["https", "HTTPS", "http", "javascript", ""]), url_parts),
    st.text(max_size=200),
))
def test_redirect_location(location: str) -> None:
    facts = http.redirect_facts(301, location, "http://www.lab.test/", "www.lab.test")
    if facts["redirects_to_https"]:
        target = urlsplit(urljoin("http://www.lab.test/", location.strip()))
        assert target.scheme.lower() == "https"
        assert not re.search(r"[\s\"'<>\\]", target.netloc)
