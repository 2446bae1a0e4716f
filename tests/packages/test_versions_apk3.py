"""apk-tools 3.x version ordering (Alpine 3.23+) beside 2.x, and which one a host gets.

Labelled by the real rules: apk-tools' own test vectors (master test/unit/version.data)
and 12,000 pairs labelled by apk-tools 3.x's src/version.c compiled as is (header of
data/apk3-generated.tsv). apk-tools is not packaged for Debian, so no fresh sample is
labelled per run; the 2.x comparator keeps its own corpora (test_versions.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.plugins.packages import match, versions

DATA = Path(__file__).parent / "data"
_SIGN = {"<": -1, "=": 0, ">": 1}


def _vector_cases() -> list[tuple[str, ...]]:
    cases = []
    for line in (DATA / "apk3-version.data").read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            cases.append(tuple(text.split()))
    return cases


def test_apk_tools_3_vectors() -> None:
    failures = []
    checked = 0
    for case in _vector_cases():
        if len(case) == 3:
            a, op, b = case
            invert = op.startswith("!")
            op = op.lstrip("!")
            if op not in _SIGN:
                continue  # fuzzy (~) matching is apk's dependency syntax, not ordering
            ok = versions.apk3_compare(a, b) == _SIGN[op]
        else:
            version = case[0]
            invert = version.startswith("!")
            try:
                versions.check_apk3(version.lstrip("!"))
                ok = True
            except ValueError:
                ok = False
        checked += 1
        if ok == invert:
            failures.append(" ".join(case))
    assert checked > 700
    assert failures == []


def test_apk_tools_3_compiled_corpus() -> None:
    rows = [line.split("\t") for line in (DATA / "apk3-generated.tsv").read_text().splitlines() if not line.startswith("#")]
    assert len(rows) == 12000
    wrong = [(a, b, label) for a, b, label in rows if versions.apk3_compare(a, b) != _SIGN[label]]
    assert wrong == []
    # The sort key orders exactly like the comparator.
    key = versions.sort_key("apk3")
    assert all((key(a) < key(b)) == (_SIGN[label] < 0) for a, b, label in rows[:2000])


@pytest.mark.parametrize(
    ("a", "b", "two", "three"),
    [
        ("8.2.0", "8.2.001", 1, -1),  # leading zeros: 2.x weighs zero runs, 3.x compares strings
        ("8.2.0015", "8.2.002", 1, -1),
        ("100000000000000000-r1", "100000000000000000-r10", 0, -1),  # 18 digits: invalid in 2.x
        ("1.0~cafe", "1.0", 1, 1),
        ("1.0~cafe-r1", "1.0~beef-r1", 0, 1),  # the hash token exists only in 3.x
    ],
)
def test_the_two_rule_sets_differ_where_apk_tools_does(a: str, b: str, two: int, three: int) -> None:
    assert versions.apk_compare(a, b) == two
    assert versions.apk3_compare(a, b) == three


@pytest.mark.parametrize(
    ("tools", "scheme"),
    [("2.14.9-r3", "apk"), ("3.0.3-r1", "apk3"), ("10.1-r0", "apk3"), (None, "apk"), ("x", "apk")],
)
def test_the_hosts_apk_tools_picks_the_rules(tools: str | None, scheme: str) -> None:
    packages = [{"name": "musl", "version": "1.2.5-r10"}]
    if tools:
        packages.append({"name": "apk-tools", "version": tools})
    assert match.version_scheme(packages, "apk") == scheme
    assert match.version_scheme(packages, "dpkg") == "dpkg"


def test_a_323_host_is_matched_with_the_3x_rules() -> None:
    from scanner.plugins.packages import feeds

    feed = feeds.ReleaseFeed(
        "alpine:3.23", (), {"vim": [feeds.Affected("CVE-X", "vim", "0", "9.1.002-r0", None, "high")]}, {}
    )
    host = [{"name": "vim", "version": "9.1.0015-r0"}, {"name": "apk-tools", "version": "3.0.3-r1"}]
    scheme = match.version_scheme(host, "apk")
    assert match.match_packages(host, scheme, feed)[0][0]["id"] == "CVE-X"  # 0015 < 002 as strings
    assert match.match_packages(host, "apk", feed)[0] == []  # 2.x would call it fixed
