"""Laws, their analytic gradients and the compute-optimal closed form (deterministic, no fitting)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from curate.errors import ConfigError, InputError
from curate.scaling import Runs, build_design, compute_optimal, natural_params, predict
from curate.scaling.optimize import HuberObjective
from tests.scaling.synthetic import TRUE, simulate

LAWS = ["chinchilla", "quality", "fixed-n", "multiplier"]


def _reference(law: str) -> str | None:
    return "ref" if law == "multiplier" else None


def _theta_for(design, p: dict) -> np.ndarray:
    """Log-space parameters that reproduce natural parameters p (inverse of natural_params)."""
    values = {"e": np.log(p.get("E", p.get("E_plus"))), "alpha": p.get("alpha"), "beta": p["beta"]}
    values |= {"a": np.log(p.get("A", 1.0)), "b": np.log(p["B"]), "gamma": p.get("gamma")}
    for g in design.groups:
        values[f"b[{g}]"] = np.log(p["B"]) - p["beta"] * np.log(p[f"m[{g}]"])
    return np.array([values[name] for name in design.names], dtype=float)


@pytest.mark.parametrize("law", LAWS)
def test_analytic_gradient_matches_finite_differences(law):
    runs = simulate(law, seed=0)
    design = build_design(law, runs, _reference(law))
    rng = np.random.default_rng(1)
    theta = _theta_for(design, TRUE[law]) + 0.3 * rng.standard_normal((6, len(design.names)))  # (6, P)
    for delta in (1e-3, 1.0):  # mostly-linear and fully quadratic Huber regimes
        weights = rng.integers(0, 3, size=(6, len(runs))).astype(float)
        objective = HuberObjective(design.terms, design.log_loss, delta, weights)
        _, grad = objective(theta)
        numeric = np.zeros_like(grad)
        for p in range(theta.shape[1]):
            step = np.zeros_like(theta)
            step[:, p] = 1e-6
            numeric[:, p] = (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-6
        scale = np.abs(grad).max(axis=1, keepdims=True)  # finite differences lose ~1e-10 of each row's scale
        assert np.all(np.abs(grad - numeric) <= 1e-6 * scale)


def test_chunked_evaluation_equals_one_pass(monkeypatch):
    design = build_design("chinchilla", simulate("chinchilla", seed=0))
    theta = np.random.default_rng(0).normal(size=(50, 5)) + _theta_for(design, TRUE["chinchilla"])
    objective = HuberObjective(design.terms, design.log_loss)
    f_one, g_one = objective(theta)
    monkeypatch.setattr("curate.scaling.optimize.CHUNK_ELEMENTS", 20 * len(design.log_loss))  # chunks of 20
    f_chunked, g_chunked = objective(theta)
    np.testing.assert_allclose(f_one, f_chunked, rtol=1e-14)
    np.testing.assert_allclose(g_one, g_chunked, rtol=1e-14)


@pytest.mark.parametrize("law", LAWS)
def test_log_sum_exp_form_equals_closed_form(law):
    runs = simulate(law, seed=0, noise=0.0)
    design = build_design(law, runs, _reference(law))
    theta = _theta_for(design, TRUE[law])
    residuals = HuberObjective(design.terms, design.log_loss).residuals(theta)
    np.testing.assert_allclose(residuals, 0.0, atol=1e-12)  # noise-free data sit on the law
    back = natural_params(design, theta)
    for name, value in TRUE[law].items():
        assert back[name] == pytest.approx(value, rel=1e-12)


def test_multiplier_reference_group_is_one_and_named():
    runs = simulate("multiplier", seed=0)
    design = build_design("multiplier", runs, "half")
    assert design.groups[0] == "half"
    assert "m_half = 1" in design.formula
    theta = _theta_for(design, TRUE["multiplier"] | {"m[half]": 1.0, "m[ref]": 2.0, "m[double]": 4.0})
    assert natural_params(design, theta)["m[half]"] == pytest.approx(1.0)
    default = build_design(
        "multiplier", runs.subset(runs.group != "half")
    )  # 20 runs each: ties -> sorted first
    assert default.groups[0] == "double"


def test_quality_is_an_effective_data_multiplier():
    p = TRUE["quality"]
    q = 0.4
    direct = p["E"] + p["A"] / 1e9 ** p["alpha"] + p["B"] / (1e10 ** p["beta"] * q ** p["gamma"])
    assert predict(p, 1e10, 1e9, quality=q) == pytest.approx(direct, rel=1e-12)
    assert predict(p, 1e10 * q ** (p["gamma"] / p["beta"]), 1e9) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize(("law", "kwargs"), [("chinchilla", {}), ("quality", {"quality": 0.5})])
def test_compute_optimal_closed_form_matches_numeric_minimum(law, kwargs):
    p, compute = TRUE[law], 1e21  # FLOPs
    best = compute_optimal(p, compute, **kwargs)

    def loss_at(log_n: float) -> float:
        n = np.exp(log_n)
        return float(predict(p, compute / (6 * n), n, quality=kwargs.get("quality", 1.0)))

    numeric = minimize_scalar(
        loss_at, bounds=(np.log(1e6), np.log(1e13)), method="bounded", options={"xatol": 1e-10}
    )
    assert best["N"] == pytest.approx(np.exp(numeric.x), rel=1e-4)
    assert best["N"] * best["D"] * 6 == pytest.approx(compute)
    assert best["loss"] == pytest.approx(numeric.fun, rel=1e-9)


def test_compute_optimal_low_quality_shifts_budget_to_data_and_multiplier_agrees():
    p = TRUE["quality"]
    high, low = compute_optimal(p, 1e21, 1.0), compute_optimal(p, 1e21, 0.5)
    assert low["loss"] > high["loss"]
    # B' = B / Q^gamma equals a multiplier law with m = Q^(gamma/beta)
    m = 0.5 ** (p["gamma"] / p["beta"])
    as_multiplier = compute_optimal(TRUE["multiplier"] | {"m[x]": m}, 1e21, group="x")
    assert as_multiplier["N"] == pytest.approx(low["N"], rel=1e-12)


def test_compute_optimal_rejects_fixed_n_and_bad_budget():
    with pytest.raises(ConfigError, match="no model-size term"):
        compute_optimal(TRUE["fixed-n"], 1e21)
    with pytest.raises(ConfigError, match="positive"):
        compute_optimal(TRUE["chinchilla"], -1.0)


def test_design_errors_name_the_fix():
    runs = simulate("chinchilla", seed=0)
    with pytest.raises(InputError, match="--quality-col"):
        build_design("quality", runs)
    with pytest.raises(InputError, match="--group-col"):
        build_design("multiplier", runs)
    with pytest.raises(ConfigError, match="choose one of"):
        build_design("kaplan", runs)
    one_size = Runs(np.full(10, 1e8), np.geomspace(1e9, 1e11, 10), np.linspace(3, 2.5, 10))
    with pytest.raises(InputError, match="--law fixed-n"):
        build_design("chinchilla", one_size)
    with pytest.raises(ConfigError, match="--reference-group"):
        build_design("multiplier", simulate("multiplier", seed=0), "nope")
