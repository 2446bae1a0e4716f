"""Option schemas for checks, and the one validator every check's options go through.

A check declares ``options = {"name": Option(...)}``. The policy loader calls
:func:`validate_options`, which returns the options with defaults filled in and
a list of problems, each naming the offending key so the loader can attach a
``file:line:col`` position.
"""

from __future__ import annotations

import datetime as _dt
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
class OptionType:
    """A kind of option value and the function that checks and normalises it.

    ``convert`` raises ValueError with a message for the user on a bad value.
    The core types are :data:`CORE_TYPES`; a plugin declares its own in
    ``Plugin.option_types`` and uses the object itself as ``Option.type``.
    """

    name: str
    convert: Callable[[Any], Any]
    doc: str = ""

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Option:
    """One option of a check (or one run-wide setting of a plugin).

    ``type`` is a core type name: ``int``, ``float``, ``bool``, ``str``,
    ``date``, ``list[str]``, ``list[int]``, ``map``, ``map[str,int]``,
    ``map[str,str]`` (``choices`` then limit the keys), or an
    :class:`OptionType` a plugin declares.
    """

    type: str | OptionType
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
    import difflib  # only a misspelling pays for it

    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def validate_options(
    schema: Mapping[str, Option], given: Mapping[str, Any] | None, check_id: str, *, partial: bool = False
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate ``given`` against ``schema``; return (options with defaults, problems).

    ``partial``: ``given`` changes some options of a complete set (a policy's
    ``tailor``), so only its own keys are returned and none is required.
    """
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
    if partial:
        return result, problems
    for key, opt in schema.items():
        if key in result or key in given:
            continue
        if opt.required:
            problems.append(Problem(None, f"check {check_id} needs option '{key}'"))
        else:
            result[key] = opt.default
    return result, problems


def option_type(opt: Option) -> OptionType | None:
    """The :class:`OptionType` of ``opt`` (None for an unknown type name)."""
    if isinstance(opt.type, OptionType):
        return opt.type
    return CORE_TYPES.get(opt.type)


def _convert(opt: Option, value: Any) -> Any:
    kind = option_type(opt)
    if kind is None:  # pragma: no cover - a plugin bug, caught by the registry test
        raise ValueError(f"unknown option type {opt.type}")
    out = kind.convert(value)
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
        raise ValueError(f"expected an integer, got {show_value(value)}")
    return value


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {show_value(value)}")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {show_value(value)}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {show_value(value)}")
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
    raise ValueError(f"expected a date YYYY-MM-DD, got {show_value(value)}")


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def convert(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {show_value(value)}")
        return [item(v) for v in value]

    return convert


def _map(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping, got {show_value(value)}")
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


def show_value(value: Any) -> str:
    kind = type(value).__name__
    if kind == "NoneType":
        return "nothing (null)"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


CORE_TYPES: Mapping[str, OptionType] = {
    t.name: t
    for t in (
        OptionType("int", _int, "an integer"),
        OptionType("float", _float, "a number"),
        OptionType("bool", _bool, "true or false"),
        OptionType("str", _str, "a string"),
        OptionType("date", _date, "a date YYYY-MM-DD"),
        OptionType("list[str]", _list_of(_str), "a list of strings"),
        OptionType("list[int]", _list_of(_int), "a list of integers"),
        OptionType("map", _map, "a mapping"),
        OptionType("map[str,int]", _map_of(_int), "a mapping of strings to integers"),
        OptionType("map[str,str]", _map_of(_str), "a mapping of strings to strings"),
    )
}
"""The option types every plugin can use, by name."""

__all__ = [
    "CORE_TYPES",
    "Option",
    "OptionType",
    "Problem",
    "option_type",
    "show_value",
    "suggest",
    "validate_options",
]
