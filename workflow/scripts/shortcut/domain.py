"""Covariate shift and training support: does the test file hold inputs unlike the training rows?

A domain classifier (L2 logistic regression, ``shortcut.logreg``) learns to tell rows of the train
file (training partition and validation) from rows of the test file. Its inputs are the encoded
columns (standardised numerics, one-hot levels) and the squares of the numeric columns, so a
change of a feature's location or spread, and of a level's share, can all be seen. It is
cross-fitted: every row is scored by a model fitted on the other folds, so its AUC is honest and
its scores can weight the same rows.

* ``inputs_auc`` (DeLong interval): 0.5 means the two files' inputs cannot be told apart; near 1
  means the test inputs lie where the training rows are not.
* ``log_ratio_test``: per test row, the estimated log density ratio log p_test(x) / p_train(x) (the
  classifier is fitted with the two files weighted to equal total mass, so its logit estimates
  exactly this).
* Support: a test row is **unsupported** (outside the training support: the model would
  extrapolate there) when it has a categorical level the training partition never had, a numeric
  value outside the training partition's range, or a density ratio so large that the train file
  holds fewer than ``min_train_rows`` rows' worth of density for the test's mass there
  (``n_source * p_train(x) / p_test(x) < min_train_rows``). Unsupported rows are counted and
  reported, and left out of every conditional comparison: a difference there is extrapolation,
  never concept shift.

The second classifier, on the inputs and the one-hot label together (an additive logit
log a(x) + log b(y)), fits the separable model p_test(x, y) ~ p_train(x, y) a(x) b(y), which
covers covariate shift, label shift and both at once. Its input part a(x) is the covariate shift
beyond what the class mix explains (under a pure change of the class mix the inputs move too,
through P(X | Y), and the inputs-only classifier would call that covariate shift); its AUC is the
covariate-shift statistic. Decision rule: **covariate shift** when the lower bound of its 95 %
DeLong interval exceeds ``min_auc`` (default 0.55: the input part ranks a random test row above a
random train row at least 55 % of the time). ``shortcut.decompose`` reweights validation rows by
a(x) b(y).

Size: both classifiers are fitted (cross-fitted) on at most ``max_rows`` rows. Up to that every
row is in the fit and scored by the fold model that did not see it. Beyond it they are fitted on
a seeded sample stratified by file and label (each file and class keeps its share, so the
balanced weights and the label's one-hot part mean the same), the AUCs and their intervals are
those of the sampled rows (scored out of fold, as always), and the other rows, which no fold
model saw, are scored by the average of the fold models (the models are linear in their inputs,
so that is one model: the mean of the coefficients), a block of rows at a time, for their
per-row outputs (support flags, log factors). With a few dozen coefficients and that many rows
the interval of the AUC is already narrow; more rows would only cost time and memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import logreg, stats
from .table import Schema


@dataclass(frozen=True)
class DomainSettings:
    """``shift.domain`` of the validated config (the defaults live in the schema) and the seed."""

    l2: float
    folds: int
    seed: int
    min_auc: float
    min_train_rows: float
    max_rows: int

    @classmethod
    def from_config(cls, cfg: dict, seed: int) -> "DomainSettings":
        return cls(seed=seed, **{f: cfg[f] for f in cls.__dataclass_fields__ if f != "seed"})


SCORE_BLOCK_ROWS = 1 << 16
"""Rows outside the fitted sample are scored this many at a time (bounded float64 copies)."""


def domain_inputs(X: np.ndarray, numeric_columns: Sequence[int]) -> np.ndarray:
    """Encoded columns plus the squares of the numeric ones (already standardised on train)."""
    X = np.asarray(X, dtype=np.float64)
    num = np.asarray(list(numeric_columns), dtype=np.int64)
    return np.hstack([X, X[:, num] ** 2]) if num.size else X


def balanced_weights(is_test: np.ndarray) -> np.ndarray:
    """Row weights giving both files the same total mass (so the logit is log p_test / p_train)."""
    n1 = is_test.sum()
    n0 = is_test.size - n1
    return np.where(is_test, 0.5 * is_test.size / max(n1, 1), 0.5 * is_test.size / max(n0, 1))


def unsupported_reasons(X_source, X_test, sources: Sequence[str], categorical: Sequence[str]) -> dict:
    """Boolean masks over test rows: an unseen level, a numeric value outside the train range."""
    X_source = np.asarray(X_source)
    X_test = np.asarray(X_test)
    n = len(X_test)
    unseen = np.zeros(n, dtype=bool)
    out_of_range = np.zeros(n, dtype=bool)
    cat = set(categorical)
    src = np.asarray(sources)
    for feature in dict.fromkeys(sources):
        cols = np.flatnonzero(src == feature)
        if feature in cat:
            # the encoder writes an all-zero block for a level it was not fitted on
            unseen |= X_test[:, cols].sum(axis=1) == 0
        else:
            lo, hi = X_source[:, cols].min(axis=0), X_source[:, cols].max(axis=0)
            tol = 1e-6 * np.maximum(1.0, np.abs(np.concatenate([lo, hi])).max())
            out_of_range |= ((X_test[:, cols] < lo - tol) | (X_test[:, cols] > hi + tol)).any(axis=1)
    return {"unseen_level": unseen, "out_of_range": out_of_range}


def _float_rows(blocks, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` (sorted, numbered over the blocks one after the other) as one float64
    matrix; all the blocks stacked when ``rows`` is every row."""
    if rows.size == sum(len(b) for b in blocks):
        return np.vstack([np.asarray(b, dtype=np.float64) for b in blocks])
    out, start = [], 0
    for b in blocks:
        lo, hi = np.searchsorted(rows, [start, start + len(b)])
        out.append(np.asarray(b[rows[lo:hi] - start], dtype=np.float64))
        start += len(b)
    return np.vstack(out)


def _input_blocks(blocks, rows: np.ndarray, numeric, block: int = SCORE_BLOCK_ROWS):
    """``(rows of the block, domain inputs of those rows)`` over ``rows``, a block at a time."""
    for start in range(0, rows.size, block):
        idx = rows[start:start + block]
        yield idx, domain_inputs(_float_rows(blocks, idx), numeric)


def _missing_rows(rows: np.ndarray, n_source: int, mask) -> np.ndarray:
    """Which of ``rows`` (numbered over all rows, the test rows after the ``n_source`` train-file
    rows) are test rows whose ``mask`` (over the test rows) is set."""
    hit = np.zeros(len(rows), dtype=bool)
    test = rows >= n_source
    hit[test] = np.asarray(mask, dtype=bool)[rows[test] - n_source]
    return hit


def as_training_rows(Z: np.ndarray, hit: dict, origin: Sequence[str], means: np.ndarray) -> None:
    """In place: per feature ``f`` of ``hit`` (a boolean over the rows of ``Z``), the rows hit get
    each of ``f``'s domain columns (``origin``: each column's feature) at ``means``, the column's
    mean over train-file rows. Used for test cells empty only in test: the cell then adds to a
    linear logit what an average training row's cell adds. Its fill value would instead be a
    spike no training row has, and the empty cells would read as a move of the inputs; they are
    the missing-value shift, reported on its own with both shares. Shared by these classifiers
    and the label-free ones (``shortcut.unlabeled``)."""
    for f, rows in hit.items():
        cols = [c for c, o in enumerate(origin) if o == f]
        if cols and rows.any():
            Z[np.ix_(np.flatnonzero(rows), cols)] = means[cols]


def _neutralise(X: np.ndarray, rows: np.ndarray, n_source: int, missing: dict, origin: Sequence[str],
                means: np.ndarray) -> None:
    """:func:`as_training_rows` for the domain inputs ``X`` of ``rows``, numbered over all rows
    (the test rows after the ``n_source`` train-file rows); ``missing`` is over the test rows."""
    as_training_rows(X, {f: _missing_rows(rows, n_source, m) for f, m in missing.items()}, origin, means)


def _spread(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """A length-``n`` vector holding ``values`` at ``rows`` (the rest to be filled)."""
    out = np.empty(n)
    out[rows] = values
    return out


def _auc(scores, is_test) -> dict:
    a = stats.auc_delong(scores, is_test)
    return {"auc": a["auc"], "auc_se": a["se"], "auc_ci_low": a["ci_low"], "auc_ci_high": a["ci_high"]}


def shift_model(X_source, y_source, X_test, y_test, *, sources: Sequence[str],
                categorical: Sequence[str], n_classes: int, X_train_partition=None,
                settings: DomainSettings, missing_test: dict | None = None) -> dict:
    """Both domain classifiers between the train file (``X_source``: training partition and
    validation rows; an array, or a list of arrays taken one after the other without stacking
    them) and the test rows, and the support flags.

    * inputs only: its logit is the log density ratio of the inputs (support; ``inputs_auc``);
    * inputs and one-hot label, additive: its input part ``log_a`` is the change of the inputs
      beyond what the class mix explains. Its AUC (``auc``) is the covariate-shift statistic,
      since under a pure change of the class mix the inputs move too (through P(X | Y)) and the
      inputs-only classifier would call that covariate shift. ``feature_auc`` is the AUC of each
      feature's own part of that logit: the features that separate the two files.

    Per-row outputs: ``log_ratio_test`` (inputs only), ``log_a_source``, ``log_b_source``,
    ``log_a_test``, ``supported`` (test rows).

    ``missing_test``: per feature with no empty cell in training, which test rows had one; those
    cells enter both classifiers as an average training row's (:func:`_neutralise`), so a feature
    gone missing is not covariate shift by its fill value.
    """
    s = settings
    blocks = [np.asarray(b) for b in (X_source if isinstance(X_source, (list, tuple)) else [X_source])]
    X_test = np.asarray(X_test)
    blocks.append(X_test)
    n_test = len(X_test)
    n_source = sum(len(b) for b in blocks) - n_test
    features = list(dict.fromkeys(sources))
    numeric = [j for j, src in enumerate(sources) if src not in set(categorical)]
    # the column of X each input comes from: encoded columns, then the squares of numerics
    origin = [sources[j] for j in range(len(sources))] + [sources[j] for j in numeric]
    y = np.concatenate([np.asarray(y_source), np.asarray(y_test)]).astype(np.int64)
    is_test = np.concatenate([np.zeros(n_source, bool), np.ones(n_test, bool)])
    # the rows the classifiers are fitted on: every row up to max_rows (then X is every row, as
    # one float64 matrix), else a seeded sample stratified by file and label
    fit = stats.stratified_sample(is_test.astype(np.int64) * n_classes + y, s.max_rows, s.seed)
    X = domain_inputs(_float_rows(blocks, fit), numeric)
    y_fit, test_fit = y[fit], is_test[fit]
    missing = {f: m for f, m in (missing_test or {}).items() if np.any(m)}
    means = X[~test_fit].mean(axis=0) if missing and (~test_fit).any() else None
    if means is not None:
        _neutralise(X, fit, n_source, missing, origin, means)
    Y = np.zeros((len(y_fit), n_classes))
    Y[np.arange(len(y_fit)), y_fit] = 1.0
    w = balanced_weights(test_fit)
    out: dict = {"n_source": int(n_source), "n_test": int(n_test)}
    nan_auc = {"auc": float("nan"), "auc_se": float("nan"), "auc_ci_low": float("nan"),
               "auc_ci_high": float("nan")}
    n_test_fit = int(test_fit.sum())
    enough = min(len(fit) - n_test_fit, n_test_fit) >= 2 * s.folds and X.shape[1] > 0
    if enough:
        logit_x, _, models_x = logreg.cross_fit(X, test_fit, w, l2=s.l2, n_folds=s.folds, seed=s.seed)
        Z = np.hstack([X, Y])
        _, folds, models = logreg.cross_fit(Z, test_fit, w, l2=s.l2, n_folds=s.folds, seed=s.seed)
        del Z
        d = X.shape[1]
        log_a = np.empty(len(y_fit))
        log_b = np.empty(len(y_fit))
        parts = np.zeros((len(y_fit), len(features)))
        for k, model in enumerate(models):
            hold = folds == k
            log_a[hold] = X[hold] @ model.coef[:d] + model.intercept
            log_b[hold] = Y[hold] @ model.coef[d:]
            for j, f in enumerate(features):
                cols = [c for c, o in enumerate(origin) if o == f]
                parts[hold, j] = X[hold][:, cols] @ model.coef[cols]
        del X, Y
        inputs_auc = _auc(logit_x, test_fit)
        given_label = _auc(log_a, test_fit)
        # each feature's separation where it was observed: a test row whose cell was empty only
        # in test holds no value of it (its inputs there are an average training row's)
        seen = {f: ~_missing_rows(fit, n_source, m) for f, m in missing.items()}
        feature_auc = {f: stats.auc(parts[seen[f], j], test_fit[seen[f]]) if f in seen
                       else stats.auc(parts[:, j], test_fit) for j, f in enumerate(features)}
        del parts
        if fit.size < len(y):
            # rows no fold model saw: the average of the fold models, a block at a time
            logit_x, log_a, log_b = (_spread(v, fit, len(y)) for v in (logit_x, log_a, log_b))
            coef_x = np.mean([m.coef for m in models_x], axis=0)
            icpt_x = float(np.mean([m.intercept for m in models_x]))
            coef = np.mean([m.coef for m in models], axis=0)
            icpt = float(np.mean([m.intercept for m in models]))
            rest = np.ones(len(y), dtype=bool)
            rest[fit] = False
            for idx, Xb in _input_blocks(blocks, np.flatnonzero(rest), numeric):
                if means is not None:
                    _neutralise(Xb, idx, n_source, missing, origin, means)
                logit_x[idx] = Xb @ coef_x + icpt_x
                log_a[idx] = Xb @ coef[:d] + icpt
                log_b[idx] = coef[d:][y[idx]]
    else:
        logit_x = np.zeros(len(y))
        log_a = np.zeros(len(y))
        log_b = np.zeros(len(y))
        inputs_auc, given_label = dict(nan_auc), dict(nan_auc)
        feature_auc = {f: float("nan") for f in features}
    out.update(given_label)
    out.update({f"inputs_{k}": v for k, v in inputs_auc.items()})
    out["feature_auc"] = feature_auc
    out["shifted"] = bool(np.isfinite(out["auc_ci_low"]) and out["auc_ci_low"] > s.min_auc)
    out["rule"] = (f"covariate shift if the lower bound of the 95 % interval of the AUC of the "
                   f"input part of the domain classifier (label in the model) > {s.min_auc:g}")
    out["log_ratio_test"] = logit_x[is_test]
    out["log_a_source"], out["log_b_source"] = log_a[~is_test], log_b[~is_test]
    out["log_a_test"] = log_a[is_test]

    ranges_from = (np.vstack([np.asarray(b, dtype=np.float64) for b in blocks[:-1]])
                   if X_train_partition is None else np.asarray(X_train_partition))
    reasons = unsupported_reasons(ranges_from, np.asarray(X_test, dtype=np.float64), sources, categorical)
    # training rows' worth of density per unit of test mass: n_source * p_train / p_test
    reasons["low_train_density"] = (np.log(max(n_source, 1)) - logit_x[is_test]
                                    < np.log(s.min_train_rows))
    # a never-seen level is no reason to drop the whole row: only the units holding that feature
    # cannot be judged on it (``shortcut.conditional`` leaves it out of their harm), and the
    # verdict reports the share (a relied-on feature with mostly new levels is a suspect)
    unseen = reasons.pop("unseen_level")
    out["unseen_level_rows"] = int(unseen.sum())
    unsupported = np.zeros(len(X_test), dtype=bool)
    for mask in reasons.values():
        unsupported |= mask
    out["supported"] = ~unsupported
    out["n_unsupported"] = int(unsupported.sum())
    out["share_unsupported"] = float(unsupported.mean()) if len(X_test) else float("nan")
    out["unsupported_by_reason"] = {k: int(v.sum()) for k, v in reasons.items()}
    out["support_rule"] = (
        f"unsupported: a numeric value outside the training range, or fewer than {s.min_train_rows:g} "
        f"training rows' worth of density per unit of test mass (a level unseen in training leaves the "
        f"row out of its own feature's harm only)")
    return out


PER_ROW = ("log_ratio_test", "log_a_source", "log_b_source", "log_a_test", "supported")


def summary(result: dict) -> dict:
    """The shift model's result without its per-row arrays (what ``covariate.json`` holds)."""
    return {k: v for k, v in result.items() if k not in PER_ROW}


# shift/support.parquet (shift_evidence), read by decompose: per row of the training partition,
# the validation split and the audit part, the domain model's log factors and the support.
SUPPORT_COLUMNS = Schema("support", {"part": "string", "row": "int64", "log_a": "float64", "log_b": "float64",
                                     "log_ratio": "float64", "supported": "bool"})


def support_frame(result: dict, rows_train, rows_val, rows_test):
    """Per row of the train file (training partition, validation) and of the audit part: the
    separable model's log factors, the inputs-only log density ratio (test rows) and support."""
    import pandas as pd

    n_tr, n_va, n_te = len(rows_train), len(rows_val), len(rows_test)
    nan_src = np.full(n_tr + n_va, np.nan)
    # one column per array, no list of row strings and no consolidated copy (millions of rows)
    return pd.DataFrame({
        "part": np.repeat(np.array(["train", "val", "audit"], dtype=object), [n_tr, n_va, n_te]),
        "row": np.concatenate([rows_train, rows_val, rows_test]).astype(np.int64),
        "log_a": np.concatenate([result["log_a_source"], result["log_a_test"]]),
        "log_b": np.concatenate([result["log_b_source"], np.full(n_te, np.nan)]),
        "log_ratio": np.concatenate([nan_src, result["log_ratio_test"]]),
        "supported": np.concatenate([np.ones(n_tr + n_va, bool), result["supported"]]),
    }, copy=False)
