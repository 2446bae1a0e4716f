"""Open TCP ports of hosts and endpoints: the ``ports`` check family.

``collect`` probes, once per asset, the union of the ports every requested
check needs, with the backend the run setting ``port_scanner`` names:
``connect`` (built in, default) or ``nmap``. The checks judge the resulting
facts (see :mod:`.facts` and docs/ports.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason
from scanner.options import Option, validate_options
from scanner.plugin import Check, CheckRequest, Context

from . import ranges as r
from .checks import (
    ALLOWED_OPTIONS,
    FORBIDDEN_OPTIONS,
    PROBES,
    evaluate_allowed,
    evaluate_forbidden,
)
from .connect import DEFAULT_PARALLELISM, ConnectScanner
from .facts import PortScanner, PortScanResult
from .nmapscan import NmapScanner

SETTINGS: Mapping[str, Option] = {
    "port_scanner": Option(
        "str",
        "How to probe ports: connect (built in) or nmap (needs the nmap program).",
        default="connect",
        choices=("connect", "nmap"),
    ),
    "port_parallelism": Option(
        "int",
        "Connects in flight at once per scanned address with the connect scanner.",
        default=DEFAULT_PARALLELISM,
        minimum=1,
        maximum=16384,
    ),
}
"""Run-wide settings this plugin reads from ``ctx.settings``."""

_KINDS = frozenset({AssetKind.HOST, AssetKind.ENDPOINT})


def make_scanner(settings: Mapping[str, Any], versions: bool = False) -> PortScanner:
    """The backend the run settings ask for; a bad setting is a CollectFailed."""
    given = {key: settings[key] for key in SETTINGS if settings.get(key) is not None}
    values, problems = validate_options(SETTINGS, given, "ports")
    if problems:
        details = "; ".join(p.message for p in problems)
        raise CollectFailed(ErrorReason.NOT_SUPPORTED, f"bad port scan settings: {details}")
    if values["port_scanner"] == "nmap":
        return NmapScanner(versions=versions)
    return ConnectScanner(parallelism=values["port_parallelism"])


class _Ports:
    name = "ports"
    checks = (
        Check(
            id="ports.allowed",
            title="Only allowed TCP ports are open",
            kinds=_KINDS,
            evaluate=evaluate_allowed,
            options=ALLOWED_OPTIONS,
        ),
        Check(
            id="ports.forbidden",
            title="Forbidden TCP ports are closed",
            kinds=_KINDS,
            evaluate=evaluate_forbidden,
            options=FORBIDDEN_OPTIONS,
        ),
    )

    async def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> dict[str, Any]:
        mine = [q for q in requests if q.check_id in PROBES]
        wanted = r.union(*(PROBES[q.check_id](q.options) for q in mine))
        scanner = make_scanner(ctx.settings, any(q.options.get("service_versions") for q in mine))
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

__all__ = ["SETTINGS", "make_scanner", "plugin"]
