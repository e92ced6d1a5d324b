"""Section "Generalization": accuracy per split against the majority baseline."""

from __future__ import annotations

from .. import facts, plots
from ..fmt import join_words, plural, pm, two
from ...text import num
from ..load import Inputs
from ..names import EVAL_SPLITS
from ..render import Figure, Para, Section, Table


def section(inp: Inputs) -> Section:
    models = facts.models(inp)
    majority = facts.majority(inp)
    rows, below, above, parts = [], [], [], []
    for setting in models:
        tr, va, au, co = (facts.metric(inp, "all", setting, s) for s in ("train", *EVAL_SPLITS))
        g = facts.gap(inp, "all", setting)
        base = facts.metric(inp, "all", setting, "audit", "majority_baseline")[0]
        bal = facts.metric(inp, "all", setting, "audit", "balanced_accuracy")
        f1 = facts.metric(inp, "all", setting, "audit", "macro_f1")
        ll = facts.metric(inp, "all", setting, "audit", "log_loss")
        side = facts.side(au[0], base)
        (below if side == "below" else above).append(f"`{setting}` ({num(au[0])})")
        rows.append([f"`{setting}`", pm(*tr), pm(*va), pm(*au), pm(*co), pm(*g), num(base), side, pm(*bal), pm(*f1),
                     pm(*ll)])
        parts.append(f"`{setting}` reaches {two(va[0])} validation accuracy but {two(au[0])} on the test (audit) rows "
                     f"and {two(co[0])} on the test (confirmation) rows, {side} the {two(base)} majority baseline")
    blocks: list = [Table(
        ["model", "train accuracy", "validation accuracy", "test (audit) accuracy", "test (confirmation) accuracy",
         "gap (validation − audit)", "majority baseline (audit)", "audit vs baseline", "audit balanced acc.",
         "audit macro F1", "audit log loss"],
        rows, [False, True, True, True, True, True, True, False, True, True, True],
        strong={(i, 7) for i, r in enumerate(rows) if r[7] == "below"})]
    n_seeds = facts.metric(inp, "all", models[0], "audit")[2] if models else 0
    text = (f"Mean ± sd over {plural(n_seeds, 'seed')} on all features. The majority baseline always predicts "
            f"the most frequent training class, {majority} ({num(facts.baseline(inp, 'audit'))} of the test (audit) "
            "rows). ")
    if below:
        text += f"**Test (audit) accuracy is below the majority baseline** for {join_words(below)}"
        text += f"; above it for {join_words(above)}." if above else "."
    else:
        text += f"Test (audit) accuracy is above the majority baseline for every model: {join_words(above)}."
    blocks.append(Para(text))
    blocks.append(Figure("generalization", "; ".join(parts) + " (bars: mean over seeds, whiskers ± sd, dashed: "
                         "majority baseline per split).", draw=lambda: plots.plot_generalization(inp)))
    return Section("generalization", "Generalization", blocks)
