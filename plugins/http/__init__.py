"""The ``http`` plugin: security headers, HSTS, cookies and the HTTP-to-HTTPS redirect.

For an endpoint ``https://host[:port]/path`` it makes two requests, each a
single GET whose response head is read and whose body is not:

1. the endpoint URL over HTTPS, verified against the system trust store plus
   ``asset.ca_file`` or ``settings["ca_file"]`` (only that file when
   ``settings["ca_only"]``: ``--ca-only``). If the certificate cannot be
   verified, the request is repeated *without* verification and the facts say
   ``tls_verified: false``. Headers are facts about the web server whatever its
   certificate (judging the certificate is ``tls.certificate``'s job), we send
   no credentials or cookies that an impostor could capture, and ``http.hsts``
   fails on such a connection because browsers ignore HSTS there;
2. ``http://host/`` on port 80 of the same address (``settings["http_redirect_port"]``
   overrides the port, for tests and labs), for ``http.redirect_to_https``;
   only when that check is requested.

Packets go only to addresses ``ctx.gate`` admits (``--resolve``, then the
asset's address, then DNS); SNI and the Host header always carry the URL host.
See docs/http.md for the facts schema.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from scanner.models import Asset, CollectFailed, ErrorReason
from scanner.plugin import CheckRequest, Context, Setting, needed

from .checks import HTTP_CHECKS
from .client import REASONS, Target, fetch_head
from .evidence import render as render_evidence
from .parse import (
    ResponseHead,
    header_map,
    parse_hsts,
    parse_set_cookie,
    product_disclosure,
    redirect_facts,
    security_header_facts,
)

SETTINGS: Mapping[str, Setting] = MappingProxyType({
    "http_redirect_port": Setting(
        "int",
        "Port of the plain-HTTP request that http.redirect_to_https judges (labs and tests).",
        default=80,
        minimum=1,
        maximum=65535,
        flag="--http-redirect-port",
    ),
})
"""Run-wide settings this plugin reads from ``ctx.settings``."""


@functools.lru_cache(maxsize=16)
def tls_context(ca_file: str | None, *, verify: bool, ca_only: bool = False) -> ssl.SSLContext:
    """A client context: system trust store plus ``ca_file``; ``ca_file`` alone when
    ``ca_only`` (no file: no anchor at all); or no verification at all.

    Cached: loading the system store costs milliseconds, and a context is safe
    to share between connections.
    """
    if verify and ca_only:
        # An explicit empty store: create_default_context would load the system one.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = ssl.create_default_context()
    if verify and ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise CollectFailed(ErrorReason.TLS, f"cannot load CA file {ca_file}: {exc}") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # Headers are facts about every server the tls plugin can talk to, so the client goes as
    # low as OpenSSL can (TLS 1.0/1.1, NULL and static-RSA suites, 1024-bit DH, SHA-1
    # signatures) and reads large certificate lists; judging all that is the tls plugin's job.
    # Anonymous suites only without verification: with no certificate nothing is verified.
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:eNULL:!aNULL:@SECLEVEL=0" if verify else "ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    _allow_large_certificate_lists(context)
    context.set_alpn_protocols(["http/1.1"])
    return context


MAX_CERTIFICATE_LIST = 1 << 20
"""Bytes of certificate list a server may send (OpenSSL's default, 100 kB, refuses real chains)."""

_SSL_CTRL_GET_MAX_CERT_LIST, _SSL_CTRL_SET_MAX_CERT_LIST = 50, 51


def _allow_large_certificate_lists(context: ssl.SSLContext) -> None:
    """``SSL_CTX_set_max_cert_list(MAX_CERTIFICATE_LIST)``, which Python's ssl does not expose.

    CPython's SSLContext object holds its ``SSL_CTX *`` right after the object
    header; the call goes to the libssl that ``_ssl`` itself is linked with. Elsewhere
    (another interpreter, no symbol) the default limit stays.
    """
    if sys.implementation.name != "cpython":
        return
    import _ssl
    import ctypes

    try:  # AttributeError: an _ssl built into the interpreter, or a libssl without the symbol
        ctrl = ctypes.CDLL(_ssl.__file__).SSL_CTX_ctrl
    except (OSError, AttributeError):
        return
    ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    ctrl.restype = ctypes.c_long
    handle = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if handle and ctrl(handle, _SSL_CTRL_GET_MAX_CERT_LIST, 0, None) > 0:
        ctrl(handle, _SSL_CTRL_SET_MAX_CERT_LIST, MAX_CERTIFICATE_LIST, None)


async def _fetch_endpoint(
    target: Target, tls: bool, ca_file: str | None, ctx: Context
) -> tuple[ResponseHead, bool | None, str | None]:
    """(head, tls_verified, verify error) for the endpoint URL."""
    async with ctx.host_slot(target.address):
        if not tls:
            return await fetch_head(target, tls=None, timeout=ctx.timeout), None, None
        try:
            head = await fetch_head(
                target, tls=tls_context(ca_file, verify=True, ca_only=bool(ctx.settings.get("ca_only"))),
                timeout=ctx.timeout
            )
            return head, True, None
        except ssl.SSLCertVerificationError as exc:
            error = exc.verify_message or str(exc)
        except CollectFailed as exc:
            if exc.reason is not ErrorReason.TLS:
                raise
            # Only the unverified client offers anonymous suites (with no certificate there is
            # nothing to verify): a server that has no other fails the verified handshake alone.
            try:
                head = await fetch_head(target, tls=tls_context(None, verify=False), timeout=ctx.timeout)
            except CollectFailed:
                raise exc from None
            return head, False, f"the handshake with verification failed: {exc.message}"
        head = await fetch_head(target, tls=tls_context(None, verify=False), timeout=ctx.timeout)
        return head, False, error


async def _probe_redirect(endpoint: str, hostname: str, port: int, ctx: Context) -> dict[str, Any]:
    """What plain HTTP on ``port`` answers for ``/``; failures are facts, not exceptions.

    ``endpoint`` is the address the HTTPS request went to: the same host, so
    the gate admits it for port 80 too unless ``--resolve`` names another.
    """
    url = f"http://{Target(endpoint, port, hostname, default_port=80).host_header}/"
    try:
        address = await ctx.gate.admit(hostname, port, address=endpoint, purpose="HTTP redirect probe")
        async with ctx.host_slot(address):
            head = await fetch_head(
                Target(address, port, hostname, "/", default_port=80), tls=None, timeout=ctx.timeout
            )
    except CollectFailed as exc:
        return {
            "url": url,
            "port": port,
            "status": None,
            "location": None,
            "redirects_to_https": False,
            "same_host": None,
            "error": {"reason": exc.reason.value, "message": exc.message},
        }
    facts = redirect_facts(head.status, head.first("location"), url, hostname)
    return {"url": url, "port": port, **facts}


class HttpPlugin:
    """Collects one HTTPS response head (and the port-80 answer) per endpoint."""

    name = "http"
    evidence = staticmethod(render_evidence)
    reasons = MappingProxyType(REASONS)
    checks = HTTP_CHECKS
    settings = SETTINGS

    async def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> dict[str, Any]:
        if not asset.url:
            raise CollectFailed(ErrorReason.NOT_SUPPORTED, "the http checks need an endpoint URL")
        parts = urlsplit(asset.url)
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise CollectFailed(ErrorReason.NOT_SUPPORTED, f"unsupported URL scheme {scheme!r}")
        hostname = asset.hostname
        port = asset.port or 443
        address = await ctx.gate.admit(hostname, port, address=asset.address, purpose="HTTPS")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        endpoint = Target(
            address, port, hostname, path, default_port=443 if scheme == "https" else 80
        )
        ca_file = asset.ca_file or ctx.settings.get("ca_file")

        want_redirect = "redirect" in needed(self.checks, requests)
        redirect_port = int(ctx.settings.get("http_redirect_port") or 80)
        probe = (
            asyncio.ensure_future(_probe_redirect(address, hostname, redirect_port, ctx))
            if want_redirect
            else None
        )
        try:
            head, verified, verify_error = await _fetch_endpoint(
                endpoint, scheme == "https", ca_file, ctx
            )
        except BaseException:
            if probe is not None:
                probe.cancel()
            raise
        redirect = await probe if probe is not None else None

        return {
            "url": asset.url,
            "hostname": hostname,
            "address": address,
            "port": port,
            "tls_verified": verified,
            "tls_verify_error": verify_error,
            "status": head.status,
            "http_version": head.version,
            "headers": header_map(head),
            # HSTS only counts over HTTPS (RFC 6797 8.1): over plain HTTP it is ignored.
            "hsts": parse_hsts(
                head.values("strict-transport-security") if scheme == "https" else []
            ),
            "security_headers": security_header_facts(head),
            "cookies": [parse_set_cookie(v, hostname) for v in head.values("set-cookie")],
            "server": product_disclosure(head.first("server")),
            "powered_by": product_disclosure(head.first("x-powered-by")),
            "redirect": redirect,
        }


plugin = HttpPlugin()

__all__ = ["HttpPlugin", "plugin", "tls_context"]
