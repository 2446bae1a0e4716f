"""TLS scanning benchmark: civiscan's tls plugin vs sslyze, testssl.sh, sslscan and nmap.

    .venv/bin/python bench/tls/run.py [--timeout 5] [--only civiscan,sslscan]

Starts one nginx with ~20 TLS server blocks on 127.0.x.y:8443 (modern, legacy,
weak, DHE-1024, TLS 1.3 only, ...) plus two silent endpoints (a listening
socket that never accepts, so the TCP handshake succeeds and nothing answers),
then runs every tool against the same set and prints one table: wall time,
TCP connections (nginx stub_status ``accepts``), peak RSS (``wait4``), and the
facts found (accepted protocol versions and cipher suites). It also scans the
Mozilla-intermediate endpoint alone to show each tool's connection count.
Needs GNU time (/usr/bin/time) for the memory column.

sslyze is looked up as ``sslyze`` on PATH or in /tmp/sslyze-venv (``python3 -m
venv /tmp/sslyze-venv && /tmp/sslyze-venv/bin/pip install sslyze``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import re
import shutil
import socket
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
INTERMEDIATE = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


def _load_lab() -> Any:
    """The PKI and nginx helpers of tests/tls/conftest.py (one place for them)."""
    spec = importlib.util.spec_from_file_location("tls_lab", ROOT / "tests/tls/conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tls_lab"] = module
    spec.loader.exec_module(module)
    return module


def site_configs(pki: Any) -> list[tuple[str, str]]:
    rsa = f"ssl_certificate {pki.rsa_chain}; ssl_certificate_key {pki.rsa_key};"
    ec = f"ssl_certificate {pki.ec_chain}; ssl_certificate_key {pki.ec_key};"
    intermediate = (f"{rsa} {ec} ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {INTERMEDIATE};"
                    " ssl_ecdh_curve X25519:prime256v1:secp384r1; ssl_prefer_server_ciphers off;")
    configs = [(f"intermediate-{i}", intermediate) for i in range(1, 5)]
    configs += [
        ("intermediate-rsa", rsa + f" ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers {INTERMEDIATE};"),
        ("modern-tls13", ec + " ssl_protocols TLSv1.3;"),
        ("tls13-rsa", rsa + " ssl_protocols TLSv1.3;"),
        ("nginx-defaults", rsa),
        ("tls12-only", rsa + " ssl_protocols TLSv1.2;"),
        ("legacy-tls10", rsa + " ssl_protocols TLSv1 TLSv1.1 TLSv1.2; ssl_ciphers DEFAULT:@SECLEVEL=0;"),
        ("legacy-all", rsa + " ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;"
         " ssl_ciphers ALL:@SECLEVEL=0; ssl_prefer_server_ciphers on;"),
        ("cbc-static-rsa", rsa + " ssl_protocols TLSv1.2; ssl_ciphers AES128-SHA:AES256-SHA256:"
         "ECDHE-RSA-AES128-SHA:CAMELLIA128-SHA:@SECLEVEL=0; ssl_prefer_server_ciphers on;"),
        ("null-anon", rsa + " ssl_protocols TLSv1.2; ssl_ciphers aNULL:eNULL:@SECLEVEL=0;"),
        ("dhe-1024", rsa + " ssl_protocols TLSv1.2; ssl_ciphers DHE-RSA-AES128-GCM-SHA256:"
         f"DHE-RSA-AES256-GCM-SHA384:@SECLEVEL=0; ssl_dhparam {pki.dh1024};"),
        ("dhe-2048", rsa + " ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers DHE-RSA-AES128-GCM-SHA256:"
         f"ECDHE-RSA-AES128-GCM-SHA256; ssl_dhparam {pki.dh2048};"),
        ("stapling", rsa + f" ssl_protocols TLSv1.2 TLSv1.3; ssl_stapling on;"
         f" ssl_stapling_file {pki.ocsp_response};"),
        ("server-order", rsa + " ssl_protocols TLSv1.2; ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:"
         "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384; ssl_prefer_server_ciphers on;"),
        ("ecdsa-only", ec + " ssl_protocols TLSv1.2 TLSv1.3;"),
    ]
    return configs


@dataclass
class Lab:
    endpoints: dict[str, str]  # name -> address (all on PORT)
    silent: list[str]
    status_url: str
    ca: str
    nginx: Any
    sockets: list[socket.socket] = field(default_factory=list)

    def accepts(self) -> int:
        with urllib.request.urlopen(self.status_url, timeout=5) as resp:
            text = resp.read().decode()
        return int(text.splitlines()[2].split()[0])

    def close(self) -> None:
        self.nginx.stop()
        for sock in self.sockets:
            sock.close()


def start_lab(lab: Any, work: Path) -> Lab:
    pki = lab.make_pki(work)
    nginx = lab.Nginx(shutil.which("nginx") or "/usr/sbin/nginx", work)
    endpoints = {}
    for name, directives in site_configs(pki):
        site = nginx.add(directives, port=PORT)
        endpoints[name] = site.address
    status = lab.next_address()
    nginx.blocks.append(
        f"server {{ listen {status}:{PORT}; location /status {{ stub_status; }} }}\n")
    nginx.start()
    silent_sockets = []
    silent = []
    for _ in range(2):
        address = lab.next_address()
        sock = socket.socket()
        sock.bind((address, PORT))
        sock.listen(512)  # never accept: connects succeed, nothing ever answers
        silent_sockets.append(sock)
        silent.append(address)
    return Lab(endpoints, silent, f"http://{status}:{PORT}/status", str(pki.ca), nginx,
               silent_sockets)


# ------------------------------------------------------------------ tools


@dataclass
class Run:
    tool: str
    seconds: float
    connections: int
    rss_mb: float
    protocols: int  # accepted (endpoint, version) pairs found
    suites: int  # accepted (endpoint, version, suite) triples found
    note: str = ""


def measure(cmd: list[str], cwd: Path, timeout: float = 1800) -> tuple[float, float, int]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB, exit code).

    The RSS comes from GNU time (``%M``: the largest resident size of the
    process or any descendant it waited for). ``wait4`` from here would report
    at least this script's own size, which a forked child inherits as its
    high-water mark.
    """
    rss_file = cwd / ".maxrss"
    start = time.monotonic()
    try:
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *cmd], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=timeout, check=False)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = -9
    seconds = time.monotonic() - start
    try:
        rss_kb = int(rss_file.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        rss_kb = 0
    return seconds, rss_kb / 1024, code


def targets(lab_: Lab, names: list[str] | None = None) -> list[str]:
    chosen = names or list(lab_.endpoints)
    return [lab_.endpoints[n] for n in chosen] + ([] if names else lab_.silent)


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


def per_endpoint(lab_: Lab, by_address: dict[str, Any]) -> str:
    """The largest and the mean connection count of one endpoint, from civiscan's own facts."""
    counts = {name: by_address[address]["facts"]["connections"]
              for name, address in lab_.endpoints.items() if by_address[address].get("facts")}
    if not counts:
        return "no endpoint answered"
    worst = max(counts, key=lambda name: counts[name])
    mean = sum(counts.values()) / len(counts)
    return f"connections per endpoint: max {counts[worst]} ({worst}), mean {mean:.1f}"


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


def nmap_cmd(addresses: list[str], out: Path, timeout: float) -> list[str]:
    return ["nmap", "-Pn", "-sT", "-n", "-p", str(PORT), "--script", "ssl-enum-ciphers,ssl-cert",
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
    parser.add_argument("--only", default="", help="comma-separated tools (civiscan always runs)")
    parser.add_argument("--civiscan-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.civiscan_child:
        asyncio.run(_civiscan_child(*args.civiscan_child))
        return 0

    lab_module = _load_lab()
    work = Path(tempfile.mkdtemp(prefix="civiscan-bench-tls-"))
    lab_ = start_lab(lab_module, work)
    only = {t.strip() for t in args.only.split(",") if t.strip()}
    runs: list[Run] = []
    single: dict[str, int] = {}
    try:
        all_targets = targets(lab_)
        one = [lab_.endpoints["intermediate-1"]]
        # civiscan: the whole set, then the intermediate endpoint alone
        for label, addrs in (("all", all_targets), ("one", one)):
            before = lab_.accepts()
            seconds, rss, _ = measure(civiscan_cmd(lab_, addrs, work, args.timeout), ROOT)
            conns = lab_.accepts() - before - 1
            protocols, suites, by_address = civiscan_facts(work)
            if label == "all":
                silent_times = [by_address[a]["seconds"] for a in lab_.silent]
                busy = max(r["seconds"] for a, r in by_address.items() if a not in lab_.silent)
                runs.append(Run("civiscan", seconds, conns, rss, protocols, suites,
                                f"silent endpoints: {max(silent_times):.1f}s each "
                                f"(timeout {args.timeout:g}s); slowest answering endpoint "
                                f"{busy:.2f}s; {per_endpoint(lab_, by_address)}"))
            else:
                single["civiscan"] = conns
        for tool in TOOLS:
            if (only and tool.name not in only) or not tool.available():
                continue
            for label, addrs in (("all", all_targets), ("one", one)):
                out = work / f"{tool.name}-{label}"
                out.mkdir()
                before = lab_.accepts()
                seconds, rss, rc = measure(tool.command(addrs, out, args.timeout), out)
                conns = lab_.accepts() - before - 1
                if label == "one":
                    single[tool.name] = conns
                    continue
                try:
                    protocols, suites = tool.facts(out)
                    note = "" if rc == 0 else f"exit code {rc}"
                except (OSError, ValueError, ET.ParseError) as exc:
                    protocols = suites = 0
                    note = f"no parsable output ({type(exc).__name__})"
                runs.append(Run(tool.name, seconds, conns, rss, protocols, suites, note))
    finally:
        lab_.close()
        shutil.rmtree(work, ignore_errors=True)
    report(runs, single, len(lab_.endpoints), len(lab_.silent))
    return 0


def report(runs: list[Run], single: dict[str, int], endpoints: int, silent: int) -> None:
    base = runs[0]
    print(f"\n{endpoints} nginx endpoints + {silent} silent endpoints on loopback\n")
    header = (f"{'tool':<11} {'wall s':>8} {'x civiscan':>10} {'TCP conns':>9} "
              f"{'conns, 1 interm.':>16} {'peak RSS MB':>11} {'versions':>8} {'suites':>6}  note")
    print(header)
    print("-" * len(header))
    for run in runs:
        ratio = run.seconds / base.seconds if base.seconds else 0
        print(f"{run.tool:<11} {run.seconds:>8.2f} {ratio:>10.1f} {run.connections:>9} "
              f"{single.get(run.tool, 0):>16} {run.rss_mb:>11.1f} {run.protocols:>8} "
              f"{run.suites:>6}  {run.note}")


if __name__ == "__main__":
    sys.exit(main())
