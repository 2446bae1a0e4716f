"""Transports: how a collection script reaches a host and its output comes back.

A transport runs one POSIX ``sh`` script on a host and returns what it printed.
Collectors build the script and parse the output; transports know nothing about
what is collected or judged. Two exist: :mod:`scanner.transports.ssh` (paramiko) and
:mod:`scanner.transports.local` (``/bin/sh`` on the scanning machine).
See docs/ssh.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# A script's output is read into memory; a host that streams without end must
# not exhaust the scanner. Real package lists are well under a few megabytes.
MAX_OUTPUT_BYTES = 32 * 1024 * 1024
# stderr is only kept for error messages.
MAX_STDERR_BYTES = 64 * 1024
# The OpenSSH client's own per-user file; the ``ssh_config`` setting names another.
DEFAULT_SSH_CONFIG = "~/.ssh/config"


@dataclass(frozen=True)
class CommandResult:
    """What a script printed and how it exited (``-1``: no exit status was sent)."""

    stdout: bytes
    stderr: bytes
    exit_status: int

    def stderr_line(self) -> str:
        """The first non-empty stderr line, for error messages (untrusted text)."""
        for line in self.stderr.decode("utf-8", "replace").splitlines():
            if line.strip():
                return line.strip()[:300]
        return ""


class Transport(Protocol):
    """Runs one script on one host. ``name`` is ``"ssh"`` or ``"local"``.

    ``run_script`` raises :class:`scanner.models.CollectFailed` with a reason
    (``host_key``, ``auth``, ``refused``, ``timeout``, ...) when the host cannot
    be reached or the script does not finish in time.
    """

    name: str

    async def run_script(self, script: str) -> CommandResult: ...


__all__ = ["DEFAULT_SSH_CONFIG", "MAX_OUTPUT_BYTES", "MAX_STDERR_BYTES", "CommandResult", "Transport"]
