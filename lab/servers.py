"""Small loopback servers for the demo lab and the tests.

A :class:`Lab` runs its own asyncio loop in a daemon thread and serves TCP
listeners with simple behaviours: send a greeting, stay silent, or reset. It
binds only to loopback addresses (127.0.0.0/8 or ::1) and refuses anything else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _check_loopback(address: str) -> None:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"lab servers bind to loopback only, not {address}")


class _TLSStream:
    """TLS over a plain asyncio stream through memory BIOs.

    asyncio's own TLS transport drops the connection on a failed handshake
    without sending OpenSSL's alert (``inappropriate_fallback``, ``handshake_failure``),
    so a scanner probing the lab would see a hang-up that no real server sends.
    Here every byte OpenSSL writes, alerts included, goes out before the close.
    """

    def __init__(self, context: ssl.SSLContext, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._in, self._out, server_side=True)
        self._reader, self._writer = reader, writer

    async def _flush(self) -> None:
        if pending := self._out.read():
            self._writer.write(pending)
            await self._writer.drain()

    async def _step(self, operation: Callable[[], Any]) -> Any:
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                await self._flush()
                data = await self._reader.read(65536)
                if not data:
                    raise ConnectionResetError("the peer closed the connection") from None
                self._in.write(data)
            except ssl.SSLError:
                await self._flush()  # the alert
                raise
            else:
                await self._flush()
                return result

    async def handshake(self) -> None:
        await self._step(self._tls.do_handshake)

    async def read(self, n: int) -> bytes:
        try:
            data: bytes = await self._step(lambda: self._tls.read(n))
        except ssl.SSLZeroReturnError:
            return b""
        return data

    async def write(self, data: bytes) -> None:
        await self._step(lambda: self._tls.write(data))


@dataclass
class Listener:
    address: str
    port: int
    behaviour: str
    server: asyncio.base_events.Server | None = None
    accepted: int = 0


class Lab:
    """Start with ``with Lab() as lab: lab.tcp("127.0.77.1", 2323, greeting=b"login: ")``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="civiscan-lab", daemon=True)
        self._thread.start()
        self.listeners: list[Listener] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def tcp(
        self,
        address: str,
        port: int = 0,
        *,
        greeting: bytes | None = None,
        silent: bool = False,
        reply: Callable[[bytes], bytes] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> Listener:
        """Listen on address:port (0 = any free port) and return the listener.

        ``greeting``: sent on connect. ``silent``: accept and never answer.
        ``reply``: called with the first chunk received, its result is sent back.
        ``tls``: wrap the connection (a server-side SSLContext).
        """
        _check_loopback(address)
        behaviour = "silent" if silent else ("greeting" if greeting is not None else "reply" if reply else "close")
        listener = Listener(address, port, behaviour)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            listener.accepted += 1
            self._writers.add(writer)
            try:
                if listener.behaviour == "silent":
                    await reader.read()  # holds the connection open until the peer leaves
                    return
                stream = _TLSStream(tls, reader, writer) if tls is not None else None
                if stream is not None:
                    await asyncio.wait_for(stream.handshake(), 10)

                async def send(data: bytes) -> None:
                    if stream is not None:
                        await stream.write(data)
                    else:
                        writer.write(data)
                        await writer.drain()

                if greeting is not None:
                    await send(greeting)
                if reply is not None:
                    data = await asyncio.wait_for(
                        stream.read(65536) if stream is not None else reader.read(65536), 10)
                    await send(reply(data))
                await asyncio.sleep(0.05)
            except (TimeoutError, OSError, ssl.SSLError):
                pass
            finally:
                self._writers.discard(writer)
                writer.close()

        async def start() -> asyncio.base_events.Server:
            return await asyncio.start_server(handle, address, port, reuse_address=True)

        listener.server = self._call(start())
        listener.port = listener.server.sockets[0].getsockname()[1]
        self.listeners.append(listener)
        return listener

    def set_behaviour(self, listener: Listener, behaviour: str) -> None:
        """Switch a listener (e.g. from ``silent`` to ``close``) for new connections."""
        listener.behaviour = behaviour

    def close(self) -> None:
        async def stop() -> None:
            for writer in list(self._writers):
                writer.close()
            for listener in self.listeners:
                if listener.server is not None:
                    listener.server.close()
            await asyncio.sleep(0)

        if self.loop.is_running():
            try:
                self._call(stop())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout=5)
