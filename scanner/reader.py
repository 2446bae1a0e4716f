"""Typed reading of positioned YAML data, collecting every problem with its position.

Policy and inventory loaders use one :class:`Reader` per file so a user sees all
of a file's problems at once, each as ``file:line:col: message``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import ConfigError, ConfigProblem, Position
from .options import suggest
from .yamlpos import PosDict, PosList, escape, excerpt, pos_of, quote, unsafe_character


class Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[ConfigProblem] = []

    def error(self, where: Position, message: str) -> None:
        # Messages built elsewhere (option validation) may quote input: keep them inert.
        self.problems.append(ConfigProblem(where, _inert(message)))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def mapping(self, value: Any, where: Position, what: str) -> PosDict | None:
        if isinstance(value, PosDict):
            return value
        self.error(where, f"{what} must be a mapping (key: value), got {_kind(value)}")
        return None

    def sequence(self, value: Any, where: Position, what: str) -> PosList | None:
        if isinstance(value, PosList):
            return value
        self.error(where, f"{what} must be a list, got {_kind(value)}")
        return None

    def refuse_controls(self, data: PosDict, keys: Sequence[str], what: str) -> set[str]:
        """Report control and bidi characters in the text of ``keys``; return the keys refused.

        Free text that such characters would make lie on a terminal, in a report
        or in a notification. Output escapes them anyway; refusing them at load
        keeps a name one thing everywhere (ids, store, notifications), whatever
        shows it. A caller skips its other checks of a refused key, so a value
        is reported once.
        """
        refused = set()
        for key in keys:
            value = data.get(key)
            if isinstance(value, PosList):
                placed = [(value.item_pos(i), item) for i, item in enumerate(value)]
            else:
                placed = [(data.value_pos(key), value)]
            for where, item in placed:
                found = unsafe_character(item) if isinstance(item, str) else None
                if found is not None:
                    refused.add(key)
                    self.error(where, f"'{key}' of {what} contains the control character {found} "
                               f"({quote(item)}); write it without control characters")
        return refused

    def keys(
        self,
        data: PosDict,
        what: str,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> None:
        allowed = list(allowed)
        for key in data:
            if key not in allowed:
                self.error(
                    data.key_pos(key),
                    f"unknown key {quote(key)} in {what}{suggest(key, allowed)}",
                )
        for key in required:
            if key not in data:
                self.error(data.here(), f"{what} needs '{key}'")

    def string(self, data: PosDict, key: str, what: str, *, required: bool = False) -> str | None:
        if key not in data:
            if required:
                self.error(data.here(), f"{what} needs '{key}'")
            return None
        value = data[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key == "version":
            return str(value)
        if not isinstance(value, str) or not value.strip():
            self.error(
                data.value_pos(key), f"'{key}' of {what} must be a non-empty string, got {_kind(value)}"
            )
            return None
        return value

    def strings(self, data: PosDict, key: str, what: str) -> list[str]:
        """A list of strings; a single string is accepted as a one-item list."""
        if key not in data:
            return []
        value = data[key]
        if isinstance(value, str):
            return [value]
        seq = self.sequence(value, data.value_pos(key), f"'{key}' of {what}")
        if seq is None:
            return []
        out: list[str] = []
        for i, item in enumerate(seq):
            if isinstance(item, (str, int)) and not isinstance(item, bool):
                out.append(str(item))
            else:
                self.error(seq.item_pos(i), f"items of '{key}' in {what} must be strings, got {_kind(item)}")
        return out

    def choice(
        self, data: PosDict, key: str, what: str, choices: Iterable[str], *, default: str | None = None
    ) -> str | None:
        choices = list(choices)
        if key not in data:
            if default is None:
                self.error(data.here(), f"{what} needs '{key}' (one of: {', '.join(choices)})")
            return default
        value = data[key]
        if value not in choices:
            self.error(
                data.value_pos(key),
                f"'{key}' of {what} must be one of {', '.join(choices)}, got {quote(value)}"
                f"{suggest(value, choices)}",
            )
            return default
        return str(value)

    def expiry(self, data: PosDict, key: str, what: str) -> dt.datetime | None:
        """A date (valid through its end, UTC) or a timestamp with an explicit offset."""
        if key not in data:
            self.error(data.here(), f"{what} needs '{key}' (a date like 2026-12-31)")
            return None
        return parse_expiry(data[key], data.value_pos(key), self)


def parse_expiry(value: Any, where: Position, reader: Reader) -> dt.datetime | None:
    """The first instant at which a waiver no longer applies (UTC).

    ``2026-12-31`` covers that whole day in UTC, so it ends at 2027-01-01T00:00Z.
    A timestamp must carry its offset (``2026-12-31T17:00:00-05:00``); a naive
    timestamp is ambiguous and refused.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            # PyYAML turns offsets into naive UTC datetimes; a plain "T" time without one is refused below.
            reader.error(where, "timestamp needs an explicit UTC offset, e.g. 2026-12-31T17:00:00Z")
            return None
        return _in_utc(value, where, reader)
    if isinstance(value, dt.date):
        return _end_of(value, where, reader)
    if isinstance(value, str):
        text = value.strip()
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return _end_of(day, where, reader)
        try:
            stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            reader.error(where, f"invalid date {quote(value)} (expected YYYY-MM-DD)")
            return None
        if stamp.tzinfo is None:
            reader.error(where, f"timestamp {quote(value)} needs an explicit UTC offset")
            return None
        return _in_utc(stamp, where, reader)
    reader.error(where, f"invalid date {_kind(value)} (expected YYYY-MM-DD)")
    return None


def _end_of(day: dt.date, where: Position, reader: Reader) -> dt.datetime | None:
    if day >= dt.date.max:
        reader.error(where, f"date {day} is out of range (the last is {dt.date.max - dt.timedelta(days=1)})")
        return None
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)


def _in_utc(stamp: dt.datetime, where: Position, reader: Reader) -> dt.datetime | None:
    try:
        return stamp.astimezone(dt.UTC)
    except OverflowError:
        reader.error(where, f"timestamp {stamp.isoformat()} is out of range in UTC")
        return None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (PosDict, dict)):
        return "a mapping"
    if isinstance(value, (PosList, list)):
        return "a list"
    if isinstance(value, str):
        return f"string {quote(value)}"
    return f"{type(value).__name__} {excerpt(value)}"


_MESSAGE_CHARS = 500


def _inert(message: str) -> str:
    """``message`` with unprintable characters escaped and its length bounded."""
    clean = escape(message)
    return clean if len(clean) <= _MESSAGE_CHARS else clean[: _MESSAGE_CHARS - 1] + "…"


__all__ = ["Reader", "parse_expiry", "pos_of"]
