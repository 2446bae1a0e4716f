"""Open TCP ports of hosts and endpoints: the ``ports`` check family.

``collect`` probes, once per asset, the union of the ports every requested
check needs (:func:`.checks.to_probe`), with the backend the run setting
``port_scanner`` names (:mod:`.backends`). The checks judge the resulting
facts (see :mod:`.facts` and docs/ports.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scanner.models import Asset
from scanner.plugin import CheckRequest, Context

from . import ranges as r
from .backends import SETTINGS, make_scanner
from .checks import CHECKS, to_probe
from .evidence import render as render_evidence
from .facts import PortScanResult


class _Ports:
    name = "ports"
    evidence = staticmethod(render_evidence)
    checks = CHECKS
    settings = SETTINGS
    option_types = (r.PORTS,)

    async def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> dict[str, Any]:
        wanted = r.union(*(to_probe(q.options) for q in requests))
        scanner = make_scanner(ctx.settings, any(q.options.get("service_versions") for q in requests))
        target = asset.connect_address
        address = await ctx.gate.admit(
            asset.hostname, asset.port, address=asset.address, purpose="port scan"
        )
        if not wanted:
            return PortScanResult(scanner.name, address, (), (), ()).to_json()
        async with ctx.host_slot(target):
            result = await scanner.scan(address, wanted, ctx)
        return result.to_json()


plugin = _Ports()

__all__ = ["plugin"]
