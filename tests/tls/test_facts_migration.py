"""Stored tls facts of schema version 1 are upgraded, and judged as a fresh scan's would be.

tests/data/tls/facts-v1/VARIANT.json holds what version 1 recorded for a lab
chain (``v1``) and what today's collector records for the same chain at the
same moment (``v2_certificate``); tests/tls/record_v1_facts.py wrote them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from scanner.models import ErrorReason, Status
from scanner.options import validate_options
from scanner.plugins.tls import FACTS_VERSION, plugin
from scanner.plugins.tls.migration import UNRECORDED_CERTIFICATE_FIELDS, migrate_facts
from scanner.timeutil import parse_timestamp

DATA = Path(__file__).resolve().parents[1] / "data" / "tls" / "facts-v1"
VARIANTS = sorted(p.stem for p in DATA.glob("*.json"))
CHECKS = {c.id: c for c in plugin.checks}


def recorded(variant: str) -> dict[str, Any]:
    return json.loads((DATA / f"{variant}.json").read_text())


def judge(check_id: str, facts: dict[str, Any], **given: Any) -> Any:
    check = CHECKS[check_id]
    options, problems = validate_options(check.options, given, check_id)
    assert problems == []
    return check.evaluate(facts, options)


def test_there_are_recorded_version_1_documents() -> None:
    assert len(VARIANTS) >= 9 and FACTS_VERSION == 2


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANTS)
def test_migrated_certificate_is_judged_as_a_fresh_scan_of_the_same_chain(variant: str) -> None:
    document = recorded(variant)
    migrated = migrate_facts(1, document["v1"])
    fresh = {**migrated, "certificate": document["v2_certificate"]}
    before, after = judge("tls.certificate", fresh), judge("tls.certificate", migrated)
    assert after.status is before.status
    assert after.message == before.message
    assert after.evidence.get("problems") == before.evidence.get("problems")


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANTS)
def test_migrated_certificate_has_the_shape_describe_chain_writes(variant: str) -> None:
    document = recorded(variant)
    migrated = migrate_facts(1, document["v1"])["certificate"]
    fresh = document["v2_certificate"]
    assert migrated.keys() == fresh.keys()
    assert [c.keys() for c in migrated["certificates"]] == [c.keys() for c in fresh["certificates"]]
    for key in ("leaf", "chain", "anchor", "hostname"):
        assert migrated[key] == fresh[key], key
    assert [c["issued_by"] for c in migrated["certificates"]][:1] == [c["issued_by"] for c in fresh["certificates"]][:1]
    assert all(migrated["certificates"][0][f] is None for f in UNRECORDED_CERTIFICATE_FIELDS)


def test_scan_moment_is_recovered_to_the_day() -> None:
    migrated = migrate_facts(1, recorded("good-rsa")["v1"])["certificate"]
    scanned = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # the recording's moment
    assert dt.timedelta(0) <= parse_timestamp(migrated["checked_at"]) - scanned < dt.timedelta(days=1)


@pytest.mark.parametrize(
    "check_id",
    ["tls.secure_renegotiation", "tls.dh_groups", "tls.certificate_transparency", "tls.heartbleed"],
)
def test_what_version_1_never_measured_is_not_measured_rather_than_failed(check_id: str) -> None:
    outcome = judge(check_id, migrate_facts(1, recorded("good-rsa")["v1"]))
    assert (outcome.status, outcome.reason) == (Status.ERROR, ErrorReason.NO_DATA), outcome.message


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tls facts version 3"):
        migrate_facts(3, {})
