"""Core value types shared by every part of civiscan.

Everything here is a frozen dataclass or a ``str`` enum, so it can cross the
process boundary of a job as JSON and be compared in tests as plain data.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import Any


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is more severe: critical=4 ... info=0."""
        return _SEVERITY_RANK[self]

    @property
    def weight(self) -> int:
        """Weight of one rule x asset pair in the compliance score (docs/reports.md)."""
        return _SEVERITY_WEIGHT[self]


def severity_rank(name: object) -> int:
    """:attr:`Severity.rank` of a severity's name; -1 for a name that is none (an unrated advisory)."""
    try:
        return _RANK_OF_NAME.get(name, -1)  # type: ignore[call-overload]
    except TypeError:  # not hashable: no severity's name
        return -1


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}
# By value: a Severity is a str and hashes like its name, so members are found too.
_RANK_OF_NAME = {s.value: rank for s, rank in _SEVERITY_RANK.items()}
_SEVERITY_WEIGHT = {
    Severity.CRITICAL: 10,
    Severity.HIGH: 5,
    Severity.MEDIUM: 3,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    WAIVED = "waived"
    NOT_APPLICABLE = "not_applicable"


class ErrorReason(str, enum.Enum):
    """Why something could not be assessed. A timeout is never a 'no'.

    The core set; a plugin declares its own further reasons (``Plugin.reasons``)
    and raises them as :class:`PluginReason`.
    """

    TIMEOUT = "timeout"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    RESOLVE = "resolve"
    RESET = "reset"
    CONNECT = "connect"
    PROTOCOL = "protocol"
    TLS = "tls"
    AUTH = "auth"
    HOST_KEY = "host_key"
    COMMAND = "command"
    NOT_SUPPORTED = "not_supported"
    NO_DATA = "no_data"
    SCOPE = "scope"
    INTERRUPTED = "interrupted"
    BUG = "bug"


class PluginReason(str):
    """A reason a plugin declares beyond the core :class:`ErrorReason` set.

    Serialises like a core reason (``.value`` is the stored string).
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        return str(self)


Reason = ErrorReason | PluginReason


def parse_reason(value: str) -> Reason:
    """The reason stored as ``value``: a core one, else a plugin's own."""
    try:
        return ErrorReason(value)
    except ValueError:
        return PluginReason(value)


class AssetKind(str, enum.Enum):
    HOST = "host"
    ENDPOINT = "endpoint"


@dataclass(frozen=True)
class SSHSettings:
    """How to reach a host over SSH. Holds no secret: passwords and passphrases
    come only from the environment variable *named* here, or a prompt."""

    user: str | None = None
    port: int | None = None  # None: ~/.ssh/config's Port, else 22
    key_file: str | None = None
    password_env: str | None = None
    passphrase_env: str | None = None
    jump: str | None = None
    host_key_fingerprints: tuple[str, ...] = ()
    known_hosts: str | None = None
    sudo: bool = False
    transport: str = "ssh"  # "ssh" or "local"

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "port": self.port,
            "key_file": self.key_file,
            "password_env": self.password_env,
            "passphrase_env": self.passphrase_env,
            "jump": self.jump,
            "host_key_fingerprints": list(self.host_key_fingerprints),
            "known_hosts": self.known_hosts,
            "sudo": self.sudo,
            "transport": self.transport,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SSHSettings:
        data = dict(data)
        data["host_key_fingerprints"] = tuple(data.get("host_key_fingerprints") or ())
        return cls(**data)


ENDPOINT_SCHEMES: dict[str, int] = {
    "https": 443,
    "smtp": 25,
    "submission": 587,
    "imap": 143,
    "pop3": 110,
    "ftp": 21,
    "ldap": 389,
    "postgres": 5432,
}
"""Endpoint URL schemes, each with the port it uses by default: HTTPS, and the protocols that
upgrade a plain connection to TLS in-band (STARTTLS and its kin)."""


@dataclass(frozen=True)
class Asset:
    """One thing to scan: a host (by address) or an HTTPS endpoint (by URL).

    ``id`` is ``department/name`` and is stable across runs: findings are
    fingerprinted with it.
    """

    id: str
    name: str
    kind: AssetKind
    department: str
    address: str | None = None  # host address, or the address an endpoint is reached at
    url: str | None = None  # endpoints only
    tags: tuple[str, ...] = ()
    ssh: SSHSettings | None = None
    ca_file: str | None = None  # endpoints: extra trust anchors for TLS verification
    zone: str | None = None  # network zone: the workers that can reach it (docs/scale-out.md)

    @property
    def hostname(self) -> str:
        """The name used for SNI / host-key lookup: the URL host or the address."""
        if self.url:
            from urllib.parse import urlsplit

            return urlsplit(self.url).hostname or ""
        return self.address or self.name

    @property
    def port(self) -> int | None:
        if self.url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.url)
            return parts.port or ENDPOINT_SCHEMES.get(parts.scheme.lower(), 80)
        return None

    @property
    def scheme(self) -> str | None:
        """The endpoint URL's scheme, lower case (``https``, ``smtp`` ...); None for a host."""
        if self.url:
            from urllib.parse import urlsplit

            return urlsplit(self.url).scheme.lower()
        return None

    @property
    def is_local(self) -> bool:
        """This machine itself, assessed through the ``local`` transport."""
        return self.ssh is not None and self.ssh.transport == "local"

    @property
    def connect_address(self) -> str:
        """Where packets go: the explicit address, else the hostname (loopback for ``local``)."""
        if self.is_local:
            return "127.0.0.1"
        return self.address or self.hostname

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "department": self.department,
            "address": self.address,
            "url": self.url,
            "tags": list(self.tags),
            "ssh": self.ssh.to_json() if self.ssh else None,
            "ca_file": self.ca_file,
            **({"zone": self.zone} if self.zone else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Asset:
        return cls(
            id=data["id"],
            name=data["name"],
            kind=AssetKind(data["kind"]),
            department=data["department"],
            address=data.get("address"),
            url=data.get("url"),
            tags=tuple(data.get("tags") or ()),
            ssh=SSHSettings.from_json(data["ssh"]) if data.get("ssh") else None,
            ca_file=data.get("ca_file"),
            zone=data.get("zone"),
        )


@dataclass(frozen=True)
class CollectError:
    """A plugin could not collect its facts for an asset."""

    reason: Reason
    message: str

    def to_json(self) -> dict[str, str]:
        return {"reason": self.reason.value, "message": self.message}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> CollectError:
        return cls(parse_reason(data["reason"]), data["message"])


class CollectFailed(Exception):
    """Raised by a plugin (or transport) to turn a failure into an ``error`` result."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Outcome:
    """What one check concluded from the facts of one asset."""

    status: Status
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    reason: Reason | None = None  # for status == ERROR

    @staticmethod
    def passed(message: str, **evidence: Any) -> Outcome:
        return Outcome(Status.PASS, message, evidence)

    @staticmethod
    def failed(message: str, **evidence: Any) -> Outcome:
        return Outcome(Status.FAIL, message, evidence)

    @staticmethod
    def error(reason: Reason, message: str, **evidence: Any) -> Outcome:
        return Outcome(Status.ERROR, message, evidence, reason)

    @staticmethod
    def not_applicable(message: str, **evidence: Any) -> Outcome:
        return Outcome(Status.NOT_APPLICABLE, message, evidence)


def fingerprint(asset_id: str, rule_id: str, subject: str = "") -> str:
    """Stable id of a (asset, rule, subject) problem: the same across runs."""
    raw = "\x1f".join((asset_id, rule_id, subject)).encode()
    return hashlib.sha256(raw).hexdigest()[:24]
