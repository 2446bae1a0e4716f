"""Judging at evaluation time, on data: kernels, Debian tracker states, aliases, old facts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Status
from scanner.options import validate_options
from scanner.plugins.packages import (
    advisory_matches,
    feeds,
    kernel_facts,
    kernel_source,
    migrate_facts,
    packages_facts,
    packages_plugin,
    running_kernel_version,
)
from scanner.plugins.packages.checks import judge_matches, judged_matches, tracker_state
from scanner.plugins.packages.command import advisory_hits
from scanner.store import Store

HOST = Path(__file__).resolve().parents[1] / "data" / "packages" / "feeds" / "host-debian12.json"
CHECK = packages_plugin.checks[0]


def _options(**given: Any) -> dict[str, Any]:
    options, problems = validate_options(CHECK.options, {"max_feed_age_days": 36500, **given}, CHECK.id)
    assert not problems
    return options


# --- the running kernel's package version, by distribution ---------------------


@pytest.mark.parametrize(
    ("fmt", "os_id", "release", "build", "signature", "version"),
    [
        ("dpkg", "debian", "6.1.0-17-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.69-1 (2023-12-30)", "", "6.1.69-1"),
        ("dpkg", "debian", "6.12.9-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.12.9-1 (2025-01-11)", "", "6.12.9-1"),
        ("dpkg", "debian", "6.1.0-17-amd64", "#1 SMP", "", None),
        ("dpkg", "ubuntu", "5.15.0-91-generic", "#101-Ubuntu SMP", "Ubuntu 5.15.0-91.101-generic 5.15.131", "5.15.0-91.101"),
        ("dpkg", "ubuntu", "6.5.0-14-generic", "#14~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC", "", "6.5.0-14.14"),
        ("dpkg", "ubuntu", "5.15.0-1051-aws", "#56-Ubuntu SMP", "Ubuntu 5.15.0-1051.56-aws 5.15.131", "5.15.0-1051.56"),
        ("rpm", "rhel", "5.14.0-362.8.1.el9_3.x86_64", "#1 SMP PREEMPT_DYNAMIC", "", "5.14.0-362.8.1.el9_3"),
        ("rpm", "rocky", "4.18.0-513.5.1.el8_9.aarch64+64k", "", "", "4.18.0-513.5.1.el8_9"),
        ("rpm", "almalinux", "5.14.0-362.8.1.el9_3", "", "", None),
        ("apk", "alpine", "6.6.8-0-lts", "#1-Alpine SMP PREEMPT_DYNAMIC", "", "6.6.8-r0"),
        ("apk", "alpine", "6.6.14-1-virt", "", "", "6.6.14-r1"),
    ],
)
def test_running_kernel_version(fmt, os_id, release, build, signature, version) -> None:
    assert running_kernel_version(fmt, os_id, release, build, signature) == version


@pytest.mark.parametrize(
    ("fmt", "source", "expected"),
    [
        ("dpkg", "linux-signed-amd64", "linux"),
        ("dpkg", "linux-signed-arm64", "linux"),
        ("dpkg", "linux-signed", "linux"),
        ("dpkg", "linux-signed-hwe-6.5", "linux-hwe-6.5"),
        ("dpkg", "linux", "linux"),
        ("rpm", "kernel", "kernel"),
        ("apk", "linux-lts", "linux-lts"),
    ],
)
def test_kernel_source_is_the_one_advisories_name(fmt, source, expected) -> None:
    assert kernel_source(fmt, source) == expected


def _pkg(name: str, version: str, source: str, source_version: str | None = None, arch: str = "amd64") -> dict[str, str]:
    return {"name": name, "version": version, "source": source, "source_version": source_version or version,
            "arch": arch, "status": "installed"}


def test_kernel_facts_debian_running_an_older_installed_kernel() -> None:
    packages = [
        _pkg("linux-image-6.1.0-17-amd64", "6.1.69-1", "linux-signed-amd64", "6.1.69+1"),
        _pkg("linux-image-6.1.0-28-amd64", "6.1.119-1", "linux-signed-amd64", "6.1.119+1"),
        _pkg("linux-image-amd64", "6.1.119-1", "linux-signed-amd64", "6.1.119+1"),
    ]
    facts = kernel_facts(packages, "dpkg", "debian", {"running": "6.1.0-17-amd64", "build": "#1 SMP"})
    assert (facts["source"], facts["running_version"], facts["newest_version"]) == ("linux", "6.1.69-1", "6.1.119-1")
    assert [k["release"] for k in facts["installed"]] == ["6.1.0-17-amd64", "6.1.0-28-amd64"]


def test_kernel_facts_when_the_running_kernel_package_was_removed() -> None:
    packages = [_pkg("linux-image-6.1.0-28-amd64", "6.1.119-1", "linux-signed-amd64", "6.1.119+1")]
    build = "#1 SMP PREEMPT_DYNAMIC Debian 6.1.69-1 (2023-12-30)"
    facts = kernel_facts(packages, "dpkg", "debian", {"running": "6.1.0-17-amd64", "build": build})
    assert (facts["running_version"], facts["newest_version"]) == ("6.1.69-1", "6.1.119-1")


def test_kernel_facts_rpm_and_apk() -> None:
    rpm = [_pkg("kernel-core", "5.14.0-362.8.1.el9_3", "kernel", arch="x86_64"),
           _pkg("kernel-core", "5.14.0-362.13.1.el9_3", "kernel", arch="x86_64")]
    facts = kernel_facts(rpm, "rpm", "rocky", {"running": "5.14.0-362.8.1.el9_3.x86_64"})
    assert (facts["source"], facts["running_version"], facts["newest_version"]) == (
        "kernel", "5.14.0-362.8.1.el9_3", "5.14.0-362.13.1.el9_3")
    apk = [_pkg("linux-lts", "6.6.14-r0", "linux-lts", arch="x86_64")]
    facts = kernel_facts(apk, "apk", "alpine", {"running": "6.6.8-0-lts"})
    assert (facts["source"], facts["running_version"], facts["newest_version"]) == ("linux-lts", "6.6.8-r0", "6.6.14-r0")


KERNEL_FIX = {
    "id": "DSA-9903-1",
    "aliases": ["CVE-2026-99999"],
    "published": "2026-11-01T00:00:00Z",
    "modified": "2026-11-20T00:00:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{"package": {"ecosystem": "Debian:12", "name": "linux"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "6.1.76-1"}]}]}],
}


@pytest.fixture
def kernel_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "c.db")
    with store.write_dataset("advisories") as conn:
        feeds.import_osv_records(conn, [KERNEL_FIX], name="kernel-feed")
    yield store
    store.close()


def _debian_host(running: str, images: list[tuple[str, str]]) -> dict[str, Any]:
    host = json.loads(HOST.read_text())
    host["packages"] += [_pkg(f"linux-image-{rel}", ver, "linux-signed-amd64", ver.replace("-", "+")) for rel, ver in images]
    host["kernel"] = {"running": running, "build": "#1 SMP"}
    return host


def test_a_fixed_kernel_installed_but_not_booted_is_vulnerable_until_reboot(kernel_store: Store) -> None:
    facts = packages_facts(_debian_host("6.1.0-17-amd64", [("6.1.0-17-amd64", "6.1.69-1"), ("6.1.0-18-amd64", "6.1.76-1")]))
    outcome = CHECK.evaluate(facts, _options(), {"advisories": kernel_store.dataset("advisories")})
    assert outcome.status is Status.FAIL
    found = next(a for a in outcome.evidence["advisories"] if a["id"] == "DSA-9903-1")
    assert (found["installed"], found["fixed"], found["installed_kernel"], found["until_reboot"]) == (
        "6.1.69-1", "6.1.76-1", "6.1.76-1", True)
    assert found["running_kernel"] == "6.1.0-17-amd64"
    assert "vulnerable until reboot" in outcome.message
    assert outcome.evidence["kernel"]["running"] == "6.1.0-17-amd64"


def test_after_the_reboot_the_old_kernel_package_does_not_count(kernel_store: Store) -> None:
    facts = packages_facts(_debian_host("6.1.0-18-amd64", [("6.1.0-17-amd64", "6.1.69-1"), ("6.1.0-18-amd64", "6.1.76-1")]))
    found = advisory_matches(kernel_store.dataset("advisories"), facts)
    assert "DSA-9903-1" not in {m["id"] for m in found["matches"]}


def test_an_unfixed_running_kernel_without_a_fix_installed_is_plainly_vulnerable(kernel_store: Store) -> None:
    facts = packages_facts(_debian_host("6.1.0-17-amd64", [("6.1.0-17-amd64", "6.1.69-1")]))
    found = next(m for m in advisory_matches(kernel_store.dataset("advisories"), facts)["matches"] if m["id"] == "DSA-9903-1")
    assert "until_reboot" not in found


# --- Debian tracker states ---------------------------------------------------------


@pytest.mark.parametrize(
    ("match", "state"),
    [
        ({"note": "no-dsa"}, "no-dsa"),
        ({"note": "postponed"}, "postponed"),
        ({"note": "undetermined; ignored"}, "ignored"),
        ({"note": "undetermined"}, "undetermined"),
        ({"urgency": "end-of-life"}, "end-of-life"),
        ({"state": "no-dsa", "note": "whatever"}, "no-dsa"),
        ({}, None),
    ],
)
def test_tracker_state(match, state) -> None:
    assert tracker_state(match) == state


def _found(*matches: dict[str, Any]) -> dict[str, Any]:
    return {"feed": {"release": "debian:12", "date": "2026-11-08T00:00:00+00:00",
                     "sources": [{"name": "debian-tracker", "date": "2026-11-08T00:00:00+00:00"}]},
            "matches": list(matches)}


def _m(adv: str, severity: str = "high", **extra: Any) -> dict[str, Any]:
    return {"id": adv, "aliases": [], "package": "libxml2", "installed": "2.9.14", "fixed": None,
            "severity": severity, "published": None, **extra}


FACTS = {"collected_at": "2026-11-10T08:00:00+00:00", "release": "debian:12"}


def test_a_no_dsa_issue_is_information_not_a_failure() -> None:
    outcome = judge_matches(FACTS, _found(_m("CVE-2025-6021", note="no-dsa")), _options())
    assert outcome.status is Status.PASS
    assert outcome.evidence["informational"][0]["state"] == "no-dsa"
    assert "no-dsa issues, shown as information" in outcome.message


def test_the_policy_can_count_no_dsa_issues() -> None:
    outcome = judge_matches(FACTS, _found(_m("CVE-2025-6021", note="no-dsa")), _options(info_states=[]))
    assert outcome.status is Status.FAIL
    assert "(high, no-dsa)" in outcome.message


def test_end_of_life_informs_unless_the_policy_counts_it() -> None:
    eol = _m("CVE-2025-1", urgency="end-of-life")
    assert judge_matches(FACTS, _found(eol), _options()).status is Status.PASS
    counted = judge_matches(FACTS, _found(eol), _options(info_states=["no-dsa", "ignored", "postponed"]))
    assert counted.status is Status.FAIL
    assert "(high, end-of-life)" in counted.message


def test_each_information_item_names_its_state_urgency_and_level() -> None:
    nodsa = _m("CVE-2025-6021", state="no-dsa", urgency="high**", note="no-dsa")
    ordinary = _m("DSA-9001-1", severity="low", fixed="2.9.15", state="resolved")
    outcome = judge_matches(FACTS, _found(nodsa, ordinary), _options())
    assert outcome.status is Status.PASS
    [item] = outcome.evidence["informational"]
    assert (item["id"], item["state"], item["urgency"], item["level"]) == ("CVE-2025-6021", "no-dsa", "high**", "info")
    assert outcome.message.startswith("No installed package is affected by an advisory at high or above "
                                      "(1 lower or excluded advisories matched; 1 more are Debian no-dsa issues")
    assert "libxml2 2.9.14 is affected by CVE-2025-6021 (high, urgency high**, no-dsa), no fix available yet" in outcome.message


def test_information_is_named_beside_a_failure() -> None:
    nodsa = _m("CVE-2025-6021", state="postponed", urgency="low", severity="high")
    dsa = _m("DSA-9001-1", fixed="2.9.15", state="resolved", urgency="high")
    outcome = judge_matches(FACTS, _found(nodsa, dsa), _options())
    assert outcome.status is Status.FAIL
    assert [a["id"] for a in outcome.evidence["advisories"]] == ["DSA-9001-1"]
    assert "is affected by DSA-9001-1 (high), fixed in 2.9.15" in outcome.message  # urgency = level: said once
    assert "1 more are Debian postponed issues, shown as information" in outcome.message


def test_a_resolved_state_outranks_an_older_note() -> None:
    # A merged match whose fix came from another feed: the note of the first record no longer applies.
    outcome = judge_matches(FACTS, _found(_m("DSA-9001-1", fixed="2.9.15", state="resolved", note="no-dsa")), _options())
    assert outcome.status is Status.FAIL and "informational" not in outcome.evidence


@pytest.mark.parametrize("given", [["no_dsa"], ["resolved"]])
def test_info_states_are_checked_against_the_tracker_states(given: list[str]) -> None:
    _options_out, problems = validate_options(CHECK.options, {"info_states": given}, CHECK.id)
    assert problems and "is not one of: no-dsa, ignored, postponed, end-of-life, undetermined" in problems[0].message


# --- aliases and old facts ------------------------------------------------------------


def test_advisory_hits_resolve_aliases_either_way() -> None:
    matches = [{"id": "DSA-5532-1", "aliases": ["CVE-2023-5363"], "package": "openssl", "installed": "1", "fixed": "2"}]
    assert advisory_hits("cve-2023-5363", matches)[0]["id"] == "DSA-5532-1"
    assert advisory_hits("DSA-5532-1", matches)[0]["package"] == "openssl"
    assert advisory_hits("CVE-2023-0001", matches) == []


def test_affected_names_tracker_states_only(capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.plugins.packages.command import _print_affected

    matches = [
        {"id": "DSA-5532-1", "aliases": ["CVE-2023-5363"], "package": "openssl", "installed": "1", "fixed": "2",
         "state": "resolved", "urgency": "high**"},
        {"id": "CVE-2023-5363", "aliases": [], "package": "libxml2", "installed": "1", "fixed": None,
         "state": "no-dsa", "urgency": "low"},
    ]
    hits = advisory_hits("CVE-2023-5363", matches)
    assert [(h["state"], h["urgency"]) for h in hits] == [("resolved", "high**"), ("no-dsa", "low")]
    _print_affected({"advisory": "CVE-2023-5363", "hosts_judged": 1, "not_judged": [],
                     "affected": [{"department": "water", "asset": "web1", "packages": hits}]})
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].endswith("(DSA-5532-1)")  # an ordinary advisory: no state shown
    assert lines[-1].endswith("(CVE-2023-5363) [no-dsa]")


def test_version_1_facts_are_judged_on_the_matches_they_carry() -> None:
    old = {"collected_at": "2026-11-10T08:00:00+00:00", "release": "debian:12", "package_format": "dpkg",
           "packages": {"openssl": "3.0.11-1~deb12u1"}, "feed_problem": None, "unreadable_feed_rows": 0,
           **_found(_m("DSA-5532-1", package="openssl"))}
    facts = migrate_facts(1, old)
    assert facts["sources"] is None and "matches" not in facts
    assert facts["packages"] == {"name": "openssl", "version": "3.0.11-1~deb12u1"}
    found = judged_matches(facts, None)  # no feed lent: the stored matches still decide
    outcome = judge_matches(facts, found, _options())
    assert outcome.status is Status.FAIL
    assert outcome.evidence["judged"].startswith("stored matches made at collection time")
    with pytest.raises(ValueError):
        migrate_facts(7, old)


def test_version_1_facts_without_matches_are_an_error_not_a_pass() -> None:
    facts = migrate_facts(1, {"collected_at": "2026-11-10T08:00:00+00:00", "packages": {}})
    outcome = CHECK.evaluate(facts, _options(), {"advisories": None})
    assert outcome.status is Status.ERROR and "scan the host again" in outcome.message


def test_version_2_and_3_facts_read_as_the_columns_of_version_4() -> None:
    host = {"os": {"id": "debian", "version_id": "12"}, "package_format": "dpkg",
            "packages": [{"name": n, "version": "1.0-1", "source": s, "source_version": v}
                         for n, s, v in (("libssl3", "openssl", "3.0.11-1~deb12u1"),
                                         ("openssl", "openssl", "3.0.11-1~deb12u1"), ("zlib1g", "zlib", "1:1.2.13"))]}
    facts = packages_facts(host)
    assert facts["sources"] == {"source": "openssl\nzlib", "version": "3.0.11-1~deb12u1\n1:1.2.13",
                                "binaries": "libssl3 openssl\nzlib1g"}
    assert facts["packages"] == {"name": "libssl3\nopenssl\nzlib1g", "version": "1.0-1\n1.0-1\n1.0-1"}
    version_3 = {**facts, "sources": {"source": ["openssl", "zlib"], "version": ["3.0.11-1~deb12u1", "1:1.2.13"],
                                      "binaries": ["libssl3 openssl", "zlib1g"]},
                 "packages": {"name": ["libssl3", "openssl", "zlib1g"], "version": ["1.0-1", "1.0-1", "1.0-1"]}}
    assert migrate_facts(3, version_3) == facts
    old = {**facts, "sources": {"zlib": ["1:1.2.13", ["zlib1g"]], "openssl": ["3.0.11-1~deb12u1", ["libssl3", "openssl"]]},
           "packages": {"zlib1g": "1.0-1", "openssl": "1.0-1", "libssl3": "1.0-1"}}
    assert migrate_facts(2, old) == facts
