"""The fast paths write exactly what the library functions they replace would write.

CSV rows are joined by hand (:func:`scanner.reports.tabular.field`) and page
budgets count escaped bytes without escaping (``html._escaped``): each is
checked against ``csv.writer`` and ``markupsafe.escape`` on arbitrary text,
and the whole CSV report against one written by ``csv.writer`` from the same rows.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from scanner import reports
from scanner.reports import evidence, render
from scanner.reports.evidence import SEPARATOR as _SEPARATOR
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


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), TEXT, st.just(_SEPARATOR)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=300)
@given(st.lists(JSON_VALUES, min_size=1, max_size=7), st.integers(1, 3))
def test_items_encoded_in_one_pass_are_the_items_encoded_one_by_one(items, per_pass):
    out = io.StringIO()
    with patch.object(reports, "ITEMS_PER_PASS", per_pass):
        reports.write_document({"items": items}, out)
    one_by_one = ",\n".join("    " + json.dumps(i, ensure_ascii=False, sort_keys=True) for i in items)
    assert out.getvalue() == '{\n  "items": [\n' + one_by_one + "\n  ]\n}\n"


@settings(max_examples=400)
@given(TEXT)
def test_html_text_is_what_markupsafe_escape_writes(text):
    assert html_report.text(text) == str(escape(text))


@settings(max_examples=300)
@given(st.lists(st.one_of(JSON_VALUES, st.just({"ca_file": "/etc/ca.pem"})), max_size=6))
def test_evidence_encoded_in_one_pass_is_each_evidence_redacted_and_encoded(items):
    encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
    assert evidence.redacted_json_each(items, encode) == [evidence.redacted_json(i, encode) for i in items]
