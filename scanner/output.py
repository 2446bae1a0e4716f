"""Terminal output: the summary table after a scan, run listings, progress.

Every string here may come from a target (an HTTP header, a certificate
subject, a host's os-release), so each line goes through :func:`inert` before
it reaches a terminal or a CI log, as HTML output is escaped for a browser.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from .evaluate import Finding
from .models import Asset, Severity, Status
from .secrets import clean_text
from .timeutil import readable_time
from .yamlpos import UNSAFE_CHARACTERS as _UNSAFE


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def inert(text: object) -> str:
    """``text`` with every control and bidi character shown as a visible escape.

    ``ESC]0;title BEL`` becomes ``\\x1b]0;title\\x07``: the terminal shows it
    instead of obeying it. Newlines are escaped too: apply this to one line or
    one value, never to text whose line breaks should stay.
    """
    return _UNSAFE.sub(_escape, str(text))


class InertFormatter(logging.Formatter):
    """Log records on a terminal, as inert as every other line there, and with no
    credential a message quoted (a URL's user information, a token parameter: :func:`clean_text`)."""

    def format(self, record: logging.LogRecord) -> str:
        return inert(clean_text(super().format(record)))


def inert_lines(lines: Sequence[str]) -> str:
    """Lines joined by newlines, each made :func:`inert`."""
    return "\n".join(inert(line) for line in lines)


def _clip(text: str, width: int) -> str:
    text = inert(" ".join(str(text).split()))
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def summary_table(doc: Mapping[str, Any], *, show_passing: bool = False, limit: int = 60, full: bool = False,
                  min_severity: Severity | None = None, known: frozenset[str] | None = None,
                  show_all: str | None = None) -> str:
    """A plain-text summary of a run document, widest-first for a terminal.

    ``full`` lists every row with every message whole (for logs and files);
    otherwise at most ``limit`` rows, each clipped to the terminal's width.
    ``min_severity`` leaves out rows below it (the counts stay whole);
    failures whose fingerprint is in ``known`` (a baseline) show as ``KNOWN``.
    ``show_all`` is the command a shortened table names for the rest
    (default ``civiscan show RUN --all``; give it a ``--db`` for another store).
    """
    width = max(80, min(160, shutil.get_terminal_size((120, 20)).columns))
    run = doc["run"]
    counts = doc["summary"]["findings"]
    lines = [
        f"civiscan run {run['id']} ({run['status']}), started {readable_time(run['started'])}",
        "policies: " + ", ".join(f"{p['id']} {p['version']}" for p in run["policies"]),
        f"assets: {doc['summary']['assets']}, assessed fully: {doc['summary']['assessed']}"
        + (f", pending: {doc['summary']['pending']}" if doc["summary"].get("pending") else ""),
        "findings: "
        + ", ".join(f"{counts.get(k, 0)} {k.replace('_', ' ')}" for k in ("fail", "error", "waived", "pass", "not_applicable")),
        "",
    ]
    rules = {r["id"]: r for r in doc["rules"]}
    wanted = {"fail", "error", "waived"} | ({"pass"} if show_passing else set())
    rows = [f for f in doc["findings"] if f["status"] in wanted
            and (min_severity is None or Severity(f["severity"]).rank >= min_severity.rank)]
    hidden = sum(1 for f in doc["findings"] if f["status"] in wanted) - len(rows)

    def shown(f: Mapping[str, Any]) -> str:
        return "known" if known is not None and f["status"] == "fail" and f["fingerprint"] in known else f["status"]

    rows.sort(key=lambda f: (["fail", "known", "error", "waived", "pass"].index(shown(f)), -Severity(f["severity"]).rank,
                             f["asset_id"], f["rule_id"]))
    if full:
        limit, width = len(rows), 10**9
    if rows:
        asset_w = min(30 if not full else width, max(len("ASSET"), *(len(f["asset_id"]) for f in rows)))
        rule_w = min(28 if not full else width, max(len("RULE"), *(len(f["rule_id"]) for f in rows)))
        head = f"{'STATUS':<7} {'SEVERITY':<8} {'ASSET':<{asset_w}} {'RULE':<{rule_w}} MESSAGE"
        lines.append(head)
        msg_w = max(20, width - len(head) + len("MESSAGE"))
        for f in rows[:limit]:
            title = f["message"] or rules.get(f["rule_id"], {}).get("title", "")
            if f["status"] == "error" and f.get("reason"):
                title = f"[{f['reason']}] {title}"
            lines.append(
                f"{shown(f).upper():<7} {f['severity']:<8} {_clip(f['asset_id'], asset_w):<{asset_w}} "
                f"{_clip(f['rule_id'], rule_w):<{rule_w}} {_clip(title, msg_w)}"
            )
        if len(rows) > limit:
            rest = show_all or f"civiscan show {run['id']} --all"
            lines.append(f"... and {len(rows) - limit} more ({rest}, or --format json)")
    else:
        lines.append("No failures, errors or waivers." if not hidden else "No failures, errors or waivers shown.")
    if hidden:
        lines.append(f"({hidden} below severity {min_severity.value if min_severity else ''} not shown)")
    stale = [w for w in doc.get("waivers", []) if w["state"] in ("stale", "expired")]
    for w in stale:
        lines.append(f"waiver {w['id']} ({w['rule']}): {w['state']}" + (f" on {readable_time(w['expires'])}" if w["state"] == "expired" else ", matches nothing"))
    return inert_lines(lines)


def runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    if not runs:
        return "No runs stored yet."
    lines = [f"{'RUN':>5}  {'STARTED':<25} {'STATUS':<12} {'EXIT':>4} {'ASSETS':>9} {'FAIL':>6} {'ERROR':>6}  POLICIES"]
    for r in runs:
        exit_code = "" if r["exit_code"] is None else str(r["exit_code"])
        lines.append(
            f"{r['id']:>5}  {readable_time(r['started']):<25} {r['status']:<12} {exit_code:>4} "
            f"{str(r['done']) + '/' + str(r['assets']):>9} {r['failures']:>6} {r['errors']:>6}  {r['policy_key']}"
        )
    return inert_lines(lines)


class ProgressObserver:
    """A one-line progress bar on a terminal's stderr; silent elsewhere (the caller decides).

    The line is redrawn at least every ``tick`` seconds, not only when an asset
    finishes, so the clock runs while a slow asset times out; it names the
    asset in flight longest and how long it has been going.
    """

    def __init__(self, stream: TextIO = sys.stderr, tick: float = 0.5) -> None:
        self.stream = stream
        self.tick = tick
        self.total = 0
        self.done = 0
        self.failed = 0
        self.errors = 0
        self.started_at = time.monotonic()
        self.in_flight: dict[str, float] = {}  # asset id -> when its scan started
        self._last = 0.0
        self._width = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def started(self, total: int) -> None:
        self.total = total
        self.started_at = time.monotonic()
        self._draw(force=True)
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick, name="civiscan-progress", daemon=True)
        self._ticker.start()

    def asset_started(self, asset: Asset) -> None:
        with self._lock:
            self.in_flight[asset.id] = time.monotonic()

    def asset_done(self, asset: Asset, findings: Sequence[Finding]) -> None:
        statuses = Counter(f.status for f in findings)
        with self._lock:
            self.in_flight.pop(asset.id, None)
            self.done += 1
            self.failed += statuses[Status.FAIL]
            self.errors += statuses[Status.ERROR]
        self._draw()

    def finished(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            self.in_flight.clear()
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()

    def _tick(self) -> None:
        while not self._stop.wait(self.tick):
            self._draw(force=True)

    def line(self, now: float) -> str:
        """The progress line at monotonic time ``now`` (without the carriage return)."""
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        text = (f"[{bar}] {self.done}/{self.total} assets  {self.failed} failing  {self.errors} errors"
                f"  {now - self.started_at:5.1f}s")
        if self.in_flight:
            oldest, since = min(self.in_flight.items(), key=lambda kv: kv[1])
            text += f"  {len(self.in_flight)} in flight: {_clip(oldest, 40)} {now - since:.0f}s"
        return text

    def _draw(self, force: bool = False) -> None:
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last < 0.1:
                return
            self._last = now
            text = self.line(now)
            columns = shutil.get_terminal_size((120, 20)).columns
            text = text[: max(20, columns - 1)]
            pad = " " * max(0, self._width - len(text))  # wipe what a longer line left
            self._width = len(text)
            self.stream.write(f"\r{text}{pad}")
            self.stream.flush()
