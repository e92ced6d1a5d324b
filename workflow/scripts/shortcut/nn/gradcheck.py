"""Finite-difference checks of the analytic gradients of ``shortcut.nn.network``.

For every parameter array (weights, biases; the shared bias of ``SharedBiasNet``) and for the
input X, each checked entry is moved by +-eps and the central difference of ``model.loss``
(mean cross-entropy + L2 penalty) is compared with what ``backward`` returns.

Error measure, per entry: ``|analytic - numeric| / max(|analytic|, |numeric|, floor)``; the
record keeps the maximum over the checked entries. Central differences of a float64 loss with
eps = 1e-6 carry about 1e-10 of round-off, so for gradient entries that are (near) zero a pure
relative error would measure noise; below ``floor`` (default 1e-3) the error is therefore
relative to ``floor``. Any genuine backward bug (a dropped term, a wrong derivative) gives errors
many orders of magnitude above the 1e-6 tolerance.
"""

from __future__ import annotations

import numpy as np

from ..probability import cross_entropy
from ..table import Schema
from .activations import ACTIVATIONS
from .network import MLP, Network, SharedBiasNet

__all__ = ["DEFAULT_FLOOR", "GRADCHECK_COLUMNS", "TOLERANCE", "check_model", "gradcheck_table", "relative_error"]

# checks/gradcheck.parquet (the gradcheck rule, read by the report) and its .csv copy.
GRADCHECK_COLUMNS = Schema("gradient checks", {
    "model": "string", "activation": "string", "parameter": "string", "max_rel_error": "float64",
    "n_checked": "int64", "data": "string", "tolerance": "float64", "passed": "bool",
})

TOLERANCE = 1e-6
DEFAULT_FLOOR = 1e-3


def relative_error(analytic, numeric, floor: float = DEFAULT_FLOOR) -> float:
    """Max over entries of ``|a - n| / max(|a|, |n|, floor)`` (0.0 for empty input)."""
    a = np.asarray(analytic, dtype=np.float64).ravel()
    n = np.asarray(numeric, dtype=np.float64).ravel()
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return float(np.max(np.abs(a - n) / scale))


def _entries(size: int, max_entries: int | None, rng: np.random.Generator) -> np.ndarray:
    """All flat indices, or a sorted seeded sample of ``max_entries`` of them."""
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return np.sort(rng.choice(size, size=max_entries, replace=False))


def _numeric_gradient(loss, flat: np.ndarray, idx: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of ``loss()`` wrt ``flat[idx]`` (``flat`` is modified and restored)."""
    out = np.empty(idx.size)
    for j, t in enumerate(idx):
        old = flat[t]
        flat[t] = old + eps
        plus = loss()
        flat[t] = old - eps
        minus = loss()
        flat[t] = old
        out[j] = (plus - minus) / (2.0 * eps)
    return out


def check_model(
    model: Network,
    X,
    y,
    eps: float = 1e-6,
    *,
    max_entries: int | None = None,
    floor: float = DEFAULT_FLOOR,
    seed: int = 0,
) -> list[dict]:
    """Compare ``backward`` with central finite differences for every parameter array and X.

    The check runs in float64: a float32 model is checked through a float64 copy (the given
    model is never modified). ``max_entries`` caps the entries checked per array (a seeded
    sample; None = all). Returns one record per array: ``model`` (class name), ``activation``,
    ``parameter`` ("W0", "b0", ..., "X"), ``max_rel_error`` and ``n_checked``.
    """
    net = model if model.dtype == np.float64 else model.astype("float64")
    net.sync_params()
    X = np.array(X, dtype=np.float64, copy=True, order="C")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)

    _, dlogits = cross_entropy(net.forward(X), y)
    dX = net.backward(dlogits)
    arrays = [(f"W{i}", W, g.copy()) for i, (W, g) in enumerate(zip(net.coefs, net.coef_grads))]
    arrays += [(f"b{i}", b, g.copy()) for i, (b, g) in enumerate(zip(net.intercepts, net.intercept_grads))]
    arrays.append(("X", X, dX))

    def loss() -> float:
        return net.loss(X, y)

    records = []
    for name, array, analytic in arrays:
        flat = array.reshape(-1)  # a view: perturbing it perturbs the network / the input
        assert np.shares_memory(flat, array)
        idx = _entries(flat.size, max_entries, rng)
        numeric = _numeric_gradient(loss, flat, idx, eps)
        records.append(
            {
                "model": type(net).__name__,
                "activation": net.activation,
                "parameter": name,
                "max_rel_error": relative_error(analytic.reshape(-1)[idx], numeric, floor),
                "n_checked": int(idx.size),
            }
        )
    return records


def _randomise_biases(net: Network, rng: np.random.Generator, scale: float = 0.1) -> None:
    """Non-zero biases, so that bias paths are exercised away from the all-zero start."""
    for b in net.intercepts:
        b[...] = rng.normal(0.0, scale, size=b.shape)


def _small_nets(activation: str, n_in: int, hidden, n_classes: int, l2: float, seed: int):
    mlp = MLP(n_in, hidden, n_classes, activation, dtype="float64", seed=seed, l2=l2)
    shared = SharedBiasNet(n_in, n_classes, activation, dtype="float64", seed=seed, l2=l2)
    return [mlp, shared]


def gradcheck_table(
    activations=None,
    *,
    n_rows: int = 6,
    n_in: int = 5,
    hidden=(7, 6),
    n_classes: int = 3,
    l2: float = 0.05,
    seed: int = 0,
    eps: float = 1e-6,
    X_real=None,
    y_real=None,
    n_real: int = 8,
    max_entries: int | None = None,
    floor: float = DEFAULT_FLOOR,
    tolerance: float = TOLERANCE,
):
    """Gradient checks of an MLP and the shared-bias net for every activation, as a DataFrame.

    On a small random batch (``n_rows`` x ``n_in``, ``n_classes`` classes, every entry of every
    array checked) and, if ``X_real``/``y_real`` are given, on ``n_real`` seeded rows of them
    (the nets then take their width and number of classes). Columns: ``model``,
    ``activation``, ``parameter``, ``max_rel_error``, ``n_checked``, ``data`` ("random" or
    "real"), ``tolerance`` and ``passed``.
    """
    import pandas as pd

    activations = list(ACTIVATIONS) if activations is None else list(activations)
    rng = np.random.default_rng(seed)
    batches = [("random", rng.standard_normal((n_rows, n_in)), rng.integers(0, n_classes, n_rows), n_classes)]
    if X_real is not None:
        X_real = np.asarray(X_real, dtype=np.float64)
        y_real = np.asarray(y_real).astype(np.intp)
        rows = np.sort(rng.choice(X_real.shape[0], size=min(n_real, X_real.shape[0]), replace=False))
        k = max(int(y_real.max()) + 1, 2)
        batches.append(("real", X_real[rows], y_real[rows], k))

    records = []
    for data, X, y, k in batches:
        for activation in activations:
            for net in _small_nets(activation, X.shape[1], hidden, k, l2, seed):
                _randomise_biases(net, rng)
                for rec in check_model(net, X, y, eps, max_entries=max_entries, floor=floor, seed=seed):
                    rec["data"] = data
                    records.append(rec)
    table = pd.DataFrame.from_records(records)
    table["tolerance"] = tolerance
    table["passed"] = table["max_rel_error"] <= tolerance
    return table
