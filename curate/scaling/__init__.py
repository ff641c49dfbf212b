"""Scaling-law fits: Chinchilla, quality-aware, fixed-N and per-group multiplier laws (Huber + L-BFGS grid).

from curate.scaling import Runs, fit_law
fit = fit_law(runs, "chinchilla", bootstrap=200)
"""

from curate.scaling.fit import FitResult, fit_law
from curate.scaling.laws import LAW_NAMES, Runs, build_design, natural_params, predict
from curate.scaling.optimal import compute_optimal

__all__ = [
    "LAW_NAMES",
    "FitResult",
    "Runs",
    "build_design",
    "compute_optimal",
    "fit_law",
    "natural_params",
    "predict",
]
