"""Checks that judge the certificate facts of the ``tls`` plugin.

They read ``facts["certificate"]`` (the output of
:func:`scanner.plugins.tls.certs.analyze_chain`) and ``facts["ocsp_stapling"]``.
The options decide how the *leaf* is judged (key types, signature algorithms,
days left, lifespan); fixed floors judge the rest of the served chain (no
SHA-1/MD5 signature, no RSA key under 2048 bits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from scanner.models import AssetKind, ErrorReason, Outcome
from scanner.options import Option
from scanner.plugin import Check
from scanner.timeutil import parse_timestamp

from .certs import LIFESPAN_RULE_START

_ENDPOINT = frozenset({AssetKind.ENDPOINT})
_TRUST_CODES = ("self_signed", "untrusted_root", "incomplete_chain", "chain_invalid")
_KEY_TYPE_ALIASES = {"ec": "ecdsa", "ecc": "ecdsa"}


def _leaf_evidence(cert: Mapping[str, Any]) -> dict[str, Any]:
    certificates = cert.get("certificates") or [{}]
    leaf = certificates[0]
    key = leaf.get("key") or {}
    key_text = None
    if key.get("type"):
        key_text = f"{key['type'].upper()} {key.get('size')}"
        if key.get("curve"):
            key_text += f" ({key['curve']})"
    return {
        "hostname": cert.get("hostname"),
        "subject": leaf.get("subject"),
        "issuer": leaf.get("issuer"),
        "not_after": leaf.get("not_after"),
        "days_left": cert.get("days_left"),
        "key": key_text,
        "signature_algorithm": leaf.get("signature_algorithm"),
        "sha256": leaf.get("sha256"),
        "trusted": cert.get("trusted"),
        "anchor": (cert.get("anchor") or {}).get("subject"),
    }


def _key_type_rules(raw: Mapping[str, Any]) -> dict[str, int] | str:
    """``{"rsa": 2048, "ecdsa": 256}`` normalised, or the reason it is invalid."""
    rules: dict[str, int] = {}
    for name, value in raw.items():
        kind = _KEY_TYPE_ALIASES.get(str(name).lower(), str(name).lower())
        if value is True or value is None:
            rules[kind] = 0
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            rules[kind] = value
        else:
            return f"option key_types: the value for '{name}' must be a number of bits"
    return rules


def evaluate_certificate(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The served certificate chain is trusted, names the host, is current and strong.

    Options:

    * ``trusted`` (bool, default ``true``): the chain must lead to a trusted root
      (fails on ``self_signed``, ``untrusted_root``, ``incomplete_chain``,
      ``chain_invalid``);
    * ``hostname`` (bool, default ``true``): a subjectAltName must cover the host name;
    * ``min_days_left`` (int, default ``30``): fail when the leaf expires sooner
      (``0`` only fails expired certificates);
    * ``key_types`` (map, default ``{rsa: 2048, ecdsa: 256}``): allowed leaf key
      types with their minimum size in bits (``ecdsa`` bits are the curve size;
      also ``dsa``, ``ed25519``, ``ed448``; ``0`` means any size; checked when
      the policy is validated);
    * ``signature_algorithms`` (list of OpenSSL names, default ``[]`` = any that is
      not MD5/SHA-1): allowed leaf signature algorithms, e.g.
      ``[sha256WithRSAEncryption, ecdsa-with-SHA256]``;
    * ``max_lifespan_days`` (int, default ``398``): the longest leaf validity
      (for leaves issued since 2020-09-01, as the CA/Browser Forum counts it).

    Whatever the options, these always fail: an expired or not-yet-valid
    certificate on the path, an undecodable certificate, and in the chain above
    the leaf a SHA-1/MD5 signature or a weak key.

    PASS: ``www.city.example`` serves an ECDSA P-256 leaf from a trusted CA,
    valid 90 days, expiring in 60 days.
    FAIL: ``The certificate for www.city.example has 2 problems: The certificate
    expired on 2025-01-31T12:00:00Z. The certificate is not valid for
    www.city.example (it names: other.example).``
    """
    cert = facts.get("certificate")
    if not isinstance(cert, Mapping):
        return Outcome.error(ErrorReason.NO_DATA, "No certificate was collected from the server.")
    evidence = _leaf_evidence(cert)
    problems = list(cert.get("problems") or [])
    certificates = cert.get("certificates") or []
    leaf = certificates[0] if certificates else {}
    if not leaf or "error" in leaf:
        messages = [p.get("message", "") for p in problems if p.get("code") == "unparseable"]
        return Outcome.failed(
            "The server's certificate could not be read: "
            + (" ".join(messages) or "no certificate was sent."),
            **evidence,
            problems=problems,
        )

    rules = _key_type_rules(options.get("key_types") or {})
    if isinstance(rules, str):
        return Outcome.error(ErrorReason.NOT_SUPPORTED, rules, **evidence)
    allowed_signatures = {s.lower() for s in options.get("signature_algorithms") or []}

    failures: list[dict[str, Any]] = []
    for problem in problems:
        code, index = problem.get("code"), problem.get("certificate")
        if code in ("expires_soon", "lifespan_too_long"):
            continue  # judged below against this check's own thresholds
        if code in _TRUST_CODES and not options["trusted"]:
            continue
        if code == "hostname_mismatch" and not options["hostname"]:
            continue
        if index == 0 and code == "weak_key" and rules:
            continue  # the leaf key is judged by key_types
        if index == 0 and code == "weak_signature" and allowed_signatures:
            continue  # the leaf signature is judged by signature_algorithms
        failures.append(problem)
    if (
        options["trusted"]
        and not cert.get("trusted")
        and not any(f.get("code") in _TRUST_CODES for f in failures)
    ):
        failures.append(
            {
                "code": "untrusted_root",
                "message": f"The chain is not trusted: {cert.get('verify_error') or 'unknown reason'}.",
                "certificate": None,
            }
        )

    days_left = cert.get("days_left")
    if isinstance(days_left, int) and 0 <= days_left < options["min_days_left"]:
        failures.append(
            {
                "code": "expires_soon",
                "message": f"The certificate expires in {days_left} days, on {leaf.get('not_after')}"
                f" (at least {options['min_days_left']} days are required).",
                "certificate": 0,
            }
        )

    key = leaf.get("key") or {}
    if rules:
        kind, size = key.get("type"), key.get("size")
        if kind not in rules:
            allowed = ", ".join(sorted(rules))
            failures.append(
                {
                    "code": "key_type",
                    "message": f"The certificate has a {str(kind).upper()} key; allowed: {allowed}.",
                    "certificate": 0,
                }
            )
        elif isinstance(size, int) and size < rules[kind]:
            failures.append(
                {
                    "code": "weak_key",
                    "message": f"The certificate has a {size}-bit {str(kind).upper()} key; "
                    f"at least {rules[kind]} bits are required.",
                    "certificate": 0,
                }
            )
    signature = str(leaf.get("signature_algorithm"))
    if allowed_signatures and signature.lower() not in allowed_signatures:
        failures.append(
            {
                "code": "signature_algorithm",
                "message": f"The certificate is signed with {signature}, which the policy does not allow.",
                "certificate": 0,
            }
        )

    lifespan = leaf.get("lifespan_days")
    not_before = _parse_time(leaf.get("not_before"))
    if (
        isinstance(lifespan, int)
        and not_before is not None
        and not_before >= LIFESPAN_RULE_START
        and lifespan > options["max_lifespan_days"]
    ):
        failures.append(
            {
                "code": "lifespan_too_long",
                "message": f"The certificate is valid for {lifespan} days; at most "
                f"{options['max_lifespan_days']} are allowed.",
                "certificate": 0,
            }
        )

    host = cert.get("hostname") or "the server"
    if failures:
        count = len(failures)
        noun = "problem" if count == 1 else "problems"
        sentences = " ".join(f["message"] for f in failures)
        return Outcome.failed(
            f"The certificate for {host} has {count} {noun}: {sentences}",
            **evidence,
            problems=failures,
            verify_error=cert.get("verify_error"),
        )
    return Outcome.passed(
        f"The certificate for {host} is trusted, names the host and expires in "
        f"{days_left} days ({leaf.get('not_after')}).",
        **evidence,
    )


def _parse_time(text: Any) -> dt.datetime | None:
    return parse_timestamp(text) if isinstance(text, str) else None


def _stapled(facts: Mapping[str, Any]) -> bool | None:
    value = facts.get("ocsp_stapling")
    if isinstance(value, Mapping):
        value = value.get("stapled")
    if value is None and isinstance(facts.get("certificate"), Mapping):
        value = facts["certificate"].get("ocsp_stapled")
    return value if isinstance(value, bool) else None


def evaluate_ocsp_stapling(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server staples an OCSP response to its certificate in the handshake.

    Options: ``required`` (bool, default ``true``); ``false`` makes the check
    informational: it passes and reports whether a response was stapled.

    Facts: ``ocsp_stapling`` (a bool, or a mapping with ``stapled``), else
    ``certificate.ocsp_stapled``; when neither was measured the result is an error.

    PASS: ``The server staples an OCSP response.``
    FAIL: ``The server does not staple an OCSP response, so each client has to
    ask the certificate authority itself (slower, and it tells the CA which
    sites are visited).``
    """
    stapled = _stapled(facts)
    if stapled is None:
        return Outcome.error(ErrorReason.NO_DATA, "OCSP stapling was not measured.")
    if stapled:
        return Outcome.passed("The server staples an OCSP response.", ocsp_stapled=True)
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


CERT_CHECKS: tuple[Check, ...] = (
    Check(
        id="tls.certificate",
        title="Certificate is trusted, valid for the host, current and strong",
        kinds=_ENDPOINT,
        evaluate=evaluate_certificate,
        options={
            "trusted": Option("bool", "the chain must lead to a trusted root", default=True),
            "hostname": Option("bool", "a subjectAltName must cover the host name", default=True),
            "min_days_left": Option(
                "int",
                "fail when the certificate expires within this many days",
                default=30,
                minimum=0,
            ),
            "key_types": Option(
                "map[str,int]",
                "allowed leaf key types and their minimum bits (rsa, ecdsa, dsa, ed25519, ed448)",
                default={"rsa": 2048, "ecdsa": 256},
                choices=("rsa", "ecdsa", "dsa", "ed25519", "ed448"),
                minimum=0,
            ),
            "signature_algorithms": Option(
                "list[str]",
                "allowed leaf signature algorithms (OpenSSL names); empty: any but MD5/SHA-1",
                default=[],
            ),
            "max_lifespan_days": Option(
                "int", "longest allowed leaf validity in days", default=398, minimum=1
            ),
        },
    ),
    Check(
        id="tls.ocsp_stapling",
        title="OCSP response is stapled",
        kinds=_ENDPOINT,
        evaluate=evaluate_ocsp_stapling,
        options={"required": Option("bool", "fail when no OCSP response is stapled", default=True)},
    ),
)

__all__ = ["CERT_CHECKS", "evaluate_certificate", "evaluate_ocsp_stapling"]
