"""Module streams (EL8+), read from a real rpm database and judged against Rocky's RLSA-2024:3671.

The packages are built by this machine's rpmbuild with a MODULARITYLABEL (as
module builds carry it) and registered in an rpm database under a host root;
the real collection script reads that root with the real rpm. RLSA-2024:3671
(tests/packages/data/rocky-osv) fixes the ``ruby:3.3`` stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scanner.plugins.packages import advisory_matches, feeds, packages_facts
from scanner.plugins.packages.collect import build_script, facts_from_output
from scanner.plugins.packages.parsers import module_stream
from scanner.store import Store
from scanner.transports.local import LocalTransport
from tests.conftest import require_tool

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 30, 8, 0, 0, tzinfo=UTC)
ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n'
SPEC = """Name: {name}
Version: {version}
Release: {release}
Summary: test package
License: MIT
BuildArch: noarch
%description
test package
%files
"""


def _build(tmp: Path, name: str, version: str, release: str, label: str | None) -> Path:
    top = tmp / "rpmbuild"
    (top / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = top / "SPECS" / f"{name}-{release}.spec"
    spec.write_text(SPEC.format(name=name, version=version, release=release))
    defines = ["--define", f"_topdir {top}"]
    if label:
        defines += ["--define", f"modularitylabel {label}"]
    subprocess.run([require_tool("rpmbuild"), "-bb", *defines, str(spec)], check=True,
                   capture_output=True, timeout=120)
    return top / "RPMS" / "noarch" / f"{name}-{version}-{release}.noarch.rpm"


def _host_root(tmp: Path, packages: list[tuple[str, str, str, str | None]]) -> Path:
    root = tmp / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text(ROCKY)
    files = [str(_build(tmp, *pkg)) for pkg in packages]
    subprocess.run([require_tool("rpm"), "--root", str(root), "-i", "--justdb", "--nodeps", "--noscripts", *files],
                   check=True, capture_output=True, timeout=120)
    return root


def _collect(root: Path) -> dict[str, Any]:
    nonce = secrets.token_hex(16)
    env = {"CIVISCAN_ROOT": str(root), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    result = asyncio.run(LocalTransport(60.0, env=env).run_script(build_script(nonce)))
    return facts_from_output(result, nonce, "local", NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "s.db")
    with opened.write_dataset("advisories") as conn:
        feeds.import_path(conn, DATA / "rocky-osv", name="rocky")
    yield opened
    opened.close()


def _ids(store: Store, host: dict[str, Any]) -> list[str]:
    return [m["id"] for m in advisory_matches(store.dataset("advisories"), packages_facts(host))["matches"]]


@pytest.mark.parametrize(
    ("label", "stream"),
    [("ruby:3.3:9040020240517091218:9b9d7f0e", "ruby:3.3"), ("(none)", ""), ("", ""), ("ruby", "")],
)
def test_the_stream_of_a_modularity_label(label: str, stream: str) -> None:
    assert module_stream(label) == stream


def test_the_collector_reads_module_labels_from_the_rpm_database(tmp_path: Path) -> None:
    root = _host_root(tmp_path, [
        ("ruby", "3.3.0", "1.module+el9.4.0+20555+5a2c1b91", "ruby:3.3:9040020240517091218:9b9d7f0e"),
        ("bash", "5.1.8", "9.el9", None),
    ])
    host = _collect(root)
    assert host["package_format"] == "rpm"
    found = {p["name"]: p for p in host["packages"]}
    assert found["ruby"]["module"] == "ruby:3.3"
    assert "module" not in found["bash"]
    assert packages_facts(host)["module_streams"] == {"ruby": "ruby:3.3"}


def test_a_host_on_the_advisorys_stream_is_vulnerable(tmp_path: Path, store: Store) -> None:
    root = _host_root(tmp_path, [
        ("ruby", "3.3.0", "1.module+el9.4.0+20555+5a2c1b91", "ruby:3.3:9040020240517091218:9b9d7f0e"),
    ])
    assert _ids(store, _collect(root)) == ["RLSA-2024:3671"]


def test_a_host_on_another_stream_is_not_judged_by_its_fixes(tmp_path: Path, store: Store) -> None:
    root = _host_root(tmp_path, [
        ("ruby", "3.1.4", "143.module+el9.2.0+19181+d3e5e8cd", "ruby:3.1:9020020230420130105:9b9d7f0e"),
    ])
    host = _collect(root)
    assert host["packages"][0]["module"] == "ruby:3.1"
    assert _ids(store, host) == []  # 3.1.4 < 3.3.1, but ruby:3.1 is not updated by ruby:3.3 builds


def test_without_a_label_a_module_build_is_still_compared(tmp_path: Path, store: Store) -> None:
    # rpm older than 4.14 has no MODULARITYLABEL: the stream is unknown, the fix still counts.
    host = _collect(_host_root(tmp_path, [("ruby", "3.1.4", "143.module+el9.2.0+19181+d3e5e8cd", None)]))
    assert _ids(store, host) == ["RLSA-2024:3671"]


def test_stored_facts_round_trip_as_json(tmp_path: Path) -> None:
    root = _host_root(tmp_path, [("ruby", "3.3.0", "1.module+el9.4.0+20555+5a2c1b91", "ruby:3.3:1:abc")])
    facts = packages_facts(_collect(root))
    assert json.loads(json.dumps(facts))["module_streams"] == {"ruby": "ruby:3.3"}
