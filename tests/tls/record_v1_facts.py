"""Record tls facts of schema version 1 under tests/data/tls/facts-v1/ (run once; the files are committed).

    .venv/bin/python tests/tls/record_v1_facts.py

Version 1 certificate facts were written by ``analyze_chain`` in
plugins/tls/certs.py before commit 56040cf; this loads that file from git
history and describes lab chains with it, and describes the same chains with
today's ``describe_chain`` at the same moment. Each file holds both, so
tests/tls/test_facts_migration.py can judge the migrated version 1 facts
against what a fresh scan records.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from scanner.lab.pki import LabPKI
from scanner.plugins.tls.certs import describe_chain
from scanner.plugins.tls.suites import suite_for

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "tls" / "facts-v1"
NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
VARIANTS = ("good-rsa", "expired", "wrong-host", "self-signed", "untrusted-root",
            "missing-intermediate", "sha1", "rsa1024", "expires-soon")
# The rest of a version 1 document: the fields scan_facts wrote then, as a TLS 1.2/1.3 server answers.
SCAN = {
    "address": "127.0.0.1", "port": 443, "sni": None, "connections": 20,
    "protocols": {"SSLv2": False, "SSLv3": False, "TLSv1.0": False, "TLSv1.1": False,
                  "TLSv1.2": True, "TLSv1.3": True},
    "ciphers": {"TLSv1.2": [suite_for(0xC02F).fact()], "TLSv1.3": [suite_for(0x1301).fact()]},
    "ciphers_complete": {"TLSv1.2": True, "TLSv1.3": True},
    "server_order": {"TLSv1.2": True, "TLSv1.3": True}, "order": {},
    "groups": ["x25519"], "ecdhe_curves": ["x25519"], "dh_bits": None, "ocsp_stapling": False,
    "chain_protocol": "TLSv1.3", "errors": {}, "anomalies": [],
}


def _v1_module() -> object:
    source = subprocess.run(["git", "show", "56040cf^:plugins/tls/certs.py"], check=True,
                            capture_output=True, text=True, cwd=HERE).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("tls_certs_v1", f.name)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["tls_certs_v1"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    v1 = _v1_module()
    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pki = LabPKI(tmp, now=NOW - dt.timedelta(hours=1))
        for variant in VARIANTS:
            leaf = pki.leaf(variant)
            ca = str(pki.ca_bundle_with_intermediate if variant == "missing-intermediate" else pki.ca_bundle)
            old = v1.analyze_chain(list(leaf.chain), leaf.hostname, ca_file=ca, now=NOW,  # type: ignore[attr-defined]
                                   ocsp_stapled=False, system_store=None)
            new = describe_chain(list(leaf.chain), leaf.hostname, ca_file=ca, now=NOW,
                                 ocsp_stapled=False, system_store=None)
            for facts in (old, new):
                facts["trust_store"] = ["<lab bundle>"]  # no temporary path in the recording
            document = {"variant": variant, "v1": {**SCAN, "certificate": old},
                        "v2_certificate": new}
            (DATA / f"{variant}.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
