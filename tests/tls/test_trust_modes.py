"""--ca-file adds anchors to the system store; --ca-only trusts the file alone (tls and http, real nginx).

The system store is stood in for by a second lab CA: the tls plugin's bundle path
and OpenSSL's ``SSL_CERT_FILE`` (which the http plugin's default context reads)
both name it, so "a certificate only the system trusts" is one this test made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from scanner.models import Asset, AssetKind
from scanner.plugin import CheckRequest, Context
from scanner.plugins import http as http_plugin
from scanner.plugins import tls as tls_plugin
from scanner.plugins.tls import certs

pytestmark = pytest.mark.integration
HOST = "tls.lab.test"


@pytest.fixture(scope="module")
def system_pki(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A CA of its own, playing a public CA of the system store."""
    return lab.make_pki(tmp_path_factory.mktemp("system-pki"))


@pytest.fixture(scope="module")
def sites(lab: Any, pki: Any, system_pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``file``: a certificate from the --ca-file CA; ``system``: one from the system store's CA."""
    server = lab.Nginx(lab.require_tool("nginx"), Path(tmp_path_factory.mktemp("nginx")))
    added = {name: server.add(f"ssl_certificate {p.rsa_chain}; ssl_certificate_key {p.rsa_key};"
                              " ssl_protocols TLSv1.2 TLSv1.3;")
             for name, p in (("file", pki), ("system", system_pki))}
    server.start()
    yield added
    server.stop()


@pytest.fixture
def system_store(system_pki: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(certs, "SYSTEM_TRUST_STORE", str(system_pki.ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(system_pki.ca))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    http_plugin.tls_context.cache_clear()
    yield
    http_plugin.tls_context.cache_clear()


def asset(site: Any) -> Asset:
    return Asset(id=f"lab/{site.port}", name=HOST, kind=AssetKind.ENDPOINT, department="lab",
                 url=f"https://{HOST}:{site.port}/", address=site.address)


def tls_verified(site: Any, settings: dict[str, Any]) -> bool:
    ctx = Context(timeout=3.0, settings=settings)
    facts = asyncio.run(tls_plugin.plugin.collect(asset(site), [CheckRequest("tls.certificate", {})], ctx))
    return facts["certificate"]["verification"]["verified"]


def http_verified(site: Any, settings: dict[str, Any]) -> bool:
    ctx = Context(timeout=3.0, settings=settings)
    facts = asyncio.run(http_plugin.plugin.collect(asset(site), [CheckRequest("http.hsts", {})], ctx))
    return facts["tls_verified"]


MODES = {
    # (settings, file CA's certificate verified, system CA's certificate verified)
    "system-only": (lambda pki: {}, False, True),
    "ca-file-adds": (lambda pki: {"ca_file": str(pki.ca)}, True, True),
    "ca-only": (lambda pki: {"ca_file": str(pki.ca), "ca_only": True}, True, False),
}


@pytest.mark.parametrize(("settings", "file_ok", "system_ok"), MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("verified", [tls_verified, http_verified], ids=["tls", "http"])
def test_trust_mode_decides_which_certificates_verify(sites, pki, system_store, verified, settings,
                                                      file_ok, system_ok):
    given = settings(pki)
    assert verified(sites["file"], given) is file_ok
    assert verified(sites["system"], given) is system_ok


def test_ca_only_takes_the_asset_ca_file_alone(sites, pki, system_store):
    own = Asset(id="lab/own", name=HOST, kind=AssetKind.ENDPOINT, department="lab",
                url=f"https://{HOST}:{sites['file'].port}/", address=sites["file"].address, ca_file=str(pki.ca))
    ctx = Context(timeout=3.0, settings={"ca_only": True})
    facts = asyncio.run(tls_plugin.plugin.collect(own, [CheckRequest("tls.certificate", {})], ctx))
    assert facts["certificate"]["verification"]["verified"] is True
    assert facts["certificate"]["trust_store"] == [str(pki.ca)]


@pytest.mark.parametrize("command", ["scan", "tls"])
def test_ca_only_without_ca_file_is_refused_exit_2(command, capsys):
    from scanner.cli import main

    with pytest.raises(SystemExit) as stop:
        main([command, "--ca-only", "127.0.0.1"])
    assert stop.value.code == 2
    assert "error: --ca-only trusts only the --ca-file anchors: give --ca-file PEM too" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["scan", "tls"])
def test_help_says_what_each_trust_flag_does(command):
    from scanner.cli import cli

    text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
    assert "added to the system store (it is still trusted)" in text
    assert "Trust only the --ca-file anchors" in text and "not the system store" in text


def test_terminal_shows_the_expiry_as_a_readable_date_and_days_left(sites, pki):
    from scanner.plugins.tls.command import describe
    from scanner.timeutil import readable_time

    ctx = Context(timeout=3.0, settings={"ca_file": str(pki.ca)})
    facts = asyncio.run(tls_plugin.plugin.collect(asset(sites["file"]), [CheckRequest("tls.certificate", {})], ctx))
    leaf = facts["certificate"]["certificates"][facts["certificate"]["leaf"]]
    text = describe(asset(sites["file"]), facts, None)
    assert f"valid until: {readable_time(leaf['not_after'])} ({leaf['days_left']} days left)" in text
    assert leaf["not_after"] not in text  # the ISO form stays in --json
    assert leaf["days_left"] in (19, 20)  # the lab leaf is valid for 20 days from yesterday
