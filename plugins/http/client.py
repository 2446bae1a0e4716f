"""A deliberately tiny HTTP/1.1 client: one GET, read the response head, hang up.

The ``http`` plugin needs status and headers only, never a body, so this is a
few lines over asyncio streams instead of a dependency. Every step is bounded
by the timeout, the head by :data:`~.parse.MAX_HEAD_BYTES`, and every failure
becomes a :class:`~scanner.models.CollectFailed` with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from urllib.parse import quote

from scanner import __version__
from scanner.models import CollectFailed, ErrorReason, PluginReason
from scanner.netutil import failed, format_hostport, is_ipv6

from .parse import MAX_HEAD_BYTES, ResponseHead, parse_response_head

USER_AGENT = f"civiscan/{__version__} (compliance scanner)"
UNSUPPORTED_PROTOCOL = PluginReason("unsupported_protocol")
REASONS = {UNSUPPORTED_PROTOCOL: "the server speaks only a protocol version this machine's OpenSSL cannot (SSLv3)"}
# OpenSSL's reasons when the server picked a version it was built without.
_UNSPEAKABLE = frozenset({"UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "WRONG_SSL_VERSION"})
_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"


@dataclass(frozen=True)
class Target:
    """Where to send one request and what to call the server in it."""

    address: str  # where packets go
    port: int
    hostname: str  # SNI and Host header
    path: str = "/"
    default_port: int = 443

    @property
    def host_header(self) -> str:
        host = f"[{self.hostname}]" if is_ipv6(self.hostname) else self.hostname
        return host if self.port == self.default_port else f"{host}:{self.port}"

    @property
    def where(self) -> str:
        return format_hostport(self.address, self.port)


def request_bytes(target: Target) -> bytes:
    """The GET request; the path is percent-encoded so it cannot break the request line."""
    path = quote(target.path or "/", safe=_PATH_SAFE)
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {USER_AGENT}",
        "Accept: */*",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "ignore")


async def fetch_head(target: Target, *, tls: ssl.SSLContext | None, timeout: float) -> ResponseHead:
    """GET ``target`` and return the final (non-1xx) response head.

    ``ssl.SSLCertVerificationError`` propagates unchanged so the caller can
    decide what an unverifiable certificate means; every other failure is a
    CollectFailed. The connect (with its TLS handshake) and the exchange each
    get ``timeout`` seconds.
    """
    server_hostname = target.hostname.strip("[]") if tls is not None else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                target.address,
                target.port,
                ssl=tls,
                server_hostname=server_hostname,
                limit=MAX_HEAD_BYTES,
            ),
            timeout,
        )
    except ssl.SSLCertVerificationError:
        raise
    except ssl.SSLError as exc:
        if exc.reason in _UNSPEAKABLE:
            raise CollectFailed(
                UNSUPPORTED_PROTOCOL,
                f"connect to {target.where}: {ssl.OPENSSL_VERSION} cannot speak the protocol version "
                f"the server chose ({exc.reason})",
            ) from None
        raise failed(exc, f"connect to {target.where}") from None
    except (TimeoutError, OSError) as exc:
        raise failed(exc, f"connect to {target.where}") from None
    try:
        writer.write(request_bytes(target))
        return await asyncio.wait_for(_exchange(reader, writer, target), timeout)
    except (TimeoutError, OSError) as exc:
        raise failed(exc, f"HTTP request to {target.where}") from None
    finally:
        # abort(): no graceful TLS shutdown to wait for; we have what we came for.
        with contextlib.suppress(Exception):
            writer.transport.abort()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: Target
) -> ResponseHead:
    await writer.drain()
    while True:
        head = _parse_head(await _read_head(reader, target), target)
        # 1xx answers (100 Continue, 103 Early Hints) precede the real response.
        if 100 <= head.status < 200 and head.status != 101:
            continue
        return head


async def _read_head(reader: asyncio.StreamReader, target: Target) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise CollectFailed(
            ErrorReason.PROTOCOL,
            f"{target.where} sent response headers longer than {MAX_HEAD_BYTES} bytes",
        ) from None
    except asyncio.IncompleteReadError as exc:
        if b"\n\n" in exc.partial:  # a head ended by bare LFs, then the server hung up
            return exc.partial
        if not exc.partial:
            raise CollectFailed(
                ErrorReason.RESET, f"{target.where} closed the connection without answering"
            ) from None
        raise CollectFailed(
            ErrorReason.PROTOCOL, f"{target.where} hung up before the response headers ended"
        ) from None


def _parse_head(data: bytes, target: Target) -> ResponseHead:
    try:
        return parse_response_head(data)
    except ValueError as exc:
        raise CollectFailed(ErrorReason.PROTOCOL, f"{target.where}: {exc}") from None


__all__ = ["REASONS", "UNSUPPORTED_PROTOCOL", "USER_AGENT", "Target", "fetch_head", "request_bytes"]
