"""Baselines: the failures a CI pipeline already knows about, so that only new ones fail it.

A baseline is a set of finding fingerprints (docs/json.md: a fingerprint names
one rule on one asset, stable across runs). ``civiscan scan --baseline REF``
gates the exit code on the failures *not* in it, the convention of Trivy's
``.trivyignore`` and Checkov's ``--baseline``: adopting civiscan on a legacy
estate does not mean fixing everything before the first green build, and a
regression still fails.

REF is a stored run (its failing findings are the baseline) or a file: either
a baseline file written by ``civiscan baseline write`` (schema
``civiscan/baseline`` version 1) or a run document (``civiscan show RUN -f
json``). Everything here is pure: reading a file's text, judging findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, ExitCode, Position
from .evaluate import exit_code
from .models import Severity, Status

SCHEMA = "civiscan/baseline"
VERSION = 1
MAX_BYTES = 64 * 1024 * 1024
"""A baseline file larger than this is refused (a city's 200,000 failures take about 20 MB)."""


@dataclass(frozen=True)
class Baseline:
    """Known failures, by fingerprint, and where they came from (for messages)."""

    fingerprints: frozenset[str]
    source: str

    def forgives(self, finding: Mapping[str, Any]) -> bool:
        """A failure the baseline knows (an error is never forgiven)."""
        return finding.get("status") == Status.FAIL.value and finding.get("fingerprint") in self.fingerprints


def from_document(doc: Mapping[str, Any], source: str) -> Baseline:
    """The failing findings of a run document."""
    return Baseline(frozenset(f["fingerprint"] for f in doc.get("findings", ()) if f.get("status") == "fail"), source)


def document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The baseline file of a run document: its failing findings, sorted, each with what it names."""
    entries = sorted(
        ({"fingerprint": f["fingerprint"], "asset": f["asset_id"], "rule": f["rule_id"], "severity": f["severity"]}
         for f in doc.get("findings", ()) if f.get("status") == "fail"),
        key=lambda e: (e["asset"], e["rule"], e["fingerprint"]),
    )
    return {
        "schema": SCHEMA,
        "schema_version": VERSION,
        "run": doc["run"]["id"],
        "created_from": doc["run"].get("started"),
        "findings": entries,
    }


def parse(text: str, path: str) -> Baseline:
    """A baseline file's or run document's text; :class:`ConfigError` with ``path:line:col`` otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError.at(Position(path, exc.lineno, exc.colno), f"not valid JSON: {exc.msg}") from None
    where = Position(path, 1, 1)
    if not isinstance(data, dict):
        raise ConfigError.at(where, "a baseline must be a JSON object (civiscan/baseline or civiscan/run)")
    schema = data.get("schema")
    if schema == "civiscan/run" and isinstance(data.get("findings"), list):
        if not all(isinstance(f, dict) and isinstance(f.get("fingerprint"), str) for f in data["findings"]):
            raise ConfigError.at(where, "every finding of the run document needs a string 'fingerprint'")
        return from_document(data, path)
    if schema != SCHEMA:
        raise ConfigError.at(where, f"unknown baseline schema {schema!r}: expected {SCHEMA!r} "
                                    "(civiscan baseline write) or 'civiscan/run' (civiscan show RUN -f json)")
    if data.get("schema_version") != VERSION:
        raise ConfigError.at(where, f"unsupported {SCHEMA} version {data.get('schema_version')!r}; "
                                    f"this civiscan reads version {VERSION}")
    entries = data.get("findings")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in entries
    ):
        raise ConfigError.at(where, "'findings' must be a list of objects, each with a string 'fingerprint'")
    return Baseline(frozenset(e["fingerprint"] for e in entries), path)


def new_failures(findings: Iterable[Mapping[str, Any]], baseline: Baseline) -> list[Mapping[str, Any]]:
    """The failing findings the baseline does not know."""
    return [f for f in findings if f.get("status") == Status.FAIL.value and not baseline.forgives(f)]


def gate(code: ExitCode, findings: Iterable[Mapping[str, Any]], fail_on: Severity, baseline: Baseline) -> ExitCode:
    """The exit code of a run whose verdict was ``code``, with the baseline's failures forgiven.

    Only a verdict (0, 1, 3) is re-judged; an interrupted run, an internal or
    an output error keeps its code. A known failure is forgiven, an error
    (not assessed) never is.
    """
    if code not in (ExitCode.COMPLIANT, ExitCode.FAILURES, ExitCode.INCOMPLETE):
        return code
    return exit_code((f for f in findings if not baseline.forgives(f)), fail_on)
