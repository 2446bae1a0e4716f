"""A tiny third-party civiscan plugin: reads a TCP service's greeting banner."""

from __future__ import annotations

import asyncio
import re

from scanner.models import AssetKind, CollectFailed, ErrorReason, Outcome
from scanner.netutil import open_connection
from scanner.options import Option
from scanner.plugin import Check

_VERSION = re.compile(r"\d+\.\d+")


def no_version(facts, options):
    """The service greeting must not disclose a software version.

    Options: ``port`` (int, required): the TCP port whose greeting is read.
    PASS: greeting ``220 mail ready``. FAIL: greeting ``220 ExampleMTA 4.2 ready``.
    """
    banner = facts["banners"].get(str(options["port"]), "")
    if _VERSION.search(banner):
        return Outcome.failed(f"The greeting on port {options['port']} discloses a version.", banner=banner)
    return Outcome.passed(f"The greeting on port {options['port']} discloses no version.", banner=banner)


class BannerPlugin:
    name = "banner"
    checks = (
        Check(
            id="banner.no_version",
            title="Service greetings do not disclose versions",
            kinds=frozenset({AssetKind.HOST}),
            evaluate=no_version,
            options={"port": Option("int", "TCP port to read the greeting from", minimum=1, maximum=65535)},
        ),
    )

    async def collect(self, asset, requests, ctx):
        banners = {}
        for port in sorted({r.options["port"] for r in requests}):
            async with ctx.host_slot(asset.connect_address):
                reader, writer = await open_connection(asset.connect_address, port, ctx.timeout)
                try:
                    line = await asyncio.wait_for(reader.readline(), ctx.timeout)
                except TimeoutError:
                    raise CollectFailed(ErrorReason.TIMEOUT, f"port {port} sent no greeting within {ctx.timeout:g}s") from None
                finally:
                    writer.close()
            banners[str(port)] = line.decode("utf-8", "replace").strip()
        return {"banners": banners}


plugin = BannerPlugin()
