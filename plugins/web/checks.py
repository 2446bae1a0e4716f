"""Checks of the ``web`` family: pure functions from its facts to an Outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from scanner.models import AssetKind, ErrorReason, Outcome
from scanner.options import Option
from scanner.plugin import Check

from .csp import PROBLEMS, grade
from .exposure import PROBE_NAMES
from .page import ACTIVE_KINDS

_ENDPOINT = frozenset({AssetKind.ENDPOINT})
_WEB = frozenset({"https", "http"})  # web checks say nothing of STARTTLS endpoints
LISTED = 10
THIRD_PARTIES_KEPT = 50
PERMISSION_FEATURES = ("camera", "microphone", "geolocation", "browsing-topics")


def _pages(facts: Mapping[str, Any]) -> Outcome | list[Mapping[str, Any]]:
    pages = [p for p in facts.get("pages") or [] if p.get("content_type") in
             ("text/html", "application/xhtml+xml")]
    if facts.get("left_site_to"):
        return Outcome.not_applicable(
            f"The endpoint redirects to another site, {facts['left_site_to']}, which is not read.",
            chain=facts.get("chain"))
    if not pages:
        return Outcome.not_applicable("The endpoint serves no HTML page to read.",
                                      url=facts.get("final_url"))
    return pages


def _allowed(site: str, allowed: list[str]) -> bool:
    return any(site == a.lower() or site.endswith("." + a.lower()) for a in allowed)


# -- web.third_parties --------------------------------------------------------------------


def evaluate_third_parties(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The page loads nothing from sites other than its own, except those allowed.

    A third party is any registrable domain (Public Suffix List) other than the
    page's own that a script, style, font, image, frame, media, preconnect or
    form action points at; each is a site residents' browsers contact, handing
    it their address and, through the Referer, what page they read.

    Options: ``allowed`` (list[str], default ``[]``): sites (registrable domains) the
    department accepts, e.g. ``["cityfonts.example"]``.

    PASS: every resource is on ``city.example``. FAIL: a script from
    ``www.googletagmanager.com`` on a benefits page.
    """
    pages = _pages(facts)
    if isinstance(pages, Outcome):
        return pages
    loaded = [{"site": t["site"], "kinds": t["kinds"], "tracker": t.get("tracker"),
               "allowed": _allowed(t["site"], options["allowed"])}
              for t in facts.get("third_parties") or []]
    found = [t for t in loaded if not t["allowed"]]
    # Every site loaded, allowed or not: the department report's Privacy section lists them.
    seen = {"third_parties": loaded[:THIRD_PARTIES_KEPT], "pages_read": len(pages),
            "tracker_list": facts.get("tracker_list")}
    if found:
        names = ", ".join(t["site"] + (f" ({t['tracker']['name']})" if t.get("tracker") else "")
                          for t in found[:LISTED])
        return Outcome.failed(f"The page loads from {len(found)} third-party site(s): {names}.", **seen)
    return Outcome.passed("The page loads nothing from a site not allowed.", **seen)


THIRD_PARTIES = Check(
    id="web.third_parties", title="Pages load no third party that is not allowed",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_third_parties,
    options={"allowed": Option("list[str]", "sites (registrable domains) allowed", default=[])},
)


# -- web.trackers -------------------------------------------------------------------------


def evaluate_trackers(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The page loads no known tracker.

    Trackers come from the imported tracker list (``civiscan feeds import`` of
    DuckDuckGo Tracker Radar files, the ``trackers`` dataset), else the small
    sample bundled with civiscan; a third-party domain is a tracker when the
    list files it under advertising, analytics, audience measurement, session
    replay, social network or action pixels. Evidence names the owner and the
    purpose in plain words, and which list was used (``tracker_list``).

    Options: ``allowed`` (list[str], default ``[]``): tracker sites a department has a
    data-processing agreement for.

    PASS: only first-party scripts. FAIL: ``https://www.google-analytics.com/analytics.js``
    (Google (advertising, google-analytics.com)).
    """
    pages = _pages(facts)
    if isinstance(pages, Outcome):
        return pages
    found = [t for t in facts.get("third_parties") or []
             if t.get("tracker") and not _allowed(t["site"], options["allowed"])]
    seen = {"trackers": [{"site": t["site"], **t["tracker"]} for t in found[:LISTED]],
            "tracker_list": facts.get("tracker_list")}
    if found:
        names = ", ".join(f"{t['tracker']['name']} ({t['tracker']['category']}, {t['site']})"
                          for t in found[:LISTED])
        return Outcome.failed(f"The page loads {len(found)} known tracker(s): {names}.", **seen)
    return Outcome.passed("The page loads no known tracker.", **seen)


TRACKERS = Check(
    id="web.trackers", title="Pages load no known tracker",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_trackers,
    options={"allowed": Option("list[str]", "tracker sites allowed", default=[])},
)


# -- web.subresource_integrity ------------------------------------------------------------


def evaluate_sri(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Third-party scripts and stylesheets carry Subresource Integrity (``integrity=sha384-...``).

    Without it, whoever controls the other site (or breaks into it) runs code on the
    city's page. Like the HTTP Observatory, same-site resources need none. A
    third-party script over plain ``http:`` fails whatever its integrity.

    No options. PASS: ``<script src="https://cdn.example/lib.js" integrity="sha384-..."
    crossorigin="anonymous">``. FAIL: the same without ``integrity``.
    """
    pages = _pages(facts)
    if isinstance(pages, Outcome):
        return pages
    site = facts.get("site")
    missing = [r["url"] for p in pages for r in p["resources"]
               if r["kind"] in ("script", "style") and r["site"] != site
               and (not r["integrity"] or r["scheme"] != "https")]
    if missing:
        return Outcome.failed(
            f"{len(missing)} third-party script(s) or stylesheet(s) load without integrity.",
            resources=missing[:LISTED])
    return Outcome.passed("Every third-party script and stylesheet carries integrity.")


SRI = Check(id="web.subresource_integrity", title="Third-party scripts and styles use SRI",
            kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_sri)


# -- web.mixed_content --------------------------------------------------------------------


def evaluate_mixed_content(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """An HTTPS page loads nothing over plain HTTP.

    Active mixed content (scripts, styles, frames, objects, fonts, fetches) is
    blocked by browsers, so the page breaks; passive (images, media) is upgraded
    or shown with a warning, and anyone on the network sees what was viewed.

    Options: ``passive`` (bool, default ``true``): fail on passive mixed content too.

    PASS: every URL is https. FAIL: ``<img src="http://cdn.example/logo.png">`` on an https page.
    Not applicable to a page served over plain HTTP (``http.redirect_to_https`` judges that).
    """
    pages = _pages(facts)
    if isinstance(pages, Outcome):
        return pages
    if not facts.get("https"):
        return Outcome.not_applicable("The page is served over plain HTTP.")
    active: list[str] = []
    passive: list[str] = []
    for page in pages:
        for r in page["resources"]:
            if r["scheme"] == "http" and r["kind"] != "connect":
                (active if r["kind"] in ACTIVE_KINDS else passive).append(r["url"])
    bad = active + (passive if options["passive"] else [])
    seen = {"active": active[:LISTED], "passive": passive[:LISTED]}
    if bad:
        return Outcome.failed(f"The https page loads {len(active)} active and {len(passive)} "
                              "passive resource(s) over plain HTTP.", **seen)
    return Outcome.passed("The https page loads nothing over plain HTTP.", **seen)


MIXED_CONTENT = Check(
    id="web.mixed_content", title="HTTPS pages load no plain-HTTP content",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_mixed_content,
    options={"passive": Option("bool", "fail on passive mixed content (images, media) too",
                               default=True)},
)


# -- web.forms ----------------------------------------------------------------------------


def evaluate_forms(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Forms post over HTTPS and to the city's own site.

    A form whose action is ``http:`` sends what residents typed in clear text; one
    whose action is another site hands it to a third party. Password fields on a
    page without HSTS fail too: the first visit can be downgraded and the password
    read (RFC 6797 section 2.3.1).

    Options: ``allowed`` (list[str], default ``[]``): third-party sites forms may post to
    (a payment processor the city contracts); ``hsts`` (bool, default ``true``): fail a
    password field on a page without HSTS (``false`` in a policy whose ``http.hsts``
    rule already judges that header, so one missing header is one failure).

    PASS: ``<form action="/apply" method="post">`` on an HSTS site. FAIL:
    ``<form action="http://forms.example/submit">``.
    """
    pages = _pages(facts)
    if isinstance(pages, Outcome):
        return pages
    problems = []
    for page in pages:
        for form in page["forms"]:
            if form["scheme"] == "http":
                problems.append(f"{page['url']}: a form posts over plain HTTP to {form['action']}")
            elif form["site"] and form["site"] != facts.get("site") and not _allowed(
                    form["site"], options["allowed"]):
                problems.append(f"{page['url']}: a form posts to the third party {form['site']}")
        hsts = facts.get("hsts") or {}
        if options["hsts"] and page.get("password_field") and not (
                hsts.get("max_age") and not hsts.get("malformed")):
            problems.append(f"{page['url']}: a password field on a site without HSTS")
    if problems:
        return Outcome.failed(f"{len(problems)} form problem(s): {problems[0]}.",
                              problems=problems[:LISTED])
    return Outcome.passed("Forms post over HTTPS to the city's own site.",
                          forms=sum(len(p["forms"]) for p in pages))


FORMS = Check(
    id="web.forms", title="Forms post over HTTPS to the site itself",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_forms,
    options={"allowed": Option("list[str]", "third-party sites forms may post to", default=[]),
             "hsts": Option("bool", "fail a password field on a page without HSTS",
                            default=True)},
)


# -- web.csp ------------------------------------------------------------------------------


def evaluate_csp(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The Content-Security-Policy restricts scripts, plugins, ``<base>`` and framing.

    Graded like the HTTP Observatory: no policy, a report-only policy, scripts
    allowing ``'unsafe-inline'`` without a nonce or hash (``'strict-dynamic'``
    counts as one), ``'unsafe-eval'``, scripts from any host of a scheme (``*``,
    ``https:``, ``data:``), ``http:`` sources and ``object-src`` other than
    ``'none'`` fail. Stricter than the Observatory (which only awards bonus points
    for them), ``default-src``, ``base-uri`` and ``frame-ancestors`` are required, and a
    policy only in ``<meta>`` fails (browsers ignore ``frame-ancestors`` there).
    With several policies a weakness counts only if every policy has it.

    Options: ``ignore`` (list[str], default ``["unsafe_inline_style"]``): problems
    accepted, from ``missing``, ``report_only``, ``meta_only``,
    ``unsafe_inline_script``, ``unsafe_eval``, ``wide_script_source``,
    ``insecure_scheme``, ``object_src_unrestricted``, ``missing_default_src``,
    ``missing_base_uri``, ``missing_frame_ancestors``, ``unsafe_inline_style``.

    PASS: ``default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'``.
    FAIL: ``script-src 'self' 'unsafe-inline' https:``.
    """
    headers = facts.get("headers") or {}
    metas = [m for p in (facts.get("pages") or [])[:1] for m in p.get("meta_csp", [])]
    result = grade(headers.get("content-security-policy", []),
                   headers.get("content-security-policy-report-only", []), metas)
    problems = [p for p in result["problems"] if p not in options["ignore"]]
    seen = {"source": result["source"], "problems": problems,
            "policy": headers.get("content-security-policy", [])[:2] or metas[:1]}
    if problems:
        return Outcome.failed("The CSP " + "; ".join(PROBLEMS[p] for p in problems) + ".", **seen)
    return Outcome.passed("The CSP restricts scripts, plugins, <base> and framing.", **seen)


CSP = Check(
    id="web.csp", title="Content-Security-Policy is strict",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_csp,
    options={"ignore": Option("list[str]", "CSP problems accepted", default=["unsafe_inline_style"],
                              choices=tuple(PROBLEMS))},
)


# -- web.referrer_policy ------------------------------------------------------------------


def evaluate_referrer_policy(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The page tells browsers not to hand its full URL to other sites.

    A URL can name what a resident looks at (``/benefits/apply?case=...``); with
    ``unsafe-url`` or ``no-referrer-when-downgrade`` every third party gets it. The
    policy is the Referrer-Policy header, else the page's ``<meta name="referrer">``.
    Stricter than the Observatory, which scores a missing policy 0: browsers'
    default (``strict-origin-when-cross-origin``) is not the same everywhere.

    Options: ``allowed`` (list[str], default ``["no-referrer", "same-origin",
    "strict-origin", "strict-origin-when-cross-origin"]``).

    PASS: ``Referrer-Policy: same-origin``. FAIL: no policy, or ``unsafe-url``.
    """
    policy = facts.get("referrer_policy")
    pages = facts.get("pages") or []
    if policy is None and pages:
        policy = pages[0].get("meta_referrer")
    if policy in options["allowed"]:
        return Outcome.passed(f"The referrer policy is {policy}.", policy=policy)
    if policy is None:
        return Outcome.failed("The page sets no referrer policy.", policy=None)
    return Outcome.failed(f"The referrer policy {policy} hands full URLs to other sites.",
                          policy=policy, allowed=options["allowed"])


REFERRER_POLICY = Check(
    id="web.referrer_policy", title="Referrer-Policy keeps URLs private",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_referrer_policy,
    options={"allowed": Option("list[str]", "referrer policies accepted", default=[
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"])},
)


# -- web.permissions_policy ---------------------------------------------------------------


def parse_permissions_policy(values: list[str]) -> dict[str, list[str]]:
    """Permissions-Policy (a structured-field dictionary) as ``{feature: allowlist}``."""
    policy: dict[str, list[str]] = {}
    for value in values:
        for member in value.split(","):
            name, eq, allow = member.strip().partition("=")
            name = name.strip().lower()
            if not name or not eq:
                continue
            allow = allow.split(";", 1)[0].strip()
            items = allow[1:-1].split() if allow.startswith("(") and allow.endswith(")") else [allow]
            policy[name] = [i.strip().strip('"') for i in items if i.strip()]
    return policy


def evaluate_permissions_policy(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Permissions-Policy keeps powerful features off, or to the site itself.

    Each feature in ``features`` must be declared with an empty allowlist ``()`` or
    ``(self)``, so no embedded third party can ask residents for their camera or
    location, or read their interest topics. ``interest-cohort`` (FLoC) is accepted
    in place of ``browsing-topics``.

    Options: ``features`` (list[str], default ``["camera", "microphone", "geolocation",
    "browsing-topics"]``).

    PASS: ``Permissions-Policy: camera=(), microphone=(), geolocation=(self), browsing-topics=()``.
    FAIL: no header, or ``geolocation=*``.
    """
    policy = parse_permissions_policy((facts.get("headers") or {}).get("permissions-policy", []))
    problems = []
    for feature in options["features"]:
        allow = policy.get(feature)
        if allow is None and feature == "browsing-topics":
            allow = policy.get("interest-cohort")
        if allow is None:
            problems.append(f"{feature} is not declared")
        elif any(a not in ("self",) for a in allow):
            problems.append(f"{feature} is allowed to {' '.join(allow)}")
    if problems:
        return Outcome.failed("Permissions-Policy: " + "; ".join(problems) + ".",
                              problems=problems, policy=policy)
    return Outcome.passed("Permissions-Policy restricts " + ", ".join(options["features"]) + ".",
                          policy=policy)


PERMISSIONS_POLICY = Check(
    id="web.permissions_policy", title="Permissions-Policy restricts powerful features",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_permissions_policy,
    options={"features": Option("list[str]", "features that must be () or (self)",
                                default=list(PERMISSION_FEATURES))},
)


# -- web.cors -----------------------------------------------------------------------------


def evaluate_cors(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """CORS does not hand the page to any site that asks.

    civiscan sends the page request twice more, with ``Origin:
    https://civiscan-cors-probe.invalid`` (a made-up origin) and ``Origin: null``
    (sandboxed frames, local files). It fails when the made-up origin is echoed in
    ``Access-Control-Allow-Origin`` (any site may read the page, with residents'
    cookies when ``Access-Control-Allow-Credentials: true``), when ``null`` is
    allowed, or when ``*`` comes with credentials.

    Options: ``allow_wildcard`` (bool, default ``true``): accept ``*`` without credentials
    (public data meant for any site).

    PASS: no ``Access-Control-Allow-Origin``. FAIL: the server answers with the probe's origin.
    """
    cors = facts.get("cors")
    if not isinstance(cors, Mapping):
        return Outcome.error(ErrorReason.NO_DATA, "The CORS probes were not collected.")
    problems = []
    for name, probe in cors.items():
        if probe.get("error"):
            return Outcome.error(ErrorReason.NO_DATA,
                                 f"The {name} CORS probe failed: {probe['error']['message']}")
        allow = (probe.get("allow_origin") or "").strip()
        creds = " with credentials" if probe.get("allow_credentials") else ""
        if allow == "*" and (creds or not options["allow_wildcard"]):
            problems.append(f"Access-Control-Allow-Origin: *{creds}")
        elif allow and allow == probe["origin"]:
            problems.append(f"the {name} origin {allow} is allowed{creds}")
    problems = list(dict.fromkeys(problems))
    if problems:
        return Outcome.failed("CORS: " + "; ".join(problems) + ".", problems=problems, probes=cors)
    return Outcome.passed("CORS allows neither arbitrary nor null origins.", probes=cors)


CORS = Check(
    id="web.cors", title="CORS allows no arbitrary origin",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_cors, needs=frozenset({"cors"}),
    options={"allow_wildcard": Option("bool", "accept * without credentials", default=True)},
)


# -- web.exposure -------------------------------------------------------------------------


def evaluate_exposure(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """No repository, environment file, status page, backup or directory listing is served.

    civiscan asks for ``/.git/HEAD``, ``/.svn/entries``, ``/.env``, ``/server-status``,
    ``/phpinfo.php``, ``/backup.zip``, ``/backup.tar.gz``, ``/dump.sql`` and ``/uploads/``
    and reports one only when the body carries that thing's signature (a git ref,
    ``NAME=value`` lines, an archive's magic bytes, ``Index of /``): a server that
    answers 200 to everything is not reported. Pages read that are directory
    listings fail too. Evidence shows the path and a redacted first line.

    Options: ``ignore`` (list[str], default ``[]``): probes accepted, from ``git``, ``svn``,
    ``env``, ``server_status``, ``phpinfo``, ``backup_zip``, ``backup_tgz``, ``sql_dump``,
    ``listing``.

    PASS: every probe answers 404, or a page without the signature. FAIL: ``/.env``
    answers ``DB_PASSWORD=...`` (shown as ``DB_PASSWORD=[redacted]``).
    """
    probes = facts.get("exposure")
    if not isinstance(probes, list):
        return Outcome.error(ErrorReason.NO_DATA, "The exposure probes were not collected.")
    found = [{"path": p["path"], "what": p["what"], "first_line": p["first_line"]}
             for p in probes if p["exposed"] and p["name"] not in options["ignore"]]
    if "listing" not in options["ignore"]:
        found += [{"path": p["url"], "what": "a directory listing", "first_line": "Index of /"}
                  for p in facts.get("pages") or [] if p.get("directory_listing")]
    skipped = [p["path"] for p in probes if p.get("error")]
    if found:
        return Outcome.failed(
            "Served to anyone: " + ", ".join(f"{f['path']} ({f['what']})" for f in found) + ".",
            exposed=found, not_probed=skipped)
    if skipped:
        return Outcome.error(ErrorReason.NO_DATA, f"{len(skipped)} exposure probe(s) failed.",
                             not_probed=skipped, errors=[p["error"] for p in probes if p.get("error")][:3])
    return Outcome.passed(f"None of the {len(probes)} exposure paths is served.",
                          probed=[p["path"] for p in probes])


EXPOSURE = Check(
    id="web.exposure", title="No repository, secrets file or listing is exposed",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_exposure, needs=frozenset({"exposure"}),
    options={"ignore": Option("list[str]", "exposure probes accepted", default=[],
                              choices=PROBE_NAMES)},
)


# -- web.security_txt ---------------------------------------------------------------------


def evaluate_security_txt(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """``/.well-known/security.txt`` (RFC 9116) tells researchers where to report.

    civiscan asks for ``https://HOST/.well-known/security.txt`` and, when that is
    not a text file, the legacy ``/security.txt`` (RFC 9116 3). The file must be
    served over HTTPS with status 200 and ``Content-Type: text/plain``, hold at
    least one ``Contact`` that is a ``mailto:``, ``https:`` or ``tel:`` URI and exactly
    one ``Expires`` (an RFC 3339 date-time) later than the scan and at most
    ``max_days`` ahead (RFC 9116 2.5.5 recommends less than a year). When it names
    a ``Canonical`` URI, the URL it was fetched from must be one of them (2.5.2:
    otherwise its content should not be trusted). A PGP-signed file is read
    inside its signature; the signature itself is not verified (no keys are
    fetched) and is reported as ``signed``.

    Options: ``max_days`` (int, default ``366``); ``legacy`` (bool, default ``true``):
    accept the file at ``/security.txt`` (``false``: only the well-known path passes).

    PASS: ``Contact: mailto:security@city.example`` and ``Expires: 2027-01-01T00:00:00Z``.
    FAIL: a 404, an ``Expires`` in the past, or ``Canonical`` naming another URL.
    """
    txt = facts.get("security_txt")
    if not isinstance(txt, Mapping):
        return Outcome.error(ErrorReason.NO_DATA, "security.txt was not fetched.")
    seen = {"url": txt["url"], "status": txt["status"], "location": txt.get("location"),
            "tried": txt.get("tried")}
    if txt.get("error"):
        return Outcome.failed(f"security.txt could not be fetched over HTTPS: "
                              f"{txt['error']['message']}", **seen)
    if txt["parsed"] is None:
        return Outcome.failed(f"{txt['url']} answers {txt['status']} "
                              f"({txt['content_type'] or 'no content type'}), not a text/plain file.",
                              **seen)
    parsed = txt["parsed"]
    problems = list(parsed["problems"])
    if txt.get("location") == "legacy" and not options["legacy"]:
        problems.append("it is only at the legacy /security.txt, not /.well-known/security.txt")
    canonical = parsed.get("canonical") or []
    if canonical and txt["url"] not in canonical:
        problems.append(f"it was fetched from {txt['url']}, which no Canonical field names")
    if parsed["expires"]:
        expires = dt.datetime.fromisoformat(parsed["expires"])
        now = dt.datetime.fromisoformat(facts["fetched_at"])
        if expires <= now:
            problems.append(f"it expired on {parsed['expires']}")
        elif expires - now > dt.timedelta(days=options["max_days"]):
            problems.append(f"Expires is more than {options['max_days']} days ahead")
    seen.update(contact=parsed["contact"], expires=parsed["expires"], canonical=canonical,
                signed=parsed.get("signed", False))
    if problems:
        return Outcome.failed("security.txt: " + "; ".join(problems) + ".", problems=problems, **seen)
    return Outcome.passed("security.txt names a contact and has not expired.", **seen)


SECURITY_TXT = Check(
    id="web.security_txt", title="security.txt names a contact and is current",
    kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_security_txt, needs=frozenset({"security_txt"}),
    options={"max_days": Option("int", "longest accepted time to Expires, in days", default=366,
                                minimum=1),
             "legacy": Option("bool", "accept the file at the legacy /security.txt", default=True)},
)


# -- web.redirects ------------------------------------------------------------------------


def evaluate_redirects(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The endpoint's redirects stay on HTTPS and on the city's own site, ending under HSTS.

    civiscan follows at most 5 redirects, each hop through the scope gate, and
    never onto another site: a hop to a third party fails here (a detour that
    hands the resident's request to someone else), as does a hop down to
    ``http:``. With ``hsts``, when the endpoint redirects, the final HTTPS page
    must send a valid Strict-Transport-Security header, so the next visit skips
    plain HTTP. An endpoint that does not redirect is not judged on HSTS here:
    ``http.hsts`` judges the endpoint URL itself, and one missing header is one
    failure in a policy that has both.

    Options: ``hsts`` (bool, default ``true``).

    PASS: ``https://city.example/`` -> ``https://www.city.example/`` with HSTS. FAIL:
    a redirect through ``https://tracker.example/?u=...``.
    """
    chain = facts.get("chain") or []
    hsts = facts.get("hsts") or {}
    seen = {"chain": chain, "left_site_to": facts.get("left_site_to"),
            "final_url": facts.get("final_url"), "hsts_max_age": hsts.get("max_age")}
    if facts.get("left_site_to"):
        return Outcome.failed(f"The endpoint redirects to another site: {facts['left_site_to']}.",
                              **seen)
    plain = [h["url"] for h in chain[1:] if h["url"].startswith("http:")]
    if plain:
        return Outcome.failed(f"The redirect chain goes over plain HTTP: {plain[0]}.", **seen)
    if options["hsts"] and facts.get("https") and len(chain) > 1 and not (
            hsts.get("max_age") and not hsts.get("malformed")):
        return Outcome.failed(f"The final page {facts.get('final_url')} sends no valid HSTS "
                              "header.", **seen)
    return Outcome.passed(f"{len(chain) - 1} redirect(s), all HTTPS on the same site.", **seen)


REDIRECTS = Check(id="web.redirects", title="Redirects stay on HTTPS and on the site",
                  kinds=_ENDPOINT, schemes=_WEB, evaluate=evaluate_redirects,
                  options={"hsts": Option("bool", "require HSTS on the page a redirect ends on",
                                          default=True)})


WEB_CHECKS = (THIRD_PARTIES, TRACKERS, SRI, MIXED_CONTENT, FORMS, CSP, REFERRER_POLICY,
              PERMISSIONS_POLICY, CORS, EXPOSURE, SECURITY_TXT, REDIRECTS)
