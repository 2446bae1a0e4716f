"""Read one HTML page into facts: what it loads, where its forms post, its meta policies.

Parsed with selectolax's Lexbor engine, an HTML5 parser (the WHATWG tree
construction, so markup browsers repair is read as browsers read it), about
30 times faster than html5lib on a 250 kB page. Pure: bytes in, facts out;
nothing here fetches anything, third-party URLs are only recorded.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from .limits import MAX_RESOURCES
from .sites import site_of

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode

URL_LIMIT = 300
_SRI = re.compile(r"^\s*sha(256|384|512)-[A-Za-z0-9+/_-]+={0,2}\s*$")
# Browsers block these on an https page ("blockable" mixed content); the rest they upgrade or show.
ACTIVE_KINDS = frozenset({"script", "style", "frame", "object", "font", "fetch"})
_LINK_KINDS = {
    "stylesheet": "style",
    "icon": "image",
    "apple-touch-icon": "image",
    "manifest": "fetch",
    "preconnect": "connect",
    "dns-prefetch": "connect",
    "prefetch": "fetch",
    "modulepreload": "script",
}
_PRELOAD_AS = {"script": "script", "style": "style", "font": "font", "image": "image",
               "fetch": "fetch", "document": "frame"}
_SELECTORS = (
    ("script[src]", "src", "script"),
    ("img[src]", "src", "image"),
    ("img[srcset]", "srcset", "image"),
    ("source[srcset]", "srcset", "image"),
    ("video[src]", "src", "media"),
    ("video[poster]", "poster", "image"),
    ("audio[src]", "src", "media"),
    ("source[src]", "src", "media"),
    ("track[src]", "src", "media"),
    ("iframe[src]", "src", "frame"),
    ("frame[src]", "src", "frame"),
    ("embed[src]", "src", "object"),
    ("object[data]", "data", "object"),
    ("input[type=image][src]", "src", "image"),
)


def short(url: str) -> str:
    return url if len(url) <= URL_LIMIT else url[: URL_LIMIT - 1] + "…"


def _absolute(base: str, value: str | None) -> str | None:
    """``value`` resolved against ``base``, if it is an http(s) URL at all."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        url = urljoin(base, value)
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _srcset(value: str) -> list[str]:
    return [c.strip().split()[0] for c in value.split(",") if c.strip()]


def _resource(kind: str, url: str, node: LexborNode) -> dict[str, Any]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    integrity = node.attributes.get("integrity")
    return {
        "kind": kind,
        "tag": node.tag,
        "url": short(url),
        "scheme": parts.scheme.lower(),
        "host": host,
        "site": site_of(host),
        "integrity": bool(integrity and all(_SRI.match(t) for t in integrity.split())),
    }


def parse_page(body: bytes, url: str, charset: str | None = None) -> dict[str, Any]:
    """Facts about the HTML ``body`` served at ``url``."""
    text = body.decode(charset or "utf-8", "replace") if charset else body.decode("utf-8", "replace")
    from selectolax.lexbor import LexborHTMLParser  # imported when a page is read

    tree = LexborHTMLParser(text)
    base = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = _absolute(url, base_node.attributes.get("href")) or url
    resources: list[dict[str, Any]] = []
    dropped = 0

    def add(kind: str, value: str | None, node: LexborNode) -> None:
        nonlocal dropped
        found = _absolute(base, value)
        if found is None:
            return
        if len(resources) >= MAX_RESOURCES:
            dropped += 1
            return
        resources.append(_resource(kind, found, node))

    for selector, attribute, kind in _SELECTORS:
        for node in tree.css(selector):
            value = node.attributes.get(attribute)
            for item in _srcset(value or "") if attribute == "srcset" else [value]:
                add(kind, item, node)
    for node in tree.css("link[href]"):
        rels = (node.attributes.get("rel") or "").lower().split()
        link_kind = (
            _PRELOAD_AS.get((node.attributes.get("as") or "").lower(), "fetch")
            if "preload" in rels
            else next((_LINK_KINDS[r] for r in rels if r in _LINK_KINDS), None)
        )
        if link_kind:
            add(link_kind, node.attributes.get("href"), node)

    forms = []
    for node in tree.css("form"):
        action = node.attributes.get("action")
        target = _absolute(base, action) if action and action.strip() else url
        method = (node.attributes.get("method") or "get").strip().lower()
        parts = urlsplit(target or "")
        forms.append({
            "action": short(target) if target else None,
            "scheme": parts.scheme.lower() or None,
            "host": (parts.hostname or "").lower() or None,
            "site": site_of(parts.hostname or "") if parts.hostname else None,
            "method": method if method in ("get", "post", "dialog") else "get",
            "password": node.css_first("input[type=password]") is not None,
        })
    loose_password = tree.css_first("input[type=password]") is not None

    meta_csp = [
        n.attributes.get("content") or ""
        for n in tree.css("meta[http-equiv]")
        if (n.attributes.get("http-equiv") or "").strip().lower() == "content-security-policy"
    ]
    meta_referrer = [
        (n.attributes.get("content") or "").strip().lower()
        for n in tree.css("meta[name]")
        if (n.attributes.get("name") or "").strip().lower() == "referrer"
    ]
    links = []
    for node in tree.css("a[href]"):
        found = _absolute(base, node.attributes.get("href"))
        if found:
            links.append(found.split("#", 1)[0])
    title = tree.css_first("title")
    title_text = title.text(strip=True) if title is not None else ""
    return {
        "resources": resources,
        "resources_dropped": dropped,
        "forms": forms,
        "password_field": loose_password,
        "meta_csp": meta_csp[:5],
        "meta_referrer": meta_referrer[-1] if meta_referrer else None,
        "links": list(dict.fromkeys(links))[:200],
        "directory_listing": title_text.startswith("Index of /")
        or any(h.text(strip=True).startswith("Index of /") for h in tree.css("h1")[:1]),
    }
