"""Pieces the dedup stages share: reading shards in batches, document ordinals, keeper rules, indexes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.db import partition_files

SHARD_BITS = 32  # a document ordinal is shard << 32 | row: unique, ordered, cheap to join on
OLD_BASE = 1 << 62  # ordinals of documents from earlier runs (incremental dedup) start here


def ordinal(shard: int, row: int) -> int:
    return (shard << SHARD_BITS) | row


def iter_shard(path: str, columns: list[str], batch_rows: int) -> Iterator[tuple[int, pa.Table]]:
    """(first row number, table) batches of the given columns of one Parquet shard."""
    pf = pq.ParquetFile(path)
    first = 0
    for rb in pf.iter_batches(batch_size=batch_rows, columns=columns, use_threads=False):
        yield first, pa.Table.from_batches([rb])
        first += rb.num_rows


def score_column_of(shards: list[str], wanted: str | None) -> str | None:
    """The score column to keep the best document by, if the shards have it."""
    if not wanted or not shards:
        return None
    return wanted if wanted in pq.read_schema(shards[0]).names else None


def settings_key(settings: dict) -> str:
    """A short name for a set of settings: an index built with other settings is never mixed in."""
    return hashlib.blake2b(json.dumps(settings, sort_keys=True).encode(), digest_size=6).hexdigest()


def decisions_by_shard(folder: Path, shards: list[str]) -> dict[str, str]:
    """Map DuckDB's PARTITION_BY (shard) output back to the shard paths the runner knows."""
    if not folder.is_dir():
        return {}
    return {shards[i]: path for i, path in partition_files(folder, "shard").items()}


def keeper_order(score: str | None) -> str:
    """SQL ORDER BY of the keeper rule: earlier runs first, then the highest score, then the smallest id."""
    by_score = "score DESC NULLS LAST, " if score else ""
    return f"is_old DESC, {by_score}id"
