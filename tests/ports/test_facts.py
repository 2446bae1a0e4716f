"""The facts' JSON form and the built-in service guesses."""

from __future__ import annotations

from scanner.plugins.ports.facts import OpenPort, PortScanResult
from scanner.plugins.ports.services import service_name

FACTS = {
    "scanner": "connect",
    "address": "127.0.0.5",
    "scanned": [[1, 1024], [3306, 3306]],
    "open": [{"port": 22, "protocol": "tcp", "service": "ssh", "product": None, "version": None}],
    "unanswered": [[8000, 8000]],
}


def test_json_round_trip_is_exact():
    assert PortScanResult.from_json(FACTS).to_json() == FACTS


def test_from_json_sorts_open_ports_and_merges_ranges():
    data = dict(FACTS, open=[{"port": 443}, {"port": 22}], scanned=[[3, 4], [1, 2]])
    result = PortScanResult.from_json(data)
    assert [p.port for p in result.open] == [22, 443]
    assert result.scanned == ((1, 4),)


def test_label_names_the_service_when_known():
    assert OpenPort(23, service="telnet").label() == "23 (telnet)"
    assert OpenPort(50022).label() == "50022"


def test_service_guess_from_table():
    assert service_name(22) == "ssh"
    assert service_name(3389) == "ms-wbt-server"
    assert service_name(50022) is None
