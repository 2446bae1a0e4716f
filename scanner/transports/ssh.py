"""The SSH transport (paramiko): strict host keys, one connection, one command.

Security rules (docs/ssh.md):

* Host keys are checked strictly. A host is trusted when its key is in a
  known_hosts file (system and user files by default, or the file named by the
  asset or the run settings) or matches a SHA256 fingerprint pinned in the
  inventory. An unknown or changed key is refused with reason ``host_key`` and
  a message that names the command to enrol it. Nothing is ever trusted
  implicitly; :func:`enrol` is the one explicit trust-on-first-use step.
* Secrets come from the ssh-agent, key files, or the environment variable
  *named* by ``password_env`` / ``passphrase_env`` (or a prompt callback the
  CLI supplies). They are never taken from argv, never stored, never logged,
  and never part of an error message.
* One TCP connection per host and one ``exec`` request: the collection script
  travels on stdin to ``/bin/sh -s`` and its output comes back in one stream.
* Every hop (jump hosts, ``HostName`` rewrites, the target) is admitted by the
  run's scope gate before the first packet; civiscan opens the sockets itself,
  to the addresses the gate returned.
* A server cannot make civiscan buffer without bound: a packet longer than
  :data:`MAX_PACKET_BYTES` or a banner phase longer than
  :data:`MAX_BANNER_BYTES` is a protocol error.

All paramiko calls block; :class:`SSHTransport` runs them through
``ctx.run_blocking`` and bounds every step with a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import hashlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paramiko
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..gate import Gate
from ..inventory import scope_for_targets
from ..models import Asset, AssetKind, CollectFailed, ErrorReason, SSHSettings
from ..netutil import classify, describe, format_hostport
from ..plugin import Context
from . import DEFAULT_SSH_CONFIG, MAX_OUTPUT_BYTES, MAX_STDERR_BYTES, CommandResult

Prompt = Callable[[str], str]
"""Asks the operator for a secret; the argument says which (never contains one)."""

SYSTEM_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
USER_KNOWN_HOSTS = "~/.ssh/known_hosts"
REMOTE_COMMAND = "/bin/sh -s"

# OpenSSH's own limit (PACKET_MAX_SIZE); RFC 4253 6.1 only asks for 35000
# bytes, and paramiko's channels never send more than 32 KiB of data at once.
MAX_PACKET_BYTES = 256 * 1024
# RFC 4253 4.2: the version line is at most 255 bytes; paramiko reads at most
# 100 lines before it. Without a bound one endless line grows for ever.
MAX_BANNER_BYTES = 64 * 1024
# Private key files are a few KiB; this only bounds what a wrong path could make us read.
MAX_KEY_FILE_BYTES = 1024 * 1024

# paramiko logs a traceback at ERROR for every failed handshake, and Python
# prints such records on stderr when nothing is configured. The failure is
# already an error finding with a reason; the records go to civiscan's logger,
# which prints nothing unless the program embedding civiscan configures logging.
LOG = logging.getLogger("civiscan.ssh")
_PARAMIKO_LOG = logging.getLogger("paramiko")


class _ToCiviscan(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if LOG.isEnabledFor(record.levelno):
            LOG.handle(record)


logging.getLogger("civiscan").addHandler(logging.NullHandler())
_PARAMIKO_LOG.addHandler(_ToCiviscan())
_PARAMIKO_LOG.propagate = False

# Key types asked for one at a time by enrol(); the server offers each it has.
_ENROL_KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
)


# --------------------------------------------------------------------------- fingerprints


def key_fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:<base64 without padding>``, exactly as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def normalise_fingerprint(text: str) -> str:
    """Accept ``SHA256:abc=``, ``sha256:abc`` or bare ``abc``; return ``SHA256:abc``."""
    value = text.strip()
    if value.lower().startswith("sha256:"):
        value = value[len("sha256:") :]
    return "SHA256:" + value.rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH files a host under: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Hop:
    """One SSH server on the way: a jump host or the target itself."""

    host: str
    port: int
    user: str
    key_files: tuple[str, ...] = ()
    look_for_keys: bool = True
    origin: str = "SSH target"  # names the hop in a scope refusal

    @property
    def label(self) -> str:
        return format_hostport(self.host, self.port)


@dataclass(frozen=True)
class SSHTarget:
    """Everything needed to reach one host, after ~/.ssh/config is applied."""

    target: Hop
    jumps: tuple[Hop, ...]
    known_hosts: tuple[str, ...]  # files to trust; empty when pins decide
    pins: tuple[str, ...]  # normalised SHA256 fingerprints
    custom_known_hosts: str | None  # the one file named by asset/settings, for messages


def parse_hop(spec: str) -> tuple[str | None, str, int | None]:
    """``user@host:port`` / ``host`` / ``[v6]:port`` -> (user, host, port)."""
    user: str | None = None
    text = spec.strip()
    if "@" in text:
        user, text = text.rsplit("@", 1)
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    else:
        host = text
    if not host:
        raise ValueError(f"no host in jump specification {spec!r}")
    return user or None, host, port


def _ssh_config(settings: Mapping[str, Any]) -> paramiko.SSHConfig | None:
    raw = settings.get("ssh_config", DEFAULT_SSH_CONFIG)
    if not raw:
        return None
    path = os.path.expanduser(str(raw))
    if not os.path.isfile(path):
        return None
    try:
        return paramiko.SSHConfig.from_path(path)
    except (OSError, paramiko.ConfigParseError) as exc:
        raise CollectFailed(ErrorReason.CONNECT, f"cannot read SSH config {path}: {exc}") from None


def _lookup(config: paramiko.SSHConfig | None, host: str) -> dict[str, Any]:
    return dict(config.lookup(host)) if config is not None else {"hostname": host}


def _hop(
    config: paramiko.SSHConfig | None,
    host: str,
    user: str | None,
    port: int | None,
    key_file: str | None,
    origin: str,
) -> Hop:
    entry = _lookup(config, host)
    if entry.get("proxycommand"):
        # civiscan must know every address it connects to; a command could reach any.
        raise CollectFailed(
            ErrorReason.NOT_SUPPORTED,
            f"{origin} {host}: ProxyCommand in the SSH config is not supported (use ProxyJump)",
        )
    name = str(entry.get("hostname") or host)
    if name != host:
        origin = f"{origin} {host} via HostName"
    # The inventory's key first (it may be missing: open() says so), then the
    # config's IdentityFile entries that exist, as ssh -i does.
    configured = (os.path.expanduser(p) for p in entry.get("identityfile") or [])
    key_files = tuple(
        dict.fromkeys(
            [
                *([os.path.expanduser(key_file)] if key_file else []),
                *filter(os.path.isfile, configured),
            ]
        )
    )
    return Hop(
        host=name,
        port=int(port or entry.get("port") or 22),
        user=user or entry.get("user") or getpass.getuser(),
        key_files=key_files,
        look_for_keys=str(entry.get("identitiesonly", "no")).lower() != "yes",
        origin=origin,
    )


def resolve(asset: Asset, settings: Mapping[str, Any]) -> SSHTarget:
    """Combine the inventory's SSH settings with ~/.ssh/config (inventory wins).

    ``settings["ssh_config"]`` names another config file, or ``""`` for none.
    ``port: 22`` in the inventory counts as "not set", so a ``Port`` from the
    config file applies.
    """
    ssh = asset.ssh or SSHSettings()
    config = _ssh_config(settings)
    address = asset.connect_address
    target = _hop(config, address, ssh.user, ssh.port, ssh.key_file, "SSH target")

    jump_spec = ssh.jump or _lookup(config, address).get("proxyjump")
    source = "ssh.jump" if ssh.jump else "ProxyJump"
    jumps: list[Hop] = []
    if jump_spec and str(jump_spec).lower() != "none":
        for part in str(jump_spec).split(","):
            try:
                user, host, port = parse_hop(part)
            except ValueError as exc:
                raise CollectFailed(ErrorReason.CONNECT, f"bad jump host: {exc}") from None
            # A jump host is reached with the same inventory key as the target
            # (docs/ssh.md); the scope gate admits it first, like the target.
            jumps.append(_hop(config, host, user, port, ssh.key_file, f"SSH jump host from {source}"))

    pins = tuple(normalise_fingerprint(p) for p in ssh.host_key_fingerprints)
    custom = ssh.known_hosts or settings.get("known_hosts")
    if pins:
        files: tuple[str, ...] = ()
    elif custom:
        files = (os.path.expanduser(str(custom)),)
    else:
        user_files = _lookup(config, address).get("userknownhostsfile")
        user_list = str(user_files).split() if user_files else [USER_KNOWN_HOSTS]
        files = (SYSTEM_KNOWN_HOSTS, *(os.path.expanduser(f) for f in user_list))
    return SSHTarget(
        target=target,
        jumps=tuple(jumps),
        known_hosts=files,
        pins=pins,
        custom_known_hosts=os.path.expanduser(str(custom)) if custom and not pins else None,
    )


# --------------------------------------------------------------------------- host keys


class HostKeyRefused(Exception):
    """The host offered a key that is not trusted (unknown, changed or unpinned)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def enrol_command(host: str, port: int, known_hosts: str | None, replace: bool = False) -> str:
    command = f"civiscan hosts enrol {host} --port {port}"
    if known_hosts:
        command += f" --known-hosts {known_hosts}"
    if replace:
        command += " --replace"
    return command


class _StrictPolicy(paramiko.MissingHostKeyPolicy):
    """Rejects every key paramiko did not find in known_hosts, unless it is pinned."""

    def __init__(self, hop: Hop, pins: Sequence[str], known_hosts: str | None) -> None:
        self.hop = hop
        self.pins = tuple(pins)
        self.known_hosts = known_hosts

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        offered = f"{key.get_name()} key {key_fingerprint(key)}"
        if self.pins:
            if key_fingerprint(key) in self.pins:
                return
            raise HostKeyRefused(
                f"the host key of {self.hop.label} does not match the pinned fingerprints "
                f"(offered {offered}; pinned {', '.join(self.pins)}). If the host was re-keyed, "
                "verify the new fingerprint and update host_key_fingerprints in the inventory"
            )
        raise HostKeyRefused(
            f"the host key of {self.hop.label} is not known (offered {offered}). Verify the "
            "fingerprint with the host's administrator, then enrol it: "
            + enrol_command(self.hop.host, self.hop.port, self.known_hosts)
        )


def _changed_key_message(hop: Hop, exc: paramiko.BadHostKeyException, known: str | None) -> str:
    return (
        f"the host key of {hop.label} has CHANGED: known_hosts holds {exc.expected_key.get_name()} "
        f"{key_fingerprint(exc.expected_key)}, the host offered {exc.key.get_name()} "
        f"{key_fingerprint(exc.key)}. This can mean someone is intercepting the connection, or "
        "that the host was reinstalled. If the change is expected, verify the new fingerprint, "
        "then re-enrol: " + enrol_command(hop.host, hop.port, known, replace=True)
    )


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class _Secrets:
    password: str | None
    passphrase: str | None

    def __repr__(self) -> str:  # never let a secret reach a log or a traceback
        return "_Secrets(<hidden>)"


def _secret(env_name: str | None, field: str, what: str, prompt: Prompt | None) -> str | None:
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value is not None:
        return value
    if prompt is not None:
        return prompt(what)
    raise CollectFailed(
        ErrorReason.AUTH,
        f"the environment variable {env_name} (named by ssh.{field}) is not set",
    )


def _secrets(ssh: SSHSettings, label: str, prompt: Prompt | None) -> _Secrets:
    return _Secrets(
        password=_secret(ssh.password_env, "password_env", f"password for {label}", prompt),
        passphrase=_secret(
            ssh.passphrase_env, "passphrase_env", f"passphrase for the SSH key of {label}", prompt
        ),
    )


# --------------------------------------------------------------------------- connect & run


def _failure(exc: BaseException, hop: Hop, known: str | None) -> CollectFailed:
    """Turn what paramiko or the socket layer raised into a reason and a plain sentence."""
    where = f"SSH to {hop.label}"
    if isinstance(exc, CollectFailed):
        return exc
    if isinstance(exc, HostKeyRefused):
        return CollectFailed(ErrorReason.HOST_KEY, exc.message)
    # paramiko wraps what a banner read raised in a plain SSHException.
    for cause in (exc, exc.__cause__, exc.__context__):
        if isinstance(cause, PacketTooLarge):
            return CollectFailed(ErrorReason.PROTOCOL, f"{where}: {cause}")
    if isinstance(exc, paramiko.BadHostKeyException):
        return CollectFailed(ErrorReason.HOST_KEY, _changed_key_message(hop, exc, known))
    if isinstance(exc, paramiko.PasswordRequiredException):
        return CollectFailed(
            ErrorReason.AUTH,
            f"{where}: the private key is encrypted; name the variable holding its passphrase "
            "in ssh.passphrase_env",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        if "timeout" in str(exc).lower():
            return CollectFailed(ErrorReason.TIMEOUT, f"{where}: no answer to authentication")
        return CollectFailed(
            ErrorReason.AUTH,
            f"{where}: authentication as {hop.user!r} failed (keys from the agent and key files"
            " were refused, or no usable credential was available)",
        )
    if isinstance(exc, paramiko.ChannelException):
        return CollectFailed(
            ErrorReason.CONNECT, f"{where}: the jump host could not open a connection ({exc.text})"
        )
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        if "no authentication methods" in text.lower():
            return CollectFailed(
                ErrorReason.AUTH,
                f"{where}: no credential to offer as {hop.user!r} (no key file, agent key or "
                "password is configured)",
            )
        if "no existing session" in text.lower():
            # start_client() gave up on the key exchange after the timeout.
            return CollectFailed(
                ErrorReason.TIMEOUT, f"{where}: no SSH handshake within the timeout"
            )
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, (EOFError, ConnectionResetError)) or "reset by peer" in text:
            return CollectFailed(ErrorReason.RESET, f"{where}: the server closed the connection")
        if "banner" in text.lower() and (
            "timed out" in text.lower() or isinstance(cause, (socket.timeout, TimeoutError))
        ):
            return CollectFailed(ErrorReason.TIMEOUT, f"{where}: no SSH banner within the timeout")
        if isinstance(cause, (socket.timeout, TimeoutError)) or "timeout" in text.lower():
            return CollectFailed(ErrorReason.TIMEOUT, f"{where}: no answer within the timeout")
        return CollectFailed(
            ErrorReason.PROTOCOL, f"{where}: {text.splitlines()[0][:300] if text else 'SSH error'}"
        )
    if isinstance(exc, EOFError):
        return CollectFailed(ErrorReason.RESET, f"{where}: the server closed the connection")
    if isinstance(exc, OSError):
        return CollectFailed(classify(exc), f"{where}: {describe(exc)}")
    return CollectFailed(ErrorReason.BUG, f"{where}: {type(exc).__name__}: {exc}")


class PacketTooLarge(paramiko.SSHException):
    """The server announced more than civiscan will buffer."""


class _BoundedPacketizer(paramiko.Packetizer):
    """paramiko's Packetizer with a ceiling on what one read may buffer.

    ``read_message`` takes the packet length from the wire and asks
    ``read_all`` for that many bytes in one piece, so a server announcing
    4 GiB made paramiko buffer until the handshake timed out. Every packet
    read passes through ``read_all``; the banner lines through ``_read_timeout``.
    """

    def __init__(self, socket: Any) -> None:
        super().__init__(socket)
        self._banner_bytes = 0

    def read_all(self, n: int, check_rekey: bool = False) -> bytes:
        if n > MAX_PACKET_BYTES:
            raise PacketTooLarge(
                f"the server announced a packet of {n} bytes (more than the "
                f"{MAX_PACKET_BYTES // 1024} KiB limit)"
            )
        data: bytes = super().read_all(n, check_rekey)
        return data

    def _read_timeout(self, timeout: float) -> bytes:
        data: bytes = super()._read_timeout(timeout)  # type: ignore[misc]
        self._banner_bytes += len(data)
        if self._banner_bytes > MAX_BANNER_BYTES:
            raise PacketTooLarge(
                f"the server sent more than {MAX_BANNER_BYTES // 1024} KiB before its SSH banner"
            )
        return data


def _transport(sock: Any, **kwargs: Any) -> paramiko.Transport:
    return paramiko.Transport(sock, packetizer_class=_BoundedPacketizer, **kwargs)


def _load_private_key(data: bytes, password: bytes | None) -> None:
    """Decrypt a private key as cryptography does: TypeError when ``password`` does not fit
    (given for a plain key, missing for an encrypted one), ValueError when it is wrong."""
    load = (
        serialization.load_ssh_private_key
        if b"BEGIN OPENSSH PRIVATE KEY" in data
        else serialization.load_pem_private_key
    )
    load(data, password)


def _check_passphrase(hop: Hop, passphrase: str | None) -> None:
    """Refuse, as ``auth``, an encrypted key file the passphrase does not open, before any packet.

    paramiko reports a wrong passphrase as a generic SSH error in the middle of
    authentication. Without a passphrase nothing is checked here: an encrypted
    key is then skipped in favour of the agent, as OpenSSH does. Plain keys and
    files cryptography cannot read are left to paramiko, as before.
    """
    if passphrase is None:
        return
    for path in hop.key_files:
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_KEY_FILE_BYTES)
            _load_private_key(data, None)
            continue  # not encrypted
        except TypeError:
            pass  # encrypted
        except (OSError, ValueError, UnsupportedAlgorithm):
            continue
        try:
            _load_private_key(data, passphrase.encode())
        except (TypeError, ValueError, UnsupportedAlgorithm):
            raise CollectFailed(
                ErrorReason.AUTH,
                f"SSH to {hop.label}: the passphrase from ssh.passphrase_env does not open the "
                f"key file {path}",
            ) from None


@dataclass
class _Timeouts:
    connect: float
    command: float


class SSHConnection:
    """One authenticated SSH connection (through jump hosts if any). Blocking API."""

    def __init__(
        self,
        target: SSHTarget,
        secrets: _Secrets,
        timeouts: _Timeouts,
        gate: Gate,
    ) -> None:
        self._target = target
        self._secrets = secrets
        self._timeouts = timeouts
        self._gate = gate
        self._clients: list[paramiko.SSHClient] = []

    def _client(self, hop: Hop, pins: Sequence[str]) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        for path in self._target.known_hosts:
            # A missing or unreadable file simply trusts nothing; strictness
            # then refuses the host with an enrol hint.
            if os.path.isfile(path):
                try:
                    client.load_system_host_keys(path)
                except OSError:
                    continue
        client.set_missing_host_key_policy(
            _StrictPolicy(hop, pins, self._target.custom_known_hosts)
        )
        return client

    def open(self) -> None:
        """Connect hop by hop; raises CollectFailed with the reason of the first failure.

        Every hop is admitted by the gate, and every key file read, before the
        first packet; the sockets go to the admitted addresses only.
        """
        t = self._timeouts.connect
        hops = (*self._target.jumps, self._target.target)
        for hop in hops:
            for key_file in hop.key_files:  # only a key file named in the inventory can be missing
                if not os.path.isfile(key_file):
                    raise CollectFailed(
                        ErrorReason.AUTH, f"SSH to {hop.label}: key file {key_file} does not exist"
                    )
            _check_passphrase(hop, self._secrets.passphrase)
        addresses = [
            self._gate.admit_sync(hop.host, hop.port, purpose=f"{hop.origin} {hop.label}")
            for hop in hops
        ]
        sock: Any = None
        first: socket.socket | None = None
        for index, (hop, address) in enumerate(zip(hops, addresses, strict=True)):
            last = index == len(hops) - 1
            client = self._client(hop, self._target.pins if last else ())
            self._clients.append(client)
            try:
                if sock is None:
                    sock = first = socket.create_connection((address, hop.port), timeout=t)
                client.connect(
                    hop.host,  # the name known_hosts files the key under
                    port=hop.port,
                    username=hop.user,
                    password=self._secrets.password,
                    passphrase=self._secrets.passphrase,
                    # paramiko accepts a list here although its stubs say str
                    key_filename=list(hop.key_files) or None,  # type: ignore[arg-type]
                    look_for_keys=hop.look_for_keys,
                    allow_agent=True,
                    sock=sock,
                    timeout=t,
                    banner_timeout=t,
                    auth_timeout=t,
                    channel_timeout=t,
                    transport_factory=_transport,
                )
                if not last:
                    transport = client.get_transport()
                    assert transport is not None
                    # The admitted address, never a name for the jump host to resolve.
                    sock = transport.open_channel(
                        "direct-tcpip", (addresses[index + 1], hops[index + 1].port),
                        ("127.0.0.1", 0), timeout=t,
                    )
            except Exception as exc:
                self.close()
                if first is not None:
                    first.close()
                known = self._target.custom_known_hosts
                raise _failure(exc, hop, known) from None

    def run(self, script: str, command: str = REMOTE_COMMAND) -> CommandResult:
        """Send ``script`` on stdin to ``command``; read until exit or the command timeout."""
        client = self._clients[-1]
        transport = client.get_transport()
        hop = self._target.target
        if transport is None or not transport.is_active():
            raise CollectFailed(ErrorReason.RESET, f"SSH to {hop.label}: connection lost")
        deadline = time.monotonic() + self._timeouts.command
        try:
            channel = transport.open_session(timeout=self._timeouts.connect)
            channel.exec_command(command)
            channel.sendall(script.encode())
            channel.shutdown_write()
            return _read_until_exit(channel, deadline, self._timeouts.command, hop)
        except CollectFailed:
            raise
        except Exception as exc:
            raise _failure(exc, hop, None) from None

    def close(self) -> None:
        for client in reversed(self._clients):
            client.close()
        self._clients.clear()


def _read_until_exit(
    channel: paramiko.Channel, deadline: float, limit: float, hop: Hop
) -> CommandResult:
    out: list[bytes] = []
    err: list[bytes] = []
    out_size = err_size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            channel.close()
            raise CollectFailed(
                ErrorReason.TIMEOUT,
                f"SSH to {hop.label}: the collection script did not finish within {limit:g} s",
            )
        while channel.recv_stderr_ready():
            chunk = channel.recv_stderr(65536)
            if err_size < MAX_STDERR_BYTES:
                err.append(chunk)
            err_size += len(chunk)
        channel.settimeout(min(remaining, 0.5))
        try:
            chunk = channel.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        out.append(chunk)
        out_size += len(chunk)
        if out_size > MAX_OUTPUT_BYTES:
            channel.close()
            raise CollectFailed(
                ErrorReason.PROTOCOL,
                f"SSH to {hop.label}: the collection script printed more than "
                f"{MAX_OUTPUT_BYTES // (1024 * 1024)} MiB",
            )
    # stdout is at EOF; the exit status follows within moments of it.
    status = -1
    if channel.status_event.wait(max(0.0, min(deadline - time.monotonic(), 5.0))):
        status = channel.recv_exit_status()
    while channel.recv_stderr_ready():
        err.append(channel.recv_stderr(65536))
    channel.close()
    return CommandResult(b"".join(out), b"".join(err)[:MAX_STDERR_BYTES], status)


def run_once(
    target: SSHTarget, secrets: _Secrets, timeouts: _Timeouts, gate: Gate, script: str
) -> CommandResult:
    """Connect, run ``script``, disconnect: the whole blocking life of one host scan."""
    connection = SSHConnection(target, secrets, timeouts, gate)
    connection.open()
    try:
        return connection.run(script)
    finally:
        connection.close()


class SSHTransport:
    """The :class:`~scanner.transports.Transport` over SSH for one asset.

    Timeouts: ``ctx.timeout`` bounds the TCP connect, the banner, the key
    exchange, authentication and each channel open; ``ctx.settings
    ["command_timeout"]`` (default ``ctx.timeout``) bounds the script run.
    """

    name = "ssh"

    def __init__(self, asset: Asset, ctx: Context, prompt: Prompt | None = None) -> None:
        self._asset = asset
        self._ctx = ctx
        self._prompt = prompt

    async def run_script(self, script: str) -> CommandResult:
        settings = self._ctx.settings
        target = resolve(self._asset, settings)
        secrets = _secrets(self._asset.ssh or SSHSettings(), target.target.label, self._prompt)
        timeouts = _Timeouts(
            connect=float(self._ctx.timeout),
            command=float(settings.get("command_timeout") or self._ctx.timeout),
        )
        # Every paramiko step has its own timeout; this outer bound only guards
        # the event loop against a step that ignores it (the thread is then
        # abandoned, its socket closes when the step finally returns).
        hops = len(target.jumps) + 1
        bound = hops * 5 * timeouts.connect + timeouts.command + 5
        try:
            return await asyncio.wait_for(
                self._ctx.run_blocking(run_once, target, secrets, timeouts, self._ctx.gate, script),
                bound,
            )
        except TimeoutError:
            raise CollectFailed(
                ErrorReason.TIMEOUT, f"SSH to {target.target.label}: no result within {bound:g} s"
            ) from None


# --------------------------------------------------------------------------- enrol


def named_gate(address: str) -> Gate:
    """A gate that admits exactly ``address`` (a name or an IP), as for ad-hoc targets."""
    named = Asset(id=address, name=address, kind=AssetKind.HOST, department="", address=address)
    return Gate(scope_for_targets([named]))


def fetch_host_keys(
    address: str, port: int = 22, timeout: float = 10.0, gate: Gate | None = None
) -> list[paramiko.PKey]:
    """Every host key the server offers, one key exchange per key type. No trust implied.

    ``address`` is admitted (and a name resolved) once by ``gate``, by default
    a gate admitting ``address`` alone, so every key exchange reaches one address.
    """
    keys: list[paramiko.PKey] = []
    hop = Hop(address, port, "")
    ip = (gate or named_gate(address)).admit_sync(address, port, purpose="host key enrolment")
    for key_type in _ENROL_KEY_TYPES:
        try:
            sock = socket.create_connection((ip, port), timeout=timeout)
        except OSError as exc:
            raise _failure(exc, hop, None) from None
        transport = _transport(sock)
        try:
            transport.banner_timeout = timeout
            transport.get_security_options().key_types = [key_type]
            try:
                transport.start_client(timeout=timeout)
            except paramiko.SSHException as exc:
                if "incompatible" in str(exc).lower():
                    continue  # the server has no key of this type
                raise _failure(exc, hop, None) from None
            except (OSError, EOFError) as exc:
                raise _failure(exc, hop, None) from None
            key = transport.get_remote_server_key()
            if all(key.asbytes() != k.asbytes() for k in keys):
                keys.append(key)
        finally:
            transport.close()
    if not keys:
        raise CollectFailed(
            ErrorReason.PROTOCOL, f"{format_hostport(address, port)} offered no host key"
        )
    return keys


def _names_on_line(line: str) -> list[str] | None:
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    fields = text.split()
    if fields[0].startswith("@"):  # @cert-authority / @revoked markers
        fields = fields[1:]
    return fields[0].split(",") if fields else None


def _line_names_host(line: str, name: str) -> bool:
    names = _names_on_line(line)
    if not names:
        return False
    for entry in names:
        if entry == name:
            return True
        if entry.startswith("|1|") and paramiko.HostKeys.hash_host(name, entry) == entry:
            return True
    return False


def enrol(
    address: str,
    port: int = 22,
    known_hosts_path: str | None = None,
    timeout: float = 10.0,
    replace: bool = False,
    gate: Gate | None = None,
) -> list[tuple[str, str]]:
    """Trust ``address:port`` on first use: fetch its host keys and add them to known_hosts.

    Returns ``(key_type, "SHA256:...")`` for every key the host offered, so the
    operator can compare them with what the host's administrator reads out.
    A known host whose key differs is refused (reason ``host_key``) unless
    ``replace`` is true, which first removes every line naming the host.
    """
    path = os.path.expanduser(known_hosts_path or USER_KNOWN_HOSTS)
    keys = fetch_host_keys(address, port, timeout, gate)
    name = known_hosts_name(address, port)
    lines: list[str] = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    existing = paramiko.HostKeys()
    for line in lines:
        if _line_names_host(line, name):
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line.strip())
            if entry is not None and entry.key is not None:
                existing.add(name, entry.key.get_name(), entry.key)
    if replace:
        lines = [line for line in lines if not _line_names_host(line, name)]
        new = keys
    else:
        known: Any = existing.lookup(name) or {}
        for key in keys:
            old = known.get(key.get_name())
            if old is not None and old.asbytes() != key.asbytes():
                raise CollectFailed(
                    ErrorReason.HOST_KEY,
                    f"{path} already holds a different {key.get_name()} key for {name} "
                    f"({key_fingerprint(old)}; the host offers {key_fingerprint(key)}). "
                    "If the change is expected, run: "
                    + enrol_command(address, port, known_hosts_path, replace=True),
                )
        new = [k for k in keys if k.get_name() not in known]
    if new or replace:
        lines.extend(f"{name} {k.get_name()} {k.get_base64()}" for k in new)
        _write_private(path, "".join(line + "\n" for line in lines))
    return [(k.get_name(), key_fingerprint(k)) for k in keys]


def _write_private(path: str, text: str) -> None:
    """Replace ``path`` atomically with mode 0600 (its folder 0700 when created)."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".known_hosts.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


__all__ = [
    "MAX_BANNER_BYTES",
    "MAX_PACKET_BYTES",
    "Hop",
    "HostKeyRefused",
    "PacketTooLarge",
    "Prompt",
    "SSHConnection",
    "SSHTarget",
    "SSHTransport",
    "enrol",
    "enrol_command",
    "fetch_host_keys",
    "key_fingerprint",
    "known_hosts_name",
    "named_gate",
    "normalise_fingerprint",
    "parse_hop",
    "resolve",
]
