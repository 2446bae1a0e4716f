"""Fixtures for core tests: a small fake plugin family, registries and file helpers."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from scanner.models import AssetKind, CollectFailed, ErrorReason, Outcome
from scanner.options import Option
from scanner.plugin import Check, Registry


def eval_value(facts: Any, options: Any) -> Outcome:
    """Fails when the fact ``value`` exceeds ``maximum``.

    PASS: value 3, maximum 5. FAIL: value 9, maximum 5.
    """
    value = facts["value"]
    if value > options["maximum"]:
        return Outcome.failed(f"value {value} is above {options['maximum']}", value=value)
    return Outcome.passed(f"value {value} is within {options['maximum']}", value=value)


class FakePlugin:
    """Collects ``{"value": N}`` from a table keyed by asset name; a name in
    ``broken`` raises CollectFailed(timeout)."""

    name = "fake"
    checks = (
        Check(
            id="fake.value",
            title="Value is small",
            kinds=frozenset({AssetKind.HOST, AssetKind.ENDPOINT}),
            evaluate=eval_value,
            options={
                "maximum": Option("int", "largest value allowed", default=5, minimum=0),
                "mode": Option("str", "how", default="strict", choices=("strict", "lenient")),
            },
        ),
        Check(
            id="fake.hostonly",
            title="Host only",
            kinds=frozenset({AssetKind.HOST}),
            evaluate=eval_value,
            options={"maximum": Option("int", "largest", default=5)},
        ),
    )

    def __init__(self, values: dict[str, int] | None = None, broken: set[str] | None = None) -> None:
        self.values = values or {}
        self.broken = broken or set()
        self.calls: list[str] = []

    async def collect(self, asset, requests, ctx):  # type: ignore[no-untyped-def]
        self.calls.append(asset.id)
        if asset.name in self.broken:
            raise CollectFailed(ErrorReason.TIMEOUT, "no answer within the timeout")
        return {"value": self.values.get(asset.name, 1)}


@pytest.fixture
def fake_plugin() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def registry(fake_plugin: FakePlugin) -> Registry:
    reg = Registry()
    reg.add(fake_plugin)
    return reg


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    """write('name.yaml', text) -> path (text is dedented)."""

    def _write(name: str, text: str | bytes) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return str(path)

    return _write


def _civiscan(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "CIVISCAN_DB": str(tmp_path / "store.db"), **(env or {})}
    environment.pop("CI", None)  # no CI-specific quieting: the test sees what a terminal sees
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args], capture_output=True, text=True,
        env=environment, cwd=tmp_path, timeout=120, **kw,
    )


@pytest.fixture
def run_cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """run_cli(*args, env={...}) -> CompletedProcess: ``civiscan`` in tmp_path with its own store."""

    def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return _civiscan(tmp_path, args, env)

    return _run


# Hostile-input tests run civiscan in a child with this much address space, so a
# regression (an alias bomb expanded, /dev/zero read) fails instead of taking the machine.
CHILD_MEMORY = 512 * 1024 * 1024


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


@pytest.fixture
def civiscan_bounded(tmp_path: Path):  # type: ignore[no-untyped-def]
    """civiscan_bounded('validate', path) -> CompletedProcess, like run_cli but memory-limited.

    The timeout is generous: it only turns a hang (a FIFO read) into a failure.
    """

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _civiscan(tmp_path, args, preexec_fn=_limit_memory)

    return run
