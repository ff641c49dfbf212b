"""What a ranking buys over chance: the summary table, gains over the controls with intervals, the front.

The headline number of a sweep is the gain over random at equal kept data,

    Δ(f) = loss(random control) − loss(top f)          (positive: the score picks better data than chance)

paired by seed (the same pool draw, the same held-out slice), at every pool size, fraction, model, budget
and evaluation set. With a composition-matched control it splits into

    Δ_composition = loss(random) − loss(matched)      what picking a language or source mix buys
    Δ_within      = loss(matched) − loss(top f)       what picking better documents within them buys

Each is a mean over seeds with a Student-t interval of the prediction kind: mean ± t · sd · √(1 + 1/k) for k
seeds. The top f of a pool is one draw, and every seed ranks nearly the same documents (all of them at pool
size 1), so the seeds replicate the controls, not the ranking; the √(1 + 1/k) makes the top f beat the
spread of random subsets of its size, not only their mean, and keeps a noise score's lucky draw from
passing as a gain. (Where pools differ between seeds the interval is conservative.) By default the
intervals are also Bonferroni-adjusted over the (pool size, f) cells of each (model, budget, evaluation
set) table, so that a noise score gets no "better than random" mark anywhere in a table of many fractions
except with probability below 1 − confidence. One seed gives no interval.

The Pareto front (kept tokens against loss, lower is better) and the best fraction at each kept share
only count a top-f point that is better than random with its interval above 0; f = 1 (no ranking, the
pool itself) always counts. Controls take part as points that can dominate: a ranking that is no better
than chance never makes the front.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FAMILY = ["model", "budget", "eval_set"]
CELL = [*FAMILY, "pool_size", "fraction"]
GAINS = {  # name: (control selection, reference selection): gain = loss(control) - loss(reference)
    "gain_random": ("random", "top"),
    "gain_matched": ("matched", "top"),
    "gain_composition": ("random", "matched"),
}


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds per cell and selection (top, random, matched)."""
    keys = [*CELL, "selection"]
    g = df.groupby(keys, as_index=False, sort=True)
    out = g.agg(
        budget_kind=("budget_kind", "first"),
        compute_tokens=("compute_tokens", "first"),
        kept_docs=("kept_docs", "mean"),
        kept_tokens=("kept_tokens", "mean"),
        train_tokens=("train_tokens", "mean"),
        epochs=("epochs", "mean"),
        effective_tokens=("effective_tokens", "mean"),
        one_pass_only=("one_pass_only", "max"),
        loss=("loss_nats_per_token", "mean"),
        loss_std=("loss_nats_per_token", "std"),
        bits_per_byte=("bits_per_byte", "mean"),
        q_corruption=("q_corruption", "mean"),
        q_deficiency=("q_deficiency", "mean"),
        length_p50=("length_p50", "mean"),
        seeds=("seed", "nunique"),
    )
    out["loss_std"] = out["loss_std"].fillna(0.0)
    out["kept_share"] = (out["pool_size"] * out["fraction"]).round(6)
    return out


def _t_quantile(p: float, dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(p, dof))


def gains(df: pd.DataFrame, confidence: float = 0.95, simultaneous: bool = True) -> pd.DataFrame:
    """Per cell with f < 1: every gain's mean over seeds, interval (`_lo`, `_hi`) and seed count."""
    loss = df.pivot_table(
        index=[*CELL, "seed"], columns="selection", values="loss_nats_per_token", aggfunc="first"
    )
    out = None
    for name, (control, reference) in GAINS.items():
        if control not in loss.columns or reference not in loss.columns:
            continue
        diff = (loss[control] - loss[reference]).dropna().rename("d").reset_index()
        g = diff.groupby(CELL)["d"].agg(["mean", "std", "count"]).reset_index()
        cells = g.groupby(FAMILY)["fraction"].transform("size") if simultaneous else 1
        alpha = (1.0 - confidence) / cells
        dof = (g["count"] - 1).clip(lower=1)
        t = [_t_quantile(1.0 - a / 2.0, int(k)) for a, k in zip(np.broadcast_to(alpha, len(g)), dof)]
        # The top f is one draw: under a noise score it is itself a random subset, and with one pool (every
        # seed ranks nearly the same documents) the seeds replicate only the controls. So the top f must
        # beat the spread of random subsets, not only their mean: a prediction-style interval.
        half = np.asarray(t) * g["std"].fillna(0.0) * np.sqrt(1.0 + 1.0 / g["count"])
        half = half.where(g["count"] > 1, np.nan)  # one seed: no interval
        g = g.rename(columns={"mean": name, "count": f"{name}_seeds"})
        g[f"{name}_lo"] = g[name] - half
        g[f"{name}_hi"] = g[name] + half
        g = g.drop(columns="std")
        out = g if out is None else out.merge(g, on=CELL, how="outer")
    if out is None:
        return pd.DataFrame(columns=CELL)
    out["verdict"] = [verdict(lo, hi) for lo, hi in zip(out["gain_random_lo"], out["gain_random_hi"])]
    return out


def verdict(lo: float, hi: float) -> str:
    if np.isnan(lo) or np.isnan(hi):
        return "one seed: no interval"
    if lo > 0:
        return "better than random"
    if hi < 0:
        return "worse than random"
    return "no different from random"


def with_gains(summary: pd.DataFrame, gain_table: pd.DataFrame) -> pd.DataFrame:
    """The summary with the gains on its top-f rows (f = 1: gain 0 by construction, no interval)."""
    top = summary["selection"] == "top"
    merged = summary.merge(gain_table, on=CELL, how="left")
    merged.loc[~top, [c for c in gain_table.columns if c not in CELL]] = np.nan
    whole = top & (merged["fraction"] >= 1.0)
    merged.loc[whole, "gain_random"] = 0.0
    merged["verdict"] = merged["verdict"].astype(object)
    merged.loc[whole, "verdict"] = "the pool itself"
    return merged


def pareto(summary: pd.DataFrame) -> pd.DataFrame:
    """Mark, per table, `on_front` (non-dominated in kept tokens and loss among the counted top-f points
    and every control) and `best_at_share` (the counted point with the least loss at its kept share)."""
    out = []
    for _, g in summary.groupby(FAMILY, sort=False):
        g = g.copy()
        counts = (g["selection"] == "top") & (
            (g["fraction"] >= 1.0) | (g.get("gain_random_lo", pd.Series(np.nan, index=g.index)) > 0)
        )
        rivals = g[counts | (g["selection"] != "top")]
        front = []
        for i, row in g.iterrows():
            if not counts[i]:
                front.append(False)
                continue
            others = rivals.drop(index=i)
            dominated = (
                (others["kept_tokens"] <= row["kept_tokens"])
                & (others["loss"] <= row["loss"])
                & ((others["kept_tokens"] < row["kept_tokens"]) | (others["loss"] < row["loss"]))
            )
            front.append(not dominated.any())
        g["on_front"] = front
        best = g[counts].groupby("kept_share")["loss"].transform("min")
        g["best_at_share"] = counts & (g["loss"] == best.reindex(g.index))
        out.append(g)
    if not out:
        return summary.assign(on_front=False, best_at_share=False)
    return pd.concat(out, ignore_index=True)
