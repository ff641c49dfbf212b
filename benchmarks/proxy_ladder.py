"""Is the cheap proxy's answer the neural one? Decision accuracy of the n-gram proxy against a transformer
ladder, the ladder's scaling fit, and what the classifier's top fractions are worth in compute.

Needs the workspace of `benchmarks/sweep_web.py` (its scored pool, evaluation sets and disjoint classifier).
One sweep on its English pages (`lang = 'en'`): 6 fractions and a random control at every f < 1, pool
size 1, SEEDS seeds; the byte 5-gram model and the transformer at three sizes on every cell, both at a
fixed compute of T training bytes (the transformer repeats a smaller subset, the n-gram model trains once
on it); learning curves for both.

Then:
- decision accuracy (as DataDecide measures it): per seed and evaluation set, over every pair of the
  sweep's subsets (the 6 top-f subsets and 5 random controls), how often the n-gram model orders the pair
  as the largest transformer does, and Spearman's rho of their losses; the same for each smaller size;
- the transformer against a byte unigram model (trained on the whole pool) on every set: it must beat it
  clearly for its ordering to mean anything;
- `curate worth` on the sweep, and at a target scale (--params 1e8 --tokens 2e9) from the multiplier law
  fitted to the ladder's curves, with bootstrap intervals;
- `curate fit --law quality` on the ladder's learning curves joined with each subset's Q (i) (N, D and Q
  all vary).

    python benchmarks/proxy_ladder.py --workspace /work/benchdata/sweep-ws --seeds 3 --train-bytes 1000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SIZES = [[1, 32, 2], [2, 64, 4], [2, 128, 4]]


def curate(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return out.stdout


def agreement(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    """(share of pairs ordered alike, Spearman's rho) of two loss vectors over the same subsets."""
    from scipy.stats import spearmanr

    pairs = list(itertools.combinations(a.index, 2))
    alike = [np.sign(a[i] - a[j]) == np.sign(b[i] - b[j]) for i, j in pairs]
    return float(np.mean(alike)), float(spearmanr(a.to_numpy(), b.to_numpy()).statistic)


def unigram_losses(folder: Path) -> dict[str, float]:
    """A byte unigram model trained on the whole pool (seed 0), on every evaluation set."""
    from curate.sweep.cells import read_texts
    from curate.sweep.ngram import ByteNgramLM, encode_documents

    model = ByteNgramLM(1).fit(encode_documents(read_texts(str(folder / "subsets" / "s0-p1-f1-top"))))
    return {
        p.stem.split("-s")[0]: model.evaluate(encode_documents(read_texts(str(p))))["nats_per_token"]
        for p in sorted((folder / "eval").glob("*.parquet"))
        if not p.stem.startswith("pool_holdout-") or p.stem.endswith("-s0")
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workspace", type=Path, default=Path("/work/benchdata/sweep-ws"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--train-bytes", type=int, default=1_000_000)
    args = ap.parse_args()
    ws = args.workspace.resolve()
    sets = [
        {"name": "gutenberg_prose", "paths": [str(ws / "inputs/eval/gutenberg_prose.jsonl")]},
        {"name": "lee_news", "paths": [str(ws / "inputs/eval/lee_news.jsonl")]},
    ]
    transformer = {"cells": None, "sizes": SIZES, "train_bytes": args.train_bytes, "curve_points": 5}
    t0 = time.perf_counter()
    ranking = json.dumps([str(ws / "models" / "bench-web-quality-v1.ftz")])
    settings = {
        "name": "proxy-ladder",
        "eval.sets": json.dumps(sets),
        "seeds": json.dumps(list(range(args.seeds))),
        "pool_sizes": "[1.0]",
        "pool.where": "lang = 'en'",
        "controls.matched": "false",
        "pool.ranking_models": ranking,
        "budgets": "[fixed_compute]",
        "compute_bytes": f"[{args.train_bytes}]",
        "models.transformer": json.dumps(transformer),
    }
    pool = str(ws / "scored" / "latest" / "output")
    sweep_args = ["sweep", str(HERE / "sweep" / "web_sweep.yaml"), "--workspace", str(ws), "-q", "--json"]
    sweep_args += ["--pool", pool, *(x for k, v in settings.items() for x in ("--set", f"{k}={v}"))]
    out = json.loads(curate(*sweep_args))
    seconds = time.perf_counter() - t0
    folder = Path(out["folder"])
    r = pd.read_parquet(folder / "results.parquet")
    pool_info = out["pool"]
    print(
        f"sweep {folder.name}: {seconds:.0f} s; pool {pool_info['docs']} documents, "
        f"{pool_info['tokens']:,} tokens"
    )
    sizes = sorted(m for m in r["model"].unique() if m.startswith("transformer"))
    largest = max(sizes, key=lambda m: r.loc[r["model"] == m, "params"].iloc[0])
    print("params:", {m: int(r.loc[r["model"] == m, "params"].iloc[0]) for m in sizes})
    unigram = unigram_losses(folder)
    mean = r.groupby(["model", "eval_set"])["loss_nats_per_token"].mean().unstack()
    print("\nmean loss over the subsets (nats/byte), against a byte unigram model of the whole pool:")
    print(pd.concat([mean, pd.DataFrame([unigram], index=["unigram"])]).round(4).to_string())
    print(
        f"\ndecision accuracy against {largest} "
        f"(pairs of the {r['subset'].nunique() // args.seeds} subsets of a seed):"
    )
    print("| eval set | proxy | pairwise agreement (mean over seeds) | Spearman rho (mean) | per seed |")
    print("|---|---|---:|---:|---|")
    for eval_set in sorted(r["eval_set"].unique()):
        for proxy in ["ngram", *[m for m in sizes if m != largest]]:
            scores = []
            for seed in range(args.seeds):
                sub = r[(r["eval_set"] == eval_set) & (r["seed"] == seed)]
                loss = sub.pivot_table(index="subset", columns="model", values="loss_nats_per_token")
                scores.append(agreement(loss[proxy], loss[largest]))
            pa_, rho = np.mean([s[0] for s in scores]), np.mean([s[1] for s in scores])
            per_seed = ", ".join(f"{a:.2f}/{b:.2f}" for a, b in scores)
            print(f"| {eval_set} | {proxy} | {pa_:.3f} | {rho:.3f} | {per_seed} |")
    print("\n" + curate("worth", str(folder)))
    print(
        curate("worth", str(folder), "--params", "1e8", "--tokens", "2e9", "--no-plot", "--bootstrap", "200")
    )
    for eval_set in ("gutenberg_prose", "lee_news"):
        # N (ladder), D (curve points) and Q (i) (per subset) all vary: every subset's curve with its Q
        query = f"""
            SELECT c.params, c.train_tokens AS tokens, c.loss_nats_per_token AS loss, q.quality
            FROM '{folder}/curves.parquet' c
            JOIN (SELECT DISTINCT subset, q_corruption AS quality FROM '{folder}/results.parquet') q
                USING (subset)
            WHERE c.model LIKE 'transformer-%' AND c.eval_set = '{eval_set}'"""
        print(
            f"\ncurate fit --law quality on the ladder's learning curves (every subset, Q (i)), {eval_set}:"
        )
        print(curate("fit", "--law", "quality", "--query", query, "--bootstrap", "200"))


if __name__ == "__main__":
    main()
