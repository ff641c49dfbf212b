"""Compute-optimal model size and data for a budget C ~ 6 N D FLOPs, in closed form.

Minimising E + A N^-alpha + B' D^-beta subject to D = C / (6 N) sets alpha A N^-alpha = beta B' D^-beta, so

    G  = (alpha A / (beta B'))^(1 / (alpha + beta))
    N* = G (C/6)^(beta / (alpha + beta))        D* = (C/6) / N* = G^-1 (C/6)^(alpha / (alpha + beta))

The data term's coefficient absorbs quality and multipliers: B' = B / Q^gamma for the quality law and
B' = B m_g^-beta for group g of the multiplier law. Laws without an N term (fixed-n, or multiplier with one
model size) have no compute-optimal split.
"""

from __future__ import annotations

import numpy as np

from curate.errors import ConfigError

FLOPS_PER_PARAM_TOKEN = 6.0  # training FLOPs ~ 6 N D (forward + backward)


def effective_b(p: dict, quality: float = 1.0, group: str | None = None):
    """B' = B Q^-gamma m_g^-beta: the data coefficient at quality Q and in group g."""
    b = p["B"] * np.asarray(quality, dtype=float) ** -np.asarray(p.get("gamma", 0.0))
    if group is not None:
        b = b * np.asarray(p[f"m[{group}]"]) ** -np.asarray(p["beta"])
    return b


def compute_optimal(p: dict, compute: float, quality: float = 1.0, group: str | None = None) -> dict:
    """N* (parameters), D* (tokens), tokens per parameter and predicted loss at budget `compute` (FLOPs).

    `p` holds natural parameters (floats, or arrays of bootstrap samples: the result then has arrays).
    """
    if "A" not in p:
        raise ConfigError(
            "This fit has no model-size term (one model size), so --compute has no optimum to find."
        )
    if not compute > 0:
        raise ConfigError(f"The compute budget must be a positive number of FLOPs, got {compute}; e.g. 1e21.")
    if not 0 < quality <= 1:
        raise ConfigError(f"Quality must lie in (0, 1], got {quality}; pass --at-quality 0.8, for example.")
    alpha, beta, a = np.asarray(p["alpha"]), np.asarray(p["beta"]), np.asarray(p["A"])
    b_eff = effective_b(p, quality, group)
    budget = compute / FLOPS_PER_PARAM_TOKEN  # C/6 = N D
    with np.errstate(all="ignore"):
        g = (alpha * a / (beta * b_eff)) ** (1.0 / (alpha + beta))
        n_opt = g * budget ** (beta / (alpha + beta))
        d_opt = budget / n_opt
        loss = p["E"] + a * n_opt**-alpha + b_eff * d_opt**-beta
    return {"compute": compute, "N": n_opt, "D": d_opt, "tokens_per_param": d_opt / n_opt, "loss": loss}


def optimal_table(fit, computes: list[float], quality: float = 1.0) -> list[dict]:
    """compute_optimal at each budget (and each group for the multiplier law), with bootstrap intervals."""
    groups = list(fit.design.groups) or [None]
    rows = []
    for compute in computes:
        for group in groups:
            row = _floats(compute_optimal(fit.params, compute, quality, group))
            if group is not None:
                row["group"] = group
            if "gamma" in fit.params:
                row["quality"] = quality
            if fit.samples:
                boot = compute_optimal(fit.samples, compute, quality, group)
                tail = (1 - fit.ci_level) / 2
                for key in ("N", "D", "loss"):
                    lo, hi = np.nanquantile(boot[key], [tail, 1 - tail])
                    row[f"{key}_ci"] = [float(lo), float(hi)]
            rows.append(row)
    return rows


def _floats(row: dict) -> dict:
    return {k: float(v) for k, v in row.items()}
