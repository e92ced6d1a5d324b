"""Evaluation metrics for a probabilistic multi-class classifier (no scikit-learn).

Conventions (chosen to match scikit-learn's defaults, so numbers are comparable):

* predicted label = ``argmax`` of the probability row (ties -> lowest class index);
* ``balanced_accuracy`` = mean recall over the classes that occur in ``y_true``;
* ``macro_f1`` = unweighted mean F1 over the classes that occur in ``y_true`` or in the
  predictions; a class with precision + recall = 0 scores F1 = 0;
* ``log_loss`` = mean of ``-log p[i, y_i]`` after each row is renormalised to sum to 1 and
  the probability is clipped to ``[eps, 1]`` (``eps = 1e-15``), computed in float64;
* ``confusion`` = ``n_classes x n_classes`` counts, rows = true class, columns = predicted;
* ``majority_baseline`` = accuracy of always predicting ``majority_class``. The caller passes
  the majority class of the TRAINING labels, so the baseline is what a model that learned
  nothing but the training prior would score on this split.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

LOG_LOSS_EPS = 1e-15


def _as_labels(y_true, n_classes: int) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y.shape}")
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ValueError("y_true must hold integer class indices")
    y = y.astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    return y


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts ``C[t, p]`` of rows with true class ``t`` predicted as ``p`` (vectorised)."""
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def _label_probability(y_true, proba, eps: float) -> np.ndarray:
    """Each row's probability of its label: rows renormalised, clipped to [eps, 1]."""
    P = np.asarray(proba, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    row_sum = P.sum(axis=1)
    p = P[np.arange(len(y)), y] / np.where(row_sum > 0, row_sum, 1.0)
    return np.clip(p, eps, 1.0)


def log_loss(y_true, proba, eps: float = LOG_LOSS_EPS) -> float:
    """Mean cross-entropy in nats; rows renormalised, probabilities clipped to [eps, 1]."""
    if len(y_true) == 0:
        return float("nan")
    return float(-np.mean(np.log(_label_probability(y_true, proba, eps))))


def log_loss_rows(y_true, proba, eps: float = LOG_LOSS_EPS) -> np.ndarray:
    """Each row's cross-entropy in nats (the terms whose mean is :func:`log_loss`)."""
    return -np.log(_label_probability(y_true, proba, eps))


def classification_metrics(y_true, proba, n_classes: int, majority_class: int) -> dict:
    """All headline metrics of one model on one split.

    Parameters
    ----------
    y_true : (n,) integer labels in ``[0, n_classes)``.
    proba : (n, n_classes) class probabilities (rows need not sum exactly to 1).
    n_classes : number of classes K.
    majority_class : the most frequent class of the TRAINING labels.

    Returns
    -------
    dict with ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``log_loss``,
    ``confusion`` (list of lists, rows = true class), ``majority_baseline``, ``n``, plus the
    per-class ``recall``, ``precision``, ``f1`` lists (NaN where undefined).
    """
    y = _as_labels(y_true, n_classes)
    P = np.asarray(proba, dtype=np.float64)
    if P.ndim != 2 or P.shape != (len(y), n_classes):
        raise ValueError(f"proba must have shape ({len(y)}, {n_classes}), got {P.shape}")
    n = int(len(y))
    if n == 0:
        nan = float("nan")
        return {
            "accuracy": nan, "balanced_accuracy": nan, "macro_f1": nan, "log_loss": nan,
            "confusion": np.zeros((n_classes, n_classes), dtype=int).tolist(),
            "majority_baseline": nan, "n": 0,
            "recall": [nan] * n_classes, "precision": [nan] * n_classes, "f1": [nan] * n_classes,
        }
    pred = np.argmax(P, axis=1)
    C = confusion_matrix(y, pred, n_classes)
    tp = np.diag(C).astype(np.float64)
    support = C.sum(axis=1).astype(np.float64)  # true counts
    predicted = C.sum(axis=0).astype(np.float64)  # predicted counts
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(predicted > 0, tp / predicted, np.nan)
        denom = support + predicted  # F1 = 2 tp / (support + predicted)
        f1 = np.where(denom > 0, 2.0 * tp / denom, np.nan)
    present = support > 0
    in_union = present | (predicted > 0)
    return {
        "accuracy": float(tp.sum() / n),
        "balanced_accuracy": float(np.mean(recall[present])),
        "macro_f1": float(np.mean(f1[in_union])),
        "log_loss": log_loss(y, P),
        "confusion": C.tolist(),
        "majority_baseline": float(np.mean(y == int(majority_class))),
        "n": n,
        "recall": recall.tolist(),
        "precision": precision.tolist(),
        "f1": f1.tolist(),
    }


def majority_class(encoder: dict) -> int:
    """The most frequent class of the training partition (the baseline every split is compared to),
    from a fitted encoder's class counts."""
    return int(np.argmax(encoder["split"]["class_counts_train"]))


def _predictions_schema():
    from .spec import TARGET
    from .table import Schema

    return Schema("predictions", {"row": "int64", TARGET: "int64", "predicted": "int64"}, families={"p": "float64"})


# metrics/<fs>/<setting>/seed<s>/<split>/predictions.parquet (evaluate), read by decompose and
# confirm: per row its number, label, predicted class and the probability p<k> of every class.
PREDICTIONS_COLUMNS = _predictions_schema()


def predictions_table(rows: np.ndarray, y: np.ndarray, proba: np.ndarray):
    """Per row: source row number, label, predicted class and the probability of every class
    (a ``shortcut.table.Table``)."""
    from .spec import TARGET
    from .table import Table

    table = Table({"row": rows, TARGET: y, "predicted": np.argmax(proba, axis=1)})
    for k in range(proba.shape[1]):
        table[f"p{k}"] = proba[:, k].astype(np.float64)
    return table


def summarize_seeds(records: Sequence[Mapping], keys: Iterable[str]) -> dict:
    """Mean, sample SD (ddof=1 when n > 1, else 0) and the values of each key over seeds.

    ``records`` is a list of per-seed dicts (e.g. ``classification_metrics`` outputs);
    returns ``{key: {"mean": float, "sd": float, "values": [float, ...], "n": int}}``.
    Non-finite values (None / NaN) are kept in ``values`` but make mean and SD NaN.
    """
    out: dict = {}
    for key in keys:
        vals = [float("nan") if r[key] is None else float(r[key]) for r in records]
        arr = np.asarray(vals, dtype=np.float64)
        n = len(arr)
        mean = float(arr.mean()) if n else float("nan")
        sd = float(arr.std(ddof=1)) if n > 1 else (0.0 if n == 1 else float("nan"))
        if n and not math.isfinite(mean):
            sd = float("nan")
        out[key] = {"mean": mean, "sd": sd, "values": vals, "n": n}
    return out
