"""The inventory: departments, their assets, and the scope that may be scanned at all.

Format (docs/inventory.md)::

    scope:
      networks: [127.0.0.0/8]
      domains: [parks.example, "*.city.example"]
    defaults:
      ssh: {user: audit}
    departments:
      parks:
        title: Parks and Recreation
        assets:
          - host: 127.0.10.1
            name: parks-db
            tags: [db]
          - endpoint: https://www.parks.example/
            address: 127.0.10.2
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import ConfigError, Position
from .models import ENDPOINT_SCHEMES, Asset, AssetKind, SSHSettings
from .netutil import is_ip
from .reader import Reader
from .yamlpos import (
    EXCERPT_CHARS,
    PosDict,
    PosList,
    Shape,
    excerpt,
    load_file,
    quote,
)

if TYPE_CHECKING:
    from .notify.contacts import Contacts


def _no_contacts() -> Contacts:
    # scanner.notify.contacts is imported by inventories with departments, not by a scan of targets.
    from .notify.contacts import Contacts

    return Contacts()


_DEPT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[^\s/][^/]{0,199}$")
_FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$")
ADHOC_DEPARTMENT = "adhoc"
# The top level a file must have before anything in it is read or quoted.
INVENTORY_SHAPE = Shape("inventory", ("scope", "departments"))


@dataclass(frozen=True)
class Scope:
    """Networks and domains that may be scanned. Empty parts restrict nothing of their kind."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    domains: tuple[str, ...] = ()

    def allows_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def allows_name(self, name: str) -> bool:
        name = name.rstrip(".").lower()
        for pattern in self.domains:
            pattern = pattern.lower()
            if pattern.startswith("*."):
                if fnmatch.fnmatchcase(name, pattern) or name == pattern[2:]:
                    return True
            elif name == pattern or name.endswith("." + pattern):
                return True
        return False

    def refusal(self, asset: Asset, resolved: str | None = None) -> str | None:
        """Why ``asset`` (reached at ``resolved``) may not be scanned, or None if it may.

        A name must match ``domains`` when domains are listed; every address a
        packet would go to must lie in ``networks`` when networks are listed.
        Called once on the inventory (literal addresses) and again after name
        resolution, before the first packet to the target.
        """
        if asset.is_local:
            return None  # runs on this machine; no packet leaves it
        host = asset.hostname
        why = self.host_refusal(host)
        if why:
            return why
        target = resolved or asset.address
        if target and is_ip(target) and target != host and self.networks and not self.allows_address(target):
            return f"{host} is reached at {target}, outside the allowed networks ({self._nets()})"
        return None

    def host_refusal(self, host: str) -> str | None:
        """Why ``host`` as written (an address or a name, before any lookup) is out of scope."""
        if is_ip(host):
            if not self.allows_address(host):
                return f"{host} is outside the allowed networks ({self._nets()})"
        elif self.domains and not self.allows_name(host):
            return f"{host} is outside the allowed domains ({', '.join(self.domains)})"
        elif not self.domains and not self.networks:
            return "the scope allows nothing"
        return None

    def _nets(self) -> str:
        return ", ".join(str(n) for n in self.networks) or "none"

    def to_json(self) -> dict[str, list[str]]:
        return {"networks": [str(n) for n in self.networks], "domains": list(self.domains)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scope:
        return cls(
            tuple(ipaddress.ip_network(n, strict=False) for n in data.get("networks", ())),
            tuple(data.get("domains", ())),
        )


@dataclass(frozen=True)
class Department:
    name: str
    title: str = ""
    contact: str = ""
    contacts: Contacts = field(default_factory=_no_contacts)  # who is notified of this department's changes (docs/notifications.md)


@dataclass(frozen=True)
class Inventory:
    assets: tuple[Asset, ...]
    scope: Scope
    departments: tuple[Department, ...] = ()
    digest: str | None = None
    source: str | None = None
    positions: Mapping[str, Position] = field(default_factory=dict)


_TOP = ["scope", "defaults", "departments"]
_ASSET_KEYS = ["host", "endpoint", "name", "address", "tags", "ssh", "ca_file", "zone"]
# A network zone: its assets' jobs go to the workers of queue civiscan.zone.NAME.
_ZONE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_SSH_KEYS = [
    "user",
    "port",
    "key_file",
    "password_env",
    "passphrase_env",
    "jump",
    "host_key_fingerprints",
    "known_hosts",
    "sudo",
    "transport",
]
_SECRET_KEYS = {"password", "passphrase", "secret", "token", "private_key", "key"}


def load_inventory(path: str) -> Inventory:
    document = load_file(path, INVENTORY_SHAPE)
    data = document.data
    r = Reader(path)
    top = r.mapping(data, Position(path, 1, 1), "an inventory file")
    if top is None:
        r.raise_if_any()
        raise AssertionError("unreachable")
    r.keys(top, "the inventory", _TOP, required=["scope", "departments"])
    before_scope = len(r.problems)
    scope = _parse_scope(r, top)
    scope_ok = len(r.problems) == before_scope
    defaults_ssh: PosDict | None = None
    if "defaults" in top:
        defaults = r.mapping(top["defaults"], top.value_pos("defaults"), "'defaults'")
        if defaults is not None:
            r.keys(defaults, "'defaults'", ["ssh"])
            if "ssh" in defaults:
                defaults_ssh = r.mapping(defaults["ssh"], defaults.value_pos("ssh"), "'defaults.ssh'")
    assets: list[Asset] = []
    departments: list[Department] = []
    positions: dict[str, Position] = {}
    if "departments" in top:
        from .notify.contacts import parse_contacts

        depts = r.mapping(top["departments"], top.value_pos("departments"), "'departments'")
        for name, body in (depts or {}).items():
            assert depts is not None
            if not isinstance(name, str) or not _DEPT.match(name):
                r.error(depts.key_pos(name), f"department name {quote(name)} must be lower-case letters, digits, - or _")
                continue
            dept = r.mapping(body, depts.value_pos(name), f"department '{name}'")
            if dept is None:
                continue
            r.keys(dept, f"department '{name}'", ["title", "contact", "contacts", "assets", "zone"], required=["assets"])
            dept_zone = _parse_zone(r, dept, f"department '{name}'")
            r.refuse_controls(dept, ("title", "contact"), f"department '{name}'")
            departments.append(
                Department(
                    name,
                    r.string(dept, "title", f"department '{name}'") or "",
                    r.string(dept, "contact", f"department '{name}'") or "",
                    parse_contacts(r, dept["contacts"], dept.value_pos("contacts"), f"contacts of '{name}'")
                    if "contacts" in dept
                    else _no_contacts(),
                )
            )
            seq = r.sequence(dept.get("assets"), dept.value_pos("assets"), f"assets of '{name}'") if "assets" in dept else None
            for i, item in enumerate(seq or []):
                assert seq is not None
                asset = _parse_asset(r, item, seq.item_pos(i), name, defaults_ssh, scope, dept_zone)
                if asset is None:
                    continue
                if asset.id in positions:
                    r.error(seq.item_pos(i), f"duplicate asset '{asset.id}' (first at {positions[asset.id]}); give it a distinct name")
                    continue
                positions[asset.id] = seq.item_pos(i)
                assets.append(asset)
    # Judged with the other problems, so one run lists them all; a broken scope would refuse everything.
    for asset in assets if scope_ok else ():
        if why := scope.refusal(asset):
            r.error(positions[asset.id], f"{asset.id} is out of scope: {why}")
    r.raise_if_any()
    return Inventory(
        tuple(assets),
        scope,
        tuple(departments),
        digest=document.digest,
        source=path,
        positions=positions,
    )


def _parse_scope(r: Reader, top: PosDict) -> Scope:
    if "scope" not in top:
        return Scope()
    data = r.mapping(top["scope"], top.value_pos("scope"), "'scope'")
    if data is None:
        return Scope()
    r.keys(data, "'scope'", ["networks", "domains"])
    networks = []
    raw_nets = data.get("networks")
    for i, text in enumerate(r.strings(data, "networks", "'scope'")):
        where = raw_nets.item_pos(i) if isinstance(raw_nets, PosList) else data.value_pos("networks")
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError as exc:
            # ipaddress repeats the text in full; only a short text may be repeated.
            why = f": {exc}" if len(text) <= EXCERPT_CHARS else ""
            r.error(where, f"invalid network {quote(text)}{why}")
    domains = []
    for text in r.strings(data, "domains", "'scope'"):
        bare = text[2:] if text.startswith("*.") else text
        problem = host_problem(bare)
        if problem or is_ip(bare):
            r.error(data.value_pos("domains"), f"invalid domain {quote(text)}" + (f": {problem}" if problem else " (addresses go in 'networks')"))
        else:
            domains.append(text.lower())
    if not networks and not domains:
        r.error(data.here(), "'scope' allows nothing: list networks and/or domains")
    return Scope(tuple(networks), tuple(domains))


def _parse_zone(r: Reader, data: PosDict, what: str) -> str | None:
    zone = r.string(data, "zone", what)
    if zone is not None and not _ZONE.match(zone):
        r.error(data.value_pos("zone"), f"zone {quote(zone)} must be lower-case letters, digits, - or _ (at most 64)")
        return None
    return zone


def _parse_asset(
    r: Reader, item: Any, where: Position, dept: str, defaults_ssh: PosDict | None, scope: Scope,
    dept_zone: str | None = None,
) -> Asset | None:
    data = r.mapping(item, where, f"an asset of '{dept}'")
    if data is None:
        return None
    before = len(r.problems)
    r.keys(data, "an asset", _ASSET_KEYS)
    r.refuse_controls(data, ("host", "endpoint", "name", "tags"), "an asset")
    kinds = [k for k in ("host", "endpoint") if k in data]
    if len(kinds) != 1:
        r.error(data.here(), "an asset needs exactly one of 'host: ADDRESS' or 'endpoint: https://URL'")
        return None
    kind = AssetKind(kinds[0])
    target = r.string(data, kinds[0], "an asset")
    name = r.string(data, "name", "an asset")
    address = r.string(data, "address", "an asset")
    tags = tuple(r.strings(data, "tags", "an asset"))
    ca_file = r.string(data, "ca_file", "an asset")
    zone = _parse_zone(r, data, "an asset") or dept_zone
    url = None
    if target is None:
        return None
    if kind is AssetKind.HOST:
        problem = None if target == "local" else host_problem(target)
        if problem:
            r.error(data.value_pos("host"), f"invalid host: {problem}")
        if address is not None:
            r.error(data.key_pos("address"), "'address' is for endpoints; a host's address is its 'host' value")
        address = target
    else:
        problem = url_problem(target)
        if problem:
            r.error(data.value_pos("endpoint"), problem)
        url = target
    if address is not None and kind is AssetKind.ENDPOINT and (problem := ip_problem(address)):
        r.error(data.value_pos("address"), f"'address' must be an IP address: {problem}")
    ssh = None
    if kind is AssetKind.HOST:
        merged = PosDict()
        sources: list[tuple[Any, Position]] = []
        if defaults_ssh is not None:
            sources.append((defaults_ssh, defaults_ssh.here()))
        if "ssh" in data:
            sources.append((data["ssh"], data.value_pos("ssh")))
        for src, src_pos in sources:
            block = r.mapping(src, src_pos, "'ssh'")
            if block is not None:
                merged.path = block.path
                merged.start = block.start
                for k, v in block.items():
                    merged[k] = v
                    merged.key_positions[k] = block.key_positions[k]
                    merged.value_positions[k] = block.value_positions[k]
        ssh = _parse_ssh(r, merged, scope)
        if target == "local":
            ssh = SSHSettings(transport="local")
    elif "ssh" in data:
        r.error(data.key_pos("ssh"), "'ssh' settings are for hosts, not endpoints")
    if len(r.problems) > before:
        return None
    display = name or (target if kind is AssetKind.HOST else _endpoint_name(target))
    if not _NAME.match(display):
        r.error(data.here(), f"asset name {quote(display)} may not contain '/' or start with a space")
        return None
    return Asset(
        id=f"{dept}/{display}",
        name=display,
        kind=kind,
        department=dept,
        address=address,
        url=url,
        tags=tags,
        ssh=ssh,
        ca_file=ca_file,
        zone=zone,
    )


def _parse_ssh(r: Reader, data: PosDict, scope: Scope) -> SSHSettings:
    for key in list(data):
        if key in _SECRET_KEYS:
            r.error(
                data.key_pos(key),
                f"'{key}' would put a secret in the inventory; use password_env/passphrase_env "
                "(the name of an environment variable) or ssh-agent instead",
            )
    r.keys(data, "'ssh'", [k for k in _SSH_KEYS] + sorted(_SECRET_KEYS & set(data)))
    port = data.get("port")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535):
        r.error(data.value_pos("port"), f"ssh port must be 1-65535, got {excerpt(port)}")
        port = None
    fps = r.strings(data, "host_key_fingerprints", "'ssh'")
    for fp in fps:
        if not _FINGERPRINT.match(fp):
            r.error(data.value_pos("host_key_fingerprints"), f"fingerprint {quote(fp)} must look like SHA256:<43 base64 chars> (as ssh-keygen -lf prints)")
    sudo = data.get("sudo", False)
    if not isinstance(sudo, bool):
        r.error(data.value_pos("sudo"), "'sudo' must be true or false")
        sudo = False
    transport = r.choice(data, "transport", "'ssh'", ["ssh", "local"], default="ssh") or "ssh"
    jump = r.string(data, "jump", "'ssh'")
    if jump is not None:
        for problem in jump_problems(jump, scope):
            r.error(data.value_pos("jump"), problem)
    return SSHSettings(
        user=r.string(data, "user", "'ssh'"),
        port=port,
        key_file=r.string(data, "key_file", "'ssh'"),
        password_env=r.string(data, "password_env", "'ssh'"),
        passphrase_env=r.string(data, "passphrase_env", "'ssh'"),
        jump=jump,
        host_key_fingerprints=tuple(fps),
        known_hosts=r.string(data, "known_hosts", "'ssh'"),
        sudo=sudo,
        transport=transport,
    )


def jump_problems(spec: str, scope: Scope) -> list[str]:
    """What is wrong with each hop of an ``ssh.jump`` value, scope included.

    The value is what ``ssh -J`` takes: ``[user@]host[:port]``, hops separated
    by commas, IPv6 in brackets. Every hop receives a TCP connection and the
    target's credentials, so each must be in scope like an asset: an address
    must lie in ``networks``, a name must match ``domains`` when domains are
    listed (where it resolves is checked again before connecting).
    """
    # The transport parses hops the same way when it connects; it imports this module.
    from .transports.ssh import parse_hop

    if spec.strip().lower() == "none":  # ssh's way to say "no jump host"
        return []
    problems = []
    for part in spec.split(","):
        try:
            _, host, port = parse_hop(part)
        except ValueError:
            problems.append(f"jump host {quote(part.strip())} must be [user@]host[:port]")
            continue
        if port is not None and not 1 <= port <= 65535:
            problems.append(f"jump host {quote(part.strip())}: port must be 1-65535")
        elif problem := host_problem(host):
            problems.append(f"jump host {problem}")
        elif why := scope.host_refusal(host):
            problems.append(f"jump host {quote(part.strip())} is out of scope: {why}")
    return problems


def url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable endpoint URL, or None.

    A URL carrying a secret (user information, or a query or fragment
    parameter such as ``token`` or ``api_key``) is refused: the inventory is
    shared and stored with every run, so it names servers, never credentials.
    Messages show the URL with any secret masked.
    """
    from .secrets import clean_url

    shown = clean_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"invalid URL {quote(shown)}: {excerpt(exc)}"
    if parts.scheme not in ENDPOINT_SCHEMES:
        others = ", ".join(f"{s}://" for s in ENDPOINT_SCHEMES if s != "https")
        return f"endpoint URL {quote(shown)} must start with https:// (or one of {others})"
    if not parts.hostname:
        return f"endpoint URL {quote(shown)} has no host"
    host = parts.hostname
    if problem := host_problem(host):
        return f"endpoint URL {quote(shown)} has an invalid host: {problem}"
    if port is not None and not 1 <= port <= 65535:
        return f"endpoint URL {quote(shown)} has an invalid port"
    if parts.username or parts.password:
        return f"endpoint URL {quote(shown)} must not carry credentials"
    if shown != url:
        return (
            f"endpoint URL {quote(shown)} must not carry credentials: "
            "a secret parameter (token, key, password, ...) does not belong in the inventory"
        )
    if parts.scheme != "https" and (parts.path not in ("", "/") or parts.query or parts.fragment):
        return f"endpoint URL {quote(shown)} names a server only: a {parts.scheme}:// URL takes no path"
    return None


def _endpoint_name(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or url
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or ENDPOINT_SCHEMES.get(parts.scheme, 443)
    # Only HTTPS goes without its port: "mail.example:25" and "mail.example" differ.
    return host if parts.scheme == "https" and port == 443 else f"{host}:{port}"


# The last label of a name decides how resolvers read it: one that is a decimal
# or 0x-hex number makes inet_aton (and so getaddrinfo) read the whole name as
# an IPv4 address in shorthand (WHATWG URL: "ends in a number").
_NUMBER_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


def host_problem(text: str) -> str | None:
    """Why ``text`` is neither a canonical IP literal nor a hostname, or None."""
    if is_ip(text):
        return None
    # A colon only occurs in IPv6 literals; a numeric last label only in IPv4 shorthand.
    if ":" in text or _NUMBER_LABEL.match(text.rstrip(".").rsplit(".", 1)[-1]):
        return f"{ip_problem(text)} nor a hostname (a hostname does not end in a number)"
    if not _HOSTNAME.match(text):
        return f"{quote(text)} is neither an IP address nor a valid hostname"
    return None


def ip_problem(text: str) -> str | None:
    """Why ``text`` is not a canonical IP literal, or None."""
    if is_ip(text):
        return None
    return (
        f"{quote(text)} is not an IP address in canonical form (IPv4 is four decimal numbers"
        " like 192.0.2.10; IPv6 as in RFC 4291, without a %zone)"
    )


def adhoc_assets(targets: Sequence[str], resolve: Mapping[str, str] | None = None) -> list[Asset]:
    """Assets for targets named on the command line: addresses/hostnames and https URLs."""
    assets: list[Asset] = []
    seen: set[str] = set()
    for target in targets:
        if "://" in target:
            problem = url_problem(target)
            if problem:
                raise ConfigError.at(Position("<command line>"), problem)
            name = _endpoint_name(target)
            parts = urlsplit(target)
            port = parts.port or ENDPOINT_SCHEMES[parts.scheme]
            address = (resolve or {}).get(f"{parts.hostname}:{port}")
            asset = Asset(
                id=f"{ADHOC_DEPARTMENT}/{name}",
                name=name,
                kind=AssetKind.ENDPOINT,
                department=ADHOC_DEPARTMENT,
                url=target,
                address=address,
            )
        else:
            host = target[1:-1] if target.startswith("[") and target.endswith("]") else target
            problem = None if host == "local" else host_problem(host)
            if problem:
                raise ConfigError.at(Position("<command line>"), f"target {problem}, nor an https:// URL")
            asset = Asset(
                id=f"{ADHOC_DEPARTMENT}/{host}",
                name=host,
                kind=AssetKind.HOST,
                department=ADHOC_DEPARTMENT,
                address=host,
                ssh=SSHSettings(transport="local") if host == "local" else SSHSettings(),
            )
        if asset.id not in seen:
            seen.add(asset.id)
            assets.append(asset)
    return assets


def scope_for_targets(assets: Iterable[Asset]) -> Scope:
    """Ad-hoc targets without an inventory: exactly what was named may be scanned."""
    networks = []
    domains = []
    for a in assets:
        for value in (a.hostname, a.address):
            if not value:
                continue
            if is_ip(value):
                networks.append(ipaddress.ip_network(value))
            elif value != "local":
                domains.append(value.lower())
    return Scope(tuple(dict.fromkeys(networks)), tuple(dict.fromkeys(domains)))


def parse_scope_args(values: Iterable[str]) -> Scope:
    """``--scope 127.0.0.0/8 --scope city.example`` on the command line."""
    networks = []
    domains = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            bare = value[2:] if value.startswith("*.") else value
            if host_problem(bare):
                raise ConfigError.at(Position("<command line>"), f"--scope {quote(value)} is neither a network nor a domain") from None
            domains.append(value.lower())
    return Scope(tuple(networks), tuple(domains))
