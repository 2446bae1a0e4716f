"""The names of a host that some feed row may affect: the bytes-key path agrees with the general one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.plugins import packages
from scanner.plugins.packages import versions

NAMES = st.sampled_from(["kernel", "openssl", "openssl-libs", "bash", "glibc", "glibc-common", "curl", "libcurl"])
VERSIONS = st.sampled_from(["1.0-1.el9", "1.0-2.el9", "1:0.9-1.el9", "2.0-1.el9", "1.0-1.el9_3", "1.0~rc1-1.el9"])


def _index(fmt: str, limits: dict[str, str | None]) -> packages._ReleaseIndex:
    """An index whose limits are given: a version (its newest fix), or None (other ranges)."""
    index = packages._ReleaseIndex("rocky:9" if fmt == "rpm" else "debian:12", fmt)
    key = versions.sort_key(fmt)
    index.limits = {n: packages._ALWAYS if v is None else key(v) for n, v in limits.items()}
    return index


@settings(max_examples=300, deadline=None)
@given(
    sources=st.lists(st.tuples(NAMES, VERSIONS, st.lists(NAMES, max_size=3)), max_size=6, unique_by=lambda s: s[0]),
    limits=st.dictionaries(NAMES, st.none() | VERSIONS),
    fmt=st.sampled_from(["rpm", "dpkg"]),
)
def test_the_bytes_key_path_finds_what_the_general_path_finds(sources, limits, fmt) -> None:
    names = [s for s, _v, _b in sources]
    found_versions = [v for _s, v, _b in sources]
    binaries = [" ".join(b) for _s, _v, b in sources]
    index = _index(fmt, limits)
    key = versions.sort_key(fmt)
    rpm = fmt == "rpm"
    fast = packages._below_limits(names, found_versions, binaries, key, index, rpm=rpm)
    general = packages._below_tops(names, found_versions, binaries, key, index, rpm=rpm)
    assert fast == general
