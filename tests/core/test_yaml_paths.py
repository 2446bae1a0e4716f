"""libyaml's C path and the pure-Python path of the YAML loader give the same answers.

Same data, same positions of every key, value and item, same errors at the
same ``file:line:col``: on the shipped policies, on every YAML example of the
docs, on hostile snippets (the limits, bad syntax, odd line breaks, wide
characters) and on the fuzz inputs of test_fuzz_loaders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from scanner import yamlpos
from scanner.errors import ConfigError
from scanner.yamlpos import MAX_ALIASES, MAX_DEPTH, PosDict, PosList, Shape
from tests.core.test_fuzz_loaders import FUZZ, INPUTS

ROOT = Path(__file__).resolve().parents[2]
SHAPE = Shape("document", ("policy", "rules", "scope", "departments", "framework", "controls", "schedules",
                           "agent", "compliance", "jobs", "extends", "waivers", "x"))

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML is built without libyaml")


def tree(value: Any) -> Any:
    """``value`` with every position it carries, comparable with ==."""
    if isinstance(value, PosDict):
        return ("map", value.path, value.start, [(k, tree(v)) for k, v in value.items()],
                dict(value.key_positions), dict(value.value_positions))
    if isinstance(value, PosList):
        return ("seq", value.path, value.start, [tree(v) for v in value], list(value.item_positions))
    return (type(value).__name__, repr(value))


def answer(text: str, *, libyaml: bool) -> Any:
    try:
        return tree(yamlpos.load_text(text, "f.yaml", SHAPE, libyaml=libyaml))
    except ConfigError as exc:
        return ("error", str(exc))


def assert_same(text: str) -> Any:
    c, python = answer(text, libyaml=True), answer(text, libyaml=False)
    assert c == python, text[:200]
    return c


def doc_examples() -> list[str]:
    blocks = []
    for md in sorted((ROOT / "docs").glob("*.md")):
        blocks += re.findall(r"```ya?ml\n(.*?)```", md.read_text("utf-8"), flags=re.S)
    return blocks


SHIPPED = sorted((ROOT / "policies").rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_policies(path):
    assert assert_same(path.read_text("utf-8"))[0] == "map"


def test_doc_examples():
    examples = doc_examples()
    assert len(examples) > 10
    # An example that shows a fragment (a list of rules) is read as a document under a key.
    loaded = [assert_same(text if not text.startswith("-") else "x:\n" + text)[0] for text in examples]
    assert loaded.count("map") >= len(examples) - 3


HOSTILE = {
    "alias bomb": "x: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    + "".join(f"l{i}: &a{i} [{', '.join([f'*a{i - 1}' if i > 1 else '*a'] * 10)}]\n" for i in range(1, 8)),
    "too many aliases": "x: &a 1\ny: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n",
    "recursive alias": "x: &x [1, *x]\n",
    "deep": "x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
    "deep at the limit": "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n",
    "deep with a scalar at the limit": "x: " + "[" * (MAX_DEPTH - 2) + "1" + "]" * (MAX_DEPTH - 2) + "\n",
    "deep with a scalar past the limit": "x: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n",
    "deep through aliases": "a: &a " + "[" * 60 + "]" * 60 + "\nx: " + "[" * 50 + "*a" + "]" * 50 + "\n",
    "duplicate key": "x: 1\ny: 2\nx: 3\n",
    "duplicate anchor": "x: &a 1\ny: &a 2\n",
    "undefined alias": "x: *nope\n",
    "two documents": "x: 1\n---\nx: 2\n",
    "empty document": "---\n...\n",
    "not a mapping": "- x\n- y\n",
    "other keys": "name: 1\n",
    "tab indent": "x:\n\t- 1\n",
    "bad flow": "x: [1, 2\n",
    "mapping in plain scalar": "x: a: b\n",
    "unclosed quote": "x: 'abc\n",
    "bad escape": 'x: "\\q"\n',
    "merge": "base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  c: 3\n",
    "bad merge": "x:\n  <<: 1\n",
    "tags": "x: !!int '12'\ny: !!str 12\nz: !!binary aGk=\nw: !!set {a, b}\n",
    "bad tag": "x: !!python/object:os.system x\n",
    "bad int tag": "x: !!int abc\n",
    "local tag": "x: !local 1\n",
    "long int": "x: " + "1" * 120 + "\n",
    "timestamps": "x: 2026-12-31\ny: 2026-13-45\nz: 2026-12-31T10:00:00+05:00\n",
    "wide characters": "x: 'é日本語'\ny: {'ключ': [α, β, 𝄞]}\nz: 1\n",
    "crlf": "x: 1\r\ny:\r\n  - a\r\n  - b\r\n",
    "cr": "x: 1\ry: 2\r",
    "nel and line separators": "x: a\x85y: b\u2028z: c\u2029w: d\n",
    "bom inside": "x: a\ufeffb\n",
    "control character": "x: \x1b[2J\n",
    "directive": "%YAML 1.1\n---\nx: 1\n",
    "unknown directive": "%FOO bar\n---\nx: 1\n",
    "complex key": "? [a, b]\n: 1\nx: 2\n",
    "block scalars": "x: |\n  a\n   b\ny: >-\n  c\n  d\n",
    "anchors on collections": "x: &m {a: [1, 2]}\ny: *m\nz: &s [*m, *m]\n",
    "unhashable key": "x: {[1]: 2}\n",
    "null key": "x: {~: 1, null: 2}\n",
    "comments only after": "x: 1 # c\n# c\n",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_snippets(text):
    assert_same(text)


def test_limits_are_errors_on_both_paths():
    for name in ("alias bomb", "too many aliases", "recursive alias", "deep", "deep through aliases",
                 "deep with a scalar past the limit"):
        kind, message = assert_same(HOSTILE[name])
        assert kind == "error" and "refused:" in message, name
    assert assert_same(HOSTILE["deep at the limit"])[0] == "map"


def test_worst_case_flow_list_composes_in_c():
    """The worst 1 MiB document composes on the C path (no fallback) with every position."""
    text = "x: [" + ",".join(["a"] * 520_000) + "]\n"
    node = yamlpos._compose_c(text)
    assert node is not None
    items = node.value[0][1].value
    assert len(items) == 520_000
    assert (items[-1].start_mark.line, items[-1].start_mark.column) == (0, 4 + 2 * 519_999)


@pytest.mark.parametrize("inputs", INPUTS.values(), ids=INPUTS.keys())
@FUZZ
@given(data=st.data())
def test_fuzz_inputs(inputs, data):
    raw = data.draw(inputs)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    assert_same(text)
