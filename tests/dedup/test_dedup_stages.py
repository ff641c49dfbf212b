"""Exact and near dedup as pipeline stages: known clusters, keeper rules, verification, incremental runs."""

from __future__ import annotations

import itertools
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from curate.dedup.shingles import ShingleSpec, shingles
from curate.engine import Engine
from curate.pipeline.runner import Runner
from curate.pipeline.spec import pipeline_from_mapping
from curate.runs.summary import run_status
from curate.runs.workspace import Workspace
from curate.stages.base import Stage, register
from tests.conftest import started_engine, unit_pids, worker_pids, write_jsonl
from tests.dedup.test_minhash import union_find

WORDS = (
    "river stone market garden winter letter engine valley window silver harbor candle forest copper "
    "meadow lantern bridge pepper orchard thunder saddle violin marble pocket feather ribbon castle "
    "ladder planet tunnel blanket mirror cabin falcon kettle anchor velvet jungle walnut compass "
    "canyon lemon parrot hammer cotton island tiger museum rocket garlic basket puzzle pilot"
).split()


def prose(rng: random.Random, n: int = 80) -> list[str]:
    return [rng.choice(WORDS) for _ in range(n)]


def edit(words: list[str], rng: random.Random, changes: int) -> list[str]:
    out = list(words)
    for i in rng.sample(range(len(out)), changes):
        out[i] = rng.choice(WORDS).upper() + "x"  # a word no original has
    return out


def jaccard(a: str, b: str) -> float:
    sa, sb = set(shingles(a, ShingleSpec())), set(shingles(b, ShingleSpec()))
    return len(sa & sb) / len(sa | sb)


def known_corpus(seed: int = 0) -> tuple[list[dict], dict]:
    """Originals, exact copies, near copies (1-2 edits in 80 words) and far copies (25 edits)."""
    rng = random.Random(seed)
    records, expect = [], {"exact": set(), "near": set(), "kept": set()}
    for i in range(12):
        base = prose(rng)
        oid = f"d{i:02d}"  # a prefix of its copies' ids: the smallest id of its cluster
        records.append({"id": oid, "text": " ".join(base)})
        expect["kept"].add(oid)
        if i % 3 == 0:  # an exact copy up to whitespace
            records.append({"id": f"d{i:02d}-exact", "text": "  " + "\n".join(base) + " "})
            expect["exact"].add(f"d{i:02d}-exact")
        if i % 2 == 0:  # a near copy
            records.append({"id": f"d{i:02d}-near", "text": " ".join(edit(base, rng, 1 + i % 2))})
            expect["near"].add(f"d{i:02d}-near")
        if i % 4 == 1:  # a far copy: must stay
            records.append({"id": f"d{i:02d}-far", "text": " ".join(edit(base, rng, 25))})
            expect["kept"].add(f"d{i:02d}-far")
    return records, expect


DEDUP = [{"stage": "exact_dedup"}, {"stage": "minhash_dedup"}]


def run(
    tmp_path: Path,
    records: list[dict],
    stages=DEDUP,
    workers: int = 0,
    name: str = "data",
    ws: str = "ws",
    files: int = 1,
    logs: list | None = None,
    engine: Engine | None = None,
):
    root = tmp_path / name
    for k in range(files):
        write_jsonl(root / f"part-{k}.jsonl", records[k::files])
    pipeline = pipeline_from_mapping(
        {"name": "dedup", "input": {"paths": [str(root)], "id_key": "id"}, "stages": stages}
    )
    workspace = Workspace(tmp_path / ws)
    log = logs.append if logs is not None else (lambda m: None)
    engine = engine or Engine(workers=workers, progress=False)
    result = Runner(pipeline, workspace, engine, log=log).run()
    return result, workspace


def frame(folder: Path) -> pd.DataFrame:
    return pd.concat(
        [pq.read_table(p).to_pandas() for p in sorted(folder.glob("*.parquet"))], ignore_index=True
    )


def test_known_clusters_are_found_and_the_smallest_id_is_kept(tmp_path):
    records, expect = known_corpus()
    for r in records:
        if r["id"].endswith("-near"):
            assert jaccard(r["text"], next(x["text"] for x in records if x["id"] == r["id"][:3])) >= 0.8
    result, ws = run(tmp_path, records)
    kept, removed = frame(result.run_dir / "output"), frame(result.run_dir / "removed")
    assert set(kept["id"]) == expect["kept"]
    by_reason = removed.groupby("reason")["id"].apply(set).to_dict()
    assert by_reason == {"exact_duplicate": expect["exact"], "near_duplicate": expect["near"]}
    removed = removed.set_index("id")
    for rid in expect["exact"] | expect["near"]:
        assert removed.loc[rid, "duplicate_of"] == rid[:3]
    assert removed.loc["d00-exact", "detail"] == "exact duplicate of d00"
    kept = kept.set_index("id")
    assert kept.loc["d00", "dup_cluster_size"] == 2 and kept.loc["d00", "dup_cluster_id"] == "d00"
    assert kept.loc["d01", "dup_cluster_size"] == 1 and kept.loc["d01-far", "dup_cluster_id"] == "d01-far"
    metrics = run_status(ws)["metrics"]
    assert metrics["exact_dedup"]["removed"] == len(expect["exact"])
    near = metrics["minhash_dedup"]
    assert near["removed"] == len(expect["near"]) and near["clusters"] == len(expect["near"])
    assert (near["lsh_bands"], near["lsh_rows"]) == (16, 8)
    assert set(near["seconds"]) == {"signatures", "candidates", "verify", "components", "decisions"}


@dataclass
class ScoreParams:
    pass


@register
class ScoreFromMeta(Stage):
    """Test stage: `quality_score` from the record's metadata."""

    name = "_test_score_from_meta"

    def adds(self):
        return {"quality_score": pa.float64()}

    def annotate(self, df):
        df = df.copy()
        df["quality_score"] = [json.loads(m)["score"] for m in df["meta"]]
        return df


def test_the_highest_scoring_copy_is_kept(tmp_path):
    rng = random.Random(3)
    base = prose(rng)
    records = [
        {"id": "a", "text": " ".join(base), "score": 0.2},
        {"id": "b", "text": " ".join(edit(base, rng, 1)), "score": 0.9},
        {"id": "c", "text": " ".join(edit(base, rng, 1)), "score": 0.5},
        {"id": "x", "text": " ".join(base), "score": 0.1},
        {"id": "y", "text": " ".join(base), "score": 0.7},
    ]
    result, _ = run(tmp_path, records, [{"stage": "_test_score_from_meta"}, *DEDUP])
    kept, removed = frame(result.run_dir / "output"), frame(result.run_dir / "removed").set_index("id")
    assert list(kept["id"]) == ["b"]
    assert removed.loc["a", "duplicate_of"] == "y" and removed.loc["y", "duplicate_of"] == "b"


def brute_force_removed(records: list[dict], threshold: float = 0.8) -> set[str]:
    """The reference on one pandas frame: all pairs, exact Jaccard, union-find, smallest id kept."""
    df = pd.DataFrame(records)
    sets = {r.id: set(shingles(r.text, ShingleSpec())) for r in df.itertuples()}
    edges = [
        (a, b)
        for a, b in itertools.combinations(sorted(sets), 2)
        if len(sets[a] & sets[b]) >= threshold * len(sets[a] | sets[b])
    ]
    roots = union_find(edges)
    return {node for node, root in roots.items() if node != root}


def test_a_three_partition_cluster_run_equals_brute_force_on_one_frame(tmp_path):
    records, _ = known_corpus(seed=7)
    rng = random.Random(11)
    base = prose(rng)
    chain = [base]
    for _ in range(4):  # a chain of drifting copies: transitivity matters
        chain.append(edit(chain[-1], rng, 2))
    records += [{"id": f"chain-{i}", "text": " ".join(w)} for i, w in enumerate(chain)]
    with started_engine(2) as engine:  # up before the run: every task goes to a worker
        workers = worker_pids(engine)
        result, _ = run(tmp_path, records, [{"stage": "minhash_dedup"}], files=3, engine=engine)
    ran = unit_pids(result.run_dir)
    assert ran and ran <= workers and os.getpid() not in ran, (ran, workers)
    removed = set(frame(result.run_dir / "removed")["id"])
    assert removed == brute_force_removed(records)
    assert {"chain-1", "chain-2"} <= removed


def test_verification_prevents_false_removals(tmp_path):
    rng = random.Random(5)
    base = prose(rng)
    records = [{"id": "a", "text": " ".join(base)}, {"id": "b", "text": " ".join(edit(base, rng, 10))}]
    assert 0.2 < jaccard(records[0]["text"], records[1]["text"]) < 0.6
    loose = {"stage": "minhash_dedup", "bands": 32, "rows": 1}  # nearly every pair becomes a candidate
    unverified, _ = run(tmp_path, records, [{**loose, "verify": False}], ws="ws1")
    verified, ws2 = run(tmp_path, records, [loose], ws="ws2")
    assert list(frame(unverified.run_dir / "removed")["id"]) == ["b"]
    assert not (verified.run_dir / "removed").exists() or frame(verified.run_dir / "removed").empty
    metrics = run_status(ws2)["metrics"]["minhash_dedup"]
    assert metrics["candidate_pairs"] == 1 and metrics["verified_pairs"] == 0


def test_large_buckets_use_star_and_chain_pairs_and_giant_clusters_are_reported(tmp_path):
    rng = random.Random(8)
    base = prose(rng)
    records = [
        {"id": f"t{i:02d}", "text": " ".join([*base, f"tail{i}"])} for i in range(12)
    ]  # pairwise J ~ 0.97
    logs = []
    result, ws = run(
        tmp_path, records, [{"stage": "minhash_dedup", "max_bucket_pairs": 3, "giant_cluster": 10}], logs=logs
    )
    kept = frame(result.run_dir / "output")
    assert list(kept["id"]) == ["t00"] and kept["dup_cluster_size"].tolist() == [12]
    assert run_status(ws)["metrics"]["minhash_dedup"]["candidate_pairs"] < 66
    assert any("a cluster of 12 documents" in m and "template over-merge" in m for m in logs)


def test_incremental_dedup_against_an_earlier_run(tmp_path):
    rng = random.Random(21)
    old = [{"id": f"old{i}", "text": " ".join(prose(rng))} for i in range(6)]
    stages = [{"stage": "exact_dedup", "incremental": True}, {"stage": "minhash_dedup", "incremental": True}]
    first, ws = run(tmp_path, old, stages, name="batch1")
    assert len(frame(first.run_dir / "output")) == 6
    index = list((ws.root / "state" / "minhash_dedup").glob("index-*/*/docs.parquet"))
    assert len(index) == 1 and pq.read_metadata(index[0]).num_rows == 6

    new = [
        {"id": "new-near", "text": " ".join(edit(old[0]["text"].split(), rng, 1))},
        {"id": "new-exact", "text": old[1]["text"]},
        {"id": "new-unique", "text": " ".join(prose(rng))},
        {"id": "old2", "text": old[2]["text"]},
    ]  # a published document read again: a copy of its published self, not published twice
    second, ws = run(tmp_path, new, stages, name="batch2")
    kept, removed = frame(second.run_dir / "output"), frame(second.run_dir / "removed").set_index("id")
    assert sorted(kept["id"]) == ["new-unique"]
    assert (
        removed.loc["old2", "reason"] == "exact_duplicate" and removed.loc["old2", "duplicate_of"] == "old2"
    )
    assert (
        removed.loc["new-near", "reason"] == "near_duplicate"
        and removed.loc["new-near", "duplicate_of"] == "old0"
    )
    assert (
        removed.loc["new-exact", "reason"] == "exact_duplicate"
        and removed.loc["new-exact", "duplicate_of"] == "old1"
    )
    metrics = run_status(ws)["metrics"]["minhash_dedup"]
    assert metrics["docs"] == 2  # only the new batch (less exact copies) was signed; old ones: the index
    assert metrics["earlier_runs_indexed"] == 1
    assert len(list((ws.root / "state" / "minhash_dedup").glob("index-*/*/docs.parquet"))) == 2


def test_clough_stevenson_rewrites_cluster_with_their_source_and_independent_answers_never(
    tmp_path, shared_data
):
    """Real labelled near duplicates: plagiarised short answers (cut, light, heavy) and independent ones."""
    import csv

    folder = shared_data / "neardup" / "clough_stevenson_short_answers"
    pipeline = pipeline_from_mapping(
        {
            "name": "clough",
            "input": {"paths": [str(folder)], "format": "text", "fallback_encoding": "cp1252"},
            "stages": [{"stage": "minhash_dedup"}],
        }
    )
    result = Runner(pipeline, Workspace(tmp_path / "ws"), Engine(workers=0, progress=False)).run()
    docs = pd.concat([frame(result.run_dir / "output"), frame(result.run_dir / "removed")])
    cluster = dict(zip(docs["id"], docs["dup_cluster_id"]))
    text = dict(zip(docs["id"], docs["text"]))
    with open(folder / "file_information.csv", newline="") as f:
        answers = [r for r in csv.DictReader(f) if r["Category"] in ("cut", "light", "heavy", "non")]
    merged = {r["File"]: cluster[r["File"]] == cluster[f"orig_task{r['Task']}.txt"] for r in answers}
    similar = {r["File"]: jaccard(text[r["File"]], text[f"orig_task{r['Task']}.txt"]) for r in answers}
    assert len(answers) == 95
    assert not any(merged[r["File"]] for r in answers if r["Category"] == "non")
    close = [name for name, j in similar.items() if j >= 0.85]
    assert close and all(merged[name] for name in close)  # far above the threshold: always found
    assert not any(merged[name] for name, j in similar.items() if j < 0.8)  # verification: never below
