"""Client-initiated renegotiation and TLS 1.3 early data, against real nginx and OpenSSL.

nginx (Debian's OpenSSL 3) refuses client renegotiation and offers 0-RTT
only with ``ssl_early_data on``. The positive renegotiation case is Python's
``ssl`` server (the same OpenSSL) with SSL_OP_ALLOW_CLIENT_RENEGOTIATION set,
as a server built with OpenSSL 1.x behaves by default.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import CheckRequest, Context
from scanner.plugins.tls import handshake, plugin

pytestmark = pytest.mark.integration
HOST = "tls.lab.test"
NET = f"127.66.{101 + os.getpid() % 50}"
SSL_OP_ALLOW_CLIENT_RENEGOTIATION = 1 << 8  # OpenSSL 3's ssl.h; the ssl module has no name for it


@pytest.fixture(scope="module")
def nginx(lab: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = lab.Nginx(lab.require_tool("nginx"), Path(tmp_path_factory.mktemp("nginx")))
    rsa = f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
    added = {
        "default": server.add(rsa + " ssl_protocols TLSv1.2 TLSv1.3;", address=f"{NET}.1"),
        "early_data": server.add(rsa + " ssl_protocols TLSv1.2 TLSv1.3; ssl_early_data on;",
                                 address=f"{NET}.2"),
    }
    server.start()
    yield added
    server.stop()


def judge(site: Any, pki: Any, check_id: str) -> tuple[dict[str, Any], Any]:
    check = {c.id: c for c in plugin.checks}[check_id]
    options, problems = validate_options(check.options, {}, check_id)
    assert problems == []
    asset = Asset(id="t/t", name="t", kind=AssetKind.ENDPOINT, department="t",
                  url=f"https://{HOST}:{site.port}/", address=site.address)
    ctx = Context(timeout=5.0, settings={"ca_file": str(pki.ca)})
    facts = asyncio.run(plugin.collect(asset, [CheckRequest(check_id, options)], ctx))
    return facts, check.evaluate(facts, options)


def test_nginx_refuses_client_renegotiation(nginx: dict[str, Any], pki: Any) -> None:
    facts, outcome = judge(nginx["default"], pki, "tls.client_renegotiation")
    assert outcome.status is Status.PASS, outcome.message
    assert facts["client_renegotiation"]["accepted"] is False


def test_an_openssl_server_allowing_it_renegotiates_on_request(
        serve: Any, lab: Any, pki: Any) -> None:
    ctx = lab.server_context(pki, maximum=ssl.TLSVersion.TLSv1_2)
    ctx.options = (ctx.options & ~ssl.OP_NO_RENEGOTIATION) | SSL_OP_ALLOW_CLIENT_RENEGOTIATION

    def handle(conn: Any) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            while tls.recv(100):  # reading is what makes OpenSSL process the new hello
                pass

    facts, outcome = judge(serve(handle, f"{NET}.3"), pki, "tls.client_renegotiation")
    assert outcome.status is Status.FAIL
    assert facts["client_renegotiation"] == {
        "accepted": True, "answer": "the server answered with a ServerHello", "secure": True,
        "protocol": "TLSv1.2", "suite": facts["client_renegotiation"]["suite"]}
    assert facts["client_renegotiation"]["suite"].startswith("TLS_ECDHE_RSA_WITH_")


def test_nginx_without_early_data_offers_none(nginx: dict[str, Any], pki: Any) -> None:
    facts, outcome = judge(nginx["default"], pki, "tls.early_data")
    assert outcome.status is Status.PASS, outcome.message
    assert facts["early_data"]["offered"] is False


def test_nginx_with_ssl_early_data_on_offers_0rtt(nginx: dict[str, Any], pki: Any) -> None:
    facts, outcome = judge(nginx["early_data"], pki, "tls.early_data")
    assert outcome.status is Status.FAIL
    assert facts["early_data"]["offered"] is True
    assert facts["early_data"]["max_early_data_size"] == 16384  # nginx's fixed size
    assert "16384 bytes of TLS 1.3 early data" in outcome.message


def test_each_probe_costs_one_connection(nginx: dict[str, Any], pki: Any) -> None:
    alone, _ = judge(nginx["default"], pki, "tls.protocols")
    with_probe, _ = judge(nginx["default"], pki, "tls.early_data")
    assert with_probe["connections"] - alone["connections"] == 1


@pytest.mark.parametrize(("body", "size"), [
    (bytes.fromhex("00001c20" "01020304" "00" "0001aa" "0008" "002a0004" "00004000"), 16384),
    (bytes.fromhex("00001c20" "01020304" "00" "0001aa" "0000"), None),
], ids=["early-data-extension", "no-extensions"])
def test_the_ticket_reader_finds_max_early_data_size(body: bytes, size: int | None) -> None:
    assert handshake.early_data_size(body) == size
