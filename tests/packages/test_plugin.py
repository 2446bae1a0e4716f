"""The packages and os plugins: shape, shared collection, feed lookup from the store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scanner.models import Asset, AssetKind, Status
from scanner.options import validate_options
from scanner.plugin import CheckRequest, Context, Dataset, lend, plugin_problems
from scanner.plugins.packages import (
    OsPlugin,
    PackagesPlugin,
    advisory_matches,
    feed_facts,
    feeds,
    installed_packages,
    match,
    os_plugin,
    packages_plugin,
    source_columns,
)
from scanner.store import Store

HOST = Path(__file__).resolve().parents[1] / "data" / "packages" / "feeds" / "host-debian12.json"
ASSET = Asset(id="it/web1", name="web1", kind=AssetKind.HOST, department="it", address="127.0.0.1")


@pytest.fixture
def host() -> dict[str, Any]:
    return json.loads(HOST.read_text())


@pytest.fixture
def fake_collector(host) -> list[str]:
    """Host collection (collect.py's job) replaced by recorded facts: the hosts it was asked for."""
    return []


@pytest.fixture
def plugins(fake_collector, host) -> tuple[PackagesPlugin, OsPlugin]:
    """Both plugins, reading hosts through the recorded facts."""

    async def collect_host_facts(asset: Asset, ctx: Context) -> dict[str, Any]:
        fake_collector.append(asset.id)
        return host

    return PackagesPlugin(collect_host_facts), OsPlugin(collect_host_facts)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A store holding the sample OSV feed, on each backend."""
    path = tmp_path / "civiscan.db" if request.param == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    with Store(path) as store, store.write_dataset("advisories") as conn:
        osv, _tracker = feeds.sample_feed_paths()
        feeds.import_path(conn, osv, name="osv")
    return path


@pytest.fixture
def collect_both(plugins):
    def collect(store: Path | str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        async def go() -> tuple[dict[str, Any], dict[str, Any]]:
            with contextlib.ExitStack() as stack:
                lent = stack.enter_context(Store(store)) if store else None
                ctx = Context(timeout=5, datasets=lent)
                requests = [CheckRequest("packages.vulnerable", {})]
                packages, os_ = plugins
                return await asyncio.gather(
                    packages.collect(ASSET, requests, ctx), os_.collect(ASSET, [], ctx)
                )

        return asyncio.run(go())

    return collect


@pytest.mark.parametrize("plugin", [packages_plugin, os_plugin], ids=["packages", "os"])
def test_plugins_have_a_valid_shape(plugin) -> None:
    assert plugin_problems(plugin) == []


def test_both_plugins_share_one_collection(collect_both, fake_collector, store) -> None:
    collect_both(store)
    assert fake_collector == ["it/web1"]


def _vulnerable(facts: dict[str, Any], store: Path | None, **given: Any) -> Any:
    check = packages_plugin.checks[0]
    options, _ = validate_options(check.options, {"max_feed_age_days": 36500, **given}, check.id)
    with contextlib.ExitStack() as stack:
        lent = stack.enter_context(Store(store)) if store else None
        return check.evaluate(facts, options, lend(check, lent))


def test_packages_facts_hold_sources_and_no_judgement(collect_both, fake_collector, store) -> None:
    facts, _ = collect_both(store)
    assert facts["release"] == "debian:12"
    assert not {"feed", "matches", "feed_problem"} & set(facts)
    assert list(installed_packages(facts)) == sorted(installed_packages(facts))
    assert installed_packages(facts)["libc6"] == "2.36-9+deb12u4"
    sources, found, binaries = source_columns(facts)
    at = sources.index("glibc")
    assert found[at] == "2.36-9+deb12u4"
    assert "libc6" in binaries[at].split()
    assert "oldpkg" not in installed_packages(facts)
    json.dumps(facts)  # stored as JSON


def test_the_feed_is_matched_when_judging(collect_both, fake_collector, store) -> None:
    facts, _ = collect_both(store)
    found = advisory_matches(_advisories(store), facts)
    assert found["feed"]["sources"][0]["name"] == "osv"
    assert found["feed"]["date"] == "2026-11-03T09:12:44+00:00"
    assert {m["id"] for m in found["matches"]} >= {
        "DSA-5532-1",
        "DSA-5724-1",
        "DEBIAN-CVE-2025-32462",
    }


def test_os_facts_are_compact(collect_both, fake_collector, store) -> None:
    _, facts = collect_both(store)
    assert "packages" not in facts
    assert facts["reboot_required"]["required"] is True
    assert facts["collected_at"] == "2026-11-10T08:00:00+00:00"


def test_no_store_means_feed_error(collect_both, fake_collector) -> None:
    facts, _ = collect_both(None)
    outcome = _vulnerable(facts, None)
    assert outcome.status is Status.ERROR and outcome.reason.value == "feed"


def test_release_without_feed_cannot_be_evaluated(collect_both, fake_collector, store, host) -> None:
    host["os"] = {
        "id": "debian",
        "version_id": "13",
        "codename": "trixie",
        "pretty_name": "Debian GNU/Linux 13 (trixie)",
    }
    facts, _ = collect_both(store)
    # the sample feed has one Debian:13 record, so trixie is covered; an empty store is not
    assert advisory_matches(_advisories(store), facts)["feed"] is not None
    host["os"] = {"id": "ubuntu", "version_id": "24.04", "pretty_name": "Ubuntu 24.04 LTS"}
    facts, _ = collect_both(store)
    found = advisory_matches(_advisories(store), facts)
    assert found["feed"] is None
    assert "Ubuntu 24.04 LTS" in found["feed_problem"]


def test_end_to_end_verdict_on_the_sample_host(collect_both, fake_collector, store) -> None:
    facts, _ = collect_both(store)
    outcome = _vulnerable(facts, store, min_severity="high")
    assert outcome.status is Status.FAIL
    assert {a["id"] for a in outcome.evidence["advisories"]} == {
        "DSA-5532-1",
        "DSA-5724-1",
        "DEBIAN-CVE-2025-32462",
    }
    assert "feed osv dated 2026-11-03" in outcome.message
    first = outcome.evidence["advisories"][0]
    assert {"id", "installed", "fixed"} <= set(first)


# --- feed lookup through the per-release cache (feed_facts) ---------------------


def _import_both(path: Path) -> None:
    osv, tracker = feeds.sample_feed_paths()
    with Store(path) as store, store.write_dataset("advisories") as conn:
        feeds.import_path(conn, osv, name="osv")
        feeds.import_debian_tracker(
            conn, json.loads(tracker.read_text()), feed_date="2026-11-05T00:00:00+00:00"
        )


def _advisories(path: Path) -> Dataset | None:
    with Store(path) as store:
        return store.dataset("advisories")


def _full_load_matches(path: Path, host: dict[str, Any]) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        snapshot = feeds.load_release(conn, "debian:12")
    found, _ = match.match_packages(host["packages"], host["package_format"], snapshot)
    return found


def test_cached_lookup_matches_a_full_load_of_two_feeds(tmp_path: Path, host) -> None:
    path = tmp_path / "civiscan.db"
    _import_both(path)
    facts = feed_facts(_advisories(path), host)
    assert [s["name"] for s in facts["feed"]["sources"]] == ["debian-tracker", "osv"]
    assert facts["matches"] == _full_load_matches(path, host)
    assert facts["matches"]  # the comparison above is not vacuous


def test_later_host_gets_rows_of_packages_the_first_host_lacked(tmp_path: Path, host) -> None:
    path = tmp_path / "civiscan.db"
    _import_both(path)
    without_openssl = dict(host, packages=[p for p in host["packages"] if p["source"] != "openssl"])
    first = feed_facts(_advisories(path), without_openssl)
    second = feed_facts(_advisories(path), host)
    assert "DSA-5532-1" not in {m["id"] for m in first["matches"]}
    assert second["matches"] == _full_load_matches(path, host)


def test_reimported_feed_is_not_served_from_the_cache(tmp_path: Path, host) -> None:
    path = tmp_path / "civiscan.db"
    osv, _tracker = feeds.sample_feed_paths()
    with Store(path) as store, store.write_dataset("advisories") as conn:
        feeds.import_path(conn, osv, name="osv", now="2026-11-05T00:00:00+00:00")
    assert "DSA-5532-1" in {m["id"] for m in feed_facts(_advisories(path), host)["matches"]}
    records = [json.loads(f.read_text()) for f in sorted(osv.glob("*.json"))]
    with Store(path) as store, store.write_dataset("advisories") as conn:
        feeds.import_osv_records(
            conn,
            [r for r in records if r["id"] != "DSA-5532-1"],
            name="osv",
            now="2026-11-06T00:00:00+00:00",
        )
    facts = feed_facts(_advisories(path), host)
    assert facts["feed"]["sources"][0]["imported_at"] == "2026-11-06T00:00:00+00:00"
    assert "DSA-5532-1" not in {m["id"] for m in facts["matches"]}


def test_store_without_feeds_has_no_feed(tmp_path: Path, host) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    facts = feed_facts(_advisories(path), host)
    assert facts["feed"] is None
    assert "no imported advisory feed covers" in facts["feed_problem"]


def test_a_line_break_inside_a_stored_column_item_cannot_shift_the_columns():
    from scanner.plugins.packages import column, package_columns

    stored = package_columns({"evil\npkg": "1.0", "openssl": "3.0.11-1~deb12u2"})
    names, found = column(stored["name"]), column(stored["version"])
    assert len(names) == len(found) == 2
    assert dict(zip(names, found))["openssl"] == "3.0.11-1~deb12u2"
