"""The evaluator: facts + rules + waivers -> findings. No I/O of its own, no clock.

``now`` is always passed in (the run's start time), so evaluating stored facts
again gives the same answer tomorrow. A check that declares datasets
(``Check.datasets``, e.g. the advisory feeds) is lent them from ``datasets``
(a store, or a :class:`~scanner.plugin.Snapshot` of one): its verdict follows
the data as it is at evaluation time, which is the point of re-evaluating.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ExitCode
from .models import (
    Asset,
    CollectError,
    ErrorReason,
    Outcome,
    Reason,
    Severity,
    Status,
    fingerprint,
)
from .plugin import Check, DatasetProvider, lend
from .policy import Rule, RuleSet, Waiver


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: Status
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    reason: Reason | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status.value,
            "message": self.message,
            "evidence": dict(self.evidence),
            "reason": self.reason.value if self.reason else None,
        }


@dataclass(frozen=True)
class Finding:
    """The verdict of one rule on one asset."""

    asset_id: str
    rule_id: str
    status: Status
    severity: Severity
    message: str
    checks: tuple[CheckResult, ...] = ()
    reason: Reason | None = None
    waiver: Mapping[str, Any] | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.asset_id, self.rule_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "asset_id": self.asset_id,
            "rule_id": self.rule_id,
            "status": self.status.value,
            "severity": self.severity.value,
            "message": self.message,
            "reason": self.reason.value if self.reason else None,
            "checks": [c.to_json() for c in self.checks],
            "waiver": dict(self.waiver) if self.waiver else None,
        }


def evaluate_asset(
    asset: Asset,
    facts: Mapping[str, Mapping[str, Any]],
    errors: Mapping[str, CollectError],
    ruleset: RuleSet,
    checks: Mapping[str, Check],
    now: dt.datetime,
    datasets: DatasetProvider | None = None,
) -> list[Finding]:
    """Judge every rule of ``ruleset`` on one asset; ``datasets`` lends checks their data."""
    findings = []
    for rule in ruleset.rules:
        if not rule.applies_to.matches(asset):
            findings.append(
                Finding(asset.id, rule.id, Status.NOT_APPLICABLE, rule.severity, _not_applicable(rule, asset))
            )
            continue
        results = tuple(
            _run_check(use.check_id, use.options, asset, facts, errors, checks, datasets) for use in rule.checks
        )
        findings.append(_apply_waivers(_combine(asset, rule, results), asset, ruleset.waivers, now))
    return findings


def _not_applicable(rule: Rule, asset: Asset) -> str:
    return f"Rule applies to {_describe(rule)}; {asset.name} is a {asset.kind.value}" + (
        f" tagged {', '.join(asset.tags)}" if asset.tags else ""
    ) + f" in {asset.department}."


def _describe(rule: Rule) -> str:
    parts = []
    if rule.applies_to.kinds:
        parts.append(" and ".join(sorted(k.value + "s" for k in rule.applies_to.kinds)))
    if rule.applies_to.tags:
        parts.append("tagged " + " or ".join(sorted(rule.applies_to.tags)))
    if rule.applies_to.departments:
        parts.append("in " + " or ".join(sorted(rule.applies_to.departments)))
    return " ".join(parts) or "all assets"


def _run_check(
    check_id: str,
    options: Mapping[str, Any],
    asset: Asset,
    facts: Mapping[str, Mapping[str, Any]],
    errors: Mapping[str, CollectError],
    checks: Mapping[str, Check],
    datasets: DatasetProvider | None = None,
) -> CheckResult:
    spec = checks.get(check_id)
    if spec is None:
        return CheckResult(check_id, Status.ERROR, f"Check {check_id} is not available (plugin not loaded).", reason=ErrorReason.NOT_SUPPORTED)
    if (why := spec.refusal(asset)) is not None:
        return CheckResult(check_id, Status.NOT_APPLICABLE, why)
    plugin = spec.plugin_name
    if plugin in errors:
        err = errors[plugin]
        return CheckResult(check_id, Status.ERROR, f"Could not assess: {err.message}", reason=err.reason)
    plugin_facts = facts.get(plugin)
    if plugin_facts is None:
        return CheckResult(check_id, Status.ERROR, f"No {plugin} facts were collected for this asset.", reason=ErrorReason.NO_DATA)
    try:
        if spec.datasets:
            outcome = spec.evaluate(plugin_facts, options, lend(spec, datasets))
        else:
            outcome = spec.evaluate(plugin_facts, options)
    except Exception as exc:
        return CheckResult(check_id, Status.ERROR, f"Check {check_id} failed internally: {type(exc).__name__}: {exc}", reason=ErrorReason.BUG)
    if not isinstance(outcome, Outcome):
        return CheckResult(check_id, Status.ERROR, f"Check {check_id} returned {type(outcome).__name__}, not an Outcome", reason=ErrorReason.BUG)
    reason = outcome.reason
    if outcome.status is Status.ERROR and reason is None:
        reason = ErrorReason.NO_DATA
    return CheckResult(check_id, outcome.status, outcome.message, outcome.evidence, reason)


_ORDER = [Status.FAIL, Status.ERROR, Status.PASS, Status.NOT_APPLICABLE]


def _combine(asset: Asset, rule: Rule, results: Sequence[CheckResult]) -> Finding:
    """A rule fails if any check fails; else errs if any errs; n/a only if all are n/a."""
    status = Status.NOT_APPLICABLE
    for candidate in _ORDER:
        if any(r.status is candidate for r in results):
            status = candidate
            break
    deciding = [r for r in results if r.status is status]
    message = " ".join(r.message for r in deciding) or rule.title
    reason = next((r.reason for r in deciding if r.reason), None) if status is Status.ERROR else None
    return Finding(asset.id, rule.id, status, rule.severity, message, tuple(results), reason)


def _apply_waivers(finding: Finding, asset: Asset, waivers: Iterable[Waiver], now: dt.datetime) -> Finding:
    matching = [w for w in waivers if w.rule == finding.rule_id and w.assets.matches(asset)]
    if not matching or finding.status is not Status.FAIL:
        return finding
    active = [w for w in matching if w.active_at(now)]
    if active:
        waiver = max(active, key=lambda w: w.ends)
        return Finding(
            finding.asset_id,
            finding.rule_id,
            Status.WAIVED,
            finding.severity,
            f"{finding.message} Waived until {waiver.expires} ({waiver.ticket}).",
            finding.checks,
            None,
            waiver_json(waiver, "active"),
        )
    waiver = max(matching, key=lambda w: w.ends)
    return Finding(
        finding.asset_id,
        finding.rule_id,
        finding.status,
        finding.severity,
        f"{finding.message} Waiver {waiver.id} expired on {waiver.expires} and no longer applies.",
        finding.checks,
        finding.reason,
        waiver_json(waiver, "expired"),
    )


def waiver_json(waiver: Waiver, state: str) -> dict[str, Any]:
    return {
        "id": waiver.id,
        "state": state,
        "expires": waiver.expires,
        "ends": waiver.ends.isoformat(),
        "justification": waiver.justification,
        "owner": waiver.owner,
        "approver": waiver.approver,
        "ticket": waiver.ticket,
    }


def waiver_report(ruleset: RuleSet, assets: Iterable[Asset], now: dt.datetime) -> list[dict[str, Any]]:
    """Every waiver with its state: active, expired, or stale (matches no rule x asset pair)."""
    assets = list(assets)
    rules = {r.id: r for r in ruleset.rules}
    report = []
    for waiver in ruleset.waivers:
        rule = rules.get(waiver.rule)
        matched = 0
        if rule is not None:
            matched = sum(1 for a in assets if rule.applies_to.matches(a) and waiver.assets.matches(a))
        if matched == 0:
            state = "stale"
        else:
            state = "active" if waiver.active_at(now) else "expired"
        entry = waiver_json(waiver, state)
        entry.update({"rule": waiver.rule, "assets": waiver.assets.to_json(), "matched": matched, "policy": waiver.policy})
        if rule is None:
            entry["note"] = f"no rule '{waiver.rule}' in the applied policies"
        report.append(entry)
    return report


def exit_code(findings: Iterable[Finding | Mapping[str, Any]], fail_on: Severity, interrupted: bool = False) -> ExitCode:
    """0 compliant; 1 failures at or above ``fail_on``; 3 some not assessed and no failure."""
    if interrupted:
        return ExitCode.INTERRUPTED
    failing = False
    incomplete = False
    for f in findings:
        status = f.status if isinstance(f, Finding) else Status(f["status"])
        severity = f.severity if isinstance(f, Finding) else Severity(f["severity"])
        if status is Status.FAIL and severity.rank >= fail_on.rank:
            failing = True
        elif status is Status.ERROR:
            incomplete = True
    if failing:
        return ExitCode.FAILURES
    if incomplete:
        return ExitCode.INCOMPLETE
    return ExitCode.COMPLIANT


def scope_error_findings(asset: Asset, ruleset: RuleSet, reason: Reason, message: str) -> list[Finding]:
    """Every applicable rule errs with the same reason: the asset could not be assessed at all."""
    out = []
    for rule in ruleset.rules:
        if rule.applies_to.matches(asset):
            out.append(Finding(asset.id, rule.id, Status.ERROR, rule.severity, message, (), reason))
        else:
            out.append(Finding(asset.id, rule.id, Status.NOT_APPLICABLE, rule.severity, _not_applicable(rule, asset)))
    return out
