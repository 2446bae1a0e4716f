"""describe_chain: what was served and what the verifier said, for lab PKI variants and hostile input.

The verdicts on these facts are tested in test_certs_checks.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from scanner.lab.pki import HOSTILE_CN, LONG_CHAIN_LENGTH, LabPKI, _resign_sha1
from scanner.options import validate_options
from scanner.plugins.tls.certchecks import CERTIFICATE
from scanner.plugins.tls.certs import describe_chain, hostname_matches

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("pki"), now=NOW)


def analyze(pki: LabPKI, chain, hostname: str, ca_file: Path | None = None, **kwargs):
    bundle = pki.ca_bundle if ca_file is None else ca_file
    return describe_chain(list(chain), hostname, ca_file=str(bundle), now=NOW, **kwargs)


def codes(facts, **options) -> list[str]:
    """The problem codes tls.certificate finds in these facts (default options unless given)."""
    check = CERTIFICATE
    validated, problems = validate_options(check.options, options, check.id)
    assert problems == []
    outcome = check.evaluate({"certificate": facts}, validated)
    return sorted(p["code"] for p in outcome.evidence.get("problems", []))


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("good-rsa", []),
        ("good-ecdsa", []),
        ("expired", ["expired"]),
        ("not-yet-valid", ["not_yet_valid"]),
        ("expires-soon", ["expires_soon"]),
        ("self-signed", ["self_signed"]),
        ("untrusted-root", ["untrusted_root"]),
        ("wrong-host", ["hostname_mismatch"]),
        ("rsa1024", ["weak_key"]),
        ("sha1", ["weak_signature"]),
        ("sha1-intermediate", ["weak_signature"]),
        ("missing-intermediate", ["incomplete_chain"]),
        ("long-lifespan", ["lifespan_too_long"]),
        ("hostile-subject", []),
        ("long-chain", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_variant_problems(pki: LabPKI, variant: str, expected: list[str]) -> None:
    leaf = pki.leaf(variant)
    assert codes(analyze(pki, leaf.chain, leaf.hostname)) == expected


@pytest.mark.parametrize(
    ("variant", "verified"),
    [("good-rsa", True), ("expired", False), ("wrong-host", False), ("sha1", False)],
    ids=["good", "expired", "wrong-host", "sha1"],
)
def test_verified_is_full_web_pki_validation(pki: LabPKI, variant: str, verified: bool) -> None:
    leaf = pki.leaf(variant)
    facts = analyze(pki, leaf.chain, leaf.hostname)
    assert facts["verification"]["verified"] is verified
    assert (facts["verification"]["error"] is None) is verified


def test_good_chain_facts(pki: LabPKI) -> None:
    leaf = pki.leaf("good-ecdsa")
    facts = analyze(pki, leaf.chain, leaf.hostname)
    first = facts["certificates"][0]
    assert first["subject"] == "CN=good-ecdsa.lab.test,O=civiscan lab"
    assert first["issuer"] == "CN=civiscan Lab Intermediate CA,O=civiscan lab"
    assert first["san_dns"] == ["good-ecdsa.lab.test"]
    assert first["key"] == {"type": "ecdsa", "size": 256, "curve": "secp256r1"}
    assert first["signature_algorithm"] == "sha256WithRSAEncryption"  # the issuer key is RSA
    assert (first["not_before"], first["not_after"]) == (
        "2026-02-28T12:00:00Z",
        "2026-05-29T12:00:00Z",
    )
    assert (first["self_signed"], first["is_ca"]) == (False, False)
    assert facts["certificates"][1]["is_ca"] is True
    assert first["days_left"] == 89 and first["lifespan_days"] == 90
    assert first["extended_key_usage"] == ["serverAuth"]
    assert facts["certificates"][1]["issued_by"] is None  # its issuer, the root, is not served
    assert first["issued_by"] == 1 and facts["leaf"] == 0 and facts["chain"] == [0, 1]
    assert facts["anchor"]["subject"] == "CN=civiscan Lab Root CA,O=civiscan lab"
    assert len(facts["verification"]["path"]) == 3


def test_fingerprint_is_sha256_of_the_der(pki: LabPKI) -> None:
    import hashlib

    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, leaf.chain, leaf.hostname)
    assert facts["certificates"][0]["sha256"] == hashlib.sha256(leaf.chain[0]).hexdigest()


def test_facts_are_json(pki: LabPKI) -> None:
    leaf = pki.leaf("hostile-subject")
    json.dumps(analyze(pki, leaf.chain, leaf.hostname))


def test_hostile_subject_is_data(pki: LabPKI) -> None:
    leaf = pki.leaf("hostile-subject")
    subject = analyze(pki, leaf.chain, leaf.hostname)["certificates"][0]["subject"]
    # RFC 4514 escapes '<' and '>' with a backslash; the text stays as it came.
    assert subject.replace("\\", "").startswith("CN=" + HOSTILE_CN)


def test_self_signed_and_mismatched_report_both(pki: LabPKI) -> None:
    leaf = pki.leaf("self-signed")
    facts = analyze(pki, leaf.chain, "elsewhere.lab.test")
    assert codes(facts) == ["hostname_mismatch", "self_signed"]


def test_expired_and_mismatched_report_both(pki: LabPKI) -> None:
    leaf = pki.leaf("expired")
    assert codes(analyze(pki, leaf.chain, "elsewhere.lab.test")) == ["expired", "hostname_mismatch"]


def test_missing_intermediate_known_to_the_bundle(pki: LabPKI) -> None:
    leaf = pki.leaf("missing-intermediate")
    facts = analyze(pki, leaf.chain, leaf.hostname, ca_file=pki.ca_bundle_with_intermediate)
    assert codes(facts) == ["incomplete_chain"]
    assert "civiscan Lab Intermediate CA" in facts["known_issuer"]["subject"]


def test_missing_intermediate_found_through_aia(pki: LabPKI) -> None:
    leaf = pki.leaf("missing-intermediate")
    facts = analyze(pki, leaf.chain, leaf.hostname)
    assert facts["certificates"][0]["aia_ca_issuers"] == ["http://pki.lab.test/intermediate.crt"]
    assert codes(facts) == ["incomplete_chain"]


def test_unserved_unknown_root_is_untrusted(pki: LabPKI) -> None:
    leaf = pki.leaf("untrusted-root")
    facts = analyze(pki, leaf.chain[:1], leaf.hostname)
    assert codes(facts) == ["untrusted_root"]


def test_lab_chain_is_untrusted_by_the_system_store_alone(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = describe_chain(list(leaf.chain), leaf.hostname, ca_file=None, now=NOW)
    assert codes(facts) == ["untrusted_root"]


def test_unreadable_ca_file_is_reported_not_raised(pki: LabPKI, tmp_path: Path) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, leaf.chain, leaf.hostname, ca_file=tmp_path / "missing.pem")
    assert facts["trust_store_error"].startswith("cannot read the trust store")
    assert codes(facts) == ["untrusted_root"]


def test_root_self_signature_with_sha1_is_not_weak(pki: LabPKI) -> None:
    sha1_root = _resign_sha1(pki.root.cert, pki.root.key).public_bytes(Encoding.DER)
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, [*leaf.chain, sha1_root], leaf.hostname)
    assert codes(facts) == []


def test_expires_soon_threshold(pki: LabPKI) -> None:
    facts = analyze(pki, pki.leaf("expires-soon").chain, "expires-soon.lab.test")
    assert codes(facts, min_days_left=10) == []
    assert codes(facts, min_days_left=11) == ["expires_soon"]


def test_lifespan_limit_is_an_option(pki: LabPKI) -> None:
    leaf = pki.leaf("long-lifespan")
    assert codes(analyze(pki, leaf.chain, leaf.hostname), max_lifespan_days=825) == []


def test_lifespan_rule_ignores_leaves_issued_before_september_2020(tmp_path: Path) -> None:
    before = dt.datetime(2019, 6, 1, tzinfo=dt.UTC)
    old = LabPKI(tmp_path, now=before)
    leaf = old.leaf("long-lifespan")
    facts = describe_chain(list(leaf.chain), leaf.hostname, ca_file=str(old.ca_bundle), now=before)
    assert codes(facts) == []
    assert facts["certificates"][0]["lifespan_days"] == 825


@pytest.mark.parametrize(
    ("order", "leaf", "chain"),
    [((1, 0), 1, [1, 0]), ((2, 1, 0), 2, [2, 1, 0]), ((1, 2, 0), 2, [2, 0, 1])],
    ids=["ca-first", "reversed", "leaf-last"],
)
def test_misordered_chain_is_found_by_links_not_position(pki: LabPKI, order, leaf, chain) -> None:
    # The start of a long chain: a leaf, its issuer, that one's issuer (the rest is missing).
    served = pki.leaf("long-chain").chain[: len(order)]
    facts = analyze(pki, [served[i] for i in order], "long-chain.lab.test")
    assert (facts["leaf"], facts["chain"]) == (leaf, chain)
    assert "misordered_chain" in codes(facts)


def test_reversed_chain_still_verifies(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, leaf.chain[::-1], leaf.hostname)
    assert facts["verification"]["verified"] is True
    assert codes(facts) == ["misordered_chain"]


def test_misordered_chain_may_be_allowed(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, leaf.chain[::-1], leaf.hostname)
    assert codes(facts, chain_order=False) == []


def test_long_chain_is_followed_to_the_root(pki: LabPKI) -> None:
    leaf = pki.leaf("long-chain")
    facts = analyze(pki, leaf.chain, leaf.hostname)
    assert len(facts["certificates"]) == LONG_CHAIN_LENGTH
    assert len(facts["verification"]["path"]) == LONG_CHAIN_LENGTH + 1


@pytest.mark.parametrize(
    "hostname",
    ["127.0.0.1", "::1", "[::1]", "www.lab.test", "WWW.Lab.Test."],
    ids=["ipv4", "ipv6", "ipv6-brackets", "dns", "dns-case-dot"],
)
def test_ip_and_dns_sans_match(pki: LabPKI, hostname: str) -> None:
    leaf = pki.leaf("good-rsa", "127.0.0.1", extra_names=["::1", "www.lab.test"])
    facts = analyze(pki, leaf.chain, hostname)
    assert codes(facts) == []
    assert facts["verification"]["verified"] is True


@pytest.mark.parametrize("hostname", ["127.0.0.2", "::2", "lab.test"], ids=["ipv4", "ipv6", "dns"])
def test_ip_and_dns_sans_mismatch(pki: LabPKI, hostname: str) -> None:
    leaf = pki.leaf("good-rsa", "127.0.0.1", extra_names=["::1", "www.lab.test"])
    assert codes(analyze(pki, leaf.chain, hostname)) == ["hostname_mismatch"]


@pytest.mark.parametrize(
    ("chain", "problem_index"),
    [([b"garbage"], 0), ([], None), ([b"\x30\x03\x02\x01\x01"], 0)],
    ids=["garbage", "empty", "truncated-der"],
)
def test_unusable_leaf_is_a_problem_not_a_crash(pki: LabPKI, chain, problem_index) -> None:
    facts = analyze(pki, chain, "x.lab.test")
    assert codes(facts) == ["unparseable"]
    assert facts["leaf"] is None
    assert [c["index"] for c in facts["certificates"] if "error" in c] == (
        [] if problem_index is None else [problem_index])


def test_garbage_between_good_certificates_is_skipped(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, [leaf.chain[0], b"junk", leaf.chain[1]], leaf.hostname)
    assert codes(facts) == ["unparseable"]
    assert facts["verification"]["verified"] is True
    assert "error" in facts["certificates"][1]


def test_ocsp_stapled_is_passed_through(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, leaf.chain, leaf.hostname, ocsp_stapled=True)
    assert facts["ocsp_stapled"] is True


def test_naive_now_is_refused(pki: LabPKI) -> None:
    with pytest.raises(ValueError):
        describe_chain([], "x", ca_file=None, now=dt.datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("hostname", "dns", "ips", "expected"),
    [
        ("a.lab.test", ["*.lab.test"], [], True),
        ("a.b.lab.test", ["*.lab.test"], [], False),
        ("lab.test", ["*.lab.test"], [], False),
        ("a.test", ["*.test"], [], False),
        ("ab.lab.test", ["a*.lab.test"], [], False),
        ("a.lab.test", ["a.*.test"], [], False),
        ("A.LAB.TEST", ["a.lab.test"], [], True),
        ("a.lab.test.", ["a.lab.test"], [], True),
        ("127.0.0.1", ["127.0.0.1"], [], False),
        ("127.0.0.1", [], ["127.0.0.1"], True),
        ("::1", [], ["0:0:0:0:0:0:0:1"], True),
        ("[::1]", [], ["::1"], True),
        ("::ffff:127.0.0.1", [], ["127.0.0.1"], False),
        ("bücher.lab.test", ["xn--bcher-kva.lab.test"], [], True),
        ("", ["*.lab.test"], [], False),
    ],
    ids=[
        "wildcard-one-label",
        "wildcard-two-labels",
        "wildcard-apex",
        "wildcard-tld",
        "partial-wildcard",
        "inner-wildcard",
        "case",
        "trailing-dot",
        "ip-in-dns-san",
        "ipv4",
        "ipv6-forms",
        "ipv6-brackets",
        "ipv4-mapped",
        "idna",
        "empty",
    ],
)
def test_hostname_matches(hostname, dns, ips, expected) -> None:
    assert hostname_matches(hostname, dns, ips) is expected


def _certificate(subject: str, issuer: str, key, signer, *, days: tuple[int, int], ca: bool,
                 serial: int, san: str | None = None):
    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    builder = (
        x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
        .public_key(key.public_key()).serial_number(serial)
        .not_valid_before(NOW + dt.timedelta(days=days[0]))
        .not_valid_after(NOW + dt.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def test_chain_invalid_gives_the_verifiers_own_reason_not_the_expiry(tmp_path: Path) -> None:
    root_key, issuer_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate("root", "root", root_key, root_key, days=(-100, 1000), ca=True, serial=1)
    # The issuer is not a CA (basicConstraints CA:FALSE), and the leaf has expired too.
    issuer = _certificate("not-a-ca", "root", issuer_key, root_key, days=(-100, 1000), ca=False, serial=2)
    leaf = _certificate("h.lab.test", "not-a-ca", leaf_key, issuer_key, days=(-50, -10), ca=False,
                        serial=3, san="h.lab.test")
    bundle = tmp_path / "root.pem"
    bundle.write_bytes(root.public_bytes(Encoding.PEM))
    facts = describe_chain([leaf.public_bytes(Encoding.DER), issuer.public_bytes(Encoding.DER)],
                           "h.lab.test", ca_file=str(bundle), now=NOW, system_store=None)
    check = CERTIFICATE
    options, _ = validate_options(check.options, {}, check.id)
    problems = {p["code"]: p["message"] for p in
                check.evaluate({"certificate": facts}, options).evidence["problems"]}
    assert sorted(problems) == ["chain_invalid", "expired"]
    assert "not valid at validation time" not in problems["chain_invalid"]
    assert problems["chain_invalid"].endswith(facts["trust_verification"]["error"])
