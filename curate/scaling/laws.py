"""Scaling laws as log-sum-exp forms that are linear in their log-space parameters.

Every law here is L = sum_j exp(t_j) with each log-term t_j linear in the fitted parameters theta:

    chinchilla  L = E + A/N^alpha + B/D^beta           t = (e, a - alpha log N, b - beta log D)
    quality     L = E + A/N^alpha + B/(D^beta Q^gamma) t = (e, a - alpha log N, b - beta log D - gamma log Q)
    fixed-n     L = E+ + B/(D^beta Q^gamma)            t = (e, b - beta log D - gamma log Q)
    multiplier  L = [E + A/N^alpha | E+] + B/(D m_g)^beta
                                                       t = (e, [a - alpha log N,] b[g] - beta log D)

with E = exp(e), A = exp(a), B = exp(b). So a law is a `Design`: one (P, n) matrix per term, and
t_j = theta @ terms[j]. The fitter needs nothing else, and the gradient is analytic for every law.

The multiplier law fits a free intercept b[g] per group; the effective-data multiplier of group g is
m_g = exp((b[ref] - b[g]) / beta), so the reference group has m = 1 by construction and B = exp(b[ref]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.errors import ConfigError, InputError

LAW_NAMES = ("chinchilla", "quality", "fixed-n", "multiplier")

# Hoffmann et al. (2022) grid of starts (4,500 for Chinchilla), one axis per kind of parameter. The gamma axis
# (Q exponent) is ours: 3 values keep the quality law at 13,500 starts; widen it with --grid gamma=0:2:0.5.
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    "gamma": (0.0, 1.0, 2.0),
}


@dataclass(frozen=True)
class Runs:
    """A table of training runs, one row per run."""

    params: np.ndarray  # N, model parameters, (n,)
    tokens: np.ndarray  # D, training tokens, (n,)
    loss: np.ndarray  # held-out loss in nats/token, (n,)
    quality: np.ndarray | None = None  # Q in (0, 1], (n,)
    group: np.ndarray | None = None  # group label per run (str), (n,)

    def __len__(self) -> int:
        return len(self.loss)

    def subset(self, keep: np.ndarray) -> Runs:
        """The runs selected by a boolean mask or index array."""

        def pick(column: np.ndarray | None) -> np.ndarray | None:
            return None if column is None else column[keep]

        return Runs(
            self.params[keep], self.tokens[keep], self.loss[keep], pick(self.quality), pick(self.group)
        )


@dataclass(frozen=True)
class Design:
    """A law bound to data: what the fitter optimises."""

    law: str
    formula: str
    names: tuple[str, ...]  # log-space parameters, e.g. ("e", "a", "alpha", "b", "beta")
    axes: tuple[str, ...]  # the DEFAULT_GRID axis each parameter starts from
    terms: tuple[np.ndarray, ...]  # per log-sum-exp term, (P, n): t_j = theta @ terms[j]
    log_loss: np.ndarray  # log of the observed loss, (n,)
    groups: tuple[str, ...] = ()  # multiplier law: group labels, reference group first
    strata: np.ndarray | None = None  # group index per run for a stratified bootstrap, (n,)

    @property
    def fixed_n(self) -> bool:
        return "a" not in self.names


def _term(names: tuple[str, ...], n: int, pairs: dict[str, np.ndarray | float]) -> np.ndarray:
    """One log-sum-exp term as a (P, n) matrix: row names.index(p) holds the coefficient of parameter p."""
    matrix = np.zeros((len(names), n))
    for name, value in pairs.items():
        matrix[names.index(name)] = value
    return matrix


def build_design(law: str, runs: Runs, reference_group: str | None = None) -> Design:
    """Bind `law` to `runs`; raises a UserError when the runs cannot identify the law."""
    if law not in LAW_NAMES:
        raise ConfigError(f"Unknown law {law!r}; choose one of {', '.join(LAW_NAMES)}.")
    _check_runs(law, runs)
    design = _build(law, runs, reference_group)
    if len(runs) <= len(design.names):
        raise InputError(
            f"{len(runs)} runs cannot fit the {law} law's {len(design.names)} parameters; add runs."
        )
    return design


def _build(law: str, runs: Runs, reference_group: str | None) -> Design:
    n = len(runs)
    log_n, log_d = np.log(runs.params), np.log(runs.tokens)
    log_q = np.log(runs.quality) if runs.quality is not None else None
    if law == "multiplier":
        return _multiplier_design(runs, reference_group, log_n, log_d)
    fixed = law == "fixed-n"
    names = ("e", "b", "beta") if fixed else ("e", "a", "alpha", "b", "beta")
    if law != "chinchilla":
        names += ("gamma",)
    data_term = {"b": 1.0, "beta": -log_d}
    if log_q is not None and law != "chinchilla":
        data_term["gamma"] = -log_q
    terms = [_term(names, n, {"e": 1.0}), _term(names, n, data_term)]
    if not fixed:
        terms.insert(1, _term(names, n, {"a": 1.0, "alpha": -log_n}))
    formula = {
        "chinchilla": "L = E + A/N^alpha + B/D^beta",
        "quality": "L = E + A/N^alpha + B/(D^beta Q^gamma)",
        "fixed-n": "L = E_plus + B/(D^beta Q^gamma)",
    }[law]
    return Design(law, formula, names, names, tuple(terms), np.log(runs.loss))


def _multiplier_design(runs: Runs, reference: str | None, log_n: np.ndarray, log_d: np.ndarray) -> Design:
    labels, counts = np.unique(runs.group, return_counts=True)
    if reference is None:  # the group with the most runs; ties go to the first label in sorted order
        reference = str(labels[np.argmax(counts)])
    elif reference not in labels:
        raise ConfigError(
            f"Reference group {reference!r} is not in the group column "
            f"(groups: {', '.join(map(str, labels))}); pass one of them to --reference-group."
        )
    groups = (reference, *[str(g) for g in labels if g != reference])
    n = len(runs)
    fixed = len(np.unique(runs.params)) == 1
    names = ("e", "beta") if fixed else ("e", "a", "alpha", "beta")
    names += tuple(f"b[{g}]" for g in groups)
    strata = np.array([groups.index(str(g)) for g in runs.group])
    data_term = _term(names, n, {"beta": -log_d})
    for k, g in enumerate(groups):
        data_term[names.index(f"b[{g}]")] = (strata == k).astype(float)
    terms = [_term(names, n, {"e": 1.0}), data_term]
    if not fixed:
        terms.insert(1, _term(names, n, {"a": 1.0, "alpha": -log_n}))
    axes = tuple("b" if name.startswith("b[") else name for name in names)
    floor = "E_plus" if fixed else "E + A/N^alpha"
    formula = f"L = {floor} + B/(D m_g)^beta, m_{reference} = 1"
    return Design("multiplier", formula, names, axes, tuple(terms), np.log(runs.loss), groups, strata)


def _check_runs(law: str, runs: Runs) -> None:
    if law in ("quality", "fixed-n") and runs.quality is None:
        raise InputError(f"The {law} law needs a quality column; name it with --quality-col.")
    if law == "multiplier" and runs.group is None:
        raise InputError("The multiplier law needs a group column; name it with --group-col.")
    if law in ("chinchilla", "quality") and len(np.unique(runs.params)) < 2:
        raise InputError(
            f"All runs have one model size, so A and alpha of the {law} law are not identifiable; "
            "use --law fixed-n or --law multiplier."
        )
    if law in ("quality", "fixed-n") and len(np.unique(runs.quality)) < 2:
        raise InputError(
            "All runs have the same quality Q, so gamma is not identifiable; use --law chinchilla."
        )


def natural_params(design: Design, theta: np.ndarray) -> dict[str, np.ndarray]:
    """E, A, B, alpha, beta, gamma, m[g] from log-space parameters theta, (P,) or (K, P)."""
    theta = np.asarray(theta, dtype=float)
    col = {name: theta[..., k] for k, name in enumerate(design.names)}
    out = {("E_plus" if design.fixed_n else "E"): np.exp(col["e"])}
    if not design.fixed_n:
        out |= {"A": np.exp(col["a"]), "alpha": col["alpha"]}
    b_ref = col["b"] if "b" in col else col[f"b[{design.groups[0]}]"]
    out |= {"B": np.exp(b_ref), "beta": col["beta"]}
    if "gamma" in col:
        out["gamma"] = col["gamma"]
    for g in design.groups:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out[f"m[{g}]"] = np.exp((b_ref - col[f"b[{g}]"]) / col["beta"])
    return out


def predict(p: dict[str, float], tokens: np.ndarray, params=None, quality=1.0, multiplier=1.0) -> np.ndarray:
    """Loss predicted by fitted natural parameters `p` (from `natural_params`).

    Uses B/(D^beta Q^gamma) = B/(D Q^(gamma/beta))^beta: quality acts as an effective-data multiplier.
    """
    floor = p["E_plus"] if "E_plus" in p else p["E"] + p["A"] * np.asarray(params, dtype=float) ** -p["alpha"]
    effective = np.asarray(tokens, dtype=float) * multiplier * effective_data_factor(p, quality)
    return floor + p["B"] * effective ** -p["beta"]


def effective_data_factor(p: dict[str, float], quality) -> np.ndarray:
    """D_eff / D = Q^(gamma/beta) for the quality laws; 1 for laws without gamma."""
    gamma = p.get("gamma", 0.0)
    return np.asarray(quality, dtype=float) ** (gamma / p["beta"])
