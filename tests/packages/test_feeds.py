"""Feed import: OSV (directory, zip, list) and Debian tracker JSON into the feed_* tables."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scanner.plugins.packages import feeds
from scanner.store import DATASETS

OSV_DIR, TRACKER = feeds.sample_feed_paths()


@pytest.fixture
def conn() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    feeds.ensure_schema(db)
    return db


def test_ensure_schema_is_idempotent(conn: sqlite3.Connection) -> None:
    feeds.ensure_schema(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == set(DATASETS["advisories"])


def test_osv_directory_import_records_feed_metadata(conn: sqlite3.Connection) -> None:
    result = feeds.import_path(conn, OSV_DIR, now="2026-11-10T00:00:00+00:00")
    assert result.feed.kind == "osv"
    assert result.feed.advisories == 10
    assert result.feed.feed_date == "2026-11-03T09:12:44+00:00"  # newest "modified"
    assert result.feed.imported_at == "2026-11-10T00:00:00+00:00"
    assert result.releases["debian:12"] == 7
    assert [f.name for f in feeds.list_feeds(conn)] == [result.feed.name]


def test_osv_zip_import_matches_directory_import(conn: sqlite3.Connection, tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(OSV_DIR.glob("*.json")):
            zf.write(file, file.name)
    from_zip = feeds.import_path(conn, archive, name="zip")
    from_dir = feeds.import_path(conn, OSV_DIR, name="dir")
    assert from_zip.affected_rows == from_dir.affected_rows
    assert from_zip.releases == from_dir.releases
    assert from_zip.feed.source.endswith("all.zip")


def test_reimport_replaces_rows_of_the_same_feed(conn: sqlite3.Connection) -> None:
    feeds.import_path(conn, OSV_DIR, name="osv")
    feeds.import_path(conn, OSV_DIR, name="osv")
    (count,) = conn.execute("SELECT COUNT(*) FROM feed_affected WHERE feed = 'osv'").fetchone()
    assert count == 11


@pytest.mark.parametrize(
    ("ecosystem", "release"),
    [
        ("Debian:12", "debian:12"),
        ("Ubuntu:22.04:LTS", "ubuntu:22.04"),
        ("Ubuntu:24.04:LTS", "ubuntu:24.04"),
        ("Ubuntu:Pro:22.04:LTS", "ubuntu-pro:22.04"),
        ("Alpine:v3.19", "alpine:3.19"),
        ("Rocky Linux:9", "rocky:9"),
        ("AlmaLinux:9", "almalinux:9"),
        ("Red Hat:enterprise_linux:9::appstream", "rhel:9"),
        ("Red Hat:rhel_aus:8.4::appstream", None),
        ("PyPI", None),
    ],
    ids=lambda x: str(x),
)
def test_release_of_ecosystem(ecosystem: str, release: str | None) -> None:
    assert feeds.release_of_ecosystem(ecosystem) == release


def test_tracker_import_maps_codenames_and_statuses(conn: sqlite3.Connection) -> None:
    result = feeds.import_path(conn, TRACKER)
    assert result.feed.kind == "debian-tracker"
    rows = conn.execute(
        "SELECT advisory, release, package, fixed, severity, note FROM feed_affected ORDER BY advisory"
    ).fetchall()
    assert rows == [
        ("CVE-2023-5363", "debian:12", "openssl", "3.0.11-1~deb12u2", "unknown", None),
        ("CVE-2025-32462", "debian:12", "sudo", "1.9.13p3-1+deb12u2", "high", None),
        ("CVE-2025-32462", "debian:13", "sudo", "1.9.16p2-3", "high", None),
        ("CVE-2025-6021", "debian:12", "libxml2", None, "medium", "postponed"),
        ("TEMP-0290435-0B57B5", "debian:12", "tar", None, "info", None),
    ]


def test_tracker_never_affected_release_gives_no_row(conn: sqlite3.Connection) -> None:
    feeds.import_path(conn, TRACKER)
    assert conn.execute(
        "SELECT COUNT(*) FROM feed_affected WHERE release = 'debian:11'"
    ).fetchone() == (0,)


def test_tracker_feed_date_is_the_file_time(conn: sqlite3.Connection, tmp_path: Path) -> None:
    copy = tmp_path / "json"
    copy.write_text(TRACKER.read_text())
    import os

    os.utime(copy, (1_790_000_000, 1_790_000_000))
    result = feeds.import_path(conn, copy)
    assert result.feed.feed_date == "2026-09-21T14:13:20+00:00"


def test_unknown_json_is_refused(conn: sqlite3.Connection, tmp_path: Path) -> None:
    other = tmp_path / "x.json"
    other.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(feeds.FeedFormatError):
        feeds.import_path(conn, other)


def test_withdrawn_osv_records_are_skipped(conn: sqlite3.Connection) -> None:
    record = json.loads((OSV_DIR / "DSA-5532-1.json").read_text())
    record["withdrawn"] = "2026-01-01T00:00:00Z"
    result = feeds.import_osv_records(conn, [record], name="w")
    assert result.affected_rows == 0


def test_osv_ranges_become_intervals() -> None:
    record = {
        "id": "X-1",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "Debian:12", "name": "pkg"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "0"},
                            {"fixed": "1.0-1"},
                            {"introduced": "2.0-1"},
                            {"last_affected": "2.0-5"},
                            {"introduced": "3.0-1"},
                        ],
                    },
                    {"type": "GIT", "events": [{"introduced": "abc"}, {"fixed": "def"}]},
                ],
            }
        ],
    }
    parsed = feeds.osv_rows(record)
    assert parsed is not None
    intervals = [(p.row.introduced, p.row.fixed, p.row.last_affected) for p in parsed[1]]
    assert intervals == [("0", "1.0-1", None), ("2.0-1", None, "2.0-5"), ("3.0-1", None, None)]


def test_related_and_upstream_cves_are_aliases() -> None:
    dsa = feeds.osv_rows(json.loads((OSV_DIR / "DSA-5587-1.json").read_text()))
    debian = feeds.osv_rows(json.loads((OSV_DIR / "DEBIAN-CVE-2025-32462.json").read_text()))
    assert dsa is not None and debian is not None
    assert dsa[0].aliases == ("CVE-2023-46218", "CVE-2023-46219")
    assert debian[0].aliases == ("CVE-2025-32462",)


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("Critical", "critical"),
        ("Important", "high"),
        ("high", "high"),
        ("Moderate", "medium"),
        ("medium**", "medium"),
        ("low", "low"),
        ("negligible", "info"),
        ("unimportant", "info"),
        ("not yet assigned", "unknown"),
        ("end-of-life", "unknown"),
        (None, "unknown"),
    ],
    ids=lambda x: str(x),
)
def test_severity_of_text(word: object, level: str) -> None:
    assert feeds.severity_of_text(word) == level


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
        ("CVSS:3.1/AV:N", None),
    ],
    ids=lambda x: str(x),
)
def test_cvss3_base_score(vector: str, score: float | None) -> None:
    assert feeds.cvss3_base_score(vector) == score


def test_vendor_word_beats_cvss_score() -> None:
    record = json.loads((OSV_DIR / "RLSA-2024-4312.json").read_text())
    record["severity"] = [
        {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    ]
    parsed = feeds.osv_rows(record)
    assert parsed is not None
    assert parsed[1][0][2].severity == "high"  # "Important", not the 9.8 score


def test_load_release_limits_rows_to_named_packages(conn: sqlite3.Connection) -> None:
    feeds.import_path(conn, OSV_DIR)
    snapshot = feeds.load_release(conn, "debian:12", ["openssl"])
    assert set(snapshot.affected) == {"openssl"}
    assert set(snapshot.advisories) == {"DSA-5532-1", "DEBIAN-CVE-2024-2511"}


def test_release_without_feed_has_no_sources(conn: sqlite3.Connection) -> None:
    feeds.import_path(conn, OSV_DIR)
    assert feeds.load_release(conn, "debian:11", ["openssl"]).feeds == ()


def test_bulk_import_commits_every_row_in_one_transaction(conn: sqlite3.Connection) -> None:
    records = [
        {
            "id": f"GEN-{i}",
            "modified": "2026-11-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "Debian:12", "name": f"pkg{i % 5000}"},
                    "ranges": [
                        {
                            "type": "ECOSYSTEM",
                            "events": [{"introduced": "0"}, {"fixed": f"1.{i}-1"}],
                        }
                    ],
                }
            ],
        }
        for i in range(20_000)
    ]
    result = feeds.import_osv_records(conn, records, name="gen")
    assert result.affected_rows == 20_000
    assert conn.in_transaction is False


def _record(adv_id: str, ecosystem: str, package: str, fixed: str, summary: str) -> dict[str, Any]:
    return {
        "id": adv_id,
        "summary": summary,
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": package},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def test_package_rows_keep_import_order_within_a_package(conn: sqlite3.Connection) -> None:
    feeds.import_osv_records(
        conn,
        [
            _record("B-2", "Debian:12", "p", "1.0-1", "second"),
            _record("A-1", "Debian:12", "p", "2.0-1", "first"),
            _record("C-3", "Debian:12", "q", "1.0-1", "other package"),
        ],
        name="t",
    )
    rows = feeds.package_rows(conn, "debian:12", ["p", "absent"])
    assert list(rows) == ["p"]
    assert [feeds.Affected._make(r).advisory for r in rows["p"]] == ["B-2", "A-1"]
    assert rows["p"] == list(feeds.load_release(conn, "debian:12").affected["p"])


@pytest.mark.parametrize(
    ("a_release", "expected"),
    [("Debian:12", "from a"), ("Debian:11", "from b")],
    ids=["both-feeds-have-rows", "first-feed-has-rows-elsewhere"],
)
def test_release_advisories_pick_the_feed_load_release_picks(
    conn: sqlite3.Connection, a_release: str, expected: str
) -> None:
    feeds.import_osv_records(
        conn,
        [
            _record("X-1", a_release, "p", "1.0-1", "from a"),
            _record("Y-1", "Debian:12", "q", "1.0-1", "keeps feed a in debian:12"),
        ],
        name="a",
    )
    feeds.import_osv_records(conn, [_record("X-1", "Debian:12", "r", "1.0-1", "from b")], name="b")
    found = feeds.release_advisories(conn, "debian:12", ["X-1", "Y-1", "NOPE"])
    assert found["X-1"].summary == expected
    assert set(found) == {"X-1", "Y-1"}
    assert found == feeds.load_release(conn, "debian:12").advisories


# ------------------------------------------------------------------ errors name the file once


def _cli_import(tmp_path: Path, target: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVISCAN_DB": str(tmp_path / "c.db")}
    return subprocess.run([sys.executable, "-m", "scanner", "feeds", "import", str(target)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "X", "affected": [1,]}', ":1:28: not valid JSON: Expecting value"),
        ('{"id": "X",\n  "summary": "unterminated}', ":2:14: not valid JSON: Unterminated string starting at"),
        ('{"neither": "format"}', ": not an OSV, Debian tracker, Alpine secdb, endoflife.date or CSAF 2.0 JSON file"),
    ],
    ids=["bad-value", "second-line", "unknown-format"],
)
def test_the_import_command_names_the_file_once(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    result = _cli_import(tmp_path, bad)
    assert result.returncode == 2
    assert result.stderr == f"error: {bad}{message}\n"


def test_a_missing_path_is_named_once(tmp_path: Path) -> None:
    result = _cli_import(tmp_path, tmp_path / "absent.json")
    assert (result.returncode, result.stderr) == (2, f"error: {tmp_path / 'absent.json'}: no such file or directory\n")


def test_a_broken_record_in_an_osv_directory_names_its_file(tmp_path: Path, conn: sqlite3.Connection) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"id": "A-1", "affected": []}))
    (tmp_path / "b.json").write_text('{"id": "B-1",\n"affected": [}')
    with pytest.raises(feeds.FeedFormatError, match=rf"^{tmp_path / 'b.json'}:2:14: not valid JSON"):
        feeds.import_path(conn, tmp_path)


def test_a_broken_member_of_an_osv_zip_names_the_zip_and_the_member(tmp_path: Path, conn: sqlite3.Connection) -> None:
    dump = tmp_path / "all.zip"
    with zipfile.ZipFile(dump, "w") as archive:
        archive.writestr("DSA-1-1.json", '{"id": "DSA-1-1", "affected": [')
    with pytest.raises(feeds.FeedFormatError, match=rf"^{dump}:DSA-1-1.json:1:32: not valid JSON"):
        feeds.import_path(conn, dump)


@pytest.mark.parametrize(
    "aliases", [[], ["CVE-2024-1"], ["CVE-2024-1", "GHSA-x"], ['a", "b'], ["é"], ["x\\y"], ["", ""], ["a,b"]], ids=str
)
def test_stored_aliases_read_back_whatever_the_json_spacing(aliases: list[str]) -> None:
    from scanner.plugins.packages.feeds import _aliases

    for text in (json.dumps(aliases), json.dumps(aliases, separators=(",", ":")), json.dumps(aliases, indent=1)):
        assert _aliases(text) == tuple(aliases)
