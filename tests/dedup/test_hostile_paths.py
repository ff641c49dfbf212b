"""Paths are data, never SQL or glob syntax: dedup on hostile input and workspace paths equals plain paths."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import main
from tests.conftest import write_jsonl
from tests.dedup.test_dedup_stages import known_corpus

# Quotes, glob syntax, a Hive-style `key=value` folder, spaces, percent escapes, unicode.
HOSTILE = Path("it's [1]*?") / "id=x %41 é☃ü"
# The same without `?`: DuckDB reads a `?` in a database file's path as the start of its options.
HOSTILE_WORKSPACE = Path("it's [2]*") / "id=y %41 é☃ü ws"
HOSTILE_FILES = ("a[1].jsonl", "b*?'.jsonl")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write_batches(root: Path, names: tuple[str, ...]) -> tuple[Path, Path]:
    """Two batches of the known corpus, each split over files `names`: the second has copies of the first."""
    records, _ = known_corpus()
    batches = (root / "batch 1", root / "batch 2")
    for folder, part in zip(batches, (records[0::2], records[1::2])):
        for k, name in enumerate(names):
            write_jsonl(folder / name, part[k :: len(names)])
    return batches


def outcome(run_dir: Path) -> dict:
    """What a run decided, as plain data: kept ids, and (id, reason, duplicate_of) of the removed."""
    kept = pd.concat([pq.read_table(p).to_pandas() for p in sorted((run_dir / "output").glob("*.parquet"))])
    removed = pd.concat(
        [pq.read_table(p).to_pandas() for p in sorted((run_dir / "removed").glob("*.parquet"))]
    )
    return {
        "kept": sorted(kept["id"]),
        "removed": sorted(zip(removed["id"], removed["reason"], removed["duplicate_of"])),
    }


def dedup_twice(root: Path, names: tuple[str, ...], ws: Path) -> list[dict]:
    """`curate dedup` on batch 1, then on batch 2 into the same workspace (incremental)."""
    results = []
    for batch in write_batches(root, names):
        result = invoke("dedup", batch, "--output", ws, "--id-key", "id", "--workers", "0", "-q")
        assert result.exit_code == 0, result.output
        results.append(outcome((ws / "latest").resolve()))
    return results


def run_twice(root: Path, names: tuple[str, ...], ws: Path) -> list[dict]:
    """`curate run` with a config that lives in `root` and names a batch there as its input."""
    results = []
    for batch in write_batches(root, names):
        config = root / "pipe'line [x].yaml"
        config.write_text(
            json.dumps(
                {
                    "name": "dedup",
                    "input": {"paths": [str(batch)], "id_key": "id"},
                    "stages": [
                        {"stage": "exact_dedup", "incremental": True},
                        {"stage": "minhash_dedup", "incremental": True},
                    ],
                }
            )
        )
        result = invoke("run", config, "--workspace", ws, "--workers", "0", "-q")
        assert result.exit_code == 0, result.output
        results.append(outcome((ws / "latest").resolve()))
    return results


@pytest.mark.parametrize("twice", [dedup_twice, run_twice], ids=["dedup", "run"])
def test_hostile_input_and_workspace_paths_give_the_plain_paths_result(tmp_path, twice):
    plain = twice(tmp_path / "plain", ("a.jsonl", "b.jsonl"), tmp_path / "plain" / "ws")
    # The first batch keeps everything but its own copies; the second removes copies of the first.
    assert {r for _, r, _ in plain[1]["removed"]} == {"exact_duplicate", "near_duplicate"}
    assert any(dup in plain[0]["kept"] for _, _, dup in plain[1]["removed"])

    assert twice(tmp_path / HOSTILE, HOSTILE_FILES, tmp_path / HOSTILE_WORKSPACE) == plain


@pytest.mark.parametrize("name", ["it's", "ws[1]", "ws*", "id=x", "sp ace %41", "é☃ü"])
def test_each_hostile_character_in_a_workspace_path_alone(tmp_path, name):
    plain = dedup_twice(tmp_path / "in", ("a.jsonl",), tmp_path / "plain")
    (tmp_path / "ws1").mkdir()  # what the glob `ws[1]` would match instead of the workspace itself
    assert dedup_twice(tmp_path / "in2", ("a.jsonl",), tmp_path / name / "ws") == plain


def test_a_quote_in_the_workspace_path_cannot_run_sql(tmp_path):
    target = tmp_path / "pwned.csv"
    injected = f"x'; COPY (SELECT 42 AS pwned) TO '{target}' (FORMAT CSV); SELECT '"
    ws = Path(f"{tmp_path}/{injected}/ws")
    plain = dedup_twice(tmp_path / "plain", ("a.jsonl",), tmp_path / "plain-ws")
    assert dedup_twice(tmp_path / "in", ("a.jsonl",), ws) == plain
    assert not target.exists()


def test_a_memory_limit_is_a_size_not_sql(tmp_path):
    target = tmp_path / "pwned.csv"
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "one two three four five six"}])
    limit = f"1GB'; COPY (SELECT 42) TO '{target}' (FORMAT CSV); SELECT '"
    config = tmp_path / "p.yaml"
    config.write_text(
        json.dumps(
            {
                "name": "t",
                "input": {"paths": [str(tmp_path / "in")]},
                "stages": [{"stage": "minhash_dedup", "memory_limit": limit}],
            }
        )
    )
    result = invoke("run", config, "--workspace", tmp_path / "ws", "--workers", "0", "-q")
    assert result.exit_code == 2, result.output
    assert "stages[0]" in result.output and "memory_limit" in result.output and "such as 4GB" in result.output
    assert not target.exists()


def test_a_workspace_path_with_a_question_mark_is_refused_before_anything_is_written(tmp_path):
    write_jsonl(tmp_path / "in" / "a.jsonl", [{"id": "a", "text": "one two three four five six"}])
    ws = tmp_path / "nightly?" / "ws"
    result = invoke("dedup", tmp_path / "in", "--output", ws, "--workers", "0", "-q")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "'?'" in lines[0] and "choose a workspace folder without" in lines[0]
    assert not (tmp_path / "nightly?").exists()
