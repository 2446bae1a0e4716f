"""The two channels: a signed JSON POST and an e-mail over SMTP with STARTTLS.

Where civiscan connects: a notification address is not a scan target, so the
inventory's scan scope does not apply to it, but it passes the same kind of
gate (docs/notifications.md): the host is resolved once, *every* address it
has must be a public (globally routable) address or lie in the operator's
``allow_networks``, and the connection goes to that checked address (no
second lookup, so a DNS answer cannot change between check and connect).
TLS is verified against the URL's or SMTP host's name.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import os
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from urllib.parse import urlsplit

from ..netutil import describe, getaddrinfo_bounded, is_ip
from .config import Network, SMTPSettings
from .contacts import Webhook

SIGNATURE_HEADER = "X-Civiscan-Signature"
DELIVERY_HEADER = "X-Civiscan-Delivery"
# A receiver's answer is read only to close the exchange cleanly.
MAX_RESPONSE = 64 * 1024


class DeliveryFailed(Exception):
    """A delivery did not happen; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def refusal(address: str, allow: Sequence[Network]) -> str | None:
    """Why civiscan may not send a notification to ``address`` (an IP literal), or None."""
    ip = ipaddress.ip_address(address)
    if any(ip in net for net in allow):
        return None
    if ip.is_global:
        return None
    return f"{address} is not a public address and not in 'allow_networks'"


def admit(host: str, port: int, allow: Sequence[Network], timeout: float = 10.0) -> str:
    """The checked IP literal to connect to for ``host`` (resolved once, within ``timeout``)."""
    if is_ip(host):
        addresses = [host]
    else:
        try:
            infos = getaddrinfo_bounded(host, port, timeout)
        except OSError as exc:
            raise DeliveryFailed(f"cannot resolve {host}: {describe(exc)}") from None
        addresses = list(dict.fromkeys(str(i[4][0]) for i in infos))
    if not addresses:
        raise DeliveryFailed(f"{host} has no address")
    for address in addresses:
        if why := refusal(address, allow):
            raise DeliveryFailed(f"refused: {host}: {why}", retry=False)
    return addresses[0]


def signature(secret: bytes, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()


def secret_of(name: str) -> bytes:
    value = os.environ.get(name)
    if not value:
        raise DeliveryFailed(f"environment variable {name} (the webhook secret) is not set", retry=False)
    return value.encode()


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post_webhook(hook: Webhook, raw: bytes, delivery_id: str, allow: Sequence[Network], timeout: float) -> None:
    """POST ``raw`` signed with the hook's secret; a 2xx answer is delivered."""
    secret = secret_of(hook.secret_env)
    parts = urlsplit(hook.url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    address = admit(host, port, allow, timeout)
    conn: http.client.HTTPConnection
    if https:
        context = ssl.create_default_context(cafile=hook.ca_file)
        conn = _PinnedHTTPS(host, port, address, timeout, context)
    else:
        conn = _PinnedHTTP(host, port, address, timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "civiscan-notify",
        SIGNATURE_HEADER: signature(secret, raw),
        DELIVERY_HEADER: delivery_id,
    }
    try:
        conn.request("POST", path, body=raw, headers=headers)
        response = conn.getresponse()
        response.read(MAX_RESPONSE)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryFailed(f"{host}:{port}: {describe(exc)}", retry=False) from None
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"{host}:{port}: {describe(exc)}") from None
    finally:
        conn.close()
    if not 200 <= response.status < 300:
        # A 4xx is the receiver refusing this message; only overload and server errors may pass.
        retry = response.status >= 500 or response.status in (408, 429)
        raise DeliveryFailed(f"{host}:{port} answered HTTP {response.status}", retry=retry)


class _PinnedSMTP(smtplib.SMTP):
    def __init__(self, address: str, timeout: float) -> None:
        self._address = address
        super().__init__(timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # The packets go to the checked address, whatever name smtplib was given.
        return socket.create_connection((self._address, port), timeout, self.source_address)


def send_mail(smtp: SMTPSettings, message: EmailMessage, allow: Sequence[Network], timeout: float) -> None:
    credentials = None
    if smtp.username_env and smtp.password_env:
        user, password = os.environ.get(smtp.username_env), os.environ.get(smtp.password_env)
        if not user or not password:
            raise DeliveryFailed(f"environment variables {smtp.username_env} and {smtp.password_env} (SMTP login) must be set", retry=False)
        credentials = (user, password)
    address = admit(smtp.host, smtp.port, allow, timeout)
    client = _PinnedSMTP(address, timeout)
    # smtplib verifies the STARTTLS certificate against the name it was constructed with.
    client._host = smtp.host  # type: ignore[attr-defined]
    try:
        client.connect(smtp.host, smtp.port)
        client.ehlo()
        if smtp.starttls:
            if not client.has_extn("starttls"):
                raise DeliveryFailed(f"SMTP server {smtp.host}:{smtp.port} does not offer STARTTLS", retry=False)
            client.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
            client.ehlo()
        if credentials:
            client.login(*credentials)
        client.send_message(message)
    except smtplib.SMTPResponseException as exc:
        # 4xx is "try later" in SMTP; 5xx is final.
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port} answered {exc.smtp_code}", retry=400 <= exc.smtp_code < 500) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port}: {describe(exc)}", retry=False) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port}: {describe(exc)}") from None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
