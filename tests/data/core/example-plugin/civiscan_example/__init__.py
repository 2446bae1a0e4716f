"""A tiny third-party civiscan plugin: reads a TCP service's greeting banner.

It uses every declaration a built-in plugin can: a check option of its own
type, a run setting with a ``civiscan scan`` flag, an error reason, an
evidence key to redact, a facts schema version with a migration, and a
command (``civiscan banner-policy``, in :mod:`.command`).
"""

from __future__ import annotations

import asyncio
import re
import socket
from types import MappingProxyType

from scanner.models import AssetKind, CollectFailed, ErrorReason, Outcome, PluginReason
from scanner.netutil import open_connection
from scanner.options import Option, OptionType
from scanner.plugin import Check, Setting

_VERSION = re.compile(r"\d+\.\d+")

BINARY_GREETING = PluginReason("binary_greeting")


def _port(value):
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"expected a TCP port 1-65535, got {value!r}")
    return value


TCP_PORT = OptionType("tcp_port", _port, "a TCP port number, 1-65535 (digits in a string too)")


def no_version(facts, options):
    """The service greeting must not disclose a software version.

    Options: ``port`` (tcp_port, required): the TCP port whose greeting is read.
    PASS: greeting ``220 mail ready``. FAIL: greeting ``220 ExampleMTA 4.2 ready``.
    """
    banner = facts["banners"].get(str(options["port"]), "")
    seen = {"banner": banner, "read_by": facts.get("read_by")}
    if _VERSION.search(banner):
        return Outcome.failed(f"The greeting on port {options['port']} discloses a version.", **seen)
    return Outcome.passed(f"The greeting on port {options['port']} discloses no version.", **seen)


def _migrate(version, facts):
    if version == 1:  # version 1 called the greetings "greetings"
        return {"banners": facts["greetings"]}
    raise ValueError(f"unknown version {version}")


class BannerPlugin:
    name = "banner"
    checks = (
        Check(
            id="banner.no_version",
            title="Service greetings do not disclose versions",
            kinds=frozenset({AssetKind.HOST}),
            evaluate=no_version,
            options={"port": Option(TCP_PORT, "TCP port to read the greeting from")},
        ),
    )
    option_types = (TCP_PORT,)
    settings = MappingProxyType({
        "banner_max_bytes": Setting(
            "int", "Longest greeting read, in bytes.", default=512, minimum=1, maximum=4096,
            flag="--banner-max-bytes",
        ),
    })
    reasons = MappingProxyType({BINARY_GREETING: "the service greeted with binary data, not a line of text"})
    redact = frozenset({"read_by"})  # the scanning machine's host name
    facts_version = 2
    migrate_facts = staticmethod(_migrate)

    async def collect(self, asset, requests, ctx):
        limit = int(ctx.settings.get("banner_max_bytes") or 512)
        banners = {}
        for port in sorted({r.options["port"] for r in requests}):
            address = await ctx.gate.admit(asset.hostname, port, address=asset.address,
                                           purpose="banner")
            async with ctx.host_slot(address):
                reader, writer = await open_connection(address, port, ctx.timeout)
                try:
                    line = await asyncio.wait_for(reader.readline(), ctx.timeout)
                except TimeoutError:
                    raise CollectFailed(ErrorReason.TIMEOUT, f"port {port} sent no greeting within {ctx.timeout:g}s") from None
                finally:
                    writer.close()
            if b"\x00" in line:
                raise CollectFailed(BINARY_GREETING, f"port {port} sent a binary greeting")
            banners[str(port)] = line[:limit].decode("utf-8", "replace").strip()
        return {"banners": banners, "read_by": socket.gethostname()}


plugin = BannerPlugin()
