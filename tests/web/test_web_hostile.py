"""The web family against servers that misbehave: bounded reads, clear reasons."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from scanner.lab.pki import LabPKI
from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason
from scanner.plugin import CheckRequest, Context
from scanner.plugins.web import plugin
from scanner.plugins.web.limits import MAX_BODY

pytestmark = pytest.mark.integration

ADDRESS = "127.0.213.60"
HOSTNAME = "hostile.city.test"
TIMEOUT = 0.5
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(scope="module")
def server_tls(lab_pki: LabPKI) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf = lab_pki.leaf("good-rsa", HOSTNAME)
    context.load_cert_chain(leaf.fullchain, leaf.key)
    return context


def answer(head: bytes, body: bytes = b"", hang: bool = False) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head + body)
        await writer.drain()
        if hang:
            await asyncio.sleep(3600)
        writer.close()

    return handler


def run(handler: Handler, tls: ssl.SSLContext, pki: LabPKI, checks=()) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        server = await asyncio.start_server(handler, ADDRESS, 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        try:
            asset = Asset(id="lab/x", name="x", kind=AssetKind.ENDPOINT, department="lab",
                          url=f"https://{HOSTNAME}:{port}/", address=ADDRESS,
                          ca_file=str(pki.ca_bundle))
            requests = [CheckRequest(c, {}) for c in checks]
            return await plugin.collect(asset, requests, Context(TIMEOUT, {}))
        finally:
            server.close()

    return asyncio.run(main())


HTML = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"


def test_a_body_past_the_cap_is_cut_and_marked(server_tls, lab_pki) -> None:
    body = b"<html><body>" + b"<p>x</p>" * (MAX_BODY // 8 + 1000)
    facts = run(answer(HTML, body), server_tls, lab_pki)
    assert facts["pages"][0]["truncated"] is True


def test_a_server_that_never_finishes_the_body_is_a_timeout(server_tls, lab_pki) -> None:
    with pytest.raises(CollectFailed) as caught:
        run(answer(HTML, b"<html>", hang=True), server_tls, lab_pki)
    assert caught.value.reason is ErrorReason.TIMEOUT


def test_a_server_that_is_not_http_is_a_protocol_error(server_tls, lab_pki) -> None:
    with pytest.raises(CollectFailed) as caught:
        run(answer(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"), server_tls, lab_pki)
    assert caught.value.reason is ErrorReason.PROTOCOL


def test_a_redirect_to_a_non_http_scheme_is_refused(server_tls, lab_pki) -> None:
    head = b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"
    with pytest.raises(CollectFailed, match="redirects to"):
        run(answer(head), server_tls, lab_pki)


def test_a_redirect_to_a_loopback_literal_outside_the_site_is_not_fetched(server_tls, lab_pki) -> None:
    head = b"HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:9/\r\nContent-Length: 0\r\n\r\n"
    facts = run(answer(head), server_tls, lab_pki)
    assert facts["left_site_to"] == "https://127.0.0.1:9/"
    assert facts["chain"] == [{"url": facts["url"], "status": 302}]
