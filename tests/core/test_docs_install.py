"""Install instructions pin only releases that exist: the package version, a CHANGELOG heading, a git tag."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import scanner

ROOT = Path(__file__).resolve().parents[2]
# `pip install git+…/civiscan@v1.2.3` and a pre-commit `rev: v1.2.3`; other actions' @v4 are not ours.
PIN = re.compile(r"civiscan/civiscan(?:\.git)?@v(\d+\.\d+\.\d+)|^\s*rev:\s*['\"]?v(\d+\.\d+\.\d+)", re.M)


def pins(text: str) -> list[str]:
    return [a or b for a, b in PIN.findall(text)]


def pinned_versions() -> list[tuple[str, str]]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [(f.relative_to(ROOT).as_posix(), v) for f in files for v in pins(f.read_text(encoding="utf-8"))]


def changelog_versions() -> set[str]:
    return set(re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M))


@pytest.mark.parametrize(("text", "expected"), [
    ("pip install 'git+https://github.com/civiscan/civiscan@v0.1.0'", ["0.1.0"]),
    ("  - repo: https://github.com/civiscan/civiscan\n    rev: v2.0.1\n", ["2.0.1"]),
    ("pip install 'git+https://github.com/civiscan/civiscan@main'", []),
    ("      - uses: actions/checkout@v4", []),
], ids=["pip-tag", "pre-commit-rev", "default-branch", "other-action"])
def test_pins_are_found_where_an_install_names_a_release(text, expected):
    assert pins(text) == expected


def test_every_pinned_release_is_this_version_with_a_changelog_heading():
    released = changelog_versions()
    for where, version in pinned_versions():
        assert version == scanner.__version__, f"{where} pins v{version}, the package is {scanner.__version__}"
        assert version in released, f"{where} pins v{version}, which CHANGELOG.md has no heading for"


def test_every_pinned_release_is_a_tag_of_this_repository():
    pinned = {v for _, v in pinned_versions()}
    if not pinned:
        return  # nothing pinned: the README installs the default branch, which always exists
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: its tags cannot be listed")
    tags = set(subprocess.run(["git", "tag", "--list", "v*"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.split())
    missing = sorted(f"v{v}" for v in pinned if f"v{v}" not in tags)
    assert not missing, f"README.md or docs/ pin {missing}, which git does not have (git tag)"


def test_no_page_installs_civiscan_by_name_from_an_index_that_does_not_serve_it():
    bare = re.compile(r"pip install\s+['\"]?civiscan['\"]?(?=\s|$)", re.M)
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [f.name for f in files if bare.search(f.read_text(encoding="utf-8"))]
    assert not found, f"{found} say 'pip install civiscan': no index serves it until a release exists"
