"""Sweeps: nested subsets and their controls, Q, honest budgets, the results table, resume, the proxies."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from curate.sweep import dataset_quality as dq
from curate.sweep.ngram import ByteNgramLM, encode_documents
from tests.sweep.conftest import clean_documents, paragraphs, random_tokens, run_sweep, write_config

CORRUPT_SHARE = 1 / 3


@pytest.fixture(scope="module")
def corrupted_pool(tmp_path_factory):
    """Clean prose and, for a third of the documents, random-letter tokens scored low; clean held-out prose
    to evaluate on."""
    rng = random.Random(0)
    docs = list(clean_documents())
    assert len(docs) > 500
    rows = []
    for i, d in enumerate(docs[:400]):
        rows.append({"id": f"c{i:04d}", "text": d, "quality_score": rng.uniform(0.6, 1.0)})
        if i < 200:
            rows.append(
                {"id": f"x{i:04d}", "text": random_tokens(d, rng), "quality_score": rng.uniform(0, 0.3)}
            )
    root = tmp_path_factory.mktemp("sweep")
    (root / "pool").mkdir()
    pd.DataFrame(rows).to_parquet(root / "pool" / "pool.parquet")
    pd.DataFrame({"text": docs[400:]}).to_parquet(root / "clean_eval.parquet")
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
    return write_config(root, **data)


@pytest.fixture(scope="module")
def swept(corrupted_pool):
    return run_sweep(config(corrupted_pool), corrupted_pool / "ws")


def subset_ids(folder) -> set[str]:
    return {
        i for p in folder.glob("*.parquet") for i in pq.read_table(p, columns=["id"]).column("id").to_pylist()
    }


def manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_subsets_nest_and_keep_the_top_scores(swept):
    folder = swept.folder / "subsets"
    for seed in (0, 1, 2):
        ids = {f: subset_ids(folder / f"s{seed}-p1-f{f:g}-top") for f in (1.0, 0.67, 0.33)}
        assert ids[0.33] < ids[0.67] < ids[1.0]
        half = subset_ids(folder / f"s{seed}-p0.5-f1-top")
        assert half < ids[1.0] and abs(len(half) - len(ids[1.0]) / 2) <= 1
        m = manifest(folder / f"s{seed}-p1-f0.33-top")
        q = np.concatenate(
            [
                pq.read_table(p, columns=["q"]).column("q").to_numpy()
                for p in (folder / f"s{seed}-p1-f1-top").glob("*.parquet")
            ]
        )
        assert m["docs"] == len(ids[0.33]) and m["threshold"] == pytest.approx(np.sort(q)[-m["docs"]])
        assert {
            "q_corruption",
            "q_deficiency",
            "tokens",
            "words",
            "pool_docs",
            "source",
            "composition",
        } <= set(m)
        assert set(m["composition"]) == {"lang_mix", "source_mix", "length_p10", "length_p50", "length_p90"}


def test_random_controls_match_the_kept_bytes_within_the_same_pool(swept):
    folder = swept.folder / "subsets"
    for seed in (0, 1, 2):
        for pool in (1, 0.5):
            whole = subset_ids(folder / f"s{seed}-p{pool:g}-f1-top")
            for f in (0.67, 0.33):
                top = manifest(folder / f"s{seed}-p{pool:g}-f{f:g}-top")
                for selection in ("random", "matched"):
                    control = manifest(folder / f"s{seed}-p{pool:g}-f{f:g}-{selection}")
                    ids = subset_ids(folder / f"s{seed}-p{pool:g}-f{f:g}-{selection}")
                    assert ids <= whole  # drawn from the same pool
                    # equal kept bytes, up to about one document (documents average ~500 bytes here)
                    assert abs(control["tokens"] - top["tokens"]) < 1500, (seed, pool, f, selection)
                    assert control["threshold"] is None and control["selection"] == selection
            # controls nest like the top f: one random order per seed and pool
            assert subset_ids(folder / f"s{seed}-p{pool:g}-f0.33-random") < subset_ids(
                folder / f"s{seed}-p{pool:g}-f0.67-random"
            )
    assert not (folder / "s0-p1-f1-random").exists()  # at f = 1 the control would be the pool itself


def test_dropping_the_corrupted_third_beats_random_by_far(swept):
    s = swept.summary
    rows = s[(s.model == "ngram") & (s.budget == "fixed_data") & (s.eval_set == "clean_prose")]
    top = rows[rows.selection == "top"].set_index(["pool_size", "fraction"])
    assert top.loc[(1.0, 0.67), "loss"] < top.loc[(1.0, 1.0), "loss"] - 0.05
    for key in [(1.0, 0.67), (1.0, 0.33), (0.5, 0.67)]:
        assert top.loc[key, "gain_random_lo"] > 0.03, key  # the interval is well above 0
        assert top.loc[key, "verdict"] == "better than random"
    marked = top[top.on_front | top.best_at_share]
    assert (
        (marked.index.get_level_values("fraction") == 1.0) | (marked.verdict == "better than random")
    ).all()
    assert top.loc[(1.0, 0.67), "on_front"] and top.loc[(1.0, 0.67), "best_at_share"]


def test_q_falls_as_the_corrupted_share_grows_and_is_not_the_ranking_score(swept):
    top = swept.summary[swept.summary.selection == "top"]
    s = top.drop_duplicates(["pool_size", "fraction"]).set_index(["pool_size", "fraction"])
    for estimator in ("q_corruption", "q_deficiency"):
        q = s[estimator]
        assert q[(1.0, 1.0)] < q[(1.0, 0.67)] - 0.05, estimator  # f=1 keeps the corrupted third
        assert q[(0.5, 1.0)] < q[(0.5, 0.67)] - 0.05, estimator
    # Q (i) is judged by the Gopher rules, not by quality_score: the clean prose passes them all.
    assert s.loc[(1.0, 1.0), "q_corruption"] == pytest.approx(1 - CORRUPT_SHARE, abs=0.06)
    assert swept.pool["low_quality_judge"] == "fails a published rule of gopher_quality or gopher_repetition"
    m = manifest(swept.folder / "subsets" / "s0-p1-f0.33-top")
    assert m["q_corruption_judge"] == swept.pool["low_quality_judge"]
    assert set(swept.results["q_corruption_judge"]) == {swept.pool["low_quality_judge"]}


def test_the_ngram_never_trains_on_repeated_data(swept):
    """Regression: the n-gram proxy multiplied counts by the epochs and kept one pass's discounts, so a
    fixed-compute budget made small subsets look worse than their one pass did."""
    r = swept.results[(swept.results.selection == "top") & (swept.results.eval_set == "clean_prose")]
    one_pass = r[r.budget == "fixed_data"].set_index(["seed", "pool_size", "fraction"])
    compute = r[r.budget_kind == "fixed_compute"]
    pool_bytes = compute["compute_tokens"].max()
    assert sorted(compute["compute_share"].unique()) == [0.25, 0.5, 1.0]
    assert sorted(compute["compute_tokens"].unique()) == pytest.approx(
        [pool_bytes / 4, pool_bytes / 2, pool_bytes], rel=0.01
    )
    small = compute[compute.kept_tokens < compute.compute_tokens]
    assert len(small) and small["one_pass_only"].all() and (small["epochs"] > 1).all()
    assert (small["train_tokens"] == small["kept_tokens"]).all()
    assert (small["effective_tokens"] < small["compute_tokens"]).all()  # D' < T under repetition
    for row in small.itertuples():
        assert (
            row.loss_nats_per_token
            == one_pass.loc[(row.seed, row.pool_size, row.fraction), "loss_nats_per_token"]
        )
    big = compute[compute.kept_tokens >= compute.compute_tokens]
    assert (
        len(big) and (big["train_tokens"] == big["compute_tokens"]).all() and not big["one_pass_only"].any()
    )


def test_results_table_feeds_curate_fit(swept):
    r = swept.results
    assert {"params", "tokens", "loss", "quality", "group", "lang_mix", "source_mix", "length_p50"} <= set(
        r.columns
    )
    subsets = 3 * 2 * (1 + 2 * 3)  # seeds x pools x (f = 1, and two f < 1, each top and two controls)
    assert len(r) == subsets * 4 * 2  # x budgets (fixed data, three fixed-compute) x eval sets
    assert set(r.eval_set) == {"pool_holdout", "clean_prose"}
    assert all(p.exists() for p in swept.plots) and any(p.suffix == ".svg" for p in swept.plots)
    assert any(p.name.startswith("gain_vs_f") for p in swept.plots)
    assert swept.summary["on_front"].any()
    assert (swept.folder / "composition.parquet").exists() and (swept.folder / "pool.json").exists()


def test_a_killed_sweep_resumes_where_it_stopped(corrupted_pool, swept):
    cells = sorted(p for p in (swept.folder / "cells").glob("*.parquet") if ".curve." not in p.name)
    first = {p: p.stat().st_mtime_ns for p in cells}
    for p in cells[:5]:
        p.unlink()  # as if the sweep had been killed before these cells finished
    again = run_sweep(config(corrupted_pool), corrupted_pool / "ws")
    assert again.cells_run == 5 and again.cells_reused == len(cells) - 5
    assert all(p.stat().st_mtime_ns == t for p, t in first.items() if p not in cells[:5])
    pd.testing.assert_frame_equal(
        again.results.drop(columns="train_seconds"), swept.results.drop(columns="train_seconds")
    )


def test_the_folder_changes_with_results_settings_not_with_the_engine(corrupted_pool):
    """A sweep rerun with a dashboard or more workers reuses its cells (it once recomputed them all)."""
    from curate.sweep.run import sweep_folder

    ws = corrupted_pool / "ws"
    base = sweep_folder(ws, config(corrupted_pool))
    engine = {"workers": 7, "dashboard": True, "memory_limit": "1GiB"}
    assert sweep_folder(ws, config(corrupted_pool, engine=engine, plots=False)) == base
    assert sweep_folder(ws, config(corrupted_pool, seeds=[0, 1])) != base
    assert sweep_folder(ws, config(corrupted_pool, models={"ngram": {"order": 3}})) != base


def test_the_byte_ngram_model_is_normalized_and_learns():
    texts = paragraphs()[:400]
    model = ByteNgramLM(4).fit(encode_documents(texts[:300]))
    for context in (b"the", b"zqx", b"\x00\x00\x00"):
        streams = [np.frombuffer(context + bytes([b]), np.uint8) for b in range(256)]
        assert sum(np.exp(model.log_probs(s)[-1]) for s in streams) == pytest.approx(1.0, abs=1e-9)
    held_out = model.evaluate(encode_documents(texts[300:]))
    assert held_out["bits_per_byte"] < 3.0  # English prose: far below the 8 bits of a uniform byte model
    unigram = ByteNgramLM(1).fit(encode_documents(texts[:300])).evaluate(encode_documents(texts[300:]))
    assert held_out["nats_per_token"] < unigram["nats_per_token"] - 0.5


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
        budgets=["fixed_data", "fixed_compute"],
        plots=False,
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
    result = run_sweep(cfg, corrupted_pool / "ws-t")
    r = result.results
    tx = r[(r.model == "transformer") & (r.eval_set == "clean_prose")]
    # the transformer runs on the listed cells and their controls, at its own budget (T = train_bytes)
    assert set(tx.selection) == {"top", "random", "matched"}
    assert set(tx.budget) == {"fixed_data", "fixed_compute@60KB"}
    assert (tx[tx.budget_kind == "fixed_compute"]["train_tokens"] == 60_000).all()
    loss = result.summary[
        (result.summary.eval_set == "clean_prose") & (result.summary.budget == "fixed_data")
    ]
    loss = loss.set_index(["model", "selection", "fraction"])["loss"]
    assert loss[("transformer", "top", 0.67)] < loss[("transformer", "top", 1.0)]
    assert loss[("transformer", "top", 0.67)] < loss[("transformer", "random", 0.67)]
    assert loss[("ngram", "top", 0.67)] < loss[("ngram", "random", 0.67)]
