"""Command defaults from a TOML file: ``civiscan.toml`` here, else the user's config file.

The file holds one table per command (``[scan]``, ``[hosts.enrol]``) whose keys are the
command's long option names (``fail-on = "high"``). It becomes click's ``default_map``,
so a flag on the command line, then a ``CIVISCAN_*`` environment variable, win over it.
Every key and value is checked against the command's options here, so a mistake is a
``file:line:col`` error before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from .errors import ConfigError, ConfigProblem, Position
from .options import suggest
from .yamlpos import read_bytes

FILE_NAME = "civiscan.toml"
_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def find_config(explicit: str | None, cwd: Path, env: Mapping[str, str]) -> Path | None:
    """``--config``, else ``./civiscan.toml``, else ``$XDG_CONFIG_HOME/civiscan/config.toml``."""
    if explicit:
        return Path(explicit)
    if (cwd / FILE_NAME).is_file():
        return Path(FILE_NAME) if cwd == Path.cwd() else cwd / FILE_NAME
    # The XDG base directory rule: an unset, empty or relative value means ~/.config.
    base = env.get("XDG_CONFIG_HOME", "")
    home = Path(base) if base and Path(base).is_absolute() else Path(env.get("HOME", "~")).expanduser() / ".config"
    user = home / "civiscan" / "config.toml"
    return user if user.is_file() else None


def _locate(text: str, table: tuple[str, ...], key: str | None) -> tuple[int, int]:
    """Line and column of ``key`` in ``[table]`` (or of the table's header); (0, 0) if not found."""
    current: tuple[str, ...] = ()
    header = re.compile(r"\s*\[\s*([^\]]+?)\s*\]")
    for number, line in enumerate(text.splitlines(), 1):
        found = header.match(line)
        if found:
            current = tuple(part.strip().strip('"') for part in found.group(1).split("."))
            if key is None and current[: len(table)] == table:
                return number, found.start(1) + 1
            continue
        if key is not None and current == table:
            assigned = re.match(rf"\s*\"?{re.escape(key)}\"?\s*=", line)
            if assigned:
                return number, len(line) - len(line.lstrip()) + 1
    return 0, 0


def _option_names(command: click.Command, ctx: click.Context) -> dict[str, click.Parameter]:
    names: dict[str, click.Parameter] = {}
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and param.expose_value and param.name != "help":
            for opt in param.opts:
                if opt.startswith("--"):
                    names[opt[2:]] = param
    return names


def _command_defaults(
    command: click.Command, table: Mapping[str, Any], where: tuple[str, ...], path: str, text: str,
    problems: list[ConfigProblem], parent: click.Context,
) -> dict[str, Any]:
    ctx = click.Context(command, info_name=where[-1], parent=parent)
    options = _option_names(command, ctx)
    defaults: dict[str, Any] = {}

    def problem(key: str | None, message: str, table_path: tuple[str, ...] = where) -> None:
        problems.append(ConfigProblem(Position(path, *_locate(text, table_path, key)), message))

    for key, value in table.items():
        sub = command.get_command(ctx, key) if isinstance(command, click.Group) else None
        if sub is not None and isinstance(value, dict):
            defaults[key] = _command_defaults(sub, value, (*where, key), path, text, problems, ctx)
            continue
        param = options.get(key)
        if param is None or param.name is None:
            problem(key, f"'{' '.join(where)}' has no option --{key}{suggest(key, options)}")
            continue
        if param.multiple and not isinstance(value, list):
            value = [value]
        try:
            param.type_cast_value(ctx, value)
        except click.BadParameter as exc:
            problem(key, f"--{key}: {exc.message}")
            continue
        defaults[param.name] = value
    return defaults


def load_defaults(path: Path, root: click.Group, ctx: click.Context) -> dict[str, Any]:
    """The ``default_map`` that ``path`` gives the commands of ``root``; ConfigError listing every problem."""
    import tomllib  # only when a config file is found

    name = str(path)
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise ConfigError.at(Position(name), f"not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _AT.search(message)
        line, col = (int(at.group(1)), int(at.group(2))) if at else (0, 0)
        raise ConfigError.at(Position(name, line, col), _AT.sub("", message)) from None
    problems: list[ConfigProblem] = []
    defaults: dict[str, Any] = {}
    for key, value in data.items():
        command = root.get_command(ctx, key)
        if command is None or not isinstance(value, dict):
            what = f"unknown command [{key}]" if command is None else f"'{key}' must be a table, [{key}]"
            spot = _locate(text, (key,), None) if isinstance(value, dict) else _locate(text, (), key)
            if command is None:
                what += suggest(key, root.list_commands(ctx))
            problems.append(ConfigProblem(Position(name, *spot), what))
            continue
        defaults[key] = _command_defaults(command, value, (key,), name, text, problems, ctx)
    if problems:
        raise ConfigError(problems)
    return defaults
