"""The scan engine: plan per-asset jobs, collect facts concurrently, judge, stream to the store.

The unit of work is a *job*: a JSON-serialisable mapping (asset, the checks
each plugin must serve, settings) in, facts + errors out. :func:`run_job` has no
global state, so the same function runs here and on remote workers
(scanner/fleet/). A :class:`Job` is the frozen, typed form of one job of a
run; :func:`collect` pins, admits and collects one asset, and
:func:`store_outcome` judges and stores what it returned, whichever engine ran it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .evaluate import Finding, evaluate_asset, scope_error_findings
from .gate import Gate
from .inventory import Scope
from .models import Asset, CollectError, CollectFailed, ErrorReason, Severity
from .netutil import classify, describe
from .plugin import CheckRequest, Context, DatasetProvider, Registry
from .policy import RuleSet
from .secrets import scrub
from .store import Store


@dataclass(frozen=True)
class ScanSettings:
    timeout: float = 5.0
    concurrency: int = 32
    per_host: int = 4
    plugin_timeout: float = 600.0
    plugin_settings: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "concurrency": self.concurrency,
            "per_host": self.per_host,
            "plugin_timeout": self.plugin_timeout,
            "plugin_settings": dict(self.plugin_settings),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScanSettings:
        return cls(
            timeout=float(data.get("timeout", 5.0)),
            concurrency=int(data.get("concurrency", 32)),
            per_host=int(data.get("per_host", 4)),
            plugin_timeout=float(data.get("plugin_timeout", 600.0)),
            plugin_settings=dict(data.get("plugin_settings", {})),
        )


class Observer(Protocol):
    def started(self, total: int) -> None: ...

    def asset_started(self, asset: Asset) -> None: ...

    def asset_done(self, asset: Asset, findings: Sequence[Finding]) -> None: ...

    def finished(self) -> None: ...


@dataclass(frozen=True)
class RunSpec:
    """One scan of a stored run: which assets, judged how, and where the results go."""

    store: Store
    run_id: int
    assets: tuple[Asset, ...]
    ruleset: RuleSet
    registry: Registry
    settings: ScanSettings
    scope: Scope
    started: dt.datetime  # the run's start: the evaluator's "now", so a resumed part judges alike
    fail_on: Severity = Severity.LOW
    observer: Observer | None = None
    # Once set (from any thread), assets not yet started stay pending: a stopping agent's run.
    stop: threading.Event | None = None
    # What runs the jobs: None is this process (:func:`scan_assets`); scanner.fleet's
    # coordinator hands them to workers. It writes every outcome with :func:`store_outcome`.
    runner: Callable[[RunSpec], Awaitable[None]] | None = None


class QuietObserver:
    def started(self, total: int) -> None:
        pass

    def asset_started(self, asset: Asset) -> None:
        pass

    def asset_done(self, asset: Asset, findings: Sequence[Finding]) -> None:
        pass

    def finished(self) -> None:
        pass


def make_job(
    asset: Asset,
    ruleset: RuleSet,
    settings: ScanSettings,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """The JSON job for one asset: which checks each plugin must serve, within which scope."""
    return {
        "asset": asset.to_json(),
        "plugins": {
            name: [u.to_json() for u in uses]
            for name, uses in sorted(ruleset.plugins_for(asset).items())
        },
        "timeout": settings.timeout,
        "plugin_timeout": settings.plugin_timeout,
        "settings": dict(settings.plugin_settings),
        **({"scope": scope.to_json()} if scope is not None else {}),
    }


@dataclass(frozen=True)
class Job:
    """One asset's job of one run: everything a worker needs, nothing of the coordinator's machine.

    ``plugins`` maps each plugin to the checks (with their options) it must
    serve; ``settings`` are the run's plugin settings (environment-variable
    names, never secrets); ``scope`` is re-checked by whoever runs the job.
    """

    run_id: int
    asset: Asset
    plugins: Mapping[str, tuple[Mapping[str, Any], ...]]
    timeout: float
    plugin_timeout: float
    per_host: int
    settings: Mapping[str, Any] = field(default_factory=dict)
    scope: Scope | None = None

    @classmethod
    def build(cls, run_id: int, asset: Asset, ruleset: RuleSet, settings: ScanSettings,
              scope: Scope | None = None) -> Job:
        return cls.from_json(make_job(asset, ruleset, settings, scope) | {"run": run_id, "per_host": settings.per_host})

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "asset": self.asset.to_json(),
            "plugins": {name: [dict(u) for u in uses] for name, uses in sorted(self.plugins.items())},
            "timeout": self.timeout,
            "plugin_timeout": self.plugin_timeout,
            "per_host": self.per_host,
            "settings": dict(self.settings),
            **({"scope": self.scope.to_json()} if self.scope is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            run_id=int(data["run"]),
            asset=Asset.from_json(dict(data["asset"])),
            plugins={str(k): tuple(dict(u) for u in v) for k, v in dict(data["plugins"]).items()},
            timeout=float(data["timeout"]),
            plugin_timeout=float(data.get("plugin_timeout", 600.0)),
            per_host=int(data.get("per_host", 4)),
            settings=dict(data.get("settings", {})),
            scope=Scope.from_json(data["scope"]) if "scope" in data else None,
        )


async def run_job(
    job: Mapping[str, Any],
    registry: Registry,
    *,
    per_host: int = 4,
    executor: Any = None,
    host_limits: dict[str, asyncio.Semaphore] | None = None,
    datasets: DatasetProvider | None = None,
) -> dict[str, Any]:
    """Collect every plugin's facts for one asset. JSON in, JSON out, never raises.

    ``datasets`` lends plugins the store's imported data (``ctx.dataset``).

    ``{"facts": {plugin: {...}}, "errors": {plugin: {"reason", "message"}},
    "versions": {plugin: facts schema version}}``
    """
    asset = Asset.from_json(job["asset"])
    timeout = float(job["timeout"])
    settings = job.get("settings", {})
    scope = Scope.from_json(job["scope"]) if "scope" in job else None
    ctx = Context(
        timeout=timeout,
        settings=settings,
        per_host=per_host,
        executor=executor,
        host_limits=host_limits,
        gate=Gate.from_settings(scope, settings, timeout),
        datasets=datasets,
    )
    facts: dict[str, Any] = {}
    errors: dict[str, dict[str, str]] = {}

    async def one(name: str, wanted: list[dict[str, Any]]) -> None:
        plugin = registry.plugins.get(name)
        if plugin is None:
            errors[name] = CollectError(
                ErrorReason.NOT_SUPPORTED, f"plugin '{name}' is not loaded (disabled or failed to load)"
            ).to_json()
            return
        # A check that does not apply to the asset (kind, URL scheme, a local host) is
        # not_applicable whatever is collected: collect nothing for it.
        requests = [CheckRequest(w["check"], w["options"]) for w in wanted
                    if (spec := registry.check(w["check"])) is None or spec.refusal(asset) is None]
        if wanted and not requests:
            return
        try:
            result = await asyncio.wait_for(
                plugin.collect(asset, requests, ctx), float(job.get("plugin_timeout", 600.0))
            )
            facts[name] = dict(result)
        except CollectFailed as exc:
            errors[name] = CollectError(exc.reason, exc.message).to_json()
        except TimeoutError:
            errors[name] = CollectError(
                ErrorReason.TIMEOUT, f"{name} collection did not finish within the plugin time limit"
            ).to_json()
        except (OSError, ConnectionError) as exc:
            errors[name] = CollectError(classify(exc), describe(exc)).to_json()
        except Exception as exc:
            errors[name] = CollectError(
                ErrorReason.BUG, f"{name} plugin crashed: {type(exc).__name__}: {exc}"[:500]
            ).to_json()

    await asyncio.gather(*(one(name, wanted) for name, wanted in job["plugins"].items()))
    versions = {name: registry.declared[name].facts_version for name in facts}
    # Secrets never leave the job: judged, stored and sent to a coordinator already masked.
    return {"facts": scrub(facts), "errors": scrub(errors), "versions": versions}


async def resolve_asset(asset: Asset, gate: Gate) -> tuple[Asset, CollectError | None]:
    """Pin the address packets will go to, through the scope gate, before any packet.

    A name is resolved once here; plugins then connect to that address (with
    the name kept for SNI), so a second lookup cannot lead them elsewhere.
    """
    if asset.is_local:
        return asset, None
    try:
        address = await gate.admit(
            asset.hostname, asset.port, address=asset.address, purpose=f"asset {asset.id}"
        )
    except CollectFailed as exc:
        return asset, CollectError(exc.reason, exc.message)
    return replace(asset, address=address), None


async def collect(
    job: Job,
    registry: Registry,
    *,
    executor: Any = None,
    host_limits: dict[str, Any] | None = None,
    datasets: DatasetProvider | None = None,
    gate: Gate | None = None,
) -> dict[str, Any]:
    """Pin and admit the job's asset through the scope gate, then collect its facts. JSON out.

    ``{"asset": pinned asset, "refused": collect error or None, "facts", "errors", "versions"}``:
    what :func:`store_outcome` judges and stores.
    """
    gate = gate or Gate.from_settings(job.scope, job.settings, job.timeout)
    pinned, refused = await resolve_asset(job.asset, gate)
    if refused is not None:
        return {"asset": pinned.to_json(), "refused": refused.to_json(), "facts": {}, "errors": {}, "versions": None}
    result = await run_job(
        replace(job, asset=pinned).to_json(),
        registry,
        per_host=job.per_host,
        executor=executor,
        host_limits=host_limits,
        datasets=datasets,
    )
    return {"asset": pinned.to_json(), "refused": None, **result}


Judged = tuple[Asset, dict[str, Any], dict[str, CollectError], list[Finding], CollectError | None]


def judge_outcome(spec: RunSpec, outcome: Mapping[str, Any]) -> Judged:
    """Judge one asset's collected facts (from :func:`collect`); checks are lent the store's datasets."""
    pinned = Asset.from_json(dict(outcome["asset"]))
    refused = CollectError.from_json(outcome["refused"]) if outcome.get("refused") else None
    if refused is not None:
        facts: dict[str, Any] = {}
        errors = {"scope" if refused.reason is ErrorReason.SCOPE else "resolve": refused}
        findings = scope_error_findings(pinned, spec.ruleset, refused.reason, refused.message)
    else:
        facts = dict(outcome["facts"])
        errors = {k: CollectError.from_json(v) for k, v in outcome["errors"].items()}
        findings = evaluate_asset(pinned, facts, errors, spec.ruleset, spec.registry.checks, spec.started,
                                  spec.store)
    return pinned, facts, errors, findings, refused


def store_outcome(spec: RunSpec, outcome: Mapping[str, Any], judged: Judged | None = None) -> Asset:
    """Judge one asset's collected facts (unless ``judged`` already) and store them, replacing any earlier write."""
    pinned, facts, errors, findings, refused = judged if judged is not None else judge_outcome(spec, outcome)
    spec.store.save_asset(spec.run_id, pinned, facts, errors, findings, dt.datetime.now(dt.UTC),
                          versions=outcome.get("versions") if refused is None else None)
    if spec.observer is not None:
        spec.observer.asset_done(pinned, findings)
    return pinned


async def scan_assets(spec: RunSpec) -> None:
    """Scan the spec's assets and write each one's facts and findings as soon as it finishes."""
    store, run_id, ruleset, registry, settings, scope = (
        spec.store, spec.run_id, spec.ruleset, spec.registry, spec.settings, spec.scope
    )
    observer = spec.observer or QuietObserver()
    observer.started(len(spec.assets))
    limit = asyncio.Semaphore(max(1, settings.concurrency))
    host_limits: dict[str, asyncio.Semaphore] = {}
    executor = ThreadPoolExecutor(max_workers=max(4, min(64, settings.concurrency)), thread_name_prefix="civiscan")
    gate = Gate.from_settings(scope, settings.plugin_settings, settings.timeout)

    async def one(asset: Asset) -> None:
        async with limit:
            if spec.stop is not None and spec.stop.is_set():
                return
            observer.asset_started(asset)
            job = Job.build(run_id, asset, ruleset, settings, scope)
            outcome = await collect(job, registry, executor=executor, host_limits=host_limits,
                                    datasets=store, gate=gate)
            # Checks may read the store's datasets while judging: off the event loop.
            judged = await asyncio.get_running_loop().run_in_executor(executor, judge_outcome, spec, outcome)
            store_outcome(spec, outcome, judged)

    try:
        await asyncio.gather(*(one(a) for a in spec.assets))
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        observer.finished()
