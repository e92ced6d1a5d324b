"""The verdict (shortcut.diagnose) and the confirmation of its remedy (shortcut.remedy), from
evidence tables the tests write down."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from configs import defaults
from shortcut import diagnose, remedy

TH = {"min_test_rows": defaults("diagnose")["min_test_rows"]}

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


def evidence(broke=(), harm=None, mde=0.01, n_rows=2000, extra=()):
    rows = []
    for unit, members in [(f, f) for f in FEATURES] + list(extra):
        h = (harm or {}).get(unit, 0.9 if unit in broke else -0.05)
        rows.append({"unit": unit, "kind": "group" if "+" in unit else "feature", "members": members,
                     "step": 1, "n_rows": n_rows, "harm": h, "harm_ci_low": h - 0.05, "harm_ci_high": h + 0.05,
                     "p_holm": 0.0 if unit in broke else 1.0, "mde": mde, "change": h, "change_ci_low": h - 0.1,
                     "change_ci_high": h + 0.1, "value_val": 0.1, "acc_with": 0.4 if unit in broke else 0.6,
                     "acc_without": 0.6 if unit in broke else 0.55, "broke": unit in broke, "min_harm": 0.02,
                     "rule": RULE})
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
    assert v["suspects"] == [] and v["answer"]["headline"] == "No shortcut; the class mix changed."
    text = " ".join(v["answer"]["sentences"])
    assert "0.610 to 0.710" in text and "class 0: 0.500 rises to 0.800" in text


def test_covariate_shift_only_names_the_features_and_the_unsupported_share():
    cov = dict(COVARIATE_NONE, auc=0.8, auc_ci_low=0.78, auc_ci_high=0.82, shifted=True, share_unsupported=0.04,
               feature_auc={"room": 0.79, "borough": 0.52, "score": 0.6, "nights": 0.5})
    v = verdict(relied=["room"], covariate=cov)
    assert v["answer"]["headline"] == "No shortcut; the model meets inputs unlike its training rows."
    text = " ".join(v["answer"]["sentences"])
    assert "`room` (AUC 0.790)" in text and "`score`" in text and "`borough`" not in text
    assert "4.0 % of the test rows lie outside the training support" in text


def test_too_few_rows_is_insufficient_evidence_with_the_detectable_effect():
    v = verdict(relied=["room"], mde=0.4, n_rows=40)
    assert v["answer"]["kind"] == "insufficient evidence"
    assert "0.400 nats" in " ".join(v["answer"]["sentences"])
    few = verdict(relied=["room"], n_rows=10)
    assert few["answer"]["kind"] == "insufficient evidence" and few["suspects"] == []


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


def test_confirmation_needs_an_interval_above_zero():
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)

    def preds(acc, seed):
        r = np.random.default_rng(seed)
        pred = np.where(r.random(n) < acc, y, 1 - y)
        return pd.DataFrame({"row": np.arange(n), "target": y, "predicted": pred})

    keys = [{"act": a, "seed": s} for a in ("relu", "sigmoid") for s in range(3)]
    all_feats = [preds(0.35, k) for k in range(6)]
    better = [preds(0.62, 10 + k) for k in range(6)]
    same = [preds(0.35, 20 + k) for k in range(6)]
    table = remedy.confirmation_table(all_feats, {"drop-a": better, "drop-b": same}, keys, n_boot=500, alpha=defaults("confirm")["alpha"], seed=0)
    pooled = table[table["setting"] == remedy.POOLED].set_index("feature_set")
    assert pooled.loc["drop-a", "confirmed"] and pooled.loc["drop-a", "ci_low"] > 0.2
    assert not pooled.loc["drop-b", "confirmed"] and pooled.loc["drop-b", "ci_low"] < 0 < pooled.loc["drop-b", "ci_high"]
    assert list(table["setting"].unique()) == ["relu", "sigmoid", remedy.POOLED]

    base = verdict(relied=["score", "room"], broke=["score", "room"])
    base["remedies"], base["remedy_members"] = ["drop-a", "drop-b"], {"drop-a": ["score"], "drop-b": ["room"]}
    answer = remedy.final_answer(base, table)
    assert answer["headline"] == "Shortcut: `score` (confirmed)." and answer["confirmed"] == ["score"]
    assert any(s.startswith("Suspect not confirmed: removing `room` did not help") for s in answer["sentences"])
    base["remedies"], base["remedy_members"] = ["drop-b"], {"drop-b": ["room"]}
    none = remedy.final_answer(base, table[table["feature_set"] == "drop-b"], has_test_file=False)
    assert none["kind"] == "suspect not confirmed" and "no test file" in none["text"]


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
