"""The generalization report: every number, table, figure and caption, from the pipeline's outputs.

Three steps, each testable on its own:

* :func:`load_inputs` reads the files the ``report`` rule names (cell audits, the test split,
  encoder, EDA, training histories, metrics, saliency, permutation importance, the shift evidence,
  the verdict, its confirmation and the final answer, studies, benchmarks) into an :class:`Inputs`.
* :func:`build_report` turns them into a :class:`Document`: sections of paragraphs, tables and
  figures. Every number in it is computed from the inputs; no dataset column is named here,
  the names come from the inputs and the config. The answer at the top is ``answer.json``'s
  headline and sentences, shown verbatim.
* :func:`write_report` draws (or copies) the figures as PNG files, then renders the same
  document twice: a self-contained HTML page (inline CSS, figures as base64 ``data:`` URIs,
  no scripts, no external references) and Markdown linking the PNGs relatively.

Both renderings are byte-identical for the same inputs, except the cost section (job timings
from Snakemake's benchmark files), which is wrapped in ``<!-- cost:start -->`` and
``<!-- cost:end -->`` so a comparison can strip it (:func:`strip_cost`).

Splits: ``train`` (training partition), ``val`` (validation, the training distribution),
``audit`` (the part of the test rows every decision sees) and ``confirm`` (the part held back to
judge the remedy); the report calls the last two "test (audit)" and "test (confirmation)".
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

from . import files
from .diagnose import direction

COST_START = "<!-- cost:start -->"
COST_END = "<!-- cost:end -->"

METHOD_NAMES = {
    "integrated_gradients": "integrated gradients",
    "input_x_gradient": "input × gradient",
    "loss_gradient": "loss gradient",
}
MEASURE_NAMES = {"spearman_rho": "Spearman's rho", "cramers_v": "Cramér's V"}
SPLIT_NAMES = {"train": "train", "val": "validation", "audit": "test (audit)", "confirm": "test (confirmation)"}
SPLIT_COLORS = {"train": "#8c959f", "val": "#0969da", "audit": "#d1242f", "confirm": "#bf8700"}
EVAL_SPLITS = ("val", "audit", "confirm")  # evaluated splits (train metrics come from training)
SET_COLORS = ["#8c959f", "#1a7f37", "#8250df", "#bf8700", "#1b7c83"]  # all features, then each remedy
PALETTE = ["#0969da", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#57606a", "#e16f24", "#1b7c83"]
BROKE_COLOR, HOLDS_COLOR = "#d1242f", "#0969da"
POOLED = "all settings"  # the confirmation table's pooled row
# The four parts of the accuracy change validation -> test (columns of decomposition.csv).
PARTS = {
    "class_mix": ("class mix", "#bf8700"),
    "covariate": ("inputs", "#8250df"),
    "conditional": ("relation Y | X", "#d1242f"),
    "unsupported": ("outside support", "#8c959f"),
}

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
    "conditional_shift": "Conditional shift",
    "decomposition": "Accuracy-drop decomposition",
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
    cells: dict  # {"train": clean cell audit, "test": clean cell audit} (missing/coerced cells per column)
    encoder: dict
    test_cells: dict  # {"audit": {...}, "confirm": {...}}: imputed cells and unseen levels per part
    test_split: dict  # rows, audit, confirm, confirm_fraction, seed, source
    class_distribution: pd.DataFrame
    association: pd.DataFrame
    eda_summary: pd.DataFrame
    eda_figures: dict  # figure name -> PNG path
    histories: dict  # (act, seed) -> per-epoch history frame
    metrics: pd.DataFrame  # metrics_summary of every feature set
    per_seed: pd.DataFrame
    saliency: pd.DataFrame
    importance: pd.DataFrame  # grouped permutation importance, per model, split and repeat
    shift: pd.DataFrame  # marginal statistics per feature
    class_mix: dict
    covariate: dict
    conditional: pd.DataFrame  # final conditional-shift evidence per unit
    conditional_steps: pd.DataFrame
    decomposition: pd.DataFrame  # per grid model
    label_shift: pd.DataFrame  # per grid model (BBSE)
    diagnosis: dict
    verdict: pd.DataFrame
    confirmation: pd.DataFrame
    answer: dict
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


def _read_csv(path) -> pd.DataFrame:
    """A CSV; an empty file (no header) is an empty frame."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _concat_csv(paths) -> pd.DataFrame:
    frames = [_read_csv(p) for p in _as_list(paths)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


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
        return _read_csv(paths[key]) if paths.get(key) else None

    def optional_json(key):
        return files.read_json(paths[key]) if paths.get(key) else {}

    histories = {
        (str(act), int(seed)): files.read_parquet(path)
        for (act, seed), path in zip(settings["histories"], _as_list(paths["histories"]))
    }

    def both(key):  # the fixed inputs and the remedy's (``remedy_<key>``)
        return _as_list(paths.get(key)) + _as_list(paths.get(f"remedy_{key}"))

    benchmarks = list(dict.fromkeys(both("benchmarks")))  # a job behind both parts counts once
    return Inputs(
        settings=settings,
        cells={"train": files.read_json(paths["clean_train_cells"]), "test": files.read_json(paths["clean_test_cells"])},
        encoder=files.read_json(paths["encoder"]),
        test_cells=files.read_json(paths["test_cells"]),
        test_split=optional_json("test_split"),
        class_distribution=_read_csv(paths["eda_classes"]),
        association=_read_csv(paths["eda_association"]),
        eda_summary=_read_csv(paths["eda_summary"]),
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
        importance=_concat_csv(both("importance")),
        shift=_read_csv(paths["shift"]),
        class_mix=files.read_json(paths["class_mix"]),
        covariate=files.read_json(paths["covariate"]),
        conditional=_read_csv(paths["conditional"]),
        conditional_steps=optional_csv("conditional_steps") if paths.get("conditional_steps") else pd.DataFrame(),
        decomposition=_read_csv(paths["decomposition"]),
        label_shift=_read_csv(paths["label_shift"]),
        diagnosis=files.read_json(paths["diagnosis"]),
        verdict=_read_csv(paths["verdict"]),
        confirmation=_read_csv(paths["confirmation"]),
        answer=files.read_json(paths["answer"]),
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


def signed(x, digits: int = 3) -> str:
    """A difference with its sign (+0.260, -0.012); no negative zero."""
    if not _finite(x):
        return "–"
    text = f"{float(x):+.{digits}f}"
    return "+" + text[1:] if float(text) == 0 else text


def ci(x, lo, hi, digits: int = 3, sign: bool = False) -> str:
    """A value with its 95 % interval: ``0.602 [0.592, 0.612]``."""
    f = (lambda v: signed(v, digits)) if sign else (lambda v: num(v, digits))
    if not _finite(x):
        return "–"
    if not (_finite(lo) and _finite(hi)):
        return f(x)
    return f"{f(x)} [{f(lo)}, {f(hi)}]"


def ci_text(lo, hi, digits: int = 3, sign: bool = False) -> str:
    """The interval in prose: ``95 % CI 0.592 to 0.612``."""
    f = (lambda v: signed(v, digits)) if sign else (lambda v: num(v, digits))
    return f"95 % CI {f(lo)} to {f(hi)}" if _finite(lo) and _finite(hi) else "no interval"


def pval(p) -> str:
    """A p-value: three decimals from 0.001 on, scientific below, and "< 1e-300" for an underflow."""
    if not _finite(p):
        return "–"
    p = float(p)
    if p >= 0.001:
        return f"{p:.3f}"
    return sci(p) if p > 0 else "< 1e-300"


def yes(x) -> str:
    return "yes" if _truthy(x) else "no"


def _truthy(x) -> bool:
    if isinstance(x, str):
        return x.strip().lower() in ("true", "yes", "pass", "1")
    return bool(x) if _finite(x) or isinstance(x, (bool, np.bool_)) else False


def _codes(names: Sequence[str], empty: str = "none") -> str:
    names = [f"`{n}`" for n in names]
    return _join(names) if names else empty


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
    if m.empty:
        return float("nan"), float("nan"), 0
    row = m[(m["fs"] == fs) & (m["act"] == act) & (m["split"] == split)]
    if row.empty:
        return float("nan"), float("nan"), 0
    row = row.iloc[0]
    return float(row[f"{name}_mean"]), float(row[f"{name}_sd"]), int(row["n_seeds"])


def gap(inp: Inputs, fs: str, act: str, test: str = "audit") -> tuple[float, float, int]:
    """Generalization gap validation - test (audit) accuracy: mean and sd over seeds of the per-seed gaps."""
    p = inp.per_seed
    sub = p[(p["fs"] == fs) & (p["act"] == act)]
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


def importance_means(inp: Inputs) -> pd.DataFrame:
    """Permutation importance per unit, model and split: mean over repeats per model, then mean,
    sd and count over seeds (grid models on all features)."""
    imp = inp.importance
    cols = ["unit", "kind", "members", "act", "split", "mean", "std", "count"]
    if imp is None or imp.empty:
        return pd.DataFrame(columns=cols)
    imp = imp[(imp["fs"] == "all") & (imp["act"].isin(_models(inp)))]
    per_model = (imp.groupby(["unit", "kind", "members", "act", "split", "seed"], sort=False)["importance"]
                 .mean().reset_index())
    out = (per_model.groupby(["unit", "kind", "members", "act", "split"], sort=False)["importance"]
           .agg(["mean", "std", "count"]).reset_index())
    out["std"] = out["std"].fillna(0.0)
    return out[cols]


def _suspects(inp: Inputs) -> list[str]:
    return [str(s) for s in inp.diagnosis.get("suspects") or []]


def _feature_sets(inp: Inputs) -> list[str]:
    return list(dict.fromkeys(inp.metrics["fs"])) if not inp.metrics.empty else []


def _remedies(inp: Inputs) -> list[str]:
    """Remedy feature sets named by the verdict (``drop-a``, ``drop-a+b``)."""
    named = inp.diagnosis.get("remedies")
    if named is None:
        named = [f"drop-{s}" for s in _suspects(inp)]
    return [str(fs) for fs in named]


def _remedy_members(inp: Inputs, fs: str) -> list[str]:
    members = (inp.diagnosis.get("remedy_members") or {}).get(fs)
    if members:
        return [str(m) for m in members]
    return fs[len("drop-"):].split("+") if fs.startswith("drop-") else [fs]


def _fs_label(inp: Inputs, fs: str, code: bool = True) -> str:
    """"all features" or "without `a`" / "without `a` and `b`" (plain text for figure legends)."""
    if fs == "all":
        return "all features"
    members = _remedy_members(inp, fs)
    return "without " + (_join([f"`{m}`" for m in members]) if code else " + ".join(members))


def _answer(inp: Inputs) -> dict:
    """The final answer (answer.json), falling back to the verdict's own answer."""
    return inp.answer or inp.diagnosis.get("answer") or {}


def _verdict_records(inp: Inputs) -> list[dict]:
    return inp.verdict.to_dict("records") if not inp.verdict.empty else []


def _unit_label(unit, kind, members) -> str:
    """`unit`, or for a group the unit and its members."""
    members = [m for m in str(members).split(";") if m] if _value(members) != "–" else []
    if str(kind) == "group" or len(members) > 1:
        return f"`{unit}` (group: {_codes(members)})"
    return f"`{unit}`"


def _n_rows_audit(inp: Inputs) -> int | None:
    for source in (inp.test_split.get("audit"), inp.covariate.get("n_test"), inp.class_mix.get("n_test")):
        if _finite(source):
            return int(source)
    return None


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




def _baseline(inp: Inputs, split: str, fs: str = "all") -> float:
    values = [metric(inp, fs, act, split, "majority_baseline")[0] for act in _models(inp)]
    values = [v for v in values if _finite(v)]
    return float(np.mean(values)) if values else float("nan")


def plot_generalization(inp: Inputs):
    models = _models(inp)
    splits = ["train", *EVAL_SPLITS]
    fig = _new_figure(8.0, 3.9)
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
        ax.hlines(_baseline(inp, split), k - 0.45, k + 0.45, colors="black", linestyles="--", lw=1.1,
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
    for ax, split in zip(axes, ("val", "audit")):
        for j, act in enumerate(models):
            sub = means[(means["act"] == act) & (means["split"] == split)].set_index("feature")
            vals = [float(sub.loc[f, "mean"]) if f in sub.index else np.nan for f in features]
            errs = [float(sub.loc[f, "std"]) if f in sub.index else 0.0 for f in features]
            ax.barh(ys + 0.4 - height * (j + 0.5), vals, height * 0.92, xerr=errs, capsize=2,
                    color=PALETTE[j % len(PALETTE)], label=act)
        if features:
            ax.axvline(1.0 / len(features), color="black", ls="--", lw=0.9, label="even share")
        ax.set_title(SPLIT_NAMES[split], fontsize=10)
        ax.set_xlabel(f"share of |attribution| ({_method_name(method)})")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ys, features)
    axes[1].legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def _remedies_run(inp: Inputs) -> list[str]:
    """Remedy feature sets with metrics (retrained)."""
    sets = _feature_sets(inp)
    return [fs for fs in _remedies(inp) if fs in sets]


def plot_remedy(inp: Inputs):
    models = _models(inp)
    sets = ["all"] + _remedies_run(inp)
    fig = _new_figure(8.0, 3.7)
    axes = fig.subplots(1, len(EVAL_SPLITS), sharey=True)
    width = 0.8 / len(sets)
    for ax, split in zip(axes, EVAL_SPLITS):
        for k, fs in enumerate(sets):
            xs = np.arange(len(models)) - 0.4 + width * (k + 0.5)
            stats = [metric(inp, fs, act, split) for act in models]
            means = [s[0] for s in stats]
            ax.bar(xs, means, width * 0.92, yerr=[s[1] for s in stats], capsize=3,
                   color=SET_COLORS[k % len(SET_COLORS)], label=_fs_label(inp, fs, code=False))
            _bar_values(ax, xs, means)
        ax.axhline(_baseline(inp, split), color="black", ls="--", lw=1.1, label="majority baseline")
        ax.set_xticks(range(len(models)), models)
        ax.set_title(SPLIT_NAMES[split], fontsize=10)
        ax.set_ylim(0, 1.12)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("accuracy (mean ± sd over seeds)")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, frameon=False, loc="lower center", ncol=min(len(labels), 4))
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def _conditional_rows(inp: Inputs) -> pd.DataFrame:
    """The final conditional-shift evidence, largest harm first (units with no harm last)."""
    c = inp.conditional
    if c.empty:
        return c
    c = c.assign(_h=pd.to_numeric(c["harm"], errors="coerce").fillna(-np.inf))
    return c.sort_values("_h", ascending=False, kind="stable").drop(columns="_h").reset_index(drop=True)


def _min_harm(inp: Inputs) -> float:
    c = inp.conditional
    if c.empty or "min_harm" not in c:
        return float("nan")
    values = pd.to_numeric(c["min_harm"], errors="coerce").dropna()
    return float(values.iloc[0]) if len(values) else float("nan")


def _harm_scale(inp: Inputs) -> float | None:
    """The linear range of a symmetric-log axis when the harms span orders of magnitude (else None)."""
    c = _conditional_rows(inp)
    m = _min_harm(inp)
    values = pd.to_numeric(pd.concat([c["harm_ci_low"], c["harm_ci_high"], c["harm"]]), errors="coerce").abs()
    values = values[np.isfinite(values)]
    if not len(values) or not _finite(m) or m <= 0:
        return None
    return m if float(values.max()) > 25 * m else None


def plot_conditional_shift(inp: Inputs):
    c = _conditional_rows(inp)
    c = c[pd.to_numeric(c["harm"], errors="coerce").notna()]
    n = len(c)
    fig = _new_figure(7.5, 0.42 * n + 1.5)
    ax = fig.add_subplot()
    ys = np.arange(n)[::-1]
    for y, r in zip(ys, c.to_dict("records")):
        broke = _truthy(r.get("broke"))
        color = BROKE_COLOR if broke else HOLDS_COLOR
        h, lo, hi = float(r["harm"]), float(r["harm_ci_low"]), float(r["harm_ci_high"])
        err = [[h - lo], [hi - h]] if _finite(lo) and _finite(hi) else None
        ax.errorbar([h], [y], xerr=err, fmt="o", color=color, ms=6 if broke else 5, capsize=3, lw=1.6)
    ax.axvline(0.0, color="black", lw=0.9)
    m = _min_harm(inp)
    if _finite(m):
        ax.axvline(m, color="#57606a", lw=1.1, ls="--")
    lin = _harm_scale(inp)
    if lin:
        ax.set_xscale("symlog", linthresh=lin, linscale=1.0)
        ends = pd.to_numeric(pd.concat([c["harm_ci_low"], c["harm_ci_high"], c["harm"]]), errors="coerce")
        ends = ends[np.isfinite(ends)]
        lo, hi = min(float(ends.min()), -lin), max(float(ends.max()), m if _finite(m) else lin)
        ax.set_xlim(lo * 1.8 if lo < -lin else lo - lin, hi * 1.8 if hi > lin else hi + lin)
    ax.set_yticks(ys, [str(u) for u in c["unit"]])
    for label, broke in zip(ax.get_yticklabels(), c["broke"].map(_truthy)):
        if broke:
            label.set_color(BROKE_COLOR)
            label.set_fontweight("bold")
    ax.set_ylim(-0.7, n - 0.3)
    scale = f"; symmetric log scale, linear within ±{sig(lin)}" if lin else ""
    ax.set_xlabel(f"harm: test log loss with the unit − without it (nats per row, 95 % CI{scale})", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=BROKE_COLOR, marker="o", ls="", label="relation broke"),
               Line2D([], [], color=HOLDS_COLOR, marker="o", ls="", label="relation holds")]
    if _finite(m):
        handles.append(Line2D([], [], color="#57606a", ls="--", label=f"minimum harm {sig(m)}"))
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def _model_label(act, seed) -> str:
    return f"{act} seed {int(seed)}" if _finite(seed) else str(act)


def plot_decomposition(inp: Inputs):
    d = inp.decomposition
    n = len(d)
    fig = _new_figure(max(5.0, 0.75 * n + 2.5), 4.2)
    ax = fig.add_subplot()
    xs = np.arange(n)
    up, down = np.zeros(n), np.zeros(n)
    for part, (label, color) in PARTS.items():
        vals = pd.to_numeric(d[part], errors="coerce").fillna(0.0).to_numpy() if part in d else np.zeros(n)
        pos, neg = np.clip(vals, 0, None), np.clip(vals, None, 0)
        ax.bar(xs, pos, 0.6, bottom=up, color=color, label=label)
        ax.bar(xs, neg, 0.6, bottom=down, color=color)
        up, down = up + pos, down + neg
    total = pd.to_numeric(d["total"], errors="coerce").to_numpy()
    lo = pd.to_numeric(d.get("total_ci_low", pd.Series([np.nan] * n)), errors="coerce").to_numpy()
    hi = pd.to_numeric(d.get("total_ci_high", pd.Series([np.nan] * n)), errors="coerce").to_numpy()
    err = np.vstack([total - lo, hi - total])
    err = np.where(np.isfinite(err), err, 0.0)
    ax.errorbar(xs, total, yerr=err, fmt="D", color="black", ms=6, capsize=4, lw=1.2, zorder=3,
                label="total (95 % CI)")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(xs, [_model_label(a, s).replace(" seed", "\nseed") for a, s in zip(d["act"], d.get("seed", [np.nan] * n))],
                  fontsize=8)
    ax.set_ylabel("accuracy change, test (audit) − validation")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=5)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


RULE_NAMES = {
    "relied": "relied on", "broke": "relation broke", "insufficient": "insufficient evidence",
    "suspect": "shortcut suspect", "class_mix": "class mix changed", "label_shift": "label shift",
    "covariate": "covariate shift", "support": "training support", "confirmed": "remedy confirmed",
}
UNIT_RULES = ("relied", "broke", "insufficient", "suspect")  # rules with one outcome per unit


def _rule_outcome(inp: Inputs, key: str) -> str:
    """What a rule of the verdict decided, in words and numbers from the inputs."""
    records = _verdict_records(inp)
    if key in UNIT_RULES:
        hit = [str(r["unit"]) for r in records if _truthy(r.get(key))]
        return (f"{_codes(hit)} ({len(hit)} of {_plural(len(records), 'unit')})" if hit
                else f"none of {_plural(len(records), 'unit')}")
    if key == "class_mix":
        m = inp.class_mix
        word = "**changed**" if _truthy(m.get("changed")) else "not changed"
        return f"{word} (total variation {num(m.get('tv'))}, chi-square p {pval(m.get('chi2_pvalue'))})"
    if key == "label_shift":
        m = (inp.covariate.get("class_mix_explained") or {})
        label = "label shift" in (inp.diagnosis.get("answer") or {}).get("changes", [])
        word = "**label shift**" if label else "no label shift"
        return (f"{word} (class-mix change the inputs do not explain: total variation "
                f"{num(m.get('unexplained_tv'))}, {ci_text(m.get('unexplained_tv_ci_low'), m.get('unexplained_tv_ci_high'))})")
    if key == "covariate":
        c = inp.covariate
        word = "**covariate shift**" if _truthy(c.get("shifted")) else "no covariate shift"
        return f"{word} (AUC {num(c.get('auc'))}, {ci_text(c.get('auc_ci_low'), c.get('auc_ci_high'))})"
    if key == "support":
        c = inp.covariate
        return (f"{count(c.get('n_unsupported'))} of {count(c.get('n_test'))} test (audit) rows unsupported "
                f"({pct(c.get('share_unsupported'))})")
    if key == "confirmed":
        remedies = _remedies(inp)
        if not remedies:
            return "no remedy trained"
        done = [str(fs) for fs in _answer(inp).get("confirmed_remedies") or []]
        parts = [f"{_fs_label(inp, fs)}: {'**confirmed**' if fs in done else 'not confirmed'}" for fs in remedies]
        return "; ".join(parts)
    return "–"


def _relied_text(r: Mapping) -> str:
    """'yes (4 of 4)' / 'no (1 of 4)' from a verdict row."""
    word = yes(r.get("relied"))
    n, m = r.get("n_relied"), r.get("n_models")
    return f"{word} ({int(n)} of {int(m)})" if _finite(n) and _finite(m) and m else word


def _section_verdict(inp: Inputs) -> Section:
    ans = _answer(inp)
    models = _models(inp)
    remedies = _remedies_run(inp)
    blocks: list = []
    headline = str(ans.get("headline", "")).strip()
    kind = str(ans.get("kind", ""))
    blocks.append(Para(f"**{headline}**" if headline else "**No answer recorded.**",
                       "answer" if kind == "no shortcut" else "answer alert"))
    sentences = [str(s) for s in ans.get("sentences") or []]
    if sentences:
        blocks.append(Bullets(sentences))

    lines = []
    for act in models:
        va, au, co = (metric(inp, "all", act, s)[0] for s in EVAL_SPLITS)
        base = metric(inp, "all", act, "audit", "majority_baseline")[0]
        line = (f"`{act}` on all features: validation accuracy {two(va)}, test (audit) {two(au)}, "
                f"test (confirmation) {two(co)}; majority baseline {two(base)}")
        for fs in remedies:
            c2 = metric(inp, fs, act, "confirm")[0]
            if _finite(c2):
                line += f"; retrained {_fs_label(inp, fs)}: test (confirmation) {two(c2)}"
        lines.append(line + ".")
    blocks.append(Para("Accuracy of the grid models (mean over seeds):"))
    blocks.append(Bullets(lines))

    blocks.append(Heading("Verdict table"))
    records = _verdict_records(inp)
    n_models = len(_models(inp)) * len(inp.settings.get("seeds") or [])
    n_rows = inp.conditional["n_rows"].iloc[0] if "n_rows" in inp.conditional and len(inp.conditional) else None
    blocks.append(Para(
        "One row per unit: a feature, or a group of strongly associated features that can stand in for each "
        "other. **Importance**: how much the validation log loss rises when the unit is shuffled (grouped "
        f"permutation importance, nats per row, mean over {_plural(n_models, 'grid model')}, 95 % CI over the "
        "repeated shuffles); **share**: its part of the summed single-feature importance; **relied on**: by how "
        "many models (each judged on its own interval and share; the grid relies on a unit when at least half "
        "of its models do). **Harm**: how much worse the evidence "
        "model with the unit predicts the test (audit) rows than the one without it, after refitting the class "
        f"mix (nats per row, 95 % CI, on {count(n_rows)} supported rows); **Holm p**: its p-value adjusted for "
        "testing every unit; **MDE**: the smallest harm these rows could detect."))
    if records:
        groups = any(str(r.get("kind")) == "group" for r in records)
        header = ["unit", "importance (nats) [95 % CI]", "share", "relied on", "harm (nats/row) [95 % CI]",
                  "Holm p", "MDE", "relation broke", "insufficient", "suspect"]
        rows, strong = [], set()
        for i, r in enumerate(records):
            row = [_unit_label(r["unit"], r.get("kind"), r.get("members")) if groups else f"`{r['unit']}`",
                   ci(r.get("importance"), r.get("importance_ci_low"), r.get("importance_ci_high")),
                   pct(r.get("share")), _relied_text(r),
                   ci(r.get("harm"), r.get("harm_ci_low"), r.get("harm_ci_high")),
                   pval(r.get("p_holm")), num(r.get("mde")), yes(r.get("broke")), yes(r.get("insufficient")),
                   yes(r.get("suspect"))]
            for j in (3, 7, 8, 9):
                if row[j].startswith("yes"):
                    strong.add((i, j))
            rows.append(row)
        blocks.append(Table(header, rows, [False, True, True, False, True, True, True, False, False, False],
                            strong=strong))
        blocks.append(Bullets([f"`{r['unit']}`: {r['reading']}." for r in records if _value(r.get("reading")) != "–"]))
    else:
        blocks.append(Para("The verdict table is empty: no unit was assessed.", "note"))

    blocks.append(Heading("Rules and outcomes"))
    rules = dict(inp.diagnosis.get("rules") or {})
    if ans.get("rule"):
        rules["confirmed"] = ans["rule"]
    order = [k for k in RULE_NAMES if k in rules] + [k for k in rules if k not in RULE_NAMES]
    rows = [[RULE_NAMES.get(k, k.replace("_", " ")), str(rules[k]), _rule_outcome(inp, k)]
            for k in order if rules[k]]
    blocks.append(Table(["rule", "decision rule", "outcome"], rows, [False, False, False]))
    th = inp.diagnosis.get("thresholds") or {}
    if th:
        blocks.append(Para("Thresholds of the verdict: " + ", ".join(f"`{k}` {plain(v)}" for k, v in th.items())
                           + "."))
    return Section("verdict", "Verdict", blocks)


def _section_data(inp: Inputs) -> Section:
    blocks: list = []
    enc = inp.encoder
    split = enc.get("split", {})
    rows = []
    for part in ("train", "test"):
        a = inp.cells[part]
        rows.append([f"{part} file", f"`{a.get('file', '')}`", count(a.get("rows")), count(a.get("missing_cells", 0)),
                     count(a.get("coerced_cells", 0))])
    blocks.append(Heading("Files and splits"))
    blocks.append(Table(["file", "path", "rows", "missing cells", "coerced cells"], rows,
                        [False, False, True, True, True]))
    blocks.append(Para(
        f"The training file is split into {count(split.get('n_train'))} training and "
        f"{count(split.get('n_val'))} validation rows (validation fraction {split.get('val_fraction')}, "
        f"{'stratified' if split.get('stratify') else 'not stratified'}, seed {split.get('seed')}); "
        f"the encoder (imputation values, levels, means and standard deviations) is fitted on the "
        f"{count(enc.get('n_fit_rows', split.get('n_train')))} training rows only and applied unchanged "
        "to the validation and test rows."))
    without = inp.cells["train"].get("classes_without_rows") or []
    if without:
        blocks.append(Para(
            f"**Warning:** declared class{'es' if len(without) > 1 else ''} {_codes(without)} "
            f"{'have' if len(without) > 1 else 'has'} no row in the training file: the models can never "
            "predict them, and every test row of them counts as an error.", "note"))
    ts = inp.test_split
    if ts:
        source = str(ts.get("source", "test file"))
        text = (f"The {count(ts.get('rows'))} test rows ({source}) are split once "
                f"({'stratified' if ts.get('stratify') else 'not stratified'}, seed {ts.get('seed')}) into an "
                f"**audit part** of {count(ts.get('audit'))} rows, which every decision sees (the shift evidence, "
                f"the verdict, the choice of remedy), and a **confirmation part** of {count(ts.get('confirm'))} "
                f"rows (fraction {plain(ts.get('confirm_fraction'))}), which only judges the remedy.")
        if source != "test file":
            text += (" There is no separate test file: both parts are held-out rows of the training file, so "
                     "they show a shortcut only if it is already inconsistent within that file.")
        blocks.append(Para(text))

    blocks.append(Heading("Missing values and what was done"))
    val_imputed = enc.get("val_report", {}).get("imputed", {})
    parts = {p: inp.test_cells.get(p) or {} for p in ("audit", "confirm")}
    rows = []
    for kind in ("categorical", "numeric"):
        for col, e in enc.get(kind, {}).items():
            tr = inp.cells["train"].get("columns", {}).get(col, {})
            te = inp.cells["test"].get("columns", {}).get(col, {})
            fill = f"`{e['fill']}`" if isinstance(e.get("fill"), str) else plain(e.get("fill"))
            if kind == "categorical":
                transform = f"one-hot ({_plural(len(e.get('levels', [])), 'level')})"
            else:
                transform = ("log1p, " if e.get("log1p") else "") + "standardised"
            rows.append([f"`{col}`", kind, count(tr.get("missing", 0)), count(tr.get("coerced_to_missing", 0)),
                         count(te.get("missing", 0)), count(te.get("coerced_to_missing", 0)),
                         str(e.get("impute", "")), fill, count(val_imputed.get(col, 0)),
                         count(parts["audit"].get("imputed", {}).get(col, 0)),
                         count(parts["confirm"].get("imputed", {}).get(col, 0)), transform])
    blocks.append(Table(
        ["column", "kind", "missing (train file)", "coerced (train file)", "missing (test file)",
         "coerced (test file)", "imputation", "fill value", "imputed (validation)", "imputed (audit)",
         "imputed (confirmation)", "encoding"],
        rows, [False, False, True, True, True, True, False, True, True, True, True, False]))
    tr, te = inp.cells["train"], inp.cells["test"]
    blocks.append(Para(
        f"Missing cells: {count(tr.get('missing_cells', 0))} in the train file and "
        f"{count(te.get('missing_cells', 0))} in the test file; cells with non-numeric text in a numeric "
        f"column (coerced to missing): {count(tr.get('coerced_cells', 0))} and {count(te.get('coerced_cells', 0))}. "
        "Every missing or coerced cell is filled with the column's fill value fitted on the training rows."))

    unseen_any = False
    for part, label in (("audit", "test (audit)"), ("confirm", "test (confirmation)")):
        unseen = parts[part].get("unseen_levels") or {}
        if unseen:
            unseen_any = True
            items = [f"`{col}`: " + ", ".join(f"`{lvl}` ({_plural(int(n), 'row')})" for lvl, n in levels.items())
                     for col, levels in unseen.items()]
            blocks.append(Para(f"**Unseen levels, {label}:** {count(parts[part].get('unseen_level_rows', 0))} of "
                               f"{count(parts[part].get('rows'))} rows carry a category level not seen in training "
                               "(encoded as all zeros):"))
            blocks.append(Bullets(items))
    if not unseen_any:
        blocks.append(Para("**Unseen levels:** none; every category level of the audit and confirmation rows was "
                           "seen in training."))

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
    blocks.append(Table(["class", "name", "train file rows", "train file share", "test file rows", "test file share"],
                        rows, [False, False, True, True, True, True]))
    blocks.append(Para("Whole files; the class mix of the audit rows, with intervals, is in the shift evidence."))
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

        tv = inp.class_mix.get("tv")
        out.append(Figure("eda_class_distribution", (
            f"Share of rows per class in the train and test files: the largest class, {big['name']}, holds "
            f"{pct(big['share'])} of train rows and {share_in(te, big['class'])} of test rows, the smallest, "
            f"{small['name']}, {pct(small['share'])} and {share_in(te, small['class'])}"
            + (f" (total variation distance of the class mix, train file against the test (audit) rows: "
               f"{num(tv)})." if _finite(tv) else ".")),
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




def _side(value, base) -> str:
    if not (_finite(value) and _finite(base)):
        return "–"
    return "below" if value < base else "above" if value > base else "equal"


def _section_generalization(inp: Inputs) -> Section:
    models = _models(inp)
    majority = _majority(inp)
    rows, below, above, parts = [], [], [], []
    for act in models:
        tr, va, au, co = (metric(inp, "all", act, s) for s in ("train", *EVAL_SPLITS))
        g = gap(inp, "all", act)
        base = metric(inp, "all", act, "audit", "majority_baseline")[0]
        bal = metric(inp, "all", act, "audit", "balanced_accuracy")
        f1 = metric(inp, "all", act, "audit", "macro_f1")
        ll = metric(inp, "all", act, "audit", "log_loss")
        side = _side(au[0], base)
        (below if side == "below" else above).append(f"`{act}` ({num(au[0])})")
        rows.append([f"`{act}`", pm(*tr), pm(*va), pm(*au), pm(*co), pm(*g), num(base), side, pm(*bal), pm(*f1),
                     pm(*ll)])
        parts.append(f"`{act}` reaches {two(va[0])} validation accuracy but {two(au[0])} on the test (audit) rows "
                     f"and {two(co[0])} on the test (confirmation) rows, {side} the {two(base)} majority baseline")
    blocks: list = [Table(
        ["model", "train accuracy", "validation accuracy", "test (audit) accuracy", "test (confirmation) accuracy",
         "gap (validation − audit)", "majority baseline (audit)", "audit vs baseline", "audit balanced acc.",
         "audit macro F1", "audit log loss"],
        rows, [False, True, True, True, True, True, True, False, True, True, True],
        strong={(i, 7) for i, r in enumerate(rows) if r[7] == "below"})]
    n_seeds = metric(inp, "all", models[0], "audit")[2] if models else 0
    text = (f"Mean ± sd over {_plural(n_seeds, 'seed')} on all features. The majority baseline always predicts "
            f"the most frequent training class, {majority} ({num(_baseline(inp, 'audit'))} of the test (audit) "
            "rows). ")
    if below:
        text += f"**Test (audit) accuracy is below the majority baseline** for {_join(below)}"
        text += f"; above it for {_join(above)}." if above else "."
    else:
        text += f"Test (audit) accuracy is above the majority baseline for every model: {_join(above)}."
    blocks.append(Para(text))
    blocks.append(Figure("generalization", "; ".join(parts) + " (bars: mean over seeds, whiskers ± sd, dashed: "
                         "majority baseline per split).", draw=lambda: plot_generalization(inp)))
    return Section("generalization", "Generalization", blocks)


def _section_attribution(inp: Inputs) -> Section:
    method = inp.settings.get("method") or inp.diagnosis.get("method") or "integrated_gradients"
    models = _models(inp)
    features = feature_order(inp, method)
    share = saliency_means(inp, "all", method)
    splits = ("val", "audit")

    def cell(frame, act, split, feature, col="mean", key="feature"):
        hit = frame[(frame["act"] == act) & (frame["split"] == split) & (frame[key] == feature)]
        return float(hit[col].iloc[0]) if len(hit) else float("nan")

    header = ["feature"] + [f"{act}, {SPLIT_NAMES[s]}" for act in models for s in splits]

    def share_cell(act, split, feature):
        n = cell(share, act, split, feature, "count")
        return pm(cell(share, act, split, feature), cell(share, act, split, feature, "std"),
                  int(n) if _finite(n) else 0)

    blocks: list = [Heading("Permutation importance (the reliance evidence)")]
    imp = importance_means(inp)
    if imp.empty:
        blocks.append(Para("No permutation importance in this run.", "note"))
    else:
        val = imp[imp["split"] == "val"].groupby("unit", sort=False)["mean"].mean()
        units = val.sort_values(ascending=False, kind="stable").index.tolist()
        units += [u for u in dict.fromkeys(imp["unit"]) if u not in units]
        kinds = imp.drop_duplicates("unit").set_index("unit")
        rows = []
        for u in units:
            n = lambda act, s: cell(imp, act, s, u, "count", "unit")  # noqa: E731
            label = _unit_label(u, kinds.loc[u, "kind"], kinds.loc[u, "members"])
            rows.append([label] + [pm(cell(imp, act, s, u, "mean", "unit"), cell(imp, act, s, u, "std", "unit"),
                                      int(n(act, s)) if _finite(n(act, s)) else 0)
                                   for act in models for s in splits])
        repeats = int(inp.importance["repeat"].nunique()) if "repeat" in inp.importance else 0
        blocks.append(Para(
            "How much the log loss rises (nats per row) when a unit's values are shuffled across the rows: mean "
            f"over {_plural(repeats, 'permutation')} per model, then mean ± sd over seeds. The validation column is "
            "the reliance evidence of the verdict. On test rows where a unit's relation broke, shuffling it can "
            "help: its importance there is then negative."))
        blocks.append(Table(["unit"] + header[1:], rows, [False] + [True] * (len(header) - 1)))

    rows = [[f"`{f}`"] + [share_cell(act, s, f) for act in models for s in splits] for f in features]
    blocks.append(Heading("Gradient attribution"))
    blocks.append(Para(
        f"Share of the mean |attribution| per source feature ({_method_name(method)}; one-hot columns summed "
        f"per feature; mean ± sd over seeds). An even split would give every feature "
        f"{two(1 / len(features)) if features else 'n/a'}. Shown beside the permutation importance; no rule "
        "uses it."))
    blocks.append(Table(header, rows, [False] + [True] * (len(header) - 1)))
    caption = (f"Share of {_method_name(method)} attribution per feature on validation and test (audit) "
               "(mean over seeds, ± sd)")
    if features:
        top = features[0]
        val_top = [cell(share, act, "val", top) for act in models]
        test_top = [cell(share, act, "audit", top) for act in models]
        caption += (f": the models put {two(np.nanmean(val_top))} of the validation attribution on `{top}` ("
                    + ", ".join(f"{act} {two(v)}" for act, v in zip(models, val_top))
                    + f") and {two(np.nanmean(test_top))} on test (audit)")
        if len(features) > 1:
            second = features[1]
            caption += (f"; the next feature, `{second}`, gets "
                        f"{two(np.nanmean([cell(share, act, 'val', second) for act in models]))}")
    blocks.append(Figure("attribution", caption + ".", draw=lambda: plot_attribution(inp, method)))

    grad = saliency_means(inp, "all", "loss_gradient", "mean_abs")
    if not grad.empty:
        ranks = {}
        for act in models:
            for s in splits:
                sub = grad[(grad["act"] == act) & (grad["split"] == s)].set_index("feature")["mean"]
                ranks[(act, s)] = sub.rank(ascending=False, method="min")

        def mean_val_rank(f):
            return np.nanmean([ranks[(a, "val")].get(f, np.nan) for a in models]), features.index(f)

        order = sorted(features, key=mean_val_rank)
        rows = []
        for f in order:
            row = [f"`{f}`"]
            for act in models:
                for s in splits:
                    v, r = cell(grad, act, s, f), ranks[(act, s)].get(f, np.nan)
                    row.append(f"{num(v)} ({int(r)})" if _finite(r) else "–")
            rows.append(row)
        blocks.append(Heading("Loss-gradient ranking"))
        blocks.append(Para("Mean |dL/dx| of the loss with respect to each feature's inputs (mean over seeds; "
                           "rank in parentheses), the plain-gradient view of the same question."))
        blocks.append(Table(header, rows, [False] + [True] * (len(header) - 1)))
    return Section("attribution", "Reliance and attribution", blocks)


MARGINAL_COLUMNS = [  # (column of shift.csv, header, flag name in the `flags` column)
    ("psi", "PSI", "psi"), ("ks", "KS", "ks"), ("ks_pvalue", "KS p", None), ("tv", "TV", "tv"),
]
MARGINAL_RULES = {"psi_rule": "PSI", "ks_rule": "KS", "tv_rule": "TV", "shifted_rule": "shifted"}


def _flags(r: Mapping) -> set:
    return set(str(r.get("flags")).split(";")) if _value(r.get("flags")) != "–" else set()


def _rule_texts(table: pd.DataFrame, column: str) -> list[str]:
    if column not in table:
        return []
    return [t for t in dict.fromkeys(table[column].dropna().astype(str)) if not t.startswith("n/a")]


def _bbse(inp: Inputs) -> dict:
    """BBSE estimate of the test class mix, mean over grid models: shares, interval bounds (means
    of the per-model bounds), and the mean test accuracy before and after the prior correction."""
    ls = inp.label_shift
    if ls.empty:
        return {}
    k = len([c for c in ls.columns if c.startswith("bbse_share_")])

    def mean(col):
        return float(pd.to_numeric(ls[col], errors="coerce").mean()) if col in ls else float("nan")

    return {"share": [mean(f"bbse_share_{i}") for i in range(k)],
            "low": [mean(f"bbse_ci_low_{i}") for i in range(k)],
            "high": [mean(f"bbse_ci_high_{i}") for i in range(k)],
            "acc_test": mean("acc_test"), "acc_corrected": mean("acc_test_prior_corrected"), "n_models": len(ls)}


def _moves(before, after) -> str:
    """'raises' / 'lowers' / 'leaves' for a change of a number, from the numbers themselves."""
    return {"rises": "raises", "falls": "lowers", "stays": "leaves"}.get(direction(before, after), "moves")


def _shift_class_mix(inp: Inputs) -> list:
    m = inp.class_mix
    blocks: list = [Heading("Class mix (label shift)")]
    tr, te = m.get("share_train") or [], m.get("share_test") or []
    bb = _bbse(inp)
    rows = []
    for k in range(max(len(tr), len(te))):
        def at(key, k=k):
            values = m.get(key) or []
            return values[k] if k < len(values) else float("nan")

        row = [_class_name(inp, k), ci(at("share_train"), at("share_train_ci_low"), at("share_train_ci_high")),
               ci(at("share_test"), at("share_test_ci_low"), at("share_test_ci_high")),
               signed(at("share_test") - at("share_train"))]
        explained = (inp.covariate.get("class_mix_explained") or {}).get("predicted_share") or []
        if explained:
            row.append(num(explained[k]) if k < len(explained) else "–")
        if bb:
            row.append(ci(bb["share"][k], bb["low"][k], bb["high"][k]) if k < len(bb["share"]) else "–")
        rows.append(row)
    header = ["class", "train file share [95 % CI]", "test (audit) share [95 % CI]", "change"]
    mix = inp.covariate.get("class_mix_explained") or {}
    if mix.get("predicted_share"):
        header.append("explained by the inputs")
    if bb:
        header.append("estimated from predictions (BBSE) [95 % CI]")
    blocks.append(Table(header, rows, [False] + [True] * (len(header) - 1)))
    changed = _truthy(m.get("changed"))
    text = (f"Class shares of the {count(m.get('n_train'))} train-file rows and the {count(m.get('n_test'))} "
            f"test (audit) rows. Total variation distance (half the summed absolute share differences): "
            f"{num(m.get('tv'))}; chi-square test of equal mixes: p {pval(m.get('chi2_pvalue'))}. "
            f"Rule: {m.get('rule', 'n/a')}. Outcome: "
            + ("**the class mix changed**." if changed else "the class mix did not change."))
    if mix.get("predicted_share"):
        label = "label shift" in (inp.diagnosis.get("answer") or {}).get("changes", [])
        text += (f" **Explained by the inputs**: the mix the train-fitted evidence model predicts for the supported "
                 f"test (audit) rows from their inputs alone; under covariate shift it matches the observed mix. "
                 f"The part it leaves unexplained: total variation {num(mix.get('unexplained_tv'))} "
                 f"({ci_text(mix.get('unexplained_tv_ci_low'), mix.get('unexplained_tv_ci_high'))}), so "
                 + ("**label shift**." if label else "no label shift beyond what the inputs explain."))
    missing = m.get("classes_missing_in_test") or []
    if missing:
        text += (" Classes with no test (audit) row: "
                 + ", ".join(_class_name(inp, int(c)) if _finite(c) else str(c) for c in missing) + ".")
    blocks.append(Para(text))
    if bb:
        gaps = [abs(b - t) for b, t in zip(bb["share"], te)]
        text = (f"BBSE estimates the test class mix from each model's own test predictions, without test labels "
                f"(mean over {_plural(bb['n_models'], 'grid model')}; interval: mean of the per-model 95 % "
                f"bounds). Re-weighting each model's classes to its estimate "
                f"{_moves(bb['acc_test'], bb['acc_corrected'])} mean test (audit) accuracy from "
                f"{num(bb['acc_test'])} to {num(bb['acc_corrected'])}"
                + (": what correcting for the class mix alone gives back." if _finite(bb["acc_test"])
                   and _finite(bb["acc_corrected"]) and bb["acc_corrected"] > bb["acc_test"] else
                   ": correcting for the class mix alone does not help here."))
        if gaps and all(_finite(g) for g in gaps):
            k = int(np.argmax(gaps))
            text += (f" BBSE assumes that only the class mix changed; its estimate is up to {num(gaps[k])} away "
                     f"from the labelled audit shares ({_class_name(inp, k)}). A large gap means that "
                     "assumption fails.")
        blocks.append(Para(text))
    return blocks


def _shift_covariate(inp: Inputs) -> list:
    c = inp.covariate
    blocks: list = [Heading("Inputs (covariate shift) and training support")]
    shifted = _truthy(c.get("shifted"))
    blocks.append(Para(
        f"A domain classifier (cross-fitted logistic regression) learns to tell the {count(c.get('n_source'))} "
        f"rows of the train file from the {count(c.get('n_test'))} test (audit) rows. With the label in the "
        f"model, the AUC of its input part is {num(c.get('auc'))} ({ci_text(c.get('auc_ci_low'), c.get('auc_ci_high'))}). "
        "This is the input change beyond what the class mix explains: 0.5 means the inputs cannot be told "
        "apart, 1 means they never overlap. From the inputs alone the AUC is "
        f"{num(c.get('inputs_auc'))} ({ci_text(c.get('inputs_auc_ci_low'), c.get('inputs_auc_ci_high'))}). "
        f"Rule: {c.get('rule', 'n/a')}. Outcome: "
        + ("**covariate shift**." if shifted else "no covariate shift.")))
    feats = {str(f): a for f, a in (c.get("feature_auc") or {}).items()}
    if feats:
        order = sorted(feats, key=lambda f: (-(float(feats[f]) if _finite(feats[f]) else -np.inf), f))
        rows = [[f"`{f}`", num(feats[f]), signed(float(feats[f]) - 0.5) if _finite(feats[f]) else "–"] for f in order]
        blocks.append(Para("Which features separate the files: the AUC of each feature's part of the domain "
                           "classifier (0.5: this feature does not tell the files apart), largest first."))
        blocks.append(Table(["feature", "AUC", "AUC − 0.5"], rows, [False, True, True]))
    n_out, n_test, share = c.get("n_unsupported"), c.get("n_test"), c.get("share_unsupported")
    reasons = c.get("unsupported_by_reason") or {}
    names = {"unseen_level": "a level unseen in training", "out_of_range": "a numeric value outside the "
             "training range", "low_train_density": "too little training density"}
    text = (f"Training support: {count(n_out)} of {count(n_test)} test (audit) rows ({pct(share)}) lie outside "
            "it")
    if reasons:
        text += (" (" + "; ".join(f"{names.get(k, k.replace('_', ' '))}: {count(v)}" for k, v in reasons.items())
                 + "; a row can have several reasons)")
    text += f". Rule: {c.get('support_rule', 'n/a')}."
    blocks.append(Para(text))
    if _finite(share) and float(share) > 0.5:
        blocks.append(Para(
            f"**Most test (audit) rows ({pct(share)}) lie outside the training support. The models extrapolate "
            f"there, so those rows cannot be judged:** the conditional comparison below uses only the "
            f"{count(int(n_test) - int(n_out)) if _finite(n_test) and _finite(n_out) else '–'} supported rows, "
            "and the verdict says nothing about the rest.", "answer alert"))
    elif _finite(share) and float(share) > 0:
        blocks.append(Para("Rows outside the support cannot be judged; the conditional comparison leaves them out."))
    return blocks


def _shift_conditional(inp: Inputs) -> list:
    blocks: list = [Heading("Relation to the label (conditional shift)")]
    c = _conditional_rows(inp)
    if c.empty:
        blocks.append(Para("No conditional-shift evidence in this run.", "note"))
        blocks.append(Figure("conditional_shift", "Conditional shift: not available in this run.",
                             missing="no conditional-shift evidence"))
        return blocks
    m = _min_harm(inp)
    rule = _rule_texts(c, "rule")
    n_rows = c["n_rows"].iloc[0] if "n_rows" in c else None
    blocks.append(Para(
        "For each unit, two small evidence models are fitted on the training partition, one with the unit and "
        f"one without it, and compared on the {count(n_rows)} supported test (audit) rows after refitting "
        "their class offsets on those rows (this absorbs any change of the class mix). **Harm** is the mean "
        "difference of log loss, with minus without (nats per row): positive when the unit's train relation "
        "makes the test predictions worse. A change of the class mix or of the inputs alone cannot make it "
        "positive. **Change** is the harm minus what the model itself expects; it is about 0 when the relation "
        "holds and enters no rule. **MDE** is the smallest harm these rows could detect. Accuracy with / "
        "without: the evidence models' test (audit) accuracy. Rule: " + ("; ".join(rule) or "n/a") + "."))
    groups = any(str(k) == "group" for k in c.get("kind", []))
    rows, strong = [], set()
    for i, r in enumerate(c.to_dict("records")):
        row = [_unit_label(r["unit"], r.get("kind"), r.get("members")) if groups else f"`{r['unit']}`",
               count(r.get("n_rows")), ci(r.get("harm"), r.get("harm_ci_low"), r.get("harm_ci_high")),
               pval(r.get("p_holm")), num(r.get("mde")),
               ci(r.get("change"), r.get("change_ci_low"), r.get("change_ci_high")),
               f"{num(r.get('acc_with'))} / {num(r.get('acc_without'))}", yes(r.get("broke"))]
        if row[-1] == "yes":
            strong |= {(i, 0), (i, 2), (i, 7)}
        rows.append(row)
    blocks.append(Table(["unit", "rows", "harm (nats/row) [95 % CI]", "Holm p", "MDE", "change [95 % CI]",
                         "accuracy with / without", "relation broke"], rows,
                        [False, True, True, True, True, True, True, False], strong=strong))
    broke = [r for r in c.to_dict("records") if _truthy(r.get("broke"))]
    holds = [r for r in c.to_dict("records") if not _truthy(r.get("broke")) and _finite(r.get("harm"))]
    if broke:
        caption = "The relation broke for " + _join(
            [f"`{r['unit']}` (harm {num(r['harm'])}, {ci_text(r.get('harm_ci_low'), r.get('harm_ci_high'))})"
             for r in broke])
    else:
        caption = "The relation broke for no unit"
    if holds:
        top = max(holds, key=lambda r: float(r["harm"]))
        caption += (f"; among the {'other ' if broke else ''}units the largest harm is {num(top['harm'])} "
                    f"(`{top['unit']}`)")
    lin = _harm_scale(inp)
    caption = (f"Harm of each unit's train relation on the {count(n_rows)} supported test (audit) rows, nats per "
               f"row with its 95 % CI (points: estimate; red: relation broke; solid line: 0; dashed line: the "
               f"{sig(m)} nats minimum harm of the rule"
               + (f"; symmetric log scale, linear within ±{sig(lin)}" if lin else "") + "). " + caption + ".")
    has_harm = bool(pd.to_numeric(c["harm"], errors="coerce").notna().any())
    blocks.append(Figure("conditional_shift", caption, draw=lambda: plot_conditional_shift(inp),
                         missing="" if has_harm else "no unit has a harm estimate"))

    steps = inp.conditional_steps
    if not steps.empty and "step" in steps and steps["step"].nunique() > 1:
        features = [str(f) for f in inp.diagnosis.get("features") or []]
        rows = []
        for step, sub in steps.groupby("step", sort=True):
            base = [b for b in str(sub["base"].iloc[0]).split(";") if b] if "base" in sub else []
            left_out = [f for f in features if f not in base]
            model = "all features" if not left_out else f"all but {_codes(left_out)}"
            hit = sub[sub["broke"].map(_truthy)]
            tested = _codes([str(u) for u in sub["unit"]])
            broke_text = _join([f"`{r['unit']}` ({num(r['harm'])})" for r in hit.to_dict("records")]) or "none"
            rows.append([count(step), model, tested, broke_text])
        blocks.append(Para(
            "Step by step: at each step every remaining unit is tested against the current features; the unit with "
            "the largest harm that passes the rule is removed, and the rest are tested again without it. At the "
            "end each removed unit is tested once more, alone, against the final features. A strong leak distorts "
            "every other comparison, so only each unit's last test (the table above) counts."))
        blocks.append(Table(["step", "features in the evidence model", "units tested", "relation broke (harm)"],
                            rows, [True, False, False, False]))
    return blocks


def _shift_decomposition(inp: Inputs) -> list:
    blocks: list = [Heading("Where the accuracy went (decomposition)")]
    d = inp.decomposition
    if d.empty:
        blocks.append(Para("No accuracy decomposition in this run.", "note"))
        blocks.append(Figure("decomposition", "Accuracy-drop decomposition: not available in this run.",
                             missing="no decomposition"))
        return blocks
    n_val = d["n_val"].iloc[0] if "n_val" in d else None
    blocks.append(Para(
        "Per grid model, the change of accuracy from validation to test (audit), test minus validation, split "
        "into four parts that sum to the total. **Class mix**: validation rows re-weighted to the test class "
        "mix. **Inputs**: also re-weighted to the test inputs. **Relation Y | X**: what is left on the "
        "supported test rows; this is the part a shortcut produces. **Outside support**: the test rows outside "
        "the training support. Intervals: 95 % bootstrap over rows. ESS: the effective number of validation "
        f"rows behind the re-weighting (of {count(n_val)}); a small ESS makes the re-weighted parts noisy."))
    rows = []
    for r in d.to_dict("records"):
        rows.append([f"`{r['act']}`", count(r.get("seed")), num(r.get("acc_val")), num(r.get("acc_test")),
                     ci(r.get("total"), r.get("total_ci_low"), r.get("total_ci_high"), sign=True)]
                    + [ci(r.get(p), r.get(f"{p}_ci_low"), r.get(f"{p}_ci_high"), sign=True) for p in PARTS]
                    + [count(round(float(r["ess_val"]))) if _finite(r.get("ess_val")) else "–"])
    means = {p: float(pd.to_numeric(d[p], errors="coerce").mean()) for p in ["total", *PARTS] if p in d}
    rows.append(["mean", "–", num(pd.to_numeric(d["acc_val"], errors="coerce").mean()),
                 num(pd.to_numeric(d["acc_test"], errors="coerce").mean()), signed(means.get("total"))]
                + [signed(means.get(p)) for p in PARTS] + ["–"])
    blocks.append(Table(["model", "seed", "validation acc.", "test (audit) acc.", "total [95 % CI]"]
                        + [f"{PARTS[p][0]} [95 % CI]" for p in PARTS] + ["ESS"], rows,
                        [False, True, True, True, True, True, True, True, True, True], total=True))
    parts = [p for p in PARTS if _finite(means.get(p))]
    caption = (f"Accuracy change from validation to test (audit) per grid model, split into class mix, inputs, "
               f"relation Y | X and outside support (stacked bars; parts above 0 raised accuracy, parts below "
               f"lowered it); diamonds: the total with its 95 % CI. Mean over {_plural(len(d), 'model')}: total "
               f"{signed(means.get('total'))}, the sum of "
               + _join([f"{PARTS[p][0]} {signed(means[p])}" for p in parts]))
    if parts:
        big = max(parts, key=lambda p: abs(means[p]))
        caption += f"; the largest part is {PARTS[big][0]}"
    blocks.append(Figure("decomposition", caption + ".", draw=lambda: plot_decomposition(inp)))
    return blocks


def _shift_marginal(inp: Inputs) -> list:
    table = inp.shift
    blocks: list = [Heading("Marginal distributions")]
    if table.empty:
        blocks.append(Para("No marginal statistics in this run.", "note"))
        return blocks
    cols = [(c, h, f) for c, h, f in MARGINAL_COLUMNS if c in table]
    rows, strong = [], set()
    for i, r in enumerate(table.to_dict("records")):
        flags = _flags(r)
        row = [f"`{r['feature']}`", str(r.get("kind", ""))]
        for c, _, flag in cols:
            row.append(pval(r.get(c)) if c.endswith("pvalue") else num(r.get(c)))
            if flag and flag in flags:
                strong.add((i, len(row) - 1))
        row.append(yes(r.get("shifted")))
        if row[-1] == "yes":
            strong |= {(i, 0), (i, len(row) - 1)}
        rows.append(row)
    shifted = [str(r["feature"]) for r in table.to_dict("records") if _truthy(r.get("shifted"))]
    blocks.append(Para(
        "Per feature, the train file against the test (audit) rows: PSI (population stability index over bins "
        "of the observed values), KS (Kolmogorov–Smirnov distance, numeric features) with its p-value, and TV "
        "(total variation distance of the levels, categorical features). A statistic past its threshold is in "
        f"bold. Distribution shifted: {_codes(shifted)}. These statistics are descriptive and enter no "
        "shortcut rule: a shortcut can keep its marginal distribution, and a shifted feature can be harmless."))
    blocks.append(Table(["feature", "kind"] + [h for _, h, _ in cols] + ["shifted"], rows,
                        [False, False] + [True] * len(cols) + [False], strong=strong))
    rule_rows = [[label, "; ".join(_rule_texts(table, col))] for col, label in MARGINAL_RULES.items()
                 if _rule_texts(table, col)]
    if rule_rows:
        blocks.append(Table(["statistic", "rule"], rule_rows, [False, False]))

    blocks.append(Heading("Missing values, train against test"))
    if "missing_train" not in table:
        blocks.append(Para("No missingness statistics in this run.", "note"))
        return blocks
    rows, strong = [], set()
    for i, r in enumerate(table.to_dict("records")):
        row = [f"`{r['feature']}`", pct(r.get("missing_train")), pct(r.get("missing_test")),
               signed(100 * float(r["missing_change"]), 1) + " pp" if _finite(r.get("missing_change")) else "–",
               pval(r.get("missing_pvalue")), yes(r.get("missing_changed"))]
        if row[-1] == "yes":
            strong.add((i, 5))
        rows.append(row)
    changed = [str(r["feature"]) for r in table.to_dict("records") if _truthy(r.get("missing_changed"))]
    blocks.append(Para(
        "Share of missing cells per feature in the train file and in the test (audit) rows, the change in "
        f"percentage points (pp), and the two-proportion test's p-value. Missingness changed for "
        f"{len(changed)} of {_plural(len(table), 'feature')}: {_codes(changed)}. Rule: "
        + ("; ".join(_rule_texts(table, "missing_rule")) or "n/a") + "."))
    blocks.append(Table(["feature", "missing (train file)", "missing (test, audit)", "change", "p", "changed"],
                        rows, [False, True, True, True, True, False], strong=strong))
    return blocks


def _section_shift(inp: Inputs) -> Section:
    n = _n_rows_audit(inp)
    blocks: list = [Para(
        f"What changed between the training data and the test data. Every statistic here compares the train file "
        f"with the {count(n)} audit rows of the test data; the confirmation rows are not used. Four kinds of "
        "change are told apart: the class mix, the inputs, the relation of a feature to the label (only this "
        "one makes a shortcut), and test rows outside the training support.")]
    blocks += _shift_class_mix(inp)
    blocks += _shift_covariate(inp)
    blocks += _shift_conditional(inp)
    blocks += _shift_decomposition(inp)
    blocks += _shift_marginal(inp)
    return Section("shift", "Shift evidence", blocks)


def _confirmation_blocks(inp: Inputs, fs: str) -> list:
    conf = inp.confirmation
    sub = conf[conf["feature_set"] == fs] if not conf.empty and "feature_set" in conf else pd.DataFrame()
    label = _fs_label(inp, fs)
    if sub.empty:
        return [Para(f"No confirmation results for the models retrained {label}.", "note")]
    sub = pd.concat([sub[sub["setting"] != POOLED], sub[sub["setting"] == POOLED]])
    rows, strong = [], set()
    for i, r in enumerate(sub.to_dict("records")):
        row = [str(r["setting"]) if r["setting"] == POOLED else f"`{r['setting']}`", count(r.get("n_models")),
               count(r.get("n_rows")), num(r.get("acc_all")), num(r.get("acc_remedy")),
               ci(r.get("diff"), r.get("ci_low"), r.get("ci_high"), sign=True), yes(r.get("confirmed"))]
        if row[-1] == "yes":
            strong.add((i, 6))
        rows.append(row)
    blocks: list = [Table(["setting", "models", "rows", "accuracy, all features", "accuracy, remedy",
                           "gain (remedy − all) [95 % CI]", "confirmed"], rows,
                          [False, True, True, True, True, True, False], strong=strong,
                          total=bool((sub["setting"] == POOLED).any()))]
    pooled = sub[sub["setting"] == POOLED]
    if len(pooled):
        r = pooled.iloc[0]
        verb = direction(r["acc_all"], r["acc_remedy"])
        outcome = "**confirmed**" if _truthy(r["confirmed"]) else "**not confirmed**: removing it did not help"
        blocks.append(Para(
            f"Pooled over settings, retrained {label} the confirmation accuracy {verb} from {num(r['acc_all'])} to "
            f"{num(r['acc_remedy'])}, a change of {signed(r['diff'])} ({ci_text(r['ci_low'], r['ci_high'], sign=True)}, "
            f"{count(r['n_models'])} models on {count(r['n_rows'])} rows): {outcome}."))
    return blocks


def _section_remedy(inp: Inputs) -> Section:
    models = _models(inp)
    remedies = _remedies(inp)
    run = _remedies_run(inp)
    blocks: list = []
    ts = inp.test_split
    if not remedies:
        blocks.append(Para("No shortcut suspect, so no remedy was trained: no feature was dropped and nothing was "
                           "retrained or confirmed. The figure shows the models on all features for reference."))
    else:
        rule = _answer(inp).get("rule") or _rule_texts(inp.confirmation, "rule")
        rule = rule if isinstance(rule, str) else "; ".join(rule)
        blocks.append(Para(
            "Each remedy retrains the whole grid without the suspect (or without all suspects together). It is "
            f"judged on the confirmation part of the test data: {count(ts.get('confirm'))} rows "
            f"({ts.get('source', 'test file')}) that **no decision saw**: not the shift evidence, not the verdict, "
            "not the choice of remedy. Per model setting, the accuracy of the retrained models minus that of the "
            "models on all features, on the same rows, averaged over seeds (interval: rows and seeds "
            f"bootstrapped); pooled over settings in the last row. Rule: {rule or 'n/a'}."))
        for fs in remedies:
            blocks.append(Heading(f"Retrained {_fs_label(inp, fs)}"))
            blocks += _confirmation_blocks(inp, fs)
    missing = [fs for fs in remedies if fs not in run]
    if missing:
        blocks.append(Para(f"No retraining metrics for {_join([f'`{fs}`' for fs in missing])}.", "note"))

    blocks.append(Heading("Accuracy of the remedy models"))
    rows, strong, parts = [], set(), []
    for act in models:
        base = metric(inp, "all", act, "confirm", "majority_baseline")[0]
        c_all = metric(inp, "all", act, "confirm")[0]
        for fs in ["all"] + run:
            tr, va, au, co = (metric(inp, fs, act, s) for s in ("train", *EVAL_SPLITS))
            change = co[0] - c_all if fs != "all" else float("nan")
            side = _side(co[0], base)
            rows.append([f"`{act}`", _fs_label(inp, fs), pm(*tr), pm(*va), pm(*au), pm(*co), pm(*gap(inp, fs, act)),
                         "–" if fs == "all" else signed(change), side])
            if side == "below":
                strong.add((len(rows) - 1, 8))
        for fs in run:
            co, va = metric(inp, fs, act, "confirm")[0], metric(inp, fs, act, "val")[0]
            v_all = metric(inp, "all", act, "val")[0]
            parts.append(f"retrained {_fs_label(inp, fs)}, `{act}`'s test (confirmation) accuracy "
                         f"{direction(c_all, co)} from {two(c_all)} to {two(co)} ({_side(co, base)} the {two(base)} "
                         f"majority baseline) while its validation accuracy goes from {two(v_all)} to {two(va)}")
    blocks.append(Para("Mean ± sd over seeds; change: test (confirmation) accuracy minus that of the same model "
                       "setting on all features."))
    blocks.append(Table(["model", "features", "train accuracy", "validation accuracy", "test (audit) accuracy",
                         "test (confirmation) accuracy", "gap (validation − audit)", "confirmation change",
                         "confirmation vs baseline"], rows,
                        [False, False, True, True, True, True, True, True, False], strong=strong))
    if run:
        caption = ("Validation, test (audit) and test (confirmation) accuracy with all features and retrained "
                   "for each remedy: " + "; ".join(parts) + ".")
    else:
        base = metric(inp, "all", models[0], "confirm", "majority_baseline")[0] if models else float("nan")
        caption = ("No remedy was trained; with all features the test (confirmation) accuracy is "
                   + ", ".join(f"{two(metric(inp, 'all', act, 'confirm')[0])} for `{act}`" for act in models)
                   + f" against a {two(base)} majority baseline.")
    blocks.append(Figure("remedy", caption, draw=lambda: plot_remedy(inp)))
    return Section("remedy", "Remedy and confirmation", blocks)


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
    ts = inp.test_split
    split = (f"; test rows: {count(ts.get('audit'))} audit, {count(ts.get('confirm'))} confirmation"
             if ts else "")
    subtitle = (f"Dataset `{s.get('dataset')}`: target `{s.get('target')}` with "
                f"{_plural(len(classes), 'class', 'classes')} "
                f"({', '.join(str(c) for c in classes)}); grid models {_join([f'`{m}`' for m in _models(inp)])} "
                f"× seeds {', '.join(str(x) for x in s.get('seeds', []))}{split}; reliance: permutation "
                f"importance; attribution method "
                f"{_method_name(s.get('method') or inp.diagnosis.get('method') or 'integrated_gradients')}.")
    sections = [
        _section_verdict(inp), _section_data(inp), _section_training(inp), _section_generalization(inp),
        _section_attribution(inp), _section_shift(inp), _section_remedy(inp), _section_studies(inp),
        _section_cost(inp),
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
    with files.atomic_path(dest) as tmp:
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
            files.save_figure(drawn, path)
        pngs[fig.name] = Path(path).read_bytes()
        links[fig.name] = Path(os.path.relpath(path, Path(md_path).parent)).as_posix()
    files.write_text(html_path, render_html(doc, pngs))
    files.write_text(md_path, render_markdown(doc, links))
    if captions_path:
        files.write_json(captions_path, {f.name: f.caption for f in doc.figures()})
