"""Messages built from one audience's events: the webhook payload and the e-mail bodies (pure).

An audience is a department (its own events only) or the security office (every
department's). Nothing here reads the run document: a message can only carry
what its events carry.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jinja2

from ..secrets import scrub
from ..yamlpos import escape
from .events import Event, EventKind

SCHEMA = "civiscan/notification"
SCHEMA_VERSION = 1
OFFICE = "security_office"
# A first run over a large estate can have thousands of new failures; a message
# lists the first MAX_EVENTS and counts every one.
MAX_EVENTS = 200


@dataclass(frozen=True)
class Audience:
    name: str  # a department, or OFFICE
    title: str = ""

    @property
    def is_office(self) -> bool:
        return self.name == OFFICE

    def to_json(self) -> dict[str, Any]:
        kind = "security_office" if self.is_office else "department"
        return {"kind": kind, "department": None if self.is_office else self.name, "title": self.title}


def payload(
    audience: Audience, events: Sequence[Event], *, digest: bool, generated: str, report_url: str | None
) -> dict[str, Any]:
    """The ``civiscan/notification`` v1 document (docs/notifications.md, notification-v1.schema.json),
    with every secret its events may carry (from a run stored by an older version) masked."""
    runs = {int(e.run["id"]): dict(e.run) for e in events}
    counts = Counter(e.kind.value for e in events)
    document: dict[str, Any] = scrub({
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated": generated,
        "audience": audience.to_json(),
        "digest": digest,
        "runs": [runs[k] for k in sorted(runs)],
        "counts": {k.value: counts.get(k.value, 0) for k in EventKind},
        "events": [e.to_json() for e in events[:MAX_EVENTS]],
        "omitted_events": max(0, len(events) - MAX_EVENTS),
        "report_url": report_url,
    })
    return document


def body(document: Mapping[str, Any]) -> bytes:
    """The exact bytes posted and signed."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def schema() -> dict[str, Any]:
    text = resources.files("scanner.notify").joinpath("notification-v1.schema.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result


def subject(document: Mapping[str, Any]) -> str:
    audience = document["audience"]
    who = audience["title"] or audience["department"] or "security office"
    parts = [f"{n} {EventKind(k).label}{'s' if n > 1 and k != 'summary' else ''}" for k, n in document["counts"].items() if n]
    runs = document["runs"]
    when = "daily digest" if document["digest"] else f"run {runs[-1]['id']}" if runs else "no run"
    # Header values must be one line: escape() writes any control character visibly.
    return escape(f"civiscan: {who}: {', '.join(parts) or 'no changes'} ({when})")[:200]


def _inert(value: Any) -> Any:
    return escape(value) if isinstance(value, str) else "" if value is None else value


_loader = jinja2.PackageLoader("scanner.notify", "templates")
_html = jinja2.Environment(loader=_loader, autoescape=True, undefined=jinja2.StrictUndefined)
# Plain text has no markup to escape, but a finding message came from a target: control characters are made visible.
_text = jinja2.Environment(loader=_loader, autoescape=False, undefined=jinja2.StrictUndefined, finalize=_inert, keep_trailing_newline=True)


def _context(document: Mapping[str, Any]) -> dict[str, Any]:
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for event in document["events"]:
        by_kind.setdefault(event["kind"], []).append(event)
    sections = [(EventKind(k).label, by_kind[k.value]) for k in EventKind if k.value in by_kind]
    return {"doc": document, "sections": sections, "subject": subject(document)}


def text_body(document: Mapping[str, Any]) -> str:
    return _text.get_template("message.txt").render(_context(document))


def html_body(document: Mapping[str, Any]) -> str:
    return _html.get_template("message.html").render(_context(document))
