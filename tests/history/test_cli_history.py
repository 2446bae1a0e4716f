"""civiscan diff and civiscan history on runs stored by real scans of loopback listeners."""

from __future__ import annotations

import json

import pytest

from .conftest import HOSTILE_NAME

pytestmark = pytest.mark.integration


def test_diff_table_shows_each_change_once(scanned_city):
    out = scanned_city["civiscan"]("diff", "1", "2", check_exit=0).stdout
    assert "1 new, 0 regressed, 1 still failing, 1 fixed, 0 waived changed, 0 no longer evaluated" in out
    new = out.split("NEW (1)")[1].split("STILL FAILING")[0]
    assert "parks/shop" in new and "pass -> fail" in new


def test_diff_json_follows_the_schema(scanned_city):
    doc = json.loads(scanned_city["civiscan"]("diff", "1", "last", "-f", "json", check_exit=0).stdout)
    assert (doc["schema"], doc["before"]["id"], doc["after"]["id"]) == ("civiscan/diff", 1, 2)
    categories = {f["asset_id"]: f["category"] for f in doc["findings"]}
    assert categories == {"parks/www": "fixed", f"parks/{HOSTILE_NAME}": "new", "water/db": "still_failing"}


def test_diff_markdown_escapes_the_names(scanned_city):
    out = scanned_city["civiscan"]("diff", "1", "2", "-f", "markdown", check_exit=0).stdout
    assert "[pay](" not in out and r"\[pay\]\(javascript\:alert\(1\)\)\*" in out


def test_diff_of_one_department_leaves_the_others_out(scanned_city):
    doc = json.loads(scanned_city["civiscan"]("diff", "1", "2", "--department", "water", "-f", "json", check_exit=0).stdout)
    assert [f["asset_id"] for f in doc["findings"]] == ["water/db"]


def test_diff_of_an_unknown_department_or_run_exits_2(scanned_city):
    civiscan = scanned_city["civiscan"]
    assert "neither run 1 nor run 2 has department 'roads'" in civiscan("diff", "1", "2", "--department", "roads", check_exit=2).stderr
    assert "no run '9'" in civiscan("diff", "1", "9", check_exit=2).stderr


def test_history_json_scores_each_run_of_a_department(scanned_city):
    doc = json.loads(scanned_city["civiscan"]("history", "--department", "parks", "-f", "json", check_exit=0).stdout)
    assert [(r["run"], r["score"], r["findings"]["fail"]) for r in doc["runs"]] == [(1, 50.0, 1), (2, 50.0, 1)]
    assert doc["runs"][0]["assets"] == 2


def test_history_of_one_asset_by_name(scanned_city):
    doc = json.loads(scanned_city["civiscan"]("history", "--asset", "www", "-f", "json", check_exit=0).stdout)
    assert [(r["run"], r["score"]) for r in doc["runs"]] == [(1, 0.0), (2, 100.0)]


def test_history_table_ends_with_the_trend(scanned_city):
    out = scanned_city["civiscan"]("history", "--asset", "parks/www", "-n", "5", check_exit=0).stdout
    assert out.rstrip().endswith("trend: 0.0% in run 1 -> 100.0% in run 2 (+100.0 points over 2 runs)")
    assert "+100.0 points" in out.splitlines()[3]


def test_history_limit_keeps_the_last_runs(scanned_city):
    doc = json.loads(scanned_city["civiscan"]("history", "-n", "1", "-f", "json", check_exit=0).stdout)
    assert [r["run"] for r in doc["runs"]] == [2]
