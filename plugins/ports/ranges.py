"""Arithmetic on port ranges: sorted, merged, inclusive ``(start, end)`` pairs.

Facts store port sets as ranges so that a full scan of 65535 ports stays a
one-line JSON value, and every set operation here keeps them merged.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from scanner.options import OptionType, show_value

Range = tuple[int, int]


def parse_ports(value: Any) -> list[list[int]]:
    """Parse ``[22, "8000-8100"]`` or ``"22,80,1-1024"`` into merged [start, end] ranges."""
    if isinstance(value, str):
        items: list[Any] = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"expected ports like [22, '8000-8100'], got {show_value(value)}")
    ranges: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"expected a port, got {show_value(item)}")
        if isinstance(item, int):
            lo = hi = item
        elif isinstance(item, str):
            text = item.strip()
            try:
                if "-" in text:
                    a, b = text.split("-", 1)
                    lo, hi = int(a), int(b)
                else:
                    lo = hi = int(text)
            except ValueError:
                raise ValueError(f"'{item}' is not a port or a range like 8000-8100") from None
        else:
            raise ValueError(f"expected a port, got {show_value(item)}")
        if not (1 <= lo <= 65535 and 1 <= hi <= 65535):
            raise ValueError(f"port {item} is outside 1-65535")
        if lo > hi:
            raise ValueError(f"range {item} runs backwards")
        ranges.append((lo, hi))
    return [list(r) for r in merge_ranges(ranges)]


def merge_ranges(ranges: Any) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


PORTS = OptionType(
    "ports",
    parse_ports,
    "a list of port numbers and 'a-b' ranges (or one such string, comma separated),"
    " normalised to sorted [start, end] ranges",
)
"""The ``ports`` option type of this family's checks."""


def normalise(ranges: Iterable[Sequence[int]]) -> list[Range]:
    """Sort and merge ``[[a, b], ...]`` (lists from JSON or options) into ranges."""
    return merge_ranges((r[0], r[1]) for r in ranges)


def union(*groups: Iterable[Sequence[int]]) -> list[Range]:
    return normalise(r for group in groups for r in group)


def from_ports(ports: Iterable[int]) -> list[Range]:
    """Summarise single port numbers as ranges: ``[1, 2, 3, 7] -> [(1, 3), (7, 7)]``."""
    return merge_ranges((p, p) for p in ports)


def iter_ports(ranges: Iterable[Range]) -> Iterator[int]:
    for lo, hi in ranges:
        yield from range(lo, hi + 1)


def count(ranges: Iterable[Range]) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


def contains(ranges: Sequence[Range], port: int) -> bool:
    """Whether ``port`` is in the merged ``ranges`` (binary search)."""
    i = bisect.bisect_right(ranges, (port, 65536)) - 1
    return i >= 0 and ranges[i][0] <= port <= ranges[i][1]


def subtract(ranges: Sequence[Range], remove: Sequence[Range]) -> list[Range]:
    """The ports of ``ranges`` that are not in ``remove`` (both merged)."""
    out: list[Range] = []
    j = 0
    for lo, hi in ranges:
        cur = lo
        while j < len(remove) and remove[j][1] < cur:
            j += 1
        k = j
        while k < len(remove) and remove[k][0] <= hi:
            rlo, rhi = remove[k]
            if rlo > cur:
                out.append((cur, rlo - 1))
            cur = max(cur, rhi + 1)
            if cur > hi:
                break
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return out


def intersect(a: Sequence[Range], b: Sequence[Range]) -> list[Range]:
    """The ports in both merged range lists."""
    out: list[Range] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def to_text(ranges: Iterable[Range]) -> str:
    """``"1-1024,3306"``: nmap's ``-p`` syntax, also used in messages."""
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def to_json(ranges: Iterable[Range]) -> list[list[int]]:
    return [[lo, hi] for lo, hi in ranges]
