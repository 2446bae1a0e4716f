"""The fast paths write exactly what the library functions they replace would write.

CSV rows are joined by hand (:func:`scanner.reports.tabular.field`) and page
budgets count escaped bytes without escaping (``html._escaped``): each is
checked against ``csv.writer`` and ``markupsafe.escape`` on arbitrary text,
and the whole CSV report against one written by ``csv.writer`` from the same rows.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from scanner.reports import render
from scanner.reports import html as html_report
from scanner.reports.tabular import row

# Text rich in what CSV and HTML treat specially, and anything else.
SPECIAL = st.sampled_from([",", '"', "\r", "\n", "\r\n", "'", "&", "<", ">", " ", "\t", "\x00", "=", "é", "東", "🔒"])
TEXT = st.lists(st.one_of(SPECIAL, st.text(max_size=4)), max_size=8).map("".join)


def _csv_writer_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


@settings(max_examples=400)
@given(st.lists(TEXT, max_size=6))
def test_a_row_is_what_csv_writer_writes(cells):
    assert row(cells) == _csv_writer_line(cells)


@settings(max_examples=400)
@given(TEXT.filter(lambda t: not any("\ud800" <= c <= "\udfff" for c in t)))
def test_escaped_size_is_the_size_of_the_escaped_text(text):
    assert html_report._escaped(text) == len(str(escape(text)).encode())


def test_the_csv_report_parses_back_into_the_cells_csv_writer_would_have_written(
    hostile_doc, tmp_path
):
    render(hostile_doc, ["csv"], tmp_path, now=datetime(2026, 11, 25, 12, tzinfo=UTC))
    text = (tmp_path / "findings.csv").read_bytes().decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == len(hostile_doc["findings"]) + 1
    assert "".join(_csv_writer_line(r) for r in rows) == text
