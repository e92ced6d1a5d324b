"""Tables over the grid of models: per-seed metric rows with their mean and sd over seeds, and
per-model tables stacked with the model they belong to. pandas and the metrics module only, so
the collect job loads no network code."""

from __future__ import annotations

import pandas as pd

from . import metrics

METRIC_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "majority_baseline")


def collect_metrics(records: list[dict], keys: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-seed metric rows (one per model and split) and their mean and sd over seeds.

    ``keys`` name each record's model (fs, setting, seed, split), in the order of ``records``."""
    rows = [{**key, **{m: rec[m] for m in METRIC_KEYS}, "n": rec["n"]} for rec, key in zip(records, keys)]
    per_seed = pd.DataFrame(rows).sort_values(["fs", "setting", "split", "seed"], kind="stable")
    groups = []
    for (fs, setting, split), sub in per_seed.groupby(["fs", "setting", "split"], sort=True):
        stats = metrics.summarize_seeds(sub.to_dict("records"), METRIC_KEYS)
        row = {"fs": fs, "setting": setting, "split": split, "n_seeds": len(sub)}
        for m in METRIC_KEYS:
            row[f"{m}_mean"], row[f"{m}_sd"] = stats[m]["mean"], stats[m]["sd"]
        groups.append(row)
    return per_seed.reset_index(drop=True), pd.DataFrame(groups)


def stack_tables(frames: list[pd.DataFrame], keys: list[dict]) -> pd.DataFrame:
    """Stack per-model tables (``by_feature`` saliency, importance), tagged with their model,
    seed and split."""
    tagged = [frame.assign(**key) for frame, key in zip(frames, keys)]
    return pd.concat(tagged, ignore_index=True)
