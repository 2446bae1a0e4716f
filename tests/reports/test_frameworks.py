"""Framework mappings: one file per framework and version, apart from the rules, and the view they give."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from scanner.errors import ConfigError
from scanner.lab.servers import Lab
from scanner.plugin import load_registry
from scanner.policy import builtin_policy_names
from scanner.reports import frameworks, render
from tests.core.conftest import fake_plugin, registry, write  # noqa: F401  (fixtures)
from tests.core.test_cli import BANNER_POLICY, civiscan  # noqa: F401  (fixtures)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def shipped_rules() -> dict[str, dict]:
    rules = {}
    for name in builtin_policy_names():
        for rule in yaml.safe_load((REPO / "policies" / f"{name}.yaml").read_text()).get("rules") or ():
            rules[rule["id"]] = rule
    return rules


@pytest.mark.parametrize("name", ["nist-800-53-r5", "cis-controls-v8", "pci-dss-4.0"])
def test_each_shipped_mapping_loads_and_names_only_shipped_rules(name):
    fw = frameworks.load(name, load_registry().checks)
    assert fw.id == name and fw.source == f"builtin:{name}"
    known = shipped_rules()
    mapped = {r for c in fw.controls for r in c.rules}
    assert mapped <= set(known), sorted(mapped - set(known))


@pytest.mark.parametrize(
    ("name", "reference"),
    [("nist-800-53-r5", "nist-800-53"), ("cis-controls-v8", "cis-controls-v8"), ("pci-dss-4.0", "pci-dss-4.0")],
    ids=["nist", "cis", "pci"],
)
def test_mappings_agree_with_the_references_rules_carry(name, reference):
    fw = frameworks.load(name)
    listed = {(c.id, r) for c in fw.controls for r in c.rules}
    for rule_id, rule in shipped_rules().items():
        for control in (rule.get("references") or {}).get(reference, ()):
            assert (control, rule_id) in listed, f"{rule_id} references {control}"


def test_every_shipped_rule_is_in_the_nist_mapping():
    fw = frameworks.load("nist-800-53-r5")
    assert set(shipped_rules()) <= {r for c in fw.controls for r in c.rules}


BAD_MAPPING = """\
framework:
  id: Bad Id
  title: x
  verison: 1
controls:
  - id: 2.2
    title: t
    rules: [a, a, "b c"]
    checks: [tls.protocol]
  - id: "x"
    title: y
"""


def test_a_bad_mapping_lists_every_problem_with_its_position(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_MAPPING)
    with pytest.raises(ConfigError) as raised:
        frameworks.load(str(path), load_registry().checks)
    assert [str(p).replace(str(path), "bad.yaml") for p in raised.value.problems] == [
        "bad.yaml:2:3: missing required key 'version'",
        "bad.yaml:2:7: framework id 'Bad Id' must be lower-case letters, digits, '.' and '-'",
        "bad.yaml:4:3: unknown key 'verison' in framework (did you mean 'version'?)",
        "bad.yaml:6:9: 'id' must be a non-empty string (quote it)",
        "bad.yaml:8:16: rule 'a' is listed twice",
        "bad.yaml:8:19: 'b c' is not a rule id",
        "bad.yaml:9:14: unknown check 'tls.protocol' (did you mean 'tls.protocols'?)",
        "bad.yaml:10:5: control 'x' maps no rules or checks",
    ]


def test_an_unknown_shipped_name_suggests_one():
    with pytest.raises(ConfigError, match=r"no shipped framework mapping named 'nist-800-53-r4' \(did you mean 'nist-800-53-r5'\?\)"):
        frameworks.load("nist-800-53-r4")


MAPPING = """\
framework: {id: city-controls, title: City controls, version: "1"}
controls:
  - {id: C-1, title: Encrypt in transit, rules: [tls-protocols]}
  - {id: C-2, title: Few open ports, checks: [ports.allowed]}
  - {id: C-3, title: Patched, rules: [no-high-vulns]}
"""


def _mapping(tmp_path: Path) -> frameworks.Framework:
    path = tmp_path / "city.yaml"
    path.write_text(MAPPING)
    return frameworks.load(str(path))


def _city(make_run):
    b = make_run()
    b.rule("tls-protocols")
    b.rule("ports-allowed", check="ports.allowed", options={"allowed": [[443, 443]]})
    for dept, tls, ports in (("parks", "fail", "pass"), ("water", "pass", "error")):
        asset = b.asset(dept, "www")
        b.finding(asset, "tls-protocols", tls)
        b.finding(asset, "ports-allowed", ports, reason="timeout" if ports == "error" else None)
    return b.build()


def test_each_control_counts_its_rules_findings_city_wide_and_per_department(make_run, tmp_path):
    doc = _city(make_run)
    fw = _mapping(tmp_path)
    rules = {r["id"]: r for r in doc["rules"]}
    departments = {a["id"]: a["department"] for a in doc["assets"]}
    counts = frameworks.tallies(doc["findings"], lambda f: departments[f["asset_id"]])
    city = frameworks.view(fw, rules, counts.of(None))
    assert [(r.control.id, r.status, [x.rule_id for x in r.rules]) for r in city.controls] == [
        ("C-1", "failing", ["tls-protocols"]),
        ("C-2", "not assessed", ["ports-allowed"]),  # mapped through its check
        ("C-3", "not evaluated", []),
    ]
    assert city.controls[0].counts == Counter({"fail": 1, "pass": 1})
    water = frameworks.view(fw, rules, counts.of("water"))
    assert [r.status for r in water.controls] == ["passing", "not assessed", "not evaluated"]


def test_html_and_markdown_show_the_framework_view(make_run, tmp_path):
    doc = _city(make_run)
    paths = {p.name: p for p in render(doc, ["html", "markdown"], tmp_path / "out", now=NOW,
                                       frameworks=[_mapping(tmp_path)])}
    index = paths["index.html"].read_text()
    assert '<h2 id="frameworks">Frameworks</h2>' in index and "city-wide" in index
    parks = paths["dept-parks.html"].read_text()
    water = paths["dept-water.html"].read_text()
    assert '<span class="cs cs-failing">failing</span>' in parks
    assert '<span class="cs cs-failing">failing</span>' not in water
    summary = paths["summary.md"].read_text()
    assert "### City controls (version 1)" in summary
    assert "| C-1 Encrypt in transit | failing | 1 | 1 | tls-protocols |" in summary
    assert "| C-2 Few open ports | not assessed | 0 | 1 |  |" in summary
    assert "C-3" not in summary  # only controls that need attention are listed


def test_without_frameworks_pages_have_no_framework_section(make_run, tmp_path):
    paths = render(_city(make_run), ["html"], tmp_path, now=NOW)
    assert all('id="frameworks"' not in p.read_text() for p in paths if p.suffix == ".html")


# --- the command line, on a stored run of real listeners ------------------------------------

# 127.68.0.0/24 is this file's own loopback block.
WWW, DB = "127.68.0.1", "127.68.0.2"
INVENTORY = f"""
scope: {{networks: [127.68.0.0/24]}}
departments:
  parks:
    assets: [{{host: {WWW}, name: www}}]
  water:
    assets: [{{host: {DB}, name: db}}]
"""
BANNER_MAPPING = """\
framework: {id: banner-controls, title: Banner controls, version: "2"}
controls:
  - {id: B-1, title: Services hide their versions, rules: [no-version-banner]}
  - {id: B-2, title: Unmapped, checks: [banner.no_version]}
"""


def test_report_framework_prints_controls_and_adds_them_to_the_pages(civiscan, write, tmp_path):  # noqa: F811
    policy = write("p.yaml", BANNER_POLICY)
    inventory = write("inv.yaml", INVENTORY)
    mapping = write("banner-map.yaml", BANNER_MAPPING)
    with Lab() as lab:
        lab.tcp(WWW, 2525, greeting=b"220 ExampleMTA 4.2 ready\r\n")
        lab.tcp(DB, 2525, greeting=b"220 hello\r\n")
        scanned = civiscan("scan", "-p", policy, "-i", inventory, "-q", "-f", "json", "--timeout", "2")
    assert scanned.returncode == 1, scanned.stderr
    run_id = str(json.loads(scanned.stdout)["run"]["id"])
    proc = civiscan("report", run_id, "--framework", mapping, "-f", "html", "-f", "markdown", "-o", "out",
                    check_exit=0)
    out = proc.stdout
    assert "Banner controls (version 2), city-wide: 2 failing, 0 not assessed, 0 passing, 0 not evaluated controls" in out
    assert "      no-version-banner: 1 fail, 1 pass, 0 error, 0 waived" in out
    assert "Banner controls (version 2), department water: 0 failing, 0 not assessed, 2 passing" in out
    page = (tmp_path / "out" / "dept-parks.html").read_text()
    assert "Services hide their versions" in page
    bad = civiscan("report", run_id, "--framework", "pci-dss-3", "-o", "out2")
    assert bad.returncode == 2 and "no shipped framework mapping named 'pci-dss-3'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_validate_accepts_mapping_files_and_shipped_ones(civiscan, write):  # noqa: F811
    good = write("map.yaml", BANNER_MAPPING)
    proc = civiscan("validate", good, str(REPO / "policies" / "frameworks" / "pci-dss-4.0.yaml"), check_exit=0)
    assert "ok (framework mapping: Banner controls version 2, 2 controls)" in proc.stdout
    bad = civiscan("validate", write("bad.yaml", BAD_MAPPING), check_exit=2)
    assert "bad.yaml:9:14: unknown check 'tls.protocol'" in bad.stderr
