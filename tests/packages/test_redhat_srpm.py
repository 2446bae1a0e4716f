"""Red Hat OSV entries that name a source RPM FILE as the package (ossf/osv-schema#422).

Red Hat's published RHSA-2024:4420 (``Red Hat:enterprise_linux:8::crb``) names
``SLOF-20210217-2.module+el8.10.0+20141+6faa2812.src.rpm`` as the package and gives
the module stream ``virt-devel:rhel`` as its fixed version; the entry below is that
one, as quoted in the issue. Read literally it matches nothing (no package has that
name, and rpm orders ``virt-devel:rhel`` below every numeric version). civiscan reads
it as package ``SLOF`` fixed in the file's own version, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.models import Status
from scanner.plugins.packages import advisory_matches, feeds, packages_facts
from scanner.plugins.packages.parsers import parse_rpm_qa
from scanner.store import Store
from tests.packages.test_recorded_feeds import _judge

SLOF_FIX = "20210217-2.module+el8.10.0+20141+6faa2812"
ISSUE_422_ENTRY = {  # verbatim from ossf/osv-schema#422
    "package": {
        "name": "SLOF-20210217-2.module+el8.10.0+20141+6faa2812.src.rpm",
        "ecosystem": "Red Hat:enterprise_linux:8::crb",
        "purl": "pkg:rpm/redhat/SLOF",
    },
    "ranges": [{"events": [{"introduced": "0"}, {"fixed": "virt-devel:rhel"}], "type": "ECOSYSTEM"}],
}
RECORD = {
    "id": "RHSA-2024:4420",
    "summary": "Moderate: virt:rhel and virt-devel:rhel security update",
    "modified": "2025-09-18T00:00:00Z",
    "upstream": ["CVE-2024-4418"],
    "affected": [ISSUE_422_ENTRY],
}
RHEL8 = {"id": "rhel", "version_id": "8.10", "pretty_name": "Red Hat Enterprise Linux 8.10 (Ootpa)"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s.db") as opened:
        yield opened


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("SLOF-20210217-2.module+el8.10.0+20141+6faa2812.src.rpm", ("SLOF", SLOF_FIX)),
        ("foo-1.2-3.el9.src.rpm", ("foo", "1.2-3.el9")),
        ("python3.11-requests-2.25.1-1.el9.src.rpm", ("python3.11-requests", "2.25.1-1.el9")),
        ("openssh", None),
        ("foo.src.rpm", None),
        ("openssh-8.7p1-38.el9.x86_64.rpm", None),
    ],
)
def test_source_rpm_file_names(name: str, read: tuple[str, str] | None) -> None:
    assert feeds.srpm_file(name) == read


@pytest.mark.parametrize(
    ("value", "ok"),
    [("virt-devel:rhel", False), ("1:3.0.7-27.el9", True), ("0:8.7p1-38.el9_4.1", True), ("8.7p1", True),
     ("1:", False), ("1:2:3", False)],
)
def test_what_can_be_an_rpm_version(value: str, ok: bool) -> None:
    assert feeds.rpm_evr_ok(value) is ok


def test_the_entry_is_read_as_its_package_with_a_warning() -> None:
    warnings: list[str] = []
    parsed = feeds.osv_rows(RECORD, warnings)
    assert parsed is not None
    [row] = parsed[1]
    assert (row.release, row.row.package, row.row.fixed) == ("rhel:8", "SLOF", SLOF_FIX)
    assert warnings == [
        "RHSA-2024:4420: package 'SLOF-20210217-2.module+el8.10.0+20141+6faa2812.src.rpm' is a source "
        f"RPM file and its fixed version 'virt-devel:rhel' is not a version: read as SLOF fixed in {SLOF_FIX} "
        "(the file's version; a package with an epoch needs it in the feed)"
    ]


def test_a_version_that_is_no_version_is_never_a_silent_row() -> None:
    entry = {**ISSUE_422_ENTRY, "package": {"name": "SLOF", "ecosystem": "Red Hat:enterprise_linux:8::crb"}}
    warnings: list[str] = []
    parsed = feeds.osv_rows({**RECORD, "affected": [entry]}, warnings)
    assert parsed is not None and parsed[1] == []
    assert warnings == ["RHSA-2024:4420: SLOF: 'virt-devel:rhel' is not an rpm version; this range is skipped"]


def test_a_source_rpm_name_with_a_real_fix_keeps_the_fix() -> None:
    entry = {"package": {"name": "foo-1.2-4.el9.src.rpm", "ecosystem": "Red Hat:enterprise_linux:9::appstream"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.2-4.el9"}]}]}
    warnings: list[str] = []
    parsed = feeds.osv_rows({**RECORD, "affected": [entry]}, warnings)
    assert parsed is not None
    assert [(r.row.package, r.row.fixed) for r in parsed[1]] == [("foo", "1:1.2-4.el9")]
    assert warnings == ["RHSA-2024:4420: package 'foo-1.2-4.el9.src.rpm' is a source RPM file: read as package foo"]


def _host(build: str) -> dict[str, Any]:
    line = f"SLOF\t0\t20210217\t{build}\tnoarch\tSLOF-20210217-{build}.src.rpm\t1790100300\n"
    return {"collected_at": "2026-11-30T08:00:00+00:00", "os": RHEL8, "package_format": "rpm",
            "packages": [p.to_json() for p in parse_rpm_qa(line)],
            "kernel": {"running": "4.18.0-553.el8_10.x86_64"}}


@pytest.mark.parametrize(
    ("build", "hit"),
    [("1.module+el8.9.0+19500+3ae0ff8e", True), ("2.module+el8.10.0+20141+6faa2812", False)],
)
def test_a_rhel8_host_is_judged_against_the_entry(store: Store, build: str, hit: bool) -> None:
    with store.write_dataset("advisories") as conn:
        result = feeds.import_osv_records(conn, [RECORD], name="redhat")
    assert result.releases == {"rhel:8": 1} and len(result.warnings) == 1
    found = advisory_matches(store.dataset("advisories"), packages_facts(_host(build)))
    assert found["feed_problem"] is None
    assert [(m["id"], m["package"], m["fixed"]) for m in found["matches"]] == (
        [("RHSA-2024:4420", "SLOF", SLOF_FIX)] if hit else [])
    outcome = _judge(store, _host(build), min_severity="medium")
    assert outcome.status is (Status.FAIL if hit else Status.PASS)


def test_feeds_import_prints_the_warning(tmp_path: Path) -> None:
    from scanner.plugins.packages.command import feeds as feeds_command

    record = tmp_path / "RHSA-2024_4420.json"
    record.write_text(json.dumps(RECORD))
    result = CliRunner().invoke(feeds_command, ["import", str(record), "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert "feed 'osv:Red Hat'" in result.stdout
    assert f"warning: {record}: RHSA-2024:4420: package 'SLOF-20210217-2" in result.stderr
