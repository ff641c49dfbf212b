"""Read a table of training runs from CSV, Parquet or a DuckDB query into `Runs`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from curate.errors import InputError
from curate.scaling.laws import Runs

DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")


def read_table(path: str | Path | None, query: str | None = None) -> pd.DataFrame:
    """The runs table: a CSV or Parquet file, or the result of `query` (DuckDB SQL) on an optional DB."""
    if query is not None:
        return _duckdb_query(path, query)
    if path is None:
        raise InputError("No runs given; pass a CSV or Parquet file, or --query with DuckDB SQL.")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Runs file {str(path)!r} does not exist; check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"Could not read runs file {str(path)!r} ({exc}); check that it is valid.") from exc
    if suffix in DUCKDB_SUFFIXES:
        raise InputError(
            f'{str(path)!r} is a DuckDB database; pass --query "SELECT ... FROM table" to read it.'
        )
    raise InputError(f"Unknown runs file type {suffix!r} for {str(path)!r}; use .csv, .parquet or --query.")


def _duckdb_query(path: str | Path | None, query: str) -> pd.DataFrame:
    import duckdb

    from curate.scaling.query import run_read_only

    if path is not None and not Path(path).is_file():
        raise InputError(f"DuckDB database {str(path)!r} does not exist; check the path or omit it.")
    try:
        return run_read_only(path, query)
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise InputError(f"The DuckDB query failed ({first_line}); fix the SQL given to --query.") from exc


def runs_from_frame(
    frame: pd.DataFrame,
    params: str = "params",
    tokens: str = "tokens",
    loss: str = "loss",
    quality: str | None = None,
    group: str | None = None,
) -> Runs:
    """Validate and convert the named columns; `quality` / `group` are read only when named."""
    flags = {params: "--params-col", tokens: "--tokens-col", loss: "--loss-col"}
    flags |= {c: f for c, f in ((quality, "--quality-col"), (group, "--group-col")) if c is not None}
    for column, flag in flags.items():
        if column not in frame.columns:
            raise InputError(
                f"The runs table has no column {column!r} (columns: {', '.join(map(str, frame.columns))}); "
                f"name the right one with {flag}."
            )
    if len(frame) == 0:
        raise InputError("The runs table is empty; check the file or the --query filter.")
    values = {
        name: _positive(frame, column, flags[column])
        for name, column in (("params", params), ("tokens", tokens), ("loss", loss))
    }
    q = None
    if quality is not None:
        q = _positive(frame, quality, flags[quality])
        if np.any(q > 1):
            raise InputError(
                f"Quality column {quality!r} has values above 1 (max {q.max():g}); Q must lie in (0, 1]."
            )
    g = None
    if group is not None:
        if frame[group].isna().any():
            raise InputError(f"Group column {group!r} has empty values; fill them or filter those runs out.")
        g = frame[group].astype(str).to_numpy()
    return Runs(values["params"], values["tokens"], values["loss"], q, g)


def _positive(frame: pd.DataFrame, column: str, flag: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"Column {column!r} ({flag}) needs positive numbers but has {int(bad.sum())} bad values "
            f"(first at row {row}: {frame[column].iloc[row]!r}); fix or filter those runs."
        )
    return values


def drop_highest(runs: Runs, k: int) -> Runs:
    """The runs without the `k` highest-loss ones (Hoffmann et al. / Epoch drop outliers this way)."""
    if k < 0 or k >= len(runs):
        raise InputError(f"--drop-highest {k} must lie in [0, {len(runs) - 1}] for {len(runs)} runs.")
    if k == 0:
        return runs
    keep = np.sort(np.argsort(runs.loss, kind="stable")[: len(runs) - k])
    return runs.subset(keep)
