"""Shared fixtures for the packages tests: seeded generators of tricky version pairs."""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import pytest

from tools import version_corpus

_MAKERS: dict[str, Callable[[int, int], list[tuple[str, str]]]] = {
    "dpkg": version_corpus.dpkg_pairs,
    "rpm": version_corpus.rpm_pairs,
    "apk": version_corpus.apk_pairs,
}


@pytest.fixture
def version_pairs() -> Callable[[str, int, int], list[tuple[str, str]]]:
    """``version_pairs(kind, count, seed)``: pairs from tools/version_corpus.py's grammars."""
    return lambda kind, count, seed: _MAKERS[kind](count, seed)


@pytest.fixture
def fresh_seed() -> int:
    """A new seed each run (CIVISCAN_CORPUS_SEED replays one); tests name it when they fail."""
    value = os.environ.get("CIVISCAN_CORPUS_SEED")
    return int(value) if value else random.SystemRandom().randrange(2**32)
