"""``civiscan notify RUN --config agent.yaml``: send (or print) the notifications of a stored run.

Registered in the ``civiscan.commands`` entry-point group. The notifications
block, inventory and departments come from the named schedule of the agent
configuration (docs/agent.md); delivery is :func:`scanner.notify.send.deliver_run`,
so what this command sends is exactly what the agent would, once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from scanner.cli import Fail, db_option, open_store
from scanner.errors import ExitCode
from scanner.inventory import load_inventory
from scanner.output import InertFormatter
from scanner.store import Store
from scanner.yamlpos import PosDict, Shape, escape, load_file, quote

from .config import load_config
from .send import deliver_run

AGENT_SHAPE = Shape("agent configuration", ("agent", "schedules"))


def _schedule(path: str, name: str | None) -> tuple[PosDict, str]:
    """The schedule body (with a ``notifications`` node) and its name."""
    top = load_file(path, AGENT_SHAPE).data
    schedules = top.get("schedules") if isinstance(top, PosDict) else None
    if not isinstance(schedules, PosDict):
        raise Fail(f"{path}: no 'schedules' mapping")
    with_notifications = [n for n, body in schedules.items() if isinstance(body, PosDict) and body.get("notifications") is not None]
    if name is None:
        if len(with_notifications) != 1:
            listed = ", ".join(with_notifications) or "none"
            raise Fail(f"{path}: name the schedule with --schedule (schedules with notifications: {listed})")
        name = with_notifications[0]
    if name not in with_notifications:
        raise Fail(f"{path}: no schedule {quote(name)} with 'notifications' (those with: {', '.join(with_notifications) or 'none'})")
    return schedules[name], name


def _resolve(store: Store, ref: str) -> int:
    run_id = store.resolve_run(ref)
    if run_id is None:
        raise Fail(f"no run {quote(ref)} in {store.location} (civiscan runs lists them)")
    return run_id


@click.command("notify")
@click.argument("run")
@click.option("--config", "config_path", required=True, metavar="FILE", help="The agent configuration (its schedule's 'notifications' block).")
@click.option("--schedule", metavar="NAME", help="The schedule whose notifications apply (needed when several have them).")
@click.option("-i", "--inventory", metavar="FILE", help="Inventory with the departments' contacts (default: the schedule's).")
@click.option("--previous", metavar="RUN", help="Compare with this run (default: the previous run of the same policies).")
@db_option
@click.option("--dry-run", is_flag=True, help="Print the messages as JSON instead of sending them; nothing is recorded.")
def notify(run: str, config_path: str, schedule: str | None, inventory: str | None, previous: str | None, db: str | None, dry_run: bool) -> None:
    """Send the notifications of stored RUN (an id or 'last'): each department its own changes.

    An event already delivered to a recipient is never sent again, so running
    this after the agent only sends what the agent could not deliver.
    """
    body, name = _schedule(config_path, schedule)
    cfg = load_config(body["notifications"], body.value_pos("notifications"))
    inventory_path = inventory
    if inventory_path is None and isinstance(body.get("inventory"), str):
        inventory_path = str(Path(config_path).parent / Path(body["inventory"]).expanduser())
    departments = load_inventory(inventory_path).departments if inventory_path else ()
    store = open_store(db)
    run_id = _resolve(store, run)
    previous_id = _resolve(store, previous) if previous else None
    log = logging.getLogger("civiscan.notify")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(InertFormatter("%(levelname)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    report = deliver_run(store, run_id, cfg, previous_run_id=previous_id, departments=departments, log=log, dry_run=dry_run)
    if dry_run:
        for message in report.messages:
            click.echo(json.dumps(message, indent=2, sort_keys=True, ensure_ascii=True))
        if not report.messages:
            click.echo(f"run {run_id} ({name}): nothing to notify", err=True)
        return
    for delivery in report.deliveries:
        detail = f": {escape(delivery.error)}" if delivery.error else ""
        click.echo(f"{delivery.recipient}: {delivery.status} ({delivery.events} events){detail}")
    if not report.deliveries:
        click.echo(f"run {run_id} ({name}): nothing to send", err=True)
    if not report.ok:
        raise SystemExit(int(ExitCode.INCOMPLETE))


__all__ = ["notify"]
