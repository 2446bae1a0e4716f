"""SARIF 2.1.0: rules as reporting descriptors, problems as results.

Only findings that need attention become results: ``fail`` (kind ``fail``,
level from severity), ``waived`` (kind ``fail`` with an accepted external
suppression carrying the waiver) and ``error`` (kind ``open``: the tool could
not tell). Passing and not-applicable pairs are left out, as code-scanning
consumers expect. Assets have no source file, so a result points at the asset
by logical location (its id) and, for endpoints, by artifact URI (its URL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from scanner.models import Severity
from scanner.rundoc import RunStatus

from . import evidence
from .analysis import ERROR, FAIL, WAIVED, Change, Comparison, Index, parse_time, severity_of

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "civiscanFinding/v1"

LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks security results by this 0-10 number.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _uri(text: str) -> str:
    """*text* percent-encoded where it is not a valid URI reference character."""
    return quote(text, safe=":/?#[]@!$&'()*+,;=%-._~")


def _descriptor(rule: Mapping[str, Any]) -> dict[str, Any]:
    severity = severity_of(rule.get("severity", ""))
    remediation = str(rule.get("remediation") or "")
    rationale = str(rule.get("rationale") or "")
    references = rule.get("references") or {}
    help_text = "\n\n".join(part for part in (rationale, remediation) if part) or str(
        rule.get("title", "")
    )
    tags = ["compliance", "security"] + [
        f"{framework}:{ident}"
        for framework, ids in sorted(references.items())
        for ident in (ids if isinstance(ids, list) else [ids])
    ]
    return {
        "id": str(rule["id"]),
        "name": str(rule.get("title") or rule["id"]),
        "shortDescription": {"text": str(rule.get("title") or rule["id"])},
        "fullDescription": {"text": rationale or str(rule.get("title") or rule["id"])},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": tags,
            "security-severity": SECURITY_SEVERITY[severity],
            "severity": severity.value,
            "policy": str(rule.get("policy") or ""),
            "references": references,
            "checks": [
                {"check": c.get("check"), "options": evidence.redact(c.get("options") or {})}
                for c in rule.get("checks") or ()
            ],
        },
    }


def _location(asset: Mapping[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [
            {
                "name": str(asset.get("name", "")),
                "fullyQualifiedName": str(asset["id"]),
                "kind": "resource",
            }
        ]
    }
    url = str(asset.get("url") or "")
    # Viewers render artifact URIs as links: only web URLs qualify, never javascript: or data:.
    if urlsplit(url).scheme in ("http", "https"):
        location["physicalLocation"] = {"artifactLocation": {"uri": _uri(url)}}
    return location


_RESULTS = "civiscan:results-go-here"
RESULTS_PER_WRITE = 2_000


def write(index: Index, comparison: Comparison, out: TextIO) -> None:
    """The SARIF log, compact, a few thousand results at a time: a city-sized run
    has tens of thousands of results, which as one object tree would take several
    times the file's size in memory. ``json`` encodes in C only through ``dumps``
    without indentation (``json.dump`` to a file falls back to pure Python); each
    chunk is encoded in one pass and screened for redaction once
    (:func:`scanner.reports.evidence.redacted_json_each`)."""
    rules = _rules(index)
    envelope = json.dumps(_envelope(index, _RESULTS, rules), ensure_ascii=False)
    head, tail = envelope.split(json.dumps(_RESULTS), 1)
    out.write(head + "[")
    encode = json.JSONEncoder(ensure_ascii=False).encode
    chunk: list[dict[str, Any]] = []
    comma = ""
    for result in _results(index, comparison, rules):
        chunk.append(result)
        if len(chunk) >= RESULTS_PER_WRITE:
            out.write(comma + ",".join(evidence.redacted_json_each(chunk, encode)))
            comma = ","
            chunk.clear()
    if chunk:
        out.write(comma + ",".join(evidence.redacted_json_each(chunk, encode)))
    out.write("]" + tail + "\n")


def build(index: Index, comparison: Comparison) -> dict[str, Any]:
    """The SARIF log as one object (:func:`write` streams the same log)."""
    rules = _rules(index)
    return _envelope(index, [evidence.redact(r) for r in _results(index, comparison, rules)], rules)


def _rules(index: Index) -> list[Mapping[str, Any]]:
    rules = sorted(index.rules.values(), key=lambda r: str(r["id"]))
    used = {f["rule_id"] for f in index.doc["findings"]} - set(index.rules)
    return rules + [index.rule(rule_id) for rule_id in sorted(used)]


def _results(
    index: Index, comparison: Comparison, rules: list[Mapping[str, Any]]
) -> Iterator[dict[str, Any]]:
    rule_index = {str(r["id"]): i for i, r in enumerate(rules)}
    locations: dict[str, dict[str, Any]] = {}  # one per asset, shared by its results
    for finding in index.doc["findings"]:
        status = finding.get("status")
        if status not in (FAIL, WAIVED, ERROR):
            continue
        asset = index.assets[finding["asset_id"]]
        location = locations.get(asset["id"])
        if location is None:
            location = locations[asset["id"]] = _location(asset)
        severity = severity_of(finding.get("severity", ""))
        change = comparison.changes.get(finding["fingerprint"])
        result: dict[str, Any] = {
            "ruleId": str(finding["rule_id"]),
            "ruleIndex": rule_index[str(finding["rule_id"])],
            "kind": "open" if status == ERROR else "fail",
            "level": "none" if status == ERROR else LEVELS[severity],
            "message": {"text": str(finding.get("message") or finding["rule_id"])},
            "locations": [location],
            "partialFingerprints": {FINGERPRINT_KEY: str(finding["fingerprint"])},
            "properties": {
                "status": status,
                "severity": severity.value,
                "department": str(asset["department"]),
                "asset": str(asset["id"]),
                "address": asset.get("address"),
                "reason": finding.get("reason"),
                "firstSeen": finding.get("first_seen"),
                "change": change.value if change else None,
                "evidence": [
                    {
                        "check": c.get("check"),
                        "status": c.get("status"),
                        "evidence": c.get("evidence"),  # redacted as it is written
                    }
                    for c in finding.get("checks") or ()
                ],
            },
        }
        if change is not None:
            result["baselineState"] = "unchanged" if change is Change.STILL_FAILING else "new"
        waiver = finding.get("waiver")
        if status == WAIVED and waiver:
            result["suppressions"] = [
                {
                    "kind": "external",
                    "status": "accepted",
                    "justification": str(waiver.get("justification") or ""),
                    "properties": {
                        k: waiver.get(k)
                        for k in ("id", "state", "expires", "owner", "approver", "ticket")
                    },
                }
            ]
        yield result


def _envelope(index: Index, results: Any, rules: list[Mapping[str, Any]]) -> dict[str, Any]:
    run = index.run
    invocation: dict[str, Any] = {
        "executionSuccessful": run.get("status") == RunStatus.COMPLETE,
        "properties": {"status": run.get("status"), "inventoryDigest": run.get("inventory_digest")},
    }
    if run.get("exit_code") is not None:
        invocation["exitCode"] = run["exit_code"]
    for key, field in (("started", "startTimeUtc"), ("finished", "endTimeUtc")):
        moment = parse_time(run.get(key))
        if moment is not None and moment.tzinfo is not None:
            invocation[field] = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "civiscan",
                        "version": str(run.get("tool_version") or ""),
                        "rules": [_descriptor(r) for r in rules],
                    }
                },
                "automationDetails": {"id": f"civiscan/run/{run.get('id')}"},
                "invocations": [invocation],
                "results": results,
                "properties": {
                    "policies": run.get("policies") or [],
                    "departments": index.departments,
                },
            }
        ],
    }
