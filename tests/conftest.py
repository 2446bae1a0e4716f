"""Fixtures shared by every test folder."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import settings

# No test asserts on wall time, Hypothesis's per-example deadline included: on a
# loaded CI machine a slow example is not a failure.
settings.register_profile("civiscan", deadline=None)
settings.load_profile("civiscan")

from scanner.models import Outcome
from scanner.options import validate_options
from scanner.plugin import Check, load_registry
from scanner.rundoc import run_schema


@functools.cache
def _installed_checks() -> Mapping[str, Check]:
    return load_registry().checks


def judge(check_id: str, facts: Mapping[str, Any], **options: Any) -> Outcome:
    """Run installed check ``check_id`` on ``facts`` with ``options`` validated as a policy's."""
    check = _installed_checks()[check_id]
    values, problems = validate_options(check.options, options, check_id)
    assert problems == [], problems
    return check.evaluate(facts, values)


def require_tool(name: str) -> str:
    """Path of a system binary the test needs.

    In CI (``CI`` set) a missing tool fails the test: integration tests must run
    there, never skip. On a developer machine it skips with the install hint.
    """
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
    )
    if path:
        return path
    message = f"{name} is not installed (make system-deps installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def tool():
    """``tool('nmap')`` -> path, failing in CI / skipping locally when absent."""
    return require_tool


@pytest.fixture
def victim(tmp_path):  # type: ignore[no-untyped-def]
    """A file outside the output folder holding ``precious\\n``: a planted link's target."""
    path = tmp_path / "home" / ".bashrc"
    path.parent.mkdir()
    path.write_text("precious\n")
    return path


@pytest.fixture(scope="session")
def check_run_document() -> Any:
    """Validate a document against the published civiscan/run v1 JSON Schema."""
    validator = jsonschema.Draft202012Validator(run_schema(), format_checker=jsonschema.FormatChecker())
    return validator.validate


@pytest.fixture(autouse=True)
def _own_data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the store of the user running the suite.

    A command run without ``--db`` or ``CIVISCAN_DB`` uses the default store
    under ``XDG_DATA_HOME``; pointing that at a fresh folder keeps each test's
    default store its own (and a newer schema left by one checkout from
    breaking another).
    """
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


# The session's PostgreSQL on loopback (tests/postgres.py), for every test folder.
from tests.postgres import fresh_postgres_url, postgres_server, postgres_url  # noqa: E402, F401

EXAMPLE_PLUGIN = Path(__file__).resolve().parent / "data" / "core" / "example-plugin"


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example third-party plugin, installed the way a user would (pip), into its own dir.

    One install per test session, shared by every suite that runs the plugin.
    """
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE_PLUGIN)],
        check=True, capture_output=True,
    )
    return target
