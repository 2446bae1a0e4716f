"""Pure parsers for the ``http`` plugin: response heads and the headers it judges.

Everything here takes text or bytes that came from a target, so it is written
to accept anything without raising except where documented, never to
interpret it, and to keep secrets out of the facts: a cookie's *value* is
never returned, only its name and attributes.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from publicsuffixlist import PublicSuffixList

from scanner.netutil import is_ip

MAX_HEAD_BYTES = 65536
EVIDENCE_LIMIT = 300
STORED_VALUE_LIMIT = 4096
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
SECRET_HEADERS = frozenset({"set-cookie", "set-cookie2"})
MAX_AGE_DIGITS = 18
MAX_AGE_CAP = 10**MAX_AGE_DIGITS - 1
"""A longer max-age is recorded as this: browsers clip it (Chromium to a year), and
``int()`` of thousands of digits is slow or refused."""
PROBLEMS_LISTED = 5

_STATUS_LINE = re.compile(r"^HTTP/(\d)\.(\d) (\d{3})(?: (.*))?$")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_DIGITS = re.compile(r"[0-9]+")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# What no host name, IP literal or port may hold (RFC 3986 section 3.2, WHATWG's
# forbidden host code points): controls, space, quotes, angle brackets and the like.
_NETLOC_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\^`{|}%]")
_VERSION = re.compile(r"/\s*v?\d|\b\d+\.\d+")
_REFERRER_POLICIES = frozenset(
    {
        "no-referrer",
        "no-referrer-when-downgrade",
        "same-origin",
        "origin",
        "strict-origin",
        "origin-when-cross-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)


def truncate(text: str | None, limit: int = EVIDENCE_LIMIT) -> str | None:
    """``text`` cut to ``limit`` characters (with an ellipsis), for evidence."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


# -- response head -----------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseHead:
    """Status line and header fields of one response; names are lower-case."""

    version: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` in the order received."""
        wanted = name.lower()
        return [value for key, value in self.headers if key == wanted]

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None


def parse_response_head(data: bytes) -> ResponseHead:
    """Parse a status line and header fields (up to the blank line).

    Raises ValueError when the first line is not an HTTP/1.x status line.
    Lines may end in CRLF or LF; obsolete line folding is joined with a space;
    a header line without a valid field name is skipped.
    """
    text = data.decode("iso-8859-1")
    end = text.find("\r\n\r\n")
    if end < 0:
        end = text.find("\n\n")
    if end >= 0:
        text = text[:end]
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    match = _STATUS_LINE.match(lines[0]) if lines else None
    if match is None:
        shown = truncate(lines[0] if lines else "", 60)
        raise ValueError(f"not an HTTP/1.x status line: {shown!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if headers:
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {line.strip()}".strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name):
            continue
        headers.append((name.lower(), value.strip(" \t")))
    return ResponseHead(
        version=f"{match.group(1)}.{match.group(2)}",
        status=int(match.group(3)),
        reason=match.group(4) or "",
        headers=tuple(headers),
    )


def header_map(head: ResponseHead) -> dict[str, list[str]]:
    """Headers as ``{name: [values]}``; Set-Cookie values are rebuilt without the cookie value."""
    result: dict[str, list[str]] = {}
    for name, value in head.headers:
        if name in SECRET_HEADERS:
            value = parse_set_cookie(value)["attributes"]
        result.setdefault(name, []).append(truncate(value, STORED_VALUE_LIMIT) or "")
    return result


# -- HSTS (RFC 6797 section 6.1) ----------------------------------------------------------


def parse_hsts(values: Sequence[str]) -> dict[str, Any]:
    """Strict-Transport-Security as a browser reads it.

    Only the first header counts (RFC 6797 8.1). A header with a missing or
    non-numeric ``max-age``, a repeated directive, or a value on
    ``includeSubDomains``/``preload`` is ignored by browsers; ``malformed`` then
    says why (``None`` when the header is valid).
    """
    facts: dict[str, Any] = {
        "present": bool(values),
        "raw": truncate(values[0]) if values else None,
        "headers": len(values),
        "max_age": None,
        "include_subdomains": False,
        "preload": False,
        "malformed": None,
    }
    if not values:
        return facts
    problems: list[str] = []
    seen: set[str] = set()
    for part in values[0].split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        name, has_value, value = (p.strip(" \t") for p in part.partition("="))
        key = name.lower()
        if not _TOKEN.match(name):
            problems.append(f"'{truncate(name, 40)}' is not a directive name")
            continue
        if key in seen:
            problems.append(f"{key} appears more than once")
            continue
        seen.add(key)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if key == "max-age":
            if not has_value or not _DIGITS.fullmatch(value):
                problems.append(f"max-age must be a number of seconds, not {truncate(value, 40)!r}")
            else:
                digits = value.lstrip("0") or "0"
                facts["max_age"] = MAX_AGE_CAP if len(digits) > MAX_AGE_DIGITS else int(digits)
        elif key in ("includesubdomains", "preload"):
            if has_value:
                problems.append(f"{name} takes no value")
            facts["include_subdomains" if key == "includesubdomains" else "preload"] = True
    if "max-age" not in seen:
        problems.append("max-age is missing")
    if len(problems) > PROBLEMS_LISTED:
        problems[PROBLEMS_LISTED:] = [f"{len(problems) - PROBLEMS_LISTED} more problems"]
    if problems:
        facts["malformed"] = "; ".join(problems)
    return facts


# -- sites (Public Suffix List) ---------------------------------------------------------


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the snapshot the package ships; never downloads


def site_of(host: str) -> str:
    """The registrable domain ("site") of ``host``: ``www.city.gov.uk`` -> ``city.gov.uk``.

    An IP literal, a bare public suffix or a single label is its own site.
    """
    name = host.strip("[]").rstrip(".").lower()
    if not name or is_ip(name):
        return name
    return _psl().privatesuffix(name) or name


def is_public_suffix(name: str) -> bool:
    """``co.uk``, ``com``: a name under which anyone may register (PSL)."""
    name = name.rstrip(".").lower()
    return bool(name) and _psl().is_public(name)


# -- cookies (RFC 6265 section 5.2, RFC 6265bis prefixes) ----------------------------------

SAMESITE_VALUES = frozenset({"lax", "strict", "none"})


def cookie_scope(domain: str | None, host: str) -> str:
    """Which hosts a cookie's ``Domain`` attribute hands it to, seen from ``host``.

    ``host``: no Domain, or the host itself (RFC 6265 5.3 step 6: host-only, or the
    host and its subdomains); ``parent``: a parent domain below the registrable one;
    ``site``: the registrable domain, so every host of the site gets it;
    ``public_suffix``: a public suffix (browsers reject it); ``foreign``: a domain the
    host is not under, another site's (browsers reject it: the server tries to set a
    third-party cookie).
    """
    host = host.strip("[]").rstrip(".").lower()
    if not domain:
        return "host"
    name = domain.strip().lstrip(".").rstrip(".").lower()
    if not name or name == host:
        return "host"
    if not host.endswith("." + name):
        return "foreign"
    if is_public_suffix(name):
        return "public_suffix"
    return "site" if name == site_of(host) else "parent"


def parse_set_cookie(value: str, host: str | None = None) -> dict[str, Any]:
    """A Set-Cookie header's name and attributes; the cookie value is dropped on purpose.

    ``attributes`` is a safe rebuilt form such as
    ``session=<redacted>; Path=/; Secure; HttpOnly; SameSite=Lax`` made only of
    the recognised attributes, so a value smuggled into an odd attribute is not kept.
    With ``host`` (the response's host), ``scope`` says where Domain sends it
    (:func:`cookie_scope`).
    """
    pair, _, attribute_text = value.partition(";")
    name, eq, _cookie_value = pair.partition("=")
    name = name.strip(" \t") if eq else ""
    cookie: dict[str, Any] = {
        "name": truncate(name, 100),
        "secure": False,
        "httponly": False,
        "samesite": None,
        "domain": None,
        "path": None,
        "persistent": False,
    }
    for attribute in attribute_text.split(";"):
        key, _, raw = attribute.partition("=")
        # Cut at a comma: a proxy may have joined the next Set-Cookie (and its value) here.
        key, raw = key.strip(" \t").lower(), raw.split(",", 1)[0].strip(" \t")
        if key == "secure":
            cookie["secure"] = True
        elif key == "httponly":
            cookie["httponly"] = True
        elif key == "samesite":
            cookie["samesite"] = truncate(raw.lower(), 20)
        elif key == "domain":
            cookie["domain"] = truncate(raw, 100)
        elif key == "path":
            cookie["path"] = truncate(raw, 100)
        elif key in ("expires", "max-age"):
            cookie["persistent"] = True
    if host is not None:
        cookie["scope"] = cookie_scope(cookie["domain"], host)
    parts = [f"{cookie['name']}=<redacted>"]
    if cookie["domain"] is not None:
        parts.append(f"Domain={cookie['domain']}")
    if cookie["path"] is not None:
        parts.append(f"Path={cookie['path']}")
    if cookie["persistent"]:
        parts.append("Expires=…")
    if cookie["secure"]:
        parts.append("Secure")
    if cookie["httponly"]:
        parts.append("HttpOnly")
    if cookie["samesite"] is not None:
        parts.append(f"SameSite={cookie['samesite']}")
    cookie["attributes"] = "; ".join(parts)
    return cookie


# -- Content-Security-Policy, framing, referrer -------------------------------------------


def csp_directives(policy: str) -> dict[str, list[str]]:
    """One serialized CSP policy as ``{directive: [values]}``; a repeated directive is ignored."""
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens and tokens[0].lower() not in directives:
            directives[tokens[0].lower()] = tokens[1:]
    return directives


def frame_ancestors(csp_values: Sequence[str]) -> list[str] | None:
    """Sources of the first ``frame-ancestors`` directive in the enforced CSP headers."""
    for value in csp_values:
        for policy in value.split(","):
            directives = csp_directives(policy)
            if "frame-ancestors" in directives:
                return directives["frame-ancestors"]
    return None


def effective_referrer_policy(values: Sequence[str]) -> str | None:
    """The policy a browser applies: the last recognised token of all Referrer-Policy values."""
    policy = None
    for value in values:
        for token in value.split(","):
            token = token.strip(" \t").lower()
            if token in _REFERRER_POLICIES:
                policy = token
    return policy


def security_header_facts(head: ResponseHead) -> dict[str, Any]:
    """The raw values of the security headers and what browsers make of them."""
    csp = head.values("content-security-policy")
    referrer = head.values("referrer-policy")
    frame_options = head.values("x-frame-options")
    return {
        "csp": [truncate(v) for v in csp],
        "csp_report_only": bool(head.values("content-security-policy-report-only")),
        "frame_ancestors": frame_ancestors(csp),
        "x_frame_options": truncate(", ".join(frame_options)) if frame_options else None,
        "x_content_type_options": truncate(head.first("x-content-type-options")),
        "referrer_policy": truncate(", ".join(referrer)) if referrer else None,
        "referrer_policy_effective": effective_referrer_policy(referrer),
        "permissions_policy": truncate(head.first("permissions-policy")),
    }


# -- server banner ---------------------------------------------------------------------------


def product_disclosure(value: str | None) -> dict[str, Any] | None:
    """A Server or X-Powered-By value and whether it names a version (``nginx/1.22.1``)."""
    if value is None:
        return None
    return {"value": truncate(value, 200), "discloses_version": bool(_VERSION.search(value))}


# -- redirects -----------------------------------------------------------------------------


def https_target_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute ``https://`` URL with a valid host and port.

    ``None`` when it is one. The host must be a DNS name of letters, digits,
    ``-`` and ``_`` (an IDN is checked in its IDNA form), a dotted IPv4 address
    or a bracketed IPv6 address; a port, if given, 1 to 65535. What follows
    the host is not judged: a browser percent-encodes it and still goes to HTTPS.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if parts.scheme.lower() != "https":
        return "its scheme is not https"
    # The whole authority, user info included: where a browser and urllib would
    # disagree on the host (``https://a\\@b/``), the URL is not trusted.
    if _NETLOC_FORBIDDEN.search(parts.netloc):
        return "its host part holds characters no host name may hold"
    if port == 0:
        return "its port is 0"
    host = parts.hostname or ""
    if parts.netloc.rpartition("@")[2].startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "its host is not a valid IPv6 address"
        return None
    return _host_name_problem(host)


def _host_name_problem(host: str) -> str | None:
    name = host[:-1] if host.endswith(".") else host
    if not name:
        return "it has no host"
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return "its host is not a valid international domain name"
    labels = name.split(".")
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return "its host is not a valid host name"
    if labels[-1].isdigit():  # a numeric host is an IPv4 address or nothing
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return "its host is neither a host name nor a dotted IPv4 address"
    return None


def redirect_facts(
    status: int, location: str | None, request_url: str, hostname: str
) -> dict[str, Any]:
    """Does this plain-HTTP answer send the browser to HTTPS?

    A relative Location is resolved against ``request_url`` (so it stays on
    http). ``same_host`` tells whether the target host is ``hostname``;
    ``location_invalid`` says why an ``https:`` Location is not a valid URL to
    go to (:func:`https_target_problem`): ``None`` for any other answer.
    """
    facts: dict[str, Any] = {
        "status": status,
        "location": truncate(location),
        "redirects_to_https": False,
        "same_host": None,
        "location_invalid": None,
        "error": None,
    }
    if status not in REDIRECT_STATUSES or not location:
        return facts
    try:
        target = urljoin(request_url, location.strip())
        parts = urlsplit(target)
        target_host = parts.hostname
    except ValueError as exc:
        facts["location_invalid"] = f"it is not a URL ({exc})"
        return facts
    problem = https_target_problem(target)
    facts["redirects_to_https"] = problem is None
    if parts.scheme.lower() == "https":
        facts["location_invalid"] = problem
    facts["same_host"] = (target_host or "").rstrip(".").lower() == hostname.rstrip(".").lower()
    return facts


__all__ = [
    "MAX_HEAD_BYTES",
    "ResponseHead",
    "cookie_scope",
    "csp_directives",
    "effective_referrer_policy",
    "frame_ancestors",
    "header_map",
    "https_target_problem",
    "is_public_suffix",
    "parse_hsts",
    "parse_response_head",
    "parse_set_cookie",
    "product_disclosure",
    "redirect_facts",
    "security_header_facts",
    "site_of",
    "truncate",
]
