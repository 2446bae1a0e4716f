"""Both backends against real listeners on loopback (see conftest.py)."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import threading
from collections.abc import Mapping
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason
from scanner.plugin import CheckRequest, Context
from scanner.plugins.ports import plugin
from scanner.plugins.ports.backends import make_scanner
from scanner.plugins.ports.connect import ConnectScanner, ProbeEngine, Tally, _settle
from scanner.plugins.ports.nmapscan import NmapScanner
from scanner.plugins.ports.ranges import parse_ports

pytestmark = pytest.mark.integration

CONNECT = {"port_scanner": "connect"}
NMAP = {"port_scanner": "nmap"}


def around(ports: set[int], spread: int = 3) -> list[str]:
    """Ranges covering each port and a few closed neighbours."""
    return [f"{max(1, p - spread)}-{min(65535, p + spread)}" for p in sorted(ports)]


def collect(
    address: str,
    requests: list[CheckRequest],
    settings: Mapping[str, Any] | None = None,
    timeout: float = 0.5,
    kind: AssetKind = AssetKind.HOST,
) -> dict[str, Any]:
    """Run the plugin's collect for one asset, as the engine would."""
    if kind is AssetKind.HOST:
        asset = Asset("lab/host", "host", kind, "lab", address=address)
    else:
        host = f"[{address}]" if ":" in address else address
        asset = Asset("lab/site", "site", kind, "lab", url=f"https://{host}:8443/")
    ctx = Context(timeout=timeout, settings=settings or {})
    return dict(asyncio.run(plugin.collect(asset, requests, ctx)))


def open_ports(facts: Mapping[str, Any]) -> set[int]:
    return {p["port"] for p in facts["open"]}


def forbid(ports: Any) -> list[CheckRequest]:
    """A ports.forbidden request, with options validated as the policy loader would."""
    return [CheckRequest("ports.forbidden", {"ports": parse_ports(ports)})]


def scan(scanner, address: str, ranges, timeout: float = 0.5):
    return asyncio.run(scanner.scan(address, ranges, Context(timeout=timeout)))


@pytest.mark.parametrize("index", range(5))
def test_connect_finds_exactly_the_listeners(lab, index):
    host = lab[index]
    address = host.address
    facts = collect(address, forbid(around(host.open | host.dropped)), CONNECT)
    assert facts["scanner"] == "connect"
    assert facts["address"] == address
    assert open_ports(facts) == host.open


@pytest.mark.parametrize("index", range(5))
def test_both_backends_find_the_same_open_ports(lab, tool, index):
    tool("nmap")
    host = lab[index]
    address = host.address
    ranges = ["1-1024", *around(host.open | host.dropped)]
    by_connect = collect(address, forbid(ranges), CONNECT)
    by_nmap = collect(address, forbid(ranges), NMAP)
    assert by_nmap["scanner"] == "nmap"
    assert open_ports(by_connect) == open_ports(by_nmap) == host.open
    assert by_connect["open"] == by_nmap["open"]  # same service guesses too
    assert by_connect["scanned"] == by_nmap["scanned"]


@pytest.mark.parametrize("settings", [CONNECT, NMAP], ids=["connect", "nmap"])
def test_dropped_port_is_unanswered_not_closed(lab, tool, settings):
    if settings is NMAP:
        tool("nmap")
    host = lab[1]
    (dropped,) = host.dropped
    facts = collect(host.address, forbid(around({dropped}, 1)), settings)
    assert facts["unanswered"] == [[dropped, dropped]]
    assert dropped not in open_ports(facts)


def test_mute_port_counts_as_open(lab):
    host = lab[2]
    (mute,) = host.mute
    assert open_ports(collect(host.address, forbid([mute]), CONNECT)) == {mute}


def test_full_range_scan_of_one_host(lab):
    host = lab[4]
    request = CheckRequest("ports.allowed", {"allowed": [], "port_set": "all", "ports": []})
    facts = collect(host.address, [request])
    assert facts["scanned"] == [[1, 65535]]
    # Other processes' wildcard listeners answer on every 127.x address too.
    assert host.open <= open_ports(facts)
    assert [[p, p] for p in sorted(host.dropped)] == facts["unanswered"]


def test_forbidden_check_end_to_end(lab):
    host = lab[0]
    (dropped,) = host.dropped
    listening = min(host.open)
    requests = forbid([listening, dropped])
    facts = collect(host.address, requests, CONNECT)
    outcome = plugin.checks[1].evaluate(facts, requests[0].options)
    assert outcome.status.value == "fail"
    assert str(listening) in outcome.message
    assert f"no answer within the timeout: {dropped}" in outcome.message


@pytest.mark.parametrize("settings", [CONNECT, NMAP], ids=["connect", "nmap"])
def test_ipv6_literal(new_lab, tool, settings):
    if settings is NMAP:
        tool("nmap")
    port = new_lab.open("::1")
    facts = collect("::1", forbid(around({port})), settings)
    assert facts["address"] == "::1"
    assert open_ports(facts) == {port}


def test_endpoint_is_scanned_at_its_connect_address(lab):
    host = lab[3]
    facts = collect(host.address, forbid(around(host.open)), CONNECT, kind=AssetKind.ENDPOINT)
    assert facts["address"] == host.address
    assert open_ports(facts) == host.open


def test_host_name_is_resolved_before_scanning():
    facts = collect("localhost", forbid([1]), CONNECT)
    assert facts["address"] in ("127.0.0.1", "::1")


def test_unknown_host_name_is_a_resolve_error():
    with pytest.raises(CollectFailed) as info:
        collect("no-such-host.invalid", forbid([1]), CONNECT)
    assert info.value.reason is ErrorReason.RESOLVE


def test_nothing_requested_scans_nothing(lab):
    facts = collect(lab[0].address, [], CONNECT)
    assert facts["scanned"] == [] and facts["open"] == []


def test_missing_nmap_program_is_not_supported(lab):
    with pytest.raises(CollectFailed) as info:
        scan(NmapScanner(programs=("/nonexistent/nmap",)), lab[0].address, [(1, 1)])
    assert info.value.reason is ErrorReason.NOT_SUPPORTED
    assert "nmap program is not installed" in info.value.message


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"port_scanner": "masscan"}, "not one of"),
        ({"port_parallelism": 0}, "below the minimum"),
    ],
    ids=["unknown-backend", "bad-parallelism"],
)
def test_bad_settings_are_reported(settings, needle):
    with pytest.raises(CollectFailed) as info:
        make_scanner(settings)
    assert needle in info.value.message


def test_settings_choose_the_backend():
    assert make_scanner({}).name == "connect"
    assert make_scanner({"port_parallelism": 64}).parallelism == 64  # type: ignore[attr-defined]
    assert make_scanner({"port_scanner": "nmap"}, versions=True).versions  # type: ignore[attr-defined]


def test_parallelism_of_one_gives_the_same_result(lab):
    host = lab[0]
    ranges = [(lo, hi) for lo, hi in parse_ports(around(host.open | host.dropped))]
    result = scan(ConnectScanner(parallelism=1), host.address, ranges)
    assert {p.port for p in result.open} == host.open
    assert {lo for lo, _ in result.unanswered} == host.dropped


def test_running_out_of_descriptors_slows_the_scan_down_but_loses_nothing(lab):
    """EMFILE while sockets are in flight is back-pressure, not a failure."""
    host = lab[1]
    ranges = [(lo, hi) for lo, hi in parse_ports(["1-3000", *sorted(host.open)])]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 16, hard))
    try:
        result = scan(ConnectScanner(parallelism=512, engine=ProbeEngine()), host.address, ranges)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert host.open <= {p.port for p in result.open}
    assert result.unanswered == ()


def test_cancelling_a_scan_ends_its_probes(lab):
    (dropped,) = lab[0].dropped
    engine = ProbeEngine()
    future = engine.submit(socket.AF_INET, (lab[0].address, 0), [(dropped, dropped)], 600.0, 4)
    assert future.cancel()
    # The engine thread notices, closes the socket and stops when idle.
    for _ in range(200):
        if engine.idle:
            break
        threading.Event().wait(0.05)
    assert engine.idle


def test_concurrent_scans_share_the_engine(lab):
    async def both():
        scanner = ConnectScanner()
        ctx = Context(timeout=0.5)
        return await asyncio.gather(
            *(
                scanner.scan(h.address, [(lo, hi) for lo, hi in parse_ports(around(h.open))], ctx)
                for h in lab
            )
        )

    results = asyncio.run(both())
    assert [{p.port for p in res.open} for res in results] == [h.open for h in lab]


def test_self_connect_is_not_an_open_port():
    """Linux lets a socket connect to its own address; nothing listens there."""
    sock = socket.socket()
    sock.bind(("127.0.31.9", 0))
    port = sock.getsockname()[1]
    assert sock.connect_ex(("127.0.31.9", port)) == 0  # simultaneous open with itself
    tally = Tally()
    _settle(sock, port, 0, tally)
    assert tally.open == [] and tally.unanswered == []
