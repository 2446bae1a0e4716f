"""Record the TLS exchanges under tests/data/tls/ (run once; the files are committed).

    .venv/bin/python tests/tls/record_exchanges.py

Each exchange is one ClientHello we build and the raw bytes a real local server
(stdlib ``ssl`` or nginx with Debian's OpenSSL 3) answered, read until the server
went quiet. Client randoms are fixed so the files are reproducible in shape.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import ssl
import sys
import tempfile
import time
from pathlib import Path

from scanner.plugins.tls import probe, tls13
from scanner.plugins.tls import records as R
from scanner.plugins.tls import suites as S

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data" / "tls"
_spec = importlib.util.spec_from_file_location("tls_conftest", HERE / "conftest.py")
assert _spec and _spec.loader
lab = importlib.util.module_from_spec(_spec)
sys.modules["tls_conftest"] = lab
_spec.loader.exec_module(lab)

RANDOM = bytes(range(32))


def exchange(address: str, port: int, hello: bytes, idle: float = 0.5) -> bytes:
    with socket.create_connection((address, port), timeout=idle) as sock:
        sock.sendall(hello)
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return data


def save(name: str, hello: bytes, answer: bytes) -> None:
    (DATA / f"{name}.client.bin").write_bytes(hello)
    (DATA / f"{name}.server.bin").write_bytes(answer)
    print(f"{name}: {len(hello)} -> {len(answer)} bytes")


def spec(proto: S.Protocol, suites: list[int], **kw: object) -> R.ClientHelloSpec:
    p = probe.Prober(probe.Endpoint("127.0.0.1", 1, lab.HOSTNAME), 1.0, None)  # type: ignore[arg-type]
    import dataclasses
    return dataclasses.replace(p.spec(proto, suites), random=RANDOM,
                               session_id=bytes(32) if proto is S.Protocol.TLSv1_3 else b"", **kw)


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    pki = lab.make_pki(work)
    servers = []

    def start(ctx: ssl.SSLContext) -> tuple[str, int]:
        s = lab._ThreadServer(lab.next_address(), lab.tls_handler(ctx))
        servers.append(s)
        return s.sock.getsockname()[0], s.port

    modern = start(lab.server_context(pki))
    legacy = start(lab.server_context(pki, minimum=ssl.TLSVersion.TLSv1, ciphers="ALL:@SECLEVEL=0"))
    all12 = S.candidates(S.Protocol.TLSv1_2)[:127]
    all13 = S.candidates(S.Protocol.TLSv1_3)

    hello = R.build_client_hello(spec(S.Protocol.TLSv1_2, all12))
    save("tls12_ecdhe_rsa", hello, exchange(*modern, hello))
    hello = R.build_client_hello(spec(S.Protocol.TLSv1_0, S.candidates(S.Protocol.TLSv1_0)[:127]))
    save("alert_protocol_version", hello, exchange(*modern, hello))
    save("tls10_ecdhe_rsa", hello, exchange(*legacy, hello))
    hello = R.build_client_hello(spec(S.Protocol.TLSv1_3, all13))
    save("tls13_hrr", hello, exchange(*modern, hello))
    share = tls13.KeyShare(29)
    flight = probe.Flight(spec(S.Protocol.TLSv1_3, all13), True, shares={29: share})
    hello = flight.first_hello()
    save("tls13_full", hello, exchange(*modern, hello))
    (DATA / "tls13_full.x25519.key").write_text(share.private_bytes().hex() + "\n")

    nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
    nginx = lab.Nginx(nginx_bin, work)
    dhe = nginx.add(
        f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
        f" ssl_protocols TLSv1.2; ssl_ciphers DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0;"
        f" ssl_dhparam {pki.dh1024};")
    staple = nginx.add(
        f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
        f" ssl_protocols TLSv1.2; ssl_stapling on; ssl_stapling_file {pki.ocsp_response};")
    nginx.start()
    try:
        hello = R.build_client_hello(spec(S.Protocol.TLSv1_2, all12))
        save("tls12_dhe_1024", hello, exchange(dhe.address, dhe.port, hello))
        save("tls12_ocsp_stapled", hello, exchange(staple.address, staple.port, hello))
        http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        plain = exchange(dhe.address, dhe.port, http)
        save("http_answer_from_tls_port", http, plain)
    finally:
        nginx.stop()
        for s in servers:
            s.close()
        shutil.rmtree(work, ignore_errors=True)
    time.sleep(0.1)


if __name__ == "__main__":
    main()
