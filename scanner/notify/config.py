"""The ``notifications:`` block of the agent configuration, validated with positions.

Format and defaults: docs/notifications.md.
"""

from __future__ import annotations

import ipaddress
import string
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from ..errors import Position
from ..reader import Reader
from ..yamlpos import PosDict, PosList, excerpt, quote
from .contacts import Contacts, env_name, is_email, is_loopback, parse_contacts, webhook_url_problem

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NOTIFY_WHEN = ("changes", "always")
DIGESTS = ("none", "daily")
TEMPLATE_FIELDS = frozenset({"department", "run"})
_KEYS = [
    "notify_when",
    "waiver_warning_days",
    "digest",
    "digest_hour",
    "timezone",
    "retry",
    "timeout",
    "budget",
    "allow_networks",
    "smtp",
    "security_office",
    "report_url_template",
    "attach_report",
]
_SMTP_KEYS = ["host", "port", "starttls", "ca_file", "username_env", "password_env", "sender"]


@dataclass(frozen=True)
class Retry:
    """``attempts`` tries in all; ``backoff[i]`` seconds before try i+2 (the last value repeats)."""

    attempts: int = 3
    backoff: tuple[float, ...] = (1.0, 4.0)

    def delay(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th failed attempt (1-based)."""
        if not self.backoff:
            return 0.0
        return self.backoff[min(failed, len(self.backoff)) - 1]


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    sender: str
    port: int = 587
    starttls: bool = True
    ca_file: str | None = None
    username_env: str | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class Digest:
    """Collect events and send them once a day, at the first delivery after ``hour`` in ``timezone``."""

    hour: int = 8
    timezone: str = "UTC"


@dataclass(frozen=True)
class NotifyConfig:
    notify_when: str = "changes"
    waiver_warning_days: int = 14
    digest: Digest | None = None
    retry: Retry = Retry()
    timeout: float = 10.0
    budget: float = 60.0
    allow_networks: tuple[Network, ...] = ()
    smtp: SMTPSettings | None = None
    security_office: Contacts = field(default_factory=Contacts)
    report_url_template: str | None = None
    attach_report: str | None = None


def load_config(node: Any, where: Position) -> NotifyConfig:
    """Validate a ``notifications:`` node (a PosDict); raise ConfigError listing every problem."""
    r = Reader(where.path)
    data = r.mapping(node, where, "'notifications'")
    if data is None:
        r.raise_if_any()
        raise AssertionError("unreachable")
    what = "'notifications'"
    r.keys(data, what, _KEYS)
    notify_when = r.choice(data, "notify_when", what, NOTIFY_WHEN, default="changes") or "changes"
    days = _number(r, data, "waiver_warning_days", what, 0, 3650, 14, integer=True)
    digest = None
    if r.choice(data, "digest", what, DIGESTS, default="none") == "daily":
        hour = _number(r, data, "digest_hour", what, 0, 23, 8, integer=True)
        tz = r.string(data, "timezone", what) or "UTC"
        try:
            zoneinfo.ZoneInfo(tz)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            r.error(data.value_pos("timezone"), f"unknown timezone {quote(tz)} (an IANA name like Europe/Paris)")
        digest = Digest(int(hour), tz)
    else:
        for key in ("digest_hour", "timezone"):
            if key in data:
                r.error(data.key_pos(key), f"'{key}' applies only with 'digest: daily'")
    retry = _retry(r, data)
    timeout = _number(r, data, "timeout", what, 0.05, 300, 10.0)
    budget = _number(r, data, "budget", what, 0.1, 3600, 60.0)
    networks = []
    raw = data.get("allow_networks")
    for i, text in enumerate(r.strings(data, "allow_networks", what)):
        at = raw.item_pos(i) if isinstance(raw, PosList) else data.value_pos("allow_networks")
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError:
            r.error(at, f"invalid network {quote(text)}")
    smtp = _smtp(r, data["smtp"], data.value_pos("smtp")) if "smtp" in data else None
    office = (
        parse_contacts(r, data["security_office"], data.value_pos("security_office"), "'security_office'")
        if "security_office" in data
        else Contacts()
    )
    if office.email and smtp is None:
        r.error(data.value_pos("security_office"), "e-mail contacts need an 'smtp' block in 'notifications'")
    url_template = _template(r, data, "report_url_template", url=True)
    attach = _template(r, data, "attach_report", url=False)
    r.raise_if_any()
    return NotifyConfig(
        notify_when=notify_when,
        waiver_warning_days=int(days),
        digest=digest,
        retry=retry,
        timeout=timeout,
        budget=budget,
        allow_networks=tuple(networks),
        smtp=smtp,
        security_office=office,
        report_url_template=url_template,
        attach_report=attach,
    )


def _number(
    r: Reader, data: PosDict, key: str, what: str, low: float, high: float, default: float, *, integer: bool = False
) -> float:
    if key not in data:
        return default
    value = data[key]
    number = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not number or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        r.error(data.value_pos(key), f"'{key}' of {what} must be {kind} from {low:g} to {high:g}, got {excerpt(value)}")
        return default
    return float(value)


def _retry(r: Reader, data: PosDict) -> Retry:
    if "retry" not in data:
        return Retry()
    block = r.mapping(data["retry"], data.value_pos("retry"), "'retry'")
    if block is None:
        return Retry()
    r.keys(block, "'retry'", ["attempts", "backoff"])
    attempts = _number(r, block, "attempts", "'retry'", 1, 10, 3, integer=True)
    backoff: list[float] = []
    if "backoff" in block:
        seq = r.sequence(block["backoff"], block.value_pos("backoff"), "'backoff' of 'retry'")
        for i, item in enumerate(seq or []):
            assert seq is not None
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not 0 <= item <= 300:
                r.error(seq.item_pos(i), f"a backoff must be seconds from 0 to 300, got {excerpt(item)}")
            else:
                backoff.append(float(item))
    return Retry(int(attempts), tuple(backoff) if "backoff" in block else Retry.backoff)


def _smtp(r: Reader, value: Any, where: Position) -> SMTPSettings | None:
    from ..inventory import host_problem

    data = r.mapping(value, where, "'smtp'")
    if data is None:
        return None
    r.keys(data, "'smtp'", _SMTP_KEYS, required=["host", "sender"])
    host = r.string(data, "host", "'smtp'")
    if host is not None and (problem := host_problem(host)):
        r.error(data.value_pos("host"), f"invalid SMTP host: {problem}")
    port = _number(r, data, "port", "'smtp'", 1, 65535, 587, integer=True)
    starttls = data.get("starttls", True)
    if not isinstance(starttls, bool):
        r.error(data.value_pos("starttls"), "'starttls' must be true or false")
        starttls = True
    if not starttls and host is not None and not is_loopback(host):
        # Mail carries findings and credentials: only a relay on this machine may be spoken to in clear.
        r.error(data.value_pos("starttls"), "'starttls: false' is allowed only for a loopback SMTP address")
    sender = r.string(data, "sender", "'smtp'")
    if sender is not None and not is_email(sender):
        r.error(data.value_pos("sender"), f"invalid e-mail address {quote(sender)}")
        sender = None
    username_env = env_name(r, data, "username_env", "'smtp'")
    password_env = env_name(r, data, "password_env", "'smtp'")
    if (username_env is None) != (password_env is None):
        r.error(data.here(), "'smtp' needs both 'username_env' and 'password_env', or neither")
    if host is None or sender is None:
        return None
    return SMTPSettings(
        host=host,
        sender=sender,
        port=int(port),
        starttls=starttls,
        ca_file=r.string(data, "ca_file", "'smtp'"),
        username_env=username_env,
        password_env=password_env,
    )


def _template(r: Reader, data: PosDict, key: str, *, url: bool) -> str | None:
    text = r.string(data, key, "'notifications'")
    if text is None:
        return None
    try:
        fields = {f for _, f, spec, conv in string.Formatter().parse(text) if f is not None}
    except ValueError:
        fields = {"{"}
    if not fields <= TEMPLATE_FIELDS:
        r.error(data.value_pos(key), f"'{key}' may use only {{department}} and {{run}}, got {quote(text)}")
        return None
    if url:
        sample = text.format(department="d", run=1)
        problem = webhook_url_problem(sample)
        if problem:
            r.error(data.value_pos(key), problem.replace("webhook URL", "report URL"))
            return None
    return text


__all__ = ["Contacts", "Digest", "NotifyConfig", "Retry", "SMTPSettings", "load_config"]
