"""Statistical helpers (shortcut.stats) and the Newton logistic regression (shortcut.logreg)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

from shortcut import logreg, stats


def test_holm_matches_the_definition():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    adj = stats.holm(p)
    # sorted finite: 0.01 (x4), 0.03 (x3), 0.04 (x2), 0.5 (x1), cumulative max
    assert adj[0] == pytest.approx(0.04)
    assert adj[2] == pytest.approx(0.09)
    assert adj[1] == pytest.approx(0.09)  # 0.08 raised to the previous step's 0.09
    assert adj[4] == pytest.approx(0.5)
    assert np.isnan(adj[3])


def test_weighted_holm_reduces_to_holm_and_leaves_zero_weights_out():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    assert np.allclose(stats.weighted_holm(p, np.ones(5)), stats.holm(p), equal_nan=True)
    # by hand: order by p / w = (0.01/3, 0.04/1, 0.03/1): 0.01 x 5/3, then 0.03 x 2/1, then 0.04 x 1/1
    adj = stats.weighted_holm([0.01, 0.04, 0.03], [3.0, 1.0, 1.0])
    assert adj == pytest.approx([0.05 / 3, 0.06, 0.06])
    # a weight of 0 is outside the family: never rejected, and it does not dilute the others
    adj = stats.weighted_holm([1e-9, 0.02], [0.0, 1.0])
    assert adj[0] == 1.0 and adj[1] == pytest.approx(0.02)


def test_weighted_holm_controls_the_family_wise_error_with_unequal_weights():
    """All nulls true, independent uniform p-values, weights 8:1:1:0.5: any rejection at 0.05 in at
    most 5 % of 20,000 families (binomial 99.9 % margin), and the heavy hypothesis takes most."""
    rng = np.random.default_rng(0)
    w = np.array([8.0, 1.0, 1.0, 0.5])
    p = rng.random((20000, 4))
    rejected = np.array([stats.weighted_holm(row, w) < 0.05 for row in p])
    family = rejected.any(axis=1).mean()
    assert family <= 0.05 + 3.3 * np.sqrt(0.05 * 0.95 / 20000)
    assert rejected[:, 0].mean() > 3 * rejected[:, 1].mean()


def test_wilson_interval_contains_the_share_and_handles_zero():
    lo, hi = stats.wilson(np.array([0, 5, 50]), np.array([20, 20, 100]))
    assert lo[0] == pytest.approx(0, abs=1e-12) and 0 < hi[0] < 0.2
    assert lo[1] < 0.25 < hi[1]
    assert lo[2] < 0.5 < hi[2]


def test_auc_against_brute_force_and_delong_interval():
    rng = np.random.default_rng(0)
    pos = rng.random(300) < 0.4
    s = rng.normal(size=300) + pos * 0.8
    s[:20] = np.round(s[:20], 1)  # some ties
    brute = np.mean([(a > b) + 0.5 * (a == b) for a in s[pos] for b in s[~pos]])
    assert stats.auc(s, pos) == pytest.approx(brute)
    d = stats.auc_delong(s, pos)
    assert d["auc"] == pytest.approx(brute)
    assert d["ci_low"] < brute < d["ci_high"] and 0.02 < d["se"] < 0.05


def test_bootstrap_means_match_a_direct_resampling_and_keep_strata_sizes():
    v = np.arange(10.0)
    draws = stats.bootstrap_means(v, 500, seed=3)
    assert draws.mean() == pytest.approx(4.5, abs=0.1)
    assert draws.std() == pytest.approx(v.std() / np.sqrt(10), rel=0.15)
    strata = np.array([0] * 5 + [1] * 5)
    # rows 0-4 have values 0..4, rows 5-9 have 5..9: each resample keeps five of each
    sums = stats.bootstrap_means(np.column_stack([v < 5, v >= 5]).astype(float), 200, 1, strata=strata)
    assert np.allclose(sums, 0.5)


def _bootstrap_counts_before_blocks(n, n_boot, seed, chunk=128, strata=None):
    """bootstrap_counts as it was before its blocks were bounded (one (chunk, n) block each)."""
    rng = np.random.default_rng(seed)
    groups = ([np.arange(n)] if strata is None
              else [np.flatnonzero(np.asarray(strata) == s) for s in np.unique(strata)])
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        counts = np.zeros(b * n)
        offsets = (np.arange(b) * n)[:, None]
        for rows in groups:
            if rows.size:
                pick = rows[rng.integers(0, rows.size, size=(b, rows.size))]
                counts += np.bincount((offsets + pick).ravel(), minlength=b * n)
        yield start, counts.reshape(b, n)


@pytest.mark.parametrize("stratified", [False, True])
def test_bootstrap_counts_below_the_bound_are_the_former_blocks(stratified):
    n = stats.COUNT_CELLS // 128  # the most rows that keep 128 resamples a block
    strata = np.random.default_rng(0).integers(0, 3, n) if stratified else None
    got = list(stats.bootstrap_counts(n, 300, 4, strata=strata))
    want = list(_bootstrap_counts_before_blocks(n, 300, 4, strata=strata))
    assert [s for s, _ in got] == [s for s, _ in want] == [0, 128, 256]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, want))


@pytest.mark.parametrize("stratified", [False, True])
def test_bootstrap_counts_of_many_rows_come_in_bounded_blocks_with_the_same_draws(stratified, monkeypatch):
    n = stats.COUNT_CELLS // 40  # 104857 rows: blocks of 40 resamples
    strata = np.random.default_rng(1).integers(0, 4, n) if stratified else None
    blocks = list(stats.bootstrap_counts(n, 150, 2, strata=strata))
    assert [s for s, _ in blocks] == [0, 40, 80, 120, 128]  # the 128 resamples' draws, then the rest
    assert all(c.size <= stats.COUNT_CELLS for _, c in blocks)
    counts = np.vstack([c for _, c in blocks])
    assert counts.shape == (150, n) and (counts.sum(axis=1) == n).all()
    if stratified:  # every resample keeps each stratum's size
        for s in range(4):
            assert (counts[:, strata == s].sum(axis=1) == (strata == s).sum()).all()
    # the same draws as one block of 128 (a small bound stands in for a large n)
    monkeypatch.setattr(stats, "COUNT_CELLS", 7 * 1000)
    small = strata[:1000] if stratified else None
    got = np.vstack([c for _, c in stats.bootstrap_counts(1000, 300, 9, strata=small)])
    want = np.vstack([c for _, c in _bootstrap_counts_before_blocks(1000, 300, 9, strata=small)])
    assert np.array_equal(got, want)


@pytest.mark.parametrize("stratified", [False, True])
def test_bootstrap_means_of_other_values_are_the_count_matrix_means(stratified):
    """Values that are not few distinct whole numbers resample rows: the means are those of the
    row-count matrix to the bit (whole numbers with more than MAX_CODES distinct rows too)."""
    rng = np.random.default_rng(5)
    n = 5000
    strata = rng.integers(0, 3, n) if stratified else None
    for values in (rng.random((n, 3)), rng.random(n), rng.permutation(n).astype(float)):
        v2 = values[:, None] if values.ndim == 1 else values
        want = np.vstack([c @ v2 / n for _, c in _bootstrap_counts_before_blocks(n, 300, 6, strata=strata)])
        got = stats.bootstrap_means(values, 300, 6, strata=strata)
        assert np.array_equal(got, want[:, 0] if values.ndim == 1 else want)


@pytest.mark.parametrize("stratified", [False, True])
def test_few_whole_numbers_are_resampled_as_counts_with_the_row_bootstrap_distribution(stratified):
    """Indicators and paired differences are resampled as multinomial counts of their distinct
    rows: the same bootstrap as drawing rows (checked over 4,000 resamples in mean, spread and
    correlation, not draw by draw), each resample of n rows, each stratum keeping its size."""
    rng = np.random.default_rng(11)
    n = 3000
    strata = rng.integers(0, 2, n) if stratified else None
    a = rng.random(n) < 0.3
    b = a & (rng.random(n) < 0.5)
    values = np.column_stack([a, b, ~a, (rng.random(n) < 0.6) * 1.0 - (rng.random(n) < 0.6)]).astype(float)
    direct = stats.bootstrap_means(values, 4000, 2, strata=strata)
    rows = np.vstack([c @ values / n for _, c in stats.bootstrap_counts(n, 4000, 3, strata=strata)])
    assert np.allclose(direct.mean(axis=0), values.mean(axis=0), atol=0.002)
    assert np.allclose(direct.std(axis=0), rows.std(axis=0), rtol=0.08)
    assert np.corrcoef(direct[:, 0], direct[:, 1])[0, 1] == pytest.approx(
        np.corrcoef(rows[:, 0], rows[:, 1])[0, 1], abs=0.05)
    assert np.allclose(direct[:, 0] + direct[:, 2], 1.0)
    if stratified:  # an indicator of the stratum keeps its mean in every resample
        kept = stats.bootstrap_means((strata == 1).astype(float), 200, 1, strata=strata)
        assert np.allclose(kept, np.mean(strata == 1))
    counts = stats.multinomial_code_counts(rng.integers(0, 5, n), 5, 100, np.random.default_rng(0), strata)
    assert counts.shape == (100, 5) and np.all(counts.sum(axis=1) == n)
    assert stats.multinomial_code_counts([], 3, 4, np.random.default_rng(0)).shape == (4, 3)
    assert np.isnan(stats.bootstrap_means(np.empty((0, 2)), 5, 0)).all()


def test_newton_logistic_matches_a_generic_optimiser():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 4)) * np.array([1, 10, 0.1, 3])
    y = rng.random(2000) < special.expit(X @ np.array([1, -0.1, 5, 0.2]) + 0.3)
    w = rng.uniform(0.5, 2, 2000)
    model = logreg.fit_logistic(X, y, w, l2=2.0)

    def f(t):
        z = X @ t[:4] + t[4]
        return np.sum(w * (np.logaddexp(0, z) - y * z)) + t[:4] @ t[:4]

    ref = optimize.minimize(f, np.zeros(5), method="BFGS", options={"gtol": 1e-8})
    assert f(np.r_[model.coef, model.intercept]) <= ref.fun + 1e-6


def test_cross_fitting_scores_every_row_out_of_fold():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3))
    y = rng.random(500) < 0.3
    folds = logreg.fold_ids(y, 5, seed=0)
    assert set(np.bincount(folds)) <= {99, 100, 101}
    out, got_folds, models = logreg.cross_fit(X, y, n_folds=5, seed=0)
    assert (got_folds == folds).all() and len(models) == 5
    # every row is scored by the model fitted without its fold
    for k, model in enumerate(models):
        assert np.allclose(out[folds == k], model.decision(X[folds == k]))
    full = logreg.fit_logistic(X, y).decision(X)
    assert not np.allclose(out, full)


def test_the_studentised_upper_bound_covers_heavy_tailed_harms_where_the_normal_one_does_not():
    """Short version of benchmarks/harm_interval.py: 300 audits of 250 skewed per-row harms (a
    few rows cost a lot). The pipeline's bound (bootstrap-t at alpha / 2) misses the true mean at
    most about alpha; the normal bound misses it far more often."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import harm_interval

    rates = harm_interval.miss_rates(harm_interval.leak_mixture, 250, reps=300, alpha=0.05, n_boot=400, seed=11)
    assert rates["pipeline"] <= 0.06, rates
    assert rates["normal"] > rates["pipeline"] + 0.02, rates
