"""The documented bounds of one endpoint's crawl (docs/web.md, "Rules of the crawl")."""

from __future__ import annotations

from scanner.models import PluginReason

MAX_HOPS = 5
"""Redirects followed from the endpoint URL before giving up (each hop is gated)."""
MAX_BODY = 2 * 1024 * 1024
"""Bytes of a page's body read; the rest is not read and the page is marked truncated."""
PROBE_BODY = 64 * 1024
"""Bytes read of an exposure probe or security.txt: enough for any signature."""
MAX_REQUESTS = 20
"""Default request budget per endpoint: page and hops, CORS probes, exposure paths, links."""
MAX_LINKS = 2
"""Default number of same-origin links fetched and read like the page."""
MAX_RESOURCES = 500
"""Resources recorded per page; a page with more is marked and the rest counted."""

BUDGET_REASON = PluginReason("budget")
