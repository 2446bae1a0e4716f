"""A store written before secrets were masked at collection: reading it shows none of them.

The run is saved through the store as an older version would have (facts,
evidence, messages and errors holding a password, a token parameter and URL
credentials); every way out of the store must mask them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from scanner.evaluate import CheckResult, Finding
from scanner.models import CollectError, ErrorReason, Severity, Status
from scanner.plugin import CheckRequest
from scanner.policy import Rule, RuleSet
from scanner.store import RunStatus, Store
from tests.notify.conftest import START, asset, serve_webhook
from tests.notify.test_command import AGENT, run_cli

PASSWORD, TOKEN, USERINFO = "OldPassword0Secret77", "OldToken0Secret88", "OldUserinfo0Secret99"
LOCATION = f"http://admin:{USERINFO}@web.city.example/next?token={TOKEN}&lang=en"
FORMATS = ("json", "html", "junit", "sarif", "csv", "markdown")


def old_run(store: Store, started: dt.datetime, status: Status) -> int:
    web, vault = asset("parks/web"), asset("parks/vault")
    rule = Rule("redirect", "Plain HTTP redirects to HTTPS", Severity.HIGH,
                (CheckRequest("http.redirect_to_https", {}),), "old")
    run = store.create_run(RuleSet((rule,), (), ()), [web, vault], {}, started,
                           departments=[{"name": "parks", "title": "Parks"}])
    evidence = {"location": LOCATION, "db": {"password": PASSWORD}, "password_field": True}
    message = f"Port 80 redirects to {LOCATION}"
    check = CheckResult("http.redirect_to_https", status, message, evidence)
    finding = Finding(web.id, "redirect", status, Severity.HIGH, message, checks=(check,))
    facts = {"http": {"headers": {"location": [LOCATION], "authorization": [f"Basic {PASSWORD}"]},
                      "password": PASSWORD}}
    store.save_asset(run, web, facts, {}, [finding], started + dt.timedelta(minutes=1))
    error = CollectError(ErrorReason.CONNECT, f"GET {LOCATION} failed")
    store.save_asset(run, vault, {}, {"http": error}, [], started + dt.timedelta(minutes=1))
    store.finish_run(run, RunStatus.COMPLETE, 1, started + dt.timedelta(minutes=2))
    return run


def leaked(text: str) -> list[str]:
    return [s for s in (PASSWORD, TOKEN, USERINFO) if s in text]


@pytest.fixture
def db(tmp_path: Path) -> str:
    with Store(tmp_path / "civiscan.db") as store:
        old_run(store, START, Status.PASS)
        old_run(store, START + dt.timedelta(minutes=5), Status.FAIL)
    return str(tmp_path / "civiscan.db")


def test_every_report_format_masks_what_the_store_holds(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("report", "last", "--db", db, *(f"--format={f}" for f in FORMATS), "-o", str(tmp_path / "out")) == 0
    written = {p.name: p.read_text() for p in (tmp_path / "out").iterdir()}
    assert len(written) > len(FORMATS)
    assert {name: leaked(text) for name, text in written.items()} == dict.fromkeys(written, [])
    assert leaked(capsys.readouterr().out) == []
    assert "token=[redacted]" in written["run.json"]


def test_the_printed_run_document_masks_what_the_store_holds(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("show", "last", "--db", db, "--format", "json") == 0
    out = capsys.readouterr().out
    assert leaked(out) == []
    doc = json.loads(out)
    (web,) = [a for a in doc["assets"] if a["id"] == "parks/web"]
    assert web["facts"]["http"]["password"] == "[redacted]"
    (finding,) = doc["findings"]
    assert finding["checks"][0]["evidence"]["password_field"] is True


def test_a_webhook_message_masks_what_the_store_holds(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SECRET", "hook-signing-key")
    with serve_webhook() as hook:
        (tmp_path / "inventory.yaml").write_text(
            "scope: {networks: [127.0.0.0/8]}\n"
            f'departments: {{parks: {{contacts: {{webhook: [{{url: "{hook.url}", secret_env: NOTIFY_SECRET}}]}},'
            " assets: [{host: 127.0.0.1}]}}\n")
        (tmp_path / "agent.yaml").write_text(AGENT.format(attempts=1))
        assert run_cli("notify", "last", "--db", db, "--config", str(tmp_path / "agent.yaml")) == 0
        assert hook.received, capsys.readouterr()
        body = hook.received[0].body.decode()
    assert leaked(body) == []
    assert "Port 80 redirects to http://web.city.example/next?token=[redacted]&lang=en" in body
