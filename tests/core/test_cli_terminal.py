"""Hostile targets cannot drive the operator's terminal: scan and show print escapes, JSON keeps the text."""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import pytest

from scanner.lab.pki import LabPKI
from scanner.lab.servers import Lab

pytestmark = pytest.mark.integration

RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # all but newline
ADDRESS = "127.0.153.1"
LOCATION = "http://evil.test/\x1b]0;pwned\x07\x1b[2J\x9b31m"
REDIRECT_POLICY = """\
policy: {id: redirect, version: "1", title: Redirect}
rules:
  - id: plain-redirects
    title: Plain HTTP redirects to HTTPS
    severity: high
    rationale: Visitors who type the name still reach HTTPS.
    remediation: Redirect port 80 to https://.
    checks: [{check: http.redirect_to_https}]
"""
RELEASE_POLICY = """\
policy: {id: release, version: "1", title: Release}
rules:
  - id: supported
    title: The release is supported
    severity: high
    rationale: No fixes after end of life.
    remediation: Upgrade.
    checks: [{check: os.supported_release}]
"""


@pytest.fixture
def hostile_web(tmp_path: Path):  # type: ignore[no-untyped-def]
    """HTTPS on a free port answering 200; port 80 answering 301 with a hostile Location."""
    leaf = LabPKI(tmp_path / "pki").leaf("good-rsa", ADDRESS)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(leaf.fullchain, leaf.key)
    redirect = (f"HTTP/1.1 301 Moved\r\nLocation: {LOCATION}\r\nContent-Length: 0\r\n\r\n"
                .encode("latin-1"))
    with Lab() as lab:
        try:
            lab.tcp(ADDRESS, 80, reply=lambda _: redirect)
        except PermissionError:
            pytest.skip("binding port 80 needs root (the redirect probe always asks port 80)")
        https = lab.tcp(ADDRESS, 0, reply=lambda _: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                        tls=tls)
        yield f"https://{ADDRESS}:{https.port}/"


def test_scan_prints_a_hostile_location_inert(run_cli, tmp_path, hostile_web) -> None:
    (tmp_path / "p.yaml").write_text(REDIRECT_POLICY)
    done = run_cli("scan", "-p", "p.yaml", hostile_web, "-f", "table", "-f", "json", "-o", "run.json")
    assert done.returncode == 1, done.stderr
    assert "redirects to http://evil.test/\\x1b]0;pw" in done.stdout
    assert not RAW.search(done.stdout + done.stderr)


def test_json_keeps_the_hostile_location_exactly(run_cli, tmp_path, hostile_web) -> None:
    (tmp_path / "p.yaml").write_text(REDIRECT_POLICY)
    run_cli("scan", "-p", "p.yaml", hostile_web, "-q")
    shown = run_cli("show", "last", "--format", "json")
    assert not RAW.search(shown.stdout)
    finding = json.loads(shown.stdout)["findings"][0]
    assert finding["checks"][0]["evidence"]["location"] == LOCATION


def test_show_prints_a_hostile_pretty_name_inert(run_cli, tmp_path) -> None:
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(
        'ID=debian\nVERSION_ID="10"\nPRETTY_NAME="Debian \x1b]0;pwned\x07\x1b[2J\u202e10"\n'
    )
    (tmp_path / "p.yaml").write_text(RELEASE_POLICY)
    (tmp_path / "inv.yaml").write_text(
        "scope: {networks: [127.0.0.0/8]}\n"
        "departments:\n  it:\n    assets:\n      - {host: local, name: me}\n"
    )
    scanned = run_cli("scan", "-p", "p.yaml", "-i", "inv.yaml", "-q", env={"CIVISCAN_ROOT": str(root)})
    assert scanned.returncode == 1, scanned.stderr
    shown = run_cli("show", "last")
    assert "Debian \\x1b]0;pwned\\x07\\x1b[2J\\u202e10" in shown.stdout
    assert not RAW.search(shown.stdout + shown.stderr)


def test_verify_prints_hostile_manifest_names_inert(run_cli, tmp_path) -> None:
    folder = tmp_path / "downloaded"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({
        "schema": "civiscan/manifest", "schema_version": 1,
        "files": {"\x1b]0;pwned\x07\x1b[2J.html": {"sha256": "0" * 64, "size": 1}},
    }))
    done = run_cli("verify", "downloaded")
    assert done.returncode == 1
    assert "\\x1b]0;pwned\\x07\\x1b[2J.html: missing" in done.stdout
    assert not RAW.search(done.stdout + done.stderr)


def test_error_messages_are_printed_inert(run_cli) -> None:
    done = run_cli("show", "\x1b]0;pwned\x07")
    assert done.returncode == 2
    assert "no run '\\x1b]0;pwned\\x07'" in done.stderr
    assert not RAW.search(done.stderr)
