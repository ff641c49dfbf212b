"""A scratch DuckDB database for one global stage, and SQL built safely from paths and values.

Paths and values never enter SQL as raw text: bind them as parameters (`con.execute(sql, [values])`;
DuckDB binds a Python list to `read_parquet(?)`, and `COPY ... TO ?`, `SET x = ?` work too), or, where a
statement takes no parameters (CREATE VIEW), quote them with `literal` / `sql_list`. A file name is also
glob syntax to DuckDB (`a[1].parquet` matches `a1.parquet`; so does a name in a list), so every path to be
read goes through `exact_path` first, and the files of a folder are listed in Python (`parquet_files`),
not by a DuckDB glob. `read_parquet` turns off Hive partitioning: a folder named `id=x` in a workspace
path must not add (or replace) a column. A `COPY ... TO` target is not a glob: bind it as it is.

    con.execute(f"SELECT id FROM {read_parquet('?')}", [exact_paths(files)])
    con.execute(f"CREATE VIEW v AS SELECT id FROM {read_parquet(sql_list(parquet_files(folder)))}")
    con.execute("COPY (SELECT 1) TO ? (FORMAT PARQUET)", [str(target)])
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from curate.errors import UserError


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


def literal(value: str | os.PathLike) -> str:
    """A DuckDB string literal: 'it''s'. In '...' strings a doubled quote is the only escape DuckDB reads
    (a backslash is an ordinary character), so this holds any text. Prefer a parameter where one fits."""
    return "'" + str(value).replace("'", "''") + "'"


_GLOB_CHARS = re.compile(r"([\[*?])")


def exact_path(path: str | os.PathLike) -> str:
    """`path` as a DuckDB file pattern that matches only that file.

    Absolute (DuckDB expands a leading `~`), with `[`, `*`, `?` each put in a one-character class (`[[]`,
    `[*]`, `[?]`): DuckDB's globs have no backslash escape, and a class is the one form they read literally.
    A path with such a character goes through DuckDB's glob, which splits at backslashes too: a path with
    both cannot be read literally at all, and is refused with a UserError that says so.
    """
    text = os.path.abspath(os.fspath(path))
    if "\\" in text and _GLOB_CHARS.search(text):
        raise UserError(
            f"DuckDB cannot read {text!r}: its globs split paths at backslashes, and the path also holds "
            "one of [ * ?; rename the folder or file so it has no backslash."
        )
    return _GLOB_CHARS.sub(r"[\1]", text)


def exact_paths(paths: list[str | os.PathLike]) -> list[str]:
    """`exact_path` of each file: the value to bind to `read_parquet(?)`."""
    return [exact_path(p) for p in paths]


def parquet_files(folder: str | os.PathLike) -> list[Path]:
    """The Parquet files in `folder`, listed here rather than by a DuckDB glob, so that the folder's name
    is never glob syntax (and a backslash in it does no harm)."""
    return sorted(Path(folder).glob("*.parquet"))


def sql_list(paths: list[str | os.PathLike]) -> str:
    """A DuckDB list literal of file paths, each read as exactly that file: for read_parquet([...]) in a
    statement that takes no parameters (CREATE VIEW)."""
    return "[" + ", ".join(literal(exact_path(p)) for p in paths) + "]"


def read_parquet(files: str = "?") -> str:
    """SQL of a Parquet read of `files` (a parameter such as `?` bound to `exact_paths(...)`, or
    `sql_list(...)`) with Hive partitioning off, so a `key=value` folder in a path never adds a column."""
    return f"read_parquet({files}, hive_partitioning = false)"


def partition_files(folder: Path, column: str) -> dict[int, str]:
    """Files DuckDB wrote with PARTITION_BY (column): {value: path}."""
    found = {}
    for part in sorted(folder.glob(f"{column}=*")):
        files = sorted(part.glob("*.parquet"))
        if len(files) != 1:
            raise RuntimeError(f"expected one Parquet file in {part}, found {len(files)}")
        found[int(part.name.split("=", 1)[1])] = str(files[0])
    return found
