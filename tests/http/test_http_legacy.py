"""The http plugin reaches the legacy servers the tls plugin judges: real nginx on loopback.

TLS 1.0 and 1.1 only, NULL and static-RSA suites, 1024-bit DH and a chain of
about 290 kB are each one nginx site; headers must come back from every one of
them (from an anonymous-only one too, never with a verified certificate). An
SSLv3-only server (no Debian OpenSSL speaks SSLv3 any more, so a script answers
as one) is reported with the reason ``unsupported_protocol``.
"""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from scanner.lab.pki import LabPKI
from scanner.models import CollectFailed
from tests.conftest import require_tool

pytestmark = pytest.mark.integration

ADDRESS = "127.0.148.1"
HOST = "legacy.lab.test"
SITES = {
    "tls10": "ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0;",
    "tls11": "ssl_protocols TLSv1.1; ssl_ciphers DEFAULT:@SECLEVEL=0;",
    "null": "ssl_protocols TLSv1.2; ssl_ciphers eNULL:@SECLEVEL=0;",
    "static_rsa": "ssl_protocols TLSv1.2; ssl_ciphers AES128-SHA:AES256-SHA256;",
    "dhe1024": "ssl_protocols TLSv1.2; ssl_ciphers DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0; ssl_dhparam DHPARAM;",
    "large_chain": "ssl_protocols TLSv1.2 TLSv1.3;",
    "anonymous": "ssl_protocols TLSv1.2; ssl_ciphers aNULL:@SECLEVEL=0;",
}


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, nginx_runner, pick_port) -> Iterator[tuple[LabPKI, dict[str, int]]]:
    binary = require_tool("nginx")
    directory = tmp_path_factory.mktemp("legacy")
    pki = LabPKI(directory / "pki", now=dt.datetime.now(dt.UTC))
    leaf = pki.leaf("good-rsa", HOST)
    dh = directory / "dh1024.pem"
    subprocess.run([require_tool("openssl"), "dhparam", "-dsaparam", "-out", str(dh), "1024"],
                   check=True, capture_output=True)
    # Unrelated certificates after the chain: the verifier ignores them, the handshake grows past
    # OpenSSL's default 100 kB limit on a received certificate list.
    large = directory / "large.pem"
    large.write_bytes(leaf.fullchain.read_bytes() + pki.ca_bundle.read_bytes() * 340)
    assert large.stat().st_size > 390_000  # PEM: about 290 kB of DER on the wire
    ports = {name: pick_port([ADDRESS]) for name in SITES}
    blocks = [
        f"""
  server {{
    listen {ADDRESS}:{ports[name]} ssl;
    server_name {HOST};
    ssl_certificate {large if name == "large_chain" else leaf.fullchain};
    ssl_certificate_key {leaf.key};
    {config.replace("DHPARAM", str(dh))}
    location / {{
      add_header Strict-Transport-Security "max-age=63072000" always;
      return 200 "hello\\n";
    }}
  }}"""
        for name, config in SITES.items()
    ]
    with nginx_runner(binary, directory / "run", "".join(blocks), [(ADDRESS, p) for p in ports.values()]):
        yield pki, ports


@pytest.mark.parametrize("site", sorted(set(SITES) - {"anonymous"}))
def test_headers_come_back_from_every_legacy_server(sites, collect_http, make_endpoint, site: str) -> None:
    pki, ports = sites
    asset = make_endpoint(f"https://{HOST}:{ports[site]}/", ADDRESS, str(pki.ca_bundle))
    facts = collect_http(asset, checks=["http.hsts"])
    assert facts.get("error") is None, facts.get("error")
    assert facts["status"] == 200
    assert facts["headers"]["strict-transport-security"] == ["max-age=63072000"]
    assert facts["tls_verified"] is True


def test_an_anonymous_suite_gives_headers_but_never_verified(sites, collect_http, make_endpoint) -> None:
    pki, ports = sites
    facts = collect_http(make_endpoint(f"https://{HOST}:{ports['anonymous']}/", ADDRESS, str(pki.ca_bundle)))
    assert facts["status"] == 200
    assert facts["tls_verified"] is False
    assert facts["tls_verify_error"].startswith("the handshake with verification failed: ")


@pytest.fixture
def sslv3_only() -> Iterator[int]:
    """Answers any ClientHello with an SSLv3 ServerHello, as an SSLv3-only server does."""
    listener = socket.create_server((ADDRESS, 0))
    hello = bytes.fromhex("0300") + bytes(32) + b"\x00" + bytes.fromhex("002f") + b"\x00"
    handshake = b"\x02" + len(hello).to_bytes(3, "big") + hello
    record = b"\x16\x03\x00" + len(handshake).to_bytes(2, "big") + handshake

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(record)
                conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    thread.join(timeout=5)


def test_a_protocol_openssl_cannot_speak_is_said_as_such(sslv3_only: int, collect_http, make_endpoint) -> None:
    with pytest.raises(CollectFailed) as raised:
        collect_http(make_endpoint(f"https://{HOST}:{sslv3_only}/", ADDRESS))
    assert raised.value.reason.value == "unsupported_protocol", raised.value
    assert "OpenSSL" in raised.value.message
