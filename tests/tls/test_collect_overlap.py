"""A collection describes the served chain while its handshake probes wait on the network.

The chain analysis (cryptography's import, the trust store, verification) runs
in a thread; the renegotiation and early-data probes after the enumeration are
network round trips. Neither needs the other, so they overlap.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import scanner.plugins.tls as tls
from scanner.models import Asset, AssetKind
from scanner.plugin import Context

pytestmark = pytest.mark.integration
HOST = "tls.lab.test"


@pytest.fixture(scope="module")
def site(lab: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = lab.Nginx(lab.require_tool("nginx"), Path(tmp_path_factory.mktemp("nginx")))
    added = server.add(f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
                       " ssl_protocols TLSv1.2 TLSv1.3;")
    server.start()
    yield added
    server.stop()


def test_the_chain_is_described_while_the_handshake_probes_are_out(site, pki, monkeypatch):
    chain_started = threading.Event()
    seen_by_probes: list[bool] = []
    real_chain, real_probes = tls._chain_facts, tls._handshake_probes

    def chain_facts(*args: Any, **kwargs: Any) -> Any:
        chain_started.set()
        return real_chain(*args, **kwargs)

    async def handshake_probes(*args: Any, **kwargs: Any) -> None:
        for _ in range(500):  # up to 5 s for the thread to start; sequential code never does
            if chain_started.is_set():
                break
            await asyncio.sleep(0.01)
        seen_by_probes.append(chain_started.is_set())
        await real_probes(*args, **kwargs)

    monkeypatch.setattr(tls, "_chain_facts", chain_facts)
    monkeypatch.setattr(tls, "_handshake_probes", handshake_probes)
    asset = Asset(id=f"lab/{HOST}", name=HOST, kind=AssetKind.ENDPOINT, department="lab",
                  url=f"https://{HOST}:{site.port}/", address=site.address)
    facts = asyncio.run(tls.plugin.collect(asset, [], Context(timeout=3.0, settings={"ca_file": str(pki.ca)})))
    assert seen_by_probes == [True]
    assert facts["certificate"]["leaf"] is not None
    assert facts["certificate"]["verification"]["verified"] is True  # the ca_file reached the thread
    assert facts["client_renegotiation"] is not None or "client_renegotiation" in facts["errors"]
    assert facts["early_data"] is not None or "early_data" in facts["errors"]
