"""scanner.pkgdata.files: a package's folder, else importlib.resources."""

from __future__ import annotations

import sys
import zipfile
from importlib import resources
from pathlib import Path

from scanner import pkgdata


def test_an_installed_package_is_its_folder_with_the_files_importlib_resources_lists():
    root = pkgdata.files("scanner.policies")
    assert isinstance(root, Path) and root.is_dir()
    assert sorted(p.name for p in root.iterdir()) == sorted(p.name for p in resources.files("scanner.policies").iterdir())
    assert (root / "mozilla-intermediate.yaml").read_bytes() == (
        resources.files("scanner.policies") / "mozilla-intermediate.yaml").read_bytes()


def test_a_package_imported_from_a_zip_is_read_through_importlib_resources(tmp_path, monkeypatch):
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_pkg/__init__.py", "")
        zf.writestr("zipped_pkg/data/table.txt", "suite 1\n")
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.delitem(sys.modules, "zipped_pkg", raising=False)
    root = pkgdata.files("zipped_pkg")
    assert not isinstance(root, Path)
    assert root.joinpath("data", "table.txt").read_text("utf-8") == "suite 1\n"
