"""Timestamps as facts and documents hold them: ISO 8601 text, judged in UTC."""

from __future__ import annotations

import datetime as dt
import functools


def parse_timestamp(value: object) -> dt.datetime | None:
    """An aware datetime from ISO 8601 text, a datetime or a date; None for anything else.

    A time without an offset is taken as UTC: collectors record UTC, and a
    naive value must still compare with the run's aware clock.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def readable_time(value: object) -> str:
    """A moment as people read it, in UTC: ``1 Dec 2026, 22:40 UTC``.

    A date alone (``2026-12-01``) reads ``1 Dec 2026``. Text that is no
    timestamp is returned unchanged, so a report never hides what it was given;
    None and the empty string give ``""``. Month names are fixed English
    abbreviations, whatever the machine's locale. Machine formats keep ISO 8601.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return _readable_text(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"
    return _readable_moment(value)


@functools.lru_cache(maxsize=4096)
def _readable_text(value: str) -> str:
    """Reports show the same few timestamps (run starts, first seen) thousands of times."""
    if len(value) == 10:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return value
        return readable_time(day)
    return _readable_moment(value)


def _readable_moment(value: object) -> str:
    moment = parse_timestamp(value)
    if moment is None:
        return str(value)
    moment = moment.astimezone(dt.UTC)
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M} UTC"
