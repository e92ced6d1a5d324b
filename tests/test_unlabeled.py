"""The label-free statistics (shortcut.unlabeled) on synthetic data, no workflow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from configs import validated

from shortcut import unlabeled


def settings(**over) -> unlabeled.LabelFreeSettings:
    cfg = validated({})
    s = unlabeled.LabelFreeSettings.from_config(cfg["shift"], cfg["diagnose"], cfg["unlabeled"])
    return unlabeled.LabelFreeSettings(**{**s.__dict__, **over})


def gaussian_classes(n, mix, rng, shift=0.0):
    """Two features; class k centred at (k, -k) with unit noise: P(X | Y) fixed."""
    y = rng.choice(len(mix), size=n, p=mix)
    X = np.column_stack([y + rng.normal(size=n), -y + rng.normal(size=n) + shift])
    return X, y


def bayes_proba(X, means, prior):
    d = -0.5 * ((X[:, None, 0] - means[None, :, 0]) ** 2 + (X[:, None, 1] - means[None, :, 1]) ** 2)
    p = np.exp(d) * prior[None, :]
    return p / p.sum(axis=1, keepdims=True)


def test_the_class_mix_from_predictions_covers_a_pure_label_shift():
    rng = np.random.default_rng(0)
    train = np.array([0.5, 0.3, 0.2])
    means = np.array([[k, -k] for k in range(3)], dtype=float)
    hits, widths = [], []
    for seed in range(8):
        r = np.random.default_rng(seed)
        Xv, yv = gaussian_classes(3000, train, r)
        true = r.dirichlet(np.ones(3) * 4)
        Xt, yt = gaussian_classes(3000, true, r)
        pv, pt = bayes_proba(Xv, means, train), bayes_proba(Xt, means, train)
        m = unlabeled.class_mix(pv, yv, (pv.argmax(1) == yv).astype(float), pt, 3, n_boot=200, seed=seed)
        observed = np.bincount(yt, minlength=3) / len(yt)
        hits.append(np.all((np.array(m["ci_low"]) <= observed) & (observed <= np.array(m["ci_high"]))))
        widths.append(np.max(np.array(m["ci_high"]) - np.array(m["ci_low"])))
        assert np.isfinite(m["min_singular"]) and m["min_singular"] > 0.1
    assert np.mean(hits) >= 0.75 and np.mean(widths) < 0.15, (hits, widths)
    del rng


def test_an_unchanged_mix_has_not_moved_and_a_large_change_has():
    r = np.random.default_rng(3)
    train = np.array([0.5, 0.3, 0.2])
    means = np.array([[k, -k] for k in range(3)], dtype=float)
    Xv, yv = gaussian_classes(3000, train, r)
    pv = bayes_proba(Xv, means, train)
    s = settings()
    same = unlabeled.class_mix(pv, yv, np.ones(len(yv)), bayes_proba(gaussian_classes(3000, train, r)[0], means, train),
                               3, n_boot=200, seed=0)
    moved = unlabeled.class_mix(pv, yv, np.ones(len(yv)),
                                bayes_proba(gaussian_classes(3000, np.array([0.1, 0.3, 0.6]), r)[0], means, train),
                                3, n_boot=200, seed=0)
    for m in (same, moved):
        m["estimable"] = True
    assert not unlabeled.mix_moved(same, s) and unlabeled.mix_moved(moved, s)


def test_labels_needed_is_the_power_formula():
    # (z_0.95 + z_0.8)^2 = (1.6449 + 0.8416)^2 = 6.183; sd / margin = 10 -> 618.3 -> 619
    assert unlabeled.labels_needed(1.0, 0.1, 0.05, 0.8) == 619
    assert unlabeled.labels_needed(float("nan"), 0.1, 0.05, 0.8) is None
    assert unlabeled.labels_needed(1.0, 0.0, 0.05, 0.8) is None


def test_rejection_sampling_keeps_rows_in_proportion_to_their_weights():
    w = np.repeat([1.0, 0.25], 20000)
    kept = unlabeled.resample_rows(w, seed=0)
    assert abs((kept < 20000).sum() / 20000 - 1.0) < 1e-9
    assert abs((kept >= 20000).sum() / 20000 - 0.25) < 0.02
    assert len(np.unique(kept)) == len(kept)


def test_importance_weighting_reproduces_the_accuracy_on_the_shifted_rows():
    """Accuracy falls with x; the test rows sit at larger x. With the true density ratio the
    weighted validation accuracy matches the test accuracy."""
    r = np.random.default_rng(1)
    x_val, x_test = r.normal(0, 1, 20000), r.normal(1, 1, 20000)
    correct = lambda x: (r.random(len(x)) < 1 / (1 + np.exp(x))).astype(float)  # noqa: E731
    log_ratio = x_val - 0.5  # log N(1, 1) / N(0, 1)
    iw = unlabeled.importance_weighted_accuracy(correct(x_val), log_ratio, n_boot=200, seed=0)
    target = correct(x_test).mean()
    assert iw["ci_low"] - 0.01 <= target <= iw["ci_high"] + 0.01 and iw["ess"] < 20000


def _result(units, moved_mix=False, inputs_moved=False):
    mix = {"train_share": [0.5, 0.5], "share": [0.5, 0.5], "ci_low": [0.45, 0.45], "ci_high": [0.55, 0.55],
           "tv": 0.0, "tv_ci_low": 0.0, "min_singular": 0.5, "estimable": True, "moved": moved_mix,
           "acc_expected": 0.8, "acc_expected_ci_low": 0.78, "acc_expected_ci_high": 0.82, "recall_val": [0.8, 0.8]}
    auc = {"auc": 0.5, "ci_low": 0.49, "ci_high": 0.51}
    return {"mix": mix, "units": units, "inputs": {"auc": auc, "auc_mix": auc, "moved": inputs_moved, "features": {}},
            "support": {"share": 0.0, "ci_low": 0.0, "ci_high": 0.01, "n_test": 100},
            "expected": {"importance": {"acc": 0.8, "ci_low": 0.78, "ci_high": 0.82, "ess": 50.0}, "acc_val": 0.8}}


def _unit(name, **flags):
    base = {"unit": name, "kind": "feature", "members": name, "relied": True, "importance": 0.3, "share": 0.5,
            "auc_plain": 0.7, "auc_plain_ci_low": 0.68, "auc_plain_ci_high": 0.72, "auc_mix": 0.7,
            "auc_mix_ci_low": 0.68, "auc_mix_ci_high": 0.72, "mix_estimable": True, "rest_auc": 0.6,
            "rest_auc_ci_high": 0.61, "rest_auc_plain": 0.5, "rest_auc_plain_ci_low": 0.49, "moved": False, "selection": False, "suspect": False,
            "margin": 0.05, "loss_sd": 0.5, "labels_needed": 619.0}
    return {**base, **flags}


@pytest.mark.parametrize("units, mix, inputs, kind, start", [
    ([_unit("leak", moved=True, suspect=True)], False, False, "suspect unconfirmed",
     "Suspect, unconfirmed without labels: `leak` — the models rely on it and its distribution moved ("),
    ([_unit("room", moved=True, selection=True)], True, True, "inputs moved",
     "Inputs unlike the training rows: the test rows are a selection on `room`"),
    ([_unit("a")], True, False, "class mix moved", "The class mix moved ("),
    ([_unit("a")], False, True, "inputs moved", "Inputs unlike the training rows: "),
    ([_unit("a")], False, False, "no sign of trouble", "No sign of trouble in the inputs."),
])
def test_the_headline_of_every_case_and_never_no_shortcut(units, mix, inputs, kind, start):
    a = unlabeled.answer(_result(units, mix, inputs), ["leak", "room", "a"], ["no", "yes"], settings(), "label")
    assert a["kind"] == kind and a["headline"].startswith(start), a["headline"]
    text = " ".join([a["headline"], *a["sentences"]]).lower()
    assert "no shortcut" not in text and "p(y | x) holds" in text
    assert unlabeled.LIMIT in a["sentences"]
    if kind == "suspect unconfirmed":
        assert a["remedies"] == ["drop-leak"] and "619 labelled test rows" in " ".join(a["sentences"])
    else:
        assert a["remedies"] == []


def test_the_final_answer_matches_the_answer_schema():
    import json

    from conftest import ROOT
    from shortcut import answer as answers

    result = _result([_unit("leak", moved=True, suspect=True)])
    verdict = unlabeled.answer(result, ["leak"], ["no", "yes"], settings(), "label")
    summary = unlabeled.summary({**result, "n_test": 100, "n_source_rows": 200}, verdict, settings())
    final = unlabeled.final_answer(summary, {"drop-leak": {"rows": 100, "differ": 7}}, version="1.0.0")
    answers.check(final, json.loads((ROOT / "workflow/schemas/answer.schema.json").read_text()))
    assert final["label_free"]["predictions_differ"] == {"drop-leak": 7} and final["confirmed"] == []
    assert "another class for 7 of 100 test rows" in final["text"]
    frame = unlabeled.unit_frame(result)
    assert list(frame.columns) == list(unlabeled.UNIT_COLUMNS) and isinstance(frame, pd.DataFrame)


def test_a_test_file_has_labels_unless_its_target_column_is_absent_or_empty_in_every_row(tmp_path):
    from shortcut import files

    cases = {
        "no column": ("a,b\n1,2\n3,4\n", False),
        "every label empty or a null spelling": ("a,y\n1,\n2,NA\n3, \n", False),
        "labels": ("a,y\n1,0\n2,1\n", True),
        "a gap after the first row": ("a,y\n1,0\n2,\n", True),
        "the first row empty, a later one labelled": ("a,y\n1,\n2,1\n", True),
        "a byte-order mark before the header": ("\ufeffa,y\n1,\n", False),
    }
    for name, (text, expected) in cases.items():
        path = tmp_path / f"{len(name)}.csv"
        path.write_text(text, encoding="utf-8")
        assert files.has_labels(path, "y", "utf-8") is expected, name
    assert files.has_labels(tmp_path / "missing.csv", "y", "utf-8") is True  # the clean job says why


def test_a_cell_empty_only_in_test_is_no_move_of_its_feature():
    """Feature a is empty in half of the test rows (never in training) and filled with its median:
    a spike no training row has, which the domain classifier reads as a move of a (the label-free
    answer then named a genuine feature a suspect). Told which cells were empty, the classifiers
    give them an average training row's columns and measure a's move where it was observed."""
    rng = np.random.default_rng(5)
    Xtr, Xva, Xte = (rng.normal(size=(n, 2)) for n in (3000, 800, 1500))
    ytr, yva = rng.integers(0, 2, 3000), rng.integers(0, 2, 800)
    gone = rng.random(len(Xte)) < 0.5
    Xte[gone, 0] = np.median(Xtr[:, 0])
    s, units = settings(), {"a": ["a"], "b": ["b"]}
    layout = (["a", "b"], ["a", "b"], ["a", "b"])
    blind = unlabeled._domain_rows(Xtr, ytr, Xva, yva, Xte, *layout, s)
    told = unlabeled._domain_rows(Xtr, ytr, Xva, yva, Xte, *layout, s, missing={"a": gone})
    fb = unlabeled.domain_fit(blind.Zs, blind.Zt, blind.origin, units, s)
    ft = unlabeled.domain_fit(told.Zs, told.Zt, told.origin, units, s, observed=told.observed(units))
    assert fb["units"]["a"]["ci_low"] > s.min_auc and fb["auc"]["ci_low"] > s.min_auc  # the spike moves a
    assert ft["units"]["a"]["ci_low"] <= s.min_auc and ft["auc"]["ci_low"] <= s.min_auc
    assert told.observed(units).keys() == {"a"} and told.observed(units)["a"].sum() == (~gone).sum()
    # the rows outside the fitted sample are scored the same way
    assert np.allclose(told.encode(Xte[:50], np.arange(50)), told.Zt[:50])
