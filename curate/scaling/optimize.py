"""The Huber objective on log-loss residuals, its analytic gradient, and a batched L-BFGS.

The objective for one parameter vector theta is Hoffmann et al.'s approach 3:

    f(theta) = sum_i w_i * huber_delta(LSE_j(t_ij(theta)) - log L_i)

summed over runs (w_i = 1, or bootstrap counts). `HuberObjective` evaluates f and its gradient for a whole
batch of K parameter vectors at once, (K, P) -> (K,), (K, P): the grid of 4,500 starts is one numpy call.

`lbfgs_batch` runs K independent L-BFGS minimisations in lock-step: each row keeps its own curvature
history, step length and stopping state, as K separate runs would; only the function evaluation is shared,
one vectorised call over the rows still running. Converged rows drop out of the batch. The line search is
Armijo backtracking (quadratic interpolation) plus step doubling while the Wolfe curvature condition
fails, so accepted steps are of the kind a Wolfe line search (scipy's L-BFGS-B) accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK_ELEMENTS = 65_536  # residuals per vectorised pass (batch rows x runs)


@dataclass
class HuberObjective:
    """Summed Huber loss of log-loss residuals for a design; weights (K, n) give one row per batch row."""

    terms: tuple[np.ndarray, ...]  # per term (P, n)
    log_loss: np.ndarray  # (n,)
    delta: float = 1e-3
    weights: np.ndarray | None = None  # (K, n) run counts, e.g. bootstrap resamples

    def __post_init__(self) -> None:
        # Each term touches few parameters (e.g. a and alpha): keep only its non-zero rows, (P_j, n).
        self._rows = [np.flatnonzero(np.any(m != 0, axis=1)) for m in self.terms]
        self._dense = [np.ascontiguousarray(m[r]) for m, r in zip(self.terms, self._rows, strict=True)]
        # A term equal for every run (E = exp(e)) is one number per batch row: kept as (P_j, 1).
        self._const = [bool(np.all(m == m[:, :1])) for m in self._dense]
        self._dense = [m[:, :1] if c else m for m, c in zip(self._dense, self._const, strict=True)]

    def predict(self, theta: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """log L-hat (K, n), each term's exp(t_j - shift) [(K, n) or (K, 1)], and their sum (K, n).

        The shift is 0 where exp cannot overflow or underflow to an all-zero sum (the fast path: one
        exp per term), else max_j t_j (the usual log-sum-exp guard); ratios ex_j / total are the same.
        """
        logs = [theta[:, r] @ m for r, m in zip(self._rows, self._dense, strict=True)]  # (K, n) or (K, 1)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ex = [np.exp(t) for t in logs]
            total = ex[0]
            for e in ex[1:]:
                total = total + e
            log_pred = np.log(total)
        bad = ~np.all(np.isfinite(log_pred), axis=1)
        if bad.any():  # rare: steps far out in parameter space
            ex = [np.array(np.broadcast_to(e, total.shape)) for e in ex]
            top = np.max([np.broadcast_to(t[bad], total[bad].shape) for t in logs], axis=0)
            for e, t in zip(ex, logs, strict=True):
                e[bad] = np.exp(t[bad] - top)
            total = np.add.reduce(ex)
            log_pred = np.log(total)
            log_pred[bad] += top
        return log_pred, ex, total

    def __call__(self, theta: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """f (K,) and grad (K, P) at theta (K, P); `rows` picks the weight rows of a sub-batch."""
        # Chunks of ~64k residuals keep the temporaries in cache: ~5x faster than one (4500, 240) pass.
        chunk = max(16, CHUNK_ELEMENTS // len(self.log_loss))
        if len(theta) <= chunk:
            return self._value_and_grad(theta, rows)
        if rows is None:
            rows = np.arange(len(theta))
        parts = [
            self._value_and_grad(theta[i : i + chunk], rows[i : i + chunk])
            for i in range(0, len(theta), chunk)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _value_and_grad(self, theta: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        log_pred, ex, total = self.predict(theta)
        resid = log_pred - self.log_loss  # (K, n), log-loss residuals
        psi = np.clip(resid, -self.delta, self.delta)  # d huber / d resid
        huber = psi * (resid - 0.5 * psi)  # r^2/2 where |r| <= delta, else delta (|r| - delta/2)
        if self.weights is not None:
            w = self.weights if rows is None else self.weights[rows]
            huber, psi = huber * w, psi * w
        psi /= total
        grad = np.zeros_like(theta)
        psi_sum = None
        for e, r, m, const in zip(ex, self._rows, self._dense, self._const, strict=True):
            if const and e.shape[1] == 1:  # a term equal for all runs: sum_i psi_i e = e sum_i psi_i
                psi_sum = psi.sum(axis=1, keepdims=True) if psi_sum is None else psi_sum
                grad[:, r] += (psi_sum * e) @ m.T
            elif const:  # the same, after the overflow guard broadcast e to (K, n)
                grad[:, r] += (psi * e).sum(axis=1, keepdims=True) @ m.T
            else:
                grad[:, r] += (psi * e) @ m.T
        return huber.sum(axis=1), grad

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        """d log L-hat_i / d theta_p at one theta (P,): (n, P)."""
        _, ex, total = self.predict(theta[None, :])
        weights = [np.broadcast_to(e / total, total.shape)[0] for e in ex]  # softmax of the terms, J x (n,)
        return np.add.reduce([w[:, None] * m.T for w, m in zip(weights, self.terms, strict=True)])

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """log L-hat - log L at one theta (P,): (n,)."""
        return self.predict(theta[None, :])[0][0] - self.log_loss


@dataclass
class BatchResult:
    x: np.ndarray  # (K, P) final parameters
    f: np.ndarray  # (K,) final objective
    iterations: np.ndarray  # (K,) L-BFGS iterations used
    converged: np.ndarray  # (K,) bool: met a tolerance (else hit max_iter or a failed line search)


def _two_loop(g: np.ndarray, s: np.ndarray, y: np.ndarray, rho: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """L-BFGS direction -H g for each row; history (K, m, P) with the newest pair last, rho=0 = empty slot."""
    q = g.copy()
    m = s.shape[1]
    alpha = np.zeros((len(g), m))
    for i in range(m - 1, -1, -1):
        alpha[:, i] = rho[:, i] * np.einsum("kp,kp->k", s[:, i], q)
        q -= alpha[:, i, None] * y[:, i]
    r = h0[:, None] * q
    for i in range(m):
        beta = rho[:, i] * np.einsum("kp,kp->k", y[:, i], r)
        r += s[:, i] * (alpha[:, i] - beta)[:, None]
    return -r


def lbfgs_batch(
    fun,
    x0: np.ndarray,
    max_iter: int = 1000,
    memory: int = 10,
    ftol: float = 1e-13,
    gtol: float = 1e-10,
    max_backtracks: int = 40,
) -> BatchResult:
    """Minimise K problems at once; fun(x (k, P), rows (k,)) -> f (k,), grad (k, P).

    Stopping rules per row (as scipy's L-BFGS-B): relative decrease (f_old - f)/max(|f_old|, |f|, 1) <= ftol,
    or max |grad| <= gtol; a row also stops (unconverged) at `max_iter` or when no step within
    `max_backtracks` shrinks satisfies the Armijo condition.
    """
    x = np.array(x0, dtype=float)
    k_rows, p = x.shape
    f, g = fun(x, np.arange(k_rows))
    s_hist = np.zeros((k_rows, memory, p))
    y_hist = np.zeros((k_rows, memory, p))
    rho = np.zeros((k_rows, memory))
    h0 = np.zeros(k_rows)  # initial inverse-Hessian scale; 0 = no curvature pair yet
    iterations = np.zeros(k_rows, dtype=int)
    converged = np.max(np.abs(g), axis=1) <= gtol
    active = np.flatnonzero(~converged)
    for _ in range(max_iter):
        if active.size == 0:
            break
        step = _lbfgs_step(fun, x, f, g, active, s_hist, y_hist, rho, h0, max_backtracks)
        x_new, f_new, g_new, ok = step
        iterations[active] += 1
        _update_history(
            active[ok], x_new[ok] - x[active[ok]], g_new[ok] - g[active[ok]], s_hist, y_hist, rho, h0
        )
        f_old = f[active]
        x[active[ok]], f[active[ok]], g[active[ok]] = x_new[ok], f_new[ok], g_new[ok]
        scale = np.maximum(np.maximum(np.abs(f_old), np.abs(f[active])), 1.0)
        done = ((f_old - f[active]) <= ftol * scale) & ok
        done |= np.max(np.abs(g[active]), axis=1) <= gtol
        converged[active[done]] = True
        active = active[~done & ok]
    return BatchResult(x, f, iterations, converged)


def _lbfgs_step(fun, x, f, g, active, s_hist, y_hist, rho, h0, max_backtracks):
    """One L-BFGS iteration for the active rows: direction, Armijo backtracking from a unit step, then
    step doubling while the step is too short for the Wolfe curvature condition (as a Wolfe line search)."""
    ga = g[active]
    h = np.where(h0[active] > 0, h0[active], 1.0 / np.maximum(1.0, np.linalg.norm(ga, axis=1)))
    d = _two_loop(ga, s_hist[active], y_hist[active], rho[active], h)
    slope = np.einsum("kp,kp->k", ga, d)
    bad = slope >= 0  # not a descent direction: fall back to scaled steepest descent
    if bad.any():
        d[bad] = -ga[bad] * h[bad, None]
        slope[bad] = np.einsum("kp,kp->k", ga[bad], d[bad])
    step = _Step(fun, x[active], f[active], slope, d, active)
    step.backtrack(max_backtracks)
    step.expand(max_expansions=10)
    return step.x_new, step.f_new, step.g_new, step.ok


class _Step:
    """Line search state for a batch of rows moving from x0 along d."""

    ARMIJO = 1e-4  # sufficient decrease constant c1
    CURVATURE = 0.9  # Wolfe curvature constant c2

    def __init__(self, fun, x0, f0, slope, d, rows):
        self.fun, self.x0, self.f0, self.slope, self.d, self.rows = fun, x0, f0, slope, d, rows
        self.t = np.ones(len(rows))
        self.x_new, self.f_new, self.g_new = x0.copy(), f0.copy(), np.zeros_like(x0)
        self.ok = np.zeros(len(rows), dtype=bool)

    def _try(self, pending: np.ndarray, t: np.ndarray):
        trial = self.x0[pending] + t[:, None] * self.d[pending]
        f_try, g_try = self.fun(trial, self.rows[pending])
        armijo = np.isfinite(f_try) & (f_try <= self.f0[pending] + self.ARMIJO * t * self.slope[pending])
        return trial, f_try, g_try, armijo

    def _accept(self, idx, mask, trial, f_try, g_try, t) -> None:
        rows = idx[mask]
        self.x_new[rows], self.f_new[rows], self.g_new[rows] = trial[mask], f_try[mask], g_try[mask]
        self.t[rows], self.ok[rows] = t[mask], True

    def backtrack(self, max_backtracks: int) -> None:
        pending = np.arange(len(self.rows))
        for _ in range(max_backtracks):
            trial, f_try, g_try, armijo = self._try(pending, self.t[pending])
            self._accept(pending, armijo, trial, f_try, g_try, self.t[pending])
            failed = ~armijo
            pending, t, f_try = pending[failed], self.t[pending][failed], f_try[failed]
            if pending.size == 0:
                break
            self.t[pending] = self._shrink(t, f_try, self.f0[pending], self.slope[pending])

    @staticmethod
    def _shrink(t: np.ndarray, f_try: np.ndarray, f0: np.ndarray, slope: np.ndarray) -> np.ndarray:
        """Argmin of the quadratic through f0, slope and f(t), kept in [0.1 t, 0.5 t]; halving if f is inf."""
        with np.errstate(all="ignore"):
            t_quad = -slope * t**2 / (2 * (f_try - f0 - slope * t))
        return np.where(np.isfinite(t_quad), np.clip(t_quad, 0.1 * t, 0.5 * t), 0.5 * t)

    def _too_short(self, idx: np.ndarray, g_try: np.ndarray) -> np.ndarray:
        return np.einsum("kp,kp->k", g_try, self.d[idx]) < self.CURVATURE * self.slope[idx]

    def expand(self, max_expansions: int) -> None:
        first = np.flatnonzero(self.ok & (self.t == 1.0))
        pending = first[self._too_short(first, self.g_new[first])]
        for _ in range(max_expansions):
            if pending.size == 0:
                break
            t_try = 2.0 * self.t[pending]
            trial, f_try, g_try, armijo = self._try(pending, t_try)
            better = armijo & (f_try < self.f_new[pending])
            self._accept(pending, better, trial, f_try, g_try, t_try)
            pending = pending[better & self._too_short(pending, g_try)]


def _update_history(rows, s, y, s_hist, y_hist, rho, h0) -> None:
    """Append (s, y) to each row's history if its curvature s.y is positive (else skip it, as L-BFGS-B)."""
    sy = np.einsum("kp,kp->k", s, y)
    yy = np.einsum("kp,kp->k", y, y)
    keep = sy > 1e-12 * np.maximum(yy, 1e-300) ** 0.5 * np.linalg.norm(s, axis=1)
    rows, s, y, sy, yy = rows[keep], s[keep], y[keep], sy[keep], yy[keep]
    s_hist[rows] = np.concatenate([s_hist[rows, 1:], s[:, None]], axis=1)
    y_hist[rows] = np.concatenate([y_hist[rows, 1:], y[:, None]], axis=1)
    rho[rows] = np.concatenate([rho[rows, 1:], (1.0 / sy)[:, None]], axis=1)
    h0[rows] = sy / yy
