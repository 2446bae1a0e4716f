"""Red Hat CSAF 2.0 security advisories (``RHSA-*.json``) as advisory rows.

Red Hat publishes every RHSA as a CSAF 2.0 document
(https://security.access.redhat.com/data/csaf/v2/advisories/). One document gives one
advisory (``document.tracking.id``, ``RHSA-2024:0010``) whose aliases are the CVEs of
its ``vulnerabilities``, and one ``resolved`` row per (release, package, fixed version):

* ``vulnerabilities[].product_status.fixed`` lists relationship product ids
  (``AppStream-9.3.0.Z.MAIN:tigervnc-0:1.13.1-3.el9_3.3.src``); the relationship ties a
  platform of the product tree (its CPE, ``cpe:/a:redhat:enterprise_linux:9::appstream``)
  to a package version (its purl, ``pkg:rpm/redhat/tigervnc@1.13.1-3.el9_3.3?arch=src``).
* The CPE names the release: ``enterprise_linux:9`` and ``rhel_els:6`` are the hosts of
  RHEL 9 and 6 (:func:`feeds.release_of_ecosystem` of ``Red Hat:enterprise_linux:9::appstream``);
  minor-release streams (``rhel_eus:9.2``, AUS, E4S, TUS) are kept but match no host, as a
  host's facts do not say it follows one (its mainline fix is the newer build anyway).
* Rows name the source package (the ``arch=src`` component), as rpm hosts group their
  binaries by source RPM; a fixed binary whose release is no fixed source RPM's on its
  platform has a row of its own name (the matcher answers binary names on rpm too). The fixed
  version is the purl's
  ``[epoch:]version-release`` (``&epoch=32`` -> ``32:9.8.2-0.68.rc1.el6_10.17``).
* Severity is Red Hat's word (``document.aggregate_severity``, else the worst impact of
  the vulnerabilities); the CVSS vector kept is the highest-scoring ``cvss_v3``. The URL is
  the ``vendor_fix`` remediation's (the errata page), the dates those of ``tracking``.

A document this module cannot read raises :class:`CsafError` naming where in it
(a JSON pointer); :func:`import_documents` turns that into ``file:line:col: what``.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from .feeds import (
    Advisory,
    Affected,
    FeedFormatError,
    ImportResult,
    ParsedRow,
    cvss_base_score,
    import_parsed,
    iso_utc,
    plain_text,
    release_of_ecosystem,
    rpm_evr_ok,
    severity_of_score,
    severity_of_text,
)

KIND = "csaf"
DEFAULT_NAME = "redhat-csaf"

_TITLE_PREFIX = "Red Hat Security Advisory: "
# Worst first: the word a document without an aggregate severity takes from its vulnerabilities.
_IMPACTS = ("Critical", "Important", "Moderate", "Low")

Pointer = tuple[str | int, ...]


class CsafError(ValueError):
    """A CSAF document that cannot be read: ``pointer`` says where (JSON pointer parts)."""

    def __init__(self, pointer: Pointer, message: str) -> None:
        super().__init__(message)
        self.pointer = pointer
        self.message = message


def looks_like_csaf(data: object) -> bool:
    """Whether ``data`` is a CSAF document (it has ``document.csaf_version``; :func:`csaf_rows` reads 2.0)."""
    if not isinstance(data, dict):
        return False
    document = data.get("document")
    return isinstance(document, dict) and "csaf_version" in document


class Component(NamedTuple):
    """One package version of the product tree, read from its purl."""

    name: str
    evr: str
    arch: str


def parse_purl(purl: str) -> Component | None:
    """``pkg:rpm/redhat/bind@9.8.2-0.68.rc1.el6_10.17?arch=src&epoch=32`` ->
    ``Component("bind", "32:9.8.2-0.68.rc1.el6_10.17", "src")``; None for a purl that is
    no rpm (container images, Maven artifacts) or has no rpm ``version-release``."""
    if not purl.startswith("pkg:rpm/"):
        return None
    parts = urlsplit(purl[len("pkg:"):])
    path = parts.path.split("#", 1)[0]
    name_part, at, version = path.rpartition("@")
    if not at:
        return None
    name = unquote(name_part.rsplit("/", 1)[-1])
    version = unquote(version)
    if not name or "-" not in version.strip("-"):
        return None
    qualifiers = parse_qs(parts.query)
    epoch = (qualifiers.get("epoch") or [""])[0]
    arch = (qualifiers.get("arch") or [""])[0]
    evr = f"{epoch}:{version}" if epoch and epoch != "0" else version
    return Component(name, evr, arch) if rpm_evr_ok(evr) else None


# A product version id as Red Hat writes it: NAME-EPOCH:VERSION-RELEASE.ARCH.
_NEVRA = re.compile(r"(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-:]+)\.(?P<arch>[^.:-]+)")


def parse_nevra(product_id: str) -> Component | None:
    """``tigervnc-0:1.13.1-3.el9_3.3.src`` -> ``Component("tigervnc", "1.13.1-3.el9_3.3", "src")``, or None."""
    found = _NEVRA.fullmatch(product_id)
    if not found:
        return None
    epoch = found["epoch"]
    evr = f"{found['version']}-{found['release']}"
    evr = f"{epoch}:{evr}" if epoch and epoch != "0" else evr
    return Component(found["name"], evr, found["arch"]) if rpm_evr_ok(evr) else None


def _ecosystem(cpe: str) -> str:
    """``cpe:/o:redhat:enterprise_linux:9::baseos`` -> ``Red Hat:enterprise_linux:9::baseos``."""
    parts = cpe.split(":")
    if len(parts) >= 4 and parts[0] == "cpe" and parts[2] == "redhat":
        return "Red Hat:" + ":".join(parts[3:])
    return f"CPE:{cpe}"


def _need(value: object, kind: type, pointer: Pointer, what: str) -> Any:
    if not isinstance(value, kind):
        got = "missing" if value is None else _JSON_NAMES.get(type(value), type(value).__name__)
        raise CsafError(pointer, f"{what} must be a JSON {_JSON_NAMES[kind]}, not {got}")
    return value


_JSON_NAMES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


class _Tree(NamedTuple):
    known: set[str]  # every product id of the branches
    platforms: dict[str, str]  # product id -> CPE
    components: dict[str, Component | None]  # product id -> its rpm (None: a purl that is no rpm)
    relationships: dict[str, tuple[str, str, Pointer]]  # product id -> (platform, component, where)


def _product_tree(tree: Mapping[str, Any]) -> _Tree:
    """The products of a product tree: platforms by CPE, rpm components by purl (else by a
    NEVRA product id), and the relationships tying one to the other."""
    known: set[str] = set()
    platforms: dict[str, str] = {}
    components: dict[str, Component | None] = {}
    stack: list[tuple[Any, Pointer]] = [(tree.get("branches") or [], ("product_tree", "branches"))]
    while stack:
        branches, where = stack.pop()
        _need(branches, list, where, "branches")
        for index, branch in enumerate(branches):
            at = (*where, index)
            _need(branch, dict, at, "a branch")
            product = branch.get("product")
            if product is not None:
                _need(product, dict, (*at, "product"), "a branch's product")
                pid = _need(product.get("product_id"), str, (*at, "product", "product_id"), "product_id")
                helper = product.get("product_identification_helper") or {}
                _need(helper, dict, (*at, "product", "product_identification_helper"), "product_identification_helper")
                known.add(pid)
                if isinstance(helper.get("cpe"), str):
                    platforms[pid] = helper["cpe"]
                elif isinstance(helper.get("purl"), str):
                    purl = helper["purl"]
                    components[pid] = parse_purl(purl) or (parse_nevra(pid) if purl.startswith("pkg:rpm/") else None)
                elif (nevra := parse_nevra(pid)) is not None:
                    components[pid] = nevra
            if "branches" in branch:
                stack.append((branch["branches"], (*at, "branches")))
    relationships: dict[str, tuple[str, str, Pointer]] = {}
    found = tree.get("relationships") or []
    _need(found, list, ("product_tree", "relationships"), "relationships")
    for index, rel in enumerate(found):
        at: Pointer = ("product_tree", "relationships", index)
        _need(rel, dict, at, "a relationship")
        full = _need(rel.get("full_product_name"), dict, (*at, "full_product_name"), "full_product_name")
        pid = _need(full.get("product_id"), str, (*at, "full_product_name", "product_id"), "product_id")
        component = _need(rel.get("product_reference"), str, (*at, "product_reference"), "product_reference")
        platform = _need(
            rel.get("relates_to_product_reference"), str, (*at, "relates_to_product_reference"),
            "relates_to_product_reference",
        )
        relationships[pid] = (platform, component, at)
    return _Tree(known, platforms, components, relationships)


def _impact(document: Mapping[str, Any], vulnerabilities: Sequence[Mapping[str, Any]]) -> str | None:
    aggregate = document.get("aggregate_severity")
    if isinstance(aggregate, dict) and severity_of_text(aggregate.get("text")) != "unknown":
        return str(aggregate["text"])
    words = {
        str(threat.get("details"))
        for vuln in vulnerabilities
        for threat in vuln.get("threats") or ()
        if isinstance(threat, dict) and threat.get("category") == "impact"
    }
    return next((word for word in _IMPACTS if word in words), None)


def _worst_vector(vulnerabilities: Sequence[Mapping[str, Any]]) -> tuple[str, float] | None:
    best: tuple[str, float] | None = None
    for vuln in vulnerabilities:
        for score in vuln.get("scores") or ():
            cvss = score.get("cvss_v3") if isinstance(score, dict) else None
            vector = cvss.get("vectorString") if isinstance(cvss, dict) else None
            value = cvss_base_score(vector) if isinstance(vector, str) else None
            if value is not None and (best is None or value > best[1]):
                best = (vector, value)
    return best


def _errata_url(document: Mapping[str, Any], vulnerabilities: Sequence[Mapping[str, Any]]) -> str | None:
    for vuln in vulnerabilities:
        for remedy in vuln.get("remediations") or ():
            if isinstance(remedy, dict) and remedy.get("category") == "vendor_fix" and remedy.get("url"):
                return str(remedy["url"])
    for ref in document.get("references") or ():
        if isinstance(ref, dict) and ref.get("category") == "self" and ref.get("url"):
            return str(ref["url"])
    return None


def csaf_rows(data: Mapping[str, Any], warn: list[str] | None = None) -> tuple[Advisory, list[ParsedRow]]:
    """Parse one Red Hat CSAF 2.0 security advisory: its advisory and its fixed rows.

    Wrong JSON types and references to no product of the tree raise :class:`CsafError`;
    a fixed product this cannot place (a platform without CPE, a package named neither by
    an rpm purl nor by a NEVRA id) is skipped, and said once in ``warn``.
    """
    document = _need(data.get("document"), dict, ("document",), "document")
    version = document.get("csaf_version")
    if version != "2.0":
        raise CsafError(("document", "csaf_version"), f"CSAF version {version!r} is not supported (only 2.0)")
    category = document.get("category")
    if category != "csaf_security_advisory":
        raise CsafError(
            ("document", "category"),
            f"document category {category!r}: only security advisories (csaf_security_advisory) are imported",
        )
    tracking = _need(document.get("tracking"), dict, ("document", "tracking"), "tracking")
    adv_id = _need(tracking.get("id"), str, ("document", "tracking", "id"), "tracking id")
    tree = _need(data.get("product_tree"), dict, ("product_tree",), "product_tree")
    vulnerabilities = _need(data.get("vulnerabilities") or [], list, ("vulnerabilities",), "vulnerabilities")
    known, platforms, components, relationships = _product_tree(tree)
    skipped: set[str] = set()
    impact = _impact(document, [v for v in vulnerabilities if isinstance(v, dict)])
    vector = _worst_vector([v for v in vulnerabilities if isinstance(v, dict)])
    if impact is not None:
        severity = severity_of_text(impact)
    else:
        severity = severity_of_score(vector[1]) if vector else "unknown"

    # (platform, component) pairs a fix was published for, in document order.
    fixed: dict[tuple[str, str], None] = {}
    aliases: list[str] = []
    for index, vuln in enumerate(vulnerabilities):
        at: Pointer = ("vulnerabilities", index)
        _need(vuln, dict, at, "a vulnerability")
        cve = vuln.get("cve")  # its ``ids`` are Red Hat Bugzilla numbers: no alias a user types
        if isinstance(cve, str) and cve not in aliases:
            aliases.append(cve)
        status = _need(vuln.get("product_status") or {}, dict, (*at, "product_status"), "product_status")
        listed = _need(status.get("fixed") or [], list, (*at, "product_status", "fixed"), "fixed")
        for number, pid in enumerate(listed):
            where = (*at, "product_status", "fixed", number)
            _need(pid, str, where, "a fixed product id")
            if pid not in relationships:
                raise CsafError(where, f"fixed product {pid!r} is no relationship of the product tree")
            platform, component, rel_at = relationships[pid]
            for ref, key in ((platform, "relates_to_product_reference"), (component, "product_reference")):
                if ref not in known:
                    raise CsafError((*rel_at, key), f"product {ref!r} is not in the product tree")
            if platform not in platforms or component not in components:
                problem = (
                    f"platform {platform!r} has no CPE" if platform not in platforms
                    else f"package {component!r} has no rpm purl and its id is no NEVRA"
                )
                if warn is not None and problem not in skipped:
                    warn.append(f"{adv_id}: {problem}: its fixes are skipped")
                skipped.add(problem)
                continue
            fixed[(platform, component)] = None

    by_platform: dict[str, list[Component]] = {}
    for platform, component in fixed:
        read = components[component]
        if read is not None:  # not an rpm: nothing a host's rpm database holds
            by_platform.setdefault(platform, []).append(read)
    rows: list[ParsedRow] = []
    seen: set[tuple[str, str, str]] = set()
    for platform, found in by_platform.items():
        ecosystem = _ecosystem(platforms[platform])
        release = release_of_ecosystem(ecosystem) or f"other:{ecosystem}"
        # A binary is named on its own only when no source RPM of the platform has its release:
        # CSAF does not link a binary to its source, and the binaries of a build share its
        # release (not always its version: ruby builds rubygem-bigdecimal 1.3.4-111.module…).
        builds = {c.evr.rpartition("-")[2] for c in found if c.arch == "src"}
        for comp in (c for c in found if c.arch == "src" or c.evr.rpartition("-")[2] not in builds):
            key = (release, comp.name, comp.evr)
            if key in seen:
                continue
            seen.add(key)
            row = Affected(adv_id, comp.name, "0", comp.evr, None, severity)
            rows.append(ParsedRow(ecosystem, release, row, "resolved", impact, "CSAF"))

    title = document.get("title")
    text = title[len(_TITLE_PREFIX):] if isinstance(title, str) and title.startswith(_TITLE_PREFIX) else title
    summary = plain_text(text)
    advisory = Advisory(
        id=adv_id,
        aliases=tuple(aliases),
        summary=f"{impact}: {summary}" if impact and summary else summary,
        url=_errata_url(document, [v for v in vulnerabilities if isinstance(v, dict)]),
        published=iso_utc(tracking.get("initial_release_date")),
        modified=iso_utc(tracking.get("current_release_date")),
        cvss_vector=vector[0] if vector else None,
        cvss_score=vector[1] if vector else None,
    )
    return advisory, rows


# ------------------------------------------------------------------ positions


def locate(text: str, pointer: Pointer) -> tuple[int, int]:
    """1-based line and column of the value at ``pointer`` in JSON ``text``.

    A missing key or index is placed at the object or array that lacks it. Parsing
    here records where every value starts, with the pure-Python scanner: slow, so
    only used to report an error.
    """
    starts: dict[int, list[int]] = {}  # id of an object or array -> where each of its values starts
    keep: list[object] = []  # alive, so no other object takes an id recorded here

    def tracked(parse: Any) -> Any:
        def run(s_and_end: tuple[str, int], strict_or_scan: Any, *args: Any) -> tuple[Any, int]:
            found: list[int] = []
            scan_once = strict_or_scan if not args else args[0]

            def scan(s: str, idx: int) -> Any:
                found.append(idx)
                return scan_once(s, idx)

            if args:
                value, end = parse(s_and_end, strict_or_scan, scan, *args[1:])
            else:
                value, end = parse(s_and_end, scan)
            starts[id(value)] = found
            keep.append(value)
            return value, end

        return run

    decoder = json.JSONDecoder()
    decoder.parse_object = tracked(json.decoder.JSONObject)  # type: ignore[assignment]
    decoder.parse_array = tracked(json.decoder.JSONArray)  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    node: Any = decoder.decode(text)
    offset = len(text) - len(text.lstrip())
    for part in pointer:
        values = starts.get(id(node))
        if isinstance(node, dict) and part in node and values is not None and len(values) == len(node):
            offset = values[list(node).index(part)]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node) and values is not None:
            offset = values[part]
        else:
            break
        node = node[part]
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def document_rows(
    raw: bytes, data: Any, where: str, warn: list[str] | None = None
) -> tuple[Advisory, list[ParsedRow]]:
    """:func:`csaf_rows` of one file's document, its problems as ``where:line:col: what``."""
    if not looks_like_csaf(data):
        raise FeedFormatError(f"{where}:1:1: not a CSAF document (no document.csaf_version)")
    try:
        return csaf_rows(data, warn)
    except CsafError as exc:
        line, col = locate(raw.decode("utf-8-sig"), exc.pointer)
        path = "/" + "/".join(str(p) for p in exc.pointer)
        raise FeedFormatError(f"{where}:{line}:{col}: {path}: {exc.message}") from None


def import_documents(
    conn: sqlite3.Connection,
    documents: Iterable[tuple[str, bytes, Any]],
    *,
    name: str | None = None,
    source: str = "",
    now: str | None = None,
    sha256: str | None = None,
    feed_date: str | None = None,
) -> ImportResult:
    """Import CSAF documents ``(where, raw bytes, parsed)`` as feed ``name``.

    The default name is ``redhat-csaf:<advisory id>`` for one document (so one file
    after another accumulate, and a newer revision of one replaces it) and
    ``redhat-csaf`` for more. Two revisions of one advisory (two files): the newer
    ``current_release_date`` is kept. The feed's date is the newest
    ``current_release_date``; ``feed_date`` (the file's time) only stands in without one.
    """
    warnings: list[str] = []
    newest: dict[str, tuple[Advisory, list[ParsedRow]]] = {}
    count = 0
    for where, raw, data in documents:
        advisory, rows = document_rows(raw, data, where, warnings)
        count += 1
        kept = newest.get(advisory.id)
        # Two revisions of one advisory (two file names): the newer one counts.
        if kept is None or (advisory.modified or "") >= (kept[0].modified or ""):
            newest[advisory.id] = (advisory, rows)
    if not newest:
        raise FeedFormatError(f"{source}: no CSAF documents")
    parsed = list(newest.values())
    dates = [adv.modified for adv, _rows in parsed if adv.modified]
    default = f"{DEFAULT_NAME}:{parsed[0][0].id}" if count == 1 else DEFAULT_NAME
    result = import_parsed(
        conn, parsed, KIND, default, name=name, source=source, now=now,
        feed_date=max(dates) if dates else feed_date, sha256=sha256,
    )
    result.warnings = warnings
    return result


__all__ = [
    "DEFAULT_NAME",
    "KIND",
    "Component",
    "CsafError",
    "csaf_rows",
    "document_rows",
    "import_documents",
    "locate",
    "looks_like_csaf",
    "parse_nevra",
    "parse_purl",
]
