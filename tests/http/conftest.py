"""Loopback servers for the http plugin tests: a real nginx and tiny hostile ones."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.models import Asset, AssetKind
from scanner.plugin import CheckRequest, Context


def free_port(addresses: Sequence[str]) -> int:
    """A port that is free on every one of ``addresses`` right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        if all(_bindable(a, port) for a in addresses):
            return port
    raise RuntimeError("no common free port found")


def _bindable(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def wait_listening(
    endpoints: Sequence[tuple[str, int]], process: subprocess.Popen[bytes], log: Path
) -> None:
    """Block until every endpoint accepts connections, or fail with nginx's error log."""
    deadline = time.monotonic() + 15
    pending = list(endpoints)
    while pending:
        if process.poll() is not None:
            pytest.fail(
                f"nginx exited with {process.returncode}: {log.read_text(errors='replace')}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"nginx did not listen on {pending}: {log.read_text(errors='replace')}")
        address, port = pending[0]
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            pending.pop(0)
        except OSError:
            time.sleep(0.05)


@dataclass(frozen=True)
class Nginx:
    """A running nginx started from ``config`` (the ``http {}`` block's servers)."""

    directory: Path
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def run_nginx(
    binary: str, directory: Path, servers: str, listens: Sequence[tuple[str, int]]
) -> Iterator[Nginx]:
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "error.log"
    config = directory / "nginx.conf"
    temp = "\n".join(
        f"  {kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    config.write_text(
        f"""daemon off;
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {log} warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
{servers}
}}
"""
    )
    process = subprocess.Popen(
        [binary, "-p", str(directory), "-c", str(config), "-e", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(listens, process, log)
        yield Nginx(directory, process)
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def endpoint(url: str, address: str | None = None, ca_file: str | None = None) -> Asset:
    return Asset(
        id="lab/web",
        name="web",
        kind=AssetKind.ENDPOINT,
        department="lab",
        url=url,
        address=address,
        ca_file=ca_file,
    )


def collect(
    asset: Asset, *, timeout: float = 5.0, checks: Sequence[str] = (), **settings: object
) -> dict:
    """Run the http plugin's collect for ``asset`` in a fresh event loop."""
    from scanner.plugins.http import plugin

    requests = [CheckRequest(c, {}) for c in checks]
    return asyncio.run(plugin.collect(asset, requests, Context(timeout, settings)))  # type: ignore[arg-type]


# Test modules cannot import this conftest under --import-mode=importlib, so the
# helpers are handed out as fixtures.


@pytest.fixture(scope="session")
def collect_http():
    """``collect_http(asset, timeout=..., checks=[...], **settings)`` -> facts."""
    return collect


@pytest.fixture(scope="session")
def make_endpoint():
    """``make_endpoint(url, address=None, ca_file=None)`` -> endpoint Asset."""
    return endpoint


@pytest.fixture(scope="session")
def pick_port():
    """``pick_port([addresses])`` -> a port free on all of them."""
    return free_port


@pytest.fixture(scope="session")
def nginx_runner():
    """``with nginx_runner(binary, directory, servers, listens):`` runs nginx."""
    return run_nginx
