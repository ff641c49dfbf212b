"""cluster: star: a member goes only when it is near its cluster's kept document, never through a chain."""

from __future__ import annotations

import itertools
import os
import random

import duckdb
import pytest

from curate.dedup.components import connected_components
from curate.dedup.shingles import ShingleSpec, shingles
from curate.dedup.star import star_clusters
from curate.errors import ConfigError
from curate.pipeline.spec import pipeline_from_mapping
from curate.runs.summary import run_status
from tests.conftest import started_engine, unit_pids, worker_pids
from tests.dedup.test_dedup_stages import frame, jaccard, known_corpus, prose, run
from tests.dedup.test_minhash import union_find

STAR = [{"stage": "minhash_dedup", "cluster": "star"}]
COMPONENTS = [{"stage": "minhash_dedup"}]


def chain(rng: random.Random, n: int, prefix: str = "c") -> list[dict]:
    """n documents, each one word away from the one before, at words far enough apart (16 words) that the
    5-grams of two edits never overlap: neighbours have J ~ 0.88, documents two apart J ~ 0.77 (< 0.8)."""
    words = prose(rng)
    docs = [list(words)]
    for k in range(1, n):
        nxt = list(docs[-1])
        nxt[8 + 16 * (k - 1)] = f"EDIT{k}x"  # a word no document has
        docs.append(nxt)
    return [{"id": f"{prefix}{k}", "text": " ".join(d)} for k, d in enumerate(docs)]


def star_reference(records: list[dict], threshold: float = 0.8) -> dict[str, str]:
    """Star clusters on one frame, by brute force: {id: the id it is a duplicate of} for removed ones."""
    sets = {r["id"]: set(shingles(r["text"], ShingleSpec())) for r in records}

    def near(a: str, b: str) -> bool:
        return len(sets[a] & sets[b]) >= threshold * len(sets[a] | sets[b])

    removed: dict[str, str] = {}
    left = set(sets)
    while True:
        edges = [(a, b) for a, b in itertools.combinations(sorted(left), 2) if near(a, b)]
        if not edges:
            return removed
        groups: dict[str, list[str]] = {}
        for node, root in union_find(edges).items():
            groups.setdefault(root, []).append(node)
        for members in groups.values():
            keeper = min(members)  # the keeper rule without scores: the smallest id
            left.discard(keeper)
            for m in members:
                if m != keeper and near(m, keeper):
                    removed[m] = keeper
                    left.discard(m)


def test_a_chain_never_removes_a_document_that_is_not_near_the_kept_one(tmp_path):
    a, b, c = chain(random.Random(3), 3)
    assert jaccard(a["text"], b["text"]) >= 0.8 and jaccard(b["text"], c["text"]) >= 0.8
    assert jaccard(a["text"], c["text"]) < 0.8  # C resembles B, not A
    records = [a, b, c]

    components, _ = run(tmp_path, records, COMPONENTS, ws="components")
    assert sorted(frame(components.run_dir / "removed")["id"]) == ["c1", "c2"]  # C went for resembling B

    star, ws = run(tmp_path, records, STAR, ws="star")
    removed = frame(star.run_dir / "removed").set_index("id")
    assert list(removed.index) == ["c1"] and removed.loc["c1", "duplicate_of"] == "c0"
    kept = frame(star.run_dir / "output").set_index("id")
    assert sorted(kept.index) == ["c0", "c2"]
    assert kept.loc["c0", "dup_cluster_size"] == 2
    assert kept.loc["c2", "dup_cluster_id"] == "c2" and kept.loc["c2", "dup_cluster_size"] == 1
    metrics = run_status(ws)["metrics"]["minhash_dedup"]
    assert metrics["cluster_mode"] == "star"
    assert metrics["removed_by_components"] == 2 and metrics["kept_by_star"] == 1
    assert metrics["removed"] == 1


def test_members_left_by_a_keeper_form_stars_of_their_own(tmp_path):
    records = chain(random.Random(4), 5)  # c0 ~ c1 ~ c2 ~ c3 ~ c4
    result, ws = run(tmp_path, records, STAR)
    removed = frame(result.run_dir / "removed").set_index("id")["duplicate_of"].to_dict()
    assert removed == {"c1": "c0", "c3": "c2"} == star_reference(records)
    assert sorted(frame(result.run_dir / "output")["id"]) == ["c0", "c2", "c4"]
    assert run_status(ws)["metrics"]["minhash_dedup"]["star_rounds"] == 2


def test_star_on_workers_over_three_partitions_equals_the_reference_on_one_frame(tmp_path):
    records, _ = known_corpus(seed=7)
    rng = random.Random(12)
    records += chain(rng, 6, "chain-") + chain(rng, 4, "other-")
    with started_engine(2) as engine:  # up before the run: every task goes to a worker
        workers = worker_pids(engine)
        result, _ = run(tmp_path, records, [{"stage": "exact_dedup"}, *STAR], files=3, engine=engine)
    ran = unit_pids(result.run_dir)
    assert ran and ran <= workers and os.getpid() not in ran, (ran, workers)
    removed = frame(result.run_dir / "removed")
    near = removed[removed["reason"] == "near_duplicate"].set_index("id")["duplicate_of"].to_dict()
    exact = set(removed.loc[removed["reason"] == "exact_duplicate", "id"])
    assert near == star_reference([r for r in records if r["id"] not in exact])
    assert near["chain-1"] == "chain-0" and "chain-2" not in near and near["chain-3"] == "chain-2"


def test_star_against_an_earlier_runs_published_document(tmp_path):
    a, b, c = chain(random.Random(6), 3)
    stages = [{"stage": "minhash_dedup", "cluster": "star", "incremental": True}]
    run(tmp_path, [a], stages, name="batch1")
    second, _ = run(tmp_path, [b, c], stages, name="batch2")
    removed = frame(second.run_dir / "removed").set_index("id")
    assert list(removed.index) == ["c1"] and removed.loc["c1", "duplicate_of"] == "c0"
    assert list(frame(second.run_dir / "output")["id"]) == ["c2"]


def test_star_needs_verification():
    with pytest.raises(ConfigError, match=r"cluster: star checks each member .* set verify: true"):
        pipeline_from_mapping(
            {
                "name": "t",
                "input": {"paths": ["x"]},
                "stages": [{"stage": "minhash_dedup", "cluster": "star", "verify": False}],
            }
        )


@pytest.mark.parametrize(
    ("max_rounds", "expected", "found"),
    [
        (1000, {1: 1, 2: 1, 3: 3, 4: 3, 5: 5}, {"rounds": 2, "left_unverified": 0}),
        (1, {1: 1, 2: 1, 3: 3, 4: 4, 5: 5}, {"rounds": 1, "left_unverified": 3}),  # kept, not removed
    ],
)
def test_stars_of_a_chain_in_duckdb_and_what_is_left_after_max_rounds(max_rounds, expected, found):
    con = duckdb.connect()
    con.execute("CREATE TABLE edges AS SELECT * FROM (VALUES (1, 2), (2, 3), (3, 4), (4, 5)) t(a, b)")
    con.execute("CREATE TABLE docs AS SELECT range AS doc, range::VARCHAR AS id FROM range(1, 6)")
    connected_components(con, "edges", "cc")

    def near(pairs: str, out: str) -> None:  # near = an edge: each document resembles its neighbours only
        con.execute(f"""
            CREATE OR REPLACE TABLE {out} AS SELECT p.a, p.b FROM {pairs} p
            SEMI JOIN edges e ON e.a = least(p.a, p.b) AND e.b = greatest(p.a, p.b)""")

    assert star_clusters(con, "cc", "edges", "docs", "id", near, "star", max_rounds) == found
    assert dict(con.execute("SELECT node, root FROM star").fetchall()) == expected


def test_curate_dedup_cluster_star_prints_what_stars_kept(tmp_path):
    from click.testing import CliRunner

    from curate.cli import main
    from tests.conftest import write_jsonl

    write_jsonl(tmp_path / "chain.jsonl", chain(random.Random(3), 3))
    args = ["dedup", str(tmp_path / "chain.jsonl"), "-o", str(tmp_path / "ws"), "--id-key", "id"]
    result = CliRunner().invoke(main, [*args, "--workers", "0", "-q", "--cluster", "star"])
    assert result.exit_code == 0, result.output
    assert "near duplicates                 1" in result.stdout
    assert "stars                  1 of the 2 documents components would remove are kept" in result.stdout
    refused = CliRunner().invoke(main, [*args, "--cluster", "star", "--no-verify"])
    assert refused.exit_code == 2 and "drop --no-verify" in refused.output
