"""DHE moduli: the well-known groups rebuilt from their RFC formulas, the safe-prime test."""

from __future__ import annotations

import pytest

from scanner.plugins.tls import dhparams as D

MODP_PREFIX = "ffffffffffffffffc90fdaa22168c234"  # 2^n - 2^(n-64) + 2^64 * floor(pi ...)
FFDHE_PREFIX = "ffffffffffffffffadf85458a2bb4a9a"  # the same with e (RFC 7919)


def by_name() -> dict[str, int]:
    return {name: prime for prime, name in D.known_groups().items()}


@pytest.mark.parametrize(("name", "bits", "prefix"), [
    (name, bits, FFDHE_PREFIX if base == "e" else MODP_PREFIX)
    for name, bits, _, base in D.GROUPS], ids=[g[0] for g in D.GROUPS])
def test_groups_have_their_published_shape(name: str, bits: int, prefix: str) -> None:
    prime = by_name()[name]
    assert prime.bit_length() == bits and f"{prime:x}".startswith(prefix)
    assert f"{prime:x}".endswith("ffffffffffffffff")


@pytest.mark.parametrize("name", ["oakley-group-1", "oakley-group-2", "modp-2048", "ffdhe2048"])
def test_groups_are_safe_primes(name: str) -> None:
    # A single wrong digit of a formula constant would not give a safe prime.
    assert D.is_safe_prime(by_name()[name])


@pytest.mark.parametrize(("n", "safe"), [
    (23, True), (29, False), (2 * 1000003 + 1, False), (2 * 1000001 + 1, False),
    (2 * 1000151 + 1, True),
    (2**127 - 1, False), ((2**89 - 1) * (2**61 - 1), False)],
    ids=["23", "29-q-even", "q-prime-p-composite", "q-composite", "safe", "mersenne-q-not-prime",
         "composite"])
def test_safe_prime(n: int, safe: bool) -> None:
    assert D.is_safe_prime(n) is safe


def test_describe_names_a_known_group_and_skips_huge_moduli() -> None:
    assert D.describe(by_name()["ffdhe2048"], 2) == {
        "bits": 2048, "generator": 2, "safe_prime": True, "name": "ffdhe2048"}
    assert D.describe(2**5000 + 1, 2)["safe_prime"] is None
