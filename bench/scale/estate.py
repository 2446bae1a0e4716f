"""A loopback estate for the fleet: port-lab hosts and TLS endpoints, with its inventory and policy.

Shared by bench/scale/run.py and tests/fleet/. Everything binds to
127.62.0.0/16 (hosts from 127.62.10.1, endpoints from 127.62.200.1) on fixed
ports below the ephemeral range, the same on every address so one policy
probes them all. Hosts are port-lab hosts (bench/ports/lab.py): an open port
the policy does not allow (a failure on every host), an allowed open port and
an allowed port that accepts and never answers; with ``slow`` a port whose SYNs
go unanswered too, so each host's job waits one ``--timeout``.
Endpoints are TLS sites of the demo lab's servers (lab/servers.py) with
certificates of the lab PKI (lab/pki.py), in a few variants.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ssl
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scanner.lab.pki import LabPKI
from scanner.lab.servers import Lab as TlsLab

DOMAIN = "fleet.test"
_LAB_PATH = Path(__file__).resolve().parents[1] / "ports" / "lab.py"
_spec = importlib.util.spec_from_file_location("civiscan_port_lab_scale", _LAB_PATH)
assert _spec is not None and _spec.loader is not None
port_lab = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = port_lab
_spec.loader.exec_module(port_lab)

UNEXPECTED, ALLOWED, MUTE, DROPPED, HTTPS = 29001, 29002, 29003, 29004, 29443
VARIANTS = ("good-ecdsa", "expired", "expires-soon", "good-rsa")
_REPLY = (b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=63072000\r\nContent-Length: 2\r\n"
          b"Connection: close\r\n\r\nok")


def host_address(i: int) -> str:
    return f"127.62.{10 + i // 250}.{i % 250 + 1}"


def endpoint_address(i: int) -> str:
    return f"127.62.{200 + i // 250}.{i % 250 + 1}"


@dataclass
class Estate:
    directory: Path
    inventory: Path
    policy: Path
    ca_file: Path
    hosts: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)

    @property
    def assets(self) -> int:
        return len(self.hosts) + len(self.endpoints)


def _tls(pki: LabPKI, variant: str, name: str) -> ssl.SSLContext:
    leaf = pki.leaf(variant, name)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(leaf.fullchain), str(leaf.key))
    return ctx


@contextlib.contextmanager
def estate(directory: Path, hosts: int, endpoints: int, *, slow: bool = False, top100: bool = False,
           zones: Sequence[str] = (), department: str = "estate") -> Iterator[Estate]:
    """Start the estate; ``zones`` spreads the hosts over departments ``z-ZONE`` pinned to those zones."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = LabPKI(directory / "pki", domain=DOMAIN)
    with port_lab.Lab() as plab, TlsLab() as tlab:
        host_items: dict[str, list[str]] = {}
        out = Estate(directory, directory / "inventory.yaml", directory / "policy.yaml", pki.ca_bundle)
        for i in range(hosts):
            address = host_address(i)
            plab.open(address, UNEXPECTED)
            plab.open(address, ALLOWED)
            plab.mute(address, MUTE)
            if slow:
                plab.dropped(address, DROPPED)
            dept = f"z-{zones[i % len(zones)]}" if zones else department
            host_items.setdefault(dept, []).append(f"{{host: {address}, name: h{i}}}")
            out.hosts.append(address)
        web_items = []
        for i in range(endpoints):
            address = endpoint_address(i)
            name = f"site{i}.{DOMAIN}"
            listener = tlab.tcp(address, HTTPS, tls=_tls(pki, VARIANTS[i % len(VARIANTS)], name), reply=lambda _r: _REPLY)
            web_items.append(f'{{endpoint: "https://{name}:{listener.port}/", address: {address}, name: site{i}}}')
            out.endpoints.append(address)
        lines = ["scope:", "  networks: [127.62.0.0/16]", f"  domains: [{DOMAIN}]", "departments:"]
        for dept, items in host_items.items():
            lines.append(f"  {dept}:")
            if dept.startswith("z-"):
                lines.append(f"    zone: {dept[2:]}")
            lines.append("    assets:")
            lines.extend(f"      - {item}" for item in items)
        if web_items:
            lines += ["  web:", "    assets:"] + [f"      - {item}" for item in web_items]
        out.inventory.write_text("\n".join(lines) + "\n")
        port_set = "port_set: top100, " if top100 else ""
        out.policy.write_text(textwrap.dedent(f"""\
            policy: {{id: fleet-estate, version: "1", title: Loopback estate}}
            extends: [mozilla-intermediate]
            rules:
              - id: lab-ports
                title: Only the first lab port of each host is open
                severity: high
                applies_to: {{kinds: [host]}}
                checks:
                  - check: ports.allowed
                    options: {{{port_set}allowed: [{ALLOWED}, {MUTE}], ports: [{UNEXPECTED}, {ALLOWED}, {MUTE}, {DROPPED}]}}
            """))
        yield out
