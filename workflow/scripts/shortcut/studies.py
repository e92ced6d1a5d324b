"""The two side studies of the seed assignment: gradient flow per activation, and the shared bias."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import data, network, train


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
    return pd.DataFrame(rows)


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


def shared_bias_study(train_path, val_path, n_classes: int, cfg: dict, seeds, dtype: str = "float32",
                      threads: int = 1):
    """Train the shared-bias network and its independent-bias twin (same start) for each seed.

    Returns (per-epoch history, per-seed summary) DataFrames. The target loss is
    ``cfg["target_loss"]`` or, by default, 1.05 x the worse of the two variants' best training
    loss for that seed, so both reach it and the epochs they need are comparable.
    """
    X_train, y_train, _ = data.read_xy(train_path, np.dtype(dtype))
    X_val, y_val, _ = data.read_xy(val_path, np.dtype(dtype))
    histories, summary = [], []
    for seed in seeds:
        shared = network.SharedBiasNet(X_train.shape[1], n_classes, cfg["activation"], init=cfg.get("init", "auto"),
                                       dtype=dtype, seed=seed, l2=cfg.get("l2", 0.0))
        runs = {}
        for variant, model in (("independent", shared.independent_twin()), ("shared", shared)):
            h = train.fit(model, X_train, y_train, X_val, y_val, optimizer=cfg.get("optimizer", "adam"), lr=cfg["lr"],
                          batch_size=cfg.get("batch_size") or None, epochs=cfg["epochs"], seed=seed,
                          blas_threads=threads)
            runs[variant] = train.history_frame(h)[["epoch", "train_loss", "val_loss", "val_acc"]]
        target = cfg.get("target_loss") or 1.05 * max(r["train_loss"].min() for r in runs.values())
        for variant, h in runs.items():
            histories.append(h.assign(variant=variant, seed=seed))
            reached = h.loc[h["train_loss"] <= target, "epoch"]
            summary.append({"variant": variant, "seed": seed, "final_train_loss": float(h["train_loss"].iloc[-1]),
                            "final_val_loss": float(h["val_loss"].iloc[-1]), "final_val_acc": float(h["val_acc"].iloc[-1]),
                            "target_loss": float(target),
                            "epochs_to_target": int(reached.iloc[0]) if len(reached) else None})
    history = pd.concat(histories, ignore_index=True)[["variant", "seed", "epoch", "train_loss", "val_loss", "val_acc"]]
    return history, pd.DataFrame(summary)


def plot_shared_bias(history: pd.DataFrame):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for variant, sub in history.groupby("variant", sort=True):
        mean = sub.groupby("epoch")[["train_loss", "val_acc"]].mean()
        axes[0].plot(mean.index, mean["train_loss"], label=variant)
        axes[1].plot(mean.index, mean["val_acc"], label=variant)
    axes[0].set_ylabel("training loss (mean over seeds)")
    axes[1].set_ylabel("validation accuracy (mean over seeds)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    return fig
