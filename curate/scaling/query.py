"""`curate fit --query`: one read-only SELECT that reads the data files it names, and nothing else.

A query is a command line argument, often pasted: it must not write files, attach or drop databases, load
extensions or read files it does not name (it once wrote files, read /etc/passwd and dropped a ledger's
table through ATTACH). Two checks, both verified against DuckDB 2.0:

1. The text must parse as exactly one SELECT (DuckDB's own parser says which statement types it holds);
   COPY, ATTACH, INSTALL/LOAD, CREATE, DROP, SET, PRAGMA and the rest are refused by name.
2. The SELECT runs with `enable_external_access = false`, `allowed_paths` = the data files the query names
   (string literals ending in .parquet, .csv, .json, ... and, for a glob, the glob itself and its matches)
   and `lock_configuration = true`. DuckDB then refuses any other file: /etc/passwd, a path built by
   concatenation, `glob()`, another database. The database file given as RUNS is opened read-only.

Both checks live in `curate.sql.read_only`, shared with `curate sql`.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import duckdb
import pandas as pd

from curate.errors import InputError
from curate.sql.read_only import lock_down, refused_access, require_one_select

# What a query may read: tables of runs (never a text file, a database or /etc/passwd).
DATA_FILE = re.compile(r"\.(parquet|pq|csv|tsv|json|jsonl|ndjson)(\.gz|\.zst)?$", re.IGNORECASE)


def run_read_only(database: str | Path | None, query: str) -> pd.DataFrame:
    """The result of `query`, after the checks above; a UserError (exit 2) names what was refused."""
    require_one_select(query, "--query", "write a SELECT")
    con = duckdb.connect(
        str(database) if database is not None else ":memory:", read_only=database is not None
    )
    try:
        lock_down(con, named_data_files(query))
        return con.execute(query).df()
    except duckdb.PermissionException as exc:
        raise InputError(
            f"--query may read only the Parquet, CSV or JSON files it names, so DuckDB refused "
            f"{refused_access(exc)}; name the runs table's file in FROM (the query runs read-only, "
            "without other file access)."
        ) from None
    finally:
        con.close()


def named_data_files(query: str) -> list[str]:
    """The data files the query names: its string literals that end like a data file, local paths only.
    A glob is listed with its matches (DuckDB checks the pattern, then each file it opens)."""
    named = []
    for text in _string_literals(query):
        if "://" in text or not DATA_FILE.search(text):
            continue
        paths = [text, *glob.glob(text, recursive=True)]
        named += [form for p in paths for form in (p, os.path.abspath(p))]
    return sorted(set(named))


def _string_literals(query: str) -> list[str]:
    """The plain '...' literals of `query`, unquoted. Other forms (E'...', $$...$$) are left out, so what
    they name stays unreadable."""
    tokens = duckdb.tokenize(query)
    found = []
    for k, (start, kind) in enumerate(tokens):
        if kind != duckdb.token_type.string_const or query[start] != "'":
            continue
        end = tokens[k + 1][0] if k + 1 < len(tokens) else len(query)
        raw = query[start:end].rstrip()
        if len(raw) >= 2 and raw.endswith("'"):
            found.append(raw[1:-1].replace("''", "'"))
    return found
