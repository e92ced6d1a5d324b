"""Integer codes of feature values shared by train and test (train-quantile bins, levels, a code
for missing), contingency statistics on them, and the groups of strongly associated features.

Deterministic and vectorised: ``np.searchsorted`` on train-quantile edges, ``pd.factorize`` for
levels, ``np.bincount`` for tables.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

DEFAULT_N_BINS = 10
"""Train-quantile bins for numeric features (deciles, the usual PSI choice)."""
DEFAULT_GROUP_THRESHOLD = 0.7


# ---------------------------------------------------------------------------------------
# Coding: map raw values to small integer codes shared by train and test
# ---------------------------------------------------------------------------------------


def as_float(s: pd.Series) -> np.ndarray:
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
    a, b = as_float(train), as_float(test)
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



def _chi2(t: np.ndarray) -> float:
    """Pearson's chi-square of a table without empty rows or columns (no continuity correction;
    the same sums in the same order as scipy.stats.chi2_contingency, the same numbers).

    Kept beside scipy for speed (``benchmarks/scipy_helpers.py``): Cramér's V runs for every pair
    of features in :func:`association_groups`, where chi2_contingency costs 11-15x as much per
    call, and the fit_encoder jobs would import scipy.stats (about 0.45 s) for it alone."""
    expected = t.sum(axis=1, keepdims=True) * t.sum(axis=0, keepdims=True) / t.sum()
    return float(((t - expected) ** 2 / expected).sum())


def _nonempty(table) -> np.ndarray:
    t = np.asarray(table, dtype=np.float64)
    return t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]


def _v(chi2: float, n: float, r: int, c: int, bias_corrected: bool) -> float:
    phi2 = chi2 / n
    if bias_corrected:
        phi2c = max(0.0, phi2 - (r - 1) * (c - 1) / (n - 1))
        rc = r - (r - 1) ** 2 / (n - 1)
        cc = c - (c - 1) ** 2 / (n - 1)
        denom = min(rc - 1, cc - 1)
        return float(np.sqrt(phi2c / denom)) if denom > 0 else 0.0
    return float(np.sqrt(phi2 / min(r - 1, c - 1)))


def cramers_v(table: np.ndarray, bias_corrected: bool = True) -> float:
    """Cramer's V of a contingency table (NumPy only: no test, no scipy).

    All-zero rows/columns are dropped first. ``bias_corrected`` applies Bergsma's (2013)
    correction (phi^2 and the table dimensions shrunk by their small-sample expectation), which
    makes V ~ 0 under independence instead of ~ sqrt((r-1)(c-1) / n / min(r-1, c-1)).
    """
    t = _nonempty(table)
    n = t.sum()
    r, c = t.shape
    if r < 2 or c < 2 or n < 2:
        return 0.0
    return _v(_chi2(t), n, r, c, bias_corrected)


def cramers_v_from_table(table: np.ndarray, bias_corrected: bool = True) -> tuple[float, float, float]:
    """Cramer's V of a contingency table with its chi-square test: (V, chi2, p_value) (see
    :func:`cramers_v`; the test has no continuity correction)."""
    t = _nonempty(table)
    n = t.sum()
    r, c = t.shape
    if r < 2 or c < 2 or n < 2:
        return 0.0, 0.0, 1.0
    from scipy import special  # the p-value only: chi2.sf(x, dof) is chdtrc(dof, x)

    chi2 = _chi2(t)
    return _v(chi2, n, r, c, bias_corrected), chi2, float(special.chdtrc((r - 1) * (c - 1), chi2))


def contingency(codes: np.ndarray, y: np.ndarray, n_codes: int, n_labels: int) -> np.ndarray:
    """Counts[code, label] via one bincount."""
    return np.bincount(codes * n_labels + y, minlength=n_codes * n_labels).reshape(n_codes, n_labels)


# ---------------------------------------------------------------------------------------
# Groups of strongly associated features
# ---------------------------------------------------------------------------------------


def _codes(values: pd.Series, numeric: bool, n_bins: int = 10) -> np.ndarray:
    if numeric:
        codes, _, _, _ = code_numeric(values, values.iloc[:0], n_bins)
    else:
        codes, _, _, _ = code_categorical(values, values.iloc[:0])
    return codes


def association_groups(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str],
                       threshold: float = DEFAULT_GROUP_THRESHOLD, max_rows: int = 50_000,
                       seed: int = 0) -> list[list[str]]:
    """Groups (two or more features) whose binned values are strongly associated pairwise:
    connected components of the graph with an edge where bias-corrected Cramér's V >= threshold.

    Computed on at most ``max_rows`` rows (a seeded sample): V's sampling error at that size is
    far below any threshold worth setting.
    """
    features = list(categorical) + list(numeric)
    if len(frame) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(frame), max_rows, replace=False))
        frame = frame.iloc[rows]
    codes = {f: _codes(frame[f], f in set(numeric)) for f in features}
    parent = {f: f for f in features}

    def root(f):
        while parent[f] != f:
            parent[f] = parent[parent[f]]
            f = parent[f]
        return f

    for i, a in enumerate(features):
        for b in features[i + 1:]:
            ca, cb = codes[a], codes[b]
            v = cramers_v(contingency(ca, cb, ca.max() + 1, cb.max() + 1))
            if v >= threshold:
                parent[root(b)] = root(a)
    comps: dict = {}
    for f in features:
        comps.setdefault(root(f), []).append(f)
    return [sorted(members, key=features.index) for members in comps.values() if len(members) >= 2]


