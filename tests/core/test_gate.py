"""The scope gate: one resolver, one order, every candidate address judged before any packet."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from scanner.gate import Gate
from scanner.inventory import Scope
from scanner.models import CollectFailed, ErrorReason

LAB = Scope((ipaddress.ip_network("127.0.41.0/24"),), ("lab.test",))


def via_async(gate: Gate, host: str, port: int | None, address: str | None) -> str:
    return asyncio.run(gate.admit(host, port, address=address, purpose="test"))


def via_sync(gate: Gate, host: str, port: int | None, address: str | None) -> str:
    return gate.admit_sync(host, port, address=address, purpose="test")


ADMIT = pytest.mark.parametrize("admit", [via_async, via_sync], ids=["async", "sync"])
Admit = Callable[[Gate, str, "int | None", "str | None"], str]


@ADMIT
@pytest.mark.parametrize(
    ("host", "port", "address", "resolve", "expected"),
    [
        ("127.0.41.5", None, None, {}, "127.0.41.5"),
        ("[127.0.41.5]", 22, None, {}, "127.0.41.5"),
        ("www.lab.test", 443, "127.0.41.9", {}, "127.0.41.9"),
        ("www.lab.test", 443, "127.0.41.9", {"www.lab.test:443": "127.0.41.7"}, "127.0.41.7"),
        ("WWW.Lab.Test", 443, None, {"www.lab.test:443": "[127.0.41.7]"}, "127.0.41.7"),
        ("www.lab.test", 80, "127.0.41.9", {"www.lab.test:443": "127.0.41.7"}, "127.0.41.9"),
    ],
    ids=["ip", "bracketed", "inventory-address", "resolve-wins", "resolve-case", "resolve-per-port"],
)
def test_admitted_address(
    admit: Admit, host: str, port: int | None, address: str | None,
    resolve: Mapping[str, str], expected: str,
) -> None:
    assert admit(Gate(LAB, resolve), host, port, address) == expected


@ADMIT
@pytest.mark.parametrize(
    ("host", "address", "resolve", "says"),
    [
        ("127.0.43.1", None, {}, "127.0.43.1 is outside the allowed networks (127.0.41.0/24)"),
        ("evil.test", None, {}, "evil.test is outside the allowed domains (lab.test)"),
        ("www.lab.test", "127.0.43.1", {}, "www.lab.test is reached at 127.0.43.1, outside"),
        ("www.lab.test", "127.0.41.9", {"www.lab.test:443": "127.0.43.1"}, "reached at 127.0.43.1"),
        ("www.lab.test", None, {"www.lab.test:443": "other.lab.test"}, "not an IP address"),
        ("www.lab.test", "evil.test", {}, "evil.test is outside the allowed domains"),
    ],
    ids=["ip", "name", "inventory-address", "resolve-target", "resolve-name-not-looked-up",
         "address-name"],
)
def test_refused_before_any_lookup(
    admit: Admit, host: str, address: str | None, resolve: Mapping[str, str], says: str
) -> None:
    with pytest.raises(CollectFailed) as info:
        admit(Gate(LAB, resolve), host, 443, address)
    assert info.value.reason is ErrorReason.SCOPE
    assert info.value.message.startswith("refused: ") and says in info.value.message
    assert info.value.message.endswith("(test)")


@ADMIT
def test_empty_scope_admits_nothing(admit: Admit) -> None:
    with pytest.raises(CollectFailed) as info:
        admit(Gate(Scope()), "anything.test", 22, None)
    assert info.value.reason is ErrorReason.SCOPE and "allows nothing" in info.value.message


@ADMIT
def test_every_dns_answer_is_judged(admit: Admit) -> None:
    # localhost comes from /etc/hosts; a name allowed by the scope's domains alone
    # still has to resolve into its networks.
    gate = Gate(Scope((ipaddress.ip_network("127.0.41.0/24"),), ("localhost",)))
    with pytest.raises(CollectFailed) as info:
        admit(gate, "localhost", 443, None)
    assert info.value.reason is ErrorReason.SCOPE and "localhost is reached at" in info.value.message


def test_a_gate_without_scope_admits_loopback_only() -> None:
    gate = Gate.from_settings(None, {}, 1.0)
    assert gate.admit_sync("127.0.0.9", 22, purpose="test") == "127.0.0.9"
    with pytest.raises(CollectFailed):
        gate.admit_sync("192.0.2.1", 22, purpose="test")


# --------------------------------------------------------------------------- plugins


def _requests(plugin: str, port: int) -> list[Any]:
    from scanner.plugin import CheckRequest
    from scanner.plugins.ports.ranges import parse_ports

    if plugin == "ports":
        return [CheckRequest("ports.forbidden", {"ports": parse_ports([port])})]
    return []


@pytest.mark.parametrize("how", ["resolve", "dns"])
@pytest.mark.parametrize(
    ("plugin", "settings"),
    [("tls", {}), ("http", {}), ("ports", {"port_scanner": "connect"}),
     ("ports", {"port_scanner": "nmap"})],
    ids=["tls", "http", "ports-connect", "ports-nmap"],
)
def test_no_plugin_connects_outside_the_scope(
    plugin: str, settings: dict[str, Any], how: str, tool: Callable[[str], str]
) -> None:
    from scanner.models import Asset, AssetKind
    from scanner.plugin import Context, load_registry

    if settings.get("port_scanner") == "nmap":
        tool("nmap")
    # The listener is out of scope: 127.0.44.1 through --resolve, or 127.0.0.1
    # as the DNS answer for localhost. Anything that connected stays in its backlog.
    listen_at = "127.0.44.1" if how == "resolve" else "127.0.0.1"
    with socket.socket() as listener:
        listener.bind((listen_at, 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        host = "www.lab.test" if how == "resolve" else "localhost"
        resolve = {f"{host}:{port}": listen_at} if how == "resolve" else {}
        scope = Scope((ipaddress.ip_network("127.0.41.0/24"),), (host,))
        ctx = Context(2.0, {**settings, "resolve": resolve, "http_redirect_port": port},
                      gate=Gate(scope, resolve, 2.0))
        asset = Asset("lab/web", "web", AssetKind.ENDPOINT, "lab", url=f"https://{host}:{port}/")
        collect = load_registry().plugins[plugin].collect
        with pytest.raises(CollectFailed) as info:
            asyncio.run(collect(asset, _requests(plugin, port), ctx))
        assert info.value.reason is ErrorReason.SCOPE
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
