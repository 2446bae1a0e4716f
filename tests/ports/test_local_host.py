"""A port check judges what the network sees: it does not apply to ``host: local``."""

from __future__ import annotations

import asyncio

from scanner.engine import run_job
from scanner.evaluate import _run_check
from scanner.models import Asset, AssetKind, SSHSettings, Status
from scanner.plugin import load_registry
from scanner.plugins.ports.checks import ALLOWED, FORBIDDEN

LOCAL = Asset(id="it/self", name="self", kind=AssetKind.HOST, department="it", address="local",
              ssh=SSHSettings(transport="local"))
REMOTE = Asset(id="it/db", name="db", kind=AssetKind.HOST, department="it", address="127.0.0.1")


def test_port_checks_are_not_applicable_to_this_machine_seen_from_itself() -> None:
    for check in (ALLOWED, FORBIDDEN):
        result = _run_check(check.id, {}, LOCAL, {}, {}, {check.id: check})
        assert result.status is Status.NOT_APPLICABLE
        assert "host: local is this machine seen from itself" in result.message
        assert check.refusal(REMOTE) is None


def test_no_port_scan_is_attempted_for_a_local_host() -> None:
    job = {"asset": LOCAL.to_json(), "timeout": 1.0, "settings": {},
           "plugins": {"ports": [{"check": FORBIDDEN.id, "options": {"ports": [23]}}]}}
    out = asyncio.run(run_job(job, load_registry()))
    # Before, the plugin ran and its scope refusal ("local is outside ...") was stored as an error.
    assert out["facts"] == {} and out["errors"] == {}
