"""Sweep results: the table `curate fit` reads, the composition table, the plots and the printed summary.

The results table (`results.parquet`) has one row per (fraction, pool size, seed, selection, model, budget,
eval set), and columns named for `curate fit`'s defaults:

    params  = the proxy model's size: transformer parameters; for the n-gram model, whose stored n-grams
              grow with the data (column `ngrams`), its order, so that fits see one size per configuration
    tokens  = training tokens (bytes)
    loss    = held-out loss in nats per token (= per byte)
    quality = Q by the corruption-rate estimator (q_deficiency holds the other one)
    group   = "f=<fraction>", for the multiplier law

e.g. `curate fit --law fixed-n --query "SELECT * FROM 'results.parquet' WHERE selection = 'top' AND
budget = 'fixed_data' AND eval_set = 'pool_holdout'"`.
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
SELECTION_STYLE = {"top": "-", "random": ":", "matched": "--"}


def with_fit_columns(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for name, source in FIT_COLUMNS.items():
        df[name] = df[source]
    df["group"] = [f"f={f:g}" for f in df["fraction"]]
    return df


def composition_table(manifests: dict[str, dict]) -> pd.DataFrame:
    """Long table: one row per (subset, kind of mix, value) with its share of the subset's bytes."""
    rows = []
    for m in manifests.values():
        for kind in ("lang", "source"):
            for value, share in m["composition"][f"{kind}_mix"].items():
                rows.append(
                    {
                        "seed": m["seed"],
                        "pool_size": m["pool_size"],
                        "fraction": m["fraction"],
                        "selection": m["selection"],
                        "kind": kind,
                        "value": value,
                        "share": share,
                    }
                )
    return pd.DataFrame(rows)


# --- plots -------------------------------------------------------------------------------------------


def plot(summary: pd.DataFrame, comp: pd.DataFrame, judge: str, folder: Path) -> list[Path]:
    """Loss against kept tokens with the controls and the front; the gain over random against f for every
    budget; loss against f at every fixed-compute budget; Q against f; the language mix against f."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (model, eval_set), g in summary.groupby(["model", "eval_set"]):
        name = f"{model}-{eval_set}"
        data = g[g["budget"] == "fixed_data"]
        if len(data):
            written += _loss_vs_kept(data, model, eval_set, folder / f"loss_vs_kept-{name}")
        written += _gain_vs_f(g, model, eval_set, folder / f"gain_vs_f-{name}")
        compute = g[g["budget_kind"] == "fixed_compute"]
        if len(compute):
            written += _loss_vs_f(compute, model, eval_set, folder / f"loss_vs_f_fixed_compute-{name}")
    written += _q_vs_f(summary, judge, folder / "q_vs_f")
    if not comp.empty and comp[comp["kind"] == "lang"]["value"].nunique() > 1:
        written += _lang_vs_f(comp, folder / "language_vs_f")
    return written


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _loss_vs_kept(data: pd.DataFrame, model: str, eval_set: str, stem: Path) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    top = data[data["selection"] == "top"]
    for fraction, line in top.groupby("fraction"):
        line = line.sort_values("kept_tokens")
        ax.errorbar(line["kept_tokens"], line["loss"], yerr=line["loss_std"], marker="o", ms=4, capsize=2,
                    label=f"top f = {fraction:g}")  # fmt: skip
    for selection, marker in (("random", "x"), ("matched", "+")):
        ctrl = data[data["selection"] == selection].sort_values("kept_tokens")
        if len(ctrl):
            ax.scatter(ctrl["kept_tokens"], ctrl["loss"], marker=marker, s=40, color="0.35",
                       label=f"{selection} control (same bytes)")  # fmt: skip
    front = data[data["on_front"]].sort_values("kept_tokens")
    ax.plot(front["kept_tokens"], front["loss"], "k--", lw=1.2, label="front (better than random only)")
    ax.scatter(front["kept_tokens"], front["loss"], s=110, facecolors="none", edgecolors="k")
    ax.set(xscale="log", xlabel="kept tokens (bytes)", ylabel="held-out loss (nats/byte)",
           title=f"{model} on {eval_set}: one pass (T = the kept bytes)")  # fmt: skip
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, stem)


def _gain_vs_f(g: pd.DataFrame, model: str, eval_set: str, stem: Path) -> list[Path]:
    plt = _plt()
    rows = g[(g["selection"] == "top") & (g["fraction"] < 1.0) & g["gain_random"].notna()]
    order = rows.groupby("budget")["compute_tokens"].max().fillna(-1).sort_values()
    budgets = list(order.index)  # fixed data first, then the fixed-compute budgets by T
    if not budgets:
        return []
    fig, axes = plt.subplots(1, len(budgets), figsize=(4.2 * len(budgets), 4.2), squeeze=False, sharey=True)
    for ax, budget in zip(axes[0], budgets):
        b = rows[rows["budget"] == budget]
        for i, (pool_size, line) in enumerate(b.groupby("pool_size")):
            line = line.sort_values("fraction")
            x = line["fraction"] * (1 + 0.03 * i)  # pools side by side
            err = [line["gain_random"] - line["gain_random_lo"], line["gain_random_hi"] - line["gain_random"]]
            ax.errorbar(x, line["gain_random"], yerr=err, marker="o", ms=4, capsize=2,
                        label=f"vs random, pool {pool_size:g}")  # fmt: skip
            if "gain_matched" in line and line["gain_matched"].notna().any():
                ax.plot(x, line["gain_matched"], marker="s", ls=":", ms=4, mfc="none",
                        label=f"vs matched (within strata), pool {pool_size:g}")  # fmt: skip
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set(xscale="log", xlabel="kept fraction f", title=_budget_title(budget, b), ylabel="")
        _fraction_ticks(ax, b["fraction"])
        ax.title.set_fontsize(9)
    axes[0][0].set_ylabel("loss(control) − loss(top f), nats/byte")
    axes[0][-1].legend(fontsize=6)
    fig.suptitle(
        f"{model} on {eval_set}: gain of the top f over random controls at equal kept bytes", fontsize=10
    )
    return _save(fig, stem)


def _fraction_ticks(ax, fractions) -> None:
    """Ticks at the swept fractions, labelled plainly (0.25, not 2.5 x 10^-1)."""
    from matplotlib.ticker import FixedLocator, NullLocator

    values = sorted(set(float(f) for f in fractions))
    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{v:g}" for v in values])


def _budget_title(budget: str, rows: pd.DataFrame) -> str:
    if budget == "fixed_data":
        return "fixed data: one pass, T = kept bytes"
    t = rows["compute_tokens"].dropna()
    return f"fixed compute: T = {t.iloc[0]:,.0f} bytes" if len(t) else budget


def _loss_vs_f(compute: pd.DataFrame, model: str, eval_set: str, stem: Path) -> list[Path]:
    plt = _plt()
    largest = compute["pool_size"].max()
    g = compute[compute["pool_size"] == largest]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for i, (_budget, b) in enumerate(
        sorted(g.groupby("budget"), key=lambda kv: kv[1]["compute_tokens"].max())
    ):
        color = f"C{i}"
        t = b["compute_tokens"].max()
        for selection, style in SELECTION_STYLE.items():
            line = b[(b["selection"] == selection)].sort_values("fraction")
            if len(line) == 0:
                continue
            label = f"T = {t:,.0f} bytes" if selection == "top" else f"  {selection} control"
            ax.plot(line["fraction"], line["loss"], ls=style, marker="o" if selection == "top" else ".",
                    color=color, label=label)  # fmt: skip
    note = " (n-gram: subsets under T trained once)" if model == "ngram" else ""
    ax.set(xscale="log", xlabel="kept fraction f", ylabel="held-out loss (nats/byte)",
           title=f"{model} on {eval_set}, pool {largest:g}: loss against f at fixed compute"
           f"{note}")  # fmt: skip
    _fraction_ticks(ax, g["fraction"])
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    return _save(fig, stem)


def _q_vs_f(summary: pd.DataFrame, judge: str, stem: Path) -> list[Path]:
    plt = _plt()
    q = (
        summary[summary["selection"] == "top"]
        .drop_duplicates(["pool_size", "fraction"])
        .sort_values("fraction")
    )
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for pool_size, line in q.groupby("pool_size"):
        ax.plot(line["fraction"], line["q_corruption"], marker="o", label=f"Q (i), pool {pool_size:g}")
        ax.plot(
            line["fraction"], line["q_deficiency"], marker="s", ls=":", label=f"Q (ii), pool {pool_size:g}"
        )
    ax.set(xscale="log", xlabel="kept fraction f", ylabel="Q", ylim=(0, 1.05),
           title=f"dataset quality of the top f\nQ (i) = 1 − share of bytes that {judge}; "
           "Q (ii) = exp(−deficiency against the reference)")  # fmt: skip
    _fraction_ticks(ax, q["fraction"])
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    return _save(fig, stem)


def _lang_vs_f(comp: pd.DataFrame, stem: Path) -> list[Path]:
    plt = _plt()
    largest = comp["pool_size"].max()
    top = comp[(comp["kind"] == "lang") & (comp["pool_size"] == largest) & (comp["selection"] == "top")]
    seeds = top["seed"].nunique()
    shares = top.groupby(["fraction", "value"])["share"].sum().unstack(fill_value=0.0) / seeds
    keep = shares.max().sort_values(ascending=False).index[:5]
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for lang in keep:
        ax.plot(shares.index, shares[lang], marker="o", label=lang)
    ax.set(xscale="log", xlabel="kept fraction f", ylabel="share of kept bytes", ylim=(0, 1.02),
           title=f"language mix of the top f (pool {largest:g}; f = 1 is the pool)")  # fmt: skip
    _fraction_ticks(ax, shares.index)
    ax.legend(fontsize=8)
    return _save(fig, stem)


def _save(fig, stem: Path) -> list[Path]:
    plt = _plt()
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.tight_layout()
    for p in paths:
        fig.savefig(p, dpi=110)
    plt.close(fig)
    return paths


# --- the printed summary -----------------------------------------------------------------------------


def _interval(row, name: str) -> str:
    mean, lo, hi = row.get(name), row.get(f"{name}_lo"), row.get(f"{name}_hi")
    if mean is None or pd.isna(mean):
        return " " * 26
    if pd.isna(lo):
        return f"{mean:+.4f}".ljust(26)
    mark = "*" if lo > 0 else ("-" if hi < 0 else " ")
    return f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}]{mark}"


def render_composition(comp: pd.DataFrame, pool_composition: dict, largest: float) -> list[str]:
    """The language (or, without one, source) mix of the top f and its controls, largest pool."""
    kind = "lang" if comp[comp["kind"] == "lang"]["value"].nunique() > 1 else "source"
    sub = comp[(comp["kind"] == kind) & (comp["pool_size"] == largest)]
    if sub["value"].nunique() < 2:
        return []  # one language and one source: nothing to show
    seeds = sub["seed"].nunique()
    shares = sub.groupby(["fraction", "selection", "value"])["share"].sum().unstack(fill_value=0.0) / seeds
    order = pd.Series(pool_composition[f"{kind}_mix"]).sort_values(ascending=False).index.tolist()
    names = [v for v in order if v in shares.columns and v != "other"][:5]
    head = "".join(f" {n[:13]:>13}" for n in names)
    what = "language" if kind == "lang" else "source"
    lines = [f"  composition of the kept tokens ({what}, pool {largest:g}, "
             f"mean over {seeds} seeds)", f"         f  subset {head}"]  # fmt: skip
    whole = pool_composition[f"{kind}_mix"]
    lines.append("      pool        " + "".join(f" {whole.get(n, 0.0):>13.1%}" for n in names))
    for (fraction, selection), row in shares.sort_index(ascending=[False, True]).iterrows():
        if fraction >= 1.0:
            continue
        lines.append(
            f"    {fraction:>6g}  {selection:<7}" + "".join(f" {row.get(n, 0.0):>13.1%}" for n in names)
        )
    return lines


def _top_rows(g: pd.DataFrame) -> pd.DataFrame:
    return (
        g[g["selection"] == "top"].set_index(["pool_size", "fraction"]).sort_index(ascending=[False, False])
    )


def _render_fixed_data(g: pd.DataFrame, model: str, eval_set: str) -> list[str]:
    if g.empty:
        return []
    lines = [
        f"  {model} / fixed data (one pass over the kept bytes) / {eval_set}",
        "    pool      f   kept bytes  loss top   random   gain vs random [CI]         "
        "within strata (vs matched)   Q(i)  mark",
    ]
    rand = g[g["selection"] == "random"].set_index(["pool_size", "fraction"])["loss"]
    for (pool_size, fraction), r in _top_rows(g).iterrows():
        mark = ("F" if r["on_front"] else " ") + ("B" if r["best_at_share"] else " ")
        control = rand.get((pool_size, fraction), np.nan)
        lines.append(
            f"    {pool_size:>4g} {fraction:>6g} {r['kept_tokens']:>12,.0f}  {r['loss']:.4f}  "
            + (f"{control:.4f}" if not pd.isna(control) else "     - ")
            + f"   {_interval(r, 'gain_random')}  {_interval(r, 'gain_matched')}  "
            + f"{r['q_corruption']:.3f}  {mark}"
        )
    return lines


def _render_compute(g: pd.DataFrame, model: str, eval_set: str) -> list[str]:
    """Gain over random at each fixed-compute budget: one column per T."""
    if g.empty:
        return []
    budgets = g.groupby("budget")["compute_tokens"].max().sort_values()
    note = " (n-gram: subsets under T trained once)" if model == "ngram" else ""
    lines = [f"  {model} / fixed compute / {eval_set}: gain vs random [CI] at T training bytes{note}"]
    lines.append("    pool      f " + "".join(f"  {'T = ' + format(t, ',.0f'):<27}" for t in budgets))
    tables = {b: _top_rows(g[g["budget"] == b]) for b in budgets.index}
    first = tables[budgets.index[0]]
    for key in first.index:
        if key[1] >= 1.0:
            continue
        cells = "".join(f"  {_interval(tables[b].loc[key], 'gain_random')}" for b in budgets.index)
        lines.append(f"    {key[0]:>4g} {key[1]:>6g}{cells}")
    return lines


def render_sweep(result) -> str:
    """The summary `curate sweep` prints: the pool and its checks, the composition, and per model, budget
    and evaluation set the top f against its controls."""
    s, pool = result.summary, result.pool
    lines = [
        f"sweep {result.folder.name}: {result.subsets} subsets, {result.cells_run} cells run, "
        f"{result.cells_reused} reused, {result.seconds:.1f} s",
        f"  pool     {pool['docs']:,} documents, {pool['tokens']:,} tokens (bytes)"
        + (f" (where {pool['where']})" if pool.get("where") else "")
        + f"; ranked by '{result.score}'",
    ]
    for model, check in pool.get("in_sample", {}).items():
        if check.get("checked"):
            lines.append(
                f"  in-sample  {check['documents']:,} pool documents ({check['share']:.2%}) are training "
                f"documents of {model}"
            )
    lines.append(f"  Q (i)    low quality = {pool['low_quality_judge']}")
    lines += [f"  note     {n}" for n in pool.get("notes", [])]
    if result.composition is not None and not result.composition.empty:
        lines += render_composition(result.composition, result.pool_composition, s["pool_size"].max())
    for (model, eval_set), g in s.groupby(["model", "eval_set"], sort=False):
        lines += _render_fixed_data(g[g["budget"] == "fixed_data"], model, eval_set)
        lines += _render_compute(g[g["budget_kind"] == "fixed_compute"], model, eval_set)
    conf = result.confidence
    lines.append(
        f"  gains are loss(control) − loss(top f) in nats/byte, mean over seeds, {conf:.0%} intervals"
        + (" (Bonferroni over each table's cells)" if result.simultaneous else "")
        + "; * interval above 0, - below 0"
    )
    lines.append("  F on the front, B best at its kept share (both only where the top f beats random)")
    lines.append(f"  results  {result.folder / 'results.parquet'}  (summary.parquet, composition.parquet)")
    lines.append(f"  plots    {result.folder / 'plots'}")
    return "\n".join(lines)
