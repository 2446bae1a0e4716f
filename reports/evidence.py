"""Evidence for people: redacted, flattened into key facts, bounded in size.

Evidence is whatever JSON a plugin recorded. A report shows the facts that
decided a finding in a few readable lines, never an unbounded dump, never
a path on the scanning machine (the settings that may leak into evidence), and
never a secret (:mod:`scanner.secrets`: the engine masks them before facts are
stored; masking again here covers stores written by older versions).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scanner.plugin import EvidenceRenderer, Registry, load_registry
from scanner.secrets import COMMON_NAMES, has_secret_marks, key_screen, may_hold_secret, scrub

CORE_KEYS = frozenset({"ca_file", "key_file", "known_hosts", "password_env", "passphrase_env"})
"""Keys of the core's own settings that name files or secrets' variables on the scanning machine."""


@functools.cache
def _registry() -> Registry:
    return load_registry()


@functools.cache
def local_keys() -> frozenset[str]:
    """:data:`CORE_KEYS` and the keys every installed plugin declares (``Plugin.redact``)."""
    return CORE_KEYS | _registry().redact_keys()


@functools.cache
def _renderers() -> dict[str, EvidenceRenderer]:
    return _registry().evidence_renderers()

REDACTED = "[omitted: local setting of the scanning machine]"

MAX_FACTS = 24
MAX_TEXT = 400
MAX_ITEMS = 12
MAX_RAW = 4000
MAX_LINES = 12


_SCALARS = (str, int, float, bool, type(None))


def redact(value: Any) -> Any:
    """*value* with every :func:`local_keys` entry, at any depth, replaced, and
    every secret masked (:func:`scanner.secrets.scrub`).

    Returns *value* itself when there is nothing to redact: renderers call this
    for each of hundreds of thousands of findings, most of which need no copy.
    Encoding a finding's evidence and searching the text (in C) costs a tenth
    of walking it, so the secrets' walk is only taken when the text may need it.
    """
    shown = _redact(value, local_keys())
    if type(shown) is str:
        return scrub(shown)
    if type(shown) in _SCALARS or not may_hold_secret(_RAW_JSON.encode(shown)):
        return shown
    return scrub(shown)


def _redact(value: Any, keys: frozenset[str]) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or isinstance(value, Mapping):
        copy: dict[str, Any] | None = None
        for key, item in value.items():
            if key in keys:
                shown = REDACTED
            elif type(item) in _SCALARS:  # most values: no call to find nothing changes
                continue
            else:
                shown = _redact(item, keys)
            if shown is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = shown
        return value if copy is None else copy
    if kind is list or kind is tuple:
        items = [item if type(item) in _SCALARS else _redact(item, keys) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    return value


@functools.cache
def _key_markers() -> re.Pattern[str]:
    """Any :func:`local_keys` or common secret key (:data:`~scanner.secrets.COMMON_NAMES`) in JSON text."""
    return key_screen(local_keys() | set(COMMON_NAMES))


def _needs_redacting(text: str) -> bool:
    """Might the JSON *text* hold a local setting or a secret (:func:`redact` would change it)?"""
    return _key_markers().search(text) is not None or has_secret_marks(text)


def redacted_json(value: Any, encode: Any) -> str:
    """``encode(redact(value))``, encoding once in the usual case.

    Most evidence names no local setting and holds no secret: encoding it first
    and looking for a redacted key's JSON spelling or a secret's marks in the text (a few substring searches in C)
    saves walking every object of hundreds of thousands of findings. Only when
    one appears (perhaps as a value: redacting then changes nothing) is the
    value redacted and encoded again.
    """
    text: str = encode(value)
    if _needs_redacting(text):
        return str(encode(redact(value)))
    return text


SEPARATOR = "\x00civiscan:next-item"


def encode_joined(encode: Callable[[Any], str], items: Sequence[Any], joiner: str) -> str:
    """``joiner.join(map(encode, items))`` from one pass of the JSON encoder *encode*
    over all *items*, with :data:`SEPARATOR` between them: encoding a few thousand
    findings at once costs a fraction of encoding each (a call and an encoder each).

    The separator's JSON spelling between two items becomes *joiner*. Inside a JSON
    string every quote is escaped, so that spelling (``, "\u0000...", ``) is only
    ever a list element equal to :data:`SEPARATOR`; if an item holds one too (they
    are counted), the items are encoded one by one.
    """
    if not items:
        return ""
    token = encode([0, SEPARATOR, 0])[2:-2]
    spaced: list[Any] = [SEPARATOR] * (2 * len(items) - 1)
    spaced[::2] = items
    text = encode(spaced)[1:-1]
    if text.count(token) != len(items) - 1:
        return joiner.join(map(encode, items))
    return text.replace(token, joiner)


def redacted_json_lines(items: Sequence[Any], encode: Callable[[Any], str]) -> str:
    """:func:`redacted_json` of each of *items*, one per line, encoded in one pass
    (:func:`encode_joined`) and searched for redacted keys once: split only when
    something may need redacting. *encode* must escape line breaks (every ``json``
    encoder does), so no item's text holds one."""
    text = encode_joined(encode, items, "\n")
    if not _needs_redacting(text):
        return text
    # Only the few items that may hold something are walked and encoded again.
    return "\n".join(redacted_json(item, encode) if _needs_redacting(line) else line
                     for item, line in zip(items, text.split("\n"), strict=True))


def redacted_json_each(items: Sequence[Any], encode: Callable[[Any], str]) -> list[str]:
    """:func:`redacted_json_lines` as a list, one text per item."""
    return redacted_json_lines(items, encode).split("\n") if items else []


def scrubbed_joined(encode: Callable[[Any], str], items: Sequence[Any], joiner: str) -> str:
    """:func:`encode_joined` of *items* with every secret masked (:func:`scanner.secrets.scrub`),
    local settings kept: the run document is the whole record, but never a secret.

    *joiner* must hold a line break, which no item's JSON does: the text is then
    searched as joined, and split at *joiner* only when it may hold a secret.
    """
    text = encode_joined(encode, items, joiner)
    if not may_hold_secret(text):
        return text
    pieces = text.split(joiner) if items else []
    return joiner.join(encode(scrub(item)) if may_hold_secret(piece) else piece
                       for item, piece in zip(items, pieces, strict=True))


def clip(text: str, limit: int = MAX_TEXT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit} more characters)"


def scalar(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _is_ranges(value: Any) -> bool:
    """``[[21, 21], [512, 514]]``: port ranges as the option validator normalises them."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(v, list) and len(v) == 2 and all(type(n) is int for n in v) for v in value
        )
    )


def _show(value: Any) -> str:
    if _is_ranges(value):
        value = [f"{a}" if a == b else f"{a}-{b}" for a, b in value]
    if isinstance(value, list) and all(not isinstance(v, Mapping | list) for v in value):
        shown = ", ".join(scalar(v) for v in value[:MAX_ITEMS])
        if len(value) > MAX_ITEMS:
            shown += f", … ({len(value) - MAX_ITEMS} more)"
        return clip(shown or "none")
    return clip(scalar(value))


def facts(evidence: Any, *, redacted: bool = False) -> list[tuple[str, str]]:
    """Key facts of *evidence* as (label, text) pairs, already redacted and clipped.

    Nested objects are flattened one level (``cert.not_after``); anything deeper
    is shown as compact JSON. At most :data:`MAX_FACTS` pairs. ``redacted``: the
    caller knows *evidence* holds nothing to redact (:func:`raw_checked`), as for
    :func:`readable`.
    """
    if not redacted:
        evidence = redact(evidence)
    if not isinstance(evidence, Mapping):
        return [("value", _show(evidence))] if evidence not in (None, {}, []) else []
    pairs: list[tuple[str, str]] = []
    for key, value in evidence.items():
        if isinstance(value, Mapping) and value:
            pairs.extend((f"{key}.{k}", _show(v)) for k, v in value.items())
        else:
            pairs.append((key, _show(value)))
    if len(pairs) > MAX_FACTS:
        extra = len(pairs) - MAX_FACTS
        pairs = [*pairs[:MAX_FACTS], ("…", f"{extra} more facts in the raw evidence")]
    return pairs


def summary(evidence: Any, check_id: str = "", limit: int = 600) -> str:
    """One line of the evidence, for formats without structure (JUnit): the
    plugin's own lines for *check_id* (:func:`readable`), else the key facts."""
    shown = redact(evidence)  # once, for both the plugin's lines and the key facts
    lines = readable(check_id, shown, redacted=True) if check_id else []
    if lines:
        return clip("; ".join(lines), limit)
    return clip("; ".join(f"{k}: {v}" for k, v in facts(shown, redacted=True)), limit)


_RAW_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)


def raw(evidence: Any, limit: int = MAX_RAW) -> str:
    """Redacted JSON of *evidence* on one line, cut at *limit* characters.

    No indentation: only then does ``json`` use its C encoder, and a department
    page may hold thousands of these.
    """
    return raw_checked(evidence, limit)[0]


def raw_checked(evidence: Any, limit: int = MAX_RAW) -> tuple[str, bool]:
    """:func:`raw`, and whether *evidence* holds nothing to redact (then
    :func:`facts` and :func:`readable` may be told ``redacted=True`` and skip the walk)."""
    text: str = _RAW_JSON.encode(evidence)
    clean = not _needs_redacting(text)
    if not clean:
        text = _RAW_JSON.encode(redact(evidence))
    if len(text) > limit:
        text = text[:limit] + " … (cut here; the JSON report has the full evidence)"
    return text, clean


def options_text(options: Mapping[str, Any] | None) -> str:
    """A check's options as ``name = value`` pairs: the expected state."""
    if not options:
        return "default options"
    return "; ".join(f"{k} = {_show(v)}" for k, v in redact(options).items())


def readable(check_id: str, evidence: Any, *, redacted: bool = False) -> list[str]:
    """*evidence* of check *check_id* as its plugin renders it for people (``Plugin.evidence``).

    Redacted before the plugin sees it; at most :data:`MAX_LINES` plain-text
    lines of at most :data:`MAX_TEXT` characters (templates escape them). Empty
    when the plugin declares no renderer or has nothing to say, and when its
    renderer fails: stored evidence is untrusted and may not have the shape the
    plugin expects, and a report must still render (with the generic key facts).
    """
    render = _renderers().get(check_id.split(".", 1)[0])
    if render is None or not isinstance(evidence, Mapping):
        return []
    try:
        lines = render(check_id, evidence if redacted else redact(evidence)) or []
        shown = [clip(" ".join(line.split())) for line in lines if isinstance(line, str) and line]
    except Exception:
        return []
    if len(shown) > MAX_LINES:
        shown = [*shown[:MAX_LINES], f"… {len(shown) - MAX_LINES} more lines in the raw evidence"]
    return shown
