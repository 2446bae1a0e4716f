"""The fleet's pure parts on data, and the Redis semaphore against the real redis-server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.engine import Job, ScanSettings
from scanner.errors import ConfigError
from scanner.fleet import keys
from scanner.fleet.broker import BrokerConfig
from scanner.inventory import Scope, load_inventory, parse_scope_args
from scanner.models import Asset, AssetKind
from scanner.policy import RuleSet

from .conftest import civiscan


def test_a_broker_url_with_a_password_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        BrokerConfig.load("redis://:hunter2@127.62.0.1:6379/0", {})
    assert "CIVISCAN_BROKER_PASSWORD" in str(err.value.problems[0])
    assert "hunter2" not in str(err.value.problems[0])


@pytest.mark.parametrize(("url", "env", "message"), [
    (None, {}, "needs a broker"),
    ("amqp://127.62.0.1/", {}, "must be redis://"),
    ("redis://127.62.0.1:99999/0", {}, "broker URL"),
    ("redis://127.62.0.1/0", {"CIVISCAN_BROKER_CA_FILE": __file__}, "need a rediss://"),
    ("rediss://127.62.0.1/0", {"CIVISCAN_BROKER_CA_FILE": "/nonexistent/ca.pem"}, "file not found"),
    ("redis://127.62.0.1/0", {"CIVISCAN_BROKER_VISIBILITY_TIMEOUT": "soon"}, "number of seconds"),
])
def test_broker_problems_are_config_errors(url: str | None, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        BrokerConfig.load(url, env)
    assert message in str(err.value.problems[0])


def test_the_password_and_tls_come_from_the_environment_and_never_show() -> None:
    config = BrokerConfig.load(None, {"CIVISCAN_BROKER": "rediss://fleet@127.62.0.1:6380/2",
                                      "CIVISCAN_BROKER_PASSWORD": "s3cret", "CIVISCAN_BROKER_CA_FILE": __file__})
    assert config.password == "s3cret"
    assert config.ssl_options() == {"ssl_cert_reqs": __import__("ssl").CERT_REQUIRED, "ssl_ca_certs": __file__}
    assert "s3cret" not in repr(config) and "s3cret" not in config.url
    assert BrokerConfig.load("redis://127.62.0.1/0", {}).ssl_options() is None


def test_a_job_round_trips_through_json() -> None:
    asset = Asset("d/h", "h", AssetKind.HOST, "d", address="127.62.1.1", zone="dmz")
    job = Job.build(7, asset, RuleSet((), (), ()), ScanSettings(per_host=3, plugin_settings={"x": 1}),
                    parse_scope_args(["127.62.0.0/16"]))
    again = Job.from_json(__import__("json").loads(__import__("json").dumps(job.to_json())))
    assert again == job
    assert again.run_id == 7 and again.per_host == 3 and again.asset.zone == "dmz"
    assert isinstance(again.scope, Scope)


def test_queues_and_task_ids() -> None:
    assert keys.queue_for(None) == "civiscan"
    assert keys.queue_for("dmz") == "civiscan.zone.dmz"
    assert keys.task_id("a1", "d/h") == keys.task_id("a1", "d/h") != keys.task_id("a2", "d/h")


def _inventory(tmp_path: Path, text: str) -> str:
    path = tmp_path / "inventory.yaml"
    path.write_text(text)
    return str(path)


def test_zones_come_from_the_department_or_the_asset(tmp_path: Path) -> None:
    inv = load_inventory(_inventory(tmp_path, (
        "scope: {networks: [127.62.0.0/16]}\ndepartments:\n  parks:\n    zone: dmz\n    assets:\n"
        "      - {host: 127.62.1.1, name: a}\n      - {host: 127.62.1.2, name: b, zone: ot-net}\n"
        "  water:\n    assets:\n      - {host: 127.62.1.3, name: c}\n")))
    assert [a.zone for a in inv.assets] == ["dmz", "ot-net", None]
    assert "zone" not in inv.assets[2].to_json()  # runs without zones store what they always did


def test_a_bad_zone_is_a_positioned_error(tmp_path: Path) -> None:
    path = _inventory(tmp_path, (
        "scope: {networks: [127.62.0.0/16]}\ndepartments:\n  parks:\n    zone: DMZ!\n    assets:\n"
        "      - {host: 127.62.1.1, name: a, zone: 7}\n"))
    with pytest.raises(ConfigError) as err:
        load_inventory(path)
    shown = [str(p) for p in err.value.problems]
    assert any(s.startswith(f"{path}:4:11:") and "lower-case" in s for s in shown), shown
    assert any(s.startswith(f"{path}:6:") and "zone" in s for s in shown), shown


def test_the_cli_stays_free_of_celery() -> None:
    code = "import sys, scanner.cli; sys.exit(int(any(m.split('.')[0] in ('celery', 'kombu', 'redis') for m in sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_celery_engine_without_a_broker_stops_before_any_run(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k != "CIVISCAN_BROKER"}
    result = subprocess.run(civiscan("scan", "-p", "baseline", "127.62.1.1", "--engine", "celery",
                                     "--db", str(tmp_path / "s.db")), capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "<command line>" in result.stderr and "needs a broker" in result.stderr
    assert "Traceback" not in result.stderr
    from scanner.store import SqliteStore

    with SqliteStore(tmp_path / "s.db") as store:
        assert store.runs() == []


def test_the_host_semaphore_holds_its_limit_and_frees_a_dead_holders_slot(redis_url: str) -> None:
    import redis

    from scanner.fleet.limiter import FleetHostLimits

    client = redis.Redis.from_url(redis_url)
    limits = FleetHostLimits(client, per_host=2, lease=1.0)
    now = peak = 0

    async def hold() -> None:
        nonlocal now, peak
        async with limits.get("127.62.5.1"):
            now += 1
            peak = max(peak, now)
            await asyncio.sleep(0.02)
            now -= 1

    async def main() -> None:
        await asyncio.gather(*(hold() for _ in range(12)))

    asyncio.run(main())
    assert peak == 2
    assert client.zcard(keys.host("127.62.5.1")) == 0
    # A holder that died keeps its slot only until the lease runs out (1 s here).
    client.zadd(keys.host("127.62.5.2"), {"dead-1": 0, "dead-2": 0})
    asyncio.run(asyncio.wait_for(_one(limits, "127.62.5.2"), 5))
    client.close()


async def _one(limits: object, address: str) -> None:
    async with limits.get(address):  # type: ignore[attr-defined]
        pass


def test_the_agent_config_selects_the_engine(tmp_path: Path) -> None:
    from scanner.agent.config import load_config

    path = tmp_path / "agent.yaml"
    path.write_text("agent: {}\nschedules:\n  city:\n    interval: 1h\n    policies: [baseline]\n    targets: [127.62.1.1]\n"
                    "    scan: {engine: celery, broker: 'redis://127.62.0.1:6390/0'}\n")
    (schedule,) = load_config(str(path)).schedules
    assert (schedule.scan.engine, schedule.scan.broker) == ("celery", "redis://127.62.0.1:6390/0")
    path.write_text("agent: {}\nschedules:\n  city:\n    interval: 1h\n    policies: [baseline]\n    targets: [127.62.1.1]\n"
                    "    scan:\n      engine: celery\n      broker: 'redis://:pw@127.62.0.1/0'\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    (problem,) = err.value.problems
    assert str(problem).startswith(f"{path}:9:15:") and "CIVISCAN_BROKER_PASSWORD" in str(problem)
    assert "pw@" not in str(problem)


def test_a_broker_that_does_not_answer_stops_the_scan_before_any_run(tmp_path: Path) -> None:
    from .conftest import free_port

    dead = f"redis://127.62.0.1:{free_port('127.62.0.1')}/0"
    result = subprocess.run(civiscan("scan", "-p", "baseline", "127.62.1.1", "--engine", "celery", "--broker", dead,
                                     "--db", str(tmp_path / "s.db")), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "does not answer" in result.stderr and "Traceback" not in result.stderr
    from scanner.store import SqliteStore

    with SqliteStore(tmp_path / "s.db") as store:
        assert store.runs() == []
