"""The ROBOT ClientKeyExchange variants and their verdict, on data."""

from __future__ import annotations

import pytest

from scanner.plugins.tls import robot

SIZE = 256


def _zero_after_padding(message: bytes) -> int | None:
    """Index of the first zero after the 2-byte header (PKCS#1 v1.5 separator), if any."""
    return message.index(0, 2) if 0 in message[2:] else None


@pytest.fixture
def messages() -> dict[str, bytes]:
    return robot.plaintexts(SIZE, 0x0303, secret=b"s" * 46)


def test_every_variant_fills_the_modulus(messages: dict[str, bytes]) -> None:
    assert {len(m) for m in messages.values()} == {SIZE}
    assert list(messages) == list(robot.VARIANTS)


def test_only_the_good_variant_is_well_formed(messages: dict[str, bytes]) -> None:
    def well_formed(m: bytes) -> bool:
        return m[:2] == b"\x00\x02" and _zero_after_padding(m) == SIZE - 49 and m[-48:-46] == b"\x03\x03"
    assert [name for name, m in messages.items() if well_formed(m)] == ["good"]


@pytest.mark.parametrize(("variant", "zero_at"), [
    ("good", SIZE - 49), ("no_zero", None), ("misplaced_zero", SIZE - 2), ("wrong_version", SIZE - 49)],
    ids=["good", "no-zero", "misplaced", "wrong-version"])
def test_separator_position(messages: dict[str, bytes], variant: str, zero_at: int | None) -> None:
    assert _zero_after_padding(messages[variant]) == zero_at


def test_textbook_rsa_round_trips() -> None:
    n, e, d = 3233, 17, 2753  # the textbook 61 * 53 key
    message = (65).to_bytes(2, "big")
    assert pow(int.from_bytes(robot.encrypt(message, n, e), "big"), d, n) == 65


@pytest.mark.parametrize(("answers", "vulnerable"), [
    (dict.fromkeys(robot.VARIANTS, "alert bad_record_mac"), False),
    ({**dict.fromkeys(robot.VARIANTS, "alert bad_record_mac"), "no_zero": "silent"}, True),
    ({"no_zero": "closed"}, None),
], ids=["uniform", "one-differs", "no-baseline"])
def test_verdict(answers: dict[str, str], vulnerable: bool | None) -> None:
    assert robot.verdict(answers) is vulnerable
