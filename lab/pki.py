"""A small, throw-away PKI for tests and the demo lab, built with ``cryptography`` only.

``LabPKI(directory)`` creates a lab root CA (the one a test trust store trusts),
a lab intermediate, an *untrusted* second root, and on request leaf
certificates in the variants scanners must tell apart (expired, self-signed,
wrong host, SHA-1, missing intermediate, ...). Every file is PEM; every date is
relative to ``now``. Keys are generated on the fly and cached per process, so a
test session pays for each RSA key once.

The leaves carry an AIA "CA Issuers" URL under ``http://pki.<domain>/`` so that a
served chain without its intermediate is recognisable as incomplete. Nothing is
ever published there and no scanner fetches it.

Nothing here is secret or meant for production: the keys are unencrypted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from scanner.fsutil import atomic_write

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

VARIANTS: tuple[str, ...] = (
    "good-rsa",
    "good-ecdsa",
    "expired",
    "not-yet-valid",
    "expires-soon",
    "self-signed",
    "untrusted-root",
    "wrong-host",
    "rsa1024",
    "sha1",
    "sha1-intermediate",
    "missing-intermediate",
    "long-lifespan",
    "hostile-subject",
    "long-chain",
)
"""Leaf variants :meth:`LabPKI.leaf` can issue. Unless said otherwise a leaf is
RSA-2048, SHA-256, valid from a day ago for 90 days, issued by the lab
intermediate and served with it:

* ``good-ecdsa``: P-256 key; ``rsa1024``: RSA-1024 key;
* ``expired`` (ended 10 days ago), ``not-yet-valid`` (starts in 10 days),
  ``expires-soon`` (ends in 10 days), ``long-lifespan`` (825 days);
* ``self-signed`` (served alone), ``untrusted-root`` (issued and served with the
  untrusted root), ``missing-intermediate`` (served without the intermediate);
* ``wrong-host``: names ``other-host.<domain>`` only;
* ``sha1``: the leaf is signed with SHA-1; ``sha1-intermediate``: a SHA-256
  leaf under an intermediate signed with SHA-1;
* ``hostile-subject``: ``<script>``, quotes, comma and semicolon in CN and O;
* ``long-chain``: 50 certificates served (leaf and 49 P-256 CAs under the root).
"""

HOSTILE_CN = "<script>alert(1)</script>"
HOSTILE_O = '"Quoted" O\'Org, <b>bold</b>; x=1'
LONG_CHAIN_LENGTH = 50  # certificates served, leaf included
EXPIRES_SOON_DAYS = 10
LONG_LIFESPAN_DAYS = 825

_KEYS: dict[tuple[str, str], PrivateKey] = {}


def _key(label: str, spec: str) -> PrivateKey:
    """A private key for ``label``, generated once per process (RSA is slow)."""
    cached = _KEYS.get((label, spec))
    if cached is not None:
        return cached
    key: PrivateKey
    if spec == "rsa2048":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif spec == "rsa1024":
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    elif spec == "p256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unknown key spec {spec!r}")
    _KEYS[(label, spec)] = key
    return key


def _serial(label: str) -> int:
    # Deterministic per label, positive and below 2**127 (RFC 5280 allows 20 octets).
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:16], "big") >> 1 | 1


def _name(common_name: str, organization: str = "civiscan lab") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return x509.DNSName(name)


@dataclass(frozen=True)
class CA:
    """A certificate authority of the lab: its certificate, key and PEM file."""

    cert: x509.Certificate
    key: PrivateKey
    path: Path | None  # None for the long chain's CAs, which are only ever served

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class Leaf:
    """One issued server certificate and the files a web server needs.

    ``fullchain`` is what the server should send (leaf first); ``chain`` is the
    same served chain as DER, for unit tests that need no server.
    ``hostname`` is the name a client should connect to (for ``wrong-host`` the
    certificate deliberately does not cover it).
    """

    variant: str
    hostname: str
    cert: Path
    key: Path
    fullchain: Path
    chain: tuple[bytes, ...]
    not_after: dt.datetime


class LabPKI:
    """Lab CAs written under ``directory``; leaves are issued on demand and cached.

    >>> pki = LabPKI(tmp_path)                       # doctest: +SKIP
    >>> leaf = pki.leaf("expired")                   # doctest: +SKIP
    >>> leaf.fullchain, pki.ca_bundle                # doctest: +SKIP
    """

    def __init__(
        self, directory: str | Path, *, now: dt.datetime | None = None, domain: str = "lab.test"
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        moment = now or dt.datetime.now(dt.UTC)
        if moment.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = moment.astimezone(dt.UTC).replace(microsecond=0)
        self.domain = domain
        self._leaves: dict[tuple[str, str, tuple[str, ...]], Leaf] = {}
        day = dt.timedelta(days=1)
        self.root = self._self_signed_ca("root", "civiscan Lab Root CA", self.now - 365 * day)
        self.untrusted_root = self._self_signed_ca(
            "untrusted-root", "civiscan Untrusted Root CA", self.now - 365 * day
        )
        self.intermediate = self._sub_ca("intermediate", "civiscan Lab Intermediate CA", self.root)
        self.sha1_intermediate = self._sub_ca(
            "sha1-intermediate", "civiscan Lab SHA-1 Intermediate CA", self.root, sha1=True
        )
        self.ca_bundle = self._write_pem("ca-bundle.pem", [self.root.cert])
        """Trust store for tests: the lab root only."""
        self.ca_bundle_with_intermediate = self._write_pem(
            "ca-bundle-with-intermediate.pem", [self.root.cert, self.intermediate.cert]
        )
        """The lab root plus the intermediate, as a site bundle that knows both."""

    # -- CAs -------------------------------------------------------------------------

    def _ca_extensions(
        self, builder: x509.CertificateBuilder, key: PrivateKey, path_length: int | None
    ) -> x509.CertificateBuilder:
        return (
            builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )

    def _self_signed_ca(self, label: str, common_name: str, not_before: dt.datetime) -> CA:
        key = _key(label, "rsa2048")
        name = _name(common_name)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(_serial(label))
            .not_valid_before(not_before)
            .not_valid_after(self.now + dt.timedelta(days=3650))
        )
        cert = self._ca_extensions(builder, key, None).sign(key, hashes.SHA256())
        return CA(cert, key, self._write_pem(f"{label}.pem", [cert]))

    def _sub_ca(
        self,
        label: str,
        common_name: str,
        issuer: CA,
        *,
        path_length: int | None = 0,
        key_spec: str = "rsa2048",
        sha1: bool = False,
        write: bool = True,
    ) -> CA:
        key = _key(label, key_spec)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(issuer.cert.subject)
            .public_key(key.public_key())
            .serial_number(_serial(label))
            .not_valid_before(self.now - dt.timedelta(days=300))
            .not_valid_after(self.now + dt.timedelta(days=1825))
            .add_extension(_aki(issuer), False)
        )
        cert = _sign(self._ca_extensions(builder, key, path_length), issuer.key, sha1=sha1)
        return CA(cert, key, self._write_pem(f"{label}.pem", [cert]) if write else None)

    # -- leaves ----------------------------------------------------------------------

    def leaf(
        self, variant: str, hostname: str | None = None, *, extra_names: Sequence[str] = ()
    ) -> Leaf:
        """Issue (once) the leaf ``variant`` for ``hostname`` and write its files.

        ``hostname`` defaults to ``<variant>.<domain>``; it may be an IP literal
        (then the SAN is an IP address). ``extra_names`` adds DNS names or IP
        addresses to the SAN.
        """
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; one of: {', '.join(VARIANTS)}")
        host = hostname or f"{variant}.{self.domain}"
        cache_key = (variant, host, tuple(extra_names))
        if cache_key not in self._leaves:
            self._leaves[cache_key] = self._issue(variant, host, tuple(extra_names))
        return self._leaves[cache_key]

    def all_leaves(self) -> dict[str, Leaf]:
        """Every variant with its default hostname."""
        return {variant: self.leaf(variant) for variant in VARIANTS}

    def _issue(self, variant: str, host: str, extra_names: tuple[str, ...]) -> Leaf:
        day = dt.timedelta(days=1)
        not_before, not_after = self.now - day, self.now + 89 * day
        if variant == "expired":
            not_before, not_after = self.now - 100 * day, self.now - 10 * day
        elif variant == "not-yet-valid":
            not_before, not_after = self.now + 10 * day, self.now + 100 * day
        elif variant == "expires-soon":
            not_before, not_after = self.now - 80 * day, self.now + EXPIRES_SOON_DAYS * day
        elif variant == "long-lifespan":
            not_after = not_before + LONG_LIFESPAN_DAYS * day

        label = f"leaf-{variant}-{host}-{','.join(extra_names)}"
        key_spec = {"rsa1024": "rsa1024", "good-ecdsa": "p256"}.get(variant, "rsa2048")
        key = _key(f"leaf-{key_spec}", key_spec)
        names = [host, *extra_names]
        if variant == "wrong-host":
            names = [f"other-host.{self.domain}"]
        subject = _name(names[0])
        if variant == "hostile-subject":
            subject = _name(HOSTILE_CN, HOSTILE_O)

        issuer: CA | None = self.intermediate
        served_cas: list[x509.Certificate] = [self.intermediate.cert]
        if variant == "self-signed":
            issuer, served_cas = None, []
        elif variant == "untrusted-root":
            issuer, served_cas = self.untrusted_root, [self.untrusted_root.cert]
        elif variant == "missing-intermediate":
            served_cas = []
        elif variant == "sha1-intermediate":
            issuer, served_cas = self.sha1_intermediate, [self.sha1_intermediate.cert]
        elif variant == "long-chain":
            chain_cas = self._long_chain()
            issuer, served_cas = chain_cas[-1], [ca.cert for ca in reversed(chain_cas)]

        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.cert.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(_serial(label))
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )
        if issuer is not None:
            builder = builder.add_extension(_aki(issuer), False)
        if issuer is self.intermediate:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.CA_ISSUERS,
                            x509.UniformResourceIdentifier(
                                f"http://pki.{self.domain}/intermediate.crt"
                            ),
                        )
                    ]
                ),
                False,
            )
        cert = _sign(builder, issuer.key if issuer else key, sha1=variant == "sha1")

        stem = _file_stem(variant, host, extra_names, self.domain)
        served = [cert, *served_cas]
        key_path = self.directory / f"{stem}.key"
        atomic_write(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            mode=0o600,
        )
        return Leaf(
            variant=variant,
            hostname=host,
            cert=self._write_pem(f"{stem}.crt", [cert]),
            key=key_path,
            fullchain=self._write_pem(f"{stem}.fullchain.pem", served),
            chain=tuple(c.public_bytes(serialization.Encoding.DER) for c in served),
            not_after=not_after,
        )

    def _long_chain(self) -> list[CA]:
        """Root -> CA 1 -> ... -> CA 49: the issuers of the 50-certificate chain."""
        cas: list[CA] = []
        issuer = self.root
        for index in range(1, LONG_CHAIN_LENGTH):
            issuer = self._sub_ca(
                f"chain-{index}",
                f"civiscan Lab Chain CA {index}",
                issuer,
                path_length=None,
                key_spec="p256",
                write=False,
            )
            cas.append(issuer)
        return cas

    def _write_pem(self, filename: str, certs: Sequence[x509.Certificate]) -> Path:
        path = self.directory / filename
        atomic_write(path, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
        return path


def _file_stem(variant: str, host: str, extra_names: tuple[str, ...], domain: str) -> str:
    if not extra_names and host == f"{variant}.{domain}":
        return variant
    digest = hashlib.sha256(f"{host}|{','.join(extra_names)}".encode()).hexdigest()[:10]
    return f"{variant}-{digest}"


def _aki(issuer: CA) -> x509.AuthorityKeyIdentifier:
    ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


# sha256WithRSAEncryption and sha1WithRSAEncryption differ in the last OID byte only,
# so the DER lengths do not move when one is swapped for the other.
_SHA256_RSA_OID = bytes.fromhex("2a864886f70d01010b")
_SHA1_RSA_OID = bytes.fromhex("2a864886f70d010105")


def _sign(builder: x509.CertificateBuilder, key: PrivateKey, *, sha1: bool) -> x509.Certificate:
    cert = builder.sign(key, hashes.SHA256())
    if not sha1:
        return cert
    return _resign_sha1(cert, key)


def _resign_sha1(cert: x509.Certificate, key: PrivateKey) -> x509.Certificate:
    """The same certificate signed with SHA-1, which ``CertificateBuilder`` refuses.

    The algorithm identifier appears twice (inside the TBS part and after it);
    both are patched, the TBS is signed again and the signature (whose length is
    the RSA modulus size, unchanged) replaces the old one at the end.
    """
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("SHA-1 re-signing is only implemented for RSA issuers")
    der = cert.public_bytes(serialization.Encoding.DER)
    tbs = cert.tbs_certificate_bytes
    if der.count(_SHA256_RSA_OID) != 2 or tbs.count(_SHA256_RSA_OID) != 1:
        raise ValueError("unexpected certificate layout for SHA-1 re-signing")
    new_tbs = tbs.replace(_SHA256_RSA_OID, _SHA1_RSA_OID)
    signature = key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA1())
    old_signature = cert.signature
    if len(signature) != len(old_signature) or not der.endswith(old_signature):
        raise ValueError("unexpected signature layout for SHA-1 re-signing")
    patched = der[: -len(old_signature)].replace(_SHA256_RSA_OID, _SHA1_RSA_OID) + signature
    return x509.load_der_x509_certificate(patched)


__all__ = ["CA", "HOSTILE_CN", "HOSTILE_O", "VARIANTS", "LabPKI", "Leaf"]
