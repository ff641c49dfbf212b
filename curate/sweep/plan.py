"""Plan a sweep in DuckDB: held-out slices, nested random pools, nested top-f subsets, evaluation sets.

Per seed s (all orders are md5 of the id and the seed, so plans are the same on every machine and version):

- held out: the documents whose md5(id, s) falls in the first `holdout_fraction`: the `pool_holdout`
  evaluation set of that seed, never trained on;
- pools: the rest in md5(id, "pool", s) order; pool p is the first round(p · n) documents, so pools nest;
- subsets: within a pool, the top ceil(f · size) documents by score (ties by id), so subsets nest too;
  the threshold is the score of the last document kept.

Each subset is written as Parquet shards (documents in the seed's random order, so a fixed-compute budget
that reads a prefix reads a random sample) with a manifest: f, pool size, threshold, seed, documents,
tokens (UTF-8 bytes), both Q estimators and the source of the pool.
"""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from curate.dedup.db import sql_list
from curate.errors import UserError
from curate.io.discover import discover, plan_units
from curate.io.readers import ReadOptions, read_unit
from curate.sweep.config import EvalSetConfig, SweepConfig


@dataclass(frozen=True)
class Subset:
    seed: int
    pool_size: float
    fraction: float
    pool_docs: int  # documents in the pool it was drawn from

    @property
    def key(self) -> str:
        return f"s{self.seed}-p{self.pool_size:g}-f{self.fraction:g}"


def order_sql(seed: int, salt: str, column: str = "id") -> str:
    """A deterministic pseudo-random order of documents: md5 of id, salt and seed."""
    return f"md5_number({column} || '#{salt}#{seed}')"


def load_pool(con: duckdb.DuckDBPyConnection, cfg: SweepConfig) -> list[str]:
    """Register the pool as view `pool` (id, text, q, low, bytes); return its Parquet files."""
    files = discover(cfg.pool.paths, "parquet")
    paths = [f.path for f in files]
    p = cfg.pool
    cols = {name for (name,) in con.execute(f"SELECT name FROM parquet_schema({sql_list(paths)})").fetchall()}
    for needed in ("id", p.text_key, p.score, p.low_quality_column):
        if needed not in cols:
            raise UserError(
                f"the pool has no '{needed}' column; score it first (`curate score`, or a "
                "pipeline with quality_classifier) or set pool.score / pool.low_quality_column."
            )
    limit = f"LIMIT {int(p.max_docs)}" if p.max_docs else ""
    con.execute(f"""
        CREATE TABLE pool AS
        SELECT id, "{p.text_key}" AS text, CAST("{p.score}" AS DOUBLE) AS q,
               coalesce(CAST("{p.low_quality_column}" AS DOUBLE) < {p.low_quality_below}, false) AS low,
               strlen("{p.text_key}") AS bytes
        FROM read_parquet({sql_list(paths)}) ORDER BY id {limit}""")
    n = con.execute("SELECT count(*) FROM pool").fetchone()[0]
    if n < 10:
        raise UserError(
            f"the pool has {n} documents; a sweep needs at least 10 (hundreds for useful numbers)."
        )
    return paths


def plan_subsets(con: duckdb.DuckDBPyConnection, cfg: SweepConfig) -> list[Subset]:
    """Fill table `membership(seed, pool_size, fraction, id, q)` and return every subset."""
    con.execute(
        "CREATE TABLE membership (seed INTEGER, pool_size DOUBLE, fraction DOUBLE, id VARCHAR, q DOUBLE)"
    )
    subsets = []
    for seed in cfg.seeds:
        held = f"{order_sql(seed, 'holdout')} % 1000000 < {round(cfg.eval.holdout_fraction * 1e6)}"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE universe AS
            SELECT id, q, row_number() OVER (ORDER BY {order_sql(seed, "pool")}, id) AS pos
            FROM pool WHERE NOT ({held})""")
        n = con.execute("SELECT count(*) FROM universe").fetchone()[0]
        for pool_size in cfg.pool_sizes:
            size = max(1, round(pool_size * n))
            for fraction in cfg.fractions:
                keep = max(1, math.ceil(fraction * size))
                con.execute(f"""
                    INSERT INTO membership
                    SELECT {seed}, {pool_size}, {fraction}, id, q FROM (
                        SELECT id, q, row_number() OVER (ORDER BY q DESC NULLS LAST, id) AS rank
                        FROM universe WHERE pos <= {size}) WHERE rank <= {keep}""")
                subsets.append(Subset(seed, pool_size, fraction, size))
    return subsets


def write_subset(con: duckdb.DuckDBPyConnection, s: Subset, folder: Path, shard_mb: int = 128) -> dict:
    """Write one subset's documents as Parquet shards (atomically: a temporary folder, then a rename);
    return its numbers from the plan (documents, tokens, threshold, Q (i))."""
    where = f"m.seed = {s.seed} AND m.pool_size = {s.pool_size} AND m.fraction = {s.fraction}"
    docs, tokens, low, threshold = con.execute(f"""
        SELECT count(*), coalesce(sum(p.bytes), 0), coalesce(sum(p.bytes) FILTER (WHERE p.low), 0), min(m.q)
        FROM membership m JOIN pool p USING (id) WHERE {where}""").fetchone()
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    con.execute(f"""
        COPY (SELECT p.id, p.text, p.q FROM membership m JOIN pool p USING (id) WHERE {where}
              ORDER BY {order_sql(s.seed, "train", "p.id")})
        TO '{tmp}' (FORMAT PARQUET, COMPRESSION ZSTD, FILE_SIZE_BYTES '{shard_mb}MB',
                    FILENAME_PATTERN 'part-{{i}}')""")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return {
        "docs": int(docs),
        "tokens": int(tokens),
        "low_quality_tokens": int(low),
        "threshold": None if threshold is None else float(threshold),
    }


def write_holdout(con: duckdb.DuckDBPyConnection, seed: int, cfg: SweepConfig, out: Path) -> None:
    """The `pool_holdout` evaluation set of one seed, capped at `eval.max_bytes`."""
    held = f"{order_sql(seed, 'holdout')} % 1000000 < {round(cfg.eval.holdout_fraction * 1e6)}"
    con.execute(f"""
        COPY (SELECT id, text FROM (
                SELECT id, text, sum(bytes) OVER w AS upto, row_number() OVER w AS n
                FROM pool WHERE {held} WINDOW w AS (ORDER BY {order_sql(seed, "holdout")}, id))
              WHERE upto <= {cfg.eval.max_bytes} OR n = 1)
        TO '{out}' (FORMAT PARQUET)""")


def read_eval_set(s: EvalSetConfig, max_bytes: int) -> list[str]:
    """The texts of a declared evaluation set, in file order, up to `max_bytes` (at least one document)."""
    files = discover(s.paths, s.format)
    texts, size = [], 0
    opts = ReadOptions(text_key=s.text_key, text_unit=s.text_unit, fallback_encoding="cp1252")
    for unit in plan_units(files, 64 << 20, s.text_unit):
        for batch in read_unit(unit, opts):
            for text in batch.docs.column("text").to_pylist():
                if texts and size + len(text.encode()) > max_bytes:
                    return texts
                texts.append(text)
                size += len(text.encode())
    if not texts:
        raise UserError(f"evaluation set '{s.name}' has no readable documents in {s.paths}.")
    return texts
