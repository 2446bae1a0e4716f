"""Fixtures for history: run documents, and real runs stored by scanning loopback listeners.

``scanned_city`` scans two departments twice with the example banner plugin,
changing the greetings in between, so every change category has a real finding.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from scanner.lab.servers import Lab
from tests.core.conftest import fake_plugin, registry, write  # noqa: F401  (fixtures)
from tests.core.test_cli import BANNER_POLICY, NET, civiscan  # noqa: F401  (fixtures)
from tests.reports.conftest import RunBuilder, chromium  # noqa: F401  (fixture)

# NET.171.0/24 is this folder's own loopback block; NET is the test process's own
# 127.N/16, so parallel checkouts never compete for the banner port 2525.
PARKS_WWW, PARKS_SHOP, WATER_DB = f"{NET}.171.1", f"{NET}.171.2", f"{NET}.171.3"
VERSIONED, PLAIN = b"220 ExampleMTA 4.2 ready\r\n", b"220 hello\r\n"
# A name an asset's owner chose: Markdown that would make a link (control and
# bidi characters are refused by the inventory loader, tests/core/test_positions.py).
HOSTILE_NAME = "shop[pay](javascript:alert(1))*"
INVENTORY = f"""
scope: {{networks: [{NET}.171.0/24]}}
departments:
  parks:
    assets:
      - host: {PARKS_WWW}
        name: www
      - host: {PARKS_SHOP}
        name: "{HOSTILE_NAME}"
  water:
    assets:
      - host: {WATER_DB}
        name: db
"""


def scan(civiscan, policy: str, inventory: str, greetings: dict[str, bytes], *flags: str) -> int:  # noqa: F811
    """One stored run of *inventory* with listeners answering *greetings*; its id."""
    with Lab() as lab:
        for address, greeting in greetings.items():
            lab.tcp(address, 2525, greeting=greeting)
        proc = civiscan("scan", "-p", policy, "-i", inventory, "-q", "-f", "json", "--timeout", "2", *flags)
    assert proc.returncode in (0, 1), proc.stderr
    return int(json.loads(proc.stdout)["run"]["id"])


@pytest.fixture
def scanned_city(civiscan, write) -> dict[str, Any]:  # noqa: F811
    """Run 1: www and db fail, shop passes. Run 2: www fixed, shop new, db still failing."""
    policy = write("p.yaml", BANNER_POLICY)
    inventory = write("inv.yaml", INVENTORY)
    first = scan(civiscan, policy, inventory, {PARKS_WWW: VERSIONED, PARKS_SHOP: PLAIN, WATER_DB: VERSIONED})
    second = scan(civiscan, policy, inventory, {PARKS_WWW: PLAIN, PARKS_SHOP: VERSIONED, WATER_DB: VERSIONED})
    return {"civiscan": civiscan, "policy": policy, "inventory": inventory, "runs": (first, second)}


@pytest.fixture
def make_run() -> type[RunBuilder]:
    return RunBuilder
