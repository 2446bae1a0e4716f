"""The Store interface: typed reads and writes, one embedded backend behind it."""

from __future__ import annotations

import datetime as dt
import inspect

import pytest

from scanner.engine import ScanSettings
from scanner.inventory import parse_scope_args
from scanner.models import Asset, AssetKind
from scanner.policy import load_policies
from scanner.rundoc import AssetState, RunStatus
from scanner.scan import Plan, execute, start
from scanner.store import SqliteStore, Store

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
POLICY = """
policy: {id: p, version: "1", title: t}
rules:
  - {id: small, title: Value is small, severity: high, checks: [{check: fake.value, options: {maximum: 5}}]}
"""


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "c.db") as s:
        yield s


def test_a_path_opens_the_embedded_backend(store) -> None:
    assert isinstance(store, SqliteStore) and isinstance(store, Store)


def test_the_embedded_backend_implements_the_whole_interface() -> None:
    assert not inspect.isabstract(SqliteStore)


def test_the_store_lends_no_connection(store) -> None:
    public = {name for name in dir(store) if not name.startswith("_")}
    assert not public & {"conn", "connection", "cursor", "execute"}


def test_run_and_asset_states_are_enums(store, write, registry) -> None:
    ruleset = load_policies([write("p.yaml", POLICY)], registry)
    asset = Asset(id="d/a", name="a", kind=AssetKind.HOST, department="d", address="127.0.0.1")
    spec = start(store, Plan((asset,), ruleset, parse_scope_args(["127.0.0.0/8"])), registry, ScanSettings(), now=NOW)
    assert store.asset_states(spec.run_id) == {"d/a": AssetState.PENDING}
    execute(spec)
    assert store.run(spec.run_id).status is RunStatus.COMPLETE
    assert store.asset_states(spec.run_id)["d/a"] is AssetState.DONE
    assert [a.id for a in store.assets(spec.run_id, state=AssetState.DONE)] == ["d/a"]
    assert store.lease(spec.run_id)[0] is None  # a finished run is held by nobody
