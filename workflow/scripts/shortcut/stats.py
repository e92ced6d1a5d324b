"""Small statistical tools shared by the shift evidence, the reliance test and the remedy check.

Every interval here is two-sided at level ``1 - alpha`` (default 95 %); every resampling takes an
explicit seed, so results are byte-identical on rerun. Nothing here knows about features, models
or files.
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np

ALPHA = 0.05
BOOTSTRAP = 2000
"""Default bootstrap resamples: the percentile interval's endpoints then move by well under a
tenth of its width between seeds."""


def normal_sf(z) -> np.ndarray | float:
    """Upper tail P(Z > z) of the standard normal (one-sided p-value of a z statistic)."""
    from scipy import special  # imported when used: jobs that only resample don't load scipy

    return 0.5 * special.erfc(np.asarray(z, dtype=np.float64) / math.sqrt(2.0))


def normal_quantile(p: float) -> float:
    from scipy import special

    return float(math.sqrt(2.0) * special.erfinv(2.0 * p - 1.0))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment (controls the family-wise error rate). NaN stays NaN and is
    not counted in the family."""
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def label_entropy(y, n_classes: int) -> float:
    """Entropy (nats) of the class mix of ``y``."""
    p = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes) / max(len(y), 1)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def weighted_holm(pvalues: Sequence[float], weights: Sequence[float]) -> np.ndarray:
    """Holm's weighted step-down adjustment (Holm 1979): the family-wise error rate stays at most
    alpha for any weights fixed before the p-values are seen, and a unit's share of alpha is its
    weight's share of the family's. The hypotheses are taken in the order of p / w; the adjusted
    p of the j-th is the running maximum of p_(l) x (sum of the weights from l on) / w_(l). Equal
    weights give :func:`holm`. A weight of 0 (or a NaN p) leaves a hypothesis out of the family:
    its adjusted p is 1 (NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    out = np.where(np.isfinite(p), 1.0, np.nan)
    ok = np.flatnonzero(np.isfinite(p) & np.isfinite(w) & (w > 0))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok] / w[ok], kind="stable")]
    remaining = np.cumsum(w[order][::-1])[::-1]  # the weights from this one to the last
    adjusted = np.minimum(1.0, p[order] * remaining / w[order])
    out[order] = np.maximum.accumulate(adjusted)
    return out


def wilson(successes, n, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of binomial proportions (vectorised; n = 0 gives NaN)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z = normal_quantile(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


COUNT_CELLS = 1 << 22
"""Most resample x row cells the bootstrap builds at once (4M: 32 MB of float64 counts). A block
holds ``chunk`` resamples up to ``COUNT_CELLS // chunk`` rows (32768 for 128) and fewer beyond,
so its memory stays bounded at any number of rows."""


def bootstrap_counts(n: int, n_boot: int, seed: int, chunk: int = 128, strata=None):
    """Yield ``(start, counts)`` blocks: ``counts[b, i]`` is how often row i is drawn in resample
    ``start + b`` of an ordinary bootstrap (rows resampled within each stratum, keeping its size,
    when ``strata`` gives one label per row). A mean over resamples is then one matrix product,
    ``counts @ values / n``, for any number of value columns at once.

    The draws depend on ``seed`` and ``chunk`` only: resamples are drawn ``chunk`` at a time,
    stratum by stratum (each stratum's rows for all of them). A block yields fewer than ``chunk``
    resamples when ``chunk`` x ``n`` would pass :data:`COUNT_CELLS`; the draws stay the same, as
    every stratum draws from its own copy of the generator set where its draws begin."""
    for start, size, picks in _resamples(n, n_boot, seed, chunk, strata):
        counts = np.empty((size, n))
        for k, rows in enumerate(picks):  # one resample at a time: the counting stays in cache
            counts[k] = np.bincount(rows, minlength=n)
        yield start, counts


def _resamples(n: int, n_boot: int, seed: int, chunk: int, strata):
    """``(start, size, picks)`` blocks: ``picks`` gives, for resamples ``start`` to ``start + size
    - 1`` in turn, the rows each draws (each stratum's in turn); see :func:`bootstrap_counts`."""
    rng = np.random.default_rng(seed)
    groups = None  # every row, drawn as they come
    if strata is not None:
        groups = [np.flatnonzero(np.asarray(strata) == s) for s in np.unique(strata)]
        groups = [rows for rows in groups if rows.size]
    block = max(1, min(chunk, COUNT_CELLS // max(n, 1)))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        if groups is None or len(groups) < 2 or block >= b:
            gens = [rng] * (1 if groups is None else len(groups))
        else:
            # one generator per stratum, at its first draw of this chunk: copy, then skip its
            # draws (Generator.integers draws 32 bits per row below 2**32 rows, one stream
            # however the calls split it)
            gens = []
            for rows in groups[:-1]:
                gens.append(copy.deepcopy(rng))
                for done in range(0, b * rows.size, COUNT_CELLS):
                    rng.integers(0, rows.size, size=min(COUNT_CELLS, b * rows.size - done))
            gens.append(rng)
        for sub in range(0, b, block):
            size = min(block, b - sub)
            if groups is None:  # drawn one resample at a time when used (the same stream)
                yield start + sub, size, (rng.integers(0, n, size=n) for _ in range(size))
                continue
            picks = np.empty((size, sum(rows.size for rows in groups)), dtype=np.intp)
            at = 0
            for rows, gen in zip(groups, gens):
                picks[:, at:at + rows.size] = rows[gen.integers(0, rows.size, size=(size, rows.size))]
                at += rows.size
            yield start + sub, size, picks


def stratified_sample(labels, size: int, seed: int) -> np.ndarray:
    """Sorted indices of ``size`` rows drawn without replacement, each label keeping its share
    (largest remainder); every row when ``size`` reaches the number of rows."""
    labels = np.asarray(labels)
    n = labels.shape[0]
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * (size / n)
    take = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - take), kind="stable")
    take[order[: size - int(take.sum())]] += 1
    picks = [rng.choice(np.flatnonzero(labels == c), k, replace=False) for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picks))


def bootstrap_means(values, n_boot: int = BOOTSTRAP, seed: int = 0, strata=None) -> np.ndarray:
    """Bootstrap distribution of column means: ``(n_boot, k)`` for ``values`` of shape (n, k), or
    ``(n_boot,)`` for a vector. ``strata``: see :func:`bootstrap_counts`.

    Rows are drawn with replacement (:func:`bootstrap_counts`), except for whole numbers with at
    most :data:`MAX_CODES` distinct rows, whose resamples are drawn as multinomial counts of those
    rows (:func:`multinomial_code_counts`): the same distribution, at a cost that does not grow
    with n (other draws than the rows' for the same seed)."""
    v = np.asarray(values, dtype=np.float64)
    vec = v.ndim == 1
    v2 = v[:, None] if vec else v
    n = v2.shape[0]
    out = np.full((n_boot, v2.shape[1]), np.nan)
    if n and v2.shape[1]:
        distinct = codes = None
        if np.all(v2 == np.rint(v2)) and n * np.max(np.abs(v2)) < 2.0 ** 53:
            distinct, codes = np.unique(v2, axis=0, return_inverse=True)
        if distinct is not None and len(distinct) <= MAX_CODES:
            # indicators, paired differences: every sum is exact, and a resample is the counts
            counts = multinomial_code_counts(codes.reshape(-1), len(distinct), n_boot,
                                             np.random.default_rng(seed), strata)
            out[:] = counts @ distinct / n
        else:
            for start, counts in bootstrap_counts(n, n_boot, seed, strata=strata):
                out[start:start + len(counts)] = counts @ v2 / n
    return out[:, 0] if vec else out


MAX_CODES = 1024
"""Whole-number values with at most this many distinct rows are resampled as multinomial counts
of those rows (:func:`bootstrap_means`)."""


def multinomial_code_counts(codes, n_codes: int, n_boot: int, rng: np.random.Generator, strata=None) -> np.ndarray:
    """``(n_boot, n_codes)`` counts of each code in ``n_boot`` ordinary bootstrap resamples of the
    rows (``codes``: one in ``range(n_codes)`` per row), drawn directly: the code counts of n rows
    drawn with replacement are multinomial(n, observed shares), so a resample costs O(codes),
    not O(rows). With ``strata`` each stratum keeps its size (one multinomial per stratum)."""
    codes = np.asarray(codes, dtype=np.intp)
    counts = np.zeros((n_boot, n_codes), dtype=np.int64)
    groups = [codes] if strata is None else [codes[np.asarray(strata) == s] for s in np.unique(strata)]
    for group in groups:
        if group.size:
            shares = np.bincount(group, minlength=n_codes) / group.size
            counts += rng.multinomial(group.size, shares, size=n_boot)
    return counts


def percentile_ci(draws, alpha: float = ALPHA, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap draws (NaN draws ignored)."""
    lo, hi = np.nanquantile(np.asarray(draws, dtype=np.float64), [alpha / 2, 1 - alpha / 2], axis=axis)
    return lo, hi


def min_detectable(se: float, alpha: float, power: float = 0.8) -> float:
    """Smallest true mean a one-sided level-``alpha`` z test detects with probability ``power``."""
    if not np.isfinite(se):
        return float("nan")
    return float((normal_quantile(1 - alpha) + normal_quantile(power)) * se)


def t_quantile(df: int, alpha: float = ALPHA) -> float:
    """Two-sided Student-t critical value with ``df`` degrees of freedom."""
    from scipy import special  # the t quantile function (what scipy.stats.t.ppf calls)

    return float(special.stdtrit(df, 1 - alpha / 2))


# ---------------------------------------------------------------------------------------------
# ROC AUC


def auc(scores, is_positive) -> float:
    """ROC AUC = P(score of a positive > score of a negative) + 0.5 P(tie) (Mann-Whitney)."""
    from scipy.stats import rankdata  # 1-based ranks, ties sharing the mean of their positions

    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(is_positive, dtype=bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_delong(scores, is_positive, alpha: float = ALPHA) -> dict:
    """AUC with DeLong's (1988) variance (fast midrank form of Sun & Xu 2014) and its interval."""
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(is_positive, dtype=bool)
    x, y = s[pos], s[~pos]
    m, n = x.size, y.size
    if m < 2 or n < 2:
        return {"auc": auc(s, pos), "se": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    from scipy.stats import rankdata

    tz = rankdata(np.concatenate([x, y]))
    tx, ty = rankdata(x), rankdata(y)
    a = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    var = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n
    se = float(math.sqrt(max(var, 0.0)))
    z = normal_quantile(1 - alpha / 2)
    return {"auc": float(a), "se": se, "ci_low": float(max(0.0, a - z * se)),
            "ci_high": float(min(1.0, a + z * se))}


def studentized_upper(mean: float, sd: float, n: int, draw_means, draw_sq_means, alpha: float = ALPHA) -> float:
    """One-sided (1 - ``alpha``) upper confidence bound of a mean by the studentised (bootstrap-t)
    bootstrap: ``draw_means`` and ``draw_sq_means`` are the means of x and of x**2 in the same
    resamples. Per-row log-loss differences are skewed and heavy-tailed (a few rows cost many
    nats); the bootstrap-t bound corrects for the skew to second order, where the normal and
    percentile bounds undercover at a few hundred rows (``benchmarks/harm_interval.py`` measures
    the coverage at 100, 250 and 500 rows). Never below the mean itself."""
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    if sd == 0:
        return float(mean)
    m = np.asarray(draw_means, dtype=np.float64)
    var = np.asarray(draw_sq_means, dtype=np.float64) - m * m
    ok = var > 1e-300
    if ok.sum() < 10:
        return float(mean + normal_quantile(1 - alpha) * sd / np.sqrt(n))
    t = (m[ok] - mean) / np.sqrt(var[ok] * n / (n - 1) / n)
    q = float(np.quantile(t, alpha))
    return float(max(mean, mean - q * sd / np.sqrt(n)))
