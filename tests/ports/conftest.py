"""Fixtures of the ports tests: loopback labs of listeners.

The lab (bench/ports/lab.py, shared with the benchmark) binds only to
127.0.31.x and ::1. Ports are chosen by the kernel (bind to port 0, so they
fall in the high ephemeral range) plus a few fixed low ports when free.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_LAB_PATH = Path(__file__).resolve().parents[2] / "bench" / "ports" / "lab.py"
_spec = importlib.util.spec_from_file_location("civiscan_port_lab", _LAB_PATH)
assert _spec is not None and _spec.loader is not None
lab_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lab_module)
Lab: Any = lab_module.Lab

HOSTS = tuple(f"127.0.31.{i}" for i in range(1, 6))
LOW_PORTS = {1: (21, 80), 2: (23, 443), 3: (25,), 4: (110, 143), 5: ()}


@dataclass
class LabHost:
    address: str
    open: set[int] = field(default_factory=set)  # open or mute: both accept connections
    mute: set[int] = field(default_factory=set)
    dropped: set[int] = field(default_factory=set)


@pytest.fixture(scope="session")
def lab() -> Iterator[list[LabHost]]:
    """Five loopback hosts (127.0.31.1-5) with different open, mute and dropped ports."""
    hosts: list[LabHost] = []
    with Lab() as the_lab:
        for i, address in enumerate(HOSTS, start=1):
            host = LabHost(address)
            hosts.append(host)
            for port in LOW_PORTS[i]:
                try:
                    host.open.add(the_lab.open(address, port))
                except OSError:  # taken by a wildcard listener of someone else
                    pass
            for _ in range(i + 1):
                host.open.add(the_lab.open(address))
            mute = the_lab.mute(address)
            host.open.add(mute)
            host.mute.add(mute)
            host.dropped.add(the_lab.dropped(address))
        yield hosts


@pytest.fixture
def new_lab() -> Iterator[Lab]:
    """A private lab for one test (closed afterwards)."""
    with Lab() as the_lab:
        yield the_lab
