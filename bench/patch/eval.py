"""Feed import and matching at fleet scale: 100 hosts x 2,000 packages vs 100,000 advisories.

Run:  .venv/bin/python bench/patch/eval.py [--hosts 100] [--packages 2000] [--advisories 100000]

Generates (seeded) a Debian:12 OSV feed with one affected range per advisory
over 10,000 source packages, writes it as an OSV ``all.zip``, imports it into
a fresh SQLite store (timed separately: JSON parsing + insert), then for every
host does what the ``packages`` plugin does at collection time (read-only
open, per-host feed lookup, matching) and evaluates ``packages.vulnerable``.
Prints wall times (the first host apart: it reads and prepares the feed rows
of its packages for the hosts after it) and a digest of the matches; nothing
asserts on them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from scanner.options import validate_options
from scanner.plugins.packages import feed_facts, feeds, packages_plugin
from scanner.store import Store

SOURCES = 10_000
SEVERITIES = ["critical", "high", "medium", "low", "not yet assigned"]


def _version(rng: random.Random, base: int) -> str:
    return f"{base}.{rng.randint(0, 20)}.{rng.randint(0, 9)}-{rng.randint(1, 5)}+deb12u{rng.randint(1, 12)}"


def make_records(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        src = i % SOURCES
        records.append(
            {
                "schema_version": "1.7.0",
                "id": f"DEBIAN-CVE-2026-{i:06d}",
                "upstream": [f"CVE-2026-{i:06d}"],
                "details": f"Generated advisory {i} for src{src}.",
                "published": f"2026-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}T00:00:00Z",
                "modified": "2026-11-01T00:00:00Z",
                "affected": [
                    {
                        "package": {"ecosystem": "Debian:12", "name": f"src{src}"},
                        "ranges": [
                            {
                                "type": "ECOSYSTEM",
                                "events": [
                                    {"introduced": "0"},
                                    {"fixed": _version(rng, src % 7 + 1)},
                                ],
                            }
                        ],
                        "ecosystem_specific": {"urgency": rng.choice(SEVERITIES)},
                    }
                ],
            }
        )
    return records


def make_host(index: int, packages: int, seed: int, *, fleet: bool = False) -> dict[str, Any]:
    """One host's raw facts. By default every version is drawn anew per host (no two
    hosts share a (source, version) pair: the hardest case for re-judging).
    ``fleet``: hosts install from one archive, as a city's servers of one release
    do: each source has one current version and three older ones, shared by all."""
    rng = random.Random(seed * 1000 + index)
    chosen = rng.sample(range(SOURCES), packages)
    pkgs = []
    for src in chosen:
        # Most packages are patched past every advisory; about 1 in 200 lags.
        lags = rng.random() < 0.005
        if fleet:
            archive = random.Random(seed * 100_000 + src * 4 + (rng.randrange(1, 4) if lags else 0))
            version = _version(archive, src % 7 + 1) if lags else _version(archive, 9)
        else:
            version = _version(rng, src % 7 + 1) if lags else _version(rng, 9)
        pkgs.append(
            {
                "name": f"bin{src}",
                "version": version,
                "source": f"src{src}",
                "source_version": version,
                "arch": "amd64",
                "status": "installed",
            }
        )
    return {
        "os": {
            "id": "debian",
            "version_id": "12",
            "codename": "bookworm",
            "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        },
        "package_format": "dpkg",
        "packages": pkgs,
        "collected_at": "2026-11-02T00:00:00+00:00",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--packages", type=int, default=2000)
    parser.add_argument("--advisories", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "all.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for record in make_records(args.advisories, args.seed):
                zf.writestr(f"{record['id']}.json", json.dumps(record))
        db = Path(tmp) / "civiscan.db"
        store = Store(db)
        start = time.perf_counter()
        with store.write_dataset("advisories") as conn:
            result = feeds.import_path(conn, archive, name="osv:Debian")
        import_s = time.perf_counter() - start
        advisories = store.dataset("advisories")
        print(
            f"import: {result.feed.advisories:,} advisories, {result.affected_rows:,} rows "
            f"from all.zip in {import_s:.2f} s ({result.feed.advisories / import_s:,.0f}/s)"
        )

        hosts = [make_host(i, args.packages, args.seed) for i in range(args.hosts)]
        check = packages_plugin.checks[0]
        options, _ = validate_options(check.options, {"max_feed_age_days": 30}, check.id)

        facts_list = []
        host_s = []
        for host in hosts:
            start = time.perf_counter()
            facts = {
                "collected_at": host["collected_at"],
                "release": "debian:12",
                "package_count": len(host["packages"]),
            }
            facts.update(feed_facts(advisories, host))
            facts_list.append(facts)
            host_s.append(time.perf_counter() - start)
        match_s = sum(host_s)

        start = time.perf_counter()
        outcomes = [check.evaluate(f, options) for f in facts_list]
        evaluate_s = time.perf_counter() - start

    matches = sum(len(f["matches"]) for f in facts_list)
    failed = sum(o.status.value == "fail" for o in outcomes)
    # Same workload and seed give the same digest: a quick check that a speed-up
    # changed no match.
    digest = hashlib.sha256(
        json.dumps([f["matches"] for f in facts_list], sort_keys=True).encode()
    ).hexdigest()[:16]
    print(
        f"match: {args.hosts} hosts x {args.packages} packages -> {matches:,} matches "
        f"in {match_s:.2f} s ({match_s / args.hosts * 1000:.1f} ms/host, includes per-host DB reads; "
        f"matches sha256 {digest})"
    )
    if len(host_s) > 1:
        rest = host_s[1:]
        print(
            f"  first host {host_s[0] * 1000:.0f} ms (reads and prepares its packages' rows); "
            f"other hosts {sum(rest):.2f} s, {sum(rest) / len(rest) * 1000:.1f} ms/host "
            f"(max {max(rest) * 1000:.0f} ms)"
        )
    print(
        f"evaluate packages.vulnerable on stored facts: {evaluate_s * 1000:.1f} ms "
        f"({failed} of {args.hosts} hosts fail)"
    )
    print(f"match + evaluate: {match_s + evaluate_s:.2f} s (target < 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
