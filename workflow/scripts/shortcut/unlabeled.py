"""Audit a test file that has no labels yet: what can be seen from the inputs and the models'
predictions alone, each with an interval, and what labels would settle.

Without labels no relation to the label can be checked, so no shortcut can be confirmed or ruled
out. What can be seen:

* **The class mix**, from the models' predictions: black-box shift estimation (BBSE; Lipton,
  Wang & Smola 2018) with the *soft* confusion matrix, mean predicted probabilities in place of
  hard predictions (in a prototype on the seed data without its leak, one ReLU model, 20 test
  files drawn to known mixes: its largest error per file averaged 0.08 against the hard
  matrix's 0.16; MLLS on probabilities calibrated by bias-corrected temperature scaling gave
  intervals twice as wide). With ``C[i, j] = mean over validation rows of p_i(x) 1{y = j}``
  (the grid's mean probability of class i on rows of class j) and ``mu[i] = mean over test
  rows of p_i(x)``, the
  class weights ``w = q(y) / p(y)`` solve ``C w = mu`` (non-negative least squares) and
  ``q = w p`` is the test mix. Consistent when P(X | Y) holds (a pure change of the class mix).
  Conditioning check: the smallest singular value of ``P(predicted i | true j)`` (the columns of
  C scaled to sum to one); below ``unlabeled.min_singular`` the mix is "cannot be
  estimated from these predictions" and nothing built on it is quoted. Interval: percentile
  bootstrap, validation and test rows resampled independently (``benchmarks/label_free_mix.py``
  measures its coverage). The mix **moved** when some class's interval excludes its training
  share and the lower bound of the total variation's interval reaches
  ``shift.thresholds.label_tv``.
* **Input shift per relied-on unit, beyond the class mix.** A domain classifier (cross-fitted L2
  logistic regression, ``shortcut.logreg``) tells training-file rows from test rows; its inputs
  are the encoded columns, the squares of the numeric ones and one-hot bins of each numeric
  feature at its training deciles, so a change of any part of a feature's distribution shows. It
  holds no label (test has none). Each unit's *part* of its logit (the unit's columns times their
  coefficients) is scored by its AUC with DeLong's interval; the unit **moved** when the lower
  bound exceeds ``shift.domain.min_auc`` (the labelled verdict's covariate-shift cutoff) twice:
  against the training rows as they are, AND against the training rows re-weighted to the class
  mix estimated for that unit (rejection sampling: a training row of class y is kept with
  probability w(y) / max w). Why twice: a pure change of the class mix moves every input that
  goes with the class, and the re-weighting removes that; but a broken leak also corrupts the
  estimated mix (the models read their classes from it), and re-weighting the training rows to a
  corrupted mix would make honest inputs look moved, which the comparison with the rows as they
  are does not. The mix used for unit u is estimated with u blinded (its columns replaced, in
  validation and test rows alike, by the columns of random training rows), so the unit under
  test cannot corrupt its own reference; BBSE stays consistent under a change of the class mix
  because the blinded predictor is one fixed function of (x without u, random u), the same in
  both files.
* **A selection is not a suspect.** A test file drawn from one part of the training rows (one
  room type, one city) moves the selecting unit, but keeps the other inputs' distribution given
  it: P(rest | u) holds. For every unit that moved, the training rows are re-weighted by the
  unit's own density ratio (a domain classifier on its columns alone) and a second domain
  classifier on the other units is fitted; when the upper bound of its AUC is below ``min_auc``
  and below the lower bound of the other units' AUC without the re-weighting (the re-weighting
  explains their move), the move is a **selection on u**, reported under the inputs, not a
  suspect. A leak whose values turned to noise fails this (its relation to the other inputs
  broke with its relation to the label: the re-weighting moves them instead). The check can only
  clear, never accuse: where the rows cannot tell, the unit stays a suspect (and a unit the
  other inputs do not go with cannot be cleared this way).
* **Support**: the share of test rows outside the training support (``shortcut.domain``'s rule:
  a numeric value outside the training range, or fewer than ``min_train_rows`` training rows'
  worth of density), with a Wilson interval.
* **Expected accuracy** of the grid on the new rows, both assuming P(Y | X) holds: (a) under the
  estimated mix, ``sum_y q(y) recall_val(y)`` (bootstrap interval with the mix's); (b) importance
  weighting of the validation rows by the inputs-only domain classifier's density ratio
  ``p_test(x) / p_train(x)`` (bootstrap interval over validation rows, weights fixed; their
  effective sample size reported).
* **Labels needed** per suspect: rows of labelled test data a one-sided level-alpha test of the
  harm (``shift.evidence.alpha``) needs to detect, with power ``unlabeled.power``, a break of the
  unit's material margin ``m = max(min_harm_share * H(p_train), margin_break_share * B)``, where
  B, the harm of a full break, is the grid's permutation importance of the unit on validation
  (nats per row): ``n = ceil(((z_{1-alpha} + z_{power}) * s / m)^2)``, with ``s`` the standard
  deviation over validation rows of the per-row loss increase when the unit is permuted (the
  per-row spread of a broken relation's cost, seen on validation).

What it cannot see, said in the answer and the report: a leak whose distribution did not move
(its values permuted among the test rows, or redrawn from the training distribution) is
invisible without labels; the expected accuracies assume P(Y | X) holds, which is exactly what a
shortcut breaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from . import logreg, metrics, stats
from .table import Schema
from .text import names, prose


@dataclass(frozen=True)
class LabelFreeSettings:
    """The config keys the label-free audit reads (defaults in the schema): ``shift.domain``
    (l2, folds, min_auc, min_train_rows), ``shift.seed``, ``shift.thresholds.label_tv``,
    ``shift.evidence`` (n_boot, alpha, min_harm_share, margin_break_share),
    ``diagnose.min_feature_auc`` and ``unlabeled`` (power, min_singular, max_rows)."""

    l2: float
    folds: int
    min_auc: float
    min_train_rows: float
    max_rows: int
    seed: int
    label_tv: float
    n_boot: int
    alpha: float
    min_harm_share: float
    margin_break_share: float
    min_singular: float
    min_feature_auc: float
    power: float

    @classmethod
    def from_config(cls, shift: Mapping, diagnose: Mapping, unlabeled: Mapping) -> "LabelFreeSettings":
        d, e = shift["domain"], shift["evidence"]
        return cls(l2=d["l2"], folds=d["folds"], min_auc=d["min_auc"], min_train_rows=d["min_train_rows"],
                   max_rows=unlabeled["max_rows"], seed=shift["seed"], label_tv=shift["thresholds"]["label_tv"],
                   n_boot=e["n_boot"], alpha=e["alpha"], min_harm_share=e["min_harm_share"],
                   margin_break_share=e["margin_break_share"], min_singular=unlabeled["min_singular"],
                   min_feature_auc=diagnose["min_feature_auc"], power=unlabeled["power"])


# ---------------------------------------------------------------------------------------------
# the class mix


def soft_joint(proba_val, y_val, n_classes: int) -> np.ndarray:
    """``C[i, j]``: mean over validation rows of p_i(x) 1{y = j}."""
    P = np.asarray(proba_val, dtype=np.float64)
    Y = np.zeros((len(P), n_classes))
    Y[np.arange(len(P)), np.asarray(y_val, dtype=np.int64)] = 1.0
    return P.T @ Y / max(len(P), 1)


def min_singular(joint: np.ndarray) -> float:
    """Smallest singular value of P(predicted i | true j) (``joint``'s columns scaled to one);
    NaN when a class has no validation row."""
    per_class = joint.sum(axis=0)
    if (per_class <= 0).any():
        return float("nan")
    return float(np.linalg.svd(joint / per_class[None, :], compute_uv=False).min())


def bbse_mix(joint: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """The test class mix q from ``C w = mu`` (non-negative least squares), normalised."""
    from scipy import optimize

    w, _ = optimize.nnls(joint, np.asarray(mu, dtype=np.float64))
    q = w * joint.sum(axis=0)
    return q / q.sum() if q.sum() > 0 else np.full(len(q), np.nan)


def class_mix(proba_val, y_val, correct_val, proba_test, n_classes: int, *, n_boot: int, seed: int,
              alpha: float = stats.ALPHA) -> dict:
    """The test class mix estimated from predictions (soft BBSE), its bootstrap interval, the
    conditioning of the confusion matrix, and the expected accuracy under the estimated mix,
    ``sum_y q(y) recall_val(y)`` (``correct_val``: per validation row, the share of the grid's
    models right on it)."""
    K = n_classes
    P = np.asarray(proba_val, dtype=np.float64)
    y = np.asarray(y_val, dtype=np.int64)
    Y = np.zeros((len(P), K))
    Y[np.arange(len(P)), y] = 1.0
    c = np.asarray(correct_val, dtype=np.float64)
    T = np.asarray(proba_test, dtype=np.float64)
    # per validation row: p_i * 1{y=j} (K*K), c * 1{y=j} (K), 1{y=j} (K); per test row: p_i
    V = np.hstack([(P[:, :, None] * Y[:, None, :]).reshape(len(P), K * K), c[:, None] * Y, Y])

    def estimate(v_means, t_means):
        joint = v_means[..., :K * K].reshape(*v_means.shape[:-1], K, K)
        share = v_means[..., K * K + K:]
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = v_means[..., K * K:K * K + K] / share
        return joint, recall, share, t_means

    joint, recall, p_train, mu = estimate(V.mean(axis=0), T.mean(axis=0))
    q = bbse_mix(joint, mu)
    sv = min_singular(joint)
    vb, tb = stats.bootstrap_means(V, n_boot, seed), stats.bootstrap_means(T, n_boot, seed + 1)
    draws = np.full((n_boot, K), np.nan)
    acc_draws = np.full(n_boot, np.nan)
    tv_draws = np.full(n_boot, np.nan)
    for b in range(n_boot):
        jb, rb, pb, mb = estimate(vb[b], tb[b])
        if (jb.sum(axis=0) > 0).all():
            draws[b] = bbse_mix(jb, mb)
            acc_draws[b] = float(np.nansum(draws[b] * rb))
            tv_draws[b] = float(0.5 * np.abs(draws[b] - pb).sum())
    lo, hi = stats.percentile_ci(draws, alpha)
    tv_lo, tv_hi = stats.percentile_ci(tv_draws, alpha)
    acc = float(np.nansum(q * recall))
    acc_lo, acc_hi = stats.percentile_ci(acc_draws, alpha)
    tv = float(0.5 * np.abs(q - p_train).sum())
    return {"train_share": p_train.tolist(), "share": q.tolist(), "ci_low": np.asarray(lo).tolist(),
            "ci_high": np.asarray(hi).tolist(), "recall_val": recall.tolist(), "tv": tv,
            "tv_ci_low": float(tv_lo), "tv_ci_high": float(tv_hi),
            "min_singular": sv, "acc_val": float(c.mean()) if c.size else float("nan"),
            "acc_expected": acc, "acc_expected_ci_low": float(acc_lo), "acc_expected_ci_high": float(acc_hi),
            "n_val": int(len(P)), "n_test": int(len(T))}


def mix_moved(mix: Mapping, settings: LabelFreeSettings) -> bool:
    """The mix moved: estimable, some class's interval excludes its training share, and the
    lower bound of the total variation's interval reaches ``label_tv`` (material beyond doubt:
    with a near-singular confusion matrix the point estimate wanders far from an unchanged mix,
    and its interval with it)."""
    if not mix.get("estimable"):
        return False
    outside = any(lo > p or hi < p for p, lo, hi in zip(mix["train_share"], mix["ci_low"], mix["ci_high"]))
    return bool(outside and np.isfinite(mix["tv_ci_low"]) and mix["tv_ci_low"] >= settings.label_tv)


# ---------------------------------------------------------------------------------------------
# the domain classifier without the label


def decile_edges(X_train: np.ndarray, sources: Sequence[str], numeric: Sequence[str]) -> dict:
    """Per numeric feature (its first encoded column, the value), the inner training deciles."""
    src = list(sources)
    edges = {}
    for f in numeric:
        if f in src:
            col = np.asarray(X_train[:, src.index(f)], dtype=np.float64)
            edges[f] = np.unique(np.quantile(col, np.linspace(0.1, 0.9, 9))) if col.size else np.array([])
    return edges


def domain_matrix(X, sources: Sequence[str], numeric: Sequence[str], edges: Mapping) -> tuple[np.ndarray, list]:
    """The domain classifier's inputs and, per input, the feature it comes from: every encoded
    column, the square of each numeric value column, and one-hot bins of each numeric feature at
    its training deciles (the lowest bin left out)."""
    X = np.asarray(X, dtype=np.float64)
    src = list(sources)
    blocks, origin = [X], list(src)
    for f in numeric:
        if f not in src:
            continue
        v = X[:, src.index(f)]
        blocks.append(v[:, None] ** 2)
        origin.append(f)
        e = edges.get(f, np.array([]))
        if len(e):
            b = np.searchsorted(e, v, side="right")
            onehot = (b[:, None] == np.arange(1, len(e) + 1)[None, :]).astype(np.float64)
            blocks.append(onehot)
            origin += [f] * onehot.shape[1]
    return np.hstack(blocks), origin


def _scale(ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, sd = ref.mean(axis=0), ref.std(axis=0)
    sd[sd == 0] = 1.0
    return mean, sd


def domain_fit(Z_source: np.ndarray, Z_test: np.ndarray, origin: Sequence[str], units: Mapping[str, Sequence[str]],
               settings: LabelFreeSettings, seed_offset: int = 0, observed: Mapping[str, np.ndarray] | None = None) -> dict:
    """Cross-fitted domain classifier of ``Z_source`` (training-file rows) against ``Z_test``,
    the two files weighted to equal mass (its logit estimates log p_test(x) / p_source(x)); the
    AUC of the whole logit and of each unit's part (``units``: name -> member features), each with
    DeLong's interval, and the out-of-fold logits. ``observed``: per unit, which test rows hold
    its members' values (its AUC is measured on those; the others had a cell empty only in test)."""
    n_s, n_t = len(Z_source), len(Z_test)
    is_test = np.concatenate([np.zeros(n_s, bool), np.ones(n_t, bool)])
    Z = np.vstack([Z_source, Z_test])
    mean, sd = _scale(Z_source) if n_s else (np.zeros(Z.shape[1]), np.ones(Z.shape[1]))
    Z = (Z - mean) / sd
    nan = {"auc": float("nan"), "se": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    if min(n_s, n_t) < 2 * settings.folds or Z.shape[1] == 0:
        return {"auc": nan, "units": {u: dict(nan) for u in units}, "logit": np.zeros(n_s + n_t),
                "is_test": is_test, "score": lambda Z_new: np.zeros(len(Z_new))}
    w = np.where(is_test, 0.5 * len(Z) / n_t, 0.5 * len(Z) / n_s)
    logit, folds, models = logreg.cross_fit(Z, is_test, w, l2=settings.l2, n_folds=settings.folds,
                                            seed=settings.seed + seed_offset)
    origin = np.asarray(origin)
    out_units = {}
    for u, members in units.items():
        cols = np.flatnonzero(np.isin(origin, list(members)))
        part = np.zeros(len(Z))
        for k, model in enumerate(models):
            hold = folds == k
            part[hold] = Z[hold][:, cols] @ model.coef[cols]
        seen = (np.concatenate([np.ones(n_s, bool), observed[u]]) if observed and u in observed
                else np.ones(len(Z), bool))
        out_units[u] = stats.auc_delong(part[seen], is_test[seen])
    coef = np.mean([m.coef for m in models], axis=0)
    intercept = float(np.mean([m.intercept for m in models]))

    def score(Z_new):
        """Rows no fold model saw: the mean of the fold models (linear: one model)."""
        return ((np.asarray(Z_new, dtype=np.float64) - mean) / sd) @ coef + intercept

    return {"auc": stats.auc_delong(logit, is_test), "units": out_units, "logit": logit, "is_test": is_test,
            "score": score}


def resample_rows(weights: np.ndarray, seed: int) -> np.ndarray:
    """Rows kept by rejection sampling: row i with probability ``weights[i] / max(weights)``
    (sorted indices): an unweighted sample of the re-weighted rows, without duplicates."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=0.0, posinf=0.0)
    if not w.size or w.max() <= 0:
        return np.arange(len(w))
    keep = np.random.default_rng(seed).random(len(w)) < w / w.max()
    return np.flatnonzero(keep)


def blinded_proba(predict: Callable[[np.ndarray], np.ndarray], X_val, X_test, X_train, columns, seed: int):
    """The grid's probabilities on validation and test rows with ``columns`` replaced by those of
    random training rows (one draw per row, the same rule in both files): the models blinded to
    one unit."""
    rng = np.random.default_rng(seed)
    out = []
    for X in (X_val, X_test):
        Xb = np.array(X, copy=True)
        donors = rng.integers(0, len(X_train), size=len(Xb))
        Xb[:, columns] = np.asarray(X_train)[donors][:, columns]
        out.append(predict(Xb))
    return out


# ---------------------------------------------------------------------------------------------
# expected accuracy by importance weighting, support, labels needed


def importance_weighted_accuracy(correct_val, log_ratio_val, *, n_boot: int, seed: int,
                                 alpha: float = stats.ALPHA) -> dict:
    """Validation accuracy weighted by the density ratio exp(log_ratio) (weights normalised to
    mean 1), with a bootstrap interval over validation rows (weights fixed) and the weights'
    effective sample size."""
    c = np.asarray(correct_val, dtype=np.float64)
    lr = np.asarray(log_ratio_val, dtype=np.float64)
    if not c.size:
        return {"acc": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "ess": float("nan")}
    w = np.exp(lr - lr.max())
    w = w / w.mean()
    draws = stats.bootstrap_means(np.column_stack([w * c, w]), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = draws[:, 0] / draws[:, 1]
    lo, hi = stats.percentile_ci(ratio, alpha)
    return {"acc": float(np.sum(w * c) / np.sum(w)), "ci_low": float(lo), "ci_high": float(hi),
            "ess": float(w.sum() ** 2 / np.sum(w * w))}


def labels_needed(sd: float, margin: float, alpha: float, power: float) -> int | None:
    """Labelled rows a one-sided level-``alpha`` z test of a mean per-row harm needs to detect a
    harm of ``margin`` with probability ``power``, the rows' standard deviation ``sd``:
    ``ceil(((z_{1-alpha} + z_{power}) sd / margin)^2)``; None when not computable."""
    if not (np.isfinite(sd) and np.isfinite(margin)) or margin <= 0:
        return None
    z = stats.normal_quantile(1 - alpha) + stats.normal_quantile(power)
    return int(math.ceil((z * sd / margin) ** 2))


def _mix_weights(mix: Mapping) -> np.ndarray | None:
    """w(y) = q(y) / p_train(y) of an estimable mix, else None (the training mix is the reference)."""
    if not mix.get("estimable"):
        return None
    q, p = np.asarray(mix["share"], dtype=np.float64), np.asarray(mix["train_share"], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(p > 0, q / p, 0.0)
    return np.nan_to_num(w)


@dataclass
class _DomainRows:
    """The rows the domain classifiers compare, in their encoding (:func:`domain_matrix`): a
    stratified sample of the training file (training partition and validation) against the test
    rows (all of them, or a seeded sample of ``max_rows``). The missing-value indicators are left
    out: a change of missingness is not a move of the unit's values (the labelled verdict reports
    it as its own shift), and a test file without empty cells would otherwise always look moved."""
    Zs: np.ndarray  # the training-file sample
    Zt: np.ndarray  # the fitted test rows
    origin: list  # each domain column's source feature
    y_s: np.ndarray  # the sample's labels
    sample: np.ndarray  # the sample's rows: training partition first, then validation (offset by n_train)
    test_fit: np.ndarray  # the fitted test rows' indices
    keep_cols: list
    src_kept: list
    numeric_kept: list
    edges: dict
    missing: dict  # feature -> which test rows had its cell empty (none in training)
    means: np.ndarray  # each domain column's mean over the training-file sample

    def encode(self, X, rows: np.ndarray | None = None) -> np.ndarray:
        """Domain columns of ``X``; with ``rows`` (their test row numbers), a cell empty only in
        test gets each of its feature's columns at the training sample's mean: an average
        training row's, so its fill value (a spike no training row has) is no move of the
        feature (the labelled verdict reports the missing-value shift on its own)."""
        from .domain import as_training_rows

        Z = domain_matrix(X[:, self.keep_cols], self.src_kept, self.numeric_kept, self.edges)[0]
        if rows is not None:
            as_training_rows(Z, {f: m[rows] for f, m in self.missing.items()}, self.origin, self.means)
        return Z

    def observed(self, units: Mapping[str, Sequence[str]]) -> dict:
        """Per unit with a member in ``missing``: which fitted test rows hold all its members."""
        out = {}
        for u, members in units.items():
            gone = [self.missing[m][self.test_fit] for m in members if m in self.missing]
            if gone:
                out[u] = ~np.logical_or.reduce(gone)
        return out

    def fit_parts(self, cols: Sequence[int], rows: np.ndarray | None, settings: LabelFreeSettings,
                  seed_offset: int) -> dict:
        """A domain classifier on the domain columns ``cols`` only (of the sample's ``rows``; all
        when None)."""
        Zs = self.Zs if rows is None else self.Zs[rows]
        return domain_fit(Zs[:, cols], self.Zt[:, cols], [self.origin[j] for j in cols], {}, settings, seed_offset)


def _domain_rows(X_train, y_train, X_val, y_val, X_test, src, columns, numeric, s: LabelFreeSettings,
                 missing: dict | None = None) -> _DomainRows:
    n_tr = len(X_train)
    keep_cols = [j for j, c in enumerate(columns) if not str(c).endswith("=(missing)")]
    src_kept = [src[j] for j in keep_cols]
    numeric_kept = [f for f in numeric if f in src_kept]
    y_source = np.concatenate([y_train, y_val])
    sample = stats.stratified_sample(y_source, s.max_rows, s.seed)
    X_sample = np.vstack([np.asarray(X_train[sample[sample < n_tr]], dtype=np.float64),
                          X_val[sample[sample >= n_tr] - n_tr]])
    test_fit = (np.arange(len(X_test)) if len(X_test) <= s.max_rows
                else np.sort(np.random.default_rng(s.seed).choice(len(X_test), s.max_rows, replace=False)))
    edges = decile_edges(X_train, src, numeric_kept)
    Zs, origin = domain_matrix(X_sample[:, keep_cols], src_kept, numeric_kept, edges)
    gone = {f: np.asarray(m, dtype=bool) for f, m in (missing or {}).items() if f in src_kept and np.any(m)}
    rows = _DomainRows(Zs, np.empty((0, Zs.shape[1])), origin, y_source[sample], sample, test_fit, keep_cols,
                       src_kept, numeric_kept, edges, gone, Zs.mean(axis=0) if len(Zs) else np.zeros(Zs.shape[1]))
    rows.Zt = rows.encode(X_test[test_fit], test_fit)
    return rows


def _support(X_train, X_test, src, categorical, rows: _DomainRows, plain: dict, n_source: int,
             s: LabelFreeSettings) -> dict:
    """The test rows outside the training support: numeric values outside the training range, or
    too little training density (the domain classifier's logit is log p_test / p_source with the
    files at equal mass; the test rows it was not fitted on are scored by the mean fold model)."""
    from .domain import unsupported_reasons

    reasons = unsupported_reasons(X_train, X_test, src, categorical)
    reasons.pop("unseen_level")
    logit_test = np.empty(len(X_test))
    logit_test[rows.test_fit] = plain["logit"][len(rows.Zs):]
    rest = np.setdiff1d(np.arange(len(X_test)), rows.test_fit)
    for start in range(0, len(rest), 1 << 16):
        chunk = rest[start:start + (1 << 16)]
        logit_test[chunk] = plain["score"](rows.encode(X_test[chunk], chunk))
    reasons["low_train_density"] = np.log(max(n_source, 1)) - logit_test < np.log(s.min_train_rows)
    unsupported = np.zeros(len(X_test), dtype=bool)
    for mask in reasons.values():
        unsupported |= mask
    lo, hi = stats.wilson(int(unsupported.sum()), len(X_test)) if len(X_test) else (np.nan, np.nan)
    return {"n_unsupported": int(unsupported.sum()), "n_test": int(len(X_test)),
            "share": float(unsupported.mean()) if len(X_test) else float("nan"),
            "ci_low": float(lo), "ci_high": float(hi),
            "by_reason": {k: int(v.sum()) for k, v in reasons.items()}}


def _selection(rows: _DomainRows, members: Sequence[str], s: LabelFreeSettings, k: int) -> dict:
    """Is a moved unit's move a selection on it? The other inputs' domain AUC before and after
    re-weighting the training sample to the unit's own distribution. A selection on u: re-weighted
    to u's distribution, the other inputs are those of the training rows, and the re-weighting
    explains their move (their AUC fell, the two intervals apart); a broken leak's re-weighting
    moves them instead (u carried them in training only), and where the rows cannot tell, u stays
    a suspect."""
    own = [j for j, o in enumerate(rows.origin) if o in members]
    rest = [j for j, o in enumerate(rows.origin) if o not in members]
    lr = rows.fit_parts(own, None, s, 20 + k)["logit"][:len(rows.Zs)]
    kept = resample_rows(np.exp(lr - lr.max()), s.seed + 20 + k)
    other = rows.fit_parts(rest, kept, s, 40 + k)
    before = rows.fit_parts(rest, None, s, 50 + k)
    after_hi, before_lo = other["auc"]["ci_high"], before["auc"]["ci_low"]
    return {"rest_auc": other["auc"]["auc"], "rest_auc_ci_high": after_hi, "rest_auc_plain": before["auc"]["auc"],
            "rest_auc_plain_ci_low": before_lo,
            "selection": bool(bool(rest) and np.isfinite(after_hi) and np.isfinite(before_lo)
                              and after_hi < s.min_auc and after_hi < before_lo)}


def _labels_for(predict: Callable, X_val, y_val, base_loss: np.ndarray, cols: Sequence[int], entropy: float,
                s: LabelFreeSettings, k: int) -> dict:
    """How many labelled rows the harm test needs to see a break of the unit's material margin:
    the margin as the labelled verdict sets it (the larger of ``min_harm_share`` x H(Y) and
    ``margin_break_share`` x the grid's validation loss rise when the unit is permuted), and the
    spread of that rise over the rows."""
    Xp = np.array(X_val, copy=True)
    perm = np.random.default_rng(s.seed + 60 + k).permutation(len(Xp))
    Xp[:, cols] = Xp[perm][:, cols]
    diff = metrics.log_loss_rows(y_val, predict(Xp)) - base_loss
    margin = max(s.min_harm_share * entropy, s.margin_break_share * max(float(diff.mean()), 0.0))
    sd = float(diff.std(ddof=1)) if len(diff) > 1 else float("nan")
    n = labels_needed(sd, margin, s.alpha, s.power)
    return {"margin": margin, "loss_sd": sd, "labels_needed": float(n) if n is not None else float("nan")}


_UNIT_UNSET = dict.fromkeys(["auc_mix", "auc_mix_ci_low", "auc_mix_ci_high", "rest_auc", "rest_auc_ci_high",
                             "rest_auc_plain", "rest_auc_plain_ci_low", "margin", "loss_sd", "labels_needed"],
                            float("nan")) | {"mix_estimable": False, "moved": False, "selection": False,
                                             "suspect": False}


def audit(*, X_train, y_train, X_val, y_val, X_test, sources: Sequence[str], columns: Sequence[str],
          numeric: Sequence[str], categorical: Sequence[str], models: Sequence[Callable], reliance,
          n_classes: int, settings: LabelFreeSettings, missing_test: dict | None = None) -> dict:
    """Every label-free statistic of the test rows (see the module docstring).

    ``X_*``/``y_*``: encoded rows and labels of the training partition and validation, encoded
    test rows (no labels); ``sources``/``columns``: each encoded column's source feature and name;
    ``models``: per grid model a function X -> class probabilities; ``reliance``:
    ``shortcut.reliance.reliance_table`` of the grid on validation. The domain classifiers are
    fitted on at most ``settings.max_rows`` training-file rows (a stratified sample) and as many
    test rows (a seeded sample; the rows outside it are scored by the mean of the fold models for
    their support). The training partition is read a sample at a time, never copied whole.
    ``missing_test``: per feature with no empty cell in training, which test rows had one
    (:meth:`_DomainRows.encode`)."""
    s = settings
    K = n_classes
    src = list(sources)
    X_val, X_test = (np.asarray(a, dtype=np.float64) for a in (X_val, X_test))
    n_tr = len(X_train)
    y_train, y_val = np.asarray(y_train, dtype=np.int64), np.asarray(y_val, dtype=np.int64)

    def predict(X):
        return np.mean([np.asarray(m(X), dtype=np.float64) for m in models], axis=0)

    def estimate(p_val, p_test, n_boot, seed):
        correct = np.mean([p.argmax(axis=1) == y_val for p in p_val], axis=0)
        m = class_mix(np.mean(p_val, axis=0), y_val, correct, p_test, K, n_boot=n_boot, seed=seed)
        m["estimable"] = bool(np.isfinite(m["min_singular"]) and m["min_singular"] >= s.min_singular)
        m["moved"] = mix_moved(m, s)
        return m

    per_model_val = [np.asarray(m(X_val), dtype=np.float64) for m in models]
    mix = estimate(per_model_val, predict(X_test), s.n_boot, s.seed)

    # the domain classifiers, plain and with the training rows re-weighted to the estimated mix
    rows = _domain_rows(X_train, y_train, X_val, y_val, X_test, src, columns, numeric, s, missing_test)
    rel = reliance.to_dict("records") if len(reliance) else []
    units = {str(r["unit"]): str(r["members"]).split(";") for r in rel}
    observed = rows.observed(units)
    plain = domain_fit(rows.Zs, rows.Zt, rows.origin, units, s, observed=observed)
    w_full = _mix_weights(mix)
    weighted = (domain_fit(rows.Zs[resample_rows(w_full[rows.y_s], s.seed)], rows.Zt, rows.origin, units, s, 1,
                           observed=observed)
                if w_full is not None else plain)
    support = _support(X_train, X_test, src, categorical, rows, plain, len(y_train) + len(y_val), s)

    # expected accuracy by importance weighting of the validation rows (those in the sample)
    in_val = rows.sample >= n_tr
    correct_val = np.mean([p.argmax(axis=1) == y_val for p in per_model_val], axis=0)
    iw = importance_weighted_accuracy(correct_val[rows.sample[in_val] - n_tr], plain["logit"][:len(rows.Zs)][in_val],
                                      n_boot=s.n_boot, seed=s.seed + 2)

    # per relied-on unit: moved (plain and beyond its own blinded class mix), selection, labels
    h = stats.label_entropy(y_train, K)  # the labelled verdict's H(Y): the training partition
    base_loss = metrics.log_loss_rows(y_val, np.mean(per_model_val, axis=0))
    table = []
    for k, r in enumerate(rel):
        u, members = str(r["unit"]), units[str(r["unit"])]
        p = plain["units"][u]
        row = {"unit": u, "kind": str(r["kind"]), "members": ";".join(members), "relied": bool(r["relied"]),
               "importance": float(r["importance"]), "share": float(r["share"]),
               "auc_plain": p["auc"], "auc_plain_ci_low": p["ci_low"], "auc_plain_ci_high": p["ci_high"],
               **_UNIT_UNSET}
        if row["relied"]:
            cols = [j for j, f in enumerate(src) if f in members]
            bv, bt = blinded_proba(predict, X_val, X_test, X_train, cols, s.seed + 10 + k)
            w = _mix_weights(estimate([bv], bt, 1, s.seed + 10 + k))
            fit = (domain_fit(rows.Zs[resample_rows(w[rows.y_s], s.seed + k)], rows.Zt, rows.origin, {u: members},
                              s, 2 + k, observed=observed) if w is not None else plain)
            a = fit["units"][u]
            row.update(auc_mix=a["auc"], auc_mix_ci_low=a["ci_low"], auc_mix_ci_high=a["ci_high"],
                       mix_estimable=w is not None)
            row["moved"] = bool(np.isfinite(p["ci_low"]) and p["ci_low"] > s.min_auc
                                and np.isfinite(a["ci_low"]) and a["ci_low"] > s.min_auc)
            if row["moved"]:
                row.update(_selection(rows, members, s, k))
                row["suspect"] = not row["selection"]
            row.update(_labels_for(predict, X_val, y_val, base_loss, cols, h, s, k))
        table.append(row)

    # the inputs as a whole, beyond the class mix: the features whose own part moved
    inputs = {"auc": plain["auc"], "auc_mix": weighted["auc"], "mix_weighted": w_full is not None,
              "moved": bool(np.isfinite(weighted["auc"]["ci_low"]) and weighted["auc"]["ci_low"] > s.min_auc
                            and np.isfinite(plain["auc"]["ci_low"]) and plain["auc"]["ci_low"] > s.min_auc),
              "features": {u: weighted["units"][u]["auc"] for u in units if len(units[u]) == 1}}
    return {"mix": mix, "units": table, "inputs": inputs, "support": support,
            "expected": {"mix": {k: mix[k] for k in ("acc_expected", "acc_expected_ci_low", "acc_expected_ci_high")}
                         | {"quoted": mix["estimable"]},
                         "importance": iw, "acc_val": float(correct_val.mean()) if correct_val.size else float("nan")},
            "n_test": int(len(X_test)), "n_source_rows": int(len(rows.sample)),
            "n_test_rows_fitted": int(len(rows.test_fit))}


# ---------------------------------------------------------------------------------------------
# the answer

KINDS = ("suspect unconfirmed", "inputs moved", "class mix moved", "no sign of trouble")
LIMIT = ("Without labels no relation to the label can be checked: a leak whose distribution did not move (its "
         "values permuted among the test rows, or drawn as in training) cannot be seen, so this answer never "
         "rules a shortcut out.")
ASSUMPTION = "both assume P(Y | X) holds, which is exactly what a shortcut breaks"


def _ci(lo, hi, digits: int = 3) -> str:
    return f"95 % CI {prose(lo, digits)} to {prose(hi, digits)}"


def mix_text(mix: Mapping, class_names: Sequence[str]) -> str:
    """``class: train share → estimate (interval)`` for every class."""
    return "; ".join(f"{name} {prose(p)} → {prose(q)} ({prose(lo)} to {prose(hi)})" for name, p, q, lo, hi in
                     zip(class_names, mix["train_share"], mix["share"], mix["ci_low"], mix["ci_high"]))


def suspects_of(result: Mapping, features: Sequence[str]) -> tuple[list[str], dict]:
    """The suspect features (in feature order) and one remedy per suspect unit (``drop-<unit>``),
    plus one without all of them for two or more: the remedy feature-set names of the labelled
    verdict (``shortcut.diagnose.remedy_name``), so the same models serve both."""
    from .diagnose import remedy_name

    named: list[str] = []
    remedies: dict = {}
    for r in sorted((r for r in result["units"] if r["suspect"]), key=lambda r: -r["importance"]):
        members = str(r["members"]).split(";")
        if [m for m in members if m not in named]:
            named += [m for m in members if m not in named]
            remedies[remedy_name(members, features)] = members
    suspects = [f for f in features if f in named]
    if len(remedies) >= 2:
        remedies[remedy_name(suspects, features)] = list(suspects)
    return suspects, remedies


def answer(result: Mapping, features: Sequence[str], class_names: Sequence[str], settings: LabelFreeSettings,
           target: str) -> dict:
    """The label-free answer: kind, headline, sentences (markdown), suspects and remedies. It
    never says "no shortcut" (see :data:`LIMIT`)."""
    s = settings
    mix, inputs, support = result["mix"], result["inputs"], result["support"]
    suspects, remedies = suspects_of(result, features)
    by_unit = {r["unit"]: r for r in result["units"]}
    moved = [r for r in result["units"] if r["moved"]]
    selections = [r for r in moved if r["selection"]]
    sentences: list[str] = []

    def part(r):
        return f"domain AUC of its part {prose(r['auc_plain'])}, {_ci(r['auc_plain_ci_low'], r['auc_plain_ci_high'])}"

    if suspects:
        kind = "suspect unconfirmed"
        units = [by_unit[u] for u in by_unit if by_unit[u]["suspect"]]
        parts = "; ".join(f"`{r['unit']}`: {part(r)}" for r in units)
        them = "it" if len(suspects) == 1 else "them"
        headline = (f"Suspect{'s' if len(suspects) > 1 else ''}, unconfirmed without labels: "
                    + ", ".join(f"`{f}`" for f in suspects)
                    + f" — the models rely on {them} and {'its distribution' if len(suspects) == 1 else 'their distributions'}"
                    + f" moved ({parts}).")
        for r in units:
            ref = (f"{prose(r['auc_mix'])} ({_ci(r['auc_mix_ci_low'], r['auc_mix_ci_high'])}) against the training "
                   f"rows re-weighted to the class mix estimated with `{r['unit']}` blinded"
                   if r["mix_estimable"] else
                   "the class mix cannot be estimated with it blinded, so the training mix is the reference")
            text = (f"The models rely on `{r['unit']}` (permutation importance {prose(r['importance'])} nats, "
                    f"{prose(100 * r['share'], 0)} % of the total) and its values moved beyond the class mix: "
                    f"{part(r)} against the training rows as they are; {ref}. The other inputs given it moved too "
                    f"when the training rows are re-weighted to its distribution (AUC {prose(r['rest_auc'])}, upper bound "
                    f"{prose(r['rest_auc_ci_high'])}, against {prose(r['rest_auc_plain'])} without re-weighting), so "
                    f"the move is not shown to be a selection on it: its relation to the other inputs may have broken.")
            sentences.append(text)
            if np.isfinite(r["labels_needed"]):
                sentences.append(
                    f"Labels would settle `{r['unit']}`: about {int(r['labels_needed']):,} labelled test rows detect "
                    f"a break of its material margin ({prose(r['margin'], 4)} nats per row) with "
                    f"{100 * s.power:g} % power at one-sided level {s.alpha:g} "
                    f"(n = ⌈((z(1−α) + z(power)) · s / m)²⌉ with s = {prose(r['loss_sd'], 3)}, the spread over "
                    f"validation rows of the loss increase when it is permuted).")
    elif selections or (inputs["moved"] and not mix["moved"]):
        kind = "inputs moved"
        if selections:
            headline = ("Inputs unlike the training rows: the test rows are a selection on "
                        + names([r["unit"] for r in selections]) + " ("
                        + "; ".join(part(r) for r in selections)
                        + "); the other inputs given it are those of the training rows.")
        else:
            feats = sorted(((a, f) for f, a in inputs["features"].items() if np.isfinite(a) and a >= s.min_feature_auc),
                           reverse=True)
            named = ", ".join(f"`{f}` (AUC {prose(a)})" for a, f in feats[:3]) or "no single feature"
            headline = (f"Inputs unlike the training rows: domain AUC {prose(inputs['auc_mix']['auc'])} "
                        f"({_ci(inputs['auc_mix']['ci_low'], inputs['auc_mix']['ci_high'])}); the features that "
                        f"separate the files: {named}; no relied-on input moved beyond the class mix.")
    elif mix["moved"]:
        kind = "class mix moved"
        headline = (f"The class mix moved ({mix_text(mix, class_names)}); no relied-on input moved beyond it.")
    else:
        kind = "no sign of trouble"
        headline = "No sign of trouble in the inputs."

    if mix["estimable"]:
        read = (" It is read from models that rely on the suspect, so it is no better than they are."
                if suspects else "")
        if kind != "class mix moved":
            sentences.append(f"The class mix estimated from the models' predictions (soft BBSE, training share → "
                             f"estimate and 95 % CI): {mix_text(mix, class_names)}; "
                             f"{'it moved' if mix['moved'] else 'no material change'} "
                             f"(total variation {prose(mix['tv'])}).{read}")
    else:
        sentences.append(f"The class mix cannot be estimated from these predictions: the smallest singular value of "
                         f"the models' confusion matrix is {prose(mix['min_singular'], 3)}, below the floor "
                         f"{s.min_singular:g}.")
    iw = result["expected"]["importance"]
    acc = (f"Expected accuracy of the grid on the new rows: "
           + (f"{prose(mix['acc_expected'])} under the estimated class mix "
              f"({_ci(mix['acc_expected_ci_low'], mix['acc_expected_ci_high'])}), " if mix["estimable"] else "")
           + f"{prose(iw['acc'])} by importance weighting of the validation rows ({_ci(iw['ci_low'], iw['ci_high'])}; "
           f"effective sample size {prose(iw['ess'], 0)}), against {prose(result['expected']['acc_val'])} on "
           f"validation; {ASSUMPTION}.")
    sentences.append(acc)
    if np.isfinite(support["share"]) and support["share"] > 0:
        sentences.append(f"{prose(100 * support['share'], 1)} % of the test rows ({_ci(100 * support['ci_low'], 100 * support['ci_high'], 1)}) "
                         f"lie outside the training support.")
    sentences.append(LIMIT)
    sentences.append(f"Labels settle what this cannot: the same test file with `{target}` filled in reruns the "
                     f"labelled audit, which confirms or clears every suspect.")
    return {"kind": kind, "headline": headline, "sentences": sentences, "suspects": suspects,
            "remedies": list(remedies), "remedy_members": remedies,
            "selections": [r["unit"] for r in selections]}


# label_free/units.parquet and class_mix.parquet (the label_free rule), read by the report.
UNIT_COLUMNS = Schema("label-free units", {
    "unit": "string", "kind": "string", "members": "string", "relied": "bool",
    **dict.fromkeys(["importance", "share", "auc_plain", "auc_plain_ci_low", "auc_plain_ci_high", "auc_mix",
                     "auc_mix_ci_low", "auc_mix_ci_high"], "float64"),
    "mix_estimable": "bool",
    **dict.fromkeys(["rest_auc", "rest_auc_ci_high", "rest_auc_plain", "rest_auc_plain_ci_low"], "float64"),
    "moved": "bool", "selection": "bool", "suspect": "bool",
    **dict.fromkeys(["margin", "loss_sd", "labels_needed"], "float64"),
})
MIX_COLUMNS = Schema("label-free class mix", {
    "class": "string", "train_share": "float64", "share": "float64", "ci_low": "float64", "ci_high": "float64",
    "recall_val": "float64",
})


def unit_frame(result: Mapping):
    import pandas as pd

    return pd.DataFrame(result["units"], columns=list(UNIT_COLUMNS))


def mix_frame(result: Mapping, class_names: Sequence[str]):
    import pandas as pd

    m = result["mix"]
    return pd.DataFrame({"class": [str(c) for c in class_names], "train_share": m["train_share"], "share": m["share"],
                         "ci_low": m["ci_low"], "ci_high": m["ci_high"], "recall_val": m["recall_val"]},
                        columns=list(MIX_COLUMNS))


def rules_text(settings: LabelFreeSettings) -> dict:
    """Every label-free decision rule in words, with the run's numbers."""
    s = settings
    return {
        "class_mix": (f"estimated from the grid's mean probabilities by soft BBSE (C w = mu, non-negative least "
                      f"squares; 95 % percentile bootstrap over validation and test rows); not estimated when "
                      f"the smallest singular value of P(predicted | true) is below {s.min_singular:g}; moved when "
                      f"some class's interval excludes its training share and the lower bound of the total "
                      f"variation's interval is at least {s.label_tv:g}"),
        "moved": (f"a relied-on unit moved when the lower bound of the 95 % DeLong interval of the AUC of its part "
                  f"of the domain classifier (no label; encoded columns, squares and training-decile bins of the "
                  f"numeric features) exceeds {s.min_auc:g}, against the training rows as they are and against "
                  f"them re-weighted to the class mix estimated with the unit blinded"),
        "selection": (f"a moved unit is a selection, not a suspect, when with the training rows re-weighted to its "
                      f"own distribution the other inputs' domain AUC has an upper bound below {s.min_auc:g} and "
                      f"below the lower bound of their AUC without the re-weighting (95 % DeLong intervals): the "
                      f"re-weighting explains their move"),
        "suspect": "suspect, unconfirmed without labels: relied on, moved beyond the class mix, and not a selection",
        "labels_needed": (f"n = ceil(((z(1 - {s.alpha:g}) + z({s.power:g})) s / m)^2): labelled rows for a one-sided "
                          f"level-{s.alpha:g} test of the harm to detect a break of the material margin m = "
                          f"max({s.min_harm_share:g} H(p_train), {s.margin_break_share:g} x the grid's loss increase "
                          f"when the unit is permuted on validation) with power {s.power:g}; s is the per-row "
                          f"standard deviation of that loss increase"),
        "expected_accuracy": ("under the estimated mix: sum over classes of the estimated share times the grid's "
                              "validation recall; by importance weighting: validation accuracy weighted by the "
                              f"domain classifier's density ratio; {ASSUMPTION}"),
        "support": (f"unsupported: a numeric value outside the training range, or fewer than "
                    f"{s.min_train_rows:g} training rows' worth of density per unit of test mass"),
        "limit": LIMIT,
    }


def summary(result: Mapping, verdict: Mapping, settings: LabelFreeSettings) -> dict:
    """``label_free/summary.json``: the statistics, the answer, the suspects and their remedies
    (``remedies``: the feature sets to train, named as the labelled verdict names them)."""
    return {"labels_read": False, "n_test": result["n_test"], "n_source_rows": result["n_source_rows"],
            "n_test_rows_fitted": result.get("n_test_rows_fitted", result["n_test"]),
            "class_mix": dict(result["mix"]), "inputs": dict(result["inputs"]), "support": dict(result["support"]),
            "expected": dict(result["expected"]), "units": list(result["units"]),
            "answer": {k: verdict[k] for k in ("kind", "headline", "sentences")},
            "suspects": list(verdict["suspects"]), "selections": list(verdict["selections"]),
            "remedies": list(verdict["remedies"]), "remedy_members": dict(verdict["remedy_members"]),
            "rules": rules_text(settings)}


def final_answer(label_free: Mapping, differ: Mapping, *, version: str | None = None) -> dict:
    """``diagnosis/answer.json`` without test labels: the label-free answer, a sentence per remedy
    with the rows whose predicted class differs from all features' (``differ``: feature set ->
    {"rows", "differ"}), and the fields every answer has (``workflow/schemas/answer.schema.json``).
    No suspect is ever "confirmed" without labels."""
    from .answer import with_plain_text

    a = label_free["answer"]
    sentences = list(a["sentences"])
    for fs, d in differ.items():
        without = names(label_free["remedy_members"].get(fs, [fs]))
        share = d["differ"] / d["rows"] if d["rows"] else float("nan")
        sentences.insert(len(sentences) - 2, (f"Without {without} the model predicts another class for {d['differ']:,} "
                                              f"of {d['rows']:,} test rows ({prose(100 * share, 1)} %); both "
                                              f"predictions are in predictions/unlabeled/test.csv."))
    changes = []
    if label_free["class_mix"].get("moved"):
        changes.append("label shift")
    if label_free["suspects"] or label_free["selections"] or label_free["inputs"].get("moved"):
        changes.append("covariate shift")
    out = {"kind": a["kind"], "headline": a["headline"], "sentences": sentences, "changes": changes,
           "confirmed": [], "confirmed_remedies": [], "rule": label_free["rules"]["suspect"], "labeled": False,
           "label_free": {"suspects": list(label_free["suspects"]), "remedies": list(label_free["remedies"]),
                          "labels_needed": {r["unit"]: int(r["labels_needed"]) for r in label_free["units"]
                                            if r["suspect"] and np.isfinite(r["labels_needed"])},
                          "acc_expected_mix": (label_free["class_mix"]["acc_expected"]
                                               if label_free["class_mix"].get("estimable") else None),
                          "acc_expected_importance": label_free["expected"]["importance"]["acc"],
                          "predictions_differ": {fs: int(d["differ"]) for fs, d in differ.items()}}}
    out["text"] = " ".join([out["headline"], *sentences])
    if version is not None:
        out["version"] = version
    return with_plain_text(out)
