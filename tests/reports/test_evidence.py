"""Evidence shown to people: redacted, flattened, bounded."""

from __future__ import annotations

from scanner.reports import evidence


def test_local_settings_are_redacted_at_any_depth():
    shown = evidence.redact(
        {"ca_file": "/etc/x.pem", "tls": {"db_path": "/var/lib/c.db"}, "ok": [{"key_file": "k"}]}
    )
    assert shown == {
        "ca_file": evidence.REDACTED,
        "tls": {"db_path": evidence.REDACTED},
        "ok": [{"key_file": evidence.REDACTED}],
    }


def test_facts_flatten_one_level_and_join_short_lists():
    facts = evidence.facts(
        {"accepted": ["TLSv1.0", "TLSv1.2"], "cert": {"not_after": "2027-01-01", "expired": False}}
    )
    assert facts == [
        ("accepted", "TLSv1.0, TLSv1.2"),
        ("cert.not_after", "2027-01-01"),
        ("cert.expired", "no"),
    ]


def test_facts_are_bounded():
    facts = evidence.facts({f"k{i}": "x" * 5000 for i in range(100)})
    assert len(facts) == evidence.MAX_FACTS + 1
    assert all(len(v) < evidence.MAX_TEXT + 40 for _, v in facts)


def test_long_lists_say_how_many_more():
    assert evidence.facts({"ports": list(range(20))})[0][1].endswith(", … (8 more)")


def test_raw_evidence_is_cut_with_a_note():
    text = evidence.raw({"blob": "y" * 10_000})
    assert len(text) < evidence.MAX_RAW + 100
    assert text.endswith("the JSON report has the full evidence)")


def test_options_are_the_expected_state():
    assert (
        evidence.options_text({"minimum": "TLSv1.2", "allowed": [22, 443]})
        == "minimum = TLSv1.2; allowed = 22, 443"
    )
    assert evidence.options_text({}) == "default options"
