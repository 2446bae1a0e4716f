"""Renderers: HTML, JSON, JUnit, SARIF, CSV and Markdown, all from stored runs.

The one entry point is :func:`render`: it takes a run document (the
``--format json`` output, schema ``civiscan/run`` version 1), writes the
requested formats into a folder, and seals them with a manifest
(:mod:`scanner.reports.manifest`). Every string in the document came from a
target or an inventory and is treated as untrusted text in every format.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from scanner.fsutil import atomic_open
from scanner.history import Trends
from scanner.policy import DEFAULT_REMEDIATION_SLA
from scanner.secrets import scrub

from . import evidence, html, junit, manifest, markdown, sarif, tabular
from .analysis import DocumentError, Index, compare, previous_document, subset
from .frameworks import Framework, tallies

FORMATS = ("html", "json", "junit", "sarif", "csv", "markdown")

FILE_NAMES = {
    "json": "run.json",
    "junit": "junit.xml",
    "sarif": "run.sarif",
    "csv": "findings.csv",
    "markdown": "summary.md",
}
"""Output file per format; ``html`` writes ``index.html`` and ``dept-<slug>.html``."""


def render(
    doc: Mapping[str, Any],
    formats: Sequence[str],
    outdir: Path,
    *,
    previous: Mapping[str, Any] | None = None,
    department: str | None = None,
    signing_key: Path | None = None,
    now: datetime | None = None,
    trends: Trends | None = None,
    remediation_sla: Mapping[str, int] | None = None,
    frameworks: Sequence[Framework] = (),
) -> list[Path]:
    """Write *formats* of run *doc* into *outdir*; return every path written.

    * ``previous``: the document of the previous comparable run, for change
      status (new / still failing / fixed / regressed) and trends; the whole
      document or, to save memory, :func:`load_previous`'s slim one;
    * ``department``: render only that department: one HTML file, and the other
      formats restricted to its assets (raises :class:`DocumentError` if unknown);
    * ``signing_key``: PEM Ed25519 private key; signs ``manifest.json``;
    * ``now``: the moment waiver expiry windows and remediation deadlines count
      from (default: now, UTC);
    * ``trends``: the score over the last runs of the same scope
      (:func:`scanner.history.load_trends`), drawn on the HTML pages;
    * ``remediation_sla``: days to fix a failing finding per severity (default:
      the policy language's defaults, :data:`scanner.policy.DEFAULT_REMEDIATION_SLA`);
    * ``frameworks``: mappings (:func:`scanner.reports.frameworks.load`) whose
      controls the HTML pages (city-wide and per department) and the Markdown
      summary list with their rules' pass/fail counts.

    The manifest covers exactly the files of this call: render every format
    you want sealed together in one call.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(
            f"unknown report format {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(FORMATS)}"
        )
    now = now or datetime.now(UTC)
    with _collector_paused():
        return _render(
            doc, formats, outdir, previous, department, signing_key, now, trends or Trends(),
            DEFAULT_REMEDIATION_SLA if remediation_sla is None else remediation_sla,
            tuple(frameworks),
        )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rendering.

    A city-sized document is millions of live objects; every full collection
    walks them all although rendering creates no garbage cycles worth finding.
    Pausing it saves about a fifth of the HTML render time of bench/reports.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _render(
    doc: Mapping[str, Any],
    formats: Sequence[str],
    outdir: Path,
    previous: Mapping[str, Any] | None,
    department: str | None,
    signing_key: Path | None,
    now: datetime,
    trends: Trends,
    remediation_sla: Mapping[str, int],
    frameworks: Sequence[Framework],
) -> list[Path]:
    if department is not None:
        doc = subset(doc, department)
    index = Index(doc)
    counts = tallies(doc["findings"], index.department_of) if frameworks else None
    previous_index = Index(previous) if previous is not None else None
    comparison = compare(doc, previous)
    # Load the key before writing anything: a bad key must not leave an unsealed folder.
    key = manifest.load_private_key(signing_key) if signing_key is not None else None
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in dict.fromkeys(formats):
        if fmt == "html":
            for name, page in html.render(
                index, previous_index, comparison, now, department=department,
                trends=trends, remediation_sla=remediation_sla,
                frameworks=frameworks, counts=counts,
            ):
                with atomic_open(outdir / name) as out:
                    out.write(page)
                written.append(outdir / name)
            continue
        with atomic_open(outdir / FILE_NAMES[fmt]) as out:
            if fmt == "json":
                write_document(doc, out)
            elif fmt == "junit":
                junit.write(index, comparison, out)
            elif fmt == "sarif":
                sarif.write(index, comparison, out)
            elif fmt == "csv":
                tabular.write(index, comparison, out)
            elif fmt == "markdown":
                out.write(markdown.render(index, previous_index, comparison, frameworks, counts))
        written.append(outdir / FILE_NAMES[fmt])
    written += manifest.write(
        outdir,
        written,
        run_id=doc["run"].get("id"),
        tool_version=str(doc["run"].get("tool_version") or ""),
        created=now,
        key=key,
    )
    return written


def load_previous(store: Any, run_id: int) -> dict[str, Any]:
    """Run *run_id* of *store* as the ``previous`` of :func:`render`, read finding by
    finding (:func:`scanner.reports.analysis.previous_document`): never the whole document."""
    record = store.run(run_id)
    return previous_document(
        {"id": record.id, "started": record.started.isoformat(), "status": record.status.value},
        ((a.id, a.department) for a in store.assets(run_id)),
        store.findings(run_id),
    )


_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
ITEMS_PER_PASS = 2_000


def write_document(doc: Mapping[str, Any], out: TextIO) -> None:
    """The run document as JSON with sorted keys, one list item per line.

    Fully indented, a city-sized run is 180 MB and slow to write (indentation
    disables the C encoder); one asset, finding or rule per line keeps it
    readable, greppable and diffable, and 30% smaller. Items are encoded a
    few thousand per encoder pass
    (:func:`scanner.reports.evidence.scrubbed_joined`, which masks any secret a
    store written by an older version holds) and written per pass.
    """
    out.write("{\n")
    keys = sorted(doc)
    for i, key in enumerate(keys):
        value = doc[key]
        out.write(f"  {json.dumps(key)}: ")
        if isinstance(value, list) and value:
            out.write("[\n")
            for start in range(0, len(value), ITEMS_PER_PASS):
                part = value[start : start + ITEMS_PER_PASS]
                out.write("    ")
                out.write(evidence.scrubbed_joined(_JSON.encode, part, ",\n    "))
                out.write(",\n" if start + ITEMS_PER_PASS < len(value) else "\n")
            out.write("  ]")
        else:
            out.write(_JSON.encode(scrub(value)))
        out.write(",\n" if i < len(keys) - 1 else "\n")
    out.write("}\n")


__all__ = ["FILE_NAMES", "FORMATS", "DocumentError", "load_previous", "render", "write_document"]
