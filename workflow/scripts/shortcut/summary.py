"""Tables over the grid of models: per-seed metric rows with their mean and sd over seeds, and
per-model tables stacked with the model they belong to. pandas and the metrics module only, so
the collect job loads no network code."""

from __future__ import annotations

import pandas as pd

from . import metrics
from .reliance import IMPORTANCE_COLUMNS
from .saliency import BY_FEATURE_COLUMNS
from .table import Schema

METRIC_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss", "majority_baseline")

# The tables of evaluation/<fs>/ (the collect rule; a .parquet each, read by the report, diagnose
# and predict, and its .csv copy). KEY_COLUMNS name the model and split of a row.
KEY_COLUMNS = {"fs": "string", "setting": "string", "seed": "int64", "split": "string"}
METRICS_PER_SEED_COLUMNS = Schema("metrics per seed", {
    **KEY_COLUMNS, **dict.fromkeys(METRIC_KEYS, "float64"), "n": "int64",
})
METRICS_SUMMARY_COLUMNS = Schema("metrics summary", {
    "fs": "string", "setting": "string", "split": "string", "n_seeds": "int64",
    **{f"{m}_{stat}": "float64" for m in METRIC_KEYS for stat in ("mean", "sd")},
})
# the per-model tables stacked (``stack_tables``): their columns, then the keys
GRID_SALIENCY_COLUMNS = Schema("saliency by feature of every model", {**BY_FEATURE_COLUMNS.columns, **KEY_COLUMNS})
GRID_IMPORTANCE_COLUMNS = Schema("permutation importance of every model",
                                 {**IMPORTANCE_COLUMNS.columns, **KEY_COLUMNS})


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
