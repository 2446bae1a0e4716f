"""The built-in TCP connect scanner: no dependency, about as fast as ``nmap -sT``.

Per-port asyncio tasks or futures cost more CPU than the kernel spends on a
refused connect, so a full 65535-port scan through ``loop.sock_connect`` is
several times slower than nmap. Instead one thread per process (the
:class:`ProbeEngine`) drives the non-blocking sockets of every scan with a raw
epoll loop, up to ``parallelism`` in flight per scanned address: a socket is
created, ``connect_ex`` starts the handshake, epoll reports the result, and
closing the socket drops it from epoll. The GIL is released in every system
call, so the asyncio event loop stays responsive.

Outcome of one probe: handshake completed -> open; refused (RST) -> closed;
no answer within ``ctx.timeout``, ICMP unreachable or a local firewall
refusal -> unanswered. Linux only (epoll); elsewhere use the nmap backend.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import errno
import os
import select
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from scanner.models import CollectFailed, ErrorReason
from scanner.netutil import failed
from scanner.plugin import Context

from . import ranges as r
from .facts import OpenPort, PortScanResult
from .services import service_name

DEFAULT_PARALLELISM = 512
"""Connects in flight at once per scanned address (setting ``port_parallelism``)."""

_POLL_SLICE = 0.25  # longest sleep in epoll, so a cancelled scan is noticed promptly

# The local machine ran out of something (descriptors, buffers, source ports):
# wait for probes in flight to finish instead of failing the scan.
_SHORTAGE = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EADDRNOTAVAIL, errno.EAGAIN}
)


@dataclass
class Tally:
    """Raw result of probing: the open and the unanswered port numbers."""

    open: list[int] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)


class ConnectScanner:
    """:class:`PortScanner` that completes (or fails) a TCP handshake per port."""

    name = "connect"

    def __init__(
        self, parallelism: int = DEFAULT_PARALLELISM, engine: ProbeEngine | None = None
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        self.parallelism = parallelism
        self.engine = engine or _ENGINE

    async def scan(self, address: str, ranges: Sequence[r.Range], ctx: Context) -> PortScanResult:
        if not hasattr(select, "epoll"):
            raise CollectFailed(
                ErrorReason.NOT_SUPPORTED,
                "the built-in connect scanner needs Linux (epoll); set port_scanner to nmap",
            )
        family, sockaddr = _sockaddr(address)
        future = self.engine.submit(family, sockaddr, ranges, ctx.timeout, self.parallelism)
        # Cancelling this await cancels the future, which ends the job.
        tally = await asyncio.wrap_future(future)
        return PortScanResult(
            scanner=self.name,
            address=address,
            scanned=tuple(ranges),
            open=tuple(OpenPort(p, "tcp", service_name(p)) for p in sorted(tally.open)),
            unanswered=tuple(r.from_ports(tally.unanswered)),
        )


def _sockaddr(address: str) -> tuple[socket.AddressFamily, tuple[object, ...]]:
    """Family and socket address (port 0) of an IP literal, scope id included."""
    try:
        infos = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror as exc:
        raise failed(exc, f"address {address!r}") from None
    family, _type, _proto, _name, sockaddr = infos[0]
    return family, tuple(sockaddr)


class _Job:
    """One address being scanned: its ports still to probe and its sockets in flight."""

    def __init__(
        self,
        family: socket.AddressFamily,
        sockaddr: tuple[object, ...],
        ranges: Sequence[r.Range],
        timeout: float,
        limit: int,
    ) -> None:
        self.family = family
        self.host, self.extra = sockaddr[0], sockaddr[2:]  # IPv6 keeps flowinfo and scope id
        self.ports = r.iter_ports(ranges)
        self.timeout = timeout
        self.limit = limit
        self.future: concurrent.futures.Future[Tally] = concurrent.futures.Future()
        self.tally = Tally()
        self.retry: list[int] = []  # probed again after a local shortage
        self.exhausted = False
        self.inflight = 0
        # Every probe of a job has the same timeout, so probes started in order
        # also expire in order: a deque is enough, no heap.
        self.order: collections.deque[tuple[float, socket.socket, int]] = collections.deque()

    def next_port(self) -> int | None:
        if self.retry:
            return self.retry.pop()
        port = next(self.ports, None)
        if port is None:
            self.exhausted = True
        return port

    @property
    def done(self) -> bool:
        return self.exhausted and not self.retry and not self.inflight

    def end(
        self,
        sockets: dict[int, tuple[_Job, socket.socket, int]],
        error: BaseException | None = None,
    ) -> None:
        """Close what is still in flight and hand over the tally (or ``error``)."""
        for _deadline, sock, _port in self.order:
            fd = sock.fileno()
            if fd >= 0:
                del sockets[fd]
                sock.close()
        self.order.clear()
        self.inflight = 0
        try:
            if error is None:
                self.future.set_result(self.tally)
            else:
                self.future.set_exception(error)
        except concurrent.futures.InvalidStateError:  # cancelled meanwhile
            pass


class ProbeEngine:
    """One thread that drives the connect probes of every scan of the process.

    A thread per scanned address would be simpler, but their fight for the GIL
    doubles the CPU spent when several hosts are scanned at once (measured in
    bench/ports), so all scans share one epoll loop. The thread starts on the
    first :meth:`submit` and ends when no scan is left.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._incoming: list[_Job] = []
        self._thread: threading.Thread | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._ceiling = 1 << 30  # lowered for good when the process runs short of sockets

    def submit(
        self,
        family: socket.AddressFamily,
        sockaddr: tuple[object, ...],
        ranges: Sequence[r.Range],
        timeout: float,
        limit: int,
    ) -> concurrent.futures.Future[Tally]:
        """Start probing ``ranges`` of ``sockaddr``, at most ``limit`` at once.

        Cancelling the returned future stops the scan and closes its sockets.
        """
        job = _Job(family, sockaddr, ranges, timeout, limit)
        with self._lock:
            self._incoming.append(job)
            if self._thread is None:
                self._wake = socket.socketpair()
                for sock in self._wake:
                    sock.setblocking(False)
                self._thread = threading.Thread(
                    target=self._run, args=(self._wake[0],), name="civiscan-ports", daemon=True
                )
                self._thread.start()
            else:
                assert self._wake is not None
                with contextlib.suppress(BlockingIOError):  # already woken
                    self._wake[1].send(b"\0")
        return job.future

    @property
    def idle(self) -> bool:
        """True when no scan is running (and the engine thread has ended)."""
        with self._lock:
            return self._thread is None

    def _take_new(self, active: list[_Job]) -> bool:
        """Move submitted jobs to ``active``; False (and the thread ends) if idle."""
        with self._lock:
            active.extend(self._incoming)
            self._incoming.clear()
            if active:
                return True
            self._stop_locked()
            return False

    def _stop_locked(self) -> None:
        self._thread = None
        self._ceiling = 1 << 30
        if self._wake is not None:
            for sock in self._wake:
                sock.close()
            self._wake = None

    def _run(self, wake: socket.socket) -> None:
        poller = select.epoll()
        poller.register(wake.fileno(), select.EPOLLIN)
        sockets: dict[int, tuple[_Job, socket.socket, int]] = {}
        active: list[_Job] = []
        try:
            while self._take_new(active):
                for job in active:
                    if job.future.cancelled():
                        job.end(sockets)
                    else:
                        self._launch(job, poller, sockets)
                active[:] = [job for job in active if not self._settled(job, sockets)]
                if not sockets:
                    continue
                heads = [job.order[0][0] for job in active if job.order]
                wait = min(max(min(heads, default=0.0) - time.monotonic(), 0.0), _POLL_SLICE)
                wake_fd = wake.fileno()
                for fd, _events in poller.poll(wait):
                    if fd == wake_fd:
                        with contextlib.suppress(BlockingIOError, InterruptedError):
                            wake.recv(4096)
                        continue
                    entry = sockets.pop(fd, None)
                    if entry is None:  # settled or expired since the poll reported it
                        continue
                    job, sock, port = entry
                    job.inflight -= 1
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if _settle(sock, port, err, job.tally):
                        job.retry.append(port)
                now = time.monotonic()
                for job in active:
                    self._expire(job, now, sockets)
        except BaseException as exc:  # a bug must not leave scans waiting forever
            with self._lock:
                active.extend(self._incoming)
                self._incoming.clear()
                self._stop_locked()
            for job in active:
                job.end(sockets, exc)
            raise
        finally:
            for _job, sock, _port in sockets.values():
                sock.close()
            poller.close()

    def _launch(
        self,
        job: _Job,
        poller: select.epoll,
        sockets: dict[int, tuple[_Job, socket.socket, int]],
    ) -> None:
        deadline = time.monotonic() + job.timeout
        kind = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
        while job.inflight < job.limit and len(sockets) < self._ceiling:
            port = job.next_port()
            if port is None:
                return
            try:
                sock = socket.socket(job.family, kind)
            except OSError as exc:
                if exc.errno not in _SHORTAGE or not sockets:
                    job.end(sockets, failed(exc, "open a socket for the port scan"))
                    return
                job.retry.append(port)
                self._ceiling = len(sockets)
                return
            err = sock.connect_ex((job.host, port, *job.extra))
            if err == errno.EINPROGRESS:
                # On loopback the kernel has often settled the handshake before
                # connect() returns: a refusal is already visible and needs no
                # trip through epoll.
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or err
            if err == errno.EINPROGRESS:
                fd = sock.fileno()
                poller.register(fd, select.EPOLLOUT)
                sockets[fd] = (job, sock, port)
                job.inflight += 1
                job.order.append((deadline, sock, port))
            elif _settle(sock, port, err, job.tally):  # no free source port
                job.retry.append(port)
                if not sockets:
                    job.end(sockets, failed(OSError(err, os.strerror(err)), "start a connection"))
                    return
                self._ceiling = len(sockets)
                return

    @staticmethod
    def _settled(job: _Job, sockets: dict[int, tuple[_Job, socket.socket, int]]) -> bool:
        """Whether ``job`` is over (ended here if it just completed)."""
        if job.future.done():
            return True
        if job.done:
            job.end(sockets)
            return True
        return False

    @staticmethod
    def _expire(job: _Job, now: float, sockets: dict[int, tuple[_Job, socket.socket, int]]) -> None:
        order = job.order
        while order and (order[0][1].fileno() < 0 or order[0][0] <= now):
            _deadline, sock, port = order.popleft()
            fd = sock.fileno()
            if fd >= 0:  # still in flight at its deadline: no answer
                del sockets[fd]
                job.inflight -= 1
                sock.close()
                job.tally.unanswered.append(port)


_ENGINE = ProbeEngine()
"""The process's probe engine: one per process by design (see ProbeEngine)."""


def _settle(sock: socket.socket, port: int, err: int, tally: Tally) -> bool:
    """Record the outcome ``err`` of one connect and close its socket.

    Returns True, recording nothing, when ``err`` was a local shortage: the
    port must be probed again later.
    """
    try:
        if err == 0:
            if not _self_connected(sock):
                tally.open.append(port)
        elif err in _SHORTAGE:
            return True
        elif err != errno.ECONNREFUSED:
            tally.unanswered.append(port)
        return False
    finally:
        sock.close()


def _self_connected(sock: socket.socket) -> bool:
    """True for Linux's TCP simultaneous open of a socket with itself.

    Probing a loopback port in the ephemeral range can draw that same port as
    the source port and "connect" to itself; no listener exists there, so the
    port is really closed.
    """
    try:
        return bool(sock.getsockname() == sock.getpeername())
    except OSError:  # reset right after the handshake: something did listen
        return False
