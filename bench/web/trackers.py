"""Tracker lists at Tracker Radar scale: import, index load and lookups.

Generates DOMAINS Tracker Radar domain files (the published list holds a few
thousand per region), imports them with ``civiscan feeds import`` into a fresh
store, then times what one web collection pays: loading the index from the
``trackers`` dataset (cold, then cached) and looking hosts up. Prints
wall time and peak RSS. Run by hand: ``.venv/bin/python bench/web/trackers.py``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scanner.plugins.web.trackers import dataset_index
from scanner.store import Store

DOMAINS = int(os.environ.get("BENCH_DOMAINS", "20000"))
LOOKUPS = 200_000
CATEGORIES = (["Advertising", "Analytics"], ["CDN"], ["Session Replay"], ["Social Network"])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "domains"
        folder.mkdir()
        for i in range(DOMAINS):
            (folder / f"t{i}.example.json").write_text(json.dumps({
                "domain": f"t{i}.example", "owner": {"name": f"Owner {i % 900} Inc.",
                                                     "displayName": f"Owner {i % 900}"},
                "source": ["DuckDuckGo"], "prevalence": 0.001, "fingerprinting": 1,
                "categories": CATEGORIES[i % len(CATEGORIES)], "cookies": 0.0}))
        db = Path(tmp) / "c.db"
        env = {**os.environ, "CIVISCAN_DB": str(db)}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "scanner", "feeds", "import", str(folder)],
                       env=env, check=True, capture_output=True)
        imported = time.perf_counter() - start
        with Store(db) as store:
            dataset = store.dataset("trackers")
            start = time.perf_counter()
            index = dataset_index(dataset)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            dataset_index(dataset)
            cached = time.perf_counter() - start
        hosts = [f"cdn.t{i % (DOMAINS * 2)}.example" for i in range(LOOKUPS)]
        start = time.perf_counter()
        found = sum(1 for h in hosts if index.lookup(h))
        lookups = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"domains: {DOMAINS}; feeds import (subprocess, incl. start-up): {imported:.2f} s")
    print(f"index from the dataset: cold {cold * 1000:.0f} ms, cached {cached * 1000:.2f} ms")
    print(f"{LOOKUPS} lookups: {lookups * 1000:.0f} ms ({LOOKUPS / lookups:,.0f}/s), "
          f"{found} trackers found; peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
