"""Stable softmax, log-softmax and softmax cross-entropy: the one definition the library uses.

NumPy only and no import of the network engine (``shortcut.nn``), so a job that only scores
probabilities does not load it. Every function works row-wise on the last axis and subtracts
the row maximum before exponentiating, so logits of any finite size give finite values.
``softmax`` and ``log_softmax`` keep a float32 or float64 input's dtype (other inputs become
float64); pass ``np.asarray(z, dtype=np.float64)`` to compute in float64.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_labels", "cross_entropy", "log_softmax", "logsumexp", "one_hot", "softmax"]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_array(x) -> np.ndarray:
    """``x`` as an array of its own float dtype (float32 or float64), else as float64."""
    x = np.asarray(x)
    if x.dtype not in FLOAT_DTYPES:
        x = x.astype(np.float64)
    return x


def softmax(logits) -> np.ndarray:
    """Row-wise (last axis) softmax, stable for any finite logits (the row maximum is subtracted)."""
    z = float_array(logits)
    e = z - z.max(axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def log_softmax(logits) -> np.ndarray:
    """Row-wise log-softmax via log-sum-exp."""
    z = float_array(logits)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def logsumexp(z, keepdims: bool = False) -> np.ndarray:
    """Row-wise (last axis) ``log(sum(exp(z)))`` as ``max + log(sum(exp(z - max)))``; entries of
    -inf (a class of probability 0) are fine as long as one entry of the row is finite."""
    z = np.asarray(z)
    m = z.max(axis=-1, keepdims=True)
    out = m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
    return out if keepdims else out[..., 0]


def one_hot(y, n_classes: int, dtype) -> np.ndarray:
    """``(n, n_classes)`` one-hot matrix of integer labels."""
    y = np.asarray(y)
    out = np.zeros((y.shape[0], int(n_classes)), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def as_labels(y, n_classes: int, n_rows: int | None = None) -> np.ndarray:
    """Validate integer class labels in ``[0, n_classes)`` and return them as ``intp``."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if n_rows is not None and y.shape[0] != n_rows:
        raise ValueError(f"{y.shape[0]} labels for {n_rows} rows")
    if y.dtype.kind not in "iub":
        if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
            y = y.astype(np.intp)
        else:
            raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.intp, copy=False)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    return y


def cross_entropy(logits, y) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy of integer labels and its gradient wrt the logits.

    Uses log-sum-exp: ``loss_i = log(sum_j exp(z_ij - max_i)) - (z_iy - max_i)``, so logits of any
    finite size (tested up to +-1e6) give finite values. Returns ``(mean_loss, dlogits)`` where
    ``dlogits = (softmax(z) - onehot(y)) / n`` has the dtype of the logits.
    """
    z = float_array(logits)
    if z.ndim != 2:
        raise ValueError(f"logits must be 2-D (n, n_classes), got shape {z.shape}")
    n, k = z.shape
    y = as_labels(y, k, n)
    rows = np.arange(n)
    shifted = z - z.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    sumexp = probs.sum(axis=1, keepdims=True)
    losses = np.log(sumexp[:, 0]) - shifted[rows, y]
    probs /= sumexp
    probs[rows, y] -= 1
    probs /= n
    return float(np.mean(losses, dtype=np.float64)), probs
