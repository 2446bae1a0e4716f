"""The ``civiscan`` command line: thin commands over the library.

Every user-facing error is caught at one boundary (:func:`main`) and printed as
``file:line:col: message``; ``--debug`` shows the traceback instead.

Plugins extend the tree without this module naming them: each declared
setting with a flag becomes an option of ``scan``, and every command of the
``civiscan.commands`` entry-point group joins the top level. Such commands use
:class:`Fail`, :data:`db_option`, :func:`open_store` and :func:`plugin_registry`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from . import __version__
from .errors import ConfigError, ExitCode
from .inventory_command import inventory_group
from .models import Severity

if TYPE_CHECKING:
    from .baseline import Baseline
    from .plugin import Registry, Setting
    from .store import Store

# The engine, the store, the plugin registry and the output module (and through them
# cryptography, jinja2 and every plugin) are imported by the commands that use them,
# so that `civiscan --version`, `--help` and completion start without them.


def inert(value: object) -> str:
    """:func:`scanner.output.inert`, imported when first needed."""
    from .output import inert as _inert

    return _inert(value)


def load_registry(disabled: Sequence[str] = (), *, lazy: bool = False, warn: Any = None) -> Registry:
    """:func:`scanner.plugin.load_registry`, imported when first needed."""
    from .plugin import load_registry as _load

    return _load(disabled, lazy=lazy, warn=warn)


def _json(doc: Any, default: Any = None) -> str:
    """``doc`` as the commands print and write JSON: indented, keys sorted (json imported when needed),
    without a secret a run stored by an older version may hold (:mod:`scanner.secrets`)."""
    import json

    from .secrets import may_hold_secret, scrub

    text = json.dumps(doc, indent=2, sort_keys=True, default=default)
    return json.dumps(scrub(doc), indent=2, sort_keys=True, default=default) if may_hold_secret(text) else text


SEVERITIES = [s.value for s in Severity]

FILE_FORMATS = ("html", "junit", "sarif", "csv", "markdown")
FORMATS = ("table", "json", *FILE_FORMATS)


class Fail(Exception):
    """Stop the command with a message and an exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.CONFIG) -> None:
        super().__init__(message)
        self.code = code


def plugin_registry(disabled: Sequence[str] = (), *, lazy: bool = False) -> Registry:
    """The plugins (each load warning printed on stderr); ``lazy``: loaded as checks name them."""
    return load_registry(disabled, lazy=lazy, warn=lambda warning: click.echo(f"warning: {warning}", err=True))


# The optional dependencies (pyproject's extras) by the top-level modules the code imports.
_EXTRAS = {"celery": "fleet", "kombu": "fleet", "redis": "fleet", "sqlalchemy": "postgres", "psycopg": "postgres"}


def missing_extra(exc: BaseException) -> str | None:
    """What to install when ``exc`` is the import of an optional dependency that is not installed, else None."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    module = exc.name.partition(".")[0]
    extra = _EXTRAS.get(module)
    if extra is None:
        return None
    return f"this needs the optional '{extra}' dependencies ({module} is not installed): pip install 'civiscan[{extra}]'"


def open_store(db: str | None) -> Store:
    from .store import Store, StoreLocationError, check_url, default_db_path, is_url

    location = db or default_db_path()
    if is_url(location):
        try:
            check_url(str(location))
        except StoreLocationError as exc:
            raise Fail(str(exc)) from None
    try:
        store = Store(location)
    except Exception as exc:
        detail = missing_extra(exc) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]  # a driver's first line says it
        raise Fail(f"{location}: cannot open the store: {detail}") from None
    ctx = click.get_current_context(silent=True)
    if ctx is not None:  # closed with the command (the exit does not collect it: _no_exit_collection)
        ctx.call_on_close(store.close)
    return store


def _run_id(store: Store, ref: str) -> int:
    run_id = store.resolve_run(ref)
    if run_id is None:
        raise Fail(f"no run '{ref}' in {store.location} (civiscan runs lists them)")
    return run_id


def _complete_policies(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shipped policy names that start with ``incomplete``, then files (the shell completes those)."""
    from .policy import builtin_policy_names

    return _names_then_files(builtin_policy_names(), incomplete)


def _names_then_files(names: Sequence[str], incomplete: str) -> list[CompletionItem]:
    return [*(CompletionItem(n) for n in names if n.startswith(incomplete)), CompletionItem(incomplete, type="file")]


def _complete_checks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(c) for c in sorted(load_registry().checks) if c.startswith(incomplete)]


def _complete_frameworks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shipped framework mapping names that start with ``incomplete``, then files."""
    from .reports.frameworks import shipped_names

    return _names_then_files(shipped_names(), incomplete)


def _complete_topics(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from .topics import topics

    return [CompletionItem(name) for name in topics() if name.startswith(incomplete)]


ca_file_option = click.option(
    "--ca-file", metavar="PEM",
    help="Extra trust anchors for verifying the certificates of scanned endpoints, added to the system store "
         "(it is still trusted); with --ca-only, the only anchors.")
ca_only_option = click.option(
    "--ca-only", is_flag=True, default=False,
    help="Trust only the --ca-file anchors (an asset's own ca_file where it has one), not the system store: "
         "a certificate from any other CA fails verification. Needs --ca-file.")


def trust_settings(ca_file: str | None, ca_only: bool) -> dict[str, Any]:
    """The run settings ``--ca-file`` and ``--ca-only`` give (``ca_file``, ``ca_only``); Fail if unusable."""
    if ca_only and not ca_file:
        raise Fail("--ca-only trusts only the --ca-file anchors: give --ca-file PEM too")
    if not ca_file:
        return {}
    if not Path(ca_file).is_file():
        raise Fail(f"{ca_file}: --ca-file not found")
    return {"ca_file": str(Path(ca_file).resolve()), **({"ca_only": True} if ca_only else {})}


db_option = click.option("--db", metavar="PATH|URL", envvar="CIVISCAN_DB", help="The store: a SQLite file, or postgresql://host[:port]/db (password from libpq's environment, never the URL; default: $CIVISCAN_DB or ~/.local/share/civiscan/civiscan.db).")


class _Tree(click.Group):
    """The core commands plus those of the ``civiscan.commands`` entry-point group.

    A plugin command is imported when it runs; ``civiscan --help`` lists it
    with the summary its source states (:func:`_summary`), so listing imports
    none of them unless a source does not say plainly.
    """

    _extra: dict[str, click.Command | None] | None = None
    _found: dict[str, list[Any]] | None = None

    def _entry_points(self) -> dict[str, list[Any]]:
        if self._found is None:
            from .plugin import COMMANDS_GROUP, entry_points

            self._found = {}
            for ep in sorted(entry_points(COMMANDS_GROUP), key=lambda e: e.name):
                self._found.setdefault(ep.name, []).append(ep)
        return self._found

    def _plugin_command(self, name: str) -> click.Command | None:
        if self._extra is None:
            self._extra = {}
        if name not in self._extra:
            self._extra[name] = None
            for ep in self._entry_points().get(name, []):
                dist = ep.dist
                try:
                    command = ep.load()
                except Exception as exc:
                    click.echo(f"warning: command '{ep.name}' from {dist} failed to load: {type(exc).__name__}: {exc}", err=True)
                    continue
                if isinstance(command, click.Command) and ep.name not in self.commands:
                    self._extra[name] = command
                else:
                    click.echo(f"warning: command '{ep.name}' from {dist} is not a new click command", err=True)
        return self._extra[name]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._entry_points()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name) or self._plugin_command(cmd_name)
        return _with_common_options(command) if command is not None else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, click.Command]] = []
        plugins = self._entry_points()
        for name in self.list_commands(ctx):
            command = super().get_command(ctx, name)
            if command is None and (self._extra or {}).get(name) is None and len(plugins.get(name, [])) == 1:
                text = _summary(plugins[name][0].value)
                command = click.Command(name, help=text) if text is not None else None
            command = command or self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])


_PLAIN_KEYWORDS = frozenset({"name", "context_settings", "invoke_without_command", "no_args_is_help", "chain",
                             "options_metavar", "add_help_option", "epilog"})


def _summary(target: str) -> str | None:
    """The help of the click command ``module:function`` names, read from its source unrun.

    None (so the command is imported and asked) unless the function is in the
    module's own source, decorated by one plain ``command``/``group`` call (no
    ``help``, ``short_help``, ``hidden``, ``deprecated`` or ``cls``), and has
    a docstring. The source is found the way an import would find it, but no
    package on the way is executed, so nothing it says can be stale.
    """
    import ast

    module, _, attr = target.partition(":")
    spec = _find_spec_unrun(module.strip())
    if not attr.strip().isidentifier() or spec is None or not str(spec.origin or "").endswith(".py"):
        return None
    try:
        tree = ast.parse(Path(str(spec.origin)).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    node = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == attr.strip()), None)
    if node is None:
        return None
    makers = [d for d in node.decorator_list if isinstance(d, ast.Call)
              and (d.func.attr if isinstance(d.func, ast.Attribute) else getattr(d.func, "id", "")) in ("command", "group")]
    doc = ast.get_docstring(node, clean=False)
    if len(makers) != 1 or not {k.arg for k in makers[0].keywords} <= _PLAIN_KEYWORDS or not doc:
        return None
    return doc  # as click takes it: the function's __doc__


def _find_spec_unrun(name: str) -> Any:
    """The import spec of module ``name`` from the meta path finders, importing no parent package."""
    spec, path = None, None
    for depth, _ in enumerate(name.split(".")):
        part = ".".join(name.split(".")[: depth + 1])
        spec = sys.modules[part].__spec__ if part in sys.modules else None
        if spec is None:
            spec = next((found for finder in sys.meta_path if hasattr(finder, "find_spec")
                         for found in [_try_find(finder, part, path)] if found is not None), None)
        if spec is None:
            return None
        path = spec.submodule_search_locations
    return spec


def _try_find(finder: Any, name: str, path: Any) -> Any:
    try:
        return finder.find_spec(name, path)
    except (ImportError, ValueError, AttributeError):
        return None


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Send civiscan's log records to stderr: INFO with --verbose, DEBUG with --debug."""
    if not value:
        return
    import logging

    from .output import InertFormatter

    logger = logging.getLogger("civiscan")
    level = logging.DEBUG if param.name == "debug" else logging.INFO
    if not any(isinstance(h.formatter, InertFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(InertFormatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(min(level, logger.level or logging.WARNING))


def _verbosity_options() -> list[click.Option]:
    # main() reads --debug from argv itself: it must act on errors raised before click has parsed.
    return [
        click.Option(["--debug"], is_flag=True, expose_value=False, callback=_set_verbosity,
                     help="Show tracebacks for unexpected errors, and debug log records."),
        click.Option(["--verbose"], is_flag=True, expose_value=False, callback=_set_verbosity,
                     help="Show civiscan's log records (SSH transport and others) on stderr."),
    ]


def _with_common_options(command: click.Command) -> click.Command:
    """``command`` (and its subcommands) accepting --debug and --verbose after its name too."""
    if not getattr(command, "_civiscan_common", False):
        taken = {opt for p in command.params for opt in getattr(p, "opts", ())}
        command.params.extend(o for o in _verbosity_options() if o.opts[0] not in taken)
        command._civiscan_common = True  # type: ignore[attr-defined]
        for sub in getattr(command, "commands", {}).values():
            _with_common_options(sub)
    return command


def _setting_option(name: str, setting: Setting) -> click.Option:
    """The ``scan`` flag of a declared setting; unset, the plugin's default applies."""
    from .options import option_type

    kind = str(option_type(setting) or setting.type)
    low, high = setting.minimum, setting.maximum
    ptype: click.ParamType = click.STRING
    if setting.choices:
        ptype = click.Choice([str(c) for c in setting.choices])
    elif kind == "int":
        ptype = click.IntRange(None if low is None else int(low), None if high is None else int(high))
    elif kind == "float":
        ptype = click.FloatRange(low, high)
    text = setting.doc + ("" if setting.required or setting.default is None else f"  [default: {setting.default}]")
    if kind == "bool":
        return click.Option([f"{setting.flag}/--no-{str(setting.flag)[2:]}", name], default=None, help=text)
    return click.Option([str(setting.flag), name], type=ptype, default=None, help=text)


class _ScanCommand(click.Command):
    """``scan``, whose options include every flag the loaded plugins declare.

    The plugins are imported for those flags only when something may set one:
    an argument that is not a core option, a ``CIVISCAN_SCAN_*`` variable or a
    config key that is not a core option's, help or completion
    (:func:`_plugin_flags_wanted`); otherwise every declared setting keeps its
    default and ``scan`` imports just the plugins its policy's checks use.
    """

    _declared: list[click.Option] | None = None

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["civiscan.scan_args"] = list(args)
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        core = super().get_params(ctx)
        if self._declared is None and not _plugin_flags_wanted(ctx, core):
            return core
        if self._declared is None:
            taken = {n for p in core for n in (*p.opts, p.name)}
            self._declared = []
            registry = load_registry()
            for name, setting in registry.settings():
                if not setting.flag:
                    continue
                if setting.flag in taken or name in taken:
                    owner = registry.setting_owner(name)
                    click.echo(f"warning: plugin {owner}: setting '{name}' ({setting.flag}) clashes with an option of scan", err=True)
                    continue
                self._declared.append(_setting_option(name, setting))
        return [*core[:-1], *self._declared, core[-1]]  # --help stays last


def _plugin_flags_wanted(ctx: click.Context, core: Sequence[click.Parameter]) -> bool:
    """Whether ``scan`` may be given a plugin's flag here (so the plugins must say which)."""
    args = ctx.meta.get("civiscan.scan_args")
    if args is None or ctx.resilient_parsing:
        return True  # help, completion, or a caller that did not parse
    opts = {o for p in core for o in getattr(p, "opts", ())} | {o for p in core for o in getattr(p, "secondary_opts", ())}
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("--") and arg.split("=", 1)[0] not in opts or arg in ctx.help_option_names:
            return True
    names = {str(p.name) for p in core}
    if any(str(k).replace("-", "_") not in names for k in ctx.default_map or {}):
        return True
    prefix = f"{ctx.auto_envvar_prefix}_" if ctx.auto_envvar_prefix else None
    known = {f"{ctx.auto_envvar_prefix}_{n.upper()}" for n in names} | {
        e for p in core for e in ([p.envvar] if isinstance(p.envvar, str) else p.envvar or [])}
    return prefix is not None and any(k.startswith(prefix) and k not in known for k in os.environ)


@click.group(cls=_Tree, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100,
                                          "auto_envvar_prefix": "CIVISCAN"})
@click.version_option(__version__, prog_name="civiscan")
@click.option("--config", "config_file", metavar="FILE", envvar="CIVISCAN_CONFIG",
              help="Command defaults (TOML; default: ./civiscan.toml, else $XDG_CONFIG_HOME/civiscan/config.toml).")
@click.option("--no-config", is_flag=True, help="Read no config file.")
def cli(config_file: str | None, no_config: bool) -> None:
    """Compliance scanning of servers and web endpoints against YAML policies.

    Every option of every command can also be set by an environment variable,
    CIVISCAN_<COMMAND>_<OPTION> (CIVISCAN_SCAN_FAIL_ON=high), or in a config file
    ([scan] fail-on = "high"); a flag wins over the environment, which wins over
    the file. civiscan docs config says more.
    """
    from .config import find_config, load_defaults

    ctx = click.get_current_context()
    path = None if no_config else find_config(config_file, Path.cwd(), os.environ)
    if path is not None:
        ctx.default_map = load_defaults(path, cli, ctx)


for _option in _verbosity_options():
    cli.params.append(_option)


# --- scan ------------------------------------------------------------------------


@cli.command(cls=_ScanCommand)
@click.argument("targets", nargs=-1)
@click.option("-p", "--policy", "policies", multiple=True, metavar="FILE|NAME", shell_complete=_complete_policies, help="Policy file or shipped policy name (repeatable).")
@click.option("-i", "--inventory", metavar="FILE", help="Inventory of departments and assets.")
@click.option("--department", "departments", multiple=True, metavar="NAME", help="Scan only these departments of the inventory.")
@click.option("--scope", "scope", multiple=True, metavar="CIDR|DOMAIN", help="Allow this network or domain (added to the inventory's scope).")
@click.option("--resolve", "resolve", multiple=True, metavar="HOST:PORT:ADDR", help="Connect to ADDR for HOST:PORT, keeping HOST for SNI (like curl).")
@db_option
@click.option("-f", "--format", "formats", multiple=True, type=click.Choice(FORMATS), help="Output formats (repeatable): table (default), json, html, junit, sarif, csv, markdown.")
@click.option("-o", "--output", metavar="FILE", help="Write the JSON document here instead of stdout (needs --format json; file formats go to --report).")
@click.option("--report", "report_dir", metavar="DIR", help="Write report files here at the end (html unless other file formats are given).")
@click.option("--sign-key", metavar="PEM", envvar="CIVISCAN_SIGN_KEY", help="Ed25519 private key that signs the report manifest (civiscan signing-key makes one).")
@click.option("--fail-on", type=click.Choice([s.value for s in Severity]), default="low", show_default=True, help="Exit 1 when a failure of at least this severity remains (waived never fails).")
@click.option("--timeout", type=click.FloatRange(0.05, 600), default=5.0, show_default=True, help="Seconds allowed for every network operation.")
@click.option("--concurrency", type=click.IntRange(1, 4096), default=32, show_default=True, help="Assets scanned at once.")
@click.option("--per-host", type=click.IntRange(1, 256), default=4, show_default=True, help="Connections at once to one host (a plugin may declare its own per-host setting).")
@ca_file_option
@ca_only_option
@click.option("--known-hosts", metavar="FILE", help="SSH known_hosts file to trust (besides the system and user ones).")
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME", help="Do not load this plugin (repeatable).")
@click.option("--resume", "resume", metavar="RUN", help="Finish an interrupted run: scan only its pending assets, with the run's own settings except --timeout, --concurrency and --per-host when given.")
@click.option("--baseline", metavar="RUN|FILE", help="Fail only on failures not in this baseline: a stored run, a file from 'civiscan baseline write', or a run's JSON document.")
@click.option("--severity", "shown_severity", type=click.Choice(SEVERITIES), envvar="CIVISCAN_SCAN_SEVERITY", help="Show only findings at or above this severity in the terminal table (stored results and report files keep all).")
@click.option("--engine", type=click.Choice(["local", "celery"]), default=None, help="Run the jobs here (local, the default) or on Celery workers (celery; civiscan docs scale-out). A resumed run keeps its engine.")
@click.option("--broker", metavar="URL", envvar="CIVISCAN_BROKER", help="The celery engine's Redis broker, redis://HOST:PORT/DB or rediss:// (TLS); the password comes from CIVISCAN_BROKER_PASSWORD.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary table.")
def scan(
    targets: tuple[str, ...],
    policies: tuple[str, ...],
    inventory: str | None,
    departments: tuple[str, ...],
    scope: tuple[str, ...],
    resolve: tuple[str, ...],
    db: str | None,
    formats: tuple[str, ...],
    output: str | None,
    report_dir: str | None,
    sign_key: str | None,
    fail_on: str,
    timeout: float,
    concurrency: int,
    per_host: int,
    ca_file: str | None,
    ca_only: bool,
    known_hosts: str | None,
    disabled: tuple[str, ...],
    resume: str | None,
    baseline: str | None,
    shown_severity: str | None,
    engine: str | None,
    broker: str | None,
    quiet: bool,
    **declared: Any,
) -> None:
    """Scan TARGETS (addresses, hostnames, https:// URLs) and/or an inventory against policies.

    \b
    Examples:
      civiscan scan -p baseline 127.0.0.1 https://staging.example.test
      civiscan scan -p city-baseline -i inventory.yaml --report out/
      civiscan scan --resume 12 --timeout 30

    A resumed run keeps its targets, policies, scope and plugin settings; only
    --timeout, --concurrency and --per-host may be given again, and then apply
    to the resumed part (and are stored with the run). Output flags apply as usual.
    A run that another live civiscan process is scanning cannot be resumed.

    With --baseline only failures the baseline does not list count for the
    exit code (known ones are marked in the table); errors always count.

    Exit codes: 0 compliant, 1 failures at or above --fail-on, 2 usage or
    configuration error, 3 incomplete (not everything could be assessed),
    70 internal error, 74 scan done but an output could not be written, 130 interrupted.
    """
    from . import scan as lib
    from .engine import ScanSettings
    from .store import RunHeld

    _check_outputs(formats, output, report_dir)
    if sign_key and not Path(sign_key).is_file():
        raise Fail(f"{sign_key}: --sign-key not found")
    registry = plugin_registry(disabled, lazy=not resume)  # a resumed run names its checks itself
    store = open_store(db)
    known = _load_baseline(store, baseline) if baseline else None
    severity = Severity(fail_on)
    observer = None
    if not quiet and sys.stderr.isatty() and not os.environ.get("CI"):
        from .output import ProgressObserver

        observer = ProgressObserver()
    if resume:
        overrides = _resume_overrides(click.get_current_context(), lib.RESUME_OVERRIDES)
        run_id = _run_id(store, resume)
        runner = lib.engine_runner(engine or lib.run_engine(store, run_id), broker)
        try:
            spec = lib.resume(store, run_id, registry, overrides=overrides, fail_on=severity, observer=observer)
        except RunHeld as exc:
            raise Fail(f"{exc}; wait for it to finish, or stop that process and resume again") from None
        spec = replace(spec, runner=runner)
    else:
        trust = trust_settings(ca_file, ca_only)
        resolve_map = lib.parse_resolve(resolve)
        plan = lib.prepare(
            lib.ScanRequest(policies, inventory, targets, scope, resolve_map, departments), registry
        )
        plugin_settings: dict[str, Any] = {k: v for k, v in declared.items() if v is not None} | trust
        if known_hosts:
            plugin_settings["known_hosts"] = str(Path(known_hosts).expanduser().resolve())
        if resolve_map:
            plugin_settings["resolve"] = resolve_map
        settings = ScanSettings(timeout=timeout, concurrency=concurrency, per_host=per_host, plugin_settings=plugin_settings)
        engine = engine or "local"
        runner = lib.engine_runner(engine, broker)  # a bad broker is refused before the run exists
        spec = lib.start(store, plan, registry, settings, fail_on=severity, observer=observer, engine=engine)
        spec = replace(spec, runner=runner)
    run_id = spec.run_id
    code = lib.execute(spec)
    view = View(Severity(shown_severity) if shown_severity else None, known)
    _emit_stored(store, run_id, code, formats, output, report_dir, quiet, sign_key=sign_key, view=view)
    code = _gate(store, run_id, code, severity, known, quiet)
    if code is ExitCode.INTERRUPTED:
        click.echo(f"interrupted: finished assets are kept; continue with: civiscan scan --resume {run_id}", err=True)
    raise SystemExit(int(code))


def _resume_overrides(ctx: click.Context, allowed: Sequence[str]) -> dict[str, Any]:
    """The settings given on the command line for ``--resume``; refuse any that cannot change."""
    from click.core import ParameterSource

    output_flags = {"resume", "db", "formats", "output", "report_dir", "fail_on", "quiet", "sign_key", "debug", "verbose",
                    "engine", "broker"}
    given = [p for p in ctx.command.get_params(ctx)
             if p.name and ctx.get_parameter_source(p.name) is ParameterSource.COMMANDLINE]
    refused = [p for p in given if p.name not in output_flags and p.name not in allowed]
    if refused:
        names = ", ".join(max(p.opts, key=len) if isinstance(p, click.Option) else p.human_readable_name
                          for p in refused)
        raise Fail(f"--resume continues a run with its own targets, policies and settings; {names} cannot be "
                   "given (only --timeout, --concurrency, --per-host and output options can)")
    return {p.name: ctx.params[p.name] for p in given if p.name in allowed}


def _output_problem(path: Path, *, directory: bool) -> str | None:
    """Why ``path`` cannot receive a report (a directory) or the JSON document (a file), or None."""
    if directory:
        if path.exists() and not path.is_dir():
            return "exists and is not a directory"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"cannot be created: {exc.strerror or exc}"
        target = path
    else:
        if path.is_dir():
            return "is a directory"
        if path.exists():
            return None if os.access(path, os.W_OK) else "is not writable"
        target = path.parent if str(path.parent) else Path(".")
        if not target.is_dir():
            return f"cannot be created: {target} is not a directory"
    import tempfile

    try:
        # Creating a file is the only test that also holds for root and for read-only mounts.
        with tempfile.TemporaryFile(dir=target):
            pass
    except OSError as exc:
        return f"is not writable: {exc.strerror or exc}" if directory else f"cannot be created in {target}: {exc.strerror or exc}"
    return None


def _outputs(formats: Sequence[str], output: str | None, report_dir: str | None) -> dict[str, Path]:
    """The files a scan will write, as ``{flag and value: path}``; a report is a directory."""
    out = {}
    if output:
        out[f"-o {output}"] = Path(output)
    if report_dir or any(f in FILE_FORMATS for f in formats):
        target = report_dir or "civiscan-report"
        out[f"--report {target}"] = Path(target)
    return out


def _check_outputs(formats: Sequence[str], output: str | None, report_dir: str | None) -> None:
    """Refuse unwritable outputs before the scan, so its result is never lost at the end."""
    if output and "json" not in formats:
        raise Fail(f"-o {output} writes the JSON document: add --format json "
                   "(html, junit, sarif, csv and markdown files go to --report DIR)")
    problems = []
    for flag, path in _outputs(formats, output, report_dir).items():
        why = _output_problem(path, directory=flag.startswith("--report"))
        if why:
            problems.append(f"{flag}: {why}")
    if problems:
        raise Fail("; ".join(problems))


@dataclass(frozen=True)
class View:
    """What the terminal table shows: findings at or above a severity; baseline failures marked."""

    min_severity: Severity | None = None
    baseline: Baseline | None = None


def _load_baseline(store: Store, ref: str) -> Baseline:
    """``--baseline``: a file if one exists at ``ref``, else a stored run."""
    from . import baseline as bl

    path = Path(ref)
    if path.is_file():
        try:
            if path.stat().st_size > bl.MAX_BYTES:
                raise Fail(f"{ref}: a baseline is at most {bl.MAX_BYTES // 2**20} MiB")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Fail(f"{ref}: cannot read the baseline: {getattr(exc, 'strerror', None) or exc}") from None
        return bl.parse(text, ref)
    run_id = store.resolve_run(ref)
    if run_id is None:
        raise Fail(f"--baseline {ref}: no such file, and no run '{ref}' in {store.location}")
    return bl.from_document(store.document(run_id), f"run {run_id}")


def _gate(store: Store, run_id: int, code: ExitCode, fail_on: Severity, known: Baseline | None, quiet: bool) -> ExitCode:
    """The exit code with ``--baseline``'s known failures forgiven (and a line saying so)."""
    if known is None:
        return code
    from . import baseline as bl

    findings = list(store.findings(run_id))
    gated = bl.gate(code, findings, fail_on, known)
    if not quiet:
        failing = [f for f in findings if f["status"] == "fail"]
        new = bl.new_failures(failing, known)
        click.echo(f"baseline ({known.source}): {len(failing) - len(new)} known failure(s) forgiven, "
                   f"{len(new)} new; exit code {int(gated)}", err=True)
    return gated


def _emit_stored(store: Store, run_id: int, code: ExitCode, formats: Sequence[str], output: str | None,
                 report_dir: str | None, quiet: bool, *, sign_key: str | None = None, view: View = View()) -> None:
    """Write the outputs of a finished run; a failure says where the results still are (exit 74)."""
    try:
        _emit(store, run_id, formats, output, report_dir, quiet, sign_key=sign_key, view=view)
    except OSError as exc:
        where = exc.filename or " or ".join(_outputs(formats, output, report_dir))
        raise Fail(
            f"{where}: cannot write the output: {exc.strerror or exc}. The run itself finished with exit code "
            f"{int(code)} ({code.name.lower()}) and its results are stored as run {run_id}: "
            f"civiscan report {run_id} (or civiscan show {run_id} --format json) renders them again",
            ExitCode.OUTPUT,
        ) from None


def _emit(store: Store, run_id: int, formats: Sequence[str], output: str | None, report_dir: str | None, quiet: bool,
          *, sign_key: str | None = None, view: View = View()) -> None:
    doc = store.document(run_id)
    wanted = list(dict.fromkeys(formats)) or ["table"]
    if "json" in wanted:
        text = _json(doc, default=str)
        if output:
            from .fsutil import atomic_write

            atomic_write(output, text + "\n")
        else:
            click.echo(text)
    if "table" in wanted and not quiet:
        from .output import summary_table

        to_stderr = "json" in wanted and not output
        # Off a terminal (a CI log, a file) the table is never cut short.
        full = not (sys.stderr if to_stderr else sys.stdout).isatty()
        click.echo(summary_table(doc, full=full, min_severity=view.min_severity,
                                 known=view.baseline.fingerprints if view.baseline else None,
                                 show_all=show_all_command(store, run_id)), err=to_stderr)
    file_formats = [f for f in wanted if f in FILE_FORMATS]
    if report_dir or file_formats:
        paths = _render(store, run_id, doc, file_formats or ["html"], Path(report_dir or "civiscan-report"),
                        None, sign_key)
        click.echo(f"reports written to {paths[0].parent if paths else report_dir}", err=True)
        for p in paths:
            click.echo(f"  {p}", err=True)


def show_all_command(store: Store, run_id: int) -> str:
    """The command that lists every finding of the run, naming the store unless it is the default one."""
    from .store import default_db_path

    command = f"civiscan show {run_id} --all"
    return command if str(store.location) == str(default_db_path()) else f"{command} --db {store.location}"


def _render(store: Store, run_id: int, doc: dict[str, Any], formats: Sequence[str], outdir: Path,
            department: str | None, signing_key: str | None, frameworks: Sequence[Any] = ()) -> list[Path]:
    try:
        from .reports import load_previous, render
    except ImportError as exc:
        raise Fail(f"report renderers are not available: {exc}") from None
    from .history import load_trends

    previous_id = store.previous_run(run_id)
    previous = load_previous(store, previous_id) if previous_id else None
    outdir.mkdir(parents=True, exist_ok=True)
    return list(
        render(doc, list(formats), outdir, previous=previous, department=department,
               signing_key=Path(signing_key) if signing_key else None,
               trends=load_trends(store, run_id), remediation_sla=store.run(run_id).ruleset.remediation_sla,
               frameworks=frameworks)
    )


# --- validate / checks ---------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, required=True, shell_complete=_complete_policies)
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME", help="Do not load this plugin (repeatable).")
def validate(files: tuple[str, ...], disabled: tuple[str, ...]) -> None:
    """Check policy, inventory and agent FILES (or shipped policy names); print every problem as file:line:col: message."""
    from .agent.config import AGENT_SHAPE
    from .inventory import INVENTORY_SHAPE, load_inventory
    from .policy import POLICY_SHAPE, load_policies
    from .reports.frameworks import FRAMEWORK_SHAPE
    from .reports.frameworks import parse as parse_framework
    from .yamlpos import PosDict, either, load_file

    registry = plugin_registry(disabled)
    problems = []
    for name in files:
        try:
            # A bare name that is no file is a shipped policy (or an error suggesting one), as with -p.
            if not Path(name).exists() and "/" not in name and not name.endswith((".yaml", ".yml")):
                rs = load_policies([name], registry)
                click.echo(f"builtin:{name}: ok (policy: {len(rs.rules)} rules, {len(rs.waivers)} waivers)")
                continue
            data = load_file(name, either([POLICY_SHAPE, INVENTORY_SHAPE, AGENT_SHAPE, FRAMEWORK_SHAPE])).data
            if isinstance(data, PosDict) and ("framework" in data or "controls" in data) and "policy" not in data:
                fw = parse_framework(data, name, registry.checks)
                click.echo(f"{name}: ok (framework mapping: {fw.title} version {fw.version}, {len(fw.controls)} controls)")
            elif isinstance(data, PosDict) and "agent" in data and "policy" not in data:
                from .agent.loop import load

                agent = load(name, registry)
                click.echo(f"{name}: ok (agent: {len(agent.schedules)} schedules)")
            elif isinstance(data, PosDict) and ("departments" in data or "scope" in data) and "policy" not in data:
                inv = load_inventory(name)
                click.echo(f"{name}: ok (inventory: {len(inv.assets)} assets in {len(inv.departments)} departments)")
            else:
                rs = load_policies([name], registry)
                click.echo(f"{name}: ok (policy: {len(rs.rules)} rules, {len(rs.waivers)} waivers)")
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        for p in sorted(set(problems)):
            click.echo(str(p), err=True)
        raise SystemExit(int(ExitCode.CONFIG))


@cli.command()
@click.option("--doc", "doc", metavar="CHECK", shell_complete=_complete_checks, help="Print the documentation of one check.")
@click.option("--markdown", "family", metavar="FAMILY", help="Print the reference of one family's checks as Markdown (the generated part of its page, civiscan docs FAMILY).")
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME", help="Do not load this plugin (repeatable).")
def checks(doc: str | None, family: str | None, disabled: tuple[str, ...]) -> None:
    """List every check of every loaded plugin."""
    from .options import suggest

    registry = plugin_registry(disabled)
    if family:
        from .docgen import family_markdown

        if not any(c.plugin_name == family for c in registry.checks.values()):
            raise Fail(f"no loaded plugin has checks of family '{family}'{suggest(family, registry.plugins)}")
        click.echo(family_markdown(registry, family), nl=False)
        return
    if doc:
        check = registry.check(doc)
        if check is None:
            raise Fail(f"unknown check '{doc}'{suggest(doc, registry.checks)}")
        click.echo(f"{check.id} — {check.title}")
        click.echo(f"targets: {', '.join(sorted(k.value for k in check.kinds))}   plugin: {registry.sources.get(check.plugin_name, '')}")
        click.echo(f"source: {check.source}")
        if check.options:
            click.echo("options:")
            for name, opt in check.options.items():
                click.echo(f"  {name} ({opt.type}, {opt.describe_default()}): {opt.doc}")
        click.echo("")
        click.echo(check.documentation)
        return
    width = max((len(c) for c in registry.checks), default=10)
    for check_id in sorted(registry.checks):
        check = registry.checks[check_id]
        kinds = ",".join(sorted(k.value for k in check.kinds))
        click.echo(f"{check_id:<{width}}  {kinds:<13}  {check.title}")


# --- runs / show / report / verify / evaluate --------------------------------------


@cli.command()
@db_option
@click.option("-n", "--limit", type=int, default=30, show_default=True, help="Show at most this many runs.")
def runs(db: str | None, limit: int) -> None:
    """List stored runs, newest first; unfinished runs of the celery engine with their queued and running jobs."""
    from .output import inert_lines, runs_table

    store = open_store(db)
    listed = store.runs(limit)
    click.echo(runs_table(listed))
    if any(r["status"] != "complete" for r in listed):
        from .scan import fleet_status

        for line in inert_lines(fleet_status(store, listed)).splitlines():
            click.echo(line)


@cli.command()
@click.argument("run", default="last")
@db_option
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="A table, or the run's JSON document (civiscan docs json).")
@click.option("--all", "show_all", is_flag=True, help="Also list passing findings.")
def show(run: str, db: str | None, fmt: str, show_all: bool) -> None:
    """Print one stored run (RUN is an id or 'last')."""
    store = open_store(db)
    doc = store.document(_run_id(store, run))
    if fmt == "json":
        click.echo(_json(doc, default=str))
    else:
        from .output import summary_table

        full = show_all or not sys.stdout.isatty()
        click.echo(summary_table(doc, show_passing=show_all, full=full))


@cli.command()
@click.argument("run", default="last")
@db_option
@click.option("-f", "--format", "formats", multiple=True, type=click.Choice(["json", *FILE_FORMATS]), help="Formats (repeatable; default html).")
@click.option("--department", metavar="NAME", help="Only this department's report.")
@click.option("-o", "--output", "outdir", metavar="DIR", default="civiscan-report", show_default=True, help="Directory the report files are written to.")
@click.option("--sign-key", metavar="PEM", envvar="CIVISCAN_SIGN_KEY", help="Ed25519 private key to sign the manifest.")
@click.option("--framework", "framework_refs", multiple=True, metavar="NAME|FILE", shell_complete=_complete_frameworks, help="Add a framework view: each control of this mapping (shipped name or file) with its rules' pass/fail counts, printed and in the HTML and Markdown reports (repeatable).")
def report(run: str, db: str | None, formats: tuple[str, ...], department: str | None, outdir: str, sign_key: str | None, framework_refs: tuple[str, ...]) -> None:
    """Render reports of a stored run (never rescans)."""
    from .reports.frameworks import load as load_framework
    from .reports.frameworks import print_views

    frameworks = [load_framework(ref, plugin_registry(()).checks) for ref in framework_refs]
    store = open_store(db)
    run_id = _run_id(store, run)
    doc = store.document(run_id)
    if department and department not in doc["departments"]:
        raise Fail(f"run {run_id} has no department '{department}' (it has: {', '.join(doc['departments'])})")
    try:
        paths = _render(store, run_id, doc, list(formats) or ["html"], Path(outdir), department, sign_key, frameworks)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise Fail(f"{where}cannot write the report: {exc.strerror or exc}", ExitCode.OUTPUT) from None
    for p in paths:
        click.echo(str(p))
    for line in print_views(doc, frameworks, department):
        click.echo(inert(line))


@cli.command()
@click.argument("directory")
@click.option("--public-key", metavar="PEM", help="Ed25519 public key the signature must match.")
def verify(directory: str, public_key: str | None) -> None:
    """Check a report directory against its manifest; name any altered file."""
    from .reports.manifest import verify as verify_dir

    result = verify_dir(Path(directory), public_key=Path(public_key) if public_key else None)
    for message in result.messages:
        click.echo(inert(message))
    click.echo(inert(f"OK: {directory} matches its manifest" if result.ok else f"FAILED: {directory} does not match its manifest"))
    raise SystemExit(0 if result.ok else 1)


@cli.command("signing-key")
@click.argument("path")
def signing_key(path: str) -> None:
    """Create an Ed25519 key pair for signing report manifests (PATH and PATH.pub)."""
    from .reports.manifest import generate_signing_key

    try:
        public = generate_signing_key(Path(path))
    except FileExistsError:
        raise Fail(f"{path} exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise Fail(f"{path}: cannot write the key: {exc.strerror or exc}", ExitCode.OUTPUT) from None
    click.echo(f"private key: {path} (keep it secret; give it to scan or report as --sign-key, or as CIVISCAN_SIGN_KEY)")
    click.echo(f"public key:  {public} (give it to: civiscan verify DIR --public-key {public})")


@cli.command()
@click.argument("run")
@click.option("-p", "--policy", "policies", multiple=True, required=True, metavar="FILE|NAME", shell_complete=_complete_policies, help="Policy file or shipped policy name to judge the facts against (repeatable).")
@db_option
@click.option("--fail-on", type=click.Choice([s.value for s in Severity]), default="low", show_default=True, help="Exit 1 when a failure of at least this severity remains (waived never fails).")
@click.option("-f", "--format", "formats", multiple=True, type=click.Choice(FORMATS), help="Output formats (repeatable), as for scan; file formats go to civiscan-report/.")
@click.option("--baseline", metavar="RUN|FILE", help="Fail only on failures not in this baseline (as for scan).")
@click.option("--severity", "shown_severity", type=click.Choice(SEVERITIES), envvar="CIVISCAN_EVALUATE_SEVERITY", help="Show only findings at or above this severity in the terminal table.")
@click.option("-q", "--quiet", is_flag=True, help="No summary table.")
def evaluate(run: str, policies: tuple[str, ...], db: str | None, fail_on: str, formats: tuple[str, ...],
             baseline: str | None, shown_severity: str | None, quiet: bool) -> None:
    """Judge the stored facts of RUN against other policies, as a new run (no rescan)."""
    from .plugin import FactsVersionError
    from .policy import load_policies
    from .scan import reevaluate

    registry = plugin_registry()
    store = open_store(db)
    source = _run_id(store, run)
    known = _load_baseline(store, baseline) if baseline else None
    ruleset = load_policies(policies, registry)
    try:
        new, code = reevaluate(store, source, ruleset, registry, Severity(fail_on))
    except FactsVersionError as exc:
        raise Fail(f"cannot re-evaluate: {exc} (scan again with this civiscan)") from None
    _emit_stored(store, new, code, formats, None, None, quiet,
                 view=View(Severity(shown_severity) if shown_severity else None, known))
    raise SystemExit(int(_gate(store, new, code, Severity(fail_on), known, quiet)))


@cli.group("baseline")
def baseline_group() -> None:
    """Baselines: the failures CI already knows about (scan --baseline fails only on new ones)."""


@baseline_group.command("write")
@click.argument("run")
@click.argument("path", metavar="FILE")
@db_option
def baseline_write(run: str, path: str, db: str | None) -> None:
    """Write RUN's failing findings to FILE as a baseline (JSON, civiscan/baseline version 1).

    \b
    Example:
      civiscan baseline write latest .civiscan-baseline.json
      civiscan scan -p baseline -i inventory.yaml --baseline .civiscan-baseline.json
    """
    from . import baseline as bl
    from .fsutil import atomic_write

    store = open_store(db)
    run_id = _run_id(store, run)
    doc = bl.document(store.document(run_id))
    try:
        atomic_write(path, _json(doc) + "\n")
    except OSError as exc:
        raise Fail(f"{path}: cannot write the baseline: {exc.strerror or exc}", ExitCode.OUTPUT) from None
    click.echo(f"{path}: baseline of run {run_id}, {len(doc['findings'])} failing finding(s)", err=True)


# --- diff / history -------------------------------------------------------------


@cli.command()
@click.argument("run_a")
@click.argument("run_b", default="last")
@db_option
@click.option("--department", metavar="NAME", help="Compare only this department's findings.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True, help="A table, JSON or Markdown.")
def diff(run_a: str, run_b: str, db: str | None, department: str | None, fmt: str) -> None:
    """What changed from RUN_A to RUN_B (ids or 'last'), by finding fingerprint.

    \b
    Sections: new, regressed, still failing, fixed, waived changed, no longer
    evaluated (civiscan docs history). Exit code 0 whatever changed.
    """
    from . import history

    store = open_store(db)
    before_id, after_id = _run_id(store, run_a), _run_id(store, run_b)
    before, after = history.load_findings(store, before_id), history.load_findings(store, after_id)
    if department and department not in (*before["departments"], *after["departments"]):
        raise Fail(f"neither run {before_id} nor run {after_id} has department '{department}'")
    result = history.diff(before, after, department)
    if fmt == "json":
        click.echo(_json(result.to_json()))
    elif fmt == "markdown":
        click.echo(history.diff_markdown(result), nl=False)
    else:
        from .output import inert_lines

        click.echo(inert_lines(history.diff_lines(result)))


@cli.command("history")
@db_option
@click.option("--department", metavar="NAME", help="Only this department's assets and findings.")
@click.option("--asset", metavar="ID|NAME", help="Only this asset (its id department/name, or its name).")
@click.option("-n", "--limit", type=click.IntRange(1, 10_000), default=12, show_default=True, help="The last N runs.")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="A table, or JSON (schema civiscan/history).")
def history_command(db: str | None, department: str | None, asset: str | None, limit: int, fmt: str) -> None:
    """Score and findings per run, oldest first, and the trend of the last N runs."""
    from . import history

    store = open_store(db)
    rows = list(reversed(store.history_runs(limit, department=department, asset=asset)))
    counts = store.history_counts([r["id"] for r in rows], department=department, asset=asset)
    points = [history.point(r, counts[r["id"]]) for r in rows]
    parts = ([f"department {department}"] if department else []) + ([f"asset {asset}"] if asset else [])
    scope = " and ".join(parts) or "all departments"
    if fmt == "json":
        doc = {
            "schema": "civiscan/history",
            "schema_version": 1,
            "department": department,
            "asset": asset,
            "runs": [p.to_json() for p in points],
        }
        click.echo(_json(doc))
    else:
        from .output import inert_lines

        click.echo(inert_lines(history.history_lines(points, scope)))


# --- hosts -------------------------------------------------------------------------


@cli.group()
def hosts() -> None:
    """SSH host keys: the explicit trust-on-first-use step."""


@hosts.command("enrol")
@click.argument("address")
@click.option("--port", type=click.IntRange(1, 65535), default=22, show_default=True, help="SSH port of ADDRESS.")
@click.option("--known-hosts", metavar="FILE", help="known_hosts file to add to (default ~/.ssh/known_hosts).")
@click.option("--replace", is_flag=True, help="Replace keys already recorded for this host (after a legitimate key change).")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=10.0, show_default=True, help="Seconds allowed for the connection and the key exchange.")
def hosts_enrol(address: str, port: int, known_hosts: str | None, replace: bool, timeout: float) -> None:
    """Fetch ADDRESS's SSH host keys, show their fingerprints and record them as trusted.

    Compare the fingerprints with what the host's administrator reads on the
    console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) before relying on them.
    """
    from .models import CollectFailed
    from .transports.ssh import enrol

    path = str(Path(known_hosts).expanduser()) if known_hosts else None
    try:
        keys = enrol(address, port, path, timeout=timeout, replace=replace)
    except CollectFailed as exc:
        raise Fail(f"{address}:{port}: {exc.message} ({exc.reason.value})", ExitCode.INCOMPLETE) from None
    target = path or "~/.ssh/known_hosts"
    for key_type, fp in keys:
        click.echo(f"{address}:{port} {key_type} {fp}")
    click.echo(f"recorded {len(keys)} key(s) in {target}", err=True)


# --- policies / docs / completion ----------------------------------------------------


cli.add_command(inventory_group)


@cli.command("policies")
@click.option("--disable-plugin", "disabled", multiple=True, metavar="NAME", help="Do not load this plugin (repeatable).")
def policies_command(disabled: tuple[str, ...]) -> None:
    """List the shipped policies (usable by name with -p): version, rule count and title."""
    from .policy import builtin_policy_names, load_policies

    registry = plugin_registry(disabled)
    rows = []
    for name in builtin_policy_names():
        ruleset = load_policies([name], registry)
        info = next(p for p in ruleset.policies if p.source == f"builtin:{name}")
        rows.append((name, info.version, str(len(ruleset.rules)), info.title))
    widths = [max(len(r[i]) for r in [("NAME", "VERSION", "RULES", ""), *rows]) for i in range(3)]
    lines = [f"{'NAME':<{widths[0]}}  {'VERSION':<{widths[1]}}  {'RULES':>{widths[2]}}  TITLE"]
    lines += [f"{n:<{widths[0]}}  {v:<{widths[1]}}  {r:>{widths[2]}}  {title}" for n, v, r, title in rows]
    from .output import inert_lines

    click.echo(inert_lines(lines))


@cli.command("docs")
@click.argument("topic", required=False, shell_complete=_complete_topics)
def docs_command(topic: str | None) -> None:
    """List the documentation topics, or print TOPIC (the pages of docs/, shipped with civiscan)."""
    from .options import suggest
    from .output import inert_lines
    from .topics import topic_text, topics

    found = topics()
    if topic is None:
        width = max((len(n) for n in found), default=5)
        click.echo(inert_lines([f"{name:<{width}}  {title}" for name, title in found.items()]))
        return
    try:
        text = topic_text(topic)
    except KeyError:
        raise Fail(f"no documentation topic '{topic}'{suggest(topic, found)} (civiscan docs lists them)") from None
    click.echo(inert_lines(text.splitlines()))


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the shell completion script for SHELL (commands, options, policy names, check ids).

    \b
    bash:  eval "$(civiscan completion bash)"     (in ~/.bashrc)
    zsh:   eval "$(civiscan completion zsh)"      (in ~/.zshrc)
    fish:  civiscan completion fish > ~/.config/fish/completions/civiscan.fish
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    if completer is None:  # click ships all three; a Choice keeps others out
        raise Fail(f"no completion for {shell}")
    click.echo(completer(cli, {}, "civiscan", "_CIVISCAN_COMPLETE").source())


def _show_click_error(exc: click.ClickException) -> None:
    """``error: message`` like every civiscan error; a usage error adds click's usage and help hint.

    A group given no command (``civiscan`` alone) is no error: its help is printed as click prints it.
    """
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):  # click >= 8.2
        exc.show()
        return
    click.echo(f"error: {inert(exc.format_message())}", err=True)
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        ctx = exc.ctx
        click.echo(ctx.get_usage(), err=True)
        option = ctx.help_option_names[0] if ctx.command.get_help_option(ctx) is not None else None
        if option is not None:
            click.echo(f"Try '{ctx.command_path} {option}' for help.", err=True)


def _no_exit_collection() -> None:
    """Have the interpreter's exit skip its last garbage collection of what is alive then.

    That collection walks every module, class and function the command
    imported (~50 ms of CPU after a one-endpoint scan, as much as its probes);
    the process frees them all at once when it ends. ``gc.freeze`` as the last
    exit handler to run skips only that walk: the other exit handlers still
    run, threads are joined and streams flushed, and objects without a cycle
    are still freed (a store's connection closes) as the modules are cleared.
    """
    import atexit
    import gc

    atexit.unregister(gc.freeze)  # once, however often main() runs in one process
    atexit.register(gc.freeze)
    # The imports of a command make ~50 000 objects that live as long as it does: at
    # CPython's 700 allocations per young collection they were walked 72 times (~12 ms of
    # a one-endpoint scan), at 10 000 four times. A cycle waits at most that long for
    # collection in a long-running command (agent, worker).
    gc.set_threshold(10_000, *gc.get_threshold()[1:])


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: one boundary for errors and exit codes."""
    _no_exit_collection()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:]) or os.environ.get("CIVISCAN_DEBUG", "").lower() in ("1", "true", "yes", "on")
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="civiscan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except click.ClickException as exc:
        _show_click_error(exc)
        raise SystemExit(int(ExitCode.CONFIG)) from None
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        raise SystemExit(int(ExitCode.CONFIG)) from None
    except Fail as exc:
        click.echo(f"error: {inert(exc)}", err=True)
        raise SystemExit(int(exc.code)) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(int(ExitCode.INTERRUPTED)) from None
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        needed = missing_extra(exc)
        if needed is not None:
            click.echo(f"error: {needed}", err=True)
            raise SystemExit(int(ExitCode.CONFIG)) from None
        click.echo(f"internal error: {type(exc).__name__}: {inert(exc)} (run with --debug for details)", err=True)
        raise SystemExit(int(ExitCode.INTERNAL)) from None
