"""Generated version pairs for the comparator corpora, labelled by the real tools.

The recorded corpora in tests/data/packages/versions/ were written with (from
the repository root; apk needs an apk-tools 2.x source tree, e.g.
``git archive v2.14.9 src | tar -x -C /tmp/apk-tools``):

    .venv/bin/python tools/version_corpus.py dpkg --count 20000 --seed 1 > dpkg-generated.tsv
    .venv/bin/python tools/version_corpus.py rpm --count 10000 --seed 1 > rpm-evr-generated.tsv
    .venv/bin/python tools/version_corpus.py rpmvercmp --count 10000 --seed 2 \
        > rpmvercmp-generated.tsv
    .venv/bin/python tools/version_corpus.py apk --count 10000 --seed 1 \
        --apk-tools /tmp/apk-tools/src --apk-tools-version v2.14.9 > apk-generated.tsv

Each pair is labelled by the tool itself: ``dpkg --compare-versions`` for dpkg,
librpm's ``rpmverCmp``/``rpmvercmp`` (through ctypes) for rpm, apk-tools' own
src/version.c compiled as is for apk. The tests import the grammars and the dpkg
and rpm labellers to check fresh samples on every run; apk-tools is not packaged
for Debian, so there the tests label fresh samples with a line-by-line reading
of that C file (tests/packages/test_versions.py).

The grammars aim at the places where comparators go wrong: epochs, revisions
of ``0``, ``0~x`` or none, tildes (and rpm carets) at every position, leading
zeros, all-zero and longer-than-64-bit digit runs, letters against separators.
Most pairs are a version and a small mutation of it, because an ordering bug
hides in the one detail that differs.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import glob
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

Pair = tuple[str, str]

# ------------------------------------------------------------------ grammars

_WORDS = ("a", "A", "z", "Z", "rc", "pre", "beta", "dfsg", "git", "deb", "u", "ubuntu", "esm", "b")


def _number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.22:
        return "0"
    if r < 0.30:
        return "0" * rng.randint(2, 4)
    if r < 0.45:
        return "0" * rng.randint(1, 3) + str(rng.randint(1, 99))
    if r < 0.52:
        return str(rng.randint(10**17, 10**22))  # around and past 64 bits
    return str(rng.randint(1, 30))


def _segments(rng: random.Random, separators: str, words: tuple[str, ...], count: int) -> str:
    """``count`` separator+number or separator+word segments."""
    out = []
    for _ in range(count):
        sep = rng.choice(separators)
        if rng.random() < 0.15:
            sep += rng.choice(separators)
        out.append(sep + (_number(rng) if rng.random() < 0.65 else rng.choice(words)))
    return "".join(out)


_DPKG_REVISIONS = (
    "0", "0", "00", "0~x", "0~pre1", "0~", "~", "~~", "0+deb12u1", "1", "1~deb12u1",
    "1ubuntu0.3", "2+b1", "0.1", "01", "a", "+esm2", "0~~", "0~0",
)  # fmt: skip
_DPKG_EPOCHS = ("0:", "1:", "2:", "00:", "01:", "10:", "2147483647:")


def _dpkg_revision(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(_DPKG_REVISIONS)
    return _number(rng) + _segments(rng, ".+~~", _WORDS, rng.randint(0, 3))


def dpkg_version(rng: random.Random) -> str:
    """``[epoch:]upstream[-revision]`` in deb-version(7)'s alphabet (and a few outside it)."""
    head = _number(rng) if rng.random() < 0.95 else rng.choice(_WORDS)
    upstream = head + _segments(rng, "....+~~-:", _WORDS, rng.randint(0, 4))
    if rng.random() < 0.1:
        upstream += rng.choice(("~", "~~", ".", "+", "a"))
    epoch = rng.choice(_DPKG_EPOCHS) if rng.random() < 0.2 else ""
    revision = _dpkg_revision(rng) if rng.random() < 0.65 else ""
    return epoch + upstream + (f"-{revision}" if revision else "")


_RPM_RELEASES = (
    "0", "1", "1.el9", "0.1.rc1", "1.fc40", "2.el8_10", "0~pre1", "1~rc", "1^git1", "01",
    "1.0", "1_1", "1+x",
)  # fmt: skip
_RPM_EPOCHS = ("0:", "1:", "2:", "01:", "10:", ":")


def rpm_string(rng: random.Random) -> str:
    """A version (or release) string for ``rpmvercmp``: alnum segments, separators, ``~ ^``."""
    head = _number(rng) if rng.random() < 0.9 else rng.choice(_WORDS)
    text = head + _segments(rng, "....~~^^_+", _WORDS, rng.randint(0, 4))
    if rng.random() < 0.15:
        text += rng.choice(("~", "^", ".", "_", "a", "~~", "^^", "~^"))
    return text


def rpm_evr(rng: random.Random) -> str:
    """``[epoch:]version[-release]`` as rpm prints it (and a few odd epochs)."""
    epoch = rng.choice(_RPM_EPOCHS) if rng.random() < 0.2 else ""
    version = rpm_string(rng)
    if rng.random() < 0.7:
        release = rng.choice(_RPM_RELEASES) if rng.random() < 0.5 else rpm_string(rng)
        return f"{epoch}{version}-{release}"
    return epoch + version


_APK_SUFFIXES = ("alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p")


def _apk_number(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.08:
        return str(rng.randint(10**15, 10**19))  # apk-tools 2.x refuses 18 digits and more
    if r < 0.35:
        return "0" * rng.randint(1, 3) + str(rng.randint(0, 99))
    return str(rng.randint(0, 12))


def apk_version(rng: random.Random) -> str:
    """``digit{.digit}...{letter}{_suffix{number}}...{-r#}``, now and then broken."""
    text = _apk_number(rng)
    for _ in range(rng.randint(0, 3)):
        text += "." + _apk_number(rng)
    if rng.random() < 0.2:
        text += rng.choice("abz")
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        text += (
            "_"
            + rng.choice(_APK_SUFFIXES)
            + (str(rng.randint(0, 20)) if rng.random() < 0.6 else "")
        )
    if rng.random() < 0.5:
        text += f"-r{rng.randint(0, 12)}"
    if rng.random() < 0.05:
        text += rng.choice(("-x", ".", "_foo", "A", "~abc1", "-r", "..1", "_"))
    return text


_APK_TAILS = ("_rc1", "_alpha", "_p1", "_p", "_pre", "_git", "-r0", "-r1", ".0", "0", "a", "_", ".")
_DPKG_TAILS = ("~", "~~", "~pre1", "~x", "0", ".0", "a", "+", "-0", "-0~pre1", "-1", "-0~", ":")
_RPM_TAILS = ("~", "~~", "~rc1", "^", "^git1", "~^", "0", ".0", "a", "_", "-0", "-1", "-0~pre1")
_ALPHABET = "0123456789aAzZ.+~-:^_"


def _mutate(
    rng: random.Random, text: str, tails: tuple[str, ...], marks: str, revisions: tuple[str, ...]
) -> str:
    """A string one small edit away from ``text``."""
    i = rng.randint(0, len(text))
    r = rng.random()
    if r < 0.2:
        return text + rng.choice(tails)
    if r < 0.35:
        return text[:i] + rng.choice(marks) + text[i:]  # a tilde/caret at any position
    if r < 0.45:
        return text[:i] + "0" + text[i:]
    if r < 0.55 and len(text) > 1:
        return text[:i] + text[i + 1 :]
    if r < 0.65:
        return text[:i] + rng.choice(_ALPHABET) + text[i + 1 :]
    if r < 0.75:
        base, hyphen, _revision = text.rpartition("-")
        return (base if hyphen else text) + "-" + rng.choice(revisions)
    if r < 0.82:
        return text.partition(":")[2] if ":" in text[:12] else rng.choice(("0:", "1:")) + text
    if r < 0.9:
        return text.replace("1", "01", 1) if "1" in text else text + "1"
    digits = [j for j, c in enumerate(text) if c.isdigit()]
    if not digits:
        return text + "1"
    j = rng.choice(digits)
    return text[:j] + str((int(text[j]) + rng.choice((1, 9))) % 10) + text[j + 1 :]


def _pairs(
    rng: random.Random,
    count: int,
    make: Callable[[random.Random], str],
    tails: tuple[str, ...],
    marks: str,
    revisions: tuple[str, ...],
) -> list[Pair]:
    pairs: list[Pair] = []
    while len(pairs) < count:
        a = make(rng)
        r = rng.random()
        if r < 0.04:
            b = a
        elif r < 0.2:
            b = make(rng)
        else:
            b = a
            for _ in range(1 if rng.random() < 0.7 else 2):
                b = _mutate(rng, b, tails, marks, revisions)
        if not b or " " in b:
            continue
        pairs.append((a, b) if rng.random() < 0.5 else (b, a))
    return pairs


_APK_REVISIONS = ("r0", "r1", "r01", "r10", "r")

# Cases that once hid: a revision of 0 against 0 followed by a tilde.
DPKG_ANCHORS: tuple[Pair, ...] = (
    ("528.0.0-0", "528.0.0-0~pre1"),
    ("1.0-0", "1.0-0~pre1"),
    ("6.02-1", "6.02-1~pre1"),
)


def dpkg_pairs(count: int, seed: int) -> list[Pair]:
    """``count`` seeded dpkg pairs, the anchors first."""
    rng = random.Random(seed)
    anchors = list(DPKG_ANCHORS[:count])
    return anchors + _pairs(
        rng, count - len(anchors), dpkg_version, _DPKG_TAILS, "~", _DPKG_REVISIONS
    )


def rpm_pairs(count: int, seed: int, evr: bool = True) -> list[Pair]:
    """``count`` seeded rpm pairs: EVR strings, or bare version strings if not ``evr``."""
    make = rpm_evr if evr else rpm_string
    return _pairs(random.Random(seed), count, make, _RPM_TAILS, "~^", _RPM_RELEASES)


def apk_pairs(count: int, seed: int) -> list[Pair]:
    """``count`` seeded apk pairs."""
    return _pairs(random.Random(seed), count, apk_version, _APK_TAILS, "._", _APK_REVISIONS)


# ------------------------------------------------------------------ labellers

# One sh process reads every pair and calls dpkg per pair: no per-pair Python
# subprocess overhead, and nothing is ever interpolated into a shell string.
# "--" keeps a version starting with "-" from being read as an option.
_DPKG_LOOP = r"""
while IFS=' ' read -r a b; do
  if dpkg --compare-versions -- "$a" lt "$b" 2>/dev/null; then echo '<'
  else rc=$?
    if [ "$rc" -ne 1 ]; then echo E
    elif dpkg --compare-versions -- "$a" eq "$b" 2>/dev/null; then echo '='
    else echo '>'; fi
  fi
done
"""


def dpkg_version_line() -> str:
    return subprocess.run(
        ["dpkg", "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]


def label_dpkg(pairs: list[Pair]) -> list[str]:
    """``<``, ``=``, ``>`` or ``E`` (dpkg refuses a version) per pair, from real dpkg."""
    stdin = "".join(f"{a} {b}\n" for a, b in pairs)
    out = subprocess.run(
        ["sh", "-c", _DPKG_LOOP], input=stdin, capture_output=True, text=True, check=True
    ).stdout.split()
    if len(out) != len(pairs):
        raise RuntimeError(f"dpkg labelled {len(out)} of {len(pairs)} pairs")
    return out


def librpmio() -> ctypes.CDLL | None:
    """librpmio with ``rpmvercmp``/``rpmverCmp`` typed, or None when rpm is not installed."""
    name = ctypes.util.find_library("rpmio") or next(
        iter(sorted(glob.glob("/usr/lib/*/librpmio.so*") + glob.glob("/usr/lib64/librpmio.so*"))),
        None,
    )
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.rpmvercmp.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.rpmvercmp.restype = ctypes.c_int
    lib.rpmverParse.argtypes = [ctypes.c_char_p]
    lib.rpmverParse.restype = ctypes.c_void_p
    lib.rpmverCmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.rpmverCmp.restype = ctypes.c_int
    lib.rpmverFree.argtypes = [ctypes.c_void_p]
    lib.rpmverFree.restype = ctypes.c_void_p
    return lib


def sign(n: int) -> str:
    return "<" if n < 0 else "=" if n == 0 else ">"


def label_rpm_evr(lib: ctypes.CDLL, pairs: list[Pair]) -> list[str]:
    """librpm's ``rpmverCmp`` of ``rpmverParse``'d EVRs, per pair."""
    out = []
    for a, b in pairs:
        pa, pb = lib.rpmverParse(a.encode()), lib.rpmverParse(b.encode())
        try:
            out.append(sign(lib.rpmverCmp(pa, pb)))
        finally:
            lib.rpmverFree(pa)
            lib.rpmverFree(pb)
    return out


def label_rpmvercmp(lib: ctypes.CDLL, pairs: list[Pair]) -> list[str]:
    """librpm's ``rpmvercmp`` of two version strings, per pair."""
    return [sign(lib.rpmvercmp(a.encode(), b.encode())) for a, b in pairs]


# apk-tools is not packaged for Debian, but its comparator is one C file with
# no dependencies beyond two small headers: compile it from an apk-tools
# source tree (``git archive v2.14.9 src``) with stand-ins for those headers.
_APK_BLOB_H = r"""
#include <string.h>
#include <stdint.h>
struct apk_blob { long len; char *ptr; };
typedef struct apk_blob apk_blob_t;
#define APK_BLOB_NULL ((apk_blob_t){0, NULL})
#define APK_BLOB_IS_NULL(blob) ((blob).ptr == NULL)
static inline apk_blob_t APK_BLOB_STR(const char *s)
{ return s ? (apk_blob_t){strlen(s), (char *)s} : APK_BLOB_NULL; }
"""
_APK_DEFINES_H = "#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))\n#define FALSE 0\n"
_APK_MAIN_C = r"""
#include <stdio.h>
#include "apk_version.h"
int main(void)
{
    static char a[4096], b[4096];
    while (scanf("%4095s %4095s", a, b) == 2)
        printf("%s\n", apk_version_op_string(apk_version_compare(a, b)));
    return 0;
}
"""


def label_apk(src: Path, pairs: list[Pair], workdir: Path) -> list[str]:
    """apk-tools' own ``apk_version_compare`` (compiled from ``src``) per pair."""
    for name in ("version.c", "apk_version.h"):
        (workdir / name).write_bytes((src / name).read_bytes())
    (workdir / "apk_blob.h").write_text(_APK_BLOB_H)
    (workdir / "apk_defines.h").write_text(_APK_DEFINES_H)
    (workdir / "main.c").write_text(_APK_MAIN_C)
    binary = workdir / "apk-version-test"
    subprocess.run(
        ["cc", "-O2", "-w", "-o", str(binary), "main.c", "version.c"], cwd=workdir, check=True
    )
    out = subprocess.run(
        [str(binary)], input="".join(f"{a} {b}\n" for a, b in pairs), capture_output=True,
        text=True, check=True,
    ).stdout.split()  # fmt: skip
    if len(out) != len(pairs):
        raise RuntimeError(f"apk-tools labelled {len(out)} of {len(pairs)} pairs")
    return out


def rpm_version_line() -> str:
    return subprocess.run(
        ["rpm", "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


# ------------------------------------------------------------------ corpus files


def read_corpus(path: Path) -> list[tuple[str, str, str]]:
    """``(a, b, label)`` rows of a recorded corpus (``#`` lines are its header)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            a, b, label = line.split("\t")
            rows.append((a, b, label))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("dpkg", "rpm", "rpmvercmp", "apk"))
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--apk-tools", type=Path, metavar="SRC", help="apk-tools src/ folder (for apk)"
    )
    parser.add_argument("--apk-tools-version", default="", help="its tag, for the header")
    args = parser.parse_args(argv)
    command = f"tools/version_corpus.py {args.kind} --count {args.count} --seed {args.seed}"
    if args.kind == "apk":
        if args.apk_tools is None:
            parser.error("apk needs --apk-tools SRC (an apk-tools 2.x src/ folder)")
        command += f" --apk-tools SRC --apk-tools-version {args.apk_tools_version}"
        pairs = apk_pairs(args.count, args.seed)
        with tempfile.TemporaryDirectory() as tmp:
            labels = label_apk(args.apk_tools, pairs, Path(tmp))
        header = [
            "a\tb\tapk-tools apk_version_compare(a, b): < = >",
            f"labelled by apk-tools {args.apk_tools_version} src/version.c, compiled as is",
        ]
    elif args.kind == "dpkg":
        pairs = dpkg_pairs(args.count, args.seed)
        labels = label_dpkg(pairs)
        header = [
            "a\tb\tdpkg --compare-versions: < = >, or E when dpkg refuses a version",
            f"labelled by {dpkg_version_line()}",
        ]
    else:
        lib = librpmio()
        if lib is None:
            parser.error("librpmio not found (tools/system-deps.sh installs rpm)")
        evr = args.kind == "rpm"
        pairs = rpm_pairs(args.count, args.seed, evr=evr)
        labels = label_rpm_evr(lib, pairs) if evr else label_rpmvercmp(lib, pairs)
        what = "rpmverCmp(rpmverParse(a), rpmverParse(b))" if evr else "rpmvercmp(a, b)"
        header = [f"a\tb\tlibrpm {what}: < = >", f"labelled by {rpm_version_line()} (librpmio)"]
    header.append(f"generated by {command}")
    out = sys.stdout
    for line in header:
        out.write(f"# {line}\n")
    for (a, b), label in zip(pairs, labels, strict=True):
        out.write(f"{a}\t{b}\t{label}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
