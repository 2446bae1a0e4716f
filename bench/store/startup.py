"""Benchmark: what SQLAlchemy (and Alembic) would add to the start of every SQLite scan.

Times, interleaved over ``--rounds`` rounds, ``civiscan --version``, a scan of
one loopback address with no listener (the baseline policy's port checks, a
fresh SQLite store each time), and the same scan in a process that imports
SQLAlchemy, and SQLAlchemy plus Alembic, first — the least a SQLite store
opened through them would cost. Prints the medians.

    .venv/bin/python bench/store/startup.py [--rounds 15] [--address 127.61.0.3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRELOAD = "import {modules}; from scanner.cli import main; sys.argv[0] = 'civiscan'; main()"


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=False, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--address", default="127.61.0.3")
    args = parser.parse_args()
    variants = {
        "civiscan --version": (None, ["--version"]),
        "scan (as shipped)": (None, None),
        "scan, SQLAlchemy imported first": ("sys, sqlalchemy, sqlalchemy.dialects.sqlite", None),
        "scan, SQLAlchemy + Alembic imported first": ("sys, sqlalchemy, alembic.command, alembic.migration", None),
    }
    times: dict[str, list[float]] = {k: [] for k in variants}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for name, (modules, fixed) in variants.items():
                scan = ["scan", "-p", "baseline", "--scope", args.address, args.address, "--port-scanner", "connect",
                        "--db", str(Path(tmp) / f"{n}-{len(times[name])}-{hash(name)}.db"), "-o", "/dev/null", "-q"]
                tail = fixed or scan
                head = [sys.executable, "-c", PRELOAD.format(modules=modules)] if modules else [sys.executable, "-m", "scanner"]
                times[name].append(timed(head + tail))
    base = statistics.median(times["scan (as shipped)"])
    print(f"median of {args.rounds} rounds:")
    for name, values in times.items():
        median = statistics.median(values)
        extra = "" if name.startswith("civiscan --version") else f"  ({(median / base - 1) * 100:+.0f} % vs as shipped)"
        print(f"  {name:45s} {median * 1000:6.0f} ms{extra}")


if __name__ == "__main__":
    main()
