"""Evidence as people read it: each plugin renders its own facts (``Plugin.evidence``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner.models import AssetKind, Outcome
from scanner.plugin import Check, Registry, declarations, plugin_problems
from scanner.plugins.ports.checks import evaluate_allowed, evaluate_forbidden
from scanner.reports import evidence, render

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

PORT_FACTS = {
    "scanner": "connect",
    "address": "127.68.0.5",
    "scanned": [[1, 65535]],
    "open": [
        {"port": 22, "protocol": "tcp", "service": "ssh", "product": None, "version": None},
        {"port": 3306, "protocol": "tcp", "service": "mysql", "product": None, "version": None},
        {"port": 5900, "protocol": "tcp", "service": "vnc", "product": None, "version": None},
    ],
    "unanswered": [],
}


def test_open_ports_read_as_port_and_service():
    outcome = evaluate_allowed(
        PORT_FACTS, {"allowed": [[22, 22]], "port_set": "top100", "ports": [[1, 1024], [3306, 3306], [5900, 5900]]}
    )
    lines = evidence.readable("ports.allowed", outcome.evidence)
    assert lines[0] == "Open but not allowed: 3306/mysql, 5900/vnc"
    assert "Open ports: 22/ssh, 3306/mysql, 5900/vnc" in lines
    assert "Allowed: 22" in lines


def test_forbidden_open_ports_come_first():
    outcome = evaluate_forbidden(PORT_FACTS, {"ports": [[23, 23], [5900, 5900]]})
    assert evidence.readable("ports.forbidden", outcome.evidence)[0] == "Forbidden and open: 5900/vnc"


def test_a_certificate_reads_as_subject_issuer_and_days_left():
    lines = evidence.readable(
        "tls.certificate",
        {"hostname": "www.city.example", "subject": "CN=www.city.example", "issuer": "CN=City CA",
         "not_after": "2026-12-25T12:00:00+00:00", "days_left": 30, "key": "EC 256 (secp256r1)",
         "problems": [{"code": "expires_soon", "message": "The certificate expires in 30 days."}]},
    )
    assert lines[:4] == [
        "Subject: CN=www.city.example",
        "Issuer: CN=City CA",
        "Expires 25 Dec 2026, 12:00 UTC (in 30 days)",
        "Key: EC 256 (secp256r1)",
    ]
    assert "Problem: The certificate expires in 30 days." in lines


def test_an_expired_certificate_says_how_long_ago():
    lines = evidence.readable(
        "tls.certificate", {"subject": "CN=a", "issuer": "CN=b", "not_after": "2026-11-01", "days_left": -24}
    )
    assert "Expired 1 Nov 2026 (24 days ago)" in lines


def test_tls_protocols_read_as_lists():
    lines = evidence.readable(
        "tls.protocols", {"accepted": ["TLSv1.0", "TLSv1.2"], "forbidden_accepted": ["TLSv1.0"]}
    )
    assert lines == ["Accepted: TLSv1.0, TLSv1.2", "Accepted although forbidden: TLSv1.0"]


def test_a_package_reads_as_installed_to_fixed_with_the_advisory():
    lines = evidence.readable(
        "packages.vulnerable",
        {"release": "debian 12", "packages_checked": 412, "advisories": [
            {"id": "DSA-5678-1", "package": "openssl", "installed": "3.0.11-1", "fixed": "3.0.13-1",
             "severity": "high"},
            {"id": "CVE-2026-0001", "package": "zlib", "installed": "1.2.13", "fixed": None},
        ]},
    )
    assert lines == [
        "openssl 3.0.11-1 -> fixed in 3.0.13-1 (DSA-5678-1, high)",
        "zlib 1.2.13 -> no fix yet (CVE-2026-0001)",
        "debian 12, 412 packages checked",
    ]


def test_http_headers_read_as_header_lines():
    lines = evidence.readable(
        "http.security_headers",
        {"url": "https://www.city.example/", "content-security-policy": None,
         "x-content-type-options": "nosniff"},
    )
    assert lines == [
        "Content-Security-Policy: not sent",
        "X-Content-Type-Options: nosniff",
        "Read from https://www.city.example/",
    ]
    hsts = evidence.readable("http.hsts", {"url": "https://a.example/", "header": "max-age=60"})
    assert hsts[0] == "Strict-Transport-Security: max-age=60"


def test_web_third_parties_name_their_trackers():
    lines = evidence.readable(
        "web.third_parties",
        {"pages_read": 3, "third_parties": [
            {"site": "googletagmanager.com", "kinds": ["script"],
             "tracker": {"name": "Google Tag Manager", "category": "Analytics"}, "allowed": False},
            {"site": "cityfonts.example", "kinds": ["font"], "tracker": None, "allowed": True},
        ]},
    )
    assert lines == [
        "Third party googletagmanager.com: Google Tag Manager (Analytics); loads script",
        "Third party cityfonts.example; loads font (allowed)",
    ]


def test_evidence_of_another_shape_falls_back_to_the_key_facts():
    assert evidence.readable("tls.protocols", {"nothing": "known"}) == []
    assert evidence.readable("tls.protocols", ["not", "a", "mapping"]) == []
    assert evidence.readable("unknown_family.check", {"open": []}) == []


@pytest.mark.parametrize(
    "bad",
    [{"open": "not a list"}, {"open": [None, 7, {"port": None}]}, {"advisories": [{"id": 1}]},
     {"third_parties": [{"site": None, "kinds": 5}]}, {"problems": 3}, {"subject": ["x"]}],
    ids=["open-text", "open-junk", "advisory-junk", "third-party-junk", "problems-int", "subject-list"],
)
def test_hostile_evidence_never_breaks_a_renderer(bad):
    for check in ("ports.allowed", "tls.certificate", "packages.vulnerable", "web.third_parties",
                  "http.hsts"):
        lines = evidence.readable(check, bad)
        assert all(isinstance(line, str) and len(line) < 500 for line in lines)


def test_lines_are_redacted_bounded_and_on_one_line_each():
    lines = evidence.readable(
        "packages.vulnerable",
        {"db_path": "/var/lib/secret.db", "advisories": [
            {"id": f"A-{i}\nforged line", "package": "p" * 900, "installed": "1", "fixed": "2"}
            for i in range(40)]},
    )
    assert len(lines) == evidence.MAX_LINES + 1
    assert all("\n" not in line and len(line) <= evidence.MAX_TEXT + 40 for line in lines)
    assert not any("secret" in line for line in lines)


def _plugin(render_evidence):
    async def collect(asset, requests, ctx):
        return {}

    class Family:
        name = "family"
        checks = (Check("family.one", "One", frozenset({AssetKind.HOST}),
                        lambda facts, options: Outcome.passed("ok")),)
        evidence = staticmethod(render_evidence) if callable(render_evidence) else render_evidence

    Family.collect = staticmethod(collect)
    return Family()


def test_the_registry_keeps_each_plugins_renderer():
    registry = Registry()
    registry.add(_plugin(lambda check_id, ev: [f"{check_id}: {ev['x']}"]))
    render_lines = registry.evidence_renderers()["family"]
    assert render_lines("family.one", {"x": 1}) == ["family.one: 1"]


def test_a_renderer_that_is_not_a_function_is_refused():
    problems = plugin_problems(_plugin("lines"))
    assert problems == ["plugin family: evidence must be a function (check_id, evidence) -> lines"]


def test_a_plugin_without_a_renderer_declares_none():
    assert declarations(object()).evidence is None


def test_a_department_page_shows_the_plugins_lines_and_folds_the_json(make_run, tmp_path: Path):
    b = make_run()
    b.rule("ports-allowed", check="ports.allowed", options={"allowed": [[22, 22]]})
    b.finding(b.asset("parks", "db", kind="host", address="127.68.0.5"), "ports-allowed", "fail",
              evidence=evaluate_allowed(PORT_FACTS, {"allowed": [[22, 22]], "port_set": "top100",
                                                     "ports": [[3306, 3306], [5900, 5900]]}).evidence)
    page = next(p for p in render(b.build(), ["html"], tmp_path, now=NOW) if p.name.startswith("dept-"))
    text = page.read_text()
    assert "<li>Open but not allowed: 3306/mysql, 5900/vnc</li>" in text
    assert '<details class="raw"><summary>Raw evidence (JSON)</summary>' in text
