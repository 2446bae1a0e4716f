"""The named port sets and where they came from."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET

import pytest

from scanner.plugins.ports import ranges as r
from scanner.plugins.ports.portsets import NAMED_SETS
from scanner.plugins.ports.ranges import parse_ports


@pytest.mark.parametrize(
    ("name", "size"), [("top100", 100), ("top1000", 1000), ("all", 65535)], ids=str
)
def test_named_set_sizes(name, size):
    assert r.count(NAMED_SETS[name]) == size


def test_top100_is_inside_top1000():
    assert r.subtract(NAMED_SETS["top100"], NAMED_SETS["top1000"]) == []


@pytest.mark.parametrize("port", [21, 22, 23, 80, 443, 3306, 3389, 8080], ids=str)
def test_top100_has_the_usual_suspects(port):
    assert r.contains(NAMED_SETS["top100"], port)


@pytest.mark.integration
@pytest.mark.parametrize("name", ["top100", "top1000"])
def test_sets_match_local_nmap_top_ports(tool, name):
    """Same ports as ``nmap --top-ports N`` (the shipped lists came from nmap 7.93)."""
    nmap = tool("nmap")
    n = name.removeprefix("top")
    out = subprocess.run(
        [nmap, "-sT", "--top-ports", n, "-oX", "-"], capture_output=True, check=True, timeout=60
    ).stdout
    services = ET.fromstring(out).find("scaninfo").get("services")
    assert r.normalise(parse_ports(services)) == NAMED_SETS[name]
