"""Train -> test shift statistics, one row per source feature.

Everything here is generic over the feature lists passed in (no column is named), fully
deterministic (no randomness) and vectorised: binning uses ``np.searchsorted`` on edges
taken from TRAIN quantiles, categorical levels are coded with ``pd.factorize`` and all
contingency tables are built with ``np.bincount``. Cost is O(n log n) (KS sort) and memory
O(n); there is no per-row Python loop.

Missing values (NaN / None / pd.NA) are never dropped from the binned statistics: they form
their own bin (numeric) or level (categorical), so a change in missingness counts as
shift. KS, which is defined on values, uses the non-missing values only; the missing rates
are reported separately (``missing_train``, ``missing_test``).

Statistics per feature
----------------------
Distribution shift (train marginal vs test marginal):

* numeric: two-sample Kolmogorov-Smirnov statistic D and its p-value (``scipy.stats.ks_2samp``,
  exact/asymptotic chosen by SciPy), and PSI over train-quantile bins (+ a missing bin);
* categorical: PSI over levels (+ a missing level; levels seen only in test get their own
  bins) and bias-corrected Cramer's V (Bergsma 2013) of the 2 x L split-by-level
  contingency table, with the chi-square p-value (``scipy.stats.chi2_contingency``,
  no continuity correction).

Feature-label association, measured on train and on test with the SAME train-derived coding
(train-quantile bins / levels):

* ``nmi``: mutual information between the coded feature and the label, normalised by the
  arithmetic mean of the two entropies (scikit-learn's default normalisation), in [0, 1];
* ``onefeat_acc``: accuracy of the one-feature classifier fitted on train that predicts the
  majority training label of the row's bin/level (ties -> lowest label; a bin/level never
  seen with a label in train -> the overall train majority label). On train this is the
  resubstitution accuracy: with few bins on a large sample its optimism is negligible, but
  a categorical feature with very many rare levels will look optimistic on train.

The drops are ``train - test`` (positive = the feature tells less about the label on test).

Decision rules (defaults in ``DEFAULT_THRESHOLDS``)
---------------------------------------------------
* ``psi >= 0.25`` -> shifted. The conventional credit-scoring reading of PSI is
  < 0.10 "no significant change", 0.10-0.25 "moderate", >= 0.25 "significant shift"
  (Siddiqi 2006; Yurdakul 2018). We flag only the significant band.
* ``ks >= 0.10`` (numeric) -> shifted. The KS p-value is reported but not used: with tens of
  thousands of rows it rejects for practically irrelevant differences. D = 0.1 means the two
  empirical CDFs differ by 10 percentage points somewhere, a common practical cut-off for
  "material" drift in model monitoring.
* ``cramers_v >= 0.10`` (categorical) -> shifted: Cohen's (1988) "small effect" for a
  1-degree-of-freedom table (split is binary, so min(r, c) - 1 = 1).
* ``nmi_drop >= 0.05`` or ``onefeat_drop >= 0.05`` -> association dropped. There is no
  published convention for these; 0.05 is a practical floor: 5 accuracy points is far above
  the sampling noise of an accuracy on thousands of rows (SD ~ 0.006 at n = 7,000) and an NMI
  loss of 0.05 is about a tenth of a strong single-feature association, while a feature with
  an unchanged relation scores drops of |0.00x| (checked on random halves of real data).

Missingness: ``psi`` includes the missing bin, so a feature with missing cells only in train
gains about ``m * ln(m / eps)`` from that alone (m = train missing share; 0.03 -> 0.17). This
is deliberate (missingness that changes IS shift) but it is made visible: ``psi_observed`` is
the PSI of the observed values only (missing bin dropped, shares renormalised), reported
beside ``missing_train`` / ``missing_test``; it is informative and enters no rule.

``shifted`` is the DISTRIBUTION flag only (psi or ks or cramers_v rule); the association rules
give the separate ``assoc_dropped`` flag. ``flags`` lists every rule crossed, ";"-separated.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_THRESHOLDS: dict = {
    "psi": 0.25,
    "ks": 0.10,
    "cramers_v": 0.10,
    "nmi_drop": 0.05,
    "onefeat_drop": 0.05,
    "label_psi": 0.10,
}
"""Shift decision thresholds; see the module docstring for the justification of each.

``label_psi`` uses the stricter 0.10 "moderate" PSI band because a change in class priors
alone already moves every accuracy, majority baseline included."""

DEFAULT_N_BINS = 10
"""Train-quantile bins for numeric features (deciles, the usual PSI choice)."""

PSI_EPS = 1e-4
"""Proportion used in place of an empty bin's 0 in PSI (both sides empty -> contributes 0).
1e-4 is the common choice; it caps one empty bin's contribution at about p * ln(p / 1e-4)."""


# ---------------------------------------------------------------------------------------
# Coding: map raw values to small integer codes shared by train and test
# ---------------------------------------------------------------------------------------


def _as_float(s: pd.Series) -> np.ndarray:
    # to_numpy may hand back a read-only view: always a fresh float64 copy.
    return np.array(pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan),
                    dtype=np.float64, copy=True)


def quantile_edges(train_values: np.ndarray, n_bins: int = DEFAULT_N_BINS) -> np.ndarray:
    """Interior bin edges = the train quantiles at 1/n_bins, ..., (n_bins-1)/n_bins, de-duplicated.

    Ties (discrete features) collapse edges, so a feature may get fewer than ``n_bins`` bins.
    """
    v = train_values[~np.isnan(train_values)]
    if v.size == 0:
        return np.empty(0, dtype=np.float64)
    qs = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.unique(np.quantile(v, qs))


def bin_numeric(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each value: bins are (-inf, e0], (e0, e1], ..., (e_last, inf); NaN -> last+1.

    Returns codes in ``[0, len(edges) + 1]``; code ``len(edges) + 1`` is the missing bin.
    """
    codes = np.searchsorted(edges, values, side="left").astype(np.int64)
    codes[np.isnan(values)] = len(edges) + 1
    return codes


def code_numeric(train: pd.Series, test: pd.Series, n_bins: int = DEFAULT_N_BINS):
    """Train-quantile bin codes of train and test; returns (code_train, code_test, n_codes, edges)."""
    a, b = _as_float(train), _as_float(test)
    edges = quantile_edges(a, n_bins)
    return bin_numeric(a, edges), bin_numeric(b, edges), len(edges) + 2, edges


def code_categorical(train: pd.Series, test: pd.Series):
    """Joint level codes; missing is its own level (the last code).

    Levels are numbered train-first in order of first appearance (deterministic), then
    levels that occur only in test. Returns (code_train, code_test, n_codes, levels).
    """
    def _obj(s: pd.Series) -> pd.Series:
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        return s

    both = pd.concat([_obj(train), _obj(test)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    codes = np.array(codes, dtype=np.int64, copy=True)
    missing_code = len(uniques)
    codes[codes < 0] = missing_code
    n_tr = len(train)
    levels = [str(u) for u in uniques] + ["<missing>"]
    return codes[:n_tr], codes[n_tr:], missing_code + 1, levels


# ---------------------------------------------------------------------------------------
# Statistics on codes
# ---------------------------------------------------------------------------------------


def psi_from_counts(count_train: np.ndarray, count_test: np.ndarray, eps: float = PSI_EPS) -> float:
    """Population stability index sum_b (q_b - p_b) ln(q_b / p_b), p = train, q = test shares.

    Zero shares are replaced by ``eps`` (no renormalisation); a bin empty on both sides adds 0.
    """
    ct = np.asarray(count_train, dtype=np.float64)
    cs = np.asarray(count_test, dtype=np.float64)
    if ct.sum() == 0 or cs.sum() == 0:
        return float("nan")
    p = np.maximum(ct / ct.sum(), eps)
    q = np.maximum(cs / cs.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_codes(code_train, code_test, n_codes: int, eps: float = PSI_EPS) -> float:
    return psi_from_counts(np.bincount(code_train, minlength=n_codes),
                           np.bincount(code_test, minlength=n_codes), eps)


def cramers_v_from_table(table: np.ndarray, bias_corrected: bool = True) -> tuple[float, float, float]:
    """Cramer's V of a contingency table; returns (V, chi2, p_value).

    All-zero rows/columns are dropped first. ``bias_corrected`` applies Bergsma's (2013)
    correction (phi^2 and the table dimensions shrunk by their small-sample expectation), which
    makes V ~ 0 under independence instead of ~ sqrt((r-1)(c-1) / n / min(r-1, c-1)).
    The chi-square test has no continuity correction.
    """
    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    n = t.sum()
    r, c = t.shape
    if r < 2 or c < 2 or n < 2:
        return 0.0, 0.0, 1.0
    chi2, pval, _, _ = stats.chi2_contingency(t, correction=False)
    phi2 = chi2 / n
    if bias_corrected:
        phi2c = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
        rc = r - (r - 1) ** 2 / (n - 1)
        cc = c - (c - 1) ** 2 / (n - 1)
        denom = min(rc - 1, cc - 1)
        v = float(np.sqrt(phi2c / denom)) if denom > 0 else 0.0
    else:
        v = float(np.sqrt(phi2 / min(r - 1, c - 1)))
    return v, float(chi2), float(pval)


def contingency(codes: np.ndarray, y: np.ndarray, n_codes: int, n_labels: int) -> np.ndarray:
    """Counts[code, label] via one bincount."""
    return np.bincount(codes * n_labels + y, minlength=n_codes * n_labels).reshape(n_codes, n_labels)


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def nmi_from_table(table: np.ndarray) -> float:
    """Mutual information / arithmetic mean of the two marginal entropies (nats cancel).

    0 when either variable is constant (no information can be shared)."""
    t = np.asarray(table, dtype=np.float64)
    n = t.sum()
    if n == 0:
        return float("nan")
    pxy = t / n
    px = pxy.sum(axis=1)
    py = pxy.sum(axis=0)
    hx, hy = _entropy(px), _entropy(py)
    if hx <= 0 or hy <= 0:
        return 0.0
    nz = pxy > 0
    outer = np.outer(px, py)
    mi = float(np.sum(pxy[nz] * np.log(pxy[nz] / outer[nz])))
    return float(np.clip(mi / (0.5 * (hx + hy)), 0.0, 1.0))


def one_feature_classifier(table_train: np.ndarray) -> np.ndarray:
    """Majority train label per code (ties -> lowest label; unseen code -> overall majority)."""
    t = np.asarray(table_train)
    overall = int(np.argmax(t.sum(axis=0)))
    pred = np.argmax(t, axis=1)
    pred[t.sum(axis=1) == 0] = overall
    return pred


def _accuracy_from_table(table: np.ndarray, pred_per_code: np.ndarray) -> float:
    n = table.sum()
    if n == 0:
        return float("nan")
    return float(table[np.arange(table.shape[0]), pred_per_code].sum() / n)


# ---------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------


def _code_labels(y_train: pd.Series, y_test: pd.Series):
    both = pd.concat([y_train, y_test], ignore_index=True)
    if both.isna().any():
        raise ValueError("the target has missing values; drop those rows before shift_table")
    codes, uniques = pd.factorize(both, sort=True)
    codes = np.array(codes, dtype=np.int64, copy=True)
    n_tr = len(y_train)
    return codes[:n_tr], codes[n_tr:], len(uniques), list(uniques)


def label_drift(y_train, y_test, thresholds: Mapping | None = None) -> dict:
    """Label (prior) drift train vs test: PSI, chi-square test and Cramer's V of the 2 x K table.

    Returns a dict with the class shares on each side, ``psi``, ``chi2``, ``chi2_pvalue``,
    ``cramers_v`` (bias-corrected), the rule text and the boolean ``drifted``
    (``psi >= thresholds["label_psi"]``).
    """
    th = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    ytr, yte, k, labels = _code_labels(pd.Series(np.asarray(y_train)), pd.Series(np.asarray(y_test)))
    ct = np.bincount(ytr, minlength=k)
    cs = np.bincount(yte, minlength=k)
    psi = psi_from_counts(ct, cs)
    v, chi2, pval = cramers_v_from_table(np.vstack([ct, cs]))
    return {
        "labels": [x.item() if hasattr(x, "item") else x for x in labels],
        "share_train": (ct / max(ct.sum(), 1)).tolist(),
        "share_test": (cs / max(cs.sum(), 1)).tolist(),
        "n_train": int(ct.sum()),
        "n_test": int(cs.sum()),
        "psi": psi,
        "chi2": chi2,
        "chi2_pvalue": pval,
        "cramers_v": v,
        "rule": f"label drift if PSI >= {th['label_psi']:g}",
        "drifted": bool(psi >= th["label_psi"]),
    }


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------

SHIFT_COLUMNS = [
    "feature", "kind", "n_codes", "missing_train", "missing_test",
    "ks", "ks_pvalue", "ks_rule",
    "psi", "psi_rule", "psi_observed",
    "cramers_v", "chi2_pvalue", "cramers_v_rule",
    "nmi_train", "nmi_test", "nmi_drop", "nmi_drop_rule",
    "onefeat_acc_train", "onefeat_acc_test", "onefeat_drop", "onefeat_drop_rule",
    "shifted", "shifted_rule", "assoc_dropped", "assoc_dropped_rule", "flags",
]


def feature_shift(
    train: pd.Series,
    test: pd.Series,
    y_train: np.ndarray,
    y_test: np.ndarray,
    n_labels: int,
    kind: str,
    thresholds: Mapping | None = None,
    *,
    n_bins: int = DEFAULT_N_BINS,
    eps: float = PSI_EPS,
) -> dict:
    """All statistics of one feature (``kind`` = "numeric" or "categorical") as a dict row."""
    th = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    if kind == "numeric":
        ctr, cte, n_codes, _ = code_numeric(train, test, n_bins)
        a, b = _as_float(train), _as_float(test)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if a.size and b.size:
            ks_res = stats.ks_2samp(a, b)
            ks, ks_p = float(ks_res.statistic), float(ks_res.pvalue)
        else:
            ks, ks_p = float("nan"), float("nan")
        cv, chi_p = float("nan"), float("nan")
    elif kind == "categorical":
        ctr, cte, n_codes, _ = code_categorical(train, test)
        ks, ks_p = float("nan"), float("nan")
        table = np.vstack([np.bincount(ctr, minlength=n_codes), np.bincount(cte, minlength=n_codes)])
        cv, _, chi_p = cramers_v_from_table(table)
    else:
        raise ValueError(f"kind must be 'numeric' or 'categorical', got {kind!r}")

    n_used = int(np.count_nonzero(np.bincount(ctr, minlength=n_codes) + np.bincount(cte, minlength=n_codes)))
    missing_code = n_codes - 1
    psi = psi_codes(ctr, cte, n_codes, eps)
    # PSI of the observed values only (missing bin removed, shares renormalised): tells how
    # much of ``psi`` is a change of missingness rather than of the values.
    psi_obs = psi_from_counts(np.bincount(ctr, minlength=n_codes)[:-1],
                              np.bincount(cte, minlength=n_codes)[:-1], eps)

    tab_tr = contingency(ctr, y_train, n_codes, n_labels)
    tab_te = contingency(cte, y_test, n_codes, n_labels)
    nmi_tr, nmi_te = nmi_from_table(tab_tr), nmi_from_table(tab_te)
    pred = one_feature_classifier(tab_tr)
    acc_tr, acc_te = _accuracy_from_table(tab_tr, pred), _accuracy_from_table(tab_te, pred)

    crossed = []
    if kind == "numeric" and ks >= th["ks"]:
        crossed.append("ks")
    if psi >= th["psi"]:
        crossed.append("psi")
    if kind == "categorical" and cv >= th["cramers_v"]:
        crossed.append("cramers_v")
    shifted = bool(crossed)
    nmi_drop, acc_drop = nmi_tr - nmi_te, acc_tr - acc_te
    if nmi_drop >= th["nmi_drop"]:
        crossed.append("nmi_drop")
    if acc_drop >= th["onefeat_drop"]:
        crossed.append("onefeat_drop")
    assoc_dropped = ("nmi_drop" in crossed) or ("onefeat_drop" in crossed)

    if kind == "numeric":
        shifted_rule = f"shifted if PSI >= {th['psi']:g} or KS >= {th['ks']:g}"
    else:
        shifted_rule = f"shifted if PSI >= {th['psi']:g} or Cramer's V >= {th['cramers_v']:g}"
    return {
        "feature": str(train.name) if train.name is not None else "",
        "kind": kind,
        "n_codes": n_used,
        "missing_train": float(np.mean(ctr == missing_code)) if len(ctr) else float("nan"),
        "missing_test": float(np.mean(cte == missing_code)) if len(cte) else float("nan"),
        "ks": ks,
        "ks_pvalue": ks_p,
        "ks_rule": f"shifted if KS >= {th['ks']:g}" if kind == "numeric" else "n/a (categorical)",
        "psi": psi,
        "psi_rule": f"shifted if PSI >= {th['psi']:g}",
        "psi_observed": psi_obs,
        "cramers_v": cv,
        "chi2_pvalue": chi_p,
        "cramers_v_rule": (f"shifted if bias-corrected Cramer's V >= {th['cramers_v']:g}"
                           if kind == "categorical" else "n/a (numeric)"),
        "nmi_train": nmi_tr,
        "nmi_test": nmi_te,
        "nmi_drop": nmi_drop,
        "nmi_drop_rule": f"association dropped if NMI train - test >= {th['nmi_drop']:g}",
        "onefeat_acc_train": acc_tr,
        "onefeat_acc_test": acc_te,
        "onefeat_drop": acc_drop,
        "onefeat_drop_rule": (f"association dropped if one-feature accuracy train - test >= "
                              f"{th['onefeat_drop']:g}"),
        "shifted": shifted,
        "shifted_rule": shifted_rule,
        "assoc_dropped": bool(assoc_dropped),
        "assoc_dropped_rule": "association dropped if the NMI or the one-feature accuracy rule fires",
        "flags": ";".join(crossed),
    }


def shift_table(
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    target: str,
    thresholds: Mapping | None = None,
    *,
    n_bins: int = DEFAULT_N_BINS,
    eps: float = PSI_EPS,
) -> pd.DataFrame:
    """One row per source feature (numeric first, in the given order, then categorical).

    ``thresholds`` overrides keys of ``DEFAULT_THRESHOLDS``. Columns: ``SHIFT_COLUMNS``
    (statistics, the decision rule of each written next to it as text, the booleans
    ``shifted`` and ``assoc_dropped`` and the ``flags`` string). Rows with a missing target
    are not allowed (raise).
    """
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise ValueError(f"features listed as both numeric and categorical: {sorted(overlap)}")
    ytr, yte, k, _ = _code_labels(train_df[target], test_df[target])
    rows = []
    for col in numeric:
        rows.append(feature_shift(train_df[col], test_df[col], ytr, yte, k, "numeric", thresholds,
                                  n_bins=n_bins, eps=eps))
    for col in categorical:
        rows.append(feature_shift(train_df[col], test_df[col], ytr, yte, k, "categorical",
                                  thresholds, n_bins=n_bins, eps=eps))
    for r, col in zip(rows, list(numeric) + list(categorical)):
        r["feature"] = col
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)
