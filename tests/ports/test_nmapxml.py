"""nmap's XML report read into facts (recorded with tests/data/ports/record.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.plugins.ports.nmapscan import nmap_arguments, run_limit
from scanner.plugins.ports.nmapxml import NmapHostTimedOut, NmapOutputError, parse_nmap_xml

DATA = Path(__file__).resolve().parents[1] / "data" / "ports"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_open_ports_with_closed_ones_folded_into_extraports():
    result = parse_nmap_xml(load("connect.xml"))
    assert result.scanner == "nmap"
    assert result.address == "127.0.32.1"
    assert result.scanned == ((1, 1024), (8080, 8081), (50000, 50100))
    assert [p.port for p in result.open] == [80, 443, 8080, 50022]
    assert result.unanswered == ((8081, 8081),)


def test_service_names_are_civiscans_guess_unless_probed():
    by_port = {p.port: p for p in parse_nmap_xml(load("connect.xml")).open}
    assert by_port[80].service == "http"
    assert by_port[8080].service == "http-alt"  # nmap's table says http-proxy
    assert by_port[50022].service is None
    assert by_port[80].product is None and by_port[80].version is None


def test_filtered_ports_folded_into_extraports_are_unanswered():
    result = parse_nmap_xml(load("filtered.xml"))
    assert result.unanswered == ((40100, 40129),)
    assert [p.port for p in result.open] == [40130]


def test_ipv6_address():
    result = parse_nmap_xml(load("ipv6.xml"))
    assert result.address == "::1"
    assert [p.port for p in result.open] == [50443]
    assert result.unanswered == ()


def test_version_detection_fills_product_and_version():
    (port,) = parse_nmap_xml(load("versions.xml")).open
    assert (port.port, port.service, port.product, port.version) == (
        2222,
        "ssh",
        "OpenSSH",
        "9.2p1 Debian 2+deb12u1",
    )


def test_host_timeout_is_reported_not_read_as_no_open_ports():
    with pytest.raises(NmapHostTimedOut):
        parse_nmap_xml(load("timedout.xml"))


def _without_extrareason_ports(xml: bytes) -> bytes:
    """The shape of nmap < 7.80, whose <extrareasons> does not list ports."""
    text = xml.decode()
    start = text.index(' ports="', text.index("<extrareasons"))
    end = text.index('"', start + len(' ports="'))
    return (text[:start] + text[end + 1 :]).encode()


def test_unlisted_fold_takes_the_ports_nobody_else_claims():
    result = parse_nmap_xml(_without_extrareason_ports(load("connect.xml")))
    assert [p.port for p in result.open] == [80, 443, 8080, 50022]
    assert result.unanswered == ((8081, 8081),)


def test_ports_nmap_never_mentions_count_as_unanswered():
    text = (
        load("ipv6.xml")
        .decode()
        .replace(
            '<port protocol="tcp" portid="50449"><state state="closed" reason="conn-refused"'
            ' reason_ttl="0"/></port>\n',
            "",
        )
    )
    assert parse_nmap_xml(text).unanswered == ((50449, 50449),)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("not xml at all", "not XML"),
        ("<other/>", "unexpected root"),
        ('<nmaprun><scaninfo protocol="tcp" services="1-10"/></nmaprun>', "one host"),
        ("<nmaprun><host/></nmaprun>", "scaninfo"),
        (
            (
                '<nmaprun><scaninfo protocol="tcp" services="1-10"/><host>'
                '<address addr="127.0.0.1" addrtype="ipv4"/><ports><port protocol="tcp" portid="x"/>'
                "</ports></host></nmaprun>"
            ),
            "bad portid",
        ),
    ],
    ids=["not-xml", "wrong-root", "no-host", "no-scaninfo", "bad-port"],
)
def test_unreadable_output_is_an_error(text, needle):
    with pytest.raises(NmapOutputError, match=needle):
        parse_nmap_xml(text)


@pytest.mark.parametrize(
    ("timeout", "versions", "ipv6", "expected"),
    [
        (
            5.0,
            False,
            False,
            "-sT -Pn -n --max-retries 2 --initial-rtt-timeout 1000ms --max-rtt-timeout 5000ms",
        ),
        (
            0.5,
            True,
            True,
            "-sT -Pn -n --max-retries 2 --initial-rtt-timeout 500ms --max-rtt-timeout 500ms -sV -6",
        ),
    ],
    ids=["defaults", "versions-ipv6-short-timeout"],
)
def test_nmap_arguments(timeout, versions, ipv6, expected):
    assert nmap_arguments(timeout, versions, ipv6) == expected


def test_run_limit_grows_with_ports_and_version_detection():
    assert run_limit(1000, 5.0, False) < run_limit(65535, 5.0, False)
    assert run_limit(1000, 5.0, True) == 4 * run_limit(1000, 5.0, False)
