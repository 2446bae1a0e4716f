"""The plugin API: what a check plugin declares and how civiscan finds it.

A plugin is any object that satisfies :class:`Plugin`. It names a family
(``ports``), declares its checks (``ports.allowed``, ``ports.forbidden``) and
collects the facts those checks judge. Built-in and third-party plugins load
through the same entry-point group, ``civiscan.plugins``. See docs/plugins.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, TypeVar, runtime_checkable

from .gate import Gate
from .models import Asset, AssetKind, Outcome
from .options import OPTION_TYPES, Option

ENTRY_POINT_GROUP = "civiscan.plugins"
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Facts = Mapping[str, Any]
"""One plugin's facts about one asset: a JSON-serialisable mapping."""

Evaluate = Callable[[Facts, Mapping[str, Any]], Outcome]
"""Judge one asset's facts (of the check's own plugin) against the check's options."""

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    """One check: a pure function from (facts, options) to an :class:`Outcome`.

    ``doc`` defaults to the evaluate function's docstring, which states the
    options, defaults, and a PASS and a FAIL example.
    """

    id: str
    title: str
    kinds: frozenset[AssetKind]
    evaluate: Evaluate
    options: Mapping[str, Option] = field(default_factory=dict)
    doc: str = ""

    @property
    def documentation(self) -> str:
        return inspect.cleandoc(self.doc or self.evaluate.__doc__ or "")

    @property
    def plugin_name(self) -> str:
        return self.id.split(".", 1)[0]


@dataclass(frozen=True)
class CheckRequest:
    """A check that a plan wants judged on an asset, with its validated options.

    ``collect`` receives every request for its plugin on that asset, so it can
    gather exactly what they need (e.g. the union of the port sets) once.
    """

    check_id: str
    options: Mapping[str, Any]


class Context:
    """What the engine lends a plugin while it collects for one asset.

    * ``timeout``: seconds allowed for every single network operation;
    * ``settings``: run-wide settings (``port_scanner``, ``ca_file``,
      ``resolve``, ``db_path``, ...), all JSON values;
    * ``host_slot(address)``: hold one of the per-host connection slots;
    * ``run_blocking(fn, *args)``: run a blocking call (paramiko, python-nmap)
      in the engine's bounded thread pool;
    * ``shared(key, factory)``: run ``factory()`` once per asset job and give
      every caller its result, so two plugins that need the same raw data (one
      SSH round trip) share it;
    * ``gate``: the run's :class:`~scanner.gate.Gate`. Every address a plugin
      connects to comes from ``await ctx.gate.admit(host, port, purpose=...)``
      (``admit_sync`` in blocking code); a Context made without one admits
      loopback addresses only.

    The engine makes one Context per asset job; the host limits are shared.
    """

    def __init__(
        self,
        timeout: float,
        settings: Mapping[str, Any] | None = None,
        per_host: int = 4,
        executor: Any = None,
        host_limits: dict[str, asyncio.Semaphore] | None = None,
        gate: Gate | None = None,
    ) -> None:
        self.timeout = timeout
        self.settings: Mapping[str, Any] = dict(settings or {})
        self.gate = gate or Gate.from_settings(None, self.settings, timeout)
        self._per_host = per_host
        self._host_limits: dict[str, asyncio.Semaphore] = (
            host_limits if host_limits is not None else {}
        )
        self._executor = executor
        self._shared: dict[Any, asyncio.Task[Any]] = {}

    async def shared(self, key: Any, factory: Callable[[], Awaitable[T]]) -> T:
        task = self._shared.get(key)
        if task is None:
            task = self._shared[key] = asyncio.ensure_future(factory())
        return await asyncio.shield(task)

    @contextlib.asynccontextmanager
    async def host_slot(self, address: str) -> AsyncIterator[None]:
        sem = self._host_limits.get(address)
        if sem is None:
            sem = self._host_limits[address] = asyncio.Semaphore(self._per_host)
        async with sem:
            yield

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)


@runtime_checkable
class Plugin(Protocol):
    """A family of checks and the collector of their facts."""

    name: str
    checks: Sequence[Check]

    def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> Awaitable[Facts]:
        """Gather this family's facts about ``asset``.

        Raise :class:`scanner.models.CollectFailed` with a reason when the
        target cannot be assessed; any other exception is recorded as a bug.
        Never print: report progress through nothing, the engine does.
        """
        ...


@dataclass
class Registry:
    """All loaded plugins, keyed by name, and their checks keyed by id."""

    plugins: dict[str, Plugin] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # plugin name -> distribution

    def add(self, plugin: Any, source: str = "") -> None:
        """Register ``plugin`` after checking its shape; raises ValueError if wrong."""
        problems = plugin_problems(plugin)
        if problems:
            raise ValueError("; ".join(problems))
        if plugin.name in self.plugins:
            raise ValueError(f"plugin name '{plugin.name}' is already taken")
        for check in plugin.checks:
            if check.id in self.checks:
                raise ValueError(f"check id '{check.id}' is already registered")
        self.plugins[plugin.name] = plugin
        self.sources[plugin.name] = source
        for check in plugin.checks:
            self.checks[check.id] = check

    def check(self, check_id: str) -> Check | None:
        return self.checks.get(check_id)


def plugin_problems(plugin: Any) -> list[str]:
    """Why ``plugin`` is not a valid plugin (empty if it is)."""
    if not isinstance(plugin, Plugin):
        return ["object has no name, checks and collect()"]
    problems: list[str] = []
    if not _NAME.match(str(plugin.name)):
        problems.append(f"plugin name '{plugin.name}' must be lower_snake_case")
    if not inspect.iscoroutinefunction(plugin.collect):
        problems.append(f"plugin {plugin.name}: collect() must be a coroutine function")
    for check in plugin.checks:
        if not isinstance(check, Check):
            problems.append(f"plugin {plugin.name}: {check!r} is not a Check")
            continue
        if not _ID.match(check.id):
            problems.append(f"check id '{check.id}' must look like family.name")
        elif check.plugin_name != plugin.name:
            # The id names where the check lives; a mismatch is a packaging mistake.
            problems.append(f"check id '{check.id}' does not start with '{plugin.name}.'")
        for opt_name, opt in check.options.items():
            if opt.type not in OPTION_TYPES:
                problems.append(f"check {check.id}: option '{opt_name}' has unknown type {opt.type}")
        if not check.kinds:
            problems.append(f"check {check.id}: no target kinds")
    return problems


def load_registry(disabled: Iterable[str] = (), extra: Iterable[Any] = ()) -> Registry:
    """Load every plugin of the ``civiscan.plugins`` entry-point group.

    A plugin that fails to load is a warning naming its distribution and entry
    point, never a crash. ``disabled`` names plugins (or entry-point names) to skip.
    """
    skip = set(disabled)
    registry = Registry()
    eps = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    seen: set[str] = set()
    for ep in eps:
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        if ep.name in skip or ep.name in seen:
            continue
        seen.add(ep.name)
        try:
            obj = ep.load()
            plugin: Any = obj() if inspect.isclass(obj) else obj
            if plugin.name in skip:
                continue
            registry.add(plugin, source=f"{dist}:{ep.name}")
        except Exception as exc:
            message = f"plugin '{ep.name}' from {dist} failed to load: {type(exc).__name__}: {exc}"
            registry.warnings.append(message)
    for plugin in extra:
        registry.add(plugin, source="extra")
    return registry


def checks_by_kind(checks: Iterable[Check], kind: AssetKind) -> list[Check]:
    return [c for c in checks if kind in c.kinds]


__all__ = [
    "ENTRY_POINT_GROUP",
    "Check",
    "CheckRequest",
    "Context",
    "Facts",
    "Plugin",
    "Registry",
    "load_registry",
    "plugin_problems",
]
