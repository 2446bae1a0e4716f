"""YAML loading that remembers where every key and item came from, within firm limits.

``yaml.safe_load`` forgets positions, so a policy error could only say "somewhere
in the file". This loader constructs exactly what safe_load would (PyYAML's
SafeConstructor: no Python object tags) but returns ``PosDict`` / ``PosList``
containers that know the line and column of their keys and items.
Duplicate keys, which safe_load silently collapses, are reported. Text is
parsed by libyaml's C parser when PyYAML has it, else by PyYAML's pure-Python
one; whatever the C path cannot compose is read again on the pure-Python path,
so both give the same data, positions and errors.

Policies arrive in pull requests and may name other files (``extends:``), so a
file is hostile until proven otherwise. Reading and parsing are bounded:

* only regular files are read, and at most :data:`MAX_BYTES` of them, so a
  device (``/dev/zero``), a FIFO or a directory is refused instead of read for
  ever or waited on;
* at most :data:`MAX_ALIASES` alias references and :data:`MAX_NODES` nodes
  once every alias is expanded, so an alias bomb ("billion laughs") is refused
  before anything walks the expanded tree;
* at most :data:`MAX_DEPTH` levels of nesting, counted through aliases, so no
  recursive code (PyYAML's own, the readers, JSON) can run out of stack;
* before anything is constructed, the top level must have the shape the caller
  expects, so a file that is not a civiscan document (``/etc/shadow``, an
  ``.env``) is refused without quoting any of it, and every excerpt an error
  quotes is short and has its control characters escaped (:func:`quote`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import reprlib
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, ConfigProblem, Position

# A shipped policy is about 10 KiB and an inventory of 10,000 assets about
# 600 KiB. Parsing is the cost: the worst 1 MiB file (a flow list of 520,000
# one-character items) takes about 2.5 s of CPU and 210 MB with libyaml's
# parser, 30 s and 480 MB on the pure-Python path.
MAX_BYTES = 1024 * 1024
# Anchors share option blocks or SSH settings; a real file has tens of aliases.
MAX_ALIASES = 10_000
# A 1 MiB file without aliases holds at most ~520,000 nodes; aliases may double
# that but never multiply it (a billion-laughs file expands to 10^9 and more).
MAX_NODES = 1_000_000
# Real documents nest fewer than 10 levels; 100 keeps PyYAML's recursive
# composer and constructor, and every reader after them, far from the stack limit.
MAX_DEPTH = 100
# How much of an input value an error message may quote; file names the
# document gives (extends:) are not file content and may be longer.
EXCERPT_CHARS = 40
PATH_CHARS = 200
# The longest integer scalar (with sign and underscores) we convert: PyYAML's
# base-60 form (1:2:3:...) costs quadratic time in its length.
MAX_INT_CHARS = 100

_excerpt_repr = reprlib.Repr()
_excerpt_repr.maxstring = EXCERPT_CHARS
_excerpt_repr.maxother = EXCERPT_CHARS
_excerpt_repr.maxlist = _excerpt_repr.maxtuple = _excerpt_repr.maxset = _excerpt_repr.maxdict = 4
_excerpt_repr.maxlevel = 2


# C0 controls (newline included), DEL, C1 controls (0x9b alone is a CSI to many
# terminals), and the bidirectional overrides and isolates that reorder what is shown.
UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What terminal output escapes (``scanner.output.inert``) and inventory free text may not hold."""


def unsafe_character(text: str) -> str | None:
    """The first character of ``text`` in :data:`UNSAFE_CHARACTERS`, as ``U+001B``; None if none."""
    found = UNSAFE_CHARACTERS.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def excerpt(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """A short, inert rendering of an input value for an error message.

    At most ``limit`` characters; control and other unprintable
    characters (ANSI escapes, bidi overrides) are written as ``\\x1b``-style
    escapes, so a message can neither leak a long secret nor drive a terminal.
    """
    text = value if isinstance(value, str) else _excerpt_repr.repr(value)
    out = escape(text[:limit])
    return out + "…" if len(text) > limit else out


def escape(text: str) -> str:
    """``text`` with every unprintable character written as a Python escape (``\x1b``)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def quote(value: Any, limit: int = EXCERPT_CHARS) -> str:
    """``'excerpt'``: an input value as error messages quote it."""
    return f"'{excerpt(value, limit)}'"


@dataclass(frozen=True)
class Shape:
    """What a document's top level must look like: a mapping with one of ``keys``."""

    what: str  # "policy", "inventory"
    keys: tuple[str, ...]

    def problem(self) -> str:
        names = [f"'{k}'" for k in self.keys]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return f"not a civiscan {self.what}: the top level must be a mapping with {listed}"


@dataclass(frozen=True)
class Document:
    """A parsed file and the SHA-256 of exactly the bytes it was parsed from."""

    data: Any
    digest: str


class PosDict(dict[str, Any]):
    """A mapping whose keys remember their position (``key_pos``/``value_pos``)."""

    path: str = ""
    start: tuple[int, int] = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.key_positions: dict[Any, tuple[int, int]] = {}
        self.value_positions: dict[Any, tuple[int, int]] = {}

    def here(self) -> Position:
        return Position(self.path, *self.start)

    def key_pos(self, key: Any) -> Position:
        return Position(self.path, *self.key_positions.get(key, self.start))

    def value_pos(self, key: Any) -> Position:
        return Position(self.path, *self.value_positions.get(key, self.start))


class PosList(list[Any]):
    path: str = ""
    start: tuple[int, int] = (0, 0)

    def __init__(self) -> None:
        super().__init__()
        self.item_positions: list[tuple[int, int]] = []

    def here(self) -> Position:
        return Position(self.path, *self.start)

    def item_pos(self, index: int) -> Position:
        if 0 <= index < len(self.item_positions):
            return Position(self.path, *self.item_positions[index])
        return self.here()


def pos_of(container: Any, key: Any = None, *, value: bool = True) -> Position:
    """Best position for ``container[key]`` (or the container itself)."""
    if isinstance(container, PosDict):
        if key is None:
            return container.here()
        return container.value_pos(key) if value else container.key_pos(key)
    if isinstance(container, PosList):
        return container.here() if key is None else container.item_pos(key)
    return Position("")


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Limit(yaml.MarkedYAMLError):
    """A document exceeds one of the loader's limits (not a syntax error)."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class _Constructor(yaml.constructor.SafeConstructor):
    """SafeLoader's construction, into :class:`PosDict` / :class:`PosList`, with duplicates reported."""

    source_path = ""
    duplicates: list[ConfigProblem]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            # PyYAML's scalar constructors raise bare exceptions for values an
            # explicit tag forces on them (!!int abc, !!bool maybe, !!timestamp x).
            raise yaml.constructor.ConstructorError(
                None, None, f"this value is not a valid {_tag_name(node.tag)}", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> PosDict:  # type: ignore[override]
        if not isinstance(node, yaml.MappingNode):
            raise yaml.constructor.ConstructorError(None, None, "expected a mapping here", node.start_mark)
        self.flatten_mapping(node)
        result = PosDict()
        result.path = self.source_path
        result.start = _mark(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found an unhashable key",
                    key_node.start_mark,
                ) from None
            if key in result:
                line, col = _mark(key_node)
                self.duplicates.append(
                    ConfigProblem(
                        Position(self.source_path, line, col),
                        f"duplicate key {quote(key)} (first at line {result.key_positions[key][0]})",
                    )
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_positions.setdefault(key, _mark(key_node))
            result.value_positions[key] = _mark(value_node)
        return result

    def construct_sequence(self, node: yaml.Node, deep: bool = False) -> PosList:  # type: ignore[override]
        if not isinstance(node, yaml.SequenceNode):
            raise yaml.constructor.ConstructorError(None, None, "expected a list here", node.start_mark)
        result = PosList()
        result.path = self.source_path
        result.start = _mark(node)
        for child in node.value:
            result.append(self.construct_object(child, deep=True))
            result.item_positions.append(_mark(child))
        return result

    def construct_yaml_int(self, node: yaml.Node) -> int:  # type: ignore[override]
        if isinstance(node, yaml.ScalarNode) and len(node.value) > MAX_INT_CHARS:
            raise yaml.constructor.ConstructorError(
                None, None, f"integer longer than {MAX_INT_CHARS} characters", node.start_mark
            )
        return int(super().construct_yaml_int(node))  # type: ignore[no-untyped-call]

    def construct_undefined(self, node: yaml.Node) -> Any:  # type: ignore[override]
        tag = "!!" + node.tag.removeprefix("tag:yaml.org,2002:") if node.tag.startswith("tag:yaml.org,2002:") else node.tag
        raise yaml.constructor.ConstructorError(
            None, None, f"unsupported tag {quote(tag)} (plain YAML only)", node.start_mark
        )


def _tag_name(tag: str) -> str:
    short = tag.removeprefix("tag:yaml.org,2002:")
    return short if short in ("int", "float", "bool", "null", "timestamp", "binary") else "value of its tag"


def _timestamp(loader: _Constructor, node: yaml.ScalarNode) -> Any:
    # An impossible date (2026-13-45) would raise a bare ValueError with no
    # position; keep the text so the reader reports it where it stands.
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)  # type: ignore[no-untyped-call]
    except ValueError:
        return loader.construct_scalar(node)


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)  # type: ignore[arg-type]
_Constructor.add_constructor("tag:yaml.org,2002:map", _Constructor.construct_mapping)  # type: ignore[arg-type]
_Constructor.add_constructor("tag:yaml.org,2002:seq", _Constructor.construct_sequence)  # type: ignore[arg-type]
_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)  # type: ignore[arg-type]
_Constructor.add_constructor(None, _Constructor.construct_undefined)  # type: ignore[arg-type]


class _Loader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
    _Constructor, yaml.resolver.Resolver,
):
    """The pure-Python loader: PyYAML's SafeLoader with the limits checked while composing."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.aliases = 0
        self.depth = 0
        # (expanded node count, expanded height) per composed node, by id; a
        # node being composed has no entry yet, which is how a recursive alias
        # (an alias inside its own anchor) shows.
        self.sizes: dict[int, tuple[int, int]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Limit(f"more than {MAX_ALIASES} aliases", event.start_mark)
            node: yaml.Node = super().compose_node(parent, index)  # type: ignore[no-untyped-call]
            if id(node) not in self.sizes:
                raise _Limit("an alias inside its own anchor (a recursive structure)", event.start_mark)
            return node
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Limit(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        node = super().compose_node(parent, index)  # type: ignore[no-untyped-call]
        self.depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        count, height = 1, 1
        for child in children:
            child_count, child_height = self.sizes[id(child)]
            count += child_count
            height = max(height, child_height + 1)
        if count > MAX_NODES:
            raise _Limit(
                f"expands to more than {MAX_NODES:,} nodes (aliases repeat what they refer to)",
                node.start_mark,
            )
        if height > MAX_DEPTH:
            raise _Limit(f"nested more than {MAX_DEPTH} levels deep once aliases are expanded", node.start_mark)
        self.sizes[id(node)] = (count, height)
        return node



def _top_level_fits(node: yaml.Node | None, shape: Shape) -> bool:
    return isinstance(node, yaml.MappingNode) and any(
        isinstance(key, yaml.ScalarNode) and key.value in shape.keys for key, _ in node.value
    )


def _syntax_problem(exc: yaml.MarkedYAMLError) -> str:
    """PyYAML's description of a syntax error, without the input it quotes.

    The file may not be YAML at all (a key file named in ``extends:``), so its
    content stays out of the message; a quoted lone punctuation or whitespace
    character (``'\\t'``, ``'@'``) is kept because it says what to fix.
    """
    what = exc.problem or exc.context or "invalid YAML"

    def keep_hint(match: re.Match[str]) -> str:
        inner = match.group(0)[1:-1]
        if inner in _HINTS or (len(inner) == 1 and not inner.isalnum()) or _TOKEN.fullmatch(inner):
            return match.group(0)
        return ""

    return " ".join(_QUOTED.sub(keep_hint, what).split())


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_TOKEN = re.compile(r"<[a-z ]+>")  # PyYAML's token names: '<block end>', '<scalar>'
_HINTS = ("\\t", "\\n", "\\r")


LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False))
"""Whether PyYAML has libyaml's C parser; without it every file takes the pure-Python path."""


class _Fallback(Exception):
    """The C path met something only the pure-Python path words exactly (any error or limit)."""


def _compose_c(text: str) -> yaml.Node | None:
    """The single document of ``text`` as nodes, from libyaml's events, with the loader's limits.

    Composition is a loop over an explicit stack, so no nesting can exhaust a
    stack. It raises :class:`_Fallback` on any syntax error, undefined,
    duplicate or recursive anchor, second document or limit (never more
    lenient than :meth:`_Loader.compose_node`): :func:`load_text` then
    parses the text again on the pure-Python path, which says what is wrong
    in exactly its words and at its position. Nodes carry the same tags,
    values and start marks as the pure-Python composer's.
    """
    parser = yaml._yaml.CParser(text)
    resolve = _RESOLVER.resolve
    get_event = parser.get_event
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    seq_start, map_start = yaml.SequenceStartEvent, yaml.MappingStartEvent
    scalar_node, seq_node, map_node = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
    anchors: dict[str, yaml.Node] = {}
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (expanded count, height), once composed
    # One frame per open collection: [node, count, height, anchor, pending mapping key].
    stack: list[list[Any]] = []
    aliases = 0
    root: yaml.Node | None = None
    try:
        get_event()  # StreamStartEvent
        event = get_event()
        if isinstance(event, yaml.StreamEndEvent):
            return None
        while True:
            event = get_event()
            kind = type(event)
            if kind is alias_event:
                aliases += 1
                size = sizes.get(event.anchor)
                if aliases > MAX_ALIASES or size is None:
                    raise _Fallback
                node: yaml.Node = anchors[event.anchor]
                count, height = size
            elif kind is scalar_event or kind is seq_start or kind is map_start:
                anchor = event.anchor
                if len(stack) >= MAX_DEPTH or (anchor is not None and anchor in anchors):
                    raise _Fallback
                tag = event.tag
                if kind is scalar_event:
                    if tag is None or tag == "!":
                        tag = resolve(scalar_node, event.value, event.implicit)
                    # No end mark: nothing reads it, and a 1 MiB flow list holds 520,000 scalars.
                    node = scalar_node(tag, event.value, event.start_mark, None, style=event.style)
                    if anchor is not None:
                        anchors[anchor] = node
                        sizes[anchor] = (1, 1)
                    count, height = 1, 1
                else:
                    cls = seq_node if kind is seq_start else map_node
                    if tag is None or tag == "!":
                        tag = resolve(cls, None, event.implicit)
                    node = cls(tag, [], event.start_mark, None, flow_style=event.flow_style)
                    if anchor is not None:
                        anchors[anchor] = node
                    stack.append([node, 1, 1, anchor, None])
                    continue
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                node, count, height, anchor, _ = stack.pop()
                node.end_mark = event.end_mark
                if count > MAX_NODES or height > MAX_DEPTH:
                    raise _Fallback
                if anchor is not None:
                    sizes[anchor] = (count, height)
            else:  # pragma: no cover - libyaml sends no other event inside a document
                raise _Fallback
            if not stack:
                root = node
                break
            frame = stack[-1]
            frame[1] += count
            frame[2] = max(frame[2], height + 1)
            parent = frame[0]
            if parent.__class__ is seq_node:
                parent.value.append(node)
            elif frame[4] is None:
                frame[4] = node
            else:
                parent.value.append((frame[4], node))
                frame[4] = None
        get_event()  # DocumentEndEvent
        if not isinstance(get_event(), yaml.StreamEndEvent):
            raise _Fallback  # a second document: the pure-Python path refuses it in its words
    except (yaml.YAMLError, KeyError) as exc:
        raise _Fallback from exc
    finally:
        parser.dispose()
    return root


class _Builder(_Constructor, yaml.resolver.Resolver):
    """Constructs the C path's nodes exactly as :class:`_Loader` constructs its own."""

    def __init__(self) -> None:
        _Constructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


_RESOLVER = yaml.resolver.Resolver()


def load_text(text: str, path: str, shape: Shape, *, libyaml: bool | None = None) -> Any:
    """Parse YAML text whose top level has ``shape``; raise ConfigError with file:line:col.

    With libyaml (:data:`LIBYAML`, or ``libyaml=True``) the text is parsed in C
    and composed by :func:`_compose_c`; a text it does not compose, or one
    with characters PyYAML's reader refuses, takes the pure-Python path,
    which gives every error its position and words. Both paths give the same
    data and positions, and the same errors.
    """
    use_c = LIBYAML if libyaml is None else libyaml
    if use_c and not yaml.reader.Reader.NON_PRINTABLE.search(text):
        try:
            node = _compose_c(text)
        except _Fallback:
            pass
        else:
            builder = _Builder()
            builder.source_path = path
            builder.duplicates = []
            return _construct(builder, node, path, shape, text)
    try:
        # The reader refuses unprintable characters as soon as it is made.
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise _unprintable(exc, text, path) from None
    loader.source_path = path
    loader.duplicates = []
    try:
        return _construct(loader, None, path, shape, text)
    finally:
        loader.dispose()


def _construct(builder: _Constructor, node: yaml.Node | None, path: str, shape: Shape, text: str) -> Any:
    """Check the top level of ``node`` (composed by ``builder`` when None) and construct it."""
    try:
        if isinstance(builder, _Loader):
            node = builder.get_single_node()
        if node is None:
            raise ConfigError.at(Position(path, 1, 1), "file holds no YAML document")
        if not _top_level_fits(node, shape):
            raise ConfigError.at(Position(path, *_mark(node)), shape.problem())
        data = builder.construct_document(node)
    except _Limit as exc:
        assert exc.problem_mark is not None
        where = Position(path, exc.problem_mark.line + 1, exc.problem_mark.column + 1)
        raise ConfigError.at(where, f"refused: {exc.problem}") from None
    except yaml.constructor.ConstructorError as exc:
        # The top level has the expected shape: quoting a short excerpt (a tag) is safe.
        mark = exc.problem_mark or exc.context_mark
        where = Position(path, mark.line + 1, mark.column + 1) if mark else Position(path)
        raise ConfigError.at(where, exc.problem or exc.context or "cannot read this value") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(path, mark.line + 1, mark.column + 1) if mark else Position(path)
        raise ConfigError.at(where, f"YAML syntax error: {_syntax_problem(exc)}") from None
    except yaml.reader.ReaderError as exc:
        raise _unprintable(exc, text, path) from None
    if builder.duplicates:
        raise ConfigError(builder.duplicates)
    return data


def _unprintable(exc: yaml.reader.ReaderError, text: str, path: str) -> ConfigError:
    line = text.count("\n", 0, exc.position) + 1
    col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return ConfigError.at(Position(path, line, col), f"character U+{char:04X} is not allowed in YAML")


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_BYTES`; ConfigError otherwise.

    ``stat`` first, so a device, FIFO or directory is refused without opening
    it; then open with ``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block
    the open) and check ``fstat`` of what was actually opened. Symbolic links
    are followed on purpose (a policy may be a link into a shared checkout); the
    object at their end is what is checked. At most MAX_BYTES + 1 bytes are read.
    """
    name = str(path)
    where = Position(name)
    limit = f"file is larger than {MAX_BYTES // 1024 // 1024} MiB"
    try:
        info = os.stat(name)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError.at(where, f"{_kind_of(info.st_mode)}, not a YAML file")
        if info.st_size > MAX_BYTES:
            raise ConfigError.at(where, limit)
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError.at(where, "file not found") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError.at(where, "symbolic link loop") from None
        raise ConfigError.at(where, f"cannot read: {exc.strerror}") from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise ConfigError.at(where, f"{_kind_of(opened.st_mode)}, not a YAML file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError.at(where, f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise ConfigError.at(where, limit)
    return b"".join(chunks)


def load_bytes(raw: bytes, name: str, shape: Shape) -> Document:
    """Parse one YAML file's bytes, refusing empty, binary or non-UTF-8 input."""
    digest = hashlib.sha256(raw).hexdigest()
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ConfigError.at(Position(name, line, 1), "binary data (NUL byte), not a YAML text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError.at(
            Position(name, line, col), f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})"
        ) from None
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise ConfigError.at(Position(name, 1, 1), "file is empty")
    return Document(load_text(text, name, shape), digest)


def load_file(path: str | Path, shape: Shape) -> Document:
    """Read (bounded) and parse one YAML file whose top level has ``shape``."""
    return load_bytes(read_bytes(path), str(path), shape)


def either(shapes: Sequence[Shape]) -> Shape:
    """A shape any of ``shapes`` satisfies (``civiscan validate`` takes either kind)."""
    return Shape(" or ".join(s.what for s in shapes), tuple(k for s in shapes for k in s.keys))
