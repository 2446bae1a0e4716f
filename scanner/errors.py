"""Errors a user can act on, and the exit codes of the command line."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    COMPLIANT = 0
    FAILURES = 1
    CONFIG = 2  # usage or configuration: fix the command line, policy or inventory
    INCOMPLETE = 3
    INTERNAL = 70  # EX_SOFTWARE: a bug in civiscan or a plugin, never the user's input
    OUTPUT = 74  # EX_IOERR: the scan finished (results stored) but an output could not be written
    INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Position:
    """1-based line and column in a file."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.col}"
        return self.path


@dataclass(frozen=True, order=True)
class ConfigProblem:
    where: Position
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ConfigError(Exception):
    """One or more problems in a policy, inventory or option: printed, exit 2."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(cls, where: Position, message: str) -> ConfigError:
        return cls([ConfigProblem(where, message)])
