"""The ``tls`` plugin: what a TLS endpoint (HTTPS, or STARTTLS) accepts and which certificate it serves.

This module holds the plugin object: collection and its declarations. Facts
(documented field by field in docs/tls.md and docs/tls-certificates.md) come
from :mod:`.probe`, a raw-socket enumerator, plus :func:`.certs.describe_chain`
for the served chain. The checks that judge them live in three check modules of
the same shape: :mod:`.checks` (protocols, suites, key exchange, order) and
:mod:`.certchecks` (certificate, OCSP stapling), plus :mod:`.vulnchecks`
(renegotiation, compression, downgrade, known attacks); each declares in ``NEEDS``
what its checks need probed, so collection never names a check.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from scanner.gate import Gate
from scanner.models import Asset, AssetKind, CollectFailed, ErrorReason
from scanner.netutil import is_ip
from scanner.plugin import Check, CheckRequest, Context

from . import certchecks, checks, dhparams, handshake, probe, starttls, vulnchecks
from . import records as R
from . import renegotiation as RN
from . import suites as S
from .evidence import render as render_evidence
from .migration import migrate_facts

FACTS_VERSION = 2
"""Version of the facts schema: 2 since collection stopped recording verdicts."""

_NEEDS: Mapping[str, probe.Plan] = {**checks.NEEDS, **certchecks.NEEDS, **vulnchecks.NEEDS}


def _plan(requests: Sequence[CheckRequest]) -> probe.Plan:
    """The union of what the requested checks need; everything when none is named."""
    if not requests:
        return probe.Plan()
    plan = probe.Plan.nothing()
    for request in requests:
        plan = plan | _NEEDS.get(request.check_id, probe.Plan.nothing())
    return plan


async def resolve_endpoint(asset: Asset, gate: Gate) -> probe.Endpoint:
    """Where to connect for ``asset`` (the address ``gate`` admits) and which SNI name to send."""
    host = asset.hostname
    port = asset.port or 443
    scheme = asset.scheme or "https"
    if scheme != "https" and scheme not in starttls.UPGRADES:
        raise CollectFailed(ErrorReason.NOT_SUPPORTED, f"the tls plugin cannot scan {scheme}:// URLs")
    address = await gate.admit(host, port, address=asset.address, purpose="TLS")
    return probe.Endpoint(address=address, port=port, sni=None if is_ip(host) else host,
                          starttls=None if scheme == "https" else scheme)


def scan_facts(result: probe.ScanResult) -> dict[str, Any]:
    """The JSON facts of one scan (without the certificate analysis)."""
    protocols: dict[str, bool | None] = {}
    ciphers: dict[str, list[dict[str, Any]] | None] = {}
    complete: dict[str, bool] = {}
    server_order: dict[str, bool | None] = {}
    order: dict[str, list[str]] = {}
    for proto, scan in result.versions.items():
        protocols[proto.value] = scan.accepted
        if not scan.accepted:
            continue
        if proto is S.Protocol.SSLv2:
            ciphers[proto.value] = [S.ssl2_fact(c) for c in scan.picks]
        else:
            ciphers[proto.value] = [S.suite_for(c).fact() for c in scan.picks]
        complete[proto.value] = scan.complete
        if proto is not S.Protocol.SSLv2:
            server_order[proto.value] = scan.server_order
        if scan.order:
            order[proto.value] = [S.suite_for(c).iana for c in scan.order]
    return {
        "address": result.endpoint.address,
        "port": result.endpoint.port,
        "sni": result.endpoint.sni,
        "starttls": result.endpoint.starttls,
        "connections": result.connections,
        "protocols": protocols,
        "ciphers": ciphers,
        "ciphers_complete": complete,
        "server_order": server_order,
        "order": order,
        "groups": None if result.groups is None else [S.group_name(g) for g in result.groups],
        "ecdhe_curves": (None if result.ecdhe_curves is None
                         else [S.group_name(g) for g in result.ecdhe_curves]),
        "dh_bits": result.dh_bits,
        "ocsp_stapling": result.ocsp_stapling,
        "secure_renegotiation": {p.value: v for p, v in result.secure_renegotiation.items()},
        "compression": (None if result.compression is None
                        else [R.COMPRESSION_NAMES.get(c, f"method_{c}") for c in result.compression]),
        "heartbeat": result.heartbeat,
        "fallback_scsv": result.fallback_scsv,
        "heartbleed": result.heartbleed,
        "ccs_injection": result.ccs_injection,
        "robot": result.robot,
        "robot_answers": result.robot_answers,
        "session_resumption": (None if result.session_ids is None else
                               {"session_ids": result.session_ids,
                                "tickets": result.session_tickets}),
        "sct_tls_extension": result.sct_count,
        "signature_algorithms": {p.value: [S.signature_scheme_name(c) for c in codes]
                                 for p, codes in result.signature_schemes.items()},
        "weak_signature_algorithms": (
            None if result.weak_signature is None
            else [S.signature_scheme_name(c) for c in result.weak_signature]),
        "chain_protocol": result.chain_protocol.value if result.chain_protocol else None,
        "certificate": None,
        "revocation": None,
        "client_renegotiation": None,
        "early_data": None,
        "errors": result.errors,
        "anomalies": result.anomalies,
    }


class TLSPlugin:
    """Raw-socket TLS enumeration of HTTPS endpoints."""

    name = "tls"
    evidence = staticmethod(render_evidence)
    facts_version = FACTS_VERSION
    migrate_facts = staticmethod(migrate_facts)
    reasons = MappingProxyType(starttls.REASONS)
    checks: tuple[Check, ...] = checks.CHECKS + certchecks.CHECKS + vulnchecks.CHECKS

    async def collect(self, asset: Asset, requests: Sequence[CheckRequest],
                      ctx: Context) -> dict[str, Any]:
        if asset.kind is not AssetKind.ENDPOINT:
            raise CollectFailed(ErrorReason.NOT_SUPPORTED, "the tls plugin scans endpoints only")
        endpoint = await resolve_endpoint(asset, ctx.gate)
        # The chain's first reading imports cryptography and parses the trust store: started
        # now in a thread, it overlaps the enumeration's network waits.
        warm = asyncio.ensure_future(ctx.run_blocking(_load_trust, _trust(asset, ctx)))
        warm.add_done_callback(lambda task: task.cancelled() or task.exception())  # no "never retrieved"
        result = await probe.scan(
            endpoint, ctx.timeout, lambda: ctx.host_slot(endpoint.address), _plan(requests))
        facts = scan_facts(result)
        # The DH and chain analyses (threads) run while the handshake probes wait on the network.
        dh_groups = ctx.run_blocking(functools.partial(dhparams.describe_all, result.dh_params))
        certificate = ctx.run_blocking(functools.partial(
            _chain_facts, list(result.chain), asset.hostname, trust=_trust(asset, ctx),
            now=dt.datetime.now(dt.UTC),
            ocsp_response=result.ocsp_response, ocsp_stapled=result.ocsp_stapling))
        _, facts["dh_groups"], chain_facts, _ = await asyncio.gather(
            _handshake_probes(endpoint, ctx, _probes(requests), facts), dh_groups, certificate, warm)
        if result.chain:
            facts["certificate"] = chain_facts
        online = _online_options(requests)
        if online is not None and facts["certificate"] and facts["certificate"]["leaf"] is not None:
            facts["revocation"] = await _revocation(
                asset, ctx, result.chain, facts["certificate"]["leaf"], online)
        return facts


def _chain_facts(chain: list[bytes], hostname: str, *, trust: tuple[str | None, bool],
                 **kwargs: Any) -> dict[str, Any] | None:
    """:func:`.certs.describe_chain` of a served chain, verified against ``trust`` (see
    :func:`_trust`); None when none was served."""
    if not chain:
        return None
    from .certs import SYSTEM_TRUST_STORE, describe_chain  # cryptography: imported when a chain is read

    ca_file, ca_only = trust
    return describe_chain(chain, hostname, ca_file=ca_file,
                          system_store=None if ca_only else SYSTEM_TRUST_STORE, **kwargs)


def _load_trust(trust: tuple[str | None, bool]) -> None:
    """Read the trust store :func:`_chain_facts` will verify with (cached by :mod:`.certs`);
    an unreadable one is reported there."""
    from .certs import SYSTEM_TRUST_STORE, load_trust_store

    ca_file, ca_only = trust
    try:
        load_trust_store(ca_file, None if ca_only else SYSTEM_TRUST_STORE)
    except OSError:
        pass


def _probes(requests: Sequence[CheckRequest]) -> frozenset[str]:
    """The completed-handshake probes the requested checks read; all when none is named."""
    if not requests:
        return frozenset().union(*vulnchecks.PROBES.values())
    return frozenset().union(*(vulnchecks.PROBES.get(r.check_id, frozenset()) for r in requests))


async def _handshake_probes(endpoint: probe.Endpoint, ctx: Context, wanted: frozenset[str],
                            facts: dict[str, Any]) -> None:
    """Client renegotiation and early data: one connection each, for the versions accepted."""
    runs: dict[str, Callable[..., Awaitable[handshake.Answer]]] = {}
    if "client_renegotiation" in wanted:
        version, why = RN.choose_version(facts)
        if version is not None:
            runs["client_renegotiation"] = functools.partial(
                RN.client_renegotiation, version=version)
        elif why is not None:
            facts["errors"]["client_renegotiation"] = why
    if "early_data" in wanted and facts["protocols"].get("TLSv1.3"):
        runs["early_data"] = handshake.early_data

    async def one(run: Callable[..., Awaitable[handshake.Answer]]) -> handshake.Answer:
        async with ctx.host_slot(endpoint.address):
            try:
                return await run(lambda: probe.connect(endpoint, ctx.timeout), endpoint.sni,
                                 ctx.timeout)
            except (TimeoutError, OSError, CollectFailed) as exc:
                return handshake.Answer(None, getattr(exc, "message", None) or repr(exc))

    answers = dict(zip(runs, await asyncio.gather(*(one(r) for r in runs.values())), strict=True))
    facts["connections"] += len(answers)
    reneg = answers.get("client_renegotiation")
    if isinstance(reneg, RN.Answer) and reneg.value is not None:
        facts["client_renegotiation"] = reneg.fact()
    elif reneg is not None:
        facts["errors"]["client_renegotiation"] = reneg.why
    early = answers.get("early_data")
    if early is not None and early.value is not None:
        facts["early_data"] = {"offered": early.value, "max_early_data_size": early.detail,
                               "seen": early.why}
    elif early is not None:
        facts["errors"]["early_data"] = early.why


def _online_options(requests: Sequence[CheckRequest]) -> dict[str, Any] | None:
    """What the ``online: true`` requests of ``tls.revocation`` ask, merged; None: stay offline."""
    wanted = [r.options for r in requests if r.check_id == certchecks.REVOCATION.id
              and r.options.get("online")]
    if not wanted:
        return None
    return {key: any(o.get(key, True) for o in wanted) for key in ("ocsp", "crl", "aia")} | {
        "max_crl_bytes": max(int(o.get("max_crl_bytes") or 0) for o in wanted)}


def _trust(asset: Asset, ctx: Context) -> tuple[str | None, bool]:
    """``(ca_file, ca_only)`` to verify with: the asset's CA file, else the run's (as the http
    and web plugins pick), added to the system store, or alone with ``settings["ca_only"]``
    (``--ca-only``)."""
    return asset.ca_file or ctx.settings.get("ca_file"), bool(ctx.settings.get("ca_only"))


async def _revocation(asset: Asset, ctx: Context, chain: Sequence[bytes], leaf_index: int,
                      options: Mapping[str, Any]) -> dict[str, Any]:
    """Ask the leaf's OCSP responder / CRL (and AIA for its issuer); every URL through the gate."""
    from cryptography import x509

    from scanner.plugins.web.client import Budget, Fetcher, user_agent

    from . import revocation
    from .certs import SYSTEM_TRUST_STORE, load_trust_store

    ca_file, ca_only = _trust(asset, ctx)
    system_store = None if ca_only else SYSTEM_TRUST_STORE
    served = [c for c in (_certificate(der) for der in chain) if c is not None]
    leaf = x509.load_der_x509_certificate(chain[leaf_index])
    try:
        trust = await ctx.run_blocking(load_trust_store, ca_file, system_store)
        known = [*served, *trust.intermediates, *trust.anchors]
    except OSError:
        known = served
    fetcher = Fetcher(ctx, Budget(6), max(options["max_crl_bytes"], revocation.MAX_OCSP_BYTES),
                      ca_file, user_agent(None), asset.hostname, asset.address, ca_only=ca_only)

    async def fetch(url: str, purpose: str, max_bytes: int) -> bytes:
        response = await fetcher.get(url, purpose=purpose, max_body=max_bytes)
        if response.head.status != 200:
            raise CollectFailed(ErrorReason.PROTOCOL, f"HTTP status {response.head.status}")
        if response.truncated:
            raise CollectFailed(ErrorReason.PROTOCOL, f"the answer is larger than {max_bytes} bytes")
        return response.body

    return await revocation.collect(
        leaf, known, fetch, dt.datetime.now(dt.UTC), use_ocsp=options["ocsp"],
        use_crl=options["crl"], aia=options["aia"], max_crl_bytes=options["max_crl_bytes"])


def _certificate(der: bytes) -> Any:
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


plugin = TLSPlugin()

__all__ = ["FACTS_VERSION", "TLSPlugin", "plugin", "resolve_endpoint", "scan_facts"]
