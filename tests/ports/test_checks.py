"""ports.allowed and ports.forbidden judged on plain facts."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.models import ErrorReason, Status
from scanner.options import validate_options
from scanner.plugins.ports import plugin
from scanner.plugins.ports.checks import to_probe
from scanner.plugins.ports.portsets import NAMED_SETS
from scanner.plugins.ports.services import service_name
from tests.conftest import judge

CHECKS = {c.id: c for c in plugin.checks}
TOP1000 = [list(x) for x in NAMED_SETS["top1000"]]


def facts(
    open_ports: tuple[int, ...] = (),
    scanned: list[list[int]] | None = None,
    unanswered: list[list[int]] | None = None,
) -> dict[str, Any]:
    return {
        "scanner": "connect",
        "address": "127.0.0.5",
        "scanned": scanned if scanned is not None else TOP1000,
        "open": [
            {
                "port": p,
                "protocol": "tcp",
                "service": service_name(p),
                "product": None,
                "version": None,
            }
            for p in open_ports
        ],
        "unanswered": unanswered or [],
    }


# --- ports.allowed ---------------------------------------------------------


def test_allowed_passes_when_only_allowed_ports_are_open():
    outcome = judge("ports.allowed", facts((22, 443)), allowed=[22, 443])
    assert outcome.status is Status.PASS
    assert (
        outcome.message == "Only allowed ports are open: 22 (ssh), 443 (https); 1000 ports probed."
    )


def test_allowed_passes_when_nothing_is_open():
    outcome = judge("ports.allowed", facts(()), allowed=[22])
    assert outcome.status is Status.PASS
    assert outcome.message == "No port is open among the 1000 ports probed."


def test_allowed_fails_naming_the_unexpected_port_and_service():
    outcome = judge("ports.allowed", facts((22, 23)), allowed=[22, 443])
    assert outcome.status is Status.FAIL
    assert outcome.message == "Port 23 (telnet) is open but not allowed."
    assert [p["port"] for p in outcome.evidence["unexpected"]] == [23]
    assert outcome.evidence["allowed"] == "22,443"
    assert [p["port"] for p in outcome.evidence["open"]] == [22, 23]


def test_allowed_fails_listing_several_ports():
    scanned = [*TOP1000, [50022, 50022]]
    outcome = judge("ports.allowed", facts((22, 23, 3306, 50022), scanned), allowed=["20-22"], ports=[50022])
    assert outcome.status is Status.FAIL
    assert outcome.message == "3 ports are open but not allowed: 23 (telnet), 3306 (mysql), 50022."


def test_allowed_ignores_ports_probed_only_for_other_checks():
    outcome = judge("ports.allowed", facts((22, 50022)), allowed=[22])
    assert outcome.status is Status.PASS


def test_allowed_accepts_ranges():
    outcome = judge("ports.allowed", facts((8080, 8443)), allowed=["8000-8999"])
    assert outcome.status is Status.PASS


def test_allowed_counts_an_open_port_of_its_own_port_set_that_is_not_allowed():
    # 50000 is one of nmap's top 1000 ports (unlike 50022 above): the check probed it itself.
    outcome = judge("ports.allowed", facts((22, 50000)), allowed=[22])
    assert outcome.status is Status.FAIL
    assert "50000" in outcome.message


def test_allowed_notes_ports_that_did_not_answer():
    outcome = judge("ports.allowed", facts((22,), unanswered=[[8080, 8081]]), allowed=[22])
    assert outcome.status is Status.PASS
    assert outcome.message.endswith("2 ports gave no answer within the timeout: 8080-8081.")
    assert outcome.evidence["unanswered"] == "8080-8081"


def test_allowed_is_an_error_when_no_port_answered():
    outcome = judge("ports.allowed", facts((), unanswered=TOP1000), allowed=[22])
    assert outcome.status is Status.ERROR
    assert outcome.reason is ErrorReason.TIMEOUT


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({"port_set": "all"}, "1-2"),
        ({"port_set": "top100", "ports": ["60000-60001"]}, "60000-60001"),
    ],
    ids=["port-set-not-scanned", "extra-ports-not-scanned"],
)
def test_allowed_is_an_error_when_its_ports_were_not_scanned(options, missing):
    data = facts((22,), scanned=[[3, 65535]] if "all" in options.values() else TOP1000)
    outcome = judge("ports.allowed", data, allowed=[22], **options)
    assert outcome.status is Status.ERROR
    assert outcome.reason is ErrorReason.NO_DATA
    assert outcome.evidence["not_scanned"] == missing


# --- ports.forbidden -------------------------------------------------------

FORBIDDEN = [21, 23, 3389]
SCANNED = [[21, 23], [3389, 3389]]


def test_forbidden_passes_when_all_are_closed():
    outcome = judge(
        "ports.forbidden", facts((22,), scanned=[[21, 23], [3389, 3389]]), ports=FORBIDDEN
    )
    assert outcome.status is Status.PASS
    assert outcome.message == "Forbidden ports 21, 23, 3389 are all closed."


def test_forbidden_fails_naming_the_open_port():
    outcome = judge("ports.forbidden", facts((22, 23), scanned=SCANNED), ports=FORBIDDEN)
    assert outcome.status is Status.FAIL
    assert outcome.message == "Forbidden port 23 (telnet) is open."
    assert [p["port"] for p in outcome.evidence["forbidden_open"]] == [23]
    assert outcome.evidence["forbidden"] == "21,23,3389"


def test_forbidden_fails_even_when_another_forbidden_port_timed_out():
    data = facts((3389,), scanned=SCANNED, unanswered=[[21, 21]])
    outcome = judge("ports.forbidden", data, ports=FORBIDDEN)
    assert outcome.status is Status.FAIL
    assert outcome.message == (
        "Forbidden port 3389 (ms-wbt-server) is open. 1 port gave no answer within the timeout: 21."
    )


def test_forbidden_port_that_timed_out_is_an_error_not_a_pass():
    outcome = judge(
        "ports.forbidden", facts((), scanned=SCANNED, unanswered=[[23, 23]]), ports=FORBIDDEN
    )
    assert outcome.status is Status.ERROR
    assert outcome.reason is ErrorReason.TIMEOUT
    assert outcome.message == (
        "Forbidden port 23 did not answer within the timeout, so it is unknown whether it is open."
    )
    assert outcome.evidence["forbidden_unanswered"] == "23"


def test_unanswered_port_that_is_not_forbidden_does_not_matter():
    outcome = judge(
        "ports.forbidden", facts((), scanned=[[1, 100]], unanswered=[[80, 80]]), ports=[23]
    )
    assert outcome.status is Status.PASS
    assert outcome.message == "Forbidden port 23 is closed."


def test_forbidden_is_an_error_when_a_port_was_not_scanned():
    outcome = judge("ports.forbidden", facts((), scanned=[[21, 23]]), ports=FORBIDDEN)
    assert outcome.status is Status.ERROR
    assert outcome.reason is ErrorReason.NO_DATA
    assert outcome.message == (
        "Port 3389 was not scanned, so it cannot be said that the forbidden ports are closed."
    )


# --- options and probes ----------------------------------------------------


@pytest.mark.parametrize(
    ("check_id", "options", "expected"),
    [
        ("ports.forbidden", {"ports": [23, 21, 22]}, [(21, 23)]),
        ("ports.allowed", {"allowed": [22], "port_set": "all"}, [(1, 65535)]),
        (
            "ports.allowed",
            {"allowed": [22], "port_set": "top100", "ports": [60000]},
            NAMED_SETS["top100"] + [(60000, 60000)],
        ),
    ],
    ids=["forbidden-ports", "allowed-all", "allowed-set-plus-extra"],
)
def test_probes(check_id, options, expected):
    values, problems = validate_options(CHECKS[check_id].options, options, check_id)
    assert problems == []
    assert to_probe(values) == expected


def test_allowed_defaults_to_top1000():
    values, _ = validate_options(
        CHECKS["ports.allowed"].options, {"allowed": [22]}, "ports.allowed"
    )
    assert values["port_set"] == "top1000"
    assert to_probe(values) == NAMED_SETS["top1000"]


@pytest.mark.parametrize(
    ("check_id", "options", "needle"),
    [
        ("ports.allowed", {}, "needs option 'allowed'"),
        ("ports.allowed", {"allowed": [22], "port_set": "top10"}, "not one of"),
        ("ports.forbidden", {"ports": ["70000"]}, "outside 1-65535"),
    ],
    ids=["allowed-required", "unknown-set", "bad-port"],
)
def test_bad_options_are_reported(check_id, options, needle):
    _, problems = validate_options(CHECKS[check_id].options, options, check_id)
    assert any(needle in p.message for p in problems)


@pytest.mark.parametrize("check", plugin.checks, ids=lambda c: c.id)
def test_docs_give_options_pass_and_fail(check):
    doc = check.documentation
    assert "Options:" in doc and "PASS:" in doc and "FAIL:" in doc
