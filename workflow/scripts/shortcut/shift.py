"""Marginal train -> test shift of every source feature, and the class mix, with their rules.

These statistics say whether a feature's DISTRIBUTION moved (and whether its missingness did);
they do not say whether its relation to the label changed, which is the question of
``shortcut.conditional``, nor whether the inputs as a whole moved beyond what the class mix
explains (``shortcut.domain``). They are descriptive evidence beside the verdict and enter no
shortcut rule.

Everything is generic over the feature lists passed in, deterministic and vectorised: binning
uses ``np.searchsorted`` on edges from TRAIN quantiles, categorical levels are coded with
``pd.factorize``, tables are built with ``np.bincount``.

Statistics per feature
----------------------
* ``psi``: population stability index over train-quantile bins (numeric) or levels
  (categorical), on the OBSERVED values only. A missing cell is not a value: the encoder imputes
  it, so counting missing cells in one file as a shift of the feature's values would blame the
  feature for a change of data collection. Missingness is its own statistic (below).
* ``ks`` (numeric): two-sample Kolmogorov-Smirnov D of the observed values, with its p-value.
* ``tv`` (categorical): total variation distance between the level distributions of the two
  files, 0.5 * sum |p_l - q_l|, in [0, 1]: the largest difference in the share of any set of
  levels. Unlike Cramér's V of the file x level table it does not depend on the ratio of the two
  files' sizes (V of the same two distributions changes when one file is duplicated).
* ``missing_train``, ``missing_test``, ``missing_change`` (test - train share of missing cells)
  and ``missing_pvalue`` (two-proportion z test).

Decision rules (thresholds from the config: ``shift.thresholds``, defaults in the schema)
------------------------------------------------------------------------------
* ``psi >= 0.25`` -> shifted: the conventional "significant shift" band of PSI (Siddiqi 2006;
  Yurdakul 2018; < 0.10 no change, 0.10-0.25 moderate).
* ``ks >= 0.10`` (numeric) -> shifted: the two empirical CDFs differ by 10 percentage points
  somewhere. The p-value is reported, not used: with tens of thousands of rows it rejects
  practically irrelevant differences.
* ``tv >= 0.10`` (categorical) -> shifted: a tenth of the rows would have to change level.
* missingness changed if |missing_change| >= 0.01 and the z test's p < ``alpha``.

The class mix (``class_mix``): each class's share on train and on test with Wilson intervals, the
total variation distance between the two mixes and the chi-square test of equal mixes. Rule: the
class mix **changed** if the chi-square p < ``alpha`` and TV >= ``label_tv`` (default 0.05: one
row in twenty would have to change class).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import stats as sstats
from .table import Schema
from .codes import DEFAULT_N_BINS, as_float, code_categorical, code_numeric

PSI_EPS = 1e-4
"""Proportion used in place of an empty bin's 0 in PSI (both sides empty -> contributes 0).
1e-4 is the common choice; it caps one empty bin's contribution at about p * ln(p / 1e-4)."""


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


def total_variation(count_a: np.ndarray, count_b: np.ndarray) -> float:
    """0.5 * sum |p - q| of two count vectors over the same categories (NaN if either is empty)."""
    a = np.asarray(count_a, dtype=np.float64)
    b = np.asarray(count_b, dtype=np.float64)
    if a.sum() == 0 or b.sum() == 0:
        return float("nan")
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())


def two_proportion_pvalue(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z test (1 when both shares are 0 or 1)."""
    if n1 == 0 or n2 == 0:
        return float("nan")
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return float(2 * sstats.normal_sf(abs(k1 / n1 - k2 / n2) / se))


# ---------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------


def class_mix(y_train, y_test, n_classes: int, thresholds: Mapping) -> dict:
    """Class shares on train and test with Wilson intervals, their TV distance, the chi-square test
    of equal mixes, the rule text and the boolean ``changed``."""
    th = thresholds
    ct = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=n_classes)
    cs = np.bincount(np.asarray(y_test, dtype=np.int64), minlength=n_classes)
    lo_t, hi_t = sstats.wilson(ct, ct.sum())
    lo_s, hi_s = sstats.wilson(cs, cs.sum())
    table = np.vstack([ct, cs])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] >= 2 and ct.sum() and cs.sum():
        from scipy import stats  # here, not at import: the tables' readers import this module for its schema

        chi2, pval, _, _ = stats.chi2_contingency(table, correction=False)
    else:
        chi2, pval = 0.0, 1.0
    tv = total_variation(ct, cs)
    return {
        "share_train": (ct / max(ct.sum(), 1)).tolist(),
        "share_train_ci_low": lo_t.tolist(), "share_train_ci_high": hi_t.tolist(),
        "share_test": (cs / max(cs.sum(), 1)).tolist(),
        "share_test_ci_low": lo_s.tolist(), "share_test_ci_high": hi_s.tolist(),
        "n_train": int(ct.sum()), "n_test": int(cs.sum()),
        "tv": tv, "chi2": float(chi2), "chi2_pvalue": float(pval),
        "classes_missing_in_test": [int(k) for k in np.flatnonzero((cs == 0) & (ct > 0))],
        "min_tv": th["label_tv"],
        "rule": (f"class mix changed if the chi-square p < {th['alpha']:g} and the total variation "
                 f"distance >= {th['label_tv']:g}"),
        "changed": bool(pval < th["alpha"] and tv >= th["label_tv"]),
    }


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------

# shift/shift.parquet (the shift rule), read by diagnose and the report.
SHIFT_COLUMNS = Schema("marginal shift", {
    "feature": "string", "kind": "string", "n_codes": "int64",
    "psi": "float64", "psi_rule": "string", "ks": "float64", "ks_pvalue": "float64", "ks_rule": "string",
    "tv": "float64", "tv_rule": "string",
    "missing_train": "float64", "missing_test": "float64", "missing_change": "float64", "missing_pvalue": "float64",
    "missing_changed": "bool", "missing_rule": "string", "shifted": "bool", "shifted_rule": "string", "flags": "string",
})


def feature_shift(train: pd.Series, test: pd.Series, kind: str, thresholds: Mapping, *,
                  n_bins: int = DEFAULT_N_BINS, eps: float = PSI_EPS) -> dict:
    """All marginal statistics of one feature (``kind`` = "numeric" or "categorical")."""
    th = thresholds
    nan = float("nan")
    if kind == "numeric":
        ctr, cte, n_codes, _ = code_numeric(train, test, n_bins)
        a, b = as_float(train), as_float(test)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if a.size and b.size:
            from scipy import stats

            res = stats.ks_2samp(a, b)
            ks, ks_p = float(res.statistic), float(res.pvalue)
        else:
            ks, ks_p = nan, nan
    elif kind == "categorical":
        ctr, cte, n_codes, _ = code_categorical(train, test)
        ks, ks_p = nan, nan
    else:
        raise ValueError(f"kind must be 'numeric' or 'categorical', got {kind!r}")
    count_tr = np.bincount(ctr, minlength=n_codes)
    count_te = np.bincount(cte, minlength=n_codes)
    # the last code is the missing bin / level: observed values only for PSI and TV
    psi = psi_from_counts(count_tr[:-1], count_te[:-1], eps)
    tv = total_variation(count_tr[:-1], count_te[:-1]) if kind == "categorical" else nan
    k_tr, k_te = int(count_tr[-1]), int(count_te[-1])
    n_tr, n_te = len(ctr), len(cte)
    m_tr = k_tr / n_tr if n_tr else nan
    m_te = k_te / n_te if n_te else nan
    m_p = two_proportion_pvalue(k_tr, n_tr, k_te, n_te)
    m_changed = bool(np.isfinite(m_p) and m_p < th["alpha"] and abs(m_te - m_tr) >= th["missing_change"])

    crossed = []
    if np.isfinite(psi) and psi >= th["psi"]:
        crossed.append("psi")
    if kind == "numeric" and np.isfinite(ks) and ks >= th["ks"]:
        crossed.append("ks")
    if kind == "categorical" and np.isfinite(tv) and tv >= th["tv"]:
        crossed.append("tv")
    shifted = bool(crossed)
    if m_changed:
        crossed.append("missingness")
    second = f"KS >= {th['ks']:g}" if kind == "numeric" else f"TV >= {th['tv']:g}"
    return {
        "feature": str(train.name) if train.name is not None else "",
        "kind": kind,
        "n_codes": int(np.count_nonzero(count_tr[:-1] + count_te[:-1])),
        "psi": psi, "psi_rule": f"shifted if PSI (observed values) >= {th['psi']:g}",
        "ks": ks, "ks_pvalue": ks_p,
        "ks_rule": f"shifted if KS >= {th['ks']:g}" if kind == "numeric" else "n/a (categorical)",
        "tv": tv,
        "tv_rule": (f"shifted if the total variation distance of the levels >= {th['tv']:g}"
                    if kind == "categorical" else "n/a (numeric)"),
        "missing_train": m_tr, "missing_test": m_te,
        "missing_change": (m_te - m_tr) if n_tr and n_te else nan,
        "missing_pvalue": m_p, "missing_changed": m_changed,
        "missing_rule": (f"missingness changed if |test - train share missing| >= "
                         f"{th['missing_change']:g} and the two-proportion test's p < {th['alpha']:g}"),
        "shifted": shifted,
        "shifted_rule": f"distribution shifted if PSI >= {th['psi']:g} or {second}",
        "flags": ";".join(crossed),
    }


def shift_table(train_df: pd.DataFrame, test_df: pd.DataFrame, numeric: Sequence[str],
                categorical: Sequence[str], thresholds: Mapping, *,
                n_bins: int = DEFAULT_N_BINS, eps: float = PSI_EPS) -> pd.DataFrame:
    """One row per source feature (numeric first, in the given order, then categorical) with
    ``SHIFT_COLUMNS``."""
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise ValueError(f"features listed as both numeric and categorical: {sorted(overlap)}")
    rows = [feature_shift(train_df[c], test_df[c], "numeric", thresholds, n_bins=n_bins, eps=eps)
            for c in numeric]
    rows += [feature_shift(train_df[c], test_df[c], "categorical", thresholds, n_bins=n_bins, eps=eps)
             for c in categorical]
    for r, col in zip(rows, list(numeric) + list(categorical)):
        r["feature"] = col
    return pd.DataFrame(rows, columns=list(SHIFT_COLUMNS))
