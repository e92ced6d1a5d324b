"""The assignment's Question 2: one bias shared by both layers against independent biases."""

from __future__ import annotations

import pandas as pd

from . import nn
from .table import Schema

__all__ = ["HISTORY_COLUMNS", "SUMMARY_COLUMNS", "plot_shared_bias", "shared_bias_study"]

# studies/shared_bias_history.parquet and shared_bias_summary.parquet (the shared_bias rule, read
# by the report), each with its .csv copy. ``epochs_to_target`` is missing (NaN) for a variant
# that never reached the target loss.
HISTORY_COLUMNS = Schema("shared-bias history", {
    "variant": "string", "seed": "int64", "epoch": "int64",
    **dict.fromkeys(["train_loss", "val_loss", "val_acc"], "float64"),
})
SUMMARY_COLUMNS = Schema("shared-bias summary", {
    "variant": "string", "seed": "int64",
    **dict.fromkeys(["final_train_loss", "final_val_loss", "final_val_acc", "target_loss", "epochs_to_target"],
                    "float64"),
})


def shared_bias_study(X_train, y_train, X_val, y_val, n_classes: int, study: dict, seeds, dtype: str,
                      threads: int):
    """Train the shared-bias network and its independent-bias twin (same start) for each seed.

    ``study``: the validated ``shared_bias`` config section (activation, init, l2 and the
    ``TrainSettings`` fields). Returns (per-epoch history, per-seed summary) DataFrames. The
    target loss is ``study["target_loss"]`` or, if null, 1.05 x the worse of the two variants'
    best training loss for that seed, so both reach it and the epochs they need are comparable.
    """
    settings = nn.TrainSettings.from_config(study)
    histories, summary = [], []
    for seed in seeds:
        shared = nn.SharedBiasNet(X_train.shape[1], n_classes, study["activation"], init=study["init"],
                                  dtype=dtype, seed=seed, l2=study["l2"])
        runs = {}
        for variant, model in (("independent", shared.independent_twin()), ("shared", shared)):
            h = nn.fit(model, X_train, y_train, X_val, y_val, settings, seed=seed, blas_threads=threads)
            runs[variant] = nn.history_frame(h)[["epoch", "train_loss", "val_loss", "val_acc"]]
        target = study["target_loss"] or 1.05 * max(r["train_loss"].min() for r in runs.values())
        for variant, h in runs.items():
            histories.append(h.assign(variant=variant, seed=seed))
            reached = h.loc[h["train_loss"] <= target, "epoch"]
            summary.append({"variant": variant, "seed": seed, "final_train_loss": float(h["train_loss"].iloc[-1]),
                            "final_val_loss": float(h["val_loss"].iloc[-1]), "final_val_acc": float(h["val_acc"].iloc[-1]),
                            "target_loss": float(target),
                            "epochs_to_target": int(reached.iloc[0]) if len(reached) else None})
    history = pd.concat(histories, ignore_index=True)[list(HISTORY_COLUMNS)]
    return history, pd.DataFrame(summary, columns=list(SUMMARY_COLUMNS))


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
