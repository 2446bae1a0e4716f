"""Target text on the terminal: every control and bidi character is shown, never obeyed."""

from __future__ import annotations

import re

import pytest

from scanner.models import Asset, AssetKind
from scanner.output import inert, runs_table, summary_table
from scanner.plugins.tls.command import describe

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\u202eevil\u2066\x9b31m\x7f\x00"
RAW = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("\x1b[2J", "\\x1b[2J"),
        ("a\nb\rc\td", "a\\x0ab\\x0dc\\x09d"),
        ("\x9b31m", "\\x9b31m"),
        ("del\x7f nul\x00", "del\\x7f nul\\x00"),
        ("\u202eabc\u202c", "\\u202eabc\\u202c"),
        ("\u2066x\u2069", "\\u2066x\\u2069"),
        ("Zürich 東京 مرحبا 🔒 <b> \\x1b", "Zürich 東京 مرحبا 🔒 <b> \\x1b"),
    ],
    ids=["osc-title", "csi-clear", "newline-cr-tab", "c1-csi", "del-nul", "bidi-override",
         "bidi-isolate", "printable-unchanged"],
)
def test_inert_shows_controls_as_escapes(text: str, shown: str) -> None:
    assert inert(text) == shown


def _doc(message: str, asset_id: str = "web/www") -> dict:
    return {
        "run": {"id": 1, "status": "complete", "started": "2026-12-01T00:00:00+00:00",
                "policies": [{"id": "p", "version": "1"}]},
        "summary": {"assets": 1, "assessed": 1, "findings": {"fail": 1}},
        "rules": [{"id": "r", "title": "Rule"}],
        "findings": [{"status": "fail", "severity": "high", "asset_id": asset_id, "rule_id": "r",
                      "message": message}],
        "waivers": [{"id": HOSTILE, "rule": "r", "state": "stale"}],
    }


def test_summary_table_escapes_target_text() -> None:
    table = summary_table(_doc(f"redirects to http://x/{HOSTILE}", asset_id=f"web/{HOSTILE}"))
    assert not RAW.search(table.replace("\n", ""))
    assert "\\x1b]0;pwned\\x07" in table


def test_a_newline_in_a_cell_cannot_forge_a_row() -> None:
    table = summary_table(_doc("fine\nPASS    info     web/www r all good"))
    assert not any(line.startswith("PASS") for line in table.splitlines())


def test_runs_table_escapes_stored_text() -> None:
    row = {"id": 1, "started": "2026-12-01", "status": "complete", "exit_code": 0, "done": 1,
           "assets": 1, "failures": 0, "errors": 0, "policy_key": HOSTILE}
    assert not RAW.search(runs_table([row]).replace("\n", ""))


def test_tls_description_escapes_certificate_text() -> None:
    asset = Asset(id="adhoc/x", name="x", kind=AssetKind.ENDPOINT, department="adhoc",
                  url="https://x.test/", address="127.0.0.1")
    facts = {"protocols": {"TLSv1.3": True},
             "certificate": {"certificates": [{"subject": f"CN={HOSTILE}", "issuer": HOSTILE}], "leaf": 0,
                             "verification": {"error": HOSTILE}}}
    text = describe(asset, facts, None)
    assert not RAW.search(text.replace("\n", ""))
    assert "CN=\\x1b]0;pwned" in text


def test_the_progress_line_keeps_ticking_while_an_asset_is_in_flight_and_names_it_inertly():
    import io
    import threading

    from scanner.output import ProgressObserver

    stream = io.StringIO()
    progress = ProgressObserver(stream=stream, tick=0.02)
    slow = Asset(id="parks/" + HOSTILE, name=HOSTILE, kind=AssetKind.HOST, department="parks", address="127.0.0.1")
    progress.started(2)
    progress.asset_started(slow)
    drawn = threading.Event()
    for _ in range(500):  # wait (bounded) for redraws that no asset completion caused
        if stream.getvalue().count("1 in flight") >= 3:
            drawn.set()
            break
        threading.Event().wait(0.01)
    assert drawn.is_set(), stream.getvalue()[-200:]
    assert "0/2 assets" in stream.getvalue() and not RAW.search(stream.getvalue().replace("\r", ""))
    progress.asset_done(slow, [])
    progress.finished()
    last = stream.getvalue().rstrip("\n").split("\r")[-1]
    assert "1/2 assets" in last and "in flight" not in last
    # A finished bar starts no more redraws.
    size = len(stream.getvalue())
    threading.Event().wait(0.1)
    assert len(stream.getvalue()) == size
