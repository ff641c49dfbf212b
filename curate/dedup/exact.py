"""Exact dedup: one document per content hash of the normalized text.

Per shard (on the engine): BLAKE2b-128 of the normalized text. Then DuckDB groups the hashes of all shards
and keeps one document per hash, by a deterministic rule: a document published by an earlier run of this
workspace first (incremental), then the highest quality score if a score column exists, then the smallest
id. The others are removed with reason `exact_duplicate` and `duplicate_of` = the kept id.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
from dataclasses import asdict, dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq

from curate.config import option
from curate.dedup import db
from curate.dedup.common import decisions_by_shard, iter_shard, keeper_order, score_column_of, settings_key
from curate.stages.base import Stage, register
from curate.stages.context import FinishedRun, GlobalContext

_SPACES = re.compile(r"\s+")


@dataclass
class ExactParams:
    unicode_form: Literal["NFC", "NFKC", "none"] = option("NFC", help="Unicode form before hashing.")
    lowercase: bool = option(False, help="Ignore case.")
    collapse_whitespace: bool = option(True, help="Treat every run of whitespace as one space; strip ends.")
    strip_punctuation: bool = option(False, help="Ignore Unicode punctuation (category P*).")
    score_column: str | None = option(
        "quality_score", help="Keep the highest-scoring copy when this column exists."
    )
    incremental: bool = option(
        True,
        help="Also remove copies of documents that earlier runs of the lineage published (an index of "
        "their hashes is kept in WORKSPACE/state/); false: each run is deduplicated alone.",
    )
    memory_limit: str = option("4GB", help="DuckDB memory limit for grouping (spills to disk beyond).")

    def __post_init__(self):
        db.check_memory_limit(self.memory_limit)


def normalize_exact(text: str, p: ExactParams) -> str:
    if p.unicode_form != "none" and not text.isascii():
        text = unicodedata.normalize(p.unicode_form, text)
    if p.lowercase:
        text = text.lower()
    if p.strip_punctuation:
        from curate.dedup.shingles import separator_regex

        text = separator_regex(True).sub(" ", text)
    if p.collapse_whitespace or p.strip_punctuation:
        text = _SPACES.sub(" ", text).strip()
    return text


def content_hash(text: str, p: ExactParams) -> bytes:
    return hashlib.blake2b(normalize_exact(text, p).encode("utf-8"), digest_size=16).digest()


HASH_SCHEMA = pa.schema(
    [("id", pa.string()), ("shard", pa.int32()), ("h", pa.binary(16)), ("score", pa.float64())]
)


def hash_shard(args: tuple) -> dict:
    """Engine task: content hashes of one shard -> out (Parquet)."""
    shard_path, shard_idx, out, params, score, batch_rows = args
    t0 = time.perf_counter()
    columns = ["id", "text"] + ([score] if score else [])
    tables = []
    for _, t in iter_shard(shard_path, columns, batch_rows):
        hashes = [content_hash(x, params) for x in t.column("text").to_pylist()]
        scores = t.column(score).cast(pa.float64()) if score else pa.nulls(t.num_rows, pa.float64())
        tables.append(
            pa.table(
                [
                    t.column("id"),
                    pa.array([shard_idx] * t.num_rows, pa.int32()),
                    pa.array(hashes, pa.binary(16)),
                    scores,
                ],
                schema=HASH_SCHEMA,
            )
        )
    table = pa.concat_tables(tables) if tables else HASH_SCHEMA.empty_table()
    pq.write_table(table, out)
    return {"docs": table.num_rows, "seconds": time.perf_counter() - t0}


@register
class ExactDedup(Stage):
    """Remove exact copies (after normalization), keeping one document per content hash."""

    name = "exact_dedup"
    kind = "global"
    Params = ExactParams
    reads = ("id", "text")
    summary = "Keep one document per content hash of the normalized text (global, incremental)."

    def adds(self) -> dict[str, pa.DataType]:
        return {"duplicate_of": pa.string()}

    def _index_dir(self, state_dir):
        keyed = {
            k: v
            for k, v in asdict(self.params).items()
            if k in ("unicode_form", "lowercase", "collapse_whitespace", "strip_punctuation")
        }
        return state_dir / f"index-{settings_key(keyed)}"

    def plan(self, ctx: GlobalContext) -> dict[str, str]:
        p = self.params
        if not ctx.shards:
            return {}
        t0 = time.monotonic()
        score = score_column_of(ctx.shards, p.score_column)
        hashes_dir = ctx.workdir / "hashes"
        hashes_dir.mkdir(parents=True, exist_ok=True)
        tasks = [
            (s, i, str(hashes_dir / f"{i:05d}.parquet"), p, score, ctx.batch_rows)
            for i, s in enumerate(ctx.shards)
        ]
        docs = sum(r["docs"] for _, r in ctx.engine.map(hash_shard, tasks, label="exact_dedup: hash"))
        t_hash = time.monotonic() - t0

        con = db.scratch(ctx.workdir, p.memory_limit)
        con.execute(  # a view takes no parameters: the files go in as quoted literals
            "CREATE VIEW new_docs AS SELECT id, shard, h, score, false AS is_old "
            f"FROM {db.read_parquet(db.sql_list(db.parquet_files(hashes_dir)))}"
        )
        old = self._published_index(ctx) if p.incremental else []
        # A document published before and read again (a changed file, the same record in another file)
        # is a copy of its published self, even under the same id: `keeper_old` tells them apart.
        old_sql = (
            f"UNION ALL SELECT id, -1 AS shard, h, NULL::DOUBLE AS score, true AS is_old "
            f"FROM {db.read_parquet('?')}"
            if old
            else ""
        )
        order = keeper_order(score)
        con.execute(
            f"""
            CREATE TABLE ranked AS
            SELECT id, shard, h, first(id ORDER BY {order}) OVER (PARTITION BY h) AS keeper,
                   first(is_old ORDER BY {order}) OVER (PARTITION BY h) AS keeper_old,
                   count(*) OVER (PARTITION BY h) AS copies
            FROM (SELECT * FROM new_docs {old_sql})""",
            [db.exact_paths(old)] if old else [],
        )
        decisions = ctx.workdir / "decisions"
        con.execute(
            """
            COPY (SELECT id, shard, 'exact_duplicate' AS reason, 'exact duplicate of ' || keeper AS detail,
                         keeper AS duplicate_of
                  FROM ranked WHERE shard >= 0 AND (id <> keeper OR keeper_old))
            TO ? (FORMAT PARQUET, PARTITION_BY (shard), OVERWRITE_OR_IGNORE)""",
            [str(decisions)],
        )
        removed, groups, largest = con.execute(
            "SELECT count(*) FILTER (WHERE shard >= 0 AND (id <> keeper OR keeper_old)),"
            " count(DISTINCT h) FILTER (WHERE copies > 1),"
            " coalesce(max(copies), 0) FROM ranked"
        ).fetchone()
        con.close()
        ctx.metrics.update(
            {
                "docs": docs,
                "removed": removed,
                "duplicate_groups": groups,
                "largest_group": largest,
                "indexed_from_earlier_runs": len(old),
                "seconds_hash": round(t_hash, 3),
                "seconds_group": round(time.monotonic() - t0 - t_hash, 3),
            }
        )
        ctx.log(
            f"curate: exact_dedup: {docs:,} docs, {removed:,} exact duplicates in {groups:,} groups "
            f"(largest {largest})"
        )
        return decisions_by_shard(decisions, ctx.shards)

    def _published_index(self, ctx: GlobalContext) -> list:
        """The index files of the runs this one deduplicates against (its lineage's finished runs)."""
        files = sorted(self._index_dir(ctx.state_dir).glob("*.parquet"))
        return [f for f in files if ctx.is_published(f.stem)]

    def commit(self, run: FinishedRun) -> None:
        """Index the hashes of the documents this run published, for later runs of the workspace."""
        if not self.params.incremental or not run.output_shards:
            return
        index = self._index_dir(run.state_dir)
        index.mkdir(parents=True, exist_ok=True)
        tmp = index / f".{run.run_id}.parquet.tmp"
        con = db.scratch(run.workdir / "commit", self.params.memory_limit)
        con.execute(
            f"""
            COPY (SELECT h.id, h.h FROM {db.read_parquet("?")} h
                  SEMI JOIN {db.read_parquet("?")} o ON o.id = h.id)
            TO ? (FORMAT PARQUET)""",
            [
                db.exact_paths(db.parquet_files(run.workdir / "hashes")),
                db.exact_paths(run.output_shards),
                str(tmp),
            ],
        )
        con.close()
        os.replace(tmp, index / f"{run.run_id}.parquet")
