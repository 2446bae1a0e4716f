"""Policies and inventories that try to exhaust memory or hang the loader.

Each case runs civiscan in a memory-limited child (see ``civiscan_bounded``):
the expectation is a positioned refusal and exit 2, never a MemoryError, a
timeout or an ``internal error``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.yamlpos import MAX_ALIASES, MAX_BYTES, MAX_NODES

HEAD = 'policy: {id: p, version: "1", title: t}\n'
RULES = "rules:\n  - {id: r, title: t, severity: low, checks: [{check: ports.allowed, options: {allowed: [22]}}]}\n"
INVENTORY_HEAD = "scope: {networks: [127.0.0.0/8]}\ndepartments:\n  parks:\n    assets:\n      - host: 127.0.0.1\n"


def laughs(indent: str) -> str:
    """Nine levels of nine aliases each: 9^9 (387 million) strings once expanded."""
    lines = [f'{indent}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{indent}{name}: &{name} [{','.join('*' + prev for _ in range(9))}]\n")
    return "".join(lines)


BOMBS = {
    # Line 9 is `g: ...`, the first anchor whose expansion passes the limit.
    "policy-unknown-key": (HEAD + "junk:\n" + laughs("  ") + RULES, "9:6"),
    "policy-in-options": (
        HEAD + "defs:\n" + laughs("  ")
        + "rules:\n  - {id: r, title: t, severity: low, checks: [{check: ports.allowed, options: {allowed: *i}}]}\n",
        "9:6",
    ),
    "inventory": ("scope: {networks: [127.0.0.0/8]}\nx:\n" + laughs("  ") + "departments: {}\n", "9:6"),
}


@pytest.mark.parametrize("text,where", BOMBS.values(), ids=BOMBS.keys())
def test_alias_bomb_is_refused_with_its_position(civiscan_bounded, write, text, where):
    path = write("bomb.yaml", text)
    proc = civiscan_bounded("validate", path)
    assert proc.returncode == 2, proc.stderr
    assert f"bomb.yaml:{where}: refused: expands to more than {MAX_NODES:,} nodes" in proc.stderr
    assert "internal error" not in proc.stderr


def test_too_many_aliases_are_refused(write, registry):
    from scanner.policy import load_policies

    text = HEAD + "x: &x 1\ny: [" + ",".join(["*x"] * (MAX_ALIASES + 1)) + "]\n" + RULES
    with pytest.raises(ConfigError, match=f"refused: more than {MAX_ALIASES} aliases"):
        load_policies([write("p.yaml", text)], registry)


def test_alias_inside_its_own_anchor_is_refused(write, registry):
    from scanner.policy import load_policies

    with pytest.raises(ConfigError, match=r"p.yaml:2:11: refused: an alias inside its own anchor"):
        load_policies([write("p.yaml", HEAD + "x: &x [1, *x]\n" + RULES)], registry)


def test_policy_digest_is_of_the_file_bytes(write, registry):
    import hashlib

    from scanner.policy import load_policies

    path = write("p.yaml", HEAD + "rules:\n  - {id: r, title: t, severity: low, checks: [{check: fake.value}]}\n")
    (info,) = load_policies([path], registry).policies
    assert info.digest == hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_file_over_the_size_limit_is_refused_unread(write, registry):
    from scanner.policy import load_policies

    path = write("big.yaml", HEAD + RULES + "#" * MAX_BYTES + "\n")
    with pytest.raises(ConfigError, match=r"big\.yaml: file is larger than 1 MiB"):
        load_policies([path], registry)


@pytest.fixture
def special(tmp_path: Path):  # type: ignore[no-untyped-def]
    """special('fifo') -> a path to a file that is not a regular file."""

    def make(kind: str) -> str:
        if kind == "fifo":
            path = tmp_path / "policy.fifo"
            os.mkfifo(path)  # nobody ever opens it for writing
            return str(path)
        if kind == "directory":
            path = tmp_path / "policies.d"
            path.mkdir()
            return str(path)
        return {"zero": "/dev/zero", "urandom": "/dev/urandom"}[kind]

    return make


SPECIALS = {
    "zero": "a character device, not a YAML file",
    "urandom": "a character device, not a YAML file",
    "fifo": "a FIFO, not a YAML file",
    "directory": "a directory, not a YAML file",
}


@pytest.mark.parametrize("kind", SPECIALS, ids=SPECIALS.keys())
def test_special_file_in_extends_is_refused_at_the_extends_item(civiscan_bounded, write, special, kind):
    target = special(kind)
    path = write("p.yaml", HEAD + f"extends: ['{target}']\n" + RULES)
    proc = civiscan_bounded("validate", path)
    assert proc.returncode == 2, proc.stderr
    assert f"p.yaml:2:11: policy file '{target}': {SPECIALS[kind]}" in proc.stderr


@pytest.mark.parametrize("kind", SPECIALS, ids=SPECIALS.keys())
def test_special_file_as_policy_argument_is_refused(civiscan_bounded, special, kind):
    target = special(kind)
    proc = civiscan_bounded("validate", target)
    assert proc.returncode == 2, proc.stderr
    assert f"{target}: {SPECIALS[kind]}" in proc.stderr


@pytest.mark.parametrize("kind", SPECIALS, ids=SPECIALS.keys())
def test_special_file_as_inventory_is_refused(civiscan_bounded, write, special, kind):
    target = special(kind)
    policy = write("p.yaml", HEAD + RULES)
    proc = civiscan_bounded("scan", "-p", policy, "-i", target)
    assert proc.returncode == 2, proc.stderr
    assert f"{target}: {SPECIALS[kind]}" in proc.stderr
