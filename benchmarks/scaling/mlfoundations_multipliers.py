"""Which pretraining dataset is worth the most per token? Gadre et al.'s 104 open_lm runs (C4, RedPajama,
RefinedWeb; 11M-6.9B parameters), fitted per dataset (Chinchilla law) and across datasets (multiplier law).

    PYTHONPATH=. python benchmarks/scaling/mlfoundations_multipliers.py [--loss COLUMN] [--all-losses]

Every run was evaluated on the same held-out sets, so for one loss column the datasets are compared on one
target distribution: m_g = 2 means a token of dataset g lowers that held-out loss as much as 2 tokens of the
reference dataset (C4) under L = E + A/N^alpha + B/(D m_g)^beta. `--all-losses` repeats the multiplier fit
for every held-out loss column, to show how much the answer depends on the evaluation distribution.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from curate.scaling import Runs, fit_law, predict
from curate.scaling.optimize import HuberObjective

CSV = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared"
    / "data"
    / "scaling"
    / "mlfoundations_scaling_104_runs.csv"
)
REFERENCE = "c4_original"
COMMON_POINTS = [(1.44e9, 2.88e10), (6.89e9, 1.378e11)]  # (params, tokens): 20 tokens/param, as in the runs


def per_dataset(frame: pd.DataFrame, loss: str, bootstrap: int) -> dict:
    out = {}
    for name, rows in frame.groupby("dataset"):
        runs = Runs(
            rows["params"].to_numpy(float), rows["tokens"].to_numpy(float), rows[loss].to_numpy(float)
        )
        fit = fit_law(runs, "chinchilla", bootstrap=bootstrap, seed=0)
        out[name] = {
            "n": fit.n,
            "params": fit.params,
            "ci": fit.ci,
            "rmse_log": fit.residuals["rmse_log"],
            "predicted": {f"N={n:.3g},D={d:.3g}": float(predict(fit.params, d, n)) for n, d in COMMON_POINTS},
            "warnings": fit.warnings,
            "seconds": fit.seconds,
        }
    return out


def multiplier(frame: pd.DataFrame, loss: str, bootstrap: int) -> tuple[dict, list[dict]]:
    runs = Runs(
        frame["params"].to_numpy(float),
        frame["tokens"].to_numpy(float),
        frame[loss].to_numpy(float),
        group=frame["dataset"].to_numpy(str),
    )
    fit = fit_law(runs, "multiplier", bootstrap=bootstrap, seed=0, reference_group=REFERENCE)
    resid = HuberObjective(fit.design.terms, fit.design.log_loss).residuals(fit.theta)
    worst = np.argsort(-np.abs(resid))[:3]
    worst_runs = [
        {"name": frame["name"].iloc[i], "log_residual": float(resid[i]), "loss": float(runs.loss[i])}
        for i in worst
    ]
    return fit.to_dict(), worst_runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", default="loss_paloma_c4_en", help="held-out loss column for the main fits")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--all-losses", action="store_true", help="multiplier fit for every loss column too")
    args = parser.parse_args()
    frame = pd.read_csv(CSV)
    started = time.perf_counter()
    main_fit, worst = multiplier(frame, args.loss, args.bootstrap)
    report = {
        "loss": args.loss,
        "per_dataset": per_dataset(frame, args.loss, args.bootstrap),
        "multiplier": main_fit,
        "worst_runs": worst,
    }
    if args.all_losses:
        report["by_loss"] = {}
        for column in [c for c in frame.columns if c.startswith("loss_")]:
            fit, _ = multiplier(frame, column, bootstrap=100)
            keep = ("params", "ci", "residuals", "warnings")
            report["by_loss"][column] = {k: fit[k] for k in keep}
    report["seconds"] = time.perf_counter() - started
    print(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
