"""Importers on recorded real feeds, judged end to end: a host's raw facts, the store, the verdict.

Each feed file under tests/packages/data is kept as published (its source is in
data/README.md). The hosts are ``rpm -qa --qf RPM_FORMAT`` / dpkg-query lines as
the collector reads them, made for these tests with the version strings real
hosts carry: epochs, ``el8_4``/``el9_3`` dist tags, ``.module+el9.4.0+...``
module builds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Status
from scanner.options import validate_options
from scanner.plugins.packages import advisory_matches, feeds, packages_facts, packages_plugin
from scanner.plugins.packages.parsers import parse_dpkg_query, parse_rpm_qa
from scanner.store import Store

DATA = Path(__file__).parent / "data"
CHECK = packages_plugin.checks[0]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s.db") as opened:
        yield opened


def _import(store: Store, path: Path, name: str) -> feeds.ImportResult:
    with store.write_dataset("advisories") as conn:
        return feeds.import_path(conn, path, name=name)


def _host(os_release: dict[str, str], fmt: str, packages: list[Any], running: str) -> dict[str, Any]:
    return {
        "collected_at": "2026-11-30T08:00:00+00:00",
        "os": os_release,
        "package_format": fmt,
        "packages": [p.to_json() for p in packages],
        "kernel": {"running": running},
    }


def _rpm(*lines: str) -> list[Any]:
    return parse_rpm_qa("".join(line.replace(" ", "\t") + "\n" for line in lines))


def _matches(store: Store, host: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = advisory_matches(store.dataset("advisories"), packages_facts(host))
    assert found["feed_problem"] is None, found["feed_problem"]
    return {(m["id"], m["package"]): m for m in found["matches"]}


def _rows(store: Store, sql: str) -> list[Any]:
    dataset = store.dataset("advisories")
    assert dataset is not None
    with dataset.read() as conn:
        return list(conn.execute(sql))


def _verdict(store: Store, host: dict[str, Any]) -> Any:
    given = {"max_feed_age_days": 36500, "min_severity": "medium"}
    options, problems = validate_options(CHECK.options, given, CHECK.id)
    assert not problems
    return CHECK.evaluate(packages_facts(host), options, {"advisories": store.dataset("advisories")})


# ------------------------------------------------------------------ Rocky Linux (OSV)

ROCKY9 = {"id": "rocky", "version_id": "9.4", "pretty_name": "Rocky Linux 9.4 (Blue Onyx)"}
ROCKY8 = {"id": "rocky", "version_id": "8.4", "pretty_name": "Rocky Linux 8.4 (Green Obsidian)"}
RUBY_FIX = "0:3.3.1-2.module+el9.4.0+20787+4c237fd3"
MODULE_BUILD = "module+el9.4.0+20787+4c237fd3"


def test_rocky_records_are_indexed_by_major_release(store: Store) -> None:
    result = _import(store, DATA / "rocky-osv", "rocky")
    assert result.releases == {"rocky:8": 1, "rocky:9": 3}
    rows = sorted(_rows(store, "SELECT advisory, package, fixed, urgency, severity FROM feed_affected"))
    assert rows == [
        ("RLSA-2021:3891", "java-11-openjdk", "1:11.0.13.0.8-1.el8_4", "Important", "high"),
        ("RLSA-2024:3671", "ruby", RUBY_FIX, "Moderate", "medium"),
        ("RLSA-2024:3671", "rubygem-mysql2", "0:0.5.5-1." + MODULE_BUILD, "Moderate", "medium"),
        ("RLSA-2024:3671", "rubygem-pg", "0:1.5.4-1." + MODULE_BUILD, "Moderate", "medium"),
    ]  # the impact word the title starts with beats the CVSS vector (6.8 would be medium too)
    assert result.feed.feed_date == "2024-06-14T14:02:44+00:00"  # newest "modified"


def test_a_rocky9_host_on_an_older_module_build_is_vulnerable(store: Store) -> None:
    _import(store, DATA / "rocky-osv", "rocky")
    host = _host(ROCKY9, "rpm", _rpm(
        "kernel-core 0 5.14.0 427.13.1.el9_4 x86_64 kernel-5.14.0-427.13.1.el9_4.src.rpm 1790100300",
        "ruby 0 3.3.0 1.module+el9.4.0+20555+5a2c1b91 x86_64 ruby-3.3.0-1.module+el9.4.0+20555+5a2c1b91.src.rpm 1790100300",
        "ruby-libs 0 3.3.0 1.module+el9.4.0+20555+5a2c1b91 x86_64 ruby-3.3.0-1.module+el9.4.0+20555+5a2c1b91.src.rpm 1790100300",
        f"rubygem-pg 0 1.5.4 1.{MODULE_BUILD} x86_64 rubygem-pg-1.5.4-1.{MODULE_BUILD}.src.rpm 1790100300",
        "openssh-server 0 8.7p1 34.el9_3.3 x86_64 openssh-8.7p1-34.el9_3.3.src.rpm 1790100300",
    ), "5.14.0-427.13.1.el9_4.x86_64")
    found = _matches(store, host)
    assert list(found) == [("RLSA-2024:3671", "ruby")]  # rubygem-pg is at the fix: "0:" equals no epoch
    ruby = found[("RLSA-2024:3671", "ruby")]
    assert (ruby["installed"], ruby["fixed"], ruby["severity"]) == ("3.3.0-1.module+el9.4.0+20555+5a2c1b91", RUBY_FIX, "medium")
    assert ruby["aliases"] == ["CVE-2024-27280", "CVE-2024-27281", "CVE-2024-27282"]
    assert ruby["url"] == "https://errata.rockylinux.org/RLSA-2024:3671"
    outcome = _verdict(store, host)
    assert outcome.status is Status.FAIL
    assert [a["id"] for a in outcome.evidence["advisories"]] == ["RLSA-2024:3671"]


def test_the_fixed_module_build_and_a_later_one_pass(store: Store) -> None:
    _import(store, DATA / "rocky-osv", "rocky")
    for build in (f"2.{MODULE_BUILD}", "3.module+el9.5.0+22015+2bf5fe18"):
        host = _host(ROCKY9, "rpm", _rpm(
            f"ruby 0 3.3.1 {build} x86_64 ruby-3.3.1-{build}.src.rpm 1790100300",
        ), "5.14.0-427.13.1.el9_4.x86_64")
        assert _matches(store, host) == {}, build
        assert _verdict(store, host).status is Status.PASS


def test_a_module_stream_advisory_says_nothing_about_the_default_stream(store: Store) -> None:
    # Rocky 9's default ruby is 3.0, outside every module; RLSA-2024:3671 fixes the ruby:3.3 stream.
    _import(store, DATA / "rocky-osv", "rocky")
    host = _host(ROCKY9, "rpm", _rpm(
        "ruby 0 3.0.4 160.el9_0 x86_64 ruby-3.0.4-160.el9_0.src.rpm 1790100300",
        "ruby-libs 0 3.0.4 160.el9_0 x86_64 ruby-3.0.4-160.el9_0.src.rpm 1790100300",
        "rubygem-pg 0 1.2.3 7.el9 x86_64 rubygem-pg-1.2.3-7.el9.src.rpm 1790100300",
    ), "5.14.0-427.13.1.el9_4.x86_64")
    assert _matches(store, host) == {}
    assert _verdict(store, host).status is Status.PASS


def test_a_module_build_below_a_plain_fix_stays_reported(store: Store) -> None:
    record = json.loads((DATA / "rocky-osv" / "RLSA-2021-3891.json").read_text())
    record["affected"][0]["package"]["ecosystem"] = "Rocky Linux:9"
    with store.write_dataset("advisories") as conn:
        feeds.import_osv_records(conn, [record], name="rocky")
    host = _host(ROCKY9, "rpm", _rpm(
        "java-11-openjdk 1 11.0.12.0.7 0.module+el9.4.0+1+abcdef01 x86_64 "
        "java-11-openjdk-11.0.12.0.7-0.module+el9.4.0+1+abcdef01.src.rpm 1790100300",
    ), "5.14.0-427.13.1.el9_4.x86_64")
    assert list(_matches(store, host)) == [("RLSA-2021:3891", "java-11-openjdk")]


@pytest.mark.parametrize(
    ("epoch", "version", "release", "hit"),
    [
        ("1", "11.0.12.0.7", "0.el8_4", True),
        ("1", "11.0.13.0.8", "1.el8_4", False),
        ("1", "11.0.13.0.8", "4.el8_5", False),  # a later dist tag at the same upstream
        ("0", "17.0.1.0.12", "2.el8_5", True),  # no epoch: 0 < 1 whatever the version
    ],
    ids=["older", "the-fix", "later-dist-tag", "epoch-decides"],
)
def test_a_rocky8_host_is_judged_by_epoch_version_and_release(
    store: Store, epoch: str, version: str, release: str, hit: bool
) -> None:
    _import(store, DATA / "rocky-osv", "rocky")
    src = f"java-11-openjdk-{version}-{release}.src.rpm"
    host = _host(ROCKY8, "rpm", _rpm(
        f"java-11-openjdk-headless {epoch} {version} {release} x86_64 {src} 1790100300",
        f"java-11-openjdk {epoch} {version} {release} x86_64 {src} 1790100300",
    ), "4.18.0-305.19.1.el8_4.x86_64")
    found = _matches(store, host)
    assert (("RLSA-2021:3891", "java-11-openjdk") in found) is hit
    if hit:
        match = found[("RLSA-2021:3891", "java-11-openjdk")]
        assert match["installed"] == (f"{epoch}:" if epoch != "0" else "") + f"{version}-{release}"
        assert match["severity"] == "high"


def test_a_rocky_feed_says_nothing_about_an_almalinux_host(store: Store) -> None:
    _import(store, DATA / "rocky-osv", "rocky")
    host = _host({"id": "almalinux", "version_id": "9.4"}, "rpm", _rpm(
        f"ruby 0 3.3.0 1.{MODULE_BUILD} x86_64 ruby-3.3.0-1.{MODULE_BUILD}.src.rpm 1790100300",
    ), "5.14.0-427.13.1.el9_4.x86_64")
    found = advisory_matches(store.dataset("advisories"), packages_facts(host))
    assert found["matches"] == []
    assert "no imported advisory feed covers" in found["feed_problem"]


# ------------------------------------------------------------------ AlmaLinux (OSV), with el9_N dist tags


@pytest.mark.parametrize(
    ("release", "hit"),
    [("34.el9_3.3", True), ("38.el9", True), ("38.el9_4.1", False), ("38.el9_4.4", False), ("40.el9", False)],
)
def test_an_almalinux9_host_against_alsa_2024_4312(store: Store, release: str, hit: bool) -> None:
    _import(store, DATA / "ALSA-2024-4312.json", "alma")
    host = _host({"id": "almalinux", "version_id": "9.3"}, "rpm", _rpm(
        f"openssh-server 0 8.7p1 {release} x86_64 openssh-8.7p1-{release}.src.rpm 1790100300",
        f"openssh-clients 0 8.7p1 {release} x86_64 openssh-8.7p1-{release}.src.rpm 1790100300",
    ), "5.14.0-362.8.1.el9_3.x86_64")
    found = _matches(store, host)
    assert bool(found) is hit
    if hit:
        assert {m["fixed"] for m in found.values()} == {"8.7p1-38.el9_4.1"}


# ------------------------------------------------------------------ Debian Security Tracker

BUSTER = {"id": "debian", "version_id": "10", "codename": "buster", "pretty_name": "Debian GNU/Linux 10 (buster)"}


def _dpkg(*lines: str) -> list[Any]:
    return parse_dpkg_query("".join("\t".join(line.split("|")) + "\n" for line in lines))


def test_the_tracker_excerpt_gives_rows_per_numbered_release(store: Store) -> None:
    result = _import(store, DATA / "debian-tracker-excerpt.json", "tracker")
    assert result.feed.kind == "debian-tracker"
    # "sid" has no number and CVE-2007-2383 is "fixed_version 0" (never affected) everywhere.
    assert result.releases == {"debian:8": 2, "debian:9": 2, "debian:10": 2, "debian:11": 2}
    rows = set(_rows(store, "SELECT advisory, package, fixed, state, urgency, severity FROM feed_affected "
                           "WHERE release = 'debian:10'"))
    assert rows == {
        ("CVE-2008-7220", "prototypejs", "1.6.0.2-1", "resolved", "high**", "high"),
        ("CVE-2013-4251", "python-scipy", "0.12.0-3", "resolved", "not yet assigned", "unknown"),
    }


def test_a_buster_host_is_judged_by_source_package(store: Store) -> None:
    _import(store, DATA / "debian-tracker-excerpt.json", "tracker")
    host = _host(BUSTER, "dpkg", _dpkg(
        "libjs-prototype|1.6.0.1-1|prototypejs|1.6.0.1-1|ii |all",
        "python3-scipy|1.1.0-7|python-scipy|1.1.0-7|ii |amd64",
        "linux-image-4.19.0-27-amd64|4.19.316-1|linux-signed-amd64|4.19.316+1|ii |amd64",
    ), "4.19.0-27-amd64")
    found = _matches(store, host)
    assert list(found) == [("CVE-2008-7220", "prototypejs")]
    match = found[("CVE-2008-7220", "prototypejs")]
    assert (match["installed"], match["fixed"], match["severity"]) == ("1.6.0.1-1", "1.6.0.2-1", "high")
    assert match["binaries"] == ["libjs-prototype"]
    assert (match["state"], match["urgency"]) == ("resolved", "high**")
    outcome = _verdict(store, host)
    assert outcome.status is Status.FAIL
    assert "prototypejs 1.6.0.1-1 is affected by CVE-2008-7220 (high, urgency high**), fixed in 1.6.0.2-1" in outcome.message
    fixed = _host(BUSTER, "dpkg", _dpkg("libjs-prototype|1.7.1-3|prototypejs|1.7.1-3|ii |all"), "4.19.0-27-amd64")
    assert _matches(store, fixed) == {}


# ------------------------------------------------------------------ Debian (OSV, a DSA)

WHEEZY = {"id": "debian", "version_id": "7", "codename": "wheezy", "pretty_name": "Debian GNU/Linux 7 (wheezy)"}


@pytest.mark.parametrize(
    ("version", "hit"),
    [("1.2.1-2.2+wheezy2", True), ("1.2.1-2.2", True), ("1.2.1-2.2+wheezy3", False), ("1.2.1-2.2+wheezy10", False)],
)
def test_a_wheezy_host_against_dsa_3029_1(store: Store, version: str, hit: bool) -> None:
    result = _import(store, DATA / "debian-osv", "debian")
    assert result.releases == {"debian:7": 1}
    host = _host(WHEEZY, "dpkg", _dpkg(
        f"nginx-full|{version}|nginx|{version}|ii |amd64",
        f"nginx-common|{version}|nginx|{version}|ii |all",
    ), "3.2.0-4-amd64")
    found = _matches(store, host)
    assert (("DSA-3029-1", "nginx") in found) is hit
    if hit:
        match = found[("DSA-3029-1", "nginx")]
        assert (match["fixed"], match["aliases"], match["binaries"]) == (
            "1.2.1-2.2+wheezy3", ["CVE-2014-3616"], ["nginx-common", "nginx-full"])
        assert match["severity"] == "unknown"  # the record carries no rating
        assert match["url"] == "https://www.debian.org/security/2014/dsa-3029"


def test_readme_names_the_source_of_every_recorded_file() -> None:
    readme = (DATA / "README.md").read_text()
    for path in [*DATA.glob("*.json"), *DATA.glob("*/*.json")]:
        assert path.name in readme, f"{path.name} has no source line in data/README.md"


# ------------------------------------------------------------------ Debian tracker states, end to end

CHROMIUM_BUSTER = "89.0.4389.114-1~deb10u1"  # the buster version the recorded entry lists


def _buster_host() -> dict[str, Any]:
    return _host(BUSTER, "dpkg", _dpkg(
        f"chromium|{CHROMIUM_BUSTER}|chromium|{CHROMIUM_BUSTER}|ii |amd64",
        f"chromium-common|{CHROMIUM_BUSTER}|chromium|{CHROMIUM_BUSTER}|ii |amd64",
        "txt2man|1.5.5-4|txt2man|1.5.5-4|ii |all",
        "backupninja|0.8-1|backupninja|0.8-1|ii |all",
        "libjs-prototype|1.6.0.1-1|prototypejs|1.6.0.1-1|ii |all",
    ), "4.19.0-27-amd64")


def _judge(store: Store, host: dict[str, Any], **given: Any) -> Any:
    options, problems = validate_options(CHECK.options, {"max_feed_age_days": 36500, **given}, CHECK.id)
    assert not problems
    return CHECK.evaluate(packages_facts(host), options, {"advisories": store.dataset("advisories")})


def test_the_vunnel_excerpt_keeps_end_of_life_and_starred_urgency(store: Store) -> None:
    result = _import(store, DATA / "debian-tracker-vunnel.json", "tracker")
    # chromium-browser's entry has "releases": [] (a list, empty): no row, no error.
    assert "chromium-browser" not in {r[0] for r in _rows(store, "SELECT package FROM feed_affected")}
    rows = sorted(_rows(store, "SELECT advisory, package, fixed, state, urgency, severity, note "
                              "FROM feed_affected WHERE release = 'debian:10'"))
    # CVE-2007-2383 is "fixed_version 0" (never affected): no row.
    assert rows == [
        ("CVE-2005-3111", "backupninja", "0.8-2", "resolved", "medium", "medium", None),
        ("CVE-2008-7220", "prototypejs", "1.6.0.2-1", "resolved", "high**", "high", None),
        ("CVE-2013-1444", "txt2man", "1.5.5-4.1", "resolved", "low**", "low", None),
        ("CVE-2022-0456", "chromium", None, "end-of-life", "end-of-life", "unknown", "end-of-life"),
    ]
    assert result.releases["debian:10"] == 4
    assert result.releases["debian:12"] == 2  # chromium and sope are resolved in bookworm


def test_tracker_states_end_to_end_facts_store_matches_verdict_report(store: Store) -> None:
    from scanner.reports.evidence import readable

    _import(store, DATA / "debian-tracker-vunnel.json", "tracker")
    host = _buster_host()
    found = _matches(store, host)
    chromium = found[("CVE-2022-0456", "chromium")]
    assert (chromium["state"], chromium["urgency"], chromium["fixed"]) == ("end-of-life", "end-of-life", None)
    assert chromium["binaries"] == ["chromium", "chromium-common"]
    assert (found[("CVE-2008-7220", "prototypejs")]["urgency"], found[("CVE-2008-7220", "prototypejs")]["state"]) == (
        "high**", "resolved")

    # The check's default: end-of-life is information, the rest counts.
    outcome = _judge(store, host, min_severity="low")
    assert outcome.status is Status.FAIL
    assert [a["id"] for a in outcome.evidence["advisories"]] == ["CVE-2008-7220", "CVE-2005-3111", "CVE-2013-1444"]
    [info] = outcome.evidence["informational"]
    assert (info["id"], info["state"], info["urgency"], info["level"]) == ("CVE-2022-0456", "end-of-life", "end-of-life", "info")
    assert "prototypejs 1.6.0.1-1 is affected by CVE-2008-7220 (high, urgency high**), fixed in 1.6.0.2-1" in outcome.message
    assert "txt2man 1.5.5-4 is affected by CVE-2013-1444 (low, urgency low**), fixed in 1.5.5-4.1" in outcome.message
    assert ("1 more are Debian end-of-life issues, shown as information: chromium "
            f"{CHROMIUM_BUSTER} is affected by CVE-2022-0456 (unknown, end-of-life), no fix available yet") in outcome.message
    lines = readable(CHECK.id, outcome.evidence)
    assert "prototypejs 1.6.0.1-1 -> fixed in 1.6.0.2-1 (CVE-2008-7220, high, urgency high**)" in lines
    assert f"Information: chromium {CHROMIUM_BUSTER} -> no fix yet (CVE-2022-0456, unknown, end-of-life)" in lines

    # The shipped patch policy counts end-of-life: no fix will come.
    counted = _judge(store, host, min_severity="low", info_states=["no-dsa", "ignored", "postponed"])
    assert "CVE-2022-0456" in [a["id"] for a in counted.evidence["advisories"]]
    assert "informational" not in counted.evidence

    # Only information left: a pass that still names it.
    fixed = _host(BUSTER, "dpkg", _dpkg(f"chromium|{CHROMIUM_BUSTER}|chromium|{CHROMIUM_BUSTER}|ii |amd64"),
                  "4.19.0-27-amd64")
    passed = _judge(store, fixed, min_severity="low")
    assert passed.status is Status.PASS
    assert "0 lower or excluded advisories matched; 1 more are Debian end-of-life issues" in passed.message


def test_the_shipped_patch_policy_counts_end_of_life_but_not_no_dsa() -> None:
    from scanner.plugin import load_registry
    from scanner.policy import load_policies

    ruleset = load_policies(["patch-baseline"], load_registry())
    [request] = [c for r in ruleset.rules for c in r.checks if c.check_id == CHECK.id]
    assert request.options["info_states"] == ["no-dsa", "ignored", "postponed"]
