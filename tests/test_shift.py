"""Marginal shift statistics and the class mix (shortcut.shift, shortcut.codes): hand-computed
values, the invariances each one claims, the real data and no-shift halves."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shortcut.codes import bin_numeric, code_categorical, cramers_v_from_table, quantile_edges
from shortcut.shift import (
    SHIFT_COLUMNS,
    class_mix,
    psi_from_counts,
    shift_table,
    total_variation,
)

from configs import defaults

TH = defaults("shift", "thresholds")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "airbnb"
needs_data = pytest.mark.skipif(not (DATA / "train.csv").exists(), reason="shared airbnb data not present")
NUM = ["minimum_nights", "amenity_score", "number_of_reviews", "availability_365"]
CAT = ["neighbourhood_group", "room_type"]
TARGET = "price_class"


def test_psi_hand_computed():
    p = np.array([50, 30, 20])
    q = np.array([30, 30, 40])
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + 0 + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi_from_counts(p, q) == pytest.approx(expected)
    assert psi_from_counts(p, p * 3) == pytest.approx(0.0)
    got = psi_from_counts(np.array([10, 0, 0]), np.array([5, 5, 0]))
    exp = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert got == pytest.approx(exp)


def test_quantile_bins_and_missing_bin():
    train = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan], dtype=float)
    edges = quantile_edges(train, n_bins=2)
    assert edges.tolist() == [5.5]
    codes = bin_numeric(np.array([0.0, 5.5, 6.0, np.nan, 100.0]), edges)
    assert codes.tolist() == [0, 0, 1, 2, 1]  # (-inf, 5.5], (5.5, inf), missing
    got = quantile_edges(np.array([1.0] * 8 + [2.0, 3.0]), n_bins=10)
    assert got == pytest.approx([1.0, 1.2, 2.1])


def test_categorical_codes_count_unseen_and_missing():
    tr = pd.Series(["a", "b", None, "a"], name="c")
    te = pd.Series(["b", "z", "z", np.nan], name="c")
    ctr, cte, n, levels = code_categorical(tr, te)
    assert levels == ["a", "b", "z", "<missing>"]
    assert ctr.tolist() == [0, 1, 3, 0] and cte.tolist() == [1, 2, 2, 3]


def test_cramers_v_corrected_is_near_zero_under_independence():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 5000), rng.integers(0, 4, 5000)
    table = np.bincount(a * 4 + b, minlength=20).reshape(5, 4)
    assert cramers_v_from_table(table)[0] < 0.03
    assert cramers_v_from_table(np.diag([100, 100, 100]))[0] == pytest.approx(1.0, abs=0.02)


def test_total_variation_does_not_depend_on_the_files_sizes():
    a, b = np.array([50, 30, 20]), np.array([30, 30, 40])
    assert total_variation(a, b) == pytest.approx(0.2)
    # duplicating one file changes Cramér's V of the file x level table, never TV
    assert total_variation(a, 10 * b) == pytest.approx(0.2)
    v1 = cramers_v_from_table(np.vstack([a, b]), bias_corrected=False)[0]
    v10 = cramers_v_from_table(np.vstack([a, 10 * b]), bias_corrected=False)[0]
    assert abs(v1 - v10) > 0.02


def frame(n, rng, missing=0.0, shift=0.0, level_p=(0.5, 0.3, 0.2)):
    x = rng.normal(shift, 1, n)
    x[rng.random(n) < missing] = np.nan
    return pd.DataFrame({"x": x, "g": rng.choice(["a", "b", "c"], n, p=level_p), "target": rng.integers(0, 2, n)})


def test_missing_cells_are_not_a_shift_of_the_values_but_their_own_statistic():
    rng = np.random.default_rng(1)
    tr, te = frame(20_000, rng, missing=0.05), frame(5000, rng, missing=0.0)
    row = shift_table(tr, te, ["x"], ["g"], TH).set_index("feature").loc["x"]
    assert row["psi"] < 0.01 and not row["shifted"]
    assert row["missing_change"] == pytest.approx(-0.05, abs=0.01)
    assert row["missing_pvalue"] < 1e-6 and row["missing_changed"]
    assert row["flags"] == "missingness"


def test_shift_table_columns_rules_and_flags():
    rng = np.random.default_rng(2)
    tr, te = frame(20_000, rng), frame(5000, rng, shift=0.8, level_p=(0.2, 0.3, 0.5))
    st = shift_table(tr, te, ["x"], ["g"], {**TH, "psi": 0.25})
    assert list(st.columns) == list(SHIFT_COLUMNS)
    x, g = st.set_index("feature").loc["x"], st.set_index("feature").loc["g"]
    assert x["shifted"] and "psi" in x["flags"] and "ks" in x["flags"] and np.isnan(x["tv"])
    assert g["shifted"] and g["tv"] == pytest.approx(0.3, abs=0.03) and "tv" in g["flags"]
    assert "0.25" in x["psi_rule"] and "TV" in g["shifted_rule"]


def test_class_mix_with_intervals_and_its_rule():
    rng = np.random.default_rng(3)
    same = class_mix(rng.integers(0, 3, 5000), rng.integers(0, 3, 2000), 3, TH)
    assert not same["changed"] and same["tv"] < 0.05
    for k in range(3):
        assert same["share_test_ci_low"][k] < same["share_test"][k] < same["share_test_ci_high"][k]
    moved = class_mix(rng.integers(0, 3, 5000), rng.choice(3, 2000, p=[0.6, 0.3, 0.1]), 3, TH)
    assert moved["changed"] and moved["chi2_pvalue"] < 1e-10 and moved["tv"] == pytest.approx(0.27, abs=0.03)
    subset = class_mix(rng.integers(0, 3, 5000), rng.integers(0, 2, 2000), 3, TH)
    assert subset["classes_missing_in_test"] == [2]


def test_deterministic():
    rng = np.random.default_rng(4)
    tr, te = frame(3000, rng, missing=0.02), frame(1000, rng)
    pd.testing.assert_frame_equal(shift_table(tr, te, ["x"], ["g"], TH), shift_table(tr, te, ["x"], ["g"], TH))


@pytest.fixture(scope="module")
def real():
    return pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")


@needs_data
def test_real_data_planted_feature_is_the_only_marginal_shift(real):
    tr, te = real
    st = shift_table(tr, te, NUM, CAT, TH).set_index("feature")
    assert st["psi"].idxmax() == "amenity_score" and st["ks"].idxmax() == "amenity_score"
    assert st.loc["amenity_score", "shifted"]
    assert not st.drop(index="amenity_score")["shifted"].any(), st[["psi", "ks", "tv"]]
    # train has missing cells in every column, test none: that is reported as missingness
    assert st["missing_changed"].all()
    assert not class_mix(tr[TARGET].to_numpy(), te[TARGET].to_numpy(), 4, TH)["changed"]


@needs_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_train_random_halves_show_no_shift(real, seed):
    tr, _ = real
    idx = np.random.default_rng(seed).permutation(len(tr))
    a, b = tr.iloc[idx[: len(tr) // 2]], tr.iloc[idx[len(tr) // 2:]]
    st = shift_table(a, b, NUM, CAT, TH)
    th = TH
    assert (st["psi"] < th["psi"]).all() and (st["ks"].dropna() < th["ks"]).all()
    assert (st["tv"].dropna() < th["tv"]).all()
    assert not st["shifted"].any() and not st["missing_changed"].any()
    assert not class_mix(a[TARGET].to_numpy(), b[TARGET].to_numpy(), 4, TH)["changed"]
