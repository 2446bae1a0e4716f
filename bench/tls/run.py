"""TLS scanning benchmark: civiscan's tls plugin vs sslyze, testssl.sh, sslscan and nmap.

    .venv/bin/python bench/tls/run.py [--timeout 5] [--only civiscan,sslscan] [--repeat 3]
    .venv/bin/python bench/tls/run.py --interleave 20   # one endpoint: civiscan vs nmap, paired
    .venv/bin/python bench/tls/run.py --hyperfine 20    # the same (and --version) by hyperfine

Starts one nginx with the TLS server blocks of tests/tls/conftest.py's
``lab_sites`` (modern, legacy, weak, DHE-1024, TLS 1.3 only, ...) on
127.77.x.y:8443 plus two silent endpoints (a listening socket that never
accepts, so the TCP handshake succeeds and nothing answers), and puts a
counting relay (``CountingRelay``, on 127.65.P.N:8443, P from the process id) in front of each nginx
endpoint: the exact number of TCP connections every tool opens to every
endpoint. Then, in one run:

1. the whole lab, every tool once: wall time, connections (total, and the
   maximum and mean of one endpoint), peak RSS, and the facts found (accepted
   protocol versions and cipher suites) as the correctness comparison;
2. one Mozilla-intermediate endpoint, each tool ``--repeat`` times (medians),
   civiscan as the whole command (``civiscan scan`` with a policy, a store and
   JSON output: interpreter start, imports, store and output included) next
   to nmap's ``ssl-enum-ciphers`` alone;
3. ``civiscan --version``, median of 10.

Needs GNU time (/usr/bin/time) for the memory column. The sources are
byte-compiled first, as an installed package is, so that an environment with
PYTHONDONTWRITEBYTECODE does not time the compiler.

sslyze is looked up as ``sslyze`` on PATH or in /tmp/sslyze-venv (``python3 -m
venv /tmp/sslyze-venv && /tmp/sslyze-venv/bin/pip install sslyze``); the others
are Debian packages (nmap, sslscan, testssl.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PORT = 8443
HOST = "tls.lab.test"
# The counting relays' addresses, 127.65.P.N: P from the process id, so two runs at once
# (the machine is shared) do not collide.
RELAY_PREFIX = f"127.65.{os.getpid() % 250 + 1}"
SINGLE = "intermediate-1"


def _load_lab() -> Any:
    """The PKI, nginx and relay helpers of tests/tls/conftest.py (one place for them)."""
    spec = importlib.util.spec_from_file_location("tls_lab", ROOT / "tests/tls/conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tls_lab"] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Lab:
    endpoints: dict[str, str]  # name -> the relay's address (all on PORT): what tools scan
    direct: dict[str, str]  # name -> nginx's own address
    silent: list[str]
    status_url: str
    ca: str
    nginx: Any
    relay: Any
    sockets: list[socket.socket] = field(default_factory=list)

    def accepts(self) -> int:
        with urllib.request.urlopen(self.status_url, timeout=5) as resp:
            text = resp.read().decode()
        return int(text.splitlines()[2].split()[0])

    def close(self) -> None:
        self.relay.close()
        self.nginx.stop()
        for sock in self.sockets:
            sock.close()


def start_lab(lab: Any, work: Path) -> Lab:
    pki = lab.make_pki(work)
    nginx = lab.Nginx(shutil.which("nginx") or "/usr/sbin/nginx", work)
    direct = {}
    for name, directives in lab.lab_sites(pki):
        site = nginx.add(directives, port=PORT)
        direct[name] = site.address
    status = lab.next_address()
    nginx.blocks.append(
        f"server {{ listen {status}:{PORT}; location /status {{ stub_status; }} }}\n")
    nginx.start()
    relay = lab.CountingRelay({n: (a, PORT) for n, a in direct.items()}, RELAY_PREFIX, PORT)
    silent_sockets = []
    silent = []
    for _ in range(2):
        address = lab.next_address()
        sock = socket.socket()
        sock.bind((address, PORT))
        sock.listen(512)  # never accept: connects succeed, nothing ever answers
        silent_sockets.append(sock)
        silent.append(address)
    return Lab({n: a for n, (a, _) in relay.addresses.items()}, direct, silent,
               f"http://{status}:{PORT}/status", str(pki.ca), nginx, relay, silent_sockets)


# ------------------------------------------------------------------ tools


@dataclass
class Run:
    tool: str
    seconds: float
    connections: int  # nginx's own count (stub_status accepts)
    rss_mb: float
    protocols: int  # accepted (endpoint, version) pairs found
    suites: int  # accepted (endpoint, version, suite) triples found
    per_endpoint: dict[str, int] = field(default_factory=dict)  # the relays' counts
    note: str = ""
    load: float = 0.0  # the 1-minute load average when it started

    def spread(self) -> str:
        if not self.per_endpoint:
            return "-"
        worst = max(self.per_endpoint, key=lambda n: self.per_endpoint[n])
        mean = sum(self.per_endpoint.values()) / len(self.per_endpoint)
        return f"{self.per_endpoint[worst]} ({worst}) / {mean:.1f}"


@dataclass
class Single:
    tool: str
    seconds: list[float]
    connections: int
    rss_mb: float
    note: str = ""
    load: float = 0.0  # the 1-minute load average when the first run started
    cpu: list[float] = field(default_factory=list)  # user+sys seconds of each run

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def measure(cmd: list[str], cwd: Path, timeout: float = 1800) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, exit code) (:func:`measure_cpu`)."""
    seconds, rss, code, _ = measure_cpu(cmd, cwd, timeout)
    return seconds, rss, code


def measure_cpu(cmd: list[str], cwd: Path, timeout: float = 1800) -> tuple[float, float, int, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, exit code, CPU seconds user+sys).

    The RSS comes from GNU time (``%M``: the largest resident size of the
    process or any descendant it waited for). ``wait4`` from here would report
    at least this script's own size, which a forked child inherits as its
    high-water mark.
    """
    rss_file = cwd / ".maxrss"
    start = time.monotonic()
    try:
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", str(rss_file), *cmd], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout, check=False)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = -9
    seconds = time.monotonic() - start
    try:
        user, system, rss_kb = rss_file.read_text().split()[-3:]
        cpu, rss = float(user) + float(system), int(rss_kb) / 1024
    except (OSError, ValueError, IndexError):
        cpu, rss = 0.0, 0.0
    return seconds, rss, code, cpu


def targets(lab_: Lab) -> list[str]:
    return list(lab_.endpoints.values()) + lab_.silent


def civiscan_command(lab_: Lab, address: str, out: Path, timeout: float) -> list[str]:
    """The whole command on one endpoint: a policy, the store, JSON output to a file."""
    binary = Path(sys.executable).with_name("civiscan")
    return [str(binary), "scan", "-p", "mozilla-intermediate", "--resolve",
            f"{HOST}:{PORT}:{address}", "--ca-file", lab_.ca, "--timeout", f"{timeout:g}", "-q",
            "-f", "json", "-o", str(out / "civiscan-cli.json"), "--db", str(out / "store.db"),
            f"https://{HOST}:{PORT}/"]


def civiscan_cmd(lab_: Lab, addresses: list[str], out: Path, timeout: float) -> list[str]:
    """civiscan runs in a child process, so its wall time and RSS are measured like the peers'."""
    spec = {"addresses": addresses, "ca": lab_.ca, "timeout": timeout}
    (out / "civiscan-in.json").write_text(json.dumps(spec))
    return [sys.executable, str(Path(__file__).resolve()), "--civiscan-child",
            str(out / "civiscan-in.json"), str(out / "civiscan.json")]


async def _civiscan_child(spec_path: str, out_path: str) -> None:
    from scanner.models import Asset, AssetKind
    from scanner.plugin import Context
    from scanner.plugins.tls import plugin

    spec = json.loads(Path(spec_path).read_text())
    limits: dict[str, asyncio.Semaphore] = {}

    async def one(address: str) -> dict[str, Any]:
        asset = Asset(id=f"bench/{address}", name=address, kind=AssetKind.ENDPOINT,
                      department="bench", url=f"https://{HOST}:{PORT}/", address=address)
        ctx = Context(timeout=spec["timeout"], settings={"ca_file": spec["ca"]},
                      host_limits=limits)
        start = time.monotonic()
        try:
            facts = await plugin.collect(asset, [], ctx)
            return {"address": address, "seconds": time.monotonic() - start, "facts": facts}
        except Exception as exc:
            return {"address": address, "seconds": time.monotonic() - start,
                    "error": f"{getattr(exc, 'reason', type(exc).__name__)}: {exc}"}

    results = await asyncio.gather(*(one(a) for a in spec["addresses"]))
    Path(out_path).write_text(json.dumps(results))


def civiscan_facts(out: Path) -> tuple[int, int, dict[str, Any]]:
    results = json.loads((out / "civiscan.json").read_text())
    protocols = suites = 0
    by_address = {}
    for r in results:
        by_address[r["address"]] = r
        facts = r.get("facts")
        if not facts:
            continue
        protocols += sum(1 for v in facts["protocols"].values() if v)
        suites += sum(len(v or []) for v in facts["ciphers"].values())
    return protocols, suites, by_address


def sslyze_binary() -> str | None:
    return shutil.which("sslyze") or next(
        (p for p in ("/tmp/sslyze-venv/bin/sslyze",) if Path(p).exists()), None)


def sslyze_cmd(addresses: list[str], out: Path) -> list[str]:
    binary = sslyze_binary()
    assert binary
    return [binary, "--quiet", f"--json_out={out / 'sslyze.json'}", "--mozilla_config=disable",
            "--certinfo", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3",
            "--elliptic_curves"] + [f"{HOST}:{PORT}{{{a}}}" for a in addresses]


def sslyze_facts(out: Path) -> tuple[int, int]:
    data = json.loads((out / "sslyze.json").read_text())
    protocols = suites = 0
    for server in data.get("server_scan_results", []):
        result = server.get("scan_result") or {}
        for key in ("ssl_2_0_cipher_suites", "ssl_3_0_cipher_suites", "tls_1_0_cipher_suites",
                    "tls_1_1_cipher_suites", "tls_1_2_cipher_suites", "tls_1_3_cipher_suites"):
            accepted = ((result.get(key) or {}).get("result") or {}).get("accepted_cipher_suites")
            if accepted:
                protocols += 1
                suites += len(accepted)
    return protocols, suites


def testssl_cmd(addresses: list[str], out: Path, timeout: float) -> list[str]:
    # Targets by address: in --file mode testssl names its per-target JSON files after the
    # host, so one shared name would collide (each nginx block answers without SNI too).
    (out / "testssl-targets.txt").write_text("".join(f"https://{a}:{PORT}\n" for a in addresses))
    (out / "json").mkdir()
    binary = shutil.which("testssl") or shutil.which("testssl.sh") or "testssl"
    return [binary, "--quiet", "--color", "0", "--warnings", "off", "-p", "-E", "-P", "-f", "-S",
            "--connect-timeout", str(int(timeout)), "--openssl-timeout", str(int(timeout)),
            "--jsonfile", str(out / "json"), "--mode", "parallel",
            "--file", str(out / "testssl-targets.txt")]


def testssl_facts(out: Path) -> tuple[int, int]:
    protocols = suites = 0
    for path in (out / "json").glob("*.json"):
        try:
            items = json.loads(path.read_text() or "[]")
        except json.JSONDecodeError:
            continue
        for item in items:
            ident = item.get("id", "")
            finding = item.get("finding", "")
            if ident in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3") and \
                    finding.startswith("offered"):
                protocols += 1
            if re.match(r"^cipher-(ssl|tls)\d", ident):
                suites += 1
    return protocols, suites


def sslscan_cmd(addresses: list[str], out: Path, timeout: float) -> list[str]:
    (out / "sslscan-targets.txt").write_text("".join(f"{a}:{PORT}\n" for a in addresses))
    return ["sslscan", "--no-colour", f"--xml={out / 'sslscan.xml'}", f"--sni-name={HOST}",
            f"--connect-timeout={int(timeout)}", f"--timeout={int(timeout)}",
            f"--targets={out / 'sslscan-targets.txt'}"]


def sslscan_facts(out: Path) -> tuple[int, int]:
    text = (out / "sslscan.xml").read_text(errors="replace")
    root = ET.fromstring(text)
    protocols = sum(1 for p in root.iter("protocol") if p.get("enabled") == "1")
    suites = sum(1 for c in root.iter("cipher") if c.get("status") in ("accepted", "preferred"))
    return protocols, suites


def nmap_cmd(addresses: list[str], out: Path, timeout: float,
             scripts: str = "ssl-enum-ciphers,ssl-cert") -> list[str]:
    return ["nmap", "-Pn", "-sT", "-n", "-p", str(PORT), "--script", scripts,
            "--script-args", f"tls.servername={HOST}", "--script-timeout", f"{int(timeout * 60)}s",
            "-oX", str(out / "nmap.xml"), *addresses]


def nmap_facts(out: Path) -> tuple[int, int]:
    root = ET.parse(out / "nmap.xml").getroot()
    protocols = suites = 0
    for script in root.iter("script"):
        if script.get("id") != "ssl-enum-ciphers":
            continue
        for table in script.findall("table"):
            protocols += 1
            for ciphers in table.findall("table"):
                if ciphers.get("key") == "ciphers":
                    suites += len(ciphers.findall("table"))
    return protocols, suites


@dataclass(frozen=True)
class Tool:
    name: str
    available: Callable[[], bool]
    command: Callable[[list[str], Path, float], list[str]]
    facts: Callable[[Path], tuple[int, int]]


TOOLS = [
    Tool("sslyze", lambda: sslyze_binary() is not None, lambda a, o, t: sslyze_cmd(a, o), sslyze_facts),
    Tool("testssl.sh", lambda: bool(shutil.which("testssl") or shutil.which("testssl.sh")),
         testssl_cmd, testssl_facts),
    Tool("sslscan", lambda: bool(shutil.which("sslscan")), sslscan_cmd, sslscan_facts),
    Tool("nmap", lambda: bool(shutil.which("nmap")), nmap_cmd, nmap_facts),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--only", default="", help="comma-separated peers (civiscan always runs)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool on one endpoint")
    parser.add_argument("--facts", type=Path, help="write civiscan's facts per endpoint here (JSON)")
    parser.add_argument("--compare", type=Path,
                        help="an earlier --facts file: print every fact that differs from it")
    parser.add_argument("--interleave", type=int, metavar="RUNS",
                        help="only the one-endpoint commands: civiscan scan and nmap ssl-enum-ciphers "
                             "alternated RUNS times, with the ratio of each pair")
    parser.add_argument("--hyperfine", type=int, metavar="RUNS",
                        help="only the one-endpoint commands and civiscan --version, timed by hyperfine")
    parser.add_argument("--civiscan-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.civiscan_child:
        asyncio.run(_civiscan_child(*args.civiscan_child))
        return 0
    if args.interleave or args.hyperfine:
        return _one_endpoint(args)

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "scanner"),
                    str(ROOT / "plugins")], check=False, stdout=subprocess.DEVNULL)
    lab_module = _load_lab()
    work = Path(tempfile.mkdtemp(prefix="civiscan-bench-tls-"))
    lab_ = start_lab(lab_module, work)
    only = {t.strip() for t in args.only.split(",") if t.strip()}
    peers = [t for t in TOOLS if (not only or t.name in only) and t.available()]
    runs: list[Run] = []
    singles: list[Single] = []
    try:
        runs.append(_whole_lab_civiscan(lab_, work, args.timeout))
        by_address = civiscan_facts(work)[2]
        facts = {n: by_address[a].get("facts") for n, a in lab_.endpoints.items()}
        if args.facts:
            args.facts.write_text(json.dumps(facts, indent=1, sort_keys=True))
        for tool in peers:
            runs.append(_whole_lab_peer(lab_, tool, work, args.timeout))
        address = lab_.direct[SINGLE]
        out = work / "single-civiscan"
        out.mkdir()
        singles.append(_single(lab_, "civiscan scan", args.repeat,
                               lambda: civiscan_command(lab_, address, out, args.timeout), out))
        for tool in peers:
            out = work / f"single-{tool.name}"
            out.mkdir()
            if tool.name == "nmap":
                def command(out: Path = out) -> list[str]:
                    return nmap_cmd([address], out, args.timeout, "ssl-enum-ciphers")
                singles.append(_single(lab_, "nmap ssl-enum-ciphers", args.repeat, command, out))
                continue

            def command(tool: Tool = tool, out: Path = out) -> list[str]:
                return tool.command([address], out, args.timeout)
            singles.append(_single(lab_, tool.name, 1 if tool.name == "testssl.sh" else args.repeat,
                                   command, out))
        version = [measure([str(Path(sys.executable).with_name("civiscan")), "--version"], work)[0]
                   for _ in range(10)]
    finally:
        lab_.close()
        shutil.rmtree(work, ignore_errors=True)
    report(lab_module, runs, singles, len(lab_.endpoints), len(lab_.silent), args.repeat)
    if args.compare:
        print_differences(json.loads(args.compare.read_text()), facts)
    print(f"\nciviscan --version: median {statistics.median(version) * 1000:.0f} ms of 10")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _one_endpoint(args: argparse.Namespace) -> int:
    """civiscan's whole command against nmap's ``ssl-enum-ciphers`` on one endpoint, paired."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "scanner"),
                    str(ROOT / "plugins")], check=False, stdout=subprocess.DEVNULL)
    lab_module = _load_lab()
    work = Path(tempfile.mkdtemp(prefix="civiscan-bench-tls-"))
    lab_ = start_lab(lab_module, work)
    address = lab_.direct[SINGLE]
    (work / "c").mkdir()
    (work / "n").mkdir()
    civiscan = civiscan_command(lab_, address, work / "c", args.timeout)
    nmap = nmap_cmd([address], work / "n", args.timeout, "ssl-enum-ciphers")
    version = [str(Path(sys.executable).with_name("civiscan")), "--version"]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        if args.hyperfine:
            export = work / "hyperfine.json"
            subprocess.run(["hyperfine", "-N", "--warmup", "2", "--runs", str(args.hyperfine),
                            "--ignore-failure", "--export-json", str(export),
                            "-n", "civiscan scan", subprocess.list2cmdline(civiscan),
                            "-n", "nmap ssl-enum-ciphers", subprocess.list2cmdline(nmap),
                            "-n", "civiscan --version", subprocess.list2cmdline(version)],
                           check=False)
            results = json.loads(export.read_text())["results"]
            mean = {r["command"]: r for r in results}
            c, n = mean["civiscan scan"], mean["nmap ssl-enum-ciphers"]
            print(f"\nmedian wall: civiscan scan {c['median'] * 1000:.0f} ms, nmap "
                  f"{n['median'] * 1000:.0f} ms, ratio {c['median'] / n['median']:.2f}; "
                  f"CPU (user+sys mean): civiscan {(c['user'] + c['system']) * 1000:.0f} ms, "
                  f"nmap {(n['user'] + n['system']) * 1000:.0f} ms; civiscan --version "
                  f"{mean['civiscan --version']['median'] * 1000:.0f} ms")
        if args.interleave:
            pairs = []
            for _ in range(args.interleave):
                c = measure_cpu(civiscan, work)
                n = measure_cpu(nmap, work)
                pairs.append((c, n))
            walls = [c[0] / n[0] for c, n in pairs]
            print(f"\n{args.interleave} interleaved pairs on {SINGLE}:")
            print(f"  civiscan scan: wall median {statistics.median(c[0] for c, _ in pairs) * 1000:.0f} ms, "
                  f"CPU median {statistics.median(c[3] for c, _ in pairs) * 1000:.0f} ms, "
                  f"exit codes {sorted({c[2] for c, _ in pairs})}")
            print(f"  nmap ssl-enum-ciphers: wall median {statistics.median(n[0] for _, n in pairs) * 1000:.0f} ms, "
                  f"CPU median {statistics.median(n[3] for _, n in pairs) * 1000:.0f} ms")
            print(f"  paired wall ratio civiscan/nmap: median {statistics.median(walls):.2f} "
                  f"(min {min(walls):.2f}, max {max(walls):.2f})")
            versions = [measure_cpu(version, work) for _ in range(10)]
            print(f"  civiscan --version: wall median {statistics.median(v[0] for v in versions) * 1000:.0f} ms, "
                  f"CPU median {statistics.median(v[3] for v in versions) * 1000:.0f} ms")
    finally:
        lab_.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _whole_lab_civiscan(lab_: Lab, work: Path, timeout: float) -> Run:
    load = os.getloadavg()[0]
    before, counts = lab_.accepts(), lab_.relay.snapshot()
    seconds, rss, _ = measure(civiscan_cmd(lab_, targets(lab_), work, timeout), ROOT)
    conns = lab_.accepts() - before - 1
    per = _delta(counts, lab_.relay.snapshot())
    protocols, suites, by_address = civiscan_facts(work)
    silent = max(by_address[a]["seconds"] for a in lab_.silent)
    busy = max(r["seconds"] for a, r in by_address.items() if a not in lab_.silent)
    own = {n: by_address[a]["facts"]["connections"] for n, a in lab_.endpoints.items()
           if by_address[a].get("facts")}
    note = (f"silent endpoints: {silent:.1f}s each (timeout {timeout:g}s); slowest answering "
            f"endpoint {busy:.2f}s")
    if own != per:
        note += f"; its own counts differ from the relays': {own}"
    return Run("civiscan", seconds, conns, rss, protocols, suites, per, note, load)


def _whole_lab_peer(lab_: Lab, tool: Tool, work: Path, timeout: float) -> Run:
    out = work / f"{tool.name}-all"
    out.mkdir()
    load = os.getloadavg()[0]
    before, counts = lab_.accepts(), lab_.relay.snapshot()
    seconds, rss, rc = measure(tool.command(targets(lab_), out, timeout), out)
    conns = lab_.accepts() - before - 1
    per = _delta(counts, lab_.relay.snapshot())
    try:
        protocols, suites = tool.facts(out)
        note = "" if rc == 0 else f"exit code {rc}"
    except (OSError, ValueError, ET.ParseError) as exc:
        protocols = suites = 0
        note = f"no parsable output ({type(exc).__name__})"
    return Run(tool.name, seconds, conns, rss, protocols, suites, per, note, load)


def _single(lab_: Lab, name: str, repeat: int, command: Callable[[], list[str]],
            out: Path) -> Single:
    times, cpu, conns, rss, note, load = [], [], 0, 0.0, "", os.getloadavg()[0]
    for i in range(repeat):
        before = lab_.accepts()
        seconds, peak, rc, used = measure_cpu(command(), out)
        if i == 0:
            conns = lab_.accepts() - before - 1
            note = "" if rc in (0, 1) else f"exit code {rc}"
        times.append(seconds)
        cpu.append(used)
        rss = max(rss, peak)
    return Single(name, times, conns, rss, note, load, cpu)


# What differs from run to run on its own: each run makes a new PKI and new DH
# parameters on new addresses, and each scan counts its own connections.
_VOLATILE = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64}|\d{4}-\d\d-\d\dT[\d:]+Z|/tmp/.*|127\..*)$")


def _normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items() if k != "connections"}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if isinstance(value, str) and _VOLATILE.match(value):
        return "<varies>"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1 << 64:
        return "<DH number>"
    return value


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Every fact (a path into the JSON) that differs, once the run-to-run values are set aside."""
    before, after = _normalised(before), _normalised(after)
    if isinstance(before, dict) and isinstance(after, dict):
        return [line for key in sorted(set(before) | set(after))
                for line in differences(before.get(key, "<absent>"), after.get(key, "<absent>"),
                                        f"{path}.{key}" if path else key)]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [line for i, (b, a) in enumerate(zip(before, after, strict=True))
                for line in differences(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {json.dumps(before)} -> {json.dumps(after)}"]


def print_differences(before: dict[str, Any], after: dict[str, Any]) -> None:
    lines = differences(before, after)
    print(f"\nfacts compared with the earlier run, {len(after)} endpoints "
          f"(connections, addresses, PKI and DH numbers, times set aside): "
          f"{len(lines)} differences")
    for line in lines:
        print(f"  {line[:300]}")


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def report(lab: Any, runs: list[Run], singles: list[Single], endpoints: int, silent: int,
           repeat: int) -> None:
    base = runs[0]
    print(f"\n{endpoints} nginx endpoints + {silent} silent endpoints on loopback, every tool once\n")
    header = (f"{'tool':<11} {'wall s':>8} {'x civiscan':>10} {'TCP conns':>9} "
              f"{'max (endpoint) / mean per endpoint':>36} {'peak RSS MB':>11} {'versions':>8} "
              f"{'suites':>6} {'load':>5}  note")
    print(header)
    print("-" * len(header))
    for run in runs:
        ratio = run.seconds / base.seconds if base.seconds else 0
        print(f"{run.tool:<11} {run.seconds:>8.2f} {ratio:>10.1f} {run.connections:>9} "
              f"{run.spread():>36} {run.rss_mb:>11.1f} {run.protocols:>8} {run.suites:>6} "
              f"{run.load:>5.2f}  {run.note}")
    print("\nciviscan's connections per endpoint (relay counts) and the budget of each:")
    for name, count in sorted(base.per_endpoint.items(), key=lambda kv: -kv[1]):
        budget = lab.connection_budget(name)
        print(f"  {name:<18} {count:>4}  {budget:>3}{'  over' if count > budget else ''}")
    for title, names in (("Mozilla-style", [n for n in base.per_endpoint if n in lab.MOZILLA_STYLE]),
                         ("legacy", [n for n in base.per_endpoint if n not in lab.MOZILLA_STYLE])):
        worst = max(names, key=lambda n: base.per_endpoint[n])
        print(f"  maximum of one {title} endpoint: {base.per_endpoint[worst]} ({worst}), "
              f"budget {lab.connection_budget(worst)}")
    nmap = next((s for s in singles if s.tool.startswith("nmap")), None)
    print(f"\none endpoint ({SINGLE}), median of {repeat} (testssl.sh: 1 run)\n")
    header = (f"{'tool':<22} {'median s':>8} {'runs s':>22} {'x nmap':>6} {'CPU s':>6} "
              f"{'TCP conns':>9} {'peak RSS MB':>11} {'load':>5}  note")
    print(header)
    print("-" * len(header))
    for single in singles:
        ratio = f"{single.median / nmap.median:.2f}" if nmap else "-"
        runs_text = " ".join(f"{t:.2f}" for t in single.seconds)
        cpu = statistics.median(single.cpu) if single.cpu else 0.0
        print(f"{single.tool:<22} {single.median:>8.2f} {runs_text:>22} {ratio:>6} {cpu:>6.2f} "
              f"{single.connections:>9} {single.rss_mb:>11.1f} {single.load:>5.2f}  {single.note}")


if __name__ == "__main__":
    sys.exit(main())
