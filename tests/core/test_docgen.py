"""The per-check reference in docs/*.md is generated from the checks, and kept current."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner import docgen
from scanner.plugin import load_registry

DOCS = sorted((Path(__file__).resolve().parents[2] / "docs").glob("*.md"))
REGISTRY = load_registry()


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_generated_check_docs_are_current(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert docgen.render(text, REGISTRY) == text, "stale: run python -m scanner.docgen docs/*.md"


def test_every_built_in_family_has_generated_docs() -> None:
    built_in = {name for name, source in REGISTRY.sources.items() if source.startswith("civiscan:")}
    documented = {f for path in DOCS for f in docgen.families(path.read_text(encoding="utf-8"))}
    assert built_in <= documented


def test_render_refills_the_block_and_keeps_the_prose(registry) -> None:
    text = "intro\n<!-- generated: checks fake -->\nold text\n<!-- end generated -->\noutro\n"
    out = docgen.render(text, registry)
    assert out.startswith("intro\n<!-- generated: checks fake -->\n") and out.endswith("<!-- end generated -->\noutro\n")
    assert "old text" not in out
    assert "### `fake.value`" in out and "| `maximum` | int | `5` | largest value allowed; at least 0. |" in out


def test_check_mode_reports_stale_files_without_writing(tmp_path, capsys) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("<!-- generated: checks ports -->\n<!-- end generated -->\n", encoding="utf-8")
    assert docgen.main(["--check", str(doc)]) == 1
    assert doc.read_text(encoding="utf-8") == "<!-- generated: checks ports -->\n<!-- end generated -->\n"
    assert docgen.main([str(doc)]) == 0 and "### `ports.allowed`" in doc.read_text(encoding="utf-8")
    assert docgen.main(["--check", str(doc)]) == 0
