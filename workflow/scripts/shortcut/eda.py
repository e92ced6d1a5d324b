"""Exploratory tables and figures of the cleaned train and test files, side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import codes
from .spec import TARGET, DatasetSpec
from .table import Schema

# eda/class_distribution, target_association and summary (the eda rule; a .parquet each, read by
# the report, and its .csv copy).
CLASS_DISTRIBUTION_COLUMNS = Schema("class distribution", {
    "part": "string", "class": "string", "name": "string", "count": "int64", "share": "float64",
})
ASSOCIATION_COLUMNS = Schema("target association", {
    "part": "string", "feature": "string", "measure": "string", "value": "float64",
})
NUMERIC_SUMMARY_COLUMNS = Schema("numeric summary", {
    "part": "string", "feature": "string", "class": "string", "count": "int64", "missing": "int64",
    **dict.fromkeys(["mean", "q25", "median", "q75"], "float64"),
})


def class_distribution(frames: dict[str, pd.DataFrame], spec: DatasetSpec) -> pd.DataFrame:
    rows = []
    for part, frame in frames.items():
        counts = np.bincount(frame[TARGET].to_numpy(), minlength=len(spec.classes))
        for k, count in enumerate(counts):
            rows.append(
                {"part": part, "class": str(spec.classes[k]), "name": str(spec.class_names[k]),
                 "count": int(count), "share": count / counts.sum()}
            )
    return pd.DataFrame(rows, columns=list(CLASS_DISTRIBUTION_COLUMNS))


_MISSING = "<missing>"


def _level_table(x: pd.Series, y: np.ndarray) -> np.ndarray | None:
    """The level x class counts ``pd.crosstab(x.fillna("<missing>"), y)`` gives (levels in sorted
    order, observed classes ascending), from integer codes: no array of strings is built. None if
    the levels cannot be sorted together (mixed types)."""
    level_codes, uniques = pd.factorize(x, use_na_sentinel=True)
    names = [_MISSING if pd.isna(u) else u for u in np.asarray(uniques, dtype=object)] + [_MISSING]
    level_codes = np.where(level_codes < 0, len(names) - 1, level_codes).astype(np.int64)
    y = np.asarray(y, dtype=np.int64)
    n_labels = int(y.max()) + 1 if y.size else 0
    counts = codes.contingency(level_codes, y, len(names), n_labels)
    try:
        order = sorted(set(names))
    except TypeError:
        return None
    rows = {name: np.zeros(n_labels, dtype=np.int64) for name in order}
    for name, row in zip(names, counts):
        rows[name] += row
    table = np.array([rows[name] for name in order], dtype=np.int64).reshape(len(order), n_labels)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    return table.astype(np.float64)


def _cramers_v(x: pd.Series, y: np.ndarray) -> float:
    """Plain (not bias-corrected) Cramér's V: the EDA describes the association, it tests nothing."""
    table = _level_table(x, y) if np.asarray(y).min(initial=0) >= 0 else None
    if table is None:
        table = pd.crosstab(x.fillna(_MISSING).to_numpy(), y).to_numpy(dtype=np.float64)
    return codes.cramers_v(table, bias_corrected=False)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of the observed values with the class index (0 for fewer than 3 values or
    a constant feature)."""
    from scipy.stats import spearmanr

    keep = ~np.isnan(x)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0:
        return 0.0
    return float(spearmanr(x[keep], np.asarray(y)[keep]).statistic)


def target_association(frames: dict[str, pd.DataFrame], spec: DatasetSpec) -> pd.DataFrame:
    """Per feature and part: Spearman's rho with the class index (numeric) or Cramér's V (categorical)."""
    rows = []
    for part, frame in frames.items():
        y = frame[TARGET].to_numpy()
        for col in spec.numeric:
            rows.append({"part": part, "feature": col, "measure": "spearman_rho",
                         "value": _spearman(frame[col].to_numpy(dtype=np.float64, na_value=np.nan), y)})
        for col in spec.categorical:
            rows.append({"part": part, "feature": col, "measure": "cramers_v", "value": _cramers_v(frame[col], y)})
    return pd.DataFrame(rows, columns=list(ASSOCIATION_COLUMNS))


def numeric_summary(frames: dict[str, pd.DataFrame], spec: DatasetSpec) -> pd.DataFrame:
    """Per part, class and numeric feature: count, missing, mean and quartiles (the box plots' numbers)."""
    rows = []
    for part, frame in frames.items():
        for col in spec.numeric:
            for k in range(len(spec.classes)):
                values = frame.loc[frame[TARGET] == k, col].to_numpy(dtype=np.float64, na_value=np.nan)
                present = values[~np.isnan(values)]
                q = np.quantile(present, [0.25, 0.5, 0.75]) if present.size else [np.nan] * 3
                rows.append({"part": part, "feature": col, "class": str(spec.classes[k]),
                             "count": int(present.size), "missing": int(values.size - present.size),
                             "mean": float(present.mean()) if present.size else np.nan,
                             "q25": q[0], "median": q[1], "q75": q[2]})
    return pd.DataFrame(rows, columns=list(NUMERIC_SUMMARY_COLUMNS))


def plot_class_distribution(dist: pd.DataFrame, spec: DatasetSpec):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    parts = list(dict.fromkeys(dist["part"]))
    width = 0.8 / len(parts)
    x = np.arange(len(spec.classes))
    for i, part in enumerate(parts):
        share = dist.loc[dist["part"] == part, "share"].to_numpy()
        ax.bar(x + i * width - 0.4 + width / 2, share, width, label=part)
    ax.set_xticks(x, [f"{n}\n({c})" for c, n in zip(spec.classes, spec.class_names)])
    ax.set_ylabel("share of rows")
    ax.set_title("Class distribution")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_boxplots(frames: dict[str, pd.DataFrame], spec: DatasetSpec):
    import matplotlib.pyplot as plt

    parts = list(frames)
    n = max(len(spec.numeric), 1)
    fig, axes = plt.subplots(n, len(parts), figsize=(4.2 * len(parts), 2.6 * n), squeeze=False, sharey="row")
    for i, col in enumerate(spec.numeric):
        for j, part in enumerate(parts):
            frame = frames[part]
            data = [
                frame.loc[frame[TARGET] == k, col].dropna().to_numpy(dtype=np.float64)
                for k in range(len(spec.classes))
            ]
            ax = axes[i][j]
            ax.boxplot(data, showfliers=False)
            ax.set_xticks(range(1, len(spec.classes) + 1), [str(c) for c in spec.classes])
            ax.set_title(f"{col} — {part}", fontsize=9)
            if col in spec.log1p:
                ax.set_yscale("symlog")
    fig.supxlabel("class")
    fig.tight_layout()
    return fig


def plot_association(assoc: pd.DataFrame):
    import matplotlib.pyplot as plt

    parts = list(dict.fromkeys(assoc["part"]))
    features = list(dict.fromkeys(assoc["feature"]))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(features) + 1.4))
    y = np.arange(len(features))
    height = 0.8 / len(parts)
    for i, part in enumerate(parts):
        sub = assoc[assoc["part"] == part].set_index("feature").loc[features]
        ax.barh(y + i * height - 0.4 + height / 2, sub["value"], height, label=part)
    ax.set_yticks(y, [f"{f} ({m})" for f, m in zip(features, assoc.drop_duplicates("feature")["measure"])])
    ax.axvline(0, color="black", lw=0.6)
    ax.invert_yaxis()
    ax.set_xlabel("association with the class (Spearman rho / Cramér's V)")
    ax.legend()
    fig.tight_layout()
    return fig
