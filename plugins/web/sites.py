"""Registrable domains (Public Suffix List) and the bundled tracker list.

``publicsuffixlist`` ships a snapshot of the PSL and reads only that file
unless asked to update, so no lookup here ever leaves the machine. The tracker
list is in Disconnect's ``services.json`` format; the bundled file is a small
sample of well-known trackers, enough to name the common ones.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from scanner.plugins.http.parse import site_of


@functools.cache
def tracker_index() -> dict[str, dict[str, str]]:
    """``{domain: {"name", "category"}}`` from the bundled Disconnect-format list."""
    raw = resources.files(__package__).joinpath("data/trackers.json").read_text("utf-8")
    return index_services(json.loads(raw))


def index_services(document: Any) -> dict[str, dict[str, str]]:
    """Index a Disconnect ``services.json`` document by domain.

    Shape: ``{"categories": {CATEGORY: [{ENTITY: {HOMEPAGE: [domain, ...]}}]}}``;
    anything else is skipped rather than trusted.
    """
    index: dict[str, dict[str, str]] = {}
    categories = document.get("categories") if isinstance(document, dict) else None
    if not isinstance(categories, dict):
        return index
    for category, entities in categories.items():
        for entity in entities if isinstance(entities, list) else []:
            if not isinstance(entity, dict):
                continue
            for name, homepages in entity.items():
                for domains in homepages.values() if isinstance(homepages, dict) else []:
                    for domain in domains if isinstance(domains, list) else []:
                        if isinstance(domain, str):
                            index.setdefault(domain.lower(), {"name": name, "category": category})
    return index


def tracker_for(host: str) -> dict[str, str] | None:
    """The tracker ``host`` belongs to: the host itself or any parent domain in the list."""
    index = tracker_index()
    labels = host.rstrip(".").lower().split(".")
    for i in range(len(labels) - 1):
        found = index.get(".".join(labels[i:]))
        if found:
            return found
    return None
