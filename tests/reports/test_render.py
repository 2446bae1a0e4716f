"""The public entry point: formats, file names, department filter, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scanner.reports import FILE_NAMES, FORMATS, render
from scanner.reports.analysis import DocumentError

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_every_format_writes_its_file_and_the_manifest(city_doc, tmp_path):
    written = {p.name for p in render(city_doc, list(FORMATS), tmp_path, now=NOW)}
    expected = set(FILE_NAMES.values()) | {
        "index.html",
        "dept-parks.html",
        "dept-water.html",
        "manifest.json",
    }
    assert written == expected


def test_unknown_format_is_refused_before_writing(city_doc, tmp_path):
    with pytest.raises(ValueError, match="unknown report format pdf; choose from html"):
        render(city_doc, ["html", "pdf"], tmp_path / "out", now=NOW)
    assert not (tmp_path / "out").exists()


def test_no_format_is_refused(city_doc, tmp_path):
    with pytest.raises(ValueError, match="none given"):
        render(city_doc, [], tmp_path, now=NOW)


def test_unknown_department_is_refused(city_doc, tmp_path):
    with pytest.raises(DocumentError, match="no department 'roads'"):
        render(city_doc, ["html"], tmp_path, department="roads", now=NOW)


def test_a_department_render_restricts_every_format(city_doc, tmp_path):
    render(city_doc, list(FORMATS), tmp_path, department="water", now=NOW)
    for name in (
        "run.json",
        "junit.xml",
        "run.sarif",
        "findings.csv",
        "summary.md",
        "dept-water.html",
    ):
        text = (tmp_path / name).read_text()
        assert "parkswww7f3a" not in text and "parksshop2b1c" not in text, name


def test_rendering_is_deterministic(city_doc, tmp_path):
    first = {
        p.name: p.read_bytes() for p in render(city_doc, list(FORMATS), tmp_path / "a", now=NOW)
    }
    second = {
        p.name: p.read_bytes() for p in render(city_doc, list(FORMATS), tmp_path / "b", now=NOW)
    }
    assert first == second


def test_previous_run_must_be_a_run_document(city_doc, tmp_path):
    with pytest.raises(DocumentError, match="expected schema"):
        render(city_doc, ["html"], tmp_path, previous={"schema": "nope"}, now=NOW)


def test_a_slim_previous_run_renders_exactly_as_the_whole_document(changed_runs, tmp_path):
    from scanner.reports.analysis import previous_document

    before, after = changed_runs
    slim = previous_document(
        before["run"], ((a["id"], a["department"]) for a in before["assets"]), iter(before["findings"])
    )
    formats = ["html", "json", "junit", "sarif", "csv", "markdown"]
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    whole = render(after, formats, tmp_path / "whole", previous=before, now=now)
    light = render(after, formats, tmp_path / "slim", previous=slim, now=now)
    assert [p.name for p in whole] == [p.name for p in light]
    for a, b in zip(whole, light, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
