"""Red Hat CSAF 2.0 advisories, on recorded real documents: rows, hosts, verdicts, refusals.

The documents under data/redhat-csaf are kept as Red Hat published them (their
source is in that folder's README.md). The hosts are ``rpm -qa --qf RPM_FORMAT``
lines as the collector reads them, made for these tests with the version strings
real RHEL hosts carry (``el9_3`` dist tags, bind's epoch 32).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import load_registry
from scanner.plugins.packages import advisory_matches, csaf, feeds, packages_facts, packages_plugin
from scanner.plugins.packages.parsers import parse_rpm_qa
from scanner.policy import load_policies
from scanner.store import RunStatus, Store

DATA = Path(__file__).parent / "data" / "redhat-csaf"
TIGERVNC = DATA / "rhsa-2024_0010.json"  # RHEL 9 AppStream, Important, three CVEs
BIND = DATA / "rhsa-2025_23414.json"  # RHEL 6 ELS, epoch 32, no source RPM among the fixed
SUDO = DATA / "rhsa-2024_0811.json"  # RHEL 8 and 9, mainline and EUS streams
RUBY25 = DATA / "rhsa-2023_7025.json"  # RHEL 8, the ruby:2.5 module stream
RUBY27 = DATA / "rhsa-2023_3821.json"  # RHEL 8, the ruby:2.7 module stream
CHECK = packages_plugin.checks[0]

RHEL9 = {"id": "rhel", "version_id": "9.3", "pretty_name": "Red Hat Enterprise Linux 9.3 (Plow)"}
RHEL6 = {"id": "rhel", "version_id": "6.10", "pretty_name": "Red Hat Enterprise Linux Server release 6.10 (Santiago)"}
TIGERVNC_FIX = "1.13.1-3.el9_3.3"
BIND_FIX = "32:9.8.2-0.68.rc1.el6_10.17"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "s.db") as opened:
        yield opened


def _import(store: Store, path: Path, name: str | None = None) -> feeds.ImportResult:
    with store.write_dataset("advisories") as conn:
        return feeds.import_path(conn, path, name=name)


def _rows(store: Store, sql: str) -> list[Any]:
    dataset = store.dataset("advisories")
    assert dataset is not None
    with dataset.read() as conn:
        return list(conn.execute(sql))


def _rpm(*lines: str) -> list[Any]:
    return parse_rpm_qa("".join(line.replace(" ", "\t") + "\n" for line in lines))


def _host(os_release: dict[str, str], packages: list[Any], running: str) -> dict[str, Any]:
    return {
        "collected_at": "2026-11-30T08:00:00+00:00",
        "os": os_release,
        "package_format": "rpm",
        "packages": [p.to_json() for p in packages],
        "kernel": {"running": running},
    }


def _tigervnc_host(release: str) -> dict[str, Any]:
    src = f"tigervnc-1.13.1-{release}.src.rpm"
    return _host(RHEL9, _rpm(
        f"tigervnc-server 0 1.13.1 {release} x86_64 {src} 1790100300",
        f"tigervnc-license 0 1.13.1 {release} noarch {src} 1790100300",
        "openssh-server 0 8.7p1 34.el9_3.3 x86_64 openssh-8.7p1-34.el9_3.3.src.rpm 1790100300",
    ), "5.14.0-362.8.1.el9_3.x86_64")


def _matches(store: Store, host: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = advisory_matches(store.dataset("advisories"), packages_facts(host))
    assert found["feed_problem"] is None, found["feed_problem"]
    return {(m["id"], m["package"]): m for m in found["matches"]}


def _verdict(store: Store, host: dict[str, Any]) -> Any:
    given = {"max_feed_age_days": 36500, "min_severity": "medium"}
    options, problems = validate_options(CHECK.options, given, CHECK.id)
    assert not problems
    return CHECK.evaluate(packages_facts(host), options, {"advisories": store.dataset("advisories")})


# ------------------------------------------------------------------ rows


def test_tigervnc_is_one_rhel9_row_for_its_source_rpm(store: Store) -> None:
    result = _import(store, TIGERVNC)
    assert (result.feed.name, result.feed.kind) == ("redhat-csaf:RHSA-2024:0010", "csaf")
    assert result.feed.feed_date == "2024-11-23T02:54:26+00:00"  # tracking.current_release_date
    assert result.releases == {"rhel:9": 1}  # 40 fixed products: one source RPM, five arches of binaries
    rows = _rows(store, "SELECT advisory, release, package, introduced, fixed, state, urgency, severity, "
                        "range_type FROM feed_affected")
    assert rows == [
        ("RHSA-2024:0010", "rhel:9", "tigervnc", "0", TIGERVNC_FIX, "resolved", "Important", "high", "CSAF")
    ]


def test_the_advisory_keeps_cves_title_errata_page_dates_and_the_worst_vector(store: Store) -> None:
    _import(store, TIGERVNC)
    ((aliases, summary, url, published, modified, vector, score, canonical),) = _rows(
        store, "SELECT aliases, summary, url, published, modified, cvss_vector, cvss_score, canonical "
               "FROM feed_advisories")
    assert [a for a in json.loads(aliases) if a.startswith("CVE-")] == [
        "CVE-2023-5367", "CVE-2023-6377", "CVE-2023-6478"]
    assert canonical == "RHSA-2024:0010"  # three CVEs: the advisory is its own identity
    assert summary == "Important: tigervnc security update"
    assert url == "https://access.redhat.com/errata/RHSA-2024:0010"
    assert (published, modified) == ("2024-01-02T08:58:34+00:00", "2024-11-23T02:54:26+00:00")
    # CVE-2023-6478's AV:N/.../I:L/A:L scores lower than the local C:H/I:H/A:H of the other two.
    assert vector == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
    assert score == pytest.approx(7.8)


def test_bind_els_rows_keep_epoch_32_and_name_the_fixed_binaries(store: Store) -> None:
    # RHSA-2025:23414 lists bind's source RPM under known_not_affected, not fixed: the
    # platform's fixed binaries are the rows, and the matcher finds them by binary name.
    result = _import(store, BIND)
    assert set(result.releases) == {"rhel:6"}
    rows = sorted(_rows(store, "SELECT package, fixed, urgency, severity FROM feed_affected"))
    assert rows == [
        (name, BIND_FIX, "Important", "high") for name in ("bind", "bind-libs", "bind-sdb", "bind-utils")
    ]
    ((aliases,),) = _rows(store, "SELECT aliases FROM feed_advisories")
    assert {"CVE-2021-25220", "CVE-2025-40778"} <= set(json.loads(aliases))


def test_with_its_source_rpm_fixed_a_builds_binaries_give_no_rows_of_their_own(store: Store, tmp_path: Path) -> None:
    data = json.loads(BIND.read_text())
    for vuln in data["vulnerabilities"]:
        status = vuln["product_status"]
        sources = [p for p in status["known_not_affected"] if p.endswith(".src")]
        status["known_not_affected"] = [p for p in status["known_not_affected"] if p not in sources]
        status["fixed"] += sources
    _import(store, _write(tmp_path, data))
    assert _rows(store, "SELECT package, fixed FROM feed_affected") == [("bind", BIND_FIX)]


def test_a_fixed_binary_of_another_build_than_the_source_rpms_is_its_own_row(store: Store, tmp_path: Path) -> None:
    data = _document()
    noarch = next(b for b in data["product_tree"]["branches"][0]["branches"] if b["name"] == "noarch")
    icons = next(leaf["product"] for leaf in noarch["branches"] if leaf["name"].startswith("tigervnc-icons-"))
    icons["product_identification_helper"]["purl"] = "pkg:rpm/redhat/tigervnc-icons@1.13.1-4.el9_3?arch=noarch"
    _import(store, _write(tmp_path, data))
    assert sorted(_rows(store, "SELECT package, fixed FROM feed_affected")) == [
        ("tigervnc", TIGERVNC_FIX), ("tigervnc-icons", "1.13.1-4.el9_3")]


def test_sudo_mainline_streams_are_rhel_releases_and_eus_streams_match_no_host(store: Store) -> None:
    result = _import(store, SUDO)
    assert result.releases["rhel:8"] == 1 and result.releases["rhel:9"] == 1
    assert {r for r in result.releases if not r.startswith("rhel:")} == {
        r for r in result.releases if r.startswith("other:Red Hat:rhel_eus:")
    }
    mainline = dict(_rows(store, "SELECT release, fixed FROM feed_affected "
                                 "WHERE package = 'sudo' AND release LIKE 'rhel:%'"))
    assert mainline == {"rhel:8": "1.9.5p2-1.el8_9", "rhel:9": "1.9.5p2-10.el9_3"}


def test_a_host_on_an_eus_build_is_judged_by_the_mainline_fix(store: Store) -> None:
    # A host's facts do not say it follows an EUS stream, so 9.2 EUS's own fix
    # (1.9.5p2-9.el9_2.2) is below the rhel:9 fix and stays reported.
    _import(store, SUDO)
    host = _host(RHEL9, _rpm(
        "sudo 0 1.9.5p2 9.el9_2.2 x86_64 sudo-1.9.5p2-9.el9_2.2.src.rpm 1790100300",
    ), "5.14.0-284.30.1.el9_2.x86_64")
    assert _matches(store, host)[("RHSA-2024:0811", "sudo")]["fixed"] == "1.9.5p2-10.el9_3"


def test_a_directory_of_documents_is_one_feed(store: Store) -> None:
    result = _import(store, DATA)
    assert (result.feed.name, result.feed.kind, result.feed.advisories) == ("redhat-csaf", "csaf", 5)
    assert result.feed.feed_date == "2025-12-18T11:16:21+00:00"  # the newest current_release_date
    assert {"rhel:6", "rhel:8", "rhel:9"} <= set(result.releases)


def test_a_directory_holding_two_revisions_of_an_advisory_keeps_the_newer(store: Store, tmp_path: Path) -> None:
    newer = json.loads(TIGERVNC.read_text())
    newer["document"]["tracking"]["current_release_date"] = "2025-06-01T00:00:00+00:00"
    newer["document"]["title"] = "Red Hat Security Advisory: tigervnc security update (revised)"
    folder = tmp_path / "advisories"
    folder.mkdir()
    (folder / "a-newer.json").write_text(json.dumps(newer))
    (folder / "b-older.json").write_bytes(TIGERVNC.read_bytes())  # read last, dated earlier
    result = _import(store, folder)
    assert (result.feed.advisories, result.affected_rows) == (1, 1)
    assert _rows(store, "SELECT summary, modified FROM feed_advisories") == [
        ("Important: tigervnc security update (revised)", "2025-06-01T00:00:00+00:00")]


def test_one_document_after_another_accumulate_and_a_revision_replaces_its_own(store: Store) -> None:
    _import(store, TIGERVNC)
    _import(store, BIND)
    _import(store, TIGERVNC)
    feeds_now = _rows(store, "SELECT name FROM feed_sources ORDER BY name")
    assert feeds_now == [("redhat-csaf:RHSA-2024:0010",), ("redhat-csaf:RHSA-2025:23414",)]
    assert len(_rows(store, "SELECT 1 FROM feed_affected WHERE package = 'tigervnc'")) == 1


# ------------------------------------------------------------------ hosts and verdicts


@pytest.mark.parametrize(
    ("release", "hit"),
    [("1.el9", True), ("3.el9_3.2", True), ("3.el9_3.3", False), ("4.el9_4", False)],
    ids=["ga-build", "previous-update", "the-fix", "later-minor-release"],
)
def test_a_rhel9_host_against_rhsa_2024_0010(store: Store, release: str, hit: bool) -> None:
    _import(store, TIGERVNC)
    found = _matches(store, _tigervnc_host(release))
    assert (("RHSA-2024:0010", "tigervnc") in found) is hit
    if hit:
        match = found[("RHSA-2024:0010", "tigervnc")]
        assert (match["installed"], match["fixed"], match["severity"]) == (f"1.13.1-{release}", TIGERVNC_FIX, "high")
        assert match["binaries"] == ["tigervnc-license", "tigervnc-server"]
        assert match["url"] == "https://access.redhat.com/errata/RHSA-2024:0010"
    outcome = _verdict(store, _tigervnc_host(release))
    assert outcome.status is (Status.FAIL if hit else Status.PASS)


@pytest.mark.parametrize(
    ("epoch", "release", "hit"),
    [("32", "0.68.rc1.el6_10.16", True), ("32", "0.68.rc1.el6_10.17", False), ("0", "0.68.rc1.el6_10.17", True)],
    ids=["older-update", "the-fix", "no-epoch-is-lower"],
)
def test_a_rhel6_host_is_judged_by_bind_binaries_with_their_epoch(
    store: Store, epoch: str, release: str, hit: bool
) -> None:
    _import(store, BIND)
    src = f"bind-9.8.2-{release}.src.rpm"
    host = _host(RHEL6, _rpm(
        f"bind-libs {epoch} 9.8.2 {release} x86_64 {src} 1790100300",
        f"bind-utils {epoch} 9.8.2 {release} x86_64 {src} 1790100300",
    ), "2.6.32-754.35.1.el6.x86_64")
    found = _matches(store, host)
    assert bool(found) is hit
    if hit:
        ((key, match),) = found.items()
        assert key == ("RHSA-2025:23414", "bind")  # one match for the source, whichever binary row hit
        assert match["fixed"] == BIND_FIX


RHEL8 = {"id": "rhel", "version_id": "8.9", "pretty_name": "Red Hat Enterprise Linux 8.9 (Ootpa)"}
RUBY25_FIX = "2.5.9-111.module+el8.9.0+19193+435404ae"
RUBY25_LABEL = "ruby:2.5:8090020230627084142:b46abd14"


def test_module_stream_rows_keep_their_module_builds(store: Store) -> None:
    result = _import(store, RUBY25)
    assert result.releases == {"rhel:8": 7}  # seven source RPMs of the stream
    rows = dict(_rows(store, "SELECT package, fixed FROM feed_affected"))
    assert rows["ruby"] == RUBY25_FIX
    assert rows["rubygem-pg"] == "1.0.0-3.module+el8.9.0+19193+435404ae"
    ((summary,),) = _rows(store, "SELECT summary FROM feed_advisories")
    assert feeds.module_streams(summary) == {"ruby:2.5"}


def _ruby_host(release: str, label: str) -> dict[str, Any]:
    src = f"ruby-2.5.9-{release}.src.rpm"
    return _host(RHEL8, _rpm(
        f"ruby 0 2.5.9 {release} x86_64 {src} 1790100300 {label}",
        f"ruby-libs 0 2.5.9 {release} x86_64 {src} 1790100300 {label}",
    ), "4.18.0-513.5.1.el8_9.x86_64")


@pytest.mark.parametrize(
    ("release", "hit"),
    [("110.module+el8.6.0+15956+aa803b0b", True), ("111.module+el8.9.0+19193+435404ae", False)],
    ids=["older-module-build", "the-fix"],
)
def test_a_ruby_2_5_host_is_judged_by_its_own_stream_only(store: Store, release: str, hit: bool) -> None:
    # RHSA-2023:3821 fixes ruby in 2.7.8-139.module+el8.8.0+...: above every 2.5 build, but
    # for the ruby:2.7 stream, so it says nothing about a host on ruby:2.5.
    _import(store, RUBY25)
    _import(store, RUBY27)
    found = _matches(store, _ruby_host(release, RUBY25_LABEL))
    assert list(found) == ([("RHSA-2023:7025", "ruby")] if hit else [])
    if hit:
        assert found[("RHSA-2023:7025", "ruby")]["fixed"] == RUBY25_FIX


def test_a_csaf_feed_says_nothing_about_a_rocky_host(store: Store) -> None:
    _import(store, TIGERVNC)
    host = _tigervnc_host("1.el9")
    host["os"] = {"id": "rocky", "version_id": "9.3"}
    found = advisory_matches(store.dataset("advisories"), packages_facts(host))
    assert found["matches"] == []
    assert "no imported advisory feed covers" in found["feed_problem"]


# ------------------------------------------------------------------ end to end: the commands

POLICY = """
policy: {id: csaf-test, version: "1", title: Red Hat advisories}
rules:
  - id: no-vulns
    title: No vulnerable packages
    severity: high
    checks: [{check: packages.vulnerable, options: {min_severity: medium, max_feed_age_days: 36500}}]
"""


def _stored_run(db: Path, policy: Path, hosts: dict[str, dict[str, Any]]) -> int:
    """A finished run holding each host's package facts, as a scan of it leaves them."""
    import datetime as dt

    now = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    registry = load_registry()
    assets = [
        Asset(id=f"water/{name}", name=name, kind=AssetKind.HOST, department="water", address=f"127.0.0.{n}")
        for n, name in enumerate(hosts, 10)
    ]
    with Store(db) as opened:
        run = opened.create_run(load_policies([str(policy)], registry), assets, {}, now, None, ())
        for asset, facts in zip(assets, hosts.values(), strict=True):
            opened.save_asset(run, asset, {"packages": packages_facts(facts)}, {}, [], now,
                              versions={"packages": packages_plugin.facts_version})
        opened.finish_run(run, RunStatus.COMPLETE, 0, now)
    return run


def _civiscan(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SSH_AUTH_SOCK", "CI")}
    env["CIVISCAN_DB"] = str(tmp_path / "store.db")
    env["HOME"] = str(tmp_path / "home")
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def test_feeds_import_then_evaluate_stored_rhel_facts(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    run = _stored_run(tmp_path / "store.db", policy, {
        "old": _tigervnc_host("3.el9_3.2"), "patched": _tigervnc_host("3.el9_3.3"),
    })
    imported = _civiscan(tmp_path, "feeds", "import", str(TIGERVNC))
    assert imported.returncode == 0, imported.stderr
    assert "feed 'redhat-csaf:RHSA-2024:0010' (csaf), 1 advisories, dated 23 Nov 2024" in imported.stdout
    assert "releases: rhel:9 (1)" in imported.stdout

    judged = _civiscan(tmp_path, "evaluate", str(run), "-p", str(policy), "-f", "json", "-q")
    assert judged.returncode == 1, judged.stderr
    findings = {f["asset_id"]: f for f in json.loads(judged.stdout)["findings"] if f["rule_id"] == "no-vulns"}
    assert findings["water/patched"]["status"] == "pass"
    failed = findings["water/old"]
    assert failed["status"] == "fail"
    (advisory,) = failed["checks"][0]["evidence"]["advisories"]
    assert (advisory["id"], advisory["package"], advisory["installed"], advisory["fixed"]) == (
        "RHSA-2024:0010", "tigervnc", "1.13.1-3.el9_3.2", TIGERVNC_FIX)
    assert "CVE-2023-5367" in advisory["aliases"]
    assert "RHSA-2024:0010" in failed["message"]


# ------------------------------------------------------------------ refusals


def _document() -> dict[str, Any]:
    return json.loads(TIGERVNC.read_text())


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "rhsa-test.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def _refusal(store: Store, path: Path) -> str:
    with pytest.raises(feeds.FeedFormatError) as caught:
        _import(store, path)
    return str(caught.value)


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_broken_json_is_reported_at_its_line_and_column(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "rhsa-broken.json"
    path.write_text('{"document": {"csaf_version": "2.0",\n  "title": }}')
    assert _refusal(store, path).startswith(f"{path}:2:12: not valid JSON: ")


def test_a_fixed_product_the_tree_does_not_define_is_reported_where_it_is_listed(
    store: Store, tmp_path: Path
) -> None:
    data = _document()
    data["vulnerabilities"][1]["product_status"]["fixed"][2] = "AppStream-9.3.0.Z.MAIN:no-such-1.0-1.el9.src"
    path = _write(tmp_path, data)
    message = _refusal(store, path)
    line = _line_of(path, "no-such-1.0-1.el9.src")
    assert message.startswith(f"{path}:{line}:"), message
    assert "/vulnerabilities/1/product_status/fixed/2" in message and "no-such-1.0-1.el9.src" in message
    assert _rows(store, "SELECT name FROM feed_sources") == []  # nothing imported


@pytest.mark.parametrize(
    ("change", "pointer", "words"),
    [
        (lambda d: d["document"].update(category="csaf_vex"), "/document/category", "csaf_vex"),
        (lambda d: d["document"]["tracking"].pop("id"), "/document/tracking/id", "tracking id"),
        (lambda d: d.update(vulnerabilities={"cve": "CVE-2023-5367"}), "/vulnerabilities", "array"),
        (lambda d: d["product_tree"]["relationships"][0].pop("relates_to_product_reference"),
         "/product_tree/relationships/0/relates_to_product_reference", "relates_to_product_reference"),
    ],
    ids=["vex-document", "no-advisory-id", "vulnerabilities-not-a-list", "relationship-without-platform"],
)
def test_a_malformed_document_names_the_json_path(
    store: Store, tmp_path: Path, change: Any, pointer: str, words: str
) -> None:
    data = _document()
    change(data)
    path = _write(tmp_path, data)
    message = _refusal(store, path)
    assert message.startswith(f"{path}:") and message.split(":")[1].isdigit(), message
    assert pointer in message and words in message


def test_a_relationship_naming_no_product_of_the_tree_is_refused(store: Store, tmp_path: Path) -> None:
    data = _document()
    data["product_tree"]["relationships"][0]["relates_to_product_reference"] = "AppStream-9.9.9.Z.MAIN"
    path = _write(tmp_path, data)
    message = _refusal(store, path)
    assert message.startswith(f"{path}:{_line_of(path, 'AppStream-9.9.9.Z.MAIN')}:"), message
    assert "/product_tree/relationships/0/relates_to_product_reference" in message


def test_a_platform_without_cpe_is_a_warning_and_its_fixes_are_skipped(store: Store, tmp_path: Path) -> None:
    data = _document()
    family = data["product_tree"]["branches"][0]["branches"][0]
    (platform,) = [b for b in family["branches"] if b["category"] == "product_name"]
    platform["product"].pop("product_identification_helper")
    result = _import(store, _write(tmp_path, data))
    assert result.warnings == ["RHSA-2024:0010: platform 'AppStream-9.3.0.Z.MAIN' has no CPE: its fixes are skipped"]
    assert result.releases == {}
    assert _rows(store, "SELECT COUNT(*) FROM feed_affected") == [(0,)]


def test_a_package_without_purl_is_read_from_its_nevra_id(store: Store, tmp_path: Path) -> None:
    data = _document()
    arches = [b for b in data["product_tree"]["branches"][0]["branches"] if b["category"] == "architecture"]
    for leaf in (leaf for arch in arches for leaf in arch["branches"]):
        leaf["product"].pop("product_identification_helper")  # "tigervnc-0:1.13.1-3.el9_3.3.src" stays
    result = _import(store, _write(tmp_path, data))
    assert result.warnings == []
    assert _rows(store, "SELECT release, package, fixed FROM feed_affected") == [("rhel:9", "tigervnc", TIGERVNC_FIX)]


def test_an_other_csaf_version_is_not_read_as_csaf_2(store: Store, tmp_path: Path) -> None:
    data = _document()
    data["document"]["csaf_version"] = "2.1"
    path = _write(tmp_path, data)
    message = _refusal(store, path)
    line = _line_of(path, '"csaf_version"')
    assert message.startswith(f"{path}:{line}:"), message
    assert "/document/csaf_version" in message and "'2.1' is not supported" in message


def test_the_import_command_names_the_file_once(tmp_path: Path) -> None:
    data = _document()
    data["vulnerabilities"][0]["product_status"]["fixed"][0] = "BaseOS-9.3.0.Z.MAIN:missing"
    path = _write(tmp_path, data)
    imported = _civiscan(tmp_path, "feeds", "import", str(path))
    assert imported.returncode == 2
    line = _line_of(path, "BaseOS-9.3.0.Z.MAIN:missing")
    assert imported.stderr.startswith(f"error: {path}:{line}:"), imported.stderr
    assert imported.stderr.count(str(path)) == 1, imported.stderr


# ------------------------------------------------------------------ purls


@pytest.mark.parametrize(
    ("purl", "expected"),
    [
        ("pkg:rpm/redhat/tigervnc@1.13.1-3.el9_3.3?arch=src", ("tigervnc", "1.13.1-3.el9_3.3", "src")),
        ("pkg:rpm/redhat/bind-libs@9.8.2-0.68.rc1.el6_10.17?arch=x86_64&epoch=32",
         ("bind-libs", "32:9.8.2-0.68.rc1.el6_10.17", "x86_64")),
        ("pkg:rpm/redhat/ruby@2.5.9-111.module%2Bel8.9.0%2B19193%2B435404ae?arch=src&rpmmod=ruby:2.5:8090020230627084142:b46abd14",
         ("ruby", "2.5.9-111.module+el8.9.0+19193+435404ae", "src")),
        ("pkg:oci/ubi9@sha256%3Aabc?repository_url=registry.access.redhat.com/ubi9", None),
        ("pkg:rpm/redhat/virt@virt-devel:rhel-1?arch=src", None),  # a module stream, no rpm version
        ("pkg:rpm/redhat/tigervnc?arch=src", None),
    ],
    ids=["source", "epoch", "module-build", "container-image", "module-stream-as-version", "no-version"],
)
def test_purls(purl: str, expected: tuple[str, str, str] | None) -> None:
    read = csaf.parse_purl(purl)
    assert (tuple(read) if read else None) == expected
