"""remediation_sla in the policy language: defaults, validation with positions, merging."""

from __future__ import annotations

import pytest

from scanner.errors import ConfigError
from scanner.policy import DEFAULT_REMEDIATION_SLA, RuleSet, load_policies

HEAD = 'policy: {id: p, version: "1", title: t}\nrules:\n  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n'


def sla_of(write, registry, *files: tuple[str, str]) -> dict[str, int]:
    paths = [write(name, text) for name, text in files]
    return dict(load_policies(paths[-1:] if len(paths) == 1 else paths, registry).remediation_sla)


def test_without_remediation_sla_the_defaults_apply(write, registry):
    assert sla_of(write, registry, ("p.yaml", HEAD)) == {"critical": 7, "high": 30, "medium": 90, "low": 180}


def test_given_days_replace_the_defaults_per_severity(write, registry):
    sla = sla_of(write, registry, ("p.yaml", HEAD + "remediation_sla: {critical: 3d, info: 365d}\n"))
    assert sla == {**DEFAULT_REMEDIATION_SLA, "critical": 3, "info": 365}


BAD = {
    "no-unit": ("remediation_sla: {high: 30}\n", "p.yaml:4:25: 'high' of 'remediation_sla' must be a number of days from 1d to 3650d (like 30d), got '30'"),
    "weeks": ("remediation_sla: {high: 4w}\n", "p.yaml:4:25: 'high' of 'remediation_sla' must be a number of days"),
    "zero": ("remediation_sla: {low: 0d}\n", "p.yaml:4:24: 'low' of 'remediation_sla' must be a number of days"),
    "too-long": ("remediation_sla: {low: 9999d}\n", "p.yaml:4:24: 'low' of 'remediation_sla' must be a number of days"),
    "unknown-severity": ("remediation_sla: {hihg: 3d}\n", "p.yaml:4:19: unknown key 'hihg' in 'remediation_sla' (did you mean 'high'?)"),
    "not-a-mapping": ("remediation_sla: [7d]\n", "p.yaml:4:18: 'remediation_sla' must be a mapping (key: value), got a list"),
}


@pytest.mark.parametrize(("text", "expected"), BAD.values(), ids=BAD.keys())
def test_bad_remediation_sla_is_reported_at_its_position(write, registry, text, expected):
    with pytest.raises(ConfigError) as info:
        load_policies([write("p.yaml", HEAD + text)], registry)
    assert any(expected in str(p) for p in info.value.problems), [str(p) for p in info.value.problems]


def test_an_extending_policy_overrides_inherited_days_and_keeps_the_rest(write, registry):
    base = ("base.yaml", HEAD.replace("id: p,", "id: base,") + "remediation_sla: {critical: 2d, high: 10d}\n")
    child = ("child.yaml", 'policy: {id: child, version: "1", title: c}\nextends: [base.yaml]\nremediation_sla: {high: 20d}\n')
    write(*base)
    sla = sla_of(write, registry, child)
    assert (sla["critical"], sla["high"], sla["medium"]) == (2, 20, 90)


def test_policies_side_by_side_keep_the_shorter_deadline(write, registry):
    a = ("a.yaml", HEAD.replace("id: p,", "id: a,") + "remediation_sla: {high: 10d, low: 400d}\n")
    b = ("b.yaml", HEAD.replace("id: p,", "id: b,").replace("id: r,", "id: r2,") + "remediation_sla: {high: 20d, low: 300d}\n")
    sla = sla_of(write, registry, a, b)
    assert (sla["high"], sla["low"]) == (10, 300)


def test_a_stored_rule_set_without_deadlines_reads_back_with_the_defaults(write, registry):
    stored = load_policies([write("p.yaml", HEAD)], registry).to_json()
    del stored["remediation_sla"]  # as runs stored before deadlines existed hold it
    assert dict(RuleSet.from_json(stored).remediation_sla) == DEFAULT_REMEDIATION_SLA
