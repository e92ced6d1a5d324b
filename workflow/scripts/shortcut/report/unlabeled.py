"""The report of a test file without labels (one page: the label-free answer, the class mix
estimated from predictions, each unit's input shift, the expected accuracy, support, the
predictions of the remedies, and what cannot be seen without labels), and the section of the
labelled report that sets what the label-free audit expected beside what the labels measured.

Contents in, :class:`Document` or :class:`Section` out (the rule scripts read and write)."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..text import finite, num
from .fmt import count, pct
from .render import Bullets, Document, Heading, Para, Section, Table


def _ci(lo, hi) -> str:
    return f"{num(lo)} to {num(hi)}" if finite(lo) and finite(hi) else "–"


def mix_table(mix: pd.DataFrame) -> Table:
    rows = [[f"`{r['class']}`", num(r["train_share"]), num(r["share"]), _ci(r["ci_low"], r["ci_high"]),
             num(r["recall_val"])] for r in mix.to_dict("records")]
    return Table(["class", "training share", "estimated test share", "95 % CI", "validation recall"], rows,
                 [False, True, True, True, True])


def unit_table(units: pd.DataFrame) -> Table:
    rows = []
    for r in units.to_dict("records"):
        yes = lambda b: "**yes**" if bool(b) else "no"  # noqa: E731
        rows.append([f"`{r['unit']}`", yes(r["relied"]), pct(r["share"]),
                     f"{num(r['auc_plain'])} ({_ci(r['auc_plain_ci_low'], r['auc_plain_ci_high'])})",
                     f"{num(r['auc_mix'])} ({_ci(r['auc_mix_ci_low'], r['auc_mix_ci_high'])})" if finite(r["auc_mix"])
                     else "–",
                     f"{num(r['rest_auc'])} (upper {num(r['rest_auc_ci_high'])}; before {num(r['rest_auc_plain'])}, "
                     f"lower {num(r['rest_auc_plain_ci_low'])})"
                     if finite(r["rest_auc"]) else "–",
                     yes(r["moved"]), yes(r["selection"]), yes(r["suspect"]),
                     count(r["labels_needed"]) if finite(r["labels_needed"]) else "–"])
    return Table(["unit", "relied on", "share of reliance", "domain AUC of its part (95 % CI)",
                  "… against the re-weighted training rows", "other inputs given it", "moved", "selection",
                  "suspect", "labels needed"], rows, [False, False, True, True, True, True, False, False, False, True],
                 strong={(i, 8) for i, r in enumerate(rows) if r[8] == "**yes**"})


def evidence_blocks(summary: Mapping, units: pd.DataFrame, mix: pd.DataFrame) -> list:
    """The label-free evidence as report blocks (both reports show it)."""
    m, e, sup, inputs = summary["class_mix"], summary["expected"], summary["support"], summary["inputs"]
    estimable = bool(m.get("estimable"))
    blocks: list = [Heading("Class mix estimated from the models' predictions"), mix_table(mix), Para(
        f"Soft black-box shift estimation from the grid's mean probabilities; smallest singular value of "
        f"P(predicted | true) {num(m['min_singular'])}: "
        + ("the mix can be estimated" if estimable else "**the class mix cannot be estimated from these "
                                                        "predictions**")
        + f"; total variation from the training mix {num(m['tv'])}"
        + ("; **moved**." if m.get("moved") else "; not moved."))]
    iw = e["importance"]
    rows = [["validation (measured)", num(e["acc_val"]), "–"]]
    if estimable:
        rows.append(["under the estimated class mix", num(m["acc_expected"]),
                     _ci(m["acc_expected_ci_low"], m["acc_expected_ci_high"])])
    rows.append([f"importance weighting of the validation rows (effective sample size {count(iw['ess'])})",
                 num(iw["acc"]), _ci(iw["ci_low"], iw["ci_high"])])
    blocks += [Heading("Expected accuracy on the new rows"),
               Table(["how", "accuracy", "95 % CI"], rows, [False, True, True]),
               Para("Both expected accuracies assume P(Y | X) holds: that the labels relate to the inputs as in "
                    "training. A shortcut is exactly a relation that does not hold, so they are what the models "
                    "would score if there were none.", "note"),
               Heading("Input shift per unit, beyond the class mix"), unit_table(units),
               Para(f"Domain classifier (no label) over all inputs: AUC {num(inputs['auc']['auc'])} "
                    f"({_ci(inputs['auc']['ci_low'], inputs['auc']['ci_high'])}); against the training rows "
                    f"re-weighted to the estimated class mix {num(inputs['auc_mix']['auc'])} "
                    f"({_ci(inputs['auc_mix']['ci_low'], inputs['auc_mix']['ci_high'])}). "
                    f"{pct(sup['share'])} of the {count(sup['n_test'])} test rows lie outside the training support "
                    f"(95 % CI {pct(sup['ci_low'])} to {pct(sup['ci_high'])})."),
               Heading("Rules"), Bullets([f"**{k.replace('_', ' ')}**: {v}" for k, v in summary["rules"].items()])]
    return blocks


def unlabeled_document(summary: Mapping, units: pd.DataFrame, mix: pd.DataFrame, answer: Mapping,
                       metrics: pd.DataFrame, settings: Mapping) -> Document:
    """The report of a run whose test file has no labels."""
    a = answer
    differ = a.get("label_free", {}).get("predictions_differ", {})
    val = metrics[(metrics["fs"] == "all") & (metrics["split"] == "val")] if len(metrics) else metrics
    answer_section = Section("answer", "Answer (without labels)", [
        Para(f"**{a['headline']}**", "answer alert" if a["kind"] == "suspect unconfirmed" else "answer"),
        Bullets(list(a["sentences"]))])
    pred_rows = [[f"`{fs}`", count(n), pct(n / summary["n_test"]) if summary["n_test"] else "–"]
                 for fs, n in differ.items()]
    predictions = Section("predictions", "Predictions for the new rows", [
        Para(f"`predictions/unlabeled/test.csv`: for each of the {count(summary['n_test'])} test rows the class "
             f"predicted with all features (the grid's first setting, seeds averaged)"
             + (" and with each suspect's remedy (the same setting retrained without it)." if differ else ".")),
        *([Table(["remedy", "rows predicted differently", "share"], pred_rows, [False, True, True])]
          if pred_rows else [])])
    models = Section("models", "Models", [Table(
        ["setting", "validation accuracy"],
        [[f"`{r['setting']}`", num(r["accuracy_mean"])] for r in val.to_dict("records")], [False, True])])
    limits = Section("limits", "What this cannot see", [Para(summary["rules"]["limit"]), Para(
        "Give the same test file with its labels filled in to run the labelled audit: it checks every "
        "relied-on feature's relation to the label on the test rows and confirms or clears every suspect "
        "(the remedy models trained here are reused).")])
    evidence = Section("evidence", "Label-free evidence", evidence_blocks(summary, units, mix))
    subtitle = (f"Dataset `{settings.get('dataset')}`: the test file has no `{settings.get('target')}` labels; "
                f"{count(summary['n_test'])} test rows audited from their inputs and the models' predictions.")
    return Document(f"Audit without labels: {settings.get('dataset')}", subtitle,
                    [answer_section, evidence, predictions, models, limits])


def measured_test_accuracy(per_seed: pd.DataFrame, split_sizes: Mapping, settings: Sequence[str]) -> float:
    """Mean over the grid's models (all features) of the accuracy on every test row: the audit
    and confirmation accuracies weighted by their rows."""
    if per_seed is None or not len(per_seed):
        return float("nan")
    f = per_seed[(per_seed["fs"] == "all") & per_seed["setting"].isin(list(settings))]
    n_a, n_c = float(split_sizes.get("audit") or 0), float(split_sizes.get("confirm") or 0)
    if n_a + n_c == 0:
        return float("nan")
    acc = []
    for _, g in f.groupby(["setting", "seed"]):
        by = dict(zip(g["split"], g["accuracy"]))
        if "audit" in by and "confirm" in by:
            acc.append((n_a * by["audit"] + n_c * by["confirm"]) / (n_a + n_c))
    return float(np.mean(acc)) if acc else float("nan")


def labelled_section(summary: Mapping | None, measured: float, labelled_suspects: Sequence[str]) -> Section:
    """The labelled report's section "Without labels": what the label-free audit expected, beside
    what the labels measured."""
    if not summary:
        return Section("label_free", "Without labels", [Para("The label-free audit was not run.")])
    m, iw = summary["class_mix"], summary["expected"]["importance"]
    rows = [["measured on every test row (labels)", num(measured), "–"]]
    if m.get("estimable"):
        rows.append(["expected under the estimated class mix (no labels)", num(m["acc_expected"]),
                     _ci(m["acc_expected_ci_low"], m["acc_expected_ci_high"])])
    rows.append(["expected by importance weighting (no labels)", num(iw["acc"]), _ci(iw["ci_low"], iw["ci_high"])])
    free = list(summary.get("suspects", []))
    said = (f"Without the labels the audit named {', '.join(f'`{s}`' for s in free)} as "
            f"{'a suspect' if len(free) == 1 else 'suspects'}, unconfirmed" if free
            else "Without the labels the audit named no suspect")
    said += (f"; with them the verdict's suspects are {', '.join(f'`{s}`' for s in labelled_suspects)}."
             if labelled_suspects else "; with them the verdict names none.")
    return Section("label_free", "Without labels: expected against measured", [
        Para(f"The label-free audit of the same test rows (their labels not read): "
             f"**{summary['answer']['headline']}**"),
        Table(["accuracy of the grid on the test rows", "value", "95 % CI"], rows, [False, True, True]),
        Para("The expected accuracies assume P(Y | X) holds; where the labels measure less, the relation between "
             "inputs and label changed, which is what the label-free audit cannot see. " + said, "note")])
