"""Text as people read it: dates, a policy's remediation Markdown, the Markdown summary."""

from __future__ import annotations

import datetime as dt
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from scanner.reports import render
from scanner.reports.html import markdown_html
from scanner.timeutil import readable_time

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("2026-12-01T22:40:12.123456+00:00", "1 Dec 2026, 22:40 UTC"),
        ("2026-12-02T00:40:00+02:00", "1 Dec 2026, 22:40 UTC"),
        ("2026-12-01T22:40:00", "1 Dec 2026, 22:40 UTC"),
        ("2026-12-01", "1 Dec 2026"),
        (dt.date(2027, 1, 9), "9 Jan 2027"),
        (datetime(2027, 1, 9, 7, 5, tzinfo=UTC), "9 Jan 2027, 07:05 UTC"),
        ("not a time", "not a time"),
        (None, ""),
        ("", ""),
    ],
    ids=["utc-micro", "offset", "naive", "date", "date-object", "datetime", "text", "none", "empty"],
)
def test_times_read_as_day_month_year_and_utc_clock(value, shown):
    assert readable_time(value) == shown


def test_pages_show_readable_times_and_no_iso_stamps(city_doc, tmp_path: Path):
    for path in render(city_doc, ["html", "markdown"], tmp_path, now=NOW):
        if path.suffix not in (".html", ".md"):
            continue
        text = path.read_text()
        assert "25 Nov 2026, 10:00 UTC" in text, path.name
        assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text), path.name


HOSTILE_REMEDIATION = (
    "Run `nginx -s reload` after editing:\n\n"
    "- set **ssl_protocols** to `TLSv1.2 TLSv1.3`\n"
    "- read [the guide](https://ssl-config.mozilla.org/) or [this](javascript:alert(1))\n\n"
    "<script>window.__pwned=1</script> <img src=x onerror=alert(1)> "
    "![pixel](http://127.0.0.9/p.png) <a href=\"http://127.0.0.9/\">x</a>\n"
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def test_remediation_markdown_renders_code_lists_and_emphasis():
    html = str(markdown_html(HOSTILE_REMEDIATION))
    assert "<code>nginx -s reload</code>" in html
    assert "<li>set <strong>ssl_protocols</strong> to <code>TLSv1.2 TLSv1.3</code></li>" in html
    assert "the guide (<span class=\"url\">https://ssl-config.mozilla.org/</span>)" in html


def test_remediation_keeps_its_line_breaks():
    html = str(markdown_html("nginx: ssl_protocols TLSv1.2;\nApache: SSLProtocol -all +TLSv1.2"))
    assert html == "<p>nginx: ssl_protocols TLSv1.2;<br />\nApache: SSLProtocol -all +TLSv1.2</p>\n"


def test_remediation_never_passes_html_links_or_images_through():
    html = str(markdown_html(HOSTILE_REMEDIATION))
    parser = _Tags()
    parser.feed(html)
    assert {t for t, _ in parser.tags} <= {"p", "ul", "li", "code", "strong", "span", "br"}
    assert all(name == "class" for _, attrs in parser.tags for name, _ in attrs)
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html


def test_the_department_page_renders_the_remediation(make_run, tmp_path: Path):
    b = make_run()
    b.rule("r1", remediation=HOSTILE_REMEDIATION)
    b.finding(b.asset("parks", "www"), "r1", "fail")
    page = next(p for p in render(b.build(), ["html"], tmp_path, now=NOW) if p.name.startswith("dept-"))
    text = page.read_text()
    assert '<dd class="md"><p>Run <code>nginx -s reload</code>' in text
    assert "<script>window.__pwned" not in text


def test_the_department_page_renders_the_rationale_as_markdown_too(make_run, tmp_path: Path):
    b = make_run()
    b.rule("r1", rationale="Old **protocols** let an `attacker` read <script>window.__pwned=1</script>")
    b.finding(b.asset("parks", "www"), "r1", "fail")
    page = next(p for p in render(b.build(), ["html"], tmp_path, now=NOW) if p.name.startswith("dept-"))
    text = page.read_text()
    shown = text[text.index("<dt>Why it matters</dt>") : text.index("<dt>How to fix</dt>")]
    assert "<strong>protocols</strong>" in shown and "<code>attacker</code>" in shown
    assert "**" not in shown and "`" not in shown
    assert "&lt;script&gt;" in shown and "<script>" not in shown


# --- the Markdown summary --------------------------------------------------------------

PAYLOAD = (
    "profile's ![pixel](http://127.0.0.9/p.png) [click](javascript:alert(1)) <img src=x> "
    "&amp; `code` | cell *em* _u_ ~~s~~ $x$ www.evil.example https://evil.example me@evil.example"
)


def _summary(make_run, tmp_path: Path) -> str:
    b = make_run()
    b.rule("r1", title=PAYLOAD)
    b.finding(b.asset(PAYLOAD, "www"), "r1", "fail")
    render(b.build(), ["markdown"], tmp_path, now=NOW)
    return (tmp_path / "summary.md").read_text()


def _rendered(text: str) -> str:
    """The summary as a job page shows it: CommonMark, raw HTML on, GFM tables,
    strikethrough and autolinks (as GitHub's job summaries)."""
    parser = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable(
        ["table", "strikethrough", "linkify"]
    )
    return parser.render(text)


def test_markdown_escapes_for_markdown_not_html(make_run, tmp_path: Path):
    text = _summary(make_run, tmp_path)
    assert "&#x27;" not in text and "&amp;amp;" not in text and "&lt;" not in text
    assert "profile's" in text


def test_markdown_shows_hostile_text_as_written_and_nothing_else(make_run, tmp_path: Path):
    html = _rendered(_summary(make_run, tmp_path))
    parser = _Tags()
    parser.feed(html)
    assert {t for t, _ in parser.tags} <= {
        "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "strong", "blockquote"
    }
    assert not any(attrs and any(n != "style" for n, _ in attrs) for _, attrs in parser.tags)
    shown = re.sub(r"<[^>]+>", "", html).replace("&amp;", "&").replace("&lt;", "<").replace(
        "&gt;", ">").replace("&quot;", '"')
    assert PAYLOAD[:200] in shown


def test_markdown_table_rows_keep_their_columns(make_run, tmp_path: Path):
    html = _rendered(_summary(make_run, tmp_path))
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    assert rows and all(len(re.findall(r"<t[hd][ >]", row)) in (3, 7) for row in rows)
