"""Comparator throughput: civiscan's dpkg/rpm/apk comparators vs the real tools.

Run:  .venv/bin/python bench/patch/compare.py [--pairs N]

Prints comparisons per second for
* civiscan ``dpkg_compare`` (cold: key caches cleared; warm: keys cached),
* civiscan ``rpm_compare`` and ``apk_compare``,
* python-debian ``NativeVersion`` (only if importable; also its agreement with
  the recorded real-dpkg results, which is why civiscan does not use it),
* real ``dpkg --compare-versions`` (one process per call, as a scanner that
  shells out would pay),
* librpm ``rpmverCmp`` through ctypes, for reference.

Numbers depend on the machine; nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import glob
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from scanner.plugins.packages import versions as v

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "packages" / "versions"
RECORDED = DATA / "dpkg-pairs.tsv"
GENERATED = DATA / "dpkg-generated.tsv"
APK_VECTORS = DATA / "apk-version.data"


def _recorded(path: Path = RECORDED) -> list[tuple[str, str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            a, b, result = line.split("\t")
            rows.append((a, b, result))
    return rows


# The machine running this is often shared: every rate is the best of ROUNDS
# timed rounds, the round least disturbed by other work.
ROUNDS = 5


def _rate(fn: Callable[[str, str], object], pairs: list[tuple[str, str]], repeat: int) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(repeat):
            for a, b in pairs:
                fn(a, b)
        best = min(best, time.perf_counter() - start)
    return repeat * len(pairs) / best


def _clear_caches() -> None:
    for fn in (v.dpkg_key, v.rpm_key, v.rpmvercmp_key, v._verrev_key):
        fn.cache_clear()


def _cold_rate(fn: Callable[[str, str], object], pairs: list[tuple[str, str]]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        _clear_caches()
        start = time.perf_counter()
        for a, b in pairs:
            fn(a, b)
        best = min(best, time.perf_counter() - start)
    return len(pairs) / best


def _python_debian(rows: list[tuple[str, str, str]]) -> str:
    try:
        from debian.debian_support import NativeVersion
    except ImportError:
        return "python-debian: not installed (pip install python-debian to compare)"
    disagree = refused_valid = accepted_invalid = 0
    both_valid: list[tuple[str, str]] = []
    for a, b, real in rows:
        try:
            x, y = NativeVersion(a), NativeVersion(b)
        except ValueError:
            if real != "E":
                refused_valid += 1
            continue
        if real == "E":
            accepted_invalid += 1
            continue
        both_valid.append((a, b))
        mine = "<" if x < y else "=" if x == y else ">"
        if mine != real:
            disagree += 1
    rate = _rate(lambda a, b: NativeVersion(a) < NativeVersion(b), both_valid, 3)
    return (
        f"python-debian NativeVersion: {rate:,.0f} cmp/s; on {len(rows)} recorded dpkg pairs: "
        f"{disagree} wrong orderings, {refused_valid} pairs refused that dpkg compares, "
        f"{accepted_invalid} pairs accepted that dpkg refuses"
    )


def _real_dpkg_rate(pairs: list[tuple[str, str]]) -> float:
    start = time.perf_counter()
    for a, b in pairs:
        subprocess.run(["dpkg", "--compare-versions", a, "lt", b], capture_output=True, check=False)
    return len(pairs) / (time.perf_counter() - start)


def _librpm_rate(pairs: list[tuple[str, str]]) -> float | None:
    name = ctypes.util.find_library("rpmio") or next(
        iter(glob.glob("/usr/lib/*/librpmio.so*")), None
    )
    if not name:
        return None
    lib = ctypes.CDLL(name)
    lib.rpmverParse.argtypes = [ctypes.c_char_p]
    lib.rpmverParse.restype = ctypes.c_void_p
    lib.rpmverCmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.rpmverFree.argtypes = [ctypes.c_void_p]
    lib.rpmverFree.restype = ctypes.c_void_p

    def cmp(a: str, b: str) -> int:
        pa, pb = lib.rpmverParse(a.encode()), lib.rpmverParse(b.encode())
        try:
            return int(lib.rpmverCmp(pa, pb))
        finally:
            lib.rpmverFree(pa)
            lib.rpmverFree(pb)

    return _rate(cmp, pairs, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpkg-calls", type=int, default=300, help="real dpkg processes to time")
    args = parser.parse_args()

    rows = _recorded()
    dpkg_pairs = [(a, b) for a, b, real in rows if real != "E"]
    rpm_pairs = [(a, b) for a, b in dpkg_pairs if a and b]
    apk_pairs = []
    for line in APK_VECTORS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            a, _, b = line.split()
            apk_pairs.append((a, b))

    print(
        f"pairs: dpkg/rpm {len(dpkg_pairs)} (recorded, valid), apk {len(apk_pairs)} (apk-tools vectors)"
    )
    print(f"civiscan dpkg_compare cold: {_cold_rate(v.dpkg_compare, dpkg_pairs):,.0f} cmp/s")
    print(f"civiscan dpkg_compare warm: {_rate(v.dpkg_compare, dpkg_pairs, 20):,.0f} cmp/s")
    generated = [(a, b) for a, b, real in _recorded(GENERATED) if real != "E"]
    print(
        f"  on {len(generated)} valid pairs of {GENERATED.name}: "
        f"cold {_cold_rate(v.dpkg_compare, generated):,.0f} cmp/s, "
        f"warm {_rate(v.dpkg_compare, generated, 3):,.0f} cmp/s"
    )
    print(f"civiscan rpm_compare cold:  {_cold_rate(v.rpm_compare, rpm_pairs):,.0f} cmp/s")
    print(f"civiscan rpm_compare warm:  {_rate(v.rpm_compare, rpm_pairs, 20):,.0f} cmp/s")
    print(f"civiscan apk_compare:       {_rate(v.apk_compare, apk_pairs, 20):,.0f} cmp/s")
    print(_python_debian(rows))
    librpm = _librpm_rate(rpm_pairs)
    if librpm is not None:
        print(f"librpm rpmverCmp via ctypes: {librpm:,.0f} cmp/s")
    dpkg_rate = _real_dpkg_rate(dpkg_pairs[: args.dpkg_calls])
    print(f"real dpkg --compare-versions, one process per call: {dpkg_rate:,.0f} cmp/s")
    warm = _rate(v.dpkg_compare, dpkg_pairs, 5)
    print(f"ratio civiscan dpkg (warm) / real dpkg per call: {warm / dpkg_rate:,.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
