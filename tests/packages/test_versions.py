"""Version comparators: exact agreement with dpkg, librpm and apk-tools' own vectors."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import subprocess
from pathlib import Path

import pytest

from scanner.plugins.packages import versions as v

DATA = Path(__file__).resolve().parents[1] / "data" / "packages" / "versions"


def _sign(n: int) -> str:
    return "<" if n < 0 else "=" if n == 0 else ">"


# ---------------------------------------------------------------- dpkg


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("1.0~rc1", "<", "1.0"),
        ("1.0~~", "<", "1.0~"),
        ("1.0~", "<", "1.0"),
        ("1.0~~a", ">", "1.0~~"),
        ("1.0", "=", "1.0-0"),
        ("0:1.0", "=", "1.0"),
        ("1.01", "=", "1.1"),
        ("1.0-1", "=", "1.0-01"),
        ("1.0A", "<", "1.0a"),
        ("1.0a", "<", "1.0+"),
        ("1.0+", "<", "1.0."),
        ("1.0+dfsg", "<", "1.0.1"),
        ("1:1.0", ">", "2.0"),
        ("1:2.3-4-5", ">", "1:2.3-4"),
        ("1.0-a", ">", "1.0-1"),
        ("2.36-9+deb12u10", ">", "2.36-9+deb12u4"),
        ("3.0.15-1~deb12u1", "<", "3.0.15-1"),
        ("18446744073709551616", ">", "18446744073709551615"),
        ("+1:8+86", "=", "1:8+86"),
        ("528.0.0-0", ">", "528.0.0-0~pre1"),
        ("1.0-0", ">", "1.0-0~pre1"),
        ("6.02-1", ">", "6.02-1~pre1"),
        ("1.0", ">", "1.0-0~x"),
        ("1.0-00", ">", "1.0-0~"),
        ("0", ">", "0~"),
        ("0", "=", "00"),
        ("1.0", "=", "1.0-00"),
    ],
    ids=lambda x: x,
)
def test_dpkg_orders_documented_cases(a: str, op: str, b: str) -> None:
    assert _sign(v.dpkg_compare(a, b)) == op
    assert _sign(v.dpkg_compare(b, a)) == {"<": ">", ">": "<", "=": "="}[op]


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "1.0 2", ":1.0", "a:1.0", "1:", "-1:1.0", "1.0-", "-1", "99999999999:1", "1.0:1"],
    ids=[
        "empty",
        "blank",
        "space",
        "no-epoch",
        "alpha-epoch",
        "nothing-after-colon",
        "negative-epoch",
        "empty-revision",
        "empty-upstream",
        "huge-epoch",
        "colon-without-epoch",
    ],
)
def test_dpkg_refuses_what_dpkg_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        v.dpkg_compare(bad, "1.0")


@pytest.mark.parametrize(
    "bad",
    ["a1.0", "1.0_1", "1.0-1_2", "+1:1.0"],
    ids=["letter-start", "underscore", "rev-underscore", "signed-epoch"],
)
def test_check_dpkg_also_rejects_warnings(bad: str) -> None:
    v.dpkg_compare(bad, "1.0")  # dpkg only warns, so comparing works
    with pytest.raises(ValueError):
        v.check_dpkg(bad)


def _recorded_dpkg() -> list[tuple[str, str, str]]:
    rows = []
    for line in (DATA / "dpkg-pairs.tsv").read_text().splitlines():
        if line.startswith("#"):
            continue
        a, b, result = line.split("\t")
        rows.append((a, b, result))
    return rows


def _mine_dpkg(a: str, b: str) -> str:
    try:
        return _sign(v.dpkg_compare(a, b))
    except ValueError:
        return "E"


def test_dpkg_agrees_with_recorded_dpkg_results() -> None:
    rows = _recorded_dpkg()
    assert len(rows) == 3000
    disagreements = [(a, b, r, _mine_dpkg(a, b)) for a, b, r in rows if _mine_dpkg(a, b) != r]
    assert disagreements == []


# One sh process reads every pair and calls dpkg per pair: no per-pair Python
# subprocess overhead, and nothing is ever interpolated into a shell string.
_DPKG_LOOP = r"""
while IFS=' ' read -r a b; do
  if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo '<'
  else rc=$?
    if [ "$rc" -ne 1 ]; then echo E
    elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo '='
    else echo '>'; fi
  fi
done
"""


@pytest.mark.integration
def test_dpkg_agrees_with_real_dpkg_on_generated_pairs(tool, version_pairs) -> None:
    tool("dpkg")
    pairs = version_pairs("dpkg", 2000, 20261101)
    stdin = "".join(f"{a} {b}\n" for a, b in pairs)
    out = subprocess.run(
        ["sh", "-c", _DPKG_LOOP], input=stdin, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(out) == len(pairs)
    disagreements = [
        (a, b, real, _mine_dpkg(a, b))
        for (a, b), real in zip(pairs, out, strict=True)
        if _mine_dpkg(a, b) != real
    ]
    assert disagreements == []


# ---------------------------------------------------------------- rpm


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("1.0", "=", "1_0"),
        ("1.0", "=", "1+0"),
        ("1.0", "=", "1..0"),
        ("1.0", "=", "1.0."),
        ("1.0~rc1", "<", "1.0"),
        ("1.0~~", "<", "1.0~"),
        ("1.0", "<", "1.0^git1"),
        ("1.0^git1", "<", "1.0.1"),
        ("1.0^git1", "<", "1.0a"),
        ("1.0~", "<", "1.0^"),
        ("1.0~rc1", "<", "1.0~rc1^git1"),
        ("1.0~rc1^git1", "<", "1.0"),
        ("1.1", ">", "1.a"),
        ("1.0a", "<", "1.0aa"),
        ("2.0.1a", ">", "2.0.1"),
        ("10.0001", "=", "10.1"),
        ("6.0.rc1", ">", "6.0"),
        ("1.0", "<", "1.0-5"),
        ("1:1.0-1", ">", "2.0-1"),
        ("0:1.0", "=", "1.0"),
    ],
    ids=lambda x: x,
)
def test_rpm_orders_documented_cases(a: str, op: str, b: str) -> None:
    assert _sign(v.rpm_compare(a, b)) == op


def _librpmio() -> ctypes.CDLL:
    name = ctypes.util.find_library("rpmio") or next(
        iter(sorted(glob.glob("/usr/lib/*/librpmio.so*") + glob.glob("/usr/lib64/librpmio.so*"))),
        None,
    )
    if name is None:
        pytest.skip("librpmio not found")
    lib = ctypes.CDLL(name)
    lib.rpmvercmp.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.rpmvercmp.restype = ctypes.c_int
    lib.rpmverParse.argtypes = [ctypes.c_char_p]
    lib.rpmverParse.restype = ctypes.c_void_p
    lib.rpmverCmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.rpmverCmp.restype = ctypes.c_int
    lib.rpmverFree.argtypes = [ctypes.c_void_p]
    lib.rpmverFree.restype = ctypes.c_void_p
    return lib


@pytest.fixture
def librpm(tool) -> ctypes.CDLL:
    tool("rpm")
    return _librpmio()


def _real_evr(lib: ctypes.CDLL, a: str, b: str) -> str:
    pa, pb = lib.rpmverParse(a.encode()), lib.rpmverParse(b.encode())
    try:
        return _sign(lib.rpmverCmp(pa, pb))
    finally:
        lib.rpmverFree(pa)
        lib.rpmverFree(pb)


@pytest.mark.integration
def test_rpm_evr_agrees_with_librpm_rpmvercmp_on_generated_pairs(librpm, version_pairs) -> None:
    pairs = version_pairs("rpm", 20000, 4)
    disagreements = [
        (a, b, real, mine)
        for a, b in pairs
        if (real := _real_evr(librpm, a, b)) != (mine := _sign(v.rpm_compare(a, b)))
    ]
    assert disagreements == []


@pytest.mark.integration
def test_rpm_segments_agree_with_librpm_rpmvercmp(librpm, version_pairs) -> None:
    pairs = version_pairs("rpm", 20000, 5)
    disagreements = [
        (a, b)
        for a, b in pairs
        if _sign(librpm.rpmvercmp(a.encode(), b.encode())) != _sign(v.rpmvercmp(a, b))
    ]
    assert disagreements == []


# ---------------------------------------------------------------- apk


def _apk_vectors() -> list[tuple[str, str, str]]:
    rows = []
    for line in (DATA / "apk-version.data").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            a, op, b = line.split()
            rows.append((a, op, b))
    return rows


def test_apk_agrees_with_every_apk_tools_vector() -> None:
    rows = _apk_vectors()
    assert len(rows) == 733
    flip = {"<": ">", ">": "<", "=": "="}
    wrong = [
        (a, op, b)
        for a, op, b in rows
        if _sign(v.apk_compare(a, b)) != op or _sign(v.apk_compare(b, a)) != flip[op]
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("1.0_alpha", "<", "1.0_beta"),
        ("1.0_beta", "<", "1.0_pre"),
        ("1.0_pre", "<", "1.0_rc"),
        ("1.0_rc", "<", "1.0"),
        ("1.0", "<", "1.0_cvs"),
        ("1.0_cvs", "<", "1.0_svn"),
        ("1.0_hg", "<", "1.0_p"),
        ("1.0_p", "<", "1.0_p1"),
        ("1.0_alpha1_p2", ">", "1.0_alpha1"),
        ("1.0-r10", ">", "1.0-r9"),
        ("9.6_p1-r0", "<", "9.7_p1-r4"),
        ("1.2", "<", "1.10"),
        ("1.0a", "<", "1.0.1"),
    ],
    ids=lambda x: x,
)
def test_apk_orders_documented_cases(a: str, op: str, b: str) -> None:
    assert _sign(v.apk_compare(a, b)) == op


@pytest.mark.parametrize("bad", ["", "1.0-x", "1.0_foo", "a1", "1.0-r", "1..0"], ids=str)
def test_check_apk_rejects_invalid_versions(bad: str) -> None:
    with pytest.raises(ValueError):
        v.check_apk(bad)


@pytest.mark.parametrize("good", ["1.0", "1.2.3_rc1-r4", "2.3.0b-r1", "1.0_alpha1_p2"], ids=str)
def test_check_apk_accepts_valid_versions(good: str) -> None:
    v.check_apk(good)


# ---------------------------------------------------------------- dispatch and keys


@pytest.mark.parametrize("fmt", ["dpkg", "rpm"], ids=str)
def test_sort_key_orders_like_the_comparator(fmt: str, version_pairs) -> None:
    values = [a for pair in version_pairs(fmt, 1500, 9) for a in pair]
    valid = []
    for value in values:
        try:
            v.sort_key(fmt)(value)
        except ValueError:
            continue
        valid.append(value)
    by_key = sorted(valid, key=v.sort_key(fmt))
    by_cmp = sorted(valid, key=functools.cmp_to_key(v.comparator(fmt)))
    assert [v.sort_key(fmt)(x) for x in by_key] == [v.sort_key(fmt)(x) for x in by_cmp]


def test_compare_dispatches_by_format() -> None:
    assert v.compare("dpkg", "1.0~rc1", "1.0") < 0
    assert v.compare("rpm", "1.0^git1", "1.0") > 0
    assert v.compare("apk", "1.0_rc1", "1.0") < 0


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown package format"):
        v.compare("pacman", "1", "2")
