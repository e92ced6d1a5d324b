"""Computations several sections share: metrics per model and split, saliency and importance
means, the suspects and remedies, and labels for units and feature sets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .fmt import codes, join_words, value_text
from ..text import finite
from .load import Inputs


def models(inp: Inputs) -> list[str]:
    return [str(m) for m in inp.settings["models"]]


def class_name(inp: Inputs, index: int) -> str:
    names = inp.settings.get("class_names") or inp.settings.get("classes") or []
    return str(names[index]) if index < len(names) else str(index)


def majority(inp: Inputs) -> str:
    counts = inp.encoder["split"]["class_counts_train"]
    return class_name(inp, int(np.argmax(counts)))


def metric(inp: Inputs, fs: str, setting: str, split: str, name: str = "accuracy") -> tuple[float, float, int]:
    """(mean, sd, n_seeds) of one metric from the metrics summaries; NaNs when absent."""
    m = inp.metrics
    if m.empty:
        return float("nan"), float("nan"), 0
    row = m[(m["fs"] == fs) & (m["setting"] == setting) & (m["split"] == split)]
    if row.empty:
        return float("nan"), float("nan"), 0
    row = row.iloc[0]
    return float(row[f"{name}_mean"]), float(row[f"{name}_sd"]), int(row["n_seeds"])


def gap(inp: Inputs, fs: str, setting: str, test: str = "audit") -> tuple[float, float, int]:
    """Generalization gap validation - test (audit) accuracy: mean and sd over seeds of the per-seed gaps."""
    p = inp.per_seed
    sub = p[(p["fs"] == fs) & (p["setting"] == setting)]
    wide = sub.pivot_table(index="seed", columns="split", values="accuracy", aggfunc="first")
    if not {"val", test} <= set(wide.columns):
        return float("nan"), float("nan"), 0
    d = (wide["val"] - wide[test]).dropna().to_numpy()
    if not len(d):
        return float("nan"), float("nan"), 0
    return float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0, len(d)


def saliency_means(inp: Inputs, fs: str, method: str, value: str = "share") -> pd.DataFrame:
    """Mean and sd over seeds of ``value`` per model, split and feature (grid models only)."""
    s = inp.saliency
    s = s[(s["fs"] == fs) & (s["method"] == method) & (s["setting"].isin(models(inp)))]
    g = s.groupby(["setting", "split", "feature"], sort=False)[value]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def feature_order(inp: Inputs, method: str) -> list[str]:
    """Features by mean validation share (over models and seeds), largest first."""
    means = saliency_means(inp, "all", method)
    val = means[means["split"] == "val"].groupby("feature", sort=False)["mean"].mean()
    order = val.sort_values(ascending=False, kind="stable").index.tolist()
    rest = [f for f in dict.fromkeys(means["feature"]) if f not in order]
    return order + rest


def importance_means(inp: Inputs) -> pd.DataFrame:
    """Permutation importance per unit, model and split: mean over repeats per model, then mean,
    sd and count over seeds (grid models on all features)."""
    imp = inp.importance
    cols = ["unit", "kind", "members", "setting", "split", "mean", "std", "count"]
    if imp is None or imp.empty:
        return pd.DataFrame(columns=cols)
    imp = imp[(imp["fs"] == "all") & (imp["setting"].isin(models(inp)))]
    per_model = (imp.groupby(["unit", "kind", "members", "setting", "split", "seed"], sort=False)["importance"]
                 .mean().reset_index())
    out = (per_model.groupby(["unit", "kind", "members", "setting", "split"], sort=False)["importance"]
           .agg(["mean", "std", "count"]).reset_index())
    out["std"] = out["std"].fillna(0.0)
    return out[cols]


def suspects(inp: Inputs) -> list[str]:
    return [str(s) for s in inp.diagnosis.get("suspects") or []]


def feature_sets(inp: Inputs) -> list[str]:
    return list(dict.fromkeys(inp.metrics["fs"])) if not inp.metrics.empty else []


def remedies(inp: Inputs) -> list[str]:
    """Remedy feature sets named by the verdict (``drop-a``, ``drop-a+b``)."""
    named = inp.diagnosis.get("remedies")
    if named is None:
        named = [f"drop-{s}" for s in suspects(inp)]
    return [str(fs) for fs in named]


def remedy_members(inp: Inputs, fs: str) -> list[str]:
    members = (inp.diagnosis.get("remedy_members") or {}).get(fs)
    if members:
        return [str(m) for m in members]
    return fs[len("drop-"):].split("+") if fs.startswith("drop-") else [fs]


def fs_label(inp: Inputs, fs: str, code: bool = True) -> str:
    """"all features" or "without `a`" / "without `a` and `b`" (plain text for figure legends)."""
    if fs == "all":
        return "all features"
    members = remedy_members(inp, fs)
    return "without " + (join_words([f"`{m}`" for m in members]) if code else " + ".join(members))


def answer(inp: Inputs) -> dict:
    """The final answer (answer.json), falling back to the verdict's own answer."""
    return inp.answer or inp.diagnosis.get("answer") or {}


def verdict_records(inp: Inputs) -> list[dict]:
    return inp.verdict.to_dict("records") if not inp.verdict.empty else []


def unit_label(unit, kind, members) -> str:
    """`unit`, or for a group the unit and its members."""
    members = [m for m in str(members).split(";") if m] if value_text(members) != "–" else []
    if str(kind) == "group" or len(members) > 1:
        if str(unit) == "+".join(members):  # the name only joins the members: name them once
            return f"group of {len(members)}: {codes(members)}"
        return f"`{unit}` (group: {codes(members)})"
    return f"`{unit}`"


def n_rows_audit(inp: Inputs) -> int | None:
    for source in (inp.test_split.get("audit"), inp.covariate.get("n_test"), inp.class_mix.get("n_test")):
        if finite(source):
            return int(source)
    return None


def remedies_run(inp: Inputs) -> list[str]:
    """Remedy feature sets with metrics (retrained)."""
    sets = feature_sets(inp)
    return [fs for fs in remedies(inp) if fs in sets]


def baseline(inp: Inputs, split: str, fs: str = "all") -> float:
    values = [metric(inp, fs, setting, split, "majority_baseline")[0] for setting in models(inp)]
    values = [v for v in values if finite(v)]
    return float(np.mean(values)) if values else float("nan")


def best_epochs(inp: Inputs, setting: str) -> pd.DataFrame:
    """Per seed: epochs run and the epoch of lowest validation loss (the weights early stopping
    restores) with the validation loss, validation and training accuracy there."""
    rows = []
    for (a, seed), h in sorted(inp.histories.items()):
        if a != setting or h.empty:
            continue
        best = h.loc[h["val_loss"].idxmin()]
        rows.append({"seed": seed, "epochs": int(h["epoch"].max()), "epoch": int(best["epoch"]),
                     "val_loss": float(best["val_loss"]), "val_acc": float(best.get("val_acc", np.nan)),
                     "train_acc": float(best.get("train_acc", np.nan))})
    return pd.DataFrame(rows, columns=["seed", "epochs", "epoch", "val_loss", "val_acc", "train_acc"])


def conditional_rows(inp: Inputs) -> pd.DataFrame:
    """The final conditional-shift evidence, largest harm first (units with no harm last)."""
    c = inp.conditional
    if c.empty:
        return c
    c = c.assign(_h=pd.to_numeric(c["harm"], errors="coerce").fillna(-np.inf))
    return c.sort_values("_h", ascending=False, kind="stable").drop(columns="_h").reset_index(drop=True)


def min_harm(inp: Inputs) -> float:
    c = inp.conditional
    if c.empty or "min_harm" not in c:
        return float("nan")
    values = pd.to_numeric(c["min_harm"], errors="coerce").dropna()
    return float(values.iloc[0]) if len(values) else float("nan")


def harm_scale(inp: Inputs) -> float | None:
    """The linear range of a symmetric-log axis when the harms span orders of magnitude (else None)."""
    c = conditional_rows(inp)
    m = min_harm(inp)
    values = pd.to_numeric(pd.concat([c["harm_ci_low"], c["harm_ci_high"], c["harm"]]), errors="coerce").abs()
    values = values[np.isfinite(values)]
    if not len(values) or not finite(m) or m <= 0:
        return None
    return m if float(values.max()) > 25 * m else None


def side(value, base) -> str:
    if not (finite(value) and finite(base)):
        return "–"
    return "below" if value < base else "above" if value > base else "equal"


def rule_texts(table: pd.DataFrame, column: str) -> list[str]:
    if column not in table:
        return []
    return [t for t in dict.fromkeys(table[column].dropna().astype(str)) if not t.startswith("n/a")]
