"""A loopback lab of fake Linux hosts served by real OpenSSH sshd.

Each lab host is a folder built from tests/data/packages/hosts/<name>/: a
``root/`` tree (os-release, dpkg logs, apk database, reboot flag, ...) and a
``bin/`` of stub commands (``uname``, ``date``, ``dpkg-query``, ``rpm``) that
print the recorded outputs. The collection script runs for real, with
``CIVISCAN_ROOT`` pointing at the root and the stubs first on ``PATH``.

One sshd serves several loopback addresses; its ForceCommand wrapper picks the
host folder by the address the client connected to (``SSH_CONNECTION``). So
127.0.41.1 can look like Debian and 127.0.41.2 like Rocky through one daemon.
OpenSSH accepts at most 16 ListenAddress sockets per daemon (MAX_LISTEN_SOCKS).
"""

from __future__ import annotations

import contextlib
import getpass
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Self

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from scanner.transports.local import LocalTransport

DATA = Path(__file__).resolve().parents[1] / "data" / "packages" / "hosts"
MAX_LISTEN = 16


# --------------------------------------------------------------------------- host folders


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def materialise_host(name: str, dest: Path) -> Path:
    """Build the lab folder of recorded host ``name`` at ``dest``; returns ``dest``."""
    src = DATA / name
    meta = json.loads((src / "host.json").read_text())
    root, bin_dir = dest / "root", dest / "bin"
    shutil.copytree(src / "root", root)
    bin_dir.mkdir(parents=True)
    for rel in meta.get("gzip", []):
        plain = root / rel
        with open(plain, "rb") as handle, gzip.open(f"{plain}.gz", "wb") as out:
            out.write(handle.read())
        plain.unlink()
    if meta.get("dpkg_status"):
        (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
        (root / "var/lib/dpkg/status").write_text("")
    for rel, stamp in meta.get("mtimes", {}).items():
        os.utime(root / rel, (stamp, stamp))
    uname = meta["uname"]
    _stub(
        bin_dir / "uname",
        f'case "$1" in -m) echo {shlex.quote(uname["machine"])};; '
        f"-r) echo {shlex.quote(uname['release'])};; "
        f"-v) echo {shlex.quote(uname.get('build', '#1 SMP'))};; *) echo Linux;; esac",
    )
    _stub(
        bin_dir / "date",
        f'case "$1" in +%z) echo {shlex.quote(meta.get("tz", "+0000"))};; '
        '*) exec /bin/date "$@";; esac',
    )
    for tool, recorded in (("dpkg-query", "dpkg-query.txt"), ("rpm", "rpm-qa.txt")):
        if (src / recorded).exists():
            _stub(bin_dir / tool, f"exec cat {shlex.quote(str(src / recorded))}")
        else:
            _stub(bin_dir / tool, "exit 0")  # never fall through to this machine's real tool
    return dest


def host_env(host_dir: Path) -> dict[str, str]:
    """Environment that makes the collection script read ``host_dir`` instead of this machine."""
    return {
        "CIVISCAN_ROOT": str(host_dir / "root"),
        "PATH": f"{host_dir / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }


def local_transport_for(host_dir: Path, timeout: float = 20.0) -> LocalTransport:
    return LocalTransport(timeout, env=host_env(host_dir))


# --------------------------------------------------------------------------- keys


def new_ed25519(path: Path, comment: str = "lab") -> paramiko.Ed25519Key:
    """Write a fresh unencrypted Ed25519 private key (OpenSSH format, mode 0600)."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    Path(f"{path}.pub").write_text(public.decode() + f" {comment}\n")
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def known_hosts_line(address: str, port: int, key: paramiko.PKey, hashed: bool = False) -> str:
    name = address if port == 22 else f"[{address}]:{port}"
    if hashed:
        name = paramiko.HostKeys.hash_host(name)
    return f"{name} {key.get_name()} {key.get_base64()}\n"


# --------------------------------------------------------------------------- sshd


def free_port(addresses: Iterable[str]) -> int:
    """A TCP port that is free on every address (probed by binding, then released)."""
    addresses = list(addresses)
    for _ in range(50):
        with socket.socket() as first:
            first.bind((addresses[0], 0))
            port = first.getsockname()[1]
            ok = True
            for address in addresses[1:]:
                with socket.socket() as other:
                    try:
                        other.bind((address, port))
                    except OSError:
                        ok = False
                        break
            if ok:
                return port
    raise RuntimeError("no common free port")


def _openssh_version(sshd: str) -> tuple[int, int]:
    out = subprocess.run([sshd, "-V"], capture_output=True, text=True, check=False).stderr
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


class SSHDLab:
    """One ``sshd -D`` on up to 16 loopback addresses, serving lab hosts.

    ``hosts`` maps address -> recorded host name (a folder under
    tests/data/packages/hosts), or ``"hang"`` for a host whose command never
    finishes. Use as a context manager; everything lives under ``workdir``.
    """

    def __init__(
        self, sshd: str, workdir: Path, hosts: Mapping[str, str], port: int | None = None
    ) -> None:
        if len(hosts) > MAX_LISTEN:
            raise ValueError(f"one sshd listens on at most {MAX_LISTEN} addresses")
        self.sshd = sshd
        self.dir = workdir
        self.hosts = dict(hosts)
        self.port = port or free_port(self.hosts)
        self.user = getpass.getuser()
        self._proc: subprocess.Popen[bytes] | None = None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host_key = new_ed25519(self.dir / "host_ed25519_key", "lab-host")
        self.user_key_path = self.dir / "user_ed25519"
        new_ed25519(self.user_key_path, "lab-user")
        (self.dir / "authorized_keys").write_text(Path(f"{self.user_key_path}.pub").read_text())
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text(
            "".join(known_hosts_line(a, self.port, self.host_key) for a in self.hosts)
        )
        for address, name in self.hosts.items():
            host_dir = self.dir / "hosts" / address
            if name == "hang":
                host_dir.mkdir(parents=True)
                (host_dir / "hang").write_text("")
            else:
                materialise_host(name, host_dir)
        self._write_config()

    def sessions(self, address: str) -> int:
        """How many commands the lab ran for ``address`` so far."""
        path = self.dir / "sessions"
        return path.read_text().split().count(address) if path.exists() else 0

    @property
    def fingerprint(self) -> str:
        from scanner.transports.ssh import key_fingerprint

        return key_fingerprint(self.host_key)

    def _write_config(self) -> None:
        wrapper = self.dir / "wrapper.sh"
        lab = shlex.quote(str(self.dir))
        wrapper.write_text(
            "#!/bin/sh\n"
            "set -- $SSH_CONNECTION\n"
            f'H={lab}/hosts/"$3"\n'
            '[ -d "$H" ] || { echo "lab: no host $3" >&2; exit 1; }\n'
            f'echo "$3" >> {lab}/sessions\n'
            f'if [ -f "$H/hang" ]; then echo $$ >> {lab}/pids; exec sleep 300; fi\n'
            '[ "$SSH_ORIGINAL_COMMAND" = "/bin/sh -s" ] || '
            '{ echo "lab: unexpected command" >&2; exit 126; }\n'
            'PATH="$H/bin:$PATH" CIVISCAN_ROOT="$H/root" exec /bin/sh -s\n'
        )
        wrapper.chmod(0o755)
        lines = [f"ListenAddress {address}:{self.port}" for address in self.hosts]
        lines += [
            f"HostKey {self.dir / 'host_ed25519_key'}",
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            f"ForceCommand {wrapper}",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UseDNS no",
            "MaxStartups 200",
            "MaxSessions 10",
            "LogLevel ERROR",
        ]
        if _openssh_version(self.sshd) >= (9, 8):
            # Failed-auth tests must not get 127.0.0.1 penalised for the next test.
            lines.append("PerSourcePenalties no")
        (self.dir / "sshd_config").write_text("\n".join(lines) + "\n")

    def start(self) -> Self:
        with contextlib.suppress(OSError):
            # sshd refuses to start without its privilege separation folder.
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        with open(self.dir / "sshd.log", "wb") as log:
            self._proc = subprocess.Popen(
                [self.sshd, "-D", "-e", "-f", str(self.dir / "sshd_config")],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        pending = set(self.hosts)
        while pending:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sshd did not start: {(self.dir / 'sshd.log').read_text()}")
            for address in list(pending):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection((address, self.port), timeout=1) as sock,
                ):
                    if sock.recv(8).startswith(b"SSH-"):
                        pending.discard(address)
            if pending:
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        pids = self.dir / "pids"
        if pids.exists():
            for pid in pids.read_text().split():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def sshd_lab(sshd: str, workdir: Path, hosts: Mapping[str, str]) -> Iterator[SSHDLab]:
    lab = SSHDLab(sshd, workdir, hosts)
    with lab:
        yield lab
