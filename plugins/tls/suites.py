"""TLS registries as data: cipher suites, named groups, signature schemes, versions.

The cipher-suite table is the IANA registry (``data/cipher_suites.txt``) joined
with OpenSSL's names (``data/openssl_names.txt``). Every property a policy can
ask about (key exchange, authentication, cipher, strength, AEAD, forward
secrecy, weak categories) is derived from the IANA name by one pure function,
:func:`describe_suite`, so the table and its flags cannot drift apart.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from scanner import pkgdata


class Protocol(str, enum.Enum):
    """A protocol version, named as the facts and policies spell it."""

    SSLv2 = "SSLv2"
    SSLv3 = "SSLv3"
    TLSv1_0 = "TLSv1.0"
    TLSv1_1 = "TLSv1.1"
    TLSv1_2 = "TLSv1.2"
    TLSv1_3 = "TLSv1.3"

    @property
    def wire(self) -> int:
        """The version number on the wire (0x0303 for TLS 1.2)."""
        return _WIRE[self]

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    @classmethod
    def parse(cls, text: str) -> Protocol:
        """Accept the usual spellings: ``TLSv1.2``, ``TLSv1`` (Mozilla), ``TLS1.2``, ``tls 1.2``."""
        key = text.strip().lower().replace(" ", "").replace("_", ".")
        found = _ALIASES.get(key)
        if found is None:
            raise ValueError(f"unknown protocol version '{text}'")
        return found


_WIRE = {
    Protocol.SSLv2: 0x0002,
    Protocol.SSLv3: 0x0300,
    Protocol.TLSv1_0: 0x0301,
    Protocol.TLSv1_1: 0x0302,
    Protocol.TLSv1_2: 0x0303,
    Protocol.TLSv1_3: 0x0304,
}
_ORDER = list(Protocol)
PROTOCOLS: tuple[Protocol, ...] = tuple(_ORDER)
_ALIASES: dict[str, Protocol] = {}
for _p in Protocol:
    _v = _p.value.lower()
    _ALIASES[_v] = _p
    _ALIASES[_v.replace("v", "")] = _p  # tls1.2, ssl3
    _ALIASES[_v.replace("tlsv", "tls").replace("sslv", "ssl")] = _p
_ALIASES.update(
    {
        "tlsv1": Protocol.TLSv1_0,
        "tls1": Protocol.TLSv1_0,
        "ssl2.0": Protocol.SSLv2,
        "ssl3.0": Protocol.SSLv3,
        "sslv2.0": Protocol.SSLv2,
        "sslv3.0": Protocol.SSLv3,
    }
)

# Weak-suite categories a policy can forbid (tls.ciphers ``forbid``).
CATEGORIES: tuple[str, ...] = (
    "null",
    "anonymous",
    "export",
    "rc4",
    "3des",
    "des",
    "cbc",
    "md5",
    "no_forward_secrecy",
    "dhe",
)


class CipherSuite(NamedTuple):
    """One cipher suite and the properties policies judge it by."""

    code: int
    iana: str
    openssl: str | None
    versions: tuple[Protocol, ...]
    kex: str  # RSA, DH, DHE, ECDH, ECDHE, PSK, DHE_PSK, RSA_PSK, ECDHE_PSK, SRP, KRB5, ECCPWD, GOST, any
    auth: str  # RSA, DSS, ECDSA, anon, PSK, SRP, KRB5, ECCPWD, GOST, NULL, any
    cipher: str  # AES_128_GCM, 3DES_EDE_CBC, RC4_128, NULL, ...
    bits: int  # effective symmetric strength (3DES = 112, export = 40 or 56)
    mac: str  # MD5, SHA, SHA256, SHA384, AEAD, ...
    aead: bool
    forward_secrecy: bool
    categories: frozenset[str]
    in_iana: bool = True

    @property
    def code_hex(self) -> str:
        return f"0x{self.code:04X}"

    @property
    def tls13(self) -> bool:
        return self.versions == (Protocol.TLSv1_3,)

    def fact(self) -> dict[str, object]:
        """The JSON record stored in facts for one accepted suite."""
        return {
            "iana": self.iana,
            "openssl": self.openssl,
            "code": self.code_hex,
            "kex": self.kex,
            "auth": self.auth,
            "cipher": self.cipher,
            "bits": self.bits,
            "aead": self.aead,
            "forward_secrecy": self.forward_secrecy,
            "categories": sorted(self.categories),
        }


_KEX = {
    # IANA key-exchange token -> (kex, auth, forward secrecy)
    "NULL": ("NULL", "anon", False),
    "RSA": ("RSA", "RSA", False),
    "DH_DSS": ("DH", "DSS", False),
    "DH_RSA": ("DH", "RSA", False),
    "DHE_DSS": ("DHE", "DSS", True),
    "DHE_RSA": ("DHE", "RSA", True),
    "DH_anon": ("DHE", "anon", True),
    "KRB5": ("KRB5", "KRB5", False),
    "PSK": ("PSK", "PSK", False),
    "DHE_PSK": ("DHE_PSK", "PSK", True),
    "PSK_DHE": ("DHE_PSK", "PSK", True),
    "RSA_PSK": ("RSA_PSK", "RSA", False),
    "ECDH_ECDSA": ("ECDH", "ECDSA", False),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA", True),
    "ECDH_RSA": ("ECDH", "RSA", False),
    "ECDHE_RSA": ("ECDHE", "RSA", True),
    "ECDH_anon": ("ECDHE", "anon", True),
    "ECDHE_PSK": ("ECDHE_PSK", "PSK", True),
    "SRP_SHA": ("SRP", "SRP", True),
    "SRP_SHA_RSA": ("SRP", "RSA", True),
    "SRP_SHA_DSS": ("SRP", "DSS", True),
    "ECCPWD": ("ECCPWD", "ECCPWD", True),
    "GOSTR341112_256": ("GOST", "GOST", True),
}

# cipher token -> (effective bits, mode) where mode is cbc, stream, aead or none
_CIPHERS = {
    "NULL": (0, "none"),
    "RC4_40": (40, "stream"),
    "RC4_56": (56, "stream"),
    "RC4_128": (128, "stream"),
    "RC2_CBC_40": (40, "cbc"),
    "RC2_CBC_56": (56, "cbc"),
    "DES40_CBC": (40, "cbc"),
    "DES_CBC_40": (40, "cbc"),
    "DES_CBC": (56, "cbc"),
    "3DES_EDE_CBC": (112, "cbc"),
    "IDEA_CBC": (128, "cbc"),
    "SEED_CBC": (128, "cbc"),
    "AES_128_CBC": (128, "cbc"),
    "AES_256_CBC": (256, "cbc"),
    "CAMELLIA_128_CBC": (128, "cbc"),
    "CAMELLIA_256_CBC": (256, "cbc"),
    "ARIA_128_CBC": (128, "cbc"),
    "ARIA_256_CBC": (256, "cbc"),
    "AES_128_GCM": (128, "aead"),
    "AES_256_GCM": (256, "aead"),
    "AES_128_CCM": (128, "aead"),
    "AES_256_CCM": (256, "aead"),
    "AES_128_CCM_8": (128, "aead"),
    "AES_256_CCM_8": (256, "aead"),
    "CAMELLIA_128_GCM": (128, "aead"),
    "CAMELLIA_256_GCM": (256, "aead"),
    "ARIA_128_GCM": (128, "aead"),
    "ARIA_256_GCM": (256, "aead"),
    "CHACHA20_POLY1305": (256, "aead"),
    "AEGIS_256": (256, "aead"),
    "AEGIS_128L": (128, "aead"),
    "SM4_GCM": (128, "aead"),
    "SM4_CCM": (128, "aead"),
    "KUZNYECHIK_CTR_OMAC": (256, "stream"),
    "MAGMA_CTR_OMAC": (256, "stream"),
    "28147_CNT_IMIT": (256, "stream"),
    "KUZNYECHIK_MGM_L": (256, "aead"),
    "MAGMA_MGM_L": (256, "aead"),
    "KUZNYECHIK_MGM_S": (256, "aead"),
    "MAGMA_MGM_S": (256, "aead"),
}
_MACS = ("MD5", "SHA", "SHA256", "SHA384", "SHA512", "SM3")
_TLS13_ONLY_KEX = {"GOSTR341112_256"}
_SSL3_UP = (Protocol.SSLv3, Protocol.TLSv1_0, Protocol.TLSv1_1, Protocol.TLSv1_2)
_TLS10_UP = (Protocol.TLSv1_0, Protocol.TLSv1_1, Protocol.TLSv1_2)


def _split_cipher_mac(rest: str) -> tuple[str, str]:
    """``AES_128_CBC_SHA256`` -> (``AES_128_CBC``, ``SHA256``); CCM/GCM may lack a MAC token."""
    if rest in _CIPHERS:
        return rest, "AEAD"
    head, _, tail = rest.rpartition("_")
    if head in _CIPHERS and tail in _MACS:
        return head, tail
    raise ValueError(f"cannot split cipher and MAC in '{rest}'")


def describe_suite(code: int, iana: str, openssl: str | None, in_iana: bool = True) -> CipherSuite:
    """Derive a suite's properties from its IANA name (pure; raises ValueError if unknown)."""
    body = iana.removeprefix("TLS_")
    if code >> 8 == 0x13 or code in (0x00C6, 0x00C7, 0xC0B4, 0xC0B5):
        # TLS 1.3 suites name only the AEAD and the hash; key exchange is negotiated apart.
        if body in ("SHA256_SHA256", "SHA384_SHA384"):
            cipher, mac = "NULL", body.split("_")[0]
        elif body in ("SM4_GCM_SM3", "SM4_CCM_SM3"):
            cipher, mac = body[:7], "SM3"
        else:
            cipher, mac = _split_cipher_mac(body)
        bits, mode = _CIPHERS[cipher]
        return _build(code, iana, openssl, (Protocol.TLSv1_3,), "any", "any", cipher, bits,
                      "AEAD" if mode == "aead" else mac, mode, True, export=False, in_iana=in_iana)
    kx_token, sep, rest = body.partition("_WITH_")
    if not sep:
        raise ValueError(f"unrecognised cipher suite name '{iana}'")
    export = "EXPORT" in kx_token
    kx_base = kx_token.replace("_EXPORT1024", "").replace("_EXPORT", "")
    if kx_base not in _KEX:
        raise ValueError(f"unknown key exchange in '{iana}'")
    kex, auth, fs = _KEX[kx_base]
    if kx_base in _TLS13_ONLY_KEX and rest.endswith(("_MGM_L", "_MGM_S")):
        cipher, mac = rest, "AEAD"
        bits, mode = _CIPHERS[cipher]
        return _build(code, iana, openssl, (Protocol.TLSv1_3,), "any", "any", cipher, bits,
                      mac, mode, True, export=False, in_iana=in_iana)
    if kx_base == "GOSTR341112_256":
        cipher, mac = rest, "AEAD" if rest.endswith("MGM") else "OMAC"
    elif rest == "NULL_NULL":
        cipher, mac = "NULL", "NULL"
    else:
        cipher, mac = _split_cipher_mac(rest)
    bits, mode = _CIPHERS[cipher]
    if export:
        bits = min(bits, 56 if "1024" in kx_token else 40)
    tls12_only = mode == "aead" or mac in ("SHA256", "SHA384") or kex in ("ECCPWD", "GOST")
    if tls12_only:
        versions: tuple[Protocol, ...] = (Protocol.TLSv1_2,)
    elif export:
        versions = (Protocol.SSLv3, Protocol.TLSv1_0)
    elif kex.startswith("ECDH") or "PSK" in kex or kex == "SRP":
        versions = _TLS10_UP
    else:
        versions = _SSL3_UP
    return _build(code, iana, openssl, versions, kex, auth, cipher, bits,
                  "AEAD" if mode == "aead" else mac, mode, fs, export=export, in_iana=in_iana)


def _build(code: int, iana: str, openssl: str | None, versions: tuple[Protocol, ...], kex: str,
           auth: str, cipher: str, bits: int, mac: str, mode: str, fs: bool, *, export: bool,
           in_iana: bool) -> CipherSuite:
    cats: set[str] = set()
    if cipher == "NULL":
        cats.add("null")
    if auth == "anon":
        cats.add("anonymous")
    if export:
        cats.add("export")
    if cipher.startswith("RC4"):
        cats.add("rc4")
    if cipher.startswith("3DES"):
        cats.add("3des")
    elif cipher.startswith("DES"):
        cats.add("des")
    if mode == "cbc":
        cats.add("cbc")
    if mac == "MD5":
        cats.add("md5")
    if not fs:
        cats.add("no_forward_secrecy")
    if kex in ("DHE", "DHE_PSK"):
        cats.add("dhe")
    return CipherSuite(code, iana, openssl, versions, kex, auth, cipher, bits, mac,
                       mode == "aead", fs, frozenset(cats), in_iana)


def _data_lines(name: str) -> Iterable[list[str]]:
    text = pkgdata.files("scanner.plugins.tls").joinpath("data", name).read_text("utf-8")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield line.split()


@functools.cache
def cipher_suites() -> Mapping[int, CipherSuite]:
    """Every known cipher suite by code point (IANA registry + legacy EXPORT1024)."""
    openssl = {int(code, 16): name for code, name in _data_lines("openssl_names.txt")}
    table: dict[int, CipherSuite] = {}
    for parts in _data_lines("cipher_suites.txt"):
        code = int(parts[0], 16)
        table[code] = describe_suite(code, parts[1], openssl.get(code), in_iana=len(parts) < 3)
    return table


@functools.cache
def _by_name() -> Mapping[str, CipherSuite]:
    index: dict[str, CipherSuite] = {}
    for suite in cipher_suites().values():
        index[suite.iana.upper()] = suite
        if suite.openssl:
            index[suite.openssl.upper()] = suite
    return index


def suite_by_name(name: str) -> CipherSuite | None:
    """Look a suite up by its IANA or OpenSSL name (case-insensitive)."""
    return _by_name().get(name.strip().upper())


def suite_for(code: int) -> CipherSuite:
    """The suite for a code point; an unknown one gets a placeholder record."""
    found = cipher_suites().get(code)
    if found is not None:
        return found
    return CipherSuite(code, f"UNKNOWN_0x{code:04X}", None, (), "unknown", "unknown", "unknown",
                       0, "unknown", False, False, frozenset(), in_iana=False)


def candidates(protocol: Protocol) -> list[int]:
    """Suites worth offering for ``protocol``, most commonly deployed first.

    TLS 1.2 hellos carry every TLS<=1.2 suite; TLS 1.0/1.1 hellos leave out the
    suites defined only for TLS 1.2 (a server picking one would be broken anyway)
    and SSLv3 hellos also those defined only for TLS.
    """
    suites = cipher_suites().values()
    if protocol is Protocol.TLSv1_3:
        chosen = [s for s in suites if s.tls13]
    elif protocol is Protocol.TLSv1_2:
        chosen = [s for s in suites if not s.tls13]
    elif protocol is Protocol.SSLv3:
        # ECC, PSK and SRP suites were defined for TLS only; leaving them out keeps
        # the SSLv3 hello to one window.
        chosen = [s for s in suites if Protocol.SSLv3 in s.versions]
    else:
        chosen = [s for s in suites if not s.tls13 and s.versions != (Protocol.TLSv1_2,)]
    return [s.code for s in sorted(chosen, key=_popularity)]


def _popularity(suite: CipherSuite) -> tuple[int, int, int, int]:
    """Sort key: browser-like preference, so the first window holds what servers use.

    The order matters twice: a server that follows the client's order picks
    from the front, and the first window (``MAX_SUITES``) should already
    contain every suite a real server accepts.
    """
    exotic_kex = {"PSK", "DHE_PSK", "RSA_PSK", "ECDHE_PSK", "SRP", "KRB5", "ECCPWD", "GOST", "DH",
                  "ECDH"}
    exotic_cipher = ("ARIA", "SEED", "IDEA", "SM4", "KUZNYECHIK", "MAGMA", "28147", "AEGIS",
                     "RC2", "CCM")
    tier = 0
    if suite.kex in exotic_kex or not suite.in_iana:
        tier = 2
    elif suite.cipher.startswith(exotic_cipher):
        tier = 1
    kex_rank = {"ECDHE": 0, "any": 0, "DHE": 1, "RSA": 2}.get(suite.kex, 3)
    return tier, 0 if suite.aead else 1, kex_rank, suite.code


# SSLv2 cipher kinds (3-byte codes): code -> (name, OpenSSL name, bits, export)
SSL2_CIPHERS: Mapping[int, tuple[str, str, int, bool]] = {
    0x010080: ("SSL_CK_RC4_128_WITH_MD5", "RC4-MD5", 128, False),
    0x020080: ("SSL_CK_RC4_128_EXPORT40_WITH_MD5", "EXP-RC4-MD5", 40, True),
    0x030080: ("SSL_CK_RC2_128_CBC_WITH_MD5", "RC2-CBC-MD5", 128, False),
    0x040080: ("SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5", "EXP-RC2-CBC-MD5", 40, True),
    0x050080: ("SSL_CK_IDEA_128_CBC_WITH_MD5", "IDEA-CBC-MD5", 128, False),
    0x060040: ("SSL_CK_DES_64_CBC_WITH_MD5", "DES-CBC-MD5", 56, False),
    0x0700C0: ("SSL_CK_DES_192_EDE3_CBC_WITH_MD5", "DES-CBC3-MD5", 112, False),
}


def ssl2_fact(code: int) -> dict[str, object]:
    name, openssl, bits, export = SSL2_CIPHERS.get(code, (f"UNKNOWN_0x{code:06X}", None, 0, False))
    cats = {"no_forward_secrecy", "md5"}
    if export:
        cats.add("export")
    if "RC4" in name:
        cats.add("rc4")
    elif "EDE3" in name:
        cats.update({"3des", "cbc"})
    elif "DES" in name:
        cats.update({"des", "cbc"})
    else:
        cats.add("cbc")
    return {
        "iana": name,
        "openssl": openssl,
        "code": f"0x{code:06X}",
        "kex": "RSA",
        "auth": "RSA",
        "cipher": name.split("_WITH_")[0].removeprefix("SSL_CK_"),
        "bits": bits,
        "aead": False,
        "forward_secrecy": False,
        "categories": sorted(cats),
    }


class NamedGroup(NamedTuple):
    """A key-exchange group (TLS "supported groups" registry)."""

    code: int
    name: str
    kind: str  # ec, ecx, ffdhe, hybrid, pq
    bits: int  # curve size or DH modulus bits; x25519 counts as 256 (as Mozilla ecdh_param_size)
    tls12: bool
    tls13: bool


def _g(code: int, name: str, kind: str, bits: int, tls12: bool = True, tls13: bool = True) -> NamedGroup:
    return NamedGroup(code, name, kind, bits, tls12, tls13)


# Source: IANA "TLS Supported Groups" registry; names are the registry's.
NAMED_GROUPS: Mapping[int, NamedGroup] = {
    g.code: g
    for g in (
        _g(1, "sect163k1", "ec", 163, tls13=False),
        _g(2, "sect163r1", "ec", 163, tls13=False),
        _g(3, "sect163r2", "ec", 163, tls13=False),
        _g(4, "sect193r1", "ec", 193, tls13=False),
        _g(5, "sect193r2", "ec", 193, tls13=False),
        _g(6, "sect233k1", "ec", 233, tls13=False),
        _g(7, "sect233r1", "ec", 233, tls13=False),
        _g(8, "sect239k1", "ec", 239, tls13=False),
        _g(9, "sect283k1", "ec", 283, tls13=False),
        _g(10, "sect283r1", "ec", 283, tls13=False),
        _g(11, "sect409k1", "ec", 409, tls13=False),
        _g(12, "sect409r1", "ec", 409, tls13=False),
        _g(13, "sect571k1", "ec", 571, tls13=False),
        _g(14, "sect571r1", "ec", 571, tls13=False),
        _g(15, "secp160k1", "ec", 160, tls13=False),
        _g(16, "secp160r1", "ec", 160, tls13=False),
        _g(17, "secp160r2", "ec", 160, tls13=False),
        _g(18, "secp192k1", "ec", 192, tls13=False),
        _g(19, "secp192r1", "ec", 192, tls13=False),
        _g(20, "secp224k1", "ec", 224, tls13=False),
        _g(21, "secp224r1", "ec", 224, tls13=False),
        _g(22, "secp256k1", "ec", 256, tls13=False),
        _g(23, "secp256r1", "ec", 256),
        _g(24, "secp384r1", "ec", 384),
        _g(25, "secp521r1", "ec", 521),
        _g(26, "brainpoolP256r1", "ec", 256, tls13=False),
        _g(27, "brainpoolP384r1", "ec", 384, tls13=False),
        _g(28, "brainpoolP512r1", "ec", 512, tls13=False),
        _g(29, "x25519", "ecx", 256),
        _g(30, "x448", "ecx", 448),
        _g(31, "brainpoolP256r1tls13", "ec", 256, tls12=False),
        _g(32, "brainpoolP384r1tls13", "ec", 384, tls12=False),
        _g(33, "brainpoolP512r1tls13", "ec", 512, tls12=False),
        _g(34, "GC256A", "ec", 256),
        _g(35, "GC256B", "ec", 256),
        _g(36, "GC256C", "ec", 256),
        _g(37, "GC256D", "ec", 256),
        _g(38, "GC512A", "ec", 512),
        _g(39, "GC512B", "ec", 512),
        _g(40, "GC512C", "ec", 512),
        _g(41, "curveSM2", "ec", 256, tls12=False),
        _g(256, "ffdhe2048", "ffdhe", 2048),
        _g(257, "ffdhe3072", "ffdhe", 3072),
        _g(258, "ffdhe4096", "ffdhe", 4096),
        _g(259, "ffdhe6144", "ffdhe", 6144),
        _g(260, "ffdhe8192", "ffdhe", 8192),
        _g(0x0200, "MLKEM512", "pq", 0, tls12=False),
        _g(0x0201, "MLKEM768", "pq", 0, tls12=False),
        _g(0x0202, "MLKEM1024", "pq", 0, tls12=False),
        _g(0x11EB, "SecP256r1MLKEM768", "hybrid", 256, tls12=False),
        _g(0x11EC, "X25519MLKEM768", "hybrid", 256, tls12=False),
        _g(0x11ED, "SecP384r1MLKEM1024", "hybrid", 384, tls12=False),
        _g(0x6399, "X25519Kyber768Draft00", "hybrid", 256, tls12=False),
        _g(0x639A, "SecP256r1Kyber768Draft00", "hybrid", 256, tls12=False),
    )
}
_GROUP_ALIASES = {
    "prime256v1": "secp256r1",
    "p-256": "secp256r1",
    "p256": "secp256r1",
    "prime192v1": "secp192r1",
    "p-384": "secp384r1",
    "p384": "secp384r1",
    "p-521": "secp521r1",
    "p521": "secp521r1",
}
_GROUP_BY_NAME = {g.name.lower(): g for g in NAMED_GROUPS.values()}


def group_by_name(name: str) -> NamedGroup | None:
    """Look a group up by its IANA or OpenSSL name (``prime256v1`` = ``secp256r1``)."""
    key = name.strip().lower()
    return _GROUP_BY_NAME.get(_GROUP_ALIASES.get(key, key))


def group_name(code: int) -> str:
    group = NAMED_GROUPS.get(code)
    return group.name if group else f"unknown_0x{code:04X}"


# Source: IANA "TLS SignatureScheme" registry (and the TLS 1.2 hash/signature pairs).
SIGNATURE_SCHEMES: Mapping[int, str] = {
    0x0401: "rsa_pkcs1_sha256",
    0x0501: "rsa_pkcs1_sha384",
    0x0601: "rsa_pkcs1_sha512",
    0x0403: "ecdsa_secp256r1_sha256",
    0x0503: "ecdsa_secp384r1_sha384",
    0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_rsae_sha256",
    0x0805: "rsa_pss_rsae_sha384",
    0x0806: "rsa_pss_rsae_sha512",
    0x0807: "ed25519",
    0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256",
    0x080A: "rsa_pss_pss_sha384",
    0x080B: "rsa_pss_pss_sha512",
    0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
    0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
    0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
    0x0904: "mldsa44",
    0x0905: "mldsa65",
    0x0906: "mldsa87",
    0x0201: "rsa_pkcs1_sha1",
    0x0203: "ecdsa_sha1",
    0x0202: "dsa_sha1",
    0x0301: "rsa_pkcs1_sha224",
    0x0302: "dsa_sha224",
    0x0303: "ecdsa_sha224",
    0x0402: "dsa_sha256",
    0x0502: "dsa_sha384",
    0x0602: "dsa_sha512",
    0x0101: "rsa_md5",
    0x0708: "sm2sig_sm3",
}


def signature_scheme_name(code: int) -> str:
    return SIGNATURE_SCHEMES.get(code, f"unknown_0x{code:04X}")
