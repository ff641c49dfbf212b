"""Warnings about a fit: design that cannot identify the law, optima on the grid boundary, flat directions.

Identifiability is judged from the Jacobian J (n, P) of log L-hat with respect to the log-space parameters at
the optimum, with each column scaled to unit length so the number does not depend on units (log N vs log D).
cond(J) is the square root of cond(J^T J), the Gauss-Newton Hessian of the least-squares version of the fit; a
large value means some combination of parameters barely changes any prediction, so the data cannot pin it
down. The Huber Hessian itself is not used: with delta = 1e-3 most residuals sit on its linear part, where
its curvature is zero whatever the design.
"""

from __future__ import annotations

import numpy as np

from curate.scaling.laws import Design, Runs
from curate.scaling.optimize import HuberObjective

CONDITION_LIMIT = 1e4  # cond(J) with unit columns; = 1e8 for J^T J
CORRELATION_LIMIT = 0.95  # |corr(log D, log Q)| above which beta and gamma trade off


def design_warnings(design: Design, runs: Runs) -> list[str]:
    """Problems visible in the runs before fitting."""
    out = []
    sizes = len(np.unique(runs.params))
    if not design.fixed_n and sizes < 3:
        out.append(
            f"Only {sizes} model sizes: E, A and alpha are not separately identifiable; "
            "add runs at a third model size or fit one size at a time with --law fixed-n."
        )
    if "gamma" in design.names:
        r = float(np.corrcoef(np.log(runs.tokens), np.log(runs.quality))[0, 1])
        if abs(r) >= CORRELATION_LIMIT:
            out.append(
                f"log D and log Q move together (correlation {r:.3f}), so beta and gamma trade off; "
                "add runs that vary tokens at a fixed quality."
            )
    return out


def boundary_warnings(design: Design, theta: np.ndarray, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """Parameters whose fitted value sits within 1% of an edge of its start-grid axis, or outside it."""
    out = []
    for name, axis, value in zip(design.names, design.axes, theta, strict=True):
        lo, hi = ranges[axis]
        margin = 0.01 * (hi - lo)
        if hi > lo and (value <= lo + margin or value >= hi - margin):
            where = "outside" if (value < lo or value > hi) else "on the edge of"
            out.append(
                f"{name} = {value:.4g} lies {where} the start grid [{lo:g}, {hi:g}]: the fit may be "
                f"degenerate (check the runs) or the grid too small (widen it with --grid {axis}=LO:HI:STEP)."
            )
    return out


def jacobian_condition(objective: HuberObjective, theta: np.ndarray) -> float:
    """cond of the column-normalised Jacobian of log L-hat at theta (inf when a column is all zero)."""
    jac = objective.jacobian(theta)  # (n, P)
    norms = np.linalg.norm(jac, axis=0)
    if np.any(norms == 0) or not np.all(np.isfinite(jac)):
        return float("inf")
    sv = np.linalg.svd(jac / norms, compute_uv=False)
    return float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")


def fit_warnings(
    design: Design,
    objective: HuberObjective,
    theta: np.ndarray,
    ranges: dict[str, tuple[float, float]],
    converged: bool,
) -> list[str]:
    """Problems visible at the optimum: boundary, flat directions, an unfinished best run."""
    out = boundary_warnings(design, theta, ranges)
    cond = jacobian_condition(objective, theta)
    if cond > CONDITION_LIMIT:
        out.append(
            f"The parameters are poorly identified by these runs (Jacobian condition number {cond:.3g} > "
            f"{CONDITION_LIMIT:g}): widen the range of model sizes, tokens or quality, or fit a simpler law."
        )
    if not converged:
        out.append(
            "The best start stopped before converging (iteration limit or failed line search); "
            "treat the fit as approximate or raise --max-iter."
        )
    return out
