"""Tracker lists: ``civiscan feeds import`` of Tracker Radar files into the ``trackers`` dataset,
read by the web family's collection, the bundled sample otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.models import Status
from scanner.plugins.web.trackers import recognises
from scanner.store import Store
from tests.conftest import judge

CONTACT = "https://city.test/scanner"  # the lab log is shared: every request says who sends it
SAMPLE = Path(__file__).resolve().parents[2] / "plugins" / "web" / "data" / "tracker_radar"


def _civiscan(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVISCAN_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def _radar_folder(root: Path) -> Path:
    """A Tracker Radar ``domains/`` folder naming the leaky site's CDN an analytics tracker."""
    folder = root / "domains" / "US"
    folder.mkdir(parents=True)
    (folder / "jsdelivr.test.json").write_text(json.dumps({
        "domain": "jsdelivr.test", "owner": {"name": "Lab CDN Ltd", "displayName": "Lab CDN"},
        "source": ["DuckDuckGo"], "prevalence": 0.1, "fingerprinting": 1,
        "categories": ["CDN", "Session Replay"], "cookies": 0.0}))
    return root / "domains"


def test_feeds_import_reads_the_bundled_tracker_radar_sample(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    imported = _civiscan(db, "feeds", "import", str(SAMPLE))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == (f"{SAMPLE}: tracker list 'tracker-radar' (tracker-radar), "
                               "5 domains, 5 of them trackers\n")
    listed = _civiscan(db, "feeds", "list")
    assert listed.stdout.split()[:3] == ["tracker-radar", "tracker-radar", "5"]


def test_a_broken_tracker_file_names_its_position(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"domain": "x.test",\n "owner": {"name": }}\n')
    result = _civiscan(tmp_path / "c.db", "feeds", "import", str(bad))
    assert result.returncode == 2
    assert f"{bad}:2:20: Expecting value" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [('{"domain": "a.test", "owner": {"name": "A"}}', True),
     ('{"trackers": {"a.test": {"domain": "a.test", "owner": {}}}}', True),
     ('{"id": "OSV-1", "affected": []}', False)],
    ids=["domain-file", "tracker-data-set", "osv-record"],
)
def test_the_format_is_recognised_by_its_content(tmp_path: Path, content, expected) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    assert recognises(str(path)) is expected


def test_an_imported_list_is_what_collection_reads(web_lab, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    folder = _radar_folder(tmp_path)
    assert _civiscan(db, "feeds", "import", str(folder), "--name", "lab").returncode == 0
    with Store(db) as store:
        facts = web_lab.collect("leaky", datasets=store, web_contact_url=CONTACT)
    assert facts["tracker_list"]["list"] == "imported"
    assert facts["tracker_list"]["feeds"] == ["lab"]
    outcome = judge("web.trackers", facts)
    assert outcome.status is Status.FAIL
    # Only the imported list counts: Google and Facebook are not in it.
    assert outcome.evidence["trackers"] == [{
        "site": "jsdelivr.test", "name": "Lab CDN", "domain": "jsdelivr.test",
        "category": "session recording", "purposes": ["session recording"]}]
    assert "Lab CDN (session recording, jsdelivr.test)" in outcome.message


def test_without_an_imported_list_the_bundled_sample_names_trackers(web_lab, tmp_path) -> None:
    with Store(tmp_path / "empty.db") as store:
        facts = web_lab.collect("leaky", datasets=store, web_contact_url=CONTACT)
    assert facts["tracker_list"] == {"list": "bundled sample", "feeds": ["tracker-radar sample"],
                                     "domains": 5}
    assert judge("web.trackers", facts).status is Status.FAIL
    assert judge("web.trackers", web_lab.collect("clean", datasets=store, web_contact_url=CONTACT)).status is Status.PASS


def test_a_symlinked_file_in_a_folder_is_not_followed(tmp_path: Path) -> None:
    from scanner.plugins.web.trackers import read_path

    folder = _radar_folder(tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"domain": "planted.test", "owner": {"name": "P"},
                                   "categories": ["Advertising"]}))
    (folder / "US" / "planted.test.json").symlink_to(outside)
    entries, _sha = read_path(str(folder))
    assert [e.host for e in entries] == ["jsdelivr.test"]


def test_an_oversized_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    from scanner.plugins.web import trackers

    monkeypatch.setattr(trackers, "MAX_FILE_BYTES", 64)
    folder = _radar_folder(tmp_path)
    with pytest.raises(trackers.TrackerFormatError, match="larger than"):
        trackers.read_path(str(folder))


def test_a_file_without_entries_is_refused(tmp_path: Path) -> None:
    from scanner.plugins.web.trackers import TrackerFormatError, read_path

    empty = tmp_path / "x.json"
    empty.write_text('{"domain": 3, "owner": {}}')
    with pytest.raises(TrackerFormatError, match="no Tracker Radar domain entry"):
        read_path(str(empty))


def test_a_scan_job_reads_the_tracker_list_its_runner_lends(web_lab, tmp_path: Path) -> None:
    # As a worker would: the job names no store, the runner lends its datasets.
    import asyncio

    from scanner.engine import run_job
    from scanner.models import Asset, AssetKind
    from scanner.plugin import Registry
    from scanner.plugins.web import plugin

    db = tmp_path / "c.db"
    assert _civiscan(db, "feeds", "import", str(_radar_folder(tmp_path))).returncode == 0
    asset = Asset(id="lab/leaky", name="leaky", kind=AssetKind.ENDPOINT, department="lab",
                  url=web_lab.url("leaky"), address=web_lab.sites["leaky"].address,
                  ca_file=web_lab.ca_file)
    job = {"asset": asset.to_json(), "timeout": 5,
           "plugins": {"web": [{"check": "web.trackers", "options": {}}]},
           "settings": {"resolve": web_lab.resolve(), "web_contact_url": CONTACT},
           "scope": {"networks": ["127.0.213.0/24"], "domains": []}}
    registry = Registry()
    registry.add(plugin)
    with Store(db) as lent:
        result = asyncio.run(run_job(job, registry, datasets=lent))
    facts = result["facts"]["web"]
    assert facts["tracker_list"]["list"] == "imported"
    assert [t["site"] for t in facts["third_parties"] if t["tracker"]] == ["jsdelivr.test"]
