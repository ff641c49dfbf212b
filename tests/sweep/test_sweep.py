"""Sweeps: nested subsets, dataset quality Q, a proxy model that measures what corruption costs, resume."""

from __future__ import annotations

import functools
import json
import random

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from curate.demo import pydoc_topics, stdlib_documents
from curate.engine import Engine
from curate.sweep import dataset_quality as dq
from curate.sweep.load import load_sweep
from curate.sweep.ngram import ByteNgramLM, encode_documents
from curate.sweep.run import SweepRunner

CORRUPT_SHARE = 1 / 3


@functools.cache
def paragraphs() -> list[str]:
    """Real prose every Python installation has: paragraphs of the standard library's docstrings and of
    the pydoc help topics."""
    docs = list(stdlib_documents()) + list(pydoc_topics())
    paras = [p.strip() for d in docs for p in d["text"].split("\n\n")]
    return [p for p in paras if len(p.split()) >= 15]


def random_tokens(text: str, rng: random.Random) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return " ".join("".join(rng.choice(letters) for _ in range(len(w))) for w in text.split())


@pytest.fixture(scope="module")
def corrupted_pool(tmp_path_factory):
    """1,200 documents, a third of them random-letter tokens scored low; clean held-out prose to evaluate."""
    rng = random.Random(0)
    paras = paragraphs()
    assert len(paras) > 1500
    rng.shuffle(paras)
    rows = []
    for i, p in enumerate(paras[:1200]):
        bad = i % 3 == 0
        rows.append(
            {
                "id": f"d{i:05d}",
                "text": random_tokens(p, rng) if bad else p,
                "quality_score": rng.uniform(0.0, 0.3) if bad else rng.uniform(0.6, 1.0),
            }
        )
    root = tmp_path_factory.mktemp("sweep")
    (root / "pool").mkdir()
    pd.DataFrame(rows).to_parquet(root / "pool" / "pool.parquet")
    pd.DataFrame({"text": paras[1200:1500]}).to_parquet(root / "clean_eval.parquet")
    return root


def config(root, **changes):
    data = {
        "name": "corruption",
        "pool": {"paths": [str(root / "pool")]},
        "eval": {"sets": [{"name": "clean_prose", "paths": [str(root / "clean_eval.parquet")]}]},
        "fractions": [1.0, 0.67, 0.33],
        "pool_sizes": [1.0, 0.5],
        "seeds": [0, 1, 2],
        "budgets": ["fixed_data", "fixed_compute"],
        "models": {"ngram": {"order": 4}},
        **changes,
    }
    path = root / "sweep.yaml"
    path.write_text(json.dumps(data))
    return load_sweep(path)


@pytest.fixture(scope="module")
def swept(corrupted_pool):
    runner = SweepRunner(
        config(corrupted_pool), corrupted_pool / "ws", Engine(workers=0, progress=False), log=lambda m: None
    )
    return runner.run()


def subset_ids(folder) -> set[str]:
    return {
        i for p in folder.glob("*.parquet") for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()
    }


def test_subsets_nest_and_keep_the_top_scores(swept):
    folder = swept.folder / "subsets"
    for seed in (0, 1, 2):
        ids = {f: subset_ids(folder / f"s{seed}-p1-f{f:g}") for f in (1.0, 0.67, 0.33)}
        assert ids[0.33] < ids[0.67] < ids[1.0]
        half = subset_ids(folder / f"s{seed}-p0.5-f1")
        assert half < ids[1.0] and abs(len(half) - len(ids[1.0]) / 2) <= 1
        m = json.loads((folder / f"s{seed}-p1-f0.33" / "manifest.json").read_text())
        q = np.concatenate(
            [
                pq.read_table(p, columns=["q"]).column("q").to_numpy()
                for p in (folder / f"s{seed}-p1-f1").glob("*.parquet")
            ]
        )
        assert m["docs"] == len(ids[0.33]) and m["threshold"] == pytest.approx(np.sort(q)[-m["docs"]])
        assert {"q_corruption", "q_deficiency", "tokens", "words", "pool_docs", "source"} <= set(m)


def test_loss_at_the_clean_share_beats_keeping_everything(swept):
    s = swept.summary
    clean = s[
        (s.model == "ngram") & (s.budget == "fixed_data") & (s.eval_set == "clean_prose") & (s.pool_size == 1)
    ]
    loss = clean.set_index("fraction")["loss"]
    assert (
        loss[0.67] < loss[1.0] - 0.05
    )  # dropping the corrupted third helps, by far more than the seed spread
    assert clean.set_index("fraction")["loss_std"].max() < 0.05


def test_q_falls_as_the_corrupted_share_grows(swept):
    s = swept.summary.drop_duplicates(["pool_size", "fraction"]).set_index(["pool_size", "fraction"])
    for estimator in ("q_corruption", "q_deficiency"):
        q = s[estimator]
        assert q[(1.0, 1.0)] < q[(1.0, 0.67)] - 0.05, estimator  # f=1 keeps the corrupted third
        assert q[(0.5, 1.0)] < q[(0.5, 0.67)] - 0.05, estimator
    assert s.loc[(1.0, 1.0), "q_corruption"] == pytest.approx(1 - CORRUPT_SHARE, abs=0.06)


def test_fixed_compute_trains_every_cell_on_the_same_tokens(swept):
    r = swept.results[(swept.results.budget == "fixed_compute") & (swept.results.eval_set == "clean_prose")]
    assert r["train_tokens"].nunique() <= 2  # one budget (rounding of fractional repeats aside)
    small = r[(r.pool_size == 0.5) & (r.fraction == 0.33)]
    assert (small["epochs"] > 1).all() and (small["effective_tokens"] < small["train_tokens"]).all()
    big = r[(r.pool_size == 1.0) & (r.fraction == 1.0)]
    assert (big["epochs"] < 1).all()


def test_results_table_feeds_curate_fit(swept):
    r = swept.results
    assert {"params", "tokens", "loss", "quality", "group"} <= set(r.columns)
    assert len(r) == 3 * 2 * 3 * 2 * 2  # fractions x pools x seeds x budgets x eval sets
    assert set(r.eval_set) == {"pool_holdout", "clean_prose"}
    assert all(p.exists() for p in swept.plots) and any(p.suffix == ".svg" for p in swept.plots)
    assert swept.summary["on_front"].any()


def test_a_killed_sweep_resumes_where_it_stopped(corrupted_pool, swept):
    cells = sorted((swept.folder / "cells").glob("*.parquet"))
    first = {p: p.stat().st_mtime_ns for p in cells}
    for p in cells[:5]:
        p.unlink()  # as if the sweep had been killed before these cells finished
    again = SweepRunner(
        config(corrupted_pool), corrupted_pool / "ws", Engine(workers=0, progress=False), log=lambda m: None
    ).run()
    assert again.cells_run == 5 and again.cells_reused == len(cells) - 5
    assert all(p.stat().st_mtime_ns == t for p, t in first.items() if p not in cells[:5])
    pd.testing.assert_frame_equal(
        again.results.drop(columns="train_seconds"), swept.results.drop(columns="train_seconds")
    )


def test_the_byte_ngram_model_is_normalized_and_learns():
    texts = paragraphs()[:400]
    model = ByteNgramLM(4).fit(encode_documents(texts[:300]))
    for context in (b"the", b"zqx", b"\x00\x00\x00"):
        streams = [np.frombuffer(context + bytes([b]), np.uint8) for b in range(256)]
        assert sum(np.exp(model.log_probs(s)[-1]) for s in streams) == pytest.approx(1.0, abs=1e-9)
    held_out = model.evaluate(encode_documents(texts[300:]))
    assert held_out["bits_per_byte"] < 3.0  # English prose: far below the 8 bits of a uniform byte model
    repeated = (
        ByteNgramLM(4).fit(encode_documents(texts[:300]), repeats=8).evaluate(encode_documents(texts[300:]))
    )
    assert repeated["nats_per_token"] > held_out["nats_per_token"]  # repetition does not add information


def test_dataset_quality_estimators():
    assert dq.corruption_q(25, 100) == 0.75 and dq.corruption_q(0, 0) == 1.0
    reference = dq.ReferenceModel(paragraphs()[:600])
    q_same, d_same = reference.q(paragraphs()[600:900])
    q_noise, d_noise = reference.q([random_tokens(p, random.Random(1)) for p in paragraphs()[600:900]])
    assert 0.8 < q_same <= 1 and 0 <= d_same < 0.2  # text like the reference: barely deficient
    assert q_noise < 0.3 and d_noise > 1.2  # random letters: over a nat per byte more surprising
    assert dq.effective_tokens(100, 1.0) == 100 and dq.effective_tokens(100, 0.5) == 50
    assert dq.effective_tokens(100, 2.0) == pytest.approx(100 + 100 * 15.4 * (1 - np.exp(-1 / 15.4)))


def test_the_transformer_spot_check_agrees_with_the_ngram_ranking(corrupted_pool):
    pytest.importorskip("torch", reason="the transformer proxy is the optional `torch` extra")
    cfg = config(
        corrupted_pool,
        name="spot-check",
        fractions=[1.0, 0.67],
        pool_sizes=[1.0],
        seeds=[0],
        budgets=["fixed_data"],
        models={
            "ngram": {"order": 4},
            "transformer": {
                "cells": [[1.0, 1.0], [0.67, 1.0]],
                "layers": 1,
                "d_model": 32,
                "heads": 2,
                "context": 64,
                "batch": 16,
                "train_bytes": 60_000,
                "lr": 3e-3,
            },
        },
    )
    result = SweepRunner(
        cfg, corrupted_pool / "ws-t", Engine(workers=0, progress=False), log=lambda m: None
    ).run()
    loss = result.summary[result.summary.eval_set == "clean_prose"].set_index(["model", "fraction"])["loss"]
    assert loss[("transformer", 0.67)] < loss[("transformer", 1.0)]
    assert loss[("ngram", 0.67)] < loss[("ngram", 1.0)]
