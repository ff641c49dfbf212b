"""The run ledger: a DuckDB file in the workspace that records every run, stage, unit and count.

Only the driver writes it (workers return their counts), and it opens the file for each short transaction
(or `session` of a few) and closes it again, so `curate status` can read the ledger while a run is going.
Query it directly with DuckDB, e.g. `SELECT reason, n FROM counts WHERE run_id = '...' AND kind = 'removed'`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from curate.runs.driver import Driver

SCHEMA_VERSION = 3
# 2: runs.driver_pid, driver_host, driver_started (who drives the run)
# 3: runs.lineage and runs.deleted_at; files.status (new or changed); the tables outputs (the shards each
#    run published, with checksums) and profiles (each run's profile and its drift from the previous run
#    of its lineage). An older ledger is upgraded by the next `curate run`: the lineage of its runs is
#    computed from their manifests (see `upgrade`).
# (The table sources, each run's books per source (curate.runs.sources), came later; it needs no upgrade:
#  runs recorded before it have no rows there.)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[list[Any]]) -> None:
    """INSERT rows (DuckDB refuses executemany with no rows)."""
    if rows:
        con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)


_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, pipeline VARCHAR, config_path VARCHAR, run_dir VARCHAR, state VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, seconds DOUBLE, engine VARCHAR, curate_version VARCHAR,
    balanced BOOLEAN, error VARCHAR, driver_pid BIGINT, driver_host VARCHAR, driver_started DOUBLE);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS driver_pid BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS driver_host VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS driver_started DOUBLE;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS lineage VARCHAR;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS deleted_at TIMESTAMP;
CREATE TABLE IF NOT EXISTS stages (
    run_id VARCHAR, position INTEGER, stage VARCHAR, kind VARCHAR, docs_in BIGINT, docs_out BIGINT,
    removed BIGINT, seconds DOUBLE, PRIMARY KEY (run_id, position));
CREATE TABLE IF NOT EXISTS shards (
    run_id VARCHAR, phase VARCHAR, unit_id VARCHAR, input VARCHAR, status VARCHAR, docs_in BIGINT,
    kept BIGINT, removed BIGINT, quarantined BIGINT, seconds DOUBLE, outputs VARCHAR, finished_at TIMESTAMP,
    PRIMARY KEY (run_id, phase, unit_id));
CREATE TABLE IF NOT EXISTS counts (
    run_id VARCHAR, kind VARCHAR, stage VARCHAR, reason VARCHAR, n BIGINT);
CREATE TABLE IF NOT EXISTS metrics (
    run_id VARCHAR, stage VARCHAR, name VARCHAR, value VARCHAR);
CREATE TABLE IF NOT EXISTS files (
    run_id VARCHAR, path VARCHAR, source VARCHAR, format VARCHAR, bytes BIGINT, mtime TIMESTAMP,
    fingerprint VARCHAR);
ALTER TABLE files ADD COLUMN IF NOT EXISTS status VARCHAR;
CREATE TABLE IF NOT EXISTS outputs (
    run_id VARCHAR, lineage VARCHAR, path VARCHAR, rows BIGINT, bytes BIGINT, checksum VARCHAR);
CREATE TABLE IF NOT EXISTS profiles (
    run_id VARCHAR PRIMARY KEY, lineage VARCHAR, profile VARCHAR, drift VARCHAR);
CREATE TABLE IF NOT EXISTS sources (
    run_id VARCHAR, source VARCHAR, input BIGINT, kept BIGINT, removed BIGINT, quarantined BIGINT,
    removed_by_reason VARCHAR, quarantined_by_reason VARCHAR, loss DOUBLE, flagged BOOLEAN, exceeded BOOLEAN);
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# One open ledger connection per process at a time (the main thread's session and the background writer
# of unit rows take turns): the last close of a connection checkpoints the file, and a connection
# opened by another thread during that checkpoint would get a second database instance on the file.
_ONE_AT_A_TIME = threading.Lock()


class Ledger:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._session = threading.local()  # .con: the connection of the session this thread has open

    @contextlib.contextmanager
    def session(self, read_only: bool = False) -> Iterator[Ledger]:
        """Several ledger calls on one connection, the writes in one transaction.

        Opening the file and checkpointing it on close cost 20-80 ms a connection; a run's opening and
        its closing books each take one session instead of one connection per call. Nested sessions
        join the outer one; other threads still open their own connections."""
        if getattr(self._session, "con", None) is not None:
            yield self
            return
        with self.connect(read_only) as con:
            self._session.con = con
            try:
                if not read_only:
                    con.begin()
                yield self
                if not read_only:
                    con.commit()
            except BaseException:
                if not read_only:
                    con.rollback()
                raise
            finally:
                self._session.con = None

    @contextlib.contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection (or the open session's); retries for a few seconds while another
        process holds the file."""
        session = getattr(self._session, "con", None)
        if session is not None:
            yield session
            return
        with _ONE_AT_A_TIME:
            deadline = time.monotonic() + 30
            while True:
                try:
                    con = duckdb.connect(str(self.path), read_only=read_only)
                    break
                except duckdb.IOException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            try:
                yield con
            finally:
                con.close()

    def init(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as con:
            con.execute(_TABLES)
            _upgrade(con)
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])

    # --- writing (driver only) -----------------------------------------------------------------------
    def start_run(
        self,
        run_id: str,
        pipeline: str,
        config_path: str,
        run_dir: str,
        engine: str,
        version: str,
        driver: Driver | None = None,
        lineage: str | None = None,
    ) -> None:
        driver = driver or Driver.this_process()
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO runs (run_id, pipeline, config_path, run_dir, state, started_at,"
                " engine, curate_version, driver_pid, driver_host, driver_started, lineage)"
                " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    pipeline,
                    config_path,
                    run_dir,
                    _now(),
                    engine,
                    version,
                    *_driver_values(driver),
                    lineage,
                ],
            )

    def resume_run(self, run_id: str, engine: str, driver: Driver | None = None) -> None:
        driver = driver or Driver.this_process()
        with self.connect() as con:
            con.execute(
                "UPDATE runs SET state = 'running', error = NULL, finished_at = NULL, engine = ?,"
                " driver_pid = ?, driver_host = ?, driver_started = ? WHERE run_id = ?",
                [engine, *_driver_values(driver), run_id],
            )

    def running(self) -> list[tuple[str, Driver | None]]:
        """The runs marked `running`, with their drivers (None for a run recorded before drivers were)."""
        with self.connect(read_only=True) as con:
            if not _has_runs(con):
                return []
            if "driver_pid" not in _columns(con, "runs"):  # a ledger of schema 1, not yet upgraded
                rows = con.execute("SELECT run_id, NULL, NULL, NULL FROM runs WHERE state = 'running'")
            else:
                rows = con.execute(
                    "SELECT run_id, driver_pid, driver_host, driver_started FROM runs WHERE state = 'running'"
                )
            found = rows.fetchall()
        return [(r[0], Driver(r[1], r[2], r[3]) if r[1] is not None else None) for r in found]

    def mark_gone(self, run_id: str, error: str) -> None:
        """A run whose driver is gone: `failed`, unless it ended meanwhile."""
        with self.connect() as con:
            con.execute(
                "UPDATE runs SET state = 'failed', finished_at = ?, error = ? "
                "WHERE run_id = ? AND state = 'running'",
                [_now(), error, run_id],
            )

    def record_files(self, run_id: str, files: list[dict[str, Any]]) -> None:
        """The input files the run reads, with `status` new or changed (the lineage's earlier runs read
        the unchanged ones)."""
        rows = [
            [
                run_id,
                f["path"],
                f["source"],
                f["format"],
                f["bytes"],
                dt.datetime.fromtimestamp(f["mtime"]),
                f["fingerprint"],
                f.get("status", "new"),
            ]
            for f in files
        ]
        with self.connect() as con:
            con.execute("DELETE FROM files WHERE run_id = ?", [run_id])
            _insert(con, "files", rows)

    def record_units(self, run_id: str, phase: str, reports: list[dict[str, Any]]) -> None:
        rows = []
        for r in reports:
            c = r["counts"]
            removed = sum(sum(by_reason.values()) for by_reason in c["removed"].values())
            rows.append(
                [
                    run_id,
                    phase,
                    r["unit_id"],
                    r["input"],
                    r.get("status", "done"),
                    c["input"],
                    c["kept"],
                    removed,
                    sum(c["quarantined"].values()),
                    r["seconds"],
                    json.dumps(r.get("outputs", [])),
                    _now(),
                ]
            )
        if rows:
            with self.connect() as con:
                con.executemany(
                    "INSERT OR REPLACE INTO shards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )

    def record_stages(self, run_id: str, rows: list[dict[str, Any]]) -> None:
        values = [
            [run_id, i, r["stage"], r["kind"], r["docs_in"], r["docs_out"], r["removed"], r["seconds"]]
            for i, r in enumerate(rows)
        ]
        with self.connect() as con:
            con.execute("DELETE FROM stages WHERE run_id = ?", [run_id])
            _insert(con, "stages", values)

    def record_metrics(self, run_id: str, metrics: dict[str, dict[str, Any]]) -> None:
        """Numbers a stage reported (e.g. dedup clusters, time per phase); values stored as JSON."""
        rows = [[run_id, st, name, json.dumps(v)] for st, m in metrics.items() for name, v in m.items()]
        with self.connect() as con:
            con.execute("DELETE FROM metrics WHERE run_id = ?", [run_id])
            _insert(con, "metrics", rows)

    def metrics(self, run_id: str) -> dict[str, dict[str, Any]]:
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT stage, name, value FROM metrics WHERE run_id = ? ORDER BY stage, name", [run_id]
            ).fetchall()
        out: dict[str, dict[str, Any]] = {}
        for stage, name, value in rows:
            out.setdefault(stage, {})[name] = json.loads(value)
        return out

    def finish_run(
        self,
        run_id: str,
        state: str,
        counts: dict[str, Any] | None,
        balanced: bool | None,
        seconds: float,
        error: str | None = None,
    ) -> bool:
        """Record how a running run ended; False (nothing written) when it is not `running`: an end is
        recorded once (a stop that comes after the run recorded `finished` leaves it finished)."""
        with self.connect() as con:
            ended = con.execute(
                "UPDATE runs SET state = ?, finished_at = ?, seconds = ?, balanced = ?, error = ?"
                " WHERE run_id = ? AND state = 'running' RETURNING run_id",
                [state, _now(), seconds, balanced, error, run_id],
            ).fetchall()
            if not ended:
                return False
            if counts is not None:
                con.execute("DELETE FROM counts WHERE run_id = ?", [run_id])
                _insert(con, "counts", _count_rows(run_id, counts))
        return True

    # --- reading -------------------------------------------------------------------------------------
    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        with self.session(read_only=True), self.connect(read_only=True) as con:
            if not _has_runs(con):
                return []
            later = [c for c in ("lineage", "deleted_at") if c in _columns(con, "runs")]  # schema 3
            sql = (
                f"SELECT {', '.join(['run_id', 'pipeline', 'state', *later])}, started_at, seconds, balanced,"
                " error FROM runs ORDER BY started_at DESC"
            )
            rows = con.execute(sql + (f" LIMIT {int(limit)}" if limit else "")).fetchall()
            names = [d[0] for d in con.description]
            out = [dict(zip(names, r)) for r in rows]
            for r in out:
                r["counts"] = self.counts(r["run_id"])
        return out

    def last_run_id(self) -> str | None:
        with self.connect(read_only=True) as con:
            if not _has_runs(con):
                return None
            row = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def finished_run_ids(self) -> list[str]:
        """The finished runs, the one that finished last first."""
        with self.connect(read_only=True) as con:
            if not _has_runs(con):
                return []
            kept = " AND deleted_at IS NULL" if "deleted_at" in _columns(con, "runs") else ""
            rows = con.execute(
                f"SELECT run_id FROM runs WHERE state = 'finished'{kept} "
                "ORDER BY finished_at DESC, run_id DESC"
            ).fetchall()
        return [r[0] for r in rows]

    def run_row(self, run_id: str) -> dict[str, Any] | None:
        with self.connect(read_only=True) as con:
            cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        return dict(zip(names, row)) if row else None

    def counts(self, run_id: str) -> dict[str, Any]:
        """{"input", "kept", "removed": {reason: n}, "quarantined": {reason: n}, "removed_by_stage": ...}."""
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT kind, stage, reason, n FROM counts WHERE run_id = ?", [run_id]
            ).fetchall()
        counts: dict[str, Any] = {
            "input": 0,
            "kept": 0,
            "removed": {},
            "quarantined": {},
            "removed_by_stage": {},
        }
        for kind, stage, reason, n in rows:
            if kind in ("input", "kept"):
                counts[kind] = n
            elif kind == "quarantined":
                counts["quarantined"][reason] = counts["quarantined"].get(reason, 0) + n
            else:
                counts["removed"][reason] = counts["removed"].get(reason, 0) + n
                by_stage = counts["removed_by_stage"].setdefault(stage, {})
                by_stage[reason] = by_stage.get(reason, 0) + n
        return counts

    def table(self, name: str, run_id: str) -> list[dict[str, Any]]:
        if name not in ("stages", "shards", "files"):
            raise ValueError(name)
        order = {"stages": "position", "shards": "phase, unit_id", "files": "path"}[name]
        with self.connect(read_only=True) as con:
            cur = con.execute(f"SELECT * FROM {name} WHERE run_id = ? ORDER BY {order}", [run_id])
            rows = cur.fetchall()
            names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in rows]


def _driver_values(driver: Driver) -> list[Any]:
    return [driver.pid, driver.host, driver.started]


def _upgrade(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 3: give runs recorded before lineages their lineage, from the config in their manifest, and
    list the output shards of their finished runs (without checksums: those were never taken)."""
    from curate.runs.lineage import lineage_of_run_dir, output_rows

    missing = con.execute("SELECT run_id, run_dir, state FROM runs WHERE lineage IS NULL").fetchall()
    for run_id, run_dir, state in missing:
        lineage = lineage_of_run_dir(Path(run_dir))
        con.execute("UPDATE runs SET lineage = ? WHERE run_id = ?", [lineage, run_id])
        if state == "finished" and lineage is not None:
            rows = output_rows(run_id, lineage, Path(run_dir) / "output", checksums=False)
            _insert(con, "outputs", rows)


def _has_runs(con: duckdb.DuckDBPyConnection) -> bool:
    """False for a ledger file whose tables were never committed (its first run was killed at once)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'"
    ).fetchone()[0]
    return bool(found)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def _count_rows(run_id: str, counts: dict[str, Any]) -> list[list[Any]]:
    rows = [[run_id, "input", None, None, counts["input"]], [run_id, "kept", None, None, counts["kept"]]]
    for (stage, reason), n in sorted(counts["removed_by_stage_reason"].items()):
        rows.append([run_id, "removed", stage, reason, n])
    for reason, n in sorted(counts["quarantined"].items()):
        rows.append([run_id, "quarantined", None, reason, n])
    return rows
