"""The port-scan backends a run can choose.

The run setting ``port_scanner`` (flag ``--port-scanner``) picks ``connect``
(built in, default) or ``nmap``; ``port_parallelism`` bounds the connect
scanner's probes in flight per address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.models import CollectFailed, ErrorReason
from scanner.options import validate_options
from scanner.plugin import Setting

from .connect import DEFAULT_PARALLELISM, ConnectScanner
from .facts import PortScanner

SETTINGS: Mapping[str, Setting] = {
    "port_scanner": Setting(
        "str",
        "How to probe ports: connect (built in) or nmap (needs the nmap program).",
        default="connect",
        choices=("connect", "nmap"),
        flag="--port-scanner",
    ),
    "port_parallelism": Setting(
        "int",
        "Connects in flight at once per scanned address with the connect scanner.",
        default=DEFAULT_PARALLELISM,
        minimum=1,
        maximum=16384,
        flag="--port-parallelism",
    ),
}
"""Run-wide settings this plugin reads from ``ctx.settings``."""


def make_scanner(settings: Mapping[str, Any], versions: bool = False) -> PortScanner:
    """The backend the run settings ask for; a bad setting is a CollectFailed."""
    given = {key: settings[key] for key in SETTINGS if settings.get(key) is not None}
    values, problems = validate_options(SETTINGS, given, "ports")
    if problems:
        details = "; ".join(p.message for p in problems)
        raise CollectFailed(ErrorReason.NOT_SUPPORTED, f"bad port scan settings: {details}")
    if values["port_scanner"] == "nmap":
        from .nmapscan import NmapScanner  # python-nmap: imported when nmap scans

        return NmapScanner(versions=versions)
    return ConnectScanner(parallelism=values["port_parallelism"])


__all__ = ["SETTINGS", "make_scanner"]
