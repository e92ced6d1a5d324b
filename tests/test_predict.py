"""Predictions for new rows (shortcut.predict): which model, what each row gets, the score."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest

from shortcut import data, nn, predict
from shortcut.errors import DataError
from shortcut.spec import TARGET, DatasetSpec

from cleaning import clean_csv
from conftest import ROOT
from configs import validated

SPEC = DatasetSpec.from_config(validated({"target": "y", "classes": ["a", "b", "c"], "class_names": ["A", "B", "C"],
                                          "features": {"categorical": ["g"], "numeric": ["x"]}}))


def audit_summary(fs, acc):
    """One feature set's metrics_summary.csv: accuracy per model setting and split, mean over seeds."""
    return pd.DataFrame([{"fs": fs, "setting": setting, "split": split, "n_seeds": 2,
                          "accuracy_mean": acc[setting] if split == "audit" else 0.9}
                         for setting in acc for split in ("val", "audit", "confirm")])


def test_the_model_layout_comes_from_the_workflows_models_template():
    """The predict rule hands the script MODELS (common.smk) as its model inputs' layout: the
    feature set of each model file is read with it, not from a fixed position in the path."""
    body = re.search(r'^MODELS = f"(.*)"$', (ROOT / "workflow" / "rules" / "common.smk").read_text(), re.M).group(1)
    template = os.path.join(body.replace("{RESULTS}", "results/demo").replace("{{", "{").replace("}}", "}"),
                            "model.npz")
    written = template.format(fs="drop-a+b", setting="relu", seed=2)
    assert predict.template_fields(template, written) == {"fs": "drop-a+b", "setting": "relu", "seed": "2"}
    rules = (ROOT / "workflow" / "rules" / "explain.smk").read_text()
    assert 'model_template=lambda wildcards: os.path.join(MODELS, "model.npz")' in rules
    assert predict.template_fields("m/{fs}/{fs}.npz", "m/all/all.npz") == {"fs": "all"}
    with pytest.raises(ValueError, match="does not follow"):
        predict.template_fields(template, "results/demo/models/all/relu/model.npz")


def test_the_audit_rows_choose_among_the_confirmed_remedies():
    # relu: drop-a is best on the audit rows; sigmoid: drop-a+b; drop-b is best but not confirmed
    audit = [audit_summary("drop-a", {"relu": 0.70, "sigmoid": 0.60}),
             audit_summary("drop-b", {"relu": 0.90, "sigmoid": 0.90}),
             audit_summary("drop-a+b", {"relu": 0.65, "sigmoid": 0.66})]
    answer = {"confirmed_remedies": ["drop-a", "drop-a+b"]}
    fs, why = predict.choose_feature_set("auto", answer, audit, "relu")
    assert fs == "drop-a" and "test (audit) accuracy of `relu` (0.700" in why and "audit rows chose it" in why
    assert predict.choose_feature_set("auto", answer, audit, "sigmoid")[0] == "drop-a+b"
    assert predict.choose_feature_set("auto", {"confirmed_remedies": []}, audit, "relu")[0] == "all"
    assert predict.choose_feature_set("drop-b", {"confirmed_remedies": ["drop-a"]}, audit, "relu")[0] == "drop-b"
    only = predict.choose_feature_set("auto", {"confirmed_remedies": ["drop-a+b"]}, audit, "relu")
    assert only[0] == "drop-a+b" and "only remedy confirmed" in only[1]


def test_the_choice_does_not_depend_on_the_confirmation_gain():
    """The answer may carry the confirmation table's numbers (the largest gain on drop-a+b): the
    choice follows the audit rows, and with equal audit accuracy the verdict's order of remedies,
    whatever the gains."""
    audit = [audit_summary("drop-a", {"relu": 0.70}), audit_summary("drop-a+b", {"relu": 0.65})]
    for gains in ({"drop-a": 0.05, "drop-a+b": 0.20}, {"drop-a": 0.20, "drop-a+b": 0.05}):
        answer = {"confirmed_remedies": ["drop-a", "drop-a+b"], "gains": gains,
                  "confirmation": pd.DataFrame([{"feature_set": fs, "setting": "all settings", "diff": d}
                                                for fs, d in gains.items()])}
        assert predict.choose_feature_set("auto", answer, audit, "relu")[0] == "drop-a"
    tied = [audit_summary("drop-a", {"relu": 0.70}), audit_summary("drop-a+b", {"relu": 0.70})]
    for order in (["drop-a", "drop-a+b"], ["drop-a+b", "drop-a"]):
        assert predict.choose_feature_set("auto", {"confirmed_remedies": order}, tied, "relu")[0] == order[0]
    # no audit metrics at all: the verdict's order, and the reason says so
    fs, why = predict.choose_feature_set("auto", {"confirmed_remedies": ["drop-a+b", "drop-a"]}, [], "relu")
    assert fs == "drop-a+b" and "verdict's order" in why


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n = 600
    train = pd.DataFrame({"g": rng.choice(["u", "v"], n), "x": rng.normal(size=n)})
    train["g"] = train["g"].astype(pd.StringDtype(na_value=np.nan))
    train[TARGET] = rng.integers(0, 3, n)
    encoder = data.fit_encoder(train, SPEC, "all")
    encoder["split"] = {"class_counts_train": np.bincount(train[TARGET], minlength=3).tolist()}
    X, _ = data.transform(train, encoder)
    models = [nn.MLP(X.shape[1], [4], 3, "relu", seed=s) for s in (0, 1)]
    return encoder, models


def new_rows():
    frame = pd.DataFrame({"row": [1, 2, 3, 4], "g": ["u", "w", None, "v"], "x": [0.5, 1.0, np.nan, -2.0]})
    frame["g"] = frame["g"].astype(pd.StringDtype(na_value=np.nan))
    return frame


def test_each_row_gets_the_class_its_name_every_probability_and_its_flags(fitted):
    encoder, models = fitted
    frame = new_rows()
    out, proba = predict.predict_rows(frame, encoder, models, SPEC.classes, SPEC.class_names)
    assert list(out.columns) == ["row", "predicted", "predicted_name", "p_A", "p_B", "p_C", "imputed", "unseen"]
    # the probabilities are the mean of the models' own forward passes on the encoded rows
    X, _ = data.transform(frame, encoder)
    expected = np.mean([m.predict_proba(X) for m in models], axis=0)
    assert np.allclose(out[["p_A", "p_B", "p_C"]].to_numpy(), expected)
    assert list(out["predicted"]) == [SPEC.classes[k] for k in expected.argmax(axis=1)]
    assert list(out["predicted_name"]) == [SPEC.class_names[k] for k in expected.argmax(axis=1)]
    assert list(out["imputed"]) == ["", "", "g;x", ""]
    assert list(out["unseen"]) == ["", "g", "", ""]


def test_the_target_is_scored_when_present_and_never_used(fitted):
    encoder, models = fitted
    frame = new_rows()
    _, proba = predict.predict_rows(frame, encoder, models, SPEC.classes, SPEC.class_names)
    assert predict.score(frame, proba, encoder, 3) == {"scored": False, "reason": "the file has no target column"}
    labelled = frame.assign(**{TARGET: [0, 1, 2, 0]})
    out2, proba2 = predict.predict_rows(labelled, encoder, models, SPEC.classes, SPEC.class_names)
    assert np.array_equal(proba, proba2)  # the label changes nothing
    metrics = predict.score(labelled, proba2, encoder, 3)
    assert metrics["scored"] and metrics["n"] == 4 and 0 <= metrics["accuracy"] <= 1


def test_new_rows_without_the_target_column_are_cleaned_with_the_same_errors(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("g,x\nu,1.5\nv,2\n")
    frame, _ = clean_csv(path, SPEC, target=None)
    assert list(frame.columns) == ["g", "x"] and len(frame) == 2
    path.write_text("g,x,y\nu,1.5,a\nv,,b\n")
    frame, _ = clean_csv(path, SPEC, target=None)
    assert list(frame[TARGET]) == [0, 1] and np.isnan(frame["x"].iloc[1])
    bad = tmp_path / "bad.csv"
    bad.write_text("g,x\nu,1\nv,two\nu,three\n")
    with pytest.raises(DataError, match=r"bad.csv: column 'x', row 2: non-numeric value 'two'"):
        clean_csv(bad, SPEC, target=None)
