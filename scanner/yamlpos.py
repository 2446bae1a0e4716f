"""YAML loading that remembers where every key and item came from.

``yaml.safe_load`` forgets positions, so a policy error could only say "somewhere
in the file". This loader subclasses PyYAML's SafeLoader (so it constructs
exactly what safe_load would: no Python object tags) and returns ``PosDict`` /
``PosList`` containers that know the line and column of their keys and items.
Duplicate keys, which safe_load silently collapses, are reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, ConfigProblem, Position

MAX_BYTES = 5 * 1024 * 1024


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


class _Loader(yaml.SafeLoader):
    source_path = ""
    duplicates: list[ConfigProblem]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> PosDict:  # type: ignore[override]
        self.flatten_mapping(node)
        result = PosDict()
        result.path = self.source_path
        result.start = _mark(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
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
                        f"duplicate key '{key}' (first at line {result.key_positions[key][0]})",
                    )
                )
            result[key] = self.construct_object(value_node, deep=True)  # type: ignore[no-untyped-call]
            result.key_positions.setdefault(key, _mark(key_node))
            result.value_positions[key] = _mark(value_node)
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> PosList:  # type: ignore[override]
        result = PosList()
        result.path = self.source_path
        result.start = _mark(node)
        for child in node.value:
            result.append(self.construct_object(child, deep=True))  # type: ignore[no-untyped-call]
            result.item_positions.append(_mark(child))
        return result


def _timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    # An impossible date (2026-13-45) would raise a bare ValueError with no
    # position; keep the text so the reader reports it where it stands.
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[no-untyped-call]
    except ValueError:
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)  # type: ignore[arg-type]
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)  # type: ignore[arg-type]
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)  # type: ignore[arg-type]


def load_text(text: str, path: str) -> Any:
    """Parse YAML text; raise ConfigError with file:line:col on any problem."""
    loader = _Loader(text)
    loader.source_path = path
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(path, mark.line + 1, mark.column + 1) if mark else Position(path)
        what = exc.problem or exc.context or "invalid YAML"
        raise ConfigError.at(where, f"YAML syntax error: {what}") from None
    except yaml.YAMLError as exc:
        raise ConfigError.at(Position(path), f"YAML error: {exc}") from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError(loader.duplicates)
    return data


def load_file(path: str | Path) -> Any:
    """Read and parse one YAML file, refusing empty, binary, huge or non-UTF-8 input."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError.at(Position(name), "file not found") from None
    except IsADirectoryError:
        raise ConfigError.at(Position(name), "is a directory, not a YAML file") from None
    except OSError as exc:
        raise ConfigError.at(Position(name), f"cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError.at(Position(name), f"file is larger than {MAX_BYTES // 1024 // 1024} MiB")
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
    data = load_text(text, name)
    if data is None:
        raise ConfigError.at(Position(name, 1, 1), "file holds no YAML document")
    return data
