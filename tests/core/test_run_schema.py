"""The published JSON Schema of civiscan/run v1 and the pure builder of the document."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from scanner.engine import ScanSettings, scan_assets
from scanner.inventory import parse_scope_args
from scanner.models import Asset, AssetKind, CollectError, ErrorReason, Severity
from scanner.policy import load_policies
from scanner.rundoc import AssetState, RunRecord, RunRecords, RunStatus, build_document, run_schema
from scanner.scan import Plan, execute, finish, reevaluate, start
from scanner.store import Store

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
POLICY = """
policy: {id: p, version: "1", title: t}
rules:
  - {id: small, title: Value is small, severity: high, checks: [{check: fake.value, options: {maximum: 5}}]}
waivers:
  - {id: W-active, rule: small, assets: {ids: [d/b]}, justification: j, owner: o, approver: a, ticket: T-1, expires: 2026-12-31}
  - {id: W-expired, rule: small, assets: {ids: [d/c]}, justification: j, owner: o, approver: a, ticket: T-2, expires: 2026-01-31}
  - {id: W-stale, rule: small, assets: {ids: [d/gone]}, justification: j, owner: o, approver: a, ticket: T-3, expires: 2026-12-31}
"""


def host(name: str, address: str = "127.0.0.1") -> Asset:
    return Asset(id=f"d/{name}", name=name, kind=AssetKind.HOST, department="d", address=address)


def validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(run_schema(), format_checker=jsonschema.FormatChecker()).validate(doc)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    location = tmp_path / "c.db" if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    with Store(location) as s:
        yield s


@pytest.fixture
def ruleset(write, registry):
    return load_policies([write("p.yaml", POLICY)], registry)


def _complete_with_errors(store, ruleset, registry, fake_plugin) -> int:
    fake_plugin.values, fake_plugin.broken = {"a": 1, "b": 9, "c": 9}, {"e"}
    assets = (host("a"), host("b"), host("c"), host("e"), host("x", address="192.0.2.1"))
    spec = start(store, Plan(assets, ruleset, parse_scope_args(["127.0.0.0/8"])), registry, ScanSettings(timeout=1), now=NOW)
    execute(spec)
    return spec.run_id


def _interrupted_with_pending(store, ruleset, registry, fake_plugin) -> int:
    spec = start(store, Plan((host("a"), host("b")), ruleset, parse_scope_args(["127.0.0.0/8"])), registry, ScanSettings(timeout=1), now=NOW)
    asyncio.run(scan_assets(replace(spec, assets=spec.assets[:1])))
    finish(store, spec.run_id, Severity.LOW, interrupted=True)
    return spec.run_id


def _reevaluated(store, ruleset, registry, fake_plugin) -> int:
    source = _complete_with_errors(store, ruleset, registry, fake_plugin)
    new, _code = reevaluate(store, source, ruleset, registry, Severity.LOW)
    return new


RUNS = [_complete_with_errors, _interrupted_with_pending, _reevaluated]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(run_schema())


@pytest.mark.parametrize("make", RUNS, ids=["complete-errors-waivers", "interrupted-pending", "reevaluated"])
def test_stored_runs_match_the_schema(store, ruleset, registry, fake_plugin, make) -> None:
    doc = store.document(make(store, ruleset, registry, fake_plugin))
    validate(doc)


def test_the_complete_run_covers_errors_and_every_waiver_state(store, ruleset, registry, fake_plugin) -> None:
    doc = store.document(_complete_with_errors(store, ruleset, registry, fake_plugin))
    assert {f["status"] for f in doc["findings"]} == {"pass", "fail", "waived", "error"}
    assert {w["state"] for w in doc["waivers"]} == {"active", "expired", "stale"}


@pytest.mark.parametrize(
    ("path", "value"),
    [(("run", "status"), "done"), (("assets", 0, "state"), "scanned"), (("findings", 0, "reason"), "Timeout!")],
    ids=["run-status", "asset-state", "error-reason"],
)
def test_the_schema_refuses_values_outside_the_contract(store, ruleset, registry, fake_plugin, path, value) -> None:
    doc = store.document(_complete_with_errors(store, ruleset, registry, fake_plugin))
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(doc)


def test_the_builder_needs_no_store(ruleset) -> None:
    record = RunRecord(
        id=3, started=NOW, finished=None, status=RunStatus.RUNNING, exit_code=None, tool_version="0",
        ruleset=ruleset, inventory_digest=None, settings={}, departments=[{"name": "d", "title": "Dept"}],
    )
    doc = build_document(RunRecords(
        run=record,
        assets=[host("a"), host("b")],
        states={"d/a": AssetState.DONE},
        facts={"d/a": ({}, {"fake": CollectError(ErrorReason.TIMEOUT, "slow")})},
        findings=[],
        first_seen={},
        previous_run=None,
    ))
    validate(doc)
    assert [a["state"] for a in doc["assets"]] == ["done", "pending"]
    assert doc["summary"] == {"assets": 2, "assessed": 0, "pending": 1,
                              "findings": {"pass": 0, "fail": 0, "error": 0, "waived": 0, "not_applicable": 0}}
    assert doc["department_titles"] == {"d": "Dept"}
