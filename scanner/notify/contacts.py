"""Who is told: e-mail addresses and webhooks, as an inventory department or the security office lists them.

Contacts are validated where they are written (``file:line:col``). A webhook
URL must be ``https://``; an unencrypted URL is accepted only for a loopback
address literal (a receiver on the scanning machine itself), since anything
else would carry findings over the network in clear. Where a URL's host
resolves is judged when civiscan connects (:mod:`scanner.notify.deliver`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import Position
from ..netutil import is_ip
from ..reader import Reader
from ..yamlpos import PosDict, PosList, excerpt, quote

# RFC 5321 bounds an address to 254 characters; the pattern refuses what would
# need quoting in a header (spaces, commas, angle brackets, quotes).
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
URL_CHARS = 2048


@dataclass(frozen=True)
class Webhook:
    url: str
    secret_env: str
    ca_file: str | None = None


@dataclass(frozen=True)
class Contacts:
    email: tuple[str, ...] = ()
    webhook: tuple[Webhook, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.email or self.webhook)


def is_email(address: str) -> bool:
    return len(address) <= 254 and bool(_EMAIL.match(address))


def is_loopback(host: str) -> bool:
    return is_ip(host) and ipaddress.ip_address(host).is_loopback


def webhook_url_problem(url: str) -> str | None:
    """Why ``url`` may not receive notifications, or None."""
    # The host check of inventory assets; imported here because the inventory imports this module.
    from ..inventory import host_problem

    if len(url) > URL_CHARS:
        return f"webhook URL is longer than {URL_CHARS} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"invalid webhook URL {quote(url)}: {excerpt(exc)}"
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return f"webhook URL {quote(url)} must be https://HOST/..."
    if problem := host_problem(host):
        return f"webhook URL {quote(url)} has an invalid host: {problem}"
    if parts.scheme == "http" and not is_loopback(host):
        return f"webhook URL {quote(url)} must use https:// (an unencrypted URL only for a loopback address)"
    if port is not None and not 1 <= port <= 65535:
        return f"webhook URL {quote(url)} has an invalid port"
    if parts.username or parts.password:
        return "webhook URL must not carry credentials; sign with 'secret_env' instead"
    return None


def env_name(r: Reader, data: PosDict, key: str, what: str, *, required: bool = False) -> str | None:
    """The *name* of an environment variable (never its value)."""
    name = r.string(data, key, what, required=required)
    if name is not None and not ENV_NAME.match(name):
        r.error(data.value_pos(key), f"'{key}' of {what} must name an environment variable, got {quote(name)}")
        return None
    return name


def parse_contacts(r: Reader, value: Any, where: Position, what: str) -> Contacts:
    """``{email: [ADDRESS...], webhook: [{url, secret_env, ca_file}]}``."""
    data = r.mapping(value, where, what)
    if data is None:
        return Contacts()
    r.keys(data, what, ["email", "webhook"])
    emails = []
    raw = data.get("email")
    addresses = [] if r.refuse_controls(data, ["email"], what) else r.strings(data, "email", what)
    for i, address in enumerate(addresses):
        at = raw.item_pos(i) if isinstance(raw, PosList) else data.value_pos("email")
        if not is_email(address):
            r.error(at, f"invalid e-mail address {quote(address)}")
        else:
            emails.append(address)
    hooks = []
    if "webhook" in data:
        seq = r.sequence(data["webhook"], data.value_pos("webhook"), f"'webhook' of {what}")
        for i, item in enumerate(seq or []):
            assert seq is not None
            hook = r.mapping(item, seq.item_pos(i), f"a webhook of {what}")
            if hook is None:
                continue
            r.keys(hook, "a webhook", ["url", "secret_env", "ca_file"], required=["url", "secret_env"])
            if r.refuse_controls(hook, ["url", "secret_env", "ca_file"], "a webhook"):
                continue
            url = r.string(hook, "url", "a webhook")
            secret = env_name(r, hook, "secret_env", "a webhook")
            ca_file = r.string(hook, "ca_file", "a webhook")
            if url is not None and (problem := webhook_url_problem(url)):
                r.error(hook.value_pos("url"), problem)
            elif url is not None and secret is not None:
                hooks.append(Webhook(url, secret, ca_file))
    return Contacts(tuple(dict.fromkeys(emails)), tuple(hooks))
