"""The core never names a plugin: everything a plugin adds, it declares itself."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "scanner"
MODULES = sorted(CORE.rglob("*.py"))
BUILT_IN = ("ports", "tls", "http", "packages", "os")
_WORD = re.compile(r"(?<![\w.\-/])(" + "|".join(BUILT_IN) + r")(?![\w\-])")

# Words that are not the plugin of the same name, each with why.
NOT_A_PLUGIN = {
    ("models.py", '"tls"'): "the core error reason of a failed TLS handshake (ErrorReason.TLS)",
    ("contacts.py", '"http"'): "the unencrypted URL scheme, allowed for a loopback webhook receiver",
    ("deliver.py", "http"): "the standard library's http.client, which posts webhooks",
    ("importers.py", '"ports/port"'): "the element path of a port in nmap's XML report",
    ("importers.py", '"http"'): "nmap's service name for HTTP (an ssl-tunnelled one is an endpoint)",
}


def _imports_os(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.Import) and any(a.name == "os" for a in n.names) for n in ast.walk(tree))


def mentions(text: str, filename: str) -> list[str]:
    """Every token of the module ``text`` naming a built-in plugin, as ``line: token``."""
    stdlib_os = _imports_os(ast.parse(text))
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if (filename, tok.string) in NOT_A_PLUGIN:
            continue
        if tok.type == tokenize.NAME:
            hit = tok.string in BUILT_IN and not (tok.string == "os" and stdlib_os)
        elif tok.type in (tokenize.STRING, tokenize.COMMENT):
            hit = bool(_WORD.search(tok.string))
        else:
            hit = False
        if hit:
            found.append(f"{tok.start[0]}: {tok.string[:60]}")
    return found


def plugin_imports(text: str, package: str) -> list[str]:
    """Every import in the module ``text`` (of ``package``) of a plugin, as ``line: name``."""
    tree = ast.parse(text)
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            names = [base, *(f"{base}.{a.name}" for a in node.names)]
        found.extend(f"{node.lineno}: {n}" for n in names if n == "scanner.plugins" or n.startswith("scanner.plugins."))
    return found


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(CORE)) for p in MODULES])
def test_core_module_imports_no_plugin(path: Path) -> None:
    package = ".".join(path.relative_to(CORE.parent).parts[:-1])
    assert plugin_imports(path.read_text(encoding="utf-8"), package) == []


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(CORE)) for p in MODULES])
def test_core_module_mentions_no_built_in_plugin(path: Path) -> None:
    assert mentions(path.read_text(encoding="utf-8"), path.name) == []


SAMPLE = '''"""Reads tls facts."""
import os
from .plugins.ports import plugin  # see https://example.test/os
if settings["packages"]:
    http = os.environ
'''


def test_every_kind_of_mention_is_found() -> None:
    assert mentions(SAMPLE, "sample.py") == [
        '1: """Reads tls facts."""',
        "3: ports",
        "4: \"packages\"",
        "5: http",
    ]


def test_relative_and_absolute_plugin_imports_are_found() -> None:
    text = "from .plugins.ports import plugin\nimport scanner.plugins.tls\n"
    assert plugin_imports(text, "scanner") == [
        "1: scanner.plugins.ports",
        "1: scanner.plugins.ports.plugin",
        "2: scanner.plugins.tls",
    ]
