"""Files are written atomically and never through a name someone else placed."""

from __future__ import annotations

import os
import stat

import pytest

from scanner.fsutil import UnsafeOutput, atomic_open, atomic_write


def test_a_link_at_the_final_name_is_replaced_not_followed(tmp_path, victim) -> None:
    out = tmp_path / "out.json"
    out.symlink_to(victim)
    atomic_write(out, "report\n")
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and out.read_text() == "report\n"


def test_a_dangling_link_at_the_final_name_is_replaced(tmp_path) -> None:
    out = tmp_path / "out.json"
    out.symlink_to(tmp_path / "would-be-created")
    atomic_write(out, b"x")
    assert not (tmp_path / "would-be-created").exists()
    assert out.read_bytes() == b"x"


def test_a_hard_link_at_the_final_name_is_not_written_through(tmp_path, victim) -> None:
    out = tmp_path / "out.json"
    os.link(victim, out)
    atomic_write(out, "report\n")
    assert victim.read_text() == "precious\n"


def test_links_planted_at_temporary_names_are_never_used(tmp_path, victim) -> None:
    for name in (".out.json.tmp", "out.json.tmp", ".out.json.swp"):
        (tmp_path / name).symlink_to(victim)
    atomic_write(tmp_path / "out.json", "report\n")
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "out.json").read_text() == "report\n"


def test_an_error_while_writing_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    out = tmp_path / "out.txt"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(out) as handle:
        handle.write("half")
        raise RuntimeError("renderer failed")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


@pytest.mark.parametrize(
    "make",
    [
        lambda path: os.mkfifo(path),
        lambda path: path.symlink_to("/dev/null"),
        lambda path: path.mkdir(),
    ],
    ids=["fifo", "link-to-device", "folder"],
)
def test_a_special_file_at_the_final_name_is_refused(tmp_path, make) -> None:
    out = tmp_path / "out.json"
    make(out)
    with pytest.raises(UnsafeOutput, match="not a regular file"):
        atomic_write(out, "report\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_mode_sets_the_permission_bits(tmp_path) -> None:
    out = tmp_path / "key.pem"
    atomic_write(out, b"secret", mode=0o600)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_text_is_utf8_without_newline_translation(tmp_path) -> None:
    out = tmp_path / "a.csv"
    with atomic_open(out) as handle:
        handle.write("Zürich\r\n")
    assert out.read_bytes() == "Zürich\r\n".encode()
