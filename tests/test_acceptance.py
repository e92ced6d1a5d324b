"""End to end, through the real snakemake command: the verdicts the pipeline exists to give.

* On the course assignment's real data (skipped where ../shared is absent) the models overfit
  the planted shortcut, the pipeline names it (and only it) from evidence, and retraining
  without it restores test accuracy — the figures the issues ask for, computed by the run.
* On a differently shaped dataset (three string classes, other column names) a planted
  shortcut is found; the same dataset without the shortcut gets an empty verdict.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import run_snakemake, write_override

pytestmark = pytest.mark.workflow


def _summary(results, fs):
    frame = pd.read_csv(results / "evaluation" / fs / "metrics_summary.csv")
    return frame.set_index(["act", "split"])


@pytest.fixture(scope="module")
def airbnb_run(tmp_path_factory, real_data):
    from conftest import copy_workflow

    wf = copy_workflow(tmp_path_factory.mktemp("airbnb") / "wf")
    args = write_override(wf, {"data": {"train": str(real_data / "train.csv"), "test": str(real_data / "test.csv")}})
    run_snakemake(wf, "--cores", "2", "--configfile", "config/airbnb.yaml", *args[1:])
    return wf / "results" / "airbnb"


def test_real_data_validation_accuracy_and_collapse_on_test(airbnb_run):
    table = _summary(airbnb_run, "all")
    assert table.loc[("relu", "val"), "accuracy_mean"] >= 0.82
    assert table.loc[("sigmoid", "val"), "accuracy_mean"] >= 0.81
    for act in ("relu", "sigmoid"):
        test = table.loc[(act, "test")]
        assert test["accuracy_mean"] < test["majority_baseline_mean"]


def test_real_data_verdict_names_only_the_shortcut_and_the_remedy_works(airbnb_run):
    verdict = json.loads((airbnb_run / "diagnosis/shortcut.json").read_text())
    assert verdict["suspects"] == ["amenity_score"]
    remedy = _summary(airbnb_run, "drop-amenity_score")
    for act in ("relu", "sigmoid"):
        assert remedy.loc[(act, "val"), "accuracy_mean"] >= 0.62
        assert remedy.loc[(act, "test"), "accuracy_mean"] >= 0.60
    html = (airbnb_run / "report/report.html").read_text()
    assert "amenity_score" in html and "Verdict" in html


def test_real_data_relu_ranks_the_shortcut_first_by_mean_gradient(airbnb_run):
    saliency = pd.read_csv(airbnb_run / "evaluation/all/saliency_by_feature.csv")
    relu = saliency[(saliency["act"] == "relu") & (saliency["method"] == "loss_gradient")]
    for split in ("val", "test"):
        mean_abs = relu[relu["split"] == split].groupby("feature")["mean_abs"].mean()
        assert mean_abs.idxmax() == "amenity_score", mean_abs.sort_values()


def test_real_data_shift_and_association_drop_are_largest_for_the_shortcut(airbnb_run):
    shift = pd.read_csv(airbnb_run / "shift/shift.csv").set_index("feature")
    for column in ("psi", "nmi_drop", "onefeat_drop"):
        assert shift[column].idxmax() == "amenity_score", column
    assert shift["ks"].dropna().idxmax() == "amenity_score"


def test_real_data_assignment_setting_stalls_sigmoid_and_shows_why(airbnb_run):
    models = airbnb_run / "models/all"
    stalled = pd.read_parquet(models / "assignment-sigmoid/seed0/history.parquet")
    learned = pd.read_parquet(models / "assignment-relu/seed0/history.parquet")
    assert stalled["val_acc"].max() - stalled["val_acc"].min() < 1e-9  # the majority class throughout
    assert learned["val_acc"].iloc[-1] > stalled["val_acc"].iloc[-1] + 0.1
    flow = pd.read_csv(airbnb_run / "studies/gradient_flow_summary.csv").set_index("model")
    assert flow.loc["assignment-sigmoid", "first_over_last"] < 0.01 < flow.loc["assignment-relu", "first_over_last"]


# --- a differently shaped dataset ---------------------------------------------------------------

CLASSES = ["low", "mid", "high"]


def make_dataset(n: int, seed: int, leak: bool) -> pd.DataFrame:
    """Three classes; a region and two sensors carry weak signal. ``batch_code`` tracks the class
    when ``leak`` (a shortcut) and is noise otherwise."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.3, 0.45, 0.25])
    region = np.where(rng.random(n) < 0.6, np.array(["north", "south", "east"])[y], rng.choice(["north", "south", "east", "west"], n))
    frame = pd.DataFrame({
        "region": region,
        "sensor_a": rng.normal(y * 0.6, 1.0),
        "sensor_b": rng.gamma(2.0 + y, 1.0),
        "sensor_c": rng.normal(0, 1, n),
        "batch_code": (y * 10 + rng.uniform(0, 10, n)) if leak else rng.uniform(0, 30, n),
        "status": np.array(CLASSES)[y],
    })
    frame.loc[rng.random(n) < 0.02, "sensor_b"] = np.nan
    return frame


def run_generic(tmp_path, leak_in_train: bool) -> tuple:
    from conftest import copy_workflow

    wf = copy_workflow(tmp_path / "wf")
    (wf / "in").mkdir()
    make_dataset(4000, 1, leak=leak_in_train).to_csv(wf / "in/train.csv", index=False)
    make_dataset(1200, 2, leak=False).to_csv(wf / "in/test.csv", index=False)
    overrides = {
        "dataset": "plant", "demo": None, "data": {"train": "in/train.csv", "test": "in/test.csv"},
        "target": "status", "classes": CLASSES, "class_names": ["Low", "Mid", "High"],
        "features": {"categorical": ["region"], "numeric": ["sensor_a", "sensor_b", "sensor_c", "batch_code"]},
        "impute": {"categorical": "mode", "numeric": "median", "columns": []}, "log1p": [],
        "models": {"relu": {"epochs": 15, "patience": 0}, "sigmoid": {"epochs": 15, "patience": 0}},
        "grid": {"models": ["relu", "sigmoid"], "seeds": [0]},
        "gradient_flow": {"models": ["relu"]},
        "shared_bias": {"epochs": 3},
        "saliency": {"ig_steps": 8},
    }
    run_snakemake(wf, "--cores", "2", *write_override(wf, overrides))
    results = wf / "results/plant"
    return results, json.loads((results / "diagnosis/shortcut.json").read_text())


def test_planted_shortcut_in_another_dataset_is_found_and_removed(tmp_path):
    results, verdict = run_generic(tmp_path, leak_in_train=True)
    assert verdict["suspects"] == ["batch_code"]
    remedy = _summary(results, "drop-batch_code")
    everything = _summary(results, "all")
    assert remedy.loc[("relu", "test"), "accuracy_mean"] > everything.loc[("relu", "test"), "accuracy_mean"]


def test_no_shortcut_gives_an_empty_verdict(tmp_path):
    results, verdict = run_generic(tmp_path, leak_in_train=False)
    assert verdict["suspects"] == []
    assert sorted(p.name for p in (results / "evaluation").iterdir()) == ["all"]
    assert "No shortcut suspect" in verdict["summary"]
    assert (results / "report/report.html").is_file()
