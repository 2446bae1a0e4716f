"""Collect a host's package facts in one round trip (SSH or local).

:func:`collect_host_facts` sends one POSIX ``sh`` script (:func:`build_script`)
over the asset's transport, cuts the output into sections framed with a random
per-run nonce, and turns them into facts with the pure parsers in
:mod:`scanner.plugins.packages.parsers`. See docs/ssh.md for the script.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from scanner.models import Asset, CollectFailed, ErrorReason, SSHSettings
from scanner.plugin import Context
from scanner.transports import CommandResult, Transport
from scanner.transports.local import LocalTransport

from .parsers import (
    DPKG_FORMAT,
    RPM_FORMAT,
    RPM_MODULAR_FORMAT,
    build_facts,
    parse_key_values,
    split_sections,
)

# The script. Rules that keep it safe and portable (dash, bash, busybox ash):
# * nothing from the target is ever evaluated: command output is only printed;
# * every section is framed by markers carrying the run's nonce, printed on
#   their own line (a leading newline guarantees that);
# * R (CIVISCAN_ROOT in the script's environment) prefixes every file path and
#   is handed to dpkg-query/rpm, to read a mounted image; with R set, live
#   probes of this machine (/proc, systemd-detect-virt) are skipped;
# * when the asset allows sudo, `sudo -n` is used only to read a file the
#   login user cannot read (dpkg.log on hardened hosts, /proc/1/environ).
_SCRIPT = r"""
N='@NONCE@'
S='@SUDO@'
R="${CIVISCAN_ROOT:-}"
LC_ALL=C
export LC_ALL
b() { printf '\n:::%s:begin:%s\n' "$N" "$1"; }
e() { printf '\n:::%s:end:%s:%s\n' "$N" "$1" "$2"; }
rd() {
  if [ -r "$1" ]; then cat "$1"
  elif [ "$S" = 1 ] && [ -e "$1" ]; then sudo -n cat "$1"
  fi
}
b os-release
if [ -f "$R/etc/os-release" ]; then rd "$R/etc/os-release"; else rd "$R/usr/lib/os-release"; fi
e os-release $?
b uname
printf 'machine=%s\nrelease=%s\nbuild=%s\n' "$(uname -m)" "$(uname -r)" "$(uname -v)"
e uname $?
b kernel-signature
[ -r "$R/proc/version_signature" ] && head -c 512 "$R/proc/version_signature"
e kernel-signature 0
b clock
date +%z
date +%s
e clock $?
b dpkg
rc=0
if [ -f "$R/var/lib/dpkg/status" ] && command -v dpkg-query >/dev/null 2>&1; then
  if [ -n "$R" ]; then set -- "--admindir=$R/var/lib/dpkg"; else set --; fi
  dpkg-query "$@" -W -f='@DPKG_FORMAT@'
  rc=$?
fi
e dpkg $rc
b rpm
rc=0
if command -v rpm >/dev/null 2>&1; then
  if [ -n "$R" ]; then set -- --root "$R"; else set --; fi
  # MODULARITYLABEL exists from rpm 4.14 (EL8); an older rpm prints nothing for an unknown tag.
  if rpm --querytags 2>/dev/null | grep -qx MODULARITYLABEL; then f='@RPM_MODULAR_FORMAT@'; else f='@RPM_FORMAT@'; fi
  rpm "$@" -qa --qf "$f" 2>/dev/null
  rc=$?
fi
e rpm $rc
b apk
if [ -f "$R/lib/apk/db/installed" ]; then
  rd "$R/lib/apk/db/installed" | grep -E '^([PVAo]:|$)'
fi
e apk 0
b reboot-flag
[ -e "$R/var/run/reboot-required" ] && echo present
e reboot-flag 0
b reboot-pkgs
[ -f "$R/var/run/reboot-required.pkgs" ] && rd "$R/var/run/reboot-required.pkgs"
e reboot-pkgs 0
b dpkg-log
for f in "$R"/var/log/dpkg.log "$R"/var/log/dpkg.log.*; do
  [ -f "$f" ] || continue
  case "$f" in
    *.gz) l=$(rd "$f" | gzip -dc 2>/dev/null | grep -E '^[0-9-]{10} [0-9:]{8} (install|upgrade) ' | tail -n 1) ;;
    *) l=$(rd "$f" | grep -E '^[0-9-]{10} [0-9:]{8} (install|upgrade) ' | tail -n 1) ;;
  esac
  [ -n "$l" ] && printf '%s\t%s\n' "${f#"$R"}" "$l"
done
e dpkg-log 0
b mtimes
for f in /var/lib/dpkg/status /lib/apk/db/installed; do
  [ -e "$R$f" ] && printf '%s\t%s\n' "$f" "$(stat -c %Y "$R$f")"
done
e mtimes 0
b container
[ -e "$R/.dockerenv" ] && echo dockerenv
[ -e "$R/run/.containerenv" ] && echo containerenv
if [ -z "$R" ]; then
  if command -v systemd-detect-virt >/dev/null 2>&1; then
    printf 'detect-virt=%s\n' "$(systemd-detect-virt --container 2>/dev/null)"
  fi
  [ -r /run/systemd/container ] && printf 'systemd-container=%s\n' "$(cat /run/systemd/container)"
  grep -E 'docker|lxc|kubepods|containerd|libpod' /proc/1/cgroup 2>/dev/null | sed 's/^/cgroup=/'
  rd /proc/1/environ 2>/dev/null | tr '\000' '\n' | grep '^container='
fi
e container 0
b done
e done 0
"""


def build_script(nonce: str, sudo: bool = False) -> str:
    """The collection script for one run; ``nonce`` must be fresh random hex."""
    if not nonce.isalnum():
        raise ValueError("the nonce must be alphanumeric")
    return (
        _SCRIPT.replace("@NONCE@", nonce)
        .replace("@SUDO@", "1" if sudo else "0")
        .replace("@DPKG_FORMAT@", DPKG_FORMAT)
        .replace("@RPM_MODULAR_FORMAT@", RPM_MODULAR_FORMAT)
        .replace("@RPM_FORMAT@", RPM_FORMAT)
    )


def is_local(asset: Asset) -> bool:
    """``address: local`` or ``ssh.transport: local`` scans the scanning machine itself."""
    return asset.address == "local" or (asset.ssh is not None and asset.ssh.transport == "local")


def transport_for(asset: Asset, ctx: Context) -> Transport:
    """The transport an asset asks for. ``ctx.settings["prompt"]`` may hold the CLI's
    secret prompt callback (interactive runs only; it never leaves the process)."""
    if is_local(asset):
        return LocalTransport(float(ctx.settings.get("command_timeout") or ctx.timeout))
    from scanner.transports.ssh import SSHTransport  # paramiko: only when SSH is used

    prompt = ctx.settings.get("prompt")
    return SSHTransport(asset, ctx, prompt=prompt if callable(prompt) else None)


def facts_from_output(
    result: CommandResult, nonce: str, transport: str, collected_at: datetime
) -> dict[str, Any]:
    """Parse one run's output; a run that did not reach its last section is an error."""
    output = result.stdout.decode("utf-8", "replace")
    sections = split_sections(output, nonce)
    if "done" not in sections:
        detail = result.stderr_line()
        raise CollectFailed(
            ErrorReason.COMMAND,
            "the collection script did not run to its end"
            + (f" (exit status {result.exit_status})" if result.exit_status >= 0 else "")
            + (f": {detail}" if detail else ""),
        )
    facts = build_facts(sections, transport, collected_at)
    # What the running kernel says about its own build: its package version on
    # Debian (``uname -v``) and Ubuntu (``/proc/version_signature``).
    uname = parse_key_values(sections["uname"].text) if "uname" in sections else {}
    signature = sections["kernel-signature"].text if "kernel-signature" in sections else ""
    kernel = facts.setdefault("kernel", {})
    kernel["build"] = _line(uname.get("build", ""))
    kernel["signature"] = _line(signature)
    return facts


def _line(text: str) -> str:
    """One line of printable text, at most 200 characters (it comes from the target)."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return "".join(c for c in first if c.isprintable())[:200]


async def collect_host_facts(asset: Asset, ctx: Context) -> dict[str, Any]:
    """The host's OS, kernel, installed packages, reboot and update state.

    One connection and one command per host and run, shared by every plugin of
    the asset's job (``ctx.shared``). Raises CollectFailed with the reason the
    host could not be assessed (``host_key``, ``auth``, ``refused``,
    ``timeout``, ``command``, ``not_supported``).
    """
    facts: Mapping[str, Any] = await ctx.shared(
        ("packages.host_facts", asset.id), lambda: _collect(asset, ctx)
    )
    return copy.deepcopy(dict(facts))


async def _collect(asset: Asset, ctx: Context) -> dict[str, Any]:
    transport = transport_for(asset, ctx)
    nonce = secrets.token_hex(16)
    sudo = (asset.ssh or SSHSettings()).sudo
    address = "local" if is_local(asset) else asset.connect_address
    async with ctx.host_slot(address):
        result = await transport.run_script(build_script(nonce, sudo))
    now = datetime.now(UTC).replace(microsecond=0)
    return facts_from_output(result, nonce, transport.name, now)
