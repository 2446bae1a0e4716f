"""ROBOT: is RSA key exchange a Bleichenbacher padding oracle? (pure: numbers in, bytes out)

After the server's first flight the client sends a ClientKeyExchange whose
RSA ciphertext decrypts to one of five plaintexts, then ChangeCipherSpec and
a Finished the server cannot decrypt. One plaintext is well-formed PKCS#1
v1.5 around a 48-byte premaster secret; four are broken in the ways the
ROBOT paper (Böck, Somorovsky, Young, 2017) found servers to tell apart. A
server that answers every variant the same way gives an attacker nothing;
one that answers a broken variant differently from the good one is an
oracle that lets an attacker decrypt recorded sessions or sign with the
server's key.
"""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives.asymmetric import rsa

from . import records as R

VARIANTS = ("good", "wrong_first_bytes", "misplaced_zero", "no_zero", "wrong_version")


def _padding(length: int) -> bytes:
    """``length`` random non-zero bytes (PKCS#1 v1.5 type 2 padding)."""
    out = b""
    while len(out) < length:
        out += bytes(b for b in os.urandom(length) if b)
    return out[:length]


def plaintexts(modulus_bytes: int, version: int, secret: bytes | None = None) -> dict[str, bytes]:
    """The five encoded messages, each ``modulus_bytes`` long."""
    secret = secret if secret is not None else os.urandom(46)
    premaster = struct.pack("!H", version) + secret
    pad = _padding(modulus_bytes - 3 - len(premaster))
    return {
        "good": b"\x00\x02" + pad + b"\x00" + premaster,
        "wrong_first_bytes": b"\x41\x17" + pad + b"\x00" + premaster,
        # The only zero is the second-last byte: a 1-byte "premaster" (and an old JSSE bug).
        "misplaced_zero": b"\x00\x02" + pad + b"\x11" + secret + b"\x00\x11",
        "no_zero": b"\x00\x02" + pad + b"\x11" + premaster,
        "wrong_version": b"\x00\x02" + pad + b"\x00" + b"\x02\x02" + secret,
    }


def encrypt(message: bytes, modulus: int, exponent: int) -> bytes:
    """Textbook RSA: the padding is in ``message`` already, on purpose broken or not."""
    size = (modulus.bit_length() + 7) // 8
    return pow(int.from_bytes(message, "big"), exponent, modulus).to_bytes(size, "big")


def client_flight(ciphertext: bytes, version: int) -> bytes:
    """ClientKeyExchange + ChangeCipherSpec + a Finished record of random bytes."""
    body = struct.pack("!H", len(ciphertext)) + ciphertext
    cke = b"\x10" + struct.pack("!I", len(body))[1:] + body
    return (R.record(R.ContentType.HANDSHAKE, version, cke) + R.change_cipher_spec(version)
            + R.record(R.ContentType.HANDSHAKE, version, os.urandom(48)))


def rsa_public_key(der: bytes) -> tuple[int, int] | None:
    """(modulus, exponent) of a DER certificate's RSA key; None if it is not RSA or unreadable."""
    try:
        from cryptography import x509  # imported when a certificate is read

        key = x509.load_der_x509_certificate(der).public_key()
    except ValueError:
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    numbers = key.public_numbers()
    return numbers.n, numbers.e


def verdict(answers: dict[str, str]) -> bool | None:
    """Vulnerable when a broken variant is answered unlike the good one.

    ``answers`` maps each variant to what the server did (``alert
    bad_record_mac``, ``closed``, ``silent``, ...); ``None`` when the good
    variant has no answer to compare with.
    """
    good = answers.get("good")
    if good is None:
        return None
    return any(answer != good for name, answer in answers.items() if name != "good")
