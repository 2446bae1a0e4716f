"""The nmap backend: ``nmap -sT -Pn -n`` through python-nmap, read by nmapxml.

Chosen with the run setting ``port_scanner: nmap``. nmap runs in the engine's
thread pool (``ctx.run_blocking``); its XML report is parsed by the pure
:func:`parse_nmap_xml`, not by python-nmap's dictionary, which drops the
folded ``<extraports>`` needed to tell closed from unanswered ports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import nmap

from scanner.models import CollectFailed, ErrorReason
from scanner.netutil import is_ipv6
from scanner.plugin import Context

from . import ranges as r
from .facts import PortScanResult
from .nmapxml import NmapHostTimedOut, NmapOutputError, parse_nmap_xml

NOT_INSTALLED = (
    "port_scanner is nmap but the nmap program is not installed "
    "(install the nmap package, or use the built-in connect scanner)"
)


def nmap_arguments(timeout: float, versions: bool, ipv6: bool) -> str:
    """nmap's options for one scan; ``ctx.timeout`` caps the wait for each probe.

    ``--max-rtt-timeout`` is the per-probe ceiling, the initial estimate starts
    at the smaller of one second and the timeout (nmap adapts from there), and
    two retries let nmap confirm a silent port as filtered.
    """
    ceiling = max(1, round(timeout * 1000))
    initial = min(ceiling, 1000)
    args = [
        "-sT",
        "-Pn",
        "-n",
        "--max-retries",
        "2",
        "--initial-rtt-timeout",
        f"{initial}ms",
        "--max-rtt-timeout",
        f"{ceiling}ms",
    ]
    if versions:
        args.append("-sV")
    if ipv6:
        args.append("-6")
    return " ".join(args)


def run_limit(ports: int, timeout: float, versions: bool) -> int:
    """Seconds after which a still-running nmap is killed (a hung scan, not a slow one).

    Generous on purpose: a scan of 65535 silently filtered ports with a 5 s
    timeout may legitimately take an hour.
    """
    limit = 60 + timeout * (3 + ports / 50)
    if versions:
        limit *= 4
    return math.ceil(limit)


class NmapScanner:
    """:class:`PortScanner` backed by the nmap program."""

    name = "nmap"

    def __init__(self, versions: bool = False, programs: Sequence[str] = ()) -> None:
        """``versions`` adds ``-sV``; ``programs`` are nmap binaries to try in
        order (default: python-nmap's search of PATH and the usual places)."""
        self.versions = versions
        self.programs = tuple(programs)

    async def scan(self, address: str, ranges: Sequence[r.Range], ctx: Context) -> PortScanResult:
        args = nmap_arguments(ctx.timeout, self.versions, is_ipv6(address))
        limit = run_limit(r.count(ranges), ctx.timeout, self.versions)
        xml, errors = await ctx.run_blocking(
            _run, self.programs, address, r.to_text(ranges), args, limit
        )
        try:
            return parse_nmap_xml(xml)
        except NmapHostTimedOut as exc:
            raise CollectFailed(ErrorReason.TIMEOUT, str(exc)) from None
        except NmapOutputError as exc:
            detail = f"; nmap said: {errors}" if errors else ""
            raise CollectFailed(
                ErrorReason.PROTOCOL, f"could not read nmap's report ({exc}){detail}"
            ) from None


def _run(
    programs: tuple[str, ...], address: str, ports: str, args: str, limit: int
) -> tuple[bytes, str]:
    """Run nmap (blocking); its XML report and its error lines, if any."""
    try:
        scanner = nmap.PortScanner(programs) if programs else nmap.PortScanner()
    except nmap.PortScannerError:
        raise CollectFailed(ErrorReason.NOT_SUPPORTED, NOT_INSTALLED) from None
    try:
        result: dict[str, Any] = scanner.scan(
            hosts=address, ports=ports, arguments=args, timeout=limit
        )
    except nmap.PortScannerTimeout:
        raise CollectFailed(
            ErrorReason.TIMEOUT, f"nmap did not finish scanning {address} within {limit} s"
        ) from None
    except nmap.PortScannerError as exc:
        raise CollectFailed(ErrorReason.COMMAND, f"nmap failed: {_first_line(exc)}") from None
    errors = result.get("nmap", {}).get("scaninfo", {}).get("error") or []
    output = scanner.get_nmap_last_output()
    xml = output.encode() if isinstance(output, str) else output
    return xml, _first_line(" ".join(errors))


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else ""
