"""The remedy judged on the confirmation rows (shortcut.remedy): three outcomes (helped, did not
help, inconclusive), Bonferroni over the remedies, and the final answer's words for each, from
synthetic prediction frames whose paired accuracy difference is known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from configs import defaults
from shortcut import remedy

CONFIRM = defaults("confirm")
KEYS = [{"setting": a, "seed": s} for a in ("relu", "sigmoid") for s in range(2)]


def frames(n: int, gained: int, lost: int, seed: int = 0, base: float = 0.5):
    """Prediction frames of the grid on all features and of a remedy, one per key: every model
    on all features is right on half the rows; its remedy is right on the same rows, minus
    ``lost`` of them, plus ``gained`` others. The paired difference is (gained - lost) / n for
    every model, on rows that differ from model to model."""
    y = np.arange(n) % 2
    all_preds, rem_preds = [], []
    for k in range(len(KEYS)):
        perm = np.random.default_rng(seed + k).permutation(n)
        right = np.zeros(n, dtype=bool)
        right[perm[:int(base * n)]] = True
        fixed = right.copy()
        fixed[perm[:lost]] = False
        fixed[perm[int(base * n):int(base * n) + gained]] = True
        for target, ok in ((all_preds, right), (rem_preds, fixed)):
            target.append(pd.DataFrame({"row": np.arange(n), "target": y, "predicted": np.where(ok, y, 1 - y)}))
    return all_preds, rem_preds


def table(all_preds, remedies, **kw):
    settings = {"n_boot": 1000, "alpha": CONFIRM["alpha"], "seed": 0, "min_gain": CONFIRM["min_gain"], **kw}
    return remedy.confirmation_table(all_preds, remedies, KEYS, **settings)


def pooled(t: pd.DataFrame, fs: str) -> pd.Series:
    return t[(t["setting"] == remedy.POOLED) & (t["feature_set"] == fs)].iloc[0]


def verdict(suspects=("score",)):
    remedies = {f"drop-{s}": [s] for s in suspects}
    return {"answer": {"kind": "shortcut", "headline": "Shortcut suspect: `score`.",
                       "sentences": ["The verdict's own sentence."]},
            "suspects": list(suspects), "remedies": list(remedies), "remedy_members": remedies}


def test_the_table_has_its_declared_columns_and_states_the_rule():
    all_preds, rem = frames(600, 60, 10)
    t = table(all_preds, {"drop-score": rem})
    assert list(t.columns) == list(remedy.CONFIRMATION_COLUMNS)
    assert list(t["setting"]) == ["relu", "sigmoid", remedy.POOLED]
    assert set(t["outcome"]) <= set(remedy.OUTCOMES)
    assert (t["confirmed"] == (t["outcome"] == "helped")).all()
    assert (t["n_remedies"] == 1).all() and t["ci_level"].tolist() == pytest.approx([1 - CONFIRM["alpha"]] * 3)
    assert (t["min_gain"] == CONFIRM["min_gain"]).all()
    assert "two-sided 95 % interval" in t["rule"].iloc[0] and "no multiplicity correction" in t["rule"].iloc[0]


def test_a_clear_gain_helped_and_confirms_the_suspect():
    all_preds, rem = frames(2000, gained=200, lost=40)
    t = table(all_preds, {"drop-score": rem})
    r = pooled(t, "drop-score")
    assert r["diff"] == pytest.approx(0.08) and r["ci_low"] > 0
    assert r["outcome"] == "helped" and r["confirmed"]
    answer = remedy.final_answer(verdict(), t)
    assert answer["kind"] == "shortcut" and answer["headline"] == "Shortcut: `score` (confirmed)."
    assert answer["confirmed"] == ["score"] and answer["confirmed_remedies"] == ["drop-score"]
    assert answer["sentences"][0] == (
        f"Confirmed: without `score` the confirmation accuracy rises from 0.500 to 0.580, a change of +0.080 "
        f"(95 % CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f}) on 2000 rows no decision saw.")
    assert answer["rule"] == r["rule"] and answer["text"].startswith(answer["headline"])


def test_a_gain_ruled_out_below_the_minimum_did_not_help():
    # -0.005 measured on 4000 rows: the whole interval lies below the 0.01 minimum useful gain
    all_preds, rem = frames(4000, gained=40, lost=60)
    t = table(all_preds, {"drop-score": rem})
    r = pooled(t, "drop-score")
    assert r["diff"] == pytest.approx(-0.005) and r["ci_low"] <= 0 and r["ci_high"] < CONFIRM["min_gain"]
    assert r["outcome"] == "did not help" and not r["confirmed"]
    answer = remedy.final_answer(verdict(), t)
    assert answer["kind"] == "suspect not confirmed" and answer["confirmed"] == []
    assert answer["headline"] == "Suspect not confirmed: removing `score` did not help on the confirmation rows."
    assert answer["sentences"][0] == (
        f"Suspect not confirmed: removing `score` did not help (confirmation accuracy falls from 0.500 to 0.495, "
        f"a change of -0.005 (95 % CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f}) on 4000 rows no decision saw; "
        "the interval lies below the minimum useful gain of 0.01).")


def test_too_few_rows_to_tell_a_useful_gain_from_none_is_inconclusive():
    # +1/300 on 300 rows: the interval reaches both below 0 and past the 0.01 minimum useful gain
    all_preds, rem = frames(300, gained=15, lost=14)
    t = table(all_preds, {"drop-score": rem})
    r = pooled(t, "drop-score")
    assert r["diff"] == pytest.approx(1 / 300) and r["ci_low"] <= 0 and r["ci_high"] >= CONFIRM["min_gain"]
    assert r["outcome"] == "inconclusive" and not r["confirmed"]
    answer = remedy.final_answer(verdict(), t)
    assert answer["kind"] == "suspect inconclusive" and answer["confirmed"] == []
    assert answer["headline"] == "Suspect not confirmed: `score` (inconclusive on 300 confirmation rows)."
    assert answer["sentences"][0] == (
        f"Inconclusive: removing `score` changed confirmation accuracy by +0.003 (95 % CI {r['ci_low']:+.3f} to "
        f"{r['ci_high']:+.3f}) on 300 rows; these rows cannot tell a gain of at least 0.01 from none.")
    assert "did not help" not in answer["text"]


def test_the_headline_names_only_the_inconclusive_suspects_when_none_helped():
    all_preds, room = frames(300, gained=15, lost=14)
    _, score = frames(300, gained=0, lost=0)  # the same predictions: no change on any row
    t = table(all_preds, {"drop-score": score, "drop-room": room})
    assert pooled(t, "drop-score")["outcome"] == "did not help"
    assert pooled(t, "drop-room")["outcome"] == "inconclusive"
    answer = remedy.final_answer(verdict(("score", "room")), t)
    assert answer["kind"] == "suspect inconclusive" and answer["confirmed_remedies"] == []
    assert answer["headline"] == "Suspect not confirmed: `room` (inconclusive on 300 confirmation rows)."
    assert [s.split(":")[0] for s in answer["sentences"][:2]] == ["Suspect not confirmed", "Inconclusive"]


def test_the_interval_widens_with_the_number_of_remedies():
    """Bonferroni: judged beside three other remedies, the same remedy's interval is the
    1 - alpha/4 one, wider than when it is judged alone."""
    all_preds, rem = frames(600, gained=40, lost=20)
    others = {f"drop-{k}": frames(600, gained=k, lost=0)[1] for k in (1, 2, 3)}
    alone = pooled(table(all_preds, {"drop-score": rem}), "drop-score")
    four = table(all_preds, {"drop-score": rem, **others})
    beside = pooled(four, "drop-score")
    assert beside["diff"] == alone["diff"]
    assert beside["ci_low"] < alone["ci_low"] and beside["ci_high"] > alone["ci_high"]
    assert (four["n_remedies"] == 4).all() and four["ci_level"].tolist() == pytest.approx(
        [1 - CONFIRM["alpha"] / 4] * len(four))
    assert "two-sided 98.8 % interval (1 - 0.05/4: Bonferroni over 4 remedies)" in four["rule"].iloc[0]
    # exactly the uncorrected interval at level alpha / 4
    plain = pooled(table(all_preds, {"drop-score": rem}, alpha=CONFIRM["alpha"] / 4), "drop-score")
    assert (beside["ci_low"], beside["ci_high"]) == (plain["ci_low"], plain["ci_high"])
    # the answer states the level it used
    answer = remedy.final_answer(verdict(), four[four["feature_set"] == "drop-score"])
    assert "98.8 % CI" in answer["sentences"][0]


def test_no_gain_on_a_few_thousand_noisy_rows_is_inconclusive_not_did_not_help():
    """The three-way successor of test_diagnose's two-way confirmation test: a remedy no better
    than all features, on 2,000 rows where each model is right 35 % of the time, is not confirmed,
    but the rows cannot rule out a 0.01 gain either, so it is inconclusive, not "did not help"."""
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)

    def preds(acc, seed):
        r = np.random.default_rng(seed)
        return pd.DataFrame({"row": np.arange(n), "target": y, "predicted": np.where(r.random(n) < acc, y, 1 - y)})

    keys = [{"setting": a, "seed": s} for a in ("relu", "sigmoid") for s in range(3)]
    all_feats = [preds(0.35, k) for k in range(6)]
    t = remedy.confirmation_table(all_feats, {"drop-a": [preds(0.62, 10 + k) for k in range(6)],
                                              "drop-b": [preds(0.35, 20 + k) for k in range(6)]}, keys,
                                  n_boot=500, alpha=CONFIRM["alpha"], seed=0, min_gain=CONFIRM["min_gain"])
    a, b = pooled(t, "drop-a"), pooled(t, "drop-b")
    assert a["outcome"] == "helped" and a["ci_low"] > 0.2
    assert b["outcome"] == "inconclusive" and b["ci_low"] < 0 < CONFIRM["min_gain"] < b["ci_high"]
    assert (t["n_remedies"] == 2).all()
    v = {"answer": {"kind": "shortcut", "headline": "h", "sentences": []}, "suspects": ["score", "room"],
         "remedies": ["drop-a", "drop-b"], "remedy_members": {"drop-a": ["score"], "drop-b": ["room"]}}
    answer = remedy.final_answer(v, t)
    assert answer["headline"] == "Shortcut: `score` (confirmed)." and answer["confirmed"] == ["score"]
    assert any(s.startswith("Inconclusive: removing `room` changed confirmation accuracy by") and "97.5 % CI" in s
               for s in answer["sentences"])
    assert "did not help" not in answer["text"]
    alone = dict(v, remedies=["drop-b"], remedy_members={"drop-b": ["room"]}, suspects=["room"])
    none = remedy.final_answer(alone, t[t["feature_set"] == "drop-b"], has_test_file=False)
    assert none["kind"] == "suspect inconclusive" and none["confirmed_remedies"] == []
    assert none["headline"] == "Suspect not confirmed: `room` (inconclusive on 2000 confirmation rows)."
    assert "no test file" in none["text"]
