"""Option schemas for checks, and the one validator every check's options go through.

A check declares ``options = {"name": Option(...)}``. The policy loader calls
:func:`validate_options`, which returns the options with defaults filled in and
a list of problems, each naming the offending key so the loader can attach a
``file:line:col`` position.
"""

from __future__ import annotations

import datetime as _dt
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_MISSING: Any = object()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a set of options. ``key`` is None for the whole mapping."""

    key: str | None
    message: str


@dataclass(frozen=True)
class Option:
    """One option of a check.

    ``type`` is one of: ``int``, ``float``, ``bool``, ``str``, ``date``,
    ``list[str]``, ``list[int]``, ``ports``, ``map``, ``map[str,int]``,
    ``map[str,str]`` (``choices`` then limit the keys). ``ports`` accepts a list of
    port numbers and ``"a-b"`` ranges (or one such string, comma separated) and
    normalises to a sorted list of ``[start, end]`` ranges.
    """

    type: str
    doc: str
    default: Any = _MISSING
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def describe_default(self) -> str:
        return "required" if self.required else f"default {self.default!r}"


def suggest(word: str, candidates: Any) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def validate_options(
    schema: Mapping[str, Option], given: Mapping[str, Any] | None, check_id: str
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate ``given`` against ``schema``; return (options with defaults, problems)."""
    problems: list[Problem] = []
    given = given if given is not None else {}
    if not isinstance(given, Mapping):
        return {}, [Problem(None, f"options of check {check_id} must be a mapping")]
    result: dict[str, Any] = {}
    for key, value in given.items():
        opt = schema.get(key)
        if opt is None:
            allowed = ", ".join(sorted(schema)) or "none"
            problems.append(
                Problem(
                    key,
                    f"unknown option '{key}' for check {check_id}{suggest(key, schema)}"
                    f" (options: {allowed})",
                )
            )
            continue
        try:
            result[key] = _convert(opt, value)
        except ValueError as exc:
            problems.append(Problem(key, f"option '{key}' of check {check_id}: {exc}"))
    for key, opt in schema.items():
        if key in result or key in given:
            continue
        if opt.required:
            problems.append(Problem(None, f"check {check_id} needs option '{key}'"))
        else:
            result[key] = opt.default
    return result, problems


def _convert(opt: Option, value: Any) -> Any:
    converter = _CONVERTERS.get(opt.type)
    if converter is None:  # pragma: no cover - a plugin bug, caught by the registry test
        raise ValueError(f"unknown option type {opt.type}")
    out = converter(value)
    if opt.choices:
        items = list(out) if isinstance(out, (list, dict)) else [out]
        for item in items:
            if item not in opt.choices:
                choices = ", ".join(str(c) for c in opt.choices)
                raise ValueError(
                    f"'{item}' is not one of: {choices}{suggest(item, opt.choices)}"
                )
    if opt.minimum is not None or opt.maximum is not None:
        items = list(out.values()) if isinstance(out, dict) else out if isinstance(out, list) else [out]
        for item in items:
            if isinstance(item, (int, float)):
                if opt.minimum is not None and item < opt.minimum:
                    raise ValueError(f"{item} is below the minimum {opt.minimum:g}")
                if opt.maximum is not None and item > opt.maximum:
                    raise ValueError(f"{item} is above the maximum {opt.maximum:g}")
    return out


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {_show(value)}")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {_show(value)}")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_show(value)}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_show(value)}")
    return value


def _date(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise ValueError(f"expected a date YYYY-MM-DD, got {_show(value)}")


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {_show(value)}")
        return [item(v) for v in value]

    return convert


def _map(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping, got {_show(value)}")
    return dict(value)


def _map_of(item: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def convert(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, val in _map(value).items():
            try:
                out[_str(key)] = item(val)
            except ValueError as exc:
                raise ValueError(f"'{key}': {exc}") from None
        return out

    return convert


def parse_ports(value: Any) -> list[list[int]]:
    """Parse ``[22, "8000-8100"]`` or ``"22,80,1-1024"`` into merged [start, end] ranges."""
    if isinstance(value, str):
        items: list[Any] = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"expected ports like [22, '8000-8100'], got {_show(value)}")
    ranges: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"expected a port, got {_show(item)}")
        if isinstance(item, int):
            lo = hi = item
        elif isinstance(item, str):
            text = item.strip()
            try:
                if "-" in text:
                    a, b = text.split("-", 1)
                    lo, hi = int(a), int(b)
                else:
                    lo = hi = int(text)
            except ValueError:
                raise ValueError(f"'{item}' is not a port or a range like 8000-8100") from None
        else:
            raise ValueError(f"expected a port, got {_show(item)}")
        if not (1 <= lo <= 65535 and 1 <= hi <= 65535):
            raise ValueError(f"port {item} is outside 1-65535")
        if lo > hi:
            raise ValueError(f"range {item} runs backwards")
        ranges.append((lo, hi))
    return [list(r) for r in merge_ranges(ranges)]


def merge_ranges(ranges: Any) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _show(value: Any) -> str:
    kind = type(value).__name__
    if kind == "NoneType":
        return "nothing (null)"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "str": _str,
    "date": _date,
    "list[str]": _list_of(_str),
    "list[int]": _list_of(_int),
    "ports": parse_ports,
    "map": _map,
    "map[str,int]": _map_of(_int),
    "map[str,str]": _map_of(_str),
}

OPTION_TYPES = frozenset(_CONVERTERS)

__all__ = [
    "OPTION_TYPES",
    "Option",
    "Problem",
    "merge_ranges",
    "parse_ports",
    "suggest",
    "validate_options",
]
