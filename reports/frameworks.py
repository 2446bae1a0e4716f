"""Compliance frameworks: mapping files from a framework's controls to rules, and the view they give.

One mapping file per framework and version (``policies/frameworks/nist-800-53-r5.yaml``),
kept apart from the rules: a rule never lists frameworks at length, and a new framework
or version is a new file, not an edit of every policy. A mapping judges nothing; it
groups the run's findings by control (docs/reports.md, "Framework view").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from scanner.errors import ConfigError, ConfigProblem, Position
from scanner.history import ERROR, FAIL, PASS, WAIVED
from scanner.options import suggest
from scanner.yamlpos import PosDict, PosList, Shape, load_bytes, load_file, pos_of, quote

FRAMEWORK_SHAPE = Shape("framework mapping", ("framework", "controls"))

_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CHECK = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_FRAMEWORK_KEYS = {"id": True, "title": True, "version": True, "url": False}
_CONTROL_KEYS = {"id": True, "title": True, "rules": False, "checks": False}
MAX_CONTROLS = 5_000
MAX_TEXT = 300


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    rules: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    """Check ids: every rule using one of these checks counts for the control too."""


@dataclass(frozen=True)
class Framework:
    id: str
    title: str
    version: str
    controls: tuple[Control, ...]
    url: str = ""
    source: str = ""
    """Where the mapping was read from (``builtin:NAME`` or a path)."""


def shipped_names() -> list[str]:
    """The mapping files shipped with civiscan, by name (``nist-800-53-r5``)."""
    root = resources.files("scanner.policies") / "frameworks"
    if not root.is_dir():
        return []
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load(ref: str, known_checks: Iterable[str] | None = None) -> Framework:
    """A mapping by shipped name or path; raises :class:`ConfigError` (file:line:col) if wrong.

    ``known_checks``, when given, are the check ids a mapping's ``checks`` may name.
    """
    if "/" in ref or ref.endswith((".yaml", ".yml")) or Path(ref).exists():
        document = load_file(ref, FRAMEWORK_SHAPE)
        return parse(document.data, ref, known_checks)
    names = shipped_names()
    if ref not in names:
        raise ConfigError.at(
            Position(ref),
            f"no shipped framework mapping named {quote(ref)}{suggest(ref, names)}"
            f" (shipped: {', '.join(names) or 'none'})",
        )
    source = f"builtin:{ref}"
    raw = (resources.files("scanner.policies") / "frameworks" / f"{ref}.yaml").read_bytes()
    return parse(load_bytes(raw, source, FRAMEWORK_SHAPE).data, source, known_checks)


def parse(data: Any, source: str, known_checks: Iterable[str] | None = None) -> Framework:
    """The :class:`Framework` of a parsed mapping file, or every problem in it at once."""
    problems: list[ConfigProblem] = []
    checks = frozenset(known_checks) if known_checks is not None else None

    def problem(where: Position, message: str) -> None:
        problems.append(ConfigProblem(where, message))

    def text(container: PosDict, key: str, required: bool) -> str:
        value = container.get(key)
        if value is None:
            if required:
                problem(container.here(), f"missing required key '{key}'")
            return ""
        if not isinstance(value, str) or not value.strip():
            hint = " (quote it)" if isinstance(value, int | float) else ""
            problem(pos_of(container, key), f"'{key}' must be a non-empty string{hint}")
            return ""
        if len(value) > MAX_TEXT:
            problem(pos_of(container, key), f"'{key}' is longer than {MAX_TEXT} characters")
        return value

    def unknown_keys(container: PosDict, allowed: Mapping[str, bool], what: str) -> None:
        for key in container:
            if key not in allowed:
                problem(
                    pos_of(container, key, value=False),
                    f"unknown key {quote(key)} in {what}{suggest(key, allowed)}",
                )

    def ids(container: PosDict, key: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
        value = container.get(key)
        if value is None:
            return ()
        if not isinstance(value, PosList):
            problem(pos_of(container, key), f"'{key}' must be a list of {what} ids")
            return ()
        found: list[str] = []
        for i, item in enumerate(value):
            where = value.item_pos(i)
            if not isinstance(item, str) or not pattern.match(item):
                problem(where, f"{quote(item)} is not a {what} id")
            elif item in found:
                problem(where, f"{what} {quote(item)} is listed twice")
            elif what == "check" and checks is not None and item not in checks:
                problem(where, f"unknown check {quote(item)}{suggest(item, checks)}")
            else:
                found.append(item)
        return tuple(found)

    if not isinstance(data, PosDict):
        raise ConfigError.at(Position(source, 1, 1), FRAMEWORK_SHAPE.problem())
    unknown_keys(data, {"framework": True, "controls": True}, "the mapping")
    header = data.get("framework")
    fw_id = title = version = url = ""
    if not isinstance(header, PosDict):
        problem(pos_of(data, "framework") if "framework" in data else data.here(),
                "'framework' must be a mapping with id, title and version")
    else:
        unknown_keys(header, _FRAMEWORK_KEYS, "framework")
        fw_id = text(header, "id", True)
        if fw_id and not _ID.match(fw_id):
            problem(pos_of(header, "id"), f"framework id {quote(fw_id)} must be lower-case letters, digits, '.' and '-'")
        title = text(header, "title", True)
        version = text(header, "version", True)
        url = text(header, "url", False)
    controls: list[Control] = []
    listed = data.get("controls")
    if not isinstance(listed, PosList) or not listed:
        problem(pos_of(data, "controls") if "controls" in data else data.here(),
                "'controls' must be a non-empty list of controls")
        listed = PosList()
    if len(listed) > MAX_CONTROLS:
        problem(pos_of(data, "controls"), f"more than {MAX_CONTROLS} controls")
        listed = PosList()
    seen: dict[str, Position] = {}
    for i, entry in enumerate(listed):
        if not isinstance(entry, PosDict):
            problem(listed.item_pos(i), "a control must be a mapping with id, title and rules")
            continue
        unknown_keys(entry, _CONTROL_KEYS, "a control")
        control_id = text(entry, "id", True)
        if control_id in seen:
            problem(pos_of(entry, "id"), f"control {quote(control_id)} is listed twice (first at line {seen[control_id].line})")
        elif control_id:
            seen[control_id] = pos_of(entry, "id")
        rules = ids(entry, "rules", _RULE, "rule")
        check_ids = ids(entry, "checks", _CHECK, "check")
        if "rules" not in entry and "checks" not in entry:
            problem(entry.here(), f"control {quote(control_id)} maps no rules or checks")
        controls.append(Control(control_id, text(entry, "title", True), rules, check_ids))
    if problems:
        raise ConfigError(problems)
    return Framework(fw_id, title, version, tuple(controls), url, source)


# --- the view ------------------------------------------------------------------------

CONTROL_STATES = ("failing", "not assessed", "passing", "not evaluated")


@dataclass
class RuleTally:
    rule_id: str
    title: str
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class ControlRow:
    """One control: its rules in this run and how their findings came out."""

    control: Control
    rules: list[RuleTally]

    @property
    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for rule in self.rules:
            total.update(rule.counts)
        return total

    @property
    def status(self) -> str:
        """``failing`` if any finding fails, ``not assessed`` if any errs and none fails,
        ``passing`` when something passed or was waived, else ``not evaluated``."""
        counts = self.counts
        if counts[FAIL]:
            return "failing"
        if counts[ERROR]:
            return "not assessed"
        if counts[PASS] or counts[WAIVED]:
            return "passing"
        return "not evaluated"


@dataclass
class FrameworkView:
    framework: Framework
    controls: list[ControlRow]

    def tally(self) -> Counter[str]:
        return Counter(row.status for row in self.controls)


class Tallies:
    """Finding counts per (rule, status), city-wide and per department, counted in one pass."""

    def __init__(self) -> None:
        self.city: dict[str, Counter[str]] = {}
        self.departments: dict[str, dict[str, Counter[str]]] = {}

    def add(self, department: str, rule_id: str, status: str) -> None:
        self.city.setdefault(rule_id, Counter())[status] += 1
        self.departments.setdefault(department, {}).setdefault(rule_id, Counter())[status] += 1

    def of(self, department: str | None) -> Mapping[str, Counter[str]]:
        return self.city if department is None else self.departments.get(department, {})


def view(
    framework: Framework,
    rules: Mapping[str, Mapping[str, Any]],
    counts: Mapping[str, Counter[str]],
) -> FrameworkView:
    """Each control of *framework* with the run's *rules* it maps and their *counts*.

    A control maps a rule when the mapping lists the rule's id, or one of the
    checks the rule uses. Rules the run did not apply are left out of the row.
    """
    by_check: dict[str, list[str]] = {}
    for rule_id, rule in rules.items():
        for check in rule.get("checks") or ():
            if isinstance(check, Mapping):
                by_check.setdefault(str(check.get("check")), []).append(rule_id)
    rows = []
    for control in framework.controls:
        mapped = dict.fromkeys(control.rules)
        for check in control.checks:
            mapped.update(dict.fromkeys(by_check.get(check, ())))
        tallies = [
            RuleTally(rule_id, str(rules[rule_id].get("title", "")), Counter(counts.get(rule_id, {})))
            for rule_id in mapped
            if rule_id in rules
        ]
        rows.append(ControlRow(control, tallies))
    return FrameworkView(framework, rows)


def text_table(fv: FrameworkView, scope: str, *, rules: bool = True) -> list[str]:
    """The view as plain lines for a terminal: one line per control, its rules indented."""
    fw = fv.framework
    tally = fv.tally()
    lines = [
        "",
        f"{fw.title} (version {fw.version}), {scope}: "
        + ", ".join(f"{tally.get(s, 0)} {s}" for s in CONTROL_STATES)
        + " controls",
    ]
    for row in fv.controls:
        c = row.counts
        lines.append(
            f"  {row.control.id:<10} {row.status:<13} {c[FAIL]:>6} fail {c[PASS]:>6} pass "
            f"{c[ERROR]:>5} error {c[WAIVED]:>5} waived  {row.control.title}"
        )
        if rules:
            lines += [
                f"      {r.rule_id}: {r.counts[FAIL]} fail, {r.counts[PASS]} pass, "
                f"{r.counts[ERROR]} error, {r.counts[WAIVED]} waived"
                for r in row.rules
            ]
    return lines


def print_views(
    doc: Mapping[str, Any], frameworks: Iterable[Framework], department: str | None = None
) -> list[str]:
    """Terminal lines of every framework: city-wide with each control's rules, then per
    department one line per control (only *department* when given)."""
    frameworks = list(frameworks)
    if not frameworks:
        return []
    departments = {a["id"]: a["department"] for a in doc["assets"]}
    counts = tallies(doc["findings"], lambda f: departments.get(f["asset_id"], ""))
    rules = {r["id"]: r for r in doc["rules"]}
    lines: list[str] = []
    for fw in frameworks:
        if department is None:
            lines += text_table(view(fw, rules, counts.of(None)), "city-wide")
            scopes = list(doc["departments"])
        else:
            scopes = [department]
        for name in scopes:
            lines += text_table(
                view(fw, rules, counts.of(name)), f"department {name}", rules=department is not None
            )
    return lines


def tallies(findings: Iterable[Mapping[str, Any]], department_of: Any) -> Tallies:
    """:class:`Tallies` of *findings*; ``department_of(finding)`` names each one's department."""
    result = Tallies()
    for finding in findings:
        result.add(department_of(finding), str(finding["rule_id"]), str(finding.get("status", "")))
    return result


__all__ = [
    "FRAMEWORK_SHAPE", "Control", "ControlRow", "Framework", "FrameworkView", "RuleTally",
    "Tallies", "load", "parse", "print_views", "shipped_names", "tallies", "text_table", "view",
]
