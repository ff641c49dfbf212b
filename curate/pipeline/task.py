"""One unit of work, run on a worker: read a unit, apply the stages, write shards, report the counts.

The task is idempotent: it first deletes whatever an earlier attempt of the same unit left, writes every
shard atomically, and writes its completion marker last. A unit with a marker is finished; a unit without
one is redone from scratch by a resumed run.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.io.discover import InputUnit
from curate.io.readers import ID_LOG_SCHEMA, ReadOptions, RepeatedIds, read_unit
from curate.io.writers import TMP_MARK, ShardWriter, remove_unit_outputs, write_json_atomic
from curate.pipeline.unique_ids import LOG_SCHEMA, load_repeated
from curate.runs.sources import SourceCounter, SourcesConfig
from curate.schema import QUARANTINE_SCHEMA, conform, with_column
from curate.stages.base import Stage

if TYPE_CHECKING:
    import pandas as pd

MiB = 1 << 20


class StageError(Exception):
    """A stage raised on a batch; names the stage and the unit."""


@dataclass(frozen=True)
class GlobalApply:
    """How a global stage's decisions are joined onto one shard."""

    stage: Stage
    decisions: str | None  # Parquet with id, reason, detail and the stage's columns; None: nothing decided


@dataclass(frozen=True)
class UnitTask:
    phase: str  # "p0", "p1", ...: passes over the data, split at global stages
    unit_id: str
    label: str  # what was read, for people and the ledger
    unit: InputUnit | None  # phase 0: the raw input unit
    shard: str | None  # later phases: a Parquet shard of the previous pass
    read: ReadOptions
    stages: tuple[Stage, ...]
    global_apply: GlobalApply | None
    kept_dir: str
    kept_schema: pa.Schema
    removed_dir: str | None  # None: removed documents are counted, not written
    removed_schema: pa.Schema
    quarantine_dir: str
    marker: str
    shard_bytes: int
    compression: str
    compression_level: int
    intermediate: bool = False  # kept shards feed the next pass and are deleted after the run: write fast
    weight: int = 0  # bytes to read, for progress
    id_log_dir: str | None = None  # phase 0: log the ids read from the data here (see unique_ids)
    repeated: str | None = None  # phase 0: the unit's repeated-id copies to quarantine or re-key
    sources: SourcesConfig | None = None  # count the unit's books per source (curate.runs.sources)

    @property
    def prefix(self) -> str:
        return f"{self.phase}-{self.unit_id}"


def to_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """A frame as an Arrow table of exactly `schema`: missing columns become nulls, extra ones are dropped."""
    columns = {}
    for f in schema:
        if f.name in df.columns:
            columns[f.name] = pa.array(df[f.name], type=f.type, from_pandas=True)
        else:
            columns[f.name] = pa.nulls(len(df), f.type)
    return pa.table(columns, schema=schema)


def _batches(task: UnitTask, repeated: RepeatedIds):
    """Yield (docs table, quarantine table, id log table) batches of the task's input."""
    if task.unit is not None:
        for batch in read_unit(task.unit, task.read, repeated):
            yield batch.docs, batch.quarantine, batch.ids
        return
    empty_q, empty_ids = QUARANTINE_SCHEMA.empty_table(), ID_LOG_SCHEMA.empty_table()
    for rb in pq.ParquetFile(task.shard).iter_batches(batch_size=task.read.batch_rows, use_threads=False):
        yield pa.Table.from_batches([rb]), empty_q, empty_ids


class _IdLog:
    """The ids a unit read from the data, with their position in the unit (see unique_ids): one Parquet
    file per unit, written even when empty, renamed into place when complete."""

    def __init__(self, task: UnitTask):
        self.unit_id = task.unit_id
        self.path = Path(task.id_log_dir) / f"{task.prefix}-ids.parquet"
        self.tmp = self.path.with_name(f".{self.path.name}{TMP_MARK}{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(self.tmp, LOG_SCHEMA)
        self.seq = 0

    def write(self, ids: pa.Table) -> None:
        n = ids.num_rows
        if n:
            unit = pa.array([self.unit_id] * n, pa.string())
            seq = pa.array(range(self.seq, self.seq + n), pa.int64())
            self.writer.write_table(ids.append_column("unit", unit).append_column("seq", seq))
            self.seq += n

    def close(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


def _load_decisions(g: GlobalApply) -> pa.Table | None:
    return None if g.decisions is None else pq.read_table(g.decisions)


def _apply_decisions(
    table: pa.Table, g: GlobalApply, decisions: pa.Table | None
) -> tuple[pa.Table, pa.Table]:
    """Join a global stage's columns onto a batch (by id, in Arrow), and split off the rows it removes
    (returned with `reason` and `detail`). Rows without a decision go through the stage's `fill_undecided`."""
    n = table.num_rows
    if decisions is None:
        picked = pa.nulls(n, pa.int32())
    else:  # the position of each row's decision (the first one for an id), null where there is none
        picked = pc.index_in(table.column("id"), value_set=decisions.column("id"))

    def column(name: str, arrow_type: pa.DataType) -> pa.Array:
        if decisions is None:
            return pa.nulls(n, arrow_type)
        return decisions.column(name).take(picked).cast(arrow_type)

    for name, arrow_type in g.stage.adds().items():
        table = with_column(table, name, column(name, arrow_type))
    table = g.stage.fill_undecided(table, pc.is_null(picked))
    reasons = column("reason", pa.string())
    gone = pc.is_valid(reasons)
    removed = table.filter(gone)
    removed = with_column(removed, "reason", reasons.filter(gone))
    removed = with_column(removed, "detail", column("detail", pa.string()).filter(gone))
    return table.filter(pc.invert(gone)), removed


class _KeptTotals:
    """Text bytes and tokens (`n_tokens`, when a stage wrote it) of the documents a unit keeps."""

    def __init__(self):
        self.text_bytes = 0
        self.tokens: int | None = None

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.text_bytes += pc.sum(pc.binary_length(table.column("text"))).as_py() or 0
            if "n_tokens" in table.schema.names:
                self.tokens = (self.tokens or 0) + (pc.sum(table.column("n_tokens")).as_py() or 0)


def run_unit(task: UnitTask) -> dict[str, Any]:
    """Process one unit end to end and return its report (also written as the unit's marker)."""
    start = time.perf_counter()
    for folder in (task.kept_dir, task.removed_dir, task.quarantine_dir, task.id_log_dir):
        if folder:
            remove_unit_outputs(folder, task.prefix)
    writer_args = dict(
        target_bytes=task.shard_bytes, compression=task.compression, compression_level=task.compression_level
    )
    # Intermediate shards are read two or three times and deleted: LZ4 writes and reads them about twice as
    # fast as zstd level 1, at 1.4x the size.
    kept_args = (
        dict(writer_args, compression="lz4", compression_level=None) if task.intermediate else writer_args
    )
    kept_w = ShardWriter(task.kept_dir, task.prefix, task.kept_schema, **kept_args)
    removed_w = (
        ShardWriter(task.removed_dir, task.prefix, task.removed_schema, **writer_args)
        if task.removed_dir
        else None
    )
    quarantine_w = ShardWriter(task.quarantine_dir, task.prefix, QUARANTINE_SCHEMA, **writer_args)
    id_log = _IdLog(task) if task.id_log_dir else None
    repeated = load_repeated(task.repeated)
    n_input = n_kept = 0
    removed: dict[str, Counter] = {}
    quarantined: Counter = Counter()
    stage_stats = {s.name: {"docs_in": 0, "docs_out": 0, "seconds": 0.0, "counters": {}} for s in task.stages}
    g = task.global_apply
    decisions = _load_decisions(g) if g else None
    by_source = SourceCounter(task.sources) if task.sources else None  # input in p0, kept in the last pass
    if g:
        stage_stats = {g.stage.name: {"docs_in": 0, "docs_out": 0, "seconds": 0.0}, **stage_stats}

    def drop(rows: pa.Table, stage: str) -> None:
        if rows.num_rows:
            removed.setdefault(stage, Counter()).update(rows.column("reason").to_pylist())
            if by_source:
                by_source.count_removed(rows)
            if removed_w:
                rows = with_column(rows, "stage", pa.array([stage] * rows.num_rows, pa.string()))
                removed_w.write(conform(rows, task.removed_schema))

    totals = _KeptTotals()
    me = psutil.Process()
    rss = 0  # the largest resident size of this process at the end of a batch, bytes
    try:
        for docs, bad, ids in _batches(task, repeated):
            rss = max(rss, me.memory_info().rss)
            n_input += docs.num_rows + bad.num_rows
            if by_source and task.unit is not None:
                by_source.count_input(docs, bad)
            if id_log:
                id_log.write(ids)
            if bad.num_rows:
                quarantined.update(bad.column("reason").to_pylist())
                quarantine_w.write(bad)
            if g:
                t0 = time.perf_counter()
                stats = stage_stats[g.stage.name]
                stats["docs_in"] += docs.num_rows
                docs, gone = _apply_decisions(docs, g, decisions)
                drop(gone, g.stage.name)
                stats["docs_out"] += docs.num_rows
                stats["seconds"] += time.perf_counter() - t0
            if not task.stages:  # nothing local to run: the batch stays in Arrow
                n_kept += docs.num_rows
                kept = conform(docs, task.kept_schema)
                if by_source and not task.intermediate:
                    by_source.count_kept(kept)
                kept_w.write(kept)
                totals.add(kept)
                continue
            df = docs.to_pandas()
            for stage in task.stages:
                if df.empty:  # a batch can be all bad records; stages never see an empty frame
                    break
                t0 = time.perf_counter()
                stats = stage_stats[stage.name]
                stats["docs_in"] += len(df)
                try:
                    result = stage.apply(df)
                except Exception as err:
                    raise StageError(
                        f"stage '{stage.name}' failed on {task.label}: {type(err).__name__}: {err}"
                    ) from err
                if len(result.removed):
                    drop(to_table(result.removed, task.removed_schema), stage.name)
                for key, n in result.counters.items():
                    stats["counters"][key] = stats["counters"].get(key, 0) + int(n)
                df = result.kept
                stats["docs_out"] += len(df)
                stats["seconds"] += time.perf_counter() - t0
            n_kept += len(df)
            kept = to_table(df, task.kept_schema)
            if by_source and not task.intermediate:
                by_source.count_kept(kept)
            kept_w.write(kept)
            totals.add(kept)
        shards = kept_w.close()
        if removed_w:
            removed_w.close()
        quarantine_w.close()
        if id_log:
            id_log.close()
    except BaseException:
        for w in (kept_w, removed_w, quarantine_w, id_log):
            if w:
                w.abort()
        raise
    report = {
        "unit_id": task.unit_id,
        "phase": task.phase,
        "input": task.label,
        "status": "done",
        "counts": {
            "input": n_input,
            "kept": n_kept,
            "removed": {stage: dict(c) for stage, c in removed.items()},
            "quarantined": dict(quarantined),
        },
        "stages": stage_stats,
        "sources": by_source.books if by_source else {},
        "outputs": [s.path for s in shards],
        "kept_text_bytes": totals.text_bytes,  # UTF-8 bytes of the kept documents' text
        "kept_tokens": totals.tokens,  # their `n_tokens` (token_count), None without that column
        "repeated_ids": len(repeated),  # copies of earlier ids this unit was told to settle
        "bytes": task.weight,
        "seconds": time.perf_counter() - start,
        "pid": os.getpid(),  # which process ran the unit (a worker's, or the driver's)
        "rss_mb": round(max(rss, me.memory_info().rss) / MiB, 1),
    }
    write_json_atomic(task.marker, report)
    return report
