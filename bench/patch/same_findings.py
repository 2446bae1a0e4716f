"""Compare the findings of two evaluated runs: 0 differences means the same verdicts.

Run:  .venv/bin/python bench/patch/same_findings.py DB:RUN DB:RUN

Each side is a store and a run id in it (``/tmp/r.db:2``); a run id of ``last``
is the store's newest run. Every finding (status, severity, message, reason,
checks with their evidence, waiver, fingerprint) is compared; the feed's import
time is left out, so runs of two stores that imported the same feed compare
equal. Prints the count of findings on each side and of those that differ, with
the first few differences; exits 1 when any differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scanner.store import Store

VOLATILE = frozenset({"imported_at"})


def _plain(value: Any) -> Any:
    """``value`` without the volatile keys, at any depth."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _findings(side: str) -> Iterator[str]:
    db, _, run = side.rpartition(":")
    store = Store(Path(db))
    run_id = int(store.runs(1)[0]["id"]) if run == "last" else int(run)
    for finding in store.findings(run_id):
        yield json.dumps(_plain(finding), sort_keys=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    before, after = list(_findings(args.before)), list(_findings(args.after))
    differ = [(a, b) for a, b in zip(before, after) if a != b]
    count = len(differ) + abs(len(before) - len(after))
    print(f"findings: {len(before)} before, {len(after)} after, {count} differ")
    for a, b in differ[:3]:
        print(f"- {a[:400]}\n+ {b[:400]}")
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main())
