"""Bounded GETs for the ``web`` family: one request per connection, body read up to a cap.

The ``http`` family reads response heads only; this family also reads bodies
(the page's HTML, exposure probes, security.txt), so it reads on past the head
with its own bounds. Head parsing and the TLS context are the ``http``
family's, so both families read a server the same way. Every address comes
from ``ctx.gate``; every request counts against a :class:`Budget`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from scanner import __version__
from scanner.models import CollectFailed, ErrorReason
from scanner.netutil import failed, format_hostport, is_ipv6
from scanner.plugin import Context
from scanner.plugins.http import tls_context
from scanner.plugins.http.parse import MAX_HEAD_BYTES, ResponseHead, parse_response_head

from .limits import BUDGET_REASON

_PATH_SAFE = "/%:@!$&'()*+,;=-._~?"


def user_agent(contact: str | None) -> str:
    """``civiscan/<version> (+contact)``: who is asking, and where to complain."""
    tail = f"+{contact}" if contact else "compliance scanner"
    return f"civiscan/{__version__} ({tail})"


@dataclass
class Budget:
    """How many requests one endpoint may still cost; every GET spends one."""

    limit: int
    spent: int = 0

    def spend(self, what: str) -> None:
        if self.spent >= self.limit:
            raise CollectFailed(BUDGET_REASON, f"request budget of {self.limit} spent before {what}")
        self.spent += 1


@dataclass(frozen=True)
class Response:
    url: str
    head: ResponseHead
    body: bytes
    truncated: bool  # the body was longer than the cap; only its start was read


@dataclass(frozen=True)
class Fetcher:
    """Everything a GET needs besides the URL: the run's context and this endpoint's limits."""

    ctx: Context
    budget: Budget
    max_body: int
    ca_file: str | None
    agent: str
    asset_host: str
    asset_address: str | None
    ca_only: bool = False  # trust ca_file alone, not the system store (--ca-only)

    async def get(
        self, url: str, *, purpose: str, headers: Sequence[tuple[str, str]] = (),
        max_body: int | None = None,
    ) -> Response:
        """GET ``url`` (http or https) once; redirects are the caller's to follow."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise CollectFailed(ErrorReason.NOT_SUPPORTED, f"cannot fetch {url!r}")
        host = parts.hostname
        default = 443 if scheme == "https" else 80
        try:
            port = parts.port or default
        except ValueError:
            raise CollectFailed(ErrorReason.PROTOCOL, f"bad port in {url!r}") from None
        # The inventory's address belongs to the asset's own host only.
        address = await self.ctx.gate.admit(
            host, port, purpose=purpose,
            address=self.asset_address if host == self.asset_host else None,
        )
        self.budget.spend(f"{purpose} {url}")
        host_header = f"[{host}]" if is_ipv6(host) else host
        if port != default:
            host_header += f":{port}"
        path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_PATH_SAFE)
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host_header}",
            f"User-Agent: {self.agent}",
            "Accept: text/html,*/*;q=0.8",
            "Accept-Encoding: identity",
            "Connection: close",
            *(f"{k}: {v}" for k, v in headers),
        ]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii", "ignore")
        tls = tls_context(self.ca_file, verify=True, ca_only=self.ca_only) if scheme == "https" else None
        cap = self.max_body if max_body is None else min(max_body, self.max_body)
        where = format_hostport(address, port)
        async with self.ctx.host_slot(address):
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        address, port, ssl=tls, server_hostname=host if tls else None,
                        limit=MAX_HEAD_BYTES,
                    ),
                    self.ctx.timeout,
                )
            except ssl.SSLCertVerificationError as exc:
                raise CollectFailed(
                    ErrorReason.TLS, f"{url}: certificate not verified: {exc.verify_message or exc}"
                ) from None
            except (TimeoutError, OSError) as exc:
                raise failed(exc, f"connect to {where}") from None
            try:
                writer.write(request)
                head, body, truncated = await asyncio.wait_for(
                    _exchange(reader, writer, where, cap), self.ctx.timeout
                )
            except (TimeoutError, OSError) as exc:
                raise failed(exc, f"GET {url}") from None
            finally:
                with contextlib.suppress(Exception):
                    writer.transport.abort()
        if "chunked" in (head.first("transfer-encoding") or "").lower():
            body, bad = dechunk(body)
            truncated = truncated or bad
        return Response(url, head, body, truncated)


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, where: str, cap: int
) -> tuple[ResponseHead, bytes, bool]:
    await writer.drain()
    while True:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise CollectFailed(ErrorReason.PROTOCOL, f"{where} sent an over-long response head") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise CollectFailed(ErrorReason.RESET, f"{where} closed without answering") from None
            raise CollectFailed(ErrorReason.PROTOCOL, f"{where} hung up inside the response head") from None
        try:
            head = parse_response_head(raw)
        except ValueError as exc:
            raise CollectFailed(ErrorReason.PROTOCOL, f"{where}: {exc}") from None
        if not (100 <= head.status < 200):
            break
    length = head.first("content-length")
    want = cap + 1
    if length and length.isdigit():
        want = min(want, int(length))
    body = bytearray()
    while len(body) < want:
        chunk = await reader.read(min(65536, want - len(body)))
        if not chunk:
            break
        body += chunk
    truncated = len(body) > cap
    return head, bytes(body[:cap]), truncated


def dechunk(data: bytes) -> tuple[bytes, bool]:
    """Decode a chunked body (RFC 9112 7.1); (what decoded, whether it was cut short or bad)."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return bytes(out), True
        size_text = data[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(out), True
        if size == 0:
            return bytes(out), False
        start = end + 2
        out += data[start : start + size]
        if start + size > len(data):
            return bytes(out), True
        pos = start + size + 2
