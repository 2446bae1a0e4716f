"""Protocol and cipher checks of the ``tls`` plugin.

They judge the enumeration facts (``protocols``, ``ciphers``, ``groups``,
``ecdhe_curves``, ``dh_bits``, ``dh_groups``, ``server_order``, ``order``) documented in
docs/tls.md. Each check function sits beside its :class:`Check` and the
probing it needs (``NEEDS``); the certificate checks live in :mod:`.certchecks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from scanner.models import AssetKind, ErrorReason, Outcome
from scanner.options import Option
from scanner.plugin import Check

from . import suites as S
from .dhparams import GROUPS, PRECOMPUTABLE
from .probe import Plan

_ENDPOINT = frozenset({AssetKind.ENDPOINT})
_PROTOCOL_CHOICES = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_FORBID_CHOICES = (*S.CATEGORIES, "weak_dh")
_CATEGORY_WORDS = {
    "null": "no encryption (NULL)",
    "anonymous": "no authentication (anonymous)",
    "export": "export-grade",
    "rc4": "RC4",
    "3des": "3DES",
    "des": "DES",
    "cbc": "CBC mode",
    "md5": "MD5",
    "no_forward_secrecy": "no forward secrecy",
    "dhe": "finite-field DHE",
    "weak_dh": "weak Diffie-Hellman",
}

# What each check needs probed beyond the accepted protocols and the chain.
NEEDS: dict[str, Plan] = {}


# ------------------------------------------------------------------ helpers


def _accepted(facts: Mapping[str, Any]) -> list[str]:
    protocols = facts.get("protocols") or {}
    return [p.value for p in S.PROTOCOLS if protocols.get(p.value) is True]


def _why_unknown(facts: Mapping[str, Any], key: str) -> str:
    errors = facts.get("errors") or {}
    why = errors.get(key)
    return f" ({why})" if why else ""


def _norm_protocols(names: Sequence[str]) -> list[S.Protocol]:
    return [S.Protocol.parse(n) for n in names]


def _suite_label(suite: Mapping[str, Any]) -> str:
    return str(suite.get("iana") or suite.get("code"))


# ------------------------------------------------------------------ checks


def evaluate_protocols(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Only allowed SSL/TLS versions are accepted.

    Options:

    * ``minimum`` (str, default: ``"TLSv1.2"`` unless ``allowed`` is set):
      versions below it are forbidden.
    * ``allowed`` (list of str, default: not set): when set, every version not
      listed is forbidden (Mozilla ``tls_versions``; ``TLSv1`` means 1.0).
    * ``required`` (list of str, default ``[]``): versions that must be accepted.

    A forbidden version whose probe timed out or failed makes the result an
    error, never a pass: a timeout is not a "no".

    PASS: minimum ``TLSv1.2``; the server accepts TLSv1.2 and TLSv1.3 and
    refuses SSLv2, SSLv3, TLSv1.0 and TLSv1.1.
    FAIL: allowed ``[TLSv1.2, TLSv1.3]``; the server also accepts TLSv1.0:
    ``The server accepts TLSv1.0, which the policy forbids.``
    """
    protocols = facts.get("protocols") or {}
    allowed = _norm_protocols(options["allowed"]) if options.get("allowed") is not None else None
    minimum_name = options.get("minimum") or ("SSLv2" if allowed is not None else "TLSv1.2")
    minimum = S.Protocol.parse(minimum_name)
    required = _norm_protocols(options.get("required") or [])
    forbidden = [
        p for p in S.PROTOCOLS
        if p.rank < minimum.rank or (allowed is not None and p not in allowed)
    ]
    accepted = _accepted(facts)
    evidence = {"accepted": accepted, "forbidden": [p.value for p in forbidden]}
    bad = [p.value for p in forbidden if protocols.get(p.value) is True]
    missing = [p.value for p in required if protocols.get(p.value) is False]
    if bad or missing:
        parts = []
        if bad:
            parts.append(f"The server accepts {', '.join(bad)}, which the policy forbids.")
        if missing:
            parts.append(f"The server does not accept {', '.join(missing)}, which the policy requires.")
        return Outcome.failed(" ".join(parts), **evidence, forbidden_accepted=bad,
                              required_missing=missing)
    unknown = [p.value for p in [*forbidden, *required] if protocols.get(p.value) is None]
    if unknown:
        details = "".join(_why_unknown(facts, u) for u in unknown[:1])
        return Outcome.error(
            ErrorReason.NO_DATA,
            f"Could not tell whether the server accepts {', '.join(unknown)}{details}.",
            **evidence, unknown=unknown)
    return Outcome.passed(
        f"The server accepts only {', '.join(accepted) or 'no version'}, as the policy allows.",
        **evidence)


PROTOCOLS = Check(
    id="tls.protocols",
    title="Only allowed SSL/TLS versions are accepted",
    kinds=_ENDPOINT,
    evaluate=evaluate_protocols,
    options={
        "minimum": Option("str", "lowest allowed version (TLSv1.2 unless allowed is set)",
                          default=None, choices=_PROTOCOL_CHOICES),
        "allowed": Option("list[str]", "versions allowed (others forbidden)", default=None,
                          choices=_PROTOCOL_CHOICES),
        "required": Option("list[str]", "versions that must be accepted", default=[],
                           choices=_PROTOCOL_CHOICES),
    },
)
NEEDS[PROTOCOLS.id] = Plan.nothing()


def _resolve_names(names: Sequence[str]) -> tuple[set[int], list[str]]:
    codes: set[int] = set()
    unknown: list[str] = []
    for name in names:
        suite = S.suite_by_name(name)
        if suite is None:
            unknown.append(name)
        else:
            codes.add(suite.code)
    return codes, unknown


def evaluate_ciphers(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Every accepted cipher suite is allowed.

    Options:

    * ``allowed`` (list of str, default: not set): allowed TLS 1.2-and-below suites,
      by IANA or OpenSSL name (Mozilla ``ciphers.iana`` or ``ciphers.openssl``);
      ``[]`` allows none. SSLv2 suites are judged against it too.
    * ``allowed_tls13`` (list of str, default: not set): allowed TLS 1.3 suites
      (Mozilla ``ciphersuites``).
    * ``forbid`` (list of str, default ``[]``): forbidden categories, any of
      ``null``, ``anonymous``, ``export``, ``rc4``, ``3des``, ``des``, ``cbc``,
      ``md5``, ``no_forward_secrecy``, ``dhe``, ``weak_dh`` (a DHE suite with a
      modulus below ``min_dh_bits``).
    * ``min_dh_bits`` (int, default ``2048``): the bar for ``weak_dh``.

    PASS: forbid ``[null, anonymous, export, rc4, 3des, des]``; the server
    accepts only ECDHE-RSA-AES128-GCM-SHA256 and TLS_AES_128_GCM_SHA256.
    FAIL: same options; the server accepts TLS_RSA_WITH_3DES_EDE_CBC_SHA on
    TLSv1.2: ``TLSv1.2 accepts 1 forbidden cipher suite:
    TLS_RSA_WITH_3DES_EDE_CBC_SHA (3DES).``
    """
    allowed12: set[int] | None = None
    allowed13: set[int] | None = None
    unknown_names: list[str] = []
    if options.get("allowed") is not None:
        allowed12, bad = _resolve_names(options["allowed"])
        unknown_names += bad
    if options.get("allowed_tls13") is not None:
        allowed13, bad = _resolve_names(options["allowed_tls13"])
        unknown_names += bad
    if unknown_names:
        return Outcome.error(
            ErrorReason.BUG,
            f"The policy names cipher suites civiscan does not know: {', '.join(unknown_names)}.",
            unknown_suites=unknown_names)
    forbid = set(options.get("forbid") or [])
    min_dh = options.get("min_dh_bits", 2048)
    dh_bits = facts.get("dh_bits")
    ciphers = facts.get("ciphers") or {}
    complete = facts.get("ciphers_complete") or {}
    violations: dict[str, list[str]] = {}
    unknown: list[str] = []
    for proto in _accepted(facts):
        listed = ciphers.get(proto)
        if listed is None:
            unknown.append(proto)
            continue
        if complete.get(proto) is False:
            unknown.append(proto)
        allow = allowed13 if proto == "TLSv1.3" else allowed12
        for suite in listed:
            reasons = _suite_violations(suite, allow, forbid, min_dh, dh_bits)
            if reasons is None:
                unknown.append(f"{proto} DH size")
            elif reasons:
                violations.setdefault(proto, []).append(
                    f"{_suite_label(suite)} ({', '.join(reasons)})")
    evidence: dict[str, Any] = {"accepted": {p: [_suite_label(s) for s in ciphers.get(p) or []]
                                             for p in _accepted(facts)}}
    if dh_bits is not None:
        evidence["dh_bits"] = dh_bits
    if violations:
        sentences = [
            f"{proto} accepts {len(items)} forbidden cipher suite"
            f"{'s' if len(items) > 1 else ''}: {', '.join(items)}."
            for proto, items in violations.items()
        ]
        return Outcome.failed(" ".join(sentences), **evidence, violations=violations)
    if unknown:
        return Outcome.error(
            ErrorReason.NO_DATA,
            f"The accepted cipher suites could not be fully listed for {', '.join(unknown)}"
            f"{_why_unknown(facts, unknown[0].split()[0])}.",
            **evidence, unknown=unknown)
    return Outcome.passed("Every accepted cipher suite is allowed by the policy.", **evidence)


def _suite_violations(suite: Mapping[str, Any], allow: set[int] | None, forbid: set[str],
                      min_dh: int, dh_bits: int | None) -> list[str] | None:
    """Why one accepted suite breaks the policy ([] if it does not, None if unknowable)."""
    reasons: list[str] = []
    code = int(str(suite.get("code", "0")), 16)
    if allow is not None and code not in allow:
        reasons.append("not in the allowed list")
    categories = set(suite.get("categories") or [])
    for cat in sorted(forbid & categories):
        reasons.append(_CATEGORY_WORDS[cat])
    if "weak_dh" in forbid and "dhe" in categories:
        if dh_bits is None:
            return reasons or None
        if dh_bits < min_dh:
            reasons.append(f"{dh_bits}-bit Diffie-Hellman, below {min_dh}")
    return reasons


CIPHERS = Check(
    id="tls.ciphers",
    title="Only allowed cipher suites are accepted",
    kinds=_ENDPOINT,
    evaluate=evaluate_ciphers,
    options={
        "allowed": Option("list[str]", "allowed TLS<=1.2 suites (IANA or OpenSSL names)",
                          default=None),
        "allowed_tls13": Option("list[str]", "allowed TLS 1.3 suites", default=None),
        "forbid": Option("list[str]", "forbidden suite categories", default=[],
                         choices=_FORBID_CHOICES),
        "min_dh_bits": Option("int", "smallest DHE modulus for weak_dh", default=2048,
                              minimum=512),
    },
)
NEEDS[CIPHERS.id] = Plan.only("ciphers")


def evaluate_key_exchange(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Key exchange groups are allowed and strong enough.

    Judges the TLS 1.3 groups (``groups``), the TLS 1.2 ECDHE curves
    (``ecdhe_curves``) and the DHE modulus (``dh_bits``).

    Options:

    * ``allowed_groups`` (list of str, default: not set): allowed groups and
      curves, IANA or OpenSSL names (Mozilla ``tls_curves``; ``prime256v1`` =
      ``secp256r1``).
    * ``min_dh_bits`` (int, default ``2048``): smallest finite-field group
      (DHE modulus, ffdhe groups); Mozilla ``dh_param_size``.
    * ``min_ecdh_bits`` (int, default ``256``): smallest elliptic curve
      (x25519 counts as 256); Mozilla ``ecdh_param_size``.

    PASS: min_dh_bits 2048; the server uses x25519, secp256r1 and 2048-bit DHE.
    FAIL: min_dh_bits 2048; DHE suites use a 1024-bit modulus:
    ``DHE uses a 1024-bit modulus, below the 2048 bits required.``
    """
    allowed_names = options.get("allowed_groups")
    allowed: set[int] | None = None
    if allowed_names is not None:
        allowed = set()
        bad_names = []
        for name in allowed_names:
            group = S.group_by_name(name)
            if group is None:
                bad_names.append(name)
            else:
                allowed.add(group.code)
        if bad_names:
            return Outcome.error(ErrorReason.BUG,
                                 f"The policy names unknown groups: {', '.join(bad_names)}.")
    min_dh = options["min_dh_bits"]
    min_ec = options["min_ecdh_bits"]
    problems: list[str] = []
    unknown: list[str] = []
    accepted = _accepted(facts)
    seen: dict[str, list[str]] = {}
    for key, label, applies in (
        ("groups", "TLS 1.3 group", "TLSv1.3" in accepted),
        ("ecdhe_curves", "TLS 1.2 curve", any(p in accepted for p in
                                              ("TLSv1.2", "TLSv1.1", "TLSv1.0", "SSLv3"))),
    ):
        if not applies:
            continue
        names = facts.get(key)
        if names is None:
            unknown.append(key)
            continue
        seen[key] = list(names)
        for name in names:
            group = S.group_by_name(name)
            if group is None:
                continue
            if allowed is not None and group.code not in allowed:
                problems.append(f"{label} {name} is not in the allowed list")
            if group.kind == "ffdhe" and group.bits < min_dh:
                problems.append(f"{label} {name} has {group.bits} bits, below {min_dh}")
            elif group.kind in ("ec", "ecx", "hybrid") and group.bits < min_ec:
                problems.append(f"{label} {name} has {group.bits} bits, below {min_ec}")
    dh_bits = facts.get("dh_bits")
    if dh_bits is not None and dh_bits < min_dh:
        problems.append(f"DHE uses a {dh_bits}-bit modulus, below the {min_dh} bits required")
    elif dh_bits is None and _accepts_dhe(facts):
        unknown.append("dh_bits")
    evidence = {**seen, "dh_bits": dh_bits}
    if problems:
        return Outcome.failed("; ".join(problems) + ".", **evidence, problems=problems)
    if unknown:
        return Outcome.error(ErrorReason.NO_DATA,
                             f"Could not measure {', '.join(unknown)}{_why_unknown(facts, 'TLSv1.3 groups')}.",
                             **evidence, unknown=unknown)
    return Outcome.passed("Every key exchange group is allowed and strong enough.", **evidence)


def _accepts_dhe(facts: Mapping[str, Any]) -> bool:
    ciphers = facts.get("ciphers") or {}
    return any("dhe" in (s.get("categories") or []) for suites in ciphers.values() if suites
               for s in suites)


KEY_EXCHANGE = Check(
    id="tls.key_exchange",
    title="Key exchange groups are allowed and strong enough",
    kinds=_ENDPOINT,
    evaluate=evaluate_key_exchange,
    options={
        "allowed_groups": Option("list[str]", "allowed groups/curves", default=None),
        "min_dh_bits": Option("int", "smallest finite-field group in bits", default=2048,
                              minimum=512),
        "min_ecdh_bits": Option("int", "smallest elliptic curve in bits", default=256,
                                minimum=160),
    },
)
NEEDS[KEY_EXCHANGE.id] = Plan.only("ciphers", "groups")


def evaluate_dh_groups(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The DHE moduli are safe primes and not well-known weak groups.

    Fact ``dh_groups``: each distinct modulus seen in a DHE ServerKeyExchange,
    with ``bits``, ``generator``, ``safe_prime`` (p and (p-1)/2 both prime:
    16 Miller-Rabin rounds on (p-1)/2, then Pocklington for p; ``null`` above
    4096 bits, not tested) and ``name`` (an RFC 2409/3526 MODP or RFC 7919
    FFDHE group, recognised by value).

    Options:

    * ``safe_prime`` (bool, default ``true``): fail a modulus that is not a
      safe prime (composite, or DSA-style with small subgroups, e.g. RFC 5114
      or ``openssl dhparam -dsaparam``), unless ``false``.
    * ``forbid_groups`` (list of str, default ``[oakley-group-1,
      oakley-group-2]``): well-known groups that must not be used (the 768-
      and 1024-bit Oakley groups can be precomputed: Logjam).

    PASS: the server uses ffdhe2048.
    FAIL: ``The 2048-bit DHE modulus is not a safe prime: it may have small
    subgroups.``
    """
    groups = facts.get("dh_groups")
    if groups is None:
        return Outcome.error(ErrorReason.NO_DATA, "The DHE parameters were not examined.")
    if not groups:
        if _accepts_dhe(facts):
            return Outcome.error(ErrorReason.NO_DATA,
                                 "A DHE suite is accepted but no DHE parameters were seen.")
        return Outcome.not_applicable("No DHE suite is accepted.")
    forbidden = set(options["forbid_groups"])
    problems: list[str] = []
    unknown: list[str] = []
    for group in groups:
        what = f"The {group.get('bits')}-bit DHE modulus"
        if group.get("name") in forbidden:
            problems.append(f"{what} is the well-known {group['name']}, which the policy forbids.")
        if options["safe_prime"] and group.get("safe_prime") is False:
            problems.append(f"{what} is not a safe prime: it may have small subgroups.")
        elif options["safe_prime"] and group.get("safe_prime") is None:
            unknown.append(f"{what} is too large to test")
    if problems:
        return Outcome.failed(" ".join(problems), dh_groups=list(groups))
    if unknown:
        return Outcome.error(ErrorReason.NO_DATA, "; ".join(unknown) + ".", dh_groups=list(groups))
    return Outcome.passed("Every DHE modulus is a safe prime the policy allows.",
                          dh_groups=list(groups))


DH_GROUPS = Check(
    id="tls.dh_groups",
    title="DHE moduli are safe primes, not weak well-known groups",
    kinds=_ENDPOINT,
    evaluate=evaluate_dh_groups,
    options={
        "safe_prime": Option("bool", "require safe-prime moduli", default=True),
        "forbid_groups": Option("list[str]", "well-known groups that must not be used",
                                default=list(PRECOMPUTABLE),
                                choices=tuple(name for name, *_ in GROUPS)),
    },
)
NEEDS[DH_GROUPS.id] = Plan.only("ciphers")


def evaluate_server_order(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server imposes its own cipher-suite order (or, with ``expect: client``, does not).

    Options:

    * ``expect`` (str, default ``"server"``): ``server`` = the server must pick by
      its own preference (Mozilla old: ``server_preferred_order: true``);
      ``client`` = it must follow the client's order (Mozilla intermediate).
    * ``protocols`` (list of str, default ``[]``): versions to judge; empty
      means every accepted version below TLS 1.3. A version with fewer than two
      accepted suites has no order to judge and is skipped.

    PASS: expect ``server``; picking from TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    and TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 offered in both orders, the
    server picks the same suite.
    FAIL: expect ``server``; the server takes the client's first choice:
    ``The server follows the client's cipher order on TLSv1.2.``
    """
    expect_server = options["expect"] == "server"
    scope = _norm_protocols(options.get("protocols") or [])
    accepted = _accepted(facts)
    wanted: list[str]
    if scope:
        wanted = [p.value for p in scope if p.value in accepted]
    else:
        wanted = [p for p in accepted if p != "TLSv1.3"]
    orders = facts.get("server_order") or {}
    ciphers = facts.get("ciphers") or {}
    judged: dict[str, bool] = {}
    unknown: list[str] = []
    for proto in wanted:
        value = orders.get(proto)
        if value is None:
            if ciphers.get(proto) is not None and len(ciphers[proto]) < 2:
                continue
            unknown.append(proto)
        else:
            judged[proto] = value
    evidence = {"server_order": judged, "order": {p: (facts.get("order") or {}).get(p)
                                                  for p in judged if judged[p]}}
    wrong = [p for p, v in judged.items() if v != expect_server]
    if wrong:
        if expect_server:
            message = f"The server follows the client's cipher order on {', '.join(wrong)}."
        else:
            message = f"The server imposes its own cipher order on {', '.join(wrong)}."
        return Outcome.failed(message, **evidence)
    if unknown:
        return Outcome.error(ErrorReason.NO_DATA,
                             f"Could not tell who picks the cipher suite on {', '.join(unknown)}.",
                             **evidence, unknown=unknown)
    if not judged:
        return Outcome.not_applicable("No protocol version has two or more cipher suites to order.",
                                      **evidence)
    who = "its own" if expect_server else "the client's"
    return Outcome.passed(f"The server uses {who} cipher order on {', '.join(judged)}.", **evidence)


SERVER_ORDER = Check(
    id="tls.server_order",
    title="Cipher suite order is chosen as the policy says",
    kinds=_ENDPOINT,
    evaluate=evaluate_server_order,
    options={
        "expect": Option("str", "who picks the suite: server or client", default="server",
                         choices=("server", "client")),
        "protocols": Option("list[str]", "versions to judge (default: all below 1.3)",
                            default=[], choices=_PROTOCOL_CHOICES),
    },
)
NEEDS[SERVER_ORDER.id] = Plan.only("ciphers", "order")


CHECKS: tuple[Check, ...] = (PROTOCOLS, CIPHERS, KEY_EXCHANGE, DH_GROUPS, SERVER_ORDER)

__all__ = ["CHECKS", "NEEDS"]
