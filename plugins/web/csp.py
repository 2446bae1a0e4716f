"""Content-Security-Policy: parsed as CSP Level 3 says, graded like the HTTP Observatory.

Parsing follows CSP3 section 2.2: a header value is a comma-separated list of
policies, a policy a semicolon-separated list of directives, a directive's name
is lower-cased and only its first occurrence counts, its value is the
whitespace-separated source list. Several enforced policies all apply, so a
weakness counts only when every policy has it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_WS = " \t\n\f\r"
_NAME = re.compile(r"^[a-z0-9-]+$")
_HASH_OR_NONCE = re.compile(r"^'(nonce-[A-Za-z0-9+/_=-]+|sha(256|384|512)-[A-Za-z0-9+/_=-]+)'$", re.I)
_WIDE = frozenset({"*", "http:", "https:", "data:", "blob:", "filesystem:", "ws:", "wss:"})
FETCH_FALLBACK = ("script-src-elem", "script-src", "default-src")

PROBLEMS = {
    "missing": "no Content-Security-Policy is enforced",
    "report_only": "the policy is only Content-Security-Policy-Report-Only, which blocks nothing",
    "meta_only": "the policy is only in a <meta> tag, where frame-ancestors and reporting are ignored",
    "unsafe_inline_script": "scripts allow 'unsafe-inline' without a nonce or hash",
    "unsafe_eval": "scripts allow 'unsafe-eval'",
    "wide_script_source": "scripts may load from any host of a scheme (*, https:, data: ...)",
    "insecure_scheme": "sources over plain http: are allowed",
    "object_src_unrestricted": "plugins (object-src) are not restricted to 'none'",
    "missing_default_src": "no default-src: directives left out allow everything",
    "missing_base_uri": "no base-uri: an injected <base> can redirect relative scripts",
    "missing_frame_ancestors": "no frame-ancestors: other sites may frame the page",
    "unsafe_inline_style": "styles allow 'unsafe-inline'",
}


def parse_policy(text: str) -> dict[str, list[str]]:
    """One serialized policy as ``{directive: [source expressions]}`` (first occurrence wins)."""
    directives: dict[str, list[str]] = {}
    for token in text.split(";"):
        token = token.strip(_WS)
        if not token:
            continue
        name, *values = token.split()
        name = name.lower()
        if not _NAME.match(name) or name in directives:
            continue
        directives[name] = values
    return directives


def parse_header(values: Sequence[str]) -> list[dict[str, list[str]]]:
    """Every policy in the header field values (each value may hold several, comma-separated)."""
    policies = []
    for value in values:
        for text in value.split(","):
            policy = parse_policy(text)
            if policy:
                policies.append(policy)
    return policies


def _sources(policy: dict[str, list[str]], names: Sequence[str]) -> list[str] | None:
    for name in names:
        if name in policy:
            return [s.lower() if not _HASH_OR_NONCE.match(s) else s for s in policy[name]]
    return None


def policy_problems(policy: dict[str, list[str]]) -> set[str]:
    """The weaknesses of one policy (keys of :data:`PROBLEMS`)."""
    found: set[str] = set()
    script = _sources(policy, FETCH_FALLBACK)
    if script is None:
        found |= {"unsafe_inline_script", "wide_script_source"}
    else:
        strict = "'strict-dynamic'" in script
        keyed = strict or any(_HASH_OR_NONCE.match(s) for s in script)
        if "'unsafe-inline'" in script and not keyed:
            found.add("unsafe_inline_script")
        if "'unsafe-eval'" in script:
            found.add("unsafe_eval")
        # 'strict-dynamic' makes browsers ignore host and scheme sources (CSP3 8.2).
        if not strict and any(s in _WIDE for s in script):
            found.add("wide_script_source")
    objects = _sources(policy, ("object-src", "default-src"))
    if objects != ["'none'"]:
        found.add("object_src_unrestricted")
    style = _sources(policy, ("style-src-elem", "style-src", "default-src"))
    if style is None or ("'unsafe-inline'" in style and not any(_HASH_OR_NONCE.match(s) for s in style)):
        found.add("unsafe_inline_style")
    if any(s == "http:" or s.startswith("http://") or s == "ws:" or s.startswith("ws://")
           for name, values in policy.items() if name.endswith("-src")
           for s in (v.lower() for v in values)):
        found.add("insecure_scheme")
    if "default-src" not in policy:
        found.add("missing_default_src")
    if "base-uri" not in policy:
        found.add("missing_base_uri")
    if "frame-ancestors" not in policy:
        found.add("missing_frame_ancestors")
    return found


def grade(header: Sequence[str], report_only: Sequence[str], meta: Sequence[str]) -> dict[str, Any]:
    """What the page's policies leave open, ``{"source", "policies", "problems"}``.

    A policy in ``<meta>`` applies like a header one, except that browsers
    ignore ``frame-ancestors`` (and reporting, sandbox) there (CSP3 6.1.1).
    """
    enforced = parse_header(header)
    metas = [p for p in (parse_policy(m) for m in meta) if p]
    source = "header" if enforced else "meta" if metas else "report-only" if report_only else None
    if not enforced and not metas:
        problem = "report_only" if parse_header(report_only) else "missing"
        return {"source": source, "policies": [], "problems": [problem]}
    each = [policy_problems(p) for p in enforced]
    for policy in metas:
        found = policy_problems(policy)
        found.add("missing_frame_ancestors")
        each.append(found)
    common = set.intersection(*each)
    if not enforced:
        common.add("meta_only")
    order = list(PROBLEMS)
    return {
        "source": source,
        "policies": enforced + metas,
        "problems": sorted(common, key=order.index),
    }
