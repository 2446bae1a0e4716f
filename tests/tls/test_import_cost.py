"""`civiscan --version` starts without the heavy libraries and without any plugin.

What is imported is a behaviour (wall time is measured by benchmarks, not here):
a module that ``--version`` pulls in is paid by every start of the command.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("cryptography", "paramiko", "jinja2", "nmap", "selectolax", "croniter", "yaml",
         "sqlite3", "asyncio", "scanner.plugins", "scanner.engine", "scanner.store",
         "scanner.plugin", "scanner.policy", "scanner.output", "scanner.evaluate")

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
