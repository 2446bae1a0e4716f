"""``civiscan tls HOST[:PORT]...``: TLS facts at a terminal, through the same job path as a scan.

Registered in the ``civiscan.commands`` entry-point group.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from scanner.cli import ca_file_option, ca_only_option, plugin_registry, trust_settings
from scanner.engine import resolve_asset, run_job
from scanner.errors import ConfigError, ExitCode, Position
from scanner.gate import Gate
from scanner.inventory import adhoc_assets, scope_for_targets
from scanner.models import Asset, CollectError
from scanner.output import inert_lines
from scanner.plugin import Registry
from scanner.timeutil import readable_time


def endpoint_url(target: str) -> str:
    """``host``, ``host:port``, ``[v6]:port`` or a URL -> an https:// URL."""
    if "://" in target:
        return target
    if target.startswith("[") or target.count(":") <= 1:
        return f"https://{target}/"
    return f"https://[{target}]/"  # a bare IPv6 literal


def collect_tls(
    targets: Sequence[str], registry: Registry, timeout: float, settings: Mapping[str, Any]
) -> list[tuple[Asset, dict[str, Any] | None, CollectError | None]]:
    """Enumerate every target fully (all tls checks requested); errors are results."""
    plugin = registry.plugins.get("tls")
    if plugin is None:
        raise ConfigError.at(Position("<command line>"), "the tls plugin is not loaded")
    assets = adhoc_assets([endpoint_url(t) for t in targets], settings.get("resolve") or {})
    scope = scope_for_targets(assets)
    gate = Gate.from_settings(scope, settings, timeout)
    wanted = [{"check": c.id, "options": {}} for c in plugin.checks]

    async def one(asset: Asset) -> tuple[Asset, dict[str, Any] | None, CollectError | None]:
        pinned, refused = await resolve_asset(asset, gate)
        if refused is not None:
            return asset, None, refused
        job = {"asset": pinned.to_json(), "plugins": {"tls": wanted}, "timeout": timeout,
               "settings": dict(settings), "scope": scope.to_json()}
        result = await run_job(job, registry)
        error = result["errors"].get("tls")
        return pinned, result["facts"].get("tls"), CollectError.from_json(error) if error else None

    async def main() -> list[tuple[Asset, dict[str, Any] | None, CollectError | None]]:
        return list(await asyncio.gather(*(one(a) for a in assets)))

    return asyncio.run(main())


def _names(suites: Iterable[Mapping[str, Any]] | None) -> list[str]:
    return [str(s.get("iana") or s.get("name") or s.get("code")) for s in suites or ()]


def _certificate_lines(cert: Mapping[str, Any]) -> list[str]:
    """The leaf as the certificate checks find it (by links and host name, not served position)."""
    from .certchecks import chain_view, rule_chain_order

    served = cert.get("certificates") or []
    if not served:
        return []
    view = chain_view(cert)
    if view is None:
        return [f"  certificate: none of the {len(served)} served could be read as the host's"]
    leaf = view.leaf
    key = leaf.get("key") or {}
    verified = (cert.get("verification") or {}).get("verified")
    lines = [
        f"  certificate: {leaf.get('subject')}",
        f"    issuer: {leaf.get('issuer')}",
        f"    valid until: {readable_time(leaf.get('not_after'))} ({leaf.get('days_left')} days left)",
        "    key: " + " ".join(str(v) for v in key.values() if v is not None),
        f"    signature: {leaf.get('signature_algorithm')}   sha256: {leaf.get('sha256')}",
        f"    chain served: {len(served)} certificate(s), verified: {verified}",
    ]
    lines.extend(f"    {p['message']}" for p in rule_chain_order(view, {"chain_order": True}))
    return lines


def describe(asset: Asset, facts: Mapping[str, Any] | None, error: CollectError | None) -> str:
    """A readable block of facts for one endpoint."""
    head = f"{asset.url} ({asset.connect_address})"
    if error is not None:
        return inert_lines([head, f"  error ({error.reason.value}): {error.message}"])
    assert facts is not None
    lines = [head, f"  connections used: {facts.get('connections')}"]
    if facts.get("starttls"):
        lines.append(f"  upgraded in-band: {facts['starttls']} (STARTTLS)")
    protocols = facts.get("protocols") or {}
    accepted = [p for p, ok in protocols.items() if ok]
    unknown = [p for p, ok in protocols.items() if ok is None]
    lines.append("  protocols accepted: " + (", ".join(accepted) or "none"))
    if unknown:
        lines.append("  protocols not determined: " + ", ".join(unknown))
    for proto, suites in (facts.get("ciphers") or {}).items():
        if suites:
            order = (facts.get("server_order") or {}).get(proto)
            how = {True: "server order", False: "client order", None: "order unknown"}[order]
            lines.append(f"  {proto} suites ({how}):")
            lines.extend(f"    {name}" for name in _names(suites))
    if facts.get("groups"):
        lines.append("  TLS 1.3 groups: " + ", ".join(facts["groups"]))
    if facts.get("ecdhe_curves"):
        lines.append("  ECDHE curves: " + ", ".join(facts["ecdhe_curves"]))
    if facts.get("dh_bits"):
        lines.append(f"  DHE parameters: {facts['dh_bits']} bits")
    lines.append(f"  OCSP stapling: {facts.get('ocsp_stapling')}")
    reneg, early = facts.get("client_renegotiation"), facts.get("early_data")
    if isinstance(reneg, dict):
        lines.append(f"  client-initiated renegotiation: {reneg.get('accepted')} ({reneg.get('answer')})")
    if isinstance(early, dict):
        lines.append(f"  TLS 1.3 early data: {early.get('offered')} ({early.get('seen')})")
    cert = facts.get("certificate") or {}
    lines.extend(_certificate_lines(cert))
    for key in ("verification", "trust_verification"):
        if (cert.get(key) or {}).get("error"):
            lines.append(f"    verifier ({key}): {cert[key]['error']}")
    return inert_lines(lines)


@click.command("tls")
@click.argument("targets", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON (the tls plugin's schema, civiscan docs tls).")
@click.option("--timeout", type=click.FloatRange(0.05, 600), default=5.0, show_default=True, help="Seconds allowed for every network operation.")
@ca_file_option
@ca_only_option
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:PORT:ADDR", help="Connect to ADDR for HOST:PORT, keeping HOST for SNI (like curl; repeatable).")
def tls_command(targets: tuple[str, ...], as_json: bool, timeout: float, ca_file: str | None, ca_only: bool,
                resolve: tuple[str, ...]) -> None:
    """Enumerate TLS facts of HOST[:PORT] endpoints (or smtp://, imap://... URLs): protocols, suites, groups, certificate.

    Exits 0 when every endpoint was enumerated, 3 when some could not be.
    """
    from scanner.scan import parse_resolve

    settings: dict[str, Any] = trust_settings(ca_file, ca_only)
    if resolve:
        settings["resolve"] = parse_resolve(resolve)
    results = collect_tls(targets, plugin_registry(), timeout, settings)
    if as_json:
        click.echo(json.dumps(
            [{"target": a.url, "address": a.connect_address, "facts": f, "error": e.to_json() if e else None}
             for a, f, e in results], indent=2, sort_keys=True))
    else:
        click.echo("\n\n".join(describe(a, f, e) for a, f, e in results))
    raise SystemExit(int(ExitCode.INCOMPLETE if any(e for _, _, e in results) else ExitCode.COMPLIANT))
