"""The library behind ``civiscan scan``: prepare a run, execute it, resume it, finish it.

The CLI parses flags and calls these; tests and other programs can too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .engine import Observer, RunSpec, ScanSettings, scan_assets
from .errors import ConfigError, ExitCode, Position
from .evaluate import evaluate_asset, exit_code
from .inventory import (
    Inventory,
    Scope,
    adhoc_assets,
    host_problem,
    ip_problem,
    load_inventory,
    parse_scope_args,
    scope_for_targets,
)
from .lease import HEARTBEAT_SECONDS
from .models import Asset, Severity
from .plugin import FactsVersionError, Registry, Snapshot
from .policy import RuleSet, load_policies
from .store import AssetState, RunStatus, Store
from .yamlpos import PATH_CHARS, quote

# The settings a resumed run may change (they bound time and load, not what is judged).
RESUME_OVERRIDES = ("timeout", "concurrency", "per_host")
# Where a run's jobs run: this process, or Celery workers (scanner/fleet/, docs/scale-out.md).
ENGINES = ("local", "celery")


@dataclass(frozen=True)
class Plan:
    assets: tuple[Asset, ...]
    ruleset: RuleSet
    scope: Scope
    departments: tuple[Mapping[str, str], ...] = ()
    inventory_digest: str | None = None


@dataclass(frozen=True)
class ScanRequest:
    policies: Sequence[str]
    inventory: str | None = None
    targets: Sequence[str] = ()
    scope: Sequence[str] = ()
    resolve: Mapping[str, str] = field(default_factory=dict)
    departments: Sequence[str] = ()


def parse_resolve(values: Sequence[str]) -> dict[str, str]:
    """``--resolve HOST:PORT:ADDR`` (like curl): ADDR is an IP literal, IPv6 in brackets.

    ADDR is never looked up: a name there would reintroduce the DNS answer the
    option exists to pin. PORT is 1-65535.
    """
    out: dict[str, str] = {}
    for value in values:
        where = Position("<command line>")
        shown = quote(value, PATH_CHARS)
        host, _, rest = value.partition(":")
        port, _, addr = rest.partition(":")
        if not host or not addr:
            raise ConfigError.at(where, f"--resolve {shown} must be HOST:PORT:ADDRESS")
        if not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
            raise ConfigError.at(where, f"--resolve {shown}: port must be a number from 1 to 65535")
        if problem := host_problem(host):
            raise ConfigError.at(where, f"--resolve {shown}: host {problem}")
        bare = addr[1:-1] if addr.startswith("[") and addr.endswith("]") else addr
        if problem := ip_problem(bare):
            raise ConfigError.at(where, f"--resolve {shown}: ADDRESS {problem}; it is never looked up")
        out[f"{host.lower()}:{int(port)}"] = bare
    return out


def prepare(request: ScanRequest, registry: Registry) -> Plan:
    """Load and validate everything a scan needs. Raises ConfigError (exit 2)."""
    if not request.policies:
        raise ConfigError.at(Position("<command line>"), "no policy given (-p FILE or a shipped name, e.g. -p baseline)")
    if not request.inventory and not request.targets:
        raise ConfigError.at(Position("<command line>"), "nothing to scan: give targets or -i INVENTORY")
    ruleset = load_policies(request.policies, registry)
    inventory: Inventory | None = load_inventory(request.inventory) if request.inventory else None
    assets: list[Asset] = list(inventory.assets) if inventory else []
    if request.departments:
        unknown = set(request.departments) - {a.department for a in assets}
        if unknown:
            raise ConfigError.at(Position(request.inventory or "<command line>"), f"no assets in department(s): {', '.join(sorted(unknown))}")
        assets = [a for a in assets if a.department in request.departments]
    adhoc = adhoc_assets(request.targets, request.resolve)
    if inventory is not None:
        scope = inventory.scope
    elif request.scope:
        scope = Scope()
    else:
        scope = scope_for_targets(adhoc)
    if request.scope:
        extra = parse_scope_args(request.scope)
        scope = Scope(scope.networks + extra.networks, scope.domains + extra.domains)
    refused = [f"{a.id}: {why}" for a in adhoc if (why := scope.refusal(a))]
    if refused:
        raise ConfigError.at(Position("<command line>"), "targets outside the allowed scope are refused: " + "; ".join(refused))
    # --resolve also pins inventory endpoints that have no explicit address.
    pinned = []
    for a in assets:
        if a.url and not a.address and request.resolve:
            addr = request.resolve.get(f"{a.hostname.lower()}:{a.port}")
            if addr:
                from dataclasses import replace

                a = replace(a, address=addr)
                why = scope.refusal(a)
                if why:
                    raise ConfigError.at(Position("<command line>"), f"--resolve for {a.id} is refused: {why}")
        pinned.append(a)
    ids = {a.id for a in pinned}
    pinned.extend(a for a in adhoc if a.id not in ids)
    depts: tuple[Mapping[str, str], ...] = ()
    if inventory is not None:
        depts = tuple({"name": d.name, "title": d.title} for d in inventory.departments)
    return Plan(tuple(pinned), ruleset, scope, depts, inventory.digest if inventory else None)


def _run_loop(coro: Any) -> bool:
    """Run ``coro``; return False if interrupted (Ctrl-C or SIGTERM), after cancelling cleanly."""
    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        try:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        except (NotImplementedError, RuntimeError):
            pass
        await coro

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, asyncio.CancelledError):
        return False
    return True


async def _held(spec: RunSpec) -> None:
    """Scan while renewing this process's lease on the run (scanner/lease.py)."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            spec.store.heartbeat(spec.run_id)

    renewing = asyncio.create_task(renew())
    try:
        await (spec.runner or scan_assets)(spec)
    finally:
        renewing.cancel()


def execute(spec: RunSpec) -> ExitCode:
    """Scan the spec's (pending) assets and close the run. Finished assets are kept."""
    completed = _run_loop(_held(spec))
    return finish(spec.store, spec.run_id, spec.fail_on, interrupted=not completed)


def finish(store: Store, run_id: int, fail_on: Severity, *, interrupted: bool = False) -> ExitCode:
    pending = store.assets(run_id, state=AssetState.PENDING)
    code = exit_code(store.findings(run_id), fail_on, interrupted=interrupted or bool(pending))
    status = RunStatus.INTERRUPTED if (interrupted or pending) else RunStatus.COMPLETE
    store.finish_run(run_id, status, int(code), dt.datetime.now(dt.UTC))
    return code


def start(
    store: Store,
    plan: Plan,
    registry: Registry,
    settings: ScanSettings,
    *,
    fail_on: Severity = Severity.LOW,
    observer: Observer | None = None,
    now: dt.datetime | None = None,
    engine: str = "local",
) -> RunSpec:
    """Store a new run of ``plan``, held by this process, and return what :func:`execute` needs.

    ``engine`` (one of :data:`ENGINES`) is stored with the run, so a resumed
    run is scanned by the same engine; :func:`with_engine` attaches its runner.
    """
    started = now or dt.datetime.now(dt.UTC)
    stored_settings = settings.to_json() | {"scope": plan.scope.to_json()}
    if engine != "local":
        stored_settings["engine"] = engine
    run_id = store.create_run(plan.ruleset, plan.assets, stored_settings, started, plan.inventory_digest, plan.departments)
    return RunSpec(store, run_id, plan.assets, plan.ruleset, registry, settings, plan.scope, started, fail_on, observer)


def resume(
    store: Store,
    run_id: int,
    registry: Registry,
    *,
    overrides: Mapping[str, Any] | None = None,
    fail_on: Severity = Severity.LOW,
    observer: Observer | None = None,
) -> RunSpec:
    """Hold an unfinished run again and return its pending part.

    ``overrides`` (keys of :data:`RESUME_OVERRIDES`) replace the stored settings
    for the resumed part and are stored as the run's settings from then on.
    Raises ConfigError for a complete run and store.RunHeld while a live
    process still scans it.
    """
    record = store.run(run_id)
    if record.status is RunStatus.COMPLETE:
        raise ConfigError.at(Position(f"run {run_id}"), "run is already complete; nothing to resume")
    store.claim(run_id)
    settings = replace(ScanSettings.from_json(record.settings), **dict(overrides or {}))
    if overrides:
        store.update_settings(run_id, {**record.settings, **settings.to_json()})
    scope = Scope.from_json(record.settings.get("scope", {}))
    pending = tuple(store.assets(run_id, state=AssetState.PENDING))
    return RunSpec(store, run_id, pending, record.ruleset, registry, settings, scope, record.started, fail_on, observer)


def run_engine(store: Store, run_id: int) -> str:
    """The engine a stored run was started with."""
    return str(store.run(run_id).settings.get("engine", "local"))


def engine_runner(engine: str, broker: str | None = None) -> Any:
    """``RunSpec.runner`` of ``engine``: None for this process, else Celery workers reached through ``broker``.

    Raises ConfigError (exit 2) for an unknown engine, or a broker that is
    missing or badly given. Celery is imported only when the run starts.
    """
    if engine == "local":
        return None
    if engine != "celery":
        raise ConfigError.at(Position("<command line>"), f"unknown engine '{engine}' (one of: {', '.join(ENGINES)})")
    from .fleet.broker import BrokerConfig
    from .fleet.coordinator import FleetRunner

    runner = FleetRunner(BrokerConfig.load(broker))
    runner.check()
    return runner


def fleet_status(store: Store, runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Lines on the unfinished runs of the celery engine (queued, running, done); none for local runs."""
    if not any(run_engine(store, int(r["id"])) == "celery" for r in runs if r["status"] != RunStatus.COMPLETE.value):
        return []
    from .fleet.status import fleet_lines

    return fleet_lines(store, runs)


def reevaluate(store: Store, source_run: int, ruleset: RuleSet, registry: Registry, fail_on: Severity) -> tuple[int, ExitCode]:
    """Judge the stored facts of ``source_run`` under another policy, as a new run.

    Raises :class:`FactsVersionError` (before any new run exists) when the
    loaded plugins cannot read the stored facts' schema versions. Facts are
    read one asset at a time, so memory stays that of one asset's facts (and
    what the checks keep, such as a feed index), whatever the run's size.
    """
    versions = store.facts_versions(source_run)
    # Facts that need an upgrade are upgraded once first, so a failure leaves no new run behind.
    for asset_id in sorted({a for (a, plugin), version in versions.items()
                            if registry.declared.get(plugin) and version != registry.declared[plugin].facts_version}):
        _readable(store, source_run, asset_id, versions, registry)
    now = dt.datetime.now(dt.UTC)
    new = store.clone_run(source_run, ruleset, now)
    findings = []
    # One snapshot of the store's datasets for the whole evaluation: every asset
    # is judged against the same feeds, as they are now.
    with Snapshot(store) as datasets:
        for asset in store.assets(new):
            a_facts, a_errors = _readable(store, source_run, asset.id, versions, registry)
            findings.extend(evaluate_asset(asset, a_facts, a_errors, ruleset, registry.checks, now, datasets))
    store.replace_findings(new, findings)
    return new, finish(store, new, fail_on)


def _readable(
    store: Store, run_id: int, asset_id: str, versions: Mapping[tuple[str, str], int], registry: Registry
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One asset's stored facts and errors, in the shape the loaded plugins read."""
    a_facts, a_errors = store.facts(run_id, asset_id).get(asset_id, ({}, {}))
    for plugin in list(a_facts):
        version = versions.get((asset_id, plugin))
        if version is None:
            continue
        try:
            a_facts[plugin] = dict(registry.readable_facts(plugin, version, a_facts[plugin]))
        except FactsVersionError as exc:
            raise FactsVersionError(f"run {run_id}, asset {asset_id}: {exc}") from None
    return a_facts, a_errors
