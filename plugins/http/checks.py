"""Checks of the ``http`` plugin: pure functions from its facts to an Outcome."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scanner.models import AssetKind, ErrorReason, Outcome
from scanner.options import Option
from scanner.plugin import Check

from .parse import PROBLEMS_LISTED, SAMESITE_VALUES, truncate

_ENDPOINT = frozenset({AssetKind.ENDPOINT})
_WEB = frozenset({"https", "http"})  # web checks say nothing of STARTTLS endpoints
PRELOAD_MIN_MAX_AGE = 31536000  # hstspreload.org's submission minimum (one year)


def _missing(facts: Mapping[str, Any], key: str) -> Outcome | None:
    if not isinstance(facts.get(key), Mapping):
        return Outcome.error(
            ErrorReason.NO_DATA, f"The {key.replace('_', ' ')} facts were not collected."
        )
    return None


# -- http.hsts -----------------------------------------------------------------------


def evaluate_hsts(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The HTTPS response carries a valid, long enough Strict-Transport-Security header.

    Options:

    * ``min_max_age`` (int, default ``31536000``, one year): the shortest max-age in seconds;
    * ``include_subdomains`` (bool, default ``false``): require ``includeSubDomains``;
    * ``preload`` (bool, default ``false``): require what hstspreload.org requires:
      ``preload``, ``includeSubDomains`` and a max-age of at least one year.

    A malformed header (no or non-numeric ``max-age``, a repeated directive) fails:
    browsers ignore it. So does a header received over a connection whose
    certificate could not be verified (``tls_verified: false``): browsers ignore
    HSTS in that case too (RFC 6797 section 8.1).

    Evidence: ``header`` (raw value), ``max_age``, ``include_subdomains``, ``preload``, ``url``.

    PASS: ``Strict-Transport-Security: max-age=63072000; includeSubDomains``.
    FAIL: ``The site's HSTS header is too short: max-age=86400 (1 day) is below
    the required 31536000 seconds (365 days).``
    """
    missing = _missing(facts, "hsts")
    if missing:
        return missing
    hsts = facts["hsts"]
    evidence = {
        "url": facts.get("url"),
        "header": hsts.get("raw"),
        "max_age": hsts.get("max_age"),
        "include_subdomains": hsts.get("include_subdomains"),
        "preload": hsts.get("preload"),
    }
    if not hsts.get("present"):
        return Outcome.failed(
            "The site does not send a Strict-Transport-Security (HSTS) header, so browsers "
            "may still try plain HTTP first.",
            **evidence,
        )
    if hsts.get("malformed"):
        return Outcome.failed(
            f"The site's HSTS header is malformed and browsers ignore it: {hsts['malformed']}.",
            **evidence,
        )
    if facts.get("tls_verified") is False:
        return Outcome.failed(
            "The site sends HSTS, but over a connection whose certificate could not be "
            "verified; browsers ignore HSTS in that case.",
            **evidence,
            tls_verify_error=facts.get("tls_verify_error"),
        )
    reasons: list[str] = []
    max_age = int(hsts["max_age"])
    minimum = options["min_max_age"]
    if options["preload"]:
        minimum = max(minimum, PRELOAD_MIN_MAX_AGE)
    if max_age == 0:
        reasons.append("max-age=0 tells browsers to forget HSTS for this site")
    elif max_age < minimum:
        reasons.append(
            f"max-age={max_age} ({_days(max_age)}) is below the required {minimum} seconds "
            f"({_days(minimum)})"
        )
    if (options["include_subdomains"] or options["preload"]) and not hsts.get("include_subdomains"):
        reasons.append("includeSubDomains is missing")
    if options["preload"] and not hsts.get("preload"):
        reasons.append("the preload directive is missing")
    if reasons:
        return Outcome.failed(
            "The site's HSTS header is not strong enough: " + "; ".join(reasons) + ".", **evidence
        )
    return Outcome.passed(
        f"The site sends HSTS with max-age={max_age} ({_days(max_age)}).", **evidence
    )


HSTS = Check(
    id="http.hsts",
    title="HTTP Strict Transport Security is enabled",
    kinds=_ENDPOINT, schemes=_WEB,
    evaluate=evaluate_hsts,
    options={
        "min_max_age": Option(
            "int", "shortest accepted max-age in seconds", default=31536000, minimum=0
        ),
        "include_subdomains": Option("bool", "require includeSubDomains", default=False),
        "preload": Option(
            "bool", "require preload, includeSubDomains and a year", default=False
        ),
    },
)


def _days(seconds: int) -> str:
    days = seconds // 86400
    return f"{days} day" if days == 1 else f"{days} days"


# -- http.redirect_to_https ---------------------------------------------------------------


def evaluate_redirect(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Plain HTTP on port 80 sends visitors to HTTPS.

    Options:

    * ``required`` (bool, default ``true``): ``false`` makes the check
      informational (it passes and reports what port 80 does);
    * ``allow_closed`` (bool, default ``true``): a port 80 that refuses
      connections passes, since nothing is served in clear text;
    * ``same_host`` (bool, default ``false``): the redirect must go to HTTPS on
      the same host, as the HTTP Observatory requires
      (``redirection-off-host-from-http``): otherwise the host the resident typed
      never sends HSTS.

    A redirect counts when port 80 answers 301, 302, 303, 307 or 308 with a
    Location that is an ``https://`` URL with a valid host and port (any host;
    ``same_host`` is reported, and judged with the ``same_host`` option): ``https://"><img src=x>`` is not one.
    Redirect chains are not followed. A timeout or a garbled answer is an error,
    never a pass or a fail.

    Evidence: ``url``, ``status``, ``location``, ``same_host``.

    PASS: ``GET http://www.city.example/`` answers ``301`` with
    ``Location: https://www.city.example/``.
    FAIL: ``Port 80 of www.city.example answers with status 200 instead of
    redirecting to HTTPS.``
    """
    missing = _missing(facts, "redirect")
    if missing:
        return missing
    redirect = facts["redirect"]
    host = facts.get("hostname") or "the site"
    port = redirect.get("port", 80)
    evidence = {
        "url": redirect.get("url"),
        "status": redirect.get("status"),
        "location": redirect.get("location"),
        "same_host": redirect.get("same_host"),
        "location_invalid": redirect.get("location_invalid"),
    }
    error = redirect.get("error")
    if error:
        reason = error.get("reason")
        if reason == "refused":
            if options["allow_closed"] or not options["required"]:
                return Outcome.passed(
                    f"Port {port} of {host} refuses connections: nothing is served over plain HTTP.",
                    **evidence,
                )
            return Outcome.failed(
                f"Port {port} of {host} refuses connections, so visitors who type the address "
                "without https:// reach nothing.",
                **evidence,
            )
        try:
            error_reason = ErrorReason(reason)
        except ValueError:
            error_reason = ErrorReason.CONNECT
        return Outcome.error(
            error_reason,
            f"Could not tell whether port {port} of {host} redirects to HTTPS: {error.get('message')}",
            **evidence,
        )
    if redirect.get("redirects_to_https") and options["same_host"] and not redirect.get("same_host"):
        problem = (
            f"Port {port} of {host} redirects to HTTPS on another host, "
            f"{redirect.get('location')}: the host typed never gets to set HSTS."
        )
        if options["required"]:
            return Outcome.failed(problem, **evidence)
        return Outcome.passed(problem + " (A redirect is not required by this policy.)", **evidence)
    if redirect.get("redirects_to_https"):
        return Outcome.passed(
            f"Port {port} of {host} redirects to HTTPS ({redirect.get('status')} to "
            f"{redirect.get('location')}).",
            **evidence,
        )
    status = redirect.get("status")
    invalid = redirect.get("location_invalid")
    if status in (301, 302, 303, 307, 308) and invalid:
        problem = (
            f"Port {port} of {host} redirects to {redirect.get('location')!r}, "
            f"which is not a valid HTTPS address: {invalid}."
        )
    elif status in (301, 302, 303, 307, 308):
        problem = (
            f"Port {port} of {host} redirects to {redirect.get('location') or 'nowhere'}, "
            "which is not an HTTPS address."
        )
    else:
        problem = (
            f"Port {port} of {host} answers with status {status} instead of redirecting to HTTPS."
        )
    if not options["required"]:
        return Outcome.passed(problem + " (A redirect is not required by this policy.)", **evidence)
    return Outcome.failed(problem, **evidence)


REDIRECT_TO_HTTPS = Check(
    id="http.redirect_to_https",
    title="Plain HTTP redirects to HTTPS",
    kinds=_ENDPOINT, schemes=_WEB,
    evaluate=evaluate_redirect,
    needs=frozenset({"redirect"}),
    options={
        "required": Option(
            "bool", "fail when port 80 serves without redirecting", default=True
        ),
        "allow_closed": Option("bool", "a closed port 80 passes", default=True),
        "same_host": Option(
            "bool", "the first redirect must stay on the host (the Observatory's rule)",
            default=False,
        ),
    },
)


# -- http.security_headers ----------------------------------------------------------------

_SAFE_FRAME_OPTIONS = frozenset({"deny", "sameorigin"})
_LEAKY_REFERRER_POLICIES = frozenset({"unsafe-url", "no-referrer-when-downgrade"})


def _require_csp(headers: Mapping[str, Any]) -> str | None:
    if any(v and v.strip() for v in headers.get("csp") or []):
        return None
    if headers.get("csp_report_only"):
        return "Content-Security-Policy is only sent in report-only mode, which enforces nothing"
    return "Content-Security-Policy is missing"


def _require_nosniff(headers: Mapping[str, Any]) -> str | None:
    value = headers.get("x_content_type_options")
    if value is None:
        return "X-Content-Type-Options is missing"
    if value.split(",")[0].strip().lower() != "nosniff":
        return f"X-Content-Type-Options is {truncate(value, 60)!r}, not 'nosniff'"
    return None


def _require_frame_protection(headers: Mapping[str, Any]) -> str | None:
    ancestors = headers.get("frame_ancestors")
    if ancestors is not None and "*" not in ancestors:
        return None
    values = {
        v.strip().lower() for v in (headers.get("x_frame_options") or "").split(",") if v.strip()
    }
    if len(values) == 1 and values <= _SAFE_FRAME_OPTIONS:
        return None
    if values:
        return (
            f"X-Frame-Options is {truncate(headers.get('x_frame_options'), 60)!r} (not DENY or "
            "SAMEORIGIN) and CSP frame-ancestors does not restrict framing"
        )
    return "neither X-Frame-Options nor CSP frame-ancestors protects against framing (clickjacking)"


def _require_referrer_policy(headers: Mapping[str, Any]) -> str | None:
    effective = headers.get("referrer_policy_effective")
    if effective is None:
        if headers.get("referrer_policy"):
            return f"Referrer-Policy {truncate(headers.get('referrer_policy'), 60)!r} names no known policy"
        return "Referrer-Policy is missing"
    if effective in _LEAKY_REFERRER_POLICIES:
        return f"Referrer-Policy is {effective}, which sends full addresses to other sites"
    return None


def _require_permissions_policy(headers: Mapping[str, Any]) -> str | None:
    return (
        None
        if (headers.get("permissions_policy") or "").strip()
        else "Permissions-Policy is missing"
    )


SECURITY_HEADER_RULES: dict[
    str, tuple[Callable[[Mapping[str, Any]], str | None], tuple[str, ...]]
] = {
    "content-security-policy": (_require_csp, ("csp", "csp_report_only")),
    "x-content-type-options": (_require_nosniff, ("x_content_type_options",)),
    "frame-protection": (_require_frame_protection, ("x_frame_options", "frame_ancestors")),
    "referrer-policy": (_require_referrer_policy, ("referrer_policy",)),
    "permissions-policy": (_require_permissions_policy, ("permissions_policy",)),
}
"""Requirement name -> (judge returning a reason or None, the facts it looks at)."""


def evaluate_security_headers(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The HTTPS response carries the browser security headers the policy requires.

    Options: ``required`` (list, default ``[content-security-policy,
    x-content-type-options, frame-protection, referrer-policy]``), any of:

    * ``content-security-policy``: an enforced (not report-only), non-empty CSP
      (its quality is not judged);
    * ``x-content-type-options``: ``nosniff``;
    * ``frame-protection``: ``X-Frame-Options: DENY`` or ``SAMEORIGIN``, or a CSP
      ``frame-ancestors`` directive without ``*``;
    * ``referrer-policy``: a recognised policy other than ``unsafe-url`` and
      ``no-referrer-when-downgrade`` (the last recognised token counts, as in browsers);
    * ``permissions-policy``: present and non-empty.

    Evidence: the raw values of exactly the headers the requirements looked at.

    PASS: ``content-security-policy: default-src 'self'; frame-ancestors 'none'``,
    ``x-content-type-options: nosniff``, ``referrer-policy: strict-origin-when-cross-origin``.
    FAIL: ``2 of 4 required security headers are missing or weak:
    Content-Security-Policy is missing; Referrer-Policy is missing.``
    """
    missing = _missing(facts, "security_headers")
    if missing:
        return missing
    headers = facts["security_headers"]
    required = list(dict.fromkeys(options["required"]))
    reasons: list[str] = []
    evidence: dict[str, Any] = {"url": facts.get("url")}
    for name in required:
        judge, keys = SECURITY_HEADER_RULES[name]
        for key in keys:
            evidence[key] = headers.get(key)
        reason = judge(headers)
        if reason:
            reasons.append(reason)
    if reasons:
        return Outcome.failed(
            f"{len(reasons)} of {len(required)} required security headers are missing or weak: "
            + "; ".join(reasons)
            + ".",
            **evidence,
        )
    return Outcome.passed(
        f"The site sends all {len(required)} required security headers.", **evidence
    )


SECURITY_HEADERS = Check(
    id="http.security_headers",
    title="Browser security headers are set",
    kinds=_ENDPOINT, schemes=_WEB,
    evaluate=evaluate_security_headers,
    options={
        "required": Option(
            "list[str]",
            "security header requirements to enforce",
            default=[
                "content-security-policy",
                "x-content-type-options",
                "frame-protection",
                "referrer-policy",
            ],
            choices=tuple(SECURITY_HEADER_RULES),
        ),
    },
)


# -- http.cookies ---------------------------------------------------------------------------


SESSION_NAMES = ("sess", "login", "token", "auth")
"""Name parts that mark a session or login cookie (the Observatory uses ``login``, ``sess``)."""


COOKIE_JUDGEMENTS = ("all", "attributes", "scope")
"""What ``http.cookies`` judges: ``attributes`` (Secure, HttpOnly, SameSite, the
``__Secure-``/``__Host-`` prefixes), ``scope`` (the Domain), or ``all`` of both."""


def cookie_problems(cookie: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    """What is wrong with one cookie, judged on its collected attributes.

    ``options["judge"]`` (when given) picks the attribute or the scope problems.
    """
    judge = options.get("judge", "all")
    issues = _attribute_problems(cookie, options) if judge in ("all", "attributes") else []
    if judge in ("all", "scope"):
        issues += _scope_problems(cookie, options)
    return issues


def _attribute_problems(cookie: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    name = str(cookie.get("name") or "")
    lowered = name.lower()
    session = any(part in lowered for part in options["session_names"])
    samesite = cookie.get("samesite")
    issues = []
    if options["secure"] and not cookie.get("secure"):
        issues.append("no Secure")
    if not cookie.get("httponly") and (
        options["httponly"] or (session and options["session_httponly"])
    ):
        issues.append("no HttpOnly" + (" on a session cookie" if session else ""))
    if samesite is not None and samesite not in SAMESITE_VALUES:
        issues.append(f"SameSite={samesite} is not Strict, Lax or None")
    elif samesite == "none" and not cookie.get("secure"):
        issues.append("SameSite=None without Secure (browsers reject it)")
    elif options["samesite"]:
        if samesite is None:
            issues.append("SameSite missing")
        elif samesite not in [v.lower() for v in options["samesite"]]:
            issues.append(f"SameSite={samesite}")
    elif samesite is None and "csrf" in lowered:
        issues.append("an anti-CSRF cookie without SameSite")
    if name.startswith("__Secure-") and not cookie.get("secure"):
        issues.append("the __Secure- prefix without Secure (browsers reject it)")
    if name.startswith("__Host-") and (
        not cookie.get("secure") or cookie.get("domain") is not None or cookie.get("path") != "/"
    ):
        issues.append("the __Host- prefix needs Secure, Path=/ and no Domain (browsers reject it)")
    return issues


def _scope_problems(cookie: Mapping[str, Any], options: Mapping[str, Any]) -> list[str]:
    scope = cookie.get("scope")
    if scope == "foreign" and options["third_party"]:
        return [f"Domain={cookie.get('domain')} is another site: a third-party cookie"]
    if scope == "public_suffix":
        return [f"Domain={cookie.get('domain')} is a public suffix (browsers reject it)"]
    if scope in ("site", "parent") and not options["broad_domain"]:
        return [f"Domain={cookie.get('domain')} sends it to every host under that domain"]
    return []


def evaluate_cookies(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Every cookie the page sets is Secure, HttpOnly, SameSite and scoped to the site.

    The MDN HTTP Observatory's cookie rules, all failing here: a cookie without
    ``Secure`` (also with HSTS, which the Observatory scores -5 but still fails); a
    session cookie (its name holds one of ``session_names``) without ``HttpOnly``;
    a ``SameSite`` value other than ``Strict``, ``Lax`` or ``None``; ``SameSite=None``
    without ``Secure``; an anti-CSRF cookie (``csrf`` in its name) without
    ``SameSite``. Beyond them: a ``__Secure-`` cookie without ``Secure`` or a ``__Host-``
    cookie without ``Secure``, ``Path=/`` and no ``Domain`` (browsers drop both, so
    the site does not work as meant); a ``Domain`` of another site (a third-party
    cookie set by the first response) or of a public suffix; and, by default,
    every cookie must be ``HttpOnly`` and ``SameSite=Lax`` or ``Strict``.

    Options:

    * ``judge`` (``all``, ``attributes`` or ``scope``, default ``all``): what is
      judged. ``attributes``: ``Secure``, ``HttpOnly``, ``SameSite`` and the
      ``__Secure-``/``__Host-`` prefixes (the options below up to ``samesite``);
      ``scope``: the ``Domain`` (``broad_domain``, ``third_party``, a public
      suffix). Two rules of one policy can then judge the same cookies without
      counting one problem twice;
    * ``secure`` (bool, default ``true``): require the ``Secure`` attribute;
    * ``httponly`` (bool, default ``true``): require ``HttpOnly`` on every cookie;
    * ``session_httponly`` (bool, default ``true``): require it on session cookies
      even when ``httponly`` is false (the Observatory's rule);
    * ``session_names`` (list, default ``[sess, login, token, auth]``): name parts,
      case-insensitive, that make a cookie a session cookie;
    * ``samesite`` (list, default ``[lax, strict]``): allowed SameSite values
      (empty list: only invalid values, ``None`` without ``Secure`` and anti-CSRF
      cookies without it fail; a missing attribute fails otherwise);
    * ``broad_domain`` (bool, default ``false``): accept a ``Domain`` of a parent
      domain or the whole registrable domain (``false``: such a cookie fails, since
      every host under it, however it is run, receives it);
    * ``third_party`` (bool, default ``true``): fail a ``Domain`` of another site;
    * ``ignore`` (list, default ``[]``): cookie names left out (e.g. a CSRF
      token that scripts must read).

    Only the cookies set by the one GET of the endpoint URL are seen. Cookie
    values are never collected.

    Evidence: ``set_cookie``, the redacted cookie attribute strings; ``problems``.

    PASS: ``Set-Cookie: __Host-session=…; Path=/; Secure; HttpOnly; SameSite=Lax``.
    FAIL: ``1 of 2 cookies lacks required attributes: session (no Secure, no
    HttpOnly on a session cookie, SameSite missing).``
    """
    cookies = facts.get("cookies")
    if not isinstance(cookies, list):
        return Outcome.error(ErrorReason.NO_DATA, "The cookie facts were not collected.")
    ignored = set(options["ignore"])
    judged = [c for c in cookies if c.get("name") not in ignored]
    bad: list[str] = []
    for cookie in judged:
        issues = cookie_problems(cookie, options)
        if issues:
            bad.append(f"{cookie.get('name') or '(nameless)'} ({', '.join(issues)})")
    evidence = {"url": facts.get("url"), "set_cookie": [c.get("attributes") for c in judged]}
    if not judged:
        return Outcome.passed("The page sets no cookies that this check judges.", **evidence)
    if bad:
        verb = "lacks" if len(bad) == 1 else "lack"
        return Outcome.failed(
            f"{len(bad)} of {len(judged)} cookies {verb} required attributes: {'; '.join(bad)}.",
            problems=bad[:PROBLEMS_LISTED * 2],
            **evidence,
        )
    return Outcome.passed(f"All {len(judged)} cookies carry the required attributes.", **evidence)


COOKIES = Check(
    id="http.cookies",
    title="Cookies are Secure, HttpOnly, SameSite and scoped to the site",
    kinds=_ENDPOINT, schemes=_WEB,
    evaluate=evaluate_cookies,
    options={
        "judge": Option(
            "str", "what is judged: all, attributes or scope", default="all",
            choices=COOKIE_JUDGEMENTS,
        ),
        "secure": Option("bool", "require the Secure attribute", default=True),
        "httponly": Option("bool", "require the HttpOnly attribute", default=True),
        "session_httponly": Option(
            "bool", "require HttpOnly on session cookies", default=True
        ),
        "session_names": Option(
            "list[str]", "name parts that mark a session cookie", default=list(SESSION_NAMES)
        ),
        "samesite": Option(
            "list[str]",
            "allowed SameSite values (empty: not checked)",
            default=["lax", "strict"],
            choices=("lax", "strict", "none"),
        ),
        "broad_domain": Option(
            "bool", "accept a Domain of a parent or the registrable domain", default=False
        ),
        "third_party": Option("bool", "fail a Domain of another site", default=True),
        "ignore": Option("list[str]", "cookie names not judged", default=[]),
    },
)


# -- http.coop / http.corp / http.coep -------------------------------------------------------

ISOLATION_HEADERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "coop": ("cross-origin-opener-policy",
             ("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")),
    "corp": ("cross-origin-resource-policy", ("same-origin", "same-site", "cross-origin")),
    "coep": ("cross-origin-embedder-policy", ("require-corp", "credentialless", "unsafe-none")),
}
"""Check name -> (header, the values browsers know), as the Observatory reads them."""


def isolation_value(values: list[str]) -> tuple[str | None, str | None]:
    """(the policy token, why the header is invalid): a structured-field token, params dropped."""
    if not values:
        return None, None
    if len(values) > 1:
        return None, "the header is sent more than once"
    token = values[0].split(";", 1)[0].strip().strip('"').lower()
    return token, None


def _judge_isolation(key: str, facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    headers = facts.get("headers")
    if not isinstance(headers, Mapping):
        return Outcome.error(ErrorReason.NO_DATA, "The response headers were not collected.")
    header, known = ISOLATION_HEADERS[key]
    raw = [v for v in headers.get(header) or [] if isinstance(v, str)]
    token, invalid = isolation_value(raw)
    title = "-".join(w.capitalize() for w in header.split("-"))
    evidence = {"url": facts.get("url"), "header": raw[:2], "policy": token}
    if invalid is None and token is not None and token not in known:
        invalid = f"{token!r} is not a policy browsers know"
    if invalid:
        return Outcome.failed(f"{title} is invalid: {invalid}.", **evidence)
    if token is None:
        if options["required"]:
            return Outcome.failed(f"The response sends no {title} header.", **evidence)
        return Outcome.passed(f"No {title} header (not required by this policy).", **evidence)
    if token not in options["allowed"]:
        return Outcome.failed(
            f"{title} is {token}; the policy accepts {', '.join(options['allowed'])}.",
            allowed=list(options["allowed"]), **evidence,
        )
    return Outcome.passed(f"{title} is {token}.", **evidence)


def evaluate_coop(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The page isolates its browsing context group with Cross-Origin-Opener-Policy.

    ``same-origin`` keeps windows of other sites that the page opens, or that open
    it, from holding a reference to it (cross-window attacks, XS-Leaks that reveal
    whether a resident is signed in). The Observatory passes a missing header and
    awards a bonus for ``same-origin``; civiscan requires it by default (stricter).
    A header sent twice or with an unknown value fails, as in the Observatory.

    Options: ``required`` (bool, default ``true``); ``allowed`` (list, default
    ``[same-origin, same-origin-allow-popups]``), from ``same-origin``,
    ``same-origin-allow-popups``, ``noopener-allow-popups``, ``unsafe-none``.

    PASS: ``Cross-Origin-Opener-Policy: same-origin``. FAIL: no header, or ``unsafe-none``.
    """
    return _judge_isolation("coop", facts, options)


def evaluate_corp(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Cross-Origin-Resource-Policy keeps other sites from embedding the response.

    Meant for resources (images, scripts, JSON) a site does not want other sites
    to load, which also shields them from Spectre-style reads. Like the
    Observatory, a missing header passes unless ``required``; an invalid value fails.

    Options: ``required`` (bool, default ``false``); ``allowed`` (list, default
    ``[same-origin, same-site, cross-origin]``), from those three.

    PASS: ``Cross-Origin-Resource-Policy: same-site``. FAIL: ``Cross-Origin-Resource-Policy: self``.
    """
    return _judge_isolation("corp", facts, options)


def evaluate_coep(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Cross-Origin-Embedder-Policy, with COOP, makes the page cross-origin isolated.

    Like the Observatory, a missing header passes unless ``required`` and an
    invalid one fails.

    Options: ``required`` (bool, default ``false``); ``allowed`` (list, default
    ``[require-corp, credentialless, unsafe-none]``), from those three.

    PASS: ``Cross-Origin-Embedder-Policy: require-corp``. FAIL: the header sent twice.
    """
    return _judge_isolation("coep", facts, options)


def _isolation_options(key: str, required: bool, allowed: tuple[str, ...]) -> dict[str, Option]:
    return {
        "required": Option("bool", "fail when the header is missing", default=required),
        "allowed": Option("list[str]", "policies accepted", default=list(allowed),
                          choices=ISOLATION_HEADERS[key][1]),
    }


COOP = Check(
    id="http.coop", title="Cross-Origin-Opener-Policy isolates the page",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_coop,
    options=_isolation_options("coop", True, ("same-origin", "same-origin-allow-popups")),
)
CORP = Check(
    id="http.corp", title="Cross-Origin-Resource-Policy is valid",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_corp,
    options=_isolation_options("corp", False, ISOLATION_HEADERS["corp"][1]),
)
COEP = Check(
    id="http.coep", title="Cross-Origin-Embedder-Policy is valid",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_coep,
    options=_isolation_options("coep", False, ISOLATION_HEADERS["coep"][1]),
)


# -- http.version_disclosure ----------------------------------------------------------------

_DISCLOSING = {"server": "Server", "x-powered-by": "X-Powered-By"}
_FACT_KEYS = {"server": "server", "x-powered-by": "powered_by"}


def evaluate_version_disclosure(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """``Server`` and ``X-Powered-By`` name no software version.

    ``Server: nginx/1.22.1`` or ``X-Powered-By: PHP/8.1.2`` tells anyone which
    known vulnerabilities to try, without a single probe. A product name alone
    passes unless ``product`` is false.

    Options: ``headers`` (list, default ``[server, x-powered-by]``); ``product``
    (bool, default ``true``): accept a product name without a version
    (``false``: ``X-Powered-By`` and ``Server`` with anything in them fail).

    Remediation: nginx ``server_tokens off;``; Apache ``ServerTokens Prod`` and
    ``ServerSignature Off``; PHP ``expose_php = Off``; Express
    ``app.disable("x-powered-by")``; or strip the header at the proxy.

    PASS: ``Server: nginx``. FAIL: ``Server: nginx/1.22.1``.
    """
    if "server" not in facts and "powered_by" not in facts:
        return Outcome.error(ErrorReason.NO_DATA, "The response headers were not collected.")
    found = []
    seen: dict[str, Any] = {"url": facts.get("url")}
    for header in options["headers"]:
        fact = facts.get(_FACT_KEYS[header])
        seen[_FACT_KEYS[header]] = fact.get("value") if isinstance(fact, Mapping) else None
        if not isinstance(fact, Mapping):
            continue
        if fact.get("discloses_version") or not options["product"]:
            found.append(f"{_DISCLOSING[header]}: {fact.get('value')}")
    if found:
        what = "a version" if options["product"] else "the software"
        return Outcome.failed(f"The response names {what}: {'; '.join(found)}.", **seen)
    return Outcome.passed("The response names no software version.", **seen)


VERSION_DISCLOSURE = Check(
    id="http.version_disclosure", title="Server and X-Powered-By name no version",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_version_disclosure,
    options={
        "headers": Option("list[str]", "headers judged", default=list(_DISCLOSING),
                          choices=tuple(_DISCLOSING)),
        "product": Option("bool", "accept a product name without a version", default=True),
    },
)


HTTP_CHECKS: tuple[Check, ...] = (
    HSTS, REDIRECT_TO_HTTPS, SECURITY_HEADERS, COOKIES, COOP, CORP, COEP, VERSION_DISCLOSURE
)

__all__ = [
    "HTTP_CHECKS",
    "SECURITY_HEADER_RULES",
    "cookie_problems",
    "evaluate_coep",
    "evaluate_cookies",
    "evaluate_coop",
    "evaluate_corp",
    "evaluate_hsts",
    "evaluate_redirect",
    "evaluate_security_headers",
    "evaluate_version_disclosure",
]
