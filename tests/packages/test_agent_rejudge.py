"""The agent's re-judging schedule: a new feed is judged against the latest run's facts, no scan."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from scanner.agent import loop, runner
from scanner.models import Asset, AssetKind
from scanner.agent.logs import Log
from scanner.plugin import load_registry
from scanner.plugins.packages import feeds, packages_facts, packages_plugin
from scanner.policy import load_policies
from scanner.store import RunStatus, Store

HOST = Path(__file__).resolve().parents[1] / "data" / "packages" / "feeds" / "host-debian12.json"
POLICY = """
policy: {id: rejudge-agent, version: "1", title: Re-judging}
rules:
  - id: no-high-vulns
    title: No high vulnerabilities
    severity: high
    checks: [{check: packages.vulnerable, options: {min_severity: high, max_feed_age_days: 36500}}]
"""
# curl on the recorded host is 7.88.1-10+deb12u5; this evening's advisory fixes it in deb12u6.
EVENING = {
    "id": "DSA-9902-1",
    "aliases": ["CVE-2026-88888"],
    "published": "2026-12-01T18:00:00Z",
    "modified": "2026-12-01T18:00:00Z",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [{"package": {"ecosystem": "Debian:12", "name": "curl"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "7.88.1-10+deb12u6"}]}]}],
}


def _advisories(store: Store, run_id: int) -> set[str]:
    finding = next(f for f in store.findings(run_id) if f["rule_id"] == "no-high-vulns")
    return {a["id"] for a in finding["checks"][0]["evidence"].get("advisories", [])}


def test_a_rejudge_schedule_evaluates_the_latest_run_when_the_feeds_change(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "agent.yaml").write_text(
        f"agent: {{db: {db}}}\nschedules:\n"
        "  feeds:\n    interval: 1h\n    policies: [policy.yaml]\n    rejudge: nightly\n"
    )
    registry = load_registry()
    config = loop.load(str(tmp_path / "agent.yaml"), registry)
    schedule = config.schedules[0]
    assert schedule.rejudge == "nightly"

    # What a nightly scan left: one host's facts, as the packages plugin collects them.
    osv, _tracker = feeds.sample_feed_paths()
    now = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    with Store(db) as store:
        with store.write_dataset("advisories") as conn:
            feeds.import_path(conn, osv, name="osv")
        asset = Asset(id="water/web1", name="web1", kind=AssetKind.HOST, department="water", address="127.63.0.9")
        ruleset = load_policies([str(tmp_path / "policy.yaml")], registry)
        scanned = store.create_run(ruleset, [asset], {}, now, None, ())
        facts = packages_facts(json.loads(HOST.read_text()))
        store.save_asset(scanned, asset, {"packages": facts}, {}, [], now,
                         versions={"packages": packages_plugin.facts_version})
        store.finish_run(scanned, RunStatus.COMPLETE, 0, now)
        with store.transaction() as conn:
            conn.execute("INSERT INTO agent_runs (run_id, schedule, slot) VALUES (?,?,?)",
                         (scanned, "nightly", now.isoformat()))

    lines = io.StringIO()
    log = Log("json", lines)
    first = runner.run(schedule, now + dt.timedelta(hours=1), registry, log, runner.Cutter())
    assert first.run_id not in (None, scanned) and first.note is None
    unchanged = runner.run(schedule, now + dt.timedelta(hours=2), registry, log, runner.Cutter())
    assert (unchanged.run_id, unchanged.note) == (first.run_id, f"the data run {first.run_id} was judged against is unchanged")

    with Store(db) as store, store.write_dataset("advisories") as conn:
        feeds.import_osv_records(conn, [EVENING], name="debian-evening")
    evening = runner.run(schedule, now + dt.timedelta(hours=3), registry, log, runner.Cutter())
    with Store(db) as store:
        assert "DSA-9902-1" not in _advisories(store, first.run_id)
        assert "DSA-9902-1" in _advisories(store, evening.run_id)
        assert store.run(evening.run_id).settings["evaluated_from_run"] == first.run_id
        made = [r["id"] for r in store.schedule_runs("feeds")]
    assert made == [first.run_id, evening.run_id]
    assert [json.loads(line)["event"] for line in lines.getvalue().splitlines()].count("run.rejudged") == 2
