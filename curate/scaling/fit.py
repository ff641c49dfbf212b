"""Fit a scaling law: Huber on log-loss residuals, L-BFGS from a grid of starts, bootstrap intervals.

`fit_law` runs one L-BFGS per grid start (Hoffmann et al.'s 4,500 by default), all at once through the
batched optimiser in `optimize.py`: every start is a complete, independent L-BFGS run, so the best of them
is the answer a loop of scipy L-BFGS runs over the same grid would give (`benchmarks/scaling/` checks this).
The bootstrap resamples runs with replacement (within groups for the multiplier law, so every group keeps its
runs), refits each resample from the best few distinct optima of the full fit, and reports percentile
intervals.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from curate.errors import ConfigError
from curate.scaling.diagnostics import design_warnings, fit_warnings
from curate.scaling.laws import DEFAULT_GRID, Design, Runs, build_design, natural_params
from curate.scaling.optimize import HuberObjective, lbfgs_batch


@dataclass
class FitResult:
    """A fitted law: best parameters, objective, residuals, intervals and warnings."""

    design: Design
    theta: np.ndarray  # best log-space parameters, (P,)
    params: dict[str, float]  # natural parameters: E (or E_plus), A, alpha, B, beta, gamma, m[g]
    objective: float  # summed Huber loss at the best fit
    delta: float
    residuals: dict[str, float]  # statistics of log L-hat - log L
    n_starts: int
    n_converged: int
    n_at_best: int  # starts whose run ended within 1e-6 (relative) of the best objective
    seconds: float
    optima: np.ndarray  # distinct local optima, best first, (S, P)
    warnings: list[str] = field(default_factory=list)
    ci_level: float = 0.95
    samples: dict[str, np.ndarray] = field(default_factory=dict)  # bootstrap natural parameters, (R,) each
    ci: dict[str, list[float]] = field(default_factory=dict)
    se: dict[str, float] = field(default_factory=dict)

    @property
    def law(self) -> str:
        return self.design.law

    @property
    def n(self) -> int:
        return len(self.design.log_loss)

    def to_dict(self) -> dict:
        """A JSON-ready summary (no numpy types)."""
        out = {
            "law": self.law,
            "formula": self.design.formula,
            "n": self.n,
            "params": {k: float(v) for k, v in self.params.items()},
            "ci": {k: [float(lo), float(hi)] for k, (lo, hi) in self.ci.items()},
            "ci_level": self.ci_level,
            "se": {k: float(v) for k, v in self.se.items()},
            "bootstrap": len(next(iter(self.samples.values()))) if self.samples else 0,
            "objective": float(self.objective),
            "delta": self.delta,
            "residuals": self.residuals,
            "starts": {"n": self.n_starts, "converged": self.n_converged, "at_best": self.n_at_best},
            "seconds": round(self.seconds, 3),
            "warnings": list(self.warnings),
        }
        if self.design.groups:
            out["reference_group"] = self.design.groups[0]
        return out


def start_grid(design: Design, grid: dict[str, tuple[float, ...]] | None = None) -> np.ndarray:
    """All grid starts, (K, P): the product of the axis values; parameters sharing an axis share a value."""
    axes = dict(DEFAULT_GRID)
    for name, values in (grid or {}).items():
        if name not in axes:
            raise ConfigError(f"Unknown grid axis {name!r}; use one of {', '.join(DEFAULT_GRID)}.")
        if len(values) == 0:
            raise ConfigError(f"Grid axis {name!r} has no values; give at least one, e.g. {name}=0:2:0.5.")
        axes[name] = tuple(float(v) for v in values)
    used = list(dict.fromkeys(design.axes))  # axes in first-use order
    combos = np.array(list(itertools.product(*[axes[a] for a in used])), dtype=float)  # (K, n_axes)
    return combos[:, [used.index(a) for a in design.axes]]


def grid_ranges(grid: dict[str, tuple[float, ...]] | None = None) -> dict[str, tuple[float, float]]:
    """(lowest, highest) value of each grid axis, defaults overridden by `grid`."""
    axes = {**DEFAULT_GRID, **(grid or {})}
    return {name: (float(min(v)), float(max(v))) for name, v in axes.items()}


def fit_law(
    runs: Runs,
    law: str = "chinchilla",
    *,
    delta: float = 1e-3,
    grid: dict[str, tuple[float, ...]] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    ci_level: float = 0.95,
    reference_group: str | None = None,
    max_iter: int = 1000,
) -> FitResult:
    """Fit `law` to `runs` by Huber(delta) on log-loss residuals from every grid start; see module doc."""
    _check_options(delta, bootstrap, ci_level)
    started = time.perf_counter()
    design = build_design(law, runs, reference_group)
    starts = start_grid(design, grid)
    objective = HuberObjective(design.terms, design.log_loss, delta)
    result = lbfgs_batch(objective, starts, max_iter=max_iter)
    f = np.where(np.isfinite(result.f), result.f, np.inf)
    order = np.argsort(f, kind="stable")
    best = order[0]
    theta = result.x[best]
    fit = FitResult(
        design=design,
        theta=theta,
        params={k: float(v) for k, v in natural_params(design, theta).items()},
        objective=float(f[best]),
        delta=delta,
        residuals=residual_stats(objective.residuals(theta)),
        n_starts=len(starts),
        n_converged=int(result.converged.sum()),
        n_at_best=int(np.sum(f <= f[best] + 1e-6 * max(abs(f[best]), 1e-12))),
        seconds=0.0,
        optima=distinct_optima(result.x[order], f[order]),
        ci_level=ci_level,
    )
    fit.warnings = design_warnings(design, runs) + fit_warnings(
        design, objective, theta, grid_ranges(grid), bool(result.converged[best])
    )
    if bootstrap > 0:
        add_bootstrap(fit, bootstrap, seed, max_iter)
    fit.seconds = time.perf_counter() - started
    return fit


def _check_options(delta: float, bootstrap: int, ci_level: float) -> None:
    if not delta > 0:
        raise ConfigError(f"Huber delta must be positive, got {delta}; the usual value is 1e-3.")
    if bootstrap < 0:
        raise ConfigError(f"The number of bootstrap resamples must be 0 or more, got {bootstrap}.")
    if not 0 < ci_level < 1:
        raise ConfigError(f"The interval level must lie in (0, 1), got {ci_level}; e.g. 0.95.")


def residual_stats(resid: np.ndarray) -> dict[str, float]:
    """RMSE, max |.|, median |.| and mean of log-loss residuals (nats of log-loss)."""
    return {
        "rmse_log": float(np.sqrt(np.mean(resid**2))),
        "max_abs_log": float(np.max(np.abs(resid))),
        "median_abs_log": float(np.median(np.abs(resid))),
        "mean_log": float(np.mean(resid)),
    }


def distinct_optima(
    x_sorted: np.ndarray, f_sorted: np.ndarray, keep: int = 4, tol: float = 1e-3, within: float = 1.5
) -> np.ndarray:
    """Up to `keep` end points, best first, that differ by > `tol` in some log-space parameter and whose
    objective is within `within` times the best: the rival optima a bootstrap resample might prefer."""
    chosen: list[np.ndarray] = []
    for x, f in zip(x_sorted, f_sorted, strict=True):
        if not np.isfinite(f) or f > within * f_sorted[0]:
            break
        if not np.all(np.isfinite(x)):
            continue
        if all(np.max(np.abs(x - c)) > tol for c in chosen):
            chosen.append(x)
        if len(chosen) == keep:
            break
    return np.array(chosen)


def resample_counts(rng: np.random.Generator, n_boot: int, strata: np.ndarray) -> np.ndarray:
    """(n_boot, n) counts of a with-replacement resample of the n runs, drawn within each stratum."""
    counts = np.zeros((n_boot, len(strata)))
    for s in np.unique(strata):
        members = np.flatnonzero(strata == s)
        counts[:, members] = rng.multinomial(
            len(members), np.full(len(members), 1 / len(members)), size=n_boot
        )
    return counts


def add_bootstrap(fit: FitResult, n_boot: int, seed: int, max_iter: int = 1000) -> None:
    """Refit `n_boot` resamples (seeded) from the distinct optima; store samples, percentile CIs and s.e."""
    design = fit.design
    strata = design.strata if design.strata is not None else np.zeros(fit.n, dtype=int)
    counts = resample_counts(np.random.default_rng(seed), n_boot, strata)  # (R, n)
    starts = fit.optima  # (S, P)
    n_starts = len(starts)
    weights = np.repeat(counts, n_starts, axis=0)  # (R * S, n): each resample once per start
    objective = HuberObjective(design.terms, design.log_loss, fit.delta, weights)
    result = lbfgs_batch(objective, np.tile(starts, (n_boot, 1)), max_iter=max_iter)
    f = np.where(np.isfinite(result.f), result.f, np.inf).reshape(n_boot, n_starts)
    thetas = result.x.reshape(n_boot, n_starts, -1)[np.arange(n_boot), np.argmin(f, axis=1)]  # (R, P)
    fit.samples = natural_params(design, thetas)
    tail = (1 - fit.ci_level) / 2
    for name, values in fit.samples.items():
        lo, hi = np.nanquantile(values, [tail, 1 - tail])
        fit.ci[name] = [float(lo), float(hi)]
        with np.errstate(over="ignore", invalid="ignore"):  # an unpinned scale can reach 1e80 and beyond
            fit.se[name] = float(np.nanstd(values, ddof=1))
    loose = [name for name, (lo, hi) in fit.ci.items() if not _pinned(name, lo, hi)]
    if loose:
        spans = ", ".join(f"{name} [{fit.ci[name][0]:.3g}, {fit.ci[name][1]:.3g}]" for name in loose)
        fit.warnings.append(
            f"The bootstrap does not pin down {spans} ({fit.ci_level:.0%} intervals): resamples of these "
            "runs fit very different values, so do not read them off this fit; add runs that vary tokens "
            "(and model size or quality) more widely, or fit a law with fewer parameters."
        )


EXPONENTS = ("alpha", "beta", "gamma")
MAX_EXPONENT_SPAN = 0.5  # an interval wider than this for alpha, beta or gamma says nothing about them
MAX_SCALE_RATIO = 100.0  # nor one spanning more than two orders of magnitude for E, A, B or a multiplier


def _pinned(name: str, lo: float, hi: float) -> bool:
    if name in EXPONENTS:
        return hi - lo <= MAX_EXPONENT_SPAN
    return lo == hi or (lo > 0 and hi / lo <= MAX_SCALE_RATIO)
