"""Exposure probes and security.txt: which paths to ask for and how to recognise a real hit.

Each probe is confirmed by a content signature of the thing itself (a git ref,
an env assignment, an archive's magic bytes), never by the status alone, so a
server that answers 200 with its home page for every path is never reported.
Evidence is the path and a redacted first line: an env file's values, a
config's secrets, never reach the facts.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_ENV_LINE = re.compile(rb"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=")


def _first_line(body: bytes) -> bytes:
    """The first line that is neither blank nor a ``#`` comment."""
    for line in body.splitlines():
        if line.strip() and not line.strip().startswith(b"#"):
            return line.strip()
    return b""


def _git_head(body: bytes) -> bool:
    return re.match(rb"^(ref: refs/[!-~]+|[0-9a-f]{40}|[0-9a-f]{64})\s*$", body.strip()) is not None


def _svn_entries(body: bytes) -> bool:
    # Subversion 1.7+ leaves just the format number; older ones an XML or text entries file.
    return re.match(rb"^\d{1,3}\s*$", body.strip()) is not None or (b"svn:" in body[:4096] and (
        b"<wc-entries" in body[:4096] or b"\ndir\n" in body[:4096]
    ))


def _env(body: bytes) -> bool:
    if body.lstrip()[:1] == b"<":
        return False
    lines = [ln.strip() for ln in body.splitlines()[:200] if ln.strip() and not ln.strip().startswith(b"#")]
    return bool(lines) and sum(1 for ln in lines if _ENV_LINE.match(ln)) * 2 > len(lines)


def _server_status(body: bytes) -> bool:
    head = body[:8192]
    return b"Apache Server Status for" in head or re.match(
        rb"^Active connections: \d+", body.lstrip()
    ) is not None


def _phpinfo(body: bytes) -> bool:
    head = body[:16384]
    return b"<title>phpinfo()</title>" in head or (b"PHP Version" in head and b"phpinfo" in head)


def _zip(body: bytes) -> bool:
    return body[:4] == b"PK\x03\x04"


def _gzip(body: bytes) -> bool:
    return body[:2] == b"\x1f\x8b"


def _sql(body: bytes) -> bool:
    head = body[:4096]
    return head.lstrip()[:1] != b"<" and re.search(
        rb"^(-- MySQL dump|-- PostgreSQL database dump|CREATE TABLE|INSERT INTO)", head, re.M
    ) is not None


def _listing(body: bytes) -> bool:
    head = body[:8192]
    return re.search(rb"<title>\s*Index of /", head, re.I) is not None or re.search(
        rb"<h1>\s*Index of /", head, re.I
    ) is not None


def _redact_env(line: bytes) -> str:
    match = _ENV_LINE.match(line)
    return f"{match.group(1).decode('ascii', 'replace')}=[redacted]" if match else "[redacted]"


def _text_line(line: bytes) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= 80 else text[:79] + "…"


@dataclass(frozen=True)
class Probe:
    name: str
    path: str
    what: str
    matches: Callable[[bytes], bool]
    evidence: Callable[[bytes], str]


PROBES = (
    Probe("git", "/.git/HEAD", "a git repository", _git_head, lambda b: "ref: [redacted]"
          if b.startswith(b"ref:") else "[commit id redacted]"),
    Probe("svn", "/.svn/entries", "a Subversion working copy", _svn_entries, lambda b: "[redacted]"),
    Probe("env", "/.env", "an environment file", _env, lambda b: _redact_env(_first_line(b))),
    Probe("server_status", "/server-status", "the server's status page", _server_status,
          lambda b: _text_line(_first_line(b))[:40]),
    Probe("phpinfo", "/phpinfo.php", "a phpinfo() page", _phpinfo, lambda b: "phpinfo()"),
    Probe("backup_zip", "/backup.zip", "a zip archive", _zip, lambda b: "zip archive"),
    Probe("backup_tgz", "/backup.tar.gz", "a gzip archive", _gzip, lambda b: "gzip archive"),
    Probe("sql_dump", "/dump.sql", "a database dump", _sql, lambda b: "[redacted]"),
    Probe("listing", "/uploads/", "a directory listing", _listing, lambda b: "Index of /uploads/"),
)
PROBE_NAMES = tuple(p.name for p in PROBES)


def judge_probe(probe: Probe, status: int, body: bytes) -> dict[str, Any]:
    """The probe's facts: exposed only on a 2xx whose body carries the signature."""
    exposed = 200 <= status < 300 and probe.matches(body)
    return {
        "name": probe.name,
        "path": probe.path,
        "what": probe.what,
        "status": status,
        "exposed": exposed,
        "first_line": probe.evidence(body) if exposed else None,
    }


def is_listing(body: bytes) -> bool:
    return _listing(body)


# -- security.txt (RFC 9116) -------------------------------------------------------------

_FIELD = re.compile(r"^([A-Za-z0-9-]+):\s*(.*?)\s*$")


def _strip_signature(lines: list[str]) -> list[str]:
    if not lines or lines[0].strip() != "-----BEGIN PGP SIGNED MESSAGE-----":
        return lines
    body = lines[1:]
    while body and body[0].strip():  # the armor headers ("Hash: SHA256") end at a blank line
        body = body[1:]
    end = next((i for i, ln in enumerate(body) if ln.strip() == "-----BEGIN PGP SIGNATURE-----"),
               len(body))
    return [ln[2:] if ln.startswith("- ") else ln for ln in body[:end]]


def parse_expires(value: str) -> dt.datetime | None:
    """An RFC 3339 date-time as RFC 9116 2.5.5 requires (``2027-01-31T23:00:00Z``)."""
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    if when.tzinfo is None or "T" not in value.upper():
        return None
    return when.astimezone(dt.UTC)


def parse_security_txt(text: str) -> dict[str, Any]:
    """Fields and problems of a security.txt body (values kept are contact addresses and URLs)."""
    fields: dict[str, list[str]] = {}
    problems: list[str] = []
    lines = text.splitlines()
    signed = bool(lines) and lines[0].strip() == "-----BEGIN PGP SIGNED MESSAGE-----"
    for number, line in enumerate(_strip_signature(lines)[:1000], start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _FIELD.match(line)
        if match is None:
            problems.append(f"line {number} is not a 'Field: value' line")
            continue
        name = match.group(1).lower()
        fields.setdefault(name, []).append(match.group(2)[:200])
    if not fields.get("contact"):
        problems.append("no Contact field (RFC 9116 2.5.3 requires one)")
    for contact in fields.get("contact", [])[:10]:
        scheme = contact.split(":", 1)[0].lower() if ":" in contact else ""
        if scheme not in ("mailto", "https", "tel"):
            problems.append(f"Contact {contact[:60]!r} is not a mailto:, https: or tel: URI "
                            "(RFC 9116 2.5.3)")
    expires = fields.get("expires", [])
    when = None
    if len(expires) != 1:
        problems.append("Expires must appear exactly once (RFC 9116 2.5.5)")
    else:
        when = parse_expires(expires[0])
        if when is None:
            problems.append(f"Expires {expires[0][:40]!r} is not an RFC 3339 date-time")
    return {
        "contact": fields.get("contact", [])[:10],
        "canonical": fields.get("canonical", [])[:10],
        "signed": signed,
        "expires": when.isoformat() if when else None,
        "fields": sorted(fields),
        "problems": problems[:10],
    }
