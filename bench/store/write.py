"""Benchmark: the store's write path, raw sqlite3 vs SQLAlchemy Core on the same SQLite schema, and PostgreSQL.

Writes ``--assets`` assets × ``--findings`` findings (and two plugins' facts)
through ``SqliteStore.save_asset``, then the same statements, in the same
one-transaction-per-asset shape, through SQLAlchemy Core (``insert()``/
``delete()``/``update()`` of ``Table`` objects reflected from the store, built
per asset as a store method would, and built once with bind parameters), each
into a fresh store file. With ``--postgres`` it also writes through
``PostgresStore.save_asset`` (the shipped PostgreSQL path: SQLAlchemy's pool,
psycopg 3, the same statements) into a fresh database of a throwaway PostgreSQL
it starts on 127.0.0.1 (Debian's ``postgresql`` package, as tests/postgres.py
does). Prints per-asset time of each and the overhead. Needs the ``postgres``
extra (``pip install -e '.[postgres]'``).

    .venv/bin/python bench/store/write.py [--assets 1000] [--findings 20] [--rounds 3] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from scanner.evaluate import CheckResult, Finding
from scanner.models import Asset, AssetKind, Severity, Status
from scanner.policy import RuleSet
from scanner.rundoc import AssetState
from scanner.store import SqliteStore

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def estate(assets: int, findings: int) -> list[tuple[Asset, dict[str, Any], list[Finding]]]:
    out = []
    for i in range(assets):
        asset = Asset(id=f"d{i % 40}/h{i}", name=f"h{i}", kind=AssetKind.ENDPOINT, department=f"d{i % 40}",
                      address=f"127.0.{i // 250}.{i % 250 + 1}", url=f"https://h{i}.example/")
        facts = {"tls": {"protocols": ["TLSv1.2", "TLSv1.3"], "ciphers": [f"C{j}" for j in range(30)]},
                 "ports": {"open": [22, 80, 443], "scanned": 100}}
        verdicts = [
            Finding(asset.id, f"rule-{j}", Status.FAIL if j % 5 == 0 else Status.PASS, Severity.HIGH,
                    f"rule {j} on {asset.name}",
                    (CheckResult("tls.protocols", Status.PASS, "ok", {"accepted": ["TLSv1.2"]}),))
            for j in range(findings)
        ]
        out.append((asset, facts, verdicts))
    return out


def raw(path: Path, data: list[tuple[Asset, dict[str, Any], list[Finding]]]) -> float:
    with SqliteStore(path) as store:
        run_id = store.create_run(RuleSet((), (), ()), [a for a, _f, _v in data], {}, NOW)
        start = time.perf_counter()
        for asset, facts, verdicts in data:
            store.save_asset(run_id, asset, facts, {}, verdicts, NOW)
        return time.perf_counter() - start


def _prepared(path: Path, data: list[tuple[Asset, dict[str, Any], list[Finding]]]) -> tuple[int, sa.Engine]:
    """A run of ``data``'s assets in a store made by the store's own migrations, and an engine on it."""
    with SqliteStore(path) as store:
        run_id = store.create_run(RuleSet((), (), ()), [a for a, _f, _v in data], {}, NOW)
    return run_id, sa.create_engine(f"sqlite:///{path}")


@contextlib.contextmanager
def _connected(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection with the store's own file settings."""
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        conn.commit()
        yield conn


def core(path: Path, data: list[tuple[Asset, dict[str, Any], list[Finding]]]) -> float:
    run_id, engine = _prepared(path, data)
    meta = sa.MetaData()
    facts_t, findings_t, assets_t = (sa.Table(n, meta, autoload_with=engine) for n in ("facts", "findings", "assets"))
    with _connected(engine) as conn:
        start = time.perf_counter()
        for asset, facts, verdicts in data:
            with conn.begin():
                conn.execute(sa.delete(facts_t).where(facts_t.c.run_id == run_id, facts_t.c.asset_id == asset.id))
                conn.execute(sa.delete(findings_t).where(findings_t.c.run_id == run_id, findings_t.c.asset_id == asset.id))
                conn.execute(sa.insert(facts_t), [
                    {"run_id": run_id, "asset_id": asset.id, "plugin": p, "data_json": json.dumps(facts[p], default=str),
                     "error_json": None, "facts_version": 1} for p in sorted(facts)
                ])
                conn.execute(sa.insert(findings_t), [
                    {"run_id": run_id, "asset_id": f.asset_id, "rule_id": f.rule_id, "status": f.status.value,
                     "severity": f.severity.value, "message": f.message, "reason": None,
                     "checks_json": json.dumps([c.to_json() for c in f.checks], default=str),
                     "waiver_json": None, "fingerprint": f.fingerprint} for f in verdicts
                ])
                conn.execute(
                    sa.update(assets_t)
                    .where(assets_t.c.run_id == run_id, assets_t.c.asset_id == asset.id)
                    .values(state=AssetState.DONE.value, finished=NOW.isoformat(), spec_json=json.dumps(asset.to_json()))
                )
        elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def core_prebuilt(path: Path, data: list[tuple[Asset, dict[str, Any], list[Finding]]]) -> float:
    """Core at its best: statements built once with bind parameters, compiled once (cache)."""
    run_id, engine = _prepared(path, data)
    meta = sa.MetaData()
    facts_t, findings_t, assets_t = (sa.Table(n, meta, autoload_with=engine) for n in ("facts", "findings", "assets"))
    del_facts = sa.delete(facts_t).where(facts_t.c.run_id == sa.bindparam("r"), facts_t.c.asset_id == sa.bindparam("a"))
    del_findings = sa.delete(findings_t).where(
        findings_t.c.run_id == sa.bindparam("r"), findings_t.c.asset_id == sa.bindparam("a"))
    ins_facts, ins_findings = sa.insert(facts_t), sa.insert(findings_t)
    upd = (sa.update(assets_t).where(assets_t.c.run_id == sa.bindparam("r"), assets_t.c.asset_id == sa.bindparam("a"))
           .values(state=sa.bindparam("s"), finished=sa.bindparam("f"), spec_json=sa.bindparam("j")))
    with _connected(engine) as conn:
        start = time.perf_counter()
        for asset, facts, verdicts in data:
            with conn.begin():
                conn.execute(del_facts, {"r": run_id, "a": asset.id})
                conn.execute(del_findings, {"r": run_id, "a": asset.id})
                conn.execute(ins_facts, [
                    {"run_id": run_id, "asset_id": asset.id, "plugin": p, "data_json": json.dumps(facts[p], default=str),
                     "error_json": None, "facts_version": 1} for p in sorted(facts)
                ])
                conn.execute(ins_findings, [
                    {"run_id": run_id, "asset_id": f.asset_id, "rule_id": f.rule_id, "status": f.status.value,
                     "severity": f.severity.value, "message": f.message, "reason": None,
                     "checks_json": json.dumps([c.to_json() for c in f.checks], default=str),
                     "waiver_json": None, "fingerprint": f.fingerprint} for f in verdicts
                ])
                conn.execute(upd, {"r": run_id, "a": asset.id, "s": AssetState.DONE.value,
                                   "f": NOW.isoformat(), "j": json.dumps(asset.to_json())})
        elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def driver_sql(path: Path, data: list[tuple[Asset, dict[str, Any], list[Finding]]]) -> float:
    """A SQLAlchemy engine and transactions, with the statements as SQL text at the driver."""
    run_id, engine = _prepared(path, data)
    with _connected(engine) as conn:
        start = time.perf_counter()
        for asset, facts, verdicts in data:
            with conn.begin():
                conn.exec_driver_sql("DELETE FROM facts WHERE run_id=? AND asset_id=?", (run_id, asset.id))
                conn.exec_driver_sql("DELETE FROM findings WHERE run_id=? AND asset_id=?", (run_id, asset.id))
                conn.exec_driver_sql(
                    "INSERT INTO facts (run_id, asset_id, plugin, data_json, error_json, facts_version)"
                    " VALUES (?,?,?,?,?,?)",
                    [(run_id, asset.id, p, json.dumps(facts[p], default=str), None, 1) for p in sorted(facts)],
                )
                conn.exec_driver_sql(
                    "INSERT INTO findings (run_id, asset_id, rule_id, status, severity, message, reason,"
                    " checks_json, waiver_json, fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [(run_id, f.asset_id, f.rule_id, f.status.value, f.severity.value, f.message, None,
                      json.dumps([c.to_json() for c in f.checks], default=str), None, f.fingerprint)
                     for f in verdicts],
                )
                conn.exec_driver_sql(
                    "UPDATE assets SET state=?, finished=?, spec_json=? WHERE run_id=? AND asset_id=?",
                    (AssetState.DONE.value, NOW.isoformat(), json.dumps(asset.to_json()), run_id, asset.id),
                )
        elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def postgres(url: str, data: list[tuple[Asset, dict[str, Any], list[Finding]]]) -> tuple[float, float]:
    """(create_run, save_asset of every asset) through the PostgreSQL backend."""
    from scanner.store.postgres import PostgresStore

    with PostgresStore(url) as store:
        start = time.perf_counter()
        run_id = store.create_run(RuleSet((), (), ()), [a for a, _f, _v in data], {}, NOW)
        created = time.perf_counter() - start
        start = time.perf_counter()
        for asset, facts, verdicts in data:
            store.save_asset(run_id, asset, facts, {}, verdicts, NOW)
        return created, time.perf_counter() - start


def _postgres_server() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("pg", Path(__file__).resolve().parents[2] / "tests" / "postgres.py")
    assert spec is not None and spec.loader is not None
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PostgresServer()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--findings", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also the PostgreSQL backend (starts a server)")
    args = parser.parse_args()
    data = estate(args.assets, args.findings)
    times: dict[str, list[float]] = {"raw": [], "core": [], "prebuilt": [], "driver": [], "pg": [], "pg_create": []}
    server = _postgres_server() if args.postgres else None
    if server is not None:
        server.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(args.rounds):  # interleaved, so machine noise hits both alike
                times["raw"].append(raw(Path(tmp) / f"raw{n}.db", data))
                times["core"].append(core(Path(tmp) / f"core{n}.db", data))
                times["prebuilt"].append(core_prebuilt(Path(tmp) / f"pre{n}.db", data))
                times["driver"].append(driver_sql(Path(tmp) / f"drv{n}.db", data))
                if server is not None:
                    created, saved = postgres(server.new_database(), data)
                    times["pg_create"].append(created)
                    times["pg"].append(saved)
    finally:
        if server is not None:
            server.stop()
    raw_s, core_s, pre_s, drv_s = (statistics.median(times[k]) for k in ("raw", "core", "prebuilt", "driver"))
    print(f"save_asset, {args.assets} assets x {args.findings} findings, median of {args.rounds} rounds (sqlalchemy {sa.__version__}):")
    print(f"  raw sqlite3      {raw_s:.3f} s  ({raw_s / args.assets * 1000:.3f} ms/asset)")
    print(f"  SQLAlchemy Core  {core_s:.3f} s  ({core_s / args.assets * 1000:.3f} ms/asset)")
    print(f"  Core, prebuilt   {pre_s:.3f} s  ({pre_s / args.assets * 1000:.3f} ms/asset)")
    print(f"  engine, SQL text {drv_s:.3f} s  ({drv_s / args.assets * 1000:.3f} ms/asset)")
    print(f"  overhead vs raw  {(core_s / raw_s - 1) * 100:+.1f} % (Core), {(pre_s / raw_s - 1) * 100:+.1f} % (prebuilt),"
          f" {(drv_s / raw_s - 1) * 100:+.1f} % (SQL text)")
    if times["pg"]:
        pg_s, pg_c = statistics.median(times["pg"]), statistics.median(times["pg_create"])
        print(f"  PostgresStore    {pg_s:.3f} s  ({pg_s / args.assets * 1000:.3f} ms/asset; {(pg_s / raw_s - 1) * 100:+.1f} % vs"
              f" raw SQLite); create_run of {args.assets} assets {pg_c * 1000:.0f} ms")


if __name__ == "__main__":
    main()
