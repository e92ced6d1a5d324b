"""A synthetic population with a known P(Y | X), and the shifts the evidence must tell apart.

Three classes; ``x1`` (numeric, strong), ``x2`` (numeric, correlated with x1 at 0.7, weak own
effect), ``c1`` (categorical, 4 levels, moderate). Labels are drawn from a softmax of additive
logits, so every scenario below that selects rows on X or reweights classes keeps P(Y | X) up to
the class mix, exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shortcut import data
from shortcut.spec import TARGET, DatasetSpec

from configs import validated

LEVELS = np.array(["a", "b", "c", "d"], dtype=object)
BETA_X1 = np.array([0.0, 1.6, -1.6])
BETA_X2 = np.array([0.0, 0.4, 0.2])
GAMMA_C1 = np.array([[0.0, 0.0, 0.0, 0.0], [0.8, -0.4, 0.0, 0.4], [-0.6, 0.6, 0.2, 0.0]])


def population(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = 0.7 * x1 + np.sqrt(1 - 0.49) * rng.normal(size=n)
    c1 = rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])
    logits = np.outer(x1, BETA_X1) + np.outer(x2, BETA_X2) + GAMMA_C1[:, c1].T
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return pd.DataFrame({"row": np.arange(1, n + 1), "x1": x1, "x2": x2, "c1": LEVELS[c1],
                         TARGET: y.astype(np.int64)})


def draw(frame: pd.DataFrame, size: int, seed: int, weights=None) -> pd.DataFrame:
    """``size`` rows without replacement, with probability proportional to ``weights``."""
    rng = np.random.default_rng(seed)
    p = None if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    rows = np.sort(rng.choice(len(frame), min(size, len(frame)), replace=False, p=p))
    return frame.iloc[rows].reset_index(drop=True)


def add_leak(train: pd.DataFrame, test: pd.DataFrame, kind: str, seed: int, strength: float = 0.6,
             name: str = "leak"):
    """A feature equal to the label on ``strength`` of the training rows; in test the same kind of
    values shuffled across rows (marginal unchanged, relation to the label gone)."""
    rng = np.random.default_rng(seed)

    def values(y):
        cls = np.where(rng.random(len(y)) < strength, y, rng.integers(0, 3, len(y)))
        if kind == "numeric":
            return cls / 2 + rng.normal(0, 0.15, len(y))
        return np.array([f"L{c}" for c in cls], dtype=object)

    train = train.assign(**{name: values(train[TARGET].to_numpy())})
    v = values(test[TARGET].to_numpy())
    return train, test.assign(**{name: v[rng.permutation(len(v))]})


def encoded(train: pd.DataFrame, test: pd.DataFrame, categorical=("c1",), numeric=("x1", "x2"), seed: int = 0,
            group_association: float = 0.7):
    """Fit the pipeline's encoder on the training partition; (train, val, test) as (X, y, rows)
    plus the encoder."""
    spec = DatasetSpec.from_config(validated({"target": TARGET, "classes": [0, 1, 2],
                                              "features": {"categorical": list(categorical), "numeric": list(numeric)}}))
    encoder, tr, va = data.encode_train(train, spec, "all", {"val_fraction": 0.2, "seed": seed, "stratify": True},
                                        group_association=group_association)
    te, _ = data.encode_rows(test, encoder)
    splits = [(*data.split_xy(f), f["row"].to_numpy()) for f in (tr, va, te)]
    return splits, encoder
