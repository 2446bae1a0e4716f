"""``civiscan notify RUN --config agent.yaml``: dry run, sending, and bad configuration."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from scanner.cli import main
from tests.notify.conftest import START, record_run

INVENTORY = """\
scope: {{networks: [127.0.0.0/8]}}
departments:
  parks:
    title: Parks
    contacts:
      webhook: [{{url: "{url}", secret_env: NOTIFY_SECRET}}]
    assets: [{{host: 127.0.0.1}}]
  records:
    title: Records
    assets: [{{host: 127.0.0.2}}]
"""

AGENT = """\
schedules:
  nightly:
    cron: "0 2 * * *"
    policies: [baseline]
    inventory: inventory.yaml
    notifications:
      allow_networks: [127.0.0.0/8]
      retry: {{attempts: {attempts}}}
"""


@pytest.fixture
def setup(tmp_path, store, webhook):
    (tmp_path / "inventory.yaml").write_text(INVENTORY.format(url=webhook.url))
    (tmp_path / "agent.yaml").write_text(AGENT.format(attempts=2))
    record_run(store, {"parks/web": {"r": "pass"}, "records/vault": {"r": "pass"}})
    run = record_run(store, {"parks/web": {"r": "fail"}, "records/vault": {"r": "fail"}}, started=START + dt.timedelta(minutes=5))
    store.close()
    return tmp_path, run


def run_cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_dry_run_prints_each_message_and_sends_nothing(setup, webhook, capsys):
    tmp_path, run = setup
    code = run_cli("notify", str(run), "--config", str(tmp_path / "agent.yaml"), "--db", str(tmp_path / "civiscan.db"), "--dry-run")
    out = capsys.readouterr().out
    assert code == 0
    [message] = [json.loads(out)]
    assert [e["asset"]["id"] for e in message["payload"]["events"]] == ["parks/web"]
    assert webhook.received == []


def test_notify_sends_once_and_a_second_call_sends_nothing(setup, webhook, capsys):
    tmp_path, run = setup
    args = ("notify", str(run), "--config", str(tmp_path / "agent.yaml"), "--db", str(tmp_path / "civiscan.db"))
    assert run_cli(*args) == 0
    assert "sent (1 events)" in capsys.readouterr().out
    assert run_cli(*args) == 0
    assert len(webhook.received) == 1


def test_a_bad_notifications_block_exits_2_with_its_position(setup, capsys):
    tmp_path, run = setup
    (tmp_path / "agent.yaml").write_text(AGENT.format(attempts=99))
    code = run_cli("notify", str(run), "--config", str(tmp_path / "agent.yaml"), "--db", str(tmp_path / "civiscan.db"))
    assert code == 2
    assert f"{tmp_path / 'agent.yaml'}:8:25: 'attempts' of 'retry' must be an integer from 1 to 10" in capsys.readouterr().err
