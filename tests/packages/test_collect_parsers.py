"""Pure parsers of the host collection script, on recorded outputs (tests/data/packages/hosts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scanner.models import CollectFailed, ErrorReason
from scanner.plugins.packages import parsers as p
from scanner.plugins.packages.collect import build_script

HOSTS = Path(__file__).resolve().parents[1] / "data" / "packages" / "hosts"
NONCE = "5f0c2a9e8b7d4c3a1e0f9a8b7c6d5e4f"


def read(*parts: str) -> str:
    return (HOSTS.joinpath(*parts)).read_bytes().decode("utf-8", "replace")


def framed(sections: dict[str, str], nonce: str = NONCE) -> str:
    """Output as the script frames it: a newline before every marker."""
    out = []
    for name, text in sections.items():
        out.append(f"\n:::{nonce}:begin:{name}\n{text}\n:::{nonce}:end:{name}:0\n")
    return "".join(out)


# --------------------------------------------------------------------------- framing


def test_sections_are_cut_at_markers_with_the_run_nonce() -> None:
    output = framed({"uname": "machine=x86_64\nrelease=6.1.0-18-amd64\n", "done": ""})
    sections = p.split_sections(output, NONCE)
    assert sections["uname"] == p.Section("machine=x86_64\nrelease=6.1.0-18-amd64\n", 0)
    assert sections["done"].text == ""


def test_a_section_without_trailing_newline_keeps_its_text() -> None:
    sections = p.split_sections(framed({"clock": "+0000"}), NONCE)
    assert sections["clock"].text == "+0000"


def test_marker_lines_with_another_nonce_are_data() -> None:
    forged = (
        ":::0123456789abcdef0123456789abcdef:end:dpkg:0\n"
        ":::0123456789abcdef0123456789abcdef:begin:os-release\nID=alpine\n"
    )
    sections = p.split_sections(framed({"dpkg": forged + "after\n"}), NONCE)
    assert sections["dpkg"].text == forged + "after\n"
    assert "os-release" not in sections


def test_a_marker_inside_a_line_does_not_count() -> None:
    text = f"name :::{NONCE}:end:dpkg:0\n"
    assert p.split_sections(framed({"dpkg": text}), NONCE)["dpkg"].text == text


def test_a_section_cut_short_is_left_out() -> None:
    output = framed({"uname": "machine=x86_64\n"}) + f"\n:::{NONCE}:begin:dpkg\npartial"
    assert set(p.split_sections(output, NONCE)) == {"uname"}


def test_section_exit_status_is_kept() -> None:
    output = f"\n:::{NONCE}:begin:rpm\n\n:::{NONCE}:end:rpm:127\n"
    assert p.split_sections(output, NONCE)["rpm"].status == 127


def test_every_run_gets_its_own_markers_in_the_script() -> None:
    script = build_script(NONCE)
    assert f"N='{NONCE}'" in script
    with pytest.raises(ValueError):
        build_script("x'; reboot; '")


# --------------------------------------------------------------------------- os-release


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            "debian12",
            {
                "id": "debian",
                "version_id": "12",
                "codename": "bookworm",
                "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                "id_like": [],
            },
        ),
        (
            "ubuntu2204",
            {
                "id": "ubuntu",
                "version_id": "22.04",
                "codename": "jammy",
                "pretty_name": "Ubuntu 22.04.4 LTS",
                "id_like": ["debian"],
            },
        ),
        (
            "rocky9",
            {
                "id": "rocky",
                "version_id": "9.3",
                "codename": None,
                "pretty_name": "Rocky Linux 9.3 (Blue Onyx)",
                "id_like": ["rhel", "centos", "fedora"],
            },
        ),
        (
            "alpine319",
            {
                "id": "alpine",
                "version_id": "3.19.1",
                "codename": None,
                "pretty_name": "Alpine Linux v3.19",
                "id_like": [],
            },
        ),
    ],
    ids=["debian12", "ubuntu2204", "rocky9", "alpine319"],
)
def test_os_release_of_recorded_hosts(host: str, expected: dict[str, object]) -> None:
    assert p.os_info(p.parse_os_release(read(host, "root/etc/os-release"))) == expected


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('X="a \\"b\\" \\$c \\\\d"', 'a "b" $c \\d'),
        ("X='single $(not run)'", "single $(not run)"),
        ("X=plain", "plain"),
        ("X=escaped\\ space", "escaped space"),
        ('X="unterminated', "unterminated"),
        ("X=", ""),
        ('X="value" # comment', "value"),
    ],
    ids=["double-escapes", "single", "plain", "backslash", "unterminated", "empty", "comment"],
)
def test_os_release_quoting(line: str, value: str) -> None:
    assert p.parse_os_release(line)["X"] == value


def test_os_release_codename_from_version_when_missing() -> None:
    info = p.os_info(p.parse_os_release('ID=debian\nVERSION="8 (jessie)"\n'))
    assert info["codename"] == "jessie"


def test_os_release_defaults_when_empty() -> None:
    assert p.os_info({}) == {
        "id": "linux",
        "version_id": None,
        "codename": None,
        "pretty_name": "Linux",
        "id_like": [],
    }


# --------------------------------------------------------------------------- packages


def test_dpkg_query_keeps_installed_and_held_packages_only() -> None:
    names = {pkg.name for pkg in p.parse_dpkg_query(read("debian12", "dpkg-query.txt"))}
    assert "vim-tiny" in names  # hi: held, still installed
    assert "xz-utils" not in names  # iU: unpacked, not configured
    assert "linux-image-6.1.0-9-amd64" not in names  # rc: only config files left
    assert len(names) == 25


def test_dpkg_query_strips_arch_qualifier_and_keeps_source() -> None:
    packages = {pkg.name: pkg for pkg in p.parse_dpkg_query(read("debian12", "dpkg-query.txt"))}
    assert packages["libssl3"].to_json() == {
        "name": "libssl3",
        "version": "3.0.11-1~deb12u2",
        "source": "openssl",
        "source_version": "3.0.11-1~deb12u2",
        "arch": "amd64",
        "status": "installed",
    }
    # binNMU: the binary version differs from its source version.
    assert (packages["bash"].version, packages["bash"].source_version) == (
        "5.2.15-2+b2",
        "5.2.15-2",
    )


@pytest.mark.parametrize(
    ("line", "source", "source_version"),
    [
        ("tar\t1.34+dfsg-1\t\t\tii \tamd64", "tar", "1.34+dfsg-1"),
        ("tar\t1.27.1-2+b1\ttar (1.27.1-2)\t\tii \tamd64", "tar", "1.27.1-2"),
    ],
    ids=["empty-means-same", "old-dpkg-source-field"],
)
def test_dpkg_query_source_fallbacks(line: str, source: str, source_version: str) -> None:
    (pkg,) = p.parse_dpkg_query(line)
    assert (pkg.source, pkg.source_version) == (source, source_version)


def test_rpm_versions_are_evr_with_nonzero_epoch() -> None:
    packages = {pkg.name: pkg for pkg in p.parse_rpm_qa(read("rocky9", "rpm-qa.txt"))}
    assert packages["openssl-libs"].to_json() == {
        "name": "openssl-libs",
        "version": "1:3.0.7-24.el9",
        "source": "openssl",
        "source_version": "1:3.0.7-24.el9",
        "arch": "x86_64",
        "status": "installed",
    }
    assert packages["bash"].version == "5.1.8-6.el9_1"
    assert packages["python3-dnf"].source == "dnf"


def test_rpm_skips_gpg_pubkey_pseudo_packages() -> None:
    names = [pkg.name for pkg in p.parse_rpm_qa(read("rocky9", "rpm-qa.txt"))]
    assert "gpg-pubkey" not in names
    assert names.count("kernel-core") == 2


def test_rpm_without_source_rpm_uses_its_own_name() -> None:
    (pkg,) = p.parse_rpm_qa("foo\t(none)\t1.0\t1\tx86_64\t(none)\t1700000000")
    assert (pkg.version, pkg.source, pkg.source_version) == ("1.0-1", "foo", "1.0-1")


def test_apk_installed_database_records() -> None:
    packages = {
        pkg.name: pkg
        for pkg in p.parse_apk_installed(read("alpine319", "root/lib/apk/db/installed"))
    }
    assert len(packages) == 8
    assert packages["libssl3"].to_json() == {
        "name": "libssl3",
        "version": "3.1.4-r5",
        "source": "openssl",
        "source_version": "3.1.4-r5",
        "arch": "x86_64",
        "status": "installed",
    }
    assert packages["ssl_client"].source == "busybox"


def test_hostile_package_strings_stay_plain_text() -> None:
    packages = {pkg.name: pkg for pkg in p.parse_dpkg_query(read("hostile", "dpkg-query.txt"))}
    assert packages["<img src=x onerror=alert(1)>"].version == "1.0\"'$(id)"
    assert packages["{{ 7*7 }}"].version == "${jndi:ldap://x}"
    assert packages["{{ 7*7 }}"].source == "%s%n"
    assert packages["\"quoted';DROP TABLE packages;--"].version == "1:0.1"
    assert "esc\x1b]0;pwned\x07name" in packages
    assert "pkg-after-marker" in packages
    assert "too" not in packages  # wrong field count: skipped, never guessed


# --------------------------------------------------------------------------- kernels


def debian_kernels() -> list[p.KernelPackage]:
    return p.kernel_packages("dpkg", p.parse_dpkg_query(read("debian12", "dpkg-query.txt")))


def test_debian_kernel_images_exclude_meta_packages() -> None:
    assert [k.release for k in debian_kernels()] == ["6.1.0-17-amd64", "6.1.0-18-amd64"]


def test_ubuntu_newest_kernel_by_package_version() -> None:
    kernels = p.kernel_packages("dpkg", p.parse_dpkg_query(read("ubuntu2204", "dpkg-query.txt")))
    assert [k.release for k in kernels] == ["5.15.0-88-generic", "5.15.0-91-generic"]
    newest = p.newest_kernel("dpkg", kernels, "5.15.0-88-generic")
    assert newest is not None and newest.release == "5.15.0-91-generic"


def test_rpm_kernel_and_kernel_core_are_one_kernel() -> None:
    kernels = p.kernel_packages("rpm", p.parse_rpm_qa(read("rocky9", "rpm-qa.txt")))
    assert [k.release for k in kernels] == [
        "5.14.0-362.13.1.el9_3.x86_64",
        "5.14.0-362.8.1.el9_3.x86_64",
    ]
    newest = p.newest_kernel("rpm", kernels, "5.14.0-362.8.1.el9_3.x86_64")
    assert newest is not None and newest.release == "5.14.0-362.13.1.el9_3.x86_64"


def test_rpm_newest_kernel_stays_in_the_running_flavour() -> None:
    packages = p.parse_rpm_qa(
        "kernel-uek-core\t0\t5.15.0\t200.131.27.el9uek\tx86_64\tkernel-uek-5.15.0-200.131.27.el9uek.src.rpm\t1\n"
        "kernel-core\t0\t5.14.0\t427.13.1.el9_4\tx86_64\tkernel-5.14.0-427.13.1.el9_4.src.rpm\t1\n"
    )
    kernels = p.kernel_packages("rpm", packages)
    newest = p.newest_kernel("rpm", kernels, "5.14.0-427.13.1.el9_4.x86_64")
    assert newest is not None and newest.release == "5.14.0-427.13.1.el9_4.x86_64"


def test_alpine_kernel_release_from_package_version() -> None:
    packages = p.parse_apk_installed(
        "P:linux-lts\nV:6.6.14-r0\nA:x86_64\n\nP:linux-firmware-none\nV:1-r0\n"
    )
    kernels = p.kernel_packages("apk", packages)
    assert [k.release for k in kernels] == ["6.6.14-0-lts"]


# --------------------------------------------------------------------------- reboot


def reboot(**overrides: object) -> dict[str, object]:
    kernels = debian_kernels()
    args: dict[str, object] = {
        "fmt": "dpkg",
        "container": False,
        "flag": False,
        "flag_packages": [],
        "running": "6.1.0-18-amd64",
        "kernels": kernels,
        "newest": kernels[-1],
    }
    args.update(overrides)
    return p.reboot_required(**args)  # type: ignore[arg-type]


def test_reboot_not_required_when_running_the_newest_kernel() -> None:
    assert reboot()["required"] is False


def test_reboot_required_when_a_newer_kernel_is_installed() -> None:
    result = reboot(running="6.1.0-17-amd64")
    assert result["required"] is True
    assert "6.1.0-18-amd64" in str(result["evidence"])


def test_reboot_flag_file_wins_and_names_packages() -> None:
    result = reboot(flag=True, flag_packages=["libc6"])
    assert result == {
        "required": True,
        "evidence": "/var/run/reboot-required exists (packages: libc6)",
    }


def test_reboot_unknown_in_a_container() -> None:
    assert reboot(container=True, flag=True) == {"required": None, "evidence": "container"}


def test_reboot_unknown_without_kernel_packages() -> None:
    assert reboot(kernels=[], newest=None)["required"] is None


def test_reboot_unknown_for_a_kernel_not_from_a_package() -> None:
    result = reboot(running="6.7.0-custom")
    assert result["required"] is None
    assert "6.7.0-custom" in str(result["evidence"])


# --------------------------------------------------------------------------- last update


def test_dpkg_log_newest_install_or_upgrade_across_files() -> None:
    records = (
        "/var/log/dpkg.log.1\t2026-10-28 09:12:44 upgrade openssl:amd64 3.0.11-1~deb12u1 3.0.11-1~deb12u2\n"
        "/var/log/dpkg.log.2.gz\t2026-09-14 07:01:21 upgrade linux-image-amd64:amd64 6.1.69-1 6.1.76-1\n"
    )
    when, path, _ = p.newest_dpkg_log_entry(records, UTC) or (None, None, None)
    assert (when, path) == (datetime(2026, 10, 28, 9, 12, 44, tzinfo=UTC), "/var/log/dpkg.log.1")


def test_dpkg_log_local_time_is_converted_to_utc() -> None:
    record = "/var/log/dpkg.log\t2026-11-20 06:41:09 upgrade x:amd64 1 2\n"
    entry = p.newest_dpkg_log_entry(record, p.parse_offset("+0100"))
    assert entry is not None and entry[0].isoformat() == "2026-11-20T05:41:09+00:00"


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("+0100", timedelta(hours=1)),
        ("-0530", timedelta(hours=-5, minutes=-30)),
        ("junk", timedelta(0)),
    ],
    ids=["plus", "minus-half-hour", "unreadable-is-utc"],
)
def test_parse_offset(text: str, offset: timedelta) -> None:
    assert p.parse_offset(text).utcoffset(None) == offset


def test_last_update_falls_back_to_dpkg_status_mtime() -> None:
    result = p.last_update("dpkg", [], "", {"/var/lib/dpkg/status": "1793000000"}, UTC)
    assert result["time"] == "2026-10-26T07:33:20+00:00"
    assert "/var/lib/dpkg/status" in result["evidence"]


def test_last_update_unknown_without_any_record() -> None:
    assert p.last_update("apk", [], "", {}, UTC)["time"] is None


# --------------------------------------------------------------------------- container & format


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dockerenv\n", True),
        ("detect-virt=lxc\n", True),
        ("detect-virt=none\n", False),
        ("container=podman\n", True),
        ("cgroup=0::/kubepods/besteffort/pod1\n", True),
        ("", False),
    ],
    ids=["dockerenv", "lxc", "none", "environ", "cgroup", "nothing"],
)
def test_container_probes(text: str, expected: bool) -> None:
    assert p.is_container(text) is expected


def test_package_format_follows_os_family_over_stray_databases() -> None:
    os = p.os_info({"ID": "debian"})
    rpm_rows = p.parse_rpm_qa(read("rocky9", "rpm-qa.txt"))
    deb_rows = p.parse_dpkg_query(read("debian12", "dpkg-query.txt"))
    assert p.choose_format(os, {"dpkg": deb_rows, "rpm": rpm_rows, "apk": []}) == "dpkg"


def test_unknown_os_uses_the_database_that_has_data() -> None:
    os = p.os_info({"ID": "exotic"})
    assert (
        p.choose_format(
            os, {"dpkg": [], "rpm": p.parse_rpm_qa(read("rocky9", "rpm-qa.txt")), "apk": []}
        )
        == "rpm"
    )


def test_no_package_database_is_not_supported() -> None:
    with pytest.raises(CollectFailed) as info:
        p.choose_format(p.os_info({"ID": "exotic"}), {"dpkg": [], "rpm": [], "apk": []})
    assert info.value.reason is ErrorReason.NOT_SUPPORTED
