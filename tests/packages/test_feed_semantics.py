"""Advisory semantics: OSV ranges, events and versions; CVSS; aliases; tracker states; importers.

OSV cases follow the schema's evaluation rules (ossf/osv-schema docs/schema.md,
"Evaluation"); the importer tests run on recorded real records (tests/packages/data,
each with its source in data/README.md).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Status
from scanner.options import validate_options
from scanner.plugins.packages import eol_facts, feeds, match
from scanner.plugins.packages.checks import VULNERABLE, bundled_eol, judge_matches
from tests.conftest import judge

DATA = Path(__file__).parent / "data"


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    feeds.ensure_schema(db)
    yield db
    db.close()


def _record(affected: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": "OSV-TEST-1", "modified": "2026-11-01T00:00:00Z", "affected": affected, **extra}


def _debian(ranges: list[dict[str, Any]], versions: list[str] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"package": {"ecosystem": "Debian:12", "name": "p"}, "ranges": ranges}
    if versions is not None:
        entry["versions"] = versions
    return entry


def _affected(conn: sqlite3.Connection, record: dict[str, Any], installed: str) -> list[dict[str, Any]]:
    feeds.import_osv_records(conn, [record], name="t")
    pkgs = [{"name": "p", "version": installed, "source_version": installed}]
    found, _bad = match.match_packages(pkgs, "dpkg", feeds.load_release(conn, "debian:12"))
    return found


def _eco(*events: dict[str, str]) -> dict[str, Any]:
    return {"type": "ECOSYSTEM", "events": list(events)}


@pytest.mark.parametrize(
    ("installed", "hit"),
    [("0.9", True), ("1.0-1", False), ("2.0", False), ("2.5", True), ("3.0-1", False), ("3.5", True), ("9.9", True)],
)
def test_several_ranges_and_events(conn: sqlite3.Connection, installed: str, hit: bool) -> None:
    record = _record([_debian([
        _eco({"introduced": "0"}, {"fixed": "1.0-1"}, {"introduced": "2.5"}, {"last_affected": "2.9"}),
        _eco({"introduced": "3.5"}),
    ])])
    assert bool(_affected(conn, record, installed)) is hit


@pytest.mark.parametrize(("installed", "hit"), [("1.5", True), ("1.9", True), ("2.0", False), ("2.1", False)])
def test_limit_caps_an_open_range(conn: sqlite3.Connection, installed: str, hit: bool) -> None:
    record = _record([_debian([_eco({"introduced": "1.0"}, {"limit": "2.0"})])])
    assert bool(_affected(conn, record, installed)) is hit


def test_limit_below_a_last_affected_wins(conn: sqlite3.Connection) -> None:
    record = _record([_debian([_eco({"introduced": "0"}, {"last_affected": "3.0"}, {"limit": "2.0"})])])
    assert _affected(conn, record, "1.9") and not _affected(conn, record, "2.5")


def test_limit_star_is_infinity(conn: sqlite3.Connection) -> None:
    record = _record([_debian([_eco({"introduced": "1.0"}, {"limit": "*"})])])
    assert _affected(conn, record, "99")


@pytest.mark.parametrize(("installed", "hit"), [("1:1.0-1", True), ("1:1.1-1", False), ("1:1.2-1", True), ("1:1.3-1", False)])
def test_versions_list_outside_the_ranges_is_affected_exactly(conn: sqlite3.Connection, installed: str, hit: bool) -> None:
    record = _record([_debian([_eco({"introduced": "0"}, {"fixed": "1:1.1-1"})], versions=["1:1.0-1", "1:1.2-1"])])
    assert bool(_affected(conn, record, installed)) is hit


def test_versions_already_in_a_range_add_no_rows() -> None:
    usn = json.loads((DATA / "ubuntu-osv" / "USN-6859-1.json").read_text())
    parsed = feeds.osv_rows(usn)
    assert parsed is not None
    assert [p.range_type for p in parsed[1]] == ["ECOSYSTEM", "ECOSYSTEM"]  # every listed version is below the fix


def test_a_versions_list_alone_needs_no_range(conn: sqlite3.Connection) -> None:
    record = _record([_debian([], versions=["2.0-1"])])
    assert _affected(conn, record, "2.0-1") and not _affected(conn, record, "2.0-2")


@pytest.mark.parametrize(
    ("kind", "events", "kept"),
    [
        ("SEMVER", [{"introduced": "0"}, {"fixed": "1.2.3"}], True),
        ("SEMVER", [{"introduced": "1.0.0-rc.1"}, {"fixed": "1.2.3"}], False),  # pre-release: SemVer order only
        ("GIT", [{"introduced": "abc"}, {"fixed": "def"}], False),
        ("ECOSYSTEM", [{"introduced": "0"}, {"fixed": "1.2.3-1"}], True),
    ],
)
def test_range_types(kind: str, events: list[dict[str, str]], kept: bool) -> None:
    parsed = feeds.osv_rows(_record([_debian([{"type": kind, "events": events}])]))
    assert parsed is not None
    assert bool(parsed[1]) is kept
    if kept:
        assert parsed[1][0].range_type == kind


def test_withdrawn_advisories_are_dropped(conn: sqlite3.Connection) -> None:
    record = _record([_debian([_eco({"introduced": "0"}, {"fixed": "9"})])], withdrawn="2026-11-02T00:00:00Z")
    assert feeds.osv_rows(record) is None
    assert _affected(conn, record, "1.0") == []


@pytest.mark.parametrize(
    ("vector", "score", "level"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, "critical"),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1, "high"),
        ("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, "medium"),
        # FIRST's CVSS v4.0 specification examples.
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, "critical"),
        ("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5, "high"),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0, "info"),
    ],
)
def test_cvss_vectors_are_scored_and_rate_an_unrated_advisory(vector: str, score: float, level: str) -> None:
    assert feeds.cvss_base_score(vector) == score
    kind = "CVSS_V4" if vector.startswith("CVSS:4") else "CVSS_V3"
    parsed = feeds.osv_rows(_record([_debian([_eco({"introduced": "0"})])], severity=[{"type": kind, "score": vector}]))
    assert parsed is not None
    assert parsed[1][0].row.severity == level
    assert (parsed[0].cvss_vector, parsed[0].cvss_score) == (vector, score)


@pytest.mark.parametrize("vector", ["CVSS:3.1/AV:N", "CVSS:4.0/AV:X", "AV:N/AC:L/Au:N/C:P/I:P/A:P", ""])
def test_unreadable_vectors_score_nothing(vector: str) -> None:
    assert feeds.cvss_base_score(vector) is None


def test_a_vendor_word_beats_the_vector() -> None:
    record = _record(
        [_debian([_eco({"introduced": "0"})]) | {"ecosystem_specific": {"urgency": "low"}}],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    )
    parsed = feeds.osv_rows(record)
    assert parsed is not None
    assert (parsed[1][0].row.severity, parsed[1][0].urgency) == ("low", "low")


# ------------------------------------------------------------------ aliases


def test_one_cve_from_the_tracker_and_osv_is_one_finding(conn: sqlite3.Connection) -> None:
    tracker = {"openssl": {"CVE-2024-2511": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "3.0.14-1~deb12u1", "urgency": "low"}}}}}
    feeds.import_debian_tracker(conn, tracker, feed_date="2026-11-30T00:00:00+00:00")
    feeds.import_osv_records(conn, [{
        "id": "DEBIAN-CVE-2024-2511", "upstream": ["CVE-2024-2511"], "modified": "2026-11-30T00:00:00Z",
        "affected": [_debian([_eco({"introduced": "0"}, {"fixed": "3.0.14-1~deb12u1"})]) | {"package": {"ecosystem": "Debian:12", "name": "openssl"}}],
    }])
    pkgs = [{"name": "libssl3", "source": "openssl", "version": "3.0.11-1~deb12u2", "source_version": "3.0.11-1~deb12u2"}]
    found, _bad = match.match_packages(pkgs, "dpkg", feeds.load_release(conn, "debian:12"))
    assert len(found) == 1
    assert {found[0]["id"], *found[0]["aliases"]} == {"DEBIAN-CVE-2024-2511", "CVE-2024-2511"}
    aliases = set(conn.execute("SELECT feed, advisory, alias FROM feed_aliases"))
    assert aliases == {("osv:Debian", "DEBIAN-CVE-2024-2511", "CVE-2024-2511")}
    canonical = dict(conn.execute("SELECT id, canonical FROM feed_advisories"))
    assert canonical == {"CVE-2024-2511": "CVE-2024-2511", "DEBIAN-CVE-2024-2511": "CVE-2024-2511"}


def test_a_tracker_no_dsa_and_an_open_osv_record_are_one_informational_finding(conn: sqlite3.Connection) -> None:
    tracker = {"libxml2": {"CVE-2025-6021": {"releases": {"bookworm": {
        "status": "open", "urgency": "low", "nodsa": "Minor issue", "nodsa_reason": ""}}}}}
    feeds.import_debian_tracker(conn, tracker, feed_date="2026-11-30T00:00:00+00:00")
    feeds.import_osv_records(conn, [{
        "id": "DEBIAN-CVE-2025-6021", "upstream": ["CVE-2025-6021"], "modified": "2026-11-30T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "libxml2"},
                      "ranges": [_eco({"introduced": "0"})]}],
    }])
    pkgs = [{"name": "libxml2", "source": "libxml2", "version": "2.9.14+dfsg-1.3", "source_version": "2.9.14+dfsg-1.3"}]
    [found], _bad = match.match_packages(pkgs, "dpkg", feeds.load_release(conn, "debian:12"))
    assert (found["id"], found["aliases"], found["fixed"]) == ("DEBIAN-CVE-2025-6021", ["CVE-2025-6021"], None)
    assert (found["state"], found["urgency"], found["severity"]) == ("no-dsa", "low", "low")
    facts = {"collected_at": "2026-11-30T08:00:00+00:00", "release": "debian:12"}
    feed = {"release": "debian:12", "date": "2026-11-30T00:00:00+00:00", "sources": []}
    options, _problems = validate_options(VULNERABLE.options, {"min_severity": "low"}, VULNERABLE.id)
    outcome = judge_matches(facts, {"feed": feed, "matches": [found]}, options)
    assert outcome.status is Status.PASS
    assert outcome.evidence["informational"][0]["state"] == "no-dsa"


def test_canonical_id() -> None:
    assert feeds.canonical_id("DSA-5587-1", ("CVE-2023-46218", "CVE-2023-46219")) == "DSA-5587-1"
    assert feeds.canonical_id("USN-6859-1", ("UBUNTU-CVE-2024-6387",)) == "USN-6859-1"
    assert feeds.canonical_id("ALSA-2024:4312", ("CVE-2024-6387",)) == "CVE-2024-6387"


# ------------------------------------------------------------------ Debian tracker states


def test_tracker_states_and_urgency_are_columns(conn: sqlite3.Connection) -> None:
    def rel(**kw: Any) -> dict[str, Any]:
        return {"bookworm": {"repositories": {"bookworm": "1.0-1"}, **kw}}

    tracker = {"p": {
        "CVE-1": {"releases": rel(status="resolved", fixed_version="1.0-2", urgency="medium")},
        "CVE-2": {"releases": rel(status="open", urgency="low", nodsa="Minor issue", nodsa_reason="")},
        "CVE-3": {"releases": rel(status="open", urgency="low", nodsa="Minor issue", nodsa_reason="postponed")},
        "CVE-4": {"releases": rel(status="open", urgency="unimportant", nodsa="", nodsa_reason="ignored")},
        "CVE-5": {"releases": rel(status="open", urgency="end-of-life")},
        "CVE-6": {"releases": rel(status="undetermined", urgency="not yet assigned")},
        "CVE-7": {"releases": rel(status="open", urgency="high")},
        "CVE-8": {"releases": rel(status="resolved", fixed_version="0", urgency="unimportant")},
    }}
    feeds.import_debian_tracker(conn, tracker)
    rows = {r[0]: r[1:] for r in conn.execute("SELECT advisory, state, urgency, fixed, note, range_type FROM feed_affected")}
    assert rows == {
        "CVE-1": ("resolved", "medium", "1.0-2", None, "TRACKER"),
        "CVE-2": ("no-dsa", "low", None, "no-dsa", "TRACKER"),
        "CVE-3": ("postponed", "low", None, "postponed", "TRACKER"),
        "CVE-4": ("ignored", "unimportant", None, "ignored", "TRACKER"),
        "CVE-5": ("end-of-life", "end-of-life", None, "end-of-life", "TRACKER"),
        "CVE-6": ("undetermined", "not yet assigned", None, "undetermined", "TRACKER"),
        "CVE-7": ("open", "high", None, None, "TRACKER"),
    }


# ------------------------------------------------------------------ importers on recorded real data


def test_ubuntu_osv_usn_and_cve_record_make_one_match(conn: sqlite3.Connection) -> None:
    result = feeds.import_path(conn, DATA / "ubuntu-osv", name="ubuntu")
    assert result.releases == {"ubuntu:22.04": 2, "ubuntu:24.04": 2}
    pkgs = [{"name": "openssh-server", "source": "openssh", "version": "1:8.9p1-3ubuntu0.7", "source_version": "1:8.9p1-3ubuntu0.7"}]
    found, _bad = match.match_packages(pkgs, "dpkg", feeds.load_release(conn, "ubuntu:22.04"))
    assert len(found) == 1  # USN-6859-1 and UBUNTU-CVE-2024-6387 name each other
    assert found[0]["id"] == "UBUNTU-CVE-2024-6387" or found[0]["id"] == "USN-6859-1"
    assert found[0]["fixed"] == "1:8.9p1-3ubuntu0.10"
    assert found[0]["severity"] == "high"  # ecosystem_specific.ubuntu_priority
    fixed = [{**pkgs[0], "version": "1:8.9p1-3ubuntu0.10", "source_version": "1:8.9p1-3ubuntu0.10"}]
    assert match.match_packages(fixed, "dpkg", feeds.load_release(conn, "ubuntu:22.04"))[0] == []
    urgency = {r[0] for r in conn.execute("SELECT urgency FROM feed_affected WHERE advisory = 'UBUNTU-CVE-2024-6387'")}
    assert urgency == {"high"}
    vector = conn.execute("SELECT cvss_vector, cvss_score FROM feed_advisories WHERE id = 'UBUNTU-CVE-2024-6387'").fetchone()
    assert vector == ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H", 8.1)


def test_alpine_secdb(conn: sqlite3.Connection) -> None:
    result = feeds.import_path(conn, DATA / "alpine-secdb-v3.11-main.json")
    assert (result.feed.name, result.feed.kind) == ("alpine-secdb:v3.11-main", "alpine-secdb")
    rows = sorted(conn.execute("SELECT advisory, package, fixed, state, range_type FROM feed_affected"))
    assert rows == [
        ("CVE-2017-9669", "apk-tools", "2.7.2-r0", "resolved", "SECDB"),
        ("CVE-2017-9671", "apk-tools", "2.7.2-r0", "resolved", "SECDB"),
        ("CVE-2018-7540", "xen", "4.10.0-r2", "resolved", "SECDB"),
        ("XSA-248", "xen", "4.10.0-r1", "resolved", "SECDB"),
    ]  # "4.10-1-r1" is no apk version (apk version -c refuses it): no row
    assert set(conn.execute("SELECT advisory, alias FROM feed_aliases")) == {("CVE-2018-7540", "XSA-252")}
    pkgs = [{"name": "xen", "version": "4.10.0-r1"}, {"name": "apk-tools", "version": "2.7.2-r0"}]
    found, unreadable = match.match_packages(pkgs, "apk", feeds.load_release(conn, "alpine:3.11"))
    assert [(m["id"], m["fixed"], m["aliases"]) for m in found] == [("CVE-2018-7540", "4.10.0-r2", ["XSA-252"])]
    assert unreadable == 0


def test_almalinux_osv(conn: sqlite3.Connection) -> None:
    result = feeds.import_path(conn, DATA / "ALSA-2024-4312.json")
    assert result.releases == {"almalinux:9": 6}
    pkgs = [{"name": "openssh-server", "source": "openssh", "version": "8.7p1-38.el9"}]
    found, _bad = match.match_packages(pkgs, "rpm", feeds.load_release(conn, "almalinux:9"))
    assert [(m["id"], m["fixed"], m["severity"]) for m in found] == [("ALSA-2024:4312", "8.7p1-38.el9_4.1", "high")]
    assert found[0]["aliases"] == ["CVE-2024-6387"]
    urgency = {r[0] for r in conn.execute("SELECT urgency FROM feed_affected")}
    assert urgency == {"Important"}  # the impact word the title starts with


# ------------------------------------------------------------------ end of life


def test_endoflife_cycles_import_and_reach_the_facts(tmp_path: Path) -> None:
    from scanner.store import Store

    with Store(tmp_path / "s.db") as store:
        with store.write_dataset("advisories") as conn:
            result = feeds.import_path(conn, DATA / "endoflife" / "debian.json")
        assert (result.feed.name, result.feed.kind) == ("eol:debian", "eol")
        facts = eol_facts(store.dataset("advisories"), {"id": "debian", "version_id": "12"})
    assert facts is not None
    assert (facts["feed"], facts["cycle"], facts["end"]) == ("eol:debian", "12", "2028-06-30")
    outcome = judge("os.supported_release", {"collected_at": "2026-11-10T00:00:00+00:00", "os": {"id": "debian", "version_id": "12"}, "eol": facts})
    assert outcome.status is Status.PASS
    assert outcome.evidence["eol_source"] == "feed eol:debian"


def test_an_end_of_life_list_imported_after_the_scan_is_judged_without_a_rescan(tmp_path: Path) -> None:
    from scanner.plugin import lend
    from scanner.plugins.packages.checks import SUPPORTED_RELEASE
    from scanner.store import Store

    # Collected when an older list said Debian 12 ended in 2025; the store now holds the real list.
    facts = {"collected_at": "2026-11-10T00:00:00+00:00", "os": {"id": "debian", "version_id": "12"},
             "eol": {"feed": "eol:debian", "date": "2024-01-01", "product": "debian", "cycle": "12",
                     "end": "2025-01-01"}}
    values, problems = validate_options(SUPPORTED_RELEASE.options, {}, SUPPORTED_RELEASE.id)
    assert problems == []
    with Store(tmp_path / "s.db") as store:
        assert SUPPORTED_RELEASE.evaluate(facts, values, lend(SUPPORTED_RELEASE, store)).status is Status.FAIL
        with store.write_dataset("advisories") as conn:
            feeds.import_path(conn, DATA / "endoflife" / "debian.json")
        outcome = SUPPORTED_RELEASE.evaluate(facts, values, lend(SUPPORTED_RELEASE, store))
    assert outcome.status is Status.PASS
    assert (outcome.evidence["eol"], outcome.evidence["eol_source"]) == ("2028-06-30", "feed eol:debian")
    assert outcome.evidence["eol_feed_date"] != "2024-01-01"
    # With no store to read (judged elsewhere), the facts' own copy still decides.
    assert SUPPORTED_RELEASE.evaluate(facts, values, lend(SUPPORTED_RELEASE, None)).status is Status.FAIL


def test_the_bundled_snapshot_is_used_and_named() -> None:
    assert bundled_eol()["ubuntu"]["22.04"] == "2027-04-01"
    outcome = judge("os.supported_release", {"collected_at": "2026-11-10T00:00:00+00:00", "os": {"id": "alpine", "version_id": "3.20.3"}})
    assert outcome.status is Status.FAIL
    assert outcome.evidence["eol_source"] == "bundled endoflife.date snapshot"
    assert outcome.evidence["eol_feed_date"] == "2026-08-22"
    assert outcome.evidence["release"] == "3.20"


def test_reports_show_where_the_end_of_life_date_came_from_and_its_date(tmp_path: Path) -> None:
    from scanner.reports.evidence import readable
    from scanner.store import Store

    bundled = judge("os.supported_release", {"collected_at": "2026-11-10T00:00:00+00:00",
                                             "os": {"id": "alpine", "version_id": "3.20.3"}})
    end = bundled_eol()["alpine"]["3.20"]
    assert readable("os.supported_release", bundled.evidence) == [
        f"alpine 3.20: end of support {end}, from the bundled endoflife.date snapshot dated 2026-08-22"]
    with Store(tmp_path / "s.db") as store:
        with store.write_dataset("advisories") as conn:
            feeds.import_path(conn, DATA / "endoflife" / "debian.json")
        facts = eol_facts(store.dataset("advisories"), {"id": "debian", "version_id": "12"})
    assert facts is not None
    imported = judge("os.supported_release", {"collected_at": "2026-11-10T00:00:00+00:00",
                                              "os": {"id": "debian", "version_id": "12"}, "eol": facts})
    (line,) = readable("os.supported_release", imported.evidence)
    assert line.startswith("debian 12: end of support 2028-06-30, from the feed eol:debian dated ")
    assert line.endswith(str(facts["date"])[:10])


def test_the_v1_api_shape_is_read_too() -> None:
    data = {"schema_version": "1.2.0", "result": {"name": "debian", "releases": [
        {"name": "12", "codename": "Bookworm", "releaseDate": "2023-06-10", "isEol": False,
         "eolFrom": "2026-06-10", "eoesFrom": "2028-06-30", "isLts": False, "latest": {"name": "12.11"}},
    ]}}
    cycles = feeds.eol_cycles(data, "ignored")
    assert cycles == [feeds.EolCycle("debian", "12", "Bookworm", "2023-06-10", "2026-06-10", "2028-06-30", False, "12.11")]


def test_a_stale_feed_names_its_one_command_remedy() -> None:
    from scanner.plugins.packages.checks import judge_matches

    facts = {"collected_at": "2026-11-30T00:00:00+00:00", "release": "debian:12"}
    found = {"feed": {"release": "debian:12", "date": "2026-11-01T00:00:00+00:00", "sources": []}, "matches": []}
    outcome = judge_matches(facts, found, {"max_feed_age_days": 7})
    assert outcome.status is Status.ERROR
    assert outcome.message.endswith("Run: civiscan feeds update")


# The OSV schema's own examples (ossf/osv-schema docs/schema.md), reduced to their affected part.
def test_schema_example_last_affected_and_a_second_introduced(conn: sqlite3.Connection) -> None:
    # "introduced 0, last_affected 1.0" then "introduced 2.0" (open): 1.0 is affected, 1.1 not, 2.0 on again.
    record = _record([_debian([_eco({"introduced": "0"}, {"last_affected": "1.0"}), _eco({"introduced": "2.0"})])])
    assert [bool(_affected(conn, record, v)) for v in ("0.5", "1.0", "1.1", "2.0", "3.0")] == [True, True, False, True, True]


def test_schema_example_versions_without_ranges_are_exact(conn: sqlite3.Connection) -> None:
    record = _record([_debian([], versions=["1.0.0", "1.0.1"])])
    assert [bool(_affected(conn, record, v)) for v in ("1.0.0", "1.0.1", "1.0.2")] == [True, True, False]
