"""Section "Shift evidence": the class mix, the inputs and training support, the relation to
the label (:mod:`.shift_relation`), and the marginal distributions."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .. import facts
from . import shift_relation
from ..fmt import ci, ci_text, codes, count, pct, plural, pval, signed, value_text, yes
from ...text import direction, finite, num
from ..load import Inputs
from ..render import Heading, Para, Section, Table


def _bbse(inp: Inputs) -> dict:
    """BBSE estimate of the test class mix, mean over grid models: shares, interval bounds (means
    of the per-model bounds), and the mean test accuracy before and after the prior correction."""
    ls = inp.label_shift
    if ls.empty:
        return {}
    k = len([c for c in ls.columns if c.startswith("bbse_share_")])

    def mean(col):
        return float(pd.to_numeric(ls[col], errors="coerce").mean()) if col in ls else float("nan")

    return {"share": [mean(f"bbse_share_{i}") for i in range(k)],
            "low": [mean(f"bbse_ci_low_{i}") for i in range(k)],
            "high": [mean(f"bbse_ci_high_{i}") for i in range(k)],
            "acc_test": mean("acc_test"), "acc_corrected": mean("acc_test_prior_corrected"), "n_models": len(ls)}


def _moves(before, after) -> str:
    """'raises' / 'lowers' / 'leaves' for a change of a number, from the numbers themselves."""
    return {"rises": "raises", "falls": "lowers", "stays": "leaves"}.get(direction(before, after), "moves")


def _class_mix(inp: Inputs) -> list:
    m = inp.class_mix
    blocks: list = [Heading("Class mix (label shift)")]
    tr, te = m.get("share_train") or [], m.get("share_test") or []
    bb = _bbse(inp)
    rows = []
    for k in range(max(len(tr), len(te))):
        def at(key, k=k):
            values = m.get(key) or []
            return values[k] if k < len(values) else float("nan")

        row = [facts.class_name(inp, k), ci(at("share_train"), at("share_train_ci_low"), at("share_train_ci_high")),
               ci(at("share_test"), at("share_test_ci_low"), at("share_test_ci_high")),
               signed(at("share_test") - at("share_train"))]
        explained = (inp.covariate.get("class_mix_explained") or {}).get("predicted_share") or []
        if explained:
            row.append(num(explained[k]) if k < len(explained) else "–")
        if bb:
            row.append(ci(bb["share"][k], bb["low"][k], bb["high"][k]) if k < len(bb["share"]) else "–")
        rows.append(row)
    header = ["class", "train file share [95 % CI]", "test (audit) share [95 % CI]", "change"]
    mix = inp.covariate.get("class_mix_explained") or {}
    if mix.get("predicted_share"):
        header.append("explained by the inputs")
    if bb:
        header.append("estimated from predictions (BBSE) [95 % CI]")
    blocks.append(Table(header, rows, [False] + [True] * (len(header) - 1)))
    changed = bool(m.get("changed"))
    text = (f"Class shares of the {count(m.get('n_train'))} train-file rows and the {count(m.get('n_test'))} "
            f"test (audit) rows. Total variation distance (half the summed absolute share differences): "
            f"{num(m.get('tv'))}; chi-square test of equal mixes: p {pval(m.get('chi2_pvalue'))}. "
            f"Rule: {m.get('rule', 'n/a')}. Outcome: "
            + ("**the class mix changed**." if changed else "the class mix did not change."))
    if mix.get("predicted_share"):
        label = "label shift" in (inp.diagnosis.get("answer") or {}).get("changes", [])
        text += (f" **Explained by the inputs** (descriptive): the mix the train-fitted evidence model predicts for "
                 f"the supported test (audit) rows from their inputs alone; the part it leaves unexplained: total "
                 f"variation {num(mix.get('unexplained_tv'))} "
                 f"({ci_text(mix.get('unexplained_tv_ci_low'), mix.get('unexplained_tv_ci_high'))}). It decides "
                 f"nothing (an accurate model predicts a new mix well under pure label shift too): the verdict "
                 f"calls a changed mix label shift when the inputs within each class held (no covariate shift "
                 f"below), and here it is " + ("**label shift**." if label else "not label shift."))
    missing = m.get("classes_missing_in_test") or []
    if missing:
        text += (" Classes with no test (audit) row: "
                 + ", ".join(facts.class_name(inp, int(c)) if finite(c) else str(c) for c in missing) + ".")
    blocks.append(Para(text))
    if bb:
        gaps = [abs(b - t) for b, t in zip(bb["share"], te)]
        text = (f"BBSE estimates the test class mix from each model's own test predictions, without test labels "
                f"(mean over {plural(bb['n_models'], 'grid model')}; interval: mean of the per-model 95 % "
                f"bounds). Re-weighting each model's classes to its estimate "
                f"{_moves(bb['acc_test'], bb['acc_corrected'])} mean test (audit) accuracy from "
                f"{num(bb['acc_test'])} to {num(bb['acc_corrected'])}"
                + (": what correcting for the class mix alone gives back." if finite(bb["acc_test"])
                   and finite(bb["acc_corrected"]) and bb["acc_corrected"] > bb["acc_test"] else
                   ": correcting for the class mix alone does not help here."))
        if gaps and all(finite(g) for g in gaps):
            k = int(np.argmax(gaps))
            text += (f" BBSE assumes that only the class mix changed; its estimate is up to {num(gaps[k])} away "
                     f"from the labelled audit shares ({facts.class_name(inp, k)}). A large gap means that "
                     "assumption fails.")
        blocks.append(Para(text))
    return blocks


def _covariate(inp: Inputs) -> list:
    c = inp.covariate
    blocks: list = [Heading("Inputs (covariate shift) and training support")]
    shifted = bool(c.get("shifted"))
    blocks.append(Para(
        f"A domain classifier (cross-fitted logistic regression) learns to tell the {count(c.get('n_source'))} "
        f"rows of the train file from the {count(c.get('n_test'))} test (audit) rows. With the label in the "
        f"model, the AUC of its input part is {num(c.get('auc'))} ({ci_text(c.get('auc_ci_low'), c.get('auc_ci_high'))}). "
        "This is the input change beyond what the class mix explains: 0.5 means the inputs cannot be told "
        "apart, 1 means they never overlap. From the inputs alone the AUC is "
        f"{num(c.get('inputs_auc'))} ({ci_text(c.get('inputs_auc_ci_low'), c.get('inputs_auc_ci_high'))}). "
        f"Rule: {c.get('rule', 'n/a')}. Outcome: "
        + ("**covariate shift**." if shifted else "no covariate shift.")))
    feats = {str(f): a for f, a in (c.get("feature_auc") or {}).items()}
    if feats:
        order = sorted(feats, key=lambda f: (-(float(feats[f]) if finite(feats[f]) else -np.inf), f))
        rows = [[f"`{f}`", num(feats[f]), signed(float(feats[f]) - 0.5) if finite(feats[f]) else "–"] for f in order]
        blocks.append(Para("Which features separate the files: the AUC of each feature's part of the domain "
                           "classifier (0.5: this feature does not tell the files apart), largest first."))
        blocks.append(Table(["feature", "AUC", "AUC − 0.5"], rows, [False, True, True]))
    n_out, n_test, share = c.get("n_unsupported"), c.get("n_test"), c.get("share_unsupported")
    reasons = c.get("unsupported_by_reason") or {}
    names = {"unseen_level": "a level unseen in training", "out_of_range": "a numeric value outside the "
             "training range", "low_train_density": "too little training density"}
    text = (f"Training support: {count(n_out)} of {count(n_test)} test (audit) rows ({pct(share)}) lie outside "
            "it")
    if reasons:
        text += (" (" + "; ".join(f"{names.get(k, k.replace('_', ' '))}: {count(v)}" for k, v in reasons.items())
                 + "; a row can have several reasons)")
    if finite(c.get("unseen_level_rows")) and int(c.get("unseen_level_rows")) > 0:
        text += (f"; {count(c.get('unseen_level_rows'))} rows hold a level never seen in training, left out of "
                 "that feature's own comparison only")
    text += f". Rule: {c.get('support_rule', 'n/a')}."
    blocks.append(Para(text))
    if finite(share) and float(share) > 0.5:
        blocks.append(Para(
            f"**Most test (audit) rows ({pct(share)}) lie outside the training support. The models extrapolate "
            f"there, so those rows cannot be judged:** the conditional comparison below uses only the "
            f"{count(int(n_test) - int(n_out)) if finite(n_test) and finite(n_out) else '–'} supported rows, "
            "and the verdict says nothing about the rest.", "answer alert"))
    elif finite(share) and float(share) > 0:
        blocks.append(Para("Rows outside the support cannot be judged; the conditional comparison leaves them out."))
    return blocks


MARGINAL_COLUMNS = [  # (column of shift.csv, header, flag name in the `flags` column)
    ("psi", "PSI", "psi"), ("ks", "KS", "ks"), ("ks_pvalue", "KS p", None), ("tv", "TV", "tv"),
]


MARGINAL_RULES = {"psi_rule": "PSI", "ks_rule": "KS", "tv_rule": "TV", "shifted_rule": "shifted"}


def _flags(r: Mapping) -> set:
    return set(str(r.get("flags")).split(";")) if value_text(r.get("flags")) != "–" else set()


def _marginal(inp: Inputs) -> list:
    table = inp.shift
    blocks: list = [Heading("Marginal distributions")]
    if table.empty:
        blocks.append(Para("No marginal statistics in this run.", "note"))
        return blocks
    cols = [(c, h, f) for c, h, f in MARGINAL_COLUMNS if c in table]
    rows, strong = [], set()
    for i, r in enumerate(table.to_dict("records")):
        flags = _flags(r)
        row = [f"`{r['feature']}`", str(r.get("kind", ""))]
        for c, _, flag in cols:
            row.append(pval(r.get(c)) if c.endswith("pvalue") else num(r.get(c)))
            if flag and flag in flags:
                strong.add((i, len(row) - 1))
        row.append(yes(r.get("shifted")))
        if row[-1] == "yes":
            strong |= {(i, 0), (i, len(row) - 1)}
        rows.append(row)
    shifted = [str(r["feature"]) for r in table.to_dict("records") if bool(r.get("shifted"))]
    blocks.append(Para(
        "Per feature, the train file against the test (audit) rows: PSI (population stability index over bins "
        "of the observed values), KS (Kolmogorov–Smirnov distance, numeric features) with its p-value, and TV "
        "(total variation distance of the levels, categorical features). A statistic past its threshold is in "
        f"bold. Distribution shifted: {codes(shifted)}. These statistics are descriptive and enter no "
        "shortcut rule: a shortcut can keep its marginal distribution, and a shifted feature can be harmless."))
    blocks.append(Table(["feature", "kind"] + [h for _, h, _ in cols] + ["shifted"], rows,
                        [False, False] + [True] * len(cols) + [False], strong=strong))
    rule_rows = [[label, "; ".join(facts.rule_texts(table, col))] for col, label in MARGINAL_RULES.items()
                 if facts.rule_texts(table, col)]
    if rule_rows:
        blocks.append(Table(["statistic", "rule"], rule_rows, [False, False]))

    blocks.append(Heading("Missing values, train against test"))
    if "missing_train" not in table:
        blocks.append(Para("No missingness statistics in this run.", "note"))
        return blocks
    rows, strong = [], set()
    for i, r in enumerate(table.to_dict("records")):
        row = [f"`{r['feature']}`", pct(r.get("missing_train")), pct(r.get("missing_test")),
               signed(100 * float(r["missing_change"]), 1) + " pp" if finite(r.get("missing_change")) else "–",
               pval(r.get("missing_pvalue")), yes(r.get("missing_changed"))]
        if row[-1] == "yes":
            strong.add((i, 5))
        rows.append(row)
    changed = [str(r["feature"]) for r in table.to_dict("records") if bool(r.get("missing_changed"))]
    blocks.append(Para(
        "Share of missing cells per feature in the train file and in the test (audit) rows, the change in "
        f"percentage points (pp), and the two-proportion test's p-value. Missingness changed for "
        f"{len(changed)} of {plural(len(table), 'feature')}: {codes(changed)}. Rule: "
        + ("; ".join(facts.rule_texts(table, "missing_rule")) or "n/a") + "."))
    blocks.append(Table(["feature", "missing (train file)", "missing (test, audit)", "change", "p", "changed"],
                        rows, [False, True, True, True, True, False], strong=strong))
    return blocks


def section(inp: Inputs) -> Section:
    n = facts.n_rows_audit(inp)
    blocks: list = [Para(
        f"What changed between the training data and the test data. Every statistic here compares the train file "
        f"with the {count(n)} audit rows of the test data; the confirmation rows are not used. Four kinds of "
        "change are told apart: the class mix, the inputs, the relation of a feature to the label (only this "
        "one makes a shortcut), and test rows outside the training support.")]
    blocks += _class_mix(inp)
    blocks += _covariate(inp)
    blocks += shift_relation.conditional(inp)
    blocks += shift_relation.decomposition(inp)
    blocks += _marginal(inp)
    return Section("shift", "Shift evidence", blocks)
