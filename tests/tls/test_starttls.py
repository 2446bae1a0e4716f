"""STARTTLS endpoints against real servers on loopback: the same facts behind each upgrade.

aiosmtpd (SMTP), Dovecot (IMAP, POP3), vsftpd (FTP), slapd (LDAP) and
PostgreSQL with ``ssl=on``, each started once for this module with the test
PKI's RSA certificate, on its own 127.66.x address. Each test collects a
narrow plan (protocols, certificate) so the servers see few connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner.inventory import adhoc_assets
from scanner.models import Asset, AssetKind, CollectFailed
from scanner.plugin import CheckRequest, Context
from scanner.plugins.tls import plugin

pytestmark = pytest.mark.integration
HOSTNAME = "tls.lab.test"
_BASE = 1 + os.getpid() % 200


def address(n: int) -> str:
    return f"127.66.{_BASE}.{n}"


def free_port(addr: str) -> int:
    with socket.socket() as s:
        s.bind((addr, 0))
        return int(s.getsockname()[1])


def wait_listening(addr: str, port: int, proc: subprocess.Popen[bytes] | None = None,
                   log: Path | None = None) -> None:
    deadline = time.monotonic() + 20
    while True:
        if proc is not None and proc.poll() is not None:
            text = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {text}")
        try:
            socket.create_connection((addr, port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {addr}:{port}") from None
            time.sleep(0.05)


@contextlib.contextmanager
def running(command: list[str], addr: str, *ports: int, log: Path | None = None,
            ) -> Iterator[None]:
    """``command`` as a child process, once it listens on every ``addr:port``; stopped after."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for port in ports:
            wait_listening(addr, port, proc, log)
        yield
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A directory the servers' unprivileged users can traverse (pytest's tmp is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="civiscan-starttls-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def cert(pki: Any, workdir: Path) -> tuple[Path, Path]:
    """The RSA leaf + CA chain and its key, readable by the servers' users."""
    chain, key = workdir / "chain.pem", workdir / "key.pem"
    shutil.copy(pki.rsa_chain, chain)
    shutil.copy(pki.rsa_key, key)
    for path in (chain, key):
        path.chmod(0o644)
    return chain, key


def collect(url: str, pki: Any, checks: tuple[str, ...] = ("tls.protocols", "tls.certificate"),
            addr: str | None = None) -> dict[str, Any]:
    asset = Asset(id=f"t/{url}", name="t", kind=AssetKind.ENDPOINT, department="t",
                  url=url, address=addr)
    ctx = Context(timeout=5.0, settings={"ca_file": str(pki.ca)})
    requests = [CheckRequest(c, {}) for c in checks]
    return asyncio.run(plugin.collect(asset, requests, ctx))


def assert_tls_facts(facts: dict[str, Any], scheme: str) -> None:
    assert facts["starttls"] == scheme
    assert facts["protocols"]["TLSv1.2"] is True
    assert facts["protocols"]["SSLv3"] is False, facts["errors"]
    cert = facts["certificate"]
    assert cert["certificates"][cert["leaf"]]["subject"] == f"CN={HOSTNAME}"
    assert cert["verification"]["verified"] is True
    assert facts["errors"] == {}, facts["errors"]


# ------------------------------------------------------------------ SMTP (aiosmtpd)


@pytest.fixture(scope="module")
def smtp(pki: Any) -> Iterator[tuple[str, int, int]]:
    """One aiosmtpd offering STARTTLS, one that does not (same address, two ports)."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.rsa_chain), str(pki.rsa_key))
    addr = address(1)
    with_tls = Controller(Sink(), hostname=addr, port=free_port(addr), tls_context=ctx)
    without = Controller(Sink(), hostname=addr, port=free_port(addr))
    with_tls.start()
    without.start()
    yield addr, with_tls.port, without.port
    with_tls.stop()
    without.stop()


def test_smtp_facts_behind_starttls(smtp: tuple[str, int, int], pki: Any) -> None:
    addr, port, _ = smtp
    facts = collect(f"smtp://{HOSTNAME}:{port}", pki, addr=addr)
    assert_tls_facts(facts, "smtp")
    assert facts["port"] == port


def test_the_completed_handshake_probes_upgrade_first_too(
        smtp: tuple[str, int, int], pki: Any) -> None:
    addr, port, _ = smtp
    facts = collect(f"smtp://{HOSTNAME}:{port}", pki, addr=addr,
                    checks=("tls.client_renegotiation", "tls.early_data"))
    assert facts["client_renegotiation"]["accepted"] is False, facts["errors"]
    assert facts["early_data"]["offered"] is False, facts["errors"]


def test_smtp_without_starttls_is_a_starttls_refused_error(
        smtp: tuple[str, int, int], pki: Any) -> None:
    addr, _, port = smtp
    with pytest.raises(CollectFailed) as info:
        collect(f"submission://{HOSTNAME}:{port}", pki, addr=addr)
    assert info.value.reason == "starttls_refused"
    assert "does not list STARTTLS" in info.value.message


def test_the_tls_command_scans_an_smtp_url(smtp: tuple[str, int, int], pki: Any) -> None:
    from scanner.plugin import load_registry
    from scanner.plugins.tls.command import collect_tls, describe

    addr, port, _ = smtp
    url = f"smtp://{HOSTNAME}:{port}"
    registry = load_registry()
    [(asset, facts, error)] = collect_tls(
        [url], registry, 5.0, {"resolve": {f"{HOSTNAME}:{port}": addr}, "ca_file": str(pki.ca)})
    assert error is None, error
    assert facts is not None and facts["starttls"] == "smtp"
    text = describe(asset, facts, error)
    assert "TLSv1.2" in text and "upgraded in-band: smtp (STARTTLS)" in text


# ------------------------------------------------------------------ IMAP and POP3 (Dovecot)


@pytest.fixture(scope="module")
def dovecot(lab: Any, workdir: Path, cert: tuple[Path, Path]) -> Iterator[tuple[str, int, int]]:
    binary = lab.require_tool("dovecot")
    root = workdir / "dovecot"
    for sub in ("run", "state", "home"):
        (root / sub).mkdir(parents=True)
    root.chmod(0o755)
    addr = address(2)
    imap, pop3 = free_port(addr), free_port(addr)
    chain, key = cert
    log = root / "log"
    conf = root / "dovecot.conf"
    conf.write_text(
        f"protocols = imap pop3\nlisten = {addr}\nbase_dir = {root}/run\n"
        f"state_dir = {root}/state\nlog_path = {log}\nssl = yes\n"
        f"ssl_cert = <{chain}\nssl_key = <{key}\nauth_mechanisms = plain\n"
        "passdb {\n driver = static\n args = nopassword=y\n}\n"
        f"userdb {{\n driver = static\n args = uid=nobody gid=nogroup home={root}/home\n}}\n"
        f"service imap-login {{\n inet_listener imap {{\n  port = {imap}\n }}\n"
        " inet_listener imaps {\n  port = 0\n }\n}\n"
        f"service pop3-login {{\n inet_listener pop3 {{\n  port = {pop3}\n }}\n"
        " inet_listener pop3s {\n  port = 0\n }\n}\n")
    with running([binary, "-F", "-c", str(conf)], addr, imap, pop3, log=log):
        yield addr, imap, pop3


def test_imap_facts_behind_starttls(dovecot: tuple[str, int, int], pki: Any) -> None:
    addr, port, _ = dovecot
    assert_tls_facts(collect(f"imap://{HOSTNAME}:{port}", pki, addr=addr), "imap")


def test_pop3_facts_behind_stls(dovecot: tuple[str, int, int], pki: Any) -> None:
    addr, _, port = dovecot
    assert_tls_facts(collect(f"pop3://{HOSTNAME}:{port}", pki, addr=addr), "pop3")


def test_imap_port_that_speaks_pop3_is_refused(dovecot: tuple[str, int, int], pki: Any) -> None:
    addr, _, port = dovecot
    with pytest.raises(CollectFailed) as info:
        collect(f"imap://{HOSTNAME}:{port}", pki, addr=addr)
    assert info.value.reason == "starttls_refused"


# ------------------------------------------------------------------ FTP (vsftpd)


@pytest.fixture(scope="module")
def vsftpd(lab: Any, workdir: Path, cert: tuple[Path, Path]) -> Iterator[tuple[str, int]]:
    binary = lab.require_tool("vsftpd")
    root = workdir / "vsftpd"
    (root / "empty").mkdir(parents=True)
    addr = address(3)
    port = free_port(addr)
    chain, key = cert
    conf = root / "vsftpd.conf"
    # vsftpd refuses to start with no login method enabled; nobody logs in here.
    conf.write_text(
        f"listen=YES\nlisten_ipv6=NO\nlisten_address={addr}\nlisten_port={port}\n"
        f"background=NO\nssl_enable=YES\nrsa_cert_file={chain}\nrsa_private_key_file={key}\n"
        f"ssl_ciphers=HIGH\nsecure_chroot_dir={root}/empty\nanonymous_enable=NO\n"
        f"local_enable=YES\nxferlog_enable=NO\nvsftpd_log_file={root}/log\n")
    conf.chmod(0o600)  # vsftpd insists its config is not writable by others
    with running([binary, str(conf)], addr, port, log=root / "log"):
        yield addr, port


def test_ftp_facts_behind_auth_tls(vsftpd: tuple[str, int], pki: Any) -> None:
    addr, port = vsftpd
    assert_tls_facts(collect(f"ftp://{HOSTNAME}:{port}", pki, addr=addr), "ftp")


# ------------------------------------------------------------------ LDAP (slapd)


@pytest.fixture(scope="module")
def slapd(lab: Any, workdir: Path, cert: tuple[Path, Path]) -> Iterator[tuple[str, int]]:
    binary = lab.require_tool("slapd")
    root = workdir / "slapd"
    (root / "db").mkdir(parents=True)
    addr = address(4)
    port = free_port(addr)
    chain, key = cert
    conf = root / "slapd.conf"
    conf.write_text(
        "include /etc/ldap/schema/core.schema\n"
        f"pidfile {root}/slapd.pid\nTLSCertificateFile {chain}\nTLSCertificateKeyFile {key}\n"
        f"database ldif\ndirectory {root}/db\nsuffix \"dc=lab,dc=test\"\n")
    with running([binary, "-f", str(conf), "-h", f"ldap://{addr}:{port}/", "-d", "0"], addr, port):
        yield addr, port


def test_ldap_facts_behind_the_starttls_extended_operation(
        slapd: tuple[str, int], pki: Any) -> None:
    addr, port = slapd
    assert_tls_facts(collect(f"ldap://{HOSTNAME}:{port}", pki, addr=addr), "ldap")


# ------------------------------------------------------------------ PostgreSQL


def _pg_bin(lab: Any, name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else lab.require_tool(name)


@pytest.fixture(scope="module")
def postgres(lab: Any, workdir: Path, cert: tuple[Path, Path]) -> Iterator[tuple[str, int]]:
    runuser = lab.require_tool("runuser")
    initdb, pg_ctl = _pg_bin(lab, "initdb"), _pg_bin(lab, "pg_ctl")
    root = workdir / "postgres"
    root.mkdir()
    data = root / "data"
    chain, key = cert
    pg_key = root / "server.key"
    shutil.copy(key, pg_key)
    pg_key.chmod(0o600)  # PostgreSQL refuses a key others can read
    for path in (root, pg_key):
        os.chown(path, 65534, 65534)
    as_nobody = [runuser, "-u", "nobody", "--"]
    subprocess.run([*as_nobody, initdb, "-D", str(data), "-A", "trust", "-U", "civiscan"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    addr = address(5)
    port = free_port(addr)
    options = (f"-c ssl=on -c ssl_cert_file={chain} -c ssl_key_file={pg_key} "
               f"-c listen_addresses={addr} -p {port} -k {root}")
    subprocess.run([*as_nobody, pg_ctl, "-D", str(data), "-o", options, "-l",
                    str(root / "log"), "-w", "start"], check=True, stdout=subprocess.DEVNULL)
    try:
        wait_listening(addr, port)
        yield addr, port
    finally:
        subprocess.run([*as_nobody, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_postgres_facts_behind_the_ssl_request(postgres: tuple[str, int], pki: Any) -> None:
    addr, port = postgres
    assert_tls_facts(collect(f"postgres://{HOSTNAME}:{port}", pki, addr=addr), "postgres")


def test_the_url_scheme_picks_the_default_port() -> None:
    [asset] = adhoc_assets(["postgres://db.lab.test"])
    assert (asset.port, asset.name) == (5432, "db.lab.test:5432")
