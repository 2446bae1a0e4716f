"""Packaging: only `scanner` is importable, and every package folder is listed."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPED = {
    "scanner": "scanner",
    "plugins": "scanner.plugins",
    "reports": "scanner.reports",
    "policies": "scanner.policies",
    "lab": "scanner.lab",
}


def tree_packages() -> set[str]:
    found = set()
    for folder, name in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
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
