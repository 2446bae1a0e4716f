"""The ``civiscan/run`` document (docs/json.md), built from a run's stored records.

Pure: every store backend reads the same records and hands them here, so two
backends holding the same run give byte-identical documents. The published
JSON Schema of version 1 ships as ``scanner/data/run-v1.schema.json``.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import pkgdata
from .evaluate import waiver_report
from .models import Asset, CollectError
from .policy import RuleSet
from .secrets import clean_text, has_secret_marks, scrub

SCHEMA = "civiscan/run"
SCHEMA_VERSION = 1


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"


class AssetState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True)
class RunRecord:
    id: int
    started: dt.datetime
    finished: dt.datetime | None
    status: RunStatus
    exit_code: int | None
    tool_version: str
    ruleset: RuleSet
    inventory_digest: str | None
    settings: Mapping[str, Any]
    departments: Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class RunRecords:
    """Everything a store holds about one run, as the document needs it."""

    run: RunRecord
    assets: Sequence[Asset]
    states: Mapping[str, AssetState]
    facts: Mapping[str, tuple[Mapping[str, Any], Mapping[str, CollectError]]]
    findings: Iterable[Mapping[str, Any]]
    first_seen: Mapping[str, str]
    previous_run: int | None


def run_schema() -> dict[str, Any]:
    """The JSON Schema of ``civiscan/run`` version 1."""
    text = (pkgdata.files("scanner") / "data" / "run-v1.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _masked(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    """*finding* with its secrets masked when a message quotes one (a run stored by an
    older version: this version masks facts before judging, so messages never do)."""
    texts = [finding.get("message"), *(c.get("message") for c in finding.get("checks") or ())]
    if any(isinstance(t, str) and has_secret_marks(t) for t in texts):
        masked: Mapping[str, Any] = scrub(finding)
        return masked
    return finding


def build_document(records: RunRecords) -> dict[str, Any]:
    """The run as the versioned JSON document, without a secret (:mod:`scanner.secrets`)."""
    record, assets = records.run, records.assets
    findings = []
    counts = {"pass": 0, "fail": 0, "error": 0, "waived": 0, "not_applicable": 0}
    for stored in records.findings:
        f = {**_masked(stored), "first_seen": records.first_seen.get(stored["fingerprint"])}
        counts[f["status"]] = counts.get(f["status"], 0) + 1
        findings.append(f)
    asset_docs = []
    for a in assets:
        a_facts, a_errors = records.facts.get(a.id, ({}, {}))
        asset_docs.append(
            {
                "id": a.id,
                "name": a.name,
                "kind": a.kind.value,
                "department": a.department,
                "address": a.address,
                "url": clean_text(a.url) if a.url else a.url,
                "tags": list(a.tags),
                "state": records.states.get(a.id, AssetState.PENDING).value,
                "facts": dict(a_facts),
                "errors": {k: {**v.to_json(), "message": clean_text(v.message)} for k, v in a_errors.items()},
            }
        )
    assessed = sum(
        1 for d in asset_docs if d["state"] == AssetState.DONE and d["facts"] and not d["errors"]
    )
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": record.id,
            "started": record.started.isoformat(),
            "finished": record.finished.isoformat() if record.finished else None,
            "status": record.status.value,
            "tool_version": record.tool_version,
            "policies": [
                {k: p.to_json()[k] for k in ("id", "version", "title", "digest")}
                for p in record.ruleset.policies
            ],
            "inventory_digest": record.inventory_digest,
            "exit_code": record.exit_code,
            "previous_run": records.previous_run,
        },
        "departments": sorted({a.department for a in assets}),
        "department_titles": {d["name"]: d.get("title", "") for d in record.departments},
        "assets": asset_docs,
        "rules": [r.to_json() for r in record.ruleset.rules],
        "findings": findings,
        "waivers": waiver_report(record.ruleset, assets, record.started),
        "summary": {
            "assets": len(asset_docs),
            "assessed": assessed,
            "pending": sum(1 for d in asset_docs if d["state"] != AssetState.DONE),
            "findings": counts,
        },
    }
