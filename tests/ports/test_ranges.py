"""Range arithmetic on merged inclusive port ranges."""

from __future__ import annotations

import pytest

from scanner.plugins.ports import ranges as r


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([[5, 6], [1, 2]], [(1, 2), (5, 6)]),
        ([[1, 3], [4, 6]], [(1, 6)]),
        ([[1, 10], [3, 4]], [(1, 10)]),
        ([], []),
    ],
    ids=["sorts", "joins-adjacent", "absorbs-contained", "empty"],
)
def test_normalise(given, expected):
    assert r.normalise(given) == expected


def test_from_ports_summarises_runs():
    assert r.from_ports([7, 1, 2, 3, 9, 8]) == [(1, 3), (7, 9)]


def test_union_merges_all_groups():
    assert r.union([[1, 2]], [[3, 3], [10, 12]], []) == [(1, 3), (10, 12)]


@pytest.mark.parametrize(
    ("port", "expected"),
    [(0, False), (1, True), (5, True), (6, False), (22, True), (65535, False)],
    ids=["below", "first", "range-end", "gap", "single", "above"],
)
def test_contains(port, expected):
    assert r.contains([(1, 5), (22, 22)], port) is expected


@pytest.mark.parametrize(
    ("ranges", "remove", "expected"),
    [
        ([(1, 10)], [(3, 4), (6, 6)], [(1, 2), (5, 5), (7, 10)]),
        ([(1, 10)], [(1, 10)], []),
        ([(1, 10)], [], [(1, 10)]),
        ([(1, 3), (8, 12)], [(2, 9)], [(1, 1), (10, 12)]),
        ([(5, 6)], [(1, 2), (9, 9)], [(5, 6)]),
        ([(1, 65535)], [(1, 1024)], [(1025, 65535)]),
    ],
    ids=["holes", "everything", "nothing", "spanning", "disjoint", "full-range"],
)
def test_subtract(ranges, remove, expected):
    assert r.subtract(ranges, remove) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([(1, 10)], [(3, 4), (9, 20)], [(3, 4), (9, 10)]),
        ([(1, 2)], [(3, 4)], []),
        ([(21, 23), (3389, 3389)], [(23, 23), (3000, 4000)], [(23, 23), (3389, 3389)]),
    ],
    ids=["overlaps", "disjoint", "forbidden-vs-unanswered"],
)
def test_intersect(a, b, expected):
    assert r.intersect(a, b) == expected


def test_count_and_iter_agree():
    ranges = [(1, 3), (10, 10)]
    assert r.count(ranges) == 4
    assert list(r.iter_ports(ranges)) == [1, 2, 3, 10]


def test_text_is_nmap_port_syntax():
    assert r.to_text([(1, 1024), (3306, 3306)]) == "1-1024,3306"
