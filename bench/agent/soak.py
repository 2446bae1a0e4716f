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
* RSS of the steady agent: first and last sample and their ratio (target within 10 %);
* notifications: every run notifies (``notify_when: always``) each department
  and the security office by webhook, to a receiver on 127.0.181.10 that
  verifies each signature and refuses one delivery in ten (HTTP 503, retried).
  After the soak one more ``agent --once`` delivers what is still owed; then
  it counts events delivered twice (target 0; a resend carrying the same
  ``X-Civiscan-Delivery`` id, which a receiver can drop, is counted apart) and
  run summaries never delivered (target 0).

Only loopback addresses are touched; it stops by itself. Exit 1 if a target is
missed, a finding or a notification is lost, or one is delivered twice.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.server
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from scanner.lab.servers import Lab

HOSTS = ("127.0.181.1", "127.0.181.2", "127.0.181.3", "127.0.181.4")
RECEIVER = "127.0.181.10"
SECRET = "soak-secret-not-for-production"
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
  parks:
    contacts: {webhook: [{url: "@URL@/parks", secret_env: SOAK_HOOK_SECRET}]}
    assets: [{host: 127.0.181.1}, {host: 127.0.181.2}]
  water:
    contacts: {webhook: [{url: "@URL@/water", secret_env: SOAK_HOOK_SECRET}]}
    assets: [{host: 127.0.181.3}, {host: 127.0.181.4}]
"""
NOTIFICATIONS = """
    notifications:
      notify_when: always
      allow_networks: [127.0.181.0/24]
      retry: {attempts: 3, backoff: [0.2]}
      timeout: 2
      budget: 10
      security_office: {webhook: [{url: "@URL@/office", secret_env: SOAK_HOOK_SECRET}]}
"""
RULES = 2
DEPARTMENTS = ("parks", "water")


class Receiver:
    """A webhook receiver: verifies each signature, refuses one delivery in ten, records the rest."""

    def __init__(self, rnd: random.Random) -> None:
        self.accepted: list[tuple[str, str, list[tuple[int, str]]]] = []  # (audience, delivery, events)
        self.refused = self.bad_signatures = 0
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                with lock:
                    if not hmac.compare_digest(want, self.headers.get("X-Civiscan-Signature", "")):
                        outer.bad_signatures += 1
                        self.send_response(401)
                    elif rnd.random() < 0.1:
                        outer.refused += 1
                        self.send_response(503)
                    else:
                        doc = json.loads(body)
                        events = [(int(e["run"]["id"]), e["key"]) for e in doc["events"]]
                        outer.accepted.append((self.path.strip("/"), self.headers["X-Civiscan-Delivery"], events))
                        self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((RECEIVER, 0), Handler)
        self.url = f"http://{RECEIVER}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tally(self, complete_runs: list[int]) -> tuple[int, int, int]:
        """(events delivered twice with distinct delivery ids, resends of one delivery, summaries never delivered)."""
        per_event: dict[tuple[str, int, str], set[str]] = {}
        count: Counter[tuple[str, int, str]] = Counter()
        for audience, delivery, events in self.accepted:
            for run, key in events:
                per_event.setdefault((audience, run, key), set()).add(delivery)
                count[(audience, run, key)] += 1
        twice = sum(len(ids) - 1 for ids in per_event.values())
        resent = sum(n - len(per_event[k]) for k, n in count.items())
        expected = {(audience, run, f"summary:{dep}") for run in complete_runs for dep in DEPARTMENTS
                    for audience in (dep, "office")}
        return twice, resent, len(expected - set(per_event))


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

    env = {**os.environ, "SOAK_HOOK_SECRET": SECRET}

    def start(*extra: str) -> subprocess.Popen[bytes]:
        log = (root / "agent.log").open("ab")
        return subprocess.Popen([sys.executable, "-m", "scanner", "agent", "--config", str(root / "agent.yaml"),
                                 "--log-format", "json", *extra], stdout=subprocess.DEVNULL, stderr=log, cwd=root,
                                env=env)

    def ids(sql: str) -> list[int]:
        with sqlite3.connect(db, timeout=30) as conn:
            return [int(r[0]) for r in conn.execute(sql)]

    complete = "SELECT COUNT(*) FROM runs WHERE status='complete'"
    kills = terms = 0
    with Lab() as lab:
        port = lab.tcp(HOSTS[0], 0).port
        for host in HOSTS[1:]:
            lab.tcp(host, port)
        (root / "policy.yaml").write_text(POLICY.replace("PORT", str(port)))
        receiver = Receiver(random.Random(args.seed + 1))
        (root / "inventory.yaml").write_text(INVENTORY.replace("@URL@", receiver.url))
        (root / "agent.yaml").write_text(
            f"agent: {{db: store.db, grace: 5s, on_interrupted: resume}}\nschedules:\n  soak:\n"
            f"    interval: {args.interval}\n    policies: [policy.yaml]\n    inventory: inventory.yaml\n"
            f"    reports: reports\n    formats: [json]\n    scan: {{timeout: 2}}\n" + NOTIFICATIONS.replace("@URL@", receiver.url))
        started = time.monotonic()
        stalled = 0
        while count(complete) < args.runs:
            before = count(complete)
            proc = start()
            time.sleep(rnd.uniform(1.0, 6.0))
            if rnd.random() < 0.2:
                proc.send_signal(signal.SIGTERM)
                terms += 1
            else:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=120)
            stalled = 0 if count(complete) > before else stalled + 1
            if stalled >= 10:
                print(f"no run completed in 10 agent starts; see {root / 'agent.log'}", file=sys.stderr)
                return 1
        target = count(complete) + args.steady
        proc = start()
        samples = []
        while count(complete) < target:
            time.sleep(1.0)
            samples.append(rss_kib(proc.pid))
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        elapsed = time.monotonic() - started
        # Deliver what is still owed (a run cut by the last SIGTERM is finished first).
        start("--once").wait(timeout=300)
        complete_runs = [int(r) for r in ids("SELECT id FROM runs WHERE status='complete'")]
        twice, resent, never = receiver.tally(complete_runs)
        receiver.server.shutdown()
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
    print(f"notifications: {len(receiver.accepted)} deliveries accepted, {receiver.refused} refused (503) and "
          f"retried, {receiver.bad_signatures} with a bad signature")
    print(f"duplicate notifications (an event delivered twice): {twice}; resends of one delivery id: {resent}")
    print(f"run summaries never delivered: {never} of {len(complete_runs) * len(DEPARTMENTS) * 2}")
    return 1 if missed or findings_lost or integrity != "ok" or twice or never or receiver.bad_signatures else 0


if __name__ == "__main__":
    raise SystemExit(main())
