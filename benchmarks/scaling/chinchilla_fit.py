"""Chinchilla acceptance benchmark: the full 4,500-start grid on Epoch AI's 240 runs, against scipy.

    PYTHONPATH=. python benchmarks/scaling/chinchilla_fit.py               # curate's fit + bootstrap
    PYTHONPATH=. python benchmarks/scaling/chinchilla_fit.py --scipy       # + scipy L-BFGS-B, all starts
    PYTHONPATH=. python benchmarks/scaling/chinchilla_fit.py --numeric 50  # + time 50 numeric-gradient runs

Targets (Besiroglu et al. 2024, arXiv 2404.10102): E = 1.817, alpha = 0.348, beta = 0.366, each within 0.01,
in under 60 s. `--scipy` runs scipy's L-BFGS-B (default tolerances, curate's analytic gradient) from every
grid start, one start at a time, to check that the batched optimiser finds the best fit a loop would.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from curate.scaling import Runs, fit_law, natural_params
from curate.scaling.fit import start_grid
from curate.scaling.io import drop_highest
from curate.scaling.optimize import HuberObjective

CSV = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "chinchilla" / "chinchilla_runs.csv"
)
EPOCH = {"E": 1.817, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
EPOCH_SE = {"E": 0.026, "A": 124.52, "B": 1293.28, "alpha": 0.0154, "beta": 0.0206}


def load_runs() -> Runs:
    frame = pd.read_csv(CSV)
    return drop_highest(Runs(*(frame[c].to_numpy(float) for c in ("params", "tokens", "loss"))), 5)


def curate_fit(runs: Runs, bootstrap: int) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    fit = fit_law(runs, "chinchilla", bootstrap=0)
    fit_wall, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    boot = fit_law(runs, "chinchilla", bootstrap=bootstrap, seed=0)
    out = boot.to_dict()
    out |= {"fit_wall_s": fit_wall, "fit_cpu_s": fit_cpu, "with_bootstrap_wall_s": boot.seconds}
    out["within_0.01_of_epoch"] = {k: abs(fit.params[k] - EPOCH[k]) < 0.01 for k in ("E", "alpha", "beta")}
    return out


def scipy_loop(runs: Runs, numeric: bool = False, limit: int | None = None) -> dict:
    """scipy L-BFGS-B from each grid start, one at a time (analytic gradient unless `numeric`)."""
    fit = fit_law(
        runs, "chinchilla", grid={"e": (0.0,), "a": (5.0,), "b": (5.0,), "alpha": (0.5,), "beta": (0.5,)}
    )
    design = fit.design
    objective = HuberObjective(design.terms, design.log_loss)
    starts = start_grid(design)[:limit]

    def value(x: np.ndarray) -> float:
        return float(objective(x[None])[0][0])

    def value_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = objective(x[None])
        return float(f[0]), g[0]

    wall = time.perf_counter()
    results = [
        minimize(value, x0, method="L-BFGS-B")
        if numeric
        else minimize(value_and_grad, x0, jac=True, method="L-BFGS-B")
        for x0 in starts
    ]
    seconds = time.perf_counter() - wall
    best = min(results, key=lambda r: r.fun)
    return {
        "starts": len(starts),
        "wall_s": seconds,
        "objective": float(best.fun),
        "params": {k: float(v) for k, v in natural_params(design, best.x).items()},
        "gradient": "numeric (2-point)" if numeric else "analytic",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--scipy", action="store_true", help="also run scipy L-BFGS-B from all 4,500 starts")
    parser.add_argument("--numeric", type=int, default=0, help="time this many numeric-gradient scipy runs")
    args = parser.parse_args()
    runs = load_runs()
    report = {
        "n": len(runs),
        "curate": curate_fit(runs, args.bootstrap),
        "epoch": EPOCH,
        "epoch_se": EPOCH_SE,
    }
    if args.scipy:
        report["scipy_analytic"] = scipy_loop(runs)
    if args.numeric:
        numeric = scipy_loop(runs, numeric=True, limit=args.numeric)
        numeric["extrapolated_4500_wall_s"] = numeric["wall_s"] * 4500 / args.numeric
        report["scipy_numeric_sample"] = numeric
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
