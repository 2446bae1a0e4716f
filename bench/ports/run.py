"""Benchmark: full-range TCP scans of a loopback lab, civiscan against nmap.

    .venv/bin/python bench/ports/run.py [--hosts 5] [--rounds 3] [--timeout 2]

Starts listeners on ``--hosts`` loopback addresses (127.0.41.1, ...), then for
each round times, on all hosts at once:

* ``nmap``: raw ``nmap -sT -Pn -n -p1-65535`` with every host on one command line;
* ``connect``: civiscan's built-in backend, one plugin ``collect`` per host,
  run concurrently as the engine would;
* ``nmap backend``: civiscan's nmap backend the same way (one nmap per host).

It prints the median wall and CPU time of each, their ratios to raw nmap, and
whether each found exactly the lab's open ports on every host (ports open on
every host are other processes' wildcard listeners and are set aside). The
CPU ratio is the steadier one on a busy machine. Exit status 1 if a tool
missed a lab port. It stops by itself; only loopback addresses are probed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from scanner.models import Asset, AssetKind
from scanner.plugin import CheckRequest, Context
from scanner.plugins.ports import plugin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab import Lab

OpenPorts = dict[str, set[int]]
FULL_RANGE = CheckRequest("ports.allowed", {"allowed": [], "port_set": "all", "ports": []})


def start_lab(lab: Lab, hosts: list[str]) -> OpenPorts:
    """Listeners on each host: one well-known port when free, high ports, one mute.

    No port listens on every host, so a port open on all of them is another
    process's wildcard listener (see :func:`own_ports`).
    """
    expected: OpenPorts = {}
    for i, address in enumerate(hosts):
        ports = expected[address] = set()
        try:
            ports.add(lab.open(address, (22, 80, 443, 3306, 8080)[i % 5]))
        except OSError:  # another process holds it on the wildcard address
            pass
        for _ in range(3 + i):
            ports.add(lab.open(address))
        ports.add(lab.mute(address))
    return expected


def own_ports(found: OpenPorts) -> tuple[OpenPorts, set[int]]:
    """Split off ports open on every lab host: other processes listening on 0.0.0.0.

    They come and go while the benchmark runs (this machine is shared), so
    they are reported but left out of the agreement check.
    """
    everywhere = set.intersection(*found.values()) if found else set()
    return {h: ports - everywhere for h, ports in found.items()}, everywhere


def raw_nmap(nmap: str, hosts: list[str]) -> OpenPorts:
    out = subprocess.run(
        [nmap, "-sT", "-Pn", "-n", "-p1-65535", "-oX", "-", *hosts],
        capture_output=True,
        check=True,
        timeout=600,
    ).stdout
    found: OpenPorts = {}
    for host in ET.fromstring(out).findall("host"):
        address = host.find("address")
        assert address is not None
        found[address.get("addr", "")] = {
            int(p.get("portid", "0"))
            for p in host.findall("ports/port")
            if (state := p.find("state")) is not None and state.get("state") == "open"
        }
    return found


def civiscan(backend: str, hosts: list[str], timeout: float) -> OpenPorts:
    async def one(address: str) -> tuple[str, set[int]]:
        asset = Asset(f"bench/{address}", address, AssetKind.HOST, "bench", address=address)
        ctx = Context(timeout=timeout, settings={"port_scanner": backend})
        facts = await plugin.collect(asset, [FULL_RANGE], ctx)
        return address, {p["port"] for p in facts["open"]}

    async def all_hosts() -> OpenPorts:
        return dict(await asyncio.gather(*(one(h) for h in hosts)))

    return asyncio.run(all_hosts())


def cpu_seconds() -> float:
    """User + system CPU of this process, its threads and its finished children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed(fn: Callable[[], OpenPorts]) -> tuple[float, float, OpenPorts]:
    """Wall seconds, CPU seconds (less disturbed by a busy machine) and the result."""
    cpu, start = cpu_seconds(), time.perf_counter()
    found = fn()
    return time.perf_counter() - start, cpu_seconds() - cpu, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=2.0, help="ctx.timeout in seconds")
    args = parser.parse_args()
    if args.hosts < 2:
        parser.error(
            "--hosts must be at least 2: wildcard listeners are told apart by being on all"
        )
    nmap = shutil.which("nmap")
    if nmap is None:
        print("nmap is not installed", file=sys.stderr)
        return 2
    hosts = [f"127.0.41.{i}" for i in range(1, args.hosts + 1)]
    runs: dict[str, Callable[[], OpenPorts]] = {
        "nmap -sT": lambda: raw_nmap(nmap, hosts),
        "civiscan connect": lambda: civiscan("connect", hosts, args.timeout),
        "civiscan nmap backend": lambda: civiscan("nmap", hosts, args.timeout),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    exact = {name: True for name in runs}
    complete = True
    wildcard: set[int] = set()
    with Lab() as lab:
        expected = start_lab(lab, hosts)
        print(
            f"lab: {len(hosts)} hosts, {sum(map(len, expected.values()))} listening ports;"
            f" each tool scans 1-65535 on every host, {args.rounds} rounds"
        )
        for round_no in range(1, args.rounds + 1):
            results: dict[str, OpenPorts] = {}
            for name, run in runs.items():
                elapsed, used, results[name] = timed(run)
                times[name].append(elapsed)
                cpu[name].append(used)
            verdicts = []
            for name, found in results.items():
                own, everywhere = own_ports(found)
                missed = {
                    h: sorted(expected[h] - own.get(h, set()))
                    for h in hosts
                    if expected[h] - own.get(h, set())
                }
                extra = {
                    h: sorted(own.get(h, set()) - expected[h])
                    for h in hosts
                    if own.get(h, set()) - expected[h]
                }
                exact[name] = exact[name] and not missed and not extra
                complete = complete and not missed
                if missed or extra:
                    verdicts.append(f"  {name}: missed {missed or 'nothing'}, extra {extra}")
                wildcard |= everywhere
            print(
                f"round {round_no}: "
                + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items())
                + ("; all three found exactly the lab's ports" if not verdicts else "")
            )
            for line in verdicts:
                print(line)
    base = statistics.median(times["nmap -sT"])
    base_cpu = statistics.median(cpu["nmap -sT"])
    print()
    print(f"{'tool':24} {'median wall':>12} {'ratio':>7} {'median CPU':>11} {'ratio':>7}")
    for name, samples in times.items():
        wall, used = statistics.median(samples), statistics.median(cpu[name])
        print(
            f"{name:24} {wall:>11.2f}s {wall / base:>6.2f}x {used:>10.2f}s {used / base_cpu:>6.2f}x"
        )
    for name, ok in exact.items():
        print(
            f"{name}: {'exactly the lab' if ok else 'NOT exactly the lab'}'s open ports in every round"
        )
    if wildcard:
        print(
            f"ignored, open on every host (other processes' wildcard listeners): {sorted(wildcard)}"
        )
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
