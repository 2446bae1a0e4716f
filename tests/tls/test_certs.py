"""analyze_chain: facts and problems for every lab PKI variant, and hostile input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from scanner.lab.pki import HOSTILE_CN, LONG_CHAIN_LENGTH, LabPKI, _resign_sha1
from scanner.plugins.tls.certs import analyze_chain, hostname_matches

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI(tmp_path_factory.mktemp("pki"), now=NOW)


def analyze(pki: LabPKI, chain, hostname: str, ca_file: Path | None = None, **kwargs):
    bundle = pki.ca_bundle if ca_file is None else ca_file
    return analyze_chain(
        list(chain), hostname, ca_file=str(bundle), now=NOW, ocsp_stapled=None, **kwargs
    )


def codes(facts) -> list[str]:
    return sorted(p["code"] for p in facts["problems"])


@pytest.mark.parametrize(
    ("variant", "trusted", "expected"),
    [
        ("good-rsa", True, []),
        ("good-ecdsa", True, []),
        ("expired", True, ["expired"]),
        ("not-yet-valid", True, ["not_yet_valid"]),
        ("expires-soon", True, ["expires_soon"]),
        ("self-signed", False, ["self_signed"]),
        ("untrusted-root", False, ["untrusted_root"]),
        ("wrong-host", True, ["hostname_mismatch"]),
        ("rsa1024", True, ["weak_key"]),
        ("sha1", True, ["weak_signature"]),
        ("sha1-intermediate", True, ["weak_signature"]),
        ("missing-intermediate", False, ["incomplete_chain"]),
        ("long-lifespan", True, ["lifespan_too_long"]),
        ("hostile-subject", True, []),
        ("long-chain", True, []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_variant_problems(pki: LabPKI, variant: str, trusted: bool, expected: list[str]) -> None:
    leaf = pki.leaf(variant)
    facts = analyze(pki, leaf.chain, leaf.hostname)
    assert codes(facts) == expected
    assert facts["trusted"] is trusted


@pytest.mark.parametrize(
    ("variant", "verified"),
    [("good-rsa", True), ("expired", False), ("wrong-host", False), ("sha1", False)],
    ids=["good", "expired", "wrong-host", "sha1"],
)
def test_verified_is_full_web_pki_validation(pki: LabPKI, variant: str, verified: bool) -> None:
    leaf = pki.leaf(variant)
    facts = analyze(pki, leaf.chain, leaf.hostname)
    assert facts["verified"] is verified
    assert (facts["verify_error"] is None) is verified


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
    assert facts["days_left"] == 89 and facts["lifespan_days"] == 90
    assert facts["anchor"]["subject"] == "CN=civiscan Lab Root CA,O=civiscan lab"
    assert len(facts["path"]) == 3


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
    assert "civiscan Lab Intermediate CA" in facts["problems"][0]["message"]
    assert facts["trusted"] is False


def test_missing_intermediate_found_through_aia(pki: LabPKI) -> None:
    leaf = pki.leaf("missing-intermediate")
    message = analyze(pki, leaf.chain, leaf.hostname)["problems"][0]["message"]
    assert "http://pki.lab.test/intermediate.crt" in message


def test_unserved_unknown_root_is_untrusted(pki: LabPKI) -> None:
    leaf = pki.leaf("untrusted-root")
    facts = analyze(pki, leaf.chain[:1], leaf.hostname)
    assert codes(facts) == ["untrusted_root"]


def test_lab_chain_is_untrusted_by_the_system_store_alone(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze_chain(list(leaf.chain), leaf.hostname, ca_file=None, now=NOW, ocsp_stapled=None)
    assert codes(facts) == ["untrusted_root"]


def test_unreadable_ca_file_is_reported_not_raised(pki: LabPKI, tmp_path: Path) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, leaf.chain, leaf.hostname, ca_file=tmp_path / "missing.pem")
    assert facts["trusted"] is False
    assert facts["verify_error"].startswith("cannot read the trust store")


def test_root_self_signature_with_sha1_is_not_weak(pki: LabPKI) -> None:
    sha1_root = _resign_sha1(pki.root.cert, pki.root.key).public_bytes(Encoding.DER)
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, [*leaf.chain, sha1_root], leaf.hostname)
    assert codes(facts) == []


def test_expires_soon_threshold(pki: LabPKI) -> None:
    leaf = pki.leaf("expires-soon")
    assert codes(analyze(pki, leaf.chain, leaf.hostname, expires_soon_days=10)) == []
    assert codes(analyze(pki, leaf.chain, leaf.hostname, expires_soon_days=11)) == ["expires_soon"]


def test_lifespan_limit_is_a_parameter(pki: LabPKI) -> None:
    leaf = pki.leaf("long-lifespan")
    assert codes(analyze(pki, leaf.chain, leaf.hostname, max_lifespan_days=825)) == []


def test_lifespan_rule_ignores_leaves_issued_before_september_2020(tmp_path: Path) -> None:
    before = dt.datetime(2019, 6, 1, tzinfo=dt.UTC)
    old = LabPKI(tmp_path, now=before)
    leaf = old.leaf("long-lifespan")
    facts = analyze_chain(
        list(leaf.chain), leaf.hostname, ca_file=str(old.ca_bundle), now=before, ocsp_stapled=None
    )
    assert codes(facts) == []
    assert facts["lifespan_days"] == 825


def test_long_chain_is_followed_to_the_root(pki: LabPKI) -> None:
    leaf = pki.leaf("long-chain")
    facts = analyze(pki, leaf.chain, leaf.hostname)
    assert len(facts["certificates"]) == LONG_CHAIN_LENGTH
    assert len(facts["path"]) == LONG_CHAIN_LENGTH + 1


@pytest.mark.parametrize(
    "hostname",
    ["127.0.0.1", "::1", "[::1]", "www.lab.test", "WWW.Lab.Test."],
    ids=["ipv4", "ipv6", "ipv6-brackets", "dns", "dns-case-dot"],
)
def test_ip_and_dns_sans_match(pki: LabPKI, hostname: str) -> None:
    leaf = pki.leaf("good-rsa", "127.0.0.1", extra_names=["::1", "www.lab.test"])
    facts = analyze(pki, leaf.chain, hostname)
    assert codes(facts) == []
    assert facts["verified"] is True


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
    assert facts["problems"][0]["certificate"] == problem_index
    assert facts["trusted"] is False


def test_garbage_between_good_certificates_is_skipped(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze(pki, [leaf.chain[0], b"junk", leaf.chain[1]], leaf.hostname)
    assert codes(facts) == ["unparseable"]
    assert facts["trusted"] is True
    assert "error" in facts["certificates"][1]


def test_ocsp_stapled_is_passed_through(pki: LabPKI) -> None:
    leaf = pki.leaf("good-rsa")
    facts = analyze_chain(
        list(leaf.chain), leaf.hostname, ca_file=str(pki.ca_bundle), now=NOW, ocsp_stapled=True
    )
    assert facts["ocsp_stapled"] is True


def test_naive_now_is_refused(pki: LabPKI) -> None:
    with pytest.raises(ValueError):
        analyze_chain([], "x", ca_file=None, now=dt.datetime(2026, 1, 1), ocsp_stapled=None)


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
