"""A real nginx hands the scanner secrets; none of them reaches the store, a report, the log or a webhook.

The site on 127.0.219.1 sets session cookies, redirects through a URL carrying an
access token, answers plain HTTP with a redirect whose URL holds user information
and a token, and serves a password form posting over HTTP to a URL with a token.
The checks still judge all of it (cookie attributes, the redirect, the form).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.lab.pki import LabPKI
from tests.conftest import require_tool
from tests.http.conftest import free_port, run_nginx
from tests.notify.conftest import serve_webhook
from tests.notify.test_command import AGENT

ADDRESS = "127.0.219.1"
HOSTNAME = "portal.city.test"
SECRETS = {
    "cookie": "CookieValue0Secret11",
    "second_cookie": "SecondCookie0Secret22",
    "chain": "ChainToken0Secret33",
    "userinfo": "UserinfoPass0Secret44",
    "redirect": "RedirectToken0Secret55",
    "form": "FormToken0Secret66",
}
POLICY = """\
policy: {id: leaks, version: "1", title: Secrets stay out}
rules:
  - {id: redirect, title: Plain HTTP redirects, severity: high, checks: [{check: http.redirect_to_https}]}
  - {id: cookies, title: Cookies are locked down, severity: high, checks: [{check: http.cookies}]}
  - {id: forms, title: Forms post over HTTPS, severity: high, checks: [{check: web.forms}]}
  - {id: redirects, title: Redirects stay on HTTPS, severity: low, checks: [{check: web.redirects}]}
"""
# The parks department, told of its changes by webhook, with the portal as its one asset.
INVENTORY = (
    "scope: {{networks: [127.0.219.0/24]}}\n"
    "departments: {{parks: {{title: Parks,"
    ' contacts: {{webhook: [{{url: "{hook}", secret_env: NOTIFY_SECRET}}]}},'
    ' assets: [{{endpoint: "https://{host}:{port}/", address: {address}}}]}}}}\n'
)
FORMATS = ("json", "html", "junit", "sarif", "csv", "markdown")


@dataclass(frozen=True)
class Portal:
    https_port: int
    plain_port: int
    ca_file: str


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    binary = require_tool("nginx")
    directory = tmp_path_factory.mktemp("portal")
    pki = LabPKI(directory / "pki", now=dt.datetime.now(dt.UTC))
    cert = pki.leaf("good-rsa", HOSTNAME)
    https_port, plain_port = free_port([ADDRESS]), free_port([ADDRESS])
    # nginx's workers run as an unprivileged user: the page lives in a folder they can read.
    served = Path(tempfile.mkdtemp(prefix="civiscan-redact-"))
    served.chmod(0o755)
    page = served / "home.html"
    page.write_text(
        "<!doctype html><html><head><title>Portal</title></head><body>"
        f'<form action="http://{HOSTNAME}:{plain_port}/login?token={SECRETS["form"]}&amp;lang=en" method="post">'
        '<input name="user"><input type="password" name="pw"></form></body></html>'
    )
    page.chmod(0o644)
    servers = f"""
  server {{
    listen {ADDRESS}:{https_port} ssl;
    server_name {HOSTNAME};
    ssl_certificate {cert.fullchain};
    ssl_certificate_key {cert.key};
    location = / {{
      add_header Set-Cookie "sid={SECRETS["cookie"]}; Path=/; HttpOnly" always;
      return 302 /home?access_token={SECRETS["chain"]}&lang=en;
    }}
    location = /home {{
      add_header Set-Cookie "session={SECRETS["second_cookie"]}; Path=/" always;
      default_type text/html;
      alias {page};
    }}
  }}
  server {{
    listen {ADDRESS}:{plain_port};
    server_name {HOSTNAME};
    return 301 http://scanner:{SECRETS["userinfo"]}@{HOSTNAME}:{plain_port}/next?token={SECRETS["redirect"]}&lang=en;
  }}"""
    try:
        with run_nginx(binary, directory / "run", servers, [(ADDRESS, https_port), (ADDRESS, plain_port)]):
            yield Portal(https_port, plain_port, str(pki.ca_bundle))
    finally:
        shutil.rmtree(served, ignore_errors=True)


def civiscan(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVISCAN_DB": str(tmp_path / "store.db"), "NOTIFY_SECRET": "hook-signing-key"}
    env.pop("CI", None)
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


def leaked(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [name for name, secret in SECRETS.items() if secret.encode() in data]


@pytest.fixture(scope="module")
def scanned(portal: Portal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """Scan the portal, render every format and notify the department; what each step wrote."""
    tmp_path = tmp_path_factory.mktemp("scan")
    with serve_webhook() as hook:
        (tmp_path / "policy.yaml").write_text(POLICY)
        (tmp_path / "inventory.yaml").write_text(
            INVENTORY.format(hook=hook.url, host=HOSTNAME, port=portal.https_port, address=ADDRESS))
        (tmp_path / "agent.yaml").write_text(AGENT.format(attempts=1))
        target = f"{HOSTNAME}:{portal.https_port}"
        options = ("-p", "policy.yaml", "-i", "inventory.yaml", "--ca-file", portal.ca_file,
                   "--http-redirect-port", str(portal.plain_port), "--format", "json", "--timeout", "3")
        # Run 1 finds nothing listening, so run 2's failures are new: the department is told of them.
        before = civiscan(tmp_path, "scan", *options, "--resolve", f"{target}:127.0.219.2")
        assert before.returncode == 3, before.stdout + before.stderr
        scan = civiscan(tmp_path, "scan", *options, "--resolve", f"{target}:{ADDRESS}", "--debug")
        assert scan.returncode == 1, scan.stdout + scan.stderr
        store = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("store.db*")))
        report = civiscan(tmp_path, "report", "last", *(f"--format={f}" for f in FORMATS),
                          "-o", "out", "--debug")
        assert report.returncode == 0, report.stdout + report.stderr
        notify = civiscan(tmp_path, "notify", "last", "--previous", "1", "--config", "agent.yaml", "--debug")
        assert notify.returncode == 0, notify.stdout + notify.stderr
        assert hook.received, notify.stdout + notify.stderr
        outputs = {
            "scan output and --debug log": scan.stdout + scan.stderr,
            "report command output": report.stdout + report.stderr,
            "notify output": notify.stdout + notify.stderr,
            "webhook messages": "\n".join(r.body.decode() for r in hook.received),
            **{f"report {p.name}": p.read_text() for p in sorted((tmp_path / "out").rglob("*")) if p.is_file()},
        }
        yield tmp_path, {"store file and WAL": store.decode("latin-1"), **outputs}


def test_the_scan_judged_what_the_secrets_were_hidden_in(scanned: tuple[Path, dict[str, str]]) -> None:
    tmp_path, _ = scanned
    doc = json.loads(civiscan(tmp_path, "report", "last", "--format=json", "-o", "again").returncode == 0
                     and (tmp_path / "again" / "run.json").read_text())
    statuses = {f["rule_id"]: f["status"] for f in doc["findings"]}
    assert statuses["redirect"] == "fail"  # Location is http:, whatever it carries
    assert statuses["cookies"] == "fail"  # cookies without Secure: attributes were judged
    assert statuses["forms"] == "fail"  # a password form posting over plain HTTP
    facts = json.dumps(doc["assets"])
    assert "token=[redacted]" in facts and "access_token=[redacted]" in facts


@pytest.mark.parametrize("where", [
    "store file and WAL", "scan output and --debug log", "report command output", "notify output",
    "webhook messages", *(f"report {n}" for n in ("run.json", "junit.xml", "run.sarif", "findings.csv",
                                                   "summary.md", "index.html")),
])
def test_no_secret_appears(scanned: tuple[Path, dict[str, str]], where: str) -> None:
    _, outputs = scanned
    assert leaked(outputs[where]) == []


def test_no_secret_appears_in_the_department_page(scanned: tuple[Path, dict[str, str]]) -> None:
    _, outputs = scanned
    pages = [k for k in outputs if k.startswith("report dept-")]
    assert pages
    assert {page: leaked(outputs[page]) for page in pages} == dict.fromkeys(pages, [])
