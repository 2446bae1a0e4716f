"""Finite-field DH parameters from a ServerKeyExchange: safe prime? a well-known group?

Pure. A safe prime p = 2q + 1 (q prime) leaves no small subgroup for an
attacker to confine the key exchange to; a composite or DSA-style modulus
(RFC 5114, ``openssl dhparam -dsaparam``) does, unless the server checks every
peer key. Well-known groups are recognised by value: the Oakley/MODP groups
of RFC 2409 and RFC 3526 and the FFDHE groups of RFC 7919, rebuilt here from
the formulas those RFCs give (2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + c),
e instead of pi for FFDHE). The 768- and 1024-bit Oakley groups are the
ones a nation-state can precompute (Logjam, 2015).
"""

from __future__ import annotations

import functools
import os

MAX_BITS = 4096  # a larger modulus is not tested (bounded time)
ROUNDS = 16  # Miller-Rabin rounds: a composite q passes with probability below 2^-32

# (name, bits, constant, base) as in RFC 2409 section 6, RFC 3526 and RFC 7919 appendix A.
GROUPS = (
    ("oakley-group-1", 768, 149686, "pi"),
    ("oakley-group-2", 1024, 129093, "pi"),
    ("modp-1536", 1536, 741804, "pi"),
    ("modp-2048", 2048, 124476, "pi"),
    ("modp-3072", 3072, 1690314, "pi"),
    ("modp-4096", 4096, 240904, "pi"),
    ("ffdhe2048", 2048, 560316, "e"),
    ("ffdhe3072", 3072, 2625351, "e"),
    ("ffdhe4096", 4096, 5736041, "e"),
)
PRECOMPUTABLE = ("oakley-group-1", "oakley-group-2")

_SMALL_PRIMES = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
                 79, 83, 89, 97)


def _fixed(base: str, bits: int) -> int:
    """floor(constant * 2**bits) for pi (Machin's formula) or e (the factorial series), in integers."""
    guard = 64
    one = 1 << (bits + guard)
    if base == "e":
        total, term, k = one, one, 1
        while term:
            term //= k
            total += term
            k += 1
        return total >> guard

    def arctan_inv(x: int) -> int:
        total, power, k, sign = 0, one // x, 1, 1
        while power:
            total += sign * (power // k)
            power //= x * x
            k += 2
            sign = -sign
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> guard


@functools.cache
def known_groups() -> dict[int, str]:
    """Prime -> name of every group in ``GROUPS`` (computed once, in milliseconds)."""
    constants = {base: _fixed(base, 4096) for base in ("pi", "e")}
    out: dict[int, str] = {}
    for name, bits, c, base in GROUPS:
        scaled = constants[base] >> (4096 - (bits - 130))
        out[2**bits - 2 ** (bits - 64) - 1 + 2**64 * (scaled + c)] = name
    return out


def probably_prime(n: int, rounds: int = ROUNDS) -> bool:
    """Miller-Rabin with random bases (a composite passes with probability < 4^-rounds)."""
    if n < 2:
        return False
    for p in (2, *_SMALL_PRIMES):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    size = (n.bit_length() + 7) // 8
    for _ in range(rounds):
        a = 2 + int.from_bytes(os.urandom(size), "big") % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def is_safe_prime(p: int) -> bool:
    """p = 2q + 1 with q prime (Miller-Rabin on q, then Pocklington for p: one exponentiation).

    With q prime and q > sqrt(p), p is prime exactly when 2^(p-1) = 1 (mod p)
    and 2^2 != 1 (mod p).
    """
    if p < 7 or p % 2 == 0:
        return p in (5, 7)
    q = (p - 1) // 2
    return probably_prime(q) and pow(2, p - 1, p) == 1


def describe(prime: int, generator: int) -> dict[str, object]:
    """The ``dh_groups`` fact entry for one modulus."""
    bits = prime.bit_length()
    name = known_groups().get(prime)
    safe: bool | None = None
    if name is not None:
        safe = True  # every group of GROUPS is a safe prime (tests/tls/test_dhparams.py)
    elif bits <= MAX_BITS:
        safe = is_safe_prime(prime)
    return {"bits": bits, "generator": generator, "safe_prime": safe, "name": name}


def describe_all(params: list[tuple[int, int]]) -> list[dict[str, object]]:
    """``describe`` for each (prime, generator) pair, in order."""
    return [describe(p, g) for p, g in params]
