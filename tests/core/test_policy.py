"""The policy language: loading, extends, validation errors with positions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.models import AssetKind, Severity
from scanner.policy import load_policies

GOOD = """
policy: {id: p1, version: "1", title: Test policy}
rules:
  - id: small-value
    title: Value must be small
    severity: high
    rationale: Big values hurt.
    remediation: Make it smaller.
    applies_to: {kinds: [host], tags: [web]}
    references: {nist-800-53: [SC-8, SC-13]}
    checks:
      - check: fake.value
        options: {maximum: 3}
waivers:
  - id: W-1
    rule: small-value
    assets: {ids: [parks/db]}
    justification: Vendor appliance, replacement ordered.
    owner: parks-it
    approver: ciso
    ticket: SEC-1
    expires: 2026-12-31
"""


def test_good_policy_loads_with_defaults_filled(write, registry):
    rs = load_policies([write("p.yaml", GOOD)], registry)
    (rule,) = rs.rules
    assert rule.severity is Severity.HIGH
    assert rule.checks[0].options == {"maximum": 3, "mode": "strict"}
    assert rule.applies_to.kinds == {AssetKind.HOST}
    assert rule.references == {"nist-800-53": ("SC-8", "SC-13")}
    (waiver,) = rs.waivers
    assert waiver.ends == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def test_rule_without_kinds_applies_to_its_checks_kinds(write, registry):
    text = """
    policy: {id: p, version: "1", title: t}
    rules:
      - {id: r, title: t, severity: low, checks: [{check: fake.hostonly}]}
    """
    (rule,) = load_policies([write("p.yaml", text)], registry).rules
    assert rule.applies_to.kinds == {AssetKind.HOST}


def problems(write, registry, text, name="p.yaml"):
    return problems_of(write(name, text), registry)


def problems_of(path, registry):
    with pytest.raises(ConfigError) as info:
        load_policies([path], registry)
    return [f"{Path(p.where.path).name}:{p.where.line}:{p.where.col}: {p.message}" for p in info.value.problems]


BAD_CASES = {
    "yaml-syntax": ("policy: {id: p\nrules: [", "p.yaml:2:6: YAML syntax error: expected ',' or '}', but got ':'"),
    "unknown-top-key": (
        'policy: {id: p, version: "1", title: t}\nrulez: []\n',
        "p.yaml:2:1: unknown key 'rulez' in the policy file (did you mean 'rules'?)",
    ),
    "unknown-option": (
        'policy: {id: p, version: "1", title: t}\nrules:\n  - id: r\n    title: t\n    severity: low\n'
        "    checks:\n      - check: fake.value\n        options: {maximun: 3}\n",
        "p.yaml:8:19: unknown option 'maximun' for check fake.value (did you mean 'maximum'?) (options: maximum, mode)",
    ),
    "wrong-type": (
        'policy: {id: p, version: "1", title: t}\nrules:\n  - id: r\n    title: t\n    severity: low\n'
        "    checks:\n      - check: fake.value\n        options: {maximum: lots}\n",
        "p.yaml:8:28: option 'maximum' of check fake.value: expected an integer, got str 'lots'",
    ),
    "bad-choice": (
        'policy: {id: p, version: "1", title: t}\nrules:\n  - id: r\n    title: t\n    severity: low\n'
        "    checks:\n      - check: fake.value\n        options: {mode: strikt}\n",
        "p.yaml:8:25: option 'mode' of check fake.value: 'strikt' is not one of: strict, lenient (did you mean 'strict'?)",
    ),
    "below-minimum": (
        'policy: {id: p, version: "1", title: t}\nrules:\n  - id: r\n    title: t\n    severity: low\n'
        "    checks:\n      - check: fake.value\n        options: {maximum: -1}\n",
        "p.yaml:8:28: option 'maximum' of check fake.value: -1 is below the minimum 0",
    ),
    "unknown-check": (
        'policy: {id: p, version: "1", title: t}\nrules:\n  - id: r\n    title: t\n    severity: low\n'
        "    checks:\n      - check: fake.valeu\n",
        "p.yaml:7:16: unknown check 'fake.valeu' (did you mean 'fake.value'?) (civiscan checks lists them)",
    ),
    "bad-severity": (
        'policy: {id: p, version: "1", title: t}\nrules:\n  - id: r\n    title: t\n    severity: hgih\n'
        "    checks: [{check: fake.value}]\n",
        "p.yaml:5:15: 'severity' of rule 'r' must be one of critical, high, medium, low, info, got 'hgih' (did you mean 'high'?)",
    ),
    "duplicate-rule": (
        'policy: {id: p, version: "1", title: t}\nrules:\n'
        "  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n"
        "  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n",
        "p.yaml:4:5: duplicate rule id 'r'",
    ),
    "duplicate-key": (
        'policy: {id: p, version: "1", title: t}\nrules: []\nrules: []\n',
        "p.yaml:3:1: duplicate key 'rules' (first at line 2)",
    ),
    "invalid-date": (
        'policy: {id: p, version: "1", title: t}\nrules:\n'
        "  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n"
        "waivers:\n  - {id: w, rule: r, assets: {ids: [a]}, justification: j, owner: o, approver: a,"
        " ticket: T, expires: 2026-13-45}\n",
        "p.yaml:5:103: invalid date '2026-13-45' (expected YYYY-MM-DD)",
    ),
    "naive-timestamp": (
        'policy: {id: p, version: "1", title: t}\nrules:\n'
        "  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n"
        "waivers:\n  - {id: w, rule: r, assets: {ids: [a]}, justification: j, owner: o, approver: a,"
        " ticket: T, expires: '2026-12-31T10:00:00'}\n",
        "p.yaml:5:103: timestamp '2026-12-31T10:00:00' needs an explicit UTC offset",
    ),
    "missing-waiver-fields": (
        'policy: {id: p, version: "1", title: t}\nrules:\n'
        "  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n"
        "waivers:\n  - {id: w, rule: r, assets: {ids: [a]}, expires: 2026-12-31}\n",
        "p.yaml:5:5: a waiver needs 'approver'",
    ),
    "kind-mismatch": (
        'policy: {id: p, version: "1", title: t}\nrules:\n  - id: r\n    title: t\n    severity: low\n'
        "    applies_to: {kinds: [endpoint]}\n    checks: [{check: fake.hostonly}]\n",
        "p.yaml:7:22: check fake.hostonly works on host, but rule 'r' applies only to endpoint",
    ),
    "empty-file": ("\n# nothing here\n", "p.yaml:1:1: file is empty"),
    "binary": (b"\x7fELF\x02\x01\x00\x00garbage", "p.yaml:1:1: binary data (NUL byte), not a YAML text file"),
    "not-utf8": (b"policy:\n  title: caf\xe9\n", "p.yaml:2:13: not valid UTF-8 (byte 0xe9)"),
    "not-a-mapping": ("- just\n- a list\n", "p.yaml:1:1: not a civiscan policy: the top level must be a mapping with 'policy' or 'rules'"),
}


@pytest.mark.parametrize("text,expected", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_bad_policy_reports_position_and_reason(write, registry, text, expected):
    assert expected in problems(write, registry, text)


def test_all_problems_of_a_file_are_reported_at_once(write, registry):
    text = (
        'policy: {id: p, version: "1", title: t}\nrules:\n'
        "  - {id: a, title: t, severity: hgih, checks: [{check: fake.value}]}\n"
        "  - {id: b, title: t, severity: low, checks: [{check: nope.nope}]}\n"
    )
    found = problems(write, registry, text)
    assert len(found) == 2


def test_rule_without_severity_is_reported_once_with_its_position(write, registry):
    text = (
        'policy: {id: p, version: "1", title: t}\nrules:\n'
        "  - id: r\n    title: t\n    checks: [{check: fake.value}]\n"
    )
    assert problems(write, registry, text) == [
        "p.yaml:3:5: rule 'r' needs 'severity' (one of: critical, high, medium, low, info)"
    ]


def test_extends_merges_and_overrides(write, registry):
    write("base.yaml", """
        policy: {id: base, version: "1", title: base}
        rules:
          - {id: a, title: A, severity: low, checks: [{check: fake.value}]}
          - {id: b, title: B, severity: low, checks: [{check: fake.value}]}
          - {id: c, title: C, severity: low, checks: [{check: fake.value}]}
        """)
    child = write("child.yaml", """
        policy: {id: child, version: "1", title: child}
        extends: [base.yaml]
        exclude_rules: [c]
        rules:
          - {id: b, title: B tailored, severity: high, checks: [{check: fake.value, options: {maximum: 1}}]}
        """)
    rules = {r.id: r for r in load_policies([child], registry).rules}
    assert sorted(rules) == ["a", "b"]
    assert rules["b"].severity is Severity.HIGH and rules["b"].policy == "child"


TAILOR_BASE = """
    policy: {id: base, version: "1", title: base}
    rules:
      - id: a
        title: A
        severity: low
        remediation: Fix A.
        references: {nist-800-53: [CM-7]}
        checks: [{check: fake.value, options: {maximum: 3, mode: lenient}}]
      - id: twice
        title: T
        severity: low
        checks: [{check: fake.value}, {check: fake.value, options: {maximum: 1}}]
      - {id: c, title: C, severity: low, checks: [{check: fake.value}]}
    """


def test_tailor_changes_one_option_and_the_severity_of_an_inherited_rule(write, registry):
    write("base.yaml", TAILOR_BASE)
    child = write("child.yaml", """
        policy: {id: child, version: "1", title: child}
        extends: [base.yaml]
        tailor:
          a:
            severity: critical
            options:
              fake.value: {maximum: 9}
          c: {severity: high}
        """)
    rules = {r.id: r for r in load_policies([child], registry).rules}
    a, c = rules["a"], rules["c"]
    # The changed option replaces the inherited value; every other option and field is kept.
    assert a.checks[0].options == {"maximum": 9, "mode": "lenient"}
    assert a.severity is Severity.CRITICAL and a.policy == "child"
    assert (a.title, a.remediation, dict(a.references)) == ("A", "Fix A.", {"nist-800-53": ("CM-7",)})
    assert c.severity is Severity.HIGH and c.checks[0].options == {"maximum": 5, "mode": "strict"}
    base = {r.id: r for r in load_policies([str(Path(child).parent / "base.yaml")], registry).rules}
    assert base["a"].checks[0].options == {"maximum": 3, "mode": "lenient"} and base["a"].severity is Severity.LOW


def test_tailor_mistakes_are_reported_at_their_positions(write, registry):
    write("base.yaml", TAILOR_BASE)
    found = problems(write, registry, """
policy: {id: child, version: "1", title: child}
extends: [base.yaml]
exclude_rules: [c]
tailor:
  b: {severity: high}
  c: {severity: high}
  a:
    options:
      fake.value: {maximum: -1, maxi: 2}
      fake.nope: {}
  twice:
    options: {fake.value: {maximum: 2}}
  a2: {}
""")
    assert found == [
        "p.yaml:5:3: 'tailor' names rule 'b', which no extended policy defines",
        "p.yaml:6:3: 'tailor' names rule 'c', which 'exclude_rules' removes",
        "p.yaml:9:29: option 'maximum' of check fake.value: -1 is below the minimum 0",
        "p.yaml:9:33: unknown option 'maxi' for check fake.value (did you mean 'maximum'?) (options: maximum, mode)",
        "p.yaml:10:7: unknown check 'fake.nope' (did you mean 'fake.value'?) (civiscan checks lists them)",
        "p.yaml:11:3: rule 'twice' uses check fake.value 2 times, so 'tailor' cannot tell which to change: define the rule again under 'rules'",
        "p.yaml:13:7: 'tailor' of rule 'a2' changes nothing: give 'severity', 'options' or both",
    ], found


def test_tailor_needs_an_inherited_rule_with_that_check(write, registry):
    write("base.yaml", TAILOR_BASE)
    found = problems(write, registry, """
policy: {id: child, version: "1", title: child}
extends: [base.yaml]
tailor:
  a: {options: {fake.hostonly: {maximum: 1}}}
rules:
  - {id: c, title: C, severity: low, checks: [{check: fake.value}]}
""")
    assert found == ["p.yaml:4:3: rule 'a' has no check fake.hostonly to tailor (its checks: fake.value)"], found
    found = problems(write, registry, """
policy: {id: child, version: "1", title: child}
extends: [base.yaml]
tailor:
  c: {severity: high}
rules:
  - {id: c, title: C, severity: low, checks: [{check: fake.value}]}
""")
    assert found == ["p.yaml:4:3: rule 'c' is defined under 'rules' here too: change that definition instead"], found
    found = problems(write, registry, 'policy: {id: x, version: "1", title: x}\ntailor: {c: {severity: high}}\nrules: []\n')
    assert "p.yaml:2:1: 'tailor' changes inherited rules, but the policy extends nothing" in found, found


def test_a_tailored_rule_beside_its_original_is_a_conflict(write, registry):
    base = write("base.yaml", TAILOR_BASE)
    child = write("child.yaml", """
        policy: {id: child, version: "1", title: child}
        extends: [base.yaml]
        tailor: {c: {severity: high}}
        """)
    with pytest.raises(ConfigError) as info:
        load_policies([child, base], registry)
    assert any("rule 'c' is defined differently in child and base" in p.message for p in info.value.problems)


def test_extends_cycle_is_reported(write, registry):
    write("a.yaml", 'policy: {id: a, version: "1", title: a}\nextends: [b.yaml]\nrules: []\n')
    b = write("b.yaml", 'policy: {id: b, version: "1", title: b}\nextends: [a.yaml]\nrules: []\n')
    found = problems_of(b, registry)
    assert any("extends cycle" in p and p.startswith("a.yaml:2:11") and "b.yaml -> " in p for p in found), found


def test_extends_missing_file_is_reported(write, registry):
    found = problems(write, registry, 'policy: {id: a, version: "1", title: a}\nextends: [nope.yaml]\n')
    assert "p.yaml:2:11: policy file 'nope.yaml' not found" in found


def test_unknown_shipped_policy_is_reported(write, registry):
    found = problems(write, registry, 'policy: {id: a, version: "1", title: a}\nextends: [no-such-policy]\n')
    assert any("no shipped policy named 'no-such-policy'" in p for p in found)


def test_typed_map_options_are_checked_at_validation():
    from scanner.options import Option, validate_options

    schema = {"key_types": Option("map[str,int]", "bits", default={}, choices=("rsa", "ecdsa"), minimum=0)}
    assert validate_options(schema, {"key_types": {"rsa": 2048}}, "x.y") == ({"key_types": {"rsa": 2048}}, [])
    _, bad_value = validate_options(schema, {"key_types": {"rsa": "big"}}, "x.y")
    assert "'rsa': expected an integer, got str 'big'" in bad_value[0].message
    _, bad_key = validate_options(schema, {"key_types": {"rsq": 2048}}, "x.y")
    assert "'rsq' is not one of: rsa, ecdsa (did you mean 'rsa'?)" in bad_key[0].message
    versions = {"minimum": Option("map[str,str]", "versions")}
    _, float_version = validate_options(versions, {"minimum": {"openssl": 1.10}}, "x.y")
    assert "expected a string" in float_version[0].message
