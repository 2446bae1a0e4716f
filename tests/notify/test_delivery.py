"""Delivery to real receivers on loopback: a signed webhook, e-mail over STARTTLS, retries, no duplicates."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import logging
import sqlite3

import jsonschema
import pytest

from scanner.notify import DeliveryReport, send_for_run
from scanner.notify.contacts import Contacts, Webhook
from scanner.notify.messages import schema
from scanner.notify.send import deliver_run
from tests.notify.conftest import (
    HOST,
    SECRET,
    closed_port,
    config,
    department,
    record_run,
    serve_https_webhook,
    serve_webhook,
)

TWO_DEPARTMENTS = {
    "parks/parks-web": {"tls.modern": "pass", "http.hsts": "pass"},
    "records/records-db": {"tls.modern": "pass"},
}
THEN_FAILING = {
    "parks/parks-web": {"tls.modern": "fail", "http.hsts": "pass"},
    "records/records-db": {"tls.modern": "fail"},
}


def webhook_config(extra: str = "") -> str:
    return f"notifications:\n  allow_networks: [127.0.0.0/8]\n  retry: {{attempts: 3, backoff: [0, 0]}}\n{extra}"


def test_webhook_is_signed_over_the_raw_body_and_matches_the_schema(store, webhook):
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    report = send_for_run(store, run, config(webhook_config()), departments=[department("parks", hooks=[webhook.url])])
    assert report.sent == 1, report
    [got] = webhook.received
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Civiscan-Signature"] == expected
    assert got.headers["Content-Type"] == "application/json"
    document = got.json()
    jsonschema.Draft202012Validator(schema()).validate(document)
    assert [(e["kind"], e["asset"]["id"]) for e in document["events"]] == [("new_failure", "parks/parks-web")]


def test_mail_goes_over_starttls_with_text_html_and_the_report_attached(store, smtp_server, tmp_path):
    (tmp_path / "reports" / "parks").mkdir(parents=True)
    (tmp_path / "reports" / "parks" / "index.html").write_text("<p>parks report</p>")
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    text = (
        "notifications:\n  allow_networks: [127.0.0.0/8]\n"
        f"  attach_report: '{tmp_path}/reports/{{department}}/index.html'\n"
        + smtp_server.block("civiscan@city.example")
    )
    report = send_for_run(store, run, config(text), departments=[department("parks", emails=["parks-it@city.example"])])
    assert report.sent == 1, report
    [message] = smtp_server.messages
    assert smtp_server.envelopes == [("civiscan@city.example", ["parks-it@city.example"])]
    assert smtp_server.logins == ["civiscan"]  # credentials came from the environment variables named
    assert "1 new failure" in message["Subject"]
    parts = {p.get_content_type(): p for p in message.walk() if not p.is_multipart()}
    assert "parks/parks-web" in parts["text/plain"].get_content()
    assert "<code>parks/parks-web</code>" in message.get_body(preferencelist=("html",)).get_content()
    attachment = next(p for p in message.iter_attachments())
    assert attachment.get_filename() == "parks-index.html"
    assert attachment.get_content() == "<p>parks report</p>"


def test_plain_smtp_is_refused_unless_starttls_is_offered(store, webhook):
    # A plain SMTP listener: the webhook server answers HTTP, not STARTTLS; the mail must not go out in clear.
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    port = int(webhook.url.split(":")[2].split("/")[0])
    text = f"notifications:\n  allow_networks: [127.0.0.0/8]\n  smtp: {{host: {HOST}, port: {port}, sender: c@city.example}}\n  retry: {{attempts: 1}}\n"
    report = send_for_run(store, run, config(text), departments=[department("parks", emails=["a@city.example"])])
    assert [d.status for d in report.deliveries] == ["failed"]


def test_a_receiver_that_is_down_is_retried_then_logged_and_nothing_raises(store, caplog):
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    url = f"http://{HOST}:{closed_port()}/hook"
    waits: list[float] = []
    with caplog.at_level(logging.WARNING, logger="civiscan.notify"):
        report = deliver_run(
            store, run, config(webhook_config().replace("[0, 0]", "[1, 4]")),
            departments=[department("parks", hooks=[url])], sleep=waits.append,
        )
    assert isinstance(report, DeliveryReport)
    [delivery] = report.deliveries
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert waits == [1.0, 4.0]
    assert sum("failed (attempt" in r.getMessage() for r in caplog.records) == 3


def test_a_wait_longer_than_the_budget_is_not_taken(store):
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    cfg = config(webhook_config("  budget: 5\n").replace("[0, 0]", "[60]"))
    waits: list[float] = []
    report = deliver_run(store, run, cfg, departments=[department("parks", hooks=[f"http://{HOST}:{closed_port()}/"])], sleep=waits.append)
    [delivery] = report.deliveries
    assert waits == [] and delivery.attempts == 1 and delivery.status == "failed"


def test_undelivered_events_go_out_with_the_next_delivery(store):
    record_run(store, TWO_DEPARTMENTS)
    first = record_run(store, THEN_FAILING)
    port = closed_port()
    parks = [department("parks", hooks=[f"http://{HOST}:{port}/hooks/civiscan"])]
    cfg = config(webhook_config())
    assert [d.status for d in send_for_run(store, first, cfg, departments=parks).deliveries] == ["failed"]
    second = record_run(store, {**THEN_FAILING, "parks/parks-web": {"tls.modern": "fail", "http.hsts": "fail"}})
    with serve_webhook(port) as receiver:
        send_for_run(store, second, cfg, departments=parks)
    [got] = receiver.received
    assert [(e["run"]["id"], e["rule"]["id"]) for e in got.json()["events"]] == [(first, "tls.modern"), (second, "http.hsts")]


def test_a_restart_never_sends_the_same_event_twice(store, webhook, tmp_path):
    from scanner.store import Store

    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    cfg = config(webhook_config())
    parks = [department("parks", hooks=[webhook.url])]
    send_for_run(store, run, cfg, departments=parks)
    store.close()
    with Store(tmp_path / "civiscan.db") as reopened:
        again = send_for_run(reopened, run, cfg, departments=parks)
    assert len(webhook.received) == 1
    assert again.deliveries == ()


def test_a_private_address_is_refused_unless_allowed(store, webhook):
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    cfg = config("notifications:\n  retry: {attempts: 3, backoff: [0]}\n")
    report = send_for_run(store, run, cfg, departments=[department("parks", hooks=[webhook.url])])
    [delivery] = report.deliveries
    assert delivery.status == "failed" and "allow_networks" in (delivery.error or "")
    assert delivery.attempts == 1  # a refusal is final: no retry
    assert webhook.received == []


def test_a_broken_store_is_reported_not_raised(store):
    cfg = config(webhook_config())
    report = send_for_run(store, 999, cfg)
    assert report.error is not None and not report.ok


@pytest.mark.parametrize(("trusted", "delivered"), [(True, True), (False, False)], ids=["lab-ca-trusted", "unknown-ca-refused"])
def test_an_https_webhook_is_verified(store, tmp_path, trusted, delivered):
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    with serve_https_webhook(tmp_path) as (server, ca_file, other_ca):
        parks = department("parks")
        hook = Webhook(server.url, "NOTIFY_SECRET", ca_file if trusted else other_ca)
        parks = dataclasses.replace(parks, contacts=Contacts((), (hook,)))
        report = send_for_run(store, run, config(webhook_config()), departments=[parks])
    assert (len(server.received) == 1) is delivered
    [delivery] = report.deliveries
    assert delivery.status == ("sent" if delivered else "failed")
    assert delivery.attempts == 1  # a certificate that does not verify is final


def test_target_text_cannot_inject_markup_or_drive_a_terminal(store, smtp_server):
    record_run(store, TWO_DEPARTMENTS)
    run = record_run(store, THEN_FAILING)
    with contextlib.closing(sqlite3.connect(store.path)) as tamper, tamper:  # a store no civiscan writes
        tamper.execute(
            "UPDATE findings SET message=? WHERE run_id=?", ("<script>alert(1)</script>\x1b]0;owned\x07", run)
        )
    text = (
        "notifications:\n  allow_networks: [127.0.0.0/8]\n"
        + smtp_server.block()
    )
    send_for_run(store, run, config(text), departments=[department("parks", emails=["p@city.example"])])
    [message] = smtp_server.messages
    html = message.get_body(preferencelist=("html",)).get_content()
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\x1b" not in plain and "\\x1b" in plain


def test_a_resolver_that_hangs_fails_the_delivery_at_its_timeout(monkeypatch):
    """The C resolver has no timeout; a dead DNS server must not hold a run's notifications."""
    import socket
    import threading

    from scanner.notify.deliver import DeliveryFailed, admit

    release = threading.Event()

    def hung(*args, **kwargs):
        release.wait(30)
        raise socket.gaierror("released")

    monkeypatch.setattr(socket, "getaddrinfo", hung)
    try:
        with pytest.raises(DeliveryFailed, match="cannot resolve hooks.city.example: no answer within the timeout"):
            admit("hooks.city.example", 443, [], timeout=0.2)
    finally:
        release.set()
