"""Online revocation (the leaf's OCSP responder and CRL) and AIA issuer fetching, opt-in.

Only when a policy asks (``tls.revocation`` with ``online: true``) does
collection leave the endpoint: it fetches

1. the leaf's issuer from its AIA caIssuers URL, when neither the served
   chain nor the trust store holds it (the OCSP request and the CRL's
   signature need it);
2. the OCSP responder named in the leaf's AIA, asked by GET (RFC 6960
   appendix A.1: the base64 DER request, URL-encoded, after the URL);
3. the CRL named in the leaf's CRL distribution points.

Every URL goes through the scope gate first (``fetch`` is built on
``ctx.gate``): an out-of-scope responder is recorded as not checked, with
reason ``scope``, and never contacted. Each body is bounded (the CRL by the
``max_crl_bytes`` option), each fetch by the scan's timeout. The pure parts
(what the certificate names, building the request, reading a CRL) are apart
from :func:`collect`, the one function that does I/O.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from scanner.models import CollectFailed

from .certs import signed_by
from .ocsp import ocsp_facts

MAX_OCSP_BYTES = 65536
MAX_ISSUER_BYTES = 65536
MAX_URLS = 2  # of each kind: a certificate naming ten responders gets two tries
_MESSAGE_LIMIT = 400

Fetch = Callable[[str, str, int], Awaitable[bytes]]
"""``fetch(url, purpose, max_bytes)``: the body of a GET, through the scope gate; raises
CollectFailed (reason ``scope`` when the gate refuses: nothing was sent)."""


# ------------------------------------------------------------------ pure


def _uris(names: Sequence[x509.GeneralName] | None) -> list[str]:
    return [str(n.value) for n in names or () if isinstance(n, x509.UniformResourceIdentifier)
            and str(n.value).lower().startswith("http://")]


def named_urls(cert: x509.Certificate) -> dict[str, list[str]]:
    """The http:// URLs ``cert`` names: ``ocsp``, ``ca_issuers`` (AIA) and ``crl`` (CRL DP)."""
    found: dict[str, list[str]] = {"ocsp": [], "ca_issuers": [], "crl": []}
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        aia = None
    for desc in aia or ():
        key = {AuthorityInformationAccessOID.OCSP: "ocsp",
               AuthorityInformationAccessOID.CA_ISSUERS: "ca_issuers"}.get(desc.access_method)
        if key:
            found[key] += _uris([desc.access_location])
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        points = None
    for point in points or ():
        found["crl"] += _uris(point.full_name)
    return {k: list(dict.fromkeys(v))[:MAX_URLS] for k, v in found.items()}


def ocsp_get_url(responder: str, leaf: x509.Certificate, issuer: x509.Certificate) -> str:
    """The RFC 6960 A.1 GET URL asking ``responder`` about ``leaf`` (SHA-1 CertID, no nonce)."""
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()
    encoded = quote(base64.b64encode(request.public_bytes(serialization.Encoding.DER)), safe="")
    return responder.rstrip("/") + "/" + encoded


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """Certificates in an AIA caIssuers body: DER, PEM, or a PKCS#7 certs-only bundle."""
    for loader in (lambda d: [x509.load_der_x509_certificate(d)],
                   x509.load_pem_x509_certificates,
                   pkcs7.load_der_pkcs7_certificates,
                   pkcs7.load_pem_pkcs7_certificates):
        try:
            return list(loader(data))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
    return []


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def crl_facts(der: bytes, leaf: x509.Certificate, issuer: x509.Certificate | None,
              ) -> dict[str, Any]:
    """What a CRL says about ``leaf``: ``cert_status`` (good/revoked), times, signature."""
    try:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            crl = x509.load_pem_x509_crl(der)
        entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
        facts: dict[str, Any] = {
            "error": None,
            "issuer": crl.issuer.rfc4514_string(),
            "for_leaf": crl.issuer == leaf.issuer,
            "cert_status": "revoked" if entry is not None else "good",
            "this_update": _iso(crl.last_update_utc),
            "next_update": _iso(crl.next_update_utc),
            "revocation_time": _iso(entry.revocation_date_utc) if entry is not None else None,
            "revocation_reason": None,
            "entries": len(crl),
            "signature_valid": None if issuer is None else crl.is_signature_valid(
                issuer.public_key()),  # type: ignore[arg-type]
        }
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
                facts["revocation_reason"] = reason.name
            except (x509.ExtensionNotFound, ValueError):
                pass
        return facts
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        return {"error": str(exc)[:_MESSAGE_LIMIT] or type(exc).__name__, "cert_status": None}


def find_issuer(leaf: x509.Certificate, candidates: Sequence[x509.Certificate],
                ) -> x509.Certificate | None:
    """The first candidate whose key signed ``leaf``."""
    return next((c for c in candidates if signed_by(leaf, c)), None)


def _not_checked(url: str, exc: CollectFailed) -> dict[str, Any]:
    why = exc.message[:_MESSAGE_LIMIT]
    if exc.reason.value == "scope":
        why = f"not checked: out of scope ({why})"
    return {"url": url, "checked": False, "reason": exc.reason.value, "message": why}


# ------------------------------------------------------------------ I/O


async def collect(leaf: x509.Certificate, known: Sequence[x509.Certificate], fetch: Fetch,
                  now: dt.datetime, *, use_ocsp: bool, use_crl: bool, aia: bool,
                  max_crl_bytes: int) -> dict[str, Any]:
    """The ``revocation`` facts: ``urls``, ``issuer``, ``aia``, ``ocsp`` and ``crl`` attempts.

    ``known`` holds the served chain and the trust store's certificates, where
    the leaf's issuer is looked for before AIA is asked.
    """
    urls = named_urls(leaf)
    issuer = find_issuer(leaf, known)
    facts: dict[str, Any] = {"urls": urls, "issuer": "known" if issuer is not None else None,
                             "aia": [], "ocsp": [], "crl": []}
    if issuer is None and aia:
        for url in urls["ca_issuers"]:
            try:
                fetched = read_certificates(await fetch(url, "AIA caIssuers", MAX_ISSUER_BYTES))
            except CollectFailed as exc:
                facts["aia"].append(_not_checked(url, exc))
                continue
            issuer = find_issuer(leaf, fetched)
            facts["aia"].append({
                "url": url, "checked": True,
                "certificates": [{"subject": c.subject.rfc4514_string(),
                                  "sha256": c.fingerprint(hashes.SHA256()).hex()} for c in fetched],
                "issued_leaf": issuer is not None})
            if issuer is not None:
                facts["issuer"] = "aia"
                break
    if use_ocsp:
        for url in urls["ocsp"]:
            if issuer is None:
                facts["ocsp"].append({"url": url, "checked": False, "reason": "no_data",
                                      "message": "not checked: the leaf's issuer is unknown"})
                continue
            try:
                body = await fetch(ocsp_get_url(url, leaf, issuer), "OCSP responder",
                                   MAX_OCSP_BYTES)
            except CollectFailed as exc:
                facts["ocsp"].append(_not_checked(url, exc))
                continue
            facts["ocsp"].append({"url": url, "checked": True,
                                  "response": ocsp_facts(body, leaf, issuer, now)})
            break
    if use_crl:
        for url in urls["crl"]:
            try:
                body = await fetch(url, "CRL", max_crl_bytes)
            except CollectFailed as exc:
                facts["crl"].append(_not_checked(url, exc))
                continue
            facts["crl"].append({"url": url, "checked": True,
                                 "response": crl_facts(body, leaf, issuer)})
            break
    return facts


__all__ = ["Fetch", "collect", "crl_facts", "find_issuer", "named_urls", "ocsp_get_url",
           "read_certificates"]
