"""Pure parsers of the http plugin, on recorded nginx heads and crafted edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.plugins.http.client import Target, request_bytes
from scanner.plugins.http.parse import (
    MAX_AGE_CAP,
    csp_directives,
    effective_referrer_policy,
    frame_ancestors,
    header_map,
    https_target_problem,
    parse_hsts,
    parse_response_head,
    parse_set_cookie,
    product_disclosure,
    redirect_facts,
    security_header_facts,
    truncate,
)

DATA = Path(__file__).parent.parent / "data" / "http"


def recorded(name: str) -> bytes:
    return (DATA / name).read_bytes()


# -- response heads ----------------------------------------------------------------


def test_recorded_nginx_head() -> None:
    head = parse_response_head(recorded("nginx-full.http"))
    assert (head.version, head.status, head.reason) == ("1.1", 200, "OK")
    assert head.first("server") == "nginx/1.22.1"
    assert len(head.values("set-cookie")) == 2


def test_header_map_redacts_cookie_values() -> None:
    headers = header_map(parse_response_head(recorded("nginx-full.http")))
    assert "REDACTED-IN-RECORDING" not in json.dumps(headers)
    assert headers["set-cookie"][0] == "session=<redacted>; Path=/; Secure; HttpOnly; SameSite=lax"
    assert headers["x-frame-options"] == ["DENY"]


@pytest.mark.parametrize(
    ("raw", "status", "headers"),
    [
        (b"HTTP/1.1 204\r\n\r\n", 204, ()),
        (b"HTTP/1.0 200 OK\nServer: x\n\n", 200, (("server", "x"),)),
        (b"HTTP/1.1 200 OK\r\nX-A: one\r\n  two\r\n\r\n", 200, (("x-a", "one two"),)),
        (b"HTTP/1.1 200 OK\r\nbad line\r\nBad Name: v\r\nOk: v\r\n\r\n", 200, (("ok", "v"),)),
        (b"HTTP/1.1 200 OK\r\nX-Empty:\r\n\r\n", 200, (("x-empty", ""),)),
        (b"HTTP/1.1 200 OK\r\nX-Latin: caf\xe9\r\n\r\n", 200, (("x-latin", "caf\u00e9"),)),
    ],
    ids=["no-reason", "lf-only", "folded", "invalid-lines", "empty-value", "latin-1"],
)
def test_parse_response_head_edge_cases(raw: bytes, status: int, headers) -> None:
    head = parse_response_head(raw)
    assert head.status == status
    assert head.headers == headers


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"garbage\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"\x16\x03\x01\x00",
    ],
    ids=["empty", "garbage", "ssh-banner", "bad-status", "tls-record"],
)
def test_non_http_answers_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not an HTTP/1.x status line"):
        parse_response_head(raw)


def test_request_has_host_and_no_credentials() -> None:
    raw = request_bytes(Target("127.0.0.1", 8443, "www.lab.test", "/a b?x=1"))
    assert raw.startswith(b"GET /a%20b?x=1 HTTP/1.1\r\nHost: www.lab.test:8443\r\n")
    assert b"authorization" not in raw.lower() and b"cookie" not in raw.lower()
    assert raw.endswith(b"\r\n\r\n")


@pytest.mark.parametrize(
    ("target", "host"),
    [
        (Target("::1", 443, "::1"), "[::1]"),
        (Target("127.0.0.1", 80, "www.lab.test", default_port=80), "www.lab.test"),
        (Target("127.0.0.1", 8080, "www.lab.test", default_port=80), "www.lab.test:8080"),
    ],
    ids=["ipv6", "default-port", "other-port"],
)
def test_host_header(target: Target, host: str) -> None:
    assert target.host_header == host


def test_path_cannot_inject_headers() -> None:
    raw = request_bytes(Target("127.0.0.1", 443, "h", "/x\r\nX-Evil: 1"))
    assert b"\r\nX-Evil" not in raw


# -- HSTS -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "max_age", "subdomains", "preload"),
    [
        (["max-age=31536000"], 31536000, False, False),
        (["max-age=63072000; includeSubDomains; preload"], 63072000, True, True),
        (['max-age="300"; INCLUDESUBDOMAINS'], 300, True, False),
        (["  Max-Age=0 ;"], 0, False, False),
        (['max-age=10; unknown="x"; foo'], 10, False, False),
        (["max-age=1", "max-age=2"], 1, False, False),
        (["preload; max-age=99999999999999999999"], MAX_AGE_CAP, False, True),
    ],
    ids=[
        "plain",
        "all",
        "quoted-case",
        "zero-spaces",
        "unknown-directives",
        "first-header-wins",
        "huge",
    ],
)
def test_valid_hsts(values, max_age, subdomains, preload) -> None:
    hsts = parse_hsts(values)
    assert hsts["malformed"] is None
    assert (hsts["max_age"], hsts["include_subdomains"], hsts["preload"]) == (
        max_age,
        subdomains,
        preload,
    )
    assert hsts["headers"] == len(values)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("includeSubDomains", "max-age is missing"),
        ("max-age=abc", "max-age must be a number"),
        ("max-age=-1", "max-age must be a number"),
        ("max-age=+5", "max-age must be a number"),
        ("max-age", "max-age must be a number"),
        ("max-age=1; max-age=2", "appears more than once"),
        ("max-age=1, max-age=2", "max-age must be a number"),
        ("max-age=1; includeSubDomains=yes", "takes no value"),
        ("max-age=1; bad name", "is not a directive name"),
        ("", "max-age is missing"),
    ],
    ids=[
        "no-max-age",
        "letters",
        "negative",
        "plus",
        "no-value",
        "repeated",
        "comma-joined",
        "valued-flag",
        "bad-token",
        "empty",
    ],
)
def test_malformed_hsts(value: str, reason: str) -> None:
    assert reason in parse_hsts([value])["malformed"]


@pytest.mark.parametrize(
    ("value", "max_age"),
    [
        ("max-age=" + "9" * 5000, MAX_AGE_CAP),
        ("max-age=" + "9" * 19, MAX_AGE_CAP),
        ("max-age=" + "9" * 18, 10**18 - 1),
        ("max-age=" + "0" * 5000 + "31536000", 31536000),
        ('max-age="' + "7" * 5000 + '"', MAX_AGE_CAP),
    ],
    ids=["5000-digits", "19-digits", "18-digits-exact", "leading-zeros", "quoted-5000-digits"],
)
def test_long_max_age_is_capped_not_a_crash(value: str, max_age: int) -> None:
    hsts = parse_hsts([value])
    assert (hsts["max_age"], hsts["malformed"]) == (max_age, None)


def test_many_problems_are_counted_not_all_listed() -> None:
    malformed = parse_hsts(["max-age=1; " + "; ".join(["max-age=2"] * 10000)])["malformed"]
    assert malformed.endswith("; 9995 more problems")
    assert len(malformed) < 300


def test_absent_hsts() -> None:
    assert parse_hsts([]) == {
        "present": False,
        "raw": None,
        "headers": 0,
        "max_age": None,
        "include_subdomains": False,
        "preload": False,
        "malformed": None,
    }


# -- cookies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "sid=abc; Path=/; Secure; HttpOnly; SameSite=Strict",
            {"name": "sid", "secure": True, "httponly": True, "samesite": "strict", "path": "/"},
        ),
        ("sid=abc", {"name": "sid", "secure": False, "httponly": False, "samesite": None}),
        (
            "sid=abc;secure;httponly;samesite=LAX",
            {"secure": True, "httponly": True, "samesite": "lax"},
        ),
        ("sid=abc; Max-Age=60; Domain=.lab.test", {"persistent": True, "domain": ".lab.test"}),
        ("novalue", {"name": ""}),
        ("sid=a=b; SameSite=Bogus", {"name": "sid", "samesite": "bogus"}),
    ],
    ids=["all-attributes", "bare", "lower-case", "persistent", "no-equals", "odd-samesite"],
)
def test_parse_set_cookie(value: str, expected: dict) -> None:
    cookie = parse_set_cookie(value)
    assert {k: cookie[k] for k in expected} == expected


@pytest.mark.parametrize(
    "value",
    [
        "sid=TOPSECRET; Path=/",
        "sid=TOPSECRET",
        "a=1; Path=/, b=TOPSECRET; HttpOnly",
        "TOPSECRET",
        "sid=x; Unknown=TOPSECRET",
    ],
    ids=["normal", "bare", "comma-joined", "nameless", "odd-attribute"],
)
def test_cookie_value_never_survives(value: str) -> None:
    assert "TOPSECRET" not in json.dumps(parse_set_cookie(value))


# -- CSP, framing, referrer, server --------------------------------------------------------


def test_csp_directives_first_wins() -> None:
    assert csp_directives("default-src 'self'; Frame-Ancestors 'none'; frame-ancestors *") == {
        "default-src": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            ["default-src 'self'; frame-ancestors 'self' https://a.lab.test"],
            ["'self'", "https://a.lab.test"],
        ),
        (["default-src 'self'"], None),
        (["default-src 'self', frame-ancestors 'none'"], ["'none'"]),
        (["script-src 'self'", "frame-ancestors 'none'"], ["'none'"]),
        (["frame-ancestors"], []),
    ],
    ids=["sources", "absent", "second-policy", "second-header", "empty"],
)
def test_frame_ancestors(values, expected) -> None:
    assert frame_ancestors(values) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["no-referrer"], "no-referrer"),
        (["no-referrer, strict-origin-when-cross-origin"], "strict-origin-when-cross-origin"),
        (["strict-origin, made-up"], "strict-origin"),
        (["unsafe-url", "same-origin"], "same-origin"),
        (["made-up"], None),
        ([], None),
    ],
    ids=["single", "fallback-list", "unknown-last", "two-headers", "unknown", "absent"],
)
def test_effective_referrer_policy(values, expected) -> None:
    assert effective_referrer_policy(values) == expected


@pytest.mark.parametrize(
    ("value", "discloses"),
    [
        ("nginx", False),
        ("nginx/1.22.1", True),
        ("Apache/2.4.57 (Debian) OpenSSL/3.0.11", True),
        ("Apache", False),
        ("Microsoft-IIS/10.0", True),
        ("cloudflare", False),
        ("Jetty(9.4.z-SNAPSHOT)", True),
        ("PHP/8.2", True),
        ("ASP.NET", False),
    ],
)
def test_version_disclosure(value: str, discloses: bool) -> None:
    assert product_disclosure(value)["discloses_version"] is discloses


def test_security_header_facts_from_recording() -> None:
    facts = security_header_facts(parse_response_head(recorded("nginx-full.http")))
    assert facts == {
        "csp": ["default-src 'self'; frame-ancestors 'none'"],
        "csp_report_only": False,
        "frame_ancestors": ["'none'"],
        "x_frame_options": "DENY",
        "x_content_type_options": "nosniff",
        "referrer_policy": "strict-origin-when-cross-origin",
        "referrer_policy_effective": "strict-origin-when-cross-origin",
        "permissions_policy": None,
    }


# -- redirects -------------------------------------------------------------------------------


def test_recorded_redirect() -> None:
    head = parse_response_head(recorded("nginx-redirect.http"))
    facts = redirect_facts(
        head.status, head.first("location"), "http://www.lab.test/", "www.lab.test"
    )
    assert facts == {
        "status": 301,
        "location": "https://www.lab.test/",
        "redirects_to_https": True,
        "same_host": True,
        "location_invalid": None,
        "error": None,
    }


@pytest.mark.parametrize(
    ("status", "location", "to_https", "same_host"),
    [
        (302, "https://other.lab.test/", True, False),
        (301, "/login", False, True),
        (301, "HTTPS://WWW.LAB.TEST./", True, True),
        (200, "https://www.lab.test/", False, None),
        (301, None, False, None),
        (301, "https://[::1", False, None),
        (301, "https:///nohost", False, False),
        (307, "//www.lab.test/", False, True),
    ],
    ids=[
        "other-host",
        "relative",
        "case-and-dot",
        "not-a-redirect",
        "no-location",
        "broken-url",
        "no-host",
        "scheme-relative",
    ],
)
def test_redirect_facts(status, location, to_https, same_host) -> None:
    facts = redirect_facts(status, location, "http://www.lab.test/", "www.lab.test")
    assert (facts["redirects_to_https"], facts["same_host"]) == (to_https, same_host)


@pytest.mark.parametrize(
    "location",
    [
        'https://"><img src=x onerror=alert(1)>',
        "https://a b.example/",
        "https://<script>/",
        "https://good.example:99999/",
        "https://good.example:0/",
        "https://good.example:+443/",
        "https://[::1%25eth0]/",
        "https://[not-v6]/",
        "https://-bad-.example/",
        "https://" + "a" * 64 + ".example/",
        "https://2130706433/",
        "https://0177.0.0.1/",
        "https://1.2.3/",
        "https://%65vil.example/",
        "https://x.example\\@evil/",
        "https:",
    ],
    ids=["html-injection", "space", "angle-brackets", "port-too-big", "port-zero", "port-sign",
         "ipv6-zone", "bad-ipv6", "hyphen-label", "label-too-long", "decimal-ip", "octal-ip",
         "short-ip", "percent-host", "backslash", "no-host"],
)
def test_an_invalid_https_location_is_not_a_redirect_to_https(location: str) -> None:
    facts = redirect_facts(301, location, "http://www.lab.test/", "www.lab.test")
    assert facts["redirects_to_https"] is False
    assert facts["location_invalid"]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.lab.test/",
        "https://WWW.Lab.Test.:8443/a b?\"q\"",
        "https://user:pw@www.lab.test/",
        "https://127.0.0.1/",
        "https://[2001:db8::1]:443/",
        "https://münchen.example/",
        "https://_dmarc.lab.test/",
        "https://www.lab.test:/",
    ],
    ids=["plain", "case-dot-port-odd-path", "userinfo", "ipv4", "ipv6", "idn", "underscore",
         "empty-port"],
)
def test_valid_https_targets(url: str) -> None:
    assert https_target_problem(url) is None


def test_plain_http_location_is_not_called_invalid() -> None:
    facts = redirect_facts(301, "http://www.lab.test/", "http://www.lab.test/", "www.lab.test")
    assert (facts["redirects_to_https"], facts["location_invalid"]) == (False, None)


def test_truncate() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
    assert truncate(None) is None
