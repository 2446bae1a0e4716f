"""Fixtures for the TLS tests: a tiny PKI, loopback TLS servers, hostile servers, nginx.

Every server listens on its own 127.0.x.y address with a free port and is
stopped by the fixture's finalizer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import itertools
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

HOSTNAME = "tls.lab.test"
_addresses = itertools.count(1)


def next_address() -> str:
    """A fresh loopback address per server (Linux routes all of 127/8 to lo)."""
    n = next(_addresses) + os.getpid() % 200 * 256
    return f"127.77.{(n >> 8) % 250 + 1}.{n % 250 + 1}"


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ PKI


@dataclass(frozen=True)
class Pki:
    ca: Path
    rsa_chain: Path
    rsa_key: Path
    ec_chain: Path
    ec_key: Path
    ocsp_response: Path
    dh1024: Path
    dh2048: Path
    reversed_chain: Path  # the CA first, then the RSA leaf (served with ca_key, as it must be)
    ca_key: Path
    ocsp_revoked: Path  # a response, signed by the CA, saying the RSA leaf is revoked


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_pki(directory: Path) -> Pki:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("civiscan test CA"))
        .issuer_name(_name("civiscan test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(_pem(ca))
    (directory / "ca.key").write_bytes(_key_pem(ca_key))
    leaves: dict[str, x509.Certificate] = {}
    for label, key in (("rsa", rsa.generate_private_key(65537, 2048)),
                       ("ec", ec.generate_private_key(ec.SECP256R1()))):
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_name(HOSTNAME))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(10 + len(leaves))
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=20))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOSTNAME)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        (directory / f"{label}.pem").write_bytes(_pem(leaf) + _pem(ca))
        (directory / f"{label}.key").write_bytes(_key_pem(key))
        leaves[label] = leaf
    for filename, status in (("ocsp.der", ocsp.OCSPCertStatus.GOOD),
                             ("ocsp-revoked.der", ocsp.OCSPCertStatus.REVOKED)):
        revoked = status is ocsp.OCSPCertStatus.REVOKED
        response = (
            ocsp.OCSPResponseBuilder()
            .add_response(cert=leaves["rsa"], issuer=ca, algorithm=hashes.SHA256(),
                          cert_status=status, this_update=now,
                          next_update=now + dt.timedelta(days=3),
                          revocation_time=now - dt.timedelta(hours=1) if revoked else None,
                          revocation_reason=x509.ReasonFlags.superseded if revoked else None)
            .responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
            .sign(ca_key, hashes.SHA256())
        )
        (directory / filename).write_bytes(response.public_bytes(serialization.Encoding.DER))
    for bits in (1024, 2048):
        subprocess.run(["openssl", "dhparam", "-dsaparam", "-out", str(directory / f"dh{bits}.pem"),
                        str(bits)], check=True, capture_output=True)
    (directory / "reversed.pem").write_bytes(_pem(ca) + _pem(leaves["rsa"]))
    return Pki(directory / "ca.pem", directory / "rsa.pem", directory / "rsa.key",
               directory / "ec.pem", directory / "ec.key", directory / "ocsp.der",
               directory / "dh1024.pem", directory / "dh2048.pem",
               directory / "reversed.pem", directory / "ca.key", directory / "ocsp-revoked.der")


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


# ------------------------------------------------------------------ servers


@dataclass(frozen=True)
class Server:
    address: str
    port: int
    accepted: list[int]  # one entry per accepted TCP connection


class _ThreadServer:
    """Accept loop in a thread; ``handle(conn)`` runs per connection in its own thread."""

    def __init__(self, address: str, handle: Callable[[socket.socket], None]) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[int] = []
        self._handle = handle
        self._stop = False
        self._conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(1)
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            self._handle(conn)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        self.thread.join(timeout=2)


def tls_handler(ctx: ssl.SSLContext) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    return handle


def read_client_hello(conn: socket.socket) -> bytes:
    """Read one whole TLS record (the ClientHello) from ``conn``."""
    data = b""
    while len(data) < 5 or len(data) < 5 + struct.unpack("!H", data[3:5])[0]:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def parse_client_hello(data: bytes) -> dict[str, Any]:
    """A minimal independent reader of our own ClientHello, to test the builder."""
    assert data[0] == 22
    body = data[9:]
    version = struct.unpack("!H", body[:2])[0]
    pos = 2 + 32
    sid_len = body[pos]
    pos += 1 + sid_len
    n = struct.unpack("!H", body[pos:pos + 2])[0]
    suites = [struct.unpack("!H", body[pos + 2 + i:pos + 4 + i])[0] for i in range(0, n, 2)]
    pos += 2 + n
    compression = list(body[pos + 1:pos + 1 + body[pos]])
    pos += 1 + body[pos]
    exts: dict[int, bytes] = {}
    if pos < len(body):
        end = pos + 2 + struct.unpack("!H", body[pos:pos + 2])[0]
        pos += 2
        while pos < end:
            t, ln = struct.unpack("!HH", body[pos:pos + 4])
            exts[t] = body[pos + 4:pos + 4 + ln]
            pos += 4 + ln
    return {"version": version, "suites": suites, "exts": exts, "record_version": data[1:3],
            "compression": compression}


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """``serve(handler, address=None)`` starts a thread server and returns its Server."""
    started: list[_ThreadServer] = []

    def start(handle: Callable[[socket.socket], None], address: str | None = None) -> Server:
        server = _ThreadServer(address or next_address(), handle)
        started.append(server)
        return Server(server.sock.getsockname()[0], server.port, server.accepted)

    yield start
    for server in started:
        server.close()


def server_context(pki: Pki, *, key: str = "rsa", minimum: ssl.TLSVersion | None = None,
                   maximum: ssl.TLSVersion | None = None, ciphers: str | None = None,
                   server_order: bool = True) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    chain, keyfile = (pki.rsa_chain, pki.rsa_key) if key == "rsa" else (pki.ec_chain, pki.ec_key)
    ctx.load_cert_chain(str(chain), str(keyfile))
    if minimum is not None:
        with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    if ciphers is not None:
        ctx.set_ciphers(ciphers)
    if not server_order:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    return ctx


# ------------------------------------------------------------------ nginx


@dataclass(frozen=True)
class NginxSite:
    address: str
    port: int


class Nginx:
    """A root-less-as-possible nginx: own prefix, pid, logs and temp dirs, no daemon."""

    def __init__(self, binary: str, prefix: Path) -> None:
        self.binary = binary
        self.prefix = prefix
        self.proc: subprocess.Popen[bytes] | None = None
        self.sites: list[NginxSite] = []
        self.blocks: list[str] = []

    def add(self, directives: str, address: str | None = None, port: int | None = None) -> NginxSite:
        address = address or next_address()
        port = port or free_port(address)
        self.blocks.append(
            f"server {{\n listen {address}:{port} ssl;\n server_name {HOSTNAME};\n"
            f" {directives}\n location / {{ return 200 'ok'; }}\n}}\n")
        site = NginxSite(address, port)
        self.sites.append(site)
        return site

    def start(self) -> None:
        for sub in ("logs", "tmp"):
            (self.prefix / sub).mkdir(exist_ok=True)
        temp = self.prefix / "tmp"
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"pid {self.prefix}/nginx.pid;\nerror_log {self.prefix}/logs/error.log warn;\n"
            "events { worker_connections 512; }\n"
            "http {\n access_log off;\n"
            f" client_body_temp_path {temp}/body;\n proxy_temp_path {temp}/proxy;\n"
            f" fastcgi_temp_path {temp}/fastcgi;\n uwsgi_temp_path {temp}/uwsgi;\n"
            f" scgi_temp_path {temp}/scgi;\n"
            + "".join(self.blocks)
            + "}\n"
        )
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.prefix), "-c", str(conf), "-e", str(self.prefix / "logs/error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        for site in self.sites:
            while True:
                if self.proc.poll() is not None:
                    err = (self.prefix / "logs/error.log").read_text(errors="replace")
                    raise RuntimeError(f"nginx exited: {err[-2000:]}")
                try:
                    socket.create_connection((site.address, site.port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("nginx did not start listening") from None
                    time.sleep(0.02)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()



@pytest.fixture(scope="session")
def lab() -> ModuleType:
    """This module, so tests reach its helpers (conftest cannot be imported by name)."""
    return sys.modules[__name__]


def require_tool(name: str) -> str:
    """tests/conftest.py's require_tool (fails under CI, skips locally), usable at any scope."""
    spec = importlib.util.spec_from_file_location(
        "_civiscan_root_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
    assert spec is not None and spec.loader is not None
    root = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(root)
    return str(root.require_tool(name))


# ------------------------------------------------------------------ the benchmark's lab

LAB_INTERMEDIATE = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")

MOZILLA_STYLE = ("intermediate-1", "intermediate-2", "intermediate-3", "intermediate-4",
                 "intermediate-rsa", "modern-tls13", "tls13-rsa")
"""The lab's endpoints configured after Mozilla's modern or intermediate profile."""


def connection_budget(name: str) -> int:
    """The most TCP connections a full scan of the lab endpoint ``name`` may open."""
    return 30 if name in MOZILLA_STYLE else 40


def lab_sites(pki: Pki) -> list[tuple[str, str]]:
    """The nginx server blocks of bench/tls (name, directives), also used by the budget test."""
    rsa = f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
    ec = f"ssl_certificate {pki.ec_chain}; ssl_certificate_key {pki.ec_key};"
    intermediate = (f"{rsa} {ec} ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {LAB_INTERMEDIATE};"
                    " ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_prefer_server_ciphers off;")
    configs = [(f"intermediate-{i}", intermediate) for i in range(1, 5)]
    configs += [
        ("intermediate-rsa", rsa + f" ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {LAB_INTERMEDIATE};"),
        ("modern-tls13", ec + " ssl_protocols TLSv1.3;"),
        ("tls13-rsa", rsa + " ssl_protocols TLSv1.3;"),
        ("nginx-defaults", rsa),
        ("tls12-only", rsa + " ssl_protocols TLSv1.2;"),
        ("legacy-tls10", rsa + " ssl_protocols TLSv1 TLSv1.1 TLSv1.2; ssl_ciphers DEFAULT:@SECLEVEL=0;"),
        ("legacy-all", rsa + " ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;"
         " ssl_ciphers ALL:@SECLEVEL=0; ssl_prefer_server_ciphers on;"),
        ("cbc-static-rsa", rsa + " ssl_protocols TLSv1.2; ssl_ciphers AES128-SHA:AES256-SHA256:"
         "ECDHE-RSA-AES128-SHA:CAMELLIA128-SHA:@SECLEVEL=0; ssl_prefer_server_ciphers on;"),
        ("null-anon", rsa + " ssl_protocols TLSv1.2; ssl_ciphers aNULL:eNULL:@SECLEVEL=0;"),
        ("dhe-1024", rsa + " ssl_protocols TLSv1.2; ssl_ciphers DHE-RSA-AES128-GCM-SHA256:"
         f"DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0; ssl_dhparam {pki.dh1024};"),
        ("dhe-2048", rsa + " ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers DHE-RSA-AES128-GCM-SHA256:"
         f"ECDHE-RSA-AES128-GCM-SHA256; ssl_dhparam {pki.dh2048};"),
        ("stapling", rsa + " ssl_protocols TLSv1.2 TLSv1.3; ssl_stapling on;"
         f" ssl_stapling_file {pki.ocsp_response};"),
        ("server-order", rsa + " ssl_protocols TLSv1.2; ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:"
         "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384; ssl_prefer_server_ciphers on;"),
        ("ecdsa-only", ec + " ssl_protocols TLSv1.2 TLSv1.3;"),
    ]
    return configs


class CountingRelay:
    """Loopback TCP relays that count the connections each one accepts.

    One listener per upstream, on ``host_prefix``.N (N = 1, 2, ...) and
    ``port`` (0: a free one), relaying bytes both ways: an exact
    per-endpoint connection counter for any client, where a server's own
    counters are global and its logs miss handshakes that never finish.
    """

    def __init__(self, upstreams: dict[str, tuple[str, int]], host_prefix: str,
                 port: int = 0) -> None:
        self.upstreams = upstreams
        self.counts = dict.fromkeys(upstreams, 0)
        self.addresses: dict[str, tuple[str, int]] = {}
        self._loop = asyncio.new_event_loop()
        self._servers: list[Any] = []
        self._tasks: set[Any] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        for i, name in enumerate(upstreams, start=1):
            host = f"{host_prefix}.{i}"
            future = asyncio.run_coroutine_threadsafe(self._listen(name, host, port), self._loop)
            self.addresses[name] = future.result(timeout=10)

    async def _listen(self, name: str, host: str, port: int) -> tuple[str, int]:
        server = await asyncio.start_server(
            lambda r, w: self._relay(name, r, w), host, port, backlog=1024, reuse_address=True)
        self._servers.append(server)
        return host, int(server.sockets[0].getsockname()[1])

    async def _relay(self, name: str, reader: Any, writer: Any) -> None:
        self.counts[name] += 1
        task = asyncio.current_task()
        self._tasks.add(task)  # the stream protocol drops its reference when the client goes
        try:
            with contextlib.suppress(asyncio.CancelledError):  # closing: end quietly
                await self._pipes(name, reader, writer)
            writer.transport.abort()
        finally:
            self._tasks.discard(task)

    async def _pipes(self, name: str, reader: Any, writer: Any) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstreams[name])
        except OSError:
            return

        async def pipe(src: Any, dst: Any) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
                if dst.can_write_eof():
                    dst.write_eof()
            except OSError:
                dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            up_writer.transport.abort()

    def snapshot(self) -> dict[str, int]:
        """The counts so far (read on the relay's own thread)."""
        return asyncio.run_coroutine_threadsafe(self._copy(), self._loop).result(5)

    async def _copy(self) -> dict[str, int]:
        return dict(self.counts)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
