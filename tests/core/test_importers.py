"""civiscan inventory import: CSV, nmap XML (from a real nmap run on loopback) and NetBox exports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scanner import importers
from scanner.errors import ConfigError
from scanner.lab.servers import Lab

HOST_A, HOST_B = "127.69.1.1", "127.69.1.2"


def civiscan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVISCAN_DB": str(cwd / "store.db")}
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def problems(excinfo: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


CSV = """department,name,host,endpoint,address,tags,title,ssh_user,ssh_port
parks,parks-db,10.20.1.5,,,db;linux,Parks and Recreation,audit,2222
parks,,,https://www.parks.city.example/,10.20.1.10,web,,,
water,scada,10.30.0.2,,,ot,Water and Sewer,,
"""


def test_csv_rows_become_departments_assets_and_the_narrowest_scope():
    imported = importers.parse_csv(CSV, "a.csv")
    doc = yaml.safe_load(importers.inventory_yaml(imported, importers.derived_scope(imported), "a.csv", "csv"))
    assert doc["scope"] == {"networks": ["10.20.1.5/32", "10.20.1.10/32", "10.30.0.2/32"],
                            "domains": ["www.parks.city.example"]}
    parks = doc["departments"]["parks"]
    assert parks["title"] == "Parks and Recreation"
    assert parks["assets"][0] == {"host": "10.20.1.5", "name": "parks-db", "tags": ["db", "linux"],
                                  "ssh": {"user": "audit", "port": 2222}}
    assert parks["assets"][1] == {"endpoint": "https://www.parks.city.example/", "address": "10.20.1.10",
                                  "tags": ["web"]}
    assert list(doc["departments"]) == ["parks", "water"]


def test_every_bad_cell_of_a_csv_is_named_by_line_and_column_at_once():
    text = ("department,host,endpoint,ssh_port\n"
            "Parks,10.1,,\n"
            "parks,,http://x.example/,22\n"
            "water,10.0.0.1,,99999\n"
            "water,10.0.0.2,,22,extra\n")
    with pytest.raises(ConfigError) as err:
        importers.parse_csv(text, "b.csv")
    got = problems(err)
    assert got[0].startswith("b.csv:2:1: department 'Parks'")
    assert got[1].startswith("b.csv:2:7: '10.1' is not an IP address")
    assert any(p.startswith("b.csv:3:8: endpoint URL") and "https://" in p for p in got)
    assert any(p.startswith("b.csv:3:26: SSH settings belong to a host") for p in got)
    assert any(p.startswith("b.csv:4:17: ssh_port '99999'") for p in got)
    assert any(p.startswith("b.csv:5:20: 5 fields") for p in got)


def test_a_csv_header_without_host_or_department_is_refused_at_once():
    with pytest.raises(ConfigError) as err:
        importers.parse_csv("name,colour\nx,blue\n", "c.csv")
    assert problems(err) == [
        "c.csv:1:1: the header has no 'department' column: add one, or pass --department",
        "c.csv:1:1: the header needs a 'host' or an 'endpoint' column",
        "c.csv:1:6: unknown column 'colour'; columns are: " + ", ".join(importers.CSV_COLUMNS),
    ]


NETBOX = {
    "count": 4, "next": None, "previous": None,
    "results": [
        {"id": 1, "name": "parks-db01", "status": {"value": "active", "label": "Active"},
         "tenant": {"id": 3, "name": "Parks and Recreation", "slug": "parks"},
         "primary_ip": {"id": 9, "family": {"value": 4}, "address": "10.20.1.5/24"},
         "tags": [{"id": 1, "name": "Linux", "slug": "linux"}]},
        {"id": 2, "name": "water-gw", "status": {"value": "active"}, "tenant": {"name": "Water", "slug": "water"},
         "primary_ip4": None, "primary_ip6": {"address": "2001:db8::7/64"}, "tags": []},
        {"id": 3, "name": "old-box", "status": {"value": "decommissioning"}, "tenant": {"slug": "parks"},
         "primary_ip": {"address": "10.20.1.99/24"}, "tags": []},
        {"id": 4, "name": "no-ip", "status": {"value": "active"}, "tenant": {"slug": "parks"}, "primary_ip": None},
    ],
}


def test_a_netbox_page_maps_tenants_to_departments_and_skips_what_cannot_be_scanned():
    imported = importers.parse_netbox(json.dumps(NETBOX), "nb.json")
    assert [(a.department, a.host, a.name, a.tags) for a in imported.assets] == [
        ("parks", "10.20.1.5", "parks-db01", ("linux",)), ("water", "2001:db8::7", "water-gw", ())]
    assert imported.titles == {"parks": "Parks and Recreation", "water": "Water"}
    assert imported.skipped == ["old-box: status decommissioning", "no-ip: no primary IP"]
    assert len(importers.parse_netbox(json.dumps(NETBOX), "nb.json", include_inactive=True).assets) == 3


def test_a_netbox_object_without_a_tenant_needs_a_department():
    page = {"results": [{"name": "x", "primary_ip": {"address": "10.0.0.1/8"}}]}
    with pytest.raises(ConfigError, match="object 1 \\(x\\) has no tenant"):
        importers.parse_netbox(json.dumps(page), "nb.json")
    assert importers.parse_netbox(json.dumps(page), "nb.json", default_department="ops").assets[0].department == "ops"
    with pytest.raises(ConfigError, match="^nb.json:1:2: not valid JSON"):
        importers.parse_netbox("{oops", "nb.json")


def test_an_xml_bomb_and_broken_xml_are_refused_with_a_position():
    bomb = b'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><nmaprun>&b;</nmaprun>'
    with pytest.raises(ConfigError, match="document type with declarations is refused"):
        importers.parse_nmap_xml(bomb, "bomb.xml", department="parks")
    with pytest.raises(ConfigError, match=r"^x.xml:2:9: not well-formed XML: mismatched tag$"):
        importers.parse_nmap_xml(b"<nmaprun>\n<host></nmaprun>", "x.xml", department="parks")
    with pytest.raises(ConfigError, match="not an nmap XML report"):
        importers.parse_nmap_xml(b"<html></html>", "x.xml", department="parks")


@pytest.mark.integration
def test_a_real_nmap_report_of_loopback_hosts_imports_hosts_and_their_tls_services(tmp_path):
    nmap = shutil.which("nmap")
    if nmap is None:
        if os.environ.get("CI"):
            pytest.fail("nmap is not installed (tools/system-deps.sh installs it)")
        pytest.skip("nmap is not installed")
    with Lab() as lab:
        lab.tcp(HOST_A, 8443, greeting=b"")  # nmap names 8443 https-alt without probing it
        lab.tcp(HOST_B, 2525, greeting=b"220 mail ready\r\n")
        subprocess.run([nmap, "-Pn", "-sT", "-n", "-p", "8443,2525", "-oX", str(tmp_path / "scan.xml"),
                        HOST_A, HOST_B], check=True, capture_output=True, timeout=120)
    done = civiscan(tmp_path, "inventory", "import", "nmap-xml", "scan.xml", "--department", "parks",
                    "--tag", "linux", "-o", "inventory.yaml")
    assert done.returncode == 0, done.stderr
    assert "inventory.yaml: 3 assets in 1 department(s)" in done.stderr
    doc = yaml.safe_load((tmp_path / "inventory.yaml").read_text())
    assets = doc["departments"]["parks"]["assets"]
    assert {"host": HOST_A, "tags": ["linux"]} in assets and {"host": HOST_B, "tags": ["linux"]} in assets
    assert {"endpoint": f"https://{HOST_A}:8443/", "tags": ["linux", "web"]} in assets
    assert doc["scope"] == {"networks": [f"{HOST_A}/32", f"{HOST_B}/32"]}
    assert civiscan(tmp_path, "validate", "inventory.yaml").returncode == 0
    again = civiscan(tmp_path, "inventory", "import", "nmap-xml", "scan.xml", "--department", "parks",
                     "-o", "inventory.yaml")
    assert again.returncode == 2 and "exists; pass --force" in again.stderr
    narrow = civiscan(tmp_path, "inventory", "import", "nmap-xml", "scan.xml", "--department", "parks",
                      "--scope", f"{HOST_A}/32", "-o", "-")
    assert narrow.returncode == 2 and f"parks/{HOST_B} is out of scope" in narrow.stderr
    assert narrow.stdout == ""


def test_the_command_writes_a_csv_import_that_validates(tmp_path):
    (tmp_path / "a.csv").write_text(CSV)
    done = civiscan(tmp_path, "inventory", "import", "csv", "a.csv", "-o", "inventory.yaml")
    assert done.returncode == 0, done.stderr
    assert civiscan(tmp_path, "validate", "inventory.yaml").returncode == 0
    (tmp_path / "dup.csv").write_text("department,name,host\nparks,db,10.0.0.1\nparks,db,10.0.0.2\n")
    dup = civiscan(tmp_path, "inventory", "import", "csv", "dup.csv", "-o", "d.yaml")
    assert dup.returncode == 2 and "dup.csv:3:10: duplicate asset 'parks/db' (first at dup.csv:2:10)" in dup.stderr
    assert not (tmp_path / "d.yaml").exists()
