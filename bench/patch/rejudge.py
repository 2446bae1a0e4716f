"""Re-judging stored facts against a new feed: 1,000 hosts x 2,000 packages vs 300,000 advisories.

Run:  .venv/bin/python bench/patch/rejudge.py [--hosts 1000] [--packages 2000] [--advisories 300000]

Setup (timed apart, not part of the figure): generates (seeded, the generator
of bench/patch/eval.py) a Debian:12 feed, imports it into a fresh SQLite
store, and stores one run holding every host's ``packages`` facts as the
plugin collects them (sources, versions, kernel), judged by no feed yet.

Then, in a fresh process each, so the peak RSS is the evaluation's own:

* ``judge``: ``packages.vulnerable`` on every host's facts through one
  snapshot of the store's feeds, timing the judging apart from reading the
  facts (the feed index is built once, by the first host, not per host);
* ``evaluate``: ``scanner.scan.reevaluate`` of the stored run, what
  ``civiscan evaluate RUN`` does: read the facts from the store, clone the
  run, judge, write the findings, close the run.

Prints wall and CPU time, peak RSS (VmHWM) and a digest of the verdicts; nothing
asserts on them. Results: bench/patch/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval import make_host, make_records  # noqa: E402  (bench/patch/eval.py)

from scanner.models import Asset, AssetKind  # noqa: E402
from scanner.plugins.packages import feeds, packages_facts, packages_plugin  # noqa: E402
from scanner.store import Store  # noqa: E402

POLICY = """
policy: {id: patch-bench, version: "1", title: Patch bench}
rules:
  - id: no-high-vulns
    title: No high vulnerabilities
    severity: high
    checks: [{check: packages.vulnerable, options: {min_severity: high, max_feed_age_days: 36500}}]
"""


def _rss_mb() -> float:
    """Peak RSS of this process image: VmHWM (ru_maxrss would also count the parent's at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(db: Path, hosts: int, packages: int, advisories: int, seed: int, fleet: bool = False) -> None:
    from scanner.policy import load_policies
    from scanner.plugin import load_registry

    start = time.perf_counter()
    store = Store(db)
    with store.write_dataset("advisories") as conn:
        result = feeds.import_osv_records(conn, make_records(advisories, seed), name="osv:Debian")
    print(
        f"setup: imported {result.feed.advisories:,} advisories ({result.affected_rows:,} rows) "
        f"in {time.perf_counter() - start:.1f} s"
    )
    start = time.perf_counter()
    policy = db.parent / "policy.yaml"
    policy.write_text(POLICY)
    ruleset = load_policies([str(policy)], load_registry())
    assets = [
        Asset(id=f"dept{i % 20}/host{i}", name=f"host{i}", kind=AssetKind.HOST, department=f"dept{i % 20}",
              address=f"127.63.{i // 250}.{i % 250 + 1}")
        for i in range(hosts)
    ]
    now = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    run_id = store.create_run(ruleset, assets, {}, now, None, ())
    for i, asset in enumerate(assets):
        facts = packages_facts(make_host(i, packages, seed, fleet=fleet))
        store.save_asset(run_id, asset, {"packages": facts}, {}, [], now,
                         versions={"packages": packages_plugin.facts_version})
    store.finish_run(run_id, *_complete(), now)
    print(f"setup: stored run {run_id}, {hosts:,} hosts x {packages:,} packages in {time.perf_counter() - start:.1f} s")


def _complete() -> tuple[Any, int]:
    from scanner.store import RunStatus

    return RunStatus.COMPLETE, 0


def judge(db: Path) -> None:
    from scanner.options import validate_options
    from scanner.plugin import Snapshot, lend

    store = Store(db)
    run_id = int(store.runs(1)[0]["id"])
    assets = [a.id for a in store.assets(run_id)]
    check = packages_plugin.checks[0]
    options, _ = validate_options(check.options, {"max_feed_age_days": 36500}, check.id)
    stored = store.facts_versions(run_id)
    took = decode = decode_cpu = first = cpu = 0.0
    failed = counted = 0
    digest = hashlib.sha256()
    with Snapshot(store) as lent:
        datasets = lend(check, lent)
        for asset_id in assets:
            start, cpu_start = time.perf_counter(), time.process_time()
            facts = store.facts(run_id, asset_id)[asset_id][0]["packages"]
            version = stored[(asset_id, "packages")]
            if version != packages_plugin.facts_version:  # as reevaluate reads older facts
                facts = packages_plugin.migrate_facts(version, facts)
            decode += time.perf_counter() - start
            decode_cpu += time.process_time() - cpu_start
            start, cpu_start = time.perf_counter(), time.process_time()
            outcome = check.evaluate(facts, options, datasets)
            took += time.perf_counter() - start
            cpu += time.process_time() - cpu_start
            first = first or took
            # Each verdict is kept only as far as the digest and the counts need it.
            failed += outcome.status.value == "fail"
            counted += int(outcome.evidence.get("counted") or 0)
            digest.update(json.dumps([outcome.status.value, outcome.evidence.get("advisories")], sort_keys=True).encode())
    print(
        f"judge: {len(assets):,} hosts in {took:.2f} s wall, {cpu:.2f} s CPU (first host {first:.2f} s: builds the feed index; "
        f"then {(took - first) / max(1, len(assets) - 1) * 1000:.2f} ms/host); reading the facts from "
        f"the store {decode:.2f} s wall, {decode_cpu:.2f} s CPU more (facts version {version}); {failed} hosts fail, {counted} advisories counted (sha256 {digest.hexdigest()[:16]}); "
        f"peak RSS {_rss_mb():.0f} MB"
    )


def evaluate(db: Path) -> None:
    from scanner.models import Severity
    from scanner.policy import load_policies
    from scanner.plugin import load_registry
    from scanner.scan import reevaluate

    registry = load_registry()
    store = Store(db)
    run_id = int(store.runs(1)[0]["id"])
    ruleset = load_policies([str(db.parent / "policy.yaml")], registry)
    before = _rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    new, code = reevaluate(store, run_id, ruleset, registry, Severity.LOW)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    failed = sum(f["status"] == "fail" for f in store.findings(new))
    print(
        f"evaluate: run {run_id} -> run {new} (exit {int(code)}) in {took:.2f} s wall, {cpu:.2f} s CPU: store read, judge, "
        f"findings written; {failed} failures; peak RSS {_rss_mb():.0f} MB ({before:.0f} MB before)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--advisories", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--fleet", action="store_true",
        help="hosts share versions (one current and three older per source), as one archive's hosts do",
    )
    parser.add_argument("--phase", choices=("judge", "evaluate"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help="keep the generated store here (reused when it exists)")
    args = parser.parse_args()
    if args.phase is None:
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    if args.phase == "judge":
        judge(args.db)
        return 0
    if args.phase == "evaluate":
        evaluate(args.db)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "civiscan.db"
        if not db.exists():
            setup(db, args.hosts, args.packages, args.advisories, args.seed, args.fleet)
        for phase in ("judge", "evaluate"):
            subprocess.run([sys.executable, __file__, "--phase", phase, "--db", str(db)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
