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
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import duckdb
import pandas as pd

from curate.errors import InputError

# What a query may read: tables of runs (never a text file, a database or /etc/passwd).
DATA_FILE = re.compile(r"\.(parquet|pq|csv|tsv|json|jsonl|ndjson)(\.gz|\.zst)?$", re.IGNORECASE)
_REFUSED_PATH = re.compile(r'Cannot access (?:file|directory) "([^"]*)"')


def run_read_only(database: str | Path | None, query: str) -> pd.DataFrame:
    """The result of `query`, after the checks above; an InputError (exit 2) names what was refused."""
    statements = duckdb.extract_statements(query)
    _require_one_select(statements)
    con = duckdb.connect(
        str(database) if database is not None else ":memory:", read_only=database is not None
    )
    try:
        _lock_down(con, named_data_files(query))
        return con.execute(query).df()
    except duckdb.PermissionException as exc:
        refused = _REFUSED_PATH.search(str(exc))
        what = f"access to {refused.group(1)!r}" if refused else str(exc).splitlines()[0]
        raise InputError(
            f"--query may read only the Parquet, CSV or JSON files it names, so DuckDB refused {what}; "
            "name the runs table's file in FROM (the query runs read-only, without other file access)."
        ) from None
    finally:
        con.close()


def _require_one_select(statements: list) -> None:
    kinds = [_leading_keyword(s) for s in statements]
    if len(statements) == 1 and statements[0].type == duckdb.StatementType.SELECT:
        return
    if len(statements) == 1:
        raise InputError(
            f"--query runs one read-only SELECT, and {kinds[0]} is refused: it may not write, attach "
            "or drop databases, load extensions or change settings; write a SELECT."
        )
    raise InputError(
        f"--query runs one read-only SELECT, but this has {len(statements)} statements "
        f"({', '.join(kinds)}), so it is refused; keep one SELECT."
    )


def _leading_keyword(statement) -> str:
    """The statement's first keyword, as written (INSTALL and LOAD share DuckDB's type LOAD)."""
    for start, kind in duckdb.tokenize(statement.query):
        if kind == duckdb.token_type.keyword:
            return re.match(r"\w+", statement.query[start:]).group(0).upper()
    return statement.type.name


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


def _lock_down(con: duckdb.DuckDBPyConnection, allowed: list[str]) -> None:
    con.execute("SET allowed_paths = ?", [allowed])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")  # last: the query cannot undo the two settings above
