"""JUnit, SARIF, CSV, Markdown and JSON: valid, complete, and inert."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from scanner.reports import FILE_NAMES, render

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SCHEMA = json.loads(
    (Path(__file__).parents[1] / "data" / "reports" / "sarif-schema-2.1.0.json").read_text()
)
DOCS = ["city_doc", "hostile_doc", "empty_doc", "error_doc", "waiver_doc"]


def output(doc, fmt: str, tmp_path: Path, **kwargs) -> bytes:
    render(doc, [fmt], tmp_path, now=NOW, **kwargs)
    return (tmp_path / FILE_NAMES[fmt]).read_bytes()


# --- JUnit ------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", DOCS)
def test_junit_parses_and_counts_match(request, tmp_path, fixture):
    doc = request.getfixturevalue(fixture)
    root = ET.fromstring(output(doc, "junit", tmp_path))
    statuses = [f["status"] for f in doc["findings"]]
    assert root.get("tests") == str(len(statuses))
    assert root.get("failures") == str(statuses.count("fail"))
    assert root.get("errors") == str(statuses.count("error"))
    assert root.get("skipped") == str(statuses.count("waived") + statuses.count("not_applicable"))


def test_junit_has_one_suite_per_department_and_one_case_per_pair(city_doc, tmp_path):
    root = ET.fromstring(output(city_doc, "junit", tmp_path))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"parks", "water"}
    assert [c.get("classname") for c in suites["water"].iter("testcase")] == [
        "water/waterdb19c2"
    ] * 2


def test_junit_failure_carries_message_and_evidence(city_doc, tmp_path):
    root = ET.fromstring(output(city_doc, "junit", tmp_path))
    failure = next(root.iter("failure"))
    assert failure.get("message") == "TLSv1.0 is accepted"
    assert "tls.protocols: fail: Accepted: TLSv1.0, TLSv1.2" in failure.text  # the plugin's words
    assert "remediation: Disable TLSv1.0" in failure.text


def test_junit_skips_waived_findings_with_the_waiver(waiver_doc, tmp_path):
    root = ET.fromstring(output(waiver_doc, "junit", tmp_path))
    skipped = [s.get("message") for s in root.iter("skipped")]
    assert skipped[0].startswith("waived until 2026-12-10 (w-soon, ticket SEC-12)")


def test_junit_keeps_hostile_text_as_text(hostile_doc, tmp_path):
    root = ET.fromstring(output(hostile_doc, "junit", tmp_path))
    messages = [f.get("message") for f in root.iter("failure")]
    assert any("<script>window.__pwned='script'</script>" in m for m in messages)
    assert not any("\x00" in (f.text or "") for f in root.iter("failure"))


# --- SARIF ------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", DOCS)
def test_sarif_validates_against_the_official_schema(request, tmp_path, fixture):
    log = json.loads(output(request.getfixturevalue(fixture), "sarif", tmp_path))
    jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(log)


def test_sarif_results_cover_failures_waivers_and_errors_only(waiver_doc, error_doc, tmp_path):
    log = json.loads(output(waiver_doc, "sarif", tmp_path))
    results = log["runs"][0]["results"]
    assert len(results) == 31
    suppressed = [r for r in results if r.get("suppressions")]
    assert len(suppressed) == 30
    assert suppressed[0]["suppressions"][0]["status"] == "accepted"
    assert suppressed[0]["suppressions"][0]["properties"]["expires"] == "2026-12-10"


def test_sarif_error_results_are_open_with_no_level(error_doc, tmp_path):
    result = json.loads(output(error_doc, "sarif", tmp_path))["runs"][0]["results"][0]
    assert (result["kind"], result["level"]) == ("open", "none")


def test_sarif_maps_severity_to_level_and_keeps_the_fingerprint(city_doc, tmp_path):
    run = json.loads(output(city_doc, "sarif", tmp_path))["runs"][0]
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels == {"tls-protocols": "error", "ports-allowed": "warning"}
    fingerprints = {r["partialFingerprints"]["civiscanFinding/v1"] for r in run["results"]}
    assert fingerprints == {f["fingerprint"] for f in city_doc["findings"] if f["status"] == "fail"}
    rules = run["tool"]["driver"]["rules"]
    assert all(
        run["results"][i]["ruleId"] == rules[run["results"][i]["ruleIndex"]]["id"] for i in range(2)
    )
    assert rules[0]["help"]["text"]


def test_sarif_locates_assets_by_logical_name_and_url(city_doc, tmp_path):
    results = json.loads(output(city_doc, "sarif", tmp_path))["runs"][0]["results"]
    by_rule = {r["ruleId"]: r["locations"][0] for r in results}
    assert (
        by_rule["tls-protocols"]["physicalLocation"]["artifactLocation"]["uri"]
        == "https://parkswww7f3a.parks.example/"
    )
    assert (
        by_rule["ports-allowed"]["logicalLocations"][0]["fullyQualifiedName"] == "water/waterdb19c2"
    )


def test_sarif_marks_change_status_as_baseline_state(changed_runs, tmp_path):
    previous, current = changed_runs
    results = json.loads(output(current, "sarif", tmp_path, previous=previous))["runs"][0][
        "results"
    ]
    assert sorted(r["baselineState"] for r in results) == ["new", "new", "unchanged"]


# --- CSV --------------------------------------------------------------------------


def test_csv_round_trips_commas_quotes_and_newlines(make_run, tmp_path):
    remediation = 'Edit "ssl.conf", then reload:\n  ssl_protocols TLSv1.2;\r\nDone, really.'
    b = make_run()
    b.rule("r1", remediation=remediation)
    b.finding(b.asset("parks", "www"), "r1", "fail", message='Says "hi", then\nleaves')
    rows = list(
        csv.DictReader(io.StringIO(output(b.build(), "csv", tmp_path).decode(), newline=""))
    )
    assert rows[0]["remediation"] == remediation
    assert rows[0]["message"] == 'Says "hi", then\nleaves'


def test_csv_has_one_row_per_finding(city_doc, tmp_path):
    text = output(city_doc, "csv", tmp_path).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(city_doc["findings"])
    assert {r["fingerprint"] for r in rows} == {f["fingerprint"] for f in city_doc["findings"]}


@pytest.mark.parametrize(
    "value", ['=HYPERLINK("x")', "+1+1", "-2+3", "@SUM(A1)"], ids=["eq", "plus", "minus", "at"]
)
def test_csv_defuses_spreadsheet_formulas(make_run, tmp_path, value):
    b = make_run()
    b.rule("r1")
    b.finding(b.asset("parks", "www"), "r1", "fail", message=value)
    rows = list(
        csv.DictReader(io.StringIO(output(b.build(), "csv", tmp_path).decode(), newline=""))
    )
    assert rows[0]["message"] == "'" + value


def test_csv_omits_local_paths(hostile_doc, tmp_path):
    assert b"/home/scanner/secret" not in output(hostile_doc, "csv", tmp_path)


# --- Markdown ---------------------------------------------------------------------


def test_markdown_summary_has_the_counts_table(city_doc, tmp_path):
    text = output(city_doc, "markdown", tmp_path).decode()
    assert "| parks | 61.5% | 1 | 0 | 0 | 2 | 0 |" in text
    assert "| **All** | **50.0%** | **2** | **0** | **0** | **2** | **1** |" in text
    assert "### Top failing rules" in text


def test_markdown_cannot_be_given_links_images_or_markup(make_run, tmp_path):
    payload = (
        "![pixel](http://127.0.0.9/p.png) [click](javascript:alert(1)) <img src=x> `code` | cell"
    )
    b = make_run()
    b.rule("r1", title=payload)
    b.finding(b.asset(payload, "www"), "r1", "fail")
    text = output(b.build(), "markdown", tmp_path).decode()
    assert not re.search(r"(?<!\\)\]\(", text)  # no unescaped link or image syntax
    assert not re.search(r"(?<!\\)[<`]", text)  # no unescaped tag or code span
    table_rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert all(
        line.count("|") - line.count("\\|") == 8 for line in table_rows[:1] + table_rows[2:3]
    )


def test_markdown_is_short_for_a_large_run(make_run, tmp_path):
    b = make_run()
    for i in range(30):
        b.rule(f"r{i}")
        b.finding(b.asset("parks", f"a{i}"), f"r{i}", "fail")
    assert len(output(b.build(), "markdown", tmp_path).decode().splitlines()) < 40


# --- JSON -------------------------------------------------------------------------


def test_json_is_the_document(hostile_doc, tmp_path):
    assert json.loads(output(hostile_doc, "json", tmp_path)) == hostile_doc


def test_json_has_sorted_keys_and_one_finding_per_line(city_doc, tmp_path):
    lines = output(city_doc, "json", tmp_path).decode().splitlines()
    keys = [line.split('"')[1] for line in lines if line.startswith('  "')]
    assert keys == sorted(city_doc)
    for finding in city_doc["findings"]:
        line = json.dumps(finding, sort_keys=True, ensure_ascii=False)
        assert f"    {line}," in lines or f"    {line}" in lines


def test_json_for_one_department_holds_only_that_department(city_doc, tmp_path):
    doc = json.loads(output(city_doc, "json", tmp_path, department="water"))
    assert {a["department"] for a in doc["assets"]} == {"water"}


@pytest.mark.parametrize("fmt", ["csv", "sarif", "junit"])
def test_local_settings_never_reach_a_machine_format_but_json(hostile_doc, tmp_path, fmt):
    written = output(hostile_doc, fmt, tmp_path)
    assert b"/home/scanner/secret" not in written
    if fmt != "junit":  # JUnit shows evidence in words only
        assert b"[omitted: local setting of the scanning machine]" in written
