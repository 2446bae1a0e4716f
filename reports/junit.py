"""JUnit XML: one test suite per department, one test case per rule x asset.

CI systems read JUnit natively. Mapping: ``fail`` -> <failure>, ``error`` ->
<error> (the check could not run), ``waived`` and ``not_applicable`` ->
<skipped> with the reason, ``pass`` -> an empty test case.

Written as a stream: a city-sized run is hundreds of thousands of test cases,
which an element tree would hold in memory all at once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

from . import evidence
from .analysis import ERROR, FAIL, NOT_APPLICABLE, WAIVED, Comparison, Index

# XML 1.0 cannot carry most control characters, escaped or not; a target's
# banner may contain them, so they become U+FFFD instead of breaking the file.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# quoteattr leaves line breaks and tabs literal, which attribute normalisation
# would turn into spaces: keep them as character references instead.
_ATTR_WHITESPACE = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def xml_text(value: Any) -> str:
    return escape(_NOT_XML.sub("\ufffd", "" if value is None else str(value)))


def xml_attr(value: Any) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", "" if value is None else str(value)), _ATTR_WHITESPACE)


CASES_PER_WRITE = 2_000
_COUNTED = {FAIL: "failures", ERROR: "errors", WAIVED: "skipped", NOT_APPLICABLE: "skipped"}


def _details(finding: Mapping[str, Any], rule: Mapping[str, Any], change: str) -> str:
    lines = [str(finding.get("message") or "")]
    for check in finding.get("checks") or ():
        lines.append(
            f"{check.get('check')}: {check.get('status')}: "
            f"{evidence.summary(check.get('evidence'), str(check.get('check') or ''))}"
        )
    if change:
        lines.append(f"change since previous run: {change}")
    if finding.get("first_seen"):
        lines.append(f"first seen: {finding['first_seen']}")
    if rule.get("remediation"):
        lines.append(f"remediation: {rule['remediation']}")
    return xml_text("\n".join(lines))


def _case(
    finding: Mapping[str, Any], rule: Mapping[str, Any], head: str, comparison: Comparison
) -> str:
    """One <testcase>; *head* is its opening tag up to the closing ``>``."""
    status = finding.get("status")
    if status not in _COUNTED:
        return head + "/>\n"
    change = comparison.changes.get(finding["fingerprint"])
    label = change.label if change else ""
    message = xml_attr(evidence.clip(str(finding.get("message") or ""), 1000))
    if status == FAIL:
        kind = xml_attr(finding.get("severity"))
        body = f"<failure message={message} type={kind}>{_details(finding, rule, label)}</failure>"
    elif status == ERROR:
        kind = xml_attr(finding.get("reason") or "error")
        body = f"<error message={message} type={kind}>{_details(finding, rule, label)}</error>"
    elif status == WAIVED:
        waiver = finding.get("waiver") or {}
        text = (
            f"waived until {waiver.get('expires')} "
            f"({waiver.get('id')}, ticket {waiver.get('ticket')}): {waiver.get('justification')}"
        )
        body = f"<skipped message={xml_attr(text)}/>"
    else:
        text = f"not applicable: {finding.get('message')}"
        body = f"<skipped message={xml_attr(text)}/>"
    return f"{head}>\n      {body}\n    </testcase>\n"


def write(index: Index, comparison: Comparison, out: TextIO) -> None:
    run = index.run
    totals: Counter[str] = Counter()
    for department in index.departments:
        for finding in index.findings_by_department[department]:
            totals[_COUNTED.get(finding.get("status", ""), "passed")] += 1
    out.write('<?xml version="1.0" encoding="utf-8"?>\n')
    name = f"civiscan run {run.get('id')}"
    out.write(
        f"<testsuites name={xml_attr(name)} "
        f'tests="{sum(totals.values())}" failures="{totals["failures"]}" '
        f'errors="{totals["errors"]}" skipped="{totals["skipped"]}">\n'
    )
    timestamp = f" timestamp={xml_attr(run['started'])}" if run.get("started") else ""
    names: dict[str, tuple[Mapping[str, Any], str]] = {}
    classname, classname_attr = "", ""
    cases: list[str] = []
    for department in index.departments:
        findings = sorted(
            index.findings_by_department[department], key=lambda f: (f["asset_id"], f["rule_id"])
        )
        counts = Counter(_COUNTED.get(f.get("status", ""), "passed") for f in findings)
        cases.append(
            f'  <testsuite name={xml_attr(department)} tests="{len(findings)}" '
            f'failures="{counts["failures"]}" errors="{counts["errors"]}" '
            f'skipped="{counts["skipped"]}" time="0"{timestamp}>\n'
        )
        for finding in findings:
            rule_id = finding["rule_id"]
            if rule_id not in names:
                rule = index.rule(rule_id)
                names[rule_id] = (rule, xml_attr(f"{rule_id}: {rule.get('title', '')}"))
            rule, name = names[rule_id]
            if classname != finding["asset_id"]:  # findings come sorted by asset
                classname = finding["asset_id"]
                classname_attr = xml_attr(classname)
            head = f'    <testcase classname={classname_attr} name={name} time="0"'
            cases.append(_case(finding, rule, head, comparison))
            if len(cases) >= CASES_PER_WRITE:
                out.write("".join(cases))
                cases.clear()
        cases.append("  </testsuite>\n")
    out.write("".join(cases))
    out.write("</testsuites>\n")
