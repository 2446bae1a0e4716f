"""What both backends share: the store's SQL, written once and portable.

Every statement is a constant with ``?`` parameters; a backend whose driver
takes another parameter style translates each constant once (and caches it),
so the write path runs statements built once. The few differences between the
databases are the backend's: how a write transaction starts and serialises
(SQLite's ``BEGIN IMMEDIATE``; PostgreSQL's row locks), where the schema
version lives, and how a dataset is lent.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from .. import __version__
from ..errors import ExitCode
from ..evaluate import Finding
from ..lease import Holder, is_alive
from ..models import Asset, CollectError
from ..policy import RuleSet
from ..rundoc import AssetState, RunRecord, RunStatus
from .base import RunHeld, Store
from .schema import DATASETS, MIGRATIONS


def _insert_run(
    conn: Any,
    ruleset: RuleSet,
    settings: Mapping[str, Any],
    started: dt.datetime,
    inventory_digest: str | None,
    departments: Sequence[Mapping[str, str]],
) -> int:
    holder = Holder.current()
    cur = conn.execute(
        "INSERT INTO runs (started, status, tool_version, ruleset_json, policy_key,"
        " inventory_digest, settings_json, departments_json, holder_pid, holder_host, holder_start,"
        " heartbeat) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
        (
            started.isoformat(),
            RunStatus.RUNNING.value,
            __version__,
            json.dumps(ruleset.to_json(), default=str),
            ",".join(sorted(p.id for p in ruleset.policies)),
            inventory_digest,
            json.dumps(dict(settings), default=str),
            json.dumps(list(departments)),
            holder.pid,
            holder.host,
            holder.start,
            _now().isoformat(),
        ),
    )
    return int(cur.fetchone()[0])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _holder(row: Any) -> Holder | None:
    if row["holder_pid"] is None:
        return None
    return Holder(int(row["holder_pid"]), row["holder_host"] or "", row["holder_start"] or "")


def _heartbeat(row: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(row["heartbeat"]) if row["heartbeat"] else None


def _insert_findings(conn: Any, run_id: int, findings: Iterable[Finding]) -> None:
    conn.executemany(
        "INSERT INTO findings (run_id, asset_id, rule_id, status, severity, message, reason,"
        " checks_json, waiver_json, fingerprint) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (
                run_id,
                f.asset_id,
                f.rule_id,
                f.status.value,
                f.severity.value,
                f.message,
                f.reason.value if f.reason else None,
                json.dumps([c.to_json() for c in f.checks], default=str),
                json.dumps(dict(f.waiver)) if f.waiver else None,
                f.fingerprint,
            )
            for f in findings
        ],
    )


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


class SqlStore(Store):
    """The store over a DB-API connection ``self._conn`` (``execute``/``executemany``, ``?`` parameters)."""

    _conn: Any
    _FOR_UPDATE = ""
    """Appended to a read whose row the transaction then writes (PostgreSQL locks it)."""
    _refused: tuple[type[BaseException], ...] = ()
    """What a write to a read-only store raises."""

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """One write transaction, serialised against every other writer of what it locks."""

    def _serialize(self, conn: Any, key: str) -> None:
        """Serialise this transaction with every other one naming ``key`` (a row that may not exist yet)."""

    def _check_version(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.location} has schema version {version}, newer than this civiscan "
                f"({len(MIGRATIONS)}); upgrade civiscan"
            )

    @contextlib.contextmanager
    def write_dataset(self, name: str) -> Iterator[Any]:
        if name not in DATASETS:
            raise KeyError(name)
        with self.transaction() as conn:
            yield conn

    # --- writing -----------------------------------------------------------

    def create_run(
        self,
        ruleset: RuleSet,
        assets: Sequence[Asset],
        settings: Mapping[str, Any],
        started: dt.datetime,
        inventory_digest: str | None = None,
        departments: Sequence[Mapping[str, str]] = (),
    ) -> int:
        with self.transaction() as conn:
            run_id = _insert_run(conn, ruleset, settings, started, inventory_digest, departments)
            conn.executemany(
                "INSERT INTO assets (run_id, asset_id, seq, department, kind, spec_json, state)"
                " VALUES (?,?,?,?,?,?,?)",
                [
                    (run_id, a.id, i, a.department, a.kind.value, json.dumps(a.to_json()),
                     AssetState.PENDING.value)
                    for i, a in enumerate(assets)
                ],
            )
        return run_id

    def save_asset(
        self,
        run_id: int,
        asset: Asset,
        facts: Mapping[str, Any],
        errors: Mapping[str, CollectError],
        findings: Iterable[Finding],
        finished: dt.datetime,
        versions: Mapping[str, int] | None = None,
    ) -> None:
        """Write one asset's facts and findings atomically and mark it done.

        ``versions`` holds each plugin's facts schema version (default 1).
        """
        versions = versions or {}
        with self.transaction() as conn:
            conn.execute("DELETE FROM facts WHERE run_id=? AND asset_id=?", (run_id, asset.id))
            conn.execute("DELETE FROM findings WHERE run_id=? AND asset_id=?", (run_id, asset.id))
            plugins = sorted(set(facts) | set(errors))
            conn.executemany(
                "INSERT INTO facts (run_id, asset_id, plugin, data_json, error_json, facts_version)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (
                        run_id,
                        asset.id,
                        p,
                        json.dumps(facts[p], default=str) if p in facts else None,
                        json.dumps(errors[p].to_json()) if p in errors else None,
                        versions.get(p, 1),
                    )
                    for p in plugins
                ],
            )
            _insert_findings(conn, run_id, findings)
            conn.execute(
                "UPDATE assets SET state=?, finished=?, spec_json=? WHERE run_id=? AND asset_id=?",
                (AssetState.DONE.value, finished.isoformat(), json.dumps(asset.to_json()), run_id, asset.id),
            )

    def replace_findings(self, run_id: int, findings: Iterable[Finding]) -> None:
        """Swap a run's findings (re-evaluation of stored facts under a new policy)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM findings WHERE run_id=?", (run_id,))
            _insert_findings(conn, run_id, findings)

    def finish_run(self, run_id: int, status: RunStatus, exit_code: int, finished: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status=?, exit_code=?, finished=?, holder_pid=NULL, holder_host=NULL,"
                " holder_start=NULL WHERE id=?",
                (status.value, exit_code, finished.isoformat(), run_id),
            )

    def update_settings(self, run_id: int, settings: Mapping[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET settings_json=? WHERE id=?", (json.dumps(dict(settings), default=str), run_id))

    # --- leases ------------------------------------------------------------

    def claim(self, run_id: int) -> None:
        """Hold ``run_id`` for this process (to resume it). Raises RunHeld if a live process holds it."""
        now = _now()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?" + self._FOR_UPDATE, (run_id,)).fetchone()
            if row is None:
                raise KeyError(run_id)
            holder = _holder(row)
            if row["status"] == RunStatus.RUNNING and holder and is_alive(holder, _heartbeat(row), now):
                raise RunHeld(run_id, holder, _heartbeat(row))
            me = Holder.current()
            conn.execute(
                "UPDATE runs SET status=?, finished=NULL, exit_code=NULL, holder_pid=?, holder_host=?,"
                " holder_start=?, heartbeat=? WHERE id=?",
                (RunStatus.RUNNING.value, me.pid, me.host, me.start, now.isoformat(), run_id),
            )

    def heartbeat(self, run_id: int) -> None:
        """Renew this process's lease on ``run_id`` (a lease it lost is not taken back)."""
        me = Holder.current()
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET heartbeat=? WHERE id=? AND holder_pid=? AND holder_host=? AND holder_start=?",
                (_now().isoformat(), run_id, me.pid, me.host, me.start),
            )

    def mark_interrupted(self) -> list[int]:
        """Mark ``interrupted`` every running run whose holder is gone (killed, crashed, lost power)."""
        now = _now()
        rows = self._conn.execute("SELECT * FROM runs WHERE status=?", (RunStatus.RUNNING.value,)).fetchall()
        dead = [r for r in rows if not ((h := _holder(r)) and is_alive(h, _heartbeat(r), now))]
        if not dead:
            return []
        try:
            with self.transaction() as conn:
                for r in dead:
                    # Only if nobody claimed it since it was read (same holder, still running).
                    conn.execute(
                        "UPDATE runs SET status=?, exit_code=?, finished=COALESCE(heartbeat, started),"
                        " holder_pid=NULL, holder_host=NULL, holder_start=NULL"
                        " WHERE id=? AND status=? AND holder_pid IS NOT DISTINCT FROM ?"
                        " AND holder_start IS NOT DISTINCT FROM ?",
                        (RunStatus.INTERRUPTED.value, int(ExitCode.INTERRUPTED), r["id"],
                         RunStatus.RUNNING.value, r["holder_pid"], r["holder_start"]),
                    )
        except self._refused:
            # A read-only store still answers; the next writable open records the interruption.
            return []
        return [int(r["id"]) for r in dead]

    def clone_run(self, source: int, ruleset: RuleSet, started: dt.datetime) -> int:
        """A new run with the facts of ``source`` and no findings (for ``civiscan evaluate``)."""
        record = self.run(source)
        with self.transaction() as conn:
            new = _insert_run(
                conn,
                ruleset,
                {**record.settings, "evaluated_from_run": source},
                started,
                record.inventory_digest,
                record.departments,
            )
            conn.execute(
                "INSERT INTO assets (run_id, asset_id, seq, department, kind, spec_json, state, finished)"
                " SELECT ?, asset_id, seq, department, kind, spec_json, state, finished FROM assets WHERE run_id=?",
                (new, source),
            )
            conn.execute(
                "INSERT INTO facts (run_id, asset_id, plugin, data_json, error_json, facts_version)"
                " SELECT ?, asset_id, plugin, data_json, error_json, facts_version FROM facts WHERE run_id=?",
                (new, source),
            )
        return new

    # --- retention ---------------------------------------------------------

    def delete_run(self, run_id: int) -> None:
        """Delete a finished run with its assets, facts and findings, in one transaction.

        Tables that refer to runs (the agent's, the notifications') follow
        through their ``ON DELETE CASCADE``. A run still held by a live process is refused.
        """
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM runs WHERE id=?" + self._FOR_UPDATE, (run_id,)).fetchone()
            if row is None:
                return
            holder = _holder(row)
            if row["status"] == RunStatus.RUNNING.value and holder and is_alive(holder, _heartbeat(row), _now()):
                raise RunHeld(run_id, holder, _heartbeat(row))
            for table in ("findings", "facts", "assets"):
                conn.execute(f"DELETE FROM {table} WHERE run_id=?", (run_id,))
            conn.execute("DELETE FROM runs WHERE id=?", (run_id,))

    # --- reading -----------------------------------------------------------

    def resolve_run(self, ref: str | int) -> int | None:
        """A run id from ``7``, ``last`` or ``latest``."""
        text = str(ref).strip().lower()
        if text in ("last", "latest"):
            row = self._conn.execute("SELECT MAX(id) FROM runs").fetchone()
            return int(row[0]) if row[0] is not None else None
        if text.isdigit():
            row = self._conn.execute("SELECT id FROM runs WHERE id=?", (int(text),)).fetchone()
            return int(row[0]) if row else None
        return None

    def run(self, run_id: int) -> RunRecord:
        row = self._conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return RunRecord(
            id=row["id"],
            started=dt.datetime.fromisoformat(row["started"]),
            finished=dt.datetime.fromisoformat(row["finished"]) if row["finished"] else None,
            status=RunStatus(row["status"]),
            exit_code=row["exit_code"],
            tool_version=row["tool_version"],
            ruleset=RuleSet.from_json(json.loads(row["ruleset_json"])),
            inventory_digest=row["inventory_digest"],
            settings=json.loads(row["settings_json"]),
            departments=json.loads(row["departments_json"]),
        )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT r.id, r.started, r.finished, r.status, r.exit_code, r.policy_key,"
            " (SELECT COUNT(*) FROM assets a WHERE a.run_id=r.id) AS assets,"
            " (SELECT COUNT(*) FROM assets a WHERE a.run_id=r.id AND a.state=?) AS done,"
            " (SELECT COUNT(*) FROM findings f WHERE f.run_id=r.id AND f.status='fail') AS failures,"
            " (SELECT COUNT(*) FROM findings f WHERE f.run_id=r.id AND f.status='error') AS errors"
            " FROM runs r ORDER BY r.id DESC LIMIT ?",
            (AssetState.DONE.value, limit),
        ).fetchall()
        return [dict(r) for r in rows]

    def assets(self, run_id: int, state: AssetState | None = None) -> list[Asset]:
        sql = "SELECT spec_json FROM assets WHERE run_id=?"
        args: list[Any] = [run_id]
        if state:
            sql += " AND state=?"
            args.append(AssetState(state).value)
        rows = self._conn.execute(sql + " ORDER BY seq", args).fetchall()
        return [Asset.from_json(json.loads(r[0])) for r in rows]

    def facts(
        self, run_id: int, asset_id: str | None = None
    ) -> dict[str, tuple[dict[str, Any], dict[str, CollectError]]]:
        out: dict[str, tuple[dict[str, Any], dict[str, CollectError]]] = {}
        sql = "SELECT asset_id, plugin, data_json, error_json FROM facts WHERE run_id=?"
        args: list[Any] = [run_id]
        if asset_id is not None:
            sql += " AND asset_id=?"
            args.append(asset_id)
        for row in self._conn.execute(sql + " ORDER BY asset_id, plugin", args):
            facts, errors = out.setdefault(row[0], ({}, {}))
            if row[2] is not None:
                facts[row[1]] = json.loads(row[2])
            if row[3] is not None:
                errors[row[1]] = CollectError.from_json(json.loads(row[3]))
        return out

    def facts_versions(self, run_id: int) -> dict[tuple[str, str], int]:
        """``{(asset id, plugin): facts schema version}`` of a run's stored facts."""
        rows = self._conn.execute(
            "SELECT asset_id, plugin, facts_version FROM facts WHERE run_id=? AND data_json IS NOT NULL"
            " ORDER BY asset_id, plugin",
            (run_id,),
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def findings(self, run_id: int) -> Iterator[dict[str, Any]]:
        for row in self._conn.execute(
            "SELECT asset_id, rule_id, status, severity, message, reason, checks_json, waiver_json,"
            " fingerprint FROM findings WHERE run_id=? ORDER BY asset_id, rule_id",
            (run_id,),
        ):
            yield {
                "fingerprint": row["fingerprint"],
                "asset_id": row["asset_id"],
                "rule_id": row["rule_id"],
                "status": row["status"],
                "severity": row["severity"],
                "message": row["message"],
                "reason": row["reason"],
                "checks": json.loads(row["checks_json"]),
                "waiver": json.loads(row["waiver_json"]) if row["waiver_json"] else None,
            }

    def previous_run(self, run_id: int) -> int | None:
        """The newest earlier finished run applying the same policies."""
        row = self._conn.execute(
            "SELECT p.id FROM runs p, runs r WHERE r.id=? AND p.policy_key=r.policy_key"
            " AND p.id < r.id AND p.status=? ORDER BY p.id DESC LIMIT 1",
            (run_id, RunStatus.COMPLETE.value),
        ).fetchone()
        return int(row[0]) if row else None

    def first_seen(self, run_id: int) -> dict[str, str]:
        """For each fingerprint failing in ``run_id``: when it was first seen failing."""
        rows = self._conn.execute(
            "SELECT f.fingerprint, MIN(r.started) FROM findings f JOIN runs r ON r.id=f.run_id"
            " WHERE f.status IN ('fail','waived') AND f.run_id <= ? AND f.fingerprint IN"
            " (SELECT fingerprint FROM findings WHERE run_id=? AND status IN ('fail','waived'))"
            " GROUP BY f.fingerprint ORDER BY f.fingerprint",
            (run_id, run_id),
        )
        return {r[0]: r[1] for r in rows}

    def asset_states(self, run_id: int) -> dict[str, AssetState]:
        rows = self._conn.execute("SELECT asset_id, state FROM assets WHERE run_id=? ORDER BY seq", (run_id,))
        return {r[0]: AssetState(r[1]) for r in rows}

    def lease(self, run_id: int) -> tuple[Holder | None, dt.datetime | None]:
        row = self._conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        return _holder(row), _heartbeat(row)

    # --- notifications -----------------------------------------------------

    def queue_notifications(
        self, run_id: int, entries: Iterable[tuple[str, str, str, bool]], queued: dt.datetime
    ) -> None:
        with self.transaction() as conn:
            entries = list(entries)
            for recipient in sorted({e[1] for e in entries if e[3]}):
                self._serialize(conn, f"notifications_sent:{recipient}")
            for event, recipient, payload, once_ever in entries:
                if once_ever and conn.execute(
                    "SELECT 1 FROM notifications_sent WHERE event=? AND recipient=?", (event, recipient)
                ).fetchone():
                    continue
                conn.execute(
                    "INSERT INTO notifications_sent (run_id, event, recipient, payload_json, queued)"
                    " VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                    (run_id, event, recipient, payload, queued.isoformat()),
                )

    def pending_notifications(self, recipient: str, limit: int) -> list[tuple[int, str, str]]:
        rows = self._conn.execute(
            "SELECT run_id, event, payload_json FROM notifications_sent WHERE recipient=? AND sent IS NULL"
            " ORDER BY run_id, event LIMIT ?",
            (recipient, limit),
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def last_notification_sent(self, recipient: str) -> dt.datetime | None:
        row = self._conn.execute("SELECT MAX(sent) FROM notifications_sent WHERE recipient=?", (recipient,)).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row and row[0] else None

    def mark_notifications_sent(self, recipient: str, keys: Iterable[tuple[int, str]], sent: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE notifications_sent SET sent=? WHERE run_id=? AND event=? AND recipient=?",
                [(sent.isoformat(), run_id, event, recipient) for run_id, event in keys],
            )

    # --- history reads (judged by scanner/history.py) ----------------------

    def history_runs(
        self,
        limit: int,
        *,
        department: str | None = None,
        asset: str | None = None,
        policy_key: str | None = None,
        up_to: int | None = None,
        complete: bool = False,
    ) -> list[dict[str, Any]]:
        """Newest first: the last ``limit`` runs holding an asset of ``department`` and/or
        the asset ``asset`` (its id, or its name in any department), as rows of
        ``id, started, status, policy_key``; only runs with id at most ``up_to``,
        applying ``policy_key``, and (``complete``) that finished."""
        where, args = _asset_filter(department, asset)
        sql = (
            "SELECT r.id, r.started, r.status, r.policy_key FROM runs r WHERE EXISTS"
            f" (SELECT 1 FROM assets a WHERE a.run_id=r.id{where})"
        )
        if policy_key is not None:
            sql += " AND r.policy_key=?"
            args.append(policy_key)
        if up_to is not None:
            sql += " AND r.id<=?"
            args.append(up_to)
        if complete:
            sql += " AND r.status=?"
            args.append(RunStatus.COMPLETE.value)
        rows = self._conn.execute(sql + " ORDER BY r.id DESC LIMIT ?", [*args, limit]).fetchall()
        return [dict(r) for r in rows]

    def history_counts(
        self, run_ids: Sequence[int], *, department: str | None = None, asset: str | None = None
    ) -> dict[int, dict[str, tuple[int, dict[tuple[str, str], int]]]]:
        """For each run: per department, its asset count and its findings counted by
        ``(status, severity)``, restricted like :meth:`history_runs` (no facts are read)."""
        out: dict[int, dict[str, tuple[int, dict[tuple[str, str], int]]]] = {}
        where, args = _asset_filter(department, asset)
        for run_id in run_ids:
            per: dict[str, tuple[int, dict[tuple[str, str], int]]] = {}
            for name, n in self._conn.execute(
                f"SELECT a.department, COUNT(*) FROM assets a WHERE a.run_id=?{where} GROUP BY a.department",
                [run_id, *args],
            ):
                per[name] = (int(n), {})
            for name, status, severity, n in self._conn.execute(
                "SELECT a.department, f.status, f.severity, COUNT(*) FROM findings f JOIN assets a"
                f" ON a.run_id=f.run_id AND a.asset_id=f.asset_id WHERE f.run_id=?{where}"
                " GROUP BY a.department, f.status, f.severity",
                [run_id, *args],
            ):
                per.setdefault(name, (0, {}))[1][(status, severity)] = int(n)
            out[run_id] = per
        return out

    def run_departments(self, run_ids: Sequence[int]) -> dict[int, frozenset[str]]:
        """The departments each run covered (no findings are read)."""
        out: dict[int, set[str]] = {run_id: set() for run_id in run_ids}
        for run_id in run_ids:
            for (name,) in self._conn.execute("SELECT DISTINCT department FROM assets WHERE run_id=?", (run_id,)):
                out[run_id].add(name)
        return {k: frozenset(v) for k, v in out.items()}


    # --- the scheduled agent ----------------------------------------------

    def acquire_schedule(
        self, schedule: str, slot: dt.datetime | None, now: dt.datetime
    ) -> tuple[str, Holder | None]:
        me = Holder.current()
        with self.transaction() as conn:
            self._serialize(conn, f"agent_schedules:{schedule}")
            row = conn.execute(
                "SELECT * FROM agent_schedules WHERE name=?" + self._FOR_UPDATE, (schedule,)
            ).fetchone()
            stale = None
            if row is not None and row["holder_pid"] is not None:
                holder = _holder(row)
                assert holder is not None
                if is_alive(holder, _heartbeat(row), now):
                    return "held", holder
                stale = holder
            last = row["last_slot"] if row is not None else None
            if slot is not None and last and dt.datetime.fromisoformat(last) >= slot:
                # The slot was run; a dead holder's row is freed all the same.
                if stale is not None:
                    conn.execute("UPDATE agent_schedules SET holder_pid=NULL WHERE name=?", (schedule,))
                return "done", None
            conn.execute(
                "INSERT INTO agent_schedules (name, holder_pid, holder_host, holder_start, heartbeat, last_slot)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET holder_pid=excluded.holder_pid,"
                " holder_host=excluded.holder_host, holder_start=excluded.holder_start,"
                " heartbeat=excluded.heartbeat, last_slot=COALESCE(excluded.last_slot, agent_schedules.last_slot)",
                (schedule, me.pid, me.host, me.start, _stamp(now), _stamp(slot) if slot else None),
            )
        return "taken", stale

    def renew_schedule(self, schedule: str, now: dt.datetime) -> None:
        me = Holder.current()
        with self.transaction() as conn:
            conn.execute(
                "UPDATE agent_schedules SET heartbeat=? WHERE name=? AND holder_pid=? AND holder_host=?"
                " AND holder_start=?",
                (_stamp(now), schedule, me.pid, me.host, me.start),
            )

    def release_schedule(self, schedule: str) -> None:
        me = Holder.current()
        with self.transaction() as conn:
            conn.execute(
                "UPDATE agent_schedules SET holder_pid=NULL, holder_host=NULL, holder_start=NULL"
                " WHERE name=? AND holder_pid=? AND holder_host=? AND holder_start=?",
                (schedule, me.pid, me.host, me.start),
            )

    def schedule_last_slot(self, schedule: str) -> dt.datetime | None:
        row = self._conn.execute("SELECT last_slot FROM agent_schedules WHERE name=?", (schedule,)).fetchone()
        return dt.datetime.fromisoformat(row[0]) if row is not None and row[0] else None

    def schedule_holder(self, schedule: str) -> Holder | None:
        row = self._conn.execute(
            "SELECT * FROM agent_schedules WHERE name=? AND holder_pid IS NOT NULL", (schedule,)
        ).fetchone()
        return _holder(row) if row is not None else None

    def add_schedule_run(self, run_id: int, schedule: str, slot: dt.datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO agent_runs (run_id, schedule, slot) VALUES (?,?,?)", (run_id, schedule, _stamp(slot))
            )

    def unsettled_schedule_runs(self, schedule: str) -> list[tuple[int, RunStatus]]:
        rows = self._conn.execute(
            "SELECT a.run_id, r.status FROM agent_runs a JOIN runs r ON r.id = a.run_id"
            " WHERE a.schedule=? AND r.status IN (?, ?) AND a.closed=0 ORDER BY a.run_id",
            (schedule, RunStatus.INTERRUPTED.value, RunStatus.COMPLETE.value),
        ).fetchall()
        return [(int(r[0]), RunStatus(r[1])) for r in rows]

    def close_schedule_runs(self, run_ids: Iterable[int]) -> None:
        with self.transaction() as conn:
            conn.executemany("UPDATE agent_runs SET closed=1 WHERE run_id=?", [(i,) for i in run_ids])

    def schedule_runs(self, schedule: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT r.id, r.status, r.exit_code, r.started, r.finished FROM agent_runs a"
            " JOIN runs r ON r.id = a.run_id WHERE a.schedule=? ORDER BY r.id",
            (schedule,),
        ).fetchall()
        return [dict(r) for r in rows]


def _asset_filter(department: str | None, asset: str | None) -> tuple[str, list[Any]]:
    """SQL conditions on ``assets a`` for the history reads (an asset id is ``department/name``)."""
    sql, args = "", []
    if department is not None:
        sql += " AND a.department=?"
        args.append(department)
    if asset is not None:
        sql += " AND (a.asset_id=? OR substr(a.asset_id, length(a.department) + 2)=?)"
        args += [asset, asset]
    return sql, args
