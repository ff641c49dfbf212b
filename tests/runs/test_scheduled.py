"""Scheduled runs: a config run every night on a growing folder does only the new work.

Only new or changed files are read, deduplicated against what the lineage published; published shards
never change; nothing new is a no-op; a changed config is a new lineage; drift beyond a limit exits 4.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
from click.testing import CliRunner

from curate.cli import main
from curate.errors import DriftExceeded
from curate.runs.lineage import file_checksum, lineage_of
from tests.conftest import write_jsonl

WORDS = (
    "river stone market garden winter letter engine valley window silver harbor candle forest copper "
    "meadow lantern bridge pepper orchard thunder saddle violin marble pocket feather ribbon castle "
    "ladder planet tunnel blanket mirror cabin falcon kettle anchor velvet jungle walnut compass"
).split()

CONFIG = {
    "name": "nightly",
    "input": {"paths": ["data"]},
    "stages": [
        {"stage": "exact_dedup", "incremental": True},
        {"stage": "minhash_dedup", "incremental": True},
        {"stage": "length_filter", "min_words": 5},
    ],
}


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def docs(rng: random.Random, n: int, words: int = 60) -> list[dict]:
    return [{"text": " ".join(rng.choice(WORDS) for _ in range(words))} for _ in range(n)]


def near_copy(text: str) -> str:
    words = text.split()
    words[7] = "ZEBRAX"  # one word of 60 changed: Jaccard of the 5-gram sets ~0.9
    return " ".join(words)


def setup(tmp_path: Path, config: dict = CONFIG) -> tuple[Path, Path, Path]:
    data, ws = tmp_path / "data", tmp_path / "ws"
    rng = random.Random(12)
    write_jsonl(data / "a.jsonl", docs(rng, 6))
    write_jsonl(data / "b.jsonl", docs(rng, 6))
    path = tmp_path / "nightly.yaml"
    path.write_text(json.dumps({**config, "input": {"paths": [str(data)]}}))
    return path, data, ws


def run(config: Path, ws: Path, *extra) -> tuple[int, dict | None, str]:
    result = invoke("run", config, "-w", ws, "--workers", "0", "-q", "--json", *extra)
    text = result.stdout
    return result.exit_code, (json.loads(text) if text.lstrip().startswith("{") else None), result.output


def read(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def ledger(ws: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(ws / "ledger.duckdb"), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def checksums(run_dir: Path) -> dict[str, str]:
    return {p.name: file_checksum(p) for p in sorted((run_dir / "output").glob("*.parquet"))}


def test_a_second_run_reads_only_new_files_and_dedups_them_against_the_first_runs_output(tmp_path):
    config, data, ws = setup(tmp_path)
    code, first, _ = run(config, ws)
    assert code == 0 and first["counts"]["input"] == 12 and first["counts"]["kept"] == 12
    first_dir = Path(first["run_dir"])
    before = checksums(first_dir)
    old = read(first_dir / "output").set_index("id")["text"]

    # the night's new file: a near copy and an exact copy of published documents, and three new ones
    a = [json.loads(line) for line in (data / "a.jsonl").read_text().splitlines()]
    fresh = docs(random.Random(99), 3)
    write_jsonl(data / "c.jsonl", [{"text": near_copy(a[1]["text"])}, {"text": a[4]["text"]}, *fresh])
    code, second, _ = run(config, ws)
    assert code == 0 and second["nothing_new"] is False
    second_dir = Path(second["run_dir"])

    # only c.jsonl was read: the manifest, the ledger's files and units, and the records counted
    manifest = json.loads((second_dir / "manifest.json").read_text())
    assert [Path(f["path"]).name for f in manifest["inputs"]] == ["c.jsonl"]
    assert (
        manifest["lineage"]["files_unchanged"] == 2 and manifest["lineage"]["previous_run"] == first["run_id"]
    )
    files = ledger(ws, "SELECT path, status FROM files WHERE run_id = ?", [second["run_id"]])
    assert [(Path(p).name, s) for p, s in files] == [("c.jsonl", "new")]
    units = ledger(
        ws, "SELECT input, docs_in FROM shards WHERE run_id = ? AND phase = 'p0'", [second["run_id"]]
    )
    assert [u[0] for u in units] == ["c.jsonl"] and sum(u[1] for u in units) == 5
    assert second["counts"]["input"] == 5

    # the copies of published documents are removed, naming the published document they copy
    removed = read(second_dir / "removed").set_index("id")
    near = removed[removed.reason == "near_duplicate"]
    exact = removed[removed.reason == "exact_duplicate"]
    assert len(near) == 1 and old[near.duplicate_of.iloc[0]] == a[1]["text"]
    assert len(exact) == 1 and old[exact.duplicate_of.iloc[0]] == a[4]["text"]
    assert sorted(read(second_dir / "output")["text"]) == sorted(d["text"] for d in fresh)

    # the first run's outputs are byte for byte what they were, and the ledger's checksums say so
    assert checksums(first_dir) == before
    recorded = ledger(ws, "SELECT path, checksum FROM outputs WHERE run_id = ?", [first["run_id"]])
    assert {Path(p).name: c for p, c in recorded} == before
    lineage = second["lineage"]
    assert lineage["runs"] == [first["run_id"], second["run_id"]]
    assert {s["run_id"] for s in lineage["shards"]} == {first["run_id"], second["run_id"]}
    assert sum(s["rows"] for s in lineage["shards"]) == 12 + 3

    # a third run with nothing new: exit 0, one line, no run
    again = invoke("run", config, "-w", ws, "--workers", "0", "-q")
    assert again.exit_code == 0
    assert again.stdout.strip().splitlines() == [
        f"curate: nothing new: 3 input files unchanged since run {second['run_id']} "
        f"(lineage {lineage['id']}); no run started"
    ]
    code, third, _ = run(config, ws)
    assert code == 0 and third["nothing_new"] is True and third["run_id"] == second["run_id"]
    assert "nothing new" in third["message"]
    assert len(ledger(ws, "SELECT run_id FROM runs")) == 2 and len(list((ws / "runs").iterdir())) == 2


def test_a_changed_file_is_read_again_and_its_published_records_are_duplicates(tmp_path):
    """Append-only, as Dolma's cross-run dedup: a published document is never withdrawn or published twice."""
    config, data, ws = setup(tmp_path)
    code, first, _ = run(config, ws)
    assert code == 0
    a = (data / "a.jsonl").read_text().splitlines()
    edited = json.loads(a[2])["text"]
    appended = docs(random.Random(5), 2)
    lines = [*a[:2], json.dumps({"text": near_copy(edited)}), *a[3:], *(json.dumps(d) for d in appended)]
    (data / "a.jsonl").write_text("\n".join(lines) + "\n")  # one record edited, two appended

    code, second, _ = run(config, ws)
    assert code == 0
    files = ledger(ws, "SELECT path, status FROM files WHERE run_id = ?", [second["run_id"]])
    assert [(Path(p).name, s) for p, s in files] == [("a.jsonl", "changed")]
    assert second["counts"]["input"] == 8  # the whole file, read again
    assert second["counts"]["removed"] == {"exact_duplicate": 5, "near_duplicate": 1}
    removed = read(Path(second["run_dir"]) / "removed")
    exact = removed[removed.reason == "exact_duplicate"]
    assert (exact["id"] == exact["duplicate_of"]).all()  # each is its own published self, read again
    assert sorted(read(Path(second["run_dir"]) / "output")["text"]) == sorted(d["text"] for d in appended)
    published = pd.concat([read(Path(first["run_dir"]) / "output"), read(Path(second["run_dir"]) / "output")])
    assert published["text"].is_unique and len(published) == 12 + 2


def test_a_changed_config_starts_a_new_lineage_that_mixes_nothing_with_the_old_one(tmp_path):
    config, data, ws = setup(tmp_path)
    code, first, _ = run(config, ws)
    assert code == 0
    changed = tmp_path / "stricter.yaml"
    stages = [*CONFIG["stages"][:2], {"stage": "length_filter", "min_words": 6}]
    changed.write_text(json.dumps({**CONFIG, "input": {"paths": [str(data)]}, "stages": stages}))
    code, other, _ = run(changed, ws)
    assert code == 0
    assert other["lineage"]["id"] != first["lineage"]["id"]
    assert other["counts"]["input"] == 12 and other["counts"]["kept"] == 12  # all read, nothing a copy
    assert other["metrics"]["minhash_dedup"]["earlier_runs_indexed"] == 0
    assert other["lineage"]["runs"] == [other["run_id"]]
    lineages = ledger(ws, "SELECT run_id, lineage FROM runs ORDER BY started_at")
    assert [r[1] for r in lineages] == [first["lineage"]["id"], other["lineage"]["id"]]
    # the first config still has its lineage: nothing new for it
    code, again, _ = run(config, ws)
    assert code == 0 and again["nothing_new"] and again["run_id"] == first["run_id"]
    # what is not in the lineage: the name, the input paths, the engine, batch sizes, drift limits
    base = {**CONFIG, "input": {"paths": ["x"]}}
    same = {**base, "name": "other", "input": {"paths": ["y"], "batch_rows": 7}, "engine": {"workers": 0}}
    assert lineage_of(base) == lineage_of({**same, "drift": {"max_kept_rate_change": 0.1}})


def test_drift_beyond_a_limit_exits_4_with_the_change_in_the_status_json(tmp_path):
    limits = {"max_duplicate_rate_change": 0.1, "max_removal_rate_change": {"too_few_words": 0.5}}
    config, data, ws = setup(tmp_path, {**CONFIG, "drift": limits})
    code, first, _ = run(config, ws)
    assert code == 0 and first["drift"] == {"previous_run": None, "changes": {}, "exceeded": []}
    a = [json.loads(line) for line in (data / "a.jsonl").read_text().splitlines()]
    write_jsonl(data / "c.jsonl", [*a[:3], *docs(random.Random(3), 3)])  # half the night is copies

    code, second, output = run(config, ws)
    assert code == DriftExceeded.exit_code == 5
    assert "drifted from run" in output and "duplicate_rate changed by +0.5 (limit 0.1)" in output
    status = json.loads(invoke("status", "-w", ws, "--json").stdout)
    assert status["run_id"] == second["run_id"] and status["state"] == "finished"  # published all the same
    drift = status["drift"]
    assert drift["previous_run"] == first["run_id"]
    assert drift["changes"]["duplicate_rate"] == {"before": 0.0, "after": 0.5, "change": 0.5}
    assert drift["exceeded"] == [{"metric": "duplicate_rate", "change": 0.5, "limit": 0.1}]
    assert drift["changes"]["removal_rate.exact_duplicate"]["change"] == 0.5
    assert (ws / "latest").resolve() == Path(second["run_dir"]).resolve()

    # a night like the one before: within the limits, exit 0, the drift still reported (a drop counts too)
    b = [json.loads(line) for line in (data / "b.jsonl").read_text().splitlines()]
    write_jsonl(data / "d.jsonl", [*b[:2], *docs(random.Random(4), 2)])
    code, third, _ = run(config, ws)
    assert code == 0 and third["drift"]["exceeded"] == []
    assert third["drift"]["previous_run"] == second["run_id"]
    assert third["drift"]["changes"]["duplicate_rate"]["change"] == 0.0


def test_a_ledger_of_schema_2_is_read_as_it_is_and_upgraded_by_the_next_run(tmp_path):
    config, _, ws = setup(tmp_path)
    code, first, _ = run(config, ws)
    assert code == 0
    with duckdb.connect(str(ws / "ledger.duckdb")) as con:  # the ledger as curate before schema 3 wrote it
        for table, column in (("runs", "lineage"), ("runs", "deleted_at"), ("files", "status")):
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("DROP TABLE outputs; DROP TABLE profiles")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    status = json.loads(invoke("status", "-w", ws, "--json").stdout)
    assert status["state"] == "finished" and status["lineage"] is None and status["drift"] is None
    assert first["run_id"] in invoke("runs", "-w", ws).stdout

    code, again, _ = run(config, ws)  # the upgrade finds the old run's lineage from its manifest
    assert code == 0 and again["nothing_new"] and again["run_id"] == first["run_id"]
    assert ledger(ws, "SELECT value FROM meta WHERE key = 'schema_version'") == [("3",)]
    assert ledger(ws, "SELECT lineage FROM runs") == [(first["lineage"]["id"],)]
    shards = ledger(ws, "SELECT rows, checksum FROM outputs")
    assert sum(r for r, _ in shards) == 12 and {c for _, c in shards} == {None}  # never taken before
