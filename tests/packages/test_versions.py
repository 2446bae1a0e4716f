"""Version comparators: exact agreement with dpkg, librpm and apk-tools' own vectors."""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import pytest

from scanner.plugins.packages import versions as v
from tools import version_corpus as corpus

DATA = Path(__file__).resolve().parents[1] / "data" / "packages" / "versions"
_sign = corpus.sign


def _replay(seed: int) -> str:
    return f"fresh sample, seed {seed}: replay with CIVISCAN_CORPUS_SEED={seed}"


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


def _mine_dpkg(a: str, b: str) -> str:
    try:
        return _sign(v.dpkg_compare(a, b))
    except ValueError:
        return "E"


def _dpkg_disagreements(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str, str]]:
    return [(a, b, real, mine) for a, b, real in rows if (mine := _mine_dpkg(a, b)) != real]


def test_dpkg_agrees_with_recorded_dpkg_results() -> None:
    rows = corpus.read_corpus(DATA / "dpkg-pairs.tsv")
    assert len(rows) == 3000
    assert _dpkg_disagreements(rows) == []


def test_dpkg_agrees_with_dpkg_on_the_generated_corpus() -> None:
    path = DATA / "dpkg-generated.tsv"
    rows = corpus.read_corpus(path)
    assert len(rows) == 20000
    assert "labelled by Debian 'dpkg'" in path.read_text(encoding="utf-8")
    assert set(corpus.DPKG_ANCHORS) <= {(a, b) for a, b, _ in rows}
    assert _dpkg_disagreements(rows) == []


# dpkg runs as one process per comparison (~500/s): a few hundred fresh pairs
# keep this to about a second; the recorded corpus above carries the bulk.
@pytest.mark.integration
def test_dpkg_agrees_with_real_dpkg_on_a_fresh_sample(tool, version_pairs, fresh_seed) -> None:
    tool("dpkg")
    pairs = version_pairs("dpkg", 400, fresh_seed)
    rows = [(a, b, real) for (a, b), real in zip(pairs, corpus.label_dpkg(pairs), strict=True)]
    assert _dpkg_disagreements(rows) == [], _replay(fresh_seed)


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


@pytest.fixture
def librpm(tool) -> ctypes.CDLL:
    tool("rpm")
    lib = corpus.librpmio()
    if lib is None:
        # As require_tool: CI must compare against librpm, never skip it.
        message = "librpmio not found (the rpm package installs it: make system-deps)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return lib


_RPM_LAYERS = {
    "evr": (v.rpm_compare, corpus.label_rpm_evr, "rpm-evr-generated.tsv"),
    "rpmvercmp": (v.rpmvercmp, corpus.label_rpmvercmp, "rpmvercmp-generated.tsv"),
}


@pytest.mark.parametrize("layer", sorted(_RPM_LAYERS), ids=str)
def test_rpm_agrees_with_librpm_on_the_generated_corpus(layer: str) -> None:
    compare, _label, name = _RPM_LAYERS[layer]
    path = DATA / name
    rows = corpus.read_corpus(path)
    assert len(rows) == 10000
    assert "labelled by RPM version" in path.read_text(encoding="utf-8")
    disagreements = [
        (a, b, real, mine) for a, b, real in rows if (mine := _sign(compare(a, b))) != real
    ]
    assert disagreements == []


# librpm answers through ctypes at ~600,000 comparisons/s: the fresh sample can
# be large and still take well under a second.
@pytest.mark.integration
@pytest.mark.parametrize("layer", sorted(_RPM_LAYERS), ids=str)
def test_rpm_agrees_with_librpm_on_a_fresh_sample(layer: str, librpm, fresh_seed) -> None:
    compare, label, _name = _RPM_LAYERS[layer]
    pairs = corpus.rpm_pairs(20000, fresh_seed, evr=layer == "evr")
    disagreements = [
        (a, b, real, mine)
        for (a, b), real in zip(pairs, label(librpm, pairs), strict=True)
        if (mine := _sign(compare(a, b))) != real
    ]
    assert disagreements == [], _replay(fresh_seed)


# ---------------------------------------------------------------- apk


# apk-tools 2.14.9's src/version.c, read line by line (blob pointer arithmetic
# as string positions). apk-tools is not packaged for Debian, so no apk binary
# can label pairs while the tests run: this reading labels the fresh samples
# instead. It is held to apk-tools' own vectors and to a corpus labelled by
# that C file compiled as is (tools/version_corpus.py apk), so it is the tool's
# rule, not a second opinion.
#
#   A version is read as typed tokens; a token type may only follow a lower
#   one, except ".digit" after a digit, a digit after a letter and a suffix
#   after a suffix number. "." starts a DIGIT_OR_ZERO token: if it starts with
#   "0", the run of zeros but the last weighs minus its length and the rest is
#   read as a DIGIT token. A number of 18 digits or more is INVALID (value -1).
#   Suffixes weigh alpha -4, beta -3, pre -2, rc -1, cvs 0 ... p 4; a letter its
#   ASCII code. Tokens are compared while both sides have the same type and the
#   same value; then a smaller value is older; the same type (both ended, or
#   both invalid) is equal; a side going on with a pre-release suffix (or an
#   invalid suffix) is older; otherwise the side whose next type is higher
#   (END being highest) is older.
_INVALID, _DIGIT_OR_ZERO, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION_NO, _END = range(-1, 7)
_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")


def _apk_tools_next_token(kind: int, s: str, p: int) -> tuple[int, int]:
    n = _INVALID
    if p >= len(s) or s[p] == "\0":
        n = _END
    elif kind in (_DIGIT, _DIGIT_OR_ZERO) and "a" <= s[p] <= "z":
        n = _LETTER
    elif kind == _LETTER and "0" <= s[p] <= "9":
        n = _DIGIT
    elif kind == _SUFFIX and "0" <= s[p] <= "9":
        n = _SUFFIX_NO
    else:
        if s[p] == ".":
            n = _DIGIT_OR_ZERO
        elif s[p] == "_":
            n = _SUFFIX
        elif s[p] == "-" and len(s) - p > 1 and s[p + 1] == "r":
            n = _REVISION_NO
            p += 1
        p += 1
    if n < kind and (n, kind) not in (
        (_DIGIT_OR_ZERO, _DIGIT),
        (_SUFFIX, _SUFFIX_NO),
        (_DIGIT, _LETTER),
    ):
        n = _INVALID
    return n, p


def _apk_tools_get_token(kind: int, s: str, p: int) -> tuple[int, int, int]:
    """(value, next type, next position), like get_token()."""
    if len(s) - p <= 0:
        return 0, _END, p
    i, nt, value = 0, _INVALID, 0
    if kind == _DIGIT_OR_ZERO and s[p] == "0":
        while p + i + 1 < len(s) and s[p + i + 1] == "0":
            i += 1
        nt, value = _DIGIT, -i
    elif kind in (_DIGIT_OR_ZERO, _DIGIT, _SUFFIX_NO, _REVISION_NO):
        while p + i < len(s) and "0" <= s[p + i] <= "9":
            value = value * 10 + int(s[p + i])
            i += 1
        if i >= 18:
            return -1, _INVALID, p
    elif kind == _LETTER:
        value, i = ord(s[p]), 1
    elif kind == _SUFFIX:
        for index, name in enumerate(_PRE_SUFFIXES):
            if s.startswith(name, p):
                value, i = index - len(_PRE_SUFFIXES), len(name)
                break
        else:
            for index, name in enumerate(_POST_SUFFIXES):
                if s.startswith(name, p):
                    value, i = index, len(name)
                    break
            else:
                return -1, _INVALID, p
    else:
        return -1, _INVALID, p
    p += i
    if p == len(s):
        return value, _END, p
    if nt != _INVALID:
        return value, nt, p
    kind, p = _apk_tools_next_token(kind, s, p)
    return value, kind, p


def _apk_tools_compare(a: str, b: str) -> str:
    at = bt = _DIGIT
    ap = bp = av = bv = 0
    while at == bt and at not in (_END, _INVALID) and av == bv:
        av, at, ap = _apk_tools_get_token(at, a, ap)
        bv, bt, bp = _apk_tools_get_token(bt, b, bp)
    if av != bv:
        return "<" if av < bv else ">"
    if at == bt:
        return "="
    if at == _SUFFIX and _apk_tools_get_token(at, a, ap)[0] < 0:
        return "<"
    if bt == _SUFFIX and _apk_tools_get_token(bt, b, bp)[0] < 0:
        return ">"
    if at > bt:
        return "<"
    if bt > at:
        return ">"
    return "="


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


def test_apk_tools_reading_agrees_with_every_apk_tools_vector() -> None:
    wrong = [(a, op, b) for a, op, b in _apk_vectors() if _apk_tools_compare(a, b) != op]
    assert wrong == []


def test_apk_tools_reading_agrees_with_the_compiled_apk_tools_corpus() -> None:
    rows = corpus.read_corpus(DATA / "apk-generated.tsv")
    wrong = [(a, b, op) for a, b, op in rows if _apk_tools_compare(a, b) != op]
    assert wrong == []


def test_apk_agrees_with_the_compiled_apk_tools_corpus() -> None:
    path = DATA / "apk-generated.tsv"
    rows = corpus.read_corpus(path)
    assert len(rows) == 10000
    assert "labelled by apk-tools v2.14.9" in path.read_text(encoding="utf-8")
    wrong = [(a, b, op, mine) for a, b, op in rows if (mine := _sign(v.apk_compare(a, b))) != op]
    assert wrong == []


def test_apk_agrees_with_apk_tools_reading_on_a_fresh_sample(version_pairs, fresh_seed) -> None:
    pairs = version_pairs("apk", 20000, fresh_seed)
    wrong = [
        (a, b, real, mine)
        for a, b in pairs
        if (real := _apk_tools_compare(a, b)) != (mine := _sign(v.apk_compare(a, b)))
    ]
    assert wrong == [], _replay(fresh_seed)


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
        ("6.6.", "<", "6.6.0"),
        ("4._0.8", "<", "4.0.8"),
        ("2.092.000A7", "<", "2.092.00047"),
        ("1.00000000000000000000001", "<", "1.0"),
        ("100000000000000000-r1", "=", "100000000000000000-r10"),
        ("100000000000000000", "<", "1"),
    ],
    ids=lambda x: x,
)
def test_apk_orders_documented_cases(a: str, op: str, b: str) -> None:
    assert _sign(v.apk_compare(a, b)) == op


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1.0-x",
        "1.0_foo",
        "a1",
        "1.0-r",
        "1..0",
        "100000000000000000",
        "1.0_p100000000000000000",
    ],
    ids=str,
)
def test_check_apk_rejects_invalid_versions(bad: str) -> None:
    with pytest.raises(ValueError):
        v.check_apk(bad)


@pytest.mark.parametrize(
    "good",
    [
        "1.0",
        "1.2.3_rc1-r4",
        "2.3.0b-r1",
        "1.0_alpha1_p2",
        "10000000000000000",
        "1.00000000000000000000001",
    ],
    ids=str,
)
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
