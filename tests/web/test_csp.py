"""CSP parsing (CSP Level 3, section 2.2) and the Observatory-style grading, on data."""

from __future__ import annotations

import pytest

from scanner.models import Status
from scanner.plugins.web.csp import grade, parse_header, parse_policy
from tests.conftest import judge

STRICT = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize(("text", "expected"), [
    ("default-src 'self'", {"default-src": ["'self'"]}),
    ("DEFAULT-SRC 'self'", {"default-src": ["'self'"]}),
    ("  script-src\t'self'  https://a.example ;;", {"script-src": ["'self'", "https://a.example"]}),
    ("script-src 'none'; script-src *", {"script-src": ["'none'"]}),
    ("upgrade-insecure-requests", {"upgrade-insecure-requests": []}),
    ("script_src 'self'; img-src *", {"img-src": ["*"]}),
    ("", {}),
], ids=["simple", "name-case", "whitespace", "first-duplicate-wins", "no-value",
        "bad-name-skipped", "empty"])
def test_parse_policy(text, expected) -> None:
    assert parse_policy(text) == expected


def test_a_header_value_holds_comma_separated_policies() -> None:
    assert parse_header(["default-src 'self', img-src *", "script-src 'none'"]) == [
        {"default-src": ["'self'"]}, {"img-src": ["*"]}, {"script-src": ["'none'"]}]


@pytest.mark.parametrize(("policy", "problem"), [
    ("script-src 'self' 'unsafe-inline'", "unsafe_inline_script"),
    ("script-src 'self' 'unsafe-eval'", "unsafe_eval"),
    ("script-src 'self' https:", "wide_script_source"),
    ("script-src *", "wide_script_source"),
    ("script-src 'self' data:", "wide_script_source"),
    ("img-src http://cdn.example", "insecure_scheme"),
    ("script-src 'self'", "object_src_unrestricted"),
    ("script-src 'self'", "missing_default_src"),
    ("default-src 'self'", "missing_base_uri"),
    ("default-src 'self'", "missing_frame_ancestors"),
    ("default-src 'self'; style-src 'unsafe-inline'", "unsafe_inline_style"),
    ("img-src 'self'", "unsafe_inline_script"),
], ids=["unsafe-inline", "unsafe-eval", "https-scheme", "star", "data", "http-source",
        "no-object-src", "no-default-src", "no-base-uri", "no-frame-ancestors", "inline-style",
        "scripts-unrestricted"])
def test_weaknesses_are_found(policy, problem) -> None:
    assert problem in grade([policy], [], [])["problems"]


@pytest.mark.parametrize("policy", [
    "script-src 'self' 'unsafe-inline' 'nonce-r4nd0m'",
    "script-src 'unsafe-inline' 'sha256-AbC+/='",
    "script-src 'strict-dynamic' 'nonce-r4nd0m' 'unsafe-inline' https:",
], ids=["nonce", "hash", "strict-dynamic"])
def test_a_nonce_hash_or_strict_dynamic_neutralises_unsafe_inline(policy) -> None:
    problems = grade([policy], [], [])["problems"]
    assert "unsafe_inline_script" not in problems
    assert "wide_script_source" not in problems


def test_a_strict_policy_has_no_problems() -> None:
    assert grade([STRICT], [], [])["problems"] == []


def test_only_weaknesses_every_policy_shares_count() -> None:
    problems = grade(["script-src 'unsafe-inline'", STRICT], [], [])["problems"]
    assert problems == []


def test_report_only_enforces_nothing() -> None:
    assert grade([], [STRICT], []) == {"source": "report-only", "policies": [],
                                         "problems": ["report_only"]}


def test_no_policy_is_missing() -> None:
    assert grade([], [], [])["problems"] == ["missing"]


def test_a_meta_policy_cannot_set_frame_ancestors() -> None:
    result = grade([], [], [STRICT])
    assert result["source"] == "meta"
    assert result["problems"] == ["meta_only", "missing_frame_ancestors"]


def test_the_check_ignores_accepted_problems() -> None:
    facts = {"headers": {"content-security-policy": ["default-src 'self'"]}, "pages": []}
    assert judge("web.csp", facts).status is Status.FAIL
    ignored = judge("web.csp", facts, ignore=["missing_base_uri", "missing_frame_ancestors",
                                              "object_src_unrestricted", "unsafe_inline_style"])
    assert ignored.status is Status.PASS
