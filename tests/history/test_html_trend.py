"""The trend and remediation deadlines on the HTML pages, rendered from the store, in Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from scanner.reports import render

pytestmark = pytest.mark.integration

DOTS = "[...document.querySelectorAll('svg.trend circle')].map(c => [c.dataset.run, c.textContent])"


@pytest.fixture
def report(scanned_city, tmp_path):
    scanned_city["civiscan"]("report", "2", "-o", "out", check_exit=0)
    return tmp_path / "out"


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("dept-parks.html", [["1", "run 1 (DAY): 50.0%"], ["2", "run 2 (DAY): 50.0%"]]),
        ("dept-water.html", [["1", "run 1 (DAY): 0.0%"], ["2", "run 2 (DAY): 0.0%"]]),
        ("index.html", [["1", "run 1 (DAY): 33.3%"], ["2", "run 2 (DAY): 33.3%"]]),
    ],
    ids=["parks", "water", "city"],
)
def test_each_page_draws_its_own_trend_without_csp_violations(chromium, report, page, expected):
    result = chromium.open(report / page, then=DOTS, screenshot=f"history-{page}.png")
    assert result.errors == [] and result.requests == [result.url]
    shown = [[run, re.sub(r"\(\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC\)", "(DAY)", label)] for run, label in result.extra]
    assert shown == expected


def test_a_failing_finding_shows_its_deadline(chromium, report):
    result = chromium.open(report / "dept-water.html")
    assert "failing for 0 days — due in 90 days" in result.text


def test_a_single_run_has_no_trend_yet(make_run, tmp_path):
    b = make_run()
    b.rule("tls-protocols")
    b.finding(b.asset("parks", "www"), "tls-protocols", "fail")
    paths = render(b.build(), ["html"], tmp_path, now=datetime(2026, 11, 25, tzinfo=UTC))
    page = next(p for p in paths if p.name == "dept-parks.html").read_text()
    assert "<svg class=\"trend\"" not in page and "No trend yet" in page


@pytest.mark.parametrize(
    ("sla", "text"),
    [({"high": 30}, "failing for 12 days — due in 18 days"), ({"high": 9}, "failing for 12 days — overdue by 3 days")],
    ids=["due", "overdue"],
)
def test_deadline_follows_the_given_remediation_sla(make_run, tmp_path, sla, text):
    b = make_run()
    b.rule("tls-protocols", severity="high")
    b.finding(b.asset("parks", "www"), "tls-protocols", "fail", first_seen="2026-11-13T10:00:00+00:00")
    paths = render(b.build(), ["html"], tmp_path, now=datetime(2026, 11, 25, 12, tzinfo=UTC), remediation_sla=sla)
    assert text in next(p for p in paths if p.name == "dept-parks.html").read_text()


def test_city_trend_keeps_to_runs_of_the_same_departments(scanned_city, tmp_path, chromium):
    from .conftest import PARKS_SHOP, PARKS_WWW, PLAIN, VERSIONED, WATER_DB, scan

    civiscan, policy, inventory = scanned_city["civiscan"], scanned_city["policy"], scanned_city["inventory"]
    greetings = {PARKS_WWW: PLAIN, PARKS_SHOP: VERSIONED, WATER_DB: PLAIN}
    with_water_only = scan(civiscan, policy, inventory, greetings, "--department", "water")
    last = scan(civiscan, policy, inventory, greetings)
    civiscan("report", str(last), "-o", "out", check_exit=0)
    runs = "[...document.querySelectorAll('svg.trend circle')].map(c => Number(c.dataset.run))"
    shown = {page: chromium.open(tmp_path / "out" / page, then=runs).extra for page in ("index.html", "dept-water.html", "dept-parks.html")}
    assert shown == {
        "index.html": [1, 2, last],
        "dept-water.html": [1, 2, with_water_only, last],
        "dept-parks.html": [1, 2, last],
    }
