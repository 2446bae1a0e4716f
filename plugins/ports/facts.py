"""The facts of the ``ports`` plugin and the interface every port scanner meets.

One scan of one address gives a :class:`PortScanResult`. Its JSON form is the
plugin's facts (docs/ports.md)::

    {"scanner": "connect", "address": "127.0.0.5",
     "scanned": [[1, 1024], [3306, 3306]],
     "open": [{"port": 22, "protocol": "tcp", "service": "ssh",
               "product": null, "version": null}],
     "unanswered": [[8000, 8000]]}

A scanned port that is neither open nor unanswered was closed (refused).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scanner.plugin import Context

from . import ranges as r


@dataclass(frozen=True)
class OpenPort:
    """A port that accepted a TCP connection, with what is known of its service."""

    port: int
    protocol: str = "tcp"
    service: str | None = None  # a guess from the port number unless nmap -sV probed it
    product: str | None = None  # nmap -sV only
    version: str | None = None  # nmap -sV only

    def label(self) -> str:
        """``"23 (telnet)"`` for messages; the service name is untrusted text."""
        return f"{self.port} ({self.service})" if self.service else str(self.port)

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "protocol": self.protocol,
            "service": self.service,
            "product": self.product,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenPort:
        return cls(
            port=int(data["port"]),
            protocol=str(data.get("protocol") or "tcp"),
            service=data.get("service"),
            product=data.get("product"),
            version=data.get("version"),
        )


@dataclass(frozen=True)
class PortScanResult:
    """What one scan of one address found.

    ``scanned`` and ``unanswered`` are merged ranges; ``unanswered`` holds the
    ports whose probe timed out or was filtered (never counted as closed).
    """

    scanner: str
    address: str
    scanned: tuple[r.Range, ...]
    open: tuple[OpenPort, ...]
    unanswered: tuple[r.Range, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "scanner": self.scanner,
            "address": self.address,
            "scanned": r.to_json(self.scanned),
            "open": [p.to_json() for p in self.open],
            "unanswered": r.to_json(self.unanswered),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PortScanResult:
        return cls(
            scanner=str(data["scanner"]),
            address=str(data["address"]),
            scanned=tuple(r.normalise(data["scanned"])),
            open=tuple(sorted((OpenPort.from_json(p) for p in data["open"]), key=_port)),
            unanswered=tuple(r.normalise(data["unanswered"])),
        )


def _port(p: OpenPort) -> int:
    return p.port


class PortScanner(Protocol):
    """A way to learn which TCP ports of an address are open.

    ``address`` is an IP literal (the plugin resolves names first); ``ranges``
    are merged. An implementation probes every port of ``ranges`` once per
    scan, bounds every probe by ``ctx.timeout`` and reports a probe that got
    no answer as unanswered, never as closed. It raises
    :class:`scanner.models.CollectFailed` when the scan cannot run at all.
    """

    name: str

    async def scan(
        self, address: str, ranges: Sequence[r.Range], ctx: Context
    ) -> PortScanResult: ...
