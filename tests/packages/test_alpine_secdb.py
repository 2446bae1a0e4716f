"""Alpine secdb: the ``0`` version lists the issues that never affected the package.

Alpine's convention (aports ``secfixes``): a maintainer who finds a CVE does not apply
to a package lists it under version ``0`` ("attribute a security fix to version 0",
Alpine security team, https://ariadne.space/2021/06/04/a-slightly-delayed-monthly-status-update/),
so no installed version is affected. The recorded real file is in test_feed_semantics.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from scanner.plugins.packages import feeds, match

SECDB = {
    "distroversion": "v3.20",
    "reponame": "main",
    "packages": [
        {"pkg": {"name": "busybox", "secfixes": {"0": ["CVE-2021-42373"], "1.36.1-r6": ["CVE-2023-42363"]}}},
        {"pkg": {"name": "busybox-extras", "secfixes": {"1.36.1-r6": ["CVE-2021-42373"]}}},
    ],
}


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    feeds.ensure_schema(db)
    feeds.import_alpine_secdb(db, SECDB)
    yield db
    db.close()


def test_version_0_gives_no_row_for_its_package_only(conn: sqlite3.Connection) -> None:
    rows = sorted(conn.execute("SELECT advisory, package, fixed FROM feed_affected"))
    assert rows == [("CVE-2021-42373", "busybox-extras", "1.36.1-r6"), ("CVE-2023-42363", "busybox", "1.36.1-r6")]


@pytest.mark.parametrize("installed", ["1.0-r0", "1.36.1-r5", "1.36.1-r6"])
def test_no_busybox_version_is_affected_by_an_issue_listed_under_0(conn: sqlite3.Connection, installed: str) -> None:
    pkgs = [{"name": "busybox", "version": installed}]
    found, _bad = match.match_packages(pkgs, "apk", feeds.load_release(conn, "alpine:3.20"))
    assert "CVE-2021-42373" not in {m["id"] for m in found}
    assert bool(found) is (installed != "1.36.1-r6")  # CVE-2023-42363 still counts below its fix
