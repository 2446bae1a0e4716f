"""Writing files without following a name someone else could have placed.

Reports are often written into a folder of a checked-out repository, where
anyone with commit access can plant a symbolic link (``junit.xml ->
~/.bashrc``) that a plain ``open(path, "w")`` would write through. Every file
civiscan writes therefore goes through :func:`atomic_write` or
:func:`atomic_open`: the data goes to a new, exclusively created file with a
random name in the target folder, is flushed to disk, and is renamed onto the
final name. A rename replaces whatever the final name is, a link included,
and never writes through it; readers see the old file or the complete new one.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

_CREATE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)
_ATTEMPTS = 16


class UnsafeOutput(OSError):
    """The final name exists and is not something civiscan may replace."""


def _check_replaceable(path: Path) -> None:
    """Refuse a final name that is a folder or a special file (or a link to one).

    Renaming onto ``/dev/null`` or ``/dev/stdout`` would replace a device, not
    write to it: as root that breaks the system. A link to a regular file, or a
    dangling one, is replaced as the link itself.
    """
    try:
        own = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(own.st_mode):
        try:
            own = path.stat()
        except OSError:  # dangling, a loop, or unreadable: the link itself is replaced
            return
    if not stat.S_ISREG(own.st_mode):
        raise UnsafeOutput(errno.EEXIST, "exists and is not a regular file; refusing to replace it", str(path))


def _create_temporary(path: Path, mode: int) -> tuple[int, Path]:
    for _ in range(_ATTEMPTS):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(temporary, _CREATE_FLAGS, mode), temporary
        except FileExistsError:  # a planted or leftover name: pick another
            continue
    raise FileExistsError(f"{path.parent}: cannot create a temporary file there")


@contextmanager
def atomic_binary(path: str | os.PathLike[str], *, mode: int = 0o666) -> Iterator[BinaryIO]:
    """A new file opened for writing that appears at *path* only once complete.

    *mode* is the new file's permission bits before the umask, as for
    ``open()``; the bits of a file it replaces are not kept. On an exception
    nothing is left behind and *path* is unchanged.
    """
    target = Path(path)
    _check_replaceable(target)
    fd, temporary = _create_temporary(target, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_open(path: str | os.PathLike[str], *, mode: int = 0o666) -> Iterator[TextIO]:
    """:func:`atomic_binary` as UTF-8 text (``newline=""``: no translation)."""
    with atomic_binary(path, mode=mode) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
        try:
            yield text
            text.flush()
        finally:
            text.detach()


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o666) -> None:
    """Write *data* (``str`` as UTF-8) to *path* as :func:`atomic_binary` does."""
    with atomic_binary(path, mode=mode) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


__all__ = ["UnsafeOutput", "atomic_binary", "atomic_open", "atomic_write"]
