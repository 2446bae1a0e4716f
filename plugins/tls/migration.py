"""Stored ``tls`` facts of an older schema version, in today's shape (docs/tls-certificates.md).

Version 1 (before the certificate collector stopped recording verdicts) kept
the served chain's fields, the verifier's answer and the problems it judged
then. Everything today's certificate rules read is derived from those fields;
what version 1 never recorded is ``None``, which every check reads as "not
measured". The table in docs/tls-certificates.md lists each field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from scanner.timeutil import parse_timestamp

# Top-level facts that probes added after version 1 recorded: not measured then.
_UNRECORDED_FACTS = (
    "starttls", "secure_renegotiation", "compression", "heartbeat", "fallback_scsv", "heartbleed",
    "ccs_injection", "robot", "robot_answers", "session_resumption", "sct_tls_extension",
    "signature_algorithms", "weak_signature_algorithms", "revocation", "client_renegotiation",
    "early_data", "dh_groups",
)
# Certificate fields version 1 did not record.
UNRECORDED_CERTIFICATE_FIELDS = (
    "spki_sha256", "path_length", "key_usage", "extended_key_usage", "ocsp_urls", "sct_count",
    "must_staple",
)
_TRUST_STORE_ERROR = "cannot read the trust store"
_MISSING_INTERMEDIATE = "The server does not send the intermediate certificate "


def migrate_facts(version: int, facts: Mapping[str, Any]) -> dict[str, Any]:
    """Upgrade stored ``tls`` facts of ``version`` to the current version (2)."""
    if version != 1:
        raise ValueError(f"unknown tls facts version {version}")
    out = dict(facts)
    for key in _UNRECORDED_FACTS:
        out.setdefault(key, None)
    if isinstance(facts.get("certificate"), Mapping):
        out["certificate"] = certificate_from_v1(facts["certificate"])
    return out


def certificate_from_v1(old: Mapping[str, Any]) -> dict[str, Any]:
    """``certificate`` facts of version 1 (``analyze_chain``) as ``describe_chain`` writes them."""
    served = [dict(c) for c in old.get("certificates") or []]
    for cert in served:
        if "error" not in cert:
            cert.update(dict.fromkeys(UNRECORDED_CERTIFICATE_FIELDS), issued_by=None, in_trust_store=False)
    verify_error = old.get("verify_error")
    store_error = verify_error if str(verify_error).startswith(_TRUST_STORE_ERROR) else None
    # Version 1 always took the first served certificate as the leaf.
    leaf = 0 if served and "error" not in served[0] and store_error is None else None
    new: dict[str, Any] = {
        "hostname": old.get("hostname"),
        "checked_at": _checked_at(served),
        "certificates": served,
        "leaf": leaf,
        "chain": [],
        "anchor": old.get("anchor"),
        "known_issuer": _known_issuer(old.get("problems") or []),
        "verification": None,
        "trust_verification": None,
        "trust_store": list(old.get("trust_store") or []),
        "trust_store_error": store_error,
        "ocsp_stapled": old.get("ocsp_stapled"),
        "ocsp": None,
    }
    if leaf is None:
        return new
    new["chain"] = _served_path(served, old.get("path") or [])
    for lower, upper in zip(new["chain"], new["chain"][1:], strict=False):
        served[lower]["issued_by"] = upper
    anchor_hash = (old.get("anchor") or {}).get("sha256")
    for cert in served:
        if "error" not in cert:
            cert["in_trust_store"] = anchor_hash is not None and cert.get("sha256") == anchor_hash
    verified = bool(old.get("verified"))
    path = list(old.get("path") or [])
    new["verification"] = {"verified": verified, "error": None if verified else verify_error,
                           "path": path if verified else []}
    if not verified:
        # One bit survives of the second question (trusted apart from dates and name): its answer.
        trusted = bool(old.get("trusted"))
        new["trust_verification"] = {"verified": trusted, "error": None if trusted else verify_error,
                                     "path": path if trusted else []}
    return new


def _checked_at(served: list[dict[str, Any]]) -> str | None:
    """The scan moment, to the day: the latest moment every stored ``days_left`` allows.

    ``days_left`` is whole days from the scan to ``not_after`` rounded down, so
    the moment lies within a day before each ``not_after - days_left``; the
    earliest of those is at most a day after the scan, and exact about expiry.
    """
    bounds = []
    for cert in served:
        after = parse_timestamp(cert["not_after"]) if isinstance(cert.get("not_after"), str) else None
        if after is not None and isinstance(cert.get("days_left"), int):
            bounds.append(after - dt.timedelta(days=cert["days_left"]))
    if not bounds:
        return None
    return min(bounds).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _served_path(served: list[dict[str, Any]], path: list[Mapping[str, Any]]) -> list[int]:
    """Version 1's path (leaf first, maybe ending at an unserved anchor) as served indexes."""
    index = {c.get("sha256"): i for i, c in enumerate(served) if "error" not in c}
    chain: list[int] = []
    for step in path:
        found = index.get(step.get("sha256"))
        if found is None or found in chain:
            break
        chain.append(found)
    return chain or [0]


def _known_issuer(problems: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The intermediate that version 1 found in the CA bundle but not served (its hash was not kept)."""
    for problem in problems:
        message = str(problem.get("message") or "")
        if problem.get("code") == "incomplete_chain" and message.startswith(_MISSING_INTERMEDIATE):
            return {"subject": message[len(_MISSING_INTERMEDIATE):].split("; clients", 1)[0], "sha256": None}
    return None


__all__ = ["UNRECORDED_CERTIFICATE_FIELDS", "certificate_from_v1", "migrate_facts"]
