"""Re-evaluation on forked workers: the same findings, in the same order, whoever judged them."""

from __future__ import annotations

import os
import threading

import pytest

from scanner.evaluate import Finding
from scanner.models import Asset, AssetKind, Severity, Status
from scanner.scan import FORK_FROM, judge_in_workers

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _assets(count: int) -> list[Asset]:
    return [
        Asset(id=f"it/host{i}", name=f"host{i}", kind=AssetKind.HOST, department="it", address="127.0.0.1")
        for i in range(count)
    ]


def _judge(asset: Asset) -> list[Finding]:
    """Two findings per asset, each saying which process judged it."""
    return [
        Finding(asset.id, rule, Status.PASS, Severity.LOW, str(os.getpid()))
        for rule in ("first", "second")
    ]


def _order(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.asset_id, f.rule_id) for f in findings]


def test_findings_judged_in_several_processes_come_back_in_order() -> None:
    assets = _assets(FORK_FROM * 2)
    found = judge_in_workers(_judge, assets, workers=3)
    assert _order(found) == _order([f for a in assets for f in _judge(a)])
    assert len({f.message for f in found}) == 3


def test_the_slice_of_a_failed_worker_is_judged_here() -> None:
    parent = os.getpid()
    assets = _assets(FORK_FROM * 2)

    def judge(asset: Asset) -> list[Finding]:
        if os.getpid() != parent and asset.id == assets[-1].id:
            raise RuntimeError("a worker fails")
        return _judge(asset)

    found = judge_in_workers(judge, assets, workers=2)
    assert _order(found) == _order([f for a in assets for f in _judge(a)])
    assert {f.message for f in found} == {str(parent)}


@pytest.mark.parametrize(
    ("count", "workers"), [(FORK_FROM - 1, 2), (FORK_FROM * 2, 1)], ids=["small run", "one worker"]
)
def test_small_runs_and_one_worker_stay_in_this_process(count: int, workers: int) -> None:
    found = judge_in_workers(_judge, _assets(count), workers=workers)
    assert {f.message for f in found} == {str(os.getpid())}
    assert len(found) == 2 * count


def test_no_fork_while_other_threads_run() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        found = judge_in_workers(_judge, _assets(FORK_FROM * 2), workers=2)
    finally:
        stop.set()
        other.join()
    assert {f.message for f in found} == {str(os.getpid())}
