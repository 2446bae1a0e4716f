"""The http checks judge plain facts dicts."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.models import AssetKind, ErrorReason, Status
from scanner.options import validate_options
from scanner.plugins.http import plugin
from scanner.plugins.http.parse import parse_hsts, parse_set_cookie
from tests.conftest import judge

CHECKS = {c.id: c for c in plugin.checks}


def test_plugin_declares_four_endpoint_checks_with_docs() -> None:
    assert plugin.name == "http"
    assert set(CHECKS) == {
        "http.hsts",
        "http.redirect_to_https",
        "http.security_headers",
        "http.cookies",
        "http.coop",
        "http.corp",
        "http.coep",
        "http.version_disclosure",
    }
    for check in plugin.checks:
        assert check.kinds == frozenset({AssetKind.ENDPOINT})
        assert "PASS" in check.documentation and "FAIL" in check.documentation


# -- http.hsts ----------------------------------------------------------------------------


def hsts_facts(*values: str, verified: bool | None = True) -> dict[str, Any]:
    return {
        "url": "https://www.lab.test/",
        "tls_verified": verified,
        "hsts": parse_hsts(list(values)),
    }


@pytest.mark.parametrize(
    ("values", "options", "status"),
    [
        (["max-age=63072000"], {}, Status.PASS),
        (["max-age=31536000"], {}, Status.PASS),
        (["max-age=31535999"], {}, Status.FAIL),
        (["max-age=86400"], {"min_max_age": 86400}, Status.PASS),
        ([], {}, Status.FAIL),
        (["max-age=0"], {"min_max_age": 0}, Status.FAIL),
        (["max-age=abc"], {}, Status.FAIL),
        (["max-age=31536000"], {"include_subdomains": True}, Status.FAIL),
        (["max-age=31536000; includeSubDomains"], {"include_subdomains": True}, Status.PASS),
        (["max-age=31536000; includeSubDomains"], {"preload": True}, Status.FAIL),
        (["max-age=31536000; preload"], {"preload": True}, Status.FAIL),
        (
            ["max-age=86400; includeSubDomains; preload"],
            {"preload": True, "min_max_age": 0},
            Status.FAIL,
        ),
        (["max-age=31536000; includeSubDomains; preload"], {"preload": True}, Status.PASS),
    ],
    ids=[
        "two-years",
        "one-year",
        "just-short",
        "own-minimum",
        "absent",
        "zero",
        "malformed",
        "subdomains-missing",
        "subdomains",
        "preload-missing",
        "preload-without-subdomains",
        "preload-needs-a-year",
        "preload",
    ],
)
def test_hsts(values, options, status) -> None:
    assert judge("http.hsts", hsts_facts(*values), **options).status is status


def test_hsts_over_unverified_tls_fails() -> None:
    outcome = judge("http.hsts", hsts_facts("max-age=63072000", verified=False))
    assert outcome.status is Status.FAIL
    assert "browsers ignore HSTS" in outcome.message


def test_hsts_fail_message_and_evidence() -> None:
    outcome = judge("http.hsts", hsts_facts("max-age=86400"))
    assert outcome.message == (
        "The site's HSTS header is not strong enough: max-age=86400 (1 day) is below the "
        "required 31536000 seconds (365 days)."
    )
    assert outcome.evidence["header"] == "max-age=86400"


def test_hsts_max_age_zero_is_explained() -> None:
    assert "forget HSTS" in judge("http.hsts", hsts_facts("max-age=0")).message


def test_hsts_without_facts_is_an_error() -> None:
    outcome = judge("http.hsts", {})
    assert (outcome.status, outcome.reason) == (Status.ERROR, ErrorReason.NO_DATA)


# -- http.redirect_to_https -----------------------------------------------------------------


def redirect(status=None, location=None, to_https=False, error=None) -> dict[str, Any]:
    return {
        "hostname": "www.lab.test",
        "redirect": {
            "url": "http://www.lab.test/",
            "port": 80,
            "status": status,
            "location": location,
            "redirects_to_https": to_https,
            "same_host": True,
            "error": error,
        },
    }


@pytest.mark.parametrize(
    ("facts", "options", "status"),
    [
        (redirect(301, "https://www.lab.test/", True), {}, Status.PASS),
        (redirect(200), {}, Status.FAIL),
        (redirect(200), {"required": False}, Status.PASS),
        (redirect(302, "http://www.lab.test/x"), {}, Status.FAIL),
        (redirect(error={"reason": "refused", "message": "refused"}), {}, Status.PASS),
        (
            redirect(error={"reason": "refused", "message": "refused"}),
            {"allow_closed": False},
            Status.FAIL,
        ),
        (redirect(error={"reason": "timeout", "message": "no answer"}), {}, Status.ERROR),
        (
            redirect(error={"reason": "protocol", "message": "garbage"}),
            {"required": False},
            Status.ERROR,
        ),
        ({}, {}, Status.ERROR),
    ],
    ids=[
        "redirects",
        "serves-plain",
        "not-required",
        "redirects-to-http",
        "closed",
        "closed-not-allowed",
        "timeout",
        "garbage",
        "not-collected",
    ],
)
def test_redirect(facts, options, status) -> None:
    assert judge("http.redirect_to_https", facts, **options).status is status


def test_redirect_timeout_keeps_its_reason() -> None:
    outcome = judge(
        "http.redirect_to_https", redirect(error={"reason": "timeout", "message": "slow"})
    )
    assert outcome.reason is ErrorReason.TIMEOUT


def test_redirect_fail_names_the_status() -> None:
    outcome = judge("http.redirect_to_https", redirect(200))
    assert (
        outcome.message
        == "Port 80 of www.lab.test answers with status 200 instead of redirecting to HTTPS."
    )
    assert outcome.evidence["status"] == 200


# -- http.security_headers ------------------------------------------------------------------

GOOD_HEADERS = {
    "csp": ["default-src 'self'"],
    "csp_report_only": False,
    "frame_ancestors": None,
    "x_frame_options": "SAMEORIGIN",
    "x_content_type_options": "nosniff",
    "referrer_policy": "no-referrer",
    "referrer_policy_effective": "no-referrer",
    "permissions_policy": None,
}


def headers(**changes: Any) -> dict[str, Any]:
    return {"url": "https://www.lab.test/", "security_headers": {**GOOD_HEADERS, **changes}}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"csp": []}, "Content-Security-Policy is missing"),
        ({"csp": [], "csp_report_only": True}, "report-only"),
        ({"csp": [" "]}, "Content-Security-Policy is missing"),
        ({"x_content_type_options": None}, "X-Content-Type-Options is missing"),
        ({"x_content_type_options": "sniff"}, "not 'nosniff'"),
        ({"x_frame_options": None}, "clickjacking"),
        ({"x_frame_options": "ALLOW-FROM https://a.lab.test"}, "not DENY or SAMEORIGIN"),
        ({"x_frame_options": "DENY, SAMEORIGIN"}, "not DENY or SAMEORIGIN"),
        ({"x_frame_options": None, "frame_ancestors": ["*"]}, "clickjacking"),
        (
            {"referrer_policy": None, "referrer_policy_effective": None},
            "Referrer-Policy is missing",
        ),
        ({"referrer_policy": "bogus", "referrer_policy_effective": None}, "names no known policy"),
        (
            {"referrer_policy": "unsafe-url", "referrer_policy_effective": "unsafe-url"},
            "full addresses",
        ),
    ],
    ids=[
        "no-csp",
        "report-only-csp",
        "blank-csp",
        "no-nosniff",
        "wrong-nosniff",
        "no-framing",
        "allow-from",
        "conflicting-xfo",
        "frame-ancestors-star",
        "no-referrer-policy",
        "unknown-referrer-policy",
        "leaky-referrer-policy",
    ],
)
def test_security_headers_fail(changes: dict[str, Any], reason: str) -> None:
    outcome = judge("http.security_headers", headers(**changes))
    assert outcome.status is Status.FAIL
    assert reason in outcome.message


@pytest.mark.parametrize(
    ("changes", "options"),
    [
        ({}, {}),
        ({"x_frame_options": None, "frame_ancestors": ["'none'"]}, {}),
        ({"x_frame_options": "deny"}, {}),
        ({"csp": []}, {"required": ["x-content-type-options"]}),
        ({"permissions_policy": "geolocation=()"}, {"required": ["permissions-policy"]}),
    ],
    ids=["all", "frame-ancestors-instead", "lower-case-xfo", "subset", "permissions-policy"],
)
def test_security_headers_pass(changes: dict[str, Any], options: dict[str, Any]) -> None:
    outcome = judge("http.security_headers", headers(**changes), **options)
    assert outcome.status is Status.PASS, outcome.message


def test_security_headers_evidence_is_the_deciding_values() -> None:
    outcome = judge("http.security_headers", headers(csp=[]), required=["content-security-policy"])
    assert outcome.evidence == {"url": "https://www.lab.test/", "csp": [], "csp_report_only": False}


def test_unknown_requirement_is_a_configuration_error() -> None:
    check = CHECKS["http.security_headers"]
    _, problems = validate_options(check.options, {"required": ["x-frame-option"]}, check.id)
    assert problems and "x-frame-option" in problems[0].message


# -- http.cookies ---------------------------------------------------------------------------


def cookies(*values: str) -> dict[str, Any]:
    return {"url": "https://www.lab.test/",
            "cookies": [parse_set_cookie(v, "www.city.example") for v in values]}


@pytest.mark.parametrize(
    ("values", "options", "status"),
    [
        ([], {}, Status.PASS),
        (["sid=x; Secure; HttpOnly; SameSite=Lax"], {}, Status.PASS),
        (["sid=x; Secure; HttpOnly; SameSite=Strict"], {}, Status.PASS),
        (["sid=x; Secure; HttpOnly; SameSite=None"], {}, Status.FAIL),
        (["sid=x; Secure; HttpOnly"], {}, Status.FAIL),
        (["sid=x; Secure; HttpOnly"], {"samesite": []}, Status.PASS),
        (["sid=x; HttpOnly; SameSite=Lax"], {}, Status.FAIL),
        (["sid=x; HttpOnly; SameSite=Lax"], {"secure": False}, Status.PASS),
        (["csrf=x; Secure; SameSite=Lax"], {}, Status.FAIL),
        (["csrf=x; Secure; SameSite=Lax"], {"ignore": ["csrf"]}, Status.PASS),
        (["csrf=x; Secure; SameSite=Lax"], {"httponly": False}, Status.PASS),
    ],
    ids=[
        "none",
        "lax",
        "strict",
        "samesite-none",
        "samesite-missing",
        "samesite-unchecked",
        "not-secure",
        "secure-unchecked",
        "not-httponly",
        "ignored",
        "httponly-unchecked",
    ],
)
def test_cookies(values, options, status) -> None:
    assert judge("http.cookies", cookies(*values), **options).status is status


@pytest.mark.parametrize(
    ("value", "judged", "problem"),
    [
        ("sid=x; Domain=city.example", "all",
         "no Secure, no HttpOnly, SameSite missing, "
         "Domain=city.example sends it to every host under that domain"),
        ("sid=x; Domain=city.example", "attributes",
         "no Secure, no HttpOnly, SameSite missing"),
        ("sid=x; Domain=city.example", "scope",
         "Domain=city.example sends it to every host under that domain"),
        ("sid=x; Secure; HttpOnly; SameSite=Lax; Domain=tracker.example", "attributes", None),
        ("__Host-sid=x; SameSite=None", "scope", None),
    ],
    ids=["all", "attributes", "scope", "attributes-ignore-domain", "scope-ignores-attributes"],
)
def test_cookies_judge_attributes_or_scope(value, judged, problem) -> None:
    outcome = judge("http.cookies", cookies(value), judge=judged)
    if problem is None:
        assert outcome.status is Status.PASS
    else:
        assert outcome.status is Status.FAIL
        assert outcome.evidence["problems"] == [f"sid ({problem})"]


def test_cookie_failure_names_each_cookie() -> None:
    outcome = judge("http.cookies", cookies("sid=x", "ok=1; Secure; HttpOnly; SameSite=Lax"))
    assert outcome.message == (
        "1 of 2 cookies lacks required attributes: sid (no Secure, no HttpOnly, SameSite missing)."
    )
    assert outcome.evidence["set_cookie"] == [
        "sid=<redacted>",
        "ok=<redacted>; Secure; HttpOnly; SameSite=lax",
    ]


def test_cookies_without_facts_is_an_error() -> None:
    assert judge("http.cookies", {}).status is Status.ERROR


OBSERVATORY = {"httponly": False, "samesite": [], "broad_domain": True}
"""The options under which http.cookies judges like the MDN HTTP Observatory."""
GOOD = "; Path=/; Secure; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize(
    ("value", "options", "status", "problem"),
    [
        ("__Host-sid=x" + GOOD, {}, Status.PASS, None),
        ("__Host-sid=x; Domain=www.city.example; Path=/; Secure; HttpOnly; SameSite=Lax", {},
         Status.FAIL, "the __Host- prefix needs Secure, Path=/ and no Domain"),
        ("__Host-sid=x; Path=/app; Secure; HttpOnly; SameSite=Lax", {}, Status.FAIL,
         "the __Host- prefix needs Secure"),
        ("__Secure-id=x; Path=/; Secure; HttpOnly; SameSite=Lax", {}, Status.PASS, None),
        ("__Secure-id=x; Path=/; HttpOnly; SameSite=Lax", {"secure": False}, Status.FAIL,
         "the __Secure- prefix without Secure"),
        ("pref=1; Secure; SameSite=None", OBSERVATORY, Status.PASS, None),
        ("pref=1; SameSite=None", {**OBSERVATORY, "secure": False}, Status.FAIL,
         "SameSite=None without Secure"),
        ("pref=1; Secure; SameSite=Sometimes", OBSERVATORY, Status.FAIL,
         "SameSite=sometimes is not Strict, Lax or None"),
        ("pref=1; Secure", OBSERVATORY, Status.PASS, None),
        ("csrftoken=1; Secure", {**OBSERVATORY, "session_names": []}, Status.FAIL,
         "an anti-CSRF cookie without SameSite"),
        ("PHPSESSID=1; Secure", OBSERVATORY, Status.FAIL, "no HttpOnly on a session cookie"),
        ("auth_token=1; Secure; SameSite=Lax", OBSERVATORY, Status.FAIL,
         "no HttpOnly on a session cookie"),
        ("PHPSESSID=1; Secure", {**OBSERVATORY, "session_httponly": False}, Status.PASS, None),
        ("pref=1; HttpOnly", OBSERVATORY, Status.FAIL, "no Secure"),
        ("sid=1; Domain=city.example" + GOOD, {}, Status.FAIL,
         "Domain=city.example sends it to every host under that domain"),
        ("sid=1; Domain=.city.example" + GOOD, {"broad_domain": True}, Status.PASS, None),
        ("sid=1; Domain=www.city.example" + GOOD, {}, Status.PASS, None),
        ("uid=1; Domain=tracker.example" + GOOD, {"broad_domain": True}, Status.FAIL,
         "Domain=tracker.example is another site: a third-party cookie"),
        ("uid=1; Domain=tracker.example" + GOOD, {"third_party": False}, Status.PASS, None),
        ("uid=1; Domain=example" + GOOD, {"broad_domain": True}, Status.FAIL,
         "Domain=example is a public suffix"),
    ],
    ids=["host-prefix", "host-prefix-domain", "host-prefix-path", "secure-prefix",
         "secure-prefix-without-secure", "observatory-samesite-none", "samesite-none-insecure",
         "samesite-invalid", "observatory-no-samesite", "csrf-without-samesite",
         "session-without-httponly", "token-without-httponly", "session-httponly-unchecked",
         "observatory-not-secure", "broad-domain", "broad-domain-accepted", "host-domain",
         "third-party-domain", "third-party-unchecked", "public-suffix-domain"],
)
def test_cookie_rules(value, options, status, problem) -> None:
    outcome = judge("http.cookies", cookies(value), **options)
    assert outcome.status is status, outcome.message
    if problem:
        assert problem in outcome.message
        assert problem in outcome.evidence["problems"][0]


@pytest.mark.parametrize(
    ("domain", "scope"),
    [(None, "host"), ("www.city.example", "host"), (".city.example", "site"),
     ("a.city.example", "foreign"), ("city.example.", "site"), ("example", "public_suffix"),
     ("other.example", "foreign")],
    ids=["none", "host", "site", "sibling", "trailing-dot", "suffix", "other-site"],
)
def test_cookie_scope(domain, scope) -> None:
    from scanner.plugins.http.parse import cookie_scope

    assert cookie_scope(domain, "www.city.example") == scope
    assert cookie_scope("city.example", "app.www.city.example") == "site"
    assert cookie_scope("www.city.example", "app.www.city.example") == "parent"


# -- http.coop / http.corp / http.coep --------------------------------------------------------


def isolation(**values: list[str]) -> dict[str, Any]:
    return {"url": "https://www.lab.test/",
            "headers": {k.replace("_", "-"): v for k, v in values.items()}}


@pytest.mark.parametrize(
    ("check", "values", "options", "status"),
    [
        ("http.coop", {"cross_origin_opener_policy": ["same-origin"]}, {}, Status.PASS),
        ("http.coop", {"cross_origin_opener_policy": ['same-origin; report-to="a"']}, {},
         Status.PASS),
        ("http.coop", {}, {}, Status.FAIL),
        ("http.coop", {}, {"required": False}, Status.PASS),
        ("http.coop", {"cross_origin_opener_policy": ["unsafe-none"]}, {}, Status.FAIL),
        ("http.coop", {"cross_origin_opener_policy": ["same-origin", "unsafe-none"]},
         {"required": False}, Status.FAIL),
        ("http.coop", {"cross_origin_opener_policy": ["isolated"]}, {}, Status.FAIL),
        ("http.corp", {}, {}, Status.PASS),
        ("http.corp", {"cross_origin_resource_policy": ["same-site"]}, {}, Status.PASS),
        ("http.corp", {"cross_origin_resource_policy": ["self"]}, {}, Status.FAIL),
        ("http.corp", {"cross_origin_resource_policy": ["cross-origin"]},
         {"allowed": ["same-origin", "same-site"]}, Status.FAIL),
        ("http.corp", {}, {"required": True}, Status.FAIL),
        ("http.coep", {"cross_origin_embedder_policy": ["require-corp"]}, {}, Status.PASS),
        ("http.coep", {"cross_origin_embedder_policy": ["credentialless"]}, {}, Status.PASS),
        ("http.coep", {"cross_origin_embedder_policy": ["require-corp", "require-corp"]}, {},
         Status.FAIL),
        ("http.coep", {}, {}, Status.PASS),
    ],
    ids=["coop-same-origin", "coop-params", "coop-missing", "coop-not-required", "coop-unsafe",
         "coop-twice", "coop-unknown", "corp-missing", "corp-same-site", "corp-invalid",
         "corp-not-allowed", "corp-required", "coep-require-corp", "coep-credentialless",
         "coep-twice", "coep-missing"],
)
def test_isolation_headers(check, values, options, status) -> None:
    assert judge(check, isolation(**values), **options).status is status


def test_isolation_without_headers_is_an_error() -> None:
    assert judge("http.coop", {}).status is Status.ERROR


# -- http.version_disclosure ------------------------------------------------------------------


def banner(server: str | None, powered: str | None = None) -> dict[str, Any]:
    from scanner.plugins.http.parse import product_disclosure

    return {"url": "https://www.lab.test/", "server": product_disclosure(server),
            "powered_by": product_disclosure(powered)}


@pytest.mark.parametrize(
    ("server", "powered", "options", "status"),
    [
        ("nginx", None, {}, Status.PASS),
        (None, None, {}, Status.PASS),
        ("nginx/1.22.1", None, {}, Status.FAIL),
        ("nginx", "PHP/8.1.2", {}, Status.FAIL),
        ("nginx", "PHP/8.1.2", {"headers": ["server"]}, Status.PASS),
        ("nginx", None, {"product": False}, Status.FAIL),
        ("Apache/2.4.57 (Debian)", None, {}, Status.FAIL),
    ],
    ids=["product", "none", "nginx-version", "php-version", "powered-by-unchecked",
         "product-refused", "apache"],
)
def test_version_disclosure(server, powered, options, status) -> None:
    assert judge("http.version_disclosure", banner(server, powered), **options).status is status


def test_version_disclosure_names_the_header() -> None:
    outcome = judge("http.version_disclosure", banner("nginx/1.22.1", "Express"))
    assert outcome.message == "The response names a version: Server: nginx/1.22.1."
    assert outcome.evidence["server"] == "nginx/1.22.1"


@pytest.mark.parametrize(
    ("same_host", "options", "status"),
    [(True, {"same_host": True}, Status.PASS), (False, {"same_host": True}, Status.FAIL),
     (False, {}, Status.PASS), (False, {"same_host": True, "required": False}, Status.PASS)],
    ids=["same-host", "off-host", "off-host-accepted", "off-host-not-required"],
)
def test_redirect_off_host_from_http(same_host, options, status) -> None:
    facts = redirect(301, "https://city.example/", True)
    facts["redirect"]["same_host"] = same_host
    outcome = judge("http.redirect_to_https", facts, **options)
    assert outcome.status is status
    if not same_host and options.get("same_host"):
        assert "on another host" in outcome.message
