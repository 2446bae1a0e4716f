"""The http plugin against a real nginx on loopback, one 127.0.147.x address per scenario."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest

from scanner.lab.pki import LabPKI
from scanner.models import Status
from tests.conftest import judge, require_tool

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-session-value"
FULL_HEADERS = f"""
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains; preload" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'" always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-Frame-Options DENY always;
    add_header Referrer-Policy strict-origin-when-cross-origin always;
    add_header Set-Cookie "session={SECRET}; Path=/; Secure; HttpOnly; SameSite=Lax" always;
"""


@dataclass(frozen=True)
class Scenario:
    address: str
    https_headers: str
    port80: str | None  # the plain-HTTP location block body; None: nothing listens
    self_signed: bool = False
    server_tokens: str = "on"

    @property
    def hostname(self) -> str:
        return f"h{self.address.rsplit('.', 1)[1]}.lab.test"


SCENARIOS = {
    "full": Scenario(
        "127.0.147.1", FULL_HEADERS, "return 301 https://$host:HTTPS_PORT$request_uri;"
    ),
    "no-hsts": Scenario("127.0.147.2", "", "return 200 'plain\\n';"),
    "short-hsts": Scenario(
        "127.0.147.3",
        'add_header Strict-Transport-Security "max-age=86400" always;',
        "return 302 http://$host/elsewhere;",
    ),
    "malformed-hsts": Scenario(
        "127.0.147.4",
        'add_header Strict-Transport-Security "max-age=abc; includeSubDomains" always;',
        None,
    ),
    "insecure-cookies": Scenario(
        "127.0.147.5",
        f'add_header Set-Cookie "session={SECRET}; Path=/" always;\n'
        '    add_header Set-Cookie "pref=1; Secure; HttpOnly; SameSite=None" always;',
        "return 308 https://$host:HTTPS_PORT/;",
    ),
    "self-signed": Scenario("127.0.147.6", FULL_HEADERS, None, self_signed=True),
    # The cookie, isolation and banner rules (their own addresses, 127.67.0.x).
    "good-cookies": Scenario(
        "127.67.0.21",
        f'add_header Set-Cookie "__Host-session={SECRET}; Path=/; Secure; HttpOnly; SameSite=Lax" always;\n'
        '    add_header Set-Cookie "__Secure-pref=1; Path=/; Secure; HttpOnly; SameSite=Strict" always;\n'
        '    add_header Cross-Origin-Opener-Policy same-origin always;\n'
        '    add_header Cross-Origin-Resource-Policy same-site always;\n'
        '    add_header Cross-Origin-Embedder-Policy require-corp always;',
        None, server_tokens="off",
    ),
    "bad-cookies": Scenario(
        "127.67.0.22",
        f'add_header Set-Cookie "__Host-session={SECRET}; Domain=h22.lab.test; Path=/; Secure; HttpOnly; SameSite=Lax" always;\n'
        '    add_header Set-Cookie "uid=1; Domain=tracker.test; Path=/; Secure; HttpOnly; SameSite=Lax" always;\n'
        '    add_header Set-Cookie "wide=1; Domain=lab.test; Path=/; Secure; HttpOnly; SameSite=Lax" always;\n'
        '    add_header Set-Cookie "pref=1; Path=/; HttpOnly; SameSite=None" always;\n'
        '    add_header Cross-Origin-Opener-Policy unsafe-none always;\n'
        '    add_header Cross-Origin-Resource-Policy self always;\n'
        '    add_header X-Powered-By "PHP/8.1.2" always;',
        None,
    ),
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, nginx_runner, pick_port):
    binary = require_tool("nginx")
    directory = tmp_path_factory.mktemp("nginx")
    pki = LabPKI(directory / "pki", now=dt.datetime.now(dt.UTC))
    names = [s.hostname for s in SCENARIOS.values()]
    good = pki.leaf("good-rsa", names[0], extra_names=names[1:])
    bad = pki.leaf("self-signed", SCENARIOS["self-signed"].hostname)
    addresses = [s.address for s in SCENARIOS.values()]
    https_port = pick_port(addresses)
    http_port = pick_port(addresses)
    blocks = []
    listens = []
    for scenario in SCENARIOS.values():
        cert = bad if scenario.self_signed else good
        blocks.append(
            f"""
  server {{
    listen {scenario.address}:{https_port} ssl;
    server_name {scenario.hostname};
    server_tokens {scenario.server_tokens};
    ssl_certificate {cert.fullchain};
    ssl_certificate_key {cert.key};
    location / {{
      {scenario.https_headers}
      return 200 "hello\\n";
    }}
  }}"""
        )
        listens.append((scenario.address, https_port))
        if scenario.port80 is not None:
            body = scenario.port80.replace("HTTPS_PORT", str(https_port))
            blocks.append(
                f"""
  server {{
    listen {scenario.address}:{http_port};
    server_name {scenario.hostname};
    location / {{ {body} }}
  }}"""
            )
            listens.append((scenario.address, http_port))
    with nginx_runner(binary, directory / "run", "".join(blocks), listens):
        yield pki, https_port, http_port


@pytest.fixture(scope="module")
def facts(lab, collect_http, make_endpoint) -> dict[str, dict[str, Any]]:
    """Facts per scenario, collected once for the whole module."""
    pki, https_port, http_port = lab
    result = {}
    for name, scenario in SCENARIOS.items():
        asset = make_endpoint(
            f"https://{scenario.hostname}:{https_port}/", scenario.address, str(pki.ca_bundle)
        )
        result[name] = collect_http(asset, http_redirect_port=http_port)
    return result


def test_full_headers_are_collected(facts) -> None:
    full = facts["full"]
    assert full["status"] == 200
    assert full["tls_verified"] is True
    assert full["hsts"] == {
        "present": True,
        "raw": "max-age=63072000; includeSubDomains; preload",
        "headers": 1,
        "max_age": 63072000,
        "include_subdomains": True,
        "preload": True,
        "malformed": None,
    }
    assert full["security_headers"]["frame_ancestors"] == ["'none'"]
    assert full["security_headers"]["x_frame_options"] == "DENY"
    assert full["server"]["discloses_version"] is True
    assert full["server"]["value"].startswith("nginx/")


def test_cookie_values_are_never_stored(facts) -> None:
    for scenario in facts.values():
        assert SECRET not in json.dumps(scenario)


def test_cookies_are_parsed(facts) -> None:
    cookies = facts["insecure-cookies"]["cookies"]
    assert [(c["name"], c["secure"], c["httponly"], c["samesite"]) for c in cookies] == [
        ("session", False, False, None),
        ("pref", True, True, "none"),
    ]


@pytest.mark.parametrize(
    ("scenario", "check_id", "status"),
    [
        ("full", "http.hsts", Status.PASS),
        ("full", "http.redirect_to_https", Status.PASS),
        ("full", "http.security_headers", Status.PASS),
        ("full", "http.cookies", Status.PASS),
        ("no-hsts", "http.hsts", Status.FAIL),
        ("no-hsts", "http.redirect_to_https", Status.FAIL),
        ("no-hsts", "http.security_headers", Status.FAIL),
        ("no-hsts", "http.cookies", Status.PASS),
        ("short-hsts", "http.hsts", Status.FAIL),
        ("short-hsts", "http.redirect_to_https", Status.FAIL),
        ("malformed-hsts", "http.hsts", Status.FAIL),
        ("malformed-hsts", "http.redirect_to_https", Status.PASS),
        ("insecure-cookies", "http.cookies", Status.FAIL),
        ("insecure-cookies", "http.redirect_to_https", Status.PASS),
        ("self-signed", "http.hsts", Status.FAIL),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_check_outcome(facts, scenario: str, check_id: str, status: Status) -> None:
    outcome = judge(check_id, facts[scenario])
    assert outcome.status is status, outcome.message


@pytest.mark.parametrize(
    ("scenario", "check_id", "status"),
    [
        ("good-cookies", "http.cookies", Status.PASS),
        ("bad-cookies", "http.cookies", Status.FAIL),
        ("good-cookies", "http.coop", Status.PASS),
        ("bad-cookies", "http.coop", Status.FAIL),
        ("good-cookies", "http.corp", Status.PASS),
        ("bad-cookies", "http.corp", Status.FAIL),
        ("good-cookies", "http.coep", Status.PASS),
        ("bad-cookies", "http.coep", Status.PASS),
        ("good-cookies", "http.version_disclosure", Status.PASS),
        ("bad-cookies", "http.version_disclosure", Status.FAIL),
    ],
    ids=lambda v: v.value if isinstance(v, Status) else v,
)
def test_cookie_and_isolation_rules(facts, scenario: str, check_id: str, status: Status) -> None:
    outcome = judge(check_id, facts[scenario])
    assert outcome.status is status, outcome.message
    assert SECRET not in json.dumps(outcome.evidence)


def test_every_bad_cookie_is_named(facts) -> None:
    message = judge("http.cookies", facts["bad-cookies"]).message
    assert "__Host-session (the __Host- prefix needs Secure, Path=/ and no Domain" in message
    assert "uid (Domain=tracker.test is another site: a third-party cookie)" in message
    assert "wide (Domain=lab.test sends it to every host under that domain)" in message
    assert "pref (no Secure, SameSite=None without Secure (browsers reject it))" in message
    assert [c["scope"] for c in facts["bad-cookies"]["cookies"]] == ["host", "foreign", "site", "host"]


def test_server_banner_names_nginx_and_php(facts) -> None:
    message = judge("http.version_disclosure", facts["bad-cookies"]).message
    assert "Server: nginx/" in message and "X-Powered-By: PHP/8.1.2" in message
    assert facts["good-cookies"]["server"] == {"value": "nginx", "discloses_version": False}


def test_redirect_facts(facts) -> None:
    redirect = facts["full"]["redirect"]
    assert redirect["status"] == 301
    assert redirect["redirects_to_https"] is True
    assert redirect["same_host"] is True
    assert redirect["location"].startswith("https://h1.lab.test:")


def test_redirect_to_plain_http_is_not_https(facts) -> None:
    redirect = facts["short-hsts"]["redirect"]
    assert (redirect["status"], redirect["redirects_to_https"]) == (302, False)


def test_closed_port_80_is_a_refusal(facts) -> None:
    assert facts["malformed-hsts"]["redirect"]["error"]["reason"] == "refused"


def test_malformed_hsts_says_why(facts) -> None:
    outcome = judge("http.hsts", facts["malformed-hsts"])
    assert "max-age must be a number" in outcome.message
    assert outcome.evidence["header"] == "max-age=abc; includeSubDomains"


def test_unverified_certificate_still_yields_headers(facts) -> None:
    untrusted = facts["self-signed"]
    assert untrusted["tls_verified"] is False
    assert (
        "self-signed" in untrusted["tls_verify_error"]
        or "self signed" in untrusted["tls_verify_error"]
    )
    assert untrusted["hsts"]["max_age"] == 63072000


def test_redirect_probe_is_skipped_when_not_requested(lab, collect_http, make_endpoint) -> None:
    pki, https_port, http_port = lab
    scenario = SCENARIOS["full"]
    asset = make_endpoint(
        f"https://{scenario.hostname}:{https_port}/", scenario.address, str(pki.ca_bundle)
    )
    facts = collect_http(asset, checks=["http.hsts"], http_redirect_port=http_port)
    assert facts["redirect"] is None


def test_resolve_setting_supplies_the_address(lab, collect_http, make_endpoint) -> None:
    pki, https_port, _ = lab
    scenario = SCENARIOS["full"]
    asset = make_endpoint(f"https://{scenario.hostname}:{https_port}/", None, str(pki.ca_bundle))
    facts = collect_http(
        asset,
        checks=["http.hsts"],
        resolve={f"{scenario.hostname}:{https_port}": scenario.address},
    )
    assert (facts["address"], facts["tls_verified"]) == (scenario.address, True)


def test_ca_file_from_settings(lab, collect_http, make_endpoint) -> None:
    pki, https_port, _ = lab
    scenario = SCENARIOS["full"]
    asset = make_endpoint(f"https://{scenario.hostname}:{https_port}/", scenario.address)
    facts = collect_http(asset, checks=["http.hsts"], ca_file=str(pki.ca_bundle))
    assert facts["tls_verified"] is True


def test_without_the_lab_ca_the_certificate_is_unverified(lab, collect_http, make_endpoint) -> None:
    _, https_port, _ = lab
    scenario = SCENARIOS["full"]
    asset = make_endpoint(f"https://{scenario.hostname}:{https_port}/", scenario.address)
    facts = collect_http(asset, checks=["http.hsts"])
    assert facts["tls_verified"] is False
    assert facts["status"] == 200
