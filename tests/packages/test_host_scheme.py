"""A host's facts are ordered by the host's own rules: apk-tools 3.x hosts by the 3.x comparator.

Where a package is installed for several architectures, or a source's binaries
differ in version, the facts keep the lowest version. "Lowest" must be what the
host's apk says: apk-tools 2.x and 3.x disagree on leading zeros
(``9.1.0015`` vs ``9.1.002``, see test_versions_apk3.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.plugins.packages import (
    advisory_matches,
    feeds,
    installed_packages,
    installed_versions,
    packages_facts,
    source_columns,
)
from scanner.store import Store

# 3.x: 9.1.0015 < 9.1.002 (compared as strings); 2.x: the other way round.
LOW3, LOW2 = "9.1.0015-r0", "9.1.002-r0"


def _pkg(name: str, version: str, arch: str, source: str | None = None) -> dict[str, str]:
    return {"name": name, "version": version, "source": source or name, "source_version": version,
            "arch": arch, "status": "installed"}


def _alpine(tools: str) -> dict[str, Any]:
    return {
        "collected_at": "2026-11-30T08:00:00+00:00",
        "os": {"id": "alpine", "version_id": "3.23.0", "pretty_name": "Alpine Linux v3.23"},
        "package_format": "apk",
        "packages": [
            _pkg("vim", LOW2, "x86_64"),
            _pkg("vim", LOW3, "x86"),
            _pkg("xxd", LOW2, "x86_64", source="vim"),
            _pkg("apk-tools", tools, "x86_64"),
        ],
        "kernel": {"running": "6.12.1-0-lts"},
    }


@pytest.mark.parametrize(("tools", "low"), [("3.0.3-r1", LOW3), ("2.14.9-r3", LOW2)], ids=["apk3", "apk2"])
def test_the_lowest_installed_version_follows_the_hosts_apk(tools: str, low: str) -> None:
    facts = packages_facts(_alpine(tools))
    assert facts["version_scheme"] == ("apk3" if tools.startswith("3") else "apk")
    assert installed_packages(facts)["vim"] == low
    sources, found, binaries = source_columns(facts)
    at = sources.index("vim")
    assert (found[at], binaries[at]) == (low, "vim xxd")


def test_installed_versions_takes_the_scheme() -> None:
    packages = _alpine("3.0.3-r1")["packages"]
    assert installed_versions(packages, "apk3")["vim"] == LOW3
    assert installed_versions(packages, "apk")["vim"] == LOW2


def test_an_apk3_host_is_judged_on_its_lowest_version(tmp_path: Path) -> None:
    record = {
        "id": "ALPINE-TEST-1",
        "modified": "2026-11-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Alpine:v3.23", "name": "vim"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.1.002-r0"}]}]}],
    }
    with Store(tmp_path / "s.db") as store:
        with store.write_dataset("advisories") as conn:
            feeds.import_osv_records(conn, [record], name="alpine")
        # 3.x: the x86 build (9.1.0015) is below the fix 9.1.002; the x86_64 one is at it.
        found = advisory_matches(store.dataset("advisories"), packages_facts(_alpine("3.0.3-r1")))
        assert [(m["id"], m["installed"]) for m in found["matches"]] == [("ALPINE-TEST-1", LOW3)]
        # 2.x orders 9.1.0015 above 9.1.002: both builds are at or past the fix.
        found = advisory_matches(store.dataset("advisories"), packages_facts(_alpine("2.14.9-r3")))
        assert found["matches"] == []
