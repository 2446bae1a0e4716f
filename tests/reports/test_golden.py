"""Every format, byte for byte as committed in tests/reports/golden/.

A fixed small run (three departments, one with a hostile name; every status;
waivers active and lapsed; evidence full of what HTML, CSV, JSON and XML escape;
a previous run with every change, a dropped finding included) is rendered in all
six formats with page budgets made small enough that detailed findings, compact
rows, omitted findings and per-rule counts all appear. Speed-ups of the renderers
must not change a byte. After an intended change of output, rewrite the files with

    .venv/bin/python tests/reports/test_golden.py

and review the diff.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

if __name__ == "__main__":  # run as a script: make the sibling conftest importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scanner.history import Point, Score, Trends
from scanner.reports import html as html_report
from scanner.reports import render
from tests.reports.conftest import HOSTILE, RunBuilder

GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
EARLIER = "2026-10-01T10:00:00+00:00"
BUDGETS = {"DETAIL_BUDGET": 4_000, "COMPACT_BUDGET": 900, "ROW_LIMIT": 2, "TABLE_BUDGET": 2_000}
WATER = "water " + HOSTILE["img"]


def _runs() -> tuple[dict[str, Any], dict[str, Any]]:
    docs = []
    for run_id, started in ((6, "2026-11-18T10:00:00+00:00"), (7, "2026-11-25T10:00:00+00:00")):
        later = run_id == 7
        b = RunBuilder(run_id, started)
        b.rule(
            "tls-protocols",
            title="TLS " + HOSTILE["title"],
            rationale="Old **protocols** let an `attacker` read traffic. " + HOSTILE["script"],
            remediation='Step 1, edit "ssl.conf":\n  ssl_protocols TLSv1.2;\n'
            + HOSTILE["markdown"] + HOSTILE["fetch"],
            references={
                "cis" + HOSTILE["img"]: [HOSTILE["script"]], "nist-800-53": ["SC-8", "SC-13"]
            },
        )
        b.rule("ports-allowed", severity="medium", title="Only approved ports, \"quoted\", ok",
               check="ports.allowed", options={"allowed": [22, 443]},
               remediation="=cmd|' /C calc'!A0\r\nclose ports, then rescan")
        b.rule("headers", severity="low", title=" leading and trailing spaces ",
               check="http.headers", options={"required": ["Content-Security-Policy"]})
        b.rule("critical-one", severity="critical", title="Critical rule", check="tls.certificate",
               options={})
        if not later:
            b.rule("retired", severity="info", title="A rule no longer in the policy")
        active = b.waiver("w-1", "ports-allowed", expires="2026-12-10", matched=2)
        lapsed = b.waiver("w-2", "headers", state="expired", expires="2026-11-01", matched=1)
        b.waiver("w-3", "headers", state="stale", expires="2027-01-31")
        evil = b.asset("parks", HOSTILE["script"], url=HOSTILE["url"])
        www = b.asset("parks", "parkswww7f3a")
        shop = b.asset("parks", "parksshop2b1c")
        db = b.asset(WATER, "waterdb19c2" + HOSTILE["svg"], kind="host", address="127.0.0.5")
        gone = b.asset(WATER, "offline", kind="host", address="127.0.0.6",
                       errors={"tls": {"reason": "timeout",
                                       "message": "no answer in 5 s, \"really\""}})
        desk = b.asset("police, \"central\"", "desk 1", kind="host", address="::1")
        nested = {
            "subject": "CN=" + HOSTILE["img"],
            "issuer": HOSTILE["style"],
            "banner": HOSTILE["control"],
            "note": HOSTILE["template"] + HOSTILE["quotes"] + HOSTILE["unicode"],
            "ca_file": "/home/scanner/secret/ca.pem",
            "password": "hunter2",
            "chain": [{"subject": HOSTILE["svg"]}, {"subject": "CN=ok", "days": 12.5}],
            "csv": 'a,b\r\n"c"\n',
        }
        b.finding(evil, "tls-protocols", "fail", message="Accepted " + HOSTILE["script"]
                  + HOSTILE["quotes"], evidence=nested, first_seen=EARLIER)
        b.finding(www, "tls-protocols", "fail" if later else "pass",
                  message=HOSTILE["fetch"] + HOSTILE["unicode"], evidence=nested)
        b.finding(shop, "tls-protocols", "pass" if later else "fail", first_seen=EARLIER,
                  message="-starts with a minus")
        b.finding(db, "tls-protocols", "fail", message="@sum(1)\ttab",
                  evidence={"accepted": ["TLSv1.0"]},
                  first_seen=started if later else EARLIER)
        b.finding(gone, "tls-protocols", "error", reason="timeout",
                  message="Timed out " + HOSTILE["svg"])
        b.finding(desk, "tls-protocols", "not_applicable", message="No TLS service")
        for asset in (evil, www, shop, db):
            b.finding(asset, "ports-allowed", "waived", waiver=active,
                      message="Port 8080, \"admin\" is open", evidence={"open": [22, 443, 8080]})
        b.finding(desk, "ports-allowed", "fail", waiver=lapsed, message="Port 23 is open",
                  evidence={"open": [23], "ranges": [[1000, 2000]]})
        for i, asset in enumerate((evil, www, shop, db, desk)):
            b.finding(asset, "headers", "pass" if i % 2 else "fail",
                      message=f" header {i} set \n second line ", evidence={"missing": [], "n": i})
            b.finding(asset, "critical-one", "fail" if i < 3 else "pass",
                      message=f"certificate {i} expired",
                      evidence={"not_after": "2026-01-0" + str(i + 1)})
        if not later:
            b.finding(www, "retired", "fail", message="was failing, rule since removed")
        docs.append(b.build())
    return docs[0], docs[1]


def _trends() -> Trends:
    def point(run_id: int, value: float) -> Point:
        return Point(run_id, f"2026-11-{run_id + 10:02d}T10:00:00+00:00", "complete",
                     "baseline 1", 6, Score(passed=int(value), failed=100 - int(value)))

    return Trends(city=(point(5, 40.0), point(6, 55.5)),
                  departments={"parks": (point(5, 30.0), point(6, 50.0))})


def render_all(outdir: Path) -> list[Path]:
    previous, current = _runs()
    return render(current, ["html", "json", "junit", "sarif", "csv", "markdown"], outdir,
                  previous=previous, now=NOW, trends=_trends())


@pytest.fixture
def small_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BUDGETS.items():
        monkeypatch.setattr(html_report, name, value)


def test_every_format_is_byte_for_byte_the_golden_output(small_budgets, tmp_path):
    written = render_all(tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in GOLDEN.iterdir())
    for name in names:
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name


def test_the_golden_output_shows_every_part_of_a_department_page():
    parks = (GOLDEN / "dept-parks.html").read_text()
    for part in ("further failing findings, shown briefly", "more failing findings are not listed",
                 "counted per rule",
                 "failed in run 6 but were not evaluated", "Why it matters"):
        assert part in parks, part


def main() -> None:
    saved = {name: getattr(html_report, name) for name in BUDGETS}
    for name, value in BUDGETS.items():
        setattr(html_report, name, value)
    try:
        for old in GOLDEN.glob("*"):
            old.unlink()
        GOLDEN.mkdir(exist_ok=True)
        render_all(GOLDEN)
    finally:
        for name, value in saved.items():
            setattr(html_report, name, value)


if __name__ == "__main__":
    main()
