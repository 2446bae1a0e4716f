"""How many TCP connections one endpoint costs, counted by a relay in front of real nginx.

The endpoints are the benchmark's (bench/tls), every one of them. Every probe
runs (no check is named, so the plan is everything: client-initiated
renegotiation and early data included). A connection count is a behaviour, not
a wall time, so it is asserted here.

Limits (``connection_budget`` of the lab): 30 for an endpoint after Mozilla's
modern or intermediate profile, 40 for the legacy ones. A ClientHello gets one pick, so an endpoint costs at
least one connection per accepted (version, suite) pair and per TLS 1.3
group, plus one refusal for each list; two endpoints have more than 40 of
those alone and are held to what they cost now, which is that floor plus the
probes' own connections (:data:`ABOVE`, the arithmetic is in
bench/tls/RESULTS.md): stapling (27 TLS 1.2 suites + 1, ten TLS 1.3 groups
+ 1, SSL 2.0, one hello for SSL 3.0 to TLS 1.1: 41) and legacy-all (48
suites over four versions in the server's order: 65).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind
from scanner.plugin import Context
from scanner.plugins.tls import plugin

pytestmark = pytest.mark.integration
HOST = "tls.lab.test"
ABOVE = {"stapling": 49, "legacy-all": 78}


@pytest.fixture(scope="module")
def relayed(lab: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = lab.Nginx(lab.require_tool("nginx"), Path(tmp_path_factory.mktemp("nginx-budget")))
    sites = {name: server.add(directives) for name, directives in lab.lab_sites(pki)}
    server.start()
    relay = lab.CountingRelay({n: (s.address, s.port) for n, s in sites.items()}, "127.65.2")
    yield relay
    relay.close()
    server.stop()


def _scan(relay: Any, pki: Any) -> dict[str, dict[str, Any]]:
    async def one(name: str) -> dict[str, Any]:
        address, port = relay.addresses[name]
        asset = Asset(id=f"lab/{name}", name=name, kind=AssetKind.ENDPOINT, department="lab",
                      url=f"https://{HOST}:{port}/", address=address)
        ctx = Context(timeout=5.0, settings={"ca_file": str(pki.ca)})
        return dict(await plugin.collect(asset, [], ctx))

    async def every() -> list[dict[str, Any]]:
        return await asyncio.gather(*(one(name) for name in relay.addresses))

    return dict(zip(relay.addresses, asyncio.run(every()), strict=True))


def test_every_probe_fits_the_connection_budget(relayed: Any, pki: Any, lab: Any) -> None:
    facts = _scan(relayed, pki)
    counted = relayed.snapshot()
    over = {}
    for name, count in counted.items():
        limit = ABOVE.get(name, lab.connection_budget(name))
        if count > limit:
            over[name] = f"{count} > {limit}"
    assert over == {}
    # The plugin's own count (a fact) is the relay's.
    assert {n: f["connections"] for n, f in facts.items()} == counted
    # Every probe ran: its fact is known on these servers.
    for name, fact in facts.items():
        assert fact["fallback_scsv"] is not None or sum(map(bool, fact["protocols"].values())) < 2, name
        assert fact["ccs_injection"] is not None or not fact["protocols"].get("TLSv1.2"), name
        assert fact["session_resumption"] is not None or not any(
            fact["protocols"].get(v) for v in ("TLSv1.0", "TLSv1.1", "TLSv1.2")), name
