"""Tests of shortcut.shift: hand-computed statistics, the real data, and no-shift halves."""

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from shortcut.shift import (
    DEFAULT_THRESHOLDS,
    SHIFT_COLUMNS,
    bin_numeric,
    code_categorical,
    cramers_v_from_table,
    label_drift,
    nmi_from_table,
    one_feature_classifier,
    psi_from_counts,
    quantile_edges,
    shift_table,
)

DATA = Path("/work/shared/data/airbnb")
needs_data = pytest.mark.skipif(
    not (DATA / "train.csv").exists() or not (DATA / "test.csv").exists(),
    reason="shared airbnb data not present",
)
# Feature lists of the motivating data set: used only by the tests that read it.
NUM = ["minimum_nights", "amenity_score", "number_of_reviews", "availability_365"]
CAT = ["neighbourhood_group", "room_type"]
TARGET = "price_class"


# --------------------------------------------------------------------- building blocks


def test_psi_hand_computed():
    p = np.array([50, 30, 20])
    q = np.array([30, 30, 40])
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + 0 + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi_from_counts(p, q) == pytest.approx(expected)
    assert psi_from_counts(p, p * 3) == pytest.approx(0.0)
    # empty bin on one side uses eps = 1e-4; empty on both sides contributes 0
    got = psi_from_counts(np.array([10, 0, 0]), np.array([5, 5, 0]))
    exp = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert got == pytest.approx(exp)


def test_quantile_bins_and_missing_bin():
    train = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, np.nan], dtype=float)
    edges = quantile_edges(train, n_bins=2)
    assert edges.tolist() == [5.5]
    codes = bin_numeric(np.array([0.0, 5.5, 6.0, np.nan, 100.0]), edges)
    assert codes.tolist() == [0, 0, 1, 2, 1]  # (-inf, 5.5], (5.5, inf), missing
    # ties collapse duplicate edges
    # (linear interpolation at positions 9q: q = .1-.7 -> 1.0, q = .8 -> 1.2, q = .9 -> 2.1)
    got = quantile_edges(np.array([1.0] * 8 + [2.0, 3.0]), n_bins=10)
    assert got == pytest.approx([1.0, 1.2, 2.1])


def test_categorical_codes_count_unseen_and_missing():
    tr = pd.Series(["a", "b", None, "a"], name="c")
    te = pd.Series(["b", "z", "z", np.nan], name="c")
    ctr, cte, n, levels = code_categorical(tr, te)
    assert levels == ["a", "b", "z", "<missing>"]
    assert ctr.tolist() == [0, 1, 3, 0] and cte.tolist() == [1, 2, 2, 3]
    # pandas categoricals with different category sets work too
    ctr2, cte2, n2, _ = code_categorical(tr.astype("category"), te.astype("category"))
    assert n2 == n and ctr2.tolist() == ctr.tolist() and cte2.tolist() == cte.tolist()


def test_cramers_v_plain_and_corrected():
    t = np.array([[30, 10], [10, 30]])
    chi2 = stats.chi2_contingency(t, correction=False)[0]
    v, c, p = cramers_v_from_table(t, bias_corrected=False)
    assert c == pytest.approx(chi2) and v == pytest.approx(math.sqrt(chi2 / 80))
    vc, _, _ = cramers_v_from_table(t, bias_corrected=True)
    phi2c = chi2 / 80 - 1 / 79
    kc = 2 - 1 / 79
    assert vc == pytest.approx(math.sqrt(phi2c / (kc - 1)))
    # identical rows -> 0, and empty columns are ignored
    assert cramers_v_from_table(np.array([[5, 5, 0], [10, 10, 0]]))[0] == 0.0


def test_nmi_and_one_feature_classifier():
    assert nmi_from_table(np.array([[10, 0], [0, 10]])) == pytest.approx(1.0)
    assert nmi_from_table(np.array([[10, 10], [5, 5]])) == pytest.approx(0.0, abs=1e-12)
    assert nmi_from_table(np.array([[10, 10], [0, 0]])) == 0.0  # constant feature
    pred = one_feature_classifier(np.array([[3, 5, 0], [4, 4, 1], [0, 0, 0], [0, 1, 9]]))
    # bin 1 tie -> lowest label; empty bin 2 -> overall majority (totals 7, 10, 10: tie -> 1)
    assert pred.tolist() == [1, 0, 1, 2]


def test_label_drift():
    same = label_drift(np.repeat([0, 1, 2], [30, 50, 20]), np.repeat([0, 1, 2], [3, 5, 2]))
    assert same["psi"] == pytest.approx(0.0) and not same["drifted"]
    moved = label_drift(np.repeat([0, 1], [80, 20]), np.repeat([0, 1], [20, 80]))
    assert moved["drifted"] and moved["psi"] > 1 and moved["chi2_pvalue"] < 1e-10
    assert moved["rule"] == "label drift if PSI >= 0.1"


# --------------------------------------------------------------------- the table, synthetic


def _synthetic(n, rng, shortcut_in_test=False):
    y = rng.integers(0, 3, n)
    df = pd.DataFrame(
        {
            "u": rng.normal(size=n) + 0.3 * y,  # weak, stable signal
            "leak": (y + rng.normal(scale=0.2, size=n)) if not shortcut_in_test
            else rng.uniform(-0.5, 2.5, n),
            "g": np.where(rng.random(n) < 0.5, "p", "q"),
            "t": y,
        }
    )
    return df


def test_shift_table_columns_rules_and_flags():
    rng = np.random.default_rng(0)
    tr = _synthetic(6000, rng)
    te = _synthetic(3000, rng, shortcut_in_test=True)
    st = shift_table(tr, te, ["u", "leak"], ["g"], "t")
    assert list(st.columns) == SHIFT_COLUMNS
    assert st["feature"].tolist() == ["u", "leak", "g"]
    assert st["kind"].tolist() == ["numeric", "numeric", "categorical"]
    row = st.set_index("feature")
    assert row.loc["leak", "shifted"] and row.loc["leak", "assoc_dropped"]
    assert row.loc["leak", "onefeat_acc_train"] > 0.9 and row.loc["leak", "onefeat_drop"] > 0.4
    assert not row.loc["u", "shifted"] and not row.loc["u", "assoc_dropped"]
    assert not row.loc["g", "shifted"] and row.loc["g", "flags"] == ""
    assert math.isnan(row.loc["g", "ks"]) and math.isnan(row.loc["u", "cramers_v"])
    assert row.loc["leak", "psi_rule"] == "shifted if PSI >= 0.25"
    assert row.loc["u", "ks_rule"] == "shifted if KS >= 0.1"
    assert "Cramer's V >= 0.1" in row.loc["g", "cramers_v_rule"]
    # thresholds override the defaults, and the rule text follows
    st2 = shift_table(tr, te, ["u", "leak"], ["g"], "t", {"psi": 100.0, "ks": 100.0,
                                                           "nmi_drop": 100.0, "onefeat_drop": 100.0})
    assert not st2["shifted"].any() and not st2["assoc_dropped"].any()
    assert st2.loc[0, "psi_rule"] == "shifted if PSI >= 100"
    assert DEFAULT_THRESHOLDS["psi"] == 0.25  # defaults unchanged by the override


def test_categorical_shift_detected_by_psi_and_v():
    n = 4000
    tr = pd.DataFrame({"c": np.where(np.arange(n) % 4 == 0, "x", "y"), "t": np.arange(n) % 2})
    te = pd.DataFrame({"c": np.where(np.arange(n) % 4 == 0, "y", "x"), "t": np.arange(n) % 2})
    row = shift_table(tr, te, [], ["c"], "t").iloc[0]
    assert row["shifted"] and row["cramers_v"] > 0.4 and row["psi"] > 0.25
    assert "cramers_v" in row["flags"] and "psi" in row["flags"]


def test_deterministic_and_read_only_inputs():
    rng = np.random.default_rng(1)
    tr, te = _synthetic(2000, rng), _synthetic(1000, rng)
    for df in (tr, te):
        for c in ("u", "leak"):
            arr = df[c].to_numpy().copy()
            arr.flags.writeable = False
            df[c] = arr
    a = shift_table(tr, te, ["u", "leak"], ["g"], "t")
    b = shift_table(tr, te, ["u", "leak"], ["g"], "t")
    pd.testing.assert_frame_equal(a, b)


def test_missing_target_rejected():
    tr = pd.DataFrame({"x": [1.0, 2.0], "t": [0, np.nan]})
    with pytest.raises(ValueError):
        shift_table(tr, tr, ["x"], [], "t")


def test_scales_to_a_million_rows():
    rng = np.random.default_rng(2)
    n = 1_000_000
    y = rng.integers(0, 4, n)
    levels = np.array(["a", "b", "c", "d", "e"], dtype=object)
    tr = pd.DataFrame({"x": rng.normal(size=n) + y, "c": levels[rng.integers(0, 5, n)], "t": y})
    te = tr.iloc[: n // 4]
    t0 = time.perf_counter()
    st = shift_table(tr, te, ["x"], ["c"], "t")
    elapsed = time.perf_counter() - t0
    assert not st["shifted"].any()
    assert elapsed < 15, f"shift_table took {elapsed:.1f}s on 1M rows"


# --------------------------------------------------------------------- the real data


@pytest.fixture(scope="module")
def real():
    return pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")


@needs_data
def test_real_data_planted_feature_dominates(real):
    tr, te = real
    st = shift_table(tr, te, NUM, CAT, TARGET).set_index("feature")
    planted = "amenity_score"
    for stat in ("ks", "psi", "nmi_drop", "onefeat_drop"):
        col = st[stat].dropna()
        assert col.idxmax() == planted, (stat, col.to_dict())
    assert st.loc[planted, "shifted"] and st.loc[planted, "assoc_dropped"]
    others = st.drop(index=planted)
    assert not others["assoc_dropped"].any()
    assert not others["shifted"].any(), others[["psi", "ks", "cramers_v"]]
    assert not label_drift(tr[TARGET], te[TARGET])["drifted"]


@needs_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_train_random_halves_show_no_shift(real, seed):
    tr, _ = real
    idx = np.random.default_rng(seed).permutation(len(tr))
    half = len(tr) // 2
    a, b = tr.iloc[idx[:half]], tr.iloc[idx[half:]]
    st = shift_table(a, b, NUM, CAT, TARGET)
    th = DEFAULT_THRESHOLDS
    assert (st["psi"] < th["psi"]).all()
    assert (st["ks"].dropna() < th["ks"]).all()
    assert (st["cramers_v"].dropna() < th["cramers_v"]).all()
    assert (st["nmi_drop"] < th["nmi_drop"]).all()
    assert (st["onefeat_drop"] < th["onefeat_drop"]).all()
    assert not st["shifted"].any() and not st["assoc_dropped"].any()
    assert (st["flags"] == "").all()
    assert not label_drift(a[TARGET], b[TARGET])["drifted"]
