"""Diff of two run documents: every category, by fingerprint, and its text forms."""

from __future__ import annotations

import pytest

from scanner.history import diff, diff_lines, diff_markdown, markdown_text
from scanner.output import inert_lines

BEFORE = "2026-11-18T10:00:00+00:00"
AFTER = "2026-11-25T10:00:00+00:00"
EARLIER = "2026-10-01T10:00:00+00:00"
W1 = {"id": "w-1", "expires": "2026-12-31", "state": "active"}
W1_LATER = {"id": "w-1", "expires": "2027-06-30", "state": "active"}
W2 = {"id": "w-2", "expires": "2026-12-31", "state": "active"}


def pair(make_run, before: tuple | None, after: tuple | None, first_seen: str = AFTER):
    """Runs 6 and 7 with one finding each: (status, waiver) or None (not evaluated)."""
    docs = []
    for run_id, started, state in ((6, BEFORE, before), (7, AFTER, after)):
        b = make_run(run_id, started)
        b.rule("tls-protocols")
        asset = b.asset("parks", "www")
        if state is not None:
            status, waiver = state
            b.finding(asset, "tls-protocols", status, waiver=waiver, first_seen=first_seen)
        docs.append(b.build())
    return docs


@pytest.mark.parametrize(
    ("before", "after", "first_seen", "category", "change", "waiver_change"),
    [
        (("pass", None), ("fail", None), AFTER, "new", "new", None),
        (None, ("fail", None), AFTER, "new", "new", None),
        (("fail", None), ("fail", None), EARLIER, "still_failing", "still_failing", None),
        (("fail", None), ("pass", None), EARLIER, "fixed", "fixed", None),
        (("pass", None), ("fail", None), EARLIER, "regressed", "regressed", None),
        (("fail", None), ("waived", W1), EARLIER, "waived_changed", None, "added"),
        (("waived", W1), ("waived", W2), EARLIER, "waived_changed", None, "changed"),
        (("waived", W1), ("waived", W1_LATER), EARLIER, "waived_changed", None, "changed"),
        (("waived", W1), ("fail", None), EARLIER, "waived_changed", "still_failing", "removed"),
        (("waived", W1), ("pass", None), EARLIER, "fixed", "fixed", "removed"),
        (("fail", None), None, EARLIER, "not_evaluated", None, None),
    ],
    ids=[
        "new", "new-asset", "still-failing", "fixed", "regressed", "waiver-added",
        "other-waiver", "waiver-extended", "waiver-lapsed", "fixed-while-waived", "not-evaluated",
    ],
)
def test_each_finding_lands_in_one_category(make_run, before, after, first_seen, category, change, waiver_change):
    (entry,) = diff(*pair(make_run, before, after, first_seen)).entries
    assert (entry.category, entry.change, entry.waiver_change) == (category, change, waiver_change)


@pytest.mark.parametrize(
    ("before", "after"),
    [(("pass", None), ("pass", None)), (("waived", W1), ("waived", W1)), (("fail", None), ("error", None))],
    ids=["still-passing", "same-waiver", "now-unknown"],
)
def test_unchanged_or_unknown_findings_are_left_out(make_run, before, after):
    assert diff(*pair(make_run, before, after, EARLIER)).entries == ()


def test_department_limits_both_runs(make_run):
    docs = []
    for run_id, started, status in ((6, BEFORE, "pass"), (7, AFTER, "fail")):
        b = make_run(run_id, started)
        b.rule("tls-protocols")
        for department in ("parks", "water"):
            b.finding(b.asset(department, "www"), "tls-protocols", status, first_seen=AFTER)
        docs.append(b.build())
    result = diff(*docs, department="water")
    assert [(e.department, e.category) for e in result.entries] == [("water", "new")]
    assert result.to_json()["counts"]["new"] == 1


def test_json_names_both_runs_and_each_side(make_run):
    out = diff(*pair(make_run, ("waived", W1), ("fail", None), EARLIER)).to_json()
    assert (out["schema"], out["schema_version"], out["before"]["id"], out["after"]["id"]) == ("civiscan/diff", 1, 6, 7)
    (finding,) = out["findings"]
    assert (finding["before"], finding["after"]) == ({"status": "waived", "waiver": "w-1"}, {"status": "fail", "waiver": None})


def test_markdown_escapes_markdown_not_html():
    text = markdown_text("![pixel](http://127.0.0.9/p.png) <b>&amp; | *x*\nnext")
    assert text == r"\!\[pixel\]\(http\:\/\/127\.0\.0\.9\/p\.png\) \<b\>\&amp\; \| \*x\* next"


def test_markdown_table_rows_carry_names_inert(make_run):
    docs = []
    for run_id, started, status in ((6, BEFORE, "pass"), (7, AFTER, "fail")):
        b = make_run(run_id, started)
        b.rule("tls-protocols")
        b.finding(b.asset("parks", "a|b[x](y)"), "tls-protocols", status, first_seen=AFTER, message="m")
        docs.append(b.build())
    page = diff_markdown(diff(*docs))
    assert r"parks\/a\|b\[x\]\(y\)" in page and "[x](y)" not in page
    assert "&lt;" not in page and "&amp;" not in page


def test_table_rows_are_inert_on_a_terminal(make_run):
    docs = []
    for run_id, started, status in ((6, BEFORE, "pass"), (7, AFTER, "fail")):
        b = make_run(run_id, started)
        b.rule("tls-protocols")
        b.finding(b.asset("parks", "shop\u202e[pay]\x1b]0;x\x07"), "tls-protocols", status, first_seen=AFTER)
        docs.append(b.build())
    out = inert_lines(diff_lines(diff(*docs)))
    assert "\u202e" not in out and "\x1b" not in out and "shop\\u202e[pay]\\x1b]0;x\\x07" in out


def test_table_lists_sections_with_counts(make_run):
    lines = diff_lines(diff(*pair(make_run, ("pass", None), ("fail", None))))
    assert lines[1].startswith("1 new, 0 regressed, 0 still failing, 0 fixed, 0 waived changed")
    assert "NEW (1)" in lines
