"""What a plugin declares besides its checks, and how the registry and store use it."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from scanner.models import AssetKind, Outcome, PluginReason, parse_reason
from scanner.options import Option, OptionType, validate_options
from scanner.plugin import (
    Check,
    CheckRequest,
    FactsVersionError,
    Registry,
    Setting,
    needed,
    plugin_problems,
)
from scanner.store import MIGRATIONS, Store

EVEN = OptionType("even", lambda v: v if isinstance(v, int) and v % 2 == 0 else _odd(v), "an even integer")


def _odd(value: Any) -> Any:
    raise ValueError(f"{value!r} is not even")


def _judge(facts: Any, options: Any) -> Outcome:
    return Outcome.passed("ok")


def _plugin(**declared: Any) -> Any:
    """A plugin named ``demo`` with one check and the given declarations."""
    check = Check(
        id="demo.one", title="One", kinds=frozenset({AssetKind.HOST}), evaluate=_judge,
        options=declared.pop("options", {}), needs=frozenset({"extra"}),
    )

    class Demo:
        name = "demo"
        checks = (check, Check(id="demo.two", title="Two", kinds=frozenset({AssetKind.HOST}), evaluate=_judge))

        async def collect(self, asset, requests, ctx):  # type: ignore[no-untyped-def]
            return {}

    for key, value in declared.items():
        setattr(Demo, key, value)
    return Demo()


@pytest.mark.parametrize(
    "declared,problem",
    [
        ({"settings": {"x": Setting("int", "x", default=1, flag="port")}}, "flag 'port', not like --name"),
        ({"settings": {"Bad": Setting("int", "x", default=1)}}, "setting 'Bad' must be a lower_snake_case Setting"),
        ({"reasons": {"timeout": "again"}}, "error reason 'timeout' must be a new"),
        ({"option_types": (OptionType("int", int),)}, "option types ['int'] are core types"),
        ({"options": {"n": Option(EVEN, "n")}}, "option 'n' has unknown type even"),
        ({"facts_version": 0}, "facts_version must be a positive integer"),
    ],
    ids=["flag-shape", "setting-name", "core-reason", "core-type", "undeclared-type", "facts-version"],
)
def test_bad_declarations_are_refused(declared, problem) -> None:
    assert any(problem in p for p in plugin_problems(_plugin(**declared)))


def test_a_declared_option_type_validates_options() -> None:
    plugin = _plugin(option_types=(EVEN,), options={"n": Option(EVEN, "n")})
    assert plugin_problems(plugin) == []
    check = plugin.checks[0]
    assert validate_options(check.options, {"n": 4}, check.id) == ({"n": 4}, [])
    _, problems = validate_options(check.options, {"n": 3}, check.id)
    assert problems[0].message == "option 'n' of check demo.one: 3 is not even"


def test_registry_lists_what_plugins_declare() -> None:
    registry = Registry()
    registry.add(_plugin(
        settings={"depth": Setting("int", "how deep", default=1, flag="--demo-depth")},
        reasons={"odd": "an odd thing"}, redact=frozenset({"secret_path"}), option_types=(EVEN,),
    ))
    assert [(n, s.flag) for n, s in registry.settings()] == [("depth", "--demo-depth")]
    assert registry.reasons() == {"odd": "an odd thing"}
    assert registry.redact_keys() == {"secret_path"}
    assert registry.option_types()["even"] is EVEN and "int" in registry.option_types()


def test_two_plugins_cannot_declare_the_same_flag() -> None:
    registry = Registry()
    registry.add(_plugin(settings={"depth": Setting("int", "d", default=1, flag="--depth")}))
    other = _plugin(settings={"level": Setting("int", "l", default=1, flag="--depth")})
    other.name = "other"
    other.checks = tuple(Check(id=f"other.{c.id.split('.')[1]}", title=c.title, kinds=c.kinds, evaluate=c.evaluate) for c in other.checks)
    with pytest.raises(ValueError, match="flag --depth is already declared"):
        registry.add(other)


def test_collection_reads_the_needs_of_the_requested_checks() -> None:
    checks = _plugin().checks
    assert needed(checks, [CheckRequest("demo.two", {})]) == frozenset()
    assert needed(checks, [CheckRequest("demo.one", {})]) == {"extra"}
    assert needed(checks, []) == {"extra"}  # no requests: collect everything


def test_a_plugin_reason_round_trips_as_its_string() -> None:
    reason = parse_reason("odd")
    assert isinstance(reason, PluginReason) and reason.value == "odd"
    assert parse_reason("timeout").value == "timeout"


def _registry(**declared: Any) -> Registry:
    registry = Registry()
    registry.add(_plugin(**declared))
    return registry


def test_facts_of_the_current_version_are_read_as_they_are() -> None:
    assert _registry(facts_version=2).readable_facts("demo", 2, {"a": 1}) == {"a": 1}


def test_older_facts_are_migrated() -> None:
    registry = _registry(facts_version=2, migrate_facts=staticmethod(lambda v, f: {"b": f["a"]}))
    assert registry.readable_facts("demo", 1, {"a": 1}) == {"b": 1}


@pytest.mark.parametrize(
    "declared,version,message",
    [
        ({"facts_version": 2}, 1, "demo facts have schema version 1; the loaded demo plugin reads version 2"),
        ({"facts_version": 2, "migrate_facts": staticmethod(lambda v, f: f)}, 3, "schema version 3"),
        ({"facts_version": 2, "migrate_facts": staticmethod(lambda v, f: _odd(v))}, 1, "cannot upgrade them: 1 is not even"),
    ],
    ids=["no-migration", "newer-than-plugin", "migration-fails"],
)
def test_unreadable_facts_are_refused(declared, version, message) -> None:
    with pytest.raises(FactsVersionError, match=message):
        _registry(**declared).readable_facts("demo", version, {})


def test_facts_stored_before_versions_existed_are_version_1(tmp_path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (id, started, status, tool_version, ruleset_json, policy_key, settings_json)"
                 " VALUES (1, '2026-01-01', 'complete', '0', '{}', '', '{}')")
    conn.execute("INSERT INTO assets VALUES (1, 'a', 0, 'd', 'host', '{}', 'done', NULL)")
    conn.execute("INSERT INTO facts (run_id, asset_id, plugin, data_json) VALUES (1, 'a', 'demo', '{}')")
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.facts_versions(1) == {("a", "demo"): 1}
