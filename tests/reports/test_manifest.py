"""The integrity manifest: every file hashed, optionally signed, every change named."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scanner.reports import FORMATS, render
from scanner.reports import manifest as m
from scanner.reports.manifest import MANIFEST, SIGNATURE, generate_signing_key, verify

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def signing_key(tmp_path_factory) -> Path:
    key = tmp_path_factory.mktemp("keys") / "reports.pem"
    generate_signing_key(key)
    return key


@pytest.fixture
def signed(city_doc, tmp_path, signing_key) -> Path:
    outdir = tmp_path / "out"
    render(city_doc, list(FORMATS), outdir, signing_key=signing_key, now=NOW)
    return outdir


def test_manifest_lists_every_file_written(city_doc, tmp_path):
    written = render(city_doc, list(FORMATS), tmp_path, now=NOW)
    listed = json.loads((tmp_path / MANIFEST).read_text())["files"]
    assert set(listed) == {p.name for p in written} - {MANIFEST}


def test_an_untouched_unsigned_set_verifies(city_doc, tmp_path):
    render(city_doc, ["html", "csv"], tmp_path, now=NOW)
    result = verify(tmp_path)
    assert (result.ok, result.signature) == (True, "absent")


def test_an_untouched_signed_set_verifies(signed):
    result = verify(signed)
    assert (result.ok, result.signature, result.altered, result.missing, result.extra) == (
        True,
        "valid",
        [],
        [],
        [],
    )


def test_a_signed_set_verifies_against_the_trusted_public_key(signed, signing_key):
    result = verify(signed, public_key=signing_key.with_name("reports.pem.pub"))
    assert (result.ok, result.signature) == (True, "valid")
    assert result.key_fingerprint.startswith("SHA256:")


def test_verify_names_an_altered_file(signed):
    path = signed / "findings.csv"
    path.write_bytes(path.read_bytes().replace(b"fail", b"pass"))
    result = verify(signed)
    assert (result.ok, result.altered) == (False, ["findings.csv"])


def test_verify_names_a_missing_file(signed):
    (signed / "dept-water.html").unlink()
    result = verify(signed)
    assert (result.ok, result.missing) == (False, ["dept-water.html"])


def test_verify_names_an_extra_file(signed):
    (signed / "dept-roads.html").write_text("<p>all good</p>")
    result = verify(signed)
    assert (result.ok, result.extra) == (False, ["dept-roads.html"])


def test_an_edited_manifest_breaks_the_signature(signed):
    manifest = json.loads((signed / MANIFEST).read_text())
    manifest["run_id"] = 8
    (signed / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    result = verify(signed)
    assert (result.ok, result.signature) == (False, "invalid")


def test_a_set_resigned_with_another_key_fails_against_the_trusted_key(
    signed, signing_key, tmp_path
):
    other = tmp_path / "other.pem"
    generate_signing_key(other)
    csv_path = signed / "findings.csv"
    csv_path.write_text("forged\n")
    # The forger rewrites the manifest and signs it with a key of their own.
    files = [p for p in signed.iterdir() if p.name not in (MANIFEST, SIGNATURE)]
    m.write(
        signed, files, run_id=7, tool_version="0.1.0", created=NOW, key=m.load_private_key(other)
    )
    assert verify(signed).ok  # the embedded key only proves integrity...
    trusted = verify(signed, public_key=signing_key.with_name("reports.pem.pub"))
    assert (trusted.ok, trusted.signature) == (False, "invalid")  # ...the trusted key proves origin


def test_an_unsigned_set_fails_when_a_trusted_key_is_required(city_doc, tmp_path, signing_key):
    render(city_doc, ["csv"], tmp_path / "out", now=NOW)
    result = verify(tmp_path / "out", public_key=signing_key.with_name("reports.pem.pub"))
    assert (result.ok, result.signature) == (False, "absent")


def test_a_manifest_cannot_vouch_for_files_outside_its_folder(signed):
    manifest = json.loads((signed / MANIFEST).read_text())
    manifest["files"]["../outside.txt"] = {"sha256": "0" * 64, "size": 0}
    (signed / MANIFEST).write_text(json.dumps(manifest))
    (signed / SIGNATURE).unlink()
    assert "../outside.txt" in verify(signed).altered


def test_a_folder_without_manifest_does_not_verify(tmp_path):
    result = verify(tmp_path)
    assert (result.ok, result.missing) == (False, [MANIFEST])


def test_rendering_unsigned_over_a_signed_set_drops_the_stale_signature(city_doc, signed):
    render(city_doc, list(FORMATS), signed, now=NOW)
    assert not (signed / SIGNATURE).exists()
    assert verify(signed).ok


def test_a_bad_signing_key_fails_before_anything_is_written(city_doc, tmp_path):
    key = tmp_path / "not-a-key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ValueError):
        render(city_doc, ["csv"], tmp_path / "out", signing_key=key, now=NOW)
    assert not (tmp_path / "out").exists()


def test_the_private_key_is_written_readable_only_by_its_owner(signing_key):
    assert signing_key.stat().st_mode & 0o077 == 0
