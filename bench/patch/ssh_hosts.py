"""Benchmark: collect package facts from many SSH hosts at once.

Starts real OpenSSH sshd daemons on loopback addresses 127.0.40.1..N (at most
16 addresses per daemon, OpenSSH's MAX_LISTEN_SOCKS, so 50 hosts need 4
daemons), each address serving a recorded Debian/Ubuntu/Rocky/Alpine host from
tests/data/packages/hosts, then runs collect_host_facts for all hosts
concurrently, as the engine would: one Context per asset, one shared thread
pool for paramiko. Prints hosts per second and the scanner's peak RSS.

Usage: .venv/bin/python bench/patch/ssh_hosts.py [--hosts 50] [--threads 50] [--rounds 3]

The daemons run on the same machine, so every connection also costs an sshd
fork, a key exchange on both sides and a shell: the numbers are a floor for
the scanner, not a measurement of real remote hosts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import resource
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # for tests.packages.sshd_lab, the lab shared with the tests

from scanner.models import Asset, AssetKind, CollectFailed, SSHSettings
from scanner.plugin import Context
from scanner.plugins.packages.collect import collect_host_facts
from tests.packages.sshd_lab import MAX_LISTEN, SSHDLab, free_port

PERSONAS = ("debian12", "rocky9", "alpine319", "ubuntu2204")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process only (not the sshd daemons or the scripts they run)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def scan(
    assets: list[Asset], settings: dict[str, object], pool: ThreadPoolExecutor, timeout: float
) -> tuple[float, list[float], list[str]]:
    host_limits: dict[str, asyncio.Semaphore] = {}
    latencies: list[float] = []
    errors: list[str] = []

    async def one(target: Asset) -> None:
        ctx = Context(timeout, settings, executor=pool, host_limits=host_limits)
        start = time.perf_counter()
        try:
            facts = await collect_host_facts(target, ctx)
            assert facts["packages"], target.address
        except CollectFailed as exc:
            errors.append(f"{target.address}: {exc.reason.value}: {exc.message}")
        latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one(a) for a in assets))
    return time.perf_counter() - start, latencies, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--threads", type=int, default=50, help="paramiko thread pool size")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--sshd", default=shutil.which("sshd") or "/usr/sbin/sshd")
    args = parser.parse_args()

    addresses = [f"127.0.40.{i}" for i in range(1, args.hosts + 1)]
    port = free_port(addresses)
    work = Path(tempfile.mkdtemp(prefix="civiscan-ssh-bench-"))
    rss_start = rss_mib()
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, True)
        labs: list[SSHDLab] = []
        for n, first in enumerate(range(0, len(addresses), MAX_LISTEN)):
            chunk = addresses[first : first + MAX_LISTEN]
            hosts = {a: PERSONAS[(first + i) % len(PERSONAS)] for i, a in enumerate(chunk)}
            lab = SSHDLab(args.sshd, work / f"sshd{n}", hosts, port=port)
            if labs:  # one user key and one known_hosts for the whole estate
                lab_key = Path(f"{labs[0].user_key_path}.pub").read_text()
                (lab.dir / "authorized_keys").write_text(lab_key)
            labs.append(stack.enter_context(lab))
        known = work / "known_hosts"
        known.write_text("".join(lab.known_hosts.read_text() for lab in labs))
        assets = [
            Asset(
                id=f"bench/{a}",
                name=a,
                kind=AssetKind.HOST,
                department="bench",
                address=a,
                ssh=SSHSettings(
                    user=getpass.getuser(), port=port, key_file=str(labs[0].user_key_path)
                ),
            )
            for a in addresses
        ]
        settings: dict[str, object] = {"known_hosts": str(known), "ssh_config": ""}
        print(
            f"{len(addresses)} hosts on 127.0.40.1-{len(addresses)}:{port}, "
            f"{len(labs)} sshd daemons (<= {MAX_LISTEN} addresses each), "
            f"{args.threads} paramiko threads"
        )
        rates: list[float] = []
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            for round_no in range(1, args.rounds + 1):
                cpu = cpu_seconds()
                elapsed, latencies, errors = asyncio.run(scan(assets, settings, pool, args.timeout))
                cpu = cpu_seconds() - cpu
                rate = len(assets) / elapsed
                rates.append(rate)
                print(
                    f"round {round_no}: {elapsed:.2f} s, {rate:.1f} hosts/s, "
                    f"per host median {statistics.median(latencies):.2f} s "
                    f"max {max(latencies):.2f} s, scanner CPU {1000 * cpu / len(assets):.0f} ms/host, "
                    f"errors {len(errors)}"
                )
                for line in errors[:5]:
                    print("  " + line)
    peak = rss_mib()
    print(
        f"best {max(rates):.1f} hosts/s, median {statistics.median(rates):.1f} hosts/s; "
        f"peak RSS {peak:.0f} MiB (at start {rss_start:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
