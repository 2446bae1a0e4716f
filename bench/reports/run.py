"""Benchmark: render a city-sized run (10,000 assets, 200,000 findings, 40 departments).

Prints the time to render the organisation summary and every department page,
peak RSS of the process, and the largest department file. Targets: < 10 s,
< 500 MB RSS, largest department file < 5 MB.

    .venv/bin/python bench/reports/run.py [--formats html,sarif,...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.models import fingerprint
from scanner.reports import FORMATS, render
from scanner.reports.analysis import previous_document

STARTED = "2026-11-25T10:00:00+00:00"
SEVERITIES = ("critical", "high", "high", "medium", "medium", "medium", "low", "low", "info")
CHECKS = (
    "tls.protocols",
    "tls.certificate",
    "ports.allowed",
    "packages.vulnerable",
    "http.headers",
)
STATUSES = (
    ("pass",) * 79 + ("fail",) * 12 + ("error",) * 1 + ("waived",) * 2 + ("not_applicable",) * 6
)
UNREACHABLE = 0.02  # share of assets whose every check errs, as when a host is down
REASONS = ("timeout", "refused", "auth", "host_key")


def _rules(per_asset: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"rule-{i:03d}",
            "policy": "baseline",
            "title": f"Synthetic rule {i} keeps setting {i} within bounds",
            "severity": SEVERITIES[i % len(SEVERITIES)],
            "rationale": "A plausible rationale. It explains the risk to a department head.",
            "remediation": "Edit the configuration, then reload:\n  setting = safe\nRescan.",
            "references": {"nist-800-53": [f"SC-{i % 30}"], "cis": [f"{i % 9}.{i % 7}"]},
            "checks": [
                {
                    "check": CHECKS[i % len(CHECKS)],
                    "options": {"minimum": "TLSv1.2", "allowed": [22, 443]},
                }
            ],
        }
        for i in range(per_asset)
    ]


WAIVER = {
    "id": "w-1",
    "state": "active",
    "expires": "2026-12-10",
    "justification": "Vendor appliance.",
    "owner": "ops",
    "approver": "ciso",
    "ticket": "SEC-1",
}


def _asset(a: int, departments: int, down: bool) -> dict[str, Any]:
    department = f"department-{a % departments:02d}"
    name = f"host-{a:05d}"
    endpoint = a % 2 == 0
    return {
        "id": f"{department}/{name}",
        "name": name,
        "kind": "endpoint" if endpoint else "host",
        "department": department,
        "address": None if endpoint else f"127.0.{a // 250}.{a % 250 + 1}",
        "url": f"https://{name}.{department}.example/" if endpoint else None,
        "tags": ["web"] if endpoint else ["linux"],
        "state": "done",
        "facts": {},
        "errors": {"tls": {"reason": "timeout", "message": "no answer within 5 s"}} if down else {},
    }


def _run(assets: int, findings: int, departments: int, seed: int):
    """Rules, assets and a generator of findings, deterministic per seed: the run as a
    store yields it (``store.findings(run_id)`` is an iterator)."""
    rng = random.Random(seed)
    rules = _rules(max(1, findings // assets))
    asset_list = [_asset(a, departments, rng.random() < UNREACHABLE) for a in range(assets)]

    def stream():
        for asset in asset_list:
            down = bool(asset["errors"])
            for rule in rules:
                status = "error" if down else rng.choice(STATUSES)
                message = f"{rule['title']}: observed value {rng.randint(0, 999)} on {asset['name']}"
                yield {
                    "fingerprint": fingerprint(asset["id"], rule["id"]),
                    "asset_id": asset["id"],
                    "rule_id": rule["id"],
                    "status": status,
                    "severity": rule["severity"],
                    "message": message,
                    "reason": rng.choice(REASONS) if status == "error" else None,
                    "checks": [
                        {
                            "check": rule["checks"][0]["check"],
                            "status": "fail" if status == "waived" else status,
                            "message": message,
                            "reason": None,
                            "evidence": {
                                "observed": rng.randint(0, 999),
                                "accepted": ["TLSv1.0", "TLSv1.2"],
                                "cert": {"subject": f"CN={asset['name']}", "not_after": "2027-01-01"},
                            },
                        }
                    ],
                    "waiver": dict(WAIVER) if status == "waived" else None,
                    "first_seen": "2026-10-01T10:00:00+00:00",
                }

    return rules, asset_list, stream()


def document(assets: int, findings: int, departments: int, seed: int = 1) -> dict[str, Any]:
    """A synthetic run document shaped like the store's export, deterministic per seed."""
    rules, asset_list, stream = _run(assets, findings, departments, seed)
    return {
        "schema": "civiscan/run",
        "schema_version": 1,
        "run": {
            "id": 2,
            "started": STARTED,
            "finished": STARTED,
            "status": "complete",
            "tool_version": "0.1.0",
            "policies": [
                {"id": "baseline", "version": "1", "title": "Baseline", "digest": "0" * 64}
            ],
            "inventory_digest": "0" * 64,
            "exit_code": 1,
        },
        "departments": [f"department-{d:02d}" for d in range(departments)],
        "assets": asset_list,
        "rules": rules,
        "findings": list(stream),
        "waivers": [{**WAIVER, "rule": rules[0]["id"], "assets": {"names": ["*"]}, "matched": 1}],
        "summary": {},
    }


def previous_run(assets: int, findings: int, departments: int) -> dict[str, Any]:
    """The previous run as ``civiscan report`` reads it from the store: finding by finding,
    into the slim document the renderers need (:func:`scanner.reports.load_previous`)."""
    _, asset_list, stream = _run(assets, findings, departments, seed=2)
    run = {"id": 1, "started": "2026-11-18T10:00:00+00:00", "status": "complete"}
    return previous_document(run, ((a["id"], a["department"]) for a in asset_list), stream)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--findings", type=int, default=200_000)
    parser.add_argument("--departments", type=int, default=40)
    parser.add_argument(
        "--formats", default="html", help=f"comma-separated, from {','.join(FORMATS)}"
    )
    parser.add_argument("--previous", action="store_true", help="also compare with a previous run")
    parser.add_argument("--keep", type=Path, help="write into this folder and keep it")
    args = parser.parse_args()

    began = time.perf_counter()
    doc = document(args.assets, args.findings, args.departments)
    previous = previous_run(args.assets, args.findings, args.departments) if args.previous else None
    generated = time.perf_counter() - began
    rss_after_generation = peak_rss_mb()

    outdir = args.keep or Path(tempfile.mkdtemp(prefix="civiscan-bench-"))
    try:
        began = time.perf_counter()
        cpu_began = time.process_time()
        written = render(
            doc,
            args.formats.split(","),
            outdir,
            previous=previous,
            now=datetime(2026, 11, 25, 12, tzinfo=UTC),
        )
        rendered = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        departments = [p for p in written if p.name.startswith("dept-")]
        largest = max(departments, key=lambda p: p.stat().st_size) if departments else None
        print(
            f"document: {len(doc['assets'])} assets, {len(doc['findings'])} findings, "
            f"{len(doc['departments'])} departments (generated in {generated:.1f} s, "
            f"peak RSS then {rss_after_generation:.0f} MB)"
        )
        print(f"formats: {args.formats}{' with previous run' if previous else ''}")
        print(f"render time: {rendered:.2f} s wall, {cpu:.2f} s CPU (target < 10 s)")
        print(f"peak RSS: {peak_rss_mb():.0f} MB (target < 500 MB)")
        if largest is not None:
            print(
                f"largest department file: {largest.name} "
                f"{largest.stat().st_size / 1e6:.2f} MB (target < 5 MB)"
            )
        for path in written:
            if not path.name.startswith("dept-"):
                print(f"  {path.name}: {path.stat().st_size / 1e6:.2f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
