"""The agent's configuration file (docs/agent.md), read with civiscan's positioned YAML loader.

Every problem is reported as ``file:line:col: message``, all of a file's
problems at once, exactly as for policies and inventories. Relative paths in
the file are relative to the file's folder, so a service started from ``/``
reads the same files as an operator testing it from the config's folder.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from croniter import croniter

from ..errors import ConfigError, Position
from ..models import Severity
from ..options import suggest, validate_options
from ..plugin import Registry
from ..reader import Reader
from ..yamlpos import PosDict, Shape, load_file, quote

AGENT_SHAPE = Shape("agent configuration", ("agent",))
SCHEDULE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# A year: a longer interval or jitter is a typo, and bounded numbers keep the arithmetic finite.
MAX_SECONDS = 366 * 86400.0
REPORT_FORMATS = ("html", "json", "junit", "sarif", "csv", "markdown")

_AGENT_KEYS = ("db", "grace", "on_interrupted", "metrics_file", "reports")
_SCHEDULE_KEYS = (
    "cron", "timezone", "interval", "jitter", "overlap", "policies", "inventory", "departments",
    "targets", "scope", "db", "reports", "formats", "fail_on", "scan", "keep_runs", "keep_days",
    "notifications", "rejudge",
)
_SCAN_KEYS = ("timeout", "concurrency", "per_host", "settings", "engine", "broker")


@dataclass(frozen=True)
class ScanOptions:
    timeout: float = 5.0
    concurrency: int = 32
    per_host: int = 4
    settings: Mapping[str, Any] = field(default_factory=dict)
    engine: str = "local"  # or "celery": the jobs run on workers (docs/scale-out.md)
    broker: str | None = None  # the celery engine's Redis URL (else $CIVISCAN_BROKER); never a password


@dataclass(frozen=True)
class Schedule:
    name: str
    policies: tuple[str, ...]
    cron: str | None = None
    timezone: str = "UTC"
    interval: float | None = None
    jitter: float = 0.0
    overlap: str = "skip"
    inventory: str | None = None
    departments: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    db: str | None = None
    reports: str | None = None
    formats: tuple[str, ...] = ("html", "json")
    fail_on: Severity = Severity.LOW
    scan: ScanOptions = ScanOptions()
    keep_runs: int | None = None
    keep_days: int | None = None
    # What scanner.notify.load_config made of the `notifications:` node (None: none configured).
    notifications: Any = None
    # Re-judge instead of scanning: at each slot, evaluate the latest run of this
    # schedule or of the named one again when the datasets its checks read changed.
    rejudge: str | None = None

    def slot_after(self, moment: dt.datetime) -> dt.datetime:
        """The first scheduled moment strictly after ``moment`` (UTC).

        Interval slots are multiples of the interval since the epoch and cron
        slots are the expression's, so every agent on a store names the same
        slots: that is how two agents tell that a slot has already been run.
        """
        if self.interval is not None:
            stamp = moment.timestamp()
            step = self.interval
            return dt.datetime.fromtimestamp((stamp // step + 1) * step, dt.UTC)
        assert self.cron is not None
        local = moment.astimezone(zoneinfo.ZoneInfo(self.timezone))
        nxt: dt.datetime = croniter(self.cron, local).get_next(dt.datetime)
        return nxt.astimezone(dt.UTC)


@dataclass(frozen=True)
class AgentConfig:
    path: str
    schedules: tuple[Schedule, ...]
    db: str | None = None
    grace: float = 10.0
    on_interrupted: str = "resume"
    metrics_file: str | None = None


NotifyLoader = Callable[[Any, Position], Any]


def parse_duration(value: Any) -> float | None:
    """Seconds of ``2s``, ``500ms``, ``5m``, ``1.5h``, ``1d`` or a bare number of seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    return None


def load_config(path: str, registry: Registry | None = None, notify: NotifyLoader | None = None) -> AgentConfig:
    """Read and validate an agent configuration; raise ConfigError with every problem.

    ``registry`` checks plugin setting names and values; ``notify`` turns a
    schedule's ``notifications:`` node into the notification library's config
    (without it, the node is not read: the caller does not notify).
    """
    data = load_file(path, AGENT_SHAPE).data
    r = Reader(path)
    base = Path(path).resolve().parent
    top = r.mapping(data, Position(path, 1, 1), "an agent configuration")
    if top is None:
        r.raise_if_any()
        raise AssertionError("unreachable")
    r.keys(top, "the agent configuration", ("agent", "schedules"), required=("schedules",))
    agent = r.mapping(top["agent"], top.value_pos("agent"), "'agent'") if top.get("agent") is not None else PosDict()
    agent = agent if agent is not None else PosDict()
    r.keys(agent, "'agent'", _AGENT_KEYS)
    grace = _seconds(r, agent, "grace", "'agent'", 10.0, minimum=0.0)
    on_interrupted = r.choice(agent, "on_interrupted", "'agent'", ("resume", "close"), default="resume")
    db = _path(r, agent, "db", "'agent'", base)
    metrics = _path(r, agent, "metrics_file", "'agent'", base)
    reports_root = _path(r, agent, "reports", "'agent'", base)
    schedules: list[Schedule] = []
    raw = r.mapping(top.get("schedules"), top.value_pos("schedules"), "'schedules'") if "schedules" in top else None
    if raw is not None:
        if not raw:
            r.error(raw.here(), "'schedules' names no schedule")
        for name, node in raw.items():
            where = raw.key_pos(name)
            if not isinstance(name, str) or not SCHEDULE_NAME.match(name):
                r.error(where, f"schedule name {quote(name)} must be lower-case letters, digits, '-' or '_' (at most 64)")
                continue
            body = r.mapping(node, raw.value_pos(name), f"schedule '{name}'")
            if body is not None:
                schedule = _schedule(r, name, body, base, db, reports_root, registry, notify)
                if schedule is not None:
                    schedules.append(schedule)
    r.raise_if_any()
    return AgentConfig(path, tuple(schedules), db, grace if grace is not None else 10.0,
                       on_interrupted or "resume", metrics)


def _schedule(
    r: Reader, name: str, body: PosDict, base: Path, db: str | None, reports_root: str | None,
    registry: Registry | None, notify: NotifyLoader | None,
) -> Schedule | None:
    what = f"schedule '{name}'"
    before = len(r.problems)
    r.keys(body, what, _SCHEDULE_KEYS, required=("policies",))
    cron = r.string(body, "cron", what)
    interval = _seconds(r, body, "interval", what, None, minimum=0.001)
    if cron is None and interval is None and "cron" not in body and "interval" not in body:
        r.error(body.here(), f"{what} needs 'cron' (e.g. \"0 2 * * *\") or 'interval' (e.g. 1h)")
    if "cron" in body and "interval" in body:
        r.error(body.key_pos("interval"), f"{what} has both 'cron' and 'interval'; give one")
    if cron is not None and not croniter.is_valid(cron):
        r.error(body.value_pos("cron"), f"'cron' of {what}: {quote(cron)} is not a cron expression (minute hour day month weekday)")
    timezone = r.string(body, "timezone", what) or "UTC"
    if "timezone" in body and "interval" in body:
        r.error(body.key_pos("timezone"), f"'timezone' of {what} applies to 'cron' only")
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        r.error(body.value_pos("timezone"), f"'timezone' of {what}: unknown time zone {quote(timezone)} (e.g. Europe/Berlin, UTC)")
    jitter = _seconds(r, body, "jitter", what, 0.0, minimum=0.0)
    overlap = r.choice(body, "overlap", what, ("skip", "wait"), default="skip")
    policies = tuple(_maybe_path(p, base) for p in r.strings(body, "policies", what))
    if "policies" in body and not policies:
        r.error(body.value_pos("policies"), f"'policies' of {what} names no policy")
    inventory = _path(r, body, "inventory", what, base)
    departments = tuple(r.strings(body, "departments", what))
    if departments and inventory is None:
        r.error(body.key_pos("departments"), f"'departments' of {what} needs an 'inventory'")
    targets = tuple(r.strings(body, "targets", what))
    rejudge = r.string(body, "rejudge", what)
    if rejudge is not None and not SCHEDULE_NAME.match(rejudge):
        r.error(body.value_pos("rejudge"), f"'rejudge' of {what} must name a schedule, got {quote(rejudge)}")
    if rejudge is not None and (inventory is not None or targets):
        r.error(body.key_pos("rejudge"), f"{what} re-judges stored facts; it takes no 'inventory' or 'targets'")
    if rejudge is None and inventory is None and not targets:
        r.error(body.here(), f"{what} needs an 'inventory' or 'targets'")
    scope = tuple(r.strings(body, "scope", what))
    formats = tuple(r.strings(body, "formats", what)) or ("html", "json")
    for f in formats:
        if f not in REPORT_FORMATS:
            r.error(body.value_pos("formats"), f"format {quote(f)} of {what} is not one of {', '.join(REPORT_FORMATS)}{suggest(f, REPORT_FORMATS)}")
    fail_on = r.choice(body, "fail_on", what, [s.value for s in Severity], default="low")
    scan = _scan_options(r, body, what, registry)
    keep_runs = _count(r, body, "keep_runs", what)
    keep_days = _count(r, body, "keep_days", what)
    reports = _path(r, body, "reports", what, base) or (str(Path(reports_root) / name) if reports_root else None)
    notifications = None
    if body.get("notifications") is not None and notify is not None:
        try:
            notifications = notify(body["notifications"], body.value_pos("notifications"))
        except ConfigError as exc:
            for p in exc.problems:
                r.error(p.where, p.message)
    if len(r.problems) > before:
        return None
    return Schedule(
        name, policies, cron, timezone, interval, jitter or 0.0, overlap or "skip", inventory, departments,
        targets, scope, _path(r, body, "db", what, base) or db, reports, formats, Severity(fail_on or "low"),
        scan, keep_runs, keep_days, notifications, rejudge,
    )


def _scan_options(r: Reader, body: PosDict, what: str, registry: Registry | None) -> ScanOptions:
    if "scan" not in body:
        return ScanOptions()
    node = r.mapping(body["scan"], body.value_pos("scan"), f"'scan' of {what}")
    if node is None:
        return ScanOptions()
    here = f"'scan' of {what}"
    r.keys(node, here, _SCAN_KEYS)
    timeout = _seconds(r, node, "timeout", here, 5.0, minimum=0.05, maximum=600.0)
    concurrency = _count(r, node, "concurrency", here, maximum=4096) or 32
    per_host = _count(r, node, "per_host", here, maximum=256) or 4
    settings: dict[str, Any] = {}
    if "settings" in node:
        given = r.mapping(node["settings"], node.value_pos("settings"), f"'settings' of {here}")
        declared = dict(registry.settings()) if registry is not None else {}
        for key, value in (given or {}).items():
            if registry is None:
                settings[key] = value
            elif key not in declared:
                r.error(given.key_pos(key), f"unknown plugin setting {quote(key)}{suggest(key, declared)}")  # type: ignore[union-attr]
            else:
                converted, problems = validate_options({key: declared[key]}, {key: value}, key)
                for p in problems:
                    r.error(given.value_pos(key), f"setting '{key}': {p.message.split(': ', 1)[-1]}")  # type: ignore[union-attr]
                settings.update(converted)
    engine = r.choice(node, "engine", here, ("local", "celery"), default="local") or "local"
    broker = r.string(node, "broker", here)
    if engine == "celery" or broker is not None:
        from ..fleet.broker import BrokerConfig

        try:
            BrokerConfig.load(broker, {} if broker is not None else None)
        except ConfigError as exc:
            at = node.value_pos("broker") if "broker" in node else node.key_pos("engine") if "engine" in node else node.here()
            r.error(at, exc.problems[0].message)
    return ScanOptions(timeout or 5.0, concurrency, per_host, settings, engine, broker)


def _seconds(r: Reader, data: PosDict, key: str, what: str, default: float | None, *,
             minimum: float, maximum: float = MAX_SECONDS) -> float | None:
    if key not in data:
        return default
    value = parse_duration(data[key])
    if value is None or not minimum <= value <= maximum:
        r.error(data.value_pos(key), f"'{key}' of {what} must be a duration from {minimum:g}s to {_show(maximum)} "
                f"(e.g. 2s, 5m, 1h), got {quote(data[key])}")
        return default
    return value


def _show(seconds: float) -> str:
    return f"{seconds / 86400:g}d" if seconds >= 86400 else f"{seconds:g}s"


def _count(r: Reader, data: PosDict, key: str, what: str, *, maximum: int = 1_000_000) -> int | None:
    if key not in data:
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        r.error(data.value_pos(key), f"'{key}' of {what} must be a whole number from 1 to {maximum}, got {quote(value)}")
        return None
    return value


def _path(r: Reader, data: PosDict, key: str, what: str, base: Path) -> str | None:
    value = r.string(data, key, what)
    return str(base / Path(value).expanduser()) if value is not None else None


def _maybe_path(value: str, base: Path) -> str:
    """A policy file relative to the config's folder; a shipped name (``baseline``) as given."""
    candidate = base / Path(value).expanduser()
    return str(candidate) if "/" in value or value.endswith((".yaml", ".yml")) or candidate.exists() else value
