"""One function per pipeline step that needs more than a library call: the rule scripts call these.

Each takes already-loaded inputs and returns what the step writes, so it can be unit-tested
without Snakemake.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import data, metrics, network, train


def majority_class(encoder: dict) -> int:
    """The most frequent class of the training partition (the baseline every split is compared to)."""
    return int(np.argmax(encoder["split"]["class_counts_train"]))


def build_model(hp: dict, net: dict, n_in: int, n_classes: int, seed: int) -> network.MLP:
    return network.MLP(
        n_in, hp.get("hidden") or net["hidden"], n_classes, hp["activation"],
        init=hp.get("init", "auto"), dtype=net.get("dtype", "float32"), seed=seed, l2=hp.get("l2", 0.0),
    )


def train_model(train_path, val_path, encoder: dict, hp: dict, net: dict, n_classes: int, seed: int,
                threads: int = 1):
    """Train one grid cell on the encoded train and val files.

    Returns (model, per-epoch history frame, hyperparameters, train-split metrics)."""
    dtype = np.dtype(net.get("dtype", "float32"))
    X_train, y_train, _ = data.read_xy(train_path, dtype)
    X_val, y_val, _ = data.read_xy(val_path, dtype)
    model = build_model(hp, net, X_train.shape[1], n_classes, seed)
    history = train.fit(
        model, X_train, y_train, X_val, y_val,
        optimizer=hp.get("optimizer", "adam"), lr=hp["lr"], batch_size=hp.get("batch_size") or None,
        epochs=hp.get("epochs", 40), patience=hp.get("patience") or None, seed=seed,
        momentum=hp.get("momentum", 0.9), blas_threads=threads,
    )
    resolved = {
        **net, **hp, "seed": seed, "n_features": int(X_train.shape[1]), "n_classes": n_classes,
        "columns": encoder["columns"], "feature_set": encoder["feature_set"],
        "best_epoch": _scalar(history.get("best_epoch")), "epochs_run": int(len(history["epoch"])),
    }
    fit_metrics = metrics.classification_metrics(
        y_train, model.predict_proba(X_train), n_classes, majority_class(encoder)
    )
    return model, train.history_frame(history), resolved, fit_metrics


def _scalar(value):
    if value is None:
        return None
    return value.item() if hasattr(value, "item") else value


METRIC_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "majority_baseline")


def predictions_frame(rows: np.ndarray, y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """Per row: source row number, label, predicted class and the probability of every class."""
    frame = pd.DataFrame({"row": rows, data.TARGET: y, "predicted": np.argmax(proba, axis=1)})
    for k in range(proba.shape[1]):
        frame[f"p{k}"] = proba[:, k].astype(np.float64)
    return frame


def evaluate_split(model, split_path, encoder: dict, n_classes: int, cfg: dict, reliance_cfg: dict,
                   seed: int):
    """Metrics, per-row predictions, grouped permutation importance and saliency tables of one
    trained model on one encoded split file (val, audit or confirm)."""
    from . import reliance, saliency

    X, y, rows = data.read_xy(split_path, model.dtype)
    proba = model.predict_proba(X)
    result = metrics.classification_metrics(y, proba, n_classes, majority_class(encoder))
    importance = reliance.permutation_importance(
        model, X, y, encoder["sources"], encoder.get("groups", []), reliance_cfg["repeats"], seed
    )
    baseline = encoder["column_means"] if cfg.get("baseline", "train_mean") == "train_mean" else None
    tables = saliency.saliency_tables(
        model, X, y, encoder["columns"], encoder["sources"], baseline=baseline,
        ig_steps=cfg.get("ig_steps", 32), chunk_rows=cfg.get("chunk_rows", 65_536),
        row_ids=rows, target=cfg.get("target", "predicted"),
    )
    return result, predictions_frame(rows, y, proba), importance, tables


def collect_metrics(records: list[dict], keys: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-seed metric rows (one per model and split) and their mean and sd over seeds."""
    rows = [{**key, **{m: rec[m] for m in METRIC_KEYS}, "n": rec["n"]} for rec, key in zip(records, keys)]
    per_seed = pd.DataFrame(rows).sort_values(["fs", "act", "split", "seed"], kind="stable")
    groups = []
    for (fs, act, split), sub in per_seed.groupby(["fs", "act", "split"], sort=True):
        stats = metrics.summarize_seeds(sub.to_dict("records"), METRIC_KEYS)
        row = {"fs": fs, "act": act, "split": split, "n_seeds": len(sub)}
        for m in METRIC_KEYS:
            row[f"{m}_mean"], row[f"{m}_sd"] = stats[m]["mean"], stats[m]["sd"]
        groups.append(row)
    return per_seed.reset_index(drop=True), pd.DataFrame(groups)


def collect_saliency(frames: list[pd.DataFrame], keys: list[dict]) -> pd.DataFrame:
    """Stack per-model tables (``by_feature`` saliency, importance), tagged with their model,
    seed and split."""
    tagged = [frame.assign(**key) for frame, key in zip(frames, keys)]
    return pd.concat(tagged, ignore_index=True)
