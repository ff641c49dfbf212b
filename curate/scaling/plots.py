"""Plots of a fit (matplotlib, Agg backend; each figure written as PNG and SVG).

- loss_vs_data: observed runs and fitted loss against tokens, one curve per model size (and group / quality).
- isoloss: contours of fitted loss over (N, D) with the runs and the compute-optimal frontier (laws with N).
- effective_data: D_eff / D = Q^(gamma/beta) against Q (quality laws), or the multipliers m_g (multiplier).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curate.scaling.fit import FitResult
from curate.scaling.laws import Runs, predict
from curate.scaling.optimal import FLOPS_PER_PARAM_TOKEN, compute_optimal

MAX_CURVES = 12  # series drawn as fitted curves; the runs are always all drawn
LINE_STYLES = ("-", "--", ":", "-.")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_fit(fit: FitResult, runs: Runs, out_dir: str | Path, at_quality: float = 1.0) -> list[Path]:
    """Write the plots that apply to this law into `out_dir`; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plt = _pyplot()
    written = _save(plt, _loss_vs_data(plt, fit, runs), out / "loss_vs_data")
    if "A" in fit.params:
        written += _save(plt, _isoloss(plt, fit, runs, at_quality), out / "isoloss")
    if "gamma" in fit.params or fit.design.groups:
        written += _save(plt, _effective_data(plt, fit, runs), out / "effective_data")
    return written


def _save(plt, fig, stem: Path) -> list[Path]:
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return paths


def _series(fit: FitResult, runs: Runs) -> tuple[np.ndarray, list[tuple]]:
    """A series key per run, (N, group) or (N, Q), and the keys to draw curves for (most runs first)."""
    extra = runs.group if fit.design.groups else runs.quality if "gamma" in fit.params else None
    keys = [(n, None if extra is None else extra[i]) for i, n in enumerate(runs.params)]
    labels, counts = np.unique(np.array([str(k) for k in keys]), return_counts=True)
    top = set(labels[np.argsort(-counts, kind="stable")[:MAX_CURVES]])
    chosen = sorted({k for k in keys if str(k) in top}, key=lambda k: (k[0], str(k[1])))
    return np.array([str(k) for k in keys]), chosen


def _curve(fit: FitResult, key: tuple, tokens: np.ndarray) -> np.ndarray:
    params, extra = key
    if fit.design.groups:
        return predict(fit.params, tokens, params, multiplier=fit.params[f"m[{extra}]"])
    return predict(fit.params, tokens, params, quality=1.0 if extra is None else extra)


def _loss_vs_data(plt, fit: FitResult, runs: Runs):
    """Colour = model size, line style and marker = group or quality; each curve spans its runs' tokens."""
    fig, ax = plt.subplots(figsize=(7, 5))
    labels, chosen = _series(fit, runs)
    sizes = sorted({k[0] for k in chosen})
    extras = sorted({str(k[1]) for k in chosen})
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(sizes), 1)))
    for key in chosen:
        mask = labels == str(key)
        color = colors[sizes.index(key[0])]
        style = extras.index(str(key[1]))
        tokens = np.geomspace(runs.tokens[mask].min() / 1.5, runs.tokens[mask].max() * 1.5, 100)
        name = f"N={key[0]:.3g}" + ("" if key[1] is None else f", {key[1]}")
        marker = "osD^vP"[style % 6]
        ax.scatter(runs.tokens[mask], runs.loss[mask], color=color, s=16, marker=marker)
        ax.plot(tokens, _curve(fit, key, tokens), color=color, lw=1.2, ls=LINE_STYLES[style % 4], label=name)
    rest = ~np.isin(labels, [str(k) for k in chosen])
    if rest.any():
        ax.scatter(runs.tokens[rest], runs.loss[rest], color="0.6", s=10, label="other runs (no curve)")
    ax.set(xscale="log", xlabel="tokens D", ylabel="loss (nats/token)")
    ax.set_title(fit.design.formula, fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return fig


def _isoloss(plt, fit: FitResult, runs: Runs, at_quality: float):
    fig, ax = plt.subplots(figsize=(7, 5))
    n_axis = np.geomspace(runs.params.min() / 3, runs.params.max() * 3, 120)  # parameters
    d_axis = np.geomspace(runs.tokens.min() / 3, runs.tokens.max() * 3, 120)  # tokens
    nn, dd = np.meshgrid(n_axis, d_axis)
    quality = at_quality if "gamma" in fit.params else 1.0
    loss = predict(fit.params, dd, nn, quality=quality)  # reference group (m = 1) for the multiplier law
    levels = np.quantile(loss, np.linspace(0.02, 0.98, 12))
    contours = ax.contour(nn, dd, loss, levels=np.unique(levels), cmap="viridis")
    ax.clabel(contours, fontsize=7, fmt="%.2f")
    ax.scatter(runs.params, runs.tokens, s=8, color="k", alpha=0.5, label="runs")
    budgets = np.geomspace(
        FLOPS_PER_PARAM_TOKEN * n_axis[0] * d_axis[0], FLOPS_PER_PARAM_TOKEN * n_axis[-1] * d_axis[-1], 50
    )
    frontier = [compute_optimal(fit.params, c, quality) for c in budgets]
    ax.plot(
        [f["N"] for f in frontier], [f["D"] for f in frontier], "r--", lw=1, label="compute-optimal N*, D*"
    )
    ax.set(xscale="log", yscale="log", xlabel="parameters N", ylabel="tokens D")
    ax.set_xlim(n_axis[0], n_axis[-1])
    ax.set_ylim(d_axis[0], d_axis[-1])
    suffix = f" at Q={quality:g}" if "gamma" in fit.params else ""
    ax.set_title(f"iso-loss contours{suffix}", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def _effective_data(plt, fit: FitResult, runs: Runs):
    fig, ax = plt.subplots(figsize=(6, 4))
    if fit.design.groups:
        groups = list(fit.design.groups)
        values = [fit.params[f"m[{g}]"] for g in groups]
        ax.bar(groups, values, color="tab:blue")
        if fit.ci:
            lo = [values[i] - fit.ci[f"m[{g}]"][0] for i, g in enumerate(groups)]
            hi = [fit.ci[f"m[{g}]"][1] - values[i] for i, g in enumerate(groups)]
            ax.errorbar(groups, values, yerr=[lo, hi], fmt="none", color="k", capsize=3)
        ax.axhline(1.0, color="0.5", lw=0.8)
        ax.set(ylabel=f"effective-data multiplier m (m[{groups[0]}] = 1)")
        ax.tick_params(axis="x", rotation=30)
        return fig
    q = np.linspace(0.02, 1.0, 200)
    ax.plot(q, q ** (fit.params["gamma"] / fit.params["beta"]), color="tab:blue", label="fit")
    if fit.samples:
        boot = q[None, :] ** (fit.samples["gamma"] / fit.samples["beta"])[:, None]
        tail = (1 - fit.ci_level) / 2
        lo, hi = np.nanquantile(boot, [tail, 1 - tail], axis=0)
        ax.fill_between(q, lo, hi, color="tab:blue", alpha=0.2, label=f"{fit.ci_level:.0%} bootstrap")
    ax.plot(runs.quality, np.zeros_like(runs.quality), "|", color="k", ms=10, label="runs' Q")
    ax.set(xlabel="quality Q", ylabel="effective data D_eff / D = Q^(gamma/beta)", ylim=(0, 1.05))
    ax.legend(fontsize=8)
    return fig
