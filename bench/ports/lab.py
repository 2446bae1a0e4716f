"""Loopback listeners for the port-scan benchmark and tests (tests/ports/conftest.py).

Every ``127.x.y.z`` is a separate host on Linux, so a lab is a handful of
sockets bound to distinct loopback addresses. One thread accepts for all of
them, so repeated scans never fill an accept queue by accident. Three kinds
of port:

* ``open``: accepts and closes at once;
* ``mute``: accepts and holds the connection without ever sending a byte
  (open to a scanner, silent to a client);
* ``dropped``: a full accept queue that is never drained, so the kernel drops
  every further SYN and a probe times out (how a filtering firewall looks).
"""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType
from typing import Self


class Lab:
    """A set of loopback listeners; use as a context manager (closes everything)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._keep: list[socket.socket] = []  # listeners, held and filler connections
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="port-lab", daemon=True)
        self._thread.start()

    def open(self, host: str, port: int = 0) -> int:
        """A port that accepts connections and closes them; returns the port."""
        return self._listen(host, port, hold=False)

    def mute(self, host: str, port: int = 0) -> int:
        """A port that accepts connections and never answers on them."""
        return self._listen(host, port, hold=True)

    def dropped(self, host: str, port: int = 0) -> int:
        """A port whose SYNs go unanswered: its accept queue is full for good."""
        listener = _bind(host, port, backlog=0)
        filler = socket.socket(listener.family, socket.SOCK_STREAM)
        filler.connect(listener.getsockname())
        with self._lock:
            self._keep += [listener, filler]
        return int(listener.getsockname()[1])

    def _listen(self, host: str, port: int, hold: bool) -> int:
        listener = _bind(host, port, backlog=1024)
        listener.setblocking(False)
        with self._lock:
            self._keep.append(listener)
            self._selector.register(listener, selectors.EVENT_READ, hold)
        self._wake_w.send(b"x")
        return int(listener.getsockname()[1])

    def _serve(self) -> None:
        while self._running:
            for key, _events in self._selector.select(0.5):
                if key.data is None:
                    self._wake_r.recv(4096)
                    continue
                listener = key.fileobj
                assert isinstance(listener, socket.socket)
                while True:
                    try:
                        conn, _peer = listener.accept()
                    except (BlockingIOError, OSError):
                        break
                    if key.data:
                        with self._lock:
                            self._keep.append(conn)
                    else:
                        conn.close()

    def close(self) -> None:
        self._running = False
        self._wake_w.send(b"x")
        self._thread.join(5)
        with self._lock:
            for sock in self._keep:
                sock.close()
            self._keep.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock
