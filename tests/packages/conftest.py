"""Shared fixtures for the packages tests: a seeded generator of tricky version pairs."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

_DPKG_ALPHABET = "0123456789" * 3 + "aAbzZ~~+.-:" + "~~.."
_RPM_ALPHABET = "0123456789" * 3 + "aAbzZ~~^^+._-" + ".."


def _piece(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _number(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.15:
        return "0" * rng.randint(1, 3) + str(rng.randint(0, 99))
    if choice < 0.2:
        return str(rng.randint(10**18, 10**21))  # past 64 bits
    return str(rng.randint(0, 30))


def _upstream(rng: random.Random, alphabet: str) -> str:
    parts = [_number(rng)]
    for _ in range(rng.randint(0, 4)):
        sep = rng.choice(".......+~~-abAZ")
        parts.append(sep + (_number(rng) if rng.random() < 0.7 else _piece(rng, alphabet, 2)))
    if rng.random() < 0.3:
        parts.append(_piece(rng, alphabet, rng.randint(1, 4)))
    return "".join(parts)


def _mutate(rng: random.Random, version: str, alphabet: str) -> str:
    """A version close to ``version``: the interesting pairs differ by one detail."""
    ops = [
        lambda v: v + "~",
        lambda v: v + "~rc1",
        lambda v: v + "^git1",
        lambda v: v + ".0",
        lambda v: v + "0",
        lambda v: v + "a",
        lambda v: v + "+",
        lambda v: v + "-0",
        lambda v: v + "-1",
        lambda v: "0:" + v,
        lambda v: "1:" + v,
        lambda v: v.replace(".", "_", 1),
        lambda v: v.replace("1", "01", 1),
        lambda v: v.replace("0", "", 1),
        lambda v: v[:-1] if len(v) > 1 else v,
        lambda v: v + _piece(rng, alphabet, 1),
        lambda v: v[: len(v) // 2] + _piece(rng, alphabet, 1) + v[len(v) // 2 :],
    ]
    return rng.choice(ops)(version)


def generate_pairs(kind: str, count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` seeded pairs of tricky ``kind`` ("dpkg" or "rpm") version strings."""
    rng = random.Random(seed)
    alphabet = _DPKG_ALPHABET if kind == "dpkg" else _RPM_ALPHABET
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count:
        a = _upstream(rng, alphabet)
        if rng.random() < 0.25:
            a = f"{rng.choice(['0', '1', '01', '2', '10'])}:{a}"
        if rng.random() < 0.5:
            a = f"{a}-{_upstream(rng, alphabet)}"
        b = _mutate(rng, a, alphabet) if rng.random() < 0.7 else _upstream(rng, alphabet)
        if rng.random() < 0.05:
            b = a
        if " " in a or " " in b or not a or not b:
            continue
        pairs.append((a, b))
    return pairs


@pytest.fixture
def version_pairs() -> Callable[[str, int, int], list[tuple[str, str]]]:
    return generate_pairs
