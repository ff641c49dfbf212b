"""`curate gc`: old runs' intermediate files and unfinished runs go; what a lineage published stays."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from curate.config import option
from curate.runs.lineage import file_checksum
from curate.stages.base import Stage, register
from tests.conftest import write_jsonl
from tests.runs.test_scheduled import CONFIG, docs, invoke, ledger, near_copy, read, run, setup


@dataclass
class ExplodeParams:
    word: str = option("EXPLODE", help="Raise on a document holding this word.")


@register
class ExplodeOnWord(Stage):
    """Test stage: a night's input that makes the run fail."""

    name = "_test_explode_on_word"
    Params = ExplodeParams

    def annotate(self, df):
        if df["text"].str.contains(self.params.word).any():
            raise RuntimeError("simulated failure")
        return df


GC_CONFIG = {**CONFIG, "stages": [*CONFIG["stages"], {"stage": "_test_explode_on_word"}]}


def snapshot(root: Path) -> dict[str, int | None]:
    """Every path under root: a file's size, None for a folder."""
    return {str(p.relative_to(root)): p.lstat().st_size if p.is_file() else None for p in root.rglob("*")}


def nights(tmp_path: Path):
    """Two finished runs, a failed one, then a finished one: (config, data, ws, [status of each])."""
    config, data, ws = setup(tmp_path, GC_CONFIG)
    statuses = [run(config, ws)[1]]
    write_jsonl(data / "c.jsonl", docs(random.Random(1), 3))
    statuses.append(run(config, ws)[1])
    write_jsonl(data / "d.jsonl", [{"text": "EXPLODE " + "word " * 10}])
    code, _, _ = run(config, ws)
    assert code == 1
    failed = ledger(ws, "SELECT run_id FROM runs WHERE state = 'failed'")[0][0]
    (data / "d.jsonl").unlink()
    write_jsonl(data / "e.jsonl", docs(random.Random(2), 3))
    statuses.append(run(config, ws)[1])
    assert [s["state"] for s in statuses] == ["finished"] * 3
    return config, data, ws, statuses, failed


def test_gc_removes_unfinished_runs_and_intermediate_files_and_keeps_what_later_runs_need(tmp_path):
    config, data, ws, (r1, r2, r4), failed = nights(tmp_path)
    assert (ws / "runs" / failed / "markers").is_dir() and (ws / "runs" / r1["run_id"] / "markers").is_dir()
    leftover = ws / "state" / "minhash_dedup" / "index-0" / failed / "docs.parquet"  # a killed commit's
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"x" * 100)
    before = snapshot(ws)
    outputs = {p: file_checksum(p) for r in (r1, r2) for p in Path(r["run_dir"]).glob("output/*.parquet")}

    dry = invoke("gc", "-w", ws, "--keep", "1", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert snapshot(ws) == before  # a dry run changes nothing
    assert ledger(ws, "SELECT count(*) FROM runs WHERE deleted_at IS NOT NULL") == [(0,)]
    assert f"would remove runs/{failed}  (a failed run older than the newest 1" in dry.stdout
    assert f"would remove runs/{r1['run_id']}/markers  (intermediate files of a finished run" in dry.stdout
    assert "would free" in dry.stdout

    done = invoke("gc", "-w", ws, "--keep", "1", "--json")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    removed = {r["path"]: r for r in report["removed"]}
    assert set(removed) == {
        f"runs/{failed}",
        f"runs/{r1['run_id']}/markers",
        f"runs/{r2['run_id']}/markers",
        f"state/minhash_dedup/index-0/{failed}",
    }
    assert report["bytes_freed"] == sum(r["bytes"] for r in report["removed"]) > 100
    in_failed = [n for path, n in before.items() if path.startswith(f"runs/{failed}/") and n is not None]
    assert sum(in_failed) == removed[f"runs/{failed}"]["bytes"]
    assert report["kept"] == {
        r1["run_id"]: f"published output of lineage {r1['lineage']['id']}",
        r2["run_id"]: f"published output of lineage {r1['lineage']['id']}",
        r4["run_id"]: "one of the newest 1 runs",
    }
    assert not (ws / "runs" / failed).exists() and not leftover.parent.exists()
    assert (ws / "runs" / r4["run_id"] / "markers").is_dir()  # the newest run is kept whole
    assert {p: file_checksum(p) for p in outputs} == outputs  # published shards untouched
    assert ledger(ws, "SELECT run_id FROM runs WHERE deleted_at IS NOT NULL") == [(failed,)]
    assert (ws / "latest").resolve() == Path(r4["run_dir"]).resolve()
    assert (
        f"{failed}  " in invoke("runs", "-w", ws).stdout
        and "removed by `curate gc`" in invoke("runs", "-w", ws).stdout
    )

    # the lineage goes on as before: nothing new is a no-op, and a copy of the first night's document
    # is still found (its index and text were kept)
    code, same, _ = run(config, ws)
    assert code == 0 and same["nothing_new"]
    first = read(Path(r1["run_dir"]) / "output").iloc[0]
    write_jsonl(data / "f.jsonl", [{"text": near_copy(first["text"])}])
    code, later, _ = run(config, ws)
    assert code == 0 and later["counts"]["removed"] == {"near_duplicate": 1}
    removed_doc = read(Path(later["run_dir"]) / "removed")
    assert removed_doc["duplicate_of"].tolist() == [first["id"]]


def test_gc_drops_a_retired_lineage_only_when_asked_and_never_the_latest_one(tmp_path):
    config, data, ws = setup(tmp_path)
    old = run(config, ws)[1]
    changed = tmp_path / "changed.yaml"
    stages = [*CONFIG["stages"][:2], {"stage": "length_filter", "min_words": 6}]
    changed.write_text(json.dumps({**CONFIG, "input": {"paths": [str(data)]}, "stages": stages}))
    new = run(changed, ws)[1]
    old_id, new_id = old["lineage"]["id"], new["lineage"]["id"]

    kept = invoke("gc", "-w", ws, "--keep", "1")
    assert kept.exit_code == 0 and Path(old["run_dir"], "output").is_dir()  # published: kept
    assert f"lineage {old_id} has no run among the newest 1" in kept.stdout
    assert f"--drop-lineage {old_id}" in kept.stdout

    refused = invoke("gc", "-w", ws, "--drop-lineage", new_id)
    assert refused.exit_code == 2 and refused.output.startswith("curate: error: lineage ")
    assert len(refused.output.strip().splitlines()) == 1 and Path(new["run_dir"]).is_dir()

    dropped = invoke("gc", "-w", ws, "--keep", "1", "--drop-lineage", old_id)
    assert dropped.exit_code == 0, dropped.output
    assert not Path(old["run_dir"]).exists() and Path(new["run_dir"], "output").is_dir()
    assert not any(p.name.startswith(old["run_id"]) for p in ws.glob("state/*/index-*/*"))
    assert any(p.name.startswith(new["run_id"]) for p in ws.glob("state/*/index-*/*"))
    # the dropped lineage starts again from nothing
    code, again, _ = run(config, ws)
    assert code == 0 and again["counts"]["input"] == 12 and again["lineage"]["runs"] == [again["run_id"]]
