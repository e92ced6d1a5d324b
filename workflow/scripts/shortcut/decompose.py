"""Where did a model's accuracy go between validation and test? And did the class mix change?

Accuracy-drop decomposition: an ordered reweighting in the spirit of DISDE (Cai, Namkoong &
Yadlowsky 2023, as used in WhyShift, NeurIPS 2023), not DISDE's shared-support estimator. Validation rows stand for the training distribution. Reweighting them by the
separable shift model a(x) b(y) of ``shortcut.domain`` (fitted out of fold) imitates the test file
as far as a change of the class mix and of the inputs can; what is left is a change of P(Y | X).
With c = 1 if the model is right on a row:

* A0 = mean c on validation;
* A1 = mean of c weighted by b(y): validation with the test's class mix;
* A2 = mean of c weighted by a(x) b(y): also with the test's inputs;
* A3 = mean c on the supported test rows;
* A4 = mean c on all test rows.

``class_mix = A1 - A0``, ``covariate = A2 - A1``, ``conditional = A3 - A2`` (the Y | X part),
``unsupported = A4 - A3`` (rows outside the training support, where the model extrapolates),
summing to the total change ``A4 - A0``. Intervals: percentile bootstrap over validation and test
rows (resampled independently, the fitted weights held fixed, so the weights' own estimation
error is not in them). The weights' effective sample size is reported; when it is small the
reweighted terms are noisy and their intervals say so.

What the estimate assumes. The parts are an ordered reweighting (class mix first, then inputs),
so they depend on that order, and the inputs' part is only as good as the domain model behind
a(x): a logistic model in the encoded columns and the squares of the numeric ones, without
interactions. What that model cannot express lands in the Y | X part, so ``conditional`` is
"what the class mix and the modelled input shift do not explain", not proof of a changed
P(Y | X). ``tests/test_decompose.py`` measures it: P(Y | X) unchanged, test rows with |x| > 1
(accuracy -0.091 from validation); with the right weights the Y | X part is -0.006, with
weights linear in x (no square) it is the whole -0.091. The verdict never rests on this table:
the shortcut decision is ``shortcut.conditional``'s, which needs no weights.

Label shift without test labels: black-box shift estimation (BBSE, Lipton, Wang & Smola 2018).
With the validation confusion matrix C[i, j] = P(predict i, true j) and the test rate of each
prediction mu[i], solve C w = mu for the class weights w = p_test(y) / p_train(y) (non-negative
least squares), so q = w * p_val(y) estimates the test class mix from predictions alone; it is
consistent under label shift (P(X | Y) fixed) when C is invertible. The prior-corrected accuracy
is the model's test accuracy after multiplying its probabilities by w: what re-weighting the
classes, with no new labels, would give back. The smallest singular value of P(predicted |
true) is reported beside it (``confusion_min_singular``); below the config's floor the verdict
says the class mix cannot be estimated from these predictions instead of quoting the estimate.
Whether a label shift is a label shift (the inputs within each class held) is not decided here:
with test labels the class mix is observed, and ``shortcut.domain``'s class-conditional domain
model answers the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import stats
from .table import Schema

PARTS = ("class_mix", "covariate", "conditional", "unsupported")
PART_NAMES = {
    "class_mix": "class mix (label shift)",
    "covariate": "inputs (covariate shift)",
    "conditional": "relation Y | X (concept shift)",
    "unsupported": "outside training support",
}


def _normalised(log_w: np.ndarray) -> np.ndarray:
    w = np.exp(log_w - np.max(log_w)) if log_w.size else log_w
    return w / w.mean() if w.size else w


def effective_sample_size(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / np.sum(w * w)) if w.size and np.sum(w * w) > 0 else float("nan")


def _terms(val_sums: np.ndarray, test_sums: np.ndarray) -> np.ndarray:
    """A0..A4 from column means: val [c, b, c b, a b, c a b], test [c, s, c s]."""
    c, b, cb, ab, cab = (val_sums[..., k] for k in range(5))
    tc, ts, tcs = (test_sums[..., k] for k in range(3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([c, cb / b, cab / ab, tcs / ts, tc], axis=-1)


def decompose_accuracy(correct_val, correct_test, log_a_val, log_b_val, supported_test, *,
                       n_boot: int = 1000, seed: int = 0, alpha: float = stats.ALPHA) -> dict:
    """The decomposition of one model's validation -> test accuracy change, with intervals."""
    cv = np.asarray(correct_val, dtype=np.float64)
    ct = np.asarray(correct_test, dtype=np.float64)
    s = np.asarray(supported_test, dtype=np.float64)
    a = _normalised(np.asarray(log_a_val, dtype=np.float64))
    b = _normalised(np.asarray(log_b_val, dtype=np.float64))
    ab = a * b
    ab = ab / ab.mean() if ab.size else ab
    V = np.column_stack([cv, b, cv * b, ab, cv * ab])
    T = np.column_stack([ct, s, ct * s])
    point = _terms(V.mean(axis=0), T.mean(axis=0))
    # (the test columns are indicators: their resamples are drawn as counts of four distinct rows)
    draws = _terms(stats.bootstrap_means(V, n_boot, seed), stats.bootstrap_means(T, n_boot, seed + 1))
    out = {"acc_val": point[0], "acc_val_class_mix": point[1], "acc_val_reweighted": point[2],
           "acc_test_supported": point[3], "acc_test": point[4], "total": point[4] - point[0],
           "ess_val": effective_sample_size(ab), "n_val": int(cv.size), "n_test": int(ct.size),
           "share_unsupported": float(1 - s.mean()) if s.size else float("nan")}
    lo_t, hi_t = stats.percentile_ci(draws[:, 4] - draws[:, 0], alpha)
    out["total_ci_low"], out["total_ci_high"] = float(lo_t), float(hi_t)
    for k, name in enumerate(PARTS):
        out[name] = float(point[k + 1] - point[k])
        lo, hi = stats.percentile_ci(draws[:, k + 1] - draws[:, k], alpha)
        out[f"{name}_ci_low"], out[f"{name}_ci_high"] = float(lo), float(hi)
    return out


# ---------------------------------------------------------------------------------------------
# label shift


def bbse_weights(pred_val, y_val, pred_test, n_classes: int) -> np.ndarray:
    """w = p_test(y) / p_train(y) from C w = mu (non-negative least squares)."""
    pred_val = np.asarray(pred_val, dtype=np.int64)
    y_val = np.asarray(y_val, dtype=np.int64)
    pred_test = np.asarray(pred_test, dtype=np.int64)
    if len(y_val) == 0 or len(pred_test) == 0:
        return np.full(n_classes, np.nan)
    joint = np.bincount(pred_val * n_classes + y_val, minlength=n_classes ** 2).reshape(n_classes, n_classes)
    return _bbse(joint, np.bincount(pred_test, minlength=n_classes))


def _bbse(joint: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """BBSE weights from counts: ``joint[i, j]`` validation rows predicted i with true class j,
    ``predicted[i]`` test rows predicted i (neither empty)."""
    C = joint / joint.sum()
    mu = predicted / predicted.sum()
    from scipy import optimize  # here, not at import: the tables' readers import this module for its schema

    w, _ = optimize.nnls(C, mu)
    w[joint.sum(axis=0) == 0] = np.nan
    return w


def confusion_min_singular(pred_val, y_val, n_classes: int) -> float:
    """Smallest singular value of the validation confusion matrix P(predicted i | true j): BBSE
    solves C w = mu, so when this is near 0 the class weights, and the class mix estimated from
    predictions, are not identified (a class the model never tells apart from another). NaN when
    a class has no validation row."""
    pred_val = np.asarray(pred_val, dtype=np.int64)
    y_val = np.asarray(y_val, dtype=np.int64)
    joint = np.bincount(pred_val * n_classes + y_val, minlength=n_classes ** 2).reshape(n_classes, n_classes)
    per_class = joint.sum(axis=0)
    if len(y_val) == 0 or (per_class == 0).any():
        return float("nan")
    return float(np.linalg.svd(joint / per_class[None, :], compute_uv=False).min())


def label_shift_estimate(proba_val, y_val, proba_test, y_test, n_classes: int, *, n_boot: int = 200,
                         seed: int = 0, alpha: float = stats.ALPHA) -> dict:
    """BBSE estimate of the test class mix (no test labels used) with a bootstrap interval, the
    test class mix actually observed, and the prior-corrected test accuracy."""
    pv, pt = np.asarray(proba_val), np.asarray(proba_test)
    y_val = np.asarray(y_val, dtype=np.int64)
    y_test = np.asarray(y_test, dtype=np.int64)
    pred_v, pred_t = pv.argmax(axis=1), pt.argmax(axis=1)
    p_val = np.bincount(y_val, minlength=n_classes) / max(len(y_val), 1)
    w = bbse_weights(pred_v, y_val, pred_t, n_classes)
    q = np.nan_to_num(w) * p_val
    q = q / q.sum() if q.sum() > 0 else q
    rng = np.random.default_rng(seed)
    boots = np.full((n_boot, n_classes), np.nan)
    nv, nt = len(y_val), len(pred_t)
    if nv and nt:
        # a resample only changes the counts of (prediction, true class) on validation and of
        # the prediction on test: drawn directly as multinomial counts of those codes
        joints = stats.multinomial_code_counts(pred_v * n_classes + y_val, n_classes ** 2, n_boot, rng)
        predicted = stats.multinomial_code_counts(pred_t, n_classes, n_boot, rng)
        for k in range(n_boot):
            joint = joints[k].reshape(n_classes, n_classes)
            wb = np.nan_to_num(_bbse(joint, predicted[k]))
            qb = wb * (joint.sum(axis=0) / nv)
            boots[k] = qb / qb.sum() if qb.sum() > 0 else np.nan
    lo, hi = stats.percentile_ci(boots, alpha)
    corrected = pt * np.where(np.isfinite(w), w, 0.0)[None, :]
    acc = float(np.mean(pred_t == y_test)) if len(y_test) else float("nan")
    acc_corrected = float(np.mean(corrected.argmax(axis=1) == y_test)) if len(y_test) else float("nan")
    observed = np.bincount(y_test, minlength=n_classes) / max(len(y_test), 1)
    return {"train_share": p_val.tolist(), "bbse_share": q.tolist(), "bbse_ci_low": np.asarray(lo).tolist(),
            "bbse_ci_high": np.asarray(hi).tolist(), "test_share": observed.tolist(),
            "weights": np.nan_to_num(w, nan=0.0).tolist(), "acc_test": acc,
            "acc_test_prior_corrected": acc_corrected,
            "confusion_min_singular": confusion_min_singular(pred_v, y_val, n_classes)}


# shift/decomposition.parquet and label_shift.parquet (the decompose rule), read by diagnose and
# the report: one row per grid model (setting, seed); the label-shift table has one column per
# class k of each family (train_share_k, ...).
DECOMPOSITION_COLUMNS = Schema("decomposition", {
    "setting": "string", "seed": "int64",
    **dict.fromkeys(["acc_val", "acc_val_class_mix", "acc_val_reweighted", "acc_test_supported", "acc_test", "total",
                     "ess_val"], "float64"),
    "n_val": "int64", "n_test": "int64",
    **dict.fromkeys(["share_unsupported", "total_ci_low", "total_ci_high", "class_mix", "class_mix_ci_low",
                     "class_mix_ci_high", "covariate", "covariate_ci_low", "covariate_ci_high", "conditional",
                     "conditional_ci_low", "conditional_ci_high", "unsupported", "unsupported_ci_low",
                     "unsupported_ci_high"], "float64"),
})
LABEL_SHIFT_COLUMNS = Schema(
    "label shift",
    {"setting": "string", "seed": "int64", "acc_test": "float64", "acc_test_prior_corrected": "float64",
     "confusion_min_singular": "float64"},
    families=dict.fromkeys(["train_share_", "test_share_", "bbse_share_", "bbse_ci_low_", "bbse_ci_high_",
                            "weights_"], "float64"),
)


def model_tables(support, predictions_val: list, predictions_test: list, keys: list[dict],
                 n_classes: int, *, n_boot: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decomposition and label-shift estimate of every grid model.

    ``support``: ``shortcut.domain.support_frame``; ``predictions_*``: per model the frames of
    ``shortcut.metrics.predictions_table`` on the validation split and the audit part, in the
    order of ``keys`` (dicts naming each model, e.g. setting and seed).
    """
    from .spec import TARGET

    val = support[support["part"] == "val"].set_index("row")
    audit = support[support["part"] == "audit"].set_index("row")
    decomposition, label_shift = [], []
    for k, (key, pv, pt) in enumerate(zip(keys, predictions_val, predictions_test)):
        sv, st = val.loc[pv["row"]], audit.loc[pt["row"]]
        cv = (pv["predicted"] == pv[TARGET]).to_numpy()
        ct = (pt["predicted"] == pt[TARGET]).to_numpy()
        parts = decompose_accuracy(cv, ct, sv["log_a"].to_numpy(), sv["log_b"].to_numpy(),
                                   st["supported"].to_numpy(), n_boot=n_boot, seed=seed + k)
        decomposition.append({**key, **parts})
        proba_cols = [f"p{j}" for j in range(n_classes)]
        est = label_shift_estimate(pv[proba_cols].to_numpy(), pv[TARGET].to_numpy(), pt[proba_cols].to_numpy(),
                                   pt[TARGET].to_numpy(), n_classes, seed=seed + k)
        row = {**key, "acc_test": est["acc_test"], "acc_test_prior_corrected": est["acc_test_prior_corrected"],
               "confusion_min_singular": est["confusion_min_singular"]}
        for name in ("train_share", "test_share", "bbse_share", "bbse_ci_low", "bbse_ci_high", "weights"):
            for j, v in enumerate(est[name]):
                row[f"{name}_{j}"] = v
        label_shift.append(row)
    return pd.DataFrame(decomposition), pd.DataFrame(label_shift)
