"""Certificate chain facts: what a server sent, and what the verifier made of it.

:func:`describe_chain` describes every served certificate in the order it was
served, links each to the served certificate (or trust anchor) whose key signed
it, finds the leaf by the host name and those links (not by position), and
records the path ``cryptography.x509.verification`` built or its own error.
It judges nothing: the rules live in :mod:`.certchecks`. It is pure apart from
reading trust-store files (cached per path, size and mtime) and never raises on
hostile input: undecodable DER is described as ``{"index": N, "error": ...}``.
The schema is documented in docs/tls-certificates.md (tls facts version 2).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import ipaddress
import math
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
try:
    # The encodings alone, not the serialization package with its SSH-key, bcrypt and PKCS#12
    # modules (~3 ms of a scan); cryptography.x509 reads them from this module too. It is
    # private to cryptography, so a release that moves it costs only those 3 ms.
    from cryptography.hazmat.primitives._serialization import Encoding, PublicFormat
except ImportError:  # pragma: no cover - depends on the installed cryptography
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from .ocsp import ocsp_facts

SYSTEM_TRUST_STORE = "/etc/ssl/certs/ca-certificates.crt"
MAX_CHAIN_DEPTH = 100  # OpenSSL's default verify depth; web-PKI's default (8) is stricter
_MESSAGE_LIMIT = 400

# Signature algorithm OIDs with OpenSSL's names (the names Mozilla's profiles use)
# and the digest each one uses.
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
    with _LOADING:  # endpoints scanned together wait for one parse instead of each parsing
        return _load_trust_store(ca_file, system_store)


_LOADING = threading.Lock()


def _load_trust_store(ca_file: str | None, system_store: str | None) -> TrustStore:
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
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).digest()


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


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> Any:
    """The extension's value, or None when absent or malformed (the verifier objects to those)."""
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except (x509.ExtensionNotFound, ValueError):
        return None


def subject_alt_names(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    san = _extension(cert, x509.SubjectAlternativeName)
    if san is None:
        return [], []
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


_KEY_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign",
)
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def _key_usage(cert: x509.Certificate) -> list[str] | None:
    usage = _extension(cert, x509.KeyUsage)
    if usage is None:
        return None
    return [name for name in _KEY_USAGES if getattr(usage, name)]


def _extended_key_usage(cert: x509.Certificate) -> list[str] | None:
    usage = _extension(cert, x509.ExtendedKeyUsage)
    if usage is None:
        return None
    return [_EKU_NAMES.get(oid, oid.dotted_string) for oid in usage]


def _aia(cert: x509.Certificate, method: x509.ObjectIdentifier) -> list[str]:
    aia = _extension(cert, x509.AuthorityInformationAccess)
    return [
        str(d.access_location.value)
        for d in aia or ()
        if d.access_method == method and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def _basic_constraints(cert: x509.Certificate) -> tuple[bool, int | None]:
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is None:
        return False, None
    return bool(constraints.ca), constraints.path_length


def _sct_count(cert: x509.Certificate) -> int:
    scts = _extension(cert, x509.PrecertificateSignedCertificateTimestamps)
    return len(scts) if scts is not None else 0


def _must_staple(cert: x509.Certificate) -> bool:
    features = _extension(cert, x509.TLSFeature)
    return features is not None and x509.TLSFeatureType.status_request in features


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
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
    return signed_by(cert, cert)


def _spki_sha256(cert: x509.Certificate) -> str | None:
    """SHA-256 of the public key (SubjectPublicKeyInfo): what deny-lists of keys use."""
    try:
        spki = cert.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, UnsupportedAlgorithm):
        return None
    return hashlib.sha256(spki).hexdigest()


def _lifespan_days(cert: x509.Certificate) -> int:
    seconds = (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds()
    return math.ceil(seconds / 86400)


def _describe(index: int, cert: x509.Certificate, now: dt.datetime) -> dict[str, Any]:
    dns, ips = subject_alt_names(cert)
    signature, digest = signature_facts(cert)
    is_ca, path_length = _basic_constraints(cert)
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
        "spki_sha256": _spki_sha256(cert),
        "self_signed": _is_self_signed(cert),
        "is_ca": is_ca,
        "path_length": path_length,
        "key_usage": _key_usage(cert),
        "extended_key_usage": _extended_key_usage(cert),
        "aia_ca_issuers": _aia(cert, AuthorityInformationAccessOID.CA_ISSUERS),
        "ocsp_urls": _aia(cert, AuthorityInformationAccessOID.OCSP),
        "sct_count": _sct_count(cert),
        "must_staple": _must_staple(cert),
        "issued_by": None,
        "in_trust_store": False,
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


# -- verification --------------------------------------------------------------------


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
    dns, ips = subject_alt_names(leaf)
    if dns:
        return _verification_subject("x" + dns[0][1:] if dns[0].startswith("*.") else dns[0])
    if ips:
        return _verification_subject(ips[0])
    return None


def _validity_moment(certs: Sequence[x509.Certificate], now: dt.datetime) -> dt.datetime:
    """``now`` moved into the window where every given certificate is valid."""
    start = max(c.not_valid_before_utc for c in certs)
    end = min(c.not_valid_after_utc for c in certs)
    if start > end:
        start = end = certs[0].not_valid_before_utc
    return min(max(now, start), end)


def _verifier_result(
    trust: TrustStore,
    moment: dt.datetime,
    subject: x509.verification.Subject | None,
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    no_subject: str,
) -> dict[str, Any]:
    """``{"verified", "error", "path"}``: the verifier's built path, or its own reason text."""
    if subject is None:
        return {"verified": False, "error": no_subject, "path": []}
    try:
        built = _verify(trust.store, moment, subject, leaf, intermediates)
    except verification.VerificationError as exc:
        return {"verified": False, "error": str(exc)[:_MESSAGE_LIMIT], "path": []}
    return {"verified": True, "error": None, "path": [_name_and_hash(c) for c in built]}


def _name_and_hash(cert: x509.Certificate) -> dict[str, str]:
    return {"subject": cert.subject.rfc4514_string(), "sha256": _sha256(cert).hex()}


# -- issuer links and the leaf --------------------------------------------------------


Served = Sequence[x509.Certificate | None]


def _link_issuers(served: Served, described: list[dict[str, Any]], trust: TrustStore) -> None:
    """Fill ``issued_by`` (the served index whose key signed it) and ``in_trust_store``.

    Candidates are looked up by issuer name, so a long or shuffled chain costs
    about one signature check per certificate.
    """
    by_subject: dict[x509.Name, list[int]] = {}
    for index, cert in enumerate(served):
        if cert is not None:
            by_subject.setdefault(cert.subject, []).append(index)
    for index, cert in enumerate(served):
        if cert is None:
            continue
        info = described[index]
        # Certificates compare by their DER; the subject index is built for path building anyway.
        info["in_trust_store"] = cert in trust.anchors_by_subject.get(cert.subject, ())
        for candidate in by_subject.get(cert.issuer, ()):
            issuer = served[candidate]
            if candidate != index and issuer is not None and signed_by(cert, issuer):
                info["issued_by"] = candidate
                break


def find_leaf(served: Served, described: Sequence[dict[str, Any]], hostname: str) -> int | None:
    """The served index of the server's own certificate, whatever the served order.

    The leaf issues no other served certificate; among those, one that names the
    host wins, then one that is not a CA, then the first served.
    """
    usable = [i for i, cert in enumerate(served) if cert is not None]
    if not usable:
        return None
    issuers = {info.get("issued_by") for info in described}
    bottoms = [i for i in usable if i not in issuers] or usable
    for index in bottoms:
        info = described[index]
        if hostname_matches(hostname, info["san_dns"], info["san_ip"]):
            return index
    not_ca = [i for i in bottoms if not described[i]["is_ca"]]
    return (not_ca or bottoms)[0]


class _Path(NamedTuple):
    """Result of building a path by names and signatures alone (no policy)."""

    certs: tuple[int, ...]  # indexes into the served chain, leaf first
    anchor: x509.Certificate | None
    known_issuer: x509.Certificate | None  # known from the CA bundle but not served


def _build_path(served: Served, described: Sequence[dict[str, Any]], leaf: int, trust: TrustStore) -> _Path:
    """Follow ``issued_by`` from the leaf through served certificates to an anchor.

    Signature checks accept weak algorithms, so a SHA-1 chain is still
    recognised as reaching its root.
    """
    path = [leaf]
    current = served[leaf]
    assert current is not None
    while len(path) <= MAX_CHAIN_DEPTH:
        if described[path[-1]]["in_trust_store"]:
            return _Path(tuple(path), current, None)
        step = described[path[-1]]["issued_by"]
        if step is not None and step not in path:
            # A served issuer first, so a served root is on the path too.
            path.append(step)
            current = served[step]
            assert current is not None
            continue
        for anchor in trust.anchors_by_subject.get(current.issuer, ()):
            if signed_by(current, anchor):
                return _Path(tuple(path), anchor, None)
        break
    for known in trust.intermediates_by_subject.get(current.issuer, ()):
        if signed_by(current, known) and any(
            signed_by(known, a) for a in trust.anchors_by_subject.get(known.issuer, ())
        ):
            return _Path(tuple(path), None, known)
    return _Path(tuple(path), None, None)


# -- the description -----------------------------------------------------------------


def describe_chain(
    chain_der: Sequence[bytes],
    hostname: str,
    *,
    ca_file: str | None,
    now: dt.datetime,
    ocsp_response: bytes | None = None,
    ocsp_stapled: bool | None = None,
    system_store: str | None = SYSTEM_TRUST_STORE,
) -> dict[str, Any]:
    """JSON facts about a served certificate chain (in served order) for ``hostname``.

    ``now`` (timezone-aware) is the scan moment, stored as ``checked_at``.
    ``ca_file`` adds trust anchors to the system store (see :class:`TrustStore`).
    ``ocsp_response`` is the stapled DER OCSPResponse, parsed into ``ocsp``.
    Never raises on hostile input.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(dt.UTC)
    facts: dict[str, Any] = {
        "hostname": hostname,
        "checked_at": _iso(now),
        "certificates": [],
        "leaf": None,
        "chain": [],
        "anchor": None,
        "known_issuer": None,
        "verification": None,
        "trust_verification": None,
        "trust_store": [],
        "trust_store_error": None,
        "ocsp_stapled": ocsp_stapled,
        "ocsp": None,
    }
    served = _parse_served(chain_der, now, facts["certificates"])
    try:
        trust = load_trust_store(ca_file, system_store)
    except OSError as exc:
        facts["trust_store_error"] = f"cannot read the trust store: {exc}"[:_MESSAGE_LIMIT]
        trust = _trust_store((), (), ())
    facts["trust_store"] = list(trust.sources)
    _link_issuers(served, facts["certificates"], trust)
    leaf_index = find_leaf(served, facts["certificates"], hostname)
    if leaf_index is None:
        return facts
    leaf = served[leaf_index]
    assert leaf is not None
    path = _build_path(served, facts["certificates"], leaf_index, trust)
    facts.update(
        leaf=leaf_index,
        chain=list(path.certs),
        anchor=_name_and_hash(path.anchor) if path.anchor is not None else None,
        known_issuer=_name_and_hash(path.known_issuer) if path.known_issuer is not None else None,
    )
    facts.update(_verifications(trust, now, hostname, served, leaf_index, path))
    if ocsp_response is not None:
        facts["ocsp"] = ocsp_facts(ocsp_response, leaf, _issuer_of(served, path, trust), now)
    return facts


def _verifications(
    trust: TrustStore, now: dt.datetime, hostname: str, served: Served, leaf_index: int, path: _Path
) -> dict[str, Any]:
    """``verification`` (web-PKI, for ``hostname`` at ``now``) and, if that failed,
    ``trust_verification``: asked again with dates and name taken out, which
    are judged on their own."""
    leaf = served[leaf_index]
    assert leaf is not None
    others = [c for i, c in enumerate(served) if c is not None and i != leaf_index]
    full = _verifier_result(
        trust, now, _verification_subject(hostname), leaf, others,
        f"{hostname!r} is not a valid host name",
    )
    if full["verified"]:
        return {"verification": full, "trust_verification": None}
    path_certs = [c for c in (served[i] for i in path.certs) if c is not None]
    trust_only = _verifier_result(
        trust, _validity_moment(path_certs, now), _own_subject(leaf), leaf, others,
        "the certificate names no host (no subjectAltName)",
    )
    return {"verification": full, "trust_verification": trust_only}


def _issuer_of(served: Served, path: _Path, trust: TrustStore) -> x509.Certificate | None:
    """The certificate that issued the leaf: served, from the CA bundle, or the anchor."""
    if len(path.certs) > 1:
        return served[path.certs[1]]
    if path.known_issuer is not None:
        return path.known_issuer
    return path.anchor


def _parse_served(
    chain_der: Sequence[bytes], now: dt.datetime, described: list[dict[str, Any]]
) -> list[x509.Certificate | None]:
    """Decode every served certificate; an undecodable one is ``None`` (and described by its error)."""
    served: list[x509.Certificate | None] = []
    for index, der in enumerate(chain_der):
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
            described.append(_describe(index, cert, now))
        except (ValueError, TypeError, UnsupportedAlgorithm, x509.InvalidVersion) as exc:
            served.append(None)
            described.append({"index": index, "error": str(exc)[:_MESSAGE_LIMIT]})
            continue
        served.append(cert)
    return served


__all__ = [
    "SYSTEM_TRUST_STORE",
    "TrustStore",
    "describe_chain",
    "find_leaf",
    "hostname_matches",
    "key_facts",
    "load_trust_store",
    "signature_facts",
    "signed_by",
]
