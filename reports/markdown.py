"""A short Markdown summary for CI job pages (e.g. $GITHUB_STEP_SUMMARY).

Job-summary renderers accept HTML and fetch images, so every string from the
document is escaped for Markdown: every punctuation character that could start
markup, an HTML tag, an entity, a link, an image (a tracking pixel), a table
cell or an autolink is backslash-escaped (CommonMark escapes any ASCII
punctuation), so the text shows as written (``profile's``, not an HTML entity)
and a target cannot add anything but text to the summary.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from scanner.models import Status
from scanner.rundoc import RunStatus
from scanner.timeutil import readable_time

from .analysis import (
    Change,
    Comparison,
    Index,
    format_delta,
    format_score,
    top_failing_rules,
)
from .frameworks import Framework, FrameworkView, Tallies, view

TOP = 10
# Emphasis, code, links and images, tables, strikethrough, raw HTML and entities,
# math, headings, and the ``://``, ``@`` and ``www.`` that GFM autolinks start from.
_MD_SPECIAL = re.compile(r"[\\`*_{}\[\]()<>#!|~&$@]|(?<=[wW]{3})\.|:(?=//)")


def md(value: Any, limit: int = 200) -> str:
    """*value* as inert inline Markdown text on one line, shown exactly as written."""
    text = " ".join(str("" if value is None else value).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def render(
    index: Index,
    previous: Index | None,
    comparison: Comparison,
    frameworks: Sequence[Framework] = (),
    counts: Tallies | None = None,
) -> str:
    run = index.run
    overall = index.overall()
    policies = ", ".join(
        f"{md(p.get('id'))} v{md(p.get('version'))}" for p in run.get("policies") or []
    )
    lines = [
        f"## civiscan run {md(run.get('id'))}: {format_score(overall.value)} compliant",
        "",
        f"Status **{md(run.get('status'))}**, started {md(readable_time(run.get('started')))}, "
        + f"policies {policies or 'none'}.",
        "",
    ]
    if run.get("status") != RunStatus.COMPLETE:
        lines += [
            f"> **Incomplete run ({md(run.get('status'))})**: some assets were not assessed.",
            "",
        ]
    if comparison.previous_run is not None and previous is not None:
        tally = comparison.tally(f["fingerprint"] for f in index.doc["findings"])
        lines += [
            f"Since run {md(comparison.previous_run)}: "
            f"{format_delta(overall.value, previous.overall().value)}; "
            + ", ".join(f"{tally.get(c, 0)} {c.label}" for c in Change)
            + ".",
            "",
        ]
    lines += [
        "| Department | Score | Failing | Not assessed | Waived | Passing | N/A |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in index.departments:
        s = index.score(name)
        lines.append(
            f"| {md(name)} | {format_score(s.value)} | "
            + " | ".join(
                str(s.count(st))
                for st in (
                    Status.FAIL,
                    Status.ERROR,
                    Status.WAIVED,
                    Status.PASS,
                    Status.NOT_APPLICABLE,
                )
            )
            + " |"
        )
    lines.append(
        f"| **All** | **{format_score(overall.value)}** | "
        + " | ".join(
            f"**{overall.count(st)}**"
            for st in (Status.FAIL, Status.ERROR, Status.WAIVED, Status.PASS, Status.NOT_APPLICABLE)
        )
        + " |"
    )
    top = top_failing_rules(index, TOP)
    if top:
        lines += [
            "",
            "### Top failing rules",
            "",
            "| Rule | Severity | Failing assets |",
            "|---|---|---:|",
        ]
        for row in top:
            lines.append(
                f"| {md(row.rule_id, 80)}: {md(row.title)} | {row.severity} | {row.failing} |"
            )
    for fw in frameworks:
        lines += _framework(view(fw, index.rules, (counts or Tallies()).of(None)))
    unassessed = index.unassessed()
    if unassessed:
        noun = "asset" if len(unassessed) == 1 else "assets"
        lines += [
            "",
            f"**{len(unassessed)} {noun} could not be fully assessed**; see the HTML report.",
        ]
    return "\n".join(lines) + "\n"


def _framework(fv: FrameworkView) -> list[str]:
    """A framework's controls, city-wide: failing and not assessed ones, then a count of the rest."""
    fw = fv.framework
    tally = fv.tally()
    lines = [
        "",
        f"### {md(fw.title)} (version {md(fw.version)})",
        "",
        f"{tally.get('failing', 0)} controls failing, {tally.get('not assessed', 0)} not assessed, "
        f"{tally.get('passing', 0)} passing, {tally.get('not evaluated', 0)} not evaluated.",
    ]
    attention = [row for row in fv.controls if row.status in ("failing", "not assessed")]
    if attention:
        lines += ["", "| Control | Status | Failing | Passing | Rules |", "|---|---|---:|---:|---|"]
        for row in attention[:TOP * 3]:
            c = row.counts
            rules = ", ".join(md(r.rule_id, 80) for r in row.rules if r.counts.get("fail"))
            lines.append(
                f"| {md(row.control.id, 40)} {md(row.control.title, 120)} | {row.status} | "
                f"{c.get('fail', 0)} | {c.get('pass', 0)} | {rules} |"
            )
        if len(attention) > TOP * 3:
            lines.append(f"\n{len(attention) - TOP * 3} more; see the HTML report.")
    return lines
