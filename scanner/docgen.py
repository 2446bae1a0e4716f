"""The per-check reference in docs/*.md, generated from the checks themselves.

A Markdown file asks for one family's reference with a block

    <!-- generated: checks FAMILY -->
    <!-- end generated -->

and ``python -m scanner.docgen docs/*.md`` fills every such block with each
check's id, title, targets, source file, options table (from its declared
options) and docstring; the prose around the blocks is left alone.
``--check`` only reports stale files (exit 1), as tests/core/test_docgen.py does.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .options import Option
from .plugin import Check, Registry, load_registry

END = "<!-- end generated -->"
_BLOCK = re.compile(
    r"(?P<begin><!-- generated: checks (?P<family>[a-z][a-z0-9_]*) -->\n)(?P<body>.*?)(?P<end>"
    + re.escape(END)
    + ")",
    re.DOTALL,
)
_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_VERDICT = re.compile(r"^(PASS|FAIL|ERROR)\b", re.MULTILINE)


def _value(value: Any) -> str:
    if isinstance(value, str):
        return f"`{value}`"
    return f"`{json.dumps(value)}`"


def _meaning(opt: Option) -> str:
    parts = [opt.doc.replace("|", "\\|").rstrip().rstrip(".")]
    if opt.choices:
        parts.append("one of " + ", ".join(_value(c) for c in opt.choices))
    if opt.minimum is not None and opt.maximum is not None:
        parts.append(f"{opt.minimum:g} to {opt.maximum:g}")
    elif opt.minimum is not None:
        parts.append(f"at least {opt.minimum:g}")
    elif opt.maximum is not None:
        parts.append(f"at most {opt.maximum:g}")
    return "; ".join(parts) + "."


def check_markdown(check: Check) -> str:
    """One check's reference section."""
    kinds = ", ".join(sorted(k.value for k in check.kinds))
    lines = [f"### `{check.id}`", "", f"**{check.title}.** Targets: {kinds}. Source: `{check.source}`.", ""]
    if check.options:
        lines += ["| option | type | default | meaning |", "| --- | --- | --- | --- |"]
        for name, opt in check.options.items():
            default = "required" if opt.required else _value(opt.default)
            lines.append(f"| `{name}` | {opt.type} | {default} | {_meaning(opt)} |")
        lines.append("")
    doc = _VERDICT.sub(r"- \1", _LITERAL.sub(r"`\1`", check.documentation))
    lines += [doc, ""]
    return "\n".join(lines)


def family_markdown(registry: Registry, family: str) -> str:
    """The reference of every check of ``family``, in the plugin's order."""
    checks = [c for c in registry.checks.values() if c.plugin_name == family]
    return "\n".join(check_markdown(c) for c in checks)


def render(text: str, registry: Registry) -> str:
    """``text`` with every generated block refilled."""

    def fill(match: re.Match[str]) -> str:
        body = family_markdown(registry, match["family"])
        return f"{match['begin']}\n{body}{match['end']}"

    return _BLOCK.sub(fill, text)


def families(text: str) -> list[str]:
    """The families whose generated blocks ``text`` holds."""
    return [m["family"] for m in _BLOCK.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check_only = "--check" in args
    paths = [Path(a) for a in args if a != "--check"]
    registry = load_registry()
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        fresh = render(text, registry)
        if fresh != text:
            stale.append(path)
            if not check_only:
                path.write_text(fresh, encoding="utf-8")
    for path in stale:
        print(f"{path}: {'stale' if check_only else 'regenerated'}", file=sys.stderr)
    return 1 if check_only and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
