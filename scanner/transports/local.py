"""The ``local`` transport: run the collection script with ``/bin/sh`` on this machine.

Used for assets whose address is ``local`` or whose ``ssh.transport`` is
``local``. The script goes to the shell on stdin, exactly as over SSH, so the
same parsers apply and nothing of it appears in the process list.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping

from ..models import CollectFailed, ErrorReason
from . import MAX_OUTPUT_BYTES, MAX_STDERR_BYTES, CommandResult

SHELL = "/bin/sh"


class LocalTransport:
    """Runs scripts in a fresh ``/bin/sh -s`` process, bounded by ``timeout`` seconds.

    ``env`` adds to (never replaces) the scanner's environment; it is how a
    caller points the script at a mounted image root (``CIVISCAN_ROOT``).
    """

    name = "local"

    def __init__(self, timeout: float, env: Mapping[str, str] | None = None) -> None:
        self.timeout = timeout
        self._env = dict(env or {})

    async def run_script(self, script: str) -> CommandResult:
        env = {**os.environ, **self._env} if self._env else None
        try:
            proc = await asyncio.create_subprocess_exec(
                SHELL,
                "-s",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                # Own process group, so a timeout also stops the commands the
                # script started (dpkg-query, gzip, ...).
                start_new_session=True,
            )
        except OSError as exc:
            raise CollectFailed(ErrorReason.COMMAND, f"cannot start {SHELL}: {exc}") from None
        try:
            stdout, stderr = await asyncio.wait_for(
                _communicate(proc, script.encode()), self.timeout
            )
        except TimeoutError:
            raise CollectFailed(
                ErrorReason.TIMEOUT,
                f"the collection script did not finish within {self.timeout:g} s",
            ) from None
        finally:
            if proc.returncode is None:
                _kill_group(proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    await proc.wait()
        return CommandResult(stdout, stderr[:MAX_STDERR_BYTES], proc.returncode or 0)


async def _communicate(proc: asyncio.subprocess.Process, data: bytes) -> tuple[bytes, bytes]:
    """Feed stdin and read both pipes, refusing output beyond MAX_OUTPUT_BYTES."""
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(data)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        await proc.stdin.drain()
    proc.stdin.close()

    async def read_all(stream: asyncio.StreamReader, limit: int, strict: bool) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await stream.read(65536):
            size += len(chunk)
            if size > limit:
                if strict:
                    raise CollectFailed(
                        ErrorReason.PROTOCOL,
                        f"the collection script printed more than {limit // (1024 * 1024)} MiB",
                    )
                continue  # keep draining so the script never blocks on a full pipe
            chunks.append(chunk)
        return b"".join(chunks)

    stdout, stderr = await asyncio.gather(
        read_all(proc.stdout, MAX_OUTPUT_BYTES, strict=True),
        read_all(proc.stderr, MAX_STDERR_BYTES, strict=False),
    )
    await proc.wait()
    return stdout, stderr


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
