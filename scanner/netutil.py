"""Network helpers shared by plugins: error classification and bounded connects.

Every failure to reach a target maps to one :class:`ErrorReason`, so reports
can say *why* an asset could not be assessed (and a timeout is never a "no").
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl

from .models import CollectFailed, ErrorReason, Reason


def classify(exc: BaseException) -> Reason:
    """Map an exception raised while talking to a target to a reason."""
    if isinstance(exc, CollectFailed):
        return exc.reason
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, socket.timeout)):
        return ErrorReason.TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return ErrorReason.REFUSED
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return ErrorReason.RESET
    if isinstance(exc, socket.gaierror):
        return ErrorReason.RESOLVE
    if isinstance(exc, ssl.SSLError):
        return ErrorReason.TLS
    if isinstance(exc, asyncio.IncompleteReadError):
        return ErrorReason.RESET
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return ErrorReason.UNREACHABLE
        if exc.errno == errno.ECONNREFUSED:
            return ErrorReason.REFUSED
        if exc.errno in (errno.ETIMEDOUT,):
            return ErrorReason.TIMEOUT
        return ErrorReason.CONNECT
    return ErrorReason.BUG


def describe(exc: BaseException) -> str:
    """A one-line, secret-free description of a network failure."""
    reason = classify(exc)
    if reason is ErrorReason.TIMEOUT:
        return "no answer within the timeout"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


def failed(exc: BaseException, what: str = "") -> CollectFailed:
    """Wrap ``exc`` as a CollectFailed with its reason and a short message."""
    prefix = f"{what}: " if what else ""
    return CollectFailed(classify(exc), prefix + describe(exc))


async def open_connection(
    host: str, port: int, timeout: float, **kwargs: object
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` bounded by ``timeout``; failures raise CollectFailed."""
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port, **kwargs), timeout)  # type: ignore[arg-type]
    except (TimeoutError, OSError, ssl.SSLError) as exc:
        raise failed(exc, f"connect to {format_hostport(host, port)}") from None


def format_hostport(host: str, port: int) -> str:
    """``host:port``, with IPv6 literals in brackets."""
    return f"[{host}]:{port}" if is_ipv6(host) else f"{host}:{port}"


def is_ip(text: str) -> bool:
    """A canonical IP literal: IPv4 as four decimal numbers, IPv6 as RFC 4291 writes it.

    Python's parser already refuses the shorthand forms C's inet_aton takes
    (``127.1``, ``0177.0.0.1``, ``0x7f.1``, ``2130706433``); a zone (``%eth0``)
    names an interface, not an address, and is refused too.
    """
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text


def is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def getaddrinfo_bounded(host: str, port: int, timeout: float) -> list[tuple]:  # type: ignore[type-arg]
    """``socket.getaddrinfo(host, port, SOCK_STREAM)`` that gives up after ``timeout`` seconds.

    The C resolver has no timeout of its own (a dead DNS server holds it for
    the resolver's retries, 30 s and more); synchronous callers that must stay
    bounded use this. A lookup that overruns is abandoned in its daemon thread
    and raises :class:`TimeoutError` here.
    """
    import socket
    import threading

    result: list[object] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            result.append(exc)
        finally:
            done.set()

    threading.Thread(target=lookup, name="civiscan-resolve", daemon=True).start()
    if not done.wait(timeout):
        raise TimeoutError(f"resolving {host} took longer than {timeout:g} s")
    if isinstance(result[0], OSError):
        raise result[0]
    return result[0]  # type: ignore[return-value]
