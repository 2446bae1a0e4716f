"""The agent's log: one line per event on stderr, as text or as JSON lines.

Values may come from targets (asset ids, messages of errors): text lines show
them through :func:`scanner.output.inert`, so a log viewer on a terminal
cannot be driven by them; JSON escapes them by its own rules. Either way no
secret is written (:mod:`scanner.secrets`).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from typing import Any, TextIO

from ..output import inert
from ..secrets import clean_text, scrub

FORMATS = ("text", "json")


class Log:
    def __init__(self, fmt: str = "text", stream: TextIO | None = None) -> None:
        self.fmt = fmt
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()  # one line at a time from the loop and the run threads

    def __call__(self, event: str, message: str, *, level: str = "info", **fields: Any) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        # An error quoting a URL or a setting must not put a credential in the log.
        message, fields = clean_text(message), scrub(fields)
        if self.fmt == "json":
            line = json.dumps({"time": now, "level": level, "event": event, "message": message, **fields},
                              default=str, sort_keys=True)
        else:
            extra = "".join(f" {k}={inert(v)}" for k, v in fields.items())
            line = f"{now} {level} {event}: {inert(message)}{extra}"
        with self._lock:
            print(line, file=self.stream, flush=True)
