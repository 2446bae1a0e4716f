"""Certificate checks of the ``tls`` plugin: ``tls.certificate``, ``tls.ocsp_stapling``,
``tls.certificate_transparency`` and ``tls.revocation``.

They judge ``facts["certificate"]`` (what :func:`.certs.describe_chain` saw)
and ``facts["ocsp_stapling"]``. Every verdict is made here, by small named
rules (one per problem family), and every floor is an option, so
``civiscan evaluate`` can re-judge stored facts under another policy.
Each check function sits beside its :class:`Check`; its docstring states the
options, their defaults, and a PASS and a FAIL example.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from scanner.models import AssetKind, ErrorReason, Outcome, parse_reason
from scanner.options import Option
from scanner.plugin import Check
from scanner.timeutil import parse_timestamp, readable_time

from .probe import Plan

_ENDPOINT = frozenset({AssetKind.ENDPOINT})
_KEY_TYPES = ("rsa", "ecdsa", "dsa", "ed25519", "ed448")
# Digests the web-PKI verifier refuses whatever the policy says: a chain that
# reaches an anchor and is refused only for these is trusted, and weak.
_VERIFIER_REFUSED_DIGESTS = frozenset({"md2", "md5", "sha1"})

Problem = dict[str, Any]


def _problem(code: str, message: str, index: int | None = None, **evidence: Any) -> Problem:
    return {"code": code, "message": message, "certificate": index, **evidence}


def _time(text: Any) -> dt.datetime | None:
    return parse_timestamp(text) if isinstance(text, str) else None


class ChainView(NamedTuple):
    """A read-only view of the certificate facts that the rules share."""

    facts: Mapping[str, Any]
    certificates: Sequence[Mapping[str, Any]]
    leaf_index: int
    checked_at: dt.datetime | None

    @property
    def leaf(self) -> Mapping[str, Any]:
        return self.certificates[self.leaf_index]

    @property
    def chain(self) -> list[int]:
        """ChainView indexes from the leaf up, following the signatures."""
        return list(self.facts.get("chain") or [self.leaf_index])

    def decoded(self) -> list[Mapping[str, Any]]:
        return [c for c in self.certificates if "error" not in c]

    def what(self, index: int) -> str:
        if index == self.leaf_index:
            return "The certificate"
        return f"Chain certificate {index} ({self.certificates[index].get('subject')})"


Rule = Callable[[ChainView, Mapping[str, Any]], list[Problem]]


# ------------------------------------------------------------------ rules


def rule_chain_order(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``misordered_chain``: the leaf is not served first, or an issuer comes before what it signed."""
    if not options["chain_order"]:
        return []
    served_order = [i for i in range(len(chain.certificates)) if i in chain.chain]
    if chain.leaf_index == 0 and served_order == chain.chain:
        return []
    order = ", ".join(str(i) for i in chain.chain)
    return [
        _problem(
            "misordered_chain",
            f"The server sends its chain out of order: the certificate for the host is "
            f"number {chain.leaf_index} of {len(chain.certificates)}, and the issuers follow "
            f"as {order} (leaf first, each followed by its issuer, is required by TLS).",
            chain.leaf_index,
            served_path=chain.chain,
        )
    ]


def rule_hostname(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``hostname_mismatch``: no subjectAltName of the leaf covers the host name."""
    if not options["hostname"]:
        return []
    host = str(chain.facts.get("hostname") or "")
    dns, ips = chain.leaf.get("san_dns") or [], chain.leaf.get("san_ip") or []
    from .certs import hostname_matches  # with cryptography, only when a certificate is judged

    if hostname_matches(host, dns, ips):
        return []
    names = ", ".join([*dns, *ips][:10]) or "none"
    return [
        _problem(
            "hostname_mismatch",
            f"The certificate is not valid for {host} (it names: {names}).",
            chain.leaf_index,
        )
    ]


def _verifier_trusts(chain: ChainView) -> bool:
    return any(
        (chain.facts.get(key) or {}).get("verified") for key in ("verification", "trust_verification")
    )


def _refusal_is_explained(chain: ChainView) -> bool:
    """The chain reaches an anchor and the verifier refused it only for what other rules report.

    A SHA-1/MD5 signature on the path or a leaf without subjectAltName are
    refused by web-PKI rules; they are ``weak_signature`` and ``hostname_mismatch``.
    """
    weak = any(
        chain.certificates[i].get("signature_digest") in _VERIFIER_REFUSED_DIGESTS
        and not (i != chain.leaf_index and chain.certificates[i].get("self_signed"))
        for i in chain.chain
    )
    return weak or not (chain.leaf.get("san_dns") or chain.leaf.get("san_ip"))


def rule_trust(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``self_signed``, ``untrusted_root``, ``incomplete_chain``, ``chain_invalid``."""
    if not options["trusted"]:
        return []
    facts = chain.facts
    if facts.get("trust_store_error"):
        return [_problem("untrusted_root", f"The chain could not be checked: {facts['trust_store_error']}.")]
    if _verifier_trusts(chain):
        return []
    if facts.get("anchor"):
        if _refusal_is_explained(chain):
            return []
        reason = (facts.get("trust_verification") or facts.get("verification") or {}).get("error")
        return [
            _problem(
                "chain_invalid",
                "The chain leads to a trusted root but breaks a certificate rule: "
                f"{reason or 'the verifier gave no reason'}",
                verify_error=reason,
            )
        ]
    return [_untrusted(chain)]


def _untrusted(chain: ChainView) -> Problem:
    """Why a chain that reaches no anchor is untrusted, named by what its top looks like."""
    known = chain.facts.get("known_issuer")
    if known:
        return _problem(
            "incomplete_chain",
            f"The server does not send the intermediate certificate {known['subject']}; "
            "clients that do not already have it cannot verify the chain.",
        )
    top_index = chain.chain[-1]
    top = chain.certificates[top_index]
    if top.get("self_signed"):
        if top_index == chain.leaf_index:
            return _problem("self_signed", "The certificate is self-signed and not trusted.", top_index)
        return _problem(
            "untrusted_root", f"The chain ends at the root {top['subject']}, which is not trusted."
        )
    aia = top.get("aia_ca_issuers") or []
    if aia:
        return _problem(
            "incomplete_chain",
            f"The issuer {top['issuer']} is not served; the certificate points to it at "
            f"{aia[0]} (not fetched), so the chain is likely incomplete.",
        )
    return _problem("untrusted_root", f"The issuer {top['issuer']} is neither served nor trusted.")


def rule_validity(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``expired`` / ``not_yet_valid``: a certificate on the path, at scan time (always judged)."""
    now = chain.checked_at
    if now is None:
        return []
    problems = []
    for index in chain.chain:
        info = chain.certificates[index]
        after, before = _time(info.get("not_after")), _time(info.get("not_before"))
        if after is not None and after < now:
            problems.append(
                _problem("expired", f"{chain.what(index)} expired on {readable_time(info['not_after'])}.", index)
            )
        elif before is not None and before > now:
            problems.append(
                _problem(
                    "not_yet_valid",
                    f"{chain.what(index)} is not valid before {readable_time(info['not_before'])}.",
                    index,
                )
            )
    return problems


def rule_expires_soon(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``expires_soon``: the leaf has fewer than ``min_days_left`` days left at scan time."""
    days_left = chain.leaf.get("days_left")
    minimum = options["min_days_left"]
    if not isinstance(days_left, int) or not 0 <= days_left < minimum:
        return []
    return [
        _problem(
            "expires_soon",
            f"The certificate expires in {days_left} days, on {readable_time(chain.leaf.get('not_after'))}"
            f" (at least {minimum} days are required).",
            chain.leaf_index,
        )
    ]


def rule_lifespan(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``lifespan_too_long``: a leaf issued since ``lifespan_since`` valid longer than allowed."""
    lifespan = chain.leaf.get("lifespan_days")
    not_before = _time(chain.leaf.get("not_before"))
    since = dt.datetime.fromisoformat(options["lifespan_since"]).replace(tzinfo=dt.UTC)
    limit = options["max_lifespan_days"]
    if not isinstance(lifespan, int) or not_before is None or not_before < since or lifespan <= limit:
        return []
    return [
        _problem(
            "lifespan_too_long",
            f"The certificate is valid for {lifespan} days; at most {limit} are allowed "
            f"for certificates issued since {options['lifespan_since']}.",
            chain.leaf_index,
        )
    ]


def _weak_key(info: Mapping[str, Any], minimums: Mapping[str, int], what: str) -> Problem | None:
    key = info.get("key") or {}
    minimum, size = minimums.get(str(key.get("type"))), key.get("size")
    if minimum is None or not isinstance(size, int) or size >= minimum:
        return None
    return _problem(
        "weak_key",
        f"{what} has a {size}-bit {str(key.get('type')).upper()} key; at least {minimum} bits are required.",
        info.get("index"),
    )


def rule_leaf_key(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``key_type`` / ``weak_key`` for the leaf, against ``key_types`` (else ``chain_key_bits``)."""
    allowed: Mapping[str, int] = options["key_types"] or options["chain_key_bits"]
    key = chain.leaf.get("key") or {}
    if options["key_types"] and key.get("type") not in allowed:
        return [
            _problem(
                "key_type",
                f"The certificate has a {str(key.get('type')).upper()} key; allowed: {', '.join(sorted(allowed))}.",
                chain.leaf_index,
            )
        ]
    weak = _weak_key(chain.leaf, allowed, "The certificate")
    return [weak] if weak else []


def _weak_signature(chain: ChainView, index: int, weak_digests: set[str]) -> Problem | None:
    info = chain.certificates[index]
    # A root's self-signature is never verified by anyone, so its digest is moot.
    if index != chain.leaf_index and info.get("self_signed"):
        return None
    if str(info.get("signature_digest")).lower() not in weak_digests:
        return None
    return _problem(
        "weak_signature",
        f"{chain.what(index)} is signed with {info['signature_algorithm']}, which is no longer secure.",
        index,
    )


def rule_leaf_signature(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``signature_algorithm`` against ``signature_algorithms``, else ``weak_signature`` by ``weak_digests``."""
    allowed = {s.lower() for s in options["signature_algorithms"]}
    signature = str(chain.leaf.get("signature_algorithm"))
    if not allowed:
        weak = _weak_signature(chain, chain.leaf_index, {d.lower() for d in options["weak_digests"]})
        return [weak] if weak else []
    if signature.lower() in allowed:
        return []
    return [
        _problem(
            "signature_algorithm",
            f"The certificate is signed with {signature}, which the policy does not allow.",
            chain.leaf_index,
        )
    ]


def rule_chain_strength(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``weak_signature`` / ``weak_key`` for every served certificate other than the leaf."""
    weak_digests = {d.lower() for d in options["weak_digests"]}
    problems: list[Problem] = []
    for info in chain.decoded():
        index = info["index"]
        if index == chain.leaf_index:
            continue
        found = (
            _weak_signature(chain, index, weak_digests),
            _weak_key(info, options["chain_key_bits"], chain.what(index)),
        )
        problems.extend(p for p in found if p)
    return problems


def rule_unparseable(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``unparseable``: a served certificate is not valid DER (it is skipped; always judged)."""
    return [
        _problem(
            "unparseable",
            f"Certificate {info['index']} of the served chain cannot be decoded.",
            info["index"],
        )
        for info in chain.certificates
        if "error" in info
    ]


def rule_revocation(chain: ChainView, options: Mapping[str, Any]) -> list[Problem]:
    """``revoked``, ``ocsp_stale``, ``ocsp_mismatch``: what the stapled OCSP response says."""
    response = chain.facts.get("ocsp")
    if not options["revocation"] or not isinstance(response, Mapping):
        return []
    return [p for p in ocsp_problems(response, chain.checked_at, options["ocsp_max_age_days"])
            if p is not None]


def ocsp_problems(
    response: Mapping[str, Any], now: dt.datetime | None, max_age_days: int
) -> list[Problem]:
    """The problems of one parsed stapled response (empty: good, fresh, for this certificate)."""
    evidence: dict[str, Any] = {"ocsp": dict(response)}
    if response.get("error") or response.get("response_status") != "successful":
        why = response.get("error") or f"status {response.get('response_status')}"
        return [_problem("ocsp_mismatch", f"The stapled OCSP response is unusable ({why}).", **evidence)]
    problems: list[Problem] = []
    if response.get("for_leaf") is False:
        problems.append(_problem(
            "ocsp_mismatch",
            f"The stapled OCSP response is for another certificate (serial {response.get('serial')}).",
            **evidence))
    if response.get("signature_valid") is False:
        problems.append(_problem(
            "ocsp_mismatch",
            "The stapled OCSP response is not signed by the certificate's issuer or a responder "
            "it delegated to.", **evidence))
    if response.get("cert_status") == "revoked":
        reason = response.get("revocation_reason")
        problems.append(_problem(
            "revoked",
            f"The certificate was revoked on {readable_time(response.get('revocation_time'))}"
            f"{f' ({reason})' if reason else ''}, says the stapled OCSP response.", **evidence))
    elif response.get("cert_status") == "unknown":
        problems.append(_problem(
            "ocsp_mismatch", "The stapled OCSP response says the responder does not know the "
            "certificate.", **evidence))
    stale = _staleness(response, now, max_age_days)
    if stale:
        problems.append(_problem("ocsp_stale", stale, **evidence))
    return problems


def _staleness(response: Mapping[str, Any], now: dt.datetime | None, max_age_days: int) -> str | None:
    this_update, next_update = _time(response.get("this_update")), _time(response.get("next_update"))
    if now is None or this_update is None:
        return None
    if next_update is not None and next_update < now:
        return f"The stapled OCSP response expired on {readable_time(response['next_update'])}."
    if this_update > now + dt.timedelta(minutes=5):
        return f"The stapled OCSP response is dated in the future ({readable_time(response['this_update'])})."
    age = (now - this_update).days
    if age > max_age_days:
        return (f"The stapled OCSP response is {age} days old ({readable_time(response['this_update'])}); "
                f"at most {max_age_days} are allowed.")
    return None


CERTIFICATE_RULES: tuple[Rule, ...] = (
    rule_unparseable,
    rule_chain_order,
    rule_hostname,
    rule_trust,
    rule_validity,
    rule_expires_soon,
    rule_lifespan,
    rule_leaf_key,
    rule_leaf_signature,
    rule_chain_strength,
    rule_revocation,
)


# ------------------------------------------------------------------ tls.certificate


def _evidence(cert: Mapping[str, Any], leaf: Mapping[str, Any]) -> dict[str, Any]:
    key = leaf.get("key") or {}
    key_text = None
    if key.get("type"):
        key_text = f"{key['type'].upper()} {key.get('size')}"
        if key.get("curve"):
            key_text += f" ({key['curve']})"
    anchor = cert.get("anchor") or {}
    return {
        "hostname": cert.get("hostname"),
        "subject": leaf.get("subject"),
        "issuer": leaf.get("issuer"),
        "not_after": leaf.get("not_after"),
        "days_left": leaf.get("days_left"),
        "key": key_text,
        "signature_algorithm": leaf.get("signature_algorithm"),
        "sha256": leaf.get("sha256"),
        "anchor": anchor.get("subject"),
    }


def chain_view(cert: Mapping[str, Any]) -> ChainView | None:
    """The view the rules judge, or None when the facts name no decoded leaf."""
    certificates = cert.get("certificates") or []
    leaf = cert.get("leaf")
    if not isinstance(leaf, int) or not 0 <= leaf < len(certificates) or "error" in certificates[leaf]:
        return None
    return ChainView(cert, certificates, leaf, _time(cert.get("checked_at")))


def evaluate_certificate(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The served certificate chain is trusted, names the host, is current and strong.

    Options:

    * ``trusted`` (bool, default ``true``): the chain must lead to a trusted root
      (fails on ``self_signed``, ``untrusted_root``, ``incomplete_chain``,
      ``chain_invalid``);
    * ``hostname`` (bool, default ``true``): a subjectAltName must cover the host name;
    * ``chain_order`` (bool, default ``true``): the leaf comes first and each
      certificate is followed by its issuer (fails on ``misordered_chain``);
    * ``min_days_left`` (int, default ``30``): fail when the leaf expires sooner
      (``0`` only fails expired certificates);
    * ``key_types`` (map, default ``{rsa: 2048, ecdsa: 256}``): allowed leaf key
      types with their minimum size in bits (``ecdsa`` bits are the curve size;
      also ``dsa``, ``ed25519``, ``ed448``; ``0`` means any size); empty: the
      leaf is judged by ``chain_key_bits``;
    * ``chain_key_bits`` (map, default ``{rsa: 2048, dsa: 2048, ecdsa: 256}``):
      smallest key of every other served certificate (``weak_key``);
    * ``signature_algorithms`` (list of OpenSSL names, default ``[]`` = any not
      signed with a ``weak_digests`` digest): allowed leaf signature algorithms,
      e.g. ``[sha256WithRSAEncryption, ecdsa-with-SHA256]``;
    * ``weak_digests`` (list, default ``[md2, md5, sha1]``): digests that make a
      served signature ``weak_signature`` (a root's own self-signature excepted);
    * ``max_lifespan_days`` (int, default ``398``): the longest leaf validity,
      for leaves issued on or after ``lifespan_since`` (date, default
      ``2020-09-01``, when the CA/Browser Forum limit started);
    * ``revocation`` (bool, default ``true``): judge a stapled OCSP response
      (``revoked``, ``ocsp_stale``, ``ocsp_mismatch``);
    * ``ocsp_max_age_days`` (int, default ``10``): oldest acceptable stapled
      response (``thisUpdate``), besides its own ``nextUpdate``.

    Whatever the options, these always fail: an expired or not-yet-valid
    certificate on the path and an undecodable certificate.

    PASS: ``www.city.example`` serves an ECDSA P-256 leaf from a trusted CA,
    valid 90 days, expiring in 60 days.
    FAIL: ``The certificate for www.city.example has 2 problems: The certificate
    expired on 2025-01-31T12:00:00Z. The certificate is not valid for
    www.city.example (it names: other.example).``
    """
    cert = facts.get("certificate")
    if not isinstance(cert, Mapping):
        return Outcome.error(ErrorReason.NO_DATA, "No certificate was collected from the server.")
    chain = chain_view(cert)
    if chain is None:
        return _unreadable(cert)
    evidence = _evidence(cert, chain.leaf)
    failures = [p for rule in CERTIFICATE_RULES for p in rule(chain, options)]
    host = cert.get("hostname") or "the server"
    if failures:
        count = len(failures)
        sentences = " ".join(f["message"] for f in failures)
        return Outcome.failed(
            f"The certificate for {host} has {count} problem{'s' if count > 1 else ''}: {sentences}",
            **evidence,
            problems=failures,
            verify_error=(cert.get("verification") or {}).get("error"),
        )
    return Outcome.passed(
        f"The certificate for {host} is trusted, names the host and expires in "
        f"{chain.leaf.get('days_left')} days ({readable_time(chain.leaf.get('not_after'))}).",
        **evidence,
    )


def _unreadable(cert: Mapping[str, Any]) -> Outcome:
    certificates = cert.get("certificates") or []
    messages = [f"Certificate {c.get('index')} cannot be decoded." for c in certificates if "error" in c]
    return Outcome.failed(
        "The server's certificate could not be read: "
        + (" ".join(messages) or "no certificate was sent."),
        hostname=cert.get("hostname"),
        problems=[{"code": "unparseable", "message": m} for m in messages or ["no certificate"]],
    )


CERTIFICATE = Check(
    id="tls.certificate",
    title="Certificate is trusted, valid for the host, current and strong",
    kinds=_ENDPOINT,
    evaluate=evaluate_certificate,
    options={
        "trusted": Option("bool", "the chain must lead to a trusted root", default=True),
        "hostname": Option("bool", "a subjectAltName must cover the host name", default=True),
        "chain_order": Option("bool", "leaf first, each certificate followed by its issuer",
                              default=True),
        "min_days_left": Option(
            "int", "fail when the certificate expires within this many days", default=30, minimum=0
        ),
        "key_types": Option(
            "map[str,int]",
            "allowed leaf key types and their minimum bits (rsa, ecdsa, dsa, ed25519, ed448)",
            default={"rsa": 2048, "ecdsa": 256},
            choices=_KEY_TYPES,
            minimum=0,
        ),
        "chain_key_bits": Option(
            "map[str,int]",
            "smallest key, by type, of every served certificate above the leaf",
            default={"rsa": 2048, "dsa": 2048, "ecdsa": 256},
            choices=_KEY_TYPES,
            minimum=0,
        ),
        "signature_algorithms": Option(
            "list[str]",
            "allowed leaf signature algorithms (OpenSSL names); empty: any without a weak digest",
            default=[],
        ),
        "weak_digests": Option(
            "list[str]", "digests that make a served signature weak", default=["md2", "md5", "sha1"]
        ),
        "max_lifespan_days": Option(
            "int", "longest allowed leaf validity in days", default=398, minimum=1
        ),
        "lifespan_since": Option(
            "date", "max_lifespan_days applies to leaves issued on or after this date",
            default="2020-09-01",
        ),
        "revocation": Option("bool", "judge the stapled OCSP response", default=True),
        "ocsp_max_age_days": Option(
            "int", "oldest acceptable stapled OCSP response in days", default=10, minimum=0
        ),
    },
)


# ------------------------------------------------------------------ tls.ocsp_stapling


def _stapled(facts: Mapping[str, Any]) -> bool | None:
    value = facts.get("ocsp_stapling")
    if isinstance(value, Mapping):
        value = value.get("stapled")
    if value is None and isinstance(facts.get("certificate"), Mapping):
        value = facts["certificate"].get("ocsp_stapled")
    return value if isinstance(value, bool) else None


def evaluate_ocsp_stapling(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server staples a usable OCSP response to its certificate in the handshake.

    Options: ``required`` (bool, default ``true``); ``false`` makes the check
    informational: it passes and reports whether a response was stapled.
    ``max_age_days`` (int, default ``10``): oldest acceptable response.

    Facts: ``ocsp_stapling`` (a bool, or a mapping with ``stapled``), else
    ``certificate.ocsp_stapled``; when neither was measured the result is an
    error. When the stapled response was parsed (``certificate.ocsp``), one
    that is revoked, stale, or not for this certificate fails. A leaf with
    OCSP Must-Staple (``must_staple``, the TLS feature extension) and no
    staple fails even with ``required: false``: browsers that honour it
    refuse the connection.

    PASS: ``The server staples an OCSP response.``
    FAIL: ``The server does not staple an OCSP response, so each client has to
    ask the certificate authority itself (slower, and it tells the CA which
    sites are visited).``
    """
    stapled = _stapled(facts)
    if stapled is None:
        return Outcome.error(ErrorReason.NO_DATA, "OCSP stapling was not measured.")
    if stapled:
        return _judge_staple(facts, options)
    view = chain_view(facts["certificate"]) if isinstance(facts.get("certificate"), Mapping) else None
    if view is not None and view.leaf.get("must_staple"):
        return Outcome.failed(
            "The certificate demands OCSP Must-Staple but the server staples no OCSP response, "
            "so clients that honour it refuse the connection.",
            ocsp_stapled=False, must_staple=True)
    if not options["required"]:
        return Outcome.passed(
            "The server does not staple an OCSP response (not required by this policy).",
            ocsp_stapled=False,
        )
    return Outcome.failed(
        "The server does not staple an OCSP response, so each client has to ask the "
        "certificate authority itself (slower, and it tells the CA which sites are visited).",
        ocsp_stapled=False,
    )


def _judge_staple(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    cert = facts.get("certificate")
    response = cert.get("ocsp") if isinstance(cert, Mapping) else None
    if not isinstance(cert, Mapping) or not isinstance(response, Mapping):
        return Outcome.passed("The server staples an OCSP response.", ocsp_stapled=True)
    problems = ocsp_problems(response, _time(cert.get("checked_at")), options["max_age_days"])
    if problems:
        return Outcome.failed(
            "The server staples an OCSP response that cannot be relied on: "
            + " ".join(p["message"] for p in problems),
            ocsp_stapled=True, ocsp=dict(response), problems=problems,
        )
    return Outcome.passed(
        f"The server staples a good OCSP response (until {readable_time(response.get('next_update'))}).",
        ocsp_stapled=True, ocsp=dict(response),
    )


OCSP_STAPLING = Check(
    id="tls.ocsp_stapling",
    title="OCSP response is stapled",
    kinds=_ENDPOINT,
    evaluate=evaluate_ocsp_stapling,
    options={
        "required": Option("bool", "fail when no OCSP response is stapled", default=True),
        "max_age_days": Option("int", "oldest acceptable stapled response in days", default=10,
                               minimum=0),
    },
)


# ------------------------------------------------------------------ tls.certificate_transparency


def evaluate_certificate_transparency(facts: Mapping[str, Any],
                                      options: Mapping[str, Any]) -> Outcome:
    """The certificate comes with enough Certificate Transparency SCTs.

    Counts the SCTs embedded in the leaf (``certificates[].sct_count``),
    those the server sends in the TLS signed_certificate_timestamp extension
    (fact ``sct_tls_extension``, asked for in every hello below TLS 1.3) and
    those in the stapled OCSP response (``certificate.ocsp.sct_count``, the
    single response's extension 1.3.6.1.4.1.11129.2.4.5), when that response
    is about the served leaf.

    Options:

    * ``min_scts`` (int, default ``2``): fewest SCTs (browsers want 2-3 from
      distinct logs for a publicly trusted certificate).

    PASS: the leaf embeds 2 SCTs.
    FAIL: ``The certificate comes with 0 Certificate Transparency SCTs (0 in
    the certificate, 0 in the TLS extension, 0 in the stapled OCSP
    response); the policy wants 2.``
    """
    cert = facts.get("certificate")
    view = chain_view(cert) if isinstance(cert, Mapping) else None
    if view is None:
        return Outcome.error(ErrorReason.NO_DATA, "No decodable leaf certificate was seen.")
    embedded = int(view.leaf.get("sct_count") or 0)
    extension = facts.get("sct_tls_extension")
    response = cert.get("ocsp") if isinstance(cert, Mapping) else None
    stapled = (int(response.get("sct_count") or 0)
               if isinstance(response, Mapping) and response.get("for_leaf") is not False else 0)
    total = embedded + int(extension or 0) + stapled
    evidence = {"sct_in_certificate": embedded, "sct_tls_extension": extension,
                "sct_in_ocsp_response": stapled}
    if total >= options["min_scts"]:
        return Outcome.passed(f"The certificate comes with {total} SCTs.", **evidence)
    if extension is None:
        return Outcome.error(ErrorReason.NO_DATA,
                             "The TLS signed_certificate_timestamp extension was not measured.",
                             **evidence)
    return Outcome.failed(
        f"The certificate comes with {total} Certificate Transparency SCTs ({embedded} in the "
        f"certificate, {extension} in the TLS extension, {stapled} in the stapled OCSP "
        f"response); the policy wants {options['min_scts']}.",
        **evidence)


CERTIFICATE_TRANSPARENCY = Check(
    id="tls.certificate_transparency",
    title="The certificate has Certificate Transparency SCTs",
    kinds=_ENDPOINT,
    evaluate=evaluate_certificate_transparency,
    options={"min_scts": Option("int", "fewest SCTs", default=2, minimum=0)},
)


# ------------------------------------------------------------------ tls.revocation

_SOURCES = (("ocsp", "OCSP responder"), ("crl", "CRL"))


def _answer_unusable(response: Mapping[str, Any], now: dt.datetime | None,
                     max_age_days: int) -> str | None:
    """Why an OCSP or CRL answer fetched online proves nothing, or None."""
    if response.get("error"):
        return f"unreadable ({response['error']})"
    if response.get("response_status", "successful") != "successful":
        return f"status {response.get('response_status')}"
    if response.get("for_leaf") is False:
        return "about another certificate or issuer"
    if response.get("signature_valid") is not True:
        return ("not signed by the certificate's issuer" if response.get("signature_valid") is False
                else "its signature could not be checked (the issuer is unknown)")
    if response.get("cert_status") not in ("good", "revoked"):
        return f"certificate status {response.get('cert_status')}"
    this_update, next_update = _time(response.get("this_update")), _time(response.get("next_update"))
    if now is not None and next_update is not None and next_update < now:
        return f"expired on {readable_time(response['next_update'])}"
    if now is not None and this_update is not None and (now - this_update).days > max_age_days:
        return f"dated {readable_time(response['this_update'])}, more than {max_age_days} days ago"
    return None


def evaluate_revocation(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The certificate is not revoked, asking its OCSP responder or CRL online (opt-in).

    Facts: ``revocation`` (collected only when a policy sets ``online: true``):
    the URLs the leaf names, whether its issuer was known or fetched from AIA
    caIssuers (``aia``), and each OCSP / CRL attempt with its URL and either
    the parsed answer or why it was not checked. Every URL passes the scope
    gate first; an out-of-scope one is never contacted (``not checked: out of
    scope``).

    Options:

    * ``online`` (bool, default ``false``): query the network at all; off,
      the check is not applicable (the stapled response is judged by
      ``tls.certificate``);
    * ``ocsp`` / ``crl`` (bool, default ``true``): ask the OCSP responder,
      fetch the CRL;
    * ``aia`` (bool, default ``true``): fetch the leaf's issuer from AIA
      caIssuers when neither the served chain nor the trust store has it;
    * ``max_crl_bytes`` (int, default ``10485760``): largest CRL read;
    * ``max_age_days`` (int, default ``10``): oldest acceptable answer.

    A signed, current answer about this certificate decides: revoked fails,
    good passes. Otherwise the result is an error with the reason of the
    first attempt (``scope`` for an out-of-scope responder).

    PASS: ``The OCSP responder at http://ocsp.ca.example/ says the
    certificate is good.``
    FAIL: ``The CRL at http://crl.ca.example/ca.crl says the certificate was
    revoked on 2026-02-27T12:00:00Z (keyCompromise).``
    """
    if not options["online"]:
        return Outcome.not_applicable("Online revocation checking is off (option online).")
    found = facts.get("revocation")
    cert = facts.get("certificate")
    if not isinstance(found, Mapping):
        return Outcome.error(ErrorReason.NO_DATA,
                             "The OCSP responder and the CRL were not asked in this scan.")
    now = _time(cert.get("checked_at")) if isinstance(cert, Mapping) else None
    evidence = {"revocation": dict(found)}
    attempts = [(label, a) for key, label in _SOURCES if options[key]
                for a in found.get(key) or () if isinstance(a, Mapping)]
    unusable: list[str] = []
    for label, attempt in attempts:
        response = attempt.get("response")
        if not attempt.get("checked") or not isinstance(response, Mapping):
            continue
        why = _answer_unusable(response, now, options["max_age_days"])
        if why:
            unusable.append(f"the {label} at {attempt['url']} answered: {why}")
            continue
        if response["cert_status"] == "revoked":
            reason = response.get("revocation_reason")
            return Outcome.failed(
                f"The {label} at {attempt['url']} says the certificate was revoked on "
                f"{readable_time(response.get('revocation_time'))}{f' ({reason})' if reason else ''}.", **evidence)
        return Outcome.passed(f"The {label} at {attempt['url']} says the certificate is good.",
                              **evidence)
    urls = found.get("urls") or {}
    if not any(urls.get(key) for key, _ in _SOURCES if options[key]):
        return Outcome.failed("The certificate names no OCSP responder and no CRL distribution "
                              "point to ask.", **evidence)
    skipped = [(label, a) for label, a in
               [("AIA caIssuers", a) for a in found.get("aia") or () if isinstance(a, Mapping)]
               + attempts if not a.get("checked")]
    if unusable:
        return Outcome.error(ErrorReason.PROTOCOL, "; ".join(unusable) + ".", **evidence)
    if skipped:
        reasons = [str(a.get("reason") or "no_data") for _, a in skipped]
        # An out-of-scope URL explains the rest (no issuer, so no OCSP request).
        reason = "scope" if "scope" in reasons else reasons[0]
        return Outcome.error(parse_reason(reason), "; ".join(
            f"{label} {a.get('url')}: {a.get('message')}" for label, a in skipped) + ".",
            **evidence)
    return Outcome.error(ErrorReason.NO_DATA, "No OCSP responder or CRL was asked.", **evidence)


REVOCATION = Check(
    id="tls.revocation",
    title="The certificate is not revoked (OCSP responder or CRL, asked online)",
    kinds=_ENDPOINT,
    evaluate=evaluate_revocation,
    options={
        "online": Option("bool", "ask the OCSP responder / fetch the CRL the leaf names",
                         default=False),
        "ocsp": Option("bool", "ask the OCSP responder", default=True),
        "crl": Option("bool", "fetch the CRL", default=True),
        "aia": Option("bool", "fetch a missing issuer from AIA caIssuers", default=True),
        "max_crl_bytes": Option("int", "largest CRL read", default=10 * 1024 * 1024,
                                minimum=1024),
        "max_age_days": Option("int", "oldest acceptable answer in days", default=10, minimum=0),
    },
)


CHECKS: tuple[Check, ...] = (CERTIFICATE, OCSP_STAPLING, CERTIFICATE_TRANSPARENCY, REVOCATION)
# The chain, the stapled response and the SCT extension come with every scan:
# nothing extra to probe. Online revocation is fetched after the probes, on request.
NEEDS: Mapping[str, Plan] = {c.id: Plan.nothing() for c in CHECKS}

__all__ = ["CERTIFICATE_RULES", "CHECKS", "NEEDS", "evaluate_certificate",
           "evaluate_certificate_transparency", "evaluate_ocsp_stapling", "evaluate_revocation"]
