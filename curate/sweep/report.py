"""Sweep results: the table, the Pareto front of loss against kept data, and the plots.

The results table (`results.parquet`) has one row per (fraction, pool size, seed, model, budget, eval set),
and four columns named for `curate fit`'s defaults:

    params  = the proxy model's size: transformer parameters; for the n-gram model, whose stored n-grams
              grow with the data (column `ngrams`), its order, so that fits see one size per configuration
    tokens  = training tokens (bytes; kept tokens for fixed_data, the budget T for fixed_compute)
    loss    = held-out loss in nats per token (= per byte)
    quality = Q by the corruption-rate estimator (q_deficiency holds the other one)
    group   = "f=<fraction>", for the multiplier law

e.g. `curate fit --law fixed-n --query "SELECT * FROM 'results.parquet' WHERE budget = 'fixed_data' AND
eval_set = 'pool_holdout'"`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FIT_COLUMNS = {
    "params": "params",
    "tokens": "train_tokens",
    "loss": "loss_nats_per_token",
    "quality": "q_corruption",
}


def with_fit_columns(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for name, source in FIT_COLUMNS.items():
        df[name] = df[source]
    df["group"] = [f"f={f:g}" for f in df["fraction"]]
    return df


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds per (model, budget, eval set, pool size, fraction)."""
    keys = ["model", "budget", "eval_set", "pool_size", "fraction"]
    g = df.groupby(keys, as_index=False)
    out = g.agg(
        kept_tokens=("kept_tokens", "mean"),
        train_tokens=("train_tokens", "mean"),
        epochs=("epochs", "mean"),
        effective_tokens=("effective_tokens", "mean"),
        loss=("loss_nats_per_token", "mean"),
        loss_std=("loss_nats_per_token", "std"),
        bits_per_byte=("bits_per_byte", "mean"),
        q_corruption=("q_corruption", "mean"),
        q_deficiency=("q_deficiency", "mean"),
        seeds=("seed", "nunique"),
    )
    out["loss_std"] = out["loss_std"].fillna(0.0)
    out["kept_share"] = (out["pool_size"] * out["fraction"]).round(6)
    return out


def pareto(summary: pd.DataFrame) -> pd.DataFrame:
    """Mark, per (model, budget, eval set), the non-dominated (kept tokens, loss) points (`on_front`: no
    other point keeps at most as many tokens with at most the loss, one of them strictly) and, at each
    kept-data share f·pool, the fraction with the best loss (`best_at_share`)."""
    out = []
    for _, g in summary.groupby(["model", "budget", "eval_set"], sort=False):
        g = g.sort_values(["kept_tokens", "loss"]).copy()
        best = np.inf
        front = []
        for loss in g["loss"]:
            front.append(loss < best)
            best = min(best, loss)
        g["on_front"] = front
        g["best_at_share"] = g["loss"] == g.groupby("kept_share")["loss"].transform("min")
        out.append(g)
    return pd.concat(out, ignore_index=True) if out else summary.assign(on_front=False, best_at_share=False)


def plot(summary: pd.DataFrame, folder: Path) -> list[Path]:
    """Loss against kept tokens per f (front marked), loss against f at fixed compute, Q against f."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (model, eval_set), g in summary.groupby(["model", "eval_set"]):
        name = f"{model}-{eval_set}"
        data = g[g["budget"] == "fixed_data"]
        if len(data):
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for fraction, line in data.groupby("fraction"):
                line = line.sort_values("kept_tokens")
                ax.errorbar(
                    line["kept_tokens"],
                    line["loss"],
                    yerr=line["loss_std"],
                    marker="o",
                    ms=4,
                    capsize=2,
                    label=f"f = {fraction:g}",
                )
            front = data[data["on_front"]].sort_values("kept_tokens")
            ax.plot(front["kept_tokens"], front["loss"], "k--", lw=1.5, label="Pareto front")
            ax.scatter(front["kept_tokens"], front["loss"], s=90, facecolors="none", edgecolors="k")
            ax.set(
                xscale="log",
                xlabel="kept tokens (bytes)",
                ylabel="held-out loss (nats/byte)",
                title=f"{model} on {eval_set}: loss against kept data (one pass)",
            )
            ax.legend(fontsize=8, ncol=2)
            written += _save(fig, folder / f"loss_vs_kept-{name}")
        compute = g[g["budget"] == "fixed_compute"]
        if len(compute):
            fig, ax = plt.subplots(figsize=(7, 4.5))
            for pool_size, line in compute.groupby("pool_size"):
                line = line.sort_values("fraction")
                ax.errorbar(
                    line["fraction"],
                    line["loss"],
                    yerr=line["loss_std"],
                    marker="o",
                    ms=4,
                    capsize=2,
                    label=f"pool {pool_size:g}",
                )
            ax.set(
                xscale="log",
                xlabel="kept fraction f",
                ylabel="held-out loss (nats/byte)",
                title=f"{model} on {eval_set}: loss against f at fixed compute",
            )
            ax.legend(fontsize=8)
            written += _save(fig, folder / f"loss_vs_f_fixed_compute-{name}")
    q = summary.drop_duplicates(["pool_size", "fraction"]).sort_values("fraction")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for pool_size, line in q.groupby("pool_size"):
        ax.plot(
            line["fraction"], line["q_corruption"], marker="o", label=f"Q (i) corruption, pool {pool_size:g}"
        )
        ax.plot(
            line["fraction"],
            line["q_deficiency"],
            marker="s",
            ls=":",
            label=f"Q (ii) deficiency, pool {pool_size:g}",
        )
    ax.set(
        xscale="log",
        xlabel="kept fraction f",
        ylabel="Q",
        title="dataset quality Q against f",
        ylim=(0, 1.05),
    )
    ax.legend(fontsize=7)
    written += _save(fig, folder / "q_vs_f")
    return written


def _save(fig, stem: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.tight_layout()
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths


def render_sweep(result) -> str:
    """The sweep summary `curate sweep` prints: per model, budget and evaluation set, one row per cell."""
    s = result.summary
    lines = [
        f"sweep {result.folder.name}: {result.cells_run} cells run, {result.cells_reused} reused, "
        f"{result.seconds:.1f} s"
    ]
    for (model, budget, eval_set), g in s.groupby(["model", "budget", "eval_set"], sort=False):
        lines.append(f"  {model} / {budget} / {eval_set}")
        lines.append("    pool     f   kept tokens   loss (nats/byte)    Q(i)   Q(ii)  front")
        for r in g.sort_values(["pool_size", "fraction"], ascending=[False, False]).itertuples():
            mark = ("*" if r.on_front else " ") + ("b" if r.best_at_share else " ")
            lines.append(
                f"    {r.pool_size:>4g} {r.fraction:>5g} {r.kept_tokens:>13,.0f}   {r.loss:.4f} ± "
                f"{r.loss_std:.4f}   {r.q_corruption:5.3f}  {r.q_deficiency:5.3f}  {mark}"
            )
    lines.append("  (* on the Pareto front; b best loss at that kept share)")
    lines.append(f"  results  {result.folder / 'results.parquet'}")
    lines.append(f"  plots    {result.folder / 'plots'}")
    return "\n".join(lines)
