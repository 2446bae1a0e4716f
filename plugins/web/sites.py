"""Registrable domains ("sites"), from the Public Suffix List snapshot of ``publicsuffixlist``.

The one implementation lives with the ``http`` plugin's parsers (its cookie
rules need it too); ``publicsuffixlist`` reads only the snapshot it ships, so
no lookup here ever leaves the machine.
"""

from __future__ import annotations

from scanner.plugins.http.parse import site_of

__all__ = ["site_of"]
