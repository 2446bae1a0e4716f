"""The nginx lines in the shipped web rules' remediation text fix what the rules judge.

For every rule whose fix is a response header (or a cookie attribute nginx
adds), the ```nginx block of its remediation is pasted into a server block of
a real nginx on 127.0.216.x, and the rule, judged by the evaluator on what the
http and web plugins collect there, passes. Each server is a proxy in front of
an "application" that sets a bare cookie and ``X-Powered-By: PHP/8.1.2``, as
city sites are; a proxy without the lines (nginx's defaults) is the control:
it fails them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import plugin_registry
from scanner.evaluate import evaluate_asset
from scanner.gate import Gate
from scanner.inventory import Scope
from scanner.models import Asset, AssetKind, Status
from scanner.plugin import CheckRequest, Context
from scanner.policy import Rule, RuleSet, load_policies
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

POLICIES = ("baseline", "privacy-baseline", "city-baseline")
HEADER_CHECKS = frozenset({
    "http.hsts", "http.security_headers", "http.coop", "http.corp", "http.coep",
    "http.version_disclosure", "web.csp", "web.referrer_policy", "web.permissions_policy",
    "web.cors",
})
"""Checks that judge response headers: a header (or a server directive) is their fix."""
COOKIE_CHECK = "http.cookies"
APP = ("127.0.216.250", 'add_header Set-Cookie "sid=1; Path=/" always;\n'
       '    add_header X-Powered-By "PHP/8.1.2" always;')
"""The application behind every proxy: its address and the headers it sends."""
PASS_BARE = frozenset({"web-cross-origin-resource-policy", "web-cross-origin-embedder-policy",
                       "web-cors"})
"""Rules a server without the header passes: their headers are judged only when sent."""
INDEX = "<!doctype html><html><head><title>City</title></head><body><p>Hello</p></body></html>"
_FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def code_blocks(markdown: str, language: str) -> list[str]:
    return [body for lang, body in _FENCE.findall(markdown) if lang == language]


def header_rules() -> dict[str, Rule]:
    """Every header rule of the shipped web policies, as ``policy:rule``."""
    registry = plugin_registry()
    found: dict[str, Rule] = {}
    for name in POLICIES:
        for rule in load_policies([name], registry).rules:
            if rule.checks and all(c.check_id in HEADER_CHECKS for c in rule.checks):
                found.setdefault(f"{rule.policy}:{rule.id}", rule)
    return found


def cookie_rules() -> dict[str, Rule]:
    """The cookie rules whose remediation gives nginx lines."""
    return {f"{r.policy}:{r.id}": r for name in POLICIES
            for r in load_policies([name], plugin_registry()).rules
            if [c.check_id for c in r.checks] == [COOKIE_CHECK]
            and code_blocks(r.remediation, "nginx")}


RULES = header_rules()
TESTED = {**RULES, **cookie_rules()}
CASES = {key: (i, rule) for i, (key, rule) in enumerate(sorted(TESTED.items()), start=1)}


def test_every_web_rule_gives_its_fix_as_markdown() -> None:
    registry = plugin_registry()
    web = {f"{r.policy}:{r.id}": r
           for name in POLICIES for r in load_policies([name], registry).rules
           if any(c.check_id.startswith(("http.", "web.")) for c in r.checks)}
    assert len(web) >= 21
    for key, rule in web.items():
        assert rule.remediation.strip(), key
        assert "\n\n" in rule.remediation or "`" in rule.remediation, key
    for key, rule in RULES.items():
        nginx = code_blocks(rule.remediation, "nginx")
        apache = code_blocks(rule.remediation, "apache")
        assert len(nginx) == 1 and len(apache) == 1, key
        if "add_header" in nginx[0]:
            assert all(line.rstrip().endswith("always;") for line in nginx[0].splitlines()
                       if line.lstrip().startswith("add_header")), key
            assert "Header always set" in apache[0], key


def _server(address: str, hostname: str, port: int, cert: Any, directives: str) -> str:
    return f"""
  server {{
    listen {address}:{port} ssl;
    server_name {hostname};
    ssl_certificate {cert.fullchain};
    ssl_certificate_key {cert.key};
    location / {{ proxy_pass http://{APP[0]}:{port}; }}
{directives}
  }}"""


@pytest.fixture(scope="module")
def fixed_sites(tmp_path_factory, nginx_runner, pick_port, lab_pki):
    """``{rule key: (asset with the rule's nginx lines, asset of a bare server)}``."""
    binary = require_tool("nginx")
    directory = tmp_path_factory.mktemp("remediation")
    served = Path(tempfile.mkdtemp(prefix="civiscan-remediation-"))
    served.chmod(0o755)
    (served / "index.html").write_text(INDEX)
    (served / "index.html").chmod(0o644)
    names = [f"rule{i}.city.test" for i, _ in CASES.values()] + ["bare.city.test"]
    cert = lab_pki.leaf("good-rsa", names[0], extra_names=names[1:])
    bare = ("bare.city.test", "127.0.216.254")
    addresses = [f"127.0.216.{i}" for i, _ in CASES.values()] + [bare[1], APP[0]]
    port = pick_port(addresses)
    blocks = [f"""
  server {{
    listen {APP[0]}:{port};
    root {served};
    {APP[1]}
  }}""", _server(bare[1], bare[0], port, cert, "")]
    for i, rule in CASES.values():
        (snippet,) = code_blocks(rule.remediation, "nginx")
        blocks.append(_server(f"127.0.216.{i}", f"rule{i}.city.test", port, cert, snippet))

    def asset(hostname: str, address: str) -> Asset:
        return Asset(id=f"lab/{hostname}", name=hostname, kind=AssetKind.ENDPOINT,
                     department="lab", url=f"https://{hostname}:{port}/", address=address,
                     ca_file=str(lab_pki.ca_bundle))

    try:
        with nginx_runner(binary, directory / "run", "".join(blocks),
                          [(a, port) for a in addresses]):
            yield {key: (asset(f"rule{i}.city.test", f"127.0.216.{i}"), asset(*bare))
                   for key, (i, _) in CASES.items()}
    finally:
        shutil.rmtree(served, ignore_errors=True)


def judge_rule(rule: Rule, asset: Asset) -> Any:
    registry = plugin_registry()
    resolve = {f"{asset.name}:{asset.url.rsplit(':', 1)[1].rstrip('/')}": asset.address}
    gate = Gate(Scope((ipaddress.ip_network("127.0.216.0/24"),)), resolve, 5.0)
    ctx = Context(5.0, {"resolve": resolve}, gate=gate)
    facts: dict[str, Mapping[str, Any]] = {}
    for family in sorted({c.check_id.split(".")[0] for c in rule.checks}):
        requests = [CheckRequest(c.check_id, c.options) for c in rule.checks
                    if c.check_id.startswith(family + ".")]
        facts[family] = asyncio.run(registry.plugins[family].collect(asset, requests, ctx))
    (finding,) = evaluate_asset(asset, facts, {}, RuleSet((rule,), (), ()), registry.checks,
                                dt.datetime.now(dt.UTC))
    return finding


@pytest.mark.parametrize("key", sorted(CASES), ids=sorted(CASES))
def test_the_nginx_lines_of_the_remediation_make_the_rule_pass(fixed_sites, key) -> None:
    fixed, _bare = fixed_sites[key]
    finding = judge_rule(TESTED[key], fixed)
    assert finding.status is Status.PASS, finding.message


@pytest.mark.parametrize("key", sorted(k for k in CASES if k.split(":")[1] not in PASS_BARE),
                         ids=sorted(k for k in CASES if k.split(":")[1] not in PASS_BARE))
def test_a_server_without_them_fails_the_rule(fixed_sites, key) -> None:
    _fixed, bare = fixed_sites[key]
    assert judge_rule(TESTED[key], bare).status is Status.FAIL
