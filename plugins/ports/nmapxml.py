"""Read nmap's XML output (``-oX``) of a TCP scan of one host into a PortScanResult.

Pure: bytes in, facts out, so it is tested on recorded output
(tests/data/ports/*.xml). nmap folds ports that share a state into
``<extraports>``; since nmap 7.80 ``<extrareasons ports="...">`` lists them, and
for an older nmap the ports nobody accounts for go to the one folded state
that has no list, or else count as unanswered: never silently as closed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from . import ranges as r
from .facts import OpenPort, PortScanResult
from .services import service_name


class NmapOutputError(ValueError):
    """nmap's output is not a readable scan of one host."""


class NmapHostTimedOut(NmapOutputError):
    """nmap gave up on the host (``--host-timeout``) before finishing the scan."""


def parse_nmap_xml(data: bytes | str) -> PortScanResult:
    """The facts of nmap's XML report of a TCP scan of a single host.

    Port states: ``open`` is open, ``closed`` is closed, every other state
    (``filtered``, ``open|filtered``, ...) is unanswered. The service name is
    nmap's when it probed the port (``-sV``), with product and version;
    otherwise it is civiscan's own guess from the port number, so both
    backends name services alike.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise NmapOutputError(f"not XML ({exc})") from None
    if root.tag != "nmaprun":
        raise NmapOutputError(f"unexpected root element <{root.tag}>")
    scanned = _scanned(root)
    hosts = root.findall("host")
    if len(hosts) != 1:
        raise NmapOutputError(f"expected one host in the report, found {len(hosts)}")
    host = hosts[0]
    address = _address(host)
    if host.get("timedout") == "true":
        raise NmapHostTimedOut(f"nmap gave up on {address} before the scan finished")

    states: dict[int, str] = {}
    services: dict[int, ET.Element] = {}
    for port_el in host.findall("ports/port"):
        if port_el.get("protocol") != "tcp":
            continue
        port = _int(port_el.get("portid"), "portid")
        state_el = port_el.find("state")
        states[port] = state_el.get("state", "") if state_el is not None else ""
        service_el = port_el.find("service")
        if service_el is not None:
            services[port] = service_el

    unlisted_states: list[str] = []
    for extra in host.findall("ports/extraports"):
        state = extra.get("state", "")
        listed = False
        for reasons in extra.findall("extrareasons"):
            if reasons.get("proto", "tcp") == "tcp" and reasons.get("ports"):
                listed = True
                for port in r.iter_ports(_ranges(reasons.get("ports", ""))):
                    states[port] = state
        if not listed:
            unlisted_states.append(state)

    remainder = r.subtract(scanned, r.from_ports(states))
    if len(unlisted_states) == 1:
        for port in r.iter_ports(remainder):
            states[port] = unlisted_states[0]
        remainder = []

    opened = sorted(p for p, s in states.items() if s == "open")
    unanswered = r.union(
        r.from_ports(p for p, s in states.items() if s not in ("open", "closed")), remainder
    )
    return PortScanResult(
        scanner="nmap",
        address=address,
        scanned=tuple(scanned),
        open=tuple(_open_port(p, services.get(p)) for p in opened),
        unanswered=tuple(unanswered),
    )


def _scanned(root: ET.Element) -> list[r.Range]:
    found: list[r.Range] = []
    for info in root.findall("scaninfo"):
        if info.get("protocol") == "tcp" and info.get("services"):
            found = r.union(found, _ranges(info.get("services", "")))
    if not found:
        raise NmapOutputError("no TCP <scaninfo>: nmap did not say which ports it scanned")
    return found


def _address(host: ET.Element) -> str:
    for el in host.findall("address"):
        if el.get("addrtype") in ("ipv4", "ipv6") and el.get("addr"):
            return el.get("addr", "")
    raise NmapOutputError("the host has no IP address")


def _open_port(port: int, service: ET.Element | None) -> OpenPort:
    if service is not None and service.get("method") == "probed":
        return OpenPort(
            port,
            "tcp",
            service.get("name") or service_name(port),
            service.get("product"),
            service.get("version"),
        )
    return OpenPort(port, "tcp", service_name(port))


def _ranges(text: str) -> list[r.Range]:
    try:
        return r.normalise(r.parse_ports(text))
    except ValueError as exc:
        raise NmapOutputError(f"bad port list {text[:40]!r}: {exc}") from None


def _int(text: str | None, what: str) -> int:
    try:
        return int(text or "")
    except ValueError:
        raise NmapOutputError(f"bad {what} {text!r}") from None
