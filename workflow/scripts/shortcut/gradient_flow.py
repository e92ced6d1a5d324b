"""The gradient-flow study: per-layer mean |dL/dW| over the epochs of trained models' histories
(pandas and matplotlib only; the histories come from ``shortcut.nn.fit``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .table import Schema

__all__ = ["GRADIENT_FLOW_COLUMNS", "GRADIENT_FLOW_SUMMARY_COLUMNS", "gradient_flow_summary", "gradient_flow_table",
           "plot_gradient_flow"]

# studies/gradient_flow.parquet and gradient_flow_summary.parquet (the gradient_flow rule, read by
# the report), each with its .csv copy.
GRADIENT_FLOW_COLUMNS = Schema("gradient flow", {
    "model": "string", "activation": "string", "epoch": "int64", "layer": "int64", "param": "string",
    "mean_abs_grad": "float64",
})
GRADIENT_FLOW_SUMMARY_COLUMNS = Schema("gradient flow summary", {
    "model": "string", "activation": "string",
    **dict.fromkeys(["first_layer_grad", "last_layer_grad", "first_over_last"], "float64"),
})


def gradient_flow_table(histories: dict[str, pd.DataFrame], activations: dict[str, str]) -> pd.DataFrame:
    """Long table (model, activation, epoch, layer, param, mean_abs_grad) from training histories."""
    rows = []
    for model, history in histories.items():
        for column in history.columns:
            if not column.startswith("grad_"):
                continue
            param, layer = column[5], int(column[6:])
            rows.append(pd.DataFrame({
                "model": model, "activation": activations[model], "epoch": history["epoch"].to_numpy(),
                "layer": layer, "param": param, "mean_abs_grad": history[column].to_numpy(dtype=np.float64),
            }))
    return pd.concat(rows, ignore_index=True).sort_values(["model", "param", "layer", "epoch"], kind="stable")


def gradient_flow_summary(flow: pd.DataFrame) -> pd.DataFrame:
    """Per model: first-layer and last-layer weight gradient in the first epoch and their ratio."""
    rows = []
    for model, sub in flow[flow["param"] == "W"].groupby("model", sort=False):
        first = sub[sub["epoch"] == sub["epoch"].min()]
        g_first = float(first.loc[first["layer"] == first["layer"].min(), "mean_abs_grad"].iloc[0])
        g_last = float(first.loc[first["layer"] == first["layer"].max(), "mean_abs_grad"].iloc[0])
        rows.append({"model": model, "activation": sub["activation"].iloc[0], "first_layer_grad": g_first,
                     "last_layer_grad": g_last, "first_over_last": g_first / g_last if g_last else np.nan})
    return pd.DataFrame(rows, columns=list(GRADIENT_FLOW_SUMMARY_COLUMNS))


def plot_gradient_flow(flow: pd.DataFrame):
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(flow["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models), 3.2), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        sub = flow[(flow["model"] == model) & (flow["param"] == "W")]
        for layer, line in sub.groupby("layer"):
            ax.plot(line["epoch"], np.maximum(line["mean_abs_grad"], 1e-12), label=f"layer {layer + 1}")
        ax.set_yscale("log")
        ax.set_title(f"{model} ({sub['activation'].iloc[0]})", fontsize=9)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("mean |dL/dW| per layer")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig
