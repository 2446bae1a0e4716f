"""Throughput of the local engine vs the celery engine with 1, 2, 3 workers on one loopback estate.

    .venv/bin/python bench/scale/run.py [--hosts 450] [--endpoints 60] [--workers 1,2,3]

The estate (bench/scale/estate.py): port-lab hosts probed on the top-100 TCP
ports plus four lab ports, and TLS endpoints judged by mozilla-intermediate,
all on 127.62.0.0/16. It starts a redis-server (Debian's package) on loopback
with no persistence, runs each configuration once, every scan as a
``civiscan scan`` subprocess into its own store, and prints:

* assets/s: assets over the coordinator's wall time (enqueue to last stored outcome);
* coordinator CPU per asset (user + system of the ``civiscan scan`` process);
* worker CPU per asset (all workers, from their rusage at exit);
* broker per asset: Redis commands, Redis CPU (INFO's used_cpu_*), and the
  bytes of the job message and of the outcome;
* store per asset: the coordinator's store write (``save_asset`` of the run's
  own outcomes, replayed into a scratch store).

Results go to bench/scale/RESULTS.md (``--write``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from estate import estate  # noqa: E402

ADDRESS = "127.62.0.1"


def civiscan(*args: str) -> list[str]:
    return [sys.executable, "-m", "scanner", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((ADDRESS, 0))
        return int(sock.getsockname()[1])


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and exit code of one process."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def redis_info(client: Any) -> tuple[int, float]:
    stats = client.info("commandstats")
    calls = sum(int(v["calls"]) for v in stats.values())
    cpu = client.info("cpu")
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def start_workers(n: int, url: str, db: Path, env: dict[str, str], concurrency: int) -> list[subprocess.Popen[str]]:
    procs = []
    for i in range(n):
        procs.append(subprocess.Popen(
            civiscan("worker", "--broker", url, "--name", f"bench-{i}", "--db", str(db),
                     "--concurrency", str(concurrency), "--loglevel", "warning"),
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    return procs


def wait_ready(url: str, n: int) -> None:
    from scanner.fleet.app import make_app
    from scanner.fleet.broker import BrokerConfig

    app = make_app(BrokerConfig.load(url, {}))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(app.control.ping(timeout=0.5) or []) >= n:
            return
    raise SystemExit("workers did not come up")


def stop_workers(procs: list[subprocess.Popen[str]]) -> float:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    cpu = 0.0
    for proc in procs:
        _, _, usage = os.wait4(proc.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
    return cpu


def judge_and_store_ms(db: Path) -> tuple[float, float]:
    """Median ms per asset of the coordinator's own work on this run's outcomes: judging, and the store write.

    The stored facts are judged again (``evaluate_asset``) and written with
    ``save_asset`` into a scratch store, as the coordinator does for each outcome.
    """
    from scanner.evaluate import evaluate_asset
    from scanner.plugin import load_registry
    from scanner.store import SqliteStore

    registry = load_registry()
    with SqliteStore(db) as store:
        run_id = store.resolve_run("last")
        assert run_id is not None
        record = store.run(run_id)
        assets = store.assets(run_id)
        facts = store.facts(run_id)
    judge, write = [], []
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "s.db") as scratch:
        new = scratch.create_run(record.ruleset, assets, record.settings, record.started, None, ())
        for asset in assets:
            a_facts, a_errors = facts.get(asset.id, ({}, {}))
            t0 = time.perf_counter()
            findings = evaluate_asset(asset, a_facts, a_errors, record.ruleset, registry.checks, record.started)
            t1 = time.perf_counter()
            scratch.save_asset(new, asset, a_facts, a_errors, findings, record.started)
            t2 = time.perf_counter()
            judge.append((t1 - t0) * 1000)
            write.append((t2 - t1) * 1000)
    return statistics.median(judge), statistics.median(write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=450)
    parser.add_argument("--endpoints", type=int, default=60)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--concurrency", type=int, default=16, help="jobs per worker")
    parser.add_argument("--write", action="store_true", help="write bench/scale/RESULTS.md")
    args = parser.parse_args()
    import redis

    redis_bin = "/usr/bin/redis-server"
    port = free_port()
    server = subprocess.Popen([redis_bin, "--bind", ADDRESS, "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://{ADDRESS}:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
    rows = []
    env = {**os.environ, "CI": "1"}
    try:
        with tempfile.TemporaryDirectory() as tmp, estate(Path(tmp) / "estate", args.hosts, args.endpoints, top100=True) as est:
            total = est.assets
            common = ["-p", str(est.policy), "-i", str(est.inventory), "--ca-file", str(est.ca_file),
                      "--port-scanner", "connect", "--timeout", "2", "-q", "--broker", url]
            configs = [("local", 0)] + [("celery", int(n)) for n in args.workers.split(",")]
            for engine, workers in configs:
                db = Path(tmp) / f"{engine}-{workers}.db"
                procs = []
                if workers:
                    procs = start_workers(workers, url, Path(tmp) / "worker.db", env, args.concurrency)
                    wait_ready(url, workers)
                calls0, rcpu0 = redis_info(client)
                wall, cpu, code = run_child(civiscan("scan", *common, "--engine", engine, "--db", str(db),
                                                     "--concurrency", str(32)), env)
                calls1, rcpu1 = redis_info(client)
                worker_cpu = stop_workers(procs) if procs else 0.0
                row = {
                    "engine": engine if not workers else f"celery × {workers}",
                    "assets": total, "exit": code, "wall_s": wall, "assets_per_s": total / wall,
                    "coord_cpu_ms": cpu * 1000 / total, "worker_cpu_ms": worker_cpu * 1000 / total,
                    "redis_cmds": (calls1 - calls0) / total if workers else 0.0,
                    "redis_cpu_ms": (rcpu1 - rcpu0) * 1000 / total if workers else 0.0,
                }
                row["judge_ms"], row["store_ms"] = judge_and_store_ms(db)
                rows.append(row)
                print(json.dumps(row), flush=True)
            sizes = message_sizes(est, url, Path(tmp) / "celery-1.db")
    finally:
        client.close()
        server.terminate()
        server.wait(10)
    table = render(rows, sizes, args)
    print(table)
    if args.write:
        (HERE / "RESULTS.md").write_text(table + "\n")


def message_sizes(est: Any, url: str, db: Path) -> dict[str, float]:
    """Mean bytes of a job message and of an outcome reply, rebuilt from the stored run."""
    from scanner.engine import Job, ScanSettings
    from scanner.inventory import Scope
    from scanner.store import SqliteStore

    with SqliteStore(db) as store:
        record = store.run(1)
        settings = ScanSettings.from_json(record.settings)
        scope = Scope.from_json(record.settings.get("scope", {}))
        jobs = [len(json.dumps({"attempt": "x" * 16, "run_key": "x" * 32,
                                "job": Job.build(1, a, record.ruleset, settings, scope).to_json()}))
                for a in store.assets(1)]
        facts = store.facts(1)
        replies = [len(json.dumps({"outcome": {"facts": f, "errors": {k: v.to_json() for k, v in e.items()}}},
                                  default=str)) for f, e in facts.values()]
    return {"job_bytes": statistics.mean(jobs), "reply_bytes": statistics.mean(replies)}


def render(rows: list[dict[str, Any]], sizes: dict[str, float], args: Any) -> str:
    load = os.getloadavg()[0]
    lines = [
        "# bench/scale results",
        "",
        f"`bench/scale/run.py --hosts {args.hosts} --endpoints {args.endpoints} --workers {args.workers}"
        f" --concurrency {args.concurrency}`: {rows[0]['assets']} assets on loopback (hosts: top-100 TCP"
        " ports + 4 lab ports, connect backend; endpoints: mozilla-intermediate TLS), `--timeout 2`,"
        f" one run per configuration on a {os.cpu_count()}-core machine (load average {load:.1f} at the end;"
        " other builds ran at the same time, so absolute numbers are noisy). Workers run"
        f" {args.concurrency} jobs at once each; the local engine runs 32 (`--concurrency 32`).",
        "",
        "| engine | wall s | assets/s | coordinator CPU ms/asset | worker CPU ms/asset | Redis commands/asset | Redis CPU ms/asset | judge ms/asset | store write ms/asset |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['wall_s']:.1f} | {r['assets_per_s']:.1f} | {r['coord_cpu_ms']:.1f} |"
                     f" {r['worker_cpu_ms']:.1f} | {r['redis_cmds']:.1f} | {r['redis_cpu_ms']:.2f} | {r['judge_ms']:.2f} | {r['store_ms']:.2f} |")
    lines += ["", f"Message sizes: job {sizes['job_bytes']:.0f} B, outcome reply {sizes['reply_bytes']:.0f} B on average.",
              "", "Exit codes: " + ", ".join(f"{r['engine']} {r['exit']}" for r in rows) + " (1: failures found, as planted)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
