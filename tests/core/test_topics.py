"""`civiscan docs`: the documentation pages, read from the installed package."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from scanner.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_docs_lists_every_page_with_its_title():
    result = CliRunner().invoke(cli, ["docs"])
    assert result.exit_code == 0
    names = {line.split()[0] for line in result.output.splitlines()}
    assert names == {p.stem for p in (ROOT / "docs").glob("*.md")}
    assert any(line.startswith("policy ") and "The policy language" in line for line in result.output.splitlines())


def test_docs_prints_one_topic():
    result = CliRunner().invoke(cli, ["docs", "inventory"])
    assert result.exit_code == 0
    assert result.output.rstrip("\n") == (ROOT / "docs" / "inventory.md").read_text().rstrip("\n")


def test_docs_unknown_topic_suggests_the_nearest():
    result = CliRunner().invoke(cli, ["docs", "polcy"])
    assert result.exit_code != 0
    assert "did you mean 'policy'" in str(result.exception)
