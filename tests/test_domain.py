"""Covariate shift beyond the class mix, the features that separate the files, and training
support (shortcut.domain)."""

from __future__ import annotations

import numpy as np
import pytest

import synthetic as syn
from configs import defaults, domain_settings
from shortcut import domain


@pytest.fixture(scope="module")
def world():
    pop = syn.population(12_000, seed=2)
    return pop.iloc[:8000].reset_index(drop=True), pop.iloc[8000:].reset_index(drop=True)


def shift_of(train, test, settings=None, **kw):
    (tr, va, te), enc = syn.encoded(train, test, **kw)
    layout = {"sources": enc["sources"], "categorical": list(enc["categorical"])}
    return domain.shift_model(np.vstack([tr[0], va[0]]), np.r_[tr[1], va[1]], te[0], te[1], **layout,
                              n_classes=3, X_train_partition=tr[0], settings=settings or domain_settings())


def test_no_shift_gives_auc_one_half(world):
    train, pool = world
    r = shift_of(train, pool)
    assert r["auc_ci_low"] < 0.5 < r["auc_ci_high"] + 0.01
    # a continuous value just beyond the training range is rare but possible
    assert not r["shifted"] and r["share_unsupported"] < 0.005


@pytest.mark.parametrize("max_rows", [50_000, 1_500])
def test_a_feature_gone_missing_in_test_is_no_covariate_shift_by_its_fill_value(world, max_rows):
    """x1 empty in half of a random split's test rows (never in training): the encoder fills the
    median, a spike no training row has. Told which cells were empty, the domain classifiers give
    them an average training row's inputs: no covariate shift, x1 does not separate the files.
    (With max_rows below the rows, the rows outside the fitted sample are scored the same way.)"""
    train, pool = world
    test = pool.iloc[:3000].reset_index(drop=True)
    gone = np.random.default_rng(4).random(len(test)) < 0.5
    test.loc[gone, "x1"] = np.nan
    settings = domain_settings(max_rows=max_rows)
    blind = shift_of(train, test, settings)
    assert blind["shifted"] and blind["feature_auc"]["x1"] > 0.6  # the fill value alone separates them
    (tr, va, te), enc = syn.encoded(train, test)
    told = domain.shift_model(np.vstack([tr[0], va[0]]), np.r_[tr[1], va[1]], te[0], te[1],
                              sources=enc["sources"], categorical=list(enc["categorical"]), n_classes=3,
                              X_train_partition=tr[0], settings=settings, missing_test={"x1": gone})
    assert not told["shifted"] and told["auc_ci_low"] < 0.5 < told["auc_ci_high"] + 0.01
    # where x1 was observed its values are the training rows' own: it does not separate the files
    # (no separating feature is named), and its AUC there is 0.5 up to the sample's noise
    assert told["feature_auc"]["x1"] < defaults("diagnose")["min_feature_auc"] <= blind["feature_auc"]["x1"]
    assert abs(told["feature_auc"]["x1"] - 0.5) < 0.06
    assert told["share_unsupported"] < 0.005


def test_label_shift_moves_the_inputs_but_is_not_called_covariate_shift(world):
    train, pool = world
    # class 1 (high x1) six times as likely: the inputs move with it
    test = syn.draw(pool, 2000, 1, weights=np.array([1.0, 6.0, 1.0])[pool["target"]])
    r = shift_of(train, test)
    # the inputs alone separate the files (P(X) moved through P(X | Y)) ...
    assert r["inputs_auc_ci_low"] > 0.55
    # ... but not beyond what the class mix explains
    assert not r["shifted"] and r["auc"] < r["inputs_auc"] - 0.03


def test_selection_on_one_input_is_covariate_shift_naming_that_input(world):
    train, pool = world
    r = shift_of(train, pool[pool["c1"] == "b"].reset_index(drop=True))
    assert r["shifted"]
    assert max(r["feature_auc"], key=r["feature_auc"].get) == "c1"


def test_rows_outside_training_support_are_counted_by_reason(world):
    train, pool = world
    test = pool.iloc[:1000].copy()
    test.loc[:9, "c1"] = "zz"  # a level never seen in training
    test.loc[10:19, "x1"] = 40.0  # far outside the training range
    r = shift_of(train, test.reset_index(drop=True))
    reasons = r["unsupported_by_reason"]
    assert "unseen_level" not in reasons and reasons["out_of_range"] >= 10
    # a never-seen level is counted but leaves the row supported: only its own feature's harm skips it
    assert r["unseen_level_rows"] == 10
    assert not r["supported"][10:20].any() and r["supported"][20:].mean() > 0.99


def test_a_test_file_far_from_the_training_rows_is_unsupported(world):
    train, pool = world
    far = pool.iloc[:500].copy()
    far["x1"] = far["x1"] * 0.1 + 3.2  # inside the range, where training rows are very sparse
    far["x2"] = far["x2"] * 0.1 + 3.0
    r = shift_of(train, far.reset_index(drop=True))
    assert r["inputs_auc"] > 0.99
    assert r["share_unsupported"] > 0.5
    assert r["unsupported_by_reason"]["low_train_density"] > 0


def test_a_sampled_fit_agrees_with_the_full_fit_and_scores_every_row(world):
    """Beyond ``max_rows`` the classifiers are fitted (and their AUCs taken) on a stratified sample
    and every other row is scored by the fold models' average: the same decisions, the full fit's
    AUCs within the sample's (wider) intervals."""
    train, pool = world
    test = pool[pool["c1"] == "b"].reset_index(drop=True)
    test.loc[:4, "x1"] = 40.0  # outside the training range: unsupported either way
    full = shift_of(train, test)
    sampled = shift_of(train, test, settings=domain_settings(max_rows=2000))
    n_test = len(test)
    assert full["n_source"] == sampled["n_source"] == 8000 and full["n_test"] == sampled["n_test"] == n_test
    for key, size in (("log_ratio_test", n_test), ("log_a_test", n_test), ("log_a_source", 8000),
                      ("log_b_source", 8000), ("supported", n_test)):
        assert len(sampled[key]) == size
        assert np.all(np.isfinite(sampled[key]))
    assert sampled["shifted"] == full["shifted"]
    for auc in ("auc", "inputs_auc"):  # the sample's AUCs (out of fold): the full fit's in their interval
        assert sampled[f"{auc}_ci_low"] <= full[auc] <= sampled[f"{auc}_ci_high"]
        assert sampled[f"{auc}_ci_high"] - sampled[f"{auc}_ci_low"] > full[f"{auc}_ci_high"] - full[f"{auc}_ci_low"]
    assert max(sampled["feature_auc"], key=sampled["feature_auc"].get) == "c1"
    assert not sampled["supported"][:5].any()
    assert np.mean(sampled["supported"] == full["supported"]) > 0.99
    # the per-row logits are the same function fitted twice (on the train file, where the level
    # of c1 that selected the test rows varies)
    assert np.corrcoef(sampled["log_a_source"], full["log_a_source"])[0, 1] > 0.95


def test_a_cap_above_the_rows_changes_nothing(world):
    train, pool = world
    full = shift_of(train, pool.iloc[:1000].reset_index(drop=True))
    capped = shift_of(train, pool.iloc[:1000].reset_index(drop=True),
                      settings=domain_settings(max_rows=8000 + 1000))
    for key, value in full.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, capped[key])
        else:
            assert value == capped[key]
