"""Fixtures of the store tests: each store test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's location: a SQLite file, or a fresh database of the session's PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "civiscan.db")
    return str(request.getfixturevalue("fresh_postgres_url"))
