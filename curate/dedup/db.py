"""A scratch DuckDB database for one global stage, and SQL built safely from paths and values.

The path helpers (`literal`, `exact_path(s)`, `parquet_files`, `sql_list`, `read_parquet`) live in
`curate.sql.paths`, which says how paths and values enter SQL; they are re-exported here for the stages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from curate.sql.paths import (  # noqa: F401  (re-exported: the dedup stages and their tests use db.*)
    exact_path,
    exact_paths,
    literal,
    parquet_files,
    read_parquet,
    sql_list,
)


def scratch(
    workdir: Path, memory_limit: str = "4GB", threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """A scratch DuckDB connection: an in-memory database that spills to `workdir/duckdb-tmp` beyond
    `memory_limit` (its tables too), so nothing is written to disk that fits in memory."""
    workdir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")
    con.execute("SET memory_limit = ?", [check_memory_limit(memory_limit)])
    con.execute("SET temp_directory = ?", [str(workdir / "duckdb-tmp")])
    con.execute("SET threads = ?", [int(threads or os.cpu_count() or 1)])
    con.execute("SET preserve_insertion_order = false")
    return con


_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B|bytes)", re.IGNORECASE)


def check_memory_limit(value: str) -> str:
    """`value` if it is a size DuckDB reads (4GB, 512MiB), else a ValueError that says what to write."""
    if not _SIZE.fullmatch(str(value).strip()):
        raise ValueError(f"memory_limit {value!r} is not a size; write one such as 4GB or 512MB.")
    return str(value).strip()


def partition_files(folder: Path, column: str) -> dict[int, str]:
    """Files DuckDB wrote with PARTITION_BY (column): {value: path}."""
    found = {}
    for part in sorted(folder.glob(f"{column}=*")):
        files = sorted(part.glob("*.parquet"))
        if len(files) != 1:
            raise RuntimeError(f"expected one Parquet file in {part}, found {len(files)}")
        found[int(part.name.split("=", 1)[1])] = str(files[0])
    return found
