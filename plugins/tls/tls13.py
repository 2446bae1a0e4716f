"""Just enough TLS 1.3 to read the server's encrypted Certificate message.

In TLS 1.3 everything after the ServerHello is encrypted, so the certificate
chain (and a stapled OCSP response) needs the handshake keys. This module makes
the client key shares, derives the server handshake traffic key (RFC 8446
section 7) and decrypts the server's handshake records. It never sends
Finished: the scanner closes the connection once it has the Certificate.

Python 3.11's ``ssl`` cannot do this job: it returns only the leaf certificate
(``get_unverified_chain`` arrived in 3.13) and never the stapled response.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from .records import ParseError

# suite -> (hash name, key length, AEAD factory name)
_SUITES = {
    0x1301: ("sha256", 16, "gcm"),
    0x1302: ("sha384", 32, "gcm"),
    0x1303: ("sha256", 32, "chacha"),
    0x1304: ("sha256", 16, "ccm"),
    0x1305: ("sha256", 16, "ccm8"),
}
_EC_CURVES: dict[int, type[ec.EllipticCurve]] = {
    23: ec.SECP256R1,
    24: ec.SECP384R1,
    25: ec.SECP521R1,
}
SUPPORTED_GROUPS = (29, 23, 24, 25, 30)


def can_decrypt(suite: int) -> bool:
    return suite in _SUITES


class KeyShare:
    """A client ephemeral key for one group."""

    def __init__(self, group: int) -> None:
        self.group = group
        self._x: x25519.X25519PrivateKey | x448.X448PrivateKey | None = None
        self._ec: ec.EllipticCurvePrivateKey | None = None
        if group == 29:
            self._x = x25519.X25519PrivateKey.generate()
        elif group == 30:
            self._x = x448.X448PrivateKey.generate()
        elif group in _EC_CURVES:
            self._ec = ec.generate_private_key(_EC_CURVES[group]())
        else:
            raise ValueError(f"no key share implementation for group {group}")

    @classmethod
    def from_private(cls, group: int, private: bytes) -> KeyShare:
        """Rebuild a share from recorded private bytes (used by tests on recorded exchanges)."""
        share = cls.__new__(cls)
        share.group = group
        share._x = None
        share._ec = None
        if group == 29:
            share._x = x25519.X25519PrivateKey.from_private_bytes(private)
        elif group == 30:
            share._x = x448.X448PrivateKey.from_private_bytes(private)
        else:
            share._ec = ec.derive_private_key(int.from_bytes(private, "big"), _EC_CURVES[group]())
        return share

    def private_bytes(self) -> bytes:
        if self._x is not None:
            return self._x.private_bytes_raw()
        assert self._ec is not None
        size = (self._ec.curve.key_size + 7) // 8
        return self._ec.private_numbers().private_value.to_bytes(size, "big")

    def public(self) -> bytes:
        # Raw bytes and the uncompressed point (SEC 1 2.3.3) without
        # cryptography's serialization package: importing it (SSH keys, bcrypt,
        # PKCS#12) costs a one-endpoint scan more than making all its key shares.
        if self._x is not None:
            return self._x.public_key().public_bytes_raw()
        assert self._ec is not None
        numbers = self._ec.public_key().public_numbers()
        size = (self._ec.curve.key_size + 7) // 8
        return b"\x04" + numbers.x.to_bytes(size, "big") + numbers.y.to_bytes(size, "big")

    def shared_secret(self, peer: bytes) -> bytes:
        try:
            if isinstance(self._x, x25519.X25519PrivateKey):
                return self._x.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
            if isinstance(self._x, x448.X448PrivateKey):
                return self._x.exchange(x448.X448PublicKey.from_public_bytes(peer))
            assert self._ec is not None
            point = ec.EllipticCurvePublicKey.from_encoded_point(self._ec.curve, peer)
            return self._ec.exchange(ec.ECDH(), point)
        except ValueError as exc:
            raise ParseError(f"server key share for group {self.group} is invalid: {exc}") from None


def _hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hash_name).digest()


def _hkdf_expand_label(hash_name: str, secret: bytes, label: str, context: bytes, length: int) -> bytes:
    full = b"tls13 " + label.encode()
    info = struct.pack("!H", length) + bytes([len(full)]) + full + bytes([len(context)]) + context
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hash_name).digest()
        out += block
        counter += 1
    return out[:length]


hkdf_extract = _hkdf_extract
hkdf_expand_label = _hkdf_expand_label
"""RFC 8446 section 7.1's HKDF-Extract and HKDF-Expand-Label, for :mod:`.handshake`."""


class HandshakeKeys(NamedTuple):
    suite: int
    key: bytes
    iv: bytes


def server_handshake_keys(suite: int, shared_secret: bytes, transcript: bytes) -> HandshakeKeys:
    """Server handshake traffic key and IV from the ECDHE secret and CH..SH transcript.

    ``transcript`` is the concatenation of the handshake messages (with their
    4-byte headers) from ClientHello to ServerHello, already rewritten for a
    HelloRetryRequest (see :func:`hrr_transcript_prefix`).
    """
    if suite not in _SUITES:
        raise ParseError(f"cannot decrypt TLS 1.3 suite 0x{suite:04X}")
    hash_name, key_len, _ = _SUITES[suite]
    hlen = hashlib.new(hash_name).digest_size
    zeros = b"\x00" * hlen
    early = _hkdf_extract(hash_name, zeros, zeros)
    empty_hash = hashlib.new(hash_name, b"").digest()
    derived = _hkdf_expand_label(hash_name, early, "derived", empty_hash, hlen)
    handshake_secret = _hkdf_extract(hash_name, derived, shared_secret)
    th = hashlib.new(hash_name, transcript).digest()
    s_hs = _hkdf_expand_label(hash_name, handshake_secret, "s hs traffic", th, hlen)
    key = _hkdf_expand_label(hash_name, s_hs, "key", b"", key_len)
    iv = _hkdf_expand_label(hash_name, s_hs, "iv", b"", 12)
    return HandshakeKeys(suite, key, iv)


def hrr_transcript_prefix(suite: int, client_hello1: bytes) -> bytes:
    """The synthetic message_hash message that replaces ClientHello1 after an HRR."""
    hash_name = _SUITES[suite][0] if suite in _SUITES else "sha256"
    digest = hashlib.new(hash_name, client_hello1).digest()
    return bytes([254, 0, 0, len(digest)]) + digest


class RecordDecryptor:
    """Decrypts the server's protected handshake records, in order."""

    def __init__(self, keys: HandshakeKeys) -> None:
        kind = _SUITES[keys.suite][2]
        if kind == "gcm":
            self._aead: AESGCM | ChaCha20Poly1305 | AESCCM = AESGCM(keys.key)
        elif kind == "chacha":
            self._aead = ChaCha20Poly1305(keys.key)
        else:
            self._aead = AESCCM(keys.key, tag_length=8 if kind == "ccm8" else 16)
        self._iv = keys.iv
        self._seq = 0

    def decrypt(self, header: bytes, fragment: bytes) -> tuple[int, bytes]:
        """Return (inner content type, plaintext) of one TLSCiphertext record."""
        nonce = bytes(a ^ b for a, b in zip(self._iv, self._seq.to_bytes(12, "big"), strict=True))
        self._seq += 1
        try:
            inner = self._aead.decrypt(nonce, fragment, header)
        except (InvalidTag, ValueError):  # wrong key, tampered or truncated record
            raise ParseError("a TLS 1.3 handshake record failed to decrypt") from None
        stripped = inner.rstrip(b"\x00")
        if not stripped:
            raise ParseError("a TLS 1.3 record has no inner content type")
        return stripped[-1], stripped[:-1]
