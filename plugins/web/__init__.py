"""The ``web`` family: what a public page makes residents' browsers do, read without a browser.

For an endpoint URL it fetches the page (following at most
:data:`~.limits.MAX_HOPS` redirects, each hop through ``ctx.gate``, never
onto another site), a few same-origin links, and, when the policy asks, CORS
probes, exposure paths and ``/.well-known/security.txt`` (else the legacy
``/security.txt``): all GETs, within a request budget per endpoint, bodies
capped, TLS verified. Third-party URLs
found in the HTML are recorded, never fetched; known trackers among them are
named from the ``trackers`` dataset (see :mod:`.trackers`). See docs/web.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

from scanner.models import Asset, CollectFailed, ErrorReason
from scanner.plugin import CheckRequest, Context, DatasetUnavailable, Setting, needed
from scanner.plugins.http.parse import effective_referrer_policy, parse_hsts

from .checks import WEB_CHECKS
from .client import Budget, Fetcher, Response, user_agent
from .evidence import render as render_evidence
from .exposure import PROBES, is_listing, judge_probe, parse_security_txt
from .limits import BUDGET_REASON, MAX_BODY, MAX_HOPS, MAX_LINKS, MAX_REQUESTS, PROBE_BODY
from .page import parse_page, short
from .sites import site_of
from .trackers import TrackerIndex, bundled_index, dataset_index

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PROBE_ORIGIN = "https://civiscan-cors-probe.invalid"
"""A made-up origin (``.invalid`` is reserved, RFC 2606): a server that echoes it echoes anyone."""
_KEPT_HEADERS = (
    "content-type", "content-security-policy", "content-security-policy-report-only",
    "referrer-policy", "permissions-policy", "strict-transport-security",
    "access-control-allow-origin", "access-control-allow-credentials",
)

SETTINGS: Mapping[str, Setting] = MappingProxyType({
    "web_max_requests": Setting(
        "int", "Requests the web checks may send to one endpoint (page, redirects, probes, links).",
        default=MAX_REQUESTS, minimum=1, maximum=100, flag="--web-max-requests",
    ),
    "web_max_links": Setting(
        "int", "Same-origin links of the page the web checks also read.",
        default=MAX_LINKS, minimum=0, maximum=10, flag="--web-max-links",
    ),
    "web_contact_url": Setting(
        "str", "Contact URL sent in the User-Agent of the web checks' requests.",
        flag="--web-contact-url",
    ),
})


def _content_type(response: Response) -> tuple[str, str | None]:
    value = (response.head.first("content-type") or "").lower()
    kind, _, rest = value.partition(";")
    charset = None
    if "charset=" in rest:
        charset = rest.split("charset=", 1)[1].split(";")[0].strip().strip('"') or None
    return kind.strip(), charset


def _page_facts(response: Response) -> dict[str, Any]:
    kind, charset = _content_type(response)
    facts: dict[str, Any] = {"url": short(response.url), "status": response.head.status,
                             "content_type": kind, "truncated": response.truncated}
    if kind in ("text/html", "application/xhtml+xml") and 200 <= response.head.status < 300:
        try:
            "".encode(charset or "utf-8")
        except LookupError:
            charset = None
        facts.update(parse_page(response.body, response.url, charset))
    else:
        facts.update({"resources": [], "forms": [], "links": [], "meta_csp": [],
                      "meta_referrer": None, "password_field": False,
                      "directory_listing": is_listing(response.body)})
    return facts


async def _follow(fetcher: Fetcher, url: str) -> tuple[Response, list[dict[str, Any]], str | None]:
    """(last response fetched, the chain, a cross-site URL the chain stopped before)."""
    site = site_of(urlsplit(url).hostname or "")
    chain: list[dict[str, Any]] = []
    for _ in range(MAX_HOPS + 1):
        response = await fetcher.get(url, purpose="web page")
        location = response.head.first("location")
        chain.append({"url": short(url), "status": response.head.status})
        if response.head.status not in REDIRECTS or not location:
            return response, chain, None
        following = urljoin(url, location.strip())
        if urlsplit(following).scheme.lower() not in ("http", "https"):
            raise CollectFailed(ErrorReason.PROTOCOL, f"{url} redirects to {short(following)!r}")
        if site_of(urlsplit(following).hostname or "") != site:
            # Another site is a third party: named, never fetched.
            return response, chain, short(following)
        url = following
    raise CollectFailed(ErrorReason.PROTOCOL, f"more than {MAX_HOPS} redirects from {chain[0]['url']}")


async def _attempt(coro: Any) -> tuple[Response | None, dict[str, Any] | None]:
    try:
        return await coro, None
    except CollectFailed as exc:
        return None, {"reason": str(getattr(exc.reason, "value", exc.reason)), "message": exc.message}


def _third_parties(
    pages: Sequence[Mapping[str, Any]], first: str, trackers: TrackerIndex
) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in pages:
        for item in [*page["resources"], *({"kind": "form", **f} for f in page["forms"])]:
            site = item.get("site")
            if not site or site == first:
                continue
            entry = found.setdefault(site, {"site": site, "hosts": [], "kinds": [], "count": 0,
                                            "tracker": None})
            entry["count"] += 1
            if item["host"] not in entry["hosts"] and len(entry["hosts"]) < 10:
                entry["hosts"].append(item["host"])
            if item["kind"] not in entry["kinds"]:
                entry["kinds"].append(item["kind"])
            entry["tracker"] = entry["tracker"] or trackers.lookup(item["host"])
    return sorted(found.values(), key=lambda e: e["site"])


async def _cors(fetcher: Fetcher, url: str) -> dict[str, Any]:
    probes = {}
    for name, origin in (("arbitrary", PROBE_ORIGIN), ("null", "null")):
        response, error = await _attempt(
            fetcher.get(url, purpose="CORS probe", headers=[("Origin", origin)], max_body=0)
        )
        probes[name] = {
            "origin": origin,
            "allow_origin": response.head.first("access-control-allow-origin") if response else None,
            "allow_credentials": (response.head.first("access-control-allow-credentials") or "")
            .strip().lower() == "true" if response else False,
            "error": error,
        }
    return probes


async def _exposure(fetcher: Fetcher, origin: str) -> list[dict[str, Any]]:
    results = []
    for probe in PROBES:
        response, error = await _attempt(
            fetcher.get(origin + probe.path, purpose="exposure probe", max_body=PROBE_BODY)
        )
        if response is None:
            results.append({"name": probe.name, "path": probe.path, "what": probe.what,
                            "status": None, "exposed": False, "first_line": None, "error": error})
        else:
            results.append({**judge_probe(probe, response.head.status, response.body), "error": None})
    return results


async def _security_txt(fetcher: Fetcher, final: SplitResult) -> dict[str, Any]:
    """``/.well-known/security.txt``, else the legacy ``/security.txt`` (RFC 9116 3), over HTTPS."""
    # RFC 9116 3: served over HTTPS; a plain-HTTP endpoint's port is not where HTTPS answers.
    host_port = final.netloc.rpartition("@")[2] if final.scheme == "https" else (
        f"[{final.hostname}]" if ":" in (final.hostname or "") else final.hostname or "")
    tried: list[dict[str, Any]] = []
    for where, path in (("well-known", "/.well-known/security.txt"), ("legacy", "/security.txt")):
        url = f"https://{host_port}{path}"
        response, error = await _attempt(fetcher.get(url, purpose="security.txt", max_body=PROBE_BODY))
        facts: dict[str, Any] = {"url": url, "location": where, "status": None,
                                 "content_type": None, "error": error, "parsed": None}
        if response is not None:
            kind, _ = _content_type(response)
            facts.update(status=response.head.status, content_type=kind)
            if 200 <= response.head.status < 300 and kind == "text/plain":
                facts["parsed"] = parse_security_txt(response.body.decode("utf-8", "replace"))
        tried.append(facts)
        if facts["parsed"] is not None or error is not None:
            break
    # The file found, else what the well-known path answered; every attempt is kept.
    chosen = next((t for t in tried if t["parsed"] is not None), tried[0])
    return {**chosen, "tried": [{k: t[k] for k in ("url", "status", "content_type")}
                                for t in tried]}


async def _trackers(ctx: Context) -> tuple[TrackerIndex, dict[str, Any]]:
    """The imported tracker list (``trackers`` dataset), else the bundled sample, and which."""
    try:
        index = await ctx.run_blocking(dataset_index, ctx.dataset("trackers"))
        return index, dict(index.origin)
    except DatasetUnavailable as exc:
        index = bundled_index()
        return index, {**index.origin, "problem": str(exc)[:200]}


class WebPlugin:
    """Collects one endpoint's page, its third parties and the web privacy probes."""

    name = "web"
    evidence = staticmethod(render_evidence)
    checks = WEB_CHECKS
    settings = SETTINGS
    reasons = MappingProxyType({BUDGET_REASON: "the endpoint's request budget was spent"})

    async def collect(
        self, asset: Asset, requests: Sequence[CheckRequest], ctx: Context
    ) -> dict[str, Any]:
        if not asset.url:
            raise CollectFailed(ErrorReason.NOT_SUPPORTED, "the web checks need an endpoint URL")
        parts = urlsplit(asset.url)
        if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
            raise CollectFailed(ErrorReason.NOT_SUPPORTED, f"cannot read {asset.url!r}")
        wants = needed(self.checks, requests)
        settings = ctx.settings
        fetcher = Fetcher(
            ctx=ctx,
            budget=Budget(int(settings.get("web_max_requests") or MAX_REQUESTS)),
            max_body=MAX_BODY,
            ca_file=asset.ca_file or settings.get("ca_file"),
            agent=user_agent(settings.get("web_contact_url")),
            asset_host=parts.hostname.lower(),
            asset_address=asset.address,
            ca_only=bool(settings.get("ca_only")),
        )
        fetched_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        response, chain, left_to = await _follow(fetcher, asset.url)
        final = urlsplit(response.url)
        first = site_of(final.hostname or "")
        headers = {name: response.head.values(name)[:5] for name in _KEPT_HEADERS}
        https = final.scheme.lower() == "https"
        pages = [] if left_to else [_page_facts(response)]
        max_links = settings.get("web_max_links")
        max_links = MAX_LINKS if max_links is None else int(max_links)
        origin = f"{final.scheme}://{final.netloc}"
        if pages and max_links:
            same = [u for u in pages[0]["links"] if u.startswith(origin + "/") and u != response.url]
            for link in same[:max_links]:
                linked, _error = await _attempt(fetcher.get(link, purpose="same-origin link"))
                if linked is not None:
                    pages.append(_page_facts(linked))
        for page in pages:
            page.pop("links", None)
        trackers, tracker_list = await _trackers(ctx)
        return {
            "url": asset.url,
            "final_url": short(response.url),
            "site": first,
            "https": https,
            "chain": chain,
            "left_site_to": left_to,
            "headers": headers,
            "hsts": parse_hsts(headers["strict-transport-security"] if https else []),
            "referrer_policy": effective_referrer_policy(headers["referrer-policy"]),
            "pages": pages,
            "third_parties": _third_parties(pages, first, trackers),
            "tracker_list": tracker_list,
            "cors": await _cors(fetcher, response.url) if "cors" in wants else None,
            "exposure": await _exposure(fetcher, origin) if "exposure" in wants else None,
            "security_txt": await _security_txt(fetcher, final)
            if "security_txt" in wants else None,
            "requests": fetcher.budget.spent,
            "budget": fetcher.budget.limit,
            "fetched_at": fetched_at,
        }


plugin = WebPlugin()

__all__ = ["PROBE_ORIGIN", "WebPlugin", "plugin"]
