"""``civiscan tls``: quick facts at a terminal, by name at an explicit address."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scanner.lab.demo import _http_response, _tls_context
from scanner.lab.pki import LabPKI
from scanner.lab.servers import Lab

pytestmark = pytest.mark.integration
# A loopback network of this process's own (as NET in tests/core/test_cli.py), so suites run side by side.
NET = f"127.{100 + os.getpid() % 100}.79"


def test_tls_command_reports_facts_and_errors(tmp_path):
    pki = LabPKI(tmp_path / "pki", domain="quick.test")
    leaf = pki.leaf("good-ecdsa", "www.quick.test")
    with Lab() as lab:
        lab.tcp(f"{NET}.1", 9443, tls=_tls_context(leaf.fullchain, leaf.key), reply=_http_response([]))
        lab.tcp(f"{NET}.2", 9443, silent=True)
        proc = subprocess.run(
            [sys.executable, "-m", "scanner", "tls", "--json", "--timeout", "1", "--ca-file", str(pki.ca_bundle),
             "--resolve", f"www.quick.test:9443:{NET}.1", "www.quick.test:9443", f"{NET}.2:9443"],
            capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 3, proc.stderr
    good, silent = json.loads(proc.stdout)
    assert good["address"] == f"{NET}.1" and good["facts"]["sni"] == "www.quick.test"
    assert good["facts"]["protocols"]["TLSv1.3"] is True
    assert good["facts"]["certificate"]["verification"]["verified"] is True
    assert silent["error"]["reason"] == "timeout"
