"""Quiet rules: nothing changed means no message (unless asked), and the daily digest."""

from __future__ import annotations

import datetime as dt

from scanner.notify import send_for_run
from scanner.notify.send import deliver_run
from tests.notify.conftest import START, config, department, record_run

SAME = {"parks/web": {"tls.modern": "fail"}}


def _cfg(extra: str = "") -> str:
    return f"notifications:\n  allow_networks: [127.0.0.0/8]\n{extra}"


def test_no_message_when_nothing_changed(store, webhook):
    record_run(store, SAME)
    run = record_run(store, SAME, started=START + dt.timedelta(minutes=5))
    report = send_for_run(store, run, config(_cfg()), departments=[department("parks", hooks=[webhook.url])])
    assert report.deliveries == () and webhook.received == []


def test_notify_when_always_sends_a_summary_even_without_changes(store, webhook):
    record_run(store, SAME)
    run = record_run(store, SAME, started=START + dt.timedelta(minutes=5))
    send_for_run(store, run, config(_cfg("  notify_when: always\n")), departments=[department("parks", hooks=[webhook.url])])
    [got] = webhook.received
    assert [e["kind"] for e in got.json()["events"]] == ["summary"]


def test_the_daily_digest_collects_until_its_hour_then_sends_once(store, webhook):
    cfg = config(_cfg("  digest: daily\n  digest_hour: 8\n  timezone: Europe/Paris\n"))
    parks = [department("parks", hooks=[webhook.url])]
    base = record_run(store, {"parks/web": {"a": "pass", "b": "pass"}})
    early = record_run(store, {"parks/web": {"a": "fail", "b": "pass"}}, started=START + dt.timedelta(minutes=5))
    later = record_run(store, {"parks/web": {"a": "fail", "b": "fail"}}, started=START + dt.timedelta(minutes=10))
    assert base
    six_paris = dt.datetime(2026, 11, 30, 5, 0, tzinfo=dt.UTC)  # 06:00 in Paris: before the hour
    waiting = deliver_run(store, early, cfg, departments=parks, now=six_paris)
    assert [d.status for d in waiting.deliveries] == ["waiting"] and webhook.received == []
    nine_paris = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    deliver_run(store, later, cfg, departments=parks, now=nine_paris)
    newer = record_run(store, {"parks/web": {"a": "pass", "b": "fail", "c": "fail"}}, started=START + dt.timedelta(minutes=15))
    same_day = deliver_run(store, newer, cfg, departments=parks, now=nine_paris + dt.timedelta(hours=1))
    assert [d.status for d in same_day.deliveries] == ["waiting"]
    [got] = webhook.received
    document = got.json()
    assert document["digest"] is True
    assert sorted(e["rule"]["id"] for e in document["events"]) == ["a", "b"]
