"""SQL built safely from paths and values.

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

from curate.errors import UserError


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


def read_parquet(files: str = "?", union_by_name: bool = False) -> str:
    """SQL of a Parquet read of `files` (a parameter such as `?` bound to `exact_paths(...)`, or
    `sql_list(...)`) with Hive partitioning off, so a `key=value` folder in a path never adds a column.
    `union_by_name`: files whose columns differ (removed documents of several stages) are read as one
    table, a column missing from a file being null there."""
    union = ", union_by_name = true" if union_by_name else ""
    return f"read_parquet({files}, hive_partitioning = false{union})"
