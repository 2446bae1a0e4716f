"""Stored runs to notify about, and real receivers on loopback: an HTTP server and an SMTP server with STARTTLS."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from scanner.evaluate import Finding
from scanner.inventory import Department
from scanner.models import Asset, AssetKind, CollectError, ErrorReason, Severity, Status
from scanner.notify.config import NotifyConfig, load_config
from scanner.notify.contacts import Contacts, Webhook
from scanner.policy import RuleSet
from scanner.store import RunStatus, Store
from scanner.yamlpos import Shape, load_bytes

# The loopback block these tests' servers listen on.
HOST = "127.0.77.1"
SECRET = "s3cret-for-tests"
START = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)


def asset(asset_id: str) -> Asset:
    department, name = asset_id.split("/")
    return Asset(id=asset_id, name=name, kind=AssetKind.ENDPOINT, department=department, url=f"https://{name}.city.example/")


def record_run(
    store: Store,
    results: Mapping[str, Mapping[str, str]],
    *,
    unreachable: Sequence[str] = (),
    pending: Sequence[str] = (),
    waivers: Mapping[tuple[str, str], str] | None = None,
    started: dt.datetime = START,
    status: RunStatus = RunStatus.COMPLETE,
) -> int:
    """A stored run: ``results[asset_id][rule_id] = "pass" | "fail" | "waived" | "error"``."""
    assets = [asset(a) for a in [*results, *pending]]
    departments = sorted({a.department for a in assets})
    titles = [{"name": d, "title": d.title() + " Department"} for d in departments]
    run = store.create_run(RuleSet((), (), ()), assets, {}, started, departments=titles)
    for a in assets:
        if a.id in pending:
            continue
        findings = []
        for rule, verdict in results[a.id].items():
            waiver = None
            if verdict == "waived":
                ends = (waivers or {})[(a.id, rule)]
                waiver = {"id": f"w-{rule}", "ends": ends, "ticket": "SEC-1", "expires": ends[:10]}
            reason = ErrorReason.TIMEOUT if verdict == "error" else None
            findings.append(Finding(a.id, rule, Status(verdict), Severity.HIGH, f"{rule} on {a.name}", reason=reason, waiver=waiver))
        errors = {"tls": CollectError(ErrorReason.TIMEOUT, f"{a.name} timed out")} if a.id in unreachable else {}
        facts = {} if a.id in unreachable else {"tls": {"ok": True}}
        store.save_asset(run, a, facts, errors, findings, started + dt.timedelta(minutes=1))
    store.finish_run(run, status, 0, started + dt.timedelta(minutes=2))
    return run


def config(text: str, name: str = "agent.yaml") -> NotifyConfig:
    """``notifications:`` parsed from YAML text, as the agent would hand it over."""
    data = load_bytes(text.encode(), name, Shape("agent configuration", ("notifications",))).data
    return load_config(data["notifications"], data.value_pos("notifications"))


def department(name: str, *, emails: Sequence[str] = (), hooks: Sequence[str] = ()) -> Department:
    return Department(
        name,
        name.title() + " Department",
        contacts=Contacts(tuple(emails), tuple(Webhook(u, "NOTIFY_SECRET") for u in hooks)),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "civiscan.db") as s:
        yield s


SMTP_USER, SMTP_PASSWORD = "civiscan", "mail-password-for-tests"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SECRET", SECRET)
    monkeypatch.setenv("TEST_SMTP_USER", SMTP_USER)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)


# --- a webhook receiver ---------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200


@contextlib.contextmanager
def serve_webhook(port: int = 0, tls: ssl.SSLContext | None = None) -> Iterator[WebhookServer]:
    """A real HTTP(S) server on loopback recording every POST."""
    state = WebhookServer("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(length)
            state.received.append(Received(self.path, dict(self.headers), data))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((HOST, port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls else "http"
    state.url = f"{scheme}://{HOST}:{server.server_address[1]}/hooks/civiscan"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    with serve_webhook() as server:
        yield server


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


# --- an SMTP server with STARTTLS -----------------------------------------------------------


@dataclass
class MailServer:
    port: int
    ca_file: str
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    def block(self, sender: str = "c@city.example") -> str:
        """The ``smtp:`` line of a notifications block for this server, credentials from the environment."""
        return (
            f"  smtp: {{host: {HOST}, port: {self.port}, ca_file: {self.ca_file}, sender: {sender},"
            " username_env: TEST_SMTP_USER, password_env: TEST_SMTP_PASSWORD}\n"
        )


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[MailServer]:
    from aiosmtpd.controller import Controller

    from scanner.lab.pki import LabPKI

    pki = LabPKI(tmp_path / "pki")
    leaf = pki.leaf("good-rsa", HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(leaf.fullchain), str(leaf.key))
    state = MailServer(0, str(pki.ca_bundle))

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            state.messages.append(message)
            state.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            SMTP_USER.encode(), SMTP_PASSWORD.encode()
        )
        if ok:
            state.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    state.port = closed_port()
    controller = Controller(
        Handler(), hostname=HOST, port=state.port, tls_context=context, require_starttls=True,
        authenticator=authenticate, auth_required=True,
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


@contextlib.contextmanager
def serve_https_webhook(tmp_path: Path) -> Iterator[tuple[WebhookServer, str, str]]:
    """:func:`serve_webhook` behind TLS with a lab certificate for HOST: (server, its CA file, an unrelated CA file)."""
    from scanner.lab.pki import LabPKI

    pki = LabPKI(tmp_path / "https-pki")
    leaf = pki.leaf("good-rsa", HOST)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(leaf.fullchain), str(leaf.key))
    with serve_webhook(tls=context) as server:
        yield server, str(pki.ca_bundle), str(pki.untrusted_root.path)
