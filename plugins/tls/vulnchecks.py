"""Handshake-feature and known-attack checks of the ``tls`` plugin.

They judge the facts ``secure_renegotiation``, ``compression``,
``fallback_scsv``, ``heartbeat``, ``heartbleed``, ``ccs_injection``,
``robot``, ``signature_algorithms``, ``weak_signature_algorithms``,
``session_resumption``, ``client_renegotiation`` and ``early_data``
documented in docs/tls.md. Renegotiation, compression
and resumption come from the ServerHellos every scan reads; the others cost
connections of their own (at most one each, ROBOT five), declared in
``NEEDS`` beside the check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.models import AssetKind, ErrorReason, Outcome
from scanner.options import Option
from scanner.plugin import Check

from . import suites as S
from .probe import Plan

_ENDPOINT = frozenset({AssetKind.ENDPOINT})
_BELOW_13 = ("SSLv3", "TLSv1", "TLSv1.0", "TLSv1.1", "TLSv1.2")

NEEDS: dict[str, Plan] = {}


def _why(facts: Mapping[str, Any], key: str) -> str:
    why = (facts.get("errors") or {}).get(key)
    return f" ({why})" if why else ""


def _below_13_accepted(facts: Mapping[str, Any]) -> bool | None:
    """Whether any version below TLS 1.3 is accepted (None: some are unknown)."""
    protocols = facts.get("protocols") or {}
    values = [protocols.get(p) for p in ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2")]
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


# ------------------------------------------------------------------ tls.secure_renegotiation


def evaluate_secure_renegotiation(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Every accepted version below TLS 1.3 supports secure renegotiation (RFC 5746).

    Without it a man in the middle can splice its own request in front of the
    client's (CVE-2009-3555). The fact ``secure_renegotiation`` says, per
    accepted version, whether each ServerHello answered the client's
    renegotiation_info extension (SSL 3.0: the SCSV) with an empty one. TLS 1.3
    has no renegotiation.

    Options:

    * ``protocols`` (list of str, default ``[]``): versions to judge; empty
      means every accepted version below TLS 1.3.

    PASS: the TLSv1.2 ServerHellos carry renegotiation_info.
    FAIL: ``The server does not support secure renegotiation (RFC 5746) on
    TLSv1.0.``
    """
    seen = facts.get("secure_renegotiation")
    if not isinstance(seen, Mapping):
        return Outcome.error(ErrorReason.NO_DATA, "Secure renegotiation was not measured.")
    wanted = {S.Protocol.parse(p).value for p in options.get("protocols") or []}
    judged = {p: bool(v) for p, v in seen.items() if not wanted or p in wanted}
    missing = [p for p, v in judged.items() if not v]
    if missing:
        return Outcome.failed(
            "The server does not support secure renegotiation (RFC 5746) on "
            f"{', '.join(missing)}.", secure_renegotiation=judged, missing=missing)
    if not judged:
        if _below_13_accepted(facts) is None:
            return Outcome.error(ErrorReason.NO_DATA,
                                 "Could not tell which versions below TLS 1.3 are accepted.")
        return Outcome.not_applicable("No judged version below TLS 1.3 is accepted.")
    return Outcome.passed(
        f"The server supports secure renegotiation on {', '.join(judged)}.",
        secure_renegotiation=judged)


SECURE_RENEGOTIATION = Check(
    id="tls.secure_renegotiation",
    title="Secure renegotiation (RFC 5746) is supported",
    kinds=_ENDPOINT,
    evaluate=evaluate_secure_renegotiation,
    options={
        "protocols": Option("list[str]", "versions to judge (default: all below 1.3)",
                            default=[], choices=_BELOW_13),
    },
)
NEEDS[SECURE_RENEGOTIATION.id] = Plan.nothing()


# ------------------------------------------------------------------ tls.compression


def evaluate_compression(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server does not compress TLS records (CRIME).

    Every hello below TLS 1.3 offers DEFLATE beside null; the fact
    ``compression`` lists the methods the server chose (``null`` = none).

    Options:

    * ``allowed`` (list of str, default ``[]``): compression methods allowed
      besides ``null`` (``DEFLATE``, ``LZS``).

    PASS: the server always chooses ``null``.
    FAIL: ``The server compresses TLS records with DEFLATE, which exposes
    secrets in them to the CRIME attack.``
    """
    chosen = facts.get("compression")
    if chosen is None:
        accepted = _below_13_accepted(facts)
        if accepted is False:
            return Outcome.not_applicable("Only TLS 1.3 is accepted; it has no compression.")
        return Outcome.error(ErrorReason.NO_DATA, "TLS compression was not measured.")
    allowed = set(options.get("allowed") or [])
    used = [m for m in chosen if m != "null" and m not in allowed]
    if used:
        return Outcome.failed(
            f"The server compresses TLS records with {', '.join(used)}, which exposes "
            "secrets in them to the CRIME attack.", compression=list(chosen))
    return Outcome.passed("The server does not compress TLS records.", compression=list(chosen))


COMPRESSION = Check(
    id="tls.compression",
    title="TLS compression is off (CRIME)",
    kinds=_ENDPOINT,
    evaluate=evaluate_compression,
    options={
        "allowed": Option("list[str]", "compression methods allowed besides null", default=[],
                          choices=("DEFLATE", "LZS")),
    },
)
NEEDS[COMPRESSION.id] = Plan.nothing()


# ------------------------------------------------------------------ tls.fallback_scsv


def evaluate_fallback_scsv(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server refuses downgraded handshakes that carry TLS_FALLBACK_SCSV (RFC 7507).

    civiscan sends one hello for the second-highest accepted version with the
    SCSV added; a protected server answers ``inappropriate_fallback``. The fact
    ``fallback_scsv`` is ``true`` (refused), ``false`` (the lower version was
    negotiated) or ``null`` (fewer than two versions accepted: nothing to fall
    back to, or the answer proved nothing, see ``errors.fallback_scsv``).

    Options:

    * ``required`` (bool, default ``true``): ``false`` makes the check
      informational: it passes and reports what was seen.

    PASS: the server accepts TLSv1.2 and TLSv1.3 and refuses a TLSv1.2 hello
    with the SCSV.
    FAIL: ``The server accepted a TLSv1.2 handshake marked as a fallback
    (TLS_FALLBACK_SCSV), so an attacker can force clients down to it.``
    """
    value = facts.get("fallback_scsv")
    accepted = [p for p in ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
                if (facts.get("protocols") or {}).get(p) is True]
    if value is None:
        if len(accepted) >= 2 or _below_13_accepted(facts) is None:
            return Outcome.error(ErrorReason.NO_DATA, "Downgrade protection was not measured"
                                 f"{_why(facts, 'fallback_scsv')}.")
        return Outcome.not_applicable(
            "The server accepts fewer than two versions: there is nothing to fall back to.",
            accepted=accepted)
    if value:
        return Outcome.passed("The server refuses downgraded handshakes (TLS_FALLBACK_SCSV).",
                              fallback_scsv=True, accepted=accepted)
    lower = accepted[-2] if len(accepted) >= 2 else "a lower version"
    message = (f"The server accepted a {lower} handshake marked as a fallback "
               "(TLS_FALLBACK_SCSV), so an attacker can force clients down to it.")
    if not options["required"]:
        return Outcome.passed(message + " (Not required by this policy.)", fallback_scsv=False,
                              accepted=accepted)
    return Outcome.failed(message, fallback_scsv=False, accepted=accepted)


FALLBACK_SCSV = Check(
    id="tls.fallback_scsv",
    title="Downgrades are refused (TLS_FALLBACK_SCSV)",
    kinds=_ENDPOINT,
    evaluate=evaluate_fallback_scsv,
    options={
        "required": Option("bool", "fail when a marked fallback is accepted", default=True),
    },
)
NEEDS[FALLBACK_SCSV.id] = Plan.only("fallback")


# ------------------------------------------------------------------ tls.heartbleed, tls.ccs_injection


def _vulnerability(facts: Mapping[str, Any], key: str, name: str, harm: str) -> Outcome:
    value = facts.get(key)
    if value is True:
        return Outcome.failed(f"The server is vulnerable to {name}: {harm}.", **{key: True})
    if value is False:
        return Outcome.passed(f"The server is not vulnerable to {name}.", **{key: False})
    if key in facts and not (facts.get("errors") or {}).get(key) \
            and _below_13_accepted(facts) is False:
        return Outcome.not_applicable(f"Only TLS 1.3 is accepted; {name} needs an older version.")
    return Outcome.error(ErrorReason.NO_DATA, f"{name} was not tested{_why(facts, key)}.")


def evaluate_heartbleed(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server does not leak memory through heartbeats (Heartbleed, CVE-2014-0160).

    Every hello below TLS 1.3 offers the heartbeat extension (fact
    ``heartbeat``: the server answered it). Only then is one more connection
    made: after the server's first flight, a heartbeat request that claims
    16384 bytes of payload and carries none. A vulnerable OpenSSL answers
    with 16 kB of its memory (fact ``heartbleed``: ``true``); RFC 6520 says to
    discard the request, so an alert, a hang-up or silence mean ``false``. A
    server that does not answer the extension is ``false`` without the probe,
    as in testssl.sh.

    No options.

    PASS: the server does not answer the heartbeat extension.
    FAIL: ``The server is vulnerable to Heartbleed (CVE-2014-0160): any client
    can read up to 64 kB of its memory per request, including private keys.``
    """
    return _vulnerability(facts, "heartbleed", "Heartbleed (CVE-2014-0160)",
                          "any client can read up to 64 kB of its memory per request, "
                          "including private keys")


HEARTBLEED = Check(
    id="tls.heartbleed",
    title="Not vulnerable to Heartbleed",
    kinds=_ENDPOINT,
    evaluate=evaluate_heartbleed,
    options={},
)
NEEDS[HEARTBLEED.id] = Plan.only("heartbleed")


def evaluate_ccs_injection(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server refuses an early ChangeCipherSpec (OpenSSL CCS injection, CVE-2014-0224).

    Right after a server's first flight below TLS 1.3, two ChangeCipherSpec
    records: on the first TLS 1.2 curve probe when curves are probed (no
    connection of its own), else on one more connection. A patched server refuses the
    first (``unexpected_message``, or hangs up): fact ``ccs_injection`` is
    ``false``. A vulnerable one accepts it, switches to keys derived from an
    empty master secret, and fails the second record with ``bad_record_mac``,
    ``decryption_failed`` or ``record_overflow``: ``true``. Silence is unknown.

    No options.

    PASS: the server answers the early ChangeCipherSpec with unexpected_message.
    FAIL: ``The server is vulnerable to OpenSSL CCS injection (CVE-2014-0224):
    a man in the middle can make it use keys it knows.``
    """
    return _vulnerability(facts, "ccs_injection", "OpenSSL CCS injection (CVE-2014-0224)",
                          "a man in the middle can make it use keys it knows")


CCS_INJECTION = Check(
    id="tls.ccs_injection",
    title="Not vulnerable to OpenSSL CCS injection",
    kinds=_ENDPOINT,
    evaluate=evaluate_ccs_injection,
    options={},
)
NEEDS[CCS_INJECTION.id] = Plan.only("ccs_injection")


def evaluate_robot(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """RSA key exchange is not a Bleichenbacher padding oracle (ROBOT).

    Only when a (non-export) RSA key exchange suite is accepted and the leaf
    has an RSA key: five connections, each sending a ClientKeyExchange whose
    ciphertext decrypts to well-formed PKCS#1 v1.5 or to one of four broken
    encodings (wrong first bytes, the zero misplaced, no zero, wrong premaster
    version), then ChangeCipherSpec and an undecryptable Finished, as
    robot-detect and sslyze do. Fact ``robot_answers``: what the server did
    with each (``alert bad_record_mac``, ``closed``, ``silent``); ``robot`` is
    ``true`` when a broken variant got a different answer than the good one.

    No options.

    PASS: every variant is answered with ``alert bad_record_mac``.
    FAIL: ``The server's RSA key exchange is a padding oracle (ROBOT): it
    answers broken and valid PKCS#1 padding differently, so an attacker can
    decrypt recorded sessions that used RSA key exchange.``
    """
    value = facts.get("robot")
    answers = facts.get("robot_answers")
    if value is True:
        return Outcome.failed(
            "The server's RSA key exchange is a padding oracle (ROBOT): it answers broken and "
            "valid PKCS#1 padding differently, so an attacker can decrypt recorded sessions "
            "that used RSA key exchange.", robot_answers=answers)
    if value is False:
        return Outcome.passed("The server answers every RSA padding variant the same way.",
                              robot_answers=answers)
    if "robot" in facts and not (facts.get("errors") or {}).get("robot") and not _rsa_kex(facts):
        return Outcome.not_applicable("No RSA key exchange suite is accepted.")
    return Outcome.error(ErrorReason.NO_DATA, f"ROBOT was not tested{_why(facts, 'robot')}.")


def _rsa_kex(facts: Mapping[str, Any]) -> bool:
    return any(s.get("kex") == "RSA" and "export" not in (s.get("categories") or [])
               for proto, suites in (facts.get("ciphers") or {}).items()
               if proto not in ("SSLv2", "TLSv1.3") for s in suites or [])


ROBOT = Check(
    id="tls.robot",
    title="Not vulnerable to ROBOT",
    kinds=_ENDPOINT,
    evaluate=evaluate_robot,
    options={},
)
NEEDS[ROBOT.id] = Plan.only("ciphers", "robot")


# ------------------------------------------------------------------ tls.signature_algorithms

_WEAK_SCHEMES = ["rsa_pkcs1_sha1", "ecdsa_sha1", "dsa_sha1", "rsa_md5", "rsa_pkcs1_sha224",
                 "ecdsa_sha224", "dsa_sha224"]


def evaluate_signature_algorithms(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server signs its handshakes only with allowed signature schemes.

    Facts: ``signature_algorithms`` (per version, the schemes the server used
    when offered every scheme: the TLS 1.2 ServerKeyExchange, the TLS 1.3
    CertificateVerify) and ``weak_signature_algorithms`` (the scheme the
    server used on TLS 1.2 when offered only SHA-1, MD5 and SHA-224 ones;
    ``[]`` it refused; ``null`` not probed: no signed TLS 1.2 key exchange).

    Options:

    * ``forbid`` (list of str, default: the SHA-1, MD5 and SHA-224 schemes):
      IANA scheme names that must not be used.

    PASS: the server signs with rsa_pss_rsae_sha256 and refuses a hello that
    offers only SHA-1, MD5 and SHA-224 schemes.
    FAIL: ``The server signs handshakes with rsa_pkcs1_sha1 when a client
    offers it, which the policy forbids.``
    """
    forbid = set(options["forbid"])
    seen = facts.get("signature_algorithms")
    weak = facts.get("weak_signature_algorithms")
    if not isinstance(seen, Mapping):
        return Outcome.error(ErrorReason.NO_DATA, "Signature algorithms were not measured.")
    used = {name for names in seen.values() for name in names} | set(weak or [])
    bad = sorted(used & forbid)
    evidence = {"signature_algorithms": dict(seen), "weak_signature_algorithms": weak}
    if bad:
        return Outcome.failed(
            f"The server signs handshakes with {', '.join(bad)} when a client offers it, "
            "which the policy forbids.", **evidence, forbidden=bad)
    protocols = facts.get("protocols") or {}
    signed_12 = any(s.get("kex") in ("ECDHE", "DHE") and s.get("auth") in ("RSA", "DSS", "ECDSA")
                    for s in (facts.get("ciphers") or {}).get("TLSv1.2") or [])
    if weak is None and protocols.get("TLSv1.2") is not False and (
            signed_12 or protocols.get("TLSv1.2") is None):
        return Outcome.error(ErrorReason.NO_DATA, "Could not tell whether the server accepts "
                             f"weak signature schemes{_why(facts, 'weak_signature')}.", **evidence)
    if not used:
        return Outcome.not_applicable("No handshake signature was seen.", **evidence)
    return Outcome.passed(f"The server signs handshakes with {', '.join(sorted(used))} only.",
                          **evidence)


SIGNATURE_ALGORITHMS = Check(
    id="tls.signature_algorithms",
    title="Handshakes are signed with allowed signature schemes",
    kinds=_ENDPOINT,
    evaluate=evaluate_signature_algorithms,
    options={
        "forbid": Option("list[str]", "signature schemes that must not be used",
                         default=_WEAK_SCHEMES, choices=tuple(S.SIGNATURE_SCHEMES.values())),
    },
)
NEEDS[SIGNATURE_ALGORITHMS.id] = Plan.only("ciphers", "weak_signatures")


# ------------------------------------------------------------------ tls.session_resumption

_EXPECT = ("any", "required", "forbidden")


def evaluate_session_resumption(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """Session resumption is offered (or not) as the policy says.

    Fact ``session_resumption``: ``session_ids`` (a ServerHello below TLS 1.3
    carried a session ID although the client sent none: the server caches
    sessions) and ``tickets`` (it answered the session_ticket extension: it
    will issue an RFC 5077 ticket). What is seen is the offer; no session is
    actually resumed. TLS 1.3 tickets arrive after the handshake and are not
    read.

    Options:

    * ``session_ids`` (str, default ``"any"``): ``required``, ``forbidden`` or
      ``any``.
    * ``tickets`` (str, default ``"any"``): the same for session tickets
      (``forbidden`` where ticket keys are not rotated, since a stolen key
      decrypts every recorded session).

    PASS: tickets ``forbidden``; the server does not answer the session_ticket
    extension.
    FAIL: tickets ``forbidden``: ``The server offers session tickets, which the
    policy forbids.``
    """
    seen = facts.get("session_resumption")
    if not isinstance(seen, Mapping):
        if _below_13_accepted(facts) is False:
            return Outcome.not_applicable("Only TLS 1.3 is accepted; its tickets are not read.")
        return Outcome.error(ErrorReason.NO_DATA, "Session resumption was not measured.")
    problems = []
    for key, label in (("session_ids", "session IDs"), ("tickets", "session tickets")):
        want = options[key]
        if want == "required" and not seen.get(key):
            problems.append(f"The server does not offer {label}, which the policy requires.")
        elif want == "forbidden" and seen.get(key):
            problems.append(f"The server offers {label}, which the policy forbids.")
    if problems:
        return Outcome.failed(" ".join(problems), session_resumption=dict(seen))
    offered = [label for key, label in (("session_ids", "session IDs"),
                                        ("tickets", "session tickets")) if seen.get(key)]
    return Outcome.passed(f"The server offers {' and '.join(offered) or 'no session resumption'}.",
                          session_resumption=dict(seen))


SESSION_RESUMPTION = Check(
    id="tls.session_resumption",
    title="Session resumption is offered as the policy says",
    kinds=_ENDPOINT,
    evaluate=evaluate_session_resumption,
    options={
        "session_ids": Option("str", "session-ID resumption: any, required or forbidden",
                              default="any", choices=_EXPECT),
        "tickets": Option("str", "session tickets: any, required or forbidden", default="any",
                          choices=_EXPECT),
    },
)
NEEDS[SESSION_RESUMPTION.id] = Plan.nothing()


# ------------------------------------------------------------------ tls.client_renegotiation

# Probes that complete a handshake (plugins/tls/handshake.py, renegotiation.py), one connection
# each, run after the enumeration for the checks that read them.
PROBES: dict[str, frozenset[str]] = {}


def evaluate_client_renegotiation(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """The server refuses to renegotiate when the client asks, and never renegotiates insecurely.

    Fact ``client_renegotiation``: after a full handshake at the highest
    accepted version from TLS 1.0 to 1.2 (ECDHE, DHE or RSA key exchange;
    AES-GCM, ChaCha20-Poly1305 or AES-CBC), a second ClientHello (with RFC
    5746 renegotiation_info) inside the encrypted connection:
    ``{"accepted": true, "secure": ..., ...}`` the server answered with a
    ServerHello, ``accepted: false`` it refused (``alert no_renegotiation``,
    another alert, a hang-up, or ignored it); ``secure`` says whether that
    ServerHello echoed both Finished verify_data as RFC 5746 requires;
    ``null`` unknown (``errors.client_renegotiation``) or nothing below TLS
    1.3 accepted. A server that lets clients renegotiate at will can be made
    to spend a full handshake's CPU per request (testssl.sh, sslyze); one that
    renegotiates without RFC 5746 lets a man in the middle prefix the
    client's traffic (CVE-2009-3555).

    Options:

    * ``allowed`` (bool, default ``false``): pass a server that renegotiates
      securely on request (insecure renegotiation always fails).

    PASS: ``The server refuses client-initiated renegotiation (alert
    no_renegotiation).``
    FAIL: ``The server renegotiates whenever the client asks, which lets one
    client make it repeat expensive handshakes.``
    """
    found = facts.get("client_renegotiation")
    if not isinstance(found, Mapping):
        protocols = facts.get("protocols") or {}
        if not protocols.get("SSLv3") and all(
                protocols.get(p) is False for p in ("TLSv1.0", "TLSv1.1", "TLSv1.2")):
            return Outcome.not_applicable("Nothing below TLS 1.3 is accepted; TLS 1.3 has no "
                                          "renegotiation.")
        return Outcome.error(ErrorReason.NO_DATA, "Client-initiated renegotiation was not "
                             f"measured{_why(facts, 'client_renegotiation')}.")
    evidence = {"client_renegotiation": dict(found)}
    if found.get("accepted") and found.get("secure") is False:
        return Outcome.failed("The server renegotiates on the client's request without RFC 5746 "
                              "secure renegotiation, so a man in the middle can prefix the "
                              "client's traffic (CVE-2009-3555).", **evidence)
    if found.get("accepted") and not options["allowed"]:
        return Outcome.failed("The server renegotiates whenever the client asks, which lets one "
                              "client make it repeat expensive handshakes.", **evidence)
    if found.get("accepted"):
        return Outcome.passed("The server renegotiates on request, which the policy allows.",
                              **evidence)
    return Outcome.passed(
        f"The server refuses client-initiated renegotiation ({found.get('answer')}).", **evidence)


CLIENT_RENEGOTIATION = Check(
    id="tls.client_renegotiation",
    title="Client-initiated renegotiation is refused",
    kinds=_ENDPOINT,
    evaluate=evaluate_client_renegotiation,
    options={"allowed": Option("bool", "pass a server that renegotiates securely on request",
                               default=False)},
)
NEEDS[CLIENT_RENEGOTIATION.id] = Plan.nothing()
PROBES[CLIENT_RENEGOTIATION.id] = frozenset({"client_renegotiation"})


# ------------------------------------------------------------------ tls.early_data


def evaluate_early_data(facts: Mapping[str, Any], options: Mapping[str, Any]) -> Outcome:
    """TLS 1.3 early data (0-RTT) is not offered, or no more of it than allowed.

    Fact ``early_data``: after a full TLS 1.3 handshake, the server's
    NewSessionTicket messages are read: ``{"offered": true,
    "max_early_data_size": N}`` when a ticket carries the early_data extension
    (the server will accept N bytes of 0-RTT data on resumption, data an
    attacker can replay), ``{"offered": false, ...}`` tickets without it (or
    none: no resumption, no 0-RTT), ``null`` not measured (see
    ``errors.early_data``) or TLS 1.3 refused.

    Options:

    * ``allowed`` (bool, default ``false``): pass a server offering 0-RTT
      (only safe when the application rejects replayed non-idempotent
      requests, e.g. nginx's ``$ssl_early_data`` + ``425 Too Early``).

    PASS: ``The server offers no TLS 1.3 early data (2 session tickets without early_data).``
    FAIL: ``The server accepts 16384 bytes of TLS 1.3 early data (0-RTT), which an
    attacker can replay.``
    """
    found = facts.get("early_data")
    if not isinstance(found, Mapping):
        if (facts.get("protocols") or {}).get("TLSv1.3") is False:
            return Outcome.not_applicable("TLS 1.3 is refused; there is no early data.")
        return Outcome.error(ErrorReason.NO_DATA,
                             f"TLS 1.3 early data was not measured{_why(facts, 'early_data')}.")
    evidence = {"early_data": dict(found)}
    if found.get("offered"):
        size = found.get("max_early_data_size")
        if options["allowed"]:
            return Outcome.passed(f"The server accepts {size} bytes of early data, which the "
                                  "policy allows.", **evidence)
        return Outcome.failed(f"The server accepts {size} bytes of TLS 1.3 early data (0-RTT), "
                              "which an attacker can replay.", **evidence)
    return Outcome.passed(f"The server offers no TLS 1.3 early data ({found.get('seen')}).",
                          **evidence)


EARLY_DATA = Check(
    id="tls.early_data",
    title="TLS 1.3 early data (0-RTT) is not offered",
    kinds=_ENDPOINT,
    evaluate=evaluate_early_data,
    options={"allowed": Option("bool", "pass a server that offers 0-RTT", default=False)},
)
NEEDS[EARLY_DATA.id] = Plan.nothing()
PROBES[EARLY_DATA.id] = frozenset({"early_data"})


CHECKS: tuple[Check, ...] = (SECURE_RENEGOTIATION, COMPRESSION, FALLBACK_SCSV, HEARTBLEED,
                             CCS_INJECTION, ROBOT, SIGNATURE_ALGORITHMS, SESSION_RESUMPTION,
                             CLIENT_RENEGOTIATION, EARLY_DATA)

__all__ = ["CHECKS", "NEEDS", "PROBES", "evaluate_client_renegotiation", "evaluate_early_data"]
