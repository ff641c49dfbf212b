"""One read-only SELECT: the checks shared by `curate fit --query` and `curate sql`.

A query is a command line argument, often pasted: it must not write files, attach or drop databases, load
extensions or read files it was not given (a query once wrote files, read /etc/passwd and dropped a
ledger's table through ATTACH). Two checks, both verified against DuckDB 2.0:

1. The text must parse as exactly one SELECT (DuckDB's own parser says which statement types it holds;
   DESCRIBE, SUMMARIZE, SHOW and `FROM t` are SELECTs to it); COPY, ATTACH, INSTALL/LOAD, CREATE, DROP,
   SET, PRAGMA and the rest are refused by name (`require_one_select`).
2. The SELECT runs on a connection locked down by `lock_down`: `enable_external_access = false`,
   `allowed_paths` = the files the caller allows, no Python replacement scans, and
   `lock_configuration = true`. DuckDB then refuses any other file: /etc/passwd, a path built by
   concatenation, `glob()`, another database. Callers open any database file read-only.
"""

from __future__ import annotations

import re

import duckdb

from curate.errors import UserError

_REFUSED_PATH = re.compile(r'Cannot access (?:file|directory) "([^"]*)"')


def require_one_select(query: str, who: str, fix: str) -> None:
    """Raise a UserError (exit 2) unless `query` is one SELECT. `who` opens the sentence (`--query`,
    `curate sql`) and `fix` ends it (`write a SELECT`). A query that does not parse raises DuckDB's
    ParserException, for the caller to word."""
    statements = duckdb.extract_statements(query)
    if len(statements) == 1 and statements[0].type == duckdb.StatementType.SELECT:
        return
    kinds = [_leading_keyword(s) for s in statements]
    if not statements:
        raise UserError(f"{who} runs one read-only SELECT, and the query is empty; {fix}.")
    if len(statements) == 1:
        raise UserError(
            f"{who} runs one read-only SELECT, and {kinds[0]} is refused: it may not write, attach "
            f"or drop databases, load extensions or change settings; {fix}."
        )
    raise UserError(
        f"{who} runs one read-only SELECT, but this has {len(statements)} statements "
        f"({', '.join(kinds)}), so it is refused; keep one SELECT."
    )


def _leading_keyword(statement) -> str:
    """The statement's first keyword, as written (INSTALL and LOAD share DuckDB's type LOAD)."""
    for start, kind in duckdb.tokenize(statement.query):
        if kind == duckdb.token_type.keyword:
            return re.match(r"\w+", statement.query[start:]).group(0).upper()
    return statement.type.name


def lock_down(con: duckdb.DuckDBPyConnection, allowed: list[str]) -> None:
    """From now on `con` reads only the files in `allowed` (each as DuckDB will open it: for a pattern
    such as `exact_path`'s, list the real path too) and cannot change its settings back."""
    con.execute("SET allowed_paths = ?", [sorted(set(allowed))])
    con.execute("SET enable_external_access = false")
    con.execute("SET python_enable_replacements = false")  # no Python variable is a table
    con.execute("SET lock_configuration = true")  # last: the query cannot undo the settings above


def refused_access(exc: duckdb.PermissionException) -> str:
    """What DuckDB refused, for a sentence: "access to '/etc/passwd'"."""
    refused = _REFUSED_PATH.search(str(exc))
    return f"access to {refused.group(1)!r}" if refused else str(exc).splitlines()[0]
