"""`civiscan --version` starts without the heavy libraries and without any plugin.

What is imported is a behaviour (wall time is measured by benchmarks, not here):
a module that ``--version`` pulls in is paid by every start of the command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scanner.lab.demo import _http_response, _tls_context
from scanner.lab.pki import LabPKI
from scanner.lab.servers import Lab

HEAVY = ("cryptography", "paramiko", "jinja2", "nmap", "selectolax", "croniter", "yaml",
         "sqlite3", "asyncio", "scanner.plugins", "scanner.engine", "scanner.store",
         "scanner.plugin", "scanner.policy", "scanner.output", "scanner.evaluate")
# A loopback network of this process's own (as in test_cli_tls.py), so suites run side by side.
NET = f"127.{100 + (os.getpid() + 53) % 100}.79"

PROBE = """
import io, json, sys
from contextlib import redirect_stdout
from scanner.cli import main
out = io.StringIO()
try:
    with redirect_stdout(out):
        main(["--version"])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print(json.dumps({"out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_version_imports_no_heavy_module() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=60, check=True)
    result = json.loads(done.stdout)
    assert result["out"].startswith("civiscan, version ")
    loaded = [m for m in result["modules"]
              if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == []


# Runs the command line, then writes the names of the imported modules to argv[1].
SCAN = """
import atexit, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
sys.argv[0] = "civiscan"
from scanner.cli import main
main()
"""


@pytest.mark.integration
def test_a_tls_scan_reads_keys_and_certificates_without_the_serialization_package(tmp_path) -> None:
    """Key shares and certificate digests need the encodings, not SSH keys, bcrypt or PKCS#12."""
    pki = LabPKI(tmp_path / "pki", domain="imports.test")
    leaf = pki.leaf("good-ecdsa", "www.imports.test")
    out = tmp_path / "modules.txt"
    with Lab() as lab:
        lab.tcp(f"{NET}.1", 9443, tls=_tls_context(leaf.fullchain, leaf.key), reply=_http_response([]))
        proc = subprocess.run(
            [sys.executable, "-c", SCAN, str(out), "tls", "--json", "--timeout", "2", "--ca-file",
             str(pki.ca_bundle), "--resolve", f"www.imports.test:9443:{NET}.1", "www.imports.test:9443"],
            capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    [result] = json.loads(proc.stdout)
    assert result["facts"]["protocols"]["TLSv1.3"] is True
    assert result["facts"]["certificate"]["verification"]["verified"] is True
    modules = set(out.read_text().split())
    assert "cryptography.x509" in modules
    assert {"cryptography.hazmat.primitives.serialization", "bcrypt"} & modules == set()
