"""Secrets out of everything civiscan writes: facts, findings, reports, logs, messages.

Pure functions, one place: the engine passes every plugin's facts and error
messages through :func:`scrub` before they are judged or stored, and the
renderers, the log formatter and the notification messages pass what they
write through it again (a store written by an older version may hold a secret).

What counts as a secret (docs/security.md, "Secrets in evidence"):

- the value of a key that names one (``password``, ``api_key``, ``accessToken``,
  ``Authorization``, ``X-Amz-Signature``, ...; :func:`is_secret_key`), when it
  is a non-empty string, at any depth beneath that key. A boolean, number or
  ``None`` there is a fact about the secret (``password: true``: the form has a
  password field) and is kept, as is an empty string;
- a cookie's value in a ``Set-Cookie`` line (its name and attributes are kept);
- the user information of a URL (``https://user:pass@host/`` -> ``https://host/``)
  and the value of a query, fragment or path parameter whose name names a
  secret (``?token=abc&page=2`` -> ``?token=[redacted]&page=2``; :func:`is_secret_param`),
  in any string, absolute URL or not;
- a bearer token in free text (``Bearer abc.def`` -> ``Bearer [redacted]``).

Keys ending in ``_env`` name an environment variable, not its value, and are
left to the renderers' local-settings rule. Nothing is fingerprinted: no check
needs to tell two secret values apart, only their properties, which plugins
record beside them (cookie attributes, whether a form posts a password in clear text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[redacted]"

_STRONG = ("passw", "passphrase", "secret", "token", "apikey", "privatekey", "authorization",
           "authenticate", "credential_value")
"""Substrings of a key (lower case, separators removed) that make its string values secret."""
_PAIRS = frozenset({
    ("api", "key"), ("private", "key"), ("access", "key"), ("signing", "key"), ("secret", "key"),
    ("session", "id"), ("session", "key"), ("amz", "signature"), ("amz", "credential"),
    ("goog", "signature"), ("goog", "credential"), ("cookie", "value"), ("client", "secret"),
})
_EXACT_KEYS = frozenset({"pwd", "cookie", "sessionid", "jsessionid", "phpsessid", "bearer"})
_COOKIE_KEYS = frozenset({"setcookie", "setcookie2"})
_EXACT_PARAMS = frozenset({
    "code", "key", "sid", "session", "sig", "signature", "auth", "pass", "jwt", "ticket", "otp",
    "hash", "nonce",
})
"""Query parameter names that carry a secret though no key of a fact would (``?code=`` of OAuth)."""

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s\"'<>@]*@")
_PARAM = re.compile(r"([?&;#])([^=&;#?\s\"'<>]+)=([^&;#?\s\"'<>]*)")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)(?=[A-Za-z]*[0-9._~+/=-])([A-Za-z0-9._~+/=-]{8,})")
_USERINFO_SCREEN = re.compile(r"://[^/?#\s\"'<>@]*@")  # _USERINFO's cheap form: a literal first
_TEXT_MARKS = re.compile(r"://|[?&;#]|(?i:bearer)")
"""What any string :func:`clean_text` changes holds."""
_PARAM_SECRET = re.compile(r"[?&;#][^=&;#?\s\"'<>]+=[^&;#?\s\"'<>]")


def _words(key: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in _WORD.findall(key))


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Does *key* name a secret, so that a string under it is one?

    ``password``, ``db_password``, ``apiKey``, ``X-Api-Key``, ``Authorization``,
    ``WWW-Authenticate``, ``session_id``, ``X-Amz-Signature``: yes.
    ``password_field``, ``signature_algorithm``, ``key_type``, ``cookies``,
    ``password_env`` (a variable's name): no, or only for string values they
    never hold (the type rule of :func:`scrub` keeps booleans).
    """
    words = _words(key)
    if not words or words[-1] == "env":
        return False
    joined = "".join(words)
    if joined in _EXACT_KEYS or joined in _COOKIE_KEYS:
        return True
    if any(s in joined for s in _STRONG):
        return True
    return any(pair in _PAIRS for pair in zip(words, words[1:], strict=False))


@functools.lru_cache(maxsize=4096)
def is_secret_param(name: str) -> bool:
    """Does a URL parameter called *name* carry a secret? (``token``, ``access_token``,
    ``code``, ``session``, ``sid``, ``key``, ``api_key``, ``subscription-key``,
    ``password``, ``signature``, ``X-Amz-Signature``, ``jsessionid``, ...)"""
    words = _words(name)
    if not words:
        return False
    return "".join(words) in _EXACT_PARAMS or words[-1] == "key" or is_secret_key(name)


def _param(match: re.Match[str]) -> str:
    sep, name, value = match.group(1), match.group(2), match.group(3)
    if not value or value == MASK or not is_secret_param(name):
        return match.group(0)
    return f"{sep}{name}={MASK}"


def clean_text(text: str) -> str:
    """*text* with URL user information removed and secret parameters and bearer tokens masked.

    Works on any text (a URL, a relative Location, an error message quoting a
    URL); returns *text* itself when there is nothing to mask.
    """
    if not has_secret_marks(text):
        return text
    cleaned = _USERINFO.sub(r"\1", text)
    cleaned = _PARAM.sub(_param, cleaned)
    cleaned = _BEARER.sub(rf"\1\2{MASK}", cleaned)
    return text if cleaned == text else cleaned


def clean_url(url: str) -> str:
    """:func:`clean_text` of one URL: ``https://u:p@h/cb?code=x&lang=en`` -> ``https://h/cb?code=[redacted]&lang=en``."""
    return clean_text(url)


def mask_set_cookie(line: str) -> str:
    """A Set-Cookie line with its value masked, its name and attributes kept."""
    pair, semi, attributes = line.partition(";")
    name, eq, value = pair.partition("=")
    if not eq:  # a nameless cookie: the whole pair is its value (RFC 6265 5.2)
        name, value = "", name
    if not value.strip() or value.strip() in (MASK, "<redacted>"):
        return line
    return f"{name}{eq}{MASK}{semi}{attributes}"


def _mask(value: Any, cookie: bool) -> Any:
    """*value* beneath a secret key: every non-empty string masked, at any depth."""
    kind = type(value)
    if kind is str:
        if not value:
            return value
        return mask_set_cookie(value) if cookie else MASK
    if isinstance(value, Mapping):
        return {k: _mask(v, cookie) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_mask(v, cookie) for v in value]
    return value


_SCALARS = (int, float, bool, type(None))


def scrub(value: Any) -> Any:
    """*value* (JSON-like data) with every secret masked, at any depth (see the module).

    Returns *value* itself, not a copy, when it holds no secret; otherwise a
    copy of the containers on the way to each secret.
    """
    kind = type(value)
    if kind is str:
        # One search in C tells most strings apart (a name, a version): no call to find nothing.
        return clean_text(value) if _TEXT_MARKS.search(value) else value
    if kind in _SCALARS:
        return value
    if isinstance(value, Mapping):
        copy: dict[Any, Any] | None = None
        for key, item in value.items():
            if type(item) in _SCALARS:
                continue
            if isinstance(key, str) and is_secret_key(key):
                shown = _mask(item, "".join(_words(key)) in _COOKIE_KEYS)
                if shown == item:
                    continue
            else:
                shown = scrub(item)
                if shown is item:
                    continue
            if copy is None:
                copy = dict(value)
            copy[key] = shown
        return value if copy is None else copy
    if kind is list or kind is tuple:
        items = [scrub(item) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    return value


COMMON_NAMES = ("password", "passwd", "passphrase", "secret", "token", "api_key", "apikey",
                "authorization", "access_token", "private_key", "client_secret", "cookie", "session_id")
"""The secret keys a stored document most likely holds, for :func:`may_hold_secret`.

Few first letters on purpose: each one that starts a name makes the search
look closer at every string starting with it (``a``, ``c``, ``p``, ``s`` and
``t`` already cost a third more than the local-settings keys alone)."""


def key_screen(names: Iterable[str]) -> re.Pattern[str]:
    """A pattern finding any of *names* as a JSON string (``"password"``), and a few more.

    ``"[first letters](?:rests)"``: sre scans for the quote, then tests one
    class (three times faster than an alternation of whole names); a string
    it matches that no name spells only costs a closer look.
    """
    spelled = set(names)
    firsts = "".join(sorted({re.escape(n[0]) for n in spelled}))
    rests = sorted({re.escape(n[1:]) for n in spelled}, key=len, reverse=True)
    return re.compile(f'"[{firsts}](?:{"|".join(rests)})"')


_COMMON_KEYS = key_screen(COMMON_NAMES)


def has_secret_marks(text: str) -> bool:
    """Does *text* hold a URL with user information, a parameter that may be a secret
    or a bearer token (what :func:`clean_text` masks)? A few searches in C."""
    if "://" in text and _USERINFO_SCREEN.search(text):
        return True
    if ("?" in text or "&" in text or ";" in text or "#" in text) and _PARAM_SECRET.search(text):
        return True
    return ("earer" in text or "EARER" in text) and _BEARER.search(text) is not None


def may_hold_secret(text: str) -> bool:
    """A quick look at the JSON *text* of stored data: might :func:`scrub` change it?

    Yes when :func:`has_secret_marks`, or when one of :data:`COMMON_NAMES` is a
    key. Renderers encode evidence anyway; these searches over the text tell
    them which few items need :func:`scrub`'s walk. Facts stored by this version
    are scrubbed whole when collected; this look is the second line, for stores
    written before, and catches only the common names there.
    """
    return has_secret_marks(text) or _COMMON_KEYS.search(text) is not None


__all__ = [
    "COMMON_NAMES",
    "MASK",
    "clean_text",
    "clean_url",
    "has_secret_marks",
    "is_secret_key",
    "key_screen",
    "is_secret_param",
    "mask_set_cookie",
    "may_hold_secret",
    "scrub",
]
