"""What a ranking is worth in compute: how many training tokens random data needs to reach the loss that the
top f reaches, read off a sweep's learning curves (`curves.parquet`).

For every model, evaluation set, budget, pool size and seed:

- the **baseline** is random data of the same pool: the learning curves of the random controls and of the
  whole pool (f = 1, whose prefixes are random samples, since subsets are stored in random order); a
  curve L(D) = E + B·D^(−β) is fitted to its points (β on a grid, E and B by least squares);
- the **top f** reaches loss L_top after D_top training tokens (the last point of its curve);
- random data needs D_random tokens for L_top, solved on the fitted curve (which smooths the noise of
  several random subsets); outside the baseline's range of tokens it is marked `extrapolated`, and where
  L_top is below the fitted floor E no amount of random data like this pool reaches it (D_random = ∞);
- the **multiplier** is m = D_random / D_top, and training FLOPs ≈ 6·N·D for a transformer of N
  non-embedding parameters.

The multiplier's interval is over seeds, on log m, of the same prediction kind as the gains' (the top f
of one pool is one draw). At a user's scale (`--params` with `--tokens` or `--compute`), the multiplier law
L = E + A/N^α + B/(D·m_g)^β (`curate fit --law multiplier`) is fitted to the curve points, random as the
reference group, with bootstrap intervals: there, random data needs m_g·D tokens where the top f needs D.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from curate.errors import UserError

BETAS = np.linspace(0.02, 2.0, 199)  # the grid of the baseline curve's exponent


@dataclass(frozen=True)
class PowerCurve:
    """L(D) = E + B·D^(−β), fitted to (tokens, loss) points."""

    e: float
    b: float
    beta: float

    @staticmethod
    def fit(tokens: np.ndarray, loss: np.ndarray) -> PowerCurve:
        """Least squares over a grid of β (E ≥ 0, B > 0 for each β by linear least squares)."""
        tokens, loss = np.asarray(tokens, float), np.asarray(loss, float)
        best = None
        for beta in BETAS:
            x = tokens**-beta
            design = np.column_stack([np.ones_like(x), x])
            (e, b), *_ = np.linalg.lstsq(design, loss, rcond=None)
            if b <= 0 or e < 0:
                continue
            sse = float(np.sum((e + b * x - loss) ** 2))
            if best is None or sse < best[0]:
                best = (sse, PowerCurve(float(e), float(b), float(beta)))
        if best is None:  # a curve that does not fall with D: flat at its mean
            return PowerCurve(float(loss.mean()), 0.0, 1.0)
        return best[1]

    def tokens_for(self, loss: float) -> float:
        """D with L(D) = loss (∞ where loss is at or below the floor E)."""
        if self.b <= 0 or loss <= self.e:
            return math.inf
        return (self.b / (loss - self.e)) ** (1.0 / self.beta)


def baseline_points(curves: pd.DataFrame) -> pd.DataFrame:
    """The points of random data: random controls at every f, and the whole pool's prefixes (f = 1)."""
    random = curves["selection"] == "random"
    whole = (curves["selection"] == "top") & (curves["fraction"] >= 1.0)
    return curves[random | whole]


def multipliers(curves: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per (model, eval set, budget, pool size, fraction < 1): the multiplier over seeds with its interval."""
    from scipy.stats import t as student

    per_seed = []
    keys = ["model", "eval_set", "budget", "pool_size", "seed"]
    base = baseline_points(curves)
    for key, points in base.groupby(keys):
        fitted = PowerCurve.fit(points["train_tokens"], points["loss_nats_per_token"])
        # the fit checked at the baseline's own last points: the tokens it says random data needs for the
        # loss random data reached there, over the tokens it trained on (1 for a curve that fits)
        end = points["train_tokens"].max()
        own = fitted.tokens_for(points.loc[points["train_tokens"] == end, "loss_nats_per_token"].mean())
        cell = dict(zip(keys, key))
        mask = np.logical_and.reduce([curves[k] == v for k, v in cell.items()])
        top = curves[mask & (curves["selection"] == "top") & (curves["fraction"] < 1.0)]
        for fraction, line in top.groupby("fraction"):
            last = line.sort_values("train_tokens").iloc[-1]
            d_random = fitted.tokens_for(last["loss_nats_per_token"])
            lo, hi = points["train_tokens"].min(), points["train_tokens"].max()
            extrapolated = not lo <= d_random <= hi
            per_seed.append(
                {
                    **cell,
                    "fraction": fraction,
                    "params": last["params"],
                    "tokens_top": float(last["train_tokens"]),
                    "loss_top": float(last["loss_nats_per_token"]),
                    "tokens_random": d_random,
                    "extrapolated": extrapolated,
                    "baseline_max_tokens": float(end),
                    "baseline_check": own / end,
                }
            )
    if not per_seed:
        return pd.DataFrame()
    df = pd.DataFrame(per_seed)
    df["log_m"] = np.log(df["tokens_random"] / df["tokens_top"])
    out = []
    for key, g in df.groupby(["model", "eval_set", "budget", "pool_size", "fraction"]):
        finite = np.isfinite(g["log_m"])
        row = dict(zip(["model", "eval_set", "budget", "pool_size", "fraction"], key))
        k = int(finite.sum())
        mean = g.loc[finite, "log_m"].mean() if k else math.inf
        half = math.nan
        if k > 1:
            sd = g.loc[finite, "log_m"].std()
            half = float(student.ppf(0.5 + confidence / 2, k - 1) * sd * math.sqrt(1 + 1 / k))
        row |= {
            "params": g["params"].iloc[0],
            "tokens_top": g["tokens_top"].mean(),
            "loss_top": g["loss_top"].mean(),
            "multiplier": math.exp(mean) if k else math.inf,
            "multiplier_lo": math.exp(mean - half) if k > 1 else math.nan,
            "multiplier_hi": math.exp(mean + half) if k > 1 else math.nan,
            "seeds": len(g),
            "unreached_seeds": int((~finite).sum()),
            "extrapolated_seeds": int(g["extrapolated"].sum()),
            # seeds whose baseline curve, read at its own last loss, is off by more than 25% in tokens
            "misfit_seeds": int((~g["baseline_check"].between(0.8, 1.25)).sum()),
            "tokens_random": math.exp(mean) * g["tokens_top"].mean() if k else math.inf,
        }
        out.append(row)
    result = pd.DataFrame(out)
    transformer = result["model"].str.startswith("transformer")
    result["flops_top"] = np.where(transformer, 6.0 * result["params"] * result["tokens_top"], np.nan)
    result["flops_random"] = np.where(transformer, 6.0 * result["params"] * result["tokens_random"], np.nan)
    return result


def law_multipliers(
    curves: pd.DataFrame, model_prefix: str, eval_set: str, budget: str, bootstrap: int = 200
):
    """The multiplier law fitted to the curve points of one model family (every size whose label starts
    with `model_prefix`), pool size 1: random data (controls and the whole pool) is the reference group,
    each top f a group of its own. Returns the FitResult."""
    from curate.scaling.fit import fit_law
    from curate.scaling.laws import Runs

    c = curves[
        curves["model"].str.startswith(model_prefix)
        & (curves["eval_set"] == eval_set)
        & (curves["budget"] == budget)
        & (curves["pool_size"] == curves["pool_size"].max())
    ]
    base = baseline_points(c)
    top = c[(c["selection"] == "top") & (c["fraction"] < 1.0)]
    rows = pd.concat([base.assign(group="random"), top.assign(group=[f"f={f:g}" for f in top["fraction"]])])
    if rows.empty:
        raise UserError(
            f"no learning curves for model '{model_prefix}', set '{eval_set}', budget '{budget}'."
        )
    runs = Runs(
        params=rows["params"].to_numpy(float),
        tokens=rows["train_tokens"].to_numpy(float),
        loss=rows["loss_nats_per_token"].to_numpy(float),
        group=rows["group"].to_numpy(object),
    )
    return fit_law(runs, "multiplier", bootstrap=bootstrap, seed=0, reference_group="random")


def read_curves(folder: str | Path) -> pd.DataFrame:
    path = Path(folder) / "curves.parquet"
    if not path.is_file():
        raise UserError(
            f"{folder} has no curves.parquet; give a sweep folder (WORKSPACE/sweeps/NAME-HASH) written by a "
            "curate that records learning curves (rerun the sweep)."
        )
    curves = pd.read_parquet(path)
    if curves.empty:
        raise UserError(f"{path} holds no learning-curve points; set models.ngram.curve_points above 0.")
    return curves


def at_scale(fit, params: float, tokens: float) -> list[dict]:
    """Per top f of a fitted multiplier law: at N params and D tokens, the tokens and FLOPs random data
    needs for the loss the top f reaches (m·D), with the bootstrap interval of m."""
    out = []
    for name, m in fit.params.items():
        if not name.startswith("m[f="):
            continue
        lo, hi = fit.ci.get(name, [math.nan, math.nan])
        out.append(
            {
                "fraction": float(name[4:-1]),
                "multiplier": m,
                "multiplier_lo": lo,
                "multiplier_hi": hi,
                "tokens_top": tokens,
                "tokens_random": m * tokens,
                "flops_top": 6.0 * params * tokens,
                "flops_random": 6.0 * params * m * tokens,
            }
        )
    return sorted(out, key=lambda r: -r["fraction"])


def _fmt_m(m: float, lo: float, hi: float) -> str:
    if not math.isfinite(m):
        return "∞ (not reached)"
    interval = f" [{lo:.2f}, {hi:.2f}]" if math.isfinite(lo) and math.isfinite(hi) else ""
    return f"{m:.2f}×{interval}"


def render_worth(table: pd.DataFrame) -> str:
    """The multipliers `curate worth` prints, one block per model, evaluation set and budget."""
    lines = []
    for (model, eval_set, budget), g in table.groupby(["model", "eval_set", "budget"], sort=True):
        lines.append(f"{model} / {eval_set} / {budget}")
        lines.append("    pool      f   tokens (top f)   loss (top f)   random needs   multiplier [CI]")
        for r in g.sort_values(["pool_size", "fraction"], ascending=[False, False]).itertuples():
            need = f"{r.tokens_random:,.0f}" if math.isfinite(r.tokens_random) else "∞"
            notes = []
            if r.unreached_seeds:
                notes.append(f"{r.unreached_seeds} seeds never reached")
            if r.extrapolated_seeds:
                notes.append(f"{r.extrapolated_seeds} extrapolated")
            if r.misfit_seeds:
                notes.append(f"baseline misfit in {r.misfit_seeds} seeds")
            lines.append(
                f"    {r.pool_size:>4g} {r.fraction:>6g} {r.tokens_top:>16,.0f} {r.loss_top:>14.4f} "
                f"{need:>14}   "
                f"{_fmt_m(r.multiplier, r.multiplier_lo, r.multiplier_hi)}"
                + (f"  ({', '.join(notes)})" if notes else "")
            )
    lines.append(
        "multiplier = tokens random data of the pool needs for the top f's loss ÷ tokens the top f trained "
        "on, read off the learning curves (mean over seeds, 95% interval); FLOPs ≈ 6·N·D for transformers "
        "(JSON output)"
    )
    if table["misfit_seeds"].any():
        lines.append(
            "baseline misfit: the power curve fitted to random data's points misses random data's own last "
            "loss by more than 25% in tokens, so the multipliers of that row are not to be trusted. "
            "Learning curves that are checkpoints of one learning-rate schedule (the transformer's) "
            "have this shape; train random data at several budgets (compute_bytes or compute_shares) so "
            "the baseline is made of finished runs."
        )
    return "\n".join(lines)


def plot_worth(curves: pd.DataFrame, table: pd.DataFrame, folder: Path) -> list[Path]:
    """Loss against training tokens for the top f and random data (largest pool, mean over seeds), the
    tokens random data needs marked, per model, evaluation set and budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    largest = curves["pool_size"].max()
    c = curves[curves["pool_size"] == largest]
    for (model, eval_set, budget), g in c.groupby(["model", "eval_set", "budget"]):
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        base = baseline_points(g).groupby("train_tokens")["loss_nats_per_token"].mean()
        ax.scatter(base.index, base.values, color="0.4", s=14, label="random data (controls, whole pool)")
        fitted = PowerCurve.fit(base.index.to_numpy(), base.to_numpy())
        d = np.geomspace(base.index.min(), base.index.max() * 4, 80)
        ax.plot(d, fitted.e + fitted.b * d**-fitted.beta, color="0.4", lw=1, ls="--")
        top = g[(g["selection"] == "top") & (g["fraction"] < 1.0)]
        rows = table[
            (table["model"] == model) & (table["eval_set"] == eval_set) & (table["budget"] == budget)
        ]
        for i, (fraction, line) in enumerate(top.groupby("fraction")):
            mean = line.groupby("train_tokens")["loss_nats_per_token"].mean()
            ax.plot(mean.index, mean.values, marker="o", ms=4, color=f"C{i}", label=f"top f = {fraction:g}")
            row = rows[(rows["pool_size"] == largest) & (rows["fraction"] == fraction)]
            if len(row) and math.isfinite(row["tokens_random"].iloc[0]):
                r = row.iloc[0]
                start, end = (r["tokens_top"], r["loss_top"]), (r["tokens_random"], r["loss_top"])
                ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "color": f"C{i}"})
                ax.text(
                    r["tokens_random"], r["loss_top"], f" {r['multiplier']:.1f}×", color=f"C{i}", fontsize=8
                )
        title = f"{model} on {eval_set} ({budget}, pool {largest:g}): the top f's worth in tokens"
        ax.set(
            xscale="log", xlabel="training tokens (bytes)", ylabel="held-out loss (nats/byte)", title=title
        )
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        stem = folder / f"worth-{model}-{eval_set}-{budget}"
        for suffix in (".png", ".svg"):
            fig.savefig(stem.with_suffix(suffix), dpi=110)
            written.append(stem.with_suffix(suffix))
        plt.close(fig)
    return written
