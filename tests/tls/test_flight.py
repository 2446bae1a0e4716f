"""One probe's conversation (``probe.Flight``) replayed on recorded server answers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography import x509

from scanner.plugins.tls import probe, tls13
from scanner.plugins.tls import records as R
from scanner.plugins.tls import suites as S

DATA = Path(__file__).resolve().parents[1] / "data" / "tls"
HOST = "tls.lab.test"


def replay(name: str, full13: bool = False) -> probe.HelloResult:
    flight = probe.Flight(R.ClientHelloSpec(version=0x0303, suites=()), full13)
    flight.feed((DATA / f"{name}.server.bin").read_bytes())
    return flight.result()


@pytest.mark.parametrize(
    ("name", "version", "cipher"),
    [
        ("tls12_ecdhe_rsa", 0x0303, 0xC030),
        ("tls10_ecdhe_rsa", 0x0301, 0xC014),
        ("tls12_dhe_1024", 0x0303, 0x009E),
        ("tls13_hrr", 0x0304, 0x1302),
    ],
    ids=["tls12", "tls10", "dhe", "hrr"],
)
def test_accepted_hello(name: str, version: int, cipher: int) -> None:
    result = replay(name)
    assert (result.status, result.version, result.cipher) == (probe.Status.ACCEPTED, version, cipher)


def test_alert_is_a_rejection() -> None:
    result = replay("alert_protocol_version")
    assert result.status is probe.Status.REJECTED and result.why == "alert protocol_version"


def test_dhe_size_and_chain_come_with_the_flight() -> None:
    result = replay("tls12_dhe_1024")
    assert result.kx is not None and result.kx.dh_bits == 1024 and len(result.chain) == 2


def test_stapled_response_is_kept() -> None:
    assert replay("tls12_ocsp_stapled").ocsp is not None


def test_no_staple_without_certificate_status() -> None:
    assert replay("tls12_ecdhe_rsa").ocsp is None


def test_hrr_names_the_group() -> None:
    result = replay("tls13_hrr")
    assert result.hrr and S.group_name(result.group or 0) == "x25519"


def test_server_hello_then_alert_counts_as_accepted() -> None:
    data = (DATA / "tls12_ecdhe_rsa.server.bin").read_bytes()
    first = 5 + int.from_bytes(data[3:5], "big")
    flight = probe.Flight(R.ClientHelloSpec(version=0x0303, suites=()), False)
    flight.feed(data[:first] + bytes.fromhex("15030300020228"))
    result = flight.result()
    assert result.status is probe.Status.ACCEPTED and result.alert is not None


def test_certificate_before_server_hello_is_malformed() -> None:
    bogus = R.record(22, 0x0303, b"\x0b\x00\x00\x03\x00\x00\x00")
    flight = probe.Flight(R.ClientHelloSpec(version=0x0303, suites=()), False)
    with pytest.raises(R.ParseError, match="before the ServerHello"):
        flight.feed(bogus)


def test_eof_without_answer_is_a_hang_up() -> None:
    flight = probe.Flight(R.ClientHelloSpec(version=0x0303, suites=()), False)
    assert flight.at_eof().closed


def test_eof_inside_a_record_is_a_parse_error() -> None:
    flight = probe.Flight(R.ClientHelloSpec(version=0x0303, suites=()), False)
    flight.feed(b"\x16\x03\x03\x00\x40" + b"\x02" * 10)
    with pytest.raises(R.ParseError, match="got 10 of 64"):
        flight.at_eof()


class TestTLS13Decryption:
    """The recorded TLS 1.3 exchange decrypts with the recorded client key."""

    def flight(self) -> tuple[probe.Flight, bytes]:
        key = bytes.fromhex((DATA / "tls13_full.x25519.key").read_text().strip())
        share = tls13.KeyShare.from_private(29, key)
        prober = probe.Prober(probe.Endpoint("127.0.0.1", 1, HOST), 1.0, None)  # type: ignore[arg-type]
        spec = dataclasses.replace(
            prober.spec(S.Protocol.TLSv1_3, S.candidates(S.Protocol.TLSv1_3)),
            random=bytes(range(32)), session_id=bytes(32))
        return probe.Flight(spec, True, shares={29: share}), (DATA / "tls13_full.client.bin").read_bytes()

    def test_builder_reproduces_the_recorded_hello(self) -> None:
        flight, recorded_hello = self.flight()
        assert flight.first_hello() == recorded_hello

    def test_encrypted_certificate_chain_is_read(self) -> None:
        flight, _ = self.flight()
        flight.first_hello()
        flight.feed((DATA / "tls13_full.server.bin").read_bytes())
        result = flight.result()
        assert flight.done and result.version == 0x0304 and len(result.chain) == 2
        leaf = x509.load_der_x509_certificate(result.chain[0])
        assert leaf.subject.rfc4514_string() == f"CN={HOST}"

    def test_tampered_record_fails_to_decrypt(self) -> None:
        flight, _ = self.flight()
        flight.first_hello()
        data = bytearray((DATA / "tls13_full.server.bin").read_bytes())
        pos = 0
        while data[pos] != R.ContentType.APPLICATION_DATA:  # first encrypted record
            pos += 5 + int.from_bytes(data[pos + 3:pos + 5], "big")
        data[pos + 10] ^= 0xFF
        with pytest.raises(R.ParseError, match="failed to decrypt"):
            flight.feed(bytes(data))
