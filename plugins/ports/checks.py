"""The checks of the ``ports`` family: pure judgements of one scan's facts.

Every check names the ports it needs probed with its options ``port_set``
and ``ports`` (:func:`to_probe`), so the collector scans the union of every
request once. A port a check depends on
that is missing from the facts' ``scanned`` ranges (facts from another run or
policy) is an ``error``, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from scanner.models import AssetKind, ErrorReason, Outcome
from scanner.options import Option
from scanner.plugin import Check, Facts

from . import ranges as r
from .facts import PortScanResult
from .portsets import NAMED_SETS

_LISTED = 12  # ports named in a message; the evidence holds them all
_KINDS = frozenset({AssetKind.HOST, AssetKind.ENDPOINT})

SERVICE_VERSIONS = Option(
    "bool",
    "With the nmap backend, also ask nmap which product and version answers on each"
    " open port (-sV). Slower; ignored by the connect backend.",
    default=False,
)

ALLOWED_OPTIONS: Mapping[str, Option] = {
    "allowed": Option(r.PORTS, "Ports that may be open, e.g. [22, 443, '8000-8100']."),
    "port_set": Option(
        "str",
        "Named set of ports to probe: top100, top1000 (nmap's most common TCP ports)"
        " or all (1-65535).",
        default="top1000",
        choices=tuple(NAMED_SETS),
    ),
    "ports": Option(r.PORTS, "More ports to probe besides port_set.", default=[]),
    "service_versions": SERVICE_VERSIONS,
}

FORBIDDEN_OPTIONS: Mapping[str, Option] = {
    "ports": Option(r.PORTS, "Ports that must not be open, e.g. [21, 23, 3389]."),
    "service_versions": SERVICE_VERSIONS,
}


def to_probe(options: Mapping[str, Any]) -> list[r.Range]:
    """Ports a check needs probed: its named ``port_set`` (if it has one) plus ``ports``."""
    named = NAMED_SETS[options["port_set"]] if options.get("port_set") else []
    return r.union(named, options.get("ports") or [])


def evaluate_allowed(facts: Facts, options: Mapping[str, Any]) -> Outcome:
    """Only the allowed TCP ports may be open.

    Options: ``allowed`` (ports, required): the ports that may be open;
    ``port_set`` (str, default ``"top1000"``): which ports to probe, one of
    ``top100``, ``top1000`` (nmap's 1000 most common TCP ports) or ``all``
    (1-65535); ``ports`` (ports, default ``[]``): more ports to probe;
    ``service_versions`` (bool, default ``false``): with the nmap backend,
    record product and version of each open port.

    Only the ports this check probes count (``port_set`` plus ``ports``), so
    the verdict does not depend on what other rules asked to probe and a
    re-evaluation of stored facts gives the same answer. A port that gave no
    answer is not open. When no probed port
    answered at all the host may be down: that is an error, not a pass.

    PASS: ``allowed: [22, 443]``, the scan finds 22 and 443 open.
    FAIL: ``allowed: [22, 443]``, the scan also finds 23 open: "Port 23
    (telnet) is open but not allowed."
    """
    result = PortScanResult.from_json(facts)
    allowed = r.normalise(options["allowed"])
    evidence = {**_evidence(result), "allowed": r.to_text(allowed)}
    missing = r.subtract(to_probe(options), list(result.scanned))
    if missing:
        return _not_scanned(missing, "only allowed ports are open", evidence)
    probed = r.count(result.scanned)
    if not result.open and r.count(result.unanswered) == probed:
        return Outcome.error(
            ErrorReason.TIMEOUT,
            f"None of the {probed} probed ports answered within the timeout: the host may"
            " be down or behind a firewall that drops every probe.",
            **evidence,
        )
    own = to_probe(options)
    unexpected = [
        p for p in result.open if r.contains(own, p.port) and not r.contains(allowed, p.port)
    ]
    if unexpected:
        evidence["unexpected"] = [p.to_json() for p in unexpected]
        if len(unexpected) == 1:
            message = f"Port {unexpected[0].label()} is open but not allowed."
        else:
            message = (
                f"{len(unexpected)} ports are open but not allowed: "
                f"{_labels(p.label() for p in unexpected)}."
            )
        return Outcome.failed(message, **evidence)
    if result.open:
        message = (
            f"Only allowed ports are open: {_labels(p.label() for p in result.open)};"
            f" {_ports(probed)} probed."
        )
    else:
        message = f"No port is open among the {_ports(probed)} probed."
    return Outcome.passed(message + _silent_note(result.unanswered), **evidence)


ALLOWED = Check(
    id="ports.allowed",
    title="Only allowed TCP ports are open",
    kinds=_KINDS,
    network=True,
    evaluate=evaluate_allowed,
    options=ALLOWED_OPTIONS,
)


def evaluate_forbidden(facts: Facts, options: Mapping[str, Any]) -> Outcome:
    """The forbidden TCP ports must be closed.

    Options: ``ports`` (ports, required): the ports that must not be open,
    e.g. ``[21, 23, 3389]``; ``service_versions`` (bool, default ``false``):
    with the nmap backend, record product and version of each open port.

    The collector always probes these ports. A forbidden port that gave no
    answer within the timeout may be open behind a slow or filtering path,
    so it makes the result an error (reason ``timeout``), not a pass.

    PASS: ``ports: [21, 23, 3389]``, all three refuse connections.
    FAIL: ``ports: [21, 23, 3389]``, 23 accepts a connection: "Forbidden
    port 23 (telnet) is open."
    """
    result = PortScanResult.from_json(facts)
    forbidden = r.normalise(options["ports"])
    evidence = {**_evidence(result), "forbidden": r.to_text(forbidden)}
    missing = r.subtract(forbidden, list(result.scanned))
    if missing:
        return _not_scanned(missing, "the forbidden ports are closed", evidence)
    found = [p for p in result.open if r.contains(forbidden, p.port)]
    silent = r.intersect(forbidden, list(result.unanswered))
    evidence["forbidden_unanswered"] = r.to_text(silent)
    if found:
        evidence["forbidden_open"] = [p.to_json() for p in found]
        if len(found) == 1:
            message = f"Forbidden port {found[0].label()} is open."
        else:
            message = f"Forbidden ports are open: {_labels(p.label() for p in found)}."
        return Outcome.failed(message + _silent_note(silent), **evidence)
    if silent:
        one = r.count(silent) == 1
        return Outcome.error(
            ErrorReason.TIMEOUT,
            f"Forbidden port{'' if one else 's'} {_ranges(silent)} did not answer within the"
            f" timeout, so it is unknown whether {'it is' if one else 'they are'} open.",
            **evidence,
        )
    if r.count(forbidden) == 1:
        return Outcome.passed(f"Forbidden port {_ranges(forbidden)} is closed.", **evidence)
    return Outcome.passed(f"Forbidden ports {_ranges(forbidden)} are all closed.", **evidence)


FORBIDDEN = Check(
    id="ports.forbidden",
    title="Forbidden TCP ports are closed",
    kinds=_KINDS,
    network=True,
    evaluate=evaluate_forbidden,
    options=FORBIDDEN_OPTIONS,
)


def _evidence(result: PortScanResult) -> dict[str, Any]:
    """The scan in evidence form: port sets as ``"1-1024,3306"`` text, readable in reports."""
    return {
        "address": result.address,
        "scanner": result.scanner,
        "scanned": r.to_text(result.scanned),
        "scanned_count": r.count(result.scanned),
        "open": [p.to_json() for p in result.open],
        "unanswered": r.to_text(result.unanswered),
    }


def _not_scanned(missing: list[r.Range], claim: str, evidence: dict[str, Any]) -> Outcome:
    subject = "Port {} was" if r.count(missing) == 1 else "Ports {} were"
    return Outcome.error(
        ErrorReason.NO_DATA,
        f"{subject.format(_ranges(missing))} not scanned, so it cannot be said that {claim}.",
        **{**evidence, "not_scanned": r.to_text(missing)},
    )


def _silent_note(unanswered: Sequence[r.Range]) -> str:
    n = r.count(unanswered)
    if not n:
        return ""
    return f" {_ports(n)} gave no answer within the timeout: {_ranges(unanswered)}."


def _labels(labels: Iterable[str]) -> str:
    items = list(labels)
    shown = ", ".join(items[:_LISTED])
    return shown + (f" and {len(items) - _LISTED} more" if len(items) > _LISTED else "")


def _ranges(ranges: Sequence[r.Range]) -> str:
    return _labels(r.to_text([x]) for x in ranges)


def _ports(n: int) -> str:
    return "1 port" if n == 1 else f"{n} ports"


CHECKS = (ALLOWED, FORBIDDEN)

__all__ = ["ALLOWED", "CHECKS", "FORBIDDEN", "to_probe"]
