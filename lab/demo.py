"""``civiscan demo``: a small, deliberately misconfigured city on loopback, scanned end to end.

Three departments, each with a server and a web endpoint, plus this machine
itself for the patch-level part:

* parks   — a file server with Telnet and FTP open; a web site with no HSTS,
  an expiring certificate and cookies without flags;
* water   — a SCADA gateway with MySQL, Redis and VNC reachable; a billing site
  with an expired certificate that still accepts TLS 1.0;
* finance — a clean application server; a payment site that passes; a status
  page that accepts connections and never answers (an ``error``, not a pass);
* it-ops  — this machine, checked with the ``local`` transport against the
  bundled sample advisory feed.

Everything listens on 127.0.77.x, high ports only, so no root is needed.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shutil
import socket
import ssl
import struct
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from scanner.engine import ScanSettings
from scanner.errors import ExitCode
from scanner.fsutil import atomic_write
from scanner.output import inert
from scanner.plugin import load_registry
from scanner.store import Store

from .pki import LabPKI
from .servers import Lab

DOMAIN = "demo.city"
WEB_PORT = 8443
PLAIN_PORT = 8080


def _http_response(headers: list[tuple[str, str]], status: str = "200 OK") -> Callable[[bytes], bytes]:
    body = b"<html><body><h1>civiscan demo</h1></body></html>"
    head = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}", "Connection: close"]

    def reply(_request: bytes) -> bytes:
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    return reply


def _tls_context(fullchain: Path, key: Path, *, legacy: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(fullchain), str(key))
    if legacy:
        # A deliberately outdated site: TLS 1.0 and 1.1 still accepted.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # outdated on purpose
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def start_lab(lab: Lab, pki: LabPKI) -> None:
    """Start every demo listener on 127.0.77.x."""
    # parks: file server with clear-text admin services.
    lab.tcp("127.0.77.1", 2121, greeting=b"220 ProFTPD 1.3.5 Server (Parks files)\r\n")
    lab.tcp("127.0.77.1", 2323, greeting=b"Debian GNU/Linux 9\r\nparks-files login: ")
    lab.tcp("127.0.77.1", 8022, greeting=b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    # water: databases and VNC on the network.
    lab.tcp("127.0.77.2", 3306, greeting=b"J\x00\x00\x00\n5.7.33-log\x00")
    lab.tcp("127.0.77.2", 6379, reply=lambda _d: b"-NOAUTH Authentication required.\r\n")
    lab.tcp("127.0.77.2", 5900, greeting=b"RFB 003.008\n")
    # finance: only its HTTPS application port.
    lab.tcp("127.0.77.3", 8022, greeting=b"SSH-2.0-OpenSSH_9.2p1\r\n")

    parks = pki.leaf("expires-soon", f"www.parks.{DOMAIN}")
    lab.tcp("127.0.77.11", WEB_PORT, tls=_tls_context(parks.fullchain, parks.key),
            reply=_http_response([("Server", "Apache/2.4.41 (Ubuntu)"), ("Set-Cookie", "PARKSSESSION=abc123; Path=/")]))
    lab.tcp("127.0.77.11", PLAIN_PORT, reply=_http_response([("Server", "Apache/2.4.41 (Ubuntu)")]))

    water = pki.leaf("expired", f"billing.water.{DOMAIN}")
    lab.tcp("127.0.77.12", WEB_PORT, tls=_tls_context(water.fullchain, water.key, legacy=True),
            reply=_http_response([("Strict-Transport-Security", "max-age=300"), ("X-Frame-Options", "DENY")]))

    finance = pki.leaf("good-ecdsa", f"pay.finance.{DOMAIN}")
    secure = [
        ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Set-Cookie", "sid=x; Path=/; Secure; HttpOnly; SameSite=Strict"),
    ]
    lab.tcp("127.0.77.13", WEB_PORT, tls=_tls_context(finance.fullchain, finance.key), reply=_http_response(secure))
    lab.tcp("127.0.77.13", PLAIN_PORT, reply=_http_response([("Location", f"https://pay.finance.{DOMAIN}/")], "301 Moved Permanently"))
    lab.tcp("127.0.77.14", WEB_PORT, silent=True)


def inventory_text() -> str:
    return textwrap.dedent(f"""\
        # The civiscan demo city: every address is on loopback.
        scope:
          networks: [127.0.77.0/24]
          domains: [{DOMAIN}]
        departments:
          parks:
            title: Parks and Recreation
            assets:
              - {{host: 127.0.77.1, name: parks-files, tags: [linux]}}
              - {{endpoint: "https://www.parks.{DOMAIN}:{WEB_PORT}/", address: 127.0.77.11, name: www, tags: [web]}}
          water:
            title: Water and Sewer Utility
            assets:
              - {{host: 127.0.77.2, name: scada-gateway, tags: [ot]}}
              - {{endpoint: "https://billing.water.{DOMAIN}:{WEB_PORT}/", address: 127.0.77.12, name: billing, tags: [web]}}
          finance:
            title: Finance
            assets:
              - {{host: 127.0.77.3, name: ledger, tags: [linux]}}
              - {{endpoint: "https://pay.finance.{DOMAIN}:{WEB_PORT}/", address: 127.0.77.13, name: pay, tags: [web]}}
              - {{endpoint: "https://status.finance.{DOMAIN}:{WEB_PORT}/", address: 127.0.77.14, name: status, tags: [web]}}
          it-ops:
            title: IT Operations
            assets:
              - {{host: local, name: scanner-host, tags: [linux, patch-managed]}}
        """)


def policy_text(today: dt.date) -> str:
    soon = today + dt.timedelta(days=20)
    return textwrap.dedent(f"""\
        # The demo applies the city baseline with three waivers. Patch levels are
        # checked on hosts tagged patch-managed (the lab's appliances have no SSH).
        policy: {{id: demo-city, version: "1", title: Demo city policy}}
        extends: [baseline, mozilla-intermediate]
        rules:
          - id: no-high-vulns
            title: No high or critical vulnerabilities older than 14 days
            severity: high
            rationale: >
              Known vulnerabilities with a published fix are the most common way into a server.
            remediation: Install the pending security updates and restart the affected services.
            applies_to: {{kinds: [host], tags: [patch-managed]}}
            references: {{nist-800-53: [SI-2, RA-5]}}
            checks:
              # The bundled sample feed is old by design; a real feed is refreshed daily.
              - check: packages.vulnerable
                options: {{min_severity: high, grace_days: 14, max_feed_age_days: 36500}}
          - id: supported-release
            title: The operating system release still receives security updates
            severity: high
            rationale: After end of life the vendor publishes no more fixes.
            remediation: Upgrade to a supported release.
            applies_to: {{kinds: [host], tags: [patch-managed]}}
            checks: [{{check: os.supported_release}}]
          - id: no-forbidden-packages
            title: No clear-text remote login services are installed
            severity: high
            rationale: telnet, rsh and rlogin send passwords in clear text.
            remediation: Remove the packages (apt-get purge telnetd rsh-server) and use SSH.
            applies_to: {{kinds: [host], tags: [patch-managed]}}
            checks:
              - check: packages.forbidden
                options: {{packages: [telnetd, inetutils-telnetd, rsh-server, rlogin]}}
        waivers:
          - id: W-DEMO-1
            rule: no-exposed-databases
            assets: {{ids: [water/scada-gateway]}}
            justification: Vendor-managed SCADA historian; isolation project scheduled.
            owner: water-it@{DOMAIN}
            approver: ciso@{DOMAIN}
            ticket: SEC-1001
            expires: {soon.isoformat()}
          - id: W-DEMO-2
            rule: no-cleartext-admin
            assets: {{ids: [parks/parks-files]}}
            justification: Legacy FTP for the irrigation controllers (expired exception).
            owner: parks-it@{DOMAIN}
            approver: ciso@{DOMAIN}
            ticket: SEC-0977
            expires: 2026-01-31
          - id: W-DEMO-3
            rule: web-hsts
            assets: {{ids: [library/www]}}
            justification: Library site decommissioned.
            owner: library-it@{DOMAIN}
            approver: ciso@{DOMAIN}
            ticket: SEC-0800
            expires: 2027-06-30
        """)


class DemoBusy(Exception):
    """The demo cannot start: another demo (or another program) holds what it needs."""


def command_name() -> str:
    """How the user can call civiscan again from here (for the demo's hints)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is None or argv0.name in ("__main__.py", "-c") or argv0.suffix == ".py":
        return f"{sys.executable} -m scanner"
    found = shutil.which("civiscan")
    if found and argv0.name == "civiscan" and Path(found).resolve() == argv0.resolve():
        return "civiscan"
    try:
        return os.path.relpath(argv0) if not argv0.is_absolute() or argv0.is_relative_to(Path.cwd()) else str(argv0)
    except ValueError:
        return str(argv0)


@contextmanager
def demo_lock(outdir: Path) -> Iterator[None]:
    """Hold ``outdir/.demo.lock`` for the demo's life; a second demo on the folder says who has it."""
    path = outdir / ".demo.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
            raise DemoBusy(
                f"a civiscan demo is already running on {outdir} (pid {holder}); stop it with Ctrl-C in its "
                f"terminal, or: kill {holder}" if holder.isdigit() else
                f"a civiscan demo is already running on {outdir}; stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def run_demo(outdir: Path, *, keep_running: bool = False, echo: Callable[[str], None] = print,
             full: bool | None = None) -> ExitCode:
    """Run the demo; :class:`DemoBusy` when another demo or program holds its folder or addresses.

    ``full``: print every finding row; by default only off a terminal (a CI log, a file), as
    ``scan`` does, and a terminal sees the first 40 with a hint to the rest.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    with demo_lock(outdir):
        return _run_demo(outdir, keep_running=keep_running, echo=echo,
                         full=not sys.stdout.isatty() if full is None else full)


LAB_PREFIX = "127.0.77."


def lab_listeners(proc_net_tcp: str, prefix: str = LAB_PREFIX) -> set[str]:
    """The socket inodes listening on an address starting with ``prefix``, from ``/proc/net/tcp`` text."""
    inodes = set()
    for line in proc_net_tcp.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "0A":  # 0A: LISTEN
            continue
        address = fields[1].partition(":")[0]
        try:  # the address is hex of its four bytes in this machine's order
            dotted = socket.inet_ntoa(struct.pack("=I", int(address, 16)))
        except (ValueError, struct.error):
            continue
        if dotted.startswith(prefix):
            inodes.add(fields[9])
    return inodes


def lab_holder() -> tuple[int, str] | None:
    """The pid and command line of a process of this user listening on the lab's addresses (Linux), or None."""
    try:
        inodes = lab_listeners(Path("/proc/net/tcp").read_text())
    except OSError:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir() if inodes else ():
        if not proc.name.isdigit():
            continue
        try:
            if wanted & {_link(fd) for fd in (proc / "fd").iterdir()}:
                words = (proc / "cmdline").read_bytes().split(b"\0")
                return int(proc.name), " ".join(w.decode("utf-8", "replace") for w in words if w)
        except OSError:  # another user's process, or gone
            continue
    return None


def _link(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # closed meanwhile
        return ""


def _start(lab: Lab, pki: LabPKI) -> None:
    try:
        start_lab(lab, pki)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        holder = lab_holder()
        who = (f"process {holder[0]} ({inert(holder[1])}) holds them; stop it with Ctrl-C in its terminal, "
               f"or: kill {holder[0]}" if holder else
               "another civiscan demo with --keep-running (perhaps with another -o folder) or another program "
               "holds them; stop it")
        raise DemoBusy(
            f"the demo lab's addresses ({LAB_PREFIX}x, ports 2121-8443) are in use: {who}; then run "
            f"the demo again ({exc.strerror})") from None


def _since_previous(store: Store, doc: dict, echo: Callable[[str], None], cmd: str) -> None:
    """What changed since the previous demo run, when the store has one."""
    from scanner.history import diff, load_findings

    run_id = doc["run"]["id"]
    previous = store.previous_run(run_id)
    if previous is None:  # the policy names today's date: a run of another day has another policy key
        earlier = store.history_runs(1, up_to=run_id - 1, complete=True)
        if not earlier:
            return
        previous = int(earlier[0]["id"])
    counts = diff(load_findings(store, previous), doc).counts()  # the findings, without facts
    parts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n)
    echo(f"since the previous demo run (run {previous}): {parts or 'no change'}")
    echo(f"  details: {cmd} diff {previous} {run_id} --db {store.location}")


def _run_demo(outdir: Path, *, keep_running: bool, echo: Callable[[str], None], full: bool) -> ExitCode:
    from scanner import scan as lib
    from scanner.output import summary_table

    cmd = command_name()
    now = dt.datetime.now(dt.UTC)
    atomic_write(outdir / "inventory.yaml", inventory_text())
    atomic_write(outdir / "policy.yaml", policy_text(now.date()))
    pki = LabPKI(outdir / "lab-pki", domain=DOMAIN)
    registry = load_registry()
    for warning in registry.warnings:
        echo(f"warning: {warning}")
    db_path = outdir / "civiscan.db"
    with Lab() as lab, Store(db_path) as store:
        _start(lab, pki)
        echo(f"lab: {len(lab.listeners)} listeners on 127.0.77.x (parks, water, finance) + this machine (it-ops)")
        from scanner.plugins.packages import feeds

        for path in feeds.sample_feed_paths():
            with store.write_dataset("advisories") as conn:
                feeds.import_path(conn, path)
        plan = lib.prepare(
            lib.ScanRequest(policies=[str(outdir / "policy.yaml")], inventory=str(outdir / "inventory.yaml")),
            registry,
        )
        settings = ScanSettings(
            timeout=2.0,
            plugin_settings={
                "port_scanner": "connect",
                "ca_file": str(pki.ca_bundle),
                "http_redirect_port": PLAIN_PORT,
            },
        )
        spec = lib.start(store, plan, registry, settings, now=now)
        run_id = spec.run_id
        echo(f"scanning {len(plan.assets)} assets with {len(plan.ruleset.rules)} rules (run {run_id}) ...")
        started = time.monotonic()
        code = lib.execute(spec)
        echo(f"scan finished in {time.monotonic() - started:.1f}s")
        doc = store.document(run_id)
        echo("")
        echo(summary_table(doc, limit=40, full=full,
                           show_all=f"{cmd} show {run_id} --all --db {db_path}"))
        echo("")
        report_dir = outdir / "report"
        try:
            from scanner.reports import render

            paths = render(doc, ["html", "json", "sarif", "junit", "csv", "markdown"], report_dir)
            summary = next((p for p in paths if p.name == "index.html"), None)
            echo(f"reports: {report_dir}/")
            if summary is not None:
                echo(f"organisation summary: {summary.resolve()}")
        except ImportError as exc:  # renderers are optional only while developing
            echo(f"reports not rendered: {exc}")
        _since_previous(store, doc, echo, cmd)
        echo(f"store: {db_path}  (try: {cmd} runs --db {db_path})")
        echo(f"scan exit code would be {int(code)} ({code.name.lower()}); the demo itself succeeded")
        if keep_running:
            echo("lab is up; press Ctrl-C to stop")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return ExitCode.COMPLIANT


@click.command("demo")
@click.option("-o", "--output", "outdir", default="civiscan-demo", show_default=True, metavar="DIR", help="Where the store and reports go.")
@click.option("--keep-running", is_flag=True, help="Leave the lab up until Ctrl-C (to try other commands against it).")
def demo(outdir: str, keep_running: bool) -> None:
    """Start a small misconfigured lab on loopback, scan it, and write the reports.

    Run again, it shows what changed since the previous demo run.
    """
    try:
        code = run_demo(Path(outdir), keep_running=keep_running, echo=click.echo)
    except DemoBusy as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(int(ExitCode.CONFIG)) from None
    raise SystemExit(int(code))
