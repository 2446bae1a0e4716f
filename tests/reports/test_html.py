"""HTML pages as text: escaping, isolation, self-containment, size bounds."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scanner.reports import html as html_report
from scanner.reports import render
from scanner.reports.analysis import slug

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def pages(doc, tmp_path: Path, **kwargs) -> dict[str, str]:
    paths = render(doc, ["html"], tmp_path, now=NOW, **kwargs)
    return {p.name: p.read_text() for p in paths if p.suffix == ".html"}


def test_writes_a_summary_and_one_file_per_department(city_doc, tmp_path):
    assert set(pages(city_doc, tmp_path)) == {"index.html", "dept-parks.html", "dept-water.html"}


@pytest.mark.parametrize(
    "payload", ["<script>", "<img src=x", "<svg onload", "</style><script>", "</title><script>"]
)
def test_no_payload_appears_unescaped(hostile_doc, tmp_path, payload):
    for name, text in pages(hostile_doc, tmp_path).items():
        body = text.split("<body>", 1)[1].rsplit("<script>", 1)[0]  # our own script is last
        assert payload not in body, name


def test_every_untrusted_string_is_shown_escaped(hostile_doc, tmp_path):
    parks = pages(hostile_doc, tmp_path)["dept-parks.html"]
    assert "&lt;script&gt;window.__pwned=&#39;script&#39;&lt;/script&gt;" in parks
    assert "{{ 7*7 }}" in parks  # data is never evaluated as a template


def test_control_and_bidi_characters_are_neutralised(hostile_doc, tmp_path):
    for text in pages(hostile_doc, tmp_path).values():
        assert not re.search("[\x00\x07\x1b\u202e]", text)


def test_local_paths_of_the_scanning_machine_are_omitted(hostile_doc, tmp_path):
    for text in pages(hostile_doc, tmp_path).values():
        assert "/home/scanner/secret" not in text


class Tags(HTMLParser):
    """Every element and attribute of a page, as the browser's tokenizer sees them."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def test_pages_load_nothing_and_carry_no_handlers(hostile_doc, tmp_path):
    for name, text in pages(hostile_doc, tmp_path).items():
        tags = Tags(text).found
        assert not {t for t, _ in tags} & {
            "link",
            "img",
            "iframe",
            "object",
            "embed",
            "base",
            "form",
        }, name
        attributes = [(a, v) for _, attrs in tags for a, v in attrs]
        assert not [
            a for a, _ in attributes if a.startswith("on") or a in ("src", "srcset", "action")
        ], name
        hrefs = [v for a, v in attributes if a == "href"]
        assert all(re.fullmatch(r"#[a-z0-9-]+|dept-[a-z0-9-]+\.html", v or "") for v in hrefs), name
        assert len([t for t, _ in tags if t == "script"]) == 1, name


def test_content_security_policy_pins_the_inline_style_and_script(city_doc, tmp_path):
    text = pages(city_doc, tmp_path)["index.html"]
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    assert "'unsafe-inline'" not in csp
    assert text.index("Content-Security-Policy") < text.index("<style>")


def test_pages_declare_language_and_table_headers(city_doc, tmp_path):
    for text in pages(city_doc, tmp_path).values():
        assert '<html lang="en">' in text
        assert '<th scope="col">' in text
        assert "<h1>" in text


@pytest.mark.parametrize("department", ["parks", "water"])
def test_a_department_file_names_no_other_departments_asset(city_doc, tmp_path, department):
    text = pages(city_doc, tmp_path)[f"dept-{slug(department)}.html"]
    others = [a for a in city_doc["assets"] if a["department"] != department]
    mine = [a for a in city_doc["assets"] if a["department"] == department]
    for asset in others:
        for value in (asset["name"], asset["id"], asset["url"], asset["address"]):
            if value:
                assert value not in text and html.escape(value) not in text
    assert all(html.escape(a["name"]) in text for a in mine)


def test_department_option_renders_only_that_department(city_doc, tmp_path):
    assert set(pages(city_doc, tmp_path, department="water")) == {"dept-water.html"}


def test_summary_lists_expiring_expired_and_stale_waivers(waiver_doc, tmp_path):
    text = pages(waiver_doc, tmp_path)["index.html"]
    expiring = text.split("Expiring within 30 days", 1)[1].split("<h3>Expired", 1)[0]
    assert "w-soon" in expiring and "w-later" not in expiring
    assert "w-old" in text.split("<h3>Expired", 1)[1].split("<h3>Stale", 1)[0]
    assert "w-stale" in text.split("<h3>Stale", 1)[1]


def test_waived_findings_show_until_when(waiver_doc, tmp_path):
    text = pages(waiver_doc, tmp_path)["dept-parks.html"]
    assert "waived until 10 Dec 2026 (w-soon)" in text
    assert "waiver w-old expired on 1 Nov 2026" in text


def test_an_empty_run_renders(empty_doc, tmp_path):
    result = pages(empty_doc, tmp_path)
    assert "n/a" in result["index.html"]
    assert "No rule fails on this department" in result["dept-parks.html"]


def test_an_error_only_run_is_marked_incomplete_and_not_assessed(error_doc, tmp_path):
    result = pages(error_doc, tmp_path)
    assert "This run is interrupted" in result["index.html"]
    assert "no answer in 5 s" in result["index.html"]
    assert ">0.0%<" in result["dept-parks.html"]


def test_change_status_is_shown_per_finding(changed_runs, tmp_path):
    previous, current = changed_runs
    text = pages(current, tmp_path, previous=previous)["dept-parks.html"]
    for label in ("still failing", "regressed"):
        assert f'<span class="chg chg-{label.replace(" ", "-")}">{label}</span>' in text
    assert "Fixed since the previous run (1)" in text


def test_summary_counts_what_changed(changed_runs, tmp_path):
    previous, current = changed_runs
    text = pages(current, tmp_path, previous=previous)["index.html"]
    assert "1 new, 1 regressed, 1 still failing, 1 fixed" in text


def test_large_departments_fall_back_to_compact_rows_and_counts(make_run, tmp_path, monkeypatch):
    monkeypatch.setattr(html_report, "DETAIL_BUDGET", 5_000)
    monkeypatch.setattr(html_report, "COMPACT_BUDGET", 2_000)
    monkeypatch.setattr(html_report, "ROW_LIMIT", 10)
    b = make_run()
    b.rule("r1")
    for i in range(40):
        asset = b.asset("parks", f"host{i:02d}")
        b.finding(asset, "r1", "fail")
    for i in range(40):
        b.finding(b.asset("parks", f"ok{i:02d}"), "r1", "pass")
    text = pages(b.build(), tmp_path)["dept-parks.html"]
    assert "further failing findings, shown briefly" in text
    assert "more failing findings are not listed here" in text
    assert "Passing: 40 findings, counted per rule" in text


def test_a_hostile_department_page_stays_under_five_megabytes(make_run, tmp_path):
    nasty = "<\"&'>" * 800  # grows fivefold when escaped
    b = make_run()
    b.rule("r1")
    waiver = b.waiver("w-1", "r1")
    for i in range(1500):
        asset = b.asset(
            "parks", f"{nasty[:200]}{i}", errors={"tls": {"reason": "timeout", "message": nasty}}
        )
        b.finding(asset, "r1", "fail", message=nasty, evidence={"banner": nasty, "subject": nasty})
        b.finding(
            asset,
            "r1",
            ("waived", "error", "pass", "not_applicable")[i % 4],
            message=nasty,
            waiver=waiver,
        )
    page = pages(b.build(), tmp_path)["dept-parks.html"]
    size = len(page.encode())
    assert size < 5_000_000
