"""Where the broker is and how to reach it.

The URL comes from ``--broker`` or ``CIVISCAN_BROKER`` and must not hold a
password: that comes from ``CIVISCAN_BROKER_PASSWORD`` only, so it never
appears in argv, a process list, a log or a stored run. ``rediss://`` turns on
TLS, always verified: ``CIVISCAN_BROKER_CA_FILE`` adds trust anchors,
``CIVISCAN_BROKER_CERT_FILE`` / ``CIVISCAN_BROKER_KEY_FILE`` give a client
certificate.

``CIVISCAN_BROKER_VISIBILITY_TIMEOUT`` (seconds, default 900) is how long a
job taken by a worker that then vanished (machine lost, SIGKILL) stays
invisible before Redis hands it to another worker; it must exceed the longest
job (the plugin time limit, 600 s by default), or a slow job is run twice
(harmless: outcomes are keyed by run and asset, but wasted work).
``CIVISCAN_FLEET_HOST_LEASE`` (seconds, default 30) is how long a per-host
connection slot of a vanished worker stays taken.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError, Position

ENV_URL = "CIVISCAN_BROKER"
ENV_PASSWORD = "CIVISCAN_BROKER_PASSWORD"
ENV_CA_FILE = "CIVISCAN_BROKER_CA_FILE"
ENV_CERT_FILE = "CIVISCAN_BROKER_CERT_FILE"
ENV_KEY_FILE = "CIVISCAN_BROKER_KEY_FILE"
ENV_VISIBILITY = "CIVISCAN_BROKER_VISIBILITY_TIMEOUT"
ENV_HOST_LEASE = "CIVISCAN_FLEET_HOST_LEASE"


def _seconds(env: Mapping[str, str], name: str, default: float, where: Position) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.5 <= value <= 86400:
        raise ConfigError.at(where, f"{name} must be a number of seconds from 0.5 to 86400")
    return value


@dataclass(frozen=True)
class BrokerConfig:
    url: str  # never holds a password
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    visibility_timeout: float = 900.0
    host_lease: float = 30.0

    @classmethod
    def load(cls, url: str | None, env: Mapping[str, str] | None = None) -> BrokerConfig:
        """The broker ``url`` (else ``$CIVISCAN_BROKER``) with the environment's secrets. ConfigError when wrong."""
        env = os.environ if env is None else env
        where = Position("<command line>")
        url = url or env.get(ENV_URL)
        if not url:
            raise ConfigError.at(where, f"the celery engine needs a broker: --broker redis://HOST:PORT/DB or {ENV_URL}")
        try:
            parts = urlsplit(url)
            _ = parts.port
        except ValueError as exc:
            raise ConfigError.at(where, f"broker URL: {exc}") from None
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ConfigError.at(where, "the broker URL must be redis://HOST[:PORT][/DB] or rediss://… (TLS)")
        if parts.password is not None:
            raise ConfigError.at(where, f"the broker URL must not hold a password; set {ENV_PASSWORD} instead")
        for name in (ENV_CA_FILE, ENV_CERT_FILE, ENV_KEY_FILE):
            if env.get(name) and not os.path.isfile(env[name]):
                raise ConfigError.at(Position(env[name]), f"{name}: file not found")
        if (env.get(ENV_CA_FILE) or env.get(ENV_CERT_FILE)) and parts.scheme != "rediss":
            raise ConfigError.at(where, f"{ENV_CA_FILE} and {ENV_CERT_FILE} need a rediss:// (TLS) broker URL")
        return cls(
            url=url,
            password=env.get(ENV_PASSWORD) or None,
            ca_file=env.get(ENV_CA_FILE) or None,
            cert_file=env.get(ENV_CERT_FILE) or None,
            key_file=env.get(ENV_KEY_FILE) or None,
            visibility_timeout=_seconds(env, ENV_VISIBILITY, 900.0, where),
            host_lease=_seconds(env, ENV_HOST_LEASE, 30.0, where),
        )

    @property
    def encrypted(self) -> bool:
        return urlsplit(self.url).scheme == "rediss"

    def __repr__(self) -> str:  # never the password
        return f"BrokerConfig({self.url!r}, password={'set' if self.password else 'unset'}, encrypted={self.encrypted})"

    def ssl_options(self) -> dict[str, Any] | None:
        """Celery's ``broker_use_ssl`` / redis-py's ``ssl_*`` options: verification always on."""
        if not self.encrypted:
            return None
        options: dict[str, Any] = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
        if self.ca_file:
            options["ssl_ca_certs"] = self.ca_file
        if self.cert_file:
            options["ssl_certfile"] = self.cert_file
        if self.key_file:
            options["ssl_keyfile"] = self.key_file
        return options

    def redis(self) -> Any:
        """A redis-py client of the broker (its connection pool is thread-safe)."""
        import redis

        kwargs: dict[str, Any] = {"password": self.password, "socket_timeout": 30, "socket_connect_timeout": 10,
                                  "health_check_interval": 30}
        if self.encrypted:
            kwargs.update(self.ssl_options() or {})
            kwargs["ssl_check_hostname"] = True
        return redis.Redis.from_url(self.url, **kwargs)
