"""ClientHello building and server-answer parsing, on recorded bytes."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path
from typing import Any

import pytest

from scanner.plugins.tls import records as R
from scanner.plugins.tls import suites as S
from scanner.plugins.tls.probe import Endpoint, Prober

DATA = Path(__file__).resolve().parents[1] / "data" / "tls"


def recorded(name: str) -> bytes:
    return (DATA / f"{name}.server.bin").read_bytes()


def handshakes(data: bytes) -> list[tuple[int, bytes]]:
    buf, asm = R.RecordBuffer(), R.HandshakeAssembler()
    out: list[tuple[int, bytes]] = []
    for rec in buf.feed(data):
        if rec.content_type == R.ContentType.HANDSHAKE:
            out += asm.feed(rec.fragment)
    return out


def spec(**kw: object) -> R.ClientHelloSpec:
    base: dict[str, object] = {"version": 0x0303, "suites": (0xC02F, 0x009C), "sni": "a.example",
                               "groups": (29, 23), "signature_schemes": (0x0804,)}
    base.update(kw)
    return R.ClientHelloSpec(**base)  # type: ignore[arg-type]


class TestBuilder:
    def test_tls12_hello_carries_the_offered_suites(self, lab: Any) -> None:
        hello = lab.parse_client_hello(R.build_client_hello(spec()))
        assert hello["version"] == 0x0303 and hello["suites"] == [0xC02F, 0x009C]

    def test_sni_is_sent_for_names(self, lab: Any) -> None:
        exts = lab.parse_client_hello(R.build_client_hello(spec()))["exts"]
        assert isinstance(exts, dict) and exts[R.Ext.SERVER_NAME].endswith(b"a.example")

    @pytest.mark.parametrize("host", ["192.0.2.1", "::1", "[::1]"], ids=["ipv4", "ipv6", "bracketed"])
    def test_no_sni_for_ip_literals(self, host: str, lab: Any) -> None:
        exts = lab.parse_client_hello(R.build_client_hello(spec(sni=host)))["exts"]
        assert isinstance(exts, dict) and R.Ext.SERVER_NAME not in exts

    @pytest.mark.parametrize(("protocol", "compression", "heartbeat"), [
        (S.Protocol.TLSv1_2, [1, 0], True),
        (S.Protocol.TLSv1_0, [1, 0], True),
        (S.Protocol.SSLv3, [1, 0], False),
        (S.Protocol.TLSv1_3, [0], False),
    ], ids=["tls12", "tls10", "sslv3-no-extensions", "tls13-null-only"])
    def test_probe_hellos_ask_for_deflate_and_heartbeats_below_tls13(
            self, protocol: S.Protocol, compression: list[int], heartbeat: bool, lab: Any) -> None:
        prober = Prober(Endpoint("127.0.0.1", 443, "a.example"), 1.0, contextlib.nullcontext)
        hello = lab.parse_client_hello(R.build_client_hello(prober.spec(protocol, (0xC02F,))))
        assert (hello["compression"], R.Ext.HEARTBEAT in hello["exts"]) == (  # type: ignore[operator]
            compression, heartbeat)

    def test_heartbeat_request_claims_more_than_it_carries(self) -> None:
        assert R.heartbeat_request(0x0303) == bytes.fromhex("1803030003014000")

    def test_server_hello_renegotiation_info(self) -> None:
        body = (b"\x03\x03" + b"r" * 32 + b"\x00\xc0\x2f\x01" + b"\x00\x05\xff\x01\x00\x01\x00")
        sh = R.parse_server_hello(body)
        assert (sh.secure_renegotiation, sh.compression, sh.heartbeat) == (True, 1, False)

    @pytest.mark.parametrize(("data", "count"), [
        (bytes.fromhex("0000"), 0), (bytes.fromhex("000a 0003 616263 0003 646566"), 2)],
        ids=["empty", "two"])
    def test_sct_list_is_counted(self, data: bytes, count: int) -> None:
        assert R.count_scts(data) == count

    def test_sct_list_overrun_is_a_parse_error(self) -> None:
        with pytest.raises(R.ParseError, match="SCT 0"):
            R.count_scts(bytes.fromhex("0004 0009 6162"))

    def test_tls12_server_key_exchange_names_its_signature_scheme(self) -> None:
        params = b"\x03\x00\x1d" + b"\x01" + b"k"
        kx = R.parse_server_key_exchange(params + b"\x02\x01\x00\x00", "ECDHE", tls12=True)
        assert (kx.group, kx.signature_scheme) == (29, 0x0201)

    def test_hello_is_padded_past_the_f5_range(self) -> None:
        data = R.build_client_hello(spec())
        assert len(data) - 5 >= 512

    def test_tls13_hello_offers_only_tls13_with_empty_key_share(self, lab: Any) -> None:
        hello = lab.parse_client_hello(R.build_client_hello(spec(tls13=True, suites=(0x1301,))))
        exts = hello["exts"]
        assert isinstance(exts, dict)
        assert hello["version"] == 0x0303
        assert exts[R.Ext.SUPPORTED_VERSIONS] == b"\x02\x03\x04"
        assert exts[R.Ext.KEY_SHARE] == b"\x00\x00"

    def test_sslv3_hello_has_no_extensions_and_the_scsv(self, lab: Any) -> None:
        hello = lab.parse_client_hello(R.build_client_hello(spec(version=0x0300, extensions=False)))
        assert hello["record_version"] == b"\x03\x00"
        assert hello["exts"] == {} and hello["suites"] == [0xC02F, 0x009C, 0x00FF]

    def test_status_request_asks_for_ocsp(self, lab: Any) -> None:
        exts = lab.parse_client_hello(R.build_client_hello(spec()))["exts"]
        assert isinstance(exts, dict) and exts[R.Ext.STATUS_REQUEST] == b"\x01\x00\x00\x00\x00"

    def test_sslv2_hello_layout(self) -> None:
        data = R.build_sslv2_client_hello([0x0700C0, 0x010080], challenge=b"c" * 16)
        assert data[0] & 0x80 and data[2] == 1 and data[3:5] == b"\x00\x02"
        assert data[5:7] == b"\x00\x06" and data[11:17] == bytes.fromhex("0700c0010080")


class TestRecordedAnswers:
    def test_tls12_flight_messages_in_order(self) -> None:
        types = [t for t, _ in handshakes(recorded("tls12_ecdhe_rsa"))]
        assert types == [2, 11, 12, 14]

    def test_server_hello_fields(self) -> None:
        body = handshakes(recorded("tls12_ecdhe_rsa"))[0][1]
        sh = R.parse_server_hello(body)
        assert sh.version == 0x0303 and sh.cipher == 0xC030 and not sh.is_hrr

    def test_certificate_chain(self) -> None:
        body = dict(handshakes(recorded("tls12_ecdhe_rsa")))[11]
        chain = R.parse_certificate(body).chain
        assert len(chain) == 2 and all(c[0] == 0x30 for c in chain)

    def test_ecdhe_curve_from_server_key_exchange(self) -> None:
        body = dict(handshakes(recorded("tls12_ecdhe_rsa")))[12]
        assert R.parse_server_key_exchange(body, "ECDHE").group == 29

    def test_dhe_modulus_size(self) -> None:
        body = dict(handshakes(recorded("tls12_dhe_1024")))[12]
        assert R.parse_server_key_exchange(body, "DHE").dh_bits == 1024

    def test_stapled_ocsp_response(self) -> None:
        msgs = dict(handshakes(recorded("tls12_ocsp_stapled")))
        sh = R.parse_server_hello(msgs[2])
        assert sh.staples_ocsp
        assert R.parse_certificate_status(msgs[22])[:1] == b"\x30"

    def test_hello_retry_request(self) -> None:
        sh = R.parse_server_hello(handshakes(recorded("tls13_hrr"))[0][1])
        assert sh.is_hrr and sh.version == 0x0304 and sh.key_share_group == 29

    def test_protocol_version_alert(self) -> None:
        (rec,) = R.RecordBuffer().feed(recorded("alert_protocol_version"))
        alert = R.parse_alert(rec.fragment)
        assert (alert.name, alert.fatal) == ("protocol_version", True)

    def test_plain_http_is_not_tls(self) -> None:
        with pytest.raises(R.NotTLS, match=r"plain HTTP .*HTTP/1\.1 400"):
            R.RecordBuffer().feed(recorded("http_answer_from_tls_port"))

    def test_handshake_split_across_records_is_reassembled(self) -> None:
        data = recorded("tls12_ecdhe_rsa")
        frag = b"".join(r.fragment for r in R.RecordBuffer().feed(data))
        pieces = [frag[i:i + 7] for i in range(0, len(frag), 7)]
        rebuilt = b"".join(R.record(22, 0x0303, p) for p in pieces)
        assert [t for t, _ in handshakes(rebuilt)] == [2, 11, 12, 14]

    def test_byte_at_a_time_feeding(self) -> None:
        data = recorded("tls12_ecdhe_rsa")
        buf, asm = R.RecordBuffer(), R.HandshakeAssembler()
        types = []
        for i in range(len(data)):
            for rec in buf.feed(data[i:i + 1]):
                types += [t for t, _ in asm.feed(rec.fragment)]
        assert types == [2, 11, 12, 14]


class TestMalformed:
    def test_connection_closed_inside_a_record(self) -> None:
        data = recorded("tls12_ecdhe_rsa")
        first_len = 5 + int.from_bytes(data[3:5], "big")
        buf = R.RecordBuffer()
        buf.feed(data[: first_len + 5 + 20])
        with pytest.raises(R.ParseError, match="got 20 of"):
            buf.check_eof()

    def test_connection_closed_inside_a_handshake_message(self) -> None:
        asm = R.HandshakeAssembler()
        asm.feed(b"\x0b\x00\x10\x00" + b"x" * 10)
        with pytest.raises(R.ParseError, match="declares 4096 bytes but the connection closed after 10"):
            asm.check_eof()

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"\x16\x07\x01\x00\x05hello", "not TLS"),
            (b"SSH-2.0-OpenSSH_9.2\r\n", "not TLS .*SSH-2.0"),
            (b"\x16\x03\x03\xff\xff", "above the 18432-byte maximum"),
        ],
        ids=["bad-version", "ssh-banner", "oversized-record"],
    )
    def test_bad_record_headers(self, data: bytes, message: str) -> None:
        with pytest.raises(R.ParseError, match=message):
            R.RecordBuffer().feed(data)

    def test_garbage_after_a_good_record_is_malformed_not_foreign(self) -> None:
        data = recorded("tls12_ecdhe_rsa") + b"\x99\x99\x99\x99\x99"
        with pytest.raises(R.ParseError, match="malformed TLS record header 99 99"):
            R.RecordBuffer().feed(data)

    def test_what_follows_an_alert_is_not_read(self) -> None:
        data = recorded("alert_protocol_version") + b"500 OOPS: SSL: could not accept\r\n"
        (rec,) = R.RecordBuffer().feed(data)
        assert rec.content_type == R.ContentType.ALERT

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"\x03\x03" + b"r" * 10, "random needs 32 bytes"),
            (b"\x03\x03" + b"r" * 32 + b"\x40" + b"s" * 64 + b"\xc0\x2f\x00", "session_id of 64"),
            (b"\x07\x07" + b"r" * 32, "not SSL 3 / TLS"),
            (b"\x03\x03" + b"r" * 32 + b"\x00\xc0\x2f\x00\x00\x04\x00\x2b\x00\x08", "extension 43 needs"),
        ],
        ids=["short-random", "long-session-id", "bad-version", "truncated-extension"],
    )
    def test_bad_server_hello(self, body: bytes, message: str) -> None:
        with pytest.raises(R.ParseError, match=message):
            R.parse_server_hello(body)

    def test_certificate_list_overrun(self) -> None:
        with pytest.raises(R.ParseError, match="certificate_list needs 4096 bytes"):
            R.parse_certificate(b"\x00\x10\x00" + b"x" * 12)

    def test_empty_certificate_entry(self) -> None:
        with pytest.raises(R.ParseError, match="certificate 0 is empty"):
            R.parse_certificate(b"\x00\x00\x03\x00\x00\x00")

    def test_alert_of_the_wrong_size(self) -> None:
        with pytest.raises(R.ParseError, match="alert record of 3 bytes"):
            R.parse_alert(b"\x02\x28\x00")

    def test_unknown_ec_curve_type(self) -> None:
        with pytest.raises(R.ParseError, match="curve_type 9"):
            R.parse_server_key_exchange(b"\x09", "ECDHE")


class TestSSLv2:
    def server_hello(self, specs: bytes) -> bytes:
        cert = b"\x30\x03\x02\x01\x00"
        msg = (b"\x04\x00\x01\x00\x02" + struct.pack("!HHH", len(cert), len(specs), 16)
               + cert + specs + b"i" * 16)
        return struct.pack("!H", 0x8000 | len(msg)) + msg

    def test_server_hello_lists_ciphers(self) -> None:
        sh = R.parse_sslv2_server_hello(self.server_hello(bytes.fromhex("0700c0010080")))
        assert sh.cipher_specs == (0x0700C0, 0x010080) and sh.certificate.startswith(b"\x30")

    def test_error_message(self) -> None:
        with pytest.raises(R.ParseError, match="SSLv2 ERROR message"):
            R.parse_sslv2_server_hello(b"\x80\x03\x00\x00\x01")

    def test_cipher_specs_not_a_multiple_of_three(self) -> None:
        with pytest.raises(R.ParseError, match="not a multiple of 3"):
            R.parse_sslv2_server_hello(self.server_hello(b"\x07\x00"))

    def test_record_length(self) -> None:
        assert R.sslv2_record_length(b"\x80\x10") == 18 and R.sslv2_record_length(b"\x80") is None
