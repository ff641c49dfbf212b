"""A scratch DuckDB database for one global stage: out of core, spilling to the stage's work folder."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb


def scratch(
    workdir: Path, memory_limit: str = "4GB", threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """A scratch DuckDB connection: an in-memory database that spills to `workdir/duckdb-tmp` beyond
    `memory_limit` (its tables too), so nothing is written to disk that fits in memory."""
    workdir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{workdir / 'duckdb-tmp'}'")
    con.execute(f"SET threads = {int(threads or os.cpu_count() or 1)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def sql_list(paths: list[str | os.PathLike]) -> str:
    """A DuckDB list literal of file paths, e.g. for read_parquet([...])."""
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def partition_files(folder: Path, column: str) -> dict[int, str]:
    """Files DuckDB wrote with PARTITION_BY (column): {value: path}."""
    found = {}
    for part in sorted(folder.glob(f"{column}=*")):
        files = sorted(part.glob("*.parquet"))
        if len(files) != 1:
            raise RuntimeError(f"expected one Parquet file in {part}, found {len(files)}")
        found[int(part.name.split("=", 1)[1])] = str(files[0])
    return found
