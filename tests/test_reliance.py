"""Reliance: grouped permutation importance with an interval, the rule at F = 2, 6 and 30, groups
of strongly associated features (shortcut.reliance, shortcut.codes.association_groups)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from configs import defaults, train_settings
from shortcut import codes, nn, reliance

MIN_SHARE = defaults("reliance")["min_share_factor"]
MAX_ROWS = defaults("reliance")["max_rows"]


def fitted(X, y, seed):
    model = nn.MLP(X.shape[1], [32], int(y.max()) + 1, "relu", seed=seed, l2=1e-4)
    n = len(y) * 3 // 4
    nn.fit(model, X[:n], y[:n], X[n:], y[n:], train_settings(lr=0.01, epochs=30, patience=5), seed=seed,
           blas_threads=1)
    return model


def importance_of(n_features, informative, seeds=(0, 1, 2), n=4000, groups=()):
    """F standardised numeric features; the first ``informative`` carry the label with decreasing
    weight, the rest are noise. Importance of fitted models on fresh rows, stacked."""
    rng = np.random.default_rng(n_features)
    X = rng.normal(size=(2 * n, n_features)).astype(np.float32)
    w = np.zeros(n_features)
    w[:informative] = np.linspace(2.0, 1.0, informative)
    y = (rng.random(2 * n) < 1 / (1 + np.exp(-(X @ w)))).astype(np.int64)
    names = [f"f{j}" for j in range(n_features)]
    frames = []
    for seed in seeds:
        model = fitted(X[:n], y[:n], seed)
        frames.append(reliance.permutation_importance(model, X[n:], y[n:], names, groups, repeats=3, seed=seed, max_rows=MAX_ROWS)
                      .to_frame().assign(setting="relu", seed=seed))
    return pd.concat(frames, ignore_index=True), names


@pytest.mark.parametrize("n_features,informative", [(2, 1), (6, 2), (30, 3)])
def test_the_rule_finds_the_informative_features_for_2_6_and_30(n_features, informative):
    imp, names = importance_of(n_features, informative)
    table = reliance.reliance_table(imp, min_share_factor=MIN_SHARE).set_index("unit")
    assert table.loc[names[:informative], "relied"].all()
    assert not table.loc[names[informative:], "relied"].any()
    # the floor is half an even split: 0.25, 0.083, 0.017
    assert table["share_floor"].iloc[0] == pytest.approx(0.5 / n_features)
    assert "0.5 / F" in table["rule"].iloc[0]


def test_share_floor_and_interval_on_known_numbers():
    rows = []
    for seed, values in enumerate([[0.5, 0.02, 0.001], [0.6, 0.03, -0.001], [0.05, 0.025, 0.0]]):
        for unit, v in zip(["a", "b", "c"], values):
            for repeat, jitter in enumerate([-0.002, 0.0, 0.002]):
                rows.append({"unit": unit, "kind": "feature", "members": unit, "repeat": repeat,
                             "importance": v + jitter, "base_log_loss": 1.0, "setting": "relu", "seed": seed})
    table = reliance.reliance_table(pd.DataFrame(rows), min_share_factor=MIN_SHARE).set_index("unit")
    # a: relied on by every model, even the one that uses it ten times less (seed 2)
    assert table.loc["a", "relied"] and table.loc["a", "n_relied"] == 3
    # b: clearly above 0 but 0.02 / 0.52 = 4 % < 0.5 / 3 of the total in two of three models
    assert not table.loc["b", "relied"] and table.loc["b", "n_relied"] == 1
    # c: its interval covers 0 in every model
    assert not table.loc["c", "relied"] and table.loc["c", "n_relied"] == 0
    assert table.loc["a", "importance_ci_low"] < table.loc["a", "importance"] < table.loc["a", "importance_ci_high"]
    # with a's importance set aside (its relation broke), b is most of what is left
    aside = reliance.reliance_table(pd.DataFrame(rows), min_share_factor=MIN_SHARE, set_aside={"b": ["a"]}).set_index("unit")
    assert aside.loc["b", "relied"] and aside.loc["b", "share"] > 0.9


def test_a_material_loss_makes_a_small_share_relied_on():
    """Next to a feature that carries six nats, a unit whose permutation costs 0.3 nats has a share
    of 5 %, below 0.5 / 3; with a material loss of 0.05 nats it is relied on, a noise unit is not."""
    rows = []
    for unit, v in [("big", 6.0), ("leak", 0.3), ("noise", 0.0)]:
        for repeat, jitter in enumerate([-0.01, 0.0, 0.01]):
            rows.append({"unit": unit, "kind": "feature", "members": unit, "repeat": repeat,
                         "importance": v + jitter, "base_log_loss": 1.0, "setting": "relu", "seed": 0})
    frame = pd.DataFrame(rows)
    share_only = reliance.reliance_table(frame, min_share_factor=MIN_SHARE).set_index("unit")
    assert not share_only.loc["leak", "relied"]
    table = reliance.reliance_table(frame, min_share_factor=MIN_SHARE, material=0.05).set_index("unit")
    assert table.loc["leak", "relied"] and table.loc["big", "relied"] and not table.loc["noise", "relied"]
    assert "material loss 0.05 nats" in table["rule"].iloc[0]
    # below the material loss and below the share floor: not relied on
    assert not reliance.reliance_table(frame, min_share_factor=MIN_SHARE, material=0.5).set_index("unit").loc["leak", "relied"]


def test_copies_of_one_feature_hide_each_other_but_not_as_a_group():
    rng = np.random.default_rng(4)
    n = 4000
    base = rng.normal(size=2 * n)
    X = np.column_stack([base, base + rng.normal(0, 0.05, 2 * n), rng.normal(size=2 * n)]).astype(np.float32)
    y = (rng.random(2 * n) < 1 / (1 + np.exp(-2.5 * base))).astype(np.int64)
    frame = pd.DataFrame({"a": X[:n, 0], "a_copy": X[:n, 1], "noise": X[:n, 2]})
    groups = codes.association_groups(frame, ["a", "a_copy", "noise"], [], threshold=0.7)
    assert groups == [["a", "a_copy"]]
    model = fitted(X[:n], y[:n], 0)
    imp = reliance.permutation_importance(model, X[n:], y[n:], ["a", "a_copy", "noise"], groups, repeats=3, seed=0,
                                        max_rows=MAX_ROWS).to_frame()
    mean = imp.groupby("unit")["importance"].mean()
    # each copy stands in for the other when it alone is permuted: together they matter more
    # than the two alone added up
    assert mean["a+a_copy"] > 1.3 * (mean["a"] + mean["a_copy"])


def test_one_hot_blocks_are_permuted_together():
    class Recorder:
        def predict_proba(self, X):
            rows = X[:, :3]
            assert np.allclose(rows.sum(axis=1), 1.0)  # a permuted block is still one-hot
            return np.full((len(X), 2), 0.5)

    rng = np.random.default_rng(0)
    levels = rng.integers(0, 3, 200)
    X = np.column_stack([np.eye(3)[levels], rng.normal(size=200)])
    imp = reliance.permutation_importance(Recorder(), X, rng.integers(0, 2, 200), ["c", "c", "c", "x"], (), repeats=2, seed=0,
                                        max_rows=MAX_ROWS).to_frame()
    assert list(imp["unit"].unique()) == ["c", "x"] and np.allclose(imp["importance"], 0.0)


def test_a_large_split_is_measured_on_a_stratified_sample():
    """Above max_rows, every permutation scores a seeded, label-stratified sample of max_rows
    rows (n_rows says so); at or below it, every row."""
    class Recorder:
        sizes = []

        def predict_proba(self, X):
            self.sizes.append(len(X))
            return np.full((len(X), 2), 0.5)

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(1000, 2)), (rng.random(1000) < 0.2).astype(int)
    sampled = reliance.permutation_importance(Recorder(), X, y, ["a", "b"], (), repeats=2, seed=3, max_rows=300).to_frame()
    assert set(Recorder.sizes) == {300} and (sampled["n_rows"] == 300).all()
    Recorder.sizes.clear()
    full = reliance.permutation_importance(Recorder(), X, y, ["a", "b"], (), repeats=2, seed=3, max_rows=1000).to_frame()
    assert set(Recorder.sizes) == {1000} and (full["n_rows"] == 1000).all()
    # the sample keeps the label mix (largest remainder: 60 of class 1 when the share is 0.2)
    from shortcut import stats
    keep = stats.stratified_sample(y, 300, 3)
    assert len(keep) == 300 and abs(y[keep].sum() - 300 * y.mean()) < 1


def test_the_standard_error_is_that_of_the_rows_averaged_over_the_repeats():
    """importance is log loss permuted minus base per repeat; importance_se, on every repeat of the
    unit, is the standard error of the mean over rows of each row's rise averaged over the
    repeats (rows and permutations together)."""
    from shortcut.metrics import log_loss_rows

    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 3)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.normal(size=600) > 0).astype(np.int64)
    model = fitted(X, y, 0)
    imp = reliance.permutation_importance(model, X, y, ["a", "b", "c"], [], repeats=2, seed=1, max_rows=MAX_ROWS).to_frame()
    base = log_loss_rows(y, model.predict_proba(X))
    rng_a = np.random.default_rng([1, 0])
    rises = []
    for _ in range(2):
        work = X.copy()
        work[:, 0] = X[rng_a.permutation(600), 0]
        rises.append(log_loss_rows(y, model.predict_proba(work)) - base)
    a = imp[imp["unit"] == "a"].sort_values("repeat")
    assert a["importance"].tolist() == pytest.approx([r.mean() for r in rises], rel=1e-9)
    mean_rise = np.mean(rises, axis=0)
    assert (a["importance_se"] == a["importance_se"].iloc[0]).all()
    assert a["importance_se"].iloc[0] == pytest.approx(mean_rise.std(ddof=1) / np.sqrt(600), rel=1e-9)


def test_a_noise_feature_pinned_down_by_repeats_is_not_relied_on_once_the_rows_count():
    """Repeats permute the same validation rows: a noise feature whose value on this sample is a
    small positive number has tight repeats. With the rows' standard error in the interval it is
    not relied on; the repeats alone would call it relied on."""
    rows = []
    for seed in range(3):
        for unit, v, se in [("signal", 0.30, 0.01), ("noise", 0.12, 0.07)]:
            for repeat, jitter in enumerate([-0.0005, 0.0, 0.0005]):
                rows.append({"unit": unit, "kind": "feature", "members": unit, "repeat": repeat,
                             "importance": v + jitter, "importance_se": se, "base_log_loss": 1.0, "n_rows": 400,
                             "setting": "relu", "seed": seed})
    frame = pd.DataFrame(rows)
    with_rows = reliance.reliance_table(frame, min_share_factor=MIN_SHARE).set_index("unit")
    repeats_only = reliance.reliance_table(frame.drop(columns="importance_se"),
                                           min_share_factor=MIN_SHARE).set_index("unit")
    assert with_rows.loc["signal", "relied"] and repeats_only.loc["signal", "relied"]
    assert repeats_only.loc["noise", "relied"] and not with_rows.loc["noise", "relied"]
    assert "validation rows" in with_rows["rule"].iloc[0]


def test_a_clear_reliance_is_not_lost_to_the_few_degrees_of_freedom_of_the_repeats():
    """The numbers of a planted leak in the calibration study (Titanic, 131 validation rows, three
    repeats of 0.30, 0.10 and 0.13 nats, the rows' standard error of their mean 0.043): the rows'
    interval (130 degrees of freedom) is above 0, so the leak is relied on. The interval this
    replaced added the repeats' spread to one repeat's rows' error (counting the permutation noise
    twice) with Welch degrees of freedom dominated by the three repeats: its bound fell below 0 and
    a leak that broke on test was "not relied on"."""
    values, se, n = [0.30, 0.10, 0.13], 0.043, 131
    rows = [{"unit": u, "kind": "feature", "members": u, "repeat": r, "importance": v,
             "importance_se": e, "base_log_loss": 0.38, "n_rows": n, "setting": "relu", "seed": 0}
            for u, vs, e in [("leak", values, se), ("sex", [0.33, 0.335, 0.34], 0.05)]
            for r, v in enumerate(vs)]
    table = reliance.reliance_table(pd.DataFrame(rows), min_share_factor=MIN_SHARE).set_index("unit")
    assert table.loc["leak", "relied"] and table.loc["sex", "relied"]
    from shortcut import stats
    a, b = np.var(values, ddof=1) / 3, 3 * se ** 2  # the repeats' part, one repeat's rows' part
    df = (a + b) ** 2 / (a ** 2 / 2 + b ** 2 / (n - 1))
    assert np.mean(values) - stats.t_quantile(df) * np.sqrt(a + b) < 0
