"""The lab PKI writes the certificates the scanners are tested against."""

from __future__ import annotations

import datetime as dt
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from scanner.lab.pki import HOSTILE_CN, VARIANTS, LabPKI

DER = Encoding.DER

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("pki"), now=NOW)


def _chain(pem_path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem_path.read_bytes())


def test_ca_bundle_holds_only_the_lab_root(pki: LabPKI) -> None:
    assert [c.subject for c in _chain(pki.ca_bundle)] == [pki.root.cert.subject]


def test_untrusted_root_is_not_in_the_bundle(pki: LabPKI) -> None:
    subjects = [c.subject for c in _chain(pki.ca_bundle_with_intermediate)]
    assert pki.untrusted_root.cert.subject not in subjects


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANTS)
def test_fullchain_file_matches_the_served_der(pki: LabPKI, variant: str) -> None:
    leaf = pki.leaf(variant)
    assert tuple(c.public_bytes(DER) for c in _chain(leaf.fullchain)) == leaf.chain
    assert _chain(leaf.cert)[0].public_bytes(DER) == leaf.chain[0]


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANTS)
def test_private_key_is_owner_only(pki: LabPKI, variant: str) -> None:
    assert stat.S_IMODE(pki.leaf(variant).key.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("variant", "not_before", "not_after"),
    [
        ("good-rsa", NOW - DAY, NOW + 89 * DAY),
        ("expired", NOW - 100 * DAY, NOW - 10 * DAY),
        ("not-yet-valid", NOW + 10 * DAY, NOW + 100 * DAY),
        ("expires-soon", NOW - 80 * DAY, NOW + 10 * DAY),
        ("long-lifespan", NOW - DAY, NOW + 824 * DAY),
    ],
    ids=["good", "expired", "not-yet-valid", "expires-soon", "long-lifespan"],
)
def test_validity_is_relative_to_now(pki: LabPKI, variant, not_before, not_after) -> None:
    cert = x509.load_der_x509_certificate(pki.leaf(variant).chain[0])
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (not_before, not_after)


@pytest.mark.parametrize(
    ("variant", "key_type", "bits"),
    [
        ("good-rsa", rsa.RSAPublicKey, 2048),
        ("good-ecdsa", ec.EllipticCurvePublicKey, 256),
        ("rsa1024", rsa.RSAPublicKey, 1024),
    ],
    ids=["rsa2048", "p256", "rsa1024"],
)
def test_leaf_key(pki: LabPKI, variant, key_type, bits) -> None:
    key = x509.load_der_x509_certificate(pki.leaf(variant).chain[0]).public_key()
    assert isinstance(key, key_type) and key.key_size == bits


@pytest.mark.parametrize(
    ("variant", "index"), [("sha1", 0), ("sha1-intermediate", 1)], ids=["leaf", "intermediate"]
)
def test_sha1_signature_is_real(pki: LabPKI, variant: str, index: int) -> None:
    chain = [x509.load_der_x509_certificate(d) for d in pki.leaf(variant).chain]
    cert = chain[index]
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha1"
    issuer = chain[index + 1] if index + 1 < len(chain) else pki.root.cert
    issuer.public_key().verify(  # type: ignore[union-attr, call-arg]
        cert.signature,
        cert.tbs_certificate_bytes,
        padding.PKCS1v15(),
        cert.signature_hash_algorithm,
    )


@pytest.mark.parametrize(
    ("variant", "served"),
    [
        ("good-rsa", 2),
        ("self-signed", 1),
        ("untrusted-root", 2),
        ("missing-intermediate", 1),
        ("long-chain", 50),
    ],
    ids=["normal", "self-signed", "untrusted-root", "missing-intermediate", "long-chain"],
)
def test_served_chain_length(pki: LabPKI, variant: str, served: int) -> None:
    assert len(pki.leaf(variant).chain) == served


def test_self_signed_leaf_is_its_own_issuer(pki: LabPKI) -> None:
    cert = x509.load_der_x509_certificate(pki.leaf("self-signed").chain[0])
    assert cert.issuer == cert.subject


def test_wrong_host_certificate_does_not_name_the_host(pki: LabPKI) -> None:
    leaf = pki.leaf("wrong-host")
    san = x509.load_der_x509_certificate(leaf.chain[0]).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert leaf.hostname not in san.value.get_values_for_type(x509.DNSName)


def test_hostile_subject_is_kept_verbatim(pki: LabPKI) -> None:
    cert = x509.load_der_x509_certificate(pki.leaf("hostile-subject").chain[0])
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == HOSTILE_CN


def test_ip_hostname_becomes_an_ip_san(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa", "127.0.0.1", extra_names=["::1", "www.lab.test"])
    san = (
        x509.load_der_x509_certificate(leaf.chain[0])
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    assert san.get_values_for_type(x509.DNSName) == ["www.lab.test"]


def test_leaves_are_cached(pki: LabPKI) -> None:
    assert pki.leaf("good-rsa") is pki.leaf("good-rsa")


def test_keys_are_reused_across_instances(pki: LabPKI, tmp_path) -> None:
    other = LabPKI(tmp_path, now=NOW)
    assert other.root.cert.public_key() == pki.root.cert.public_key()
    assert other.root.cert.serial_number == pki.root.cert.serial_number


def test_unknown_variant_is_refused(pki: LabPKI) -> None:
    with pytest.raises(ValueError, match="unknown variant"):
        pki.leaf("no-such-thing")


def test_naive_now_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        LabPKI(tmp_path, now=dt.datetime(2026, 1, 1))
