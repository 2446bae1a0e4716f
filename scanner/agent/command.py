"""``civiscan agent``: run schedules as a service, once (for cron and timers), or show their status."""

from __future__ import annotations

import datetime as dt
import json

import click

from ..cli import open_store, plugin_registry
from .logs import FORMATS, Log

_CONFIG_HELP = "Agent configuration file (civiscan docs agent)."


@click.group("agent", invoke_without_command=True)
@click.option("--config", "config_path", metavar="FILE", help=_CONFIG_HELP)
@click.option("--once", is_flag=True, help="Run every schedule once, now, then exit (for cron and systemd timers).")
@click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Log lines on stderr as text or as JSON lines.")
@click.pass_context
def agent(ctx: click.Context, config_path: str | None, once: bool, log_format: str) -> None:
    """Scan on schedules: cron or intervals, per-department report folders, retention, notifications.

    \b
    Examples:
      civiscan agent --config /etc/civiscan/agent.yaml
      civiscan agent --config agent.yaml --once
      civiscan agent status --config agent.yaml

    SIGTERM or SIGINT stops it (running runs get the configured grace period,
    then are cut and resumed on the next start); SIGHUP reloads the configuration.
    Exit codes: 0 stopped (or --once: every run completed), 2 configuration error,
    3 (--once) a run could not start or complete.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not config_path:
        raise click.UsageError("--config FILE is required (or use: civiscan agent status --config FILE)")
    from ..plugin import load_registry
    from .loop import Agent, load
    from .runner import store_path

    log = Log(log_format)
    registry = load_registry()
    for warning in registry.warnings:
        log("plugin.warning", warning, level="warning")
    config = load(config_path, registry)
    for schedule in config.schedules:
        open_store(str(store_path(schedule))).close()  # an unusable store fails now, not at the first slot
    runner = Agent(config, registry, log, reload=lambda: load(config_path, registry))
    runner.install_signals()
    code = runner.once() if once else runner.serve()
    raise SystemExit(int(code))


@agent.command("status")
@click.option("--config", "config_path", metavar="FILE", required=True, help=_CONFIG_HELP)
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="A table, or JSON.")
def status(config_path: str, fmt: str) -> None:
    """Print each schedule's last run, its result, and its next run."""
    from ..store import Store
    from .config import load_config
    from .runner import notify_loader, store_path
    from .status import schedule_status, status_table

    config = load_config(config_path, plugin_registry(), notify_loader())
    now = dt.datetime.now(dt.UTC)
    rows = []
    for schedule in config.schedules:
        with Store(store_path(schedule)) as store:
            rows.append(schedule_status(store, schedule, now))
    if fmt == "json":
        click.echo(json.dumps([
            {"schedule": s.name, "last_run": s.last_run, "status": s.last_status, "exit_code": s.last_exit,
             "finished": s.last_finished.isoformat() if s.last_finished else None,
             "last_success": s.last_success.isoformat() if s.last_success else None,
             "failures": s.failures, "held_by": s.held_by, "next_run": s.next_slot.isoformat()}
            for s in rows], indent=2))
    else:
        click.echo(status_table(rows))
