"""Packaging: only `scanner` is importable, and every package folder is listed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from scanner import __version__

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {
    "scanner": "scanner",
    "plugins": "scanner.plugins",
    "reports": "scanner.reports",
    "policies": "scanner.policies",
    "lab": "scanner.lab",
    "docs": "scanner.docs",
}


def tree_packages() -> set[str]:
    """Folders with an ``__init__.py``, and the folders of data files inside them."""
    found = set()
    for folder, name in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
        for sub in (ROOT / folder).rglob("*"):
            if sub.is_dir() and sub.name != "__pycache__" and any(f.is_file() for f in sub.iterdir()):
                found.add(".".join([name, *sub.relative_to(ROOT / folder).parts]))
    return found


def test_package_list_matches_the_tree():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    assert listed == tree_packages()


def test_wheel_has_only_scanner_and_ships_policies_and_templates(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("civiscan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.startswith("civiscan-")}
    assert top == {"scanner"}
    assert any(n.startswith("scanner/policies/") and n.endswith(".yaml") for n in names)
    assert any(n.startswith("scanner/reports/templates/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "civiscan.plugins" in declared


def test_wheel_ships_the_demo_lab_and_its_command(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("civiscan-*.whl")
    archive = zipfile.ZipFile(wheel)
    assert "scanner/lab/demo.py" in archive.namelist()
    entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
    assert "demo = scanner.lab.demo:demo" in archive.read(entry_points).decode()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``python -m build`` of the tree (sdist, then the wheel from that sdist) and its output."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout + done.stderr


def test_build_prints_no_ignored_package_warning(built):
    _, log = built
    assert "would be ignored" not in log


def test_build_prints_no_deprecation_warning(built):
    """The licence is an SPDX expression and no classifier repeats it: setuptools >= 77 says
    nothing, where a ``{text = ...}`` table or a licence classifier print a boxed warning each."""
    _, log = built
    assert "deprecated" not in log.lower(), log


@pytest.mark.parametrize("suffix", [
    "scanner/policies/city-baseline.yaml",
    "scanner/reports/templates/department.html",
    "scanner/reports/templates/style.css",
    "scanner/docs/policy.md",
    "scanner/lab/demo.py",
    "scanner/plugins/tls/data/cipher_suites.txt",
    "scanner/plugins/packages/data/debian-tracker-sample.json",
    "scanner/plugins/packages/data/osv/DSA-5514-1.json",
    "scanner/py.typed",
    ".dist-info/licenses/LICENSE",
], ids=["policies", "templates", "css", "docs", "lab", "tls-data", "tracker-json", "osv-json", "typed", "license"])
def test_wheel_built_from_the_sdist_carries(built, suffix):
    out, _ = built
    (wheel,) = out.glob("civiscan-*.whl")
    assert any(n.endswith(suffix) for n in zipfile.ZipFile(wheel).namelist())


def test_wheel_metadata_names_the_licence_and_version(built):
    out, _ = built
    (wheel,) = out.glob("civiscan-*.whl")
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata
    assert f"Version: {__version__}" in metadata
    assert "Project-URL: Changelog" in metadata


def test_changelog_has_an_entry_for_the_version():
    assert f"## [{__version__}]" in (ROOT / "CHANGELOG.md").read_text()
