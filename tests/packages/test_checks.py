"""packages.* and os.* checks on stored facts: pure, relative to collected_at."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scanner.models import Outcome, Status
from scanner.plugins.packages import os_plugin, packages_plugin
from scanner.options import validate_options
from scanner.plugins.packages.checks import FEED, judge_matches
from tests.conftest import judge

CHECKS = {c.id: c for c in (*packages_plugin.checks, *os_plugin.checks)}


def vuln(facts: dict[str, Any], **given: Any) -> Outcome:
    """packages.vulnerable's verdict on matches given as data (no feed is read)."""
    check = CHECKS["packages.vulnerable"]
    options, problems = validate_options(check.options, given, check.id)
    assert not problems
    found = {k: facts.get(k) for k in ("feed", "feed_problem", "matches")}
    return judge_matches(facts, found, options)


def _match(
    id_: str,
    severity: str,
    published: str | None = "2026-01-01T00:00:00+00:00",
    fixed: str | None = "1.0-2",
    package: str = "openssl",
) -> dict[str, Any]:
    return {
        "id": id_,
        "aliases": [],
        "package": package,
        "binaries": [package],
        "installed": "1.0-1",
        "fixed": fixed,
        "severity": severity,
        "published": published,
        "modified": None,
        "summary": "",
        "url": None,
    }


@pytest.fixture
def pkg_facts() -> dict[str, Any]:
    return {
        "collected_at": "2026-11-10T08:00:00+00:00",
        "release": "debian:12",
        "package_format": "dpkg",
        "package_count": 3,
        "packages": {
            "name": "openssl\nsudo\ntelnetd",
            "version": "3.0.11-1~deb12u1\n1.9.13p3-1+deb12u1\n0.17+2.4-2+deb12u1",
        },
        "feed": {
            "release": "debian:12",
            "date": "2026-11-08T00:00:00+00:00",
            "sources": [{"name": "osv:Debian", "date": "2026-11-08T00:00:00+00:00"}],
        },
        "feed_problem": None,
        "matches": [],
    }


def test_every_check_documents_pass_and_fail_examples() -> None:
    for check in CHECKS.values():
        assert "PASS:" in check.documentation and "FAIL:" in check.documentation, check.id


def test_vulnerable_passes_without_matches(pkg_facts) -> None:
    assert vuln(pkg_facts).status is Status.PASS


def test_vulnerable_fails_on_high_advisory_with_evidence(pkg_facts) -> None:
    pkg_facts["matches"] = [_match("DSA-5532-1", "high")]
    outcome = vuln(pkg_facts)
    assert outcome.status is Status.FAIL
    assert "openssl 1.0-1 is affected by DSA-5532-1 (high), fixed in 1.0-2" in outcome.message
    assert outcome.evidence["advisories"][0]["id"] == "DSA-5532-1"
    assert outcome.evidence["feed"]["date"] == "2026-11-08T00:00:00+00:00"


def test_vulnerable_ignores_advisories_below_min_severity(pkg_facts) -> None:
    pkg_facts["matches"] = [_match("X", "medium")]
    assert vuln(pkg_facts).status is Status.PASS
    assert vuln(pkg_facts, min_severity="medium").status is Status.FAIL


def test_unknown_severity_follows_the_option(pkg_facts) -> None:
    pkg_facts["matches"] = [_match("X", "unknown")]
    assert vuln(pkg_facts).status is Status.PASS
    assert vuln(pkg_facts, unknown_severity="high").status is Status.FAIL


@pytest.mark.parametrize(
    ("published", "grace", "status"),
    [
        ("2026-11-01T08:00:00+00:00", 14, Status.PASS),
        ("2026-10-01T08:00:00+00:00", 14, Status.FAIL),
        ("2026-11-09T08:00:00+00:00", 0, Status.FAIL),
        (None, 14, Status.FAIL),
    ],
    ids=["inside-grace", "past-grace", "no-grace", "undated-counts"],
)
def test_grace_days_are_relative_to_collection_time(pkg_facts, published, grace, status) -> None:
    pkg_facts["matches"] = [_match("X", "high", published=published)]
    assert vuln(pkg_facts, grace_days=grace).status is status


def test_ignore_unfixed(pkg_facts) -> None:
    pkg_facts["matches"] = [_match("X", "critical", fixed=None)]
    assert vuln(pkg_facts).status is Status.FAIL
    assert vuln(pkg_facts, ignore_unfixed=True).status is Status.PASS


def test_missing_feed_is_an_error_with_reason_feed(pkg_facts) -> None:
    pkg_facts["feed"] = None
    pkg_facts["feed_problem"] = "no imported advisory feed covers Debian GNU/Linux 13 (trixie)"
    outcome = vuln(pkg_facts)
    assert outcome.status is Status.ERROR
    assert outcome.reason == FEED
    assert "trixie" in outcome.message


def test_stale_feed_is_an_error_never_a_pass(pkg_facts) -> None:
    pkg_facts["feed"]["date"] = "2026-10-01T00:00:00+00:00"
    outcome = vuln(pkg_facts)
    assert (outcome.status, outcome.reason) == (Status.ERROR, FEED)
    assert vuln(pkg_facts, max_feed_age_days=60).status is Status.PASS


def test_minimum_versions_uses_the_host_comparator(pkg_facts) -> None:
    outcome = judge("packages.minimum_versions", pkg_facts, minimum={"openssl": "3.0.11-1~deb12u2"})
    assert outcome.status is Status.FAIL
    assert outcome.message == "openssl 3.0.11-1~deb12u1 is below the minimum 3.0.11-1~deb12u2."
    ok = judge("packages.minimum_versions", pkg_facts, minimum={"openssl": "3.0.11-1~deb12u1~"})
    assert ok.status is Status.PASS


def test_minimum_versions_missing_package(pkg_facts) -> None:
    assert (
        judge("packages.minimum_versions", pkg_facts, minimum={"nginx": "1.0"}).status is Status.PASS
    )
    outcome = judge("packages.minimum_versions", pkg_facts, minimum={"nginx": "1.0"}, missing="fail")
    assert outcome.status is Status.FAIL


def test_minimum_versions_bad_policy_version_is_an_error(pkg_facts) -> None:
    outcome = judge("packages.minimum_versions", pkg_facts, minimum={"openssl": "1 0"})
    assert outcome.status is Status.ERROR


def test_forbidden_packages_with_patterns(pkg_facts) -> None:
    outcome = judge("packages.forbidden", pkg_facts, packages=["telnet*", "rsh-server"])
    assert outcome.status is Status.FAIL
    assert outcome.evidence["found"] == [
        {"package": "telnetd", "version": "0.17+2.4-2+deb12u1", "pattern": "telnet*"}
    ]
    assert judge("packages.forbidden", pkg_facts, packages=["rsh-server"]).status is Status.PASS


@pytest.fixture
def os_facts() -> dict[str, Any]:
    return {
        "collected_at": "2026-11-10T08:00:00+00:00",
        "os": {
            "id": "debian",
            "version_id": "12",
            "codename": "bookworm",
            "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        },
        "kernel": {
            "running": "6.1.0-18-amd64",
            "installed": ["6.1.0-18-amd64"],
            "newest": "6.1.0-18-amd64",
        },
        "reboot_required": {"required": False, "evidence": "no /var/run/reboot-required"},
        "last_update": {"time": "2026-11-01T10:00:00+00:00", "evidence": "dpkg.log"},
        "container": False,
    }


@pytest.mark.parametrize(
    ("required", "container", "status"),
    [
        (False, False, Status.PASS),
        (True, False, Status.FAIL),
        (None, False, Status.ERROR),
        (True, True, Status.NOT_APPLICABLE),
    ],
    ids=["no-reboot", "reboot", "unknown", "container"],
)
def test_reboot_required(os_facts, required, container, status) -> None:
    os_facts["reboot_required"]["required"] = required
    os_facts["container"] = container
    assert judge("os.reboot_required", os_facts).status is status


@pytest.mark.parametrize(
    ("when", "status"),
    [
        ("2026-11-01T10:00:00+00:00", Status.PASS),
        ("2026-08-01T10:00:00+00:00", Status.FAIL),
        (None, Status.ERROR),
    ],
    ids=["recent", "old", "unknown"],
)
def test_last_update_age(os_facts, when, status) -> None:
    os_facts["last_update"]["time"] = when
    assert judge("os.last_update_age", os_facts, max_days=30).status is status


def test_supported_release_uses_builtin_dates(os_facts) -> None:
    assert judge("os.supported_release", os_facts).status is Status.PASS
    old = copy.deepcopy(os_facts)
    old["os"].update(version_id="10", codename="buster", pretty_name="Debian GNU/Linux 10 (buster)")
    outcome = judge("os.supported_release", old)
    assert outcome.status is Status.FAIL
    assert outcome.message == "Debian GNU/Linux 10 (buster) reached end of support on 2024-06-30."


@pytest.mark.parametrize(
    "eol",
    [{"debian": {"12": "2026-01-01"}}, {"debian:12": "2026-01-01"}],
    ids=["nested", "flat"],
)
def test_supported_release_option_overrides(os_facts, eol) -> None:
    assert judge("os.supported_release", os_facts, eol=eol).status is Status.FAIL


def test_supported_release_matches_major_minor_for_alpine(os_facts) -> None:
    os_facts["os"] = {"id": "alpine", "version_id": "3.19.1", "pretty_name": "Alpine Linux v3.19"}
    outcome = judge("os.supported_release", os_facts)
    assert (outcome.status, outcome.evidence["release"]) == (Status.FAIL, "3.19")


def test_unknown_release_is_an_error(os_facts) -> None:
    os_facts["os"] = {"id": "gentoo", "version_id": "2.17"}
    assert judge("os.supported_release", os_facts).status is Status.ERROR
