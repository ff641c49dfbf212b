"""Helpers for the scaling tests: synthetic runs drawn from a known law, and where the shared data lives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curate.scaling import Runs, predict

# The repo root is parents[2] of this file; the shared data folder is the repo's sibling `shared`.
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CHINCHILLA_CSV = SHARED / "reference" / "chinchilla" / "chinchilla_runs.csv"
MLFOUNDATIONS_CSV = SHARED / "data" / "scaling" / "mlfoundations_scaling_104_runs.csv"

TRUE = {
    "chinchilla": {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.36},
    "quality": {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.36, "gamma": 0.5},
    "fixed-n": {"E_plus": 2.6, "B": 1500.0, "beta": 0.36, "gamma": 0.5},
    "multiplier": {"E": 1.8, "A": 400.0, "alpha": 0.34, "B": 1500.0, "beta": 0.36,
                   "m[ref]": 1.0, "m[half]": 0.5, "m[double]": 2.0},
}  # fmt: skip

SIZES = np.array([3e7, 7e7, 1.5e8, 4e8, 1e9, 2.5e9])  # parameters
TOKENS_PER_PARAM = np.array([4.0, 8.0, 16.0, 32.0, 64.0, 128.0])  # D / N
QUALITIES = np.array([0.3, 0.55, 0.8, 1.0])


def simulate(law: str, seed: int, noise: float = 0.003, p: dict | None = None) -> Runs:
    """Runs on a factorial design drawn from `law`, with log-normal noise (sd `noise` in log-loss)."""
    p = p or TRUE[law]
    rng = np.random.default_rng(seed)
    sizes = SIZES[2:3] if law == "fixed-n" else SIZES
    if law == "multiplier":
        groups = ["ref", "half", "double"]
        n, r, g = (a.ravel() for a in np.meshgrid(sizes, TOKENS_PER_PARAM, np.arange(3), indexing="ij"))
        tokens = n * r
        label = np.array(groups)[g]
        loss = predict(p, tokens, n, multiplier=np.array([p[f"m[{x}]"] for x in label]))
        return Runs(n, tokens, loss * np.exp(noise * rng.standard_normal(len(n))), group=label)
    qualities = QUALITIES if law != "chinchilla" else np.array([1.0])
    tokens_per_param = TOKENS_PER_PARAM if law != "fixed-n" else np.geomspace(2, 200, 8)
    n, r, q = (a.ravel() for a in np.meshgrid(sizes, tokens_per_param, qualities, indexing="ij"))
    tokens = n * r
    loss = predict(p, tokens, n, quality=q)
    return Runs(
        n, tokens, loss * np.exp(noise * rng.standard_normal(len(n))), None if law == "chinchilla" else q
    )
