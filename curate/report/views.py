"""Named views over one run of a workspace, for `curate sql` and `curate inspect`.

`open_run` builds an in-memory DuckDB database that reads what the run left: its Parquet outputs are
views read in place (nothing is copied), the ledger's rows are copied in (the ledger file is closed
again at once, so a run can go on writing it). Then the connection is locked down (`curate.sql.read_only`):
it reads only the run's Parquet files and cannot change that. Nothing here recomputes a signal, a score
or a decision: every column is one a stage wrote, or a count of them.

The views and what they hold are `VIEWS` (listed in `curate sql --help` and the README; a test keeps the
three equal).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from curate.errors import UserError
from curate.runs.ledger import Ledger
from curate.runs.recovery import recover
from curate.runs.workspace import Workspace
from curate.sql.paths import exact_path, read_parquet, sql_list
from curate.sql.read_only import lock_down

# name -> what it holds (one line each, for --help, the README and error messages)
VIEWS: dict[str, str] = {
    "kept": "the run's kept documents (output/): id, text, source, meta and every column its stages "
    "added (signals, lang, lang_score, quality_score, dup_cluster_id, dup_cluster_size, ...)",
    "removed": "the run's removed documents (removed/): the same columns, with reason, stage, detail "
    "(the failing value) and duplicate_of (the kept id)",
    "quarantine": "bad input records (quarantine/): id, source, offset, reason, detail, raw (bytes)",
    "documents": "kept and removed together, with decision ('kept' or 'removed')",
    "clusters": "one row per duplicate cluster with a removed member: cluster_id (the kept document's "
    "id), size, removed, exact_duplicates, near_duplicates, keeper (kept, removed, earlier run)",
    "sources": "per input file (the documents' source column): input, kept, removed, quarantined, lost_share",
    "source_books": "the ledger's books of the run per source, as `curate status` and --max-source-loss "
    "judge them (by sources.key or the top input folder): source, input, kept, removed, quarantined, "
    "removed_by_reason, quarantined_by_reason (JSON text), loss, flagged, exceeded",
    "lineage_kept": "every document the run's lineage has published up to this run (its finished runs' "
    "outputs): the dataset as a reader of the lineage sees it",
    "runs": "the ledger's runs: every run of the workspace, with state, pipeline, lineage, seconds",
    "counts": "the ledger's books of the run: kind (input, kept, removed, quarantined), stage, reason, n",
    "stages": "the ledger's stages of the run: stage, kind, docs_in, docs_out, removed, seconds",
    "metrics": "numbers the run's stages reported: stage, name, value (JSON text)",
    "shards": "the run's units: phase, unit_id, input, status, docs_in, kept, removed, quarantined, seconds",
    "files": "the input files the run read: path, source, format, bytes, mtime, fingerprint, status",
    "published": "the shards the run's lineage published up to this run: run_id, path, rows, bytes, checksum",
}

# Columns every document view has, null where the run's stages wrote none (a run without dedup).
DOCUMENT_COLUMNS = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "source": "VARCHAR",
    "meta": "VARCHAR",
    "duplicate_of": "VARCHAR",
    "dup_cluster_id": "VARCHAR",
    "dup_cluster_size": "BIGINT",
}
REMOVED_COLUMNS = {**DOCUMENT_COLUMNS, "reason": "VARCHAR", "stage": "VARCHAR", "detail": "VARCHAR"}
QUARANTINE_COLUMNS = {
    "id": "VARCHAR",
    "source": "VARCHAR",
    "offset": "BIGINT",
    "reason": "VARCHAR",
    "detail": "VARCHAR",
    "raw": "BLOB",
}
# The ledger's tables that hold one run's rows: view name -> (table, order).
_RUN_TABLES = {
    "counts": ("counts", "kind, stage, reason"),
    "stages": ("stages", "position"),
    "metrics": ("metrics", "stage, name"),
    "shards": ("shards", "phase, unit_id"),
    "files": ("files", "path"),
    "source_books": ("sources", "loss DESC, source"),
}


@dataclass
class RunCatalog:
    """A read-only DuckDB connection holding the views of one run."""

    con: duckdb.DuckDBPyConnection
    workspace: Workspace
    run_id: str
    run: dict[str, Any]  # the ledger's row of the run
    config: dict[str, Any] = field(default_factory=dict)  # the run's resolved config (manifest.json)

    @property
    def views(self) -> list[str]:
        """The views this catalog has (a ledger of an old schema may lack `published`)."""
        have = self.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal "
            "UNION ALL SELECT table_name FROM duckdb_tables()"
        ).fetchall()
        return [name for name in VIEWS if (name,) in have]

    def columns(self, view: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"DESCRIBE {view}").fetchall()]

    def rows(self, sql: str, params: list | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def value(self, sql: str, params: list | None = None) -> Any:
        row = self.con.execute(sql, params or []).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> RunCatalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_run(workspace_dir: str | os.PathLike, run_id: str | None = None) -> RunCatalog:
    """The views of run `run_id` (default: the latest run, as `curate status` shows it)."""
    ws = Workspace(workspace_dir)
    ws.require_existing()
    ledger = Ledger(ws.ledger_path)
    recover(ws, ledger)  # as `curate status` does: a run whose driver is gone is marked failed
    con = duckdb.connect(":memory:")
    try:
        with ledger.connect(read_only=True) as ledger_con:
            run_id, run = _choose_run(ws, ledger_con, run_id)
            published = _copy_ledger(con, ledger_con, run_id, run)
        paths = ws.run(run_id)
        lineage = [p for p in (_located(ws, r, path) for r, path in published) if p is not None]
        allowed = _document_views(con, paths.output, paths.removed, paths.quarantine, lineage)
        lock_down(con, allowed)
    except BaseException:
        con.close()
        raise
    return RunCatalog(con, ws, run_id, run, _config(paths.manifest))


def _choose_run(ws: Workspace, con, run_id: str | None) -> tuple[str, dict[str, Any]]:
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "runs" not in tables:
        raise UserError(f"workspace {ws.root} has no runs yet; start one with `curate run`.")
    if run_id is None:
        found = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        if found is None:
            raise UserError(f"workspace {ws.root} has no runs yet; start one with `curate run`.")
        run_id = found[0]
    cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    row = cur.fetchone()
    if row is None:
        raise UserError(
            f"no run '{run_id}' in workspace {ws.root}; `curate runs --workspace {ws.root}` lists them."
        )
    return run_id, dict(zip([d[0] for d in cur.description], row))


def _copy_ledger(con, ledger_con, run_id: str, run: dict[str, Any]) -> list[tuple[str, str]]:
    """Copy the ledger's rows into `con`; return the shards of `published` as (run_id, path)."""
    tables = {r[0] for r in ledger_con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    _copy(con, "runs", ledger_con, "SELECT * FROM runs ORDER BY started_at DESC")
    for view, (table, order) in _RUN_TABLES.items():
        if table in tables:
            _copy(con, view, ledger_con, f"SELECT * FROM {table} WHERE run_id = ? ORDER BY {order}", [run_id])
    if "outputs" not in tables or run.get("lineage") is None:
        return []
    _copy(
        con,
        "published",
        ledger_con,
        """
        SELECT o.run_id, o.path, o.rows, o.bytes, o.checksum FROM outputs o JOIN runs r USING (run_id)
        WHERE r.lineage = ? AND r.state = 'finished' AND r.deleted_at IS NULL
          AND (?::TIMESTAMP IS NULL OR r.finished_at <= ?::TIMESTAMP)
        ORDER BY r.finished_at, o.run_id, o.path""",
        [run["lineage"], run["finished_at"], run["finished_at"]],
    )
    return con.execute("SELECT run_id, path FROM published").fetchall()


def _located(ws: Workspace, run_id: str, recorded: str) -> Path | None:
    """A published shard where it is now: in its run's output folder of this workspace (which may have
    been moved or copied since the ledger recorded the path), else at its recorded path; None when gone."""
    for path in (ws.run(run_id).output / Path(recorded).name, Path(recorded)):
        if path.is_file():
            return path
    return None


def _copy(con, name: str, ledger_con, sql: str, params: list | None = None) -> None:
    """A table `name` in `con` holding the rows of `sql` on the ledger."""
    con.register("_ledger_rows", ledger_con.sql(sql, params=params).to_arrow_table())
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM _ledger_rows")
    con.unregister("_ledger_rows")


def _document_views(con, output: Path, removed: Path, quarantine: Path, lineage: list[Path]) -> list[str]:
    """Create the views over Parquet files; return every form of every file they read (for allowed_paths)."""
    files = {
        "kept": (_parquet(output), DOCUMENT_COLUMNS),
        "removed": (_parquet(removed), REMOVED_COLUMNS),
        "quarantine": (_parquet(quarantine), QUARANTINE_COLUMNS),
        "lineage_kept": (lineage, DOCUMENT_COLUMNS),
    }
    for name, (paths, columns) in files.items():
        _parquet_view(con, name, paths, columns)
    con.execute("""
        CREATE VIEW documents AS
        SELECT 'kept' AS decision, * FROM kept
        UNION ALL BY NAME SELECT 'removed' AS decision, * FROM removed""")
    con.execute("""
        CREATE VIEW sources AS
        SELECT source, count(*) AS input,
               count(*) FILTER (WHERE decision = 'kept') AS kept,
               count(*) FILTER (WHERE decision = 'removed') AS removed,
               count(*) FILTER (WHERE decision = 'quarantined') AS quarantined,
               round(count(*) FILTER (WHERE decision <> 'kept') / count(*), 4) AS lost_share
        FROM (SELECT source, decision FROM documents UNION ALL SELECT source, 'quarantined' FROM quarantine)
        GROUP BY source ORDER BY input DESC, source""")
    # Exact duplicates were removed before near dedup ran, so they have no dup_cluster_size, and an exact
    # copy of a document that near dedup then removed names that document: it joins the cluster of the
    # document it names. The size is the near cluster's (or the kept document alone) plus the exact copies.
    con.execute("""
        CREATE VIEW clusters AS
        WITH member AS (
            SELECT coalesce(p.duplicate_of, r.duplicate_of) AS cluster_id, r.reason, r.dup_cluster_size
            FROM removed r LEFT JOIN removed p ON r.duplicate_of = p.id AND p.duplicate_of IS NOT NULL
            WHERE r.duplicate_of IS NOT NULL)
        SELECT cluster_id,
               coalesce(max(dup_cluster_size), 1) + count(*) FILTER (WHERE dup_cluster_size IS NULL) AS size,
               count(*) AS removed,
               count(*) FILTER (WHERE reason = 'exact_duplicate') AS exact_duplicates,
               count(*) FILTER (WHERE reason = 'near_duplicate') AS near_duplicates,
               CASE WHEN cluster_id IN (SELECT id FROM kept) THEN 'kept'
                    WHEN cluster_id IN (SELECT id FROM removed) THEN 'removed'
                    WHEN cluster_id IN (SELECT id FROM lineage_kept) THEN 'earlier run' END AS keeper
        FROM member GROUP BY cluster_id ORDER BY size DESC, cluster_id""")
    read = [p for paths, _ in files.values() for p in paths]
    return [form for p in read for form in (exact_path(p), os.path.abspath(p))]


def _parquet(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def _parquet_view(con, name: str, files: list[Path], columns: dict[str, str]) -> None:
    """A view of `files` (read as exactly those files, their columns united by name) with at least
    `columns`: those its files lack are null. No files: an empty view of `columns`."""
    if files:
        source = f"SELECT * FROM {read_parquet(sql_list(files), union_by_name=True)}"
    else:
        source = "SELECT " + ", ".join(f'NULL::{t} AS "{c}"' for c, t in columns.items()) + " WHERE false"
    con.execute(f"CREATE VIEW {name} AS {source}")
    have = {r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()}
    missing = [f'NULL::{t} AS "{c}"' for c, t in columns.items() if c not in have]
    if missing:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT *, {', '.join(missing)} FROM ({source})")


def _config(manifest: Path) -> dict[str, Any]:
    """The run's resolved config, from its manifest ({} when there is none to read)."""
    try:
        return json.loads(manifest.read_text()).get("config") or {}
    except (OSError, ValueError):
        return {}
