"""The http plugin against servers that misbehave: every failure has the right reason."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from scanner.lab.pki import LabPKI
from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason, Status
from scanner.options import validate_options
from scanner.plugin import CheckRequest, Context
from scanner.plugins.http import plugin

pytestmark = pytest.mark.integration

ADDRESS = "127.0.149.1"
HOSTNAME = "hostile.lab.test"
TIMEOUT = 0.5
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("pki"), now=dt.datetime.now(dt.UTC))


@pytest.fixture(scope="module")
def server_tls(pki: LabPKI) -> ssl.SSLContext:
    leaf = pki.leaf("good-rsa", HOSTNAME)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(leaf.fullchain, leaf.key)
    return context


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"this is not what you expected\r\n\r\n")
    await writer.drain()
    writer.close()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


def answer(payload: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(payload)
        await writer.drain()
        writer.close()

    return handler


OK = b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=63072000\r\nContent-Length: 0\r\n\r\n"


def run(
    https: Handler | None,
    *,
    tls: ssl.SSLContext | None,
    pki: LabPKI,
    port80: Handler | None = None,
    checks: tuple[str, ...] = ("http.hsts",),
) -> dict[str, Any]:
    """Serve ``https`` (and ``port80``) on loopback and collect; returns facts or raises."""

    async def main() -> dict[str, Any]:
        servers = []
        if https is not None:
            servers.append(await asyncio.start_server(https, ADDRESS, 0, ssl=tls))
            port = servers[-1].sockets[0].getsockname()[1]
        else:
            port = 9  # discard port: nothing listens on 127.0.149.1 there
        settings: dict[str, Any] = {"ca_file": str(pki.ca_bundle), "http_redirect_port": 9}
        if port80 is not None:
            servers.append(await asyncio.start_server(port80, ADDRESS, 0))
            settings["http_redirect_port"] = servers[-1].sockets[0].getsockname()[1]
        try:
            asset = _asset(f"https://{HOSTNAME}:{port}/")
            requests = [CheckRequest(c, {}) for c in checks]
            return await plugin.collect(asset, requests, Context(TIMEOUT, settings))
        finally:
            for server in servers:
                server.close()

    return asyncio.run(main())


def _asset(url: str, address: str | None = ADDRESS) -> Asset:
    return Asset(
        id="lab/x", name="x", kind=AssetKind.ENDPOINT, department="lab", url=url, address=address
    )


@pytest.mark.parametrize(
    ("handler", "use_tls", "reasons"),
    [
        (None, False, {ErrorReason.REFUSED}),
        (silent, False, {ErrorReason.TIMEOUT}),
        (garbage, False, {ErrorReason.TLS}),
        (hang_up, False, {ErrorReason.TLS, ErrorReason.RESET}),
        (silent, True, {ErrorReason.TIMEOUT}),
        (hang_up, True, {ErrorReason.RESET}),
        (answer(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"), True, {ErrorReason.PROTOCOL}),
        (
            answer(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"),
            True,
            {ErrorReason.PROTOCOL},
        ),
        (answer(b"HTTP/1.1 200 OK\r\nX-Cut: yes\r\n"), True, {ErrorReason.PROTOCOL}),
    ],
    ids=[
        "refused",
        "silent-tcp",
        "plain-text-garbage",
        "tcp-hang-up",
        "silent-after-handshake",
        "hang-up-after-handshake",
        "not-http",
        "header-flood",
        "truncated-head",
    ],
)
def test_hostile_endpoint_fails_with_reason(pki, server_tls, handler, use_tls, reasons) -> None:
    with pytest.raises(CollectFailed) as caught:
        run(handler, tls=server_tls if use_tls else None, pki=pki)
    assert caught.value.reason in reasons, caught.value.message


def test_early_hints_are_skipped(pki, server_tls) -> None:
    facts = run(
        answer(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + OK), tls=server_tls, pki=pki
    )
    assert facts["status"] == 200
    assert facts["hsts"]["max_age"] == 63072000


@pytest.mark.parametrize(
    ("port80", "reason"),
    [(silent, "timeout"), (garbage, "protocol"), (hang_up, "reset")],
    ids=["silent", "garbage", "hang-up"],
)
def test_hostile_port_80_is_an_error_fact(pki, server_tls, port80, reason: str) -> None:
    facts = run(
        answer(OK), tls=server_tls, pki=pki, port80=port80, checks=("http.redirect_to_https",)
    )
    assert facts["redirect"]["error"]["reason"] == reason
    check = next(c for c in plugin.checks if c.id == "http.redirect_to_https")
    options, _ = validate_options(check.options, {}, check.id)
    outcome = check.evaluate(facts, options)
    assert (outcome.status, outcome.reason) == (Status.ERROR, ErrorReason(reason))


def test_hostile_values_stay_data(pki, server_tls) -> None:
    payload = (
        b"HTTP/1.1 200 OK\r\n"
        b"Server: <script>alert(1)</script>/1.0\r\n"
        b"Set-Cookie: {{7*7}}=%s; Path=/\r\n"
        b"Strict-Transport-Security: max-age=1; max-age=2\r\n\r\n"
    )
    facts = run(answer(payload), tls=server_tls, pki=pki)
    assert facts["server"]["value"] == "<script>alert(1)</script>/1.0"
    assert facts["cookies"][0]["name"] == "{{7*7}}"
    assert facts["hsts"]["malformed"] == "max-age appears more than once"


def test_ipv6_literal_endpoint_verifies_against_ip_san(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa", "::1")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(leaf.fullchain, leaf.key)

    async def main() -> dict[str, Any]:
        server = await asyncio.start_server(answer(OK), "::1", 0, ssl=tls)
        port = server.sockets[0].getsockname()[1]
        try:
            asset = _asset(f"https://[::1]:{port}/", address=None)
            settings = {"ca_file": str(pki.ca_bundle)}
            return await plugin.collect(
                asset, [CheckRequest("http.hsts", {})], Context(TIMEOUT, settings)
            )
        finally:
            server.close()

    facts = asyncio.run(main())
    assert (facts["address"], facts["tls_verified"], facts["status"]) == ("::1", True, 200)


def _judge(check_id: str, facts: dict[str, Any]):  # type: ignore[no-untyped-def]
    check = next(c for c in plugin.checks if c.id == check_id)
    options, _ = validate_options(check.options, {}, check.id)
    return check.evaluate(facts, options)


def test_a_max_age_of_5000_digits_is_a_fact_not_a_crash(pki, server_tls) -> None:
    payload = b"HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=" + b"9" * 5000 + b"\r\n\r\n"
    facts = run(answer(payload), tls=server_tls, pki=pki)
    assert (facts["hsts"]["max_age"], facts["hsts"]["malformed"]) == (10**18 - 1, None)
    assert _judge("http.hsts", facts).status is Status.PASS


def test_an_html_injection_location_is_not_a_redirect_to_https(pki, server_tls) -> None:
    port80 = answer(b'HTTP/1.1 301 Moved\r\nLocation: https://"><img src=x onerror=alert(1)>\r\n\r\n')
    facts = run(answer(OK), tls=server_tls, pki=pki, port80=port80,
                checks=("http.redirect_to_https",))
    outcome = _judge("http.redirect_to_https", facts)
    assert outcome.status is Status.FAIL
    assert "not a valid HTTPS address" in outcome.message
