"""Lineages: the runs of one config on a growing corpus, and what each of them published.

A lineage is a digest of the resolved pipeline config without what does not decide which documents are
published or what they hold (the input paths, the pipeline's name and description, batch and shard sizes,
the engine, the drift limits). Runs of one lineage share their published output: each run reads only the
input files that are new or changed since the lineage's finished runs read them, deduplicates them
against everything the lineage published (the dedup stages' incremental index, restricted to the
lineage's runs), and adds its output shards. Published shards are never rewritten: a lineage only grows.
A changed config is another lineage, which starts from nothing.

The ledger keeps, per run, its lineage (`runs.lineage`), the input files it read (`files`, with `status`
new or changed) and the shards it published (`outputs`, with rows, bytes and a BLAKE2b checksum).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

if TYPE_CHECKING:
    from curate.io.discover import InputFile
    from curate.runs.ledger import Ledger

# Config keys that do not change which documents a run publishes, nor their content.
NOT_IN_LINEAGE = (
    ("name",),
    ("description",),
    ("input", "paths"),
    ("input", "partition_mb"),
    ("input", "batch_rows"),
    ("input", "batch_mb"),
    ("output", "shard_mb"),
    ("engine",),
    ("drift",),
    ("sources",),  # how the books are kept per source, and the losses that flag or hold a run
)
_WHOLE_FILE = 2 << 20  # files up to this size are fingerprinted whole (see curate.runs.manifest)


def lineage_of(resolved: dict[str, Any]) -> str:
    """The lineage of a resolved config: 12 hex digits of BLAKE2b over its canonical JSON, less
    NOT_IN_LINEAGE."""
    data = json.loads(json.dumps(resolved))
    for path in NOT_IN_LINEAGE:
        node = data
        for key in path[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def lineage_of_run_dir(run_dir: Path) -> str | None:
    """The lineage of a run recorded before lineages were (from its manifest), or None without one."""
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return lineage_of(manifest["config"]) if "config" in manifest else None


# --- which input files a run reads ------------------------------------------------------------------
@dataclass
class InputSelection:
    lineage: str
    files: list[InputFile]  # the files this run reads (new or changed), in discovery order
    described: list[dict[str, Any]]  # their fingerprints, with `status` new or changed
    unchanged: int  # files the lineage's finished runs already read as they are now
    previous_run: str | None  # the lineage's last finished run
    changed: list[str] = field(default_factory=list)  # paths of changed files

    @property
    def nothing_new(self) -> bool:
        return not self.files and self.previous_run is not None

    def summary(self) -> dict[str, Any]:
        new = sum(1 for d in self.described if d["status"] == "new")
        return {
            "lineage": self.lineage,
            "previous_run": self.previous_run,
            "files_new": new,
            "files_changed": len(self.changed),
            "files_unchanged": self.unchanged,
        }


def same_file(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether a file is as a lineage's run read it: the same size and content fingerprint, and for a
    file larger than the fingerprint covers whole (2 MiB), the same modification time too."""
    if before["bytes"] != now["bytes"] or before["fingerprint"] != now["fingerprint"]:
        return False
    return now["bytes"] <= _WHOLE_FILE or abs(before["mtime"] - now["mtime"]) < 1e-3


def select_inputs(
    lineage: str,
    files: list[InputFile],
    described: list[dict[str, Any]],
    published: dict[str, dict[str, Any]],
    previous_run: str | None,
) -> InputSelection:
    """The files to read: those the lineage never read, and those changed since it read them."""
    chosen, chosen_described, changed, unchanged = [], [], [], 0
    for f, d in zip(files, described):
        before = published.get(d["path"])
        if before is not None and same_file(before, d):
            unchanged += 1
            continue
        status = "new" if before is None else "changed"
        if status == "changed":
            changed.append(d["path"])
        chosen.append(f)
        chosen_described.append({**d, "status": status})
    return InputSelection(lineage, chosen, chosen_described, unchanged, previous_run, changed)


# --- the ledger's view of a lineage ------------------------------------------------------------------
def lineage_runs(ledger: Ledger, lineage: str) -> list[str]:
    """The lineage's finished runs whose outputs still exist (not removed by `curate gc`), oldest first."""
    with ledger.connect(read_only=True) as con:
        if not _has_lineages(con):
            return []
        rows = con.execute(
            "SELECT run_id FROM runs WHERE lineage = ? AND state = 'finished' AND deleted_at IS NULL "
            "ORDER BY finished_at, run_id",
            [lineage],
        ).fetchall()
    return [r[0] for r in rows]


def published_files(ledger: Ledger, lineage: str) -> dict[str, dict[str, Any]]:
    """path -> {bytes, mtime, fingerprint} as the lineage's finished runs last read each file."""
    with ledger.connect(read_only=True) as con:
        if not _has_lineages(con):
            return {}
        rows = con.execute(
            """
            SELECT f.path, f.bytes, f.mtime, f.fingerprint FROM files f JOIN runs r USING (run_id)
            WHERE r.lineage = ? AND r.state = 'finished' AND r.deleted_at IS NULL
            QUALIFY row_number() OVER (PARTITION BY f.path ORDER BY r.finished_at DESC, r.run_id DESC) = 1""",
            [lineage],
        ).fetchall()
    return {
        path: {"bytes": size, "mtime": _seconds(mtime), "fingerprint": fp} for path, size, mtime, fp in rows
    }


def lineage_shards(ledger: Ledger, lineage: str) -> list[dict[str, Any]]:
    """The shards the lineage published, the run that wrote each, oldest run first."""
    with ledger.connect(read_only=True) as con:
        if not _has_lineages(con):
            return []
        cur = con.execute(
            """
            SELECT o.run_id, o.path, o.rows, o.bytes, o.checksum FROM outputs o JOIN runs r USING (run_id)
            WHERE r.lineage = ? AND r.state = 'finished' AND r.deleted_at IS NULL
            ORDER BY r.finished_at, o.run_id, o.path""",
            [lineage],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def record_outputs(ledger: Ledger, run_id: str, rows: list[list[Any]]) -> None:
    """Record the shards a run published (driver only): rows from `output_rows`."""
    with ledger.connect() as con:
        con.execute("DELETE FROM outputs WHERE run_id = ?", [run_id])
        if rows:
            con.executemany("INSERT INTO outputs VALUES (?, ?, ?, ?, ?, ?)", rows)


def record_profile(
    ledger: Ledger, run_id: str, lineage: str, profile: dict[str, Any], drift: dict[str, Any]
) -> None:
    """Record a run's profile and its drift from the previous run of its lineage (driver only)."""
    with ledger.connect() as con:
        con.execute(
            "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?)",
            [run_id, lineage, json.dumps(profile), json.dumps(drift)],
        )


def previous_profile(ledger: Ledger, lineage: str) -> tuple[str | None, dict[str, Any] | None]:
    """(run id, profile) of the lineage's last finished run, or (None, None)."""
    with ledger.connect(read_only=True) as con:
        if not _has_lineages(con):
            return None, None
        row = con.execute(
            """
            SELECT r.run_id, p.profile FROM runs r LEFT JOIN profiles p USING (run_id)
            WHERE r.lineage = ? AND r.state = 'finished' AND r.deleted_at IS NULL
            ORDER BY r.finished_at DESC, r.run_id DESC LIMIT 1""",
            [lineage],
        ).fetchone()
    if row is None:
        return None, None
    return row[0], (json.loads(row[1]) if row[1] else None)


def run_drift(ledger: Ledger, run_id: str) -> dict[str, Any] | None:
    """The drift recorded for a run (None for a run that did not finish, or before schema 3)."""
    with ledger.connect(read_only=True) as con:
        if not _has_lineages(con):
            return None
        row = con.execute("SELECT drift FROM profiles WHERE run_id = ?", [run_id]).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def output_rows(run_id: str, lineage: str, output_dir: Path, checksums: bool) -> list[list[Any]]:
    shards = sorted(output_dir.glob("*.parquet")) if output_dir.is_dir() else []
    return [
        [
            run_id,
            lineage,
            str(p),
            pq.read_metadata(p).num_rows,
            p.stat().st_size,
            file_checksum(p) if checksums else None,
        ]
        for p in shards
    ]


def file_checksum(path: Path) -> str:
    """BLAKE2b-128 of a whole file, hex."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _seconds(value: Any) -> float:
    """A ledger TIMESTAMP (written as a naive local time from seconds since the epoch) as seconds."""
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _has_lineages(con) -> bool:
    """False for a ledger not yet upgraded to schema 3 (only `curate run` upgrades it) or without runs."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = 'runs' AND column_name = 'lineage'"
    ).fetchone()[0]
    return bool(found)
