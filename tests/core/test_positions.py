"""Every malformed policy or inventory is reported as file:line:col, never as an internal error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.inventory import load_inventory
from scanner.policy import load_policies
from scanner.yamlpos import MAX_DEPTH

HEAD = 'policy: {id: p, version: "1", title: t}\n'
RULE = "rules:\n  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n"


def waiver(expires: str) -> str:
    return (
        HEAD + RULE + "waivers:\n  - {id: w, rule: r, assets: {ids: [a]}, justification: j,"
        f" owner: o, approver: a, ticket: T, expires: {expires}}}\n"
    )


def problems_of(path: str, registry) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_policies([path], registry)
    return [f"{Path(p.where.path).name}:{p.where.line}:{p.where.col}: {p.message}" for p in info.value.problems]


DEEP = 20_000
CASES = {
    "deep-flow-lists": (HEAD + "x: " + "[" * DEEP + "]" * DEEP + "\n" + RULE, f"p.yaml:2:{3 + MAX_DEPTH}: refused: nested more than {MAX_DEPTH} levels deep"),
    "deep-flow-maps": (HEAD + "x: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n" + RULE, "refused: nested more than 100 levels deep"),
    "deep-block-lists": (HEAD + "x:\n" + "".join(" " * i + "-\n" for i in range(1000)) + RULE, "refused: nested more than 100 levels deep"),
    "deep-through-aliases": (
        HEAD + "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n" + RULE,
        "refused: nested more than 100 levels deep once aliases are expanded",
    ),
    "date-at-the-end-of-time": (waiver("9999-12-31"), "p.yaml:5:103: date 9999-12-31 is out of range (the last is 9999-12-30)"),
    "quoted-date-at-the-end-of-time": (waiver("'9999-12-31'"), "p.yaml:5:103: date 9999-12-31 is out of range"),
    "timestamp-before-year-1-in-utc": (waiver("0001-01-01T00:00:00+05:00"), "p.yaml:5:103: timestamp 0001-01-01T00:00:00+05:00 is out of range in UTC"),
    "int-tag-on-text": (HEAD + "x: !!int abc\n" + RULE, "p.yaml:2:4: this value is not a valid int"),
    "int-tag-on-empty": (HEAD + "x: !!int ''\n" + RULE, "p.yaml:2:4: this value is not a valid int"),
    "bool-tag-on-text": (HEAD + "x: !!bool maybe\n" + RULE, "p.yaml:2:4: this value is not a valid bool"),
    "timestamp-tag-on-text": (HEAD + "x: !!timestamp soon\n" + RULE, "p.yaml:2:4: this value is not a valid timestamp"),
    "float-tag-on-text": (HEAD + "x: !!float abc\n" + RULE, "p.yaml:2:4: this value is not a valid float"),
    "map-tag-on-list": (HEAD + "x: !!map [a, b]\n" + RULE, "p.yaml:2:4: expected a mapping here"),
    "seq-tag-on-text": (HEAD + "x: !!seq abc\n" + RULE, "p.yaml:2:4: expected a list here"),
    "int-too-long": (HEAD + "x: " + "9" * 5000 + "\n" + RULE, "p.yaml:2:4: integer longer than 100 characters"),
    "base-60-int-too-long": (HEAD + "x: 1" + ":59" * 2000 + "\n" + RULE, "p.yaml:2:4: integer longer than 100 characters"),
    "python-tag": (HEAD + "x: !!python/object/apply:os.system [id]\n" + RULE, "p.yaml:2:4: unsupported tag '!!python/object/apply:os.system' (plain YAML only)"),
    "control-character": (HEAD + "x: a\x01b\n" + RULE, "p.yaml:2:5: character U+0001 is not allowed in YAML"),
}


@pytest.mark.parametrize("text,expected", CASES.values(), ids=CASES.keys())
def test_malformed_policy_is_positioned(write, registry, text, expected):
    found = problems_of(write("p.yaml", text), registry)
    assert any(expected in p for p in found), found


def test_deep_inventory_is_positioned(write):
    text = "scope: {networks: [127.0.0.0/8]}\ndepartments: " + "[" * DEEP + "]" * DEEP + "\n"
    with pytest.raises(ConfigError, match=r"inv\.yaml:2:\d+: refused: nested more than 100 levels deep"):
        load_inventory(write("inv.yaml", text))


@pytest.fixture
def loop(tmp_path: Path) -> Path:
    """loop.yaml -> other.yaml -> loop.yaml"""
    os.symlink(tmp_path / "other.yaml", tmp_path / "loop.yaml")
    os.symlink(tmp_path / "loop.yaml", tmp_path / "other.yaml")
    return tmp_path / "loop.yaml"


def test_extends_symlink_loop_is_positioned(write, registry, loop):
    found = problems_of(write("p.yaml", HEAD + "extends: [loop.yaml]\n" + RULE), registry)
    assert "p.yaml:2:11: policy file 'loop.yaml': symbolic link loop" in found


def test_symlink_loop_as_argument_is_reported(registry, loop):
    found = problems_of(str(loop), registry)
    assert found == ["loop.yaml:0:0: symbolic link loop"]


@pytest.mark.parametrize(
    "text,expected",
    [(CASES["deep-flow-lists"][0], "refused: nested more than 100 levels deep"),
     (waiver("9999-12-31"), "date 9999-12-31 is out of range")],
    ids=["deep-nesting", "end-of-time"],
)
def test_cli_prints_position_and_exits_2(civiscan_bounded, write, text, expected):
    proc = civiscan_bounded("validate", write("p.yaml", text.replace("fake.value", "ports.allowed, options: {allowed: [22]}")))
    assert proc.returncode == 2
    assert "internal error" not in proc.stderr
    assert "p.yaml:" in proc.stderr and expected in proc.stderr


INVENTORY = (
    "scope: {{networks: [127.0.0.0/8], domains: [city.test]}}\n"
    "departments:\n"
    "  parks:\n"
    "    title: {title}\n"
    "    assets:\n"
    "      - {{host: 127.0.0.1, name: {name}, tags: [db, {tag}]}}\n"
)
CONTROL_CASES = {
    "escape-in-name": ({"name": '"parks\\e[31mdb"'}, "inv.yaml:6:33: 'name' of an asset contains the control character U+001B"),
    "newline-in-name": ({"name": '"parks\\ndb"'}, "inv.yaml:6:33: 'name' of an asset contains the control character U+000A"),
    "bell-in-tag": ({"tag": '"web\\a"'}, "inv.yaml:6:54: 'tags' of an asset contains the control character U+0007"),
    "bidi-override-in-title": ({"title": '"Parks \\u202eevil"'}, "inv.yaml:4:12: 'title' of department 'parks' contains the control character U+202E"),
    "c1-csi-in-name": ({"name": '"a\\x9bb"'}, "inv.yaml:6:33: 'name' of an asset contains the control character U+009B"),
}


def inventory(**given: str) -> str:
    return INVENTORY.format(**({"title": "Parks", "name": "parks-db", "tag": "web"} | given))


def inventory_problems(path: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_inventory(path)
    return [f"{Path(p.where.path).name}:{p.where.line}:{p.where.col}: {p.message}" for p in info.value.problems]


def test_plain_inventory_free_text_loads(write):
    (asset,) = load_inventory(write("inv.yaml", inventory(name='"Parks DB (north)"'))).assets
    assert (asset.name, asset.tags) == ("Parks DB (north)", ("db", "web"))


@pytest.mark.parametrize(("given", "expected"), CONTROL_CASES.values(), ids=CONTROL_CASES.keys())
def test_control_characters_in_inventory_free_text_are_refused_at_their_position(write, given, expected):
    found = inventory_problems(write("inv.yaml", inventory(**given)))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_cli_refuses_a_control_character_in_an_asset_name_with_exit_2(civiscan_bounded, write):
    proc = civiscan_bounded("validate", write("inv.yaml", inventory(name='"parks\\e]0;owned\\adb"')))
    assert proc.returncode == 2, proc.stderr
    assert "inv.yaml:6:33: 'name' of an asset contains the control character U+001B" in proc.stderr
    assert "\x1b" not in proc.stderr and "\x07" not in proc.stderr
