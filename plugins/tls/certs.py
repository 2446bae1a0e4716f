"""Certificate chain analysis: from the DER chain a server sent to JSON facts.

:func:`analyze_chain` describes every served certificate, validates the chain
against a trust store with ``cryptography.x509.verification`` (web-PKI rules,
hostname included) and lists named problems. It is pure apart from reading
trust-store files (cached per path, size and mtime) and never raises on
hostile input: undecodable DER becomes an ``unparseable`` problem.

Problem codes (``problems[*].code``):

* ``expired`` / ``not_yet_valid``: a certificate on the path is outside its validity;
* ``expires_soon``: the leaf expires within ``expires_soon_days``;
* ``self_signed``: the leaf signs itself and is not a trust anchor;
* ``untrusted_root``: the chain ends at (or names) an issuer that is not trusted;
* ``incomplete_chain``: the leaf's issuer is missing from what was served, but a
  trusted path exists through a certificate known from the CA bundle, or the leaf
  names one to download (AIA "CA Issuers"); browsers without that cache fail;
* ``chain_invalid``: the chain reaches a trust anchor but breaks a web-PKI rule
  that no other code names (an issuer that is not a CA, a missing serverAuth
  usage, a leaf without subjectAltName, ...); ``verify_error`` says which;
* ``hostname_mismatch``: no subjectAltName of the leaf covers the hostname
  (judged separately from trust, so an untrusted *and* mismatched leaf has both);
* ``weak_key``: RSA or DSA below 2048 bits, EC below 256 bits, anywhere served;
* ``weak_signature``: an MD2/MD5/SHA-1 signature anywhere served, except the
  self-signature of a root (which nobody verifies);
* ``lifespan_too_long``: a leaf issued on or after 2020-09-01 valid for more
  than ``max_lifespan_days`` (CA/Browser Forum limit: 398);
* ``unparseable``: a served certificate is not valid DER (then it is skipped).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import AuthorityInformationAccessOID

SYSTEM_TRUST_STORE = "/etc/ssl/certs/ca-certificates.crt"
LIFESPAN_RULE_START = dt.datetime(2020, 9, 1, tzinfo=dt.UTC)
MAX_CHAIN_DEPTH = 100  # OpenSSL's default verify depth; web-PKI's default (8) is stricter
_MESSAGE_LIMIT = 400

# Signature algorithm OIDs with OpenSSL's names (the names Mozilla's profiles use)
# and the digest each one uses; the weak digests mark ``weak_signature``.
_SIGNATURE_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "1.2.840.113549.1.1.2": ("md2WithRSAEncryption", "md2"),
    "1.2.840.113549.1.1.4": ("md5WithRSAEncryption", "md5"),
    "1.2.840.113549.1.1.5": ("sha1WithRSAEncryption", "sha1"),
    "1.3.14.3.2.29": ("sha1WithRSA", "sha1"),
    "1.2.840.113549.1.1.14": ("sha224WithRSAEncryption", "sha224"),
    "1.2.840.113549.1.1.11": ("sha256WithRSAEncryption", "sha256"),
    "1.2.840.113549.1.1.12": ("sha384WithRSAEncryption", "sha384"),
    "1.2.840.113549.1.1.13": ("sha512WithRSAEncryption", "sha512"),
    "1.2.840.113549.1.1.10": ("rsassaPss", None),
    "1.2.840.10045.4.1": ("ecdsa-with-SHA1", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa-with-SHA224", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa-with-SHA256", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa-with-SHA384", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa-with-SHA512", "sha512"),
    "1.2.840.10040.4.3": ("dsaWithSHA1", "sha1"),
    "2.16.840.1.101.3.4.3.2": ("dsa_with_SHA256", "sha256"),
    "1.3.101.112": ("ED25519", None),
    "1.3.101.113": ("ED448", None),
}
WEAK_DIGESTS = frozenset({"md2", "md5", "sha1"})
_MIN_KEY_BITS = {"rsa": 2048, "dsa": 2048, "ecdsa": 256}


# -- trust stores ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustStore:
    """Trust anchors, and intermediates a CA bundle happens to know.

    Every certificate of the system store is an anchor. In a ``ca_file``, a
    self-signed certificate is an anchor and any other certificate is a known
    intermediate: it proves that a served chain is merely incomplete, but is not
    trusted on its own (OpenSSL's default, without ``PARTIAL_CHAIN``).
    """

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]
    sources: tuple[str, ...]

    @functools.cached_property
    def store(self) -> verification.Store | None:
        return verification.Store(list(self.anchors)) if self.anchors else None

    @functools.cached_property
    def anchor_fingerprints(self) -> frozenset[bytes]:
        return frozenset(_sha256(c) for c in self.anchors)

    @functools.cached_property
    def anchors_by_subject(self) -> dict[x509.Name, list[x509.Certificate]]:
        return _by_subject(self.anchors)

    @functools.cached_property
    def intermediates_by_subject(self) -> dict[x509.Name, list[x509.Certificate]]:
        return _by_subject(self.intermediates)


def _by_subject(certs: Sequence[x509.Certificate]) -> dict[x509.Name, list[x509.Certificate]]:
    index: dict[x509.Name, list[x509.Certificate]] = {}
    for cert in certs:
        index.setdefault(cert.subject, []).append(cert)
    return index


def load_trust_store(
    ca_file: str | None, system_store: str | None = SYSTEM_TRUST_STORE
) -> TrustStore:
    """The system store (if present) plus ``ca_file``; raises OSError if ``ca_file`` is unreadable."""
    anchors: list[x509.Certificate] = []
    intermediates: list[x509.Certificate] = []
    sources: list[str] = []
    if system_store and os.path.exists(system_store):
        anchors.extend(_read_bundle(system_store))
        sources.append(system_store)
    if ca_file:
        for cert in _read_bundle(ca_file):
            (anchors if _is_self_signed(cert) else intermediates).append(cert)
        sources.append(ca_file)
    return _trust_store(tuple(anchors), tuple(intermediates), tuple(sources))


@functools.lru_cache(maxsize=16)
def _trust_store(
    anchors: tuple[x509.Certificate, ...],
    intermediates: tuple[x509.Certificate, ...],
    sources: tuple[str, ...],
) -> TrustStore:
    # Cached so the verification Store (and fingerprints) are built once per bundle set.
    return TrustStore(anchors, intermediates, sources)


def _read_bundle(path: str) -> tuple[x509.Certificate, ...]:
    stat = os.stat(path)
    return _parse_bundle(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _parse_bundle(path: str, mtime_ns: int, size: int) -> tuple[x509.Certificate, ...]:
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        with warnings.catch_warnings():
            # System bundles hold a few old roots that trip deprecation warnings
            # (negative serials); they are the OS's choice, not the target's.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return tuple(x509.load_pem_x509_certificates(data))
    except ValueError:
        # One bad block must not discard the whole bundle: parse block by block.
        certs = []
        marker = b"-----END CERTIFICATE-----"
        for block in data.split(marker):
            if b"-----BEGIN CERTIFICATE-----" in block:
                try:
                    certs.append(x509.load_pem_x509_certificate(block + marker))
                except ValueError:
                    continue
        return tuple(certs)


# -- per-certificate facts -----------------------------------------------------------


def _sha256(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_facts(cert: x509.Certificate) -> dict[str, Any]:
    """``{"type": "rsa"|"ecdsa"|"dsa"|"ed25519"|"ed448"|"unknown", "size": bits, "curve": name}``."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return {"type": "unknown", "size": None, "curve": None}
    if isinstance(key, rsa.RSAPublicKey):
        return {"type": "rsa", "size": key.key_size, "curve": None}
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"type": "ecdsa", "size": key.curve.key_size, "curve": key.curve.name}
    if isinstance(key, dsa.DSAPublicKey):
        return {"type": "dsa", "size": key.key_size, "curve": None}
    if isinstance(key, ed25519.Ed25519PublicKey):
        return {"type": "ed25519", "size": 256, "curve": None}
    if isinstance(key, ed448.Ed448PublicKey):
        return {"type": "ed448", "size": 448, "curve": None}
    return {"type": "unknown", "size": None, "curve": None}


def signature_facts(cert: x509.Certificate) -> tuple[str, str | None]:
    """(OpenSSL-style algorithm name or dotted OID, digest name or None)."""
    oid = cert.signature_algorithm_oid.dotted_string
    name, digest = _SIGNATURE_ALGORITHMS.get(oid, (oid, None))
    if oid == "1.2.840.113549.1.1.10":  # RSASSA-PSS: the digest is in the parameters
        try:
            hash_algorithm = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            hash_algorithm = None
        digest = hash_algorithm.name if hash_algorithm else None
    return name, digest


def _subject_alt_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    except ValueError:  # a malformed extension: treat as absent, the verifier will object
        return [], []
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _aia_ca_issuers(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Does ``issuer``'s key verify ``cert``'s signature? Any algorithm, weak ones included.

    ``Certificate.verify_directly_issued_by`` refuses SHA-1, but a SHA-1 chain
    must still be recognised as *this* chain to report it as weak, not unknown.
    """
    if cert.issuer != issuer.subject:
        return False
    try:
        key = issuer.public_key()
        params = cert.signature_algorithm_parameters
        digest = cert.signature_hash_algorithm
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params, digest)  # type: ignore[arg-type]
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, params)  # type: ignore[arg-type]
        elif isinstance(key, dsa.DSAPublicKey) and digest is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, digest)
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _is_self_signed(cert: x509.Certificate) -> bool:
    return _signed_by(cert, cert)


def _lifespan_days(cert: x509.Certificate) -> int:
    seconds = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()
    return math.ceil(seconds / 86400)


def _describe(index: int, cert: x509.Certificate, now: dt.datetime) -> dict[str, Any]:
    dns, ips = _subject_alt_names(cert)
    signature, digest = signature_facts(cert)
    return {
        "index": index,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "san_dns": dns,
        "san_ip": ips,
        "serial": format(cert.serial_number, "x"),
        "not_before": _iso(cert.not_valid_before_utc),
        "not_after": _iso(cert.not_valid_after_utc),
        "days_left": math.floor((cert.not_valid_after_utc - now).total_seconds() / 86400),
        "lifespan_days": _lifespan_days(cert),
        "key": key_facts(cert),
        "signature_algorithm": signature,
        "signature_digest": digest,
        "sha256": _sha256(cert).hex(),
        "self_signed": _is_self_signed(cert),
        "is_ca": _is_ca(cert),
        "aia_ca_issuers": _aia_ca_issuers(cert),
    }


# -- hostname ----------------------------------------------------------------------------


def hostname_matches(hostname: str, dns_names: Sequence[str], ip_addresses: Sequence[str]) -> bool:
    """RFC 6125 matching as browsers do it: SANs only, no CN fallback.

    An IP literal (IPv6 with or without brackets) matches IP SANs only. A
    wildcard is accepted only as the whole left-most label and covers exactly
    one label (``*.lab.test`` covers ``a.lab.test``, not ``a.b.lab.test``).
    """
    host = hostname.strip().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        for text in ip_addresses:
            try:
                if ipaddress.ip_address(text) == address:
                    return True
            except ValueError:
                continue
        return False
    wanted = _normalise_dns(host)
    if not wanted:
        return False
    for pattern in dns_names:
        name = _normalise_dns(pattern)
        if not name:
            continue
        if name == wanted:
            return True
        labels = name.split(".")
        if labels[0] == "*" and len(labels) >= 3 and "*" not in name[1:]:
            host_labels = wanted.split(".")
            if len(host_labels) == len(labels) and host_labels[1:] == labels[1:]:
                return True
    return False


def _normalise_dns(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return ""


# -- the analysis --------------------------------------------------------------------


def _problem(code: str, message: str, index: int | None = None) -> dict[str, Any]:
    return {"code": code, "message": message[:_MESSAGE_LIMIT], "certificate": index}


def _verify(
    store: verification.Store | None,
    moment: dt.datetime,
    subject: x509.verification.Subject,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
) -> list[x509.Certificate]:
    """Web-PKI path validation; raises VerificationError (a ValueError for a bad name)."""
    if store is None:
        raise verification.VerificationError("the trust store holds no certificate")
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(store)
            .time(moment)
            .max_chain_depth(MAX_CHAIN_DEPTH)
            .build_server_verifier(subject)
        )
    except ValueError as exc:
        raise verification.VerificationError(str(exc)) from None
    return verifier.verify(leaf, intermediates)


def _verification_subject(hostname: str) -> x509.verification.Subject | None:
    host = hostname.strip().strip("[]")
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return x509.DNSName(_normalise_dns(host)) if _normalise_dns(host) else None
    except ValueError:
        return None


def _own_subject(leaf: x509.Certificate) -> x509.verification.Subject | None:
    """A name the leaf itself covers, to ask "trusted?" without asking "right host?"."""
    dns, ips = _subject_alt_names(leaf)
    if dns:
        return _verification_subject("x" + dns[0][1:] if dns[0].startswith("*.") else dns[0])
    if ips:
        return _verification_subject(ips[0])
    return None


def _validity_moment(certs: Sequence[x509.Certificate], now: dt.datetime) -> dt.datetime:
    """``now`` moved into the window where every given certificate is valid.

    Used to ask whether the chain is trusted apart from dates, which are
    reported as ``expired`` / ``not_yet_valid`` on their own.
    """
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start > end:
        start = end = certs[0].not_valid_before_utc
    return min(max(now, start), end)


@dataclass(frozen=True)
class _Path:
    """Result of building a path by names and signatures alone (no policy)."""

    certs: tuple[int, ...]  # indexes into the served chain, leaf first
    anchor: x509.Certificate | None
    missing_issuer: x509.Certificate | None  # known from the CA bundle but not served
    top: x509.Certificate  # last certificate reached


def _build_path(served: Sequence[x509.Certificate | None], trust: TrustStore) -> _Path:
    """Follow issuers from the leaf through served certificates to an anchor.

    Candidates are looked up by issuer name, so a long or shuffled chain costs
    one signature check per step; signature checks accept weak algorithms so a
    SHA-1 chain is still recognised as reaching its root.
    """
    leaf = served[0]
    assert leaf is not None
    served_by_subject: dict[x509.Name, list[tuple[int, x509.Certificate]]] = {}
    for index, cert in enumerate(served):
        if cert is not None:
            served_by_subject.setdefault(cert.subject, []).append((index, cert))
    path = [0]
    current = leaf
    while len(path) <= MAX_CHAIN_DEPTH:
        if _sha256(current) in trust.anchor_fingerprints:
            return _Path(tuple(path), current, None, current)
        for anchor in trust.anchors_by_subject.get(current.issuer, ()):
            if _signed_by(current, anchor):
                return _Path(tuple(path), anchor, None, current)
        step = next(
            (
                (i, cert)
                for i, cert in served_by_subject.get(current.issuer, ())
                if i not in path and _signed_by(current, cert)
            ),
            None,
        )
        if step is None:
            break
        path.append(step[0])
        current = step[1]
    for known in trust.intermediates_by_subject.get(current.issuer, ()):
        if _signed_by(current, known) and any(
            _signed_by(known, a) for a in trust.anchors_by_subject.get(known.issuer, ())
        ):
            return _Path(tuple(path), None, known, current)
    return _Path(tuple(path), None, None, current)


def analyze_chain(
    chain_der: Sequence[bytes],
    hostname: str,
    *,
    ca_file: str | None,
    now: dt.datetime,
    ocsp_stapled: bool | None,
    expires_soon_days: int = 30,
    max_lifespan_days: int = 398,
    system_store: str | None = SYSTEM_TRUST_STORE,
) -> dict[str, Any]:
    """JSON facts about a served certificate chain (leaf first) for ``hostname``.

    ``now`` must be timezone-aware. ``ca_file`` adds trust anchors to the
    system store (see :class:`TrustStore`). Never raises on hostile input.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(dt.UTC)
    facts: dict[str, Any] = {
        "hostname": hostname,
        "certificates": [],
        "trusted": False,
        "verified": False,
        "verify_error": None,
        "anchor": None,
        "path": [],
        "hostname_matches": False,
        "days_left": None,
        "lifespan_days": None,
        "ocsp_stapled": ocsp_stapled,
        "trust_store": [],
        "problems": [],
    }
    problems: list[dict[str, Any]] = facts["problems"]
    served = _parse_served(chain_der, now, facts["certificates"], problems)
    leaf = served[0] if served else None
    if leaf is None:
        if not served:
            problems.append(_problem("unparseable", "The server sent no certificate."))
        facts["verify_error"] = "no usable leaf certificate"
        return facts
    try:
        trust = load_trust_store(ca_file, system_store)
    except OSError as exc:
        facts["verify_error"] = f"cannot read the trust store: {exc}"[:_MESSAGE_LIMIT]
        return facts
    facts["trust_store"] = list(trust.sources)
    described = facts["certificates"]
    facts["days_left"] = described[0]["days_left"]
    facts["lifespan_days"] = described[0]["lifespan_days"]

    dns, ips = _subject_alt_names(leaf)
    facts["hostname_matches"] = hostname_matches(hostname, dns, ips)
    if not facts["hostname_matches"]:
        names = ", ".join([*dns, *ips][:10]) or "none"
        problems.append(
            _problem(
                "hostname_mismatch",
                f"The certificate is not valid for {hostname} (it names: {names}).",
                0,
            )
        )

    intermediates = [c for c in served[1:] if c is not None]
    verified_chain: list[x509.Certificate] | None = None
    subject = _verification_subject(hostname)
    if subject is None:
        facts["verify_error"] = f"{hostname!r} is not a valid host name"
    else:
        try:
            verified_chain = _verify(trust.store, now, subject, leaf, intermediates)
            facts["verified"] = True
        except verification.VerificationError as exc:
            facts["verify_error"] = str(exc)[:_MESSAGE_LIMIT]

    path = _build_path(served, trust)
    path_certs = [c for c in (served[i] for i in path.certs) if c is not None]
    own = _own_subject(leaf)
    if verified_chain is None and own is not None:
        # Ask again with dates and name neutralised: those are reported on their own.
        moment = _validity_moment(path_certs, now)
        try:
            verified_chain = _verify(trust.store, moment, own, leaf, intermediates)
        except verification.VerificationError:
            verified_chain = None
    anchor = verified_chain[-1] if verified_chain else path.anchor
    if anchor is not None:
        facts["anchor"] = {
            "subject": anchor.subject.rfc4514_string(),
            "sha256": _sha256(anchor).hex(),
        }
    facts["path"] = [
        {"subject": c.subject.rfc4514_string(), "sha256": _sha256(c).hex()}
        for c in (verified_chain or path_certs)
    ]

    strength = _strength_problems(described)
    problems.extend(strength)
    if verified_chain is not None:
        facts["trusted"] = True
    elif path.anchor is not None:
        # The chain reaches an anchor by signatures; the verifier objected anyway.
        # SHA-1 signatures and SAN-less leaves are refused by web-PKI rules and
        # already reported (weak_signature, hostname_mismatch); anything else is
        # a genuine rule violation.
        weak_on_path = any(
            p["code"] == "weak_signature" and p["certificate"] in path.certs for p in strength
        )
        facts["trusted"] = weak_on_path or not (dns or ips)
        if not facts["trusted"]:
            problems.append(
                _problem(
                    "chain_invalid",
                    "The chain leads to a trusted root but breaks a certificate rule: "
                    f"{facts['verify_error']}",
                )
            )
    else:
        problems.append(_untrusted_problem(leaf, path))
    problems.extend(_validity_problems(served, path.certs, described, now))
    problems.extend(
        _leaf_date_problems(leaf, described[0], now, expires_soon_days, max_lifespan_days)
    )
    return facts


def _parse_served(
    chain_der: Sequence[bytes],
    now: dt.datetime,
    described: list[dict[str, Any]],
    problems: list[dict[str, Any]],
) -> list[x509.Certificate | None]:
    """Decode every served certificate; an undecodable one is ``None`` plus a problem."""
    served: list[x509.Certificate | None] = []
    for index, der in enumerate(chain_der):
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
            described.append(_describe(index, cert, now))
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            served.append(None)
            described.append({"index": index, "error": str(exc)[:_MESSAGE_LIMIT]})
            problems.append(
                _problem(
                    "unparseable",
                    f"Certificate {index} of the served chain cannot be decoded.",
                    index,
                )
            )
            continue
        served.append(cert)
    return served


def _strength_problems(described: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """weak_signature and weak_key for every decoded served certificate."""
    problems = []
    for info in described:
        if "error" in info:
            continue
        index = info["index"]
        # A root's self-signature is never verified by anyone, so its digest is moot.
        if info["signature_digest"] in WEAK_DIGESTS and not (index > 0 and info["self_signed"]):
            problems.append(
                _problem(
                    "weak_signature",
                    f"Certificate {index} ({info['subject']}) is signed with "
                    f"{info['signature_algorithm']}, which is no longer secure.",
                    index,
                )
            )
        key = info["key"]
        minimum = _MIN_KEY_BITS.get(key["type"])
        if minimum is not None and key["size"] is not None and key["size"] < minimum:
            problems.append(
                _problem(
                    "weak_key",
                    f"Certificate {index} ({info['subject']}) has a {key['size']}-bit "
                    f"{key['type'].upper()} key; at least {minimum} bits are needed.",
                    index,
                )
            )
    return problems


def _validity_problems(
    served: Sequence[x509.Certificate | None],
    path: Sequence[int],
    described: Sequence[dict[str, Any]],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """expired / not_yet_valid for the served certificates on the path."""
    problems = []
    for index in path:
        cert = served[index]
        if cert is None:
            continue
        info = described[index]
        what = "The certificate" if index == 0 else f"Chain certificate {index} ({info['subject']})"
        if cert.not_valid_after_utc < now:
            problems.append(_problem("expired", f"{what} expired on {info['not_after']}.", index))
        elif cert.not_valid_before_utc > now:
            problems.append(
                _problem(
                    "not_yet_valid", f"{what} is not valid before {info['not_before']}.", index
                )
            )
    return problems


def _leaf_date_problems(
    leaf: x509.Certificate,
    info: dict[str, Any],
    now: dt.datetime,
    expires_soon_days: int,
    max_lifespan_days: int,
) -> list[dict[str, Any]]:
    problems = []
    if leaf.not_valid_after_utc >= now and info["days_left"] < expires_soon_days:
        problems.append(
            _problem(
                "expires_soon",
                f"The certificate expires in {info['days_left']} days, on {info['not_after']}.",
                0,
            )
        )
    if (
        leaf.not_valid_before_utc >= LIFESPAN_RULE_START
        and info["lifespan_days"] > max_lifespan_days
    ):
        problems.append(
            _problem(
                "lifespan_too_long",
                f"The certificate is valid for {info['lifespan_days']} days; at most "
                f"{max_lifespan_days} are allowed for certificates issued since 2020-09-01.",
                0,
            )
        )
    return problems


def _untrusted_problem(leaf: x509.Certificate, path: _Path) -> dict[str, Any]:
    top = path.top
    if path.missing_issuer is not None:
        return _problem(
            "incomplete_chain",
            "The server does not send the intermediate certificate "
            f"{path.missing_issuer.subject.rfc4514_string()}; clients that do not already "
            "have it cannot verify the chain.",
        )
    if top is leaf and _is_self_signed(leaf):
        return _problem("self_signed", "The certificate is self-signed and not trusted.", 0)
    if _is_self_signed(top):
        return _problem(
            "untrusted_root",
            f"The chain ends at the root {top.subject.rfc4514_string()}, which is not trusted.",
        )
    aia = _aia_ca_issuers(top)
    if aia:
        return _problem(
            "incomplete_chain",
            f"The issuer {top.issuer.rfc4514_string()} is not served; the certificate "
            f"points to it at {aia[0]} (not fetched), so the chain is likely incomplete.",
        )
    return _problem(
        "untrusted_root",
        f"The issuer {top.issuer.rfc4514_string()} is neither served nor trusted.",
    )


__all__ = [
    "SYSTEM_TRUST_STORE",
    "WEAK_DIGESTS",
    "TrustStore",
    "analyze_chain",
    "hostname_matches",
    "key_facts",
    "load_trust_store",
    "signature_facts",
]
