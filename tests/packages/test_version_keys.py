"""The flat sort keys (bytes) order exactly like dpkg and rpm.

Two independent witnesses: the corpora labelled by the real tools (dpkg
1.21.22, librpm 4.18), and a character-by-character port of dpkg's
``verrevcmp`` and rpm's ``rpmvercmp`` C code, checked against the keys on
generated pairs (hypothesis).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanner.plugins.packages import versions as v

DATA = Path(__file__).resolve().parents[1] / "data" / "packages" / "versions"


def _sign(n: int) -> int:
    return (n > 0) - (n < 0)


def _labelled(name: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in (DATA / name).read_text().splitlines():
        if line and not line.startswith("#"):
            a, b, result = line.split("\t")
            rows.append((a, b, result))
    return rows


# ----------------------------------------------------------------- reference ports


def _dpkg_order(c: int) -> int:
    """dpkg's order() on one byte of a signed-char string (0 = end or digit)."""
    if 0x30 <= c <= 0x39 or c == 0:
        return 0
    if 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A:
        return c
    if c == 0x7E:
        return -1
    return c if c >= 0x80 else c + 256  # a byte >= 0x80 is a negative char: c + 256


def _verrevcmp(a_text: str, b_text: str) -> int:
    """dpkg's lib/dpkg/version.c verrevcmp(), byte by byte."""
    a, b = a_text.encode() + b"\0", b_text.encode() + b"\0"
    i = j = 0

    def digit(c: int) -> bool:
        return 0x30 <= c <= 0x39

    while a[i] or b[j]:
        first_diff = 0
        while (a[i] and not digit(a[i])) or (b[j] and not digit(b[j])):
            ac, bc = _dpkg_order(a[i]), _dpkg_order(b[j])
            if ac != bc:
                return ac - bc
            i += 1  # equal weights: both are the same kind of non-digit, neither the end
            j += 1
        while a[i] == 0x30:
            i += 1
        while b[j] == 0x30:
            j += 1
        while digit(a[i]) and digit(b[j]):
            if not first_diff:
                first_diff = a[i] - b[j]
            i += 1
            j += 1
        if digit(a[i]):
            return 1
        if digit(b[j]):
            return -1
        if first_diff:
            return first_diff
    return 0


def _dpkg_reference(a: str, b: str) -> int:
    ea, ua, ra = v.parse_dpkg(a)
    eb, ub, rb = v.parse_dpkg(b)
    if ea != eb:
        return _sign(ea - eb)
    return _sign(_verrevcmp(ua, ub)) or _sign(_verrevcmp(ra, rb))


def _rpmvercmp(a: str, b: str) -> int:
    """rpm's rpmio/rpmvercmp.c rpmvercmp(), character by character."""
    if a == b:
        return 0
    one, two = a + "\0", b + "\0"
    i = j = 0

    def alnum(c: str) -> bool:
        return c.isascii() and c.isalnum()

    while one[i] != "\0" or two[j] != "\0":
        while one[i] != "\0" and not alnum(one[i]) and one[i] not in "~^":
            i += 1
        while two[j] != "\0" and not alnum(two[j]) and two[j] not in "~^":
            j += 1
        if one[i] == "~" or two[j] == "~":
            if one[i] != "~":
                return 1
            if two[j] != "~":
                return -1
            i += 1
            j += 1
            continue
        if one[i] == "^" or two[j] == "^":
            if one[i] == "\0":
                return -1
            if two[j] == "\0":
                return 1
            if one[i] != "^":
                return 1
            if two[j] != "^":
                return -1
            i += 1
            j += 1
            continue
        if one[i] == "\0" or two[j] == "\0":
            break
        end1, end2 = i, j
        if one[i].isascii() and one[i].isdigit():
            kind = str.isdigit
            isnum = True
        else:
            kind = str.isalpha
            isnum = False
        while one[end1] != "\0" and one[end1].isascii() and kind(one[end1]):
            end1 += 1
        while two[end2] != "\0" and two[end2].isascii() and kind(two[end2]):
            end2 += 1
        if end2 == j:
            return 1 if isnum else -1
        seg1, seg2 = one[i:end1], two[j:end2]
        if isnum:
            seg1, seg2 = seg1.lstrip("0"), seg2.lstrip("0")
            if len(seg1) != len(seg2):
                return 1 if len(seg1) > len(seg2) else -1
        if seg1 != seg2:
            return -1 if seg1 < seg2 else 1
        i, j = end1, end2
    if one[i] == "\0" and two[j] == "\0":
        return 0
    return -1 if one[i] == "\0" else 1


def _rpm_reference(a: str, b: str) -> int:
    ea, va, ra = v.parse_evr(a)
    eb, vb, rb = v.parse_evr(b)
    rc = _rpmvercmp(ea or "0", eb or "0") or _rpmvercmp(va, vb)
    if rc:
        return rc
    if ra is not None and rb is not None:
        return _rpmvercmp(ra, rb)
    return (ra is not None) - (rb is not None)


def _key_order(key, a: str, b: str) -> int:
    ka, kb = key(a), key(b)
    assert isinstance(ka, bytes) and isinstance(kb, bytes)
    return (ka > kb) - (ka < kb)


# ----------------------------------------------------------------- the labelled corpora

_SIGN = {"<": -1, "=": 0, ">": 1}


@pytest.mark.parametrize("corpus", ["dpkg-pairs.tsv", "dpkg-generated.tsv"])
def test_dpkg_key_orders_like_real_dpkg(corpus: str) -> None:
    rows = [r for r in _labelled(corpus) if r[2] != "E"]
    assert len(rows) > 1000
    wrong = [(a, b, want) for a, b, want in rows if _key_order(v.dpkg_key, a, b) != _SIGN[want]]
    assert wrong == []


def test_dpkg_reference_port_agrees_with_real_dpkg() -> None:
    rows = [r for r in _labelled("dpkg-pairs.tsv") if r[2] != "E"]
    assert [(a, b) for a, b, want in rows if _dpkg_reference(a, b) != _SIGN[want]] == []


def test_rpm_key_orders_like_librpm() -> None:
    rows = _labelled("rpm-evr-generated.tsv")
    assert len(rows) > 1000
    assert [(a, b, w) for a, b, w in rows if _key_order(v.rpm_key, a, b) != _SIGN[w]] == []
    assert [(a, b, w) for a, b, w in rows if _rpm_reference(a, b) != _SIGN[w]] == []


def test_rpmvercmp_key_orders_like_librpm() -> None:
    rows = _labelled("rpmvercmp-generated.tsv")
    assert [(a, b, w) for a, b, w in rows if _key_order(v.rpmvercmp_key, a, b) != _SIGN[w]] == []
    assert [(a, b, w) for a, b, w in rows if _rpmvercmp(a, b) != _SIGN[w]] == []


# ----------------------------------------------------------------- generated pairs

_DPKG_ALPHABET = "0123456789~+.-:aAzZ%_é"
_RPM_ALPHABET = "0123456789~^.-:_aAzZé"


def _pair(alphabet: str) -> st.SearchStrategy[tuple[str, str]]:
    """Two versions sharing a prefix: the interesting comparisons are near ties."""
    part = st.text(alphabet=alphabet, max_size=8)
    return st.tuples(part, part, part).map(lambda t: (t[0] + t[1], t[0] + t[2]))


def _dpkg_both(a: str, b: str) -> bool:
    try:
        v.parse_dpkg(a)
        v.parse_dpkg(b)
    except ValueError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(_pair(_DPKG_ALPHABET))
@example(("528.0.0-0", "528.0.0-0~pre1"))
@example(("1.0", "1.0-0"))
@example(("0", "0~x"))
@example(("1:0", "9"))
@example(("1.0~rc1", "1.0"))
@example(("1" + "0" * 300, "9" * 299))
@example(("1" + "0" * 300, "2" + "0" * 300))
@example(("1.0é", "1.0+"))
@example(("1.0a", "1.0é"))
def test_dpkg_key_orders_like_verrevcmp(pair: tuple[str, str]) -> None:
    a, b = pair
    if not _dpkg_both(a, b):
        return
    assert _key_order(v.dpkg_key, a, b) == _dpkg_reference(a, b)
    assert _sign(v.dpkg_compare(a, b)) == _dpkg_reference(a, b)


@settings(max_examples=3000, deadline=None)
@given(_pair(_RPM_ALPHABET))
@example(("1.0^git1", "1.0"))
@example(("1.0~rc1", "1.0"))
@example(("1.0^", "1.0~"))
@example(("1.0-1", "1.0"))
@example(("1:1.0-1.el9", "2.0-1.el9"))
@example(("1." + "9" * 300, "1." + "1" + "0" * 300))
@example(("1.0a", "1.01"))
def test_rpm_key_orders_like_rpmvercmp(pair: tuple[str, str]) -> None:
    a, b = pair
    if not a or not b:
        return
    assert _key_order(v.rpm_key, a, b) == _rpm_reference(a, b)
    assert _key_order(v.rpmvercmp_key, a, b) == _rpmvercmp(a, b)


def test_equal_versions_have_equal_keys() -> None:
    assert v.dpkg_key("1.0") == v.dpkg_key("1.0-0") == v.dpkg_key("0:1.0-0")
    assert v.dpkg_key("1.01") == v.dpkg_key("1.1")
    assert v.rpm_key("1.0-1") == v.rpm_key("0:1_0-1")
    assert v.rpm_key("1.0") != v.rpm_key("1.0-")
