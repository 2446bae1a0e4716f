"""The documentation topics shipped in the package (``docs/*.md`` as ``scanner.docs``)."""

from __future__ import annotations

from importlib import resources


def topics() -> dict[str, str]:
    """Every topic name with its title (the first heading of its page)."""
    found = {}
    for page in resources.files("scanner.docs").iterdir():
        if page.name.endswith(".md"):
            first = next((line for line in page.read_text("utf-8").splitlines() if line.startswith("#")), "")
            found[page.name[:-3]] = first.lstrip("#").strip()
    return dict(sorted(found.items()))


def topic_text(name: str) -> str:
    """The Markdown source of one topic; KeyError if there is none of that name."""
    if name not in topics():
        raise KeyError(name)
    return (resources.files("scanner.docs") / f"{name}.md").read_text("utf-8")
