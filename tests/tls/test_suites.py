"""The cipher-suite, group and version registries."""

from __future__ import annotations

import pytest

from scanner.plugins.tls import suites as S


def test_registry_holds_the_whole_iana_table() -> None:
    table = S.cipher_suites()
    assert len([s for s in table.values() if s.in_iana]) >= 340
    assert table[0xC02F].iana == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"


@pytest.mark.parametrize(
    ("name", "code", "openssl"),
    [
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"),
        ("DES-CBC3-SHA", 0x000A, "DES-CBC3-SHA"),
        ("RC4-MD5", 0x0004, "RC4-MD5"),
        ("tls_aes_128_gcm_sha256", 0x1301, "TLS_AES_128_GCM_SHA256"),
        ("EXP-RC4-MD5", 0x0003, "EXP-RC4-MD5"),
    ],
    ids=["iana", "openssl-3des", "openssl-rc4", "case-insensitive", "export"],
)
def test_lookup_by_iana_or_openssl_name(name: str, code: int, openssl: str) -> None:
    suite = S.suite_by_name(name)
    assert suite is not None
    assert (suite.code, suite.openssl) == (code, openssl)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (0x0000, {"null", "anonymous", "no_forward_secrecy"}),
        (0x0004, {"rc4", "md5", "no_forward_secrecy"}),
        (0x0003, {"export", "rc4", "md5", "no_forward_secrecy"}),
        (0x000A, {"3des", "cbc", "no_forward_secrecy"}),
        (0x0009, {"des", "cbc", "no_forward_secrecy"}),
        (0x0034, {"anonymous", "cbc", "dhe"}),
        (0xC018, {"anonymous", "cbc"}),
        (0x009E, {"dhe"}),
        (0xC02F, set()),
        (0x1301, set()),
        (0x003B, {"null", "no_forward_secrecy"}),
    ],
    ids=["null-null", "rc4-md5", "export-rc4", "3des", "des", "adh", "aecdh", "dhe-gcm",
         "ecdhe-gcm", "tls13", "null-sha256"],
)
def test_categories_derived_from_the_name(code: int, expected: set[str]) -> None:
    assert S.suite_for(code).categories == expected


@pytest.mark.parametrize(
    ("code", "versions"),
    [
        (0x1301, ("TLSv1.3",)),
        (0xC02F, ("TLSv1.2",)),
        (0x003C, ("TLSv1.2",)),
        (0x002F, ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2")),
        (0x0003, ("SSLv3", "TLSv1.0")),
        (0xC013, ("TLSv1.0", "TLSv1.1", "TLSv1.2")),
    ],
    ids=["tls13", "gcm", "cbc-sha256", "aes-sha", "export", "ecdhe-cbc"],
)
def test_versions_where_a_suite_is_valid(code: int, versions: tuple[str, ...]) -> None:
    assert tuple(p.value for p in S.suite_for(code).versions) == versions


def test_effective_bits() -> None:
    assert [S.suite_for(c).bits for c in (0x000A, 0x0003, 0xC030, 0x0001)] == [112, 40, 256, 0]


def test_unknown_code_point_gets_a_placeholder() -> None:
    assert S.suite_for(0x0A0A).iana == "UNKNOWN_0x0A0A"


def test_tls13_candidates_cover_the_rfc8446_suites() -> None:
    assert {0x1301, 0x1302, 0x1303, 0x1304, 0x1305} <= set(S.candidates(S.Protocol.TLSv1_3))


def test_legacy_candidates_leave_out_tls12_only_suites() -> None:
    offered = S.candidates(S.Protocol.TLSv1_0)
    assert 0xC02F not in offered and 0x000A in offered and 0x0003 in offered


def test_candidates_start_with_what_browsers_offer() -> None:
    assert S.suite_for(S.candidates(S.Protocol.TLSv1_2)[0]).kex == "ECDHE"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("TLSv1", "TLSv1.0"), ("TLSv1.2", "TLSv1.2"), ("tls1.3", "TLSv1.3"), ("SSLv3", "SSLv3")],
    ids=["mozilla-tlsv1", "canonical", "lowercase", "ssl3"],
)
def test_protocol_spellings(text: str, expected: str) -> None:
    assert S.Protocol.parse(text).value == expected


def test_unknown_protocol_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown protocol"):
        S.Protocol.parse("TLSv2")


@pytest.mark.parametrize(
    ("name", "code"),
    [("prime256v1", 23), ("X25519", 29), ("X25519MLKEM768", 0x11EC),
     ("SecP256r1MLKEM768", 0x11EB), ("ffdhe2048", 256), ("secp384r1", 24)],
    ids=["openssl-alias", "x25519", "pq-hybrid", "pq-p256", "ffdhe", "p384"],
)
def test_group_lookup(name: str, code: int) -> None:
    group = S.group_by_name(name)
    assert group is not None and group.code == code


def test_sslv2_cipher_facts() -> None:
    fact = S.ssl2_fact(0x0700C0)
    assert fact["openssl"] == "DES-CBC3-MD5" and "3des" in fact["categories"]
