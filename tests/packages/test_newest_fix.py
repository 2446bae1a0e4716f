"""The newest fix per (release, package) that ``feeds import`` stores, and stores without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.plugins.packages import advisory_matches, feeds, packages_facts
from scanner.store import Store

RELEASE = "debian:12"
ROWS = [
    ("DSA-1", "foo", "0", "1.2-1"),
    ("DSA-2", "foo", "0", "1.10-1"),  # newer than 1.2-1 by dpkg, older as text
    ("DSA-3", "bar", "2.0-1", "2.5-1"),  # a range that starts later: every version needs a look
    ("DSA-4", "baz", "0", "1.0 bad"),  # unreadable
    ("DSA-5", "qux", "0", "3.0-1"),
]


def _parsed() -> list[tuple[feeds.Advisory, list[feeds.ParsedRow]]]:
    return [
        (
            feeds.Advisory(adv, (), f"about {package}", None, "2026-10-01T00:00:00Z", None),
            [feeds.ParsedRow("Debian:12", RELEASE, feeds.Affected(adv, package, introduced, fixed, None, "high"))],
        )
        for adv, package, introduced, fixed in ROWS
    ]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s.db") as opened:
        with opened.write_dataset("advisories") as conn:
            feeds.import_parsed(conn, _parsed(), "osv", "osv:Debian", now="2026-11-01T00:00:00+00:00")
        yield opened


def _read(store: Store, sql: str) -> list[Any]:
    dataset = store.dataset("advisories")
    assert dataset is not None
    with dataset.read() as conn:
        return list(conn.execute(sql))


def test_an_import_stores_per_package_the_newest_fix_the_other_ranges_and_unreadable_rows(store: Store) -> None:
    rows = _read(store, "SELECT feed, imported_at, release, package, fixed, ranges, unreadable FROM feed_newest")
    assert sorted(rows) == [
        ("osv:Debian", "2026-11-01T00:00:00+00:00", RELEASE, "bar", None, 1, 0),
        ("osv:Debian", "2026-11-01T00:00:00+00:00", RELEASE, "baz", None, 0, 1),
        ("osv:Debian", "2026-11-01T00:00:00+00:00", RELEASE, "foo", "1.10-1", 0, 0),
        ("osv:Debian", "2026-11-01T00:00:00+00:00", RELEASE, "qux", "3.0-1", 0, 0),
    ]


def test_a_reimport_replaces_the_feeds_summary(store: Store) -> None:
    with store.write_dataset("advisories") as conn:
        feeds.import_parsed(conn, _parsed()[:1], "osv", "osv:Debian", now="2026-11-02T00:00:00+00:00")
    rows = _read(store, "SELECT package, fixed, imported_at FROM feed_newest")
    assert rows == [("foo", "1.2-1", "2026-11-02T00:00:00+00:00")]


def _host() -> dict[str, Any]:
    packages = [("foo", "1.5-1"), ("bar", "2.1-1"), ("baz", "1.0-1"), ("qux", "3.1-1")]
    return packages_facts({
        "collected_at": "2026-11-30T08:00:00+00:00",
        "os": {"id": "debian", "version_id": "12"},
        "package_format": "dpkg",
        "packages": [
            {"name": n, "version": v, "source": n, "source_version": v, "status": "installed"} for n, v in packages
        ],
        "kernel": {},
    })


SUMMARIES = {
    "stored": None,
    "imported by a civiscan that did not store it": "DELETE FROM feed_newest",
    "left stale by a later import of such a civiscan": "UPDATE feed_newest SET imported_at = '2026-10-01'",
}


@pytest.mark.parametrize("change", list(SUMMARIES.values()), ids=list(SUMMARIES))
def test_the_matches_are_the_same_whatever_the_summary(store: Store, change: str | None) -> None:
    if change:
        with store.write_dataset("advisories") as conn:
            conn.execute(change)
    found = advisory_matches(store.dataset("advisories"), _host())
    assert found["feed_problem"] is None
    assert [(m["id"], m["package"], m["fixed"]) for m in found["matches"]] == [
        ("DSA-3", "bar", "2.5-1"),
        ("DSA-2", "foo", "1.10-1"),
    ]
    assert found["unreadable_feed_rows"] == 1
