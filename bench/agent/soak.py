"""Soak: the agent at a short interval against loopback targets, SIGKILLed and restarted at random.

    .venv/bin/python bench/agent/soak.py [--runs 200] [--interval 0.5] [--seed 1]

Starts one ``civiscan agent`` (``on_interrupted: resume``) on a fresh store with
two departments of two loopback hosts each (127.0.181.1-4, TCP listeners) and
a ports policy, kills it with SIGKILL after a random 1-6 s (now and then with
SIGTERM instead) and starts it again, until ``--runs`` runs are complete. Then
one last agent runs uninterrupted for ``--steady`` more runs while its RSS is
sampled. It prints:

* runs completed; runs lost (left ``interrupted`` for good: closed, not resumed);
* findings lost (a complete run without one finding per asset and rule);
* runs left ``running`` (must be 0); slots run twice (must be 0);
* ``PRAGMA integrity_check``;
* RSS of the steady agent: first and last sample and their ratio (target within 10 %).

Duplicate notifications are counted by the notification library's own soak.
Only loopback addresses are touched; it stops by itself. Exit 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scanner.lab.servers import Lab

HOSTS = ("127.0.181.1", "127.0.181.2", "127.0.181.3", "127.0.181.4")
POLICY = """
policy: {id: soak, version: "1", title: Soak}
rules:
  - id: no-telnet
    title: No telnet
    severity: high
    rationale: Cleartext logins.
    remediation: Disable telnet.
    checks: [{check: ports.forbidden, options: {ports: [23]}}]
  - id: only-lab-port
    title: Only the lab port
    severity: medium
    rationale: Smaller attack surface.
    remediation: Close other ports.
    checks: [{check: ports.allowed, options: {allowed: [PORT], port_set: top100, ports: [PORT]}}]
"""
INVENTORY = """
scope: {networks: [127.0.181.0/24]}
departments:
  parks: {assets: [{host: 127.0.181.1}, {host: 127.0.181.2}]}
  water: {assets: [{host: 127.0.181.3}, {host: 127.0.181.4}]}
"""
RULES = 2


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--steady", type=int, default=60)
    ap.add_argument("--interval", default="0.5s")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="civiscan-soak-"))
    db = root / "store.db"

    def count(sql: str) -> int:
        try:
            with sqlite3.connect(db, timeout=30) as conn:
                return int(conn.execute(sql).fetchone()[0] or 0)
        except sqlite3.OperationalError:
            return 0

    def start() -> subprocess.Popen[bytes]:
        log = (root / "agent.log").open("ab")
        return subprocess.Popen([sys.executable, "-m", "scanner", "agent", "--config", str(root / "agent.yaml"),
                                 "--log-format", "json"], stdout=subprocess.DEVNULL, stderr=log, cwd=root)

    complete = "SELECT COUNT(*) FROM runs WHERE status='complete'"
    kills = terms = 0
    with Lab() as lab:
        port = lab.tcp(HOSTS[0], 0).port
        for host in HOSTS[1:]:
            lab.tcp(host, port)
        (root / "policy.yaml").write_text(POLICY.replace("PORT", str(port)))
        (root / "inventory.yaml").write_text(INVENTORY)
        (root / "agent.yaml").write_text(
            f"agent: {{db: store.db, grace: 5s, on_interrupted: resume}}\nschedules:\n  soak:\n"
            f"    interval: {args.interval}\n    policies: [policy.yaml]\n    inventory: inventory.yaml\n"
            f"    reports: reports\n    formats: [json]\n    scan: {{timeout: 2}}\n")
        started = time.monotonic()
        while count(complete) < args.runs:
            proc = start()
            time.sleep(rnd.uniform(1.0, 6.0))
            if rnd.random() < 0.2:
                proc.send_signal(signal.SIGTERM)
                terms += 1
            else:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=120)
        target = count(complete) + args.steady
        proc = start()
        samples = []
        while count(complete) < target:
            time.sleep(1.0)
            samples.append(rss_kib(proc.pid))
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        elapsed = time.monotonic() - started
    findings_lost = count(
        "SELECT COUNT(*) FROM runs r WHERE r.status='complete' AND "
        f"(SELECT COUNT(*) FROM findings f WHERE f.run_id=r.id) != {len(HOSTS) * RULES}")
    missed = count("SELECT COUNT(*) FROM findings WHERE status != 'pass'")
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    warm = samples[min(5, len(samples) - 1)] if samples else 0
    print(f"store: {db}")
    print(f"agent starts: {kills + terms + 1} (SIGKILL {kills}, SIGTERM {terms}); wall {elapsed:.0f} s")
    print(f"runs completed: {count(complete)}")
    print(f"runs lost (interrupted, not resumed): {count('SELECT COUNT(*) FROM runs WHERE status=' + repr('interrupted'))}")
    print(f"runs left running: {count('SELECT COUNT(*) FROM runs WHERE status=' + repr('running'))}")
    print(f"slots run twice: {count('SELECT COUNT(*) - COUNT(DISTINCT slot) FROM agent_runs')}")
    print(f"findings lost: {findings_lost} complete runs without {len(HOSTS) * RULES} findings")
    print(f"non-passing findings (a target missed): {missed}")
    print(f"integrity_check: {integrity}")
    print(f"last agent exit code on SIGTERM: {code}")
    if samples:
        print(f"steady RSS: first {warm} KiB (after warm-up), last {samples[-1]} KiB, "
              f"ratio {samples[-1] / warm if warm else 0:.3f} over {len(samples)} samples")
    return 1 if missed or findings_lost or integrity != "ok" else 0


if __name__ == "__main__":
    raise SystemExit(main())
