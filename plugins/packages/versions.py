"""Exact version ordering for dpkg, rpm and apk package versions.

Every function here is pure Python and agrees with the real tool:

* :func:`dpkg_compare` with ``dpkg --compare-versions`` (deb-version(7));
* :func:`rpm_compare` with librpm's ``rpmverCmp`` on ``[epoch:]version[-release]``
  strings, segment by segment with ``rpmvercmp`` rules, including ``~`` and ``^``;
* :func:`apk_compare` with apk-tools 2.x (the comparator of Alpine 3.x up to
  3.22; see docs/packages.md for the 3.x differences).

The comparators return a negative number, zero or a positive number like C's
``strcmp``. Sort keys (:func:`dpkg_key`, :func:`rpm_key`, :func:`sort_key`) turn a
version into flat bytes that order exactly like the comparator, so sorting and
bulk matching run at the speed of one memcmp per comparison.

Invalid versions raise :class:`ValueError` where the tool itself refuses them
(dpkg's fatal parse errors, apk's grammar). The ``check_*`` helpers are stricter
and also reject what dpkg only warns about, for validating policy input.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

FORMATS = ("dpkg", "rpm", "apk")
SCHEMES = (*FORMATS, "apk3")
"""Comparators by name: the package formats, and ``apk3`` (apk-tools 3.x ordering of apk versions)."""
_INT_MAX = 2**31 - 1

# --------------------------------------------------------------------------- dpkg


# Sort keys are flat bytes: comparing two keys is one memcmp, whatever the versions.
#
# dpkg reads a version part as alternating (non-digit run, digit run) pairs. A
# non-digit run is its characters weighed '~' < end of run < letters < bytes of
# 0x80 and up (dpkg's signed char) < other ASCII; each byte of the run's UTF-8
# becomes one code in that order and code 2 (end of run) closes it. A digit run
# is its value: the count of its digits without leading zeros, then those digits
# (same count: the digits order as the numbers). Codes never repeat a run's end
# inside it and numbers carry their length, so the key of a part is a prefix of
# no other part's key, and bytes order is dpkg's order.
_DPKG_TILDE, _DPKG_END = 1, 2


def _dpkg_codes() -> bytes:
    table = bytearray(256)
    table[ord("~")] = _DPKG_TILDE
    code = _DPKG_END + 1
    letters = [c for c in range(128) if chr(c).isascii() and chr(c).isalpha()]
    others = [c for c in range(128) if c not in letters and not chr(c).isdigit() and chr(c) != "~"]
    for byte in [*letters, *range(128, 256), *others]:
        table[byte] = code
        code += 1
    return bytes(table)


_DPKG_CODES = _dpkg_codes()
_DPKG_DIGIT_RUNS = re.compile(r"([0-9]+)")
_RUN_END = bytes((_DPKG_END,))


def _number(digits: str) -> bytes:
    """A digit run as bytes ordering like its value: its length without leading zeros, then the digits."""
    digits = digits.lstrip("0")
    size = len(digits)
    head = bytes((size,)) if size < 255 else b"\xff" + size.to_bytes(8, "big")
    return head + digits.encode("ascii")


# Upstream versions and revisions repeat across a feed ("1.2.3", "1+deb12u1"):
# cached, most of a new version's key is two cache hits.
@functools.lru_cache(maxsize=65536)
def _verrev_key(text: str) -> bytes:
    """Key of one upstream-version or revision string under dpkg's verrevcmp.

    The string is read as alternating (non-digit run, digit run) pairs; an
    exhausted string behaves like an endless run of empty pairs, so trailing
    empty pairs are dropped and one "empty non-digit run" closes the key.
    """
    # split() alternates non-digit runs (the first and last may be empty) and
    # digit runs. Only the first pair can be (empty run, 0) and not be the end,
    # as in "0~x": it is kept even for "", "0" and "00", whose key is then
    # (end, 0, end). So a non-digit run always meets a non-digit run or the
    # closing end, which weighs like dpkg's end of string. Dropping that pair
    # put "0" below "0~x" (and 1.0-0 below 1.0-0~pre1).
    parts = _DPKG_DIGIT_RUNS.split(text)
    items: list[bytes] = []
    for i in range(0, len(parts) - 1, 2):
        items.append(parts[i].encode("utf-8").translate(_DPKG_CODES))
        items.append(_RUN_END)
        items.append(_number(parts[i + 1]))
    if parts[-1] or not items:
        items.append(parts[-1].encode("utf-8").translate(_DPKG_CODES))
        items.append(_RUN_END)
        items.append(_number(""))
    items.append(_RUN_END)
    return b"".join(items)


def parse_dpkg(version: str) -> tuple[int, str, str]:
    """Split a Debian version into (epoch, upstream, revision) like dpkg does.

    Raises ValueError for the errors dpkg refuses to compare (empty version,
    embedded spaces, a bad or negative epoch, nothing after the colon, an
    empty revision). Characters dpkg merely warns about are accepted here; use
    :func:`check_dpkg` to reject them too.
    """
    text = version.strip(" \t")
    if not text:
        raise ValueError("version string is empty")
    if " " in text or "\t" in text:
        raise ValueError(f"version {version!r} has embedded spaces")
    epoch = 0
    colon = text.find(":")
    if colon >= 0:
        # dpkg reads the epoch with strtol(): an optional sign, then digits.
        head = text[:colon]
        match = re.fullmatch(r"[+-]?([0-9]+)", head)
        if not head or re.fullmatch(r"[+-]?", head):
            raise ValueError(f"epoch in version {version!r} is empty")
        if match is None:
            raise ValueError(f"epoch in version {version!r} is not a number")
        epoch = int(head)
        if epoch < 0:
            raise ValueError(f"epoch in version {version!r} is negative")
        if epoch > _INT_MAX:
            raise ValueError(f"epoch in version {version!r} is too big")
        text = text[colon + 1 :]
        if not text:
            raise ValueError(f"nothing after colon in version {version!r}")
    upstream, hyphen, revision = text.rpartition("-")
    if not hyphen:
        upstream, revision = text, ""
    elif not revision:
        raise ValueError(f"revision in version {version!r} is empty")
    if not upstream:
        raise ValueError(f"version number in {version!r} is empty")
    return epoch, upstream, revision


_DPKG_UPSTREAM_OK = re.compile(r"[0-9][A-Za-z0-9.+~:-]*")
_DPKG_REVISION_OK = re.compile(r"[A-Za-z0-9.+~]*")


def check_dpkg(version: str) -> None:
    """Raise ValueError unless ``version`` is a well-formed Debian version.

    Stricter than dpkg's comparison: also rejects what dpkg only warns about
    (upstream not starting with a digit, characters outside deb-version(7))
    and a signed epoch such as ``+1:2.0``, which dpkg-query never prints.
    """
    _epoch, upstream, revision = parse_dpkg(version)
    text = version.strip(" \t")
    if text[:1] in "+-" and ":" in text:
        raise ValueError(f"epoch in version {version!r} has a sign")
    if not _DPKG_UPSTREAM_OK.fullmatch(upstream):
        raise ValueError(
            f"upstream version {upstream!r} must start with a digit and use only "
            "letters, digits and . + ~ - :"
        )
    if not _DPKG_REVISION_OK.fullmatch(revision):
        raise ValueError(f"revision {revision!r} may use only letters, digits and . + ~")


@functools.lru_cache(maxsize=262144)
def dpkg_key(version: str) -> bytes:
    """Bytes ordering exactly like :func:`dpkg_compare` (``1.0`` and ``1.0-0`` are equal).

    The epoch (at most 2**31 - 1) as four bytes, then the upstream version's and
    the revision's keys, each closed so that neither is a prefix of another.
    """
    epoch, upstream, revision = parse_dpkg(version)
    return epoch.to_bytes(4, "big") + _verrev_key(upstream) + _verrev_key(revision)


def dpkg_compare(a: str, b: str) -> int:
    """Compare two Debian versions like ``dpkg --compare-versions``: <0, 0 or >0.

    >>> dpkg_compare("1.0~rc1", "1.0") < 0
    True
    >>> dpkg_compare("2.36-9+deb12u10", "2.36-9+deb12u4") > 0
    True
    """
    ka, kb = dpkg_key(a), dpkg_key(b)
    return (ka > kb) - (ka < kb)


# --------------------------------------------------------------------------- rpm

# Element codes inside an rpm key: '~' sorts before the end of the string,
# '^' after the end but before any segment, and numbers beat letters. A letter
# segment is closed by a zero byte (a shorter segment is a prefix: smaller, as
# in strcmp); a number segment is :func:`_number`'s bytes.
_RPM_TILDE = b"\x01"
_RPM_END = b"\x02"
_RPM_CARET = b"\x03"
_RPM_ALPHA = b"\x04"
_RPM_DIGIT = b"\x05"
_RPM_TOKENS = re.compile(r"[0-9]+|[A-Za-z]+|~|\^")


@functools.lru_cache(maxsize=262144)
def rpmvercmp_key(text: str) -> bytes:
    """Bytes ordering one version or release string exactly like ``rpmvercmp``.

    Any character that is not an ASCII letter, digit, ``~`` or ``^`` only
    separates segments, so ``1.0``, ``1_0`` and ``1..0`` are equal.
    """
    key: list[bytes] = []
    for token in _RPM_TOKENS.findall(text):
        if token == "~":
            key.append(_RPM_TILDE)
        elif token == "^":
            key.append(_RPM_CARET)
        elif token[0].isdigit():
            key.append(_RPM_DIGIT + _number(token))
        else:
            key.append(_RPM_ALPHA + token.encode("ascii") + b"\x00")
    key.append(_RPM_END)
    return b"".join(key)


def rpmvercmp(a: str, b: str) -> int:
    """rpm's segment comparison of two version (or release) strings: -1, 0 or 1."""
    if a == b:
        return 0
    ka, kb = rpmvercmp_key(a), rpmvercmp_key(b)
    return (ka > kb) - (ka < kb)


def parse_evr(evr: str) -> tuple[str | None, str, str | None]:
    """Split ``[epoch:]version[-release]`` like librpm's ``rpmverParse``.

    The epoch is the run of digits before a ``:`` at the very start (``:1.0`` has
    epoch ``0``); the release is everything after the last ``-``. Missing parts
    are None. Raises ValueError for an empty string.
    """
    if not evr:
        raise ValueError("version string is empty")
    i = 0
    while i < len(evr) and evr[i].isdigit() and evr[i].isascii():
        i += 1
    last_hyphen = evr.rfind("-", i)
    epoch: str | None = None
    start = 0
    if i < len(evr) and evr[i] == ":":
        epoch = evr[:i] or "0"
        start = i + 1
    if last_hyphen >= 0:
        return epoch, evr[start:last_hyphen], evr[last_hyphen + 1 :]
    return epoch, evr[start:], None


@functools.lru_cache(maxsize=262144)
def rpm_key(evr: str) -> bytes:
    """Bytes ordering exactly like :func:`rpm_compare`.

    A missing epoch is 0. A missing release sorts below any present release
    (even an empty one), as in rpm >= 4.16's ``rpmverCmp``.
    """
    epoch, version, release = parse_evr(evr)
    release_key = b"\x00" if release is None else b"\x01" + rpmvercmp_key(release)
    return rpmvercmp_key(epoch or "0") + rpmvercmp_key(version) + release_key


def rpm_compare(a: str, b: str) -> int:
    """Compare two rpm EVR strings (``[epoch:]version[-release]``): <0, 0 or >0.

    >>> rpm_compare("1.0^git1", "1.0") > 0
    True
    >>> rpm_compare("1:1.0-1.el9", "2.0-1.el9") > 0
    True
    """
    ka, kb = rpm_key(a), rpm_key(b)
    return (ka > kb) - (ka < kb)


def check_rpm(evr: str) -> None:
    """Raise ValueError unless ``evr`` looks like an EVR rpm itself would print."""
    epoch, version, release = parse_evr(evr)
    if not version:
        raise ValueError(f"version in {evr!r} is empty")
    if release == "":
        raise ValueError(f"release in {evr!r} is empty")
    if any(c.isspace() for c in evr):
        raise ValueError(f"version {evr!r} contains spaces")
    if ":" in version:
        raise ValueError(f"epoch in {evr!r} is not a number")
    del epoch


# --------------------------------------------------------------------------- apk
#
# apk-tools 2.x reads a version as a sequence of typed tokens (Gentoo style):
# {digit}{.digit}...{letter}{_suffix{number}}...{-r#}. Token types are ordered;
# a later token may only follow an earlier one, except the listed repeats.

_T_INVALID = -1
_T_DIGIT_OR_ZERO = 0
_T_DIGIT = 1
_T_LETTER = 2
_T_SUFFIX = 3
_T_SUFFIX_NO = 4
_T_REVISION_NO = 5
_T_END = 6

# apk-tools 2.x reads a number into an int64 and calls 18 digits or more invalid.
_APK_MAX_DIGITS = 18
_APK_PRE = ("alpha", "beta", "pre", "rc")
_APK_POST = ("cvs", "svn", "git", "hg", "p")
_APK_REPEATS = {(_T_DIGIT_OR_ZERO, _T_DIGIT), (_T_SUFFIX, _T_SUFFIX_NO), (_T_DIGIT, _T_LETTER)}


def _apk_next_type(prev: int, s: str, pos: int) -> tuple[int, int]:
    """Type of the token starting at ``pos`` and the position of its first character."""
    if pos >= len(s) or s[pos] == "\0":
        return _T_END, pos
    ch = s[pos]
    if prev in (_T_DIGIT, _T_DIGIT_OR_ZERO) and "a" <= ch <= "z":
        new = _T_LETTER
    elif prev == _T_LETTER and ch.isdigit() and ch.isascii():
        new = _T_DIGIT
    elif prev == _T_SUFFIX and ch.isdigit() and ch.isascii():
        new = _T_SUFFIX_NO
    else:
        new = _T_INVALID
        if ch == ".":
            new = _T_DIGIT_OR_ZERO
        elif ch == "_":
            new = _T_SUFFIX
        elif ch == "-" and pos + 1 < len(s) and s[pos + 1] == "r":
            new = _T_REVISION_NO
            pos += 1
        pos += 1
    if new < prev and (new, prev) not in _APK_REPEATS:
        new = _T_INVALID
    return new, pos


def _apk_take(kind: int, s: str, pos: int) -> tuple[int, int, int]:
    """Read one token of type ``kind`` at ``pos``: (value, next type, next position)."""
    if pos >= len(s):
        return 0, _T_END, pos
    start = pos
    if kind == _T_DIGIT_OR_ZERO and s[pos] == "0":
        # A component with leading zeros weighs minus the number of zeros but
        # one, and the last zero with the digits after it is a digit token of
        # its own: 1.0.1 < 1.06 and 6.6. < 6.6.0, as apk-tools 2.x orders them.
        while pos + 1 < len(s) and s[pos + 1] == "0":
            pos += 1
        return start - pos, _T_DIGIT, pos
    if kind in (_T_DIGIT_OR_ZERO, _T_DIGIT, _T_SUFFIX_NO, _T_REVISION_NO):
        while pos < len(s) and "0" <= s[pos] <= "9":
            pos += 1
        if pos - start >= _APK_MAX_DIGITS:
            return -1, _T_INVALID, pos
        value = int(s[start:pos]) if pos > start else 0
    elif kind == _T_LETTER:
        value = ord(s[pos])
        pos += 1
    elif kind == _T_SUFFIX:
        for index, name in enumerate(_APK_PRE):
            if s.startswith(name, pos):
                value = index - len(_APK_PRE)
                pos += len(name)
                break
        else:
            for index, name in enumerate(_APK_POST):
                if s.startswith(name, pos):
                    value = index
                    pos += len(name)
                    break
            else:
                return -1, _T_INVALID, pos
    else:
        return -1, _T_INVALID, pos
    if pos >= len(s):
        return value, _T_END, pos
    new, pos = _apk_next_type(kind, s, pos)
    return value, new, pos


_APK_GRAMMAR = re.compile(
    r"[0-9]+(?:\.[0-9]+)*[a-z]?(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*(?:-r[0-9]+)?"
)


def _apk_tokens_valid(version: str) -> bool:
    """apk-tools 2.x's ``apk_version_validate``: the tokens run to the end."""
    kind, pos = _T_DIGIT, 0
    while kind not in (_T_END, _T_INVALID):
        _value, kind, pos = _apk_take(kind, version, pos)
    return kind == _T_END


def check_apk(version: str) -> None:
    """Raise ValueError unless ``version`` follows apk's version grammar.

    The grammar is ``digit{.digit}...{letter}{_suffix{number}}...{-r#}``. apk-tools
    2.x's own validator lets empty numbers through (``1..0``, ``1.0-r``); apk-tools
    3.x refuses them, and so does this check. Numbers of 18 digits or more
    (leading zeros of a component after a dot aside) are refused as 2.x does.
    """
    if not _APK_GRAMMAR.fullmatch(version) or not _apk_tokens_valid(version):
        raise ValueError(f"{version!r} is not a valid apk version")


def apk_compare(a: str, b: str) -> int:
    """Compare two Alpine package versions like apk-tools 2.x: -1, 0 or 1.

    Invalid versions are compared the way apk compares them (apk itself does
    not refuse them in a comparison); call :func:`check_apk` to reject them.

    >>> apk_compare("1.0_rc1", "1.0")
    -1
    >>> apk_compare("1.0-r10", "1.0-r9")
    1
    """
    if not a or not b:
        raise ValueError("version string is empty")
    at = bt = _T_DIGIT
    ap = bp = 0
    av = bv = 0
    while at == bt and at not in (_T_END, _T_INVALID) and av == bv:
        av, at, ap = _apk_take(at, a, ap)
        bv, bt, bp = _apk_take(bt, b, bp)
    if av != bv:
        return -1 if av < bv else 1
    if at == bt:
        return 0
    # Equal so far: the longer version is newer, unless what follows is a
    # pre-release suffix (1.0_rc1 < 1.0).
    if at == _T_SUFFIX and _apk_take(at, a, ap)[0] < 0:
        return -1
    if bt == _T_SUFFIX and _apk_take(bt, b, bp)[0] < 0:
        return 1
    if at > bt:
        return -1
    if bt > at:
        return 1
    return 0


# --------------------------------------------------------------------------- apk-tools 3.x

# apk-tools 3.x (Alpine 3.23 and later) reads versions with one more token
# (``~hash``), weighs a component with a leading zero as a string, and keeps
# numbers of any length as (wrapping) 64-bit numbers.
_A3_INITIAL, _A3_DIGIT, _A3_LETTER, _A3_SUFFIX, _A3_SUFFIX_NO, _A3_HASH, _A3_REVISION, _A3_END, _A3_INVALID = range(9)
_A3_SUFFIX_NONE = 5
_A3_SUFFIXES = {"alpha": 1, "beta": 2, "pre": 3, "rc": 4, "cvs": 6, "svn": 7, "git": 8, "hg": 9, "p": 10}
_A3_WRAP = 1 << 64
_A3_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_A3_HEX = frozenset("0123456789abcdef")
# (kind, text, number, suffix rank) of one token
_A3Token = tuple[int, str, int, int]


def _a3_span(s: str, pos: int, allowed: frozenset[str]) -> int:
    while pos < len(s) and s[pos] in allowed:
        pos += 1
    return pos


def _a3_digits(s: str, pos: int, kind: int) -> tuple[_A3Token, int]:
    end = pos
    while end < len(s) and "0" <= s[end] <= "9":
        end += 1
    text = s[pos:end]
    if not text:
        return (_A3_INVALID, "", 0, 0), end
    return (kind, text, int(text) % _A3_WRAP, 0), end


def _apk3_tokens(s: str) -> list[_A3Token]:
    """The tokens of ``s`` as apk-tools 3.x reads them, ending with an END or INVALID token."""
    token, pos = _a3_digits(s, 0, _A3_INITIAL)
    tokens = [token]
    while token[0] < _A3_END:
        kind = token[0]
        if pos >= len(s) or s[pos] == "\0":
            token = (_A3_END, "", 0, 0)
        elif "a" <= s[pos] <= "z":
            if kind > _A3_DIGIT:
                token = (_A3_INVALID, "", 0, 0)
            else:
                token = (_A3_LETTER, s[pos], ord(s[pos]), 0)
                pos += 1
        elif s[pos] == "." or "0" <= s[pos] <= "9":
            if s[pos] == ".":
                if kind > _A3_DIGIT:
                    tokens.append((_A3_INVALID, "", 0, 0))
                    break
                pos += 1
            if kind in (_A3_INITIAL, _A3_DIGIT):
                token, pos = _a3_digits(s, pos, _A3_DIGIT)
            elif kind == _A3_SUFFIX:
                token, pos = _a3_digits(s, pos, _A3_SUFFIX_NO)
            else:
                token = (_A3_INVALID, "", 0, 0)
        elif s[pos] == "_":
            end = _a3_span(s, pos + 1, _A3_LOWER)
            rank = _A3_SUFFIXES.get(s[pos + 1 : end], 0)
            token = (_A3_SUFFIX, s[pos + 1 : end], 0, rank) if kind <= _A3_SUFFIX_NO and rank else (_A3_INVALID, "", 0, 0)
            pos = end
        elif s[pos] == "~":
            end = _a3_span(s, pos + 1, _A3_HEX)
            ok = kind < _A3_HASH and end > pos + 1
            token = (_A3_HASH, s[pos + 1 : end], 0, 0) if ok else (_A3_INVALID, "", 0, 0)
            pos = end
        elif s[pos] == "-" and kind < _A3_REVISION and s.startswith("-r", pos):
            token, pos = _a3_digits(s, pos + 2, _A3_REVISION)
        else:
            token = (_A3_INVALID, "", 0, 0)
        tokens.append(token)
    return tokens


def _a3_token_cmp(a: _A3Token, b: _A3Token) -> int:
    kind = a[0]
    if kind == _A3_DIGIT and (a[1][:1] == "0" or b[1][:1] == "0"):
        x, y = a[1], b[1]  # a leading zero: the digits compare as a string
    elif kind in (_A3_INITIAL, _A3_DIGIT, _A3_SUFFIX_NO, _A3_REVISION, _A3_LETTER):
        x, y = a[2], b[2]  # type: ignore[assignment]
    elif kind == _A3_SUFFIX:
        x, y = a[3], b[3]  # type: ignore[assignment]
    else:
        x, y = a[1], b[1]
    return -1 if x < y else (1 if x > y else 0)  # type: ignore[operator]


def apk3_compare(a: str, b: str) -> int:
    """Compare two Alpine package versions like apk-tools 3.x: -1, 0 or 1.

    >>> apk3_compare("8.2.0015", "8.2.002")
    -1
    >>> apk3_compare("1.0~cafe", "1.0")
    1
    """
    if not a or not b:
        raise ValueError("version string is empty")
    ta, tb = _apk3_tokens(a), _apk3_tokens(b)
    index = 0
    while True:
        x, y = ta[index], tb[index]
        if x[0] != y[0] or x[0] >= _A3_END:
            break
        result = _a3_token_cmp(x, y)
        if result:
            return result
        index += 1
    if x[0] == y[0]:
        return 0
    # Equal so far: the longer version is newer unless a pre-release suffix follows.
    if x[0] == _A3_SUFFIX and x[3] < _A3_SUFFIX_NONE:
        return -1
    if y[0] == _A3_SUFFIX and y[3] < _A3_SUFFIX_NONE:
        return 1
    if x[0] > y[0]:
        return -1
    if y[0] > x[0]:
        return 1
    return 0


def check_apk3(version: str) -> None:
    """Raise ValueError unless apk-tools 3.x's ``apk_version_validate`` accepts ``version``."""
    if not version or _apk3_tokens(version)[-1][0] != _A3_END:
        raise ValueError(f"{version!r} is not a valid apk version")


APK3_FROM = 3
"""The apk-tools major version from which the 3.x rules order versions."""


def apk_scheme(apk_tools_version: str | None) -> str:
    """``apk3`` when the host's apk-tools (its package version) is 3.x or later, else ``apk``."""
    if apk_tools_version:
        head = apk_tools_version.split(".", 1)[0]
        if head.isdigit() and int(head) >= APK3_FROM:
            return "apk3"
    return "apk"


# --------------------------------------------------------------------------- dispatch

_COMPARATORS: dict[str, Callable[[str, str], int]] = {
    "dpkg": dpkg_compare,
    "rpm": rpm_compare,
    "apk": apk_compare,
    "apk3": apk3_compare,
}
_CHECKS: dict[str, Callable[[str], None]] = {
    "dpkg": check_dpkg,
    "rpm": check_rpm,
    "apk": check_apk,
    "apk3": check_apk3,
}
_KEYS: dict[str, Callable[[str], Any]] = {
    "dpkg": dpkg_key,
    "rpm": rpm_key,
    "apk": functools.cmp_to_key(apk_compare),  # type: ignore[dict-item]
    "apk3": functools.cmp_to_key(apk3_compare),  # type: ignore[dict-item]
}


def _pick(table: dict[str, Any], fmt: str) -> Any:
    try:
        return table[fmt]
    except KeyError:
        raise ValueError(f"unknown package format {fmt!r} (known: {', '.join(SCHEMES)})") from None


def comparator(fmt: str) -> Callable[[str, str], int]:
    """The comparator for ``dpkg``, ``rpm`` or ``apk``."""
    return _pick(_COMPARATORS, fmt)  # type: ignore[no-any-return]


def compare(fmt: str, a: str, b: str) -> int:
    """Compare two versions with the comparator of package format ``fmt``."""
    return comparator(fmt)(a, b)


def sort_key(fmt: str) -> Callable[[str], Any]:
    """A ``key=`` function for ``sorted()`` that orders versions of format ``fmt``."""
    return _pick(_KEYS, fmt)  # type: ignore[no-any-return]


def check(fmt: str, version: str) -> None:
    """Raise ValueError unless ``version`` is a well-formed version of format ``fmt``."""
    _pick(_CHECKS, fmt)(version)


__all__ = [
    "APK3_FROM",
    "FORMATS",
    "SCHEMES",
    "apk3_compare",
    "apk_compare",
    "apk_scheme",
    "check_apk3",
    "check",
    "check_apk",
    "check_dpkg",
    "check_rpm",
    "comparator",
    "compare",
    "dpkg_compare",
    "dpkg_key",
    "parse_dpkg",
    "parse_evr",
    "rpm_compare",
    "rpm_key",
    "rpmvercmp",
    "rpmvercmp_key",
    "sort_key",
]
