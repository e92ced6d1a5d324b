"""Section "Reliance and attribution": permutation importance, gradient attribution shares and
the loss-gradient ranking."""

from __future__ import annotations

import numpy as np

from .. import facts, plots
from ..fmt import plural, pm, two
from ...text import finite, num
from ..load import Inputs
from ..names import SPLIT_NAMES, method_name
from ..render import Figure, Heading, Para, Section, Table


def completeness_gap(inp: Inputs) -> str:
    """Integrated gradients' completeness gap (``shortcut.saliency.relative_gap``) of the grid
    models, in words; above ``saliency.max_ig_gap`` with the warning and the remedy (more steps)."""
    gaps = [m.get("ig_gap_relative") for m in inp.saliency_meta]
    gaps = [g for g in gaps if finite(g)]
    if not gaps:
        return ""
    mean, worst = float(np.mean(gaps)), float(np.max(gaps))
    limit, steps = inp.settings.get("max_ig_gap"), inp.settings.get("ig_steps")
    text = ("Integrated gradients' completeness gap, |Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)| "
            f"averaged over the attributed rows, is {num(100 * mean, 1)} % on average over the "
            f"{plural(len(gaps), 'model and split', 'models and splits')} (largest {num(100 * worst, 1)} %), "
            f"with {steps} steps.")
    if finite(limit) and worst > limit:
        text += (f" That is above {num(100 * limit, 0)} % (`saliency.max_ig_gap`): the integrated-gradients "
                 f"shares are approximate; more `saliency.ig_steps` (now {steps}) would close the gap.")
    return text


def section(inp: Inputs) -> Section:
    method = inp.settings.get("method") or inp.diagnosis.get("method") or "integrated_gradients"
    models = facts.models(inp)
    features = facts.feature_order(inp, method)
    share = facts.saliency_means(inp, "all", method)
    splits = ("val", "audit")

    def cell(frame, setting, split, feature, col="mean", key="feature"):
        hit = frame[(frame["setting"] == setting) & (frame["split"] == split) & (frame[key] == feature)]
        return float(hit[col].iloc[0]) if len(hit) else float("nan")

    header = ["feature"] + [f"{setting}, {SPLIT_NAMES[s]}" for setting in models for s in splits]

    def share_cell(setting, split, feature):
        n = cell(share, setting, split, feature, "count")
        return pm(cell(share, setting, split, feature), cell(share, setting, split, feature, "std"),
                  int(n) if finite(n) else 0)

    blocks: list = [Heading("Permutation importance (the reliance evidence)")]
    imp = facts.importance_means(inp)
    if imp.empty:
        blocks.append(Para("No permutation importance in this run.", "note"))
    else:
        val = imp[imp["split"] == "val"].groupby("unit", sort=False)["mean"].mean()
        units = val.sort_values(ascending=False, kind="stable").index.tolist()
        units += [u for u in dict.fromkeys(imp["unit"]) if u not in units]
        kinds = imp.drop_duplicates("unit").set_index("unit")
        rows = []
        for u in units:
            n = lambda setting, s: cell(imp, setting, s, u, "count", "unit")  # noqa: E731
            label = facts.unit_label(u, kinds.loc[u, "kind"], kinds.loc[u, "members"])
            rows.append([label] + [pm(cell(imp, setting, s, u, "mean", "unit"), cell(imp, setting, s, u, "std", "unit"),
                                      int(n(setting, s)) if finite(n(setting, s)) else 0)
                                   for setting in models for s in splits])
        repeats = int(inp.importance["repeat"].nunique()) if "repeat" in inp.importance else 0
        blocks.append(Para(
            "How much the log loss rises (nats per row) when a unit's values are shuffled across the rows: mean "
            f"over {plural(repeats, 'permutation')} per model, then mean ± sd over seeds. The validation column is "
            "the reliance evidence of the verdict. On test rows where a unit's relation broke, shuffling it can "
            "help: its importance there is then negative."))
        blocks.append(Table(["unit"] + header[1:], rows, [False] + [True] * (len(header) - 1)))

    rows = [[f"`{f}`"] + [share_cell(setting, s, f) for setting in models for s in splits] for f in features]
    blocks.append(Heading("Gradient attribution"))
    blocks.append(Para(
        f"Share of the mean |attribution| per source feature ({method_name(method)}; one-hot columns summed "
        f"per feature; mean ± sd over seeds). An even split would give every feature "
        f"{two(1 / len(features)) if features else 'n/a'}. Shown beside the permutation importance; no rule "
        "uses it."))
    blocks.append(Table(header, rows, [False] + [True] * (len(header) - 1)))
    gap = completeness_gap(inp)
    if gap:
        blocks.append(Para(gap))
    caption = (f"Share of {method_name(method)} attribution per feature on validation and test (audit) "
               "(mean over seeds, ± sd)")
    if features:
        top = features[0]
        val_top = [cell(share, setting, "val", top) for setting in models]
        test_top = [cell(share, setting, "audit", top) for setting in models]
        caption += (f": the models put {two(np.nanmean(val_top))} of the validation attribution on `{top}` ("
                    + ", ".join(f"{setting} {two(v)}" for setting, v in zip(models, val_top))
                    + f") and {two(np.nanmean(test_top))} on test (audit)")
        if len(features) > 1:
            second = features[1]
            caption += (f"; the next feature, `{second}`, gets "
                        f"{two(np.nanmean([cell(share, setting, 'val', second) for setting in models]))}")
    blocks.append(Figure("attribution", caption + ".", draw=lambda: plots.plot_attribution(inp, method)))

    grad = facts.saliency_means(inp, "all", "loss_gradient", "mean_abs")
    if not grad.empty:
        ranks = {}
        for setting in models:
            for s in splits:
                sub = grad[(grad["setting"] == setting) & (grad["split"] == s)].set_index("feature")["mean"]
                ranks[(setting, s)] = sub.rank(ascending=False, method="min")

        def mean_val_rank(f):
            return np.nanmean([ranks[(a, "val")].get(f, np.nan) for a in models]), features.index(f)

        order = sorted(features, key=mean_val_rank)
        rows = []
        for f in order:
            row = [f"`{f}`"]
            for setting in models:
                for s in splits:
                    v, r = cell(grad, setting, s, f), ranks[(setting, s)].get(f, np.nan)
                    row.append(f"{num(v)} ({int(r)})" if finite(r) else "–")
            rows.append(row)
        blocks.append(Heading("Loss-gradient ranking"))
        blocks.append(Para("Mean |dL/dx| of the loss with respect to each feature's inputs (mean over seeds; "
                           "rank in parentheses), the plain-gradient view of the same question."))
        blocks.append(Table(header, rows, [False] + [True] * (len(header) - 1)))
    return Section("attribution", "Reliance and attribution", blocks)
