"""Writers: shards of a target size, deterministic names, and no half shard under a final name."""

from __future__ import annotations

import multiprocessing
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.discover import discover
from curate.io.writers import ShardWriter, remove_unit_outputs

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


def table(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": [f"d{i}" for i in range(start, start + n)],
            "text": [f"document {i} " + "filler " * 200 for i in range(start, start + n)],
        },
        schema=SCHEMA,
    )


def test_shards_are_cut_at_the_target_size_with_deterministic_names(tmp_path):
    with ShardWriter(tmp_path, "p0-u00001", SCHEMA, target_bytes=20_000) as w:
        for k in range(10):
            w.write(table(50, 50 * k))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) > 1
    assert names == [f"p0-u00001-{i:04d}.parquet" for i in range(len(names))]
    assert sum(s.rows for s in w.shards) == 500
    rows = pa.concat_tables(pq.read_table(tmp_path / n) for n in names)
    assert rows.column("id").to_pylist() == [f"d{i}" for i in range(500)]
    assert pq.read_metadata(tmp_path / names[0]).row_group(0).column(0).compression == "ZSTD"


def test_a_writer_without_rows_writes_nothing(tmp_path):
    with ShardWriter(tmp_path / "out", "x", SCHEMA) as w:
        w.write(table(0))
    assert w.shards == [] and not (tmp_path / "out").exists()


def test_an_exception_leaves_no_partial_shard(tmp_path):
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, "x", SCHEMA) as w:
        w.write(table(10))
        raise RuntimeError("crash while writing")
    assert list(tmp_path.iterdir()) == []


def _write_then_die(folder: str) -> None:
    w = ShardWriter(folder, "p0-u00000", SCHEMA, target_bytes=1 << 30)
    w.write(table(100))
    os._exit(1)  # a killed worker: no close, no cleanup


def test_a_killed_writer_leaves_only_a_hidden_temporary_file(tmp_path):
    proc = multiprocessing.get_context("fork").Process(target=_write_then_die, args=(str(tmp_path),))
    proc.start()
    proc.join()
    assert proc.exitcode == 1
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".") and ".tmp-" in left[0]
    assert not list(tmp_path.glob("*.parquet"))  # nothing looks complete
    with pytest.raises(Exception, match="no input files"):
        discover([str(tmp_path)])  # readers skip it
    assert remove_unit_outputs(tmp_path, "p0-u00000") == 1  # a rerun of the unit clears it
    assert list(tmp_path.iterdir()) == []


def test_remove_unit_outputs_only_touches_that_unit(tmp_path):
    for prefix in ("p0-u00001", "p0-u00010"):
        with ShardWriter(tmp_path, prefix, SCHEMA) as w:
            w.write(table(3))
    assert remove_unit_outputs(tmp_path, "p0-u00001") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["p0-u00010-0000.parquet"]
