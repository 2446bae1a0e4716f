"""``civiscan inventory``: inventories from what a city already keeps (CSV, nmap XML, NetBox)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .errors import ConfigError, ConfigProblem, Position


@click.group("inventory")
def inventory_group() -> None:
    """Build inventories (civiscan docs inventory): civiscan inventory import FORMAT SOURCE -o FILE."""


@inventory_group.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["csv", "nmap-xml", "netbox"]))
@click.argument("source", metavar="SOURCE", type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="FILE", required=True, help="The inventory file to write ('-': standard output).")
@click.option("--department", metavar="NAME", help="Department of every asset (nmap-xml; required there), or of rows and objects that name none.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Tag every host imported from nmap XML (repeatable).")
@click.option("--scope", "scope", multiple=True, metavar="CIDR|DOMAIN", help="The inventory's scope (repeatable); default: exactly the imported addresses and names.")
@click.option("--include-inactive", is_flag=True, help="netbox: also import objects whose status is not 'active'.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def import_command(fmt: str, source: str, output: str, department: str | None, tags: tuple[str, ...],
                   scope: tuple[str, ...], include_inactive: bool, force: bool) -> None:
    """Write a validated inventory from a CSV sheet, an nmap XML report or a NetBox export.

    \b
    CSV: a header row naming some of department, name, host, endpoint, address,
         tags (separated by spaces or ';'), title, ssh_user, ssh_port; each row
         a host or an endpoint.
    nmap-xml: nmap -oX output; each host that is up becomes a host asset, and
         each open https service an endpoint (--department names where they go).
    netbox: a NetBox API page of devices or virtual machines ({"results": [...]})
         or a list of them; the tenant's slug is the department.

    \b
    Examples:
      civiscan inventory import csv assets.csv -o inventory.yaml
      nmap -sV -oX scan.xml 10.20.0.0/24
      civiscan inventory import nmap-xml scan.xml --department parks -o parks.yaml
    Every problem is printed as file:line:col (exit 2); nothing is written then.
    """
    from . import importers
    from .fsutil import atomic_write

    if output != "-" and Path(output).exists() and not force:
        raise click.UsageError(f"{output} exists; pass --force to replace it")
    path = Path(source)
    try:
        if path.stat().st_size > importers.MAX_BYTES:
            raise ConfigError.at(Position(source), f"larger than {importers.MAX_BYTES // 2**20} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{source}: cannot read: {exc.strerror or exc}") from None
    if fmt == "nmap-xml":
        if not department:
            raise click.UsageError("nmap-xml needs --department: an nmap report knows no departments")
        imported = importers.parse_nmap_xml(data, source, department=department, tags=tags)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError.at(Position(source, 1, 1), f"not UTF-8 text (byte {exc.start})") from None
        if fmt == "csv":
            imported = importers.parse_csv(text, source, default_department=department)
        else:
            imported = importers.parse_netbox(text, source, default_department=department,
                                              include_inactive=include_inactive)
    if problems := importers.duplicates(imported, source):
        raise ConfigError(problems)
    if not imported.assets:
        raise click.ClickException(f"{source}: no asset to import" + (
            f" ({len(imported.skipped)} skipped: {'; '.join(imported.skipped[:5])})" if imported.skipped else ""))
    chosen = importers.scope_of(scope) if scope else importers.derived_scope(imported)
    text = importers.inventory_yaml(imported, chosen, source, fmt)
    _validate(text, output)
    if output == "-":
        click.echo(text, nl=False)
    else:
        atomic_write(output, text)
    departments = len({a.department for a in imported.assets})
    click.echo(f"{output}: {len(imported.assets)} assets in {departments} department(s)"
               + (f"; {len(imported.skipped)} skipped" if imported.skipped else ""), err=True)
    for reason in imported.skipped[:20]:
        click.echo(f"  skipped {reason}", err=True)


def _validate(text: str, output: str) -> None:
    """Load the text with the inventory loader: an import is valid or refused (positions name FILE)."""
    import tempfile  # here, not at import: every command imports this module

    from .inventory import load_inventory

    fd, tmp = tempfile.mkstemp(suffix=".yaml", prefix="civiscan-import-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            load_inventory(tmp)
        except ConfigError as exc:
            raise ConfigError([ConfigProblem(Position(output if p.where.path == tmp else p.where.path,
                                                      p.where.line, p.where.col), p.message)
                               for p in exc.problems]) from None
    finally:
        os.unlink(tmp)
