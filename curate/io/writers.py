"""Write Arrow tables as Parquet shards of a target size, atomically.

A shard is written to a hidden temporary file in its folder and renamed into place only when complete, so
a crash never leaves a partial shard under a final name (readers skip hidden files). Names are
deterministic, `{prefix}-{seq:04d}.parquet`, so a rerun of the same unit overwrites the same shards.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TMP_MARK = ".tmp-"
# Columns with few distinct values, worth dictionary encoding; for text and ids it only costs time.
DICTIONARY_COLUMNS = ("source", "reason", "stage", "lang")


@dataclass(frozen=True)
class ShardInfo:
    path: str
    rows: int
    bytes: int


class ShardWriter:
    """Stream tables into Parquet shards; cut a new shard when the current one reaches `target_bytes`.

    The size is checked on the compressed file after each row group, so shards come out a little above
    the target. A writer that received no rows writes no shard.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        prefix: str,
        schema: pa.Schema,
        target_bytes: int = 128 << 20,
        compression: str = "zstd",
        compression_level: int | None = 3,
    ):
        self.directory = Path(directory)
        self.prefix = prefix
        self.schema = schema
        self.target_bytes = target_bytes
        self.compression = None if compression == "none" else compression
        self.compression_level = compression_level if self.compression in ("zstd", "gzip", "brotli") else None
        self.shards: list[ShardInfo] = []
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._rows = 0

    def _final_path(self) -> Path:
        return self.directory / f"{self.prefix}-{len(self.shards):04d}.parquet"

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        if self._writer is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            final = self._final_path()
            self._tmp = final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}")
            self._writer = pq.ParquetWriter(
                self._tmp,
                self.schema,
                compression=self.compression,
                compression_level=self.compression_level,
                use_dictionary=[c for c in self.schema.names if c in DICTIONARY_COLUMNS],
            )
        self._writer.write_table(table)
        self._rows += table.num_rows
        if self._tmp.stat().st_size >= self.target_bytes:
            self._finish_shard()

    def _finish_shard(self) -> None:
        self._writer.close()
        final = self._final_path()
        os.replace(self._tmp, final)
        self.shards.append(ShardInfo(str(final), self._rows, final.stat().st_size))
        self._writer, self._tmp, self._rows = None, None, 0

    def close(self) -> list[ShardInfo]:
        if self._writer is not None:
            self._finish_shard()
        return self.shards

    def abort(self) -> None:
        """Drop the shard being written (its temporary file); finished shards stay."""
        if self._writer is not None:
            self._writer.close()
            self._tmp.unlink(missing_ok=True)
            self._writer, self._tmp, self._rows = None, None, 0

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write JSON to `path` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)


def remove_unit_outputs(directory: str | os.PathLike, prefix: str) -> int:
    """Delete the shards and temporary files a unit left in `directory`; returns how many were removed."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    removed = 0
    for p in directory.iterdir():
        name = p.name.lstrip(".")
        if name.startswith(f"{prefix}-") and (name.endswith(".parquet") or TMP_MARK in name):
            p.unlink()
            removed += 1
    return removed
