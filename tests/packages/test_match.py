"""Matching installed packages to advisories: by source package, release and comparator."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scanner.plugins.packages import feeds, match

HOST = Path(__file__).resolve().parents[1] / "data" / "packages" / "feeds" / "host-debian12.json"
OSV_DIR, TRACKER = feeds.sample_feed_paths()


@pytest.fixture
def host() -> dict[str, Any]:
    return json.loads(HOST.read_text())


@pytest.fixture
def conn() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    feeds.ensure_schema(db)
    feeds.import_path(db, OSV_DIR, name="osv")
    feeds.import_debian_tracker(
        db, json.loads(TRACKER.read_text()), feed_date="2026-11-05T00:00:00+00:00"
    )
    return db


def _matches(conn: sqlite3.Connection, host: dict[str, Any]) -> dict[str, dict[str, Any]]:
    release = match.release_key(host["os"])
    assert release is not None
    snapshot = feeds.load_release(conn, release, match.source_names(host["packages"], "dpkg"))
    found, unreadable = match.match_packages(host["packages"], host["package_format"], snapshot)
    assert unreadable == 0
    return {m["id"]: m for m in found}


@pytest.mark.parametrize(
    ("os_facts", "key"),
    [
        ({"id": "debian", "version_id": "12", "codename": "bookworm"}, "debian:12"),
        ({"id": "debian", "codename": "trixie"}, "debian:13"),
        ({"id": "debian"}, None),
        ({"id": "ubuntu", "version_id": "22.04"}, "ubuntu:22.04"),
        ({"id": "alpine", "version_id": "3.19.1"}, "alpine:3.19"),
        ({"id": "rocky", "version_id": "9.3"}, "rocky:9"),
        ({"id": "almalinux", "version_id": "9.4"}, "almalinux:9"),
        ({"id": "rhel", "version_id": "9.4"}, "rhel:9"),
        ({"id": "arch"}, None),
        ({"id": "linuxmint", "version_id": "21.3", "id_like": ["ubuntu"]}, None),
    ],
    ids=lambda x: str(x),
)
def test_release_key_from_os_release(os_facts: dict[str, Any], key: str | None) -> None:
    assert match.release_key(os_facts) == key


def test_vulnerable_source_package_is_matched_with_its_binaries(conn, host) -> None:
    found = _matches(conn, host)
    dsa = found["DSA-5532-1"]
    assert dsa["package"] == "openssl"
    assert dsa["binaries"] == ["libssl3", "openssl"]
    assert dsa["installed"] == "3.0.11-1~deb12u1"
    assert dsa["fixed"] == "3.0.11-1~deb12u2"
    assert dsa["severity"] == "high"
    assert dsa["url"] == "https://www.debian.org/security/2023/dsa-5532"


def test_same_cve_from_two_feeds_is_merged(conn, host) -> None:
    found = _matches(conn, host)
    assert "CVE-2023-5363" not in found  # folded into DSA-5532-1
    assert "CVE-2023-5363" in found["DSA-5532-1"]["aliases"]


def test_merge_keeps_the_known_severity_and_the_date(conn, host) -> None:
    curl = _matches(conn, host)["DSA-5532-1"]
    assert curl["severity"] == "high"  # the tracker says "not yet assigned"
    assert curl["published"] == "2023-10-24T00:00:00+00:00"  # the tracker has no dates


def test_vendor_advisory_names_the_merged_match(conn, host) -> None:
    found = _matches(conn, host)
    assert "CVE-2025-32462" not in found
    assert found["DEBIAN-CVE-2025-32462"]["aliases"] == ["CVE-2025-32462"]


def test_epoch_is_respected(conn, host) -> None:
    found = _matches(conn, host)
    assert found["DSA-5724-1"]["installed"] == "1:9.2p1-2+deb12u2"  # < 1:9.2p1-2+deb12u3


def test_fixed_versions_at_or_below_installed_do_not_match(conn, host) -> None:
    found = _matches(conn, host)
    assert "DSA-5514-1" not in found  # glibc 2.36-9+deb12u4 >= 2.36-9+deb12u3
    assert "DSA-5587-1" not in found  # curl exactly at the fixed version


def test_unfixed_advisory_matches_with_null_fixed_and_note(conn, host) -> None:
    found = _matches(conn, host)
    assert found["DEBIAN-CVE-2026-0001"]["fixed"] is None
    assert found["CVE-2025-6021"]["note"] == "postponed"  # tracker only: keeps the CVE id


def test_binnmu_binary_version_does_not_hide_source_version(host) -> None:
    groups = match.group_by_source(host["packages"], "dpkg")
    assert groups["foo"].version == "1.0-1"
    assert groups["foo"].binaries == ("libfoo1",)


def test_removed_packages_are_ignored(host) -> None:
    assert "oldpkg" not in match.group_by_source(host["packages"], "dpkg")


def test_lowest_version_of_a_source_counts() -> None:
    packages = [
        {"name": "a", "version": "2.0-1", "source": "s", "source_version": "2.0-1"},
        {"name": "b", "version": "1.0-1", "source": "s", "source_version": "1.0-1"},
    ]
    assert match.group_by_source(packages, "dpkg")["s"].version == "1.0-1"


def _snapshot(rows: list[feeds.Affected], release: str) -> feeds.ReleaseFeed:
    info = feeds.FeedInfo("t", "osv", "", "", "2026-11-01T00:00:00+00:00", len(rows))
    by_pkg: dict[str, list[feeds.Affected]] = {}
    for row in rows:
        by_pkg.setdefault(row.package, []).append(row)
    return feeds.ReleaseFeed(release, (info,), by_pkg, {})


@pytest.mark.parametrize(
    ("installed", "introduced", "fixed", "last", "hit"),
    [
        ("1.0-1", "0", "1.0-2", None, True),
        ("1.0-2", "0", "1.0-2", None, False),
        ("0.9-1", "1.0-1", "1.0-2", None, False),
        ("1.5-1", "1.0-1", None, "1.5-1", True),
        ("1.5-2", "1.0-1", None, "1.5-1", False),
        ("9.9-9", "0", None, None, True),
    ],
    ids=[
        "below-fix",
        "at-fix",
        "before-introduced",
        "at-last-affected",
        "after-last-affected",
        "unfixed",
    ],
)
def test_range_semantics(
    installed: str, introduced: str, fixed: str | None, last: str | None, hit: bool
) -> None:
    row = feeds.Affected("ADV-1", "p", introduced, fixed, last, "high")
    packages = [{"name": "p", "version": installed, "source": "p", "source_version": installed}]
    found, _ = match.match_packages(packages, "dpkg", _snapshot([row], "debian:12"))
    assert bool(found) is hit


def test_rpm_matches_binary_evr_with_epoch() -> None:
    row = feeds.Affected("RLSA-1", "openssh", "0", "0:8.7p1-38.el9_4.1", None, "high")
    packages = [
        {
            "name": "openssh-server",
            "version": "8.7p1-38.el9",
            "source": "openssh",
            "source_version": "8.7p1-38.el9",
            "status": "installed",
        }
    ]
    found, _ = match.match_packages(packages, "rpm", _snapshot([row], "rocky:9"))
    assert [m["id"] for m in found] == ["RLSA-1"]


def test_rpm_feed_may_name_the_binary_package() -> None:
    row = feeds.Affected("RHSA-1", "openssh-server", "0", "8.7p1-40.el9", None, "high")
    packages = [{"name": "openssh-server", "version": "8.7p1-38.el9", "source": "openssh"}]
    found, _ = match.match_packages(packages, "rpm", _snapshot([row], "rhel:9"))
    assert found[0]["package"] == "openssh"


def test_apk_comparator_is_used_for_alpine() -> None:
    row = feeds.Affected("ALPINE-1", "openssh", "0", "9.6_p1-r0", None, "high")
    packages = [{"name": "openssh", "version": "9.6_rc1-r0", "source": "openssh"}]
    found, _ = match.match_packages(packages, "apk", _snapshot([row], "alpine:3.19"))
    assert found[0]["installed"] == "9.6_rc1-r0"


def test_unreadable_fixed_version_is_counted_not_matched() -> None:
    row = feeds.Affected("BAD-1", "p", "0", "1.0 bad", None, "high")
    packages = [{"name": "p", "version": "1.0-1", "source": "p", "source_version": "1.0-1"}]
    found, unreadable = match.match_packages(packages, "dpkg", _snapshot([row], "debian:12"))
    assert (found, unreadable) == ([], 1)


# --- the feed's state and urgency in the match ---------------------------------------


def _advisory(adv_id: str, *aliases: str) -> feeds.Advisory:
    return feeds.Advisory(adv_id, aliases, "", None, None, None)


def _merged(*rows: feeds.Affected, advisories: dict[str, feeds.Advisory] | None = None) -> list[dict[str, Any]]:
    packages = [{"name": "libxml2", "version": "2.9.14+dfsg-1.3", "source": "libxml2",
                 "source_version": "2.9.14+dfsg-1.3"}]
    snapshot = _snapshot(list(rows), "debian:12")
    snapshot = feeds.ReleaseFeed(snapshot.release, snapshot.feeds, snapshot.affected, advisories or {})
    found, _ = match.match_packages(packages, "dpkg", snapshot)
    return found


def test_the_match_carries_the_tracker_state_and_urgency() -> None:
    row = feeds.Affected("CVE-2025-6021", "libxml2", "0", None, None, "low", "no-dsa", "no-dsa", "low")
    [found] = _merged(row)
    assert (found["state"], found["urgency"], found["note"]) == ("no-dsa", "low", "no-dsa")


def test_a_match_without_state_or_urgency_has_neither_key() -> None:
    [found] = _merged(feeds.Affected("CVE-1", "libxml2", "0", "2.9.14+dfsg-1.4", None, "high"))
    assert "state" not in found and "urgency" not in found


def test_the_tracker_state_replaces_a_bare_open_when_merged() -> None:
    osv = feeds.Affected("DEBIAN-CVE-2025-6021", "libxml2", "0", None, None, "unknown", None, "open", None)
    tracker = feeds.Affected("CVE-2025-6021", "libxml2", "0", None, None, "low", "postponed", "postponed", "low")
    [found] = _merged(osv, tracker, advisories={"DEBIAN-CVE-2025-6021": _advisory("DEBIAN-CVE-2025-6021", "CVE-2025-6021")})
    assert found["id"] == "DEBIAN-CVE-2025-6021"  # one finding, named after the vendor record
    assert (found["state"], found["urgency"], found["severity"]) == ("postponed", "low", "low")


def test_a_fix_from_either_side_makes_the_merged_match_resolved() -> None:
    # The DSA knows a fix the host lacks; a stale tracker entry calls the issue no-dsa.
    dsa = feeds.Affected("DSA-9001-1", "libxml2", "0", "2.9.14+dfsg-1.3+deb12u1", None, "high", None, "resolved", None)
    tracker = feeds.Affected("CVE-2025-6021", "libxml2", "0", None, None, "low", "no-dsa", "no-dsa", "high**")
    [found] = _merged(dsa, tracker, advisories={"DSA-9001-1": _advisory("DSA-9001-1", "CVE-2025-6021")})
    assert (found["fixed"], found["state"], found["urgency"]) == ("2.9.14+dfsg-1.3+deb12u1", "resolved", "high**")


def test_an_unfixed_vendor_row_does_not_undo_the_tracker_state() -> None:
    tracker = feeds.Affected("CVE-2025-6021", "libxml2", "0", None, None, "info", "ignored", "ignored", "unimportant")
    usn = feeds.Affected("CVE-2025-6021", "libxml2", "0", None, None, "unknown", None, "open", "medium")
    [found] = _merged(tracker, usn)
    assert (found["state"], found["urgency"]) == ("ignored", "unimportant")
