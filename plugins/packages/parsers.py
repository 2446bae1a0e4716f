"""Pure parsers of the host collection script's output (see collect.py).

Nothing here does I/O. Each function takes the text of one section exactly as
the target printed it and returns plain data. Every string that came from the
target is kept verbatim as data: never interpreted, never used as a pattern,
never trusted to be well formed (a malformed line is skipped, not guessed at).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from scanner.models import CollectFailed, ErrorReason

# --------------------------------------------------------------------------- framing

MARKER_PREFIX = ":::"


@dataclass(frozen=True)
class Section:
    """One framed section: what its commands printed and their exit status."""

    text: str
    status: int


def end_marker(nonce: str, name: str) -> str:
    return f"{MARKER_PREFIX}{nonce}:end:{name}:"


def split_sections(output: str, nonce: str) -> dict[str, Section]:
    """Cut the script's output into sections framed with this run's ``nonce``.

    A marker counts only as a whole line and only with the run's random nonce,
    which the target's data cannot know: a package named like a marker stays a
    line of data. The script prints a newline before every end marker; it
    belongs to the frame, not to the section. A section whose end marker never
    came (output cut short) is left out.
    """
    sections: dict[str, Section] = {}
    begin = f"{MARKER_PREFIX}{nonce}:begin:"
    name: str | None = None
    close = ""
    body: list[str] = []
    for line in output.split("\n"):
        if name is None:
            if line.startswith(begin):
                name = line[len(begin) :]
                close = end_marker(nonce, name)
                body = []
            continue
        if line.startswith(close):
            status = line[len(close) :]
            sections[name] = Section("\n".join(body), int(status) if status.isdigit() else -1)
            name = None
            continue
        body.append(line)
    return sections


# --------------------------------------------------------------------------- os-release

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _shell_value(raw: str) -> str:
    """Decode a shell-quoted os-release value: ``"a \\"b\\""``, ``'c'``, ``d\\ e``."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        ch = raw[i]
        if ch == "'":
            end = raw.find("'", i + 1)
            if end < 0:
                out.append(raw[i + 1 :])
                break
            out.append(raw[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and raw[i] != '"':
                if raw[i] == "\\" and i + 1 < n and raw[i + 1] in '"\\$`':
                    i += 1
                out.append(raw[i])
                i += 1
            i += 1
        elif ch == "\\" and i + 1 < n:
            out.append(raw[i + 1])
            i += 2
        elif ch.isspace() or ch == "#":
            break
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines of os-release(5), with shell quoting and escapes undone."""
    fields: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if _KEY.match(key):
            fields[key] = _shell_value(value.strip())
    return fields


def os_info(fields: Mapping[str, str]) -> dict[str, Any]:
    """The ``os`` facts; defaults as os-release(5) specifies (ID ``linux``)."""
    codename = fields.get("VERSION_CODENAME") or fields.get("UBUNTU_CODENAME")
    if not codename:
        match = re.search(r"\(([a-z]+)\)", fields.get("VERSION", ""))
        codename = match.group(1) if match else None
    return {
        "id": fields.get("ID") or "linux",
        "version_id": fields.get("VERSION_ID") or None,
        "codename": codename or None,
        "pretty_name": fields.get("PRETTY_NAME") or "Linux",
        "id_like": fields.get("ID_LIKE", "").split(),
    }


def parse_key_values(text: str, sep: str = "=") -> dict[str, str]:
    """``key<sep>value`` lines (the script's own sections); later keys win."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, found, value = line.partition(sep)
        if found:
            out[key.strip()] = value.strip()
    return out


# --------------------------------------------------------------------------- packages


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    source: str
    source_version: str
    arch: str
    status: str = "installed"
    installed_at: int | None = None  # rpm INSTALLTIME (epoch seconds); not exported
    module: str = ""  # rpm MODULARITYLABEL's stream (``ruby:3.3``); "" outside every module

    def to_json(self) -> dict[str, str]:
        out = {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "source_version": self.source_version,
            "arch": self.arch,
            "status": self.status,
        }
        if self.module:
            out["module"] = self.module
        return out


DPKG_FORMAT = (
    r"${binary:Package}\t${Version}\t${source:Package}\t${source:Version}"
    r"\t${db:Status-Abbrev}\t${Architecture}\n"
)


def parse_dpkg_query(text: str) -> list[Package]:
    """Installed packages from ``dpkg-query -W -f=DPKG_FORMAT``.

    Only packages whose current state is installed count (abbrev ``ii``, and
    ``hi`` for held ones); ``rc`` (config files left), ``iU``/``iF`` (half
    done) do not. ``libc6:amd64`` loses its arch qualifier; an empty source
    name or version means "same as the binary".
    """
    packages: list[Package] = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 6:
            continue
        name, version, source, source_version, state, arch = fields
        state = state.strip()
        name = name.split(":", 1)[0]
        if len(state) < 2 or state[1] != "i" or not name or not version:
            continue
        # Very old dpkg prints the raw Source field: "tar (1.27.1-2)".
        source_name, _, rest = source.strip().partition(" ")
        if not source_version and rest.startswith("(") and rest.endswith(")"):
            source_version = rest[1:-1]
        packages.append(
            Package(name, version, source_name or name, source_version or version, arch)
        )
    return packages


RPM_FORMAT = (
    r"%{NAME}\t%{EPOCHNUM}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{INSTALLTIME}\n"
)
RPM_MODULAR_FORMAT = RPM_FORMAT[:-2] + r"\t%{MODULARITYLABEL}\n"
"""RPM_FORMAT with the module label (rpm 4.14+, EL8+); older rpm refuses the tag."""


def evr(epoch: str, version: str, release: str) -> str:
    """``epoch:version-release``, the epoch only when it is not zero."""
    epoch = epoch.strip()
    head = f"{epoch}:" if epoch not in ("", "0", "(none)") else ""
    return f"{head}{version}-{release}" if release else f"{head}{version}"


def module_stream(label: str) -> str:
    """``name:stream`` of an rpm MODULARITYLABEL (``ruby:3.3:9040020240517091218:9b9d7f0e``), or ""."""
    parts = label.strip().split(":")
    if len(parts) < 2 or not parts[0] or not parts[1] or label.strip() == "(none)":
        return ""
    return f"{parts[0]}:{parts[1]}"


def parse_rpm_qa(text: str) -> list[Package]:
    """Packages from ``rpm -qa --qf RPM_MODULAR_FORMAT`` (or ``RPM_FORMAT``); versions as EVR strings.

    The source package name and version come from SOURCERPM
    (``openssl-3.0.7-24.el9.src.rpm``), the module stream from MODULARITYLABEL
    (``(none)`` outside every module). ``gpg-pubkey`` pseudo-packages are
    skipped: they are imported signing keys, not software.
    """
    packages: list[Package] = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) not in (7, 8):
            continue
        name, epoch, version, release, arch, source_rpm, installed = fields[:7]
        module = module_stream(fields[7]) if len(fields) == 8 else ""
        if not name or not version or name == "gpg-pubkey":
            continue
        full = evr(epoch, version, release)
        source, source_version = name, full
        stem = re.sub(r"\.(no)?src\.rpm$", "", source_rpm)
        parts = stem.rsplit("-", 2)
        if stem != source_rpm and len(parts) == 3 and all(parts):
            source, source_version = parts[0], evr(epoch, parts[1], parts[2])
        packages.append(
            Package(
                name,
                full,
                source,
                source_version,
                arch,
                installed_at=int(installed) if installed.isdigit() else None,
                module=module,
            )
        )
    return packages


# A module stream's build: ``3.3.1-2.module+el9.4.0+20787+4c237fd3`` (RHEL, Rocky),
# ``18.20.2-2.module_el8.10.0+3784+...`` (AlmaLinux), ``...module_f38...`` (Fedora).
_MODULE_BUILD = re.compile(r"\.module[+_]")


def is_module_build(evr: str) -> bool:
    """Whether an rpm version-release is a build of a module stream (EL8+ modularity)."""
    return _MODULE_BUILD.search(evr) is not None


def parse_apk_installed(text: str) -> list[Package]:
    """Packages from Alpine's installed database (``P:``/``V:``/``A:``/``o:`` records)."""
    packages: list[Package] = []
    record: dict[str, str] = {}

    def flush() -> None:
        name, version = record.get("P"), record.get("V")
        if name and version:
            packages.append(
                Package(name, version, record.get("o") or name, version, record.get("A", ""))
            )
        record.clear()

    for line in text.splitlines():
        if not line.strip():
            flush()
        elif len(line) > 2 and line[1] == ":":
            record.setdefault(line[0], line[2:])
    flush()
    return packages


# --------------------------------------------------------------------------- kernels

Compare = Callable[[str, str], int]


def version_compare(fmt: str) -> Compare:
    """The version comparator of a package format (the one switch point)."""
    from scanner.plugins.packages.versions import comparator

    return comparator(fmt)


@dataclass(frozen=True)
class KernelPackage:
    release: str  # as ``uname -r`` prints it
    version: str  # the package version
    name: str


_DEB_KERNEL = re.compile(r"^linux-image-(?:unsigned-)?(\d[A-Za-z0-9.+~_-]*?)(?:-unsigned)?$")
_RPM_KERNEL = re.compile(r"^kernel(?:-(?:uek|rt|64k))?(?:-debug)?(?:-core)?$")
_APK_FLAVOURS = frozenset({"lts", "virt", "edge", "stable", "rpi", "rpi2", "rpi4"})


def kernel_packages(fmt: str, packages: Iterable[Package]) -> list[KernelPackage]:
    """Installed kernel images, each with the release string ``uname -r`` would print.

    Meta-packages (``linux-image-amd64``, ``linux-image-generic``) and debug
    symbol packages are not kernels. On rpm, ``kernel`` and ``kernel-core`` of
    one build are one kernel.
    """
    found: dict[str, KernelPackage] = {}
    for pkg in packages:
        release: str | None = None
        if fmt == "dpkg":
            match = _DEB_KERNEL.match(pkg.name)
            if match and not pkg.name.endswith(("-dbg", "-dbgsym")):
                release = match.group(1)
        elif fmt == "rpm":
            if _RPM_KERNEL.match(pkg.name):
                plain = pkg.version.split(":", 1)[-1]
                suffix = "+debug" if "-debug" in pkg.name else "+64k" if "-64k" in pkg.name else ""
                release = f"{plain}.{pkg.arch}{suffix}"
        elif fmt == "apk":
            flavour = pkg.name[len("linux-") :] if pkg.name.startswith("linux-") else ""
            match = re.match(r"^(.+)-r(\d+)$", pkg.version)
            if flavour in _APK_FLAVOURS and match:
                release = f"{match.group(1)}-{match.group(2)}-{flavour}"
        if release and release not in found:
            found[release] = KernelPackage(release, pkg.version, pkg.name)
    return sorted(found.values(), key=lambda k: k.release)


def _flavour(fmt: str, release: str) -> str:
    """Kernels of different flavours never replace each other (uek vs rhck, lts vs virt)."""
    if fmt == "apk":
        return release.rsplit("-", 1)[-1]
    if fmt == "rpm":
        for mark, name in (("+debug", "debug"), ("+64k", "64k"), ("uek", "uek"), (".rt", "rt")):
            if mark in release:
                return name
    return ""


def newest_kernel(
    fmt: str, kernels: Sequence[KernelPackage], running: str, compare: Compare | None = None
) -> KernelPackage | None:
    """The newest installed kernel of the running kernel's flavour, by package version."""
    cmp = compare or version_compare(fmt)
    want = _flavour(fmt, running)
    best: KernelPackage | None = None
    for kernel in kernels:
        if _flavour(fmt, kernel.release) != want:
            continue
        try:
            if best is None or cmp(kernel.version, best.version) > 0:
                best = kernel
        except ValueError:
            continue  # a version the comparator refuses cannot be "newest"
    return best


# --------------------------------------------------------------------------- state facts


def is_container(text: str) -> bool:
    """Whether the container probes found anything (see the ``container`` section)."""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key in ("dockerenv", "containerenv") and not value:
            return True
        if key in ("detect-virt", "systemd-container", "container") and value not in ("", "none"):
            return True
        if key == "cgroup" and value:
            return True
    return False


def reboot_required(
    fmt: str,
    container: bool,
    flag: bool,
    flag_packages: Sequence[str],
    running: str,
    kernels: Sequence[KernelPackage],
    newest: KernelPackage | None,
) -> dict[str, Any]:
    """Whether the host must reboot to run what is installed, with the evidence."""
    if container:
        return {"required": None, "evidence": "container"}
    if flag:
        listed = f" (packages: {', '.join(flag_packages)})" if flag_packages else ""
        return {"required": True, "evidence": f"/var/run/reboot-required exists{listed}"}
    if not kernels:
        return {
            "required": None,
            "evidence": f"no kernel package is installed; cannot compare with the running kernel {running}",
        }
    if running not in {k.release for k in kernels}:
        return {
            "required": None,
            "evidence": (
                f"the running kernel {running} does not come from an installed kernel package "
                f"(installed: {', '.join(k.release for k in kernels)})"
            ),
        }
    if newest is not None and newest.release != running:
        return {
            "required": True,
            "evidence": (
                f"the newest installed kernel {newest.release} ({newest.name} {newest.version}) "
                f"is not the running kernel {running}"
            ),
        }
    absent = " and /var/run/reboot-required is absent" if fmt == "dpkg" else ""
    return {
        "required": False,
        "evidence": f"the running kernel {running} is the newest installed kernel{absent}",
    }


_DPKG_LOG = re.compile(
    r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (install|upgrade) (\S+)(?: (\S+))?(?: (\S+))?"
)


def parse_offset(text: str) -> timezone:
    """``date +%z`` output (``+0100``) as a timezone; UTC when unreadable."""
    match = re.fullmatch(r"([+-])(\d{2})(\d{2})", text.strip())
    if not match:
        return UTC
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    return timezone(timedelta(minutes=minutes if match.group(1) == "+" else -minutes))


def newest_dpkg_log_entry(text: str, tz: timezone) -> tuple[datetime, str, str] | None:
    """The newest install/upgrade line of the ``path<TAB>line`` records, as (UTC time, path, line).

    dpkg writes local time without a zone; ``tz`` is the host's current offset.
    """
    best: tuple[datetime, str, str] | None = None
    for record in text.splitlines():
        path, _, line = record.partition("\t")
        match = _DPKG_LOG.match(line)
        if not match:
            continue
        try:
            local = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
        when = local.replace(tzinfo=tz).astimezone(UTC)
        if best is None or when > best[0]:
            best = (when, path, line)
    return best


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def last_update(
    fmt: str,
    packages: Sequence[Package],
    dpkg_log: str,
    mtimes: Mapping[str, str],
    tz: timezone,
) -> dict[str, Any]:
    """When packages were last installed or upgraded, and which record says so."""
    if fmt == "dpkg":
        entry = newest_dpkg_log_entry(dpkg_log, tz)
        if entry is not None:
            when, path, line = entry
            return {"time": when.isoformat(), "evidence": f"{path}: {line}"}
        stamp = mtimes.get("/var/lib/dpkg/status", "")
        if stamp.isdigit():
            return {
                "time": _utc(int(stamp)).isoformat(),
                "evidence": (
                    "no install/upgrade line in /var/log/dpkg.log*; "
                    "time of the last change to /var/lib/dpkg/status"
                ),
            }
    elif fmt == "rpm":
        timed = [p for p in packages if p.installed_at is not None]
        if timed:
            latest = max(timed, key=lambda p: p.installed_at or 0)
            assert latest.installed_at is not None
            return {
                "time": _utc(latest.installed_at).isoformat(),
                "evidence": f"newest rpm install time: {latest.name}-{latest.version}.{latest.arch}",
            }
    elif fmt == "apk":
        stamp = mtimes.get("/lib/apk/db/installed", "")
        if stamp.isdigit():
            return {
                "time": _utc(int(stamp)).isoformat(),
                "evidence": "time of the last change to /lib/apk/db/installed",
            }
    return {"time": None, "evidence": "no package installation time was found"}


# --------------------------------------------------------------------------- facts

_FORMAT_OF_OS = {
    "debian": "dpkg",
    "ubuntu": "dpkg",
    "alpine": "apk",
    "rhel": "rpm",
    "fedora": "rpm",
    "centos": "rpm",
    "rocky": "rpm",
    "almalinux": "rpm",
    "ol": "rpm",
    "amzn": "rpm",
    "suse": "rpm",
    "sles": "rpm",
    "opensuse": "rpm",
}
_PARSERS: dict[str, Callable[[str], list[Package]]] = {
    "dpkg": parse_dpkg_query,
    "rpm": parse_rpm_qa,
    "apk": parse_apk_installed,
}


def _text(sections: Mapping[str, Section], name: str) -> str:
    section = sections.get(name)
    return section.text if section else ""


def choose_format(os: Mapping[str, Any], parsed: Mapping[str, list[Package]]) -> str:
    """The host's package format: by os-release family, else whichever database has data."""
    preferred = next(
        (_FORMAT_OF_OS[i] for i in [os["id"], *os["id_like"]] if i in _FORMAT_OF_OS), None
    )
    with_data = [fmt for fmt in ("dpkg", "apk", "rpm") if parsed.get(fmt)]
    if preferred in with_data or (preferred and not with_data):
        return preferred
    if with_data:
        return with_data[0]
    raise CollectFailed(
        ErrorReason.NOT_SUPPORTED,
        f"no dpkg, rpm or apk package database was found on this host ({os['pretty_name']})",
    )


def build_facts(
    sections: Mapping[str, Section],
    transport: str,
    collected_at: datetime,
    compare: Callable[[str], Compare] | None = None,
) -> dict[str, Any]:
    """All host facts from the script's sections (the dict collect_host_facts returns)."""
    os = os_info(parse_os_release(_text(sections, "os-release")))
    uname = parse_key_values(_text(sections, "uname"))
    running = uname.get("release", "")
    parsed = {fmt: parser(_text(sections, fmt)) for fmt, parser in _PARSERS.items()}
    fmt = choose_format(os, parsed)
    packages = parsed[fmt]
    kernels = kernel_packages(fmt, packages)
    cmp = (compare or version_compare)(fmt)
    newest = newest_kernel(fmt, kernels, running, cmp)
    container = is_container(_text(sections, "container"))
    flag = _text(sections, "reboot-flag").strip() == "present"
    flag_packages = [
        line.strip() for line in _text(sections, "reboot-pkgs").splitlines() if line.strip()
    ]
    clock = _text(sections, "clock").split()
    tz = parse_offset(clock[0]) if clock else UTC
    mtimes = parse_key_values(_text(sections, "mtimes"), sep="\t")
    return {
        "os": os,
        "arch": uname.get("machine", ""),
        "package_format": fmt,
        "kernel": {
            "running": running,
            "installed": [k.release for k in kernels],
            "newest": newest.release if newest else None,
        },
        "packages": [p.to_json() for p in packages],
        "reboot_required": reboot_required(
            fmt, container, flag, flag_packages, running, kernels, newest
        ),
        "last_update": last_update(fmt, packages, _text(sections, "dpkg-log"), mtimes, tz),
        "container": container,
        "transport": transport,
        "collected_at": collected_at.astimezone(UTC).isoformat(),
    }
