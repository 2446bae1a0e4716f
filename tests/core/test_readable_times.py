"""`civiscan history` and `civiscan diff` print run times as people read them; JSON keeps ISO 8601."""

from __future__ import annotations

import re

from scanner.history import Point, diff, diff_lines, diff_markdown, history_lines, score_counts

STARTED = "2026-12-01T22:40:05+00:00"


def run(run_id: int, started: str) -> dict:
    return {"run": {"id": run_id, "started": started}, "assets": [], "findings": [], "departments": []}


def test_history_table_shows_when_each_run_started_readably():
    points = [Point(7, STARTED, "complete", "baseline@1", 3, score_counts({}))]
    (row,) = [line for line in history_lines(points, "all departments") if line.lstrip().startswith("7 ")]
    assert "1 Dec 2026, 22:40 UTC" in row
    assert "2026-12-01T" not in row
    assert points[0].to_json()["started"] == STARTED


def test_diff_title_names_both_runs_with_readable_times():
    result = diff(run(1, "2026-11-30T08:05:00+00:00"), run(2, STARTED))
    assert diff_lines(result)[0] == "civiscan diff: run 1 (30 Nov 2026, 08:05 UTC) -> run 2 (1 Dec 2026, 22:40 UTC)"
    assert "30 Nov 2026" in diff_markdown(result).splitlines()[0]


def test_feeds_list_shows_when_each_feed_was_dated_and_imported_readably(tmp_path):
    from click.testing import CliRunner

    from scanner.cli import cli
    from scanner.plugins.packages import feeds
    from scanner.store import Store

    with Store(tmp_path / "s.db") as store, store.write_dataset("advisories") as conn:
        feeds.import_path(conn, feeds.sample_feed_paths()[0])
    listed = CliRunner().invoke(cli, ["--no-config", "feeds", "list", "--db", str(tmp_path / "s.db")])
    assert listed.exit_code == 0, listed.output
    (row,) = [line for line in listed.output.splitlines() if "advisories" in line]
    moment = r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC"
    assert re.search(f"dated {moment}  imported {moment}$", row), row


def test_feeds_import_and_list_name_dates_readably_and_count_what_each_feed_holds(tmp_path):
    from pathlib import Path

    from click.testing import CliRunner

    from scanner.cli import cli

    db = str(tmp_path / "s.db")
    eol = Path(__file__).parents[1] / "packages" / "data" / "endoflife" / "debian.json"
    imported = CliRunner().invoke(cli, ["--no-config", "feeds", "import", str(eol), "--db", db])
    assert imported.exit_code == 0, imported.output
    moment = r"\d{1,2} [A-Z][a-z]{2} \d{4}(, \d\d:\d\d UTC)?"
    assert re.search(f"feed 'eol:debian' \\(eol\\), \\d+ cycles, dated {moment}; ", imported.output), imported.output
    assert not re.search(r"\d{4}-\d\d-\d\d", imported.output.split("dated ", 1)[1].split(";")[0])
    listed = CliRunner().invoke(cli, ["--no-config", "feeds", "list", "--db", db])
    (row,) = listed.output.splitlines()
    assert re.search(f"\\d+ cycles +dated {moment}  imported {moment}$", row), row


def test_tracker_lists_show_when_they_were_imported_readably():
    import sqlite3

    from scanner.plugins.web.trackers import list_lines

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE tracker_sources (name, kind, domains, imported_at)")
    conn.execute("INSERT INTO tracker_sources VALUES ('radar', 'tracker-radar', 12, '2026-12-01T22:40:05.123456+00:00')")
    (line,) = list_lines(conn)
    assert line.endswith("imported 1 Dec 2026, 22:40 UTC"), line
