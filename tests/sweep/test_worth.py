"""Compute multipliers: planted in synthetic learning curves, recovered within 10%; measured on a sweep."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from curate.sweep.worth import PowerCurve, law_multipliers, multipliers, render_worth
from tests.sweep.conftest import clean_documents, random_tokens, run_sweep, write_config

E, B, BETA = 1.2, 40.0, 0.35  # the baseline: L(D) = E + B / D^beta


def planted_curves(m: dict[float, float], sizes=(1.0,), params=(1000,), seeds=3, noise=0.002, seed=0):
    """Learning curves of a sweep where the top f trained on D tokens equals random data on m[f]·D tokens:
    L_top(D) = E + B/(m D)^beta; f = 1 and the random controls follow the baseline. Loss noise is small
    and seeded; model size adds A/N^alpha so a ladder has something to fit."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in params:
        floor = E + 3.0 * n**-0.4
        for s in range(seeds):
            for pool in sizes:
                pool_tokens = int(4e6 * pool)
                for f in [1.0, *m]:
                    kept = int(pool_tokens * f)
                    for selection, mult in [("top", m.get(f, 1.0)), *([("random", 1.0)] if f < 1 else [])]:
                        for k in range(6):
                            d = kept >> k
                            loss = floor + B * (mult * d) ** -BETA + rng.normal(0, noise)
                            rows.append(
                                {
                                    "subset": f"s{s}-p{pool:g}-f{f:g}-{selection}",
                                    "seed": s,
                                    "pool_size": pool,
                                    "fraction": f,
                                    "selection": selection,
                                    "model": f"transformer-{n}",
                                    "params": n,
                                    "budget": "fixed_data",
                                    "eval_set": "held",
                                    "train_tokens": d,
                                    "loss_nats_per_token": loss,
                                }
                            )
    return pd.DataFrame(rows)


def test_the_power_curve_fit_recovers_a_clean_curve():
    d = np.geomspace(1e4, 1e7, 12)
    curve = PowerCurve.fit(d, E + B * d**-BETA)
    assert curve.e == pytest.approx(E, abs=0.02) and curve.beta == pytest.approx(BETA, abs=0.02)
    assert curve.tokens_for(E + B * 5e5**-BETA) == pytest.approx(5e5, rel=0.02)
    assert curve.tokens_for(E - 0.1) == math.inf  # below the floor: never reached


def test_planted_multipliers_are_recovered_within_ten_percent():
    planted = {0.5: 2.5, 0.3: 4.0, 0.1: 1.5}
    out = multipliers(planted_curves(planted)).set_index("fraction")
    for f, m in planted.items():
        row = out.loc[f]
        assert row["multiplier"] == pytest.approx(m, rel=0.10), (f, row["multiplier"])
        assert row["multiplier_lo"] <= m <= row["multiplier_hi"] and row["seeds"] == 3
        assert row["flops_random"] == pytest.approx(row["flops_top"] * row["multiplier"])
    # f = 0.3 and 0.5 need more random data than the whole pool (4 M tokens): read off the fitted curve,
    # and said so; f = 0.1 needs 0.6 M, inside the baseline's points
    assert out.loc[0.3, "extrapolated_seeds"] == 3 and out.loc[0.5, "extrapolated_seeds"] == 3
    assert out.loc[0.1, "extrapolated_seeds"] == 0


def test_the_multiplier_law_recovers_planted_multipliers_on_a_size_ladder():
    planted = {0.5: 2.0, 0.3: 3.0}
    curves = planted_curves(planted, params=(2_000, 20_000, 200_000), noise=0.001)
    fit = law_multipliers(curves, "transformer", "held", "fixed_data", bootstrap=40)
    for f, m in planted.items():
        assert fit.params[f"m[f={f:g}]"] == pytest.approx(m, rel=0.10)
        lo, hi = fit.ci[f"m[f={f:g}]"]
        assert np.isfinite(lo) and np.isfinite(hi) and lo < m * 1.1 and hi > m * 0.9
    assert fit.params["m[random]"] == 1.0


def test_a_sweep_records_learning_curves_and_its_worth(tmp_path):
    """The top half of a half-corrupted pool: random data needs more tokens for the same loss (m > 1)."""
    rng = random.Random(4)
    docs = list(clean_documents())[:240]
    rows = []
    for i, d in enumerate(docs):
        rows.append({"id": f"c{i}", "text": d, "quality_score": 0.9})
        rows.append({"id": f"x{i}", "text": random_tokens(d, rng), "quality_score": 0.1})
    (tmp_path / "pool").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "pool" / "p.parquet")
    pd.DataFrame({"text": list(clean_documents())[240:]}).to_parquet(tmp_path / "clean.parquet")
    cfg = write_config(
        tmp_path,
        name="worth",
        pool={"paths": [str(tmp_path / "pool")]},
        eval={"sets": [{"name": "clean", "paths": [str(tmp_path / "clean.parquet")]}]},
        fractions=[1.0, 0.5],
        pool_sizes=[1.0],
        seeds=[0, 1, 2],
        budgets=["fixed_data"],
        models={"ngram": {"order": 3, "curve_points": 4}},
        plots=False,
    )
    result = run_sweep(cfg, tmp_path / "ws")
    curves = pd.read_parquet(result.folder / "curves.parquet")
    one = curves[(curves.subset == "s0-p1-f0.5-top") & (curves.eval_set == "clean")].sort_values(
        "train_tokens"
    )
    assert len(one) == 4 and one["loss_nats_per_token"].is_monotonic_decreasing  # more data, lower loss
    kept = result.results.query("subset == 's0-p1-f0.5-top' and eval_set == 'clean'")["kept_tokens"].iloc[0]
    assert one["train_tokens"].iloc[-1] == kept and one["train_tokens"].iloc[0] == kept >> 3
    worth = multipliers(curves)
    row = worth[(worth.eval_set == "clean") & (worth.fraction == 0.5)].iloc[0]
    # half of random data is letter noise: random data needs far more tokens for the top half's loss, or
    # (its fitted floor above that loss) never reaches it
    assert row["multiplier"] > 1.5 and row["seeds"] == 3
    assert row["unreached_seeds"] > 0 or row["multiplier_lo"] > 1.0


def test_the_worth_command_reads_a_sweep_folder(tmp_path):
    from click.testing import CliRunner

    from curate.cli import main

    planted_curves({0.5: 2.0}, params=(2_000, 20_000, 200_000), noise=0.001).to_parquet(
        tmp_path / "curves.parquet"
    )
    run = CliRunner().invoke(main, ["worth", str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert "multiplier [CI]" in run.output and (tmp_path / "plots").is_dir()
    run = CliRunner().invoke(
        main,
        [
            "worth",
            str(tmp_path),
            "--params",
            "1e8",
            "--tokens",
            "2e9",
            "--bootstrap",
            "20",
            "--json",
            "--no-plot",
        ],
    )
    assert run.exit_code == 0, run.output
    out = json.loads(run.output)
    (scale,) = out["at_scale"]
    (half,) = scale["fractions"]
    assert half["multiplier"] == pytest.approx(2.0, rel=0.1) and half["tokens_random"] == pytest.approx(
        half["multiplier"] * 2e9
    )
    assert half["flops_top"] == pytest.approx(6 * 1e8 * 2e9)
    bad = CliRunner().invoke(main, ["worth", str(tmp_path), "--tokens", "1e9"])
    assert bad.exit_code == 2 and "--tokens and --compute need --params" in bad.output
    missing = CliRunner().invoke(main, ["worth", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "has no curves.parquet" in missing.output


def test_a_transformer_ladder_records_its_sizes_and_learning_curves(tmp_path):
    pytest.importorskip("torch", reason="the transformer proxy is the optional `torch` extra")
    docs = list(clean_documents())[:200]
    (tmp_path / "pool").mkdir()
    pd.DataFrame(
        {"id": [f"d{i}" for i in range(200)], "text": docs, "quality_score": np.linspace(0, 1, 200)}
    ).to_parquet(tmp_path / "pool" / "p.parquet")
    sizes = [[1, 16, 2], [1, 32, 2]]
    cfg = write_config(
        tmp_path,
        name="ladder",
        pool={"paths": [str(tmp_path / "pool")]},
        fractions=[1.0, 0.5],
        pool_sizes=[1.0],
        seeds=[0],
        budgets=["fixed_compute"],
        models={
            "ngram": None,
            "transformer": {
                "cells": None,
                "sizes": sizes,
                "context": 32,
                "batch": 8,
                "train_bytes": 8_000,
                "curve_points": 3,
                "curve_bytes": 4_000,
            },
        },
        plots=False,
    )
    result = run_sweep(cfg, tmp_path / "ws")
    r = result.results
    assert set(r.model) == {"transformer-1x16", "transformer-1x32"}
    params = r.groupby("model")["params"].first()
    assert params["transformer-1x16"] < params["transformer-1x32"]  # non-embedding parameters grow
    assert set(r.selection) == {"top", "random", "matched"}  # every cell, with its controls
    curves = pd.read_parquet(result.folder / "curves.parquet")
    one = curves[(curves.subset == "s0-p1-f1-top") & (curves.model == "transformer-1x32")]
    # 31 steps of 8 x 32 bytes: points after 8, 16 and 31 steps
    assert sorted(one.train_tokens.unique()) == [2048, 4096, 7936] and set(one.eval_set) == {"pool_holdout"}


def test_at_scale_fits_each_family_under_its_own_budgets(tmp_path):
    """A ladder sweep trains the n-gram model under one budget and the transformers under another: the law
    is fitted per family over the budgets that family has (it once asked the n-gram for the transformers'
    budget and stopped with 'no learning curves')."""
    from click.testing import CliRunner

    from curate.cli import main

    ladder = planted_curves({0.5: 2.0}, params=(2_000, 20_000, 200_000), noise=0.001)
    ladder["budget"] = "fixed_compute@1MB"
    ngram = planted_curves({0.5: 1.5}, noise=0.001).assign(model="ngram", budget="fixed_data")
    pd.concat([ladder, ngram]).to_parquet(tmp_path / "curves.parquet")
    args = ["worth", str(tmp_path), "--params", "1e8", "--tokens", "2e9", "--bootstrap", "0", "--json"]
    run = CliRunner().invoke(main, [*args, "--no-plot"])
    assert run.exit_code == 0, run.output
    scales = {(s["model"], s["budget"]) for s in json.loads(run.output)["at_scale"]}
    assert scales == {("ngram", "fixed_data"), ("transformer", "fixed_compute@1MB")}


def test_a_baseline_the_power_curve_cannot_follow_is_called_a_misfit():
    """Checkpoints of one cosine schedule fall steeply, flatten, then drop at the end: a power curve through
    them misses random data's own last loss, and the multipliers read off it are flagged."""
    curves = planted_curves({0.5: 2.0}, noise=0.0005)
    assert multipliers(curves)["misfit_seeds"].eq(0).all()  # power-law curves fit
    bent = curves.copy()
    share = bent["train_tokens"] / bent.groupby("subset")["train_tokens"].transform("max")
    bent.loc[share < 0.1, "loss_nats_per_token"] += 1.5  # the early, high-learning-rate points
    table = multipliers(bent)
    assert table["misfit_seeds"].gt(0).all()
    assert "baseline misfit" in render_worth(table)
