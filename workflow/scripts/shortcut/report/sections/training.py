"""Section "Training": epochs and best epochs per model, training curves, and the gradient-flow
study (when it ran)."""

from __future__ import annotations

from .. import facts, plots
from ..fmt import count, join_words, plural, sci, sig, two
from ...text import finite, num
from ..load import Inputs
from ..render import Figure, Heading, Para, Section, Table


def _span(values) -> str:
    values = [int(v) for v in values]
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}–{max(values)}"


def section(inp: Inputs) -> Section:
    blocks: list = []
    models = facts.models(inp)
    seeds = sorted({s for (_, s) in inp.histories})
    parts = []
    rows = []
    for setting in models:
        best = facts.best_epochs(inp, setting)
        if best.empty:
            continue
        parts.append(f"`{setting}` trains for {_span(best['epochs'])} epochs and has its lowest validation loss at epoch "
                     f"{_span(best['epoch'])}, where validation accuracy is {two(best['val_acc'].mean())} "
                     f"(train {two(best['train_acc'].mean())})")
        rows.append([f"`{setting}`", str(len(best)), _span(best["epochs"]), _span(best["epoch"]),
                     num(best["val_loss"].mean()), num(best["val_acc"].mean()), num(best["train_acc"].mean())])
    caption = (f"Training (solid) and validation (dashed) loss and accuracy per epoch, mean over "
               f"{plural(len(seeds), 'seed')} still training with a ±1 sd band, each seed's best epoch dotted: "
               + "; ".join(parts) + ".")
    blocks.append(Para("Per model: epochs trained (early stopping on validation loss) and, at each seed's epoch "
                       "of lowest validation loss (the weights that are kept), the mean validation loss and "
                       "accuracies."))
    blocks.append(Table(["model", "seeds", "epochs run", "best epoch", "val loss (best)", "val accuracy (best)",
                         "train accuracy (best)"], rows, [False, True, True, True, True, True, True]))
    blocks.append(Figure("training_curves", caption, draw=lambda: plots.plot_training_curves(inp)))

    blocks.append(Heading("Gradient flow"))
    flow = inp.gradient_flow
    if flow is None or flow.empty:
        blocks.append(Para("The gradient-flow study was not run in this workflow (no `studies/gradient_flow.csv`).",
                           "note"))
        blocks.append(Figure("gradient_flow", "Gradient flow: not available in this run.",
                             missing="gradient-flow study not run"))
        return Section("training", "Training", blocks)
    rows, parts = [], []
    w = flow[flow["param"] == "W"]
    for model in dict.fromkeys(w["model"]):
        sub = w[w["model"] == model]
        first_epoch, last_epoch = sub["epoch"].min(), sub["epoch"].max()
        lo, hi = sub["layer"].min(), sub["layer"].max()

        def grad(epoch, layer, sub=sub):
            hit = sub[(sub["epoch"] == epoch) & (sub["layer"] == layer)]["mean_abs_grad"]
            return float(hit.iloc[0]) if len(hit) else float("nan")

        g_first, g_last = grad(first_epoch, lo), grad(first_epoch, hi)
        ratio = g_first / g_last if finite(g_last) and g_last else float("nan")
        act = sub["activation"].iloc[0]
        rows.append([f"`{model}`", str(act), str(sub["layer"].nunique()), count(last_epoch), sci(g_first),
                     sci(g_last), sig(ratio), sci(grad(last_epoch, lo))])
        parts.append(f"{sig(ratio)} times the last layer's for `{model}` ({sci(g_first)} against {sci(g_last)})")
    blocks.append(Para(
        "Mean |dL/dW| per layer in the first epoch, for the gradient-flow models (training on all features, "
        "first seed): a first-layer gradient orders of magnitude below the last layer's is a vanishing gradient."))
    blocks.append(Table(["model", "activation", "layers", "epochs", "first layer, epoch 1", "last layer, epoch 1",
                         "first / last", "first layer, last epoch"], rows,
                        [False, False, True, True, True, True, True, True]))
    caption = ("Mean absolute weight gradient per layer and epoch (log scale): in the first epoch the first "
               "layer's gradient is " + join_words(parts) + ".")
    blocks.append(Figure("gradient_flow", caption, source=inp.gradient_flow_png,
                         missing="" if inp.gradient_flow_png else "gradient-flow figure not available"))
    return Section("training", "Training", blocks)
