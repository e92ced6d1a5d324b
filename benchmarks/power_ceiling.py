"""Why planted leaks are missed: the calibration study's missed numeric and categorical leaks,
rerun one by one with the harm test's numbers of the leak's unit (issues 19/20).

``benchmarks/calibration.py`` records per case whether the planted leak was found. For every
missed leak of ``--strength`` (numeric and categorical; not the ID-like ones) this script reruns
the case (``calibration.make_case`` and ``calibration.decide`` with the recorded seed: the same
case bit for bit) and prints, for the leak's unit in every round it was tested: the harm, its
standard error and z, the one-sided p-value, the unit's share of the round's alpha, the
weighted-Holm-adjusted p, the material margin and the harm a full break would cause.

It then bounds what any split of alpha could have done. A leak whose one-sided p is above the
first round's level (``alpha`` / 2, the most any one unit can get) or whose harm is below its
margin is out of reach of every weighting: only more rows, or less noise per row, would find it.
A leak that broke but that the grid model did not rely on is missed by the reliance rule, not the
harm test, and is not counted as reachable either. The ceiling is the power if every reachable
missed leak had been found.

With ``--kl-credit c`` the misses are rerun with a harm test that credits a share c of the
evidence model's own expected gain (``shortcut.conditional.KL_CREDIT``; c = 1 is the likelihood
ratio of the two fitted models, the most powerful test if they were exact): the ceiling then says
what no test statistic on these rows could exceed at the shipped margin.

Run: ``python benchmarks/power_ceiling.py [--cases benchmarks/calibration_cases.csv] [--strength 0.5] [--kl-credit 0]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "workflow" / "scripts"), str(ROOT / "tests")]

import calibration  # noqa: E402
from shortcut import conditional  # noqa: E402


def leak_steps(row: pd.Series) -> pd.DataFrame:
    """The leak unit's rows of the evidence steps, rerunning the recorded case."""
    captured = {}
    original = conditional.audit_evidence

    def spy(*args, **kwargs):
        captured["evidence"] = out = original(*args, **kwargs)
        return out

    conditional.audit_evidence = spy
    try:
        ds = calibration._dataset(row["dataset"])
        train, test, categorical, numeric, _ = calibration.make_case(
            ds, row["scenario"], int(row["seed"]), int(row["size"]), float(row["strength"]))
        calibration.decide(train, test, categorical, numeric, len(ds.classes), int(row["seed"]))
    finally:
        conditional.audit_evidence = original
    steps = captured["evidence"]["steps"]
    return steps[steps["unit"] == calibration.LEAK]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=Path, default=ROOT / "benchmarks" / "calibration_cases.csv")
    ap.add_argument("--strength", type=float, default=calibration.DEFAULT_STRENGTH)
    ap.add_argument("--kl-credit", type=float, default=0.0,
                    help="rerun the misses with the harm test crediting this share of the evidence model's own "
                         "KL (shortcut.conditional.KL_CREDIT; 0 ships, 1 is the fitted models' likelihood ratio)")
    a = ap.parse_args(argv)
    conditional.KL_CREDIT = a.kl_credit
    cases = pd.read_csv(a.cases)
    leaks = cases[cases["scenario"].isin(["leak_numeric", "leak_categorical"]) & (cases["strength"] == a.strength)]
    found = leaks["leak_found"].astype(str) == "True"
    level = conditional.round_alpha(
        conditional.EvidenceSettings.from_config(calibration._config(2, (), ())["shift"]["evidence"], 0), 1)
    rows, reachable = [], 0
    for _, row in leaks[~found].iterrows():
        steps = leak_steps(row)
        first = steps[steps["step"] == 1].iloc[0]
        # reachable by a larger share of alpha: significant at the whole first-round level, material,
        # and relied on (a leak that broke but that the grid did not rely on is missed elsewhere)
        reach = bool(first["p_value"] < level and first["harm"] >= first["margin"]
                     and str(row["leak_relied"]) == "True")
        reachable += reach
        for _, s in steps.iterrows():
            rows.append({"dataset": row["dataset"], "half": row["half"], "leak": row["scenario"][5:], "size": int(row["size"]),
                         "step": int(s["step"]), "harm": s["harm"], "se": s["harm_se"], "z": s["harm"] / s["harm_se"],
                         "p": s["p_value"], "alpha_share": s["alpha_weight"], "p_holm": s["p_holm"], "margin": s["margin"],
                         "full_break": s["full_break_harm"], "outcome": s["outcome"],
                         "reachable": reach if s["step"] == 1 else ""})
    pd.set_option("display.width", 250)
    print(pd.DataFrame(rows).round(4).to_string(index=False))
    n, k = len(leaks), int(found.sum())
    print(f"\nleaks of strength {a.strength:g}: {n}; found {k} ({k / n:.3f}); missed {n - k}, of which {reachable} had a "
          f"first-round one-sided p below {level:g} and a harm at least their margin (a larger share of alpha would have "
          f"found them); the other {n - k - reachable} are out of reach of any split of alpha.")
    print(f"ceiling over every weighting: {k + reachable} / {n} = {(k + reachable) / n:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
