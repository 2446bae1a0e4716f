"""The pure evaluator: rule verdicts, waivers (active, expired, stale), exit codes."""

from __future__ import annotations

import datetime as dt

import pytest

from scanner.errors import ExitCode
from scanner.evaluate import evaluate_asset, exit_code, waiver_report
from scanner.models import Asset, AssetKind, CollectError, ErrorReason, Severity, Status
from scanner.policy import load_policies

UTC = dt.UTC
POLICY = """
policy: {id: p, version: "1", title: t}
rules:
  - id: small
    title: Value is small
    severity: high
    checks: [{check: fake.value, options: {maximum: 5}}]
  - id: hosts-only
    title: Hosts only
    severity: low
    applies_to: {kinds: [host], tags: [db]}
    checks: [{check: fake.hostonly}]
waivers:
  - {id: W-active, rule: small, assets: {ids: [parks/a]}, justification: j, owner: o, approver: a, ticket: T-1, expires: 2026-12-31}
  - {id: W-expired, rule: small, assets: {ids: [parks/b]}, justification: j, owner: o, approver: a, ticket: T-2, expires: 2026-01-31}
  - {id: W-stale, rule: small, assets: {ids: [parks/gone]}, justification: j, owner: o, approver: a, ticket: T-3, expires: 2026-12-31}
  - {id: W-norule, rule: no-such-rule, assets: {ids: [parks/a]}, justification: j, owner: o, approver: a, ticket: T-4, expires: 2026-12-31}
"""
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)


def host(name: str, tags: tuple[str, ...] = ()) -> Asset:
    return Asset(id=f"parks/{name}", name=name, kind=AssetKind.HOST, department="parks", address="127.0.0.1", tags=tags)


@pytest.fixture
def ruleset(write, registry):
    return load_policies([write("p.yaml", POLICY)], registry)


def verdicts(ruleset, registry, asset, facts, errors=None, now=NOW):
    found = evaluate_asset(asset, {"fake": facts} if facts is not None else {}, errors or {}, ruleset, registry.checks, now)
    return {f.rule_id: f for f in found}


def test_pass_and_fail_carry_evidence(ruleset, registry):
    ok = verdicts(ruleset, registry, host("c"), {"value": 3})["small"]
    bad = verdicts(ruleset, registry, host("c"), {"value": 9})["small"]
    assert ok.status is Status.PASS
    assert bad.status is Status.FAIL and bad.checks[0].evidence == {"value": 9}
    assert "9 is above 5" in bad.message


def test_rule_not_matching_tags_is_not_applicable(ruleset, registry):
    assert verdicts(ruleset, registry, host("c"), {"value": 1})["hosts-only"].status is Status.NOT_APPLICABLE
    assert verdicts(ruleset, registry, host("c", ("db",)), {"value": 1})["hosts-only"].status is Status.PASS


def test_collection_error_becomes_error_with_reason(ruleset, registry):
    f = verdicts(ruleset, registry, host("c"), None, {"fake": CollectError(ErrorReason.TIMEOUT, "no answer")})["small"]
    assert f.status is Status.ERROR and f.reason is ErrorReason.TIMEOUT
    assert "no answer" in f.message


def test_crashing_check_is_an_error_not_a_crash(ruleset, registry):
    f = verdicts(ruleset, registry, host("c"), {"unexpected": True})["small"]
    assert f.status is Status.ERROR and f.reason is ErrorReason.BUG


def test_active_waiver_waives_failure_with_expiry(ruleset, registry):
    f = verdicts(ruleset, registry, host("a"), {"value": 9})["small"]
    assert f.status is Status.WAIVED
    assert f.waiver["state"] == "active" and f.waiver["expires"] == "2026-12-31"
    assert "Waived until 2026-12-31" in f.message


def test_waiver_covers_its_whole_last_day_in_utc(ruleset, registry):
    last_moment = dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    next_day = dt.datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)
    assert verdicts(ruleset, registry, host("a"), {"value": 9}, now=last_moment)["small"].status is Status.WAIVED
    assert verdicts(ruleset, registry, host("a"), {"value": 9}, now=next_day)["small"].status is Status.FAIL


def test_expired_waiver_no_longer_applies_and_says_so(ruleset, registry):
    f = verdicts(ruleset, registry, host("b"), {"value": 9})["small"]
    assert f.status is Status.FAIL
    assert f.waiver["state"] == "expired"
    assert "expired on 2026-01-31" in f.message


def test_waiver_does_not_touch_passing_findings(ruleset, registry):
    f = verdicts(ruleset, registry, host("a"), {"value": 1})["small"]
    assert f.status is Status.PASS and f.waiver is None


def test_waiver_report_states(ruleset):
    report = {w["id"]: w for w in waiver_report(ruleset, [host("a"), host("b")], NOW)}
    assert report["W-active"]["state"] == "active" and report["W-active"]["matched"] == 1
    assert report["W-expired"]["state"] == "expired"
    assert report["W-stale"]["state"] == "stale" and report["W-stale"]["matched"] == 0
    assert report["W-norule"]["state"] == "stale" and "no rule" in report["W-norule"]["note"]


EXIT = {
    "compliant": ([("pass", "high")], "low", ExitCode.COMPLIANT),
    "failure": ([("fail", "low")], "low", ExitCode.FAILURES),
    "below-threshold": ([("fail", "low")], "high", ExitCode.COMPLIANT),
    "waived-never-fails": ([("waived", "critical")], "low", ExitCode.COMPLIANT),
    "error-only": ([("pass", "low"), ("error", "high")], "low", ExitCode.INCOMPLETE),
    "failure-beats-error": ([("fail", "high"), ("error", "high")], "low", ExitCode.FAILURES),
    "error-and-low-failure-below-threshold": ([("fail", "low"), ("error", "high")], "high", ExitCode.INCOMPLETE),
}


@pytest.mark.parametrize("rows,fail_on,expected", EXIT.values(), ids=EXIT.keys())
def test_exit_code(rows, fail_on, expected):
    findings = [{"status": s, "severity": sev} for s, sev in rows]
    assert exit_code(findings, Severity(fail_on)) is expected


def test_interrupted_exit_code():
    assert exit_code([], Severity.LOW, interrupted=True) is ExitCode.INTERRUPTED


def test_a_web_check_is_not_applicable_to_a_starttls_endpoint_even_when_its_plugin_erred():
    from scanner.evaluate import _run_check
    from scanner.models import Asset, AssetKind, CollectError, ErrorReason, Status
    from scanner.plugins.http.checks import HSTS

    mail = Asset(id="it/mail", name="mail", kind=AssetKind.ENDPOINT, department="it", url="smtp://mail.city.example:25")
    web = Asset(id="it/www", name="www", kind=AssetKind.ENDPOINT, department="it", url="https://www.city.example/")
    errors = {"http": CollectError(ErrorReason.NOT_SUPPORTED, "unsupported URL scheme 'smtp'")}
    result = _run_check(HSTS.id, {}, mail, {}, errors, {HSTS.id: HSTS})
    assert result.status is Status.NOT_APPLICABLE
    assert result.message == "http.hsts does not apply to a smtp:// endpoint."
    assert _run_check(HSTS.id, {}, web, {}, errors, {HSTS.id: HSTS}).status is Status.ERROR
