"""The scope gate: the one place that decides whether civiscan may connect, and to which address.

Every connection civiscan opens (a target, an SSH jump host, a name an
``~/.ssh/config`` rewrites to, a redirect a plugin follows) starts with
:meth:`Gate.admit`, which returns the IP literal to connect to. A name is
resolved once, in one order:

1. the run's ``--resolve`` map (``"host:port" -> address``);
2. the address the inventory gives for it;
3. the host itself, when it is an IP literal;
4. DNS, where *every* address the name has must lie in the scope.

The name must match the scope's domains (when domains are listed) and the
address its networks (when networks are listed), as :class:`Scope` defines.
A refusal raises ``CollectFailed`` with reason ``scope`` before any packet is
sent; a name without an address raises reason ``resolve``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from .inventory import Scope
from .models import CollectFailed, ErrorReason
from .netutil import classify, describe, format_hostport, is_ip

LOOPBACK = Scope((ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")))
"""What a :class:`Gate` made without a scope admits: packets that never leave this machine."""


def _bare(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class Gate:
    """Admits (host, port) pairs against one run's scope and ``--resolve`` map."""

    def __init__(
        self, scope: Scope, resolve: Mapping[str, str] | None = None, timeout: float = 5.0
    ) -> None:
        self.scope = scope
        self._resolve = {k.lower(): str(v).strip("[]") for k, v in (resolve or {}).items()}
        self._timeout = timeout

    @classmethod
    def from_settings(cls, scope: Scope | None, settings: Mapping[str, Any], timeout: float) -> Gate:
        """The gate of a job: its scope (loopback only when it has none) and ``settings["resolve"]``."""
        return cls(scope if scope is not None else LOOPBACK, settings.get("resolve"), timeout)

    # ------------------------------------------------------------------ pure decisions

    def _name_refusal(self, name: str) -> str | None:
        scope = self.scope
        if is_ip(name):
            if not scope.allows_address(name):
                return f"{name} is outside the allowed networks ({self._nets()})"
            return None
        if scope.domains and not scope.allows_name(name):
            return f"{name} is outside the allowed domains ({', '.join(scope.domains)})"
        if not scope.domains and not scope.networks:
            return "the scope allows nothing"
        return None

    def _address_refusal(self, name: str, address: str) -> str | None:
        if not is_ip(address):
            return f"{name} is reached at {address!r}, which is not an IP address"
        if address != name and self.scope.networks and not self.scope.allows_address(address):
            return f"{name} is reached at {address}, outside the allowed networks ({self._nets()})"
        return None

    def _nets(self) -> str:
        return ", ".join(str(n) for n in self.scope.networks) or "none"

    def _plan(
        self, host: str, port: int | None, purpose: str, address: str | None
    ) -> tuple[str, str | None, str | None]:
        """(name, the address fixed without DNS, else the name to look up): steps 1-3."""
        name = _bare(host)
        self._check(name, purpose)
        if port is not None:
            for key in (f"{name}:{port}", format_hostport(name, port)):
                if key in self._resolve:
                    return name, self._resolve[key], None  # never looked up, even if not an IP
        if address:
            given = _bare(address)
            if is_ip(given):
                return name, given, None
            # An inventory address given as a name is judged, and resolved, like the host.
            self._check(given, purpose)
            return name, None, given
        return (name, name, None) if is_ip(name) else (name, None, name)

    def _check(self, name: str, purpose: str) -> None:
        why = self._name_refusal(name)
        if why:
            raise CollectFailed(ErrorReason.SCOPE, f"refused: {why} ({purpose})")

    def _choose(self, name: str, addresses: Sequence[str], purpose: str) -> str:
        unique = list(dict.fromkeys(addresses))
        if not unique:
            raise CollectFailed(ErrorReason.RESOLVE, f"{name} has no address ({purpose})")
        for address in unique:
            why = self._address_refusal(name, address)
            if why:
                raise CollectFailed(ErrorReason.SCOPE, f"refused: {why} ({purpose})")
        return unique[0]

    @staticmethod
    def _unresolved(exc: BaseException, lookup: str, purpose: str) -> CollectFailed:
        return CollectFailed(classify(exc), f"cannot resolve {lookup}: {describe(exc)} ({purpose})")

    # ------------------------------------------------------------------ admission

    async def admit(
        self, host: str, port: int | None, *, purpose: str, address: str | None = None
    ) -> str:
        """The IP literal to connect to for ``host:port``; raises CollectFailed (scope, resolve).

        ``address`` is what the inventory says the host is reached at, if anything;
        ``purpose`` names the connection in a refusal (``"SSH jump host"``).
        """
        name, fixed, lookup = self._plan(host, port, purpose, address)
        if lookup is None:
            return self._choose(name, [fixed or ""], purpose)
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(lookup, None, type=socket.SOCK_STREAM), self._timeout
            )
        except (TimeoutError, OSError) as exc:
            raise self._unresolved(exc, lookup, purpose) from None
        return self._choose(name, [str(i[4][0]) for i in infos], purpose)

    def admit_sync(
        self, host: str, port: int | None, *, purpose: str, address: str | None = None
    ) -> str:
        """:meth:`admit` for blocking code (paramiko runs in a worker thread).

        ``getaddrinfo`` has no timeout of its own here: callers run in a thread
        whose result the event loop awaits with a bound.
        """
        name, fixed, lookup = self._plan(host, port, purpose, address)
        if lookup is None:
            return self._choose(name, [fixed or ""], purpose)
        try:
            infos = socket.getaddrinfo(lookup, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise self._unresolved(exc, lookup, purpose) from None
        return self._choose(name, [str(i[4][0]) for i in infos], purpose)


__all__ = ["LOOPBACK", "Gate"]
