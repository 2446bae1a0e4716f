"""No two rules of one resolved shipped policy judge the same thing.

A department that sees one missing header as two failures (baseline's header
rule and privacy-baseline's CSP rule both failing on the same absent header)
loses trust in the report. Each check below is mapped to the things it judges
under its options: a response header, a part of the cookies, a port; two rules
of one resolved policy must not share one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from scanner.cli import plugin_registry
from scanner.policy import builtin_policy_names, load_policies

Subjects = Callable[[Mapping[str, Any]], set[str]]

_SECURITY_HEADER_SUBJECTS = {
    "content-security-policy": "header content-security-policy",
    "x-content-type-options": "header x-content-type-options",
    # frame-protection passes on X-Frame-Options or CSP frame-ancestors: it judges framing.
    "frame-protection": "framing",
    "referrer-policy": "header referrer-policy",
    "permissions-policy": "header permissions-policy",
}
_COOKIE_SUBJECTS = {
    "attributes": {"cookie attributes"},
    "scope": {"cookie domain"},
    "all": {"cookie attributes", "cookie domain"},
}


def _ports(options: Mapping[str, Any]) -> set[str]:
    return {f"port {p}" for low, high in options["ports"] for p in range(low, high + 1)}


SUBJECTS: dict[str, Subjects] = {
    "http.security_headers": lambda o: {_SECURITY_HEADER_SUBJECTS[r] for r in o["required"]},
    "http.cookies": lambda o: set(_COOKIE_SUBJECTS[o["judge"]]),
    "http.hsts": lambda o: {"header strict-transport-security"},
    # web.redirects judges HSTS only on the page a redirect ends on, never the endpoint's own.
    "web.redirects": lambda o: {"redirect chain"}
    | ({"hsts after a redirect"} if o["hsts"] else set()),
    "http.coop": lambda o: {"header cross-origin-opener-policy"},
    "http.corp": lambda o: {"header cross-origin-resource-policy"},
    "http.coep": lambda o: {"header cross-origin-embedder-policy"},
    "http.version_disclosure": lambda o: {f"header {h}" for h in o["headers"]},
    "web.csp": lambda o: {"header content-security-policy"}
    | (set() if "missing_frame_ancestors" in o["ignore"] else {"framing"}),
    "web.forms": lambda o: {"form actions"}
    | ({"header strict-transport-security"} if o["hsts"] else set()),
    "web.referrer_policy": lambda o: {"header referrer-policy"},
    "web.permissions_policy": lambda o: {"header permissions-policy"},
    "ports.forbidden": _ports,
}
"""Check id -> what it judges under its options. A check not listed judges one
thing of its own per distinct set of options."""


def subjects(check_id: str, options: Mapping[str, Any]) -> set[str]:
    if check_id in SUBJECTS:
        return SUBJECTS[check_id](options)
    return {f"{check_id} {json.dumps(options, sort_keys=True, default=str)}"}


def overlaps(name: str) -> list[str]:
    owner: dict[str, str] = {}
    found = []
    for rule in load_policies([name], plugin_registry()).rules:
        for request in rule.checks:
            for subject in subjects(request.check_id, request.options):
                if subject in owner and owner[subject] != rule.id:
                    found.append(f"{subject}: {owner[subject]} and {rule.id}")
                owner.setdefault(subject, rule.id)
    return found


@pytest.mark.parametrize("name", builtin_policy_names())
def test_no_two_rules_of_a_shipped_policy_judge_the_same_thing(name):
    assert overlaps(name) == []


def test_the_overlap_finder_sees_two_rules_on_one_header(tmp_path):
    policy = tmp_path / "twice.yaml"
    policy.write_text(
        "policy: {id: twice, version: '1', title: t}\nextends: [privacy-baseline]\nrules:\n"
        "  - {id: headers, title: t, severity: low,\n"
        "     checks: [{check: http.security_headers, options: {required: [referrer-policy]}}]}\n"
    )
    assert overlaps(str(policy)) == ["header referrer-policy: web-referrer-policy and headers"]


@pytest.mark.parametrize(
    ("judge", "shared"),
    [("all", True), ("attributes", True), ("scope", False)],
    ids=["all", "attributes", "scope"],
)
def test_cookie_rules_overlap_unless_they_judge_different_parts(tmp_path, judge, shared):
    policy = tmp_path / "cookies.yaml"
    policy.write_text(
        "policy: {id: cookies, version: '1', title: t}\nextends: [baseline]\nrules:\n"
        "  - {id: more-cookies, title: t, severity: low,\n"
        f"     checks: [{{check: http.cookies, options: {{judge: {judge}}}}}]}}\n"
    )
    assert bool(overlaps(str(policy))) is shared
