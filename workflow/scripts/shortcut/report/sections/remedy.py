"""Section "Remedy and confirmation": each remedy judged on the confirmation rows, and the
accuracy of the retrained models."""

from __future__ import annotations

import pandas as pd

from .. import facts, plots
from ...remedy import HELPED, NO_HELP, level_text, outcome_of
from ..fmt import ci, count, join_words, pm, signed, two
from ...text import direction, finite, num
from ..load import Inputs
from ..names import EVAL_SPLITS
from ..render import Figure, Heading, Para, Section, Table


POOLED = "all settings"  # the confirmation table's pooled row


def _ci_words(r) -> str:
    """'97.5 % CI +0.080 to +0.160' (the level the table used; Bonferroni over the remedies)."""
    return f"{level_text(r.get('ci_level'))} {signed(r.get('ci_low'))} to {signed(r.get('ci_high'))}"


def _outcome_words(r, outcome: str) -> str:
    """The pooled row's outcome in words: helped, did not help, or inconclusive."""
    min_gain = r.get("min_gain")
    gain = f"a gain of at least {float(min_gain):g}" if finite(min_gain) else "a gain"
    if outcome == HELPED:
        return "**confirmed** (removing it helped)"
    if outcome == NO_HELP:
        below = f"the minimum useful gain of {float(min_gain):g}" if finite(min_gain) else "0"
        return f"**not confirmed**: removing it did not help (the interval lies below {below})"
    return f"**inconclusive**: these rows cannot tell {gain} from none"


def _confirmation_blocks(inp: Inputs, fs: str) -> list:
    conf = inp.confirmation
    sub = conf[conf["feature_set"] == fs] if not conf.empty and "feature_set" in conf else pd.DataFrame()
    label = facts.fs_label(inp, fs)
    if sub.empty:
        return [Para(f"No confirmation results for the models retrained {label}.", "note")]
    sub = pd.concat([sub[sub["setting"] != POOLED], sub[sub["setting"] == POOLED]])
    rows, strong = [], set()
    for i, r in enumerate(sub.to_dict("records")):
        outcome = outcome_of(pd.Series(r))
        row = [str(r["setting"]) if r["setting"] == POOLED else f"`{r['setting']}`", count(r.get("n_models")),
               count(r.get("n_rows")), num(r.get("acc_all")), num(r.get("acc_remedy")),
               ci(r.get("diff"), r.get("ci_low"), r.get("ci_high"), sign=True), outcome]
        if outcome == HELPED:
            strong.add((i, 6))
        rows.append(row)
    level = level_text(sub["ci_level"].iloc[0] if "ci_level" in sub else None)
    blocks: list = [Table(["setting", "models", "rows", "accuracy, all features", "accuracy, remedy",
                           f"gain (remedy − all) [{level}]", "outcome"], rows,
                          [False, True, True, True, True, True, False], strong=strong,
                          total=bool((sub["setting"] == POOLED).any()))]
    pooled = sub[sub["setting"] == POOLED]
    if len(pooled):
        r = pooled.iloc[0]
        verb = direction(r["acc_all"], r["acc_remedy"])
        blocks.append(Para(
            f"Pooled over settings, retrained {label} the confirmation accuracy {verb} from {num(r['acc_all'])} to "
            f"{num(r['acc_remedy'])}, a change of {signed(r['diff'])} ({_ci_words(r)}, "
            f"{count(r['n_models'])} models on {count(r['n_rows'])} rows): {_outcome_words(r, outcome_of(r))}."))
    return blocks


def section(inp: Inputs) -> Section:
    models = facts.models(inp)
    remedies = facts.remedies(inp)
    run = facts.remedies_run(inp)
    blocks: list = []
    ts = inp.test_split
    if not remedies:
        blocks.append(Para("No shortcut suspect, so no remedy was trained: no feature was dropped and nothing was "
                           "retrained or confirmed. The figure shows the models on all features for reference."))
    else:
        rule = facts.answer(inp).get("rule") or facts.rule_texts(inp.confirmation, "rule")
        rule = rule if isinstance(rule, str) else "; ".join(rule)
        blocks.append(Para(
            "Each remedy retrains the whole grid without the suspect (or without all suspects together). It is "
            f"judged on the confirmation part of the test data: {count(ts.get('confirm'))} rows "
            f"({ts.get('source', 'test file')}) that **no decision saw**: not the shift evidence, not the verdict, "
            "not the choice of remedy. Per model setting, the accuracy of the retrained models minus that of the "
            "models on all features, on the same rows, averaged over seeds (interval: rows and seeds "
            "bootstrapped, Bonferroni-corrected over the remedies); pooled over settings in the last row, whose "
            "interval decides: the remedy **helped** (it is confirmed), **did not help** (no useful gain), or is "
            f"**inconclusive** (these rows cannot tell a useful gain from none). Rule: {rule or 'n/a'}."))
        for fs in remedies:
            blocks.append(Heading(f"Retrained {facts.fs_label(inp, fs)}"))
            blocks += _confirmation_blocks(inp, fs)
    missing = [fs for fs in remedies if fs not in run]
    if missing:
        blocks.append(Para(f"No retraining metrics for {join_words([f'`{fs}`' for fs in missing])}.", "note"))

    blocks.append(Heading("Accuracy of the remedy models"))
    rows, strong, parts = [], set(), []
    for setting in models:
        base = facts.metric(inp, "all", setting, "confirm", "majority_baseline")[0]
        c_all = facts.metric(inp, "all", setting, "confirm")[0]
        for fs in ["all"] + run:
            tr, va, au, co = (facts.metric(inp, fs, setting, s) for s in ("train", *EVAL_SPLITS))
            change = co[0] - c_all if fs != "all" else float("nan")
            side = facts.side(co[0], base)
            rows.append([f"`{setting}`", facts.fs_label(inp, fs), pm(*tr), pm(*va), pm(*au), pm(*co), pm(*facts.gap(inp, fs, setting)),
                         "–" if fs == "all" else signed(change), side])
            if side == "below":
                strong.add((len(rows) - 1, 8))
        for fs in run:
            co, va = facts.metric(inp, fs, setting, "confirm")[0], facts.metric(inp, fs, setting, "val")[0]
            v_all = facts.metric(inp, "all", setting, "val")[0]
            parts.append(f"retrained {facts.fs_label(inp, fs)}, `{setting}`'s test (confirmation) accuracy "
                         f"{direction(c_all, co)} from {two(c_all)} to {two(co)} ({facts.side(co, base)} the {two(base)} "
                         f"majority baseline) while its validation accuracy goes from {two(v_all)} to {two(va)}")
    blocks.append(Para("Mean ± sd over seeds; change: test (confirmation) accuracy minus that of the same model "
                       "setting on all features."))
    blocks.append(Table(["model", "features", "train accuracy", "validation accuracy", "test (audit) accuracy",
                         "test (confirmation) accuracy", "gap (validation − audit)", "confirmation change",
                         "confirmation vs baseline"], rows,
                        [False, False, True, True, True, True, True, True, False], strong=strong))
    if run:
        caption = ("Validation, test (audit) and test (confirmation) accuracy with all features and retrained "
                   "for each remedy: " + "; ".join(parts) + ".")
    else:
        base = facts.metric(inp, "all", models[0], "confirm", "majority_baseline")[0] if models else float("nan")
        caption = ("No remedy was trained; with all features the test (confirmation) accuracy is "
                   + ", ".join(f"{two(facts.metric(inp, 'all', setting, 'confirm')[0])} for `{setting}`" for setting in models)
                   + f" against a {two(base)} majority baseline.")
    blocks.append(Figure("remedy", caption, draw=lambda: plots.plot_remedy(inp)))
    return Section("remedy", "Remedy and confirmation", blocks)
