"""The verdict (shortcut.diagnose) and the confirmation of its remedy (shortcut.remedy), from
evidence tables the tests write down."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from configs import defaults
from shortcut import conditional, diagnose, remedy

TH = {k: v for k, v in defaults("diagnose").items() if k not in ("models", "method")}

FEATURES = ["room", "borough", "score", "nights"]
RULE = "relation broke if Holm-adjusted p < 0.05 (H0: harm <= 0) and harm >= 0.02 x H(Y) = 0.02 nats per test row"


def reliance(relied=(), importance=None):
    rows = []
    for f in FEATURES:
        rows.append({"unit": f, "kind": "feature", "members": f,
                     "importance": (importance or {}).get(f, 0.3 if f in relied else 0.001),
                     "importance_ci_low": 0.1 if f in relied else -0.001, "importance_ci_high": 0.5,
                     "share": 0.5 if f in relied else 0.01, "relied": f in relied, "rule": "relied rule"})
    return pd.DataFrame(rows)


def evidence(broke=(), harm=None, mde=0.01, n_rows=2000, extra=(), upper=None):
    rows = []
    for unit, members in [(f, f) for f in FEATURES] + list(extra):
        h = (harm or {}).get(unit, 0.9 if unit in broke else -0.05)
        hu = (upper or {}).get(unit, h + 0.05)
        rows.append({"unit": unit, "kind": "group" if "+" in unit else "feature", "members": members,
                     "step": 1, "n_rows": n_rows, "harm": h, "harm_ci_low": h - 0.05, "harm_ci_high": h + 0.05,
                     "p_holm": 0.0 if unit in broke else 1.0, "mde": mde, "change": h, "change_ci_low": h - 0.1,
                     "change_ci_high": h + 0.1, "value_val": 0.1, "acc_with": 0.4 if unit in broke else 0.6,
                     "acc_without": 0.6 if unit in broke else 0.55, "broke": unit in broke, "min_harm": 0.02,
                     "harm_upper": hu, "outcome": conditional.outcome(unit in broke, hu, 0.02),
                     "break_cost": 0.3, "margin": 0.02, "rule": RULE})
    return pd.DataFrame(rows)


COVARIATE_NONE = {"auc": 0.5, "auc_ci_low": 0.49, "auc_ci_high": 0.51, "shifted": False, "rule": "cov rule",
                  "feature_auc": {f: 0.5 for f in FEATURES}, "share_unsupported": 0.0, "support_rule": "s"}
MIX_NONE = {"share_train": [0.5, 0.5], "share_test": [0.5, 0.5], "tv": 0.0, "chi2_pvalue": 0.9, "changed": False,
            "rule": "mix rule"}


def verdict(relied=(), broke=(), covariate=COVARIATE_NONE, mix=MIX_NONE, **kw):
    ev = kw.pop("ev", None)
    ev = evidence(broke, **kw) if ev is None else ev
    rel = kw.pop("rel", None)
    return diagnose.diagnose(reliance=reliance(relied) if rel is None else rel, evidence=ev,
                             covariate=covariate, class_mix=mix, features=FEATURES, thresholds=TH)


def test_a_suspect_needs_reliance_and_a_broken_relation():
    both = verdict(relied=["score", "room"], broke=["score"])
    assert both["suspects"] == ["score"] and both["remedies"] == ["drop-score"]
    assert both["answer"]["kind"] == "shortcut"
    assert verdict(relied=["room"], broke=["score"])["suspects"] == []  # broke, not relied on
    assert verdict(relied=["score"], broke=[])["suspects"] == []  # relied on, holds
    table = diagnose.verdict_table(both)
    assert table.iloc[0]["unit"] == "score" and table.iloc[0]["suspect"]


def test_label_shift_only_is_named_with_the_prior_corrected_accuracy():
    mix = {"share_train": [0.5, 0.5], "share_test": [0.8, 0.2], "tv": 0.3, "chi2_pvalue": 1e-9, "changed": True,
           "rule": "mix rule"}
    label_shift = pd.DataFrame({"acc_test": [0.60, 0.62], "acc_test_prior_corrected": [0.70, 0.72]})
    v = diagnose.diagnose(reliance=reliance(["room"]), evidence=evidence(), covariate=COVARIATE_NONE,
                          class_mix=mix, features=FEATURES, label_shift=label_shift, thresholds=TH)
    assert v["suspects"] == [] and v["answer"]["headline"] == "The class mix changed; no shortcut."
    text = " ".join(v["answer"]["sentences"])
    assert "0.610 to 0.710" in text and "class 0: 0.500 rises to 0.800" in text


def test_covariate_shift_only_names_the_features_and_the_unsupported_share():
    cov = dict(COVARIATE_NONE, auc=0.8, auc_ci_low=0.78, auc_ci_high=0.82, shifted=True, share_unsupported=0.04,
               feature_auc={"room": 0.79, "borough": 0.52, "score": 0.6, "nights": 0.5})
    v = verdict(relied=["room"], covariate=cov)
    assert v["answer"]["headline"] == "The model meets inputs unlike its training rows; no shortcut."
    text = " ".join(v["answer"]["sentences"])
    assert "`room` (AUC 0.790)" in text and "`score`" in text and "`borough`" not in text
    assert "4.0 % of the test rows lie outside the training support" in text


def test_three_outcomes_and_the_headline_by_the_undetermined_share_of_reliance():
    # holds: the harm's upper bound is below the margin (0.02); undetermined: it is not
    ev = evidence(upper={"room": 0.03})
    assert dict(zip(ev["unit"], ev["outcome"]))["room"] == "undetermined"
    assert dict(zip(ev["unit"], ev["outcome"]))["borough"] == "holds"
    # `room` carries all the reliance and cannot be checked: insufficient, the shift still named
    imp = {"room": 0.3, "borough": 0.3}
    both = reliance(["room", "borough"], importance=imp)
    v = verdict(rel=reliance(["room"]), ev=ev)
    assert v["answer"]["kind"] == "insufficient evidence"
    assert v["answer"]["headline"] == ("No material shift between the files; 99 % of the models' reliance "
                                       "could not be checked with these 2000 audit rows.")
    assert v["evidence"]["room"]["outcome"] == "undetermined" and v["suspects"] == []
    text = " ".join(v["answer"]["sentences"])
    assert "`room` could not be checked with these 2000 audit rows" in text and "`room` 0.030 against 0.020" in text
    # half of it checked: the measured shift first, then "no shortcut in the 50 % … that could be checked"
    v = verdict(rel=both, ev=ev)
    assert v["answer"]["headline"] == ("No material shift between the files; no shortcut in the 50 % of the "
                                       "models' reliance that could be checked.")
    # a small undetermined share: a plain "No shortcut", and the sentence with its share
    small = reliance(["room", "borough"], importance={"room": 0.01, "borough": 0.3})
    v = verdict(rel=small, ev=ev)
    assert v["answer"]["headline"] == "No shortcut, and no material shift between the files."
    assert "(3 % of the models' reliance)" in " ".join(v["answer"]["sentences"])
    # holds everywhere: no shortcut, and nothing left unchecked
    v = verdict(relied=["room"])
    assert v["answer"]["kind"] == "no shortcut" and "could not be checked" not in v["summary"]
    few = verdict(relied=["room"], n_rows=10)
    assert few["answer"]["kind"] == "insufficient evidence" and few["suspects"] == []


def test_a_relied_feature_with_mostly_unseen_levels_is_a_suspect():
    ev = evidence()
    ev["unseen_share"] = [0.0, 0.7, 0.0, 0.0]  # borough
    v = verdict(rel=reliance(["borough"]), ev=ev)
    assert v["suspects"] == ["borough"] and v["remedies"] == ["drop-borough"]
    assert "70 % of its test values were never seen in training" in v["summary"]
    # not relied on: never a suspect, whatever its levels
    assert verdict(rel=reliance(["room"]), ev=ev)["suspects"] == []


def test_a_missing_value_shift_is_named_with_both_shares_and_never_makes_a_suspect():
    marginal = pd.DataFrame({"feature": FEATURES, "missing_train": [0.0, 0.0, 0.0, 0.01],
                             "missing_test": [0.6, 0.0, 0.0, 0.02], "shifted": [False] * 4})
    mix = dict(MIX_NONE, n_train=5000, n_test=600)
    v = diagnose.diagnose(reliance=reliance(["room"]), evidence=evidence(), covariate=COVARIATE_NONE,
                          class_mix=mix, features=FEATURES, marginal=marginal, thresholds=TH)
    assert v["suspects"] == [] and v["answer"]["headline"] == "Missing values changed in `room`; no shortcut."
    assert "`room` is missing in 60.0 % of the test rows against 0.0 % in training" in v["summary"]
    assert [m["feature"] for m in v["missing_shift"]] == ["room"]  # 1 -> 2 % is below the margin


def test_label_shift_with_a_near_singular_confusion_matrix_is_not_estimated():
    mix = {"share_train": [0.5, 0.5], "share_test": [0.8, 0.2], "tv": 0.3, "chi2_pvalue": 1e-9, "changed": True,
           "rule": "mix rule"}
    ls = pd.DataFrame({"acc_test": [0.6], "acc_test_prior_corrected": [0.7], "confusion_min_singular": [0.01]})
    v = diagnose.diagnose(reliance=reliance(["room"]), evidence=evidence(), covariate=COVARIATE_NONE,
                          class_mix=mix, features=FEATURES, label_shift=ls, thresholds=TH)
    assert v["answer"]["headline"] == "The class mix changed; no shortcut."
    assert "cannot be estimated from these predictions" in v["summary"] and "0.700" not in v["summary"]


def test_a_broken_group_is_named_with_all_members_and_two_suspects_get_a_combined_remedy():
    ev = evidence(broke=["score+nights"], extra=[("score+nights", "score;nights")])
    rel = pd.concat([reliance(["room"]), pd.DataFrame([{
        "unit": "score+nights", "kind": "group", "members": "score;nights", "importance": 0.5,
        "importance_ci_low": 0.3, "importance_ci_high": 0.7, "share": 0.8, "relied": True, "rule": "r"}])])
    v = verdict(ev=ev, rel=rel)
    assert v["suspects"] == ["score", "nights"] and v["remedies"] == ["drop-score+nights"]
    two = verdict(relied=["score", "room"], broke=["score", "room"])
    assert two["remedies"] == ["drop-room", "drop-score", "drop-room+score"]
    assert two["remedy_members"]["drop-room+score"] == ["room", "score"]


def test_reliance_shares_set_the_other_broken_units_aside():
    ev = evidence(broke=["score", "room"])
    assert diagnose.broken_elsewhere(ev)["room"] == ["score"] and diagnose.broken_elsewhere(ev)["nights"] == ["room", "score"]


WORDS = re.compile(r"(rises|falls|stays)(?: from)? (-?\d+\.\d+) to (-?\d+\.\d+)")
WORDS_BEFORE = re.compile(r"(-?\d+\.\d+) (rises|falls|stays) to (-?\d+\.\d+)")


def direction_claims(text):
    out = [(w, float(a), float(b)) for w, a, b in WORDS.findall(text)]
    out += [(w, float(a), float(b)) for a, w, b in WORDS_BEFORE.findall(text)]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_direction_words_agree_with_the_numbers(seed):
    rng = np.random.default_rng(seed)
    acc = rng.uniform(0.2, 0.9, size=(4, 2))
    ev = evidence(broke=["score"])
    ev.loc[ev["unit"] == "score", ["acc_with", "acc_without"]] = acc[0]
    mix = {"share_train": list(rng.dirichlet([1, 1])), "share_test": list(rng.dirichlet([1, 1])), "tv": 0.2,
           "chi2_pvalue": 1e-6, "changed": True, "rule": "r"}
    label_shift = pd.DataFrame({"acc_test": acc[1, :1], "acc_test_prior_corrected": acc[1, 1:]})
    v = diagnose.diagnose(reliance=reliance(["score"]), evidence=ev, covariate=COVARIATE_NONE, class_mix=mix,
                          features=FEATURES, label_shift=label_shift, thresholds=TH)
    table = pd.DataFrame([
        {"feature_set": "drop-score", "setting": remedy.POOLED, "n_rows": 500, "n_models": 6,
         "acc_all": acc[2, 0], "acc_remedy": acc[2, 1], "diff": acc[2, 1] - acc[2, 0],
         "ci_low": acc[2, 1] - acc[2, 0] - 0.01, "ci_high": acc[2, 1] - acc[2, 0] + 0.01,
         "confirmed": acc[2, 1] - acc[2, 0] - 0.01 > 0}])
    text = remedy.final_answer(v, table)["text"]
    claims = direction_claims(text)
    assert len(claims) >= 3, text
    for word, before, after in claims:
        expected = "rises" if after > before else "falls" if after < before else "stays"
        assert word == expected, (word, before, after, text)
    assert "moves mean test accuracy from" in text


def test_rows_outside_the_training_support_are_not_judged():
    """A test file far from the training rows (domain classifier near AUC 1): the few supported
    rows cannot decide, and the answer says the rest cannot be judged instead of guessing."""
    cov = dict(COVARIATE_NONE, auc=0.99, auc_ci_low=0.985, auc_ci_high=0.995, shifted=True,
               share_unsupported=0.98, feature_auc={"room": 0.99, "borough": 0.5, "score": 0.5, "nights": 0.5})
    v = verdict(relied=["room"], covariate=cov, n_rows=12, mde=0.9)
    assert v["suspects"] == [] and v["answer"]["kind"] == "insufficient evidence"
    text = " ".join(v["answer"]["sentences"])
    assert "Only 12 test rows lie inside the training support." in text
    assert "98.0 % of the test rows lie outside the training support; they cannot be judged" in text


def test_label_shift_with_a_near_perfect_model_is_worded_as_label_shift():
    """An accurate model predicts the new mix almost exactly, so the mix its predictions imply
    hardly differs from the observed one; the verdict must still call it label shift, from the
    observed mix and the inputs within each class that held, and quote the corrected accuracy."""
    mix = {"share_train": [0.86, 0.14], "share_test": [0.43, 0.57], "tv": 0.43, "chi2_pvalue": 1e-12,
           "changed": True, "rule": "mix rule", "n_train": 4000, "n_test": 300}
    ls = pd.DataFrame({"acc_test": [0.97, 0.98], "acc_test_prior_corrected": [0.985, 0.99],
                       "confusion_min_singular": [0.95, 0.96]})
    cov = dict(COVARIATE_NONE, class_mix_explained={"unexplained_tv": 0.004})
    v = diagnose.diagnose(reliance=reliance(["room"]), evidence=evidence(), covariate=cov, class_mix=mix,
                          features=FEATURES, label_shift=ls, thresholds=TH)
    assert v["answer"]["changes"] == ["label shift"]
    assert v["answer"]["headline"] == "The class mix changed; no shortcut."
    assert "moves mean test accuracy from 0.975 to 0.988" in v["answer"]["sentences"][0]
    # the same mix change with inputs that moved within the classes: a selection on the inputs
    moved = dict(cov, shifted=True, auc=0.7, auc_ci_low=0.65, auc_ci_high=0.75)
    v = diagnose.diagnose(reliance=reliance(["room"]), evidence=evidence(), covariate=moved, class_mix=mix,
                          features=FEATURES, label_shift=ls, thresholds=TH)
    assert v["answer"]["changes"] == ["covariate shift"]
    assert v["answer"]["headline"] == "The model meets inputs unlike its training rows; no shortcut."
