"""The HTML reports in a real headless Chromium: nothing runs, nothing loads, numbers show."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner.reports import render

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def html_files(doc, outdir: Path, **kwargs) -> dict[str, Path]:
    return {
        p.name: p for p in render(doc, ["html"], outdir, now=NOW, **kwargs) if p.suffix == ".html"
    }


def test_the_harness_notices_a_payload_that_runs(chromium, tmp_path):
    # Without this, "nothing ran" could mean the probe cannot see anything.
    page = tmp_path / "unsafe.html"
    page.write_text(
        '<html><body><script>window.__pwned = "yes"</script><img src="missing.png"></body></html>'
    )
    result = chromium.open(page)
    assert result.pwned == "yes"
    assert any(url.endswith("/missing.png") for url in result.requests)


def test_hostile_strings_never_execute_or_fetch(chromium, hostile_doc, tmp_path):
    for name, path in html_files(hostile_doc, tmp_path).items():
        result = chromium.open(path, screenshot=f"hostile-{name}.png")
        assert result.pwned is None, name
        assert result.requests == [result.url], name
        assert result.errors == [], name


def test_hostile_strings_show_as_text(chromium, hostile_doc, tmp_path):
    result = chromium.open(html_files(hostile_doc, tmp_path)["dept-parks.html"])
    assert "<script>window.__pwned='script'</script>" in result.text
    assert 'CN="><img src=x onerror="window.__pwned=\'img\'">' in result.text
    assert "Zürich 東京" in result.text


def test_summary_shows_scores_and_counts(chromium, city_doc, tmp_path):
    result = chromium.open(
        html_files(city_doc, tmp_path)["index.html"], screenshot="city-index.png"
    )
    assert result.errors == []
    assert result.requests == [result.url]
    assert result.title == "Compliance summary, run 7"
    for expected in (
        "50.0%",
        "61.5%",
        "0.0%",
        "Only modern TLS",
        "Top failing rules across the city",
    ):
        assert expected in result.text


def test_department_page_reads_with_scripts_disabled(chromium, changed_runs, tmp_path):
    previous, current = changed_runs
    path = html_files(current, tmp_path, previous=previous)["dept-parks.html"]
    result = chromium.open(path, scripts=False, screenshot="parks-no-js.png")
    assert result.errors == []
    for expected in (
        "Failing (3)",
        "still failing",
        "regressed",
        "Fixed since the previous run (1)",
    ):
        assert expected in result.text
    assert "Show only findings containing" not in result.text  # the filter needs the script


FILTER_FOR_DB = """(() => {
  const box = document.getElementById("filter-input");
  box.value = "db";
  box.dispatchEvent(new Event("input"));
  const items = [...document.querySelectorAll("[data-filter-item]")];
  return [items.filter(e => !e.hidden).length, items.length];
})()"""


def test_department_page_filter_runs_under_the_policy(chromium, changed_runs, tmp_path):
    previous, current = changed_runs
    path = html_files(current, tmp_path, previous=previous)["dept-parks.html"]
    result = chromium.open(path, then=FILTER_FOR_DB, screenshot="parks-filtered.png")
    assert result.errors == []  # a CSP violation would be logged as an error
    assert "Show only findings containing" in result.text  # our script unhid the filter
    visible, total = result.extra
    assert (visible, total > visible) == (1, True)  # only the failure on "db" is left


@pytest.mark.parametrize("fixture", ["empty_doc", "error_doc", "waiver_doc"])
def test_edge_runs_render_cleanly(chromium, request, tmp_path, fixture):
    doc = request.getfixturevalue(fixture)
    for name, path in html_files(doc, tmp_path).items():
        result = chromium.open(path, screenshot=f"{fixture}-{name}.png")
        assert result.errors == [], name
        assert result.requests == [result.url], name


def test_department_page_prints_to_pdf(chromium, changed_runs, tmp_path):
    previous, current = changed_runs
    path = html_files(current, tmp_path, previous=previous)["dept-parks.html"]
    result = chromium.open(path, pdf="parks.pdf")
    assert result.pdf.startswith(b"%PDF-")
    assert result.errors == []
