"""Self-contained HTML: an organisation summary and one file per department.

Each page carries its own CSS and a few lines of optional script, both pinned
by hash in a Content-Security-Policy that forbids loading anything else, so a
report opened from a mail attachment or a file share fetches nothing and an
injected string could not run even if escaping ever failed. Pages read fully
with scripts off; the script only adds a filter box. On paper, folded sections
stay folded and the raw evidence JSON is never printed (print CSS).

Department files stay bounded: failing findings are shown in full until a
byte budget is spent, then as compact rows, then counted; long passing and
not-applicable lists become per-rule counts (see docs/reports.md).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from scanner.history import Point, Trends, deadline, trend
from scanner.rundoc import RunStatus
from scanner.timeutil import readable_time

from . import evidence
from .analysis import (
    ERROR,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    WAIVED,
    Change,
    Comparison,
    Index,
    Score,
    format_delta,
    format_score,
    parse_day,
    severity_of,
    slug,
    top_failing_rules,
)
from .frameworks import Framework, FrameworkView, Tallies, view

SCRIPT = """(function () {
  var box = document.getElementById("filter");
  if (box) {
    var items = document.querySelectorAll("[data-filter-item]");
    box.hidden = false;
    document.getElementById("filter-input").addEventListener("input", function (e) {
      var q = e.target.value.toLowerCase();
      items.forEach(function (el) {
        el.hidden = q !== "" && el.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  }
})();"""

# Page budgets, in bytes of escaped text: together they keep a department page
# under 5 MB however many findings it has and whatever the strings contain.
DETAIL_BUDGET = 1_800_000
"""Failing findings shown in full (evidence, raw JSON)."""
COMPACT_BUDGET = 600_000
"""Further failing findings shown as one table row each."""
ROW_LIMIT = 2_000
TABLE_BUDGET = 300_000
"""A waived / not-assessed / fixed / passing / not-applicable table longer than
ROW_LIMIT rows or larger than this becomes counts per rule."""
UNASSESSED_LIMIT = 300
"""Assets listed as not assessed, on the summary and on a department page."""
TOP_RULES = 10
EXPIRY_WINDOW_DAYS = 30


# C0 controls (except tab and line breaks) and bidirectional overrides from a target
# would corrupt the page or make text read differently from what it says.
_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _clean(page: str) -> str:
    """The page with unsafe characters replaced. The templates hold none, so any
    found came from the document; one pass over the page is cheaper than a
    filter on each of the hundreds of thousands of values."""
    return _UNSAFE_CHARS.sub("\ufffd", page)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("scanner.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["score"] = format_score
    env.filters["clip"] = lambda text: evidence.clip(str(text or ""), 300)
    env.filters["when"] = readable_time
    env.filters["markdown"] = markdown_html
    env.filters["severity_badge"] = severity_badge
    env.filters["change_badge"] = change_badge
    env.filters["finding_article"] = finding_article
    env.filters["table_row"] = table_row
    env.filters["compact_row"] = compact_row
    env.filters["waived_row"] = waived_row
    return env


# Badges are filters, not macros: a page shows thousands, of a handful of values,
# and a macro call costs more than the markup it makes.
@lru_cache(maxsize=64)
def severity_badge(value: str) -> Markup:
    """A severity as its coloured badge."""
    text = escape(value)
    return Markup(f'<span class="sev sev-{text}">{text}</span>')


@lru_cache(maxsize=64)
def change_badge(value: str) -> Markup:
    """A change status (``still failing``) as its badge; nothing when there is none."""
    if not value:
        return Markup("")
    text = escape(value)
    return Markup(f'<span class="chg chg-{text.replace(" ", "-")}">{text}</span>')


def _link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    return '<span class="link">'


def _link_close(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """Close a link as its text followed by the address as text: pages never link out."""
    level = tokens[idx].level
    opening = next(t for t in reversed(tokens[:idx]) if t.type == "link_open" and t.level == level)
    return f' (<span class="url">{escape(opening.attrGet("href") or "")}</span>)</span>'


def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML off (it shows as text), no images (they would
    fetch) and links shown as text with their address (nothing leaves the page).
    A line break stays a line break (``breaks``): remediation text is written
    line by line (``nginx: ...`` then ``Apache: ...``)."""
    parser = MarkdownIt(
        "commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True}
    )
    parser.disable("image")
    parser.add_render_rule("link_open", _link_open)
    parser.add_render_rule("link_close", _link_close)
    return parser


_MARKDOWN = _markdown()


@lru_cache(maxsize=4096)
def markdown_html(text: str) -> Markup:
    """A policy's remediation (or rationale) Markdown as safe HTML.

    Inline code, emphasis, lists and code blocks render; a link shows its text
    and its address as text; raw HTML is escaped and shown as text, images stay
    text, and markdown-it refuses ``javascript:`` and other unsafe link targets.
    Each rule's text is rendered once.
    """
    return Markup(_MARKDOWN.render(str(text or "")))


@lru_cache(maxsize=1)
def _page_assets() -> tuple[Markup, Markup, Markup]:
    """The inline CSS and script (trusted, our own) and the CSP that pins both."""
    css = environment().get_template("style.css").render()
    csp = (
        "default-src 'none'; "
        f"style-src {_csp_hash(css)}; "
        f"script-src {_csp_hash(SCRIPT)}; "
        "base-uri 'none'; form-action 'none'"
    )
    return Markup(css), Markup(SCRIPT), Markup(csp)


# --- findings as markup ------------------------------------------------------------
# A page holds thousands of findings: each is written by one Python function of
# escaped values rather than by nested template loops, which cost several times
# more per finding. Each writes exactly what the template it replaced wrote
# (tests/reports/test_golden.py); every value goes through :func:`text`.


def text(value: Any) -> str:
    """*value* escaped as Jinja's autoescape writes it (``markupsafe.escape``):
    a plain string needing no escape is returned as is, without a Markup copy."""
    if type(value) is str:
        if _HTML_SPECIAL.search(value) is None:
            return value
        return (
            value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
            .replace("'", "&#39;").replace('"', "&#34;")
        )
    return str(escape(value))


def _check_markup(f: FindingView, c: CheckView) -> str:
    head = " screen" if len(f.checks) == 1 and (not c.message or c.message == f.message) else ""
    status = text(c.status)
    said = f" {text(c.message)}" if c.message and c.message != f.message else ""
    parts = [
        f'<div class="check">\n<p class="check-head{head}"><code>{text(c.check)}</code>: '
        f'<span class="st st-{status}">{status}</span>{said}</p>\n'
    ]
    if c.lines:
        items = "".join(f"<li>{text(line)}</li>" for line in c.lines)
        parts.append(f'<ul class="evidence">\n{items}</ul>\n')
    elif c.facts:
        items = "".join(f"<div><dt>{text(k)}</dt><dd>{text(v)}</dd></div>" for k, v in c.facts)
        parts.append(f'<dl class="facts">\n{items}</dl>\n')
    parts.append("</div>\n")
    return "".join(parts)


def finding_article(f: FindingView) -> Markup:
    """A failing finding in full: its checks and evidence, dates, raw JSON."""
    due = ""
    if f.deadline:
        due = f' · <span class="{"overdue" if f.overdue else "due"}">{text(f.deadline)}</span>'
    waiver = f" · {text(f.waiver)}" if f.waiver else ""
    return Markup(
        '<article class="finding" data-filter-item>\n'
        f"<h5>{text(f.asset_name)} <small>{text(f.where or f.asset_id)}</small> "
        f"{change_badge(f.change)}</h5>\n"
        f'<p class="message">{text(f.message)}</p>\n'
        + "".join(_check_markup(f, c) for c in f.checks)
        + f'<p class="meta">First seen {text(f.first_seen or "in this run")}{due}{waiver}'
        f'<span class="screen"> · fingerprint <code>{text(f.fingerprint)}</code></span></p>\n'
        '<details class="raw"><summary>Raw evidence (JSON)</summary>'
        f"<pre>{text(f.raw)}</pre></details>\n"
        "</article>\n"
    )


def table_row(f: FindingView, extra: str) -> Markup:
    """A finding as a row of a status table; *extra* names its fourth column."""
    if extra == "Waiver":
        fourth = f.waiver
    elif extra == "Reason":
        fourth = f.reason or "unknown"
    else:
        fourth = f.change or f.status
    return Markup(
        f'<tr data-filter-item><th scope="row">{text(f.asset_name)}<br><small>{text(f.where)}'
        f"</small></th><td><code>{text(f.rule_id)}</code><br><small>{text(f.rule_title)}</small>"
        f"</td><td>{severity_badge(f.severity)}</td><td>{text(fourth)}</td>"
        f"<td>{text(f.message)}</td></tr>\n"
    )


def compact_row(f: FindingView) -> Markup:
    """A failing finding past the detail budget, as one row."""
    overdue = ' class="overdue"' if f.overdue else ""
    return Markup(
        f'<tr data-filter-item><th scope="row">{text(f.asset_name)}</th>'
        f"<td><code>{text(f.rule_id)}</code></td><td>{severity_badge(f.severity)}</td>"
        f"<td>{text(f.change)}</td><td{overdue}>{text(f.deadline)}</td>"
        f"<td>{text(f.message)}</td></tr>\n"
    )


def waived_row(f: FindingView) -> Markup:
    """A waived finding, with its waiver and who answers for it."""
    return Markup(
        f'<tr data-filter-item><th scope="row">{text(f.asset_name)}</th>'
        f"<td><code>{text(f.rule_id)}</code></td><td>{severity_badge(f.severity)}</td>"
        f"<td>{text(f.waiver)}</td><td>{text(f.waiver_people)}</td>"
        f"<td>{text(f.waiver_justification)}</td></tr>\n"
    )


# --- view models ------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    kind: str
    label: str


def segments(s: Score) -> list[Segment]:
    """Stacked shares of a score (0..100) for the SVG bar and donut."""
    parts = [
        ("pass", s.passed, "passing"),
        ("waived", s.waived, "waived"),
        ("fail", s.failed, "failing"),
        ("error", s.not_assessed, "not assessed"),
    ]
    result, x = [], 0.0
    for kind, weight, label in parts:
        width = s.share(weight)
        if width > 0:
            result.append(Segment(round(x, 3), round(width, 3), kind, f"{label} {width:.1f}%"))
            x += width
    return result


# View models are plain (not frozen) slotted dataclasses: a page makes tens of
# thousands, and a frozen one sets each field through object.__setattr__.
@dataclass(slots=True)
class CheckView:
    check: str
    status: str
    message: str
    facts: list[tuple[str, str]]
    lines: list[str] = field(default_factory=list)
    """The plugin's own rendering of the evidence (``Plugin.evidence``), when it has one."""


@dataclass(slots=True)
class FindingView:
    fingerprint: str
    asset_name: str
    asset_id: str
    where: str
    rule_id: str
    rule_title: str
    severity: str
    status: str
    message: str
    reason: str
    change: str
    first_seen: str
    waiver: str
    deadline: str = ""
    overdue: bool = False
    waiver_people: str = ""
    waiver_justification: str = ""
    checks: list[CheckView] = field(default_factory=list)
    raw: str = ""


@dataclass
class RuleGroup:
    rule: Mapping[str, Any]
    expected: list[tuple[str, str]]
    references: list[tuple[str, str]]
    findings: list[FindingView] = field(default_factory=list)


@dataclass
class SeverityGroup:
    severity: str
    rules: list[RuleGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(r.findings) for r in self.rules)


@dataclass(frozen=True)
class Table:
    """Rows of one status, or per-rule counts once they would be too many."""

    rows: list[FindingView]
    per_rule: list[tuple[str, str, int]]
    total: int


def _where(asset: Mapping[str, Any]) -> str:
    return str(asset.get("url") or asset.get("address") or "")


def _waiver_text(waiver: Mapping[str, Any] | None) -> str:
    if not waiver:
        return ""
    state = waiver.get("state", "")
    if state == "active":
        return f"waived until {readable_time(waiver.get('expires'))} ({waiver.get('id')})"
    return f"waiver {waiver.get('id')} {state} on {readable_time(waiver.get('expires'))}"


def _waiver_people(waiver: Mapping[str, Any] | None) -> str:
    if not waiver:
        return ""
    return (
        f"owner {waiver.get('owner') or 'unknown'}, "
        f"approved by {waiver.get('approver') or 'unknown'}, "
        f"ticket {waiver.get('ticket') or 'none'}"
    )


def _references(rule: Mapping[str, Any]) -> list[tuple[str, str]]:
    refs = rule.get("references") or {}
    return [
        (str(k), ", ".join(map(str, v)) if isinstance(v, list) else str(v)) for k, v in refs.items()
    ]


def _expected(rule: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(c.get("check", "")), evidence.options_text(c.get("options")))
        for c in rule.get("checks") or ()
    ]


class _Viewer:
    """Turns findings into view models with the run's lookups and comparison."""

    def __init__(
        self, index: Index, comparison: Comparison, sla: Mapping[str, int], now: datetime
    ) -> None:
        self.index = index
        self.comparison = comparison
        self.sla = sla
        self.now = now

    def view(self, finding: Mapping[str, Any], *, detailed: bool) -> FindingView:
        asset = self.index.assets[finding["asset_id"]]
        rule = self.index.rule(finding["rule_id"])
        change = self.comparison.changes.get(finding["fingerprint"])
        waiver = finding.get("waiver")
        checks: list[CheckView] = []
        raw = ""
        if detailed:
            found = finding.get("checks") or ()
            raw, clean = evidence.raw_checked([c.get("evidence") for c in found])
            checks = [_check_view(c, clean) for c in found]
        severity = severity_of(finding.get("severity", "")).value
        due = None
        if finding.get("status") == FAIL:
            due = deadline(finding.get("first_seen"), severity, self.sla, self.now)
        return FindingView(
            fingerprint=str(finding["fingerprint"]),
            asset_name=str(asset.get("name", "")),
            asset_id=str(asset["id"]),
            where=_where(asset),
            rule_id=str(finding["rule_id"]),
            rule_title=str(rule.get("title", "")),
            severity=severity,
            status=str(finding.get("status", "")),
            message=evidence.clip(str(finding.get("message") or ""), 1000 if detailed else 300),
            reason=str(finding.get("reason") or ""),
            change=change.label if change else "",
            first_seen=readable_time(finding.get("first_seen")),
            waiver=_waiver_text(waiver),
            deadline=due.text if due else "",
            overdue=due.overdue if due else False,
            waiver_people=_waiver_people(waiver),
            waiver_justification=evidence.clip(str(waiver.get("justification") or ""))
            if waiver
            else "",
            checks=checks,
            raw=raw,
        )

    def table(self, findings: Sequence[Mapping[str, Any]]) -> Table:
        """One row per finding, or counts per rule when the rows would be too
        many (:data:`ROW_LIMIT`) or too large (:data:`TABLE_BUDGET`)."""
        if len(findings) <= ROW_LIMIT:
            ordered = sorted(findings, key=lambda f: (f["rule_id"], f["asset_id"]))
            rows, spent = [], 0
            for finding in ordered:  # stop at the first row past the budget
                row = self.view(finding, detailed=False)
                spent += _row_size(row)
                if spent > TABLE_BUDGET:
                    break
                rows.append(row)
            else:
                return Table(rows, [], len(findings))
        counts = Counter(f["rule_id"] for f in findings)
        per_rule = [
            (rule_id, str(self.index.rule(rule_id).get("title", "")), n)
            for rule_id, n in sorted(counts.items())
        ]
        return Table([], per_rule, len(findings))


def _check_view(check: Mapping[str, Any], redacted: bool = False) -> CheckView:
    """One check's result; its evidence as the plugin renders it, else as generic key
    facts (*redacted*: the evidence is known to hold nothing to redact)."""
    check_id = str(check.get("check", ""))
    lines = evidence.readable(check_id, check.get("evidence"), redacted=redacted)
    return CheckView(
        check=check_id,
        status=str(check.get("status", "")),
        message=evidence.clip(str(check.get("message") or "")),
        facts=[] if lines else evidence.facts(check.get("evidence"), redacted=redacted),
        lines=lines,
    )


def _escaped(text: str) -> int:
    """Bytes *text* takes in the page once escaped: a string full of ``<`` or
    quotes grows fivefold, and budgets must hold for hostile text too.

    Counted, not escaped: ``escape`` turns ``&``, ``"`` and ``'`` into five bytes
    (``&amp;``, ``&#34;``, ``&#39;``) and ``<`` and ``>`` into four; counting them
    in C costs a fraction of building each escaped copy."""
    size = len(text.encode())
    if _HTML_SPECIAL.search(text) is None:
        return size
    count = text.count
    return size + 4 * (count("&") + count('"') + count("'")) + 3 * (count("<") + count(">"))


_HTML_SPECIAL = re.compile("[&<>\"']")


def _size(view: FindingView) -> int:
    """Bytes a detailed finding adds to the page, markup included. Escaping is
    per character, so the texts are counted joined, in one :func:`_escaped`."""
    texts = [view.raw, view.message, view.asset_name, view.where]
    markup = 900
    for c in view.checks:
        texts.append(c.message)
        texts.extend(text for pair in c.facts for text in pair)
        texts.extend(c.lines)
        markup += 40 * len(c.facts) + 12 * len(c.lines)
    return markup + _escaped("".join(texts))


def _row_size(view: FindingView) -> int:
    """Bytes a finding adds as one table row, markup included."""
    return 400 + _escaped(
        "".join((
            view.asset_name,
            view.where,
            view.rule_title,
            view.message,
            view.waiver_people,
            view.waiver_justification,
        ))
    )


@dataclass
class Failures:
    groups: list[SeverityGroup]
    compact: list[FindingView]
    omitted: int
    total: int


def _failures(viewer: _Viewer, findings: Iterable[Mapping[str, Any]]) -> Failures:
    failing = [f for f in findings if f.get("status") == FAIL]
    failing.sort(key=lambda f: (-severity_of(f.get("severity", "")).rank, f["rule_id"], f["asset_id"]))
    groups: dict[str, SeverityGroup] = {}
    rule_groups: dict[tuple[str, str], RuleGroup] = {}
    compact: list[FindingView] = []
    spent_detail = spent_compact = omitted = 0
    for finding in failing:
        if spent_detail < DETAIL_BUDGET:
            view = viewer.view(finding, detailed=True)
            spent_detail += _size(view)
            key = (view.severity, view.rule_id)
            if key not in rule_groups:
                rule = viewer.index.rule(view.rule_id)
                rule_groups[key] = RuleGroup(rule, _expected(rule), _references(rule))
                groups.setdefault(view.severity, SeverityGroup(view.severity)).rules.append(
                    rule_groups[key]
                )
            rule_groups[key].findings.append(view)
        elif spent_compact < COMPACT_BUDGET:
            view = viewer.view(finding, detailed=False)
            spent_compact += _row_size(view)
            compact.append(view)
        else:
            omitted += 1
    return Failures(list(groups.values()), compact, omitted, len(failing))


@dataclass(frozen=True)
class DepartmentRow:
    name: str
    file: str
    score: Score
    previous: Score | None
    segments: list[Segment]
    assets: int

    @property
    def delta(self) -> str:
        return format_delta(self.score.value, self.previous.value if self.previous else None)


@dataclass(frozen=True)
class TrendDot:
    x: float
    y: float
    run_id: int
    label: str


@dataclass(frozen=True)
class TrendChart:
    """A line of scores over runs, for an inline SVG 300 x 100 units."""

    label: str
    caption: str
    line: str  # the polyline's points
    dots: list[TrendDot]


TREND_LEFT, TREND_RIGHT, TREND_TOP, TREND_BOTTOM = 10.0, 290.0, 10.0, 90.0


def trend_chart(points: Sequence[Point], scope: str) -> TrendChart | None:
    """The chart of *points* (oldest first); None with fewer than two scored runs."""
    scored = [p for p in points if p.score.value is not None]
    if len(scored) < 2:
        return None
    step = (TREND_RIGHT - TREND_LEFT) / (len(scored) - 1)
    dots = []
    for i, p in enumerate(scored):
        value = p.score.value or 0.0
        dots.append(
            TrendDot(
                x=round(TREND_LEFT + i * step, 2),
                y=round(TREND_BOTTOM - value * (TREND_BOTTOM - TREND_TOP) / 100, 2),
                run_id=p.run_id,
                label=f"run {p.run_id} ({readable_time(p.started)}): {format_score(value)}",
            )
        )
    return TrendChart(
        label=f"Score of {scope} over the last {len(scored)} runs",
        caption=trend(scored),
        line=" ".join(f"{d.x},{d.y}" for d in dots),
        dots=dots,
    )


def _run_context(index: Index) -> dict[str, Any]:
    run = index.run
    return {
        "run": run,
        "policies": run.get("policies") or [],
        "incomplete": run.get("status") != RunStatus.COMPLETE,
    }


def _donut(s: Score) -> list[tuple[str, str, float, float]]:
    """(kind, label, dash length, dash offset) per segment of a 100-long circle."""
    return [(seg.kind, seg.label, seg.width, 25 - seg.x) for seg in segments(s)]


# --- pages ------------------------------------------------------------------------


def department_file(name: str) -> str:
    return f"dept-{slug(name)}.html"


def render_index(
    index: Index,
    previous: Index | None,
    comparison: Comparison,
    now: datetime,
    trends: Trends,
    frameworks: Sequence[FrameworkView] = (),
) -> str:
    rows = []
    for name in index.departments:
        before = None
        if previous is not None and name in previous.findings_by_department:
            before = previous.score(name)
        current = index.score(name)
        rows.append(
            DepartmentRow(
                name=name,
                file=department_file(name),
                score=current,
                previous=before,
                segments=segments(current),
                assets=index.asset_counts[name],
            )
        )
    overall = index.overall()
    overall_before = previous.overall() if previous is not None else None
    today = now.date()
    expiring, expired, stale = [], [], []
    for waiver in index.doc["waivers"]:
        state = waiver.get("state")
        day = parse_day(waiver.get("expires"))
        if state == "stale":
            stale.append(waiver)
        elif state == "expired":
            expired.append(waiver)
        elif state == "active" and day is not None and (day - today).days <= EXPIRY_WINDOW_DAYS:
            expiring.append((waiver, (day - today).days))
    expiring.sort(key=lambda pair: pair[1])
    changes = comparison.tally(f["fingerprint"] for f in index.doc["findings"])
    unassessed = index.unassessed()
    return _page_text(
        "index.html",
        **_page(index),
        title=f"Compliance summary, run {index.run.get('id')}",
        departments=rows,
        overall=overall,
        overall_segments=segments(overall),
        donut=_donut(overall),
        overall_delta=format_delta(overall.value, overall_before.value if overall_before else None),
        trend=trend_chart(trends.city, "the city"),
        comparison=comparison,
        changes={c.value: changes.get(c, 0) for c in Change},
        dropped=len(comparison.dropped),
        top_rules=top_failing_rules(index, TOP_RULES),
        unassessed=unassessed[:UNASSESSED_LIMIT],
        unassessed_total=len(unassessed),
        expiring=expiring,
        expired=expired,
        stale=stale,
        window=EXPIRY_WINDOW_DAYS,
        frameworks=frameworks,
    )


_KIND_WORDS = {"script": "scripts", "style": "stylesheets", "font": "fonts", "image": "images",
               "media": "audio or video", "frame": "embedded pages", "object": "plugins",
               "fetch": "data", "connect": "early connections", "form": "form submissions"}


def _privacy(index: Index, findings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per asset, the other sites its pages make browsers contact, from checks' evidence.

    Any check whose evidence holds ``third_parties: [{site, kinds, tracker, allowed}]``
    feeds this (docs/reports.md); one list per asset is shown.
    """
    seen: dict[str, dict[str, Any]] = {}
    for finding in findings:
        for check in finding.get("checks") or ():
            listed = (check.get("evidence") or {}).get("third_parties")
            asset = index.assets.get(finding["asset_id"])
            if not isinstance(listed, list) or asset is None or asset["id"] in seen:
                continue
            sites = []
            for item in listed[:50]:
                if not isinstance(item, Mapping):
                    continue
                tracker = item.get("tracker") if isinstance(item.get("tracker"), Mapping) else None
                kinds = [k for k in item.get("kinds") or () if isinstance(k, str)]
                purposes = [p for p in (tracker or {}).get("purposes") or () if isinstance(p, str)]
                sites.append({
                    "site": evidence.clip(str(item.get("site", "")), 200),
                    "tracker": evidence.clip(str(tracker.get("name", "")), 100) if tracker else "",
                    "category": evidence.clip(str(tracker.get("category", "")), 100) if tracker else "",
                    "also": ", ".join(evidence.clip(p, 40) for p in purposes[1:6]),
                    "loads": ", ".join(_KIND_WORDS.get(k, evidence.clip(k, 40)) for k in kinds[:10]),
                    "allowed": item.get("allowed") is True,
                })
            named = (check.get("evidence") or {}).get("tracker_list")
            seen[asset["id"]] = {"name": str(asset.get("name", "")), "where": _where(asset),
                                 "sites": sites,
                                 "sample": isinstance(named, Mapping)
                                 and named.get("list") == "bundled sample"}
    return sorted(seen.values(), key=lambda a: (a["name"], a["where"]))


def render_department(
    index: Index,
    name: str,
    previous: Index | None,
    comparison: Comparison,
    now: datetime,
    trends: Trends,
    sla: Mapping[str, int],
    frameworks: Sequence[FrameworkView] = (),
) -> str:
    findings = index.findings_by_department[name]
    viewer = _Viewer(index, comparison, sla, now)
    current = index.score(name)
    before = None
    if previous is not None and name in previous.findings_by_department:
        before = previous.score(name)
    by_status: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for finding in findings:
        by_status[finding.get("status", "")].append(finding)
    fixed = [f for f in findings if comparison.changes.get(f["fingerprint"]) is Change.FIXED]
    dropped = []
    if previous is not None:
        for finding in comparison.dropped:
            asset = previous.assets.get(finding["asset_id"])
            if asset is not None and asset["department"] == name:
                dropped.append(finding)
    return _page_text(
        "department.html",
        **_page(index),
        title=f"Compliance report: {name}, run {index.run.get('id')}",
        department=name,
        score=current,
        previous_score=before,
        delta=format_delta(current.value, before.value if before else None),
        trend=trend_chart(trends.of(name), name),
        bar=segments(current),
        donut=_donut(current),
        assets=index.asset_counts[name],
        comparison=comparison,
        changes={
            c.value: n for c, n in comparison.tally(f["fingerprint"] for f in findings).items()
        },
        dropped=sorted(dropped, key=lambda f: (f["rule_id"], f["asset_id"]))[:ROW_LIMIT],
        dropped_total=len(dropped),
        failures=_failures(viewer, findings),
        privacy=_privacy(index, findings),
        unassessed=index.unassessed(name)[:UNASSESSED_LIMIT],
        unassessed_total=len(index.unassessed(name)),
        waived=viewer.table(by_status[WAIVED]),
        errors=viewer.table(by_status[ERROR]),
        fixed=viewer.table(fixed),
        passing=viewer.table(by_status[PASS]),
        not_applicable=viewer.table(by_status[NOT_APPLICABLE]),
        frameworks=frameworks,
    )


def _page(index: Index) -> dict[str, Any]:
    css, script, csp = _page_assets()
    return {"css": css, "script": script, "csp": csp, **_run_context(index)}


def _page_text(template: str, **context: Any) -> str:
    return _clean(environment().get_template(template).render(**context))


def render(
    index: Index,
    previous: Index | None,
    comparison: Comparison,
    now: datetime,
    *,
    department: str | None = None,
    trends: Trends | None = None,
    remediation_sla: Mapping[str, int] | None = None,
    frameworks: Sequence[Framework] = (),
    counts: Tallies | None = None,
) -> Iterator[tuple[str, str]]:
    """(file name, page) for the summary and every department, or for one department.

    A generator, so only one page is held in memory at a time. *frameworks*
    add a framework section, from *counts* (:func:`scanner.reports.frameworks.tallies`).
    """
    trends = trends or Trends()
    sla = remediation_sla or {}
    counts = counts or Tallies()

    def views(scope: str | None) -> list[FrameworkView]:
        return [view(fw, index.rules, counts.of(scope)) for fw in frameworks]

    if department is not None:
        yield (
            department_file(department),
            render_department(
                index, department, previous, comparison, now, trends, sla, views(department)
            ),
        )
        return
    yield "index.html", render_index(index, previous, comparison, now, trends, views(None))
    for name in index.departments:
        yield department_file(name), render_department(
            index, name, previous, comparison, now, trends, sla, views(name)
        )
