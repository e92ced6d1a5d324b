"""Accuracy-drop decomposition and label-shift estimation (shortcut.decompose)."""

from __future__ import annotations

import numpy as np
import pytest

from shortcut import decompose


def test_parts_sum_to_the_total_and_unweighted_means_give_no_shift():
    rng = np.random.default_rng(0)
    cv, ct = rng.random(2000) < 0.8, rng.random(1000) < 0.7
    zeros = np.zeros(2000)
    d = decompose.decompose_accuracy(cv, ct, zeros, zeros, np.ones(1000, bool), n_boot=300)
    parts = sum(d[p] for p in decompose.PARTS)
    assert parts == pytest.approx(d["total"]) == pytest.approx(ct.mean() - cv.mean())
    assert d["class_mix"] == pytest.approx(0) and d["covariate"] == pytest.approx(0)
    assert d["unsupported"] == pytest.approx(0)
    assert d["conditional_ci_low"] < d["conditional"] < d["conditional_ci_high"]


def test_a_pure_class_mix_change_lands_in_the_class_mix_part():
    rng = np.random.default_rng(1)
    # two classes, accuracy 0.9 on class 0 and 0.6 on class 1; validation 50/50, test 90/10
    y_val = np.repeat([0, 1], 2000)
    cv = np.where(y_val == 0, rng.random(4000) < 0.9, rng.random(4000) < 0.6)
    y_test = np.r_[np.zeros(1800, int), np.ones(200, int)]
    ct = np.where(y_test == 0, rng.random(2000) < 0.9, rng.random(2000) < 0.6)
    log_b = np.log(np.where(y_val == 0, 0.9 / 0.5, 0.1 / 0.5))
    d = decompose.decompose_accuracy(cv, ct, np.zeros(4000), log_b, np.ones(2000, bool), n_boot=300)
    assert d["class_mix"] == pytest.approx(0.87 - 0.75, abs=0.02)
    assert d["conditional_ci_low"] < 0 < d["conditional_ci_high"]


def test_unsupported_rows_are_their_own_part():
    cv = np.ones(100, bool)
    ct = np.r_[np.ones(80, bool), np.zeros(20, bool)]
    supported = np.r_[np.ones(80, bool), np.zeros(20, bool)]
    d = decompose.decompose_accuracy(cv, ct, np.zeros(100), np.zeros(100), supported, n_boot=200)
    assert d["unsupported"] == pytest.approx(-0.2) and d["conditional"] == pytest.approx(0)
    assert d["share_unsupported"] == pytest.approx(0.2)


def test_bbse_recovers_the_test_class_mix_from_predictions_alone():
    rng = np.random.default_rng(2)
    k = 3
    confusion = np.array([[0.8, 0.1, 0.1], [0.15, 0.7, 0.15], [0.1, 0.2, 0.7]])  # P(pred | true)

    def sample(shares, n):
        y = rng.choice(k, n, p=shares)
        pred = np.array([rng.choice(k, p=confusion[t]) for t in y])
        proba = np.eye(k)[pred] * 0.7 + 0.1
        return y, proba

    y_val, p_val = sample([1 / 3] * 3, 6000)
    y_test, p_test = sample([0.6, 0.3, 0.1], 6000)
    est = decompose.label_shift_estimate(p_val, y_val, p_test, y_test, k, n_boot=100)
    assert np.allclose(est["bbse_share"], [0.6, 0.3, 0.1], atol=0.04)
    assert all(lo <= q <= hi for lo, q, hi in zip(est["bbse_ci_low"], [0.6, 0.3, 0.1], est["bbse_ci_high"]))
    # re-weighting the classes to the new mix helps accuracy
    assert est["acc_test_prior_corrected"] >= est["acc_test"]


def test_misspecified_weights_put_a_covariate_shift_into_the_relation_part():
    """P(Y | X) unchanged; the test rows are those with |x| > 1 (a selection no linear logistic
    weight can express). With the true weights the Y | X part is ~0; with linear logistic weights
    (what a misspecified domain model gives) much of the change lands in the Y | X part. The
    decompose docstring quotes this size."""
    rng = np.random.default_rng(7)
    x_val, x_pool = rng.normal(size=20000), rng.normal(size=40000)

    def correct(x):  # a model right with probability falling with |x| (P(Y | X) and the model fixed)
        return rng.random(len(x)) < 0.95 - 0.25 * np.minimum(np.abs(x), 2) / 2

    x_test = x_pool[np.abs(x_pool) > 1]
    cv, ct = correct(x_val), correct(x_test)
    zeros, s = np.zeros(len(x_val)), np.ones(len(x_test), bool)
    true_log_a = np.where(np.abs(x_val) > 1, 0.0, -30.0)
    right = decompose.decompose_accuracy(cv, ct, true_log_a, zeros, s, n_boot=200)
    # linear logistic weights: fitted on x alone, so log a(x) is linear in x
    from shortcut import logreg

    X = np.r_[x_val, x_test][:, None]
    is_test = np.r_[np.zeros(len(x_val)), np.ones(len(x_test))]
    model = logreg.fit_logistic(X, is_test, l2=1.0)
    wrong = decompose.decompose_accuracy(cv, ct, model.decision(x_val[:, None]), zeros, s, n_boot=200)
    assert abs(right["conditional"]) < 0.01
    assert abs(wrong["conditional"]) > 0.05 and abs(wrong["conditional"]) > 0.6 * abs(wrong["total"])
