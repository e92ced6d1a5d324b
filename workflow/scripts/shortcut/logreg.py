"""L2-penalised logistic regression in NumPy (fitted with SciPy's L-BFGS), with cross-fitting.

It is the domain classifier of the shift evidence (does a row come from the training file or
from the test file?). Small on purpose: binary outcome, optional row weights, an unpenalised
intercept, float64 throughout, deterministic (no randomness in the fit), fitted by Newton's
method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special


@dataclass
class LogisticModel:
    coef: np.ndarray
    intercept: float

    def decision(self, X) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef + self.intercept

    def proba(self, X) -> np.ndarray:
        return special.expit(self.decision(X))


def fit_logistic(X, y, weights=None, l2: float = 1.0, max_iter: int = 50,
                 tol: float = 1e-8) -> LogisticModel:
    """Minimise sum_i w_i logloss_i + 0.5 * l2 * ||coef||^2 (intercept unpenalised) by Newton's
    method with a backtracking line search.

    The inputs here have at most a few hundred columns, so the exact Hessian is cheap and Newton
    converges in about ten steps, where a first-order method needs hundreds on the badly scaled
    squares of heavy-tailed features. The penalty keeps the Hessian positive definite even when
    the two classes are separable.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    n, d = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    penalty = np.full(d + 1, float(l2))
    penalty[d] = 0.0
    theta = np.zeros(d + 1)

    def objective(t):
        z = A @ t
        return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * np.sum(penalty * t * t)), z

    f, z = objective(theta)
    for _ in range(max_iter):
        p = special.expit(z)
        grad = A.T @ (w * (p - y)) + penalty * theta
        h = w * p * (1.0 - p)
        H = (A * h[:, None]).T @ A + np.diag(penalty + 1e-10)
        step = np.linalg.solve(H, grad)
        decrement = float(grad @ step)
        if decrement / 2.0 <= tol * max(1.0, abs(f)):
            break
        t = 1.0
        while True:
            candidate = theta - t * step
            f_new, z_new = objective(candidate)
            if f_new <= f - 0.25 * t * decrement or t < 1e-8:
                break
            t *= 0.5
        theta, f, z = candidate, f_new, z_new
    return LogisticModel(theta[:d].copy(), float(theta[d]))


def fold_ids(y, n_folds: int, seed: int) -> np.ndarray:
    """Fold number of every row, stratified by ``y`` (seeded, balanced within each class)."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    folds = np.empty(len(y), dtype=np.int64)
    for value in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == value))
        folds[rows] = np.arange(rows.size) % n_folds
    return folds


def cross_fit(X, y, weights=None, l2: float = 1.0, n_folds: int = 5, seed: int = 0):
    """Out-of-fold decision values (logits): every row is scored by a model that never saw it.

    Returns ``(logits, folds, models)``: the fold of every row and the model fitted without it."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    folds = fold_ids(y, n_folds, seed)
    out = np.empty(len(y))
    models = []
    for k in range(n_folds):
        hold = folds == k
        model = fit_logistic(X[~hold], y[~hold], w[~hold], l2=l2)
        out[hold] = model.decision(X[hold])
        models.append(model)
    return out, folds, models
