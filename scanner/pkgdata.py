"""Files shipped inside a package (policies, suite tables, schemas).

:func:`importlib.resources.files` is what reads them in general, but its
import (with ``tempfile``, ``shutil`` and its ``typing`` protocols) costs
every command that reads one ~5 ms; a package installed as a directory, as
pip installs them, is read through :class:`pathlib.Path` instead.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


def files(package: str) -> Path | Traversable:
    """The root of ``package``'s files, like :func:`importlib.resources.files`."""
    locations = getattr(importlib.import_module(package), "__path__", None) or []
    if len(locations) == 1 and Path(locations[0]).is_dir():
        return Path(locations[0])
    from importlib import resources  # a zip import or a namespace package split over folders

    return resources.files(package)
