"""The SQL helpers of curate.dedup.db: any path reads exactly its own file, any text round-trips."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.dedup import db
from curate.errors import UserError

# Quotes, glob and brace syntax, backslashes, a Hive `=`, SQL punctuation, spaces, percent, unicode.
HOSTILE = "'\"[]{}*?\\ %=~$;,.-_ab1éü☃漢🙂"
names = st.text(alphabet=HOSTILE, min_size=1, max_size=24).filter(lambda s: s not in (".", ".."))


def write_marker(path: Path, marker: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"marker": [marker]}), path)


def decoys(name: str) -> set[str]:
    """Names that a glob reading of `name` could match instead of `name` itself (a[1] -> a1, b* -> bQ)."""
    return {
        name.replace("?", "Q").replace("*", "Q"),
        name.replace("*", "*Q"),
        name.replace("[", "").replace("]", ""),
    } - {name}


def read_rows(con, sql: str, params=None) -> tuple[list[str], list[tuple]]:
    cur = con.execute(sql, params)
    return [d[0] for d in cur.description], sorted(cur.fetchall())


def unreadable(path: Path) -> bool:
    """DuckDB's globs split at backslashes: a path with one and a glob character cannot be read."""
    return "\\" in str(path) and any(c in str(path) for c in "[*?")


@settings(max_examples=80, deadline=None)
@given(folder=names, name=names)
def test_a_hostile_path_reads_exactly_that_one_file(folder, name):
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / folder / f"{name}.parquet"
        write_marker(target, "target")
        for k, other in enumerate(decoys(name)):
            write_marker(Path(tmp) / folder / f"{other}.parquet", f"decoy {k}")
        con = duckdb.connect()
        if unreadable(target):
            with pytest.raises(UserError, match="rename the folder or file so it has no backslash"):
                db.exact_paths([target])
            return
        expected = (["marker"], [("target",)])  # one row, and no Hive column from a `k=v` folder
        assert read_rows(con, f"SELECT * FROM {db.read_parquet('?')}", [db.exact_paths([target])]) == expected
        assert read_rows(con, f"SELECT * FROM {db.read_parquet(db.sql_list([target]))}") == expected


@settings(max_examples=40, deadline=None)
@given(folder=names)
def test_the_files_of_a_hostile_folder_are_read_and_nothing_else(folder):
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(2):  # the files are ours (00000.parquet, ...); the folder is the user's
            write_marker(Path(tmp) / folder / f"{k:05d}.parquet", f"part {k}")
        for other in decoys(folder):
            write_marker(Path(tmp) / other / "00000.parquet", "decoy")
        con = duckdb.connect()
        files = db.parquet_files(Path(tmp) / folder)
        if unreadable(Path(tmp) / folder):
            return
        expected = (["marker"], [("part 0",), ("part 1",)])
        assert read_rows(con, f"SELECT * FROM {db.read_parquet('?')}", [db.exact_paths(files)]) == expected
        assert read_rows(con, f"SELECT * FROM {db.read_parquet(db.sql_list(files))}") == expected


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=HOSTILE + "\n\t", max_size=40))
def test_a_literal_is_the_text_itself(text):
    assert duckdb.connect().execute(f"SELECT {db.literal(text)}").fetchone()[0] == text


@settings(max_examples=30, deadline=None)
@given(folder=names, name=names)
def test_copy_to_a_bound_path_writes_that_path(folder, name):
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / folder / f"{name}.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        duckdb.connect().execute("COPY (SELECT 7 AS x) TO ? (FORMAT PARQUET)", [str(target)])
        assert [p.name for p in target.parent.iterdir()] == [target.name]
        assert pq.read_table(target).to_pylist() == [{"x": 7}]


@pytest.mark.parametrize("value", ["4GB", "512MB", "1.5 GiB", "100000 bytes"])
def test_a_memory_limit_is_a_size(value):
    assert db.check_memory_limit(value) == value


@pytest.mark.parametrize("value", ["", "4", "lots", "1GB'; SELECT 1; --", "4GB 4GB"])
def test_anything_else_is_refused_with_an_example(value):
    with pytest.raises(ValueError, match="such as 4GB"):
        db.check_memory_limit(value)
