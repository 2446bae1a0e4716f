"""After a run: compute each audience's events, remember them in the store, deliver what is due.

Every (run, event, recipient) is a row of the store's ``notifications_sent``
table, written before anything is sent and marked ``sent`` once the channel
accepted the message, so a restarted agent never sends it twice; a row that
could not be delivered stays unsent and goes out with the next delivery to
that recipient. Delivery is bounded: each recipient gets ``retry.attempts``
tries, and the whole call never takes longer than ``budget`` seconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import mimetypes
import time
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..inventory import Department
from ..store import Store
from .config import NotifyConfig
from .contacts import Contacts, Webhook
from .deliver import DeliveryFailed, post_webhook, send_mail
from .events import ONCE_EVER, Event, EventKind, events_for_run
from .messages import OFFICE, Audience, body, html_body, payload, subject, text_body

LOG = logging.getLogger("civiscan.notify")
# A report larger than this is linked, not attached (mail relays refuse big messages).
MAX_ATTACHMENT = 10 * 1024 * 1024
# Events owed to one recipient that one message may carry (a receiver down for weeks
# must not make a message, or this process, grow without bound); the rest go in the next.
MAX_PENDING = 10_000


@dataclass(frozen=True)
class Recipient:
    audience: Audience
    channel: str  # "email" | "webhook"
    address: str  # an e-mail address or a webhook URL
    secret_env: str | None = None
    ca_file: str | None = None

    @property
    def key(self) -> str:
        # A webhook URL may carry a token in its path: the store keeps only its digest.
        shown = self.address if self.channel == "email" else hashlib.sha256(self.address.encode()).hexdigest()[:24]
        return f"{self.audience.name}|{self.channel}|{shown}"

    @property
    def label(self) -> str:
        return self.key if self.channel == "email" else f"{self.audience.name} webhook {self.key.rsplit('|', 1)[1]}"


@dataclass(frozen=True)
class Delivery:
    recipient: str
    status: str  # sent | failed | deferred (budget spent) | waiting (for the daily digest) | dry_run
    events: int
    attempts: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "status": self.status, "events": self.events, "attempts": self.attempts, "error": self.error}


@dataclass(frozen=True)
class DeliveryReport:
    run_id: int
    deliveries: tuple[Delivery, ...] = ()
    error: str | None = None  # the notifications could not even be computed
    messages: tuple[dict[str, Any], ...] = field(default=(), repr=False)  # dry run: what would be sent

    @property
    def ok(self) -> bool:
        return self.error is None and all(d.status != "failed" for d in self.deliveries)

    @property
    def sent(self) -> int:
        return sum(1 for d in self.deliveries if d.status == "sent")

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "ok": self.ok, "error": self.error, "deliveries": [d.to_json() for d in self.deliveries]}


def recipients(config: NotifyConfig, departments: Iterable[Department]) -> list[Recipient]:
    out: list[Recipient] = []
    audiences: list[tuple[Audience, Contacts]] = [(Audience(d.name, d.title), d.contacts) for d in departments]
    audiences.append((Audience(OFFICE, "Security office"), config.security_office))
    for audience, contacts in audiences:
        out.extend(Recipient(audience, "email", a) for a in contacts.email)
        out.extend(Recipient(audience, "webhook", h.url, h.secret_env, h.ca_file) for h in contacts.webhook)
    return out


def events_for(recipient: Recipient, events: Iterable[Event]) -> list[Event]:
    """The department's own events; every event for the security office."""
    if recipient.audience.is_office:
        return list(events)
    return [e for e in events if e.department == recipient.audience.name]


def send_for_run(
    store: Store,
    run_id: int,
    config: NotifyConfig,
    *,
    previous_run_id: int | None = None,
    departments: Sequence[Department] = (),
    log: logging.Logger | None = None,
) -> DeliveryReport:
    """Notify each department (its own events) and the security office about ``run_id``.

    Never raises and never takes longer than ``config.budget`` seconds:
    a failure is logged and reported in the returned :class:`DeliveryReport`.
    """
    log = log or LOG
    try:
        return deliver_run(store, run_id, config, previous_run_id=previous_run_id, departments=departments, log=log)
    except Exception as exc:
        log.exception("notifications for run %s failed", run_id)
        return DeliveryReport(run_id, error=f"{type(exc).__name__}: {exc}")


def deliver_run(
    store: Store,
    run_id: int,
    config: NotifyConfig,
    *,
    previous_run_id: int | None = None,
    departments: Sequence[Department] = (),
    log: logging.Logger = LOG,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """:func:`send_for_run`, raising on a store error, at a given ``now``, optionally without sending."""
    now = now or dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + config.budget
    doc = store.document(run_id)
    previous_id = previous_run_id if previous_run_id is not None else store.previous_run(run_id)
    previous = store.document(previous_id) if previous_id is not None else None
    in_run = set(doc["departments"])
    events = events_for_run(
        doc, previous, now=now, waiver_warning_days=config.waiver_warning_days, summary=config.notify_when == "always"
    )
    targets = recipients(config, [d for d in departments if d.name in in_run])
    if dry_run:
        return _dry_run(run_id, config, targets, events, now)
    _queue(store, run_id, targets, events, now)
    deliveries = []
    for recipient in targets:
        pending = _pending(store, recipient)
        if not pending:
            continue
        if config.digest is not None and not _digest_due(store, recipient, config, now):
            deliveries.append(Delivery(recipient.label, "waiting", len(pending)))
            continue
        delivery = _deliver(store, recipient, pending, config, now, deadline, log, sleep)
        deliveries.append(delivery)
    return DeliveryReport(run_id, tuple(deliveries))


def _queue(store: Store, run_id: int, targets: Sequence[Recipient], events: Sequence[Event], now: dt.datetime) -> None:
    store.queue_notifications(
        run_id,
        [
            (event.key, recipient.key, json.dumps(event.to_json()), event.kind in ONCE_EVER)
            for recipient in targets
            for event in events_for(recipient, events)
        ],
        now,
    )


def _pending(store: Store, recipient: Recipient) -> list[tuple[int, str, Event]]:
    rows = store.pending_notifications(recipient.key, MAX_PENDING)
    return [(run_id, event, Event.from_json(json.loads(payload))) for run_id, event, payload in rows]


def _digest_due(store: Store, recipient: Recipient, config: NotifyConfig, now: dt.datetime) -> bool:
    """Whether today's digest hour has passed in the digest's timezone and today's digest is not out yet."""
    assert config.digest is not None
    zone = zoneinfo.ZoneInfo(config.digest.timezone)
    local = now.astimezone(zone)
    due = local.replace(hour=config.digest.hour, minute=0, second=0, microsecond=0)
    if local < due:
        return False
    last = store.last_notification_sent(recipient.key)
    return last is None or last < due


def _message(recipient: Recipient, events: Sequence[Event], config: NotifyConfig, now: dt.datetime) -> dict[str, Any]:
    newest = max((int(e.run["id"]) for e in events), default=0)
    url = config.report_url_template.format(department=recipient.audience.name, run=newest) if config.report_url_template else None
    return payload(recipient.audience, events, digest=config.digest is not None, generated=now.isoformat(), report_url=url)


def _deliver(
    store: Store,
    recipient: Recipient,
    pending: Sequence[tuple[int, str, Event]],
    config: NotifyConfig,
    now: dt.datetime,
    deadline: float,
    log: logging.Logger,
    sleep: Callable[[float], None],
) -> Delivery:
    events = [e for _, _, e in pending]
    document = _message(recipient, events, config, now)
    # The same id for the same rows: a receiver can drop a message it already has.
    delivery_id = hashlib.sha256("\n".join([recipient.key, *(f"{r}:{k}" for r, k, _ in pending)]).encode()).hexdigest()[:32]
    send = _sender(recipient, document, delivery_id, config)
    attempts = 0
    error = "no time left in the notification budget"
    while attempts < config.retry.attempts:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        attempts += 1
        try:
            send(min(config.timeout, remaining))
        except DeliveryFailed as exc:
            error = str(exc)
            wait = config.retry.delay(attempts)
            last = not exc.retry or attempts >= config.retry.attempts or deadline - time.monotonic() <= wait
            log.warning(
                "notification to %s failed (attempt %d of %d): %s%s",
                recipient.label, attempts, config.retry.attempts, error, "" if last else f"; retrying in {wait:g} s",
            )
            if last:
                break
            sleep(wait)
            continue
        store.mark_notifications_sent(recipient.key, [(r, k) for r, k, _ in pending], now)
        log.info("notified %s: %d events", recipient.label, len(events))
        return Delivery(recipient.label, "sent", len(events), attempts)
    status = "failed" if attempts else "deferred"
    if not attempts:
        log.warning("notification to %s deferred: %s", recipient.label, error)
    return Delivery(recipient.label, status, len(events), attempts, error)


def _sender(recipient: Recipient, document: dict[str, Any], delivery_id: str, config: NotifyConfig) -> Callable[[float], None]:
    if recipient.channel == "webhook":
        raw = body(document)
        hook = Webhook(recipient.address, recipient.secret_env or "", recipient.ca_file)

        def webhook(timeout: float) -> None:
            post_webhook(hook, raw, delivery_id, config.allow_networks, timeout)

        return webhook
    message = email_message(recipient, document, config)

    def mail(timeout: float) -> None:
        if config.smtp is None:
            raise DeliveryFailed("no 'smtp' block in 'notifications' to send e-mail with", retry=False)
        send_mail(config.smtp, message, config.allow_networks, timeout)

    return mail


def email_message(recipient: Recipient, document: dict[str, Any], config: NotifyConfig) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(document)
    message["From"] = config.smtp.sender if config.smtp else "civiscan"
    message["To"] = recipient.address
    message.set_content(text_body(document))
    message.add_alternative(html_body(document), subtype="html")
    report = _report_file(recipient, document, config)
    if report is not None:
        kind = mimetypes.guess_type(report.name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        message.add_attachment(report.read_bytes(), maintype=maintype, subtype=subtype, filename=f"{recipient.audience.name}-{report.name}")
    return message


def _report_file(recipient: Recipient, document: dict[str, Any], config: NotifyConfig) -> Path | None:
    if not config.attach_report or not document["runs"]:
        return None
    path = Path(config.attach_report.format(department=recipient.audience.name, run=document["runs"][-1]["id"])).expanduser()
    try:
        if path.is_file() and path.stat().st_size <= MAX_ATTACHMENT:
            return path
    except OSError:
        pass
    return None


def _dry_run(run_id: int, config: NotifyConfig, targets: Sequence[Recipient], events: Sequence[Event], now: dt.datetime) -> DeliveryReport:
    deliveries, messages = [], []
    for recipient in targets:
        own = events_for(recipient, events)
        if not own:
            continue
        document = _message(recipient, own, config, now)
        deliveries.append(Delivery(recipient.label, "dry_run", len(own)))
        messages.append({"recipient": recipient.label, "channel": recipient.channel, "payload": document})
    return DeliveryReport(run_id, tuple(deliveries), messages=tuple(messages))


__all__ = ["Delivery", "DeliveryReport", "EventKind", "deliver_run", "send_for_run"]
