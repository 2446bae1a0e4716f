"""Fuzzing the policy and inventory loaders: whatever the bytes, the answer is a ConfigError.

Inputs mix YAML's sharp edges (anchors, aliases, merge keys, tags, deep
nesting, odd scalars, control and binary bytes) with the keys the loaders
know, so that many examples get past the top-level shape check. Each example
must either load or raise ConfigError, within a bounded amount of memory; the
whole run is capped by the example counts, never by wall time.
"""

from __future__ import annotations

import resource
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.errors import ConfigError
from scanner.inventory import load_inventory
from scanner.policy import load_policies

# One example may allocate this much at its peak (a 64 KiB input takes a few MB).
EXAMPLE_MEMORY = 64 * 1024 * 1024

KEYS = [
    "policy", "id", "version", "title", "rules", "severity", "checks", "check", "options",
    "maximum", "mode", "applies_to", "kinds", "tags", "references", "waivers", "rule",
    "assets", "ids", "expires", "extends", "exclude_rules", "tailor", "scope", "networks", "domains",
    "departments", "parks", "host", "endpoint", "address", "name", "ssh", "jump", "port",
    "user", "defaults", "sudo", "host_key_fingerprints", "<<",
]
SCALARS = [
    "fake.value", "low", "high", "host", "endpoint", "9999-12-31", "2026-13-45",
    "0001-01-01T00:00:00+05:00", "2026-12-31T10:00:00", "1" * 120, "1:2:3:4:5", "0x7f.1",
    "2130706433", "127.1", "127.0.0.1", "::1", "fe80::1%eth0", "10.9.9.9", "127.0.0.0/8",
    "https://127.0.0.1:99999/", "https://u:p@x.example/", "audit@10.9.9.9:22,[::1]:99999",
    ".nan", ".inf", "~", "null", "yes", "-0", "0o17", "''", '""', "!!binary aGk=", "/dev/zero",
    "/dev/null", "nope.yaml", "baseline", "local", "SHA256:" + "A" * 43,
]
SYNTAX = [
    "\n", "  ", "    ", "- ", ": ", "? ", ", ", "[", "]", "{", "}", "'", '"', "#", "|\n", ">\n",
    "&a ", "*a", "&b ", "*b", "<<: *a\n", "*undefined", "!!python/object:os.system ",
    "!!python/object/apply:os.system [id] ", "!!set ", "!!omap ", "!!pairs ", "!!int ", "!!bool ",
    "!!float ", "!!timestamp ", "!!map ", "!!seq ", "!!str ", "!local ", "%YAML 1.1\n---\n",
    "---\n", "...\n", "\t", "\x00", "\x01", "\x1b[2J", "\u202e", "\ufeff", "[" * 120, "{a: " * 60,
    "\\x", "\\\n",
]
HEADS = [
    "",
    'policy: {id: p, version: "1", title: t}\nrules:\n',
    'policy: {id: p, version: "1", title: t}\nx: &a {check: fake.value}\ny: &b [*a, *a]\nrules:\n',
    "scope: {networks: [127.0.0.0/8], domains: [parks.example]}\ndepartments:\n  parks:\n    assets:\n",
]


def soup() -> st.SearchStrategy[bytes]:
    """A known head, then a run of YAML fragments, keys, scalars and random text, as UTF-8."""
    piece = st.one_of(
        st.sampled_from(SYNTAX),
        st.sampled_from(KEYS).map(lambda k: k + ": "),
        st.sampled_from(SCALARS),
        st.text(max_size=6),
    )
    return st.tuples(st.sampled_from(HEADS), st.lists(piece, max_size=60)).map(
        lambda parts: (parts[0] + "".join(parts[1])).encode("utf-8", "surrogatepass")
    )


def documents() -> st.SearchStrategy[bytes]:
    """Well-formed YAML with the loaders' keys at any depth and any value where they expect one."""
    leaf = st.one_of(
        st.sampled_from(SCALARS), st.integers(), st.floats(), st.booleans(), st.none(), st.text(max_size=10)
    )
    tree = st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)
        ),
        max_leaves=40,
    )
    top = st.dictionaries(st.sampled_from(KEYS), tree, min_size=1, max_size=6)
    return st.tuples(top, st.booleans()).map(
        lambda t: yaml.safe_dump(t[0], default_flow_style=t[1], allow_unicode=True).encode()
    )


@pytest.fixture(scope="module", autouse=True)
def address_space_guard() -> Iterator[None]:
    """A regression that expands an input without bound raises MemoryError, not hangs the host."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        in_use = int(f.read().split()[0]) * resource.getpagesize()
    ceiling = in_use + 1024 * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def load_both(path: Path, registry) -> None:
    """Load ``path`` as a policy and as an inventory; anything but ConfigError escapes."""
    tracemalloc.start()
    try:
        for load in (lambda: load_policies([str(path)], registry), lambda: load_inventory(str(path))):
            try:
                load()
            except ConfigError as exc:
                assert exc.problems and all(p.where.path for p in exc.problems)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < EXAMPLE_MEMORY


FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


INPUTS = {"fragment-soup": soup(), "documents-of-known-keys": documents(), "binary": st.binary(max_size=400)}


@pytest.mark.parametrize("inputs", INPUTS.values(), ids=INPUTS.keys())
@FUZZ
@given(data=st.data())
def test_any_input_loads_or_is_a_config_error(tmp_path, registry, inputs, data):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data.draw(inputs))
    load_both(path, registry)
