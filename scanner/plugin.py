"""The plugin API: what a check plugin declares and how civiscan finds it.

A plugin is any object that satisfies :class:`Plugin`. It names a family,
declares its checks (``family.name`` ids) and collects the facts those checks
judge. Next to its checks it declares everything else the rest of civiscan
needs from it (:class:`Declarations`): run settings and their ``civiscan scan``
flags, option types, error reasons, evidence keys to redact and the version of
its facts schema. Built-in and third-party plugins load through the same
entry-point group, ``civiscan.plugins``; extra commands through
``civiscan.commands``. See docs/plugins.md.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from .models import Asset, AssetKind, ErrorReason, Outcome
from .options import CORE_TYPES, Option, OptionType

if TYPE_CHECKING:
    import asyncio

    from .gate import Gate

# asyncio and the gate (and through it the inventory and YAML loaders) are imported by the
# Context that uses them, so the command line lists commands and plugins without them.

ENTRY_POINT_GROUP = "civiscan.plugins"
COMMANDS_GROUP = "civiscan.commands"
_FLAG = re.compile(r"^--[a-z][a-z0-9-]*$")
_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

Facts = Mapping[str, Any]
"""One plugin's facts about one asset: a JSON-serialisable mapping."""

Evaluate = Callable[..., Outcome]
"""Judge one asset's facts (of the check's own plugin) against the check's options:
``evaluate(facts, options)``; a check that declares :attr:`Check.datasets` is
called ``evaluate(facts, options, datasets)`` with a :data:`Lent` mapping."""

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
    needs: frozenset[str] = frozenset()
    """Named parts of its plugin's facts this check reads, beyond what every
    check of the family reads; the collector gathers a part only when some
    requested check needs it (:func:`needed`)."""
    schemes: frozenset[str] = frozenset()
    """Endpoint URL schemes the check judges (``https``, ``smtp`` ...); empty: every
    scheme. On an endpoint of another scheme the check is ``not_applicable``, so a
    policy's web rules say nothing about a mail server's ``smtp://`` endpoint."""
    network: bool = False
    """The check judges what the network sees of a host (which services answer). Such a check is
    ``not_applicable`` to ``host: local``: this machine seen from itself shows
    loopback-only listeners too, which says nothing of what others can reach."""
    datasets: tuple[str, ...] = ()
    """Datasets (e.g. ``advisories``) the check judges the facts against. The
    evaluator lends them as a third argument, ``{name: Dataset | None}``, at
    every evaluation (the scan's own, ``civiscan evaluate``, the agent's), so
    the verdict follows the data as it is when judged, not when collected."""

    def refusal(self, asset: Asset) -> str | None:
        """Why the check does not apply to ``asset`` (its kind or URL scheme), or None."""
        if asset.kind not in self.kinds:
            return f"{self.id} does not apply to a {asset.kind.value}."
        if self.schemes and asset.scheme is not None and asset.scheme not in self.schemes:
            return f"{self.id} does not apply to a {asset.scheme}:// endpoint."
        if self.network and asset.is_local:
            return (f"{self.id} judges what the network sees; host: local is this machine seen "
                    "from itself (list the machine by its address to scan it from here).")
        return None

    @property
    def documentation(self) -> str:
        return inspect.cleandoc(self.doc or self.evaluate.__doc__ or "")

    @property
    def plugin_name(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def source(self) -> str:
        """The file defining the check, relative to its installed package root."""
        module = sys.modules.get(self.evaluate.__module__)
        path = getattr(module, "__file__", None) or ""
        tail = "/__init__.py" if Path(path).name == "__init__.py" else ".py"
        return self.evaluate.__module__.replace(".", "/") + tail


@dataclass(frozen=True)
class CheckRequest:
    """A check as a rule uses it, with its validated options (defaults filled in).

    The plan sends every request for a plugin on an asset to its ``collect``,
    so it can gather exactly what they need (e.g. the union of the port sets) once.
    """

    check_id: str
    options: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check_id, "options": dict(self.options)}


def needed(checks: Iterable[Check], requests: Sequence[CheckRequest]) -> frozenset[str]:
    """The fact parts (:attr:`Check.needs`) the requested checks read.

    No requests means a full collection: every part any check needs.
    """
    wanted = {r.check_id for r in requests}
    return frozenset(
        part for c in checks if not requests or c.id in wanted for part in c.needs
    )


@dataclass(frozen=True)
class Setting(Option):
    """A run-wide setting a plugin reads from ``ctx.settings``.

    ``flag`` is the ``civiscan scan`` option it becomes (``--port-scanner``);
    the declared type, choices, range and default are the flag's too. Without
    a flag the setting can only come from a stored run (``--resume``).
    """

    flag: str | None = None


FactsMigration = Callable[[int, Facts], Facts]
"""Turn facts stored under an older schema version into the current shape."""

EvidenceRenderer = Callable[[str, Mapping[str, Any]], Sequence[str] | None]
"""``(check_id, evidence) -> lines``: one check's evidence as a few lines of plain
text in the words of the people reading a report; None or no lines when the
plugin has nothing better than the generic key facts. Reports escape every line."""


@dataclass(frozen=True)
class Declarations:
    """What a plugin declares beyond its checks; every field is optional.

    Read from the plugin object's attributes of the same names, so a plugin
    declares only what it has (:func:`declarations`).
    """

    settings: Mapping[str, Setting] = field(default_factory=dict)
    option_types: Sequence[OptionType] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)
    """Error reasons beyond :class:`ErrorReason`, each with what it means."""
    redact: frozenset[str] = frozenset()
    """Evidence keys whose values name things on the scanning machine."""
    facts_version: int = 1
    migrate_facts: FactsMigration | None = None
    """Upgrade facts of an older ``facts_version``; raise ValueError if it cannot."""
    evidence: EvidenceRenderer | None = None
    """Render this family's evidence for reports (:data:`EvidenceRenderer`)."""


def declarations(plugin: Any) -> Declarations:
    """The :class:`Declarations` of ``plugin``, defaults for what it leaves out."""
    return Declarations(
        settings=dict(getattr(plugin, "settings", None) or {}),
        option_types=tuple(getattr(plugin, "option_types", None) or ()),
        reasons=dict(getattr(plugin, "reasons", None) or {}),
        redact=frozenset(getattr(plugin, "redact", None) or ()),
        facts_version=getattr(plugin, "facts_version", 1),
        migrate_facts=getattr(plugin, "migrate_facts", None),
        evidence=getattr(plugin, "evidence", None),
    )


class FactsVersionError(ValueError):
    """Stored facts have a schema version the loaded plugin cannot read."""


class Rows(Protocol):
    """Read-only rows of a dataset: DB-API ``execute`` with ``?`` parameters, iterable results."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


class DatasetUnavailable(Exception):
    """A dataset cannot be read right now (its store is gone or unreadable)."""


class Dataset(Protocol):
    """Data imported into the store (e.g. ``advisories``), lent read-only to plugins."""

    source: str
    """Where the rows come from: equal sources hold equal rows, so a plugin may key caches on it."""

    def read(self) -> contextlib.AbstractContextManager[Rows]:
        """One consistent read (a snapshot); raises :class:`DatasetUnavailable`."""
        ...


class DatasetProvider(Protocol):
    """Lends datasets by name (a store; on a remote worker, whatever reaches one)."""

    def dataset(self, name: str) -> Dataset | None: ...


Lent = Mapping[str, "Dataset | None"]
"""What a check declaring :attr:`Check.datasets` receives: each declared name
with its dataset, or None when the evaluation has no such dataset to lend."""


def lend(check: Check, provider: DatasetProvider | None) -> Lent:
    """The datasets ``check`` declares, from ``provider`` (None for each when there is none)."""
    return {n: provider.dataset(n) if provider is not None else None for n in check.datasets}


class Snapshot:
    """Lends datasets through one read each, held for a whole evaluation.

    Every asset judged with it sees the same state of the data (a feed
    imported meanwhile applies to the next evaluation, not to half of this
    one), and a dataset is opened once, not once per asset. Not thread-safe:
    use it from the thread that evaluates. Close it (or use ``with``) when done.
    """

    def __init__(self, provider: DatasetProvider | None) -> None:
        self._provider = provider
        self._stack = contextlib.ExitStack()
        self._held: dict[str, _HeldDataset | None] = {}

    def dataset(self, name: str) -> Dataset | None:
        if name not in self._held:
            inner = self._provider.dataset(name) if self._provider is not None else None
            self._held[name] = _HeldDataset(inner, self._stack) if inner is not None else None
        return self._held[name]

    def close(self) -> None:
        self._stack.close()
        self._held.clear()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _HeldDataset:
    def __init__(self, inner: Dataset, stack: contextlib.ExitStack) -> None:
        self.source = inner.source
        self._inner = inner
        self._stack = stack
        self._rows: Rows | None = None

    @contextlib.contextmanager
    def read(self) -> Iterator[Rows]:
        if self._rows is None:
            self._rows = self._stack.enter_context(self._inner.read())
        yield self._rows


class Context:
    """What the engine lends a plugin while it collects for one asset.

    * ``timeout``: seconds allowed for every single network operation;
    * ``settings``: run-wide settings (the core's ``ca_file``, ``resolve``,
      ``known_hosts`` and every plugin's declared ones), all JSON values;
    * ``dataset(name)``: a read-only :class:`Dataset` imported into the store
      (``advisories``: the offline advisory feeds), None when the engine lends
      none; the job never names where the store is, so a worker on another
      machine lends the same interface;
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
        datasets: DatasetProvider | None = None,
    ) -> None:
        self.timeout = timeout
        self.settings: Mapping[str, Any] = dict(settings or {})
        if gate is None:
            from .gate import Gate

            gate = Gate.from_settings(None, self.settings, timeout)
        self.gate = gate
        self._datasets = datasets
        self._per_host = per_host
        self._host_limits: dict[str, asyncio.Semaphore] = (
            host_limits if host_limits is not None else {}
        )
        self._executor = executor
        self._shared: dict[Any, asyncio.Task[Any]] = {}

    def dataset(self, name: str) -> Dataset | None:
        return self._datasets.dataset(name) if self._datasets is not None else None

    async def shared(self, key: Any, factory: Callable[[], Awaitable[T]]) -> T:
        import asyncio

        task = self._shared.get(key)
        if task is None:
            task = self._shared[key] = asyncio.ensure_future(factory())
        return await asyncio.shield(task)

    @contextlib.asynccontextmanager
    async def host_slot(self, address: str) -> AsyncIterator[None]:
        import asyncio

        sem = self._host_limits.get(address)
        if sem is None:
            sem = self._host_limits[address] = asyncio.Semaphore(self._per_host)
        async with sem:
            yield

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        import asyncio

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
    declared: dict[str, Declarations] = field(default_factory=dict)  # plugin name -> declarations
    pending: dict[str, list[EntryPoint]] = field(default_factory=dict, repr=False)
    """Entry points not loaded yet, by name (a lazy registry's; :func:`load_registry`)."""
    skip: frozenset[str] = frozenset()
    warn: Callable[[str], None] | None = field(default=None, repr=False, compare=False)
    """Called with each load warning as it happens (they are kept in ``warnings`` too)."""

    def require(self, name: str) -> None:
        """Load the pending entry point ``name`` (a plugin's name, as the built-in ones are named)."""
        for ep in self.pending.pop(name, []):
            self._load(ep)

    def load_all(self) -> Registry:
        """Load every pending entry point: what lists or checks across all plugins needs."""
        for name in list(self.pending):
            self.require(name)
        return self

    def _load(self, ep: EntryPoint) -> None:
        try:
            obj = ep.load()
            plugin: Any = obj() if inspect.isclass(obj) else obj
            if plugin.name in self.skip:
                return
            self.add(plugin, source=f"{ep.dist}:{ep.name}")
        except Exception as exc:
            message = f"plugin '{ep.name}' from {ep.dist} failed to load: {type(exc).__name__}: {exc}"
            self.warnings.append(message)
            if self.warn is not None:
                self.warn(message)

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
        mine = declarations(plugin)
        for name, setting in mine.settings.items():
            # Against the plugins loaded so far (a lazy registry's others are checked as they load).
            owner = next((p for p, d in self.declared.items() if name in d.settings), None)
            if owner is not None:
                raise ValueError(f"setting '{name}' is already declared by plugin {owner}")
            if setting.flag and any(setting.flag == s.flag for d in self.declared.values() for s in d.settings.values()):
                raise ValueError(f"flag {setting.flag} is already declared by another plugin")
        for reason in mine.reasons:
            taken = [n for n, d in self.declared.items() if reason in d.reasons]
            if taken:
                raise ValueError(f"error reason '{reason}' is already declared by plugin {taken[0]}")
        self.plugins[plugin.name] = plugin
        self.sources[plugin.name] = source
        self.declared[plugin.name] = mine
        for check in plugin.checks:
            self.checks[check.id] = check

    def check(self, check_id: str) -> Check | None:
        """The check ``check_id``; a lazy registry loads its family's plugin (else every plugin) first."""
        if check_id not in self.checks and self.pending:
            self.require(check_id.split(".", 1)[0])
            if check_id not in self.checks:
                self.load_all()
        return self.checks.get(check_id)

    def settings(self) -> list[tuple[str, Setting]]:
        """Every declared setting with its name, in plugin order."""
        self.load_all()
        return [(n, s) for d in self.declared.values() for n, s in d.settings.items()]

    def setting_owner(self, name: str) -> str | None:
        self.load_all()
        return next((p for p, d in self.declared.items() if name in d.settings), None)

    def reasons(self) -> dict[str, str]:
        """Every plugin-declared error reason and what it means."""
        self.load_all()
        return {r: text for d in self.declared.values() for r, text in d.reasons.items()}

    def redact_keys(self) -> frozenset[str]:
        self.load_all()
        return frozenset(k for d in self.declared.values() for k in d.redact)

    def evidence_renderers(self) -> dict[str, EvidenceRenderer]:
        """Plugin name -> its declared evidence renderer, for plugins that declare one."""
        self.load_all()
        return {n: d.evidence for n, d in self.declared.items() if d.evidence is not None}

    def option_types(self) -> dict[str, OptionType]:
        """The core option types and every plugin's, by name."""
        self.load_all()
        found = dict(CORE_TYPES)
        for d in self.declared.values():
            found.update((t.name, t) for t in d.option_types)
        return found

    def readable_facts(self, plugin: str, version: int, facts: Facts) -> Facts:
        """``facts`` stored under schema ``version``, in the shape ``plugin`` reads now.

        Raises :class:`FactsVersionError` when the loaded plugin cannot read them;
        facts of a plugin that is not loaded are left as they are.
        """
        self.require(plugin)
        mine = self.declared.get(plugin)
        if mine is None or version == mine.facts_version:
            return facts
        why = f"{plugin} facts have schema version {version}; the loaded {plugin} plugin reads version {mine.facts_version}"
        if mine.migrate_facts is None or version > mine.facts_version:
            raise FactsVersionError(why)
        try:
            return mine.migrate_facts(version, facts)
        except ValueError as exc:
            raise FactsVersionError(f"{why} and cannot upgrade them: {exc}") from None


def plugin_problems(plugin: Any) -> list[str]:
    """Why ``plugin`` is not a valid plugin (empty if it is)."""
    if not isinstance(plugin, Plugin):
        return ["object has no name, checks and collect()"]
    problems: list[str] = []
    mine = declarations(plugin)
    known_types: set[str | OptionType] = {*CORE_TYPES, *mine.option_types}
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
            if opt.type not in known_types:
                problems.append(f"check {check.id}: option '{opt_name}' has unknown type {opt.type}")
        if not check.kinds:
            problems.append(f"check {check.id}: no target kinds")
        if isinstance(check.datasets, str) or not all(
            isinstance(d, str) and _NAME.match(d) for d in check.datasets
        ):
            problems.append(f"check {check.id}: datasets must be a tuple of lower_snake_case names")
    return problems + _declaration_problems(plugin.name, mine)


def _declaration_problems(name: str, mine: Declarations) -> list[str]:
    problems: list[str] = []
    for key, setting in mine.settings.items():
        if not isinstance(setting, Setting) or not _NAME.match(key):
            problems.append(f"plugin {name}: setting '{key}' must be a lower_snake_case Setting")
        elif setting.flag is not None and not _FLAG.match(setting.flag):
            problems.append(f"plugin {name}: setting '{key}' has flag {setting.flag!r}, not like --name")
    core = {r.value for r in ErrorReason}
    for reason in mine.reasons:
        if not _NAME.match(reason) or reason in core:
            problems.append(f"plugin {name}: error reason '{reason}' must be a new lower_snake_case name")
    clash = {t.name for t in mine.option_types} & set(CORE_TYPES)
    if clash:
        problems.append(f"plugin {name}: option types {sorted(clash)} are core types")
    if not isinstance(mine.facts_version, int) or mine.facts_version < 1:
        problems.append(f"plugin {name}: facts_version must be a positive integer")
    if mine.evidence is not None and not callable(mine.evidence):
        problems.append(f"plugin {name}: evidence must be a function (check_id, evidence) -> lines")
    return problems


def load_registry(disabled: Iterable[str] = (), extra: Iterable[Any] = (), *, lazy: bool = False,
                  warn: Callable[[str], None] | None = None) -> Registry:
    """Load every plugin of the ``civiscan.plugins`` entry-point group.

    A plugin that fails to load is a warning naming its distribution and entry
    point, never a crash (``warn`` hears each as it happens). ``disabled`` names
    plugins (or entry-point names) to skip. ``lazy`` reads the entry points'
    names only: :meth:`Registry.check` then loads the plugin a check id names
    (``family.name`` loads entry point ``family``) and whatever asks for every
    plugin (settings, reasons, option types...) loads the rest, so a scan
    imports only the plugins its policy uses. ``plugins`` and ``checks`` of a
    lazy registry hold what has been loaded so far; ``load_all()`` fills them.
    """
    skip = frozenset(disabled)
    registry = Registry(skip=skip, warn=warn)
    for ep in sorted(entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name not in skip and ep.name not in registry.pending:
            registry.pending[ep.name] = [ep]
    if not lazy:
        registry.load_all()
    for plugin in extra:
        registry.add(plugin, source="extra")
    return registry


@dataclass(frozen=True)
class EntryPoint:
    """One entry point as an installed distribution declares it (``name = module:attr``)."""

    name: str
    value: str
    dist: str
    """The declaring distribution's name (its METADATA ``Name``)."""

    def load(self) -> Any:
        import importlib

        module, _, attr = self.value.partition(":")
        obj: Any = importlib.import_module(module.strip())
        for part in attr.strip().split(".") if attr.strip() else ():
            obj = getattr(obj, part)
        return obj


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` of every distribution on ``sys.path``, first one of a name wins.

    What ``importlib.metadata.entry_points(group=...)`` finds, read straight from
    each ``*.dist-info``/``*.egg-info`` folder's ``entry_points.txt``: that module
    (and its scan of every distribution's metadata) costs more than a whole
    ``civiscan --version``. A distribution on two path entries counts once (the first).
    """
    import os

    found: list[EntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for folder in names:
            if not folder.endswith((".dist-info", ".egg-info")):
                continue
            key = _normal(folder.rsplit(".", 1)[0].split("-", 1)[0])
            if key in seen:
                continue
            seen.add(key)
            path = os.path.join(entry or ".", folder)
            try:
                with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as handle:
                    text = handle.read()
            except OSError:
                continue
            listed = _group(text, group)
            if listed:
                dist = _dist_name(path) or folder.rsplit(".", 1)[0].split("-", 1)[0]
                found.extend(EntryPoint(n, v, dist) for n, v in listed)
    return found


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _group(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` lines of section ``[group]`` of an entry_points.txt."""
    out: list[tuple[str, str]] = []
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line[1:].rstrip("]").strip() == group
        elif inside and "=" in line:
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip()))
    return out


def _dist_name(path: str) -> str | None:
    """The ``Name:`` header of a distribution folder's METADATA (or PKG-INFO)."""
    import os

    for meta in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, meta), encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("Name:"):
                        return line[5:].strip()
                    if not line.strip():
                        break
        except OSError:
            continue
    return None


__all__ = [
    "COMMANDS_GROUP",
    "ENTRY_POINT_GROUP",
    "Check",
    "CheckRequest",
    "Context",
    "Declarations",
    "Dataset",
    "DatasetProvider",
    "DatasetUnavailable",
    "EntryPoint",
    "EvidenceRenderer",
    "Facts",
    "FactsVersionError",
    "Lent",
    "Plugin",
    "Registry",
    "Setting",
    "Snapshot",
    "declarations",
    "entry_points",
    "lend",
    "load_registry",
    "needed",
    "plugin_problems",
]
