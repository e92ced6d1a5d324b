"""Tests of shortcut.diagnose: no suspect without a shortcut, planted shortcuts found."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shortcut.diagnose import DEFAULT_THRESHOLDS, diagnose, verdict_table
from shortcut.io import to_json_text
from shortcut.shift import shift_table

DATA = Path("/work/shared/data/airbnb")


def _saliency(shares_val: dict, shares_test: dict | None = None, method=None) -> pd.DataFrame:
    rows = []
    for split, shares in (("validation", shares_val), ("test", shares_test or shares_val)):
        order = sorted(shares, key=lambda f: -shares[f])
        for f, s in shares.items():
            rows.append({"feature": f, "split": split, "share": s, "rank": order.index(f) + 1})
    df = pd.DataFrame(rows)
    if method:
        df.insert(0, "method", method)
    return df


def _shift_row(feature, kind="numeric", shifted=False, nmi=(0.1, 0.1), acc=(0.5, 0.5), psi=0.01):
    return {
        "feature": feature, "kind": kind, "shifted": shifted,
        "ks": 0.3 if (shifted and kind == "numeric") else (0.01 if kind == "numeric" else np.nan),
        "psi": psi if not shifted else max(psi, 0.4),
        "cramers_v": np.nan if kind == "numeric" else (0.3 if shifted else 0.01),
        "nmi_train": nmi[0], "nmi_test": nmi[1], "nmi_drop": nmi[0] - nmi[1],
        "onefeat_acc_train": acc[0], "onefeat_acc_test": acc[1], "onefeat_drop": acc[0] - acc[1],
        "flags": "", "shifted_rule": "shifted if PSI >= 0.25 or KS >= 0.1",
    }


# ------------------------------------------------------------------ direct tables
def test_planted_shortcut_in_other_shape_is_found():
    # 3 classes, 5 numeric + 1 categorical; the shortcut lives in "sensor_q"
    shift = pd.DataFrame([
        _shift_row("temp"), _shift_row("pressure"),
        _shift_row("sensor_q", shifted=True, nmi=(0.55, 0.01), acc=(0.90, 0.35)),
        _shift_row("humidity", shifted=True),  # shifted but association intact
        _shift_row("wind"),
        _shift_row("site", kind="categorical"),
    ])
    sal = _saliency({"temp": 0.1, "pressure": 0.05, "sensor_q": 0.6, "humidity": 0.1, "wind": 0.05,
                     "site": 0.1})
    res = diagnose(sal, shift, None)
    assert res["suspects"] == ["sensor_q"]
    ev = res["evidence"]["sensor_q"]
    assert ev["relies"] and ev["assoc_dropped"] and ev["shifted"] and ev["suspect"]
    assert ev["share_validation"] == pytest.approx(0.6) and ev["rank_validation"] == 1
    assert ev["nmi_drop"] == pytest.approx(0.54) and ev["onefeat_drop"] == pytest.approx(0.55)
    assert not res["evidence"]["humidity"]["suspect"]
    assert res["evidence"]["humidity"]["reading"].startswith("changed but not relied on")
    assert "sensor_q" in res["summary"] and res["summary"].startswith("1 shortcut suspect")
    assert set(res["rules"]) == {"relies", "assoc_dropped", "shifted", "suspect"}
    assert res["thresholds"] == DEFAULT_THRESHOLDS
    to_json_text(res)  # serialisable as the pipeline's JSON output


def test_no_shortcut_gives_no_suspect():
    shift = pd.DataFrame([_shift_row(f) for f in ("a", "b", "c")]
                         + [_shift_row("d", kind="categorical")])
    # the model leans hard on "a", but nothing changed between train and test
    res = diagnose(_saliency({"a": 0.7, "b": 0.1, "c": 0.1, "d": 0.1}), shift)
    assert res["suspects"] == []
    assert res["summary"].startswith("No shortcut suspect")
    assert res["evidence"]["a"]["reading"] == "relied on, stable: genuine signal"


def _evidence_without(missing: str):
    """Saliency and shift tables in which feature x lacks one piece of evidence."""
    x = dict(shifted=missing != "shifted",
             nmi=(0.5, 0.5) if missing == "assoc_dropped" else (0.5, 0.0),
             acc=(0.8, 0.8) if missing == "assoc_dropped" else (0.8, 0.3))
    shift = pd.DataFrame([_shift_row("x", **x), _shift_row("y"), _shift_row("z")])
    share_x = 0.1 if missing == "relies" else 0.8
    sal = _saliency({"x": share_x, "y": 0.6 - share_x / 2 if missing == "relies" else 0.1,
                     "z": 0.3 if missing == "relies" else 0.1})
    return sal, shift


@pytest.mark.parametrize("missing", ["relies", "assoc_dropped", "shifted"])
def test_with_require_shift_all_three_pieces_of_evidence_are_needed(missing):
    res = diagnose(*_evidence_without(missing), {"require_shift": True})
    assert res["suspects"] == []
    assert res["evidence"]["x"]["n_pass"] == 2
    assert "Two of three: x" in res["summary"]
    if missing == "shifted":
        assert res["evidence"]["x"]["reading"].startswith("shortcut (concept shift)")


@pytest.mark.parametrize("missing", ["relies", "assoc_dropped"])
def test_reliance_and_a_broken_association_are_both_needed(missing):
    assert diagnose(*_evidence_without(missing))["suspects"] == []


def test_a_shortcut_with_an_unchanged_marginal_is_found_by_default():
    """Concept shift: the label link breaks on test while PSI and KS see nothing."""
    shift = pd.DataFrame([_shift_row("x", shifted=False, nmi=(0.5, 0.0), acc=(0.9, 0.3)),
                          _shift_row("y"), _shift_row("z")])
    res = diagnose(_saliency({"x": 0.8, "y": 0.1, "z": 0.1}), shift)
    assert res["suspects"] == ["x"]
    assert res["evidence"]["x"]["reading"].startswith("shortcut (concept shift)")


def test_reliance_rule_share_or_lifted_rank1():
    names = [f"f{i:02d}" for i in range(20)]
    drop = dict(shifted=True, nmi=(0.4, 0.0), acc=(0.8, 0.3))
    shift = pd.DataFrame([_shift_row(n, **drop) for n in names])
    # wide model: top share 0.12 >= 2 / 20 -> relied on; runner-up 0.08 < 0.30 -> not
    shares = {n: (0.88 - 0.12 - 0.08) / 18 for n in names}
    shares["f00"], shares["f01"] = 0.12, 0.08
    res = diagnose(_saliency(shares), shift)
    assert res["suspects"] == ["f00"]
    # top feature with only 0.09 (< 2/20, < 0.30) is not enough
    shares["f00"], shares["f01"] = 0.09, 0.08
    assert diagnose(_saliency(shares), shift)["suspects"] == []
    # a rank-2 feature with share >= 0.30 is relied on too; suspects ordered by share
    two = {n: 0.0 for n in names}
    two.update({"f00": 0.45, "f01": 0.35, "f02": 0.2})
    res = diagnose(_saliency(two), shift)
    assert res["suspects"] == ["f00", "f01"]
    # thresholds are honoured
    assert diagnose(_saliency(two), shift, {"share_min": 0.5, "rank1_lift": 10})["suspects"] == []


def test_reliance_judged_on_validation_split_by_default():
    shift = pd.DataFrame([_shift_row("x", shifted=True, nmi=(0.5, 0.0), acc=(0.9, 0.3)),
                          _shift_row("y"), _shift_row("z")])
    sal = _saliency({"x": 0.1, "y": 0.5, "z": 0.4}, {"x": 0.8, "y": 0.1, "z": 0.1})
    assert diagnose(sal, shift)["suspects"] == []
    assert diagnose(sal, shift, reliance_split="test")["suspects"] == ["x"]
    with pytest.raises(ValueError):
        diagnose(sal, shift, reliance_split="val")
    with pytest.raises(ValueError):
        diagnose(sal, shift, {"no_such_threshold": 1})


def test_seed_rows_are_averaged_and_method_is_selected():
    shift = pd.DataFrame([_shift_row("x", shifted=True, nmi=(0.5, 0.0), acc=(0.9, 0.3)),
                          _shift_row("y")])
    seeds = []
    for seed, sx in enumerate([0.5, 0.7]):  # mean 0.6
        d = _saliency({"x": sx, "y": 1 - sx})
        d["seed"] = seed
        seeds.append(d)
    ig = pd.concat(seeds).assign(method="integrated_gradients")
    grad = _saliency({"x": 0.05, "y": 0.95}).assign(method="loss_gradient")
    sal = pd.concat([ig, grad], ignore_index=True)
    res = diagnose(sal, shift)
    assert res["method"] == "integrated_gradients"
    assert res["evidence"]["x"]["share_validation"] == pytest.approx(0.6)
    assert res["evidence"]["x"]["share_sd_validation"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert res["suspects"] == ["x"]
    assert diagnose(sal, shift, method="loss_gradient")["suspects"] == []


def test_verdict_table_is_readable():
    shift = pd.DataFrame([_shift_row("a"), _shift_row("k", shifted=True, nmi=(0.5, 0.0), acc=(0.9, 0.3)),
                          _shift_row("c", kind="categorical")])
    res = diagnose(_saliency({"a": 0.2, "k": 0.7, "c": 0.1}), shift)
    vt = verdict_table(res)
    assert vt["feature"].tolist()[0] == "k" and len(vt) == 3
    for col in ("share_validation", "rank_validation", "share_test", "relies", "nmi_train", "nmi_test",
                "nmi_drop", "onefeat_acc_train", "onefeat_acc_test", "onefeat_drop", "assoc_dropped",
                "psi", "ks", "cramers_v", "shifted", "suspect", "reading"):
        assert col in vt.columns, col
    k = vt.set_index("feature").loc["k"]
    assert (k["relies"], k["assoc_dropped"], k["shifted"], k["suspect"]) == ("pass", "pass", "pass", "SUSPECT")
    assert set(vt["relies"]) <= {"pass", "fail"}
    assert vt.set_index("feature").loc["a", "suspect"] == "no"


# ------------------------------------------------------------------ end to end via shift_table
def _make(n, rng, leak_breaks: bool):
    """3 classes; 5 numeric + 1 categorical; 'q7' carries the label in train only (if asked)."""
    y = rng.integers(0, 3, n)
    df = pd.DataFrame({f"n{i}": rng.normal(size=n) + (0.4 * y if i == 0 else 0) for i in range(4)})
    df["q7"] = (rng.uniform(-1, 3, n) if leak_breaks else y + rng.normal(scale=0.25, size=n))
    df["zone"] = np.array(["east", "west", "north"], dtype=object)[(y + (rng.random(n) < 0.5)) % 3]
    df["label"] = y
    return df


NUMERIC = ["n0", "n1", "n2", "n3", "q7"]
CATEGORICAL = ["zone"]
SHARES = {"q7": 0.55, "zone": 0.2, "n0": 0.15, "n1": 0.04, "n2": 0.03, "n3": 0.03}


def test_end_to_end_synthetic_shortcut_found():
    rng = np.random.default_rng(11)
    train = _make(5000, rng, leak_breaks=False)
    test = _make(2000, rng, leak_breaks=True)
    st = shift_table(train, test, NUMERIC, CATEGORICAL, "label")
    res = diagnose(_saliency(SHARES), st)
    assert res["suspects"] == ["q7"], verdict_table(res)
    assert res["evidence"]["q7"]["kind"] == "numeric"
    assert not res["evidence"]["zone"]["suspect"]


def test_end_to_end_no_shift_no_suspect():
    rng = np.random.default_rng(12)
    train = _make(5000, rng, leak_breaks=False)
    test = _make(2000, rng, leak_breaks=False)
    st = shift_table(train, test, NUMERIC, CATEGORICAL, "label")
    res = diagnose(_saliency(SHARES), st)  # same heavy reliance on q7, but q7 still works
    assert res["suspects"] == []
    assert res["evidence"]["q7"]["reading"] == "relied on, stable: genuine signal"


# ------------------------------------------------------------------ the real data's shift table
@pytest.mark.skipif(not (DATA / "train.csv").exists(), reason="shared airbnb data not present")
def test_real_shift_table_with_hypothetical_saliency():
    train, test = pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "test.csv")
    num = ["minimum_nights", "amenity_score", "number_of_reviews", "availability_365"]
    cat = ["neighbourhood_group", "room_type"]
    st = shift_table(train, test, num, cat, "price_class")
    feats = num + cat
    # a model that leans on the planted feature -> it is the one suspect
    leaning = {f: 0.05 for f in feats}
    leaning["amenity_score"] = 0.6
    leaning["room_type"] = 0.15
    assert diagnose(_saliency(leaning), st)["suspects"] == ["amenity_score"]
    # a model that ignores it (e.g. trained without it) -> no suspect
    ignoring = {f: 0.15 for f in feats}
    ignoring["amenity_score"] = 0.0
    ignoring["room_type"] = 0.4
    res = diagnose(_saliency(ignoring), st)
    assert res["suspects"] == [] and res["summary"].startswith("No shortcut suspect")
