"""``civiscan inventory import``: an inventory from what a city already has.

Three sources: a CSV sheet (one asset a row), an nmap XML report (``nmap -oX``:
the up hosts, and their TLS services as endpoints), and a NetBox-style JSON
export (devices and virtual machines from ``/api/dcim/devices/`` or
``/api/virtualization/virtual-machines/``, tenants as departments).

Parsing is pure: text in, :class:`Imported` out, every problem as
``file:line:col`` (:class:`scanner.errors.ConfigError`). :func:`inventory_yaml`
writes the result; the command then loads it with the inventory loader, so an
imported inventory is valid by construction or refused.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from .errors import ConfigError, ConfigProblem, Position
from .inventory import host_problem, ip_problem, url_problem

FORMATS = ("csv", "nmap-xml", "netbox")
MAX_BYTES = 256 * 1024 * 1024
"""A source file larger than this is refused: an estate of 100,000 assets takes a few MB."""

_DEPT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
CSV_COLUMNS = ("department", "name", "host", "endpoint", "address", "tags", "title", "ssh_user", "ssh_port")
TLS_SERVICES = {"https", "https-alt", "ssl/http", "ssl/https"}


@dataclass
class ImportedAsset:
    department: str
    host: str | None = None
    endpoint: str | None = None
    address: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    ssh: dict[str, Any] = field(default_factory=dict)
    source: Position | None = None  # where it came from, for duplicate messages

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.host is not None:
            out["host"] = self.host
        if self.endpoint is not None:
            out["endpoint"] = self.endpoint
        if self.address is not None:
            out["address"] = self.address
        if self.name:
            out["name"] = self.name
        if self.tags:
            out["tags"] = list(self.tags)
        if self.ssh:
            out["ssh"] = dict(self.ssh)
        return out

    def key(self) -> tuple[str, str]:
        return self.department, self.name or self.host or self.endpoint or ""


@dataclass
class Imported:
    assets: list[ImportedAsset] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # what was left out, and why (not errors)


class _Problems:
    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []

    def add(self, where: Position, message: str) -> None:
        if len(self.items) < 200:  # every problem at once, but bounded
            self.items.append(ConfigProblem(where, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(self.items)


def _tags(values: Iterable[str], where: Position, problems: _Problems) -> tuple[str, ...]:
    out = []
    for tag in values:
        if not _TAG.match(tag):
            problems.add(where, f"tag {tag!r} must be letters, digits, '_', '.', ':' or '-' (at most 64)")
        elif tag not in out:
            out.append(tag)
    return tuple(out)


# --- CSV -------------------------------------------------------------------------


def _field_columns(line: str) -> list[int]:
    """1-based start column of each comma-separated field of one physical line (quote-aware)."""
    cols, quoted, start = [1], False, True
    for i, ch in enumerate(line):
        if ch == '"' and (start or quoted):
            quoted = not quoted
        elif ch == "," and not quoted:
            cols.append(i + 2)
            start = True
            continue
        start = False
    return cols


def parse_csv(text: str, path: str, *, default_department: str | None = None) -> Imported:
    """Rows with a header naming some of :data:`CSV_COLUMNS`; ``host`` or ``endpoint`` per row.

    ``tags`` holds tags separated by spaces or ``;``. ``title`` names the
    department (the first non-empty one wins).
    """
    problems = _Problems()
    out = Imported()
    lines = text.splitlines()
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError.at(Position(path, 1, 1), "the CSV file is empty; expected a header row") from None
    except csv.Error as exc:
        raise ConfigError.at(Position(path, 1, 1), f"not a CSV file: {exc}") from None
    names = [h.strip().lower() for h in header]
    header_cols = _field_columns(lines[0]) if lines else [1]
    for i, name in enumerate(names):
        if name not in CSV_COLUMNS:
            col = header_cols[i] if i < len(header_cols) else 1
            problems.add(Position(path, 1, col), f"unknown column {name!r}; columns are: {', '.join(CSV_COLUMNS)}")
    if "host" not in names and "endpoint" not in names:
        problems.add(Position(path, 1, 1), "the header needs a 'host' or an 'endpoint' column")
    if "department" not in names and default_department is None:
        problems.add(Position(path, 1, 1), "the header has no 'department' column: add one, or pass --department")
    problems.raise_if_any()
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            cols = _field_columns(lines[line - 1]) if 0 < line <= len(lines) else []

            def at(column: str, *, _cols: list[int] = cols, _line: int = line) -> Position:
                i = names.index(column) if column in names else 0
                return Position(path, _line, _cols[i] if i < len(_cols) else 1)

            if len(row) > len(names):
                problems.add(Position(path, line, cols[len(names)] if len(names) < len(cols) else 1),
                             f"{len(row)} fields, but the header names {len(names)}")
                continue
            cells = {n: (row[i].strip() if i < len(row) else "") for i, n in enumerate(names)}
            _csv_row(cells, at, default_department, out, problems)
    except csv.Error as exc:
        problems.add(Position(path, reader.line_num, 1), f"unreadable CSV: {exc}")
    problems.raise_if_any()
    return out


def _csv_row(cells: Mapping[str, str], at: Any, default_department: str | None, out: Imported,
             problems: _Problems) -> None:
    """One row: every problem of it reported, the asset kept only when there is none."""
    before = len(problems.items)
    department = cells.get("department") or default_department or ""
    if not _DEPT.match(department):
        problems.add(at("department"), f"department {department!r} must be lower-case letters, digits, - or _"
                     if department else "a row needs a department")
    host, endpoint, address = cells.get("host", ""), cells.get("endpoint", ""), cells.get("address", "")
    if bool(host) == bool(endpoint):
        problems.add(at("host" if "host" in cells else "endpoint"), "a row needs exactly one of 'host' and 'endpoint'")
    if host and host != "local" and (why := host_problem(host)):
        problems.add(at("host"), why)
    if endpoint and (why := url_problem(endpoint)):
        problems.add(at("endpoint"), why)
    if address and (why := ip_problem(address)):
        problems.add(at("address"), why)
    ssh: dict[str, Any] = {}
    if cells.get("ssh_user"):
        ssh["user"] = cells["ssh_user"]
    if cells.get("ssh_port"):
        port = cells["ssh_port"]
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            problems.add(at("ssh_port"), f"ssh_port {port!r} must be a number from 1 to 65535")
        else:
            ssh["port"] = int(port)
    if ssh and not host:
        problems.add(at("ssh_user" if "ssh_user" in ssh else "ssh_port"), "SSH settings belong to a host, not an endpoint")
    tags = _tags([t for t in re.split(r"[;\s]+", cells.get("tags", "")) if t], at("tags"), problems)
    if len(problems.items) > before:
        return
    if cells.get("title") and department not in out.titles:
        out.titles[department] = cells["title"]
    out.assets.append(ImportedAsset(department, host or None, endpoint or None, address or None,
                                    cells.get("name") or None, tags, ssh, at("host" if host else "endpoint")))


# --- nmap XML ---------------------------------------------------------------------


def parse_nmap_xml(data: bytes, path: str, *, department: str, tags: Sequence[str] = ()) -> Imported:
    """Every host nmap saw up: a host asset, plus an endpoint for each open TLS web service.

    The name is the host's user-given or PTR name when nmap reports one. No
    entity is expanded: a DOCTYPE is refused (nmap never writes one with
    entities), so an XML bomb cannot cost memory.
    """
    if not _DEPT.match(department):
        raise ConfigError.at(Position("--department", 1, 1),
                             f"department {department!r} must be lower-case letters, digits, - or _")
    head = data[:4096].lower()
    if b"<!entity" in head or (b"<!doctype" in head and b"[" in head.split(b"<!doctype", 1)[1][:512]):
        raise ConfigError.at(Position(path, 1, 1), "an XML document type with declarations is refused")
    problems = _Problems()
    out = Imported()
    base_tags = _tags(tags, Position("--tag", 1, 1), problems)
    seen_root = False
    try:
        for event, elem in ET.iterparse(io.BytesIO(data), events=("start", "end")):
            if event == "start" and not seen_root:
                seen_root = True
                if elem.tag != "nmaprun":
                    raise ConfigError.at(Position(path, 1, 1), f"not an nmap XML report (root <{elem.tag}>, "
                                                               "expected <nmaprun>; write one with nmap -oX)")
            if event == "end" and elem.tag == "host":
                _nmap_host(elem, path, department, base_tags, out, problems)
                elem.clear()
    except ET.ParseError as exc:
        line, col = exc.position
        reason = re.sub(r": line \d+, column \d+$", "", str(exc))
        raise ConfigError.at(Position(path, line, col + 1), f"not well-formed XML: {reason}") from None
    problems.raise_if_any()
    return out


def _nmap_host(elem: ET.Element, path: str, department: str, tags: tuple[str, ...], out: Imported,
               problems: _Problems) -> None:
    status = elem.find("status")
    address = next((a.get("addr") for a in elem.findall("address") if a.get("addrtype") in ("ipv4", "ipv6")), None)
    if address is None:
        return
    if status is not None and status.get("state") != "up":
        out.skipped.append(f"{address}: {status.get('state')}")
        return
    if ip_problem(address):
        problems.add(Position(path, 1, 1), f"nmap host address {address!r} is not an IP literal")
        return
    names = [h.get("name") or "" for h in elem.findall("hostnames/hostname")]
    names.sort(key=lambda n: 0 if n else 1)
    name = next((n.rstrip(".") for n in names if n and not host_problem(n.rstrip("."))), None)
    out.assets.append(ImportedAsset(department, host=address, name=name or None, tags=tags))
    for port in elem.findall("ports/port"):
        state = port.find("state")
        service = port.find("service")
        if port.get("protocol") != "tcp" or state is None or state.get("state") != "open" or service is None:
            continue
        svc = (service.get("name") or "").lower()
        tunnelled = service.get("tunnel") == "ssl" and svc in ("http", "http-alt", "http-proxy", "https", "https-alt")
        if svc not in TLS_SERVICES and not tunnelled:
            continue
        number = int(port.get("portid") or 0)
        host = name or (f"[{address}]" if ":" in address else address)
        url = f"https://{host}/" if number == 443 else f"https://{host}:{number}/"
        if url_problem(url):
            continue
        out.assets.append(ImportedAsset(department, endpoint=url, address=address if name else None,
                                        tags=tuple(dict.fromkeys([*tags, "web"]))))


# --- NetBox -------------------------------------------------------------------------


def parse_netbox(text: str, path: str, *, default_department: str | None = None,
                 include_inactive: bool = False) -> Imported:
    """Devices and VMs of a NetBox export: ``{"results": [...]}`` (one API page), or a list of them.

    The department is the object's tenant slug (``--department`` for objects
    without a tenant); the address is ``primary_ip`` (or ``primary_ip4``/``6``)
    without its prefix length; tags are the tag slugs; objects whose status is
    not ``active`` are skipped unless asked for.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError.at(Position(path, exc.lineno, exc.colno), f"not valid JSON: {exc.msg}") from None
    pages = data if isinstance(data, list) and all(isinstance(p, dict) and "results" in p for p in data) else [data]
    objects: list[Any] = []
    for page in pages:
        if isinstance(page, dict) and isinstance(page.get("results"), list):
            objects.extend(page["results"])
        elif isinstance(page, list):
            objects.extend(page)
        else:
            raise ConfigError.at(Position(path, 1, 1), "expected a NetBox API page ({\"results\": [...]}) "
                                                       "or a list of devices and virtual machines")
    problems = _Problems()
    out = Imported()
    for index, obj in enumerate(objects):
        where = Position(path, 1, 1)
        label = f"object {index + 1}"
        if not isinstance(obj, dict):
            problems.add(where, f"{label} is not a JSON object")
            continue
        name = obj.get("name") if isinstance(obj.get("name"), str) else None
        label = f"{label} ({name})" if name else label
        status = obj.get("status")
        status_value = status.get("value") if isinstance(status, dict) else status
        if status_value not in (None, "active") and not include_inactive:
            out.skipped.append(f"{name or label}: status {status_value}")
            continue
        tenant = obj.get("tenant") if isinstance(obj.get("tenant"), dict) else None
        department = (tenant or {}).get("slug") or default_department
        if not department:
            problems.add(where, f"{label} has no tenant: pass --department for objects without one")
            continue
        if not _DEPT.match(str(department)):
            problems.add(where, f"{label}: tenant slug {department!r} must be lower-case letters, digits, - or _")
            continue
        if tenant and tenant.get("name") and department not in out.titles:
            out.titles[department] = str(tenant["name"])
        ip = next((obj.get(k) for k in ("primary_ip", "primary_ip4", "primary_ip6") if isinstance(obj.get(k), dict)), None)
        address = str(ip.get("address", "")).split("/", 1)[0] if ip else ""
        if not address:
            out.skipped.append(f"{name or label}: no primary IP")
            continue
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            problems.add(where, f"{label}: primary IP {address!r} is not an IP address")
            continue
        raw_tags = obj.get("tags") if isinstance(obj.get("tags"), list) else []
        tags = _tags([str(t.get("slug") or t.get("name")) for t in raw_tags if isinstance(t, dict)], where, problems)
        asset_name = name if name and "/" not in name and name.strip() == name else None
        out.assets.append(ImportedAsset(str(department), host=address, name=asset_name, tags=tags))
    problems.raise_if_any()
    return out


# --- output ---------------------------------------------------------------------------


def duplicates(imported: Imported, path: str) -> list[ConfigProblem]:
    """Assets that would get the same id (``department/name``): the inventory would refuse them."""
    seen: dict[tuple[str, str], ImportedAsset] = {}
    out = []
    for asset in imported.assets:
        key = asset.key()
        if key in seen:
            first = seen[key].source
            out.append(ConfigProblem(asset.source or Position(path, 1, 1), f"duplicate asset '{key[0]}/{key[1]}'"
                                     + (f" (first at {first})" if first else "") + "; give it a distinct name"))
        else:
            seen[key] = asset
    return out


def scope_of(values: Iterable[str]) -> dict[str, list[str]]:
    """A ``scope`` mapping from addresses, CIDRs and names: IPs and networks go to ``networks``,
    the rest to ``domains``, each once and in order."""
    networks: dict[str, None] = {}
    domains: dict[str, None] = {}
    for value in values:
        try:
            networks[str(ipaddress.ip_network(value, strict=False))] = None
        except ValueError:
            domains[value] = None
    return {k: list(v) for k, v in (("networks", networks), ("domains", domains)) if v}


def derived_scope(imported: Imported) -> dict[str, list[str]]:
    """The narrowest scope holding every imported asset: each address, and each endpoint's host name."""
    names = []
    for asset in imported.assets:
        names += [asset.host, asset.address, urlsplit(asset.endpoint).hostname if asset.endpoint else None]
    return scope_of(n for n in names if n and n != "local")


def inventory_yaml(imported: Imported, scope: Mapping[str, Sequence[str]], source: str, fmt: str) -> str:
    """The inventory file's text: departments sorted, assets in source order."""
    departments: dict[str, dict[str, Any]] = {}
    for asset in imported.assets:
        dept = departments.setdefault(asset.department, {})
        if asset.department in imported.titles:
            dept.setdefault("title", imported.titles[asset.department])
        dept.setdefault("assets", []).append(asset.spec())
    body = {
        "scope": {k: list(v) for k, v in scope.items()},
        "departments": {name: departments[name] for name in sorted(departments)},
    }
    header = (f"# Imported by civiscan inventory import from {fmt} {source!r}.\n"
              "# Review the scope before the first scan: it holds exactly the imported addresses and names\n"
              "# unless --scope was given.\n")
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=120)
