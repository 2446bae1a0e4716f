"""Timestamps as facts and documents hold them: ISO 8601 text, judged in UTC."""

from __future__ import annotations

import datetime as dt


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
