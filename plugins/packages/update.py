"""``civiscan feeds update``: download the configured feeds and import what changed.

Each feed is a ``NAME=URL`` pair of an explicit allow-list (the ``feed`` setting of
``[feeds.update]`` in civiscan.toml, or ``--feed``). A download:

* goes only to the hosts of that list: the scope gate (:class:`scanner.gate.Gate`)
  admits each URL, and each redirect, before a packet is sent, and picks the
  address to connect to;
* is conditional: the ``ETag`` and ``Last-Modified`` of the last download are sent
  back (``If-None-Match`` / ``If-Modified-Since``), so an unchanged feed costs one
  ``304 Not Modified`` and no import;
* is bounded: ``max_bytes`` (a larger ``Content-Length`` is refused before the body
  is read, a longer body is cut off) and a per-operation socket timeout plus an
  overall deadline;
* uses HTTPS with certificate verification (the system store, plus ``ca_file``);
  plain ``http://`` URLs are refused.

A changed feed is written next to the store (``fsutil.atomic_binary``), imported
with :func:`feeds.import_path` under its name, and only then are its validators
stored (table ``feed_fetches``): a failed import is retried in full next time.
The network part (:func:`fetch`) and the bookkeeping are separate from the
import, and every failure is a :class:`FeedFetchError` with one line of text.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import http.client
import ipaddress
import os
import re
import socket
import sqlite3
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.fsutil import atomic_binary
from scanner.gate import Gate
from scanner.inventory import Scope
from scanner.models import CollectFailed

from . import feeds as feedlib

DEFAULT_MAX_BYTES = 1 << 30
"""1 GiB: the largest OSV ecosystem archives are a few hundred MB."""
DEFAULT_TIMEOUT = 60.0
_MAX_REDIRECTS = 5
_CHUNK = 1 << 16
_USER_AGENT = "civiscan-feeds-update"


class FeedFetchError(Exception):
    """A feed could not be downloaded; the message is one line for the user."""


@dataclass(frozen=True)
class FeedSpec:
    name: str
    url: str

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or ""


@dataclass(frozen=True)
class FetchState:
    """What the last successful download of a feed answered (table ``feed_fetches``)."""

    url: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class Fetched:
    """The result of one conditional download: ``changed`` with a file, or unchanged."""

    changed: bool
    status: int
    etag: str | None = None
    last_modified: str | None = None
    path: Path | None = None
    size: int = 0
    sha256: str = ""


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}")


def parse_spec(text: str) -> FeedSpec:
    """``NAME=URL`` -> FeedSpec; ValueError saying what is wrong."""
    name, sep, url = text.partition("=")
    name, url = name.strip(), url.strip()
    if not sep or not name or not url:
        raise ValueError(f"{text!r}: expected NAME=URL")
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r}: a feed name is letters, digits and . _ : + - (at most 100)")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https":
        raise ValueError(f"{url}: only https:// feed URLs are allowed")
    if not parts.hostname:
        raise ValueError(f"{url}: no host")
    if parts.username or parts.password:
        raise ValueError(f"{name}: credentials in a feed URL are refused")
    return FeedSpec(name, url)


def parse_specs(texts: Iterable[str]) -> list[FeedSpec]:
    specs: list[FeedSpec] = []
    for text in texts:
        spec = parse_spec(text)
        if any(s.name == spec.name for s in specs):
            raise ValueError(f"{spec.name}: named twice")
        specs.append(spec)
    return specs


def feed_scope(spec: FeedSpec, specs: Sequence[FeedSpec]) -> Scope:
    """What a download of ``spec`` (and its redirects) may reach.

    A feed named by host name may reach the host names of the allow-list (at any
    address they resolve to); a feed named by IP literal reaches that address only.
    """
    try:
        return Scope((ipaddress.ip_network(spec.host),), ())
    except ValueError:
        pass
    names = []
    for other in specs:
        try:
            ipaddress.ip_address(other.host)
        except ValueError:
            names.append(other.host.lower())
    return Scope((), tuple(dict.fromkeys(names)))


def conditional_headers(state: FetchState | None, url: str) -> dict[str, str]:
    """``If-None-Match`` / ``If-Modified-Since`` from the last download of the same URL."""
    if state is None or state.url != url:
        return {}
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    return headers


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return "the name does not resolve"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class _Connection(http.client.HTTPSConnection):
    """HTTPS to the address the gate chose, verifying the certificate for the URL's name."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self) -> None:
        # Replace only the TCP step: TLS (SNI, hostname check) still uses the URL's host.
        self._create_connection = lambda _addr, timeout, source: socket.create_connection(  # type: ignore[method-assign]
            (self._address, self.port), timeout, source
        )
        super().connect()


def tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verification on: the system store, plus ``ca_file`` when given."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def fetch(
    spec: FeedSpec,
    state: FetchState | None,
    gate: Gate,
    dest: Path,
    *,
    context: ssl.SSLContext,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
) -> Fetched:
    """One conditional download of ``spec`` into ``dest``; FeedFetchError on any failure."""
    url = spec.url
    deadline = clock() + max(timeout * 10, timeout)
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity", **conditional_headers(state, spec.url)}
    for _hop in range(_MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise FeedFetchError(f"{spec.name}: refused to follow {url}: only https:// is allowed")
        host, port = parts.hostname, parts.port or 443
        try:
            address = gate.admit_sync(host, port, purpose=f"feed {spec.name}")
        except CollectFailed as exc:
            raise FeedFetchError(f"{spec.name}: {exc.message}") from None
        conn = _Connection(host, port, address, timeout, context)
        try:
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                response.read(_CHUNK)
                if not location:
                    raise FeedFetchError(f"{spec.name}: {url} redirects nowhere (HTTP {response.status})")
                url = urllib.parse.urljoin(url, location)
                continue
            if response.status == 304:
                return Fetched(False, 304, state.etag if state else None, state.last_modified if state else None)
            if response.status != 200:
                raise FeedFetchError(f"{spec.name}: {url} answered HTTP {response.status} {response.reason}")
            return _save(spec, response, dest, max_bytes, deadline, clock)
        except FeedFetchError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise FeedFetchError(
                f"{spec.name}: cannot download {url}: {_describe(exc)} (offline? the imported feed is kept)"
            ) from None
        finally:
            conn.close()
    raise FeedFetchError(f"{spec.name}: more than {_MAX_REDIRECTS} redirects from {spec.url}")


def _save(
    spec: FeedSpec,
    response: http.client.HTTPResponse,
    dest: Path,
    max_bytes: int,
    deadline: float,
    clock: Callable[[], float],
) -> Fetched:
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise FeedFetchError(
            f"{spec.name}: {spec.url} is {int(length):,} bytes, over the limit of {max_bytes:,} (--max-bytes)"
        )
    digest = hashlib.sha256()
    size = 0
    with atomic_binary(dest, mode=0o644) as out:
        while True:
            block = response.read(_CHUNK)
            if not block:
                break
            size += len(block)
            if size > max_bytes:
                raise FeedFetchError(
                    f"{spec.name}: {spec.url} sent more than the limit of {max_bytes:,} bytes (--max-bytes)"
                )
            if clock() > deadline:
                raise FeedFetchError(f"{spec.name}: {spec.url} is too slow: the download ran out of time")
            digest.update(block)
            out.write(block)
    last_modified = response.getheader("Last-Modified")
    when = email.utils.parsedate_to_datetime(last_modified) if last_modified else None
    if when is not None and when.tzinfo is not None:
        # The feed's own date for formats that carry none (tracker, secdb): its Last-Modified.
        stamp = when.timestamp()
        os.utime(dest, (stamp, stamp))
    return Fetched(True, 200, response.getheader("ETag"), last_modified, dest, size, digest.hexdigest())


# ------------------------------------------------------------------ state in the store


def read_state(conn: Any, name: str) -> FetchState | None:
    try:
        row = conn.execute(
            "SELECT url, etag, last_modified FROM feed_fetches WHERE name = ?", (name,)
        ).fetchone()
    except sqlite3.Error:  # a store without the table: nothing downloaded yet
        return None
    return FetchState(*row) if row else None


def write_state(conn: Any, spec: FeedSpec, fetched: Fetched, now: str) -> None:
    conn.execute("DELETE FROM feed_fetches WHERE name = ?", (spec.name,))
    conn.execute(
        "INSERT INTO feed_fetches (name, url, etag, last_modified, fetched_at, checked_at, bytes, sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (spec.name, spec.url, fetched.etag, fetched.last_modified, now, now, fetched.size, fetched.sha256),
    )


def mark_checked(conn: Any, name: str, now: str) -> None:
    conn.execute("UPDATE feed_fetches SET checked_at = ? WHERE name = ?", (now, name))


def download_path(directory: Path, spec: FeedSpec) -> Path:
    """Where a feed's download is kept: ``DIR/<name>/<last URL segment>``.

    The file keeps the URL's last segment, so an endoflife.date ``debian.json``
    still names its product.
    """
    segment = urllib.parse.unquote(urllib.parse.urlsplit(spec.url).path.rstrip("/").rsplit("/", 1)[-1])
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", segment) or "feed"
    folder = re.sub(r"[^A-Za-z0-9._-]", "_", spec.name)
    return directory / folder / (safe if not safe.startswith(".") else "feed" + safe)


@dataclass(frozen=True)
class Outcome:
    spec: FeedSpec
    line: str
    ok: bool


def update(
    store: Any,
    specs: Sequence[FeedSpec],
    directory: Path,
    *,
    ca_file: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    resolve: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """Fetch every feed of ``specs`` and import the changed ones; one Outcome line each."""
    context = tls_context(ca_file)
    outcomes: list[Outcome] = []
    for spec in specs:
        gate = Gate(feed_scope(spec, specs), resolve, timeout)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        dataset = store.dataset("advisories")
        state = None
        if dataset is not None:
            with dataset.read() as conn:
                state = read_state(conn, spec.name)
        dest = download_path(directory, spec)
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        try:
            fetched = fetch(spec, state, gate, dest, context=context, max_bytes=max_bytes, timeout=timeout)
        except FeedFetchError as exc:
            outcomes.append(Outcome(spec, str(exc), False))
            continue
        if not fetched.changed:
            with store.write_dataset("advisories") as conn:
                mark_checked(conn, spec.name, now)
            outcomes.append(Outcome(spec, f"{spec.name}: unchanged (HTTP 304)", True))
            continue
        try:
            with store.write_dataset("advisories") as conn:
                result = feedlib.import_path(conn, dest, name=spec.name)
                write_state(conn, spec, fetched, now)
        except (feedlib.FeedFormatError, ValueError, OSError, KeyError, TypeError) as exc:
            outcomes.append(Outcome(spec, f"{spec.name}: downloaded but cannot import: {exc}", False))
            continue
        info = result.feed
        outcomes.append(
            Outcome(
                spec,
                f"{spec.name}: updated, {fetched.size:,} bytes, {info.advisories} advisories "
                f"({info.kind}), dated {info.feed_date or 'unknown'}",
                True,
            )
        )
    return outcomes


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "FeedFetchError",
    "FeedSpec",
    "FetchState",
    "Fetched",
    "Outcome",
    "conditional_headers",
    "download_path",
    "feed_scope",
    "fetch",
    "parse_spec",
    "parse_specs",
    "tls_context",
    "update",
]
