"""A report folder from a checked-out repository may hold planted links: none is written through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scanner.reports import FORMATS, render
from scanner.reports.manifest import generate_signing_key

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PLANTED = [
    ".junit.xml.tmp",
    "junit.xml",
    ".index.html.tmp",
    "index.html",
    "dept-parks.html",
    "run.json",
    "run.sarif",
    "findings.csv",
    "summary.md",
    ".manifest.json.tmp",
    "manifest.json",
    ".manifest.sig.tmp",
    "manifest.sig",
]


@pytest.mark.parametrize("name", PLANTED, ids=PLANTED)
def test_render_never_writes_through_a_planted_link(city_doc, tmp_path, victim, name) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / name).symlink_to(victim)
    key = tmp_path / "sign.pem"
    generate_signing_key(key)
    render(city_doc, list(FORMATS), out, signing_key=key, now=NOW)
    assert victim.read_text() == "precious\n"
    if not name.endswith(".tmp"):
        assert not (out / name).is_symlink()


def test_signing_key_public_half_replaces_a_planted_link(tmp_path, victim) -> None:
    (tmp_path / "sign.pem.pub").symlink_to(victim)
    public = generate_signing_key(tmp_path / "sign.pem")
    assert victim.read_text() == "precious\n"
    assert b"PUBLIC KEY" in public.read_bytes() and not public.is_symlink()


def test_signing_key_refuses_a_planted_link_at_the_private_name(tmp_path, victim) -> None:
    (tmp_path / "sign.pem").symlink_to(victim)
    with pytest.raises(FileExistsError):
        generate_signing_key(tmp_path / "sign.pem")
    assert victim.read_text() == "precious\n"
