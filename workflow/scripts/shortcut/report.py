"""The generalization report: every number, table, figure and caption, from the pipeline's outputs.

Three steps, each testable on its own:

* :func:`load_inputs` reads the files the ``report`` rule names (audits, encoder, EDA, training
  histories, metrics, saliency, shift, diagnosis, studies, benchmarks) into an :class:`Inputs`.
* :func:`build_report` turns them into a :class:`Document`: sections of paragraphs, tables and
  figures. Every number in it is computed from the inputs; no dataset column is named here,
  the names come from the inputs and the config.
* :func:`write_report` draws (or copies) the figures as PNG files, then renders the same
  document twice: a self-contained HTML page (inline CSS, figures as base64 ``data:`` URIs,
  no scripts, no external references) and Markdown linking the PNGs relatively.

Both renderings are byte-identical for the same inputs, except the cost section (job timings
from Snakemake's benchmark files), which is wrapped in ``<!-- cost:start -->`` and
``<!-- cost:end -->`` so a comparison can strip it (:func:`strip_cost`).
"""

from __future__ import annotations

import base64
import html as _html
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import io

COST_START = "<!-- cost:start -->"
COST_END = "<!-- cost:end -->"

METHOD_NAMES = {
    "integrated_gradients": "integrated gradients",
    "input_x_gradient": "input × gradient",
    "loss_gradient": "loss gradient",
}
MEASURE_NAMES = {"spearman_rho": "Spearman's rho", "cramers_v": "Cramér's V"}
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
SPLIT_COLORS = {"train": "#8c959f", "val": "#0969da", "test": "#d1242f"}
SET_COLORS = ["#8c959f", "#1a7f37", "#8250df", "#bf8700", "#1b7c83"]  # all features, then each drop-<s>
PALETTE = ["#0969da", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#57606a", "#e16f24", "#1b7c83"]

# Figures the report writes into report/figures/ (file stem -> title). The rule declares one
# output per name; figures made by other rules are copied byte for byte.
FIGURES = {
    "eda_class_distribution": "Class distribution",
    "eda_boxplots": "Per-class box plots",
    "eda_target_association": "Feature-class association",
    "training_curves": "Training curves",
    "gradient_flow": "Gradient flow",
    "generalization": "Generalization",
    "attribution": "Attribution",
    "remedy": "Remedy",
    "shared_bias": "Shared-bias study",
}


# --------------------------------------------------------------------------------------------
# Document model
# --------------------------------------------------------------------------------------------


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]  # right-aligned columns
    strong: set = field(default_factory=set)  # (row, column) cells to emphasise
    total: bool = False  # the last row is a total


@dataclass
class Figure:
    name: str
    caption: str
    draw: Callable[[], object] | None = None  # returns a matplotlib Figure
    source: str | None = None  # a PNG written by another rule, copied unchanged
    missing: str = ""  # why the figure is not available (drawn as a placeholder)

    @property
    def title(self) -> str:
        return FIGURES.get(self.name, self.name)


@dataclass
class Para:
    text: str  # **bold** and `code` are the only inline markup
    kind: str = ""  # "answer", "answer alert" or "note" (CSS class in HTML)


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Heading:
    text: str  # a sub-heading inside a section


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)
    marker: str = ""  # "cost": the body is wrapped in <!-- cost:start --> ... <!-- cost:end -->


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass
class Inputs:
    settings: dict  # dataset, target, classes, class_names, models, seeds, method
    audits: dict  # {"train": clean audit, "test": clean audit}
    encoder: dict
    test_audit: dict
    class_distribution: pd.DataFrame
    association: pd.DataFrame
    eda_summary: pd.DataFrame
    eda_figures: dict  # figure name -> PNG path
    histories: dict  # (act, seed) -> per-epoch history frame
    metrics: pd.DataFrame  # metrics_summary of every feature set
    per_seed: pd.DataFrame
    saliency: pd.DataFrame
    shift: pd.DataFrame
    label_drift: dict
    diagnosis: dict
    verdict: pd.DataFrame
    gradient_flow: pd.DataFrame | None = None
    gradient_flow_png: str | None = None
    shared_bias_history: pd.DataFrame | None = None
    shared_bias_summary: pd.DataFrame | None = None
    shared_bias_png: str | None = None
    gradcheck: pd.DataFrame | None = None
    benchmarks: pd.DataFrame | None = None  # rule, job, s, max_rss


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [str(value)]
    return [str(v) for v in value]


def _concat_csv(paths) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in _as_list(paths)], ignore_index=True)


def load_benchmarks(paths: Sequence[str], root: str) -> pd.DataFrame:
    """One row per benchmark file: the rule (first folder under ``root``), the job, s and max RSS.

    Snakemake writes ``benchmarks/<rule>/<wildcards...>.tsv`` or ``benchmarks/<rule>.tsv``; a file
    with repeats has several rows (mean seconds, largest RSS are kept).
    """
    rows = []
    for path in _as_list(paths):
        parts = Path(os.path.relpath(path, root)).with_suffix("").parts
        table = pd.read_csv(path, sep="\t")
        seconds = pd.to_numeric(table["s"], errors="coerce")
        rss = pd.to_numeric(table.get("max_rss", pd.Series(dtype=float)), errors="coerce")
        rows.append({
            "rule": parts[0], "job": "/".join(parts[1:]),
            "s": float(seconds.mean()) if seconds.notna().any() else np.nan,
            "max_rss": float(rss.max()) if rss.notna().any() else np.nan,
        })
    return pd.DataFrame(rows, columns=["rule", "job", "s", "max_rss"])


def load_inputs(paths: Mapping[str, object], settings: Mapping) -> Inputs:
    """Read every report input. ``paths`` maps the rule's input names to files (or lists of files);
    the study inputs are optional, and ``remedy_metrics``, ``remedy_per_seed``, ``remedy_saliency``
    and ``remedy_benchmarks`` add to ``metrics`` ... ``benchmarks``. ``settings["histories"]``
    lists the ``[act, seed]`` of each history file, in order; ``settings["benchmark_root"]`` is
    the benchmarks folder."""
    settings = dict(settings)

    def optional_csv(key):
        return pd.read_csv(paths[key]) if paths.get(key) else None

    histories = {
        (str(act), int(seed)): io.read_parquet(path)
        for (act, seed), path in zip(settings["histories"], _as_list(paths["histories"]))
    }
    def both(key):  # the fixed inputs and the remedy's (``remedy_<key>``)
        return _as_list(paths.get(key)) + _as_list(paths.get(f"remedy_{key}"))

    benchmarks = list(dict.fromkeys(both("benchmarks")))  # a job behind both parts counts once
    return Inputs(
        settings=settings,
        audits={"train": io.read_json(paths["clean_train_audit"]), "test": io.read_json(paths["clean_test_audit"])},
        encoder=io.read_json(paths["encoder"]),
        test_audit=io.read_json(paths["test_audit"]),
        class_distribution=pd.read_csv(paths["eda_classes"]),
        association=pd.read_csv(paths["eda_association"]),
        eda_summary=pd.read_csv(paths["eda_summary"]),
        eda_figures={
            name: str(paths[key]) for name, key in (
                ("eda_class_distribution", "eda_classes_png"), ("eda_boxplots", "eda_boxplots_png"),
                ("eda_target_association", "eda_association_png"),
            ) if paths.get(key)
        },
        histories=histories,
        metrics=_concat_csv(both("metrics")),
        per_seed=_concat_csv(both("per_seed")),
        saliency=_concat_csv(both("saliency")),
        shift=pd.read_csv(paths["shift"]),
        label_drift=io.read_json(paths["label_drift"]),
        diagnosis=io.read_json(paths["diagnosis"]),
        verdict=pd.read_csv(paths["verdict"]),
        gradient_flow=optional_csv("gradient_flow"),
        gradient_flow_png=str(paths["gradient_flow_png"]) if paths.get("gradient_flow_png") else None,
        shared_bias_history=optional_csv("shared_bias_history"),
        shared_bias_summary=optional_csv("shared_bias_summary"),
        shared_bias_png=str(paths["shared_bias_png"]) if paths.get("shared_bias_png") else None,
        gradcheck=optional_csv("gradcheck"),
        benchmarks=load_benchmarks(benchmarks, settings["benchmark_root"]) if benchmarks else None,
    )


# --------------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------------


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def num(x, digits: int = 3) -> str:
    """A table number: fixed decimals (no negative zero), thousands separators from 10^4 on."""
    if not _finite(x):
        return "–"
    x = float(x)
    if abs(x) >= 1e4:
        return f"{x:,.0f}"
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def sci(x) -> str:
    """Scientific notation, for quantities spanning orders of magnitude (gradients, errors, p-values)."""
    return f"{float(x):.1e}" if _finite(x) else "–"


def sig(x) -> str:
    """Two significant digits (ratios, raw values); scientific below 10^-3."""
    if not _finite(x):
        return "–"
    x = float(x)
    if x != 0 and abs(x) < 1e-3:
        return sci(x)
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2g}"


def plain(x) -> str:
    """A value as written in the config or data: integers without decimals, else up to 4 digits."""
    if not _finite(x):
        return "–" if not isinstance(x, str) else x
    x = float(x)
    return count(x) if x.is_integer() else f"{x:.4g}"


def count(x) -> str:
    return f"{int(x):,}" if _finite(x) else "–"


def pct(x) -> str:
    return f"{100 * float(x):.1f}%" if _finite(x) else "–"


def two(x) -> str:
    """Accuracies and shares in prose and captions."""
    return f"{float(x):.2f}" if _finite(x) else "n/a"


def pm(mean, sd, n: int = 2, digits: int = 3) -> str:
    """Mean ± sd over seeds (just the mean for a single seed)."""
    if not _finite(mean):
        return "–"
    if n <= 1 or not _finite(sd):
        return num(mean, digits)
    return f"{num(mean, digits)} ± {num(sd, digits)}"


def _value(x) -> str:
    """A cell of a table whose columns mix numbers, flags and text."""
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return count(x)
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(x):
            return "–"
        return count(x) if float(x).is_integer() and abs(x) >= 1 else num(x)
    if x is None:
        return "–"
    try:
        if pd.isna(x):
            return "–"
    except (TypeError, ValueError):
        pass
    return str(x)


def _join(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method.replace("_", " "))


# --------------------------------------------------------------------------------------------
# Computations shared by several sections
# --------------------------------------------------------------------------------------------


def _models(inp: Inputs) -> list[str]:
    return [str(m) for m in inp.settings["models"]]


def _class_name(inp: Inputs, index: int) -> str:
    names = inp.settings.get("class_names") or inp.settings.get("classes") or []
    return str(names[index]) if index < len(names) else str(index)


def _majority(inp: Inputs) -> str:
    counts = inp.encoder["split"]["class_counts_train"]
    return _class_name(inp, int(np.argmax(counts)))


def metric(inp: Inputs, fs: str, act: str, split: str, name: str = "accuracy") -> tuple[float, float, int]:
    """(mean, sd, n_seeds) of one metric from the metrics summaries; NaNs when absent."""
    m = inp.metrics
    row = m[(m["fs"] == fs) & (m["act"] == act) & (m["split"] == split)]
    if row.empty:
        return float("nan"), float("nan"), 0
    row = row.iloc[0]
    return float(row[f"{name}_mean"]), float(row[f"{name}_sd"]), int(row["n_seeds"])


def gap(inp: Inputs, fs: str, act: str) -> tuple[float, float, int]:
    """Generalization gap val - test accuracy: mean and sd over seeds of the per-seed gaps."""
    p = inp.per_seed
    sub = p[(p["fs"] == fs) & (p["act"] == act)]
    wide = sub.pivot_table(index="seed", columns="split", values="accuracy", aggfunc="first")
    if not {"val", "test"} <= set(wide.columns):
        return float("nan"), float("nan"), 0
    d = (wide["val"] - wide["test"]).dropna().to_numpy()
    if not len(d):
        return float("nan"), float("nan"), 0
    return float(d.mean()), float(d.std(ddof=1)) if len(d) > 1 else 0.0, len(d)


def saliency_means(inp: Inputs, fs: str, method: str, value: str = "share") -> pd.DataFrame:
    """Mean and sd over seeds of ``value`` per model, split and feature (grid models only)."""
    s = inp.saliency
    s = s[(s["fs"] == fs) & (s["method"] == method) & (s["act"].isin(_models(inp)))]
    g = s.groupby(["act", "split", "feature"], sort=False)[value]
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


def _suspects(inp: Inputs) -> list[str]:
    return [str(s) for s in inp.diagnosis.get("suspects") or []]


def _feature_sets(inp: Inputs) -> list[str]:
    return list(dict.fromkeys(inp.metrics["fs"]))


def _evidence_text(ev: Mapping, method: str) -> str:
    parts = []
    if _finite(ev.get("share_validation")):
        rank = (f", rank {ev['rank_validation']} of {ev['n_features']} features"
                if _finite(ev.get("rank_validation")) else "")
        parts.append(f"the models put {two(ev['share_validation'])} of their validation attribution "
                     f"({_method_name(method)}{rank}) on it")
    assoc = []
    if _finite(ev.get("nmi_train")) and _finite(ev.get("nmi_test")):
        assoc.append(f"NMI {num(ev['nmi_train'])} → {num(ev['nmi_test'])}")
    if _finite(ev.get("onefeat_acc_train")) and _finite(ev.get("onefeat_acc_test")):
        assoc.append(f"one-feature accuracy {num(ev['onefeat_acc_train'])} → {num(ev['onefeat_acc_test'])}")
    if assoc:
        parts.append(f"its association with the label falls from train to test ({'; '.join(assoc)})")
    shift = [f"{label} {num(ev[key])}" for key, label in (("psi", "PSI"), ("ks", "KS"), ("cramers_v", "Cramér's V"))
             if _finite(ev.get(key))]
    if shift:
        parts.append(f"its distribution {'shifted' if ev.get('shifted') else 'did not shift'} ({', '.join(shift)})")
    return _join(parts) if parts else "no evidence recorded"


# --------------------------------------------------------------------------------------------
# Figures (matplotlib Figure objects, no pyplot state)
# --------------------------------------------------------------------------------------------


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(min(width, 8.0), height))


def placeholder_figure(message: str):
    fig = _new_figure(6.0, 1.2)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#57606a", wrap=True)
    return fig


def _epoch_stats(inp: Inputs, act: str, column: str) -> pd.DataFrame:
    frames = [h[["epoch", column]] for (a, _), h in inp.histories.items() if a == act and column in h]
    if not frames:
        return pd.DataFrame(columns=["mean", "std", "count"])
    stats = pd.concat(frames).groupby("epoch")[column].agg(["mean", "std", "count"])
    stats["std"] = stats["std"].fillna(0.0)
    return stats


def plot_training_curves(inp: Inputs):
    models = _models(inp)
    fig = _new_figure(3.6 * len(models) + 0.6, 5.0)
    axes = fig.subplots(2, len(models), squeeze=False, sharex="col")
    for j, act in enumerate(models):
        for i, (kind, ylabel) in enumerate((("loss", "cross-entropy loss"), ("acc", "accuracy"))):
            ax = axes[i][j]
            for split, style in (("train", "-"), ("val", "--")):
                st = _epoch_stats(inp, act, f"{split}_{kind}")
                if st.empty:
                    continue
                color = SPLIT_COLORS[split]
                ax.plot(st.index, st["mean"], style, color=color, lw=1.6, label=SPLIT_NAMES[split])
                ax.fill_between(st.index, st["mean"] - st["std"], st["mean"] + st["std"], color=color,
                                alpha=0.18, lw=0)
            for epoch in best_epochs(inp, act)["epoch"]:
                ax.axvline(epoch, color="#57606a", lw=0.8, ls=":")
            if i == 0:
                ax.set_title(act, fontsize=10)
            else:
                ax.set_xlabel("epoch")
            if j == 0:
                ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def best_epochs(inp: Inputs, act: str) -> pd.DataFrame:
    """Per seed: epochs run and the epoch of lowest validation loss (the weights early stopping
    restores) with the validation loss, validation and training accuracy there."""
    rows = []
    for (a, seed), h in sorted(inp.histories.items()):
        if a != act or h.empty:
            continue
        best = h.loc[h["val_loss"].idxmin()]
        rows.append({"seed": seed, "epochs": int(h["epoch"].max()), "epoch": int(best["epoch"]),
                     "val_loss": float(best["val_loss"]), "val_acc": float(best.get("val_acc", np.nan)),
                     "train_acc": float(best.get("train_acc", np.nan))})
    return pd.DataFrame(rows, columns=["seed", "epochs", "epoch", "val_loss", "val_acc", "train_acc"])


def _span(values) -> str:
    values = [int(v) for v in values]
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}–{max(values)}"


def _bar_values(ax, xs, values, fmt=two):
    for x, v in zip(xs, values):
        if _finite(v):
            ax.text(x, v + 0.015, fmt(v), ha="center", va="bottom", fontsize=7)


def plot_generalization(inp: Inputs):
    models = _models(inp)
    splits = ["train", "val", "test"]
    fig = _new_figure(7.5, 3.8)
    ax = fig.add_subplot()
    width = 0.8 / max(len(models), 1)
    for j, act in enumerate(models):
        xs = np.arange(len(splits)) - 0.4 + width * (j + 0.5)
        stats = [metric(inp, "all", act, s) for s in splits]
        means = [s[0] for s in stats]
        ax.bar(xs, means, width * 0.92, yerr=[s[1] for s in stats], capsize=3, color=PALETTE[j % len(PALETTE)],
               label=act)
        _bar_values(ax, xs, means)
    for k, split in enumerate(splits):
        base = np.nanmean([metric(inp, "all", act, split, "majority_baseline")[0] for act in models])
        ax.hlines(base, k - 0.45, k + 0.45, colors="black", linestyles="--", lw=1.1,
                  label="majority baseline" if k == 0 else None)
    ax.set_xticks(range(len(splits)), [SPLIT_NAMES[s] for s in splits])
    ax.set_ylabel("accuracy (mean ± sd over seeds)")
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=8, frameon=False, ncol=len(models) + 1, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_attribution(inp: Inputs, method: str):
    models = _models(inp)
    features = feature_order(inp, method)
    means = saliency_means(inp, "all", method)
    fig = _new_figure(8.0, 0.42 * len(features) * max(len(models), 1) / 2 + 1.9)
    axes = fig.subplots(1, 2, sharey=True, sharex=True)
    height = 0.8 / max(len(models), 1)
    ys = np.arange(len(features))[::-1]
    for ax, split in zip(axes, ("val", "test")):
        for j, act in enumerate(models):
            sub = means[(means["act"] == act) & (means["split"] == split)].set_index("feature")
            vals = [float(sub.loc[f, "mean"]) if f in sub.index else np.nan for f in features]
            errs = [float(sub.loc[f, "std"]) if f in sub.index else 0.0 for f in features]
            ax.barh(ys + 0.4 - height * (j + 0.5), vals, height * 0.92, xerr=errs, capsize=2,
                    color=PALETTE[j % len(PALETTE)], label=act)
        if features:
            ax.axvline(1.0 / len(features), color="black", ls="--", lw=0.9, label="even share")
        ax.set_title(f"{SPLIT_NAMES[split]}", fontsize=10)
        ax.set_xlabel(f"share of |attribution| ({_method_name(method)})")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ys, features)
    axes[1].legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def plot_remedy(inp: Inputs):
    models = _models(inp)
    sets = ["all"] + [f"drop-{s}" for s in _suspects(inp) if f"drop-{s}" in _feature_sets(inp)]
    fig = _new_figure(8.0, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    width = 0.8 / len(sets)
    for ax, split in zip(axes, ("val", "test")):
        for k, fs in enumerate(sets):
            xs = np.arange(len(models)) - 0.4 + width * (k + 0.5)
            stats = [metric(inp, fs, act, split) for act in models]
            means = [s[0] for s in stats]
            ax.bar(xs, means, width * 0.92, yerr=[s[1] for s in stats], capsize=3,
                   color=SET_COLORS[k % len(SET_COLORS)], label=_fs_label(fs))
            _bar_values(ax, xs, means)
        base = np.nanmean([metric(inp, "all", act, split, "majority_baseline")[0] for act in models])
        ax.axhline(base, color="black", ls="--", lw=1.1, label="majority baseline")
        ax.set_xticks(range(len(models)), models)
        ax.set_title(SPLIT_NAMES[split], fontsize=10)
        ax.set_ylim(0, 1.08)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("accuracy (mean ± sd over seeds)")
    axes[1].legend(fontsize=8, frameon=False, loc="upper right")
    fig.tight_layout()
    return fig


def _fs_label(fs: str) -> str:
    return "all features" if fs == "all" else f"without {fs[len('drop-'):]}" if fs.startswith("drop-") else fs


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _section_verdict(inp: Inputs) -> Section:
    method = inp.diagnosis.get("method") or inp.settings.get("method", "")
    suspects = _suspects(inp)
    models = _models(inp)
    blocks: list = []
    below = [act for act in models
             if metric(inp, "all", act, "test")[0] < metric(inp, "all", act, "test", "majority_baseline")[0]]
    if suspects:
        blocks.append(Para(
            f"**Answer: a shortcut.** The models rely on {_join([f'`{s}`' for s in suspects])}, "
            f"whose link to the label does not carry over from the training data to the test data.",
            "answer alert"))
        for s in suspects:
            ev = inp.diagnosis.get("evidence", {}).get(s, {})
            blocks.append(Para(f"**Shortcut suspect `{s}`:** {_evidence_text(ev, method)}."))
    else:
        tail = (f" Even so, test accuracy is below the majority baseline for {_join(below)}."
                if below else "")
        blocks.append(Para(
            "**Answer: no shortcut suspect.** No feature is at once relied on by the models, shifted "
            f"between train and test, and losing its association with the label.{tail}",
            "answer alert" if below else "answer"))
    lines = []
    for act in models:
        val, test = metric(inp, "all", act, "val")[0], metric(inp, "all", act, "test")[0]
        base = metric(inp, "all", act, "test", "majority_baseline")[0]
        side = "below" if test < base else "above" if test > base else "at"
        line = (f"`{act}`: validation accuracy {two(val)}, test accuracy {two(test)}, "
                f"{side} the {two(base)} majority baseline")
        for s in suspects:
            t2 = metric(inp, f"drop-{s}", act, "test")[0]
            if _finite(t2):
                line += f"; retrained without `{s}`: test accuracy {two(t2)}"
        lines.append(line + ".")
    blocks.append(Bullets(lines))
    return Section("verdict", "Verdict", blocks)


def _section_data(inp: Inputs) -> Section:
    blocks: list = []
    enc = inp.encoder
    split = enc.get("split", {})
    rows = []
    for part in ("train", "test"):
        a = inp.audits[part]
        rows.append([part, f"`{a.get('file', '')}`", count(a["rows"]), count(a.get("missing_cells", 0)),
                     count(a.get("coerced_cells", 0))])
    blocks.append(Heading("Files"))
    blocks.append(Table(["file", "path", "rows", "missing cells", "coerced cells"], rows,
                        [False, False, True, True, True]))
    blocks.append(Para(
        f"The training file is split into {count(split.get('n_train'))} training and "
        f"{count(split.get('n_val'))} validation rows (validation fraction {split.get('val_fraction')}, "
        f"{'stratified' if split.get('stratify') else 'not stratified'}, seed {split.get('seed')}); "
        f"the encoder (imputation values, levels, means and standard deviations) is fitted on the "
        f"{count(enc.get('n_fit_rows', split.get('n_train')))} training rows only and applied unchanged "
        "to the validation and test rows."))

    blocks.append(Heading("Missing values and what was done"))
    val_imputed = enc.get("val_report", {}).get("imputed", {})
    test_imputed = inp.test_audit.get("imputed", {})
    rows = []
    for kind in ("categorical", "numeric"):
        for col, e in enc.get(kind, {}).items():
            tr = inp.audits["train"]["columns"].get(col, {})
            te = inp.audits["test"]["columns"].get(col, {})
            fill = f"`{e['fill']}`" if isinstance(e.get("fill"), str) else plain(e.get("fill"))
            if kind == "categorical":
                transform = f"one-hot ({_plural(len(e.get('levels', [])), 'level')})"
            else:
                transform = ("log1p, " if e.get("log1p") else "") + "standardised"
            rows.append([f"`{col}`", kind, count(tr.get("missing", 0)), count(tr.get("coerced_to_missing", 0)),
                         count(te.get("missing", 0)), count(te.get("coerced_to_missing", 0)),
                         str(e.get("impute", "")), fill, count(val_imputed.get(col, 0)),
                         count(test_imputed.get(col, 0)), transform])
    blocks.append(Table(
        ["column", "kind", "missing (train file)", "coerced (train file)", "missing (test file)",
         "coerced (test file)", "imputation", "fill value", "imputed (val)", "imputed (test)", "encoding"],
        rows, [False, False, True, True, True, True, False, True, True, True, False]))
    tr, te = inp.audits["train"], inp.audits["test"]
    blocks.append(Para(
        f"Missing cells: {count(tr.get('missing_cells', 0))} in the train file and "
        f"{count(te.get('missing_cells', 0))} in the test file; cells with non-numeric text in a numeric "
        f"column (coerced to missing): {count(tr.get('coerced_cells', 0))} and {count(te.get('coerced_cells', 0))}. "
        "Every missing or coerced cell is filled with the column's fill value fitted on the training rows."))

    unseen = inp.test_audit.get("unseen_levels") or {}
    if unseen:
        items = [f"`{col}`: " + ", ".join(f"`{lvl}` ({count(n)} rows)" for lvl, n in levels.items())
                 for col, levels in unseen.items()]
        blocks.append(Para(f"**Unseen test levels:** {count(inp.test_audit.get('unseen_level_rows', 0))} test rows "
                           "carry a category level not seen in training (encoded as all zeros):"))
        blocks.append(Bullets(items))
    else:
        blocks.append(Para("**Unseen test levels:** none; every category level in the test file was seen in "
                           "training."))

    blocks.append(Heading("Class balance"))
    dist = inp.class_distribution
    rows = []
    classes = list(dict.fromkeys(dist["class"]))
    for c in classes:
        row = [str(c)]
        sub = dist[dist["class"] == c]
        row.append(str(sub["name"].iloc[0]) if "name" in sub else str(c))
        for part in ("train", "test"):
            p = sub[sub["part"] == part]
            row += [count(p["count"].iloc[0]), pct(p["share"].iloc[0])] if len(p) else ["–", "–"]
        rows.append(row)
    blocks.append(Table(["class", "name", "train rows", "train share", "test rows", "test share"], rows,
                        [False, False, True, True, True, True]))
    blocks += _eda_figures(inp)
    return Section("data", "Data", blocks)


def _eda_figures(inp: Inputs) -> list:
    out = []
    dist = inp.class_distribution
    if "eda_class_distribution" in inp.eda_figures:
        tr, te = dist[dist["part"] == "train"], dist[dist["part"] == "test"]
        big, small = tr.loc[tr["share"].idxmax()], tr.loc[tr["share"].idxmin()]

        def share_in(frame, cls):
            hit = frame[frame["class"] == cls]
            return pct(hit["share"].iloc[0]) if len(hit) else "–"

        psi = inp.label_drift.get("psi")
        out.append(Figure("eda_class_distribution", (
            f"Share of rows per class in the train and test files: the largest class, {big['name']}, holds "
            f"{pct(big['share'])} of train rows and {share_in(te, big['class'])} of test rows, the smallest, "
            f"{small['name']}, {pct(small['share'])} and {share_in(te, small['class'])}"
            + (f" (label PSI {sig(psi)})." if _finite(psi) else ".")),
            source=inp.eda_figures["eda_class_distribution"]))
    assoc = inp.association
    if "eda_boxplots" in inp.eda_figures:
        caption = "Per-class box plots of every numeric feature, train beside test."
        numeric = assoc[(assoc["part"] == "train") & (assoc["measure"] == "spearman_rho")]
        summ = inp.eda_summary
        if len(numeric) and len(summ):
            top = numeric.loc[numeric["value"].abs().idxmax(), "feature"]
            ranges = []
            for part in ("train", "test"):
                med = summ[(summ["part"] == part) & (summ["feature"] == top)]["median"]
                if len(med):
                    ranges.append(f"from {plain(med.min())} to {plain(med.max())} on {part}")
            if ranges:
                caption = (f"Per-class box plots of every numeric feature, train beside test: the class medians of "
                           f"`{top}`, the numeric feature most associated with the class on train, range "
                           f"{_join(ranges, 'but')}.")
        out.append(Figure("eda_boxplots", caption, source=inp.eda_figures["eda_boxplots"]))
    if "eda_target_association" in inp.eda_figures:
        caption = "Association of each feature with the class on train and test."
        tr, te = assoc[assoc["part"] == "train"], assoc[assoc["part"] == "test"]
        if len(tr):
            top = tr.loc[tr["value"].abs().idxmax()]
            after = te[te["feature"] == top["feature"]]["value"]
            measure = MEASURE_NAMES.get(top["measure"], top["measure"])
            caption = (f"Association of each feature with the class: the strongest on train is `{top['feature']}` "
                       f"({measure} {two(top['value'])})"
                       + (f", which is {two(after.iloc[0])} on test" if len(after) else ""))
            if len(te):
                best = te.loc[te["value"].abs().idxmax()]
                caption += (f"; the strongest on test is `{best['feature']}` "
                            f"({MEASURE_NAMES.get(best['measure'], best['measure'])} {two(best['value'])}).")
            else:
                caption += "."
        out.append(Figure("eda_target_association", caption, source=inp.eda_figures["eda_target_association"]))
    return out


def _section_training(inp: Inputs) -> Section:
    blocks: list = []
    models = _models(inp)
    seeds = sorted({s for (_, s) in inp.histories})
    parts = []
    rows = []
    for act in models:
        best = best_epochs(inp, act)
        if best.empty:
            continue
        parts.append(f"`{act}` trains for {_span(best['epochs'])} epochs and has its lowest validation loss at epoch "
                     f"{_span(best['epoch'])}, where validation accuracy is {two(best['val_acc'].mean())} "
                     f"(train {two(best['train_acc'].mean())})")
        rows.append([f"`{act}`", str(len(best)), _span(best["epochs"]), _span(best["epoch"]),
                     num(best["val_loss"].mean()), num(best["val_acc"].mean()), num(best["train_acc"].mean())])
    caption = (f"Training (solid) and validation (dashed) loss and accuracy per epoch, mean over "
               f"{_plural(len(seeds), 'seed')} still training with a ±1 sd band, each seed's best epoch dotted: "
               + "; ".join(parts) + ".")
    blocks.append(Para("Per model: epochs trained (early stopping on validation loss) and, at each seed's epoch "
                       "of lowest validation loss (the weights that are kept), the mean validation loss and "
                       "accuracies."))
    blocks.append(Table(["model", "seeds", "epochs run", "best epoch", "val loss (best)", "val accuracy (best)",
                         "train accuracy (best)"], rows, [False, True, True, True, True, True, True]))
    blocks.append(Figure("training_curves", caption, draw=lambda: plot_training_curves(inp)))

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
        ratio = g_first / g_last if _finite(g_last) and g_last else float("nan")
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
               "layer's gradient is " + _join(parts) + ".")
    blocks.append(Figure("gradient_flow", caption, source=inp.gradient_flow_png,
                         missing="" if inp.gradient_flow_png else "gradient-flow figure not available"))
    return Section("training", "Training", blocks)


def _section_generalization(inp: Inputs) -> Section:
    models = _models(inp)
    majority = _majority(inp)
    rows, below, above, parts = [], [], [], []
    for act in models:
        tr, va, te = (metric(inp, "all", act, s) for s in ("train", "val", "test"))
        g = gap(inp, "all", act)
        base = metric(inp, "all", act, "test", "majority_baseline")[0]
        bal = metric(inp, "all", act, "test", "balanced_accuracy")
        f1 = metric(inp, "all", act, "test", "macro_f1")
        ll = metric(inp, "all", act, "test", "log_loss")
        side = "below" if te[0] < base else "above" if te[0] > base else "equal"
        (below if side == "below" else above).append(f"`{act}` ({num(te[0])})")
        rows.append([f"`{act}`", pm(*tr), pm(*va), pm(*te), pm(*g), num(base), side, pm(*bal), pm(*f1), pm(*ll)])
        parts.append(f"`{act}` reaches {two(va[0])} validation accuracy but {two(te[0])} on test, "
                     f"{side} the {two(base)} majority baseline")
    base_test = np.nanmean([metric(inp, "all", act, "test", "majority_baseline")[0] for act in models])
    blocks: list = [Table(
        ["model", "train accuracy", "val accuracy", "test accuracy", "gap (val − test)", "majority baseline (test)",
         "test vs baseline", "test balanced acc.", "test macro F1", "test log loss"],
        rows, [False, True, True, True, True, True, False, True, True, True],
        strong={(i, 6) for i, r in enumerate(rows) if r[6] == "below"})]
    n_seeds = metric(inp, "all", models[0], "test")[2]
    text = (f"Mean ± sd over {_plural(n_seeds, 'seed')} on all features. The majority baseline always predicts "
            f"the most frequent training class, {majority} ({num(base_test)} of the test rows). ")
    if below:
        text += f"**Test accuracy is below the majority baseline** for {_join(below)}"
        text += f"; above it for {_join(above)}." if above else "."
    else:
        text += f"Test accuracy is above the majority baseline for every model: {_join(above)}."
    blocks.append(Para(text))
    blocks.append(Figure("generalization", "; ".join(parts) + " (bars: mean over seeds, whiskers ± sd, dashed: "
                         "majority baseline per split).", draw=lambda: plot_generalization(inp)))
    return Section("generalization", "Generalization", blocks)


def _section_attribution(inp: Inputs) -> Section:
    method = inp.settings.get("method") or inp.diagnosis.get("method", "integrated_gradients")
    models = _models(inp)
    features = feature_order(inp, method)
    share = saliency_means(inp, "all", method)

    def cell(frame, act, split, feature, col="mean"):
        hit = frame[(frame["act"] == act) & (frame["split"] == split) & (frame["feature"] == feature)]
        return float(hit[col].iloc[0]) if len(hit) else float("nan")

    header = ["feature"] + [f"{act}, {SPLIT_NAMES[s]}" for act in models for s in ("val", "test")]
    def share_cell(act, split, feature):
        n = cell(share, act, split, feature, "count")
        return pm(cell(share, act, split, feature), cell(share, act, split, feature, "std"),
                  int(n) if _finite(n) else 0)

    rows = [[f"`{f}`"] + [share_cell(act, s, f) for act in models for s in ("val", "test")] for f in features]
    blocks: list = [Para(
        f"Share of the mean |attribution| per source feature ({_method_name(method)}, the diagnosis method; "
        f"one-hot columns summed per feature; mean ± sd over seeds). An even split would give every feature "
        f"{two(1 / len(features)) if features else 'n/a'}."),
        Table(header, rows, [False] + [True] * (len(header) - 1))]
    caption = (f"Share of {_method_name(method)} attribution per feature on validation and test "
               "(mean over seeds, ± sd)")
    if features:
        top = features[0]
        val_top = [cell(share, act, "val", top) for act in models]
        test_top = [cell(share, act, "test", top) for act in models]
        caption += (f": the models put {two(np.nanmean(val_top))} of the validation attribution on `{top}` ("
                    + ", ".join(f"{act} {two(v)}" for act, v in zip(models, val_top))
                    + f") and {two(np.nanmean(test_top))} on test")
        if len(features) > 1:
            second = features[1]
            caption += (f"; the next feature, `{second}`, gets "
                        f"{two(np.nanmean([cell(share, act, 'val', second) for act in models]))}")
    blocks.append(Figure("attribution", caption + ".", draw=lambda: plot_attribution(inp, method)))

    grad = saliency_means(inp, "all", "loss_gradient", "mean_abs")
    if not grad.empty:
        ranks = {}
        for act in models:
            for s in ("val", "test"):
                sub = grad[(grad["act"] == act) & (grad["split"] == s)].set_index("feature")["mean"]
                ranks[(act, s)] = sub.rank(ascending=False, method="min")
        def mean_val_rank(f):
            return np.nanmean([ranks[(a, "val")].get(f, np.nan) for a in models]), features.index(f)

        order = sorted(features, key=mean_val_rank)
        rows = []
        for f in order:
            row = [f"`{f}`"]
            for act in models:
                for s in ("val", "test"):
                    v, r = cell(grad, act, s, f), ranks[(act, s)].get(f, np.nan)
                    row.append(f"{num(v)} ({int(r)})" if _finite(r) else "–")
            rows.append(row)
        blocks.append(Heading("Loss-gradient ranking"))
        blocks.append(Para("Mean |dL/dx| of the loss with respect to each feature's inputs (mean over seeds; "
                           "rank in parentheses), the plain-gradient view of the same question."))
        blocks.append(Table(header, rows, [False] + [True] * (len(header) - 1)))
    return Section("attribution", "Attribution", blocks)


SHIFT_COLUMNS = [  # (column of shift.csv, header, flag name in the `flags` column)
    ("ks", "KS", "ks"), ("psi", "PSI", "psi"), ("cramers_v", "Cramér's V", "cramers_v"),
    ("nmi_train", "NMI train", None), ("nmi_test", "NMI test", None), ("nmi_drop", "NMI drop", "nmi_drop"),
    ("onefeat_acc_train", "1-feature acc. train", None), ("onefeat_acc_test", "1-feature acc. test", None),
    ("onefeat_drop", "1-feature acc. drop", "onefeat_drop"), ("shifted", "shifted", "shifted"),
    ("assoc_dropped", "assoc. dropped", "assoc_dropped"),
]


def _truthy(x) -> bool:
    if isinstance(x, str):
        return x.strip().lower() in ("true", "yes", "pass", "1")
    return bool(x) if _finite(x) or isinstance(x, (bool, np.bool_)) else False


def _section_shift(inp: Inputs) -> Section:
    table = inp.shift
    cols = [(c, h, f) for c, h, f in SHIFT_COLUMNS if c in table]
    rows, strong = [], set()
    for i, r in enumerate(table.to_dict("records")):
        flags = set(str(r.get("flags") or "").split(";")) if _value(r.get("flags")) != "–" else set()
        row = [f"`{r['feature']}`", str(r.get("kind", ""))]
        for j, (c, _, flag) in enumerate(cols):
            v = r.get(c)
            if c in ("shifted", "assoc_dropped"):
                row.append("yes" if _truthy(v) else "no")
                if _truthy(v):
                    strong.add((i, j + 2))
            else:
                row.append(num(v))
                if flag and flag in flags:
                    strong.add((i, j + 2))
        rows.append(row)
    blocks: list = [
        Para("Train-versus-test statistics of every source feature, on the cleaned files; a statistic that "
             "crosses its threshold is in bold."),
        Table(["feature", "kind"] + [h for _, h, _ in cols], rows,
              [False, False] + [c not in ("shifted", "assoc_dropped") for c, _, _ in cols], strong=strong),
        Heading("Decision rules"),
    ]
    rule_rows = []
    for col in [c for c in table.columns if c.endswith("_rule")]:
        texts = [t for t in dict.fromkeys(table[col].dropna().astype(str)) if not t.startswith("n/a")]
        if texts:
            stat = col[: -len("_rule")]
            rule_rows.append([next((h for c, h, _ in SHIFT_COLUMNS if c == stat), stat), "; ".join(texts)])
    blocks.append(Table(["statistic", "rule"], rule_rows, [False, False]))
    d = inp.label_drift
    labels = (("psi", "PSI"), ("cramers_v", "Cramér's V"), ("chi2_pvalue", "chi² p-value"))
    stats = ", ".join(f"{label} {num(d[key])}" for key, label in labels if _finite(d.get(key)))
    blocks.append(Heading("Label drift"))
    blocks.append(Para(
        f"{'**Label drift.**' if d.get('drifted') else 'No label drift.'} Class shares train → test: "
        + ", ".join(f"{_class_name(inp, k)} {pct(a)} → {pct(b)}"
                    for k, (a, b) in enumerate(zip(d.get("share_train", []), d.get("share_test", []))))
        + f"; {stats} (rule: {d.get('rule', 'n/a')})."))
    return Section("shift", "Shift between train and test", blocks)


def _section_diagnosis(inp: Inputs) -> Section:
    d = inp.diagnosis
    v = inp.verdict
    blocks: list = []
    if d.get("summary"):
        blocks.append(Para(f"**Diagnosis:** {d['summary']}"))
    blocks.append(Para(
        f"Reliance is measured with {_method_name(d.get('method', ''))} on the "
        f"{d.get('reliance_split', 'validation')} split of {_join([f'`{m}`' for m in d.get('models', [])])} "
        "(mean over seeds); the shift evidence is the table above."))
    if "feature" in v and len(v):
        features = [str(f) for f in v["feature"]]
        records = v.to_dict("records")
        # Sentences (the `reading`) go below the table: as a table row they would widen every column.
        prose = [c for c in v.columns if c != "feature" and not pd.api.types.is_numeric_dtype(v[c])
                 and v[c].astype(str).str.len().max() > 24]
        fields = [c for c in v.columns if c != "feature" and c not in prose]
        rows, strong = [], set()
        for i, c in enumerate(fields):
            row = [c.replace("_", " ")]
            for j, r in enumerate(records):
                row.append(_value(r[c]))
                if str(r[c]) in ("pass", "SUSPECT"):
                    strong.add((i, j + 1))
            rows.append(row)
        numeric = [False] + [True] * len(features)
        blocks.append(Table([""] + [f"`{f}`" for f in features], rows, numeric, strong=strong))
        for c in prose:
            blocks.append(Bullets([f"`{r['feature']}` ({c.replace('_', ' ')}): {_value(r[c])}" for r in records]))
    th = d.get("thresholds") or {}
    if th:
        blocks.append(Heading("Thresholds"))
        blocks.append(Table(["threshold", "value"], [[k, plain(th[k])] for k in th], [False, True]))
    rules = d.get("rules") or {}
    if rules:
        blocks.append(Heading("Rules"))
        blocks.append(Bullets([f"**{k}**: {rules[k]}" for k in rules]))
    return Section("diagnosis", "Verdict table", blocks)


def _section_remedy(inp: Inputs) -> Section:
    models = _models(inp)
    suspects = _suspects(inp)
    sets = _feature_sets(inp)
    blocks: list = []
    if not suspects:
        blocks.append(Para("No shortcut suspect, so no feature was dropped and nothing was retrained. The figure "
                           "shows the models on all features for reference."))
    missing = [s for s in suspects if f"drop-{s}" not in sets]
    if missing:
        blocks.append(Para(f"No retraining results for {_join([f'`{s}`' for s in missing])}.", "note"))
    dropped = [s for s in suspects if f"drop-{s}" in sets]
    rows, strong, parts = [], set(), []
    for act in models:
        base = metric(inp, "all", act, "test", "majority_baseline")[0]
        t_all = metric(inp, "all", act, "test")
        for fs in ["all"] + [f"drop-{s}" for s in dropped]:
            va, te = metric(inp, fs, act, "val"), metric(inp, fs, act, "test")
            change = te[0] - t_all[0] if fs != "all" else float("nan")
            side = "below" if te[0] < base else "above"
            rows.append([f"`{act}`", _fs_label(fs), pm(*metric(inp, fs, act, "train")), pm(*va), pm(*te),
                         pm(*gap(inp, fs, act)), "–" if fs == "all" else f"{change:+.3f}", side])
            if side == "below":
                strong.add((len(rows) - 1, 7))
        for s in dropped:
            te, va = metric(inp, f"drop-{s}", act, "test")[0], metric(inp, f"drop-{s}", act, "val")[0]
            v_all = metric(inp, "all", act, "val")[0]
            verb = "rises" if te > t_all[0] else "falls" if te < t_all[0] else "stays"
            parts.append(f"without `{s}`, `{act}`'s test accuracy {verb} from {two(t_all[0])} to {two(te)} "
                         f"({'above' if te > base else 'below'} the {two(base)} majority baseline) while its "
                         f"validation accuracy goes from {two(v_all)} to {two(va)}")
    blocks.append(Table(["model", "features", "train accuracy", "val accuracy", "test accuracy", "gap (val − test)",
                         "test change", "test vs baseline"], rows,
                        [False, False, True, True, True, True, True, False], strong=strong))
    if dropped:
        caption = ("Validation and test accuracy with all features and retrained without each suspect: "
                   + "; ".join(parts) + ".")
    else:
        base = metric(inp, "all", models[0], "test", "majority_baseline")[0]
        caption = ("No suspect was dropped; with all features the test accuracy is "
                   + ", ".join(f"{two(metric(inp, 'all', act, 'test')[0])} for `{act}`" for act in models)
                   + f" against a {two(base)} majority baseline.")
    blocks.append(Figure("remedy", caption, draw=lambda: plot_remedy(inp)))
    return Section("remedy", "Remedy", blocks)


def _section_studies(inp: Inputs) -> Section:
    blocks: list = [Heading("Shared bias")]
    summ, hist = inp.shared_bias_summary, inp.shared_bias_history
    if summ is None or summ.empty:
        blocks.append(Para("The shared-bias study was not run in this workflow "
                           "(no `studies/shared_bias_summary.csv`).", "note"))
        blocks.append(Figure("shared_bias", "Shared-bias study: not available in this run.",
                             missing="shared-bias study not run"))
    else:
        max_epoch = int(hist["epoch"].max()) if hist is not None and len(hist) else None
        rows, parts = [], []
        for variant in dict.fromkeys(summ["variant"]):
            sub = summ[summ["variant"] == variant]
            n = len(sub)

            def ms(col, sub=sub, n=n):
                vals = pd.to_numeric(sub[col], errors="coerce")
                return float(vals.mean()), float(vals.std(ddof=1)) if n > 1 else 0.0, n

            reached = pd.to_numeric(sub["epochs_to_target"], errors="coerce").dropna()
            sd = reached.std(ddof=1) if len(reached) > 1 else 0.0
            e_text = pm(reached.mean(), sd, len(reached), 1) if len(reached) else "never"
            rows.append([f"`{variant}`", str(n), pm(*ms("final_train_loss")), pm(*ms("final_val_loss")),
                         pm(*ms("final_val_acc")), pm(*ms("target_loss")), e_text, f"{len(reached)} of {n}"])
            if len(reached):
                reach = (f"reaches the target training loss after {num(reached.mean(), 1)} epochs "
                         f"({len(reached)} of {n} seeds)")
            else:
                reach = "never reaches the target training loss"
                reach += f" within {max_epoch} epochs" if max_epoch else ""
            parts.append(f"`{variant}` {reach} and ends at validation accuracy {two(ms('final_val_acc')[0])}")
        blocks.append(Para("One bias vector shared by the hidden and the output layer against the same network "
                           "with independent biases, trained from the same start (mean ± sd over seeds); the target "
                           "loss is set per seed."))
        blocks.append(Table(["variant", "seeds", "final train loss", "final val loss", "final val accuracy",
                             "target loss", "epochs to target", "target reached"], rows,
                            [False, True, True, True, True, True, True, True]))
        n_seeds = int(summ["seed"].nunique())
        caption = (f"Training loss and validation accuracy per epoch, mean over {_plural(n_seeds, 'seed')}: "
                   + "; ".join(parts) + ".")
        blocks.append(Figure("shared_bias", caption, source=inp.shared_bias_png,
                             missing="" if inp.shared_bias_png else "shared-bias figure not available"))

    blocks.append(Heading("Gradient check"))
    gc = inp.gradcheck
    if gc is None or gc.empty:
        blocks.append(Para("The gradient check was not run in this workflow (no `checks/gradcheck.csv`).", "note"))
        return Section("studies", "Studies and checks", blocks)
    gc = gc.assign(passed=gc["passed"].map(_truthy),
                   max_rel_error=pd.to_numeric(gc["max_rel_error"], errors="coerce"))
    keys = [k for k in ("model", "parameter") if k in gc]
    acts = list(dict.fromkeys(gc["activation"].astype(str))) if "activation" in gc else [""]
    tol = f" (tolerance {sci(gc['tolerance'].max())})" if "tolerance" in gc else ""
    worst = gc.loc[gc["max_rel_error"].idxmax()]
    where = " ".join(str(worst[k]) for k in ("model", "activation", "parameter") if k in gc)
    if gc["passed"].all():
        text = (f"All {len(gc)} checks pass{tol}: the largest relative error between the analytic and the "
                f"finite-difference gradient is {sci(worst['max_rel_error'])} ({where}).")
    else:
        text = (f"**{int((~gc['passed']).sum())} of {len(gc)} checks fail**{tol}; the largest relative error is "
                f"{sci(worst['max_rel_error'])} ({where}).")
    batches = _join(list(dict.fromkeys(gc["data"].astype(str)))) if "data" in gc else ""
    extra = f" over the batches checked ({batches})" if batches else ""
    blocks.append(Para(text + f" Each cell is the largest relative error{extra} for one parameter array and "
                       "activation."))
    rows, strong = [], set()
    for key, sub in gc.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = [f"`{key[0]}`"] + [str(k) for k in key[1:]]
        for act in acts:
            cell = sub[sub["activation"].astype(str) == act] if act else sub
            if cell.empty:
                row.append("–")
                continue
            ok = bool(cell["passed"].all())
            row.append(sci(cell["max_rel_error"].max()) + ("" if ok else " FAIL"))
            if not ok:
                strong.add((len(rows), len(row) - 1))
        row.append(count(sub["n_checked"].sum()) if "n_checked" in sub else "–")
        row.append("pass" if sub["passed"].all() else "FAIL")
        if row[-1] == "FAIL":
            strong.add((len(rows), len(row) - 1))
        rows.append(row)
    blocks.append(Table(keys + [a or "max rel. error" for a in acts] + ["entries checked", "result"], rows,
                        [False] * len(keys) + [True] * (len(acts) + 1) + [False], strong=strong))
    return Section("studies", "Studies and checks", blocks)


def _section_cost(inp: Inputs) -> Section:
    b = inp.benchmarks
    blocks: list = []
    if b is None or b.empty:
        blocks.append(Para("No benchmark files.", "note"))
        return Section("cost", "Cost", blocks, marker="cost")
    per_rule = b.groupby("rule", sort=True).agg(jobs=("s", "size"), s=("s", "sum"), mean_s=("s", "mean"),
                                                 max_s=("s", "max"), max_rss=("max_rss", "max")).reset_index()
    per_rule = per_rule.sort_values(["s", "rule"], ascending=[False, True], kind="stable")
    rows = [[f"`{r['rule']}`", count(r["jobs"]), num(r["s"], 1), num(r["mean_s"], 2), num(r["max_s"], 2),
             num(r["max_rss"], 0)] for r in per_rule.to_dict("records")]
    total_s = float(b["s"].sum())
    rows.append(["total", count(len(b)), num(total_s, 1), num(b["s"].mean(), 2), num(b["s"].max(), 2),
                 num(b["max_rss"].max(), 0)])
    top = per_rule.iloc[0]
    rss = b.loc[b["max_rss"].idxmax()] if b["max_rss"].notna().any() else None
    text = (f"{_plural(len(b), 'job')} took {num(total_s, 1)} s of wall-clock time in total "
            f"({num(total_s / 60, 1)} min, summed over jobs, not elapsed); the most expensive rule is "
            f"`{top['rule']}` ({num(top['s'], 1)} s over {_plural(int(top['jobs']), 'job')})")
    if rss is not None:
        text += f"; the largest peak memory (max RSS) is {num(rss['max_rss'], 0)} MB, in `{rss['rule']}`"
    blocks.append(Para(text + ". From Snakemake's benchmark files; the report job itself is not included."))
    blocks.append(Table(["rule", "jobs", "seconds (sum)", "seconds per job", "longest job (s)", "max RSS (MB)"], rows,
                        [False, True, True, True, True, True], total=True))
    return Section("cost", "Cost", blocks, marker="cost")


def build_report(inp: Inputs) -> Document:
    """The whole report as a document; figures are drawn later, by :func:`write_report`."""
    s = inp.settings
    classes = s.get("class_names") or s.get("classes") or []
    subtitle = (f"Dataset `{s.get('dataset')}`: target `{s.get('target')}` with "
                f"{_plural(len(classes), 'class', 'classes')} "
                f"({', '.join(str(c) for c in classes)}); grid models {_join([f'`{m}`' for m in _models(inp)])} "
                f"× seeds {', '.join(str(x) for x in s.get('seeds', []))}; attribution method "
                f"{_method_name(s.get('method') or inp.diagnosis.get('method', ''))}.")
    sections = [
        _section_verdict(inp), _section_data(inp), _section_training(inp), _section_generalization(inp),
        _section_attribution(inp), _section_shift(inp), _section_diagnosis(inp), _section_remedy(inp),
        _section_studies(inp), _section_cost(inp),
    ]
    return Document(f"Generalization report: {s.get('dataset')}", subtitle, sections)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

CSS = """
body{margin:0;background:#fff;color:#1f2328;
  font:15px/1.5 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:1.9em;margin:0 0 .2em}
h2{font-size:1.4em;margin:2em 0 .6em;padding-bottom:.2em;border-bottom:1px solid #d0d7de}
h3{font-size:1.1em;margin:1.4em 0 .4em}
p.subtitle{color:#57606a;margin-top:0}
p.answer{font-size:1.1em;padding:12px 16px;border-left:6px solid #1a7f37;background:#f0f9f2}
p.answer.alert{border-left-color:#cf222e;background:#fff4f4}
p.note{color:#57606a;font-style:italic}
nav.toc ol{columns:2;margin:.4em 0 0;padding-left:1.4em}
nav.toc a{color:#0969da;text-decoration:none}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;
  padding:0 3px;border-radius:3px}
.scroll{overflow-x:auto;margin:8px 0 16px}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;vertical-align:bottom}
td.num,th.num{text-align:right}
td.num{white-space:nowrap}
tr.total td{font-weight:600;border-top:2px solid #8c959f}
figure{margin:16px 0 28px;max-width:900px}
figure img{display:block;max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.93em;color:#444c56;margin-top:6px}
""".strip()

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline_html(text: str) -> str:
    out = _html.escape(text, quote=False)
    out = _CODE.sub(r"<code>\1</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


def _html_table(t: Table) -> str:
    def cls(j):
        return ' class="num"' if t.numeric[j] else ""

    head = "".join(f"<th{cls(j)}>{_inline_html(h)}</th>" for j, h in enumerate(t.header))
    lines = ['<div class="scroll"><table>', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for i, row in enumerate(t.rows):
        tr = '<tr class="total">' if t.total and i == len(t.rows) - 1 else "<tr>"
        cells = []
        for j, c in enumerate(row):
            inner = _inline_html(c)
            if (i, j) in t.strong:
                inner = f"<strong>{inner}</strong>"
            cells.append(f"<td{cls(j)}>{inner}</td>")
        lines.append(tr + "".join(cells) + "</tr>")
    lines.append("</tbody></table></div>")
    return "\n".join(lines)


def render_html(doc: Document, pngs: Mapping[str, bytes]) -> str:
    """The self-contained page: inline CSS, figures as data: URIs, nothing loaded from elsewhere."""
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_html.escape(doc.title)}</title>", f"<style>\n{CSS}\n</style>", "</head>", "<body>", "<main>",
           f"<h1>{_inline_html(doc.title)}</h1>", f'<p class="subtitle">{_inline_html(doc.subtitle)}</p>',
           '<nav class="toc"><strong>Contents</strong><ol>']
    out += [f'<li><a href="#{s.id}">{_html.escape(s.title)}</a></li>' for s in doc.sections]
    out.append("</ol></nav>")
    n_fig = 0
    for k, s in enumerate(doc.sections, 1):
        out.append(f'<section id="{s.id}">')
        out.append(f"<h2>{k}. {_html.escape(s.title)}</h2>")
        if s.marker:
            out.append(f"<!-- {s.marker}:start -->")
        for b in s.blocks:
            if isinstance(b, Para):
                cls = f' class="{b.kind}"' if b.kind else ""
                out.append(f"<p{cls}>{_inline_html(b.text)}</p>")
            elif isinstance(b, Heading):
                out.append(f"<h3>{_inline_html(b.text)}</h3>")
            elif isinstance(b, Bullets):
                out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
            elif isinstance(b, Table):
                out.append(_html_table(b))
            elif isinstance(b, Figure):
                n_fig += 1
                data = base64.b64encode(pngs[b.name]).decode("ascii")
                out.append(f'<figure id="fig-{b.name}"><img src="data:image/png;base64,{data}" '
                           f'alt="{_html.escape(b.title)}">'
                           f"<figcaption><strong>Figure {n_fig}. {_html.escape(b.title)}.</strong> "
                           f"{_inline_html(b.caption)}</figcaption></figure>")
        if s.marker:
            out.append(f"<!-- {s.marker}:end -->")
        out.append("</section>")
    out += ["</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    def fmt(i, j, c):
        c = _md_cell(c)
        return f"**{c}**" if (i, j) in t.strong or (t.total and i == len(t.rows) - 1) else c

    lines = ["| " + " | ".join(_md_cell(h) or " " for h in t.header) + " |",
             "| " + " | ".join("---:" if n else ":---" for n in t.numeric) + " |"]
    lines += ["| " + " | ".join(fmt(i, j, c) for j, c in enumerate(row)) + " |" for i, row in enumerate(t.rows)]
    return "\n".join(lines)


def render_markdown(doc: Document, links: Mapping[str, str]) -> str:
    """The same document as Markdown; ``links`` maps figure names to relative PNG paths."""
    out = [f"# {doc.title}", "", doc.subtitle, "", "**Contents:** "
           + " · ".join(f"[{k}. {s.title}](#{s.id})" for k, s in enumerate(doc.sections, 1)), ""]
    n_fig = 0
    for k, s in enumerate(doc.sections, 1):
        out += [f'<a id="{s.id}"></a>', "", f"## {k}. {s.title}", ""]
        if s.marker:
            out += [f"<!-- {s.marker}:start -->", ""]
        for b in s.blocks:
            if isinstance(b, Para):
                text = f"*{b.text}*" if b.kind == "note" else b.text
                out += [("> " if b.kind.startswith("answer") else "") + text, ""]
            elif isinstance(b, Heading):
                out += [f"### {b.text}", ""]
            elif isinstance(b, Bullets):
                out += [f"- {i}" for i in b.items] + [""]
            elif isinstance(b, Table):
                out += [_md_table(b), ""]
            elif isinstance(b, Figure):
                n_fig += 1
                out += [f"![{b.title}]({links[b.name]})", "", f"**Figure {n_fig}. {b.title}.** {b.caption}", ""]
        if s.marker:
            out += [f"<!-- {s.marker}:end -->", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def strip_cost(text: str) -> str:
    """The text without its cost block (the only part that differs between reruns)."""
    return re.sub(re.escape(COST_START) + r".*?" + re.escape(COST_END), "", text, flags=re.S)


def _copy(src: str, dest: str) -> None:
    with io.atomic_path(dest) as tmp:
        shutil.copyfile(src, tmp)


def write_report(doc: Document, html_path: str, md_path: str, figure_paths: Mapping[str, str],
                 captions_path: str | None = None) -> None:
    """Write every figure (drawn, copied, or a placeholder), then the HTML and Markdown pages."""
    pngs: dict[str, bytes] = {}
    links: dict[str, str] = {}
    for fig in doc.figures():
        path = str(figure_paths[fig.name])
        if fig.source:
            _copy(fig.source, path)
        else:
            if fig.draw and not fig.missing:
                drawn = fig.draw()
            else:
                drawn = placeholder_figure(f"Not available: {fig.missing or 'no data'}")
            io.save_figure(drawn, path)
        pngs[fig.name] = Path(path).read_bytes()
        links[fig.name] = Path(os.path.relpath(path, Path(md_path).parent)).as_posix()
    io.write_text(html_path, render_html(doc, pngs))
    io.write_text(md_path, render_markdown(doc, links))
    if captions_path:
        io.write_json(captions_path, {f.name: f.caption for f in doc.figures()})
