"""The definitions every format shares: score, change status, department subsets."""

from __future__ import annotations

import re

import pytest

from scanner.reports.analysis import (
    Change,
    DocumentError,
    Index,
    compare,
    score,
    slug,
    subset,
    top_failing_rules,
)

BEFORE = "2026-11-18T10:00:00+00:00"  # the previous run's start
EARLIER = "2026-10-01T10:00:00+00:00"  # before the previous run
NOW = "2026-11-25T10:00:00+00:00"


def finding(status: str, severity: str = "high") -> dict[str, str]:
    return {"status": status, "severity": severity}


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        ([finding("pass"), finding("fail")], 50.0),
        ([finding("pass", "critical"), finding("fail", "low")], 100 * 10 / 11),
        ([finding("waived"), finding("fail")], 50.0),
        ([finding("pass"), finding("error")], 50.0),
        ([finding("pass"), finding("not_applicable", "critical")], 100.0),
        ([finding("fail", "info"), finding("pass", "low")], 100.0),
    ],
    ids=[
        "equal-weights",
        "severity-weighted",
        "waived-counts-for",
        "error-counts-against",
        "not-applicable-left-out",
        "info-weighs-nothing",
    ],
)
def test_score_is_the_weighted_share_of_passing_and_waived_pairs(findings, expected):
    assert score(findings).value == pytest.approx(expected)


@pytest.mark.parametrize(
    "findings",
    [[], [finding("not_applicable")], [finding("fail", "info")]],
    ids=["nothing", "only-not-applicable", "only-info"],
)
def test_score_is_undefined_when_nothing_weighs_anything(findings):
    assert score(findings).value is None


def test_score_reports_how_many_points_rest_on_waivers():
    s = score([finding("waived"), finding("pass"), finding("fail"), finding("fail")])
    assert (s.value, s.waived_points) == (50.0, 25.0)


def _pair(make_run, previous_status, current_status, first_seen=NOW):
    old = make_run(6, BEFORE)
    new = make_run(7, NOW)
    for b in (old, new):
        b.rule("r1")
        b.asset("parks", "www")
    fp = None
    if previous_status is not None:
        old.finding("parks/www", "r1", previous_status, first_seen=first_seen)
    if current_status is not None:
        fp = new.finding("parks/www", "r1", current_status, first_seen=first_seen)
    return old.build(), new.build(), fp


@pytest.mark.parametrize(
    ("previous", "current", "first_seen", "expected"),
    [
        (None, "fail", NOW, Change.NEW),
        ("pass", "fail", NOW, Change.NEW),
        ("fail", "fail", EARLIER, Change.STILL_FAILING),
        ("pass", "fail", EARLIER, Change.REGRESSED),
        (None, "fail", EARLIER, Change.REGRESSED),
        ("waived", "fail", EARLIER, Change.STILL_FAILING),
        ("waived", "pass", EARLIER, Change.FIXED),
        ("error", "fail", NOW, Change.NEW),
        ("fail", "pass", EARLIER, Change.FIXED),
        ("fail", "waived", EARLIER, None),
        ("fail", "error", EARLIER, None),
        ("pass", "pass", EARLIER, None),
    ],
    ids=[
        "new-asset",
        "new-failure",
        "still-failing",
        "regressed",
        "regressed-after-absence",
        "waiver-lapsed-still-failing",
        "waived-then-passing-is-fixed",
        "new-after-error",
        "fixed",
        "waived-is-not-fixed",
        "error-is-not-fixed",
        "still-passing",
    ],
)
def test_change_status_against_the_previous_run(make_run, previous, current, first_seen, expected):
    old, new, fp = _pair(make_run, previous, current, first_seen)
    assert compare(new, old).changes.get(fp) is expected


def test_without_a_previous_run_nothing_has_a_change_status(make_run):
    _, new, _ = _pair(make_run, None, "fail")
    comparison = compare(new, None)
    assert (comparison.previous_run, dict(comparison.changes)) == (None, {})


def test_a_failure_no_longer_evaluated_is_dropped_not_fixed(make_run):
    old, new, _ = _pair(make_run, "fail", None)
    comparison = compare(new, old)
    assert [f["asset_id"] for f in comparison.dropped] == ["parks/www"]
    assert not comparison.changes


@pytest.mark.parametrize(
    "name",
    ["parks", "Parks & Rec", "../../etc/passwd", "水道局", "", "a" * 300, "<script>x</script>"],
    ids=["plain", "spaces", "traversal", "unicode", "empty", "long", "markup"],
)
def test_slug_is_a_safe_file_name(name):
    assert re.fullmatch(r"[a-z0-9-]{1,80}", slug(name))


def test_slug_keeps_names_that_fold_alike_apart():
    assert len({slug("Parks"), slug("parks"), slug("PARKS"), slug("parks!")}) == 4


def test_subset_keeps_only_the_departments_assets_and_findings(city_doc):
    water = subset(city_doc, "water")
    assert {a["department"] for a in water["assets"]} == {"water"}
    assert {f["asset_id"] for f in water["findings"]} == {"water/waterdb19c2"}
    assert water["departments"] == ["water"]
    assert water["summary"]["findings"]["fail"] == 1


def test_subset_rebuilds_waivers_without_selectors(waiver_doc):
    parks = subset(waiver_doc, "parks")
    assert {w["id"] for w in parks["waivers"]} == {"w-soon", "w-old"}
    assert all("assets" not in w for w in parks["waivers"])
    assert {w["id"]: w["matched"] for w in parks["waivers"]} == {"w-soon": 30, "w-old": 1}


def test_subset_of_an_unknown_department_is_an_error(city_doc):
    with pytest.raises(DocumentError, match="no department 'roads'"):
        subset(city_doc, "roads")


@pytest.mark.parametrize(
    "change",
    [{"schema": "other"}, {"schema_version": 2}, {"findings": None}],
    ids=["wrong-schema", "wrong-version", "missing-key"],
)
def test_index_rejects_documents_it_does_not_understand(city_doc, change):
    doc = {**city_doc, **change}
    if change == {"findings": None}:
        del doc["findings"]
    with pytest.raises(DocumentError):
        Index(doc)


def test_index_rejects_a_finding_for_an_unknown_asset(city_doc):
    city_doc["findings"][0]["asset_id"] = "parks/ghost"
    with pytest.raises(DocumentError, match="unknown asset 'parks/ghost'"):
        Index(city_doc)


def test_unassessed_lists_unreached_assets_and_collection_errors(error_doc):
    found = {u.asset["name"]: u.reasons for u in Index(error_doc).unassessed()}
    assert found["parkswww7f3a"] == ("tls: timeout: no answer in 5 s",)
    assert "not reached" in found["parksshop2b1c"][0]


def test_top_failing_rules_rank_by_weight_times_count(make_run):
    b = make_run()
    b.rule("crit", severity="critical")
    b.rule("low", severity="low")
    for i in range(5):
        b.finding(b.asset("parks", f"a{i}"), "low", "fail")
    b.finding("parks/a0", "crit", "fail")
    rows = top_failing_rules(Index(b.build()), 10)
    assert [(r.rule_id, r.failing) for r in rows] == [("crit", 1), ("low", 5)]
