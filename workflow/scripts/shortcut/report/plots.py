"""The report's figures, as matplotlib Figure objects (no pyplot state); matplotlib is imported
only when a figure is drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import facts
from .fmt import sig, two
from ..text import finite
from .load import Inputs
from .names import EVAL_SPLITS, PARTS, SPLIT_NAMES, method_name
from .render import Figure


SPLIT_COLORS = {"train": "#8c959f", "val": "#0969da", "audit": "#d1242f", "confirm": "#bf8700"}
SET_COLORS = ["#8c959f", "#1a7f37", "#8250df", "#bf8700", "#1b7c83"]  # all features, then each remedy
PALETTE = ["#0969da", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#57606a", "#e16f24", "#1b7c83"]
BROKE_COLOR, HOLDS_COLOR = "#d1242f", "#0969da"


def _new_figure(width: float, height: float):
    from matplotlib.figure import Figure as MplFigure

    return MplFigure(figsize=(min(width, 8.0), height))


def placeholder_figure(message: str):
    fig = _new_figure(6.0, 1.2)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="#57606a", wrap=True)
    return fig


def _epoch_stats(inp: Inputs, setting: str, column: str) -> pd.DataFrame:
    frames = [h[["epoch", column]] for (a, _), h in inp.histories.items() if a == setting and column in h]
    if not frames:
        return pd.DataFrame(columns=["mean", "std", "count"])
    stats = pd.concat(frames).groupby("epoch")[column].agg(["mean", "std", "count"])
    stats["std"] = stats["std"].fillna(0.0)
    return stats


def plot_training_curves(inp: Inputs):
    models = facts.models(inp)
    fig = _new_figure(3.6 * len(models) + 0.6, 5.0)
    axes = fig.subplots(2, len(models), squeeze=False, sharex="col")
    for j, setting in enumerate(models):
        for i, (kind, ylabel) in enumerate((("loss", "cross-entropy loss"), ("acc", "accuracy"))):
            ax = axes[i][j]
            for split, style in (("train", "-"), ("val", "--")):
                st = _epoch_stats(inp, setting, f"{split}_{kind}")
                if st.empty:
                    continue
                color = SPLIT_COLORS[split]
                ax.plot(st.index, st["mean"], style, color=color, lw=1.6, label=SPLIT_NAMES[split])
                ax.fill_between(st.index, st["mean"] - st["std"], st["mean"] + st["std"], color=color,
                                alpha=0.18, lw=0)
            for epoch in facts.best_epochs(inp, setting)["epoch"]:
                ax.axvline(epoch, color="#57606a", lw=0.8, ls=":")
            if i == 0:
                ax.set_title(setting, fontsize=10)
            else:
                ax.set_xlabel("epoch")
            if j == 0:
                ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _bar_values(ax, xs, values, fmt=two):
    for x, v in zip(xs, values):
        if finite(v):
            ax.text(x, v + 0.015, fmt(v), ha="center", va="bottom", fontsize=7)


def plot_generalization(inp: Inputs):
    models = facts.models(inp)
    splits = ["train", *EVAL_SPLITS]
    fig = _new_figure(8.0, 3.9)
    ax = fig.add_subplot()
    width = 0.8 / max(len(models), 1)
    for j, setting in enumerate(models):
        xs = np.arange(len(splits)) - 0.4 + width * (j + 0.5)
        stats = [facts.metric(inp, "all", setting, s) for s in splits]
        means = [s[0] for s in stats]
        ax.bar(xs, means, width * 0.92, yerr=[s[1] for s in stats], capsize=3, color=PALETTE[j % len(PALETTE)],
               label=setting)
        _bar_values(ax, xs, means)
    for k, split in enumerate(splits):
        ax.hlines(facts.baseline(inp, split), k - 0.45, k + 0.45, colors="black", linestyles="--", lw=1.1,
                  label="majority baseline" if k == 0 else None)
    ax.set_xticks(range(len(splits)), [SPLIT_NAMES[s] for s in splits])
    ax.set_ylabel("accuracy (mean ± sd over seeds)")
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=8, frameon=False, ncol=len(models) + 1, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_attribution(inp: Inputs, method: str):
    models = facts.models(inp)
    features = facts.feature_order(inp, method)
    means = facts.saliency_means(inp, "all", method)
    fig = _new_figure(8.0, 0.42 * len(features) * max(len(models), 1) / 2 + 1.9)
    axes = fig.subplots(1, 2, sharey=True, sharex=True)
    height = 0.8 / max(len(models), 1)
    ys = np.arange(len(features))[::-1]
    for ax, split in zip(axes, ("val", "audit")):
        for j, setting in enumerate(models):
            sub = means[(means["setting"] == setting) & (means["split"] == split)].set_index("feature")
            vals = [float(sub.loc[f, "mean"]) if f in sub.index else np.nan for f in features]
            errs = [float(sub.loc[f, "std"]) if f in sub.index else 0.0 for f in features]
            ax.barh(ys + 0.4 - height * (j + 0.5), vals, height * 0.92, xerr=errs, capsize=2,
                    color=PALETTE[j % len(PALETTE)], label=setting)
        if features:
            ax.axvline(1.0 / len(features), color="black", ls="--", lw=0.9, label="even share")
        ax.set_title(SPLIT_NAMES[split], fontsize=10)
        ax.set_xlabel(f"share of |attribution| ({method_name(method)})")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ys, features)
    axes[1].legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def plot_remedy(inp: Inputs):
    models = facts.models(inp)
    sets = ["all"] + facts.remedies_run(inp)
    fig = _new_figure(8.0, 3.7)
    axes = fig.subplots(1, len(EVAL_SPLITS), sharey=True)
    width = 0.8 / len(sets)
    for ax, split in zip(axes, EVAL_SPLITS):
        for k, fs in enumerate(sets):
            xs = np.arange(len(models)) - 0.4 + width * (k + 0.5)
            stats = [facts.metric(inp, fs, setting, split) for setting in models]
            means = [s[0] for s in stats]
            ax.bar(xs, means, width * 0.92, yerr=[s[1] for s in stats], capsize=3,
                   color=SET_COLORS[k % len(SET_COLORS)], label=facts.fs_label(inp, fs, code=False))
            _bar_values(ax, xs, means)
        ax.axhline(facts.baseline(inp, split), color="black", ls="--", lw=1.1, label="majority baseline")
        ax.set_xticks(range(len(models)), models)
        ax.set_title(SPLIT_NAMES[split], fontsize=10)
        ax.set_ylim(0, 1.12)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("accuracy (mean ± sd over seeds)")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, frameon=False, loc="lower center", ncol=min(len(labels), 4))
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def plot_conditional_shift(inp: Inputs):
    c = facts.conditional_rows(inp)
    c = c[pd.to_numeric(c["harm"], errors="coerce").notna()]
    n = len(c)
    fig = _new_figure(7.5, 0.42 * n + 1.5)
    ax = fig.add_subplot()
    ys = np.arange(n)[::-1]
    for y, r in zip(ys, c.to_dict("records")):
        broke = bool(r.get("broke"))
        color = BROKE_COLOR if broke else HOLDS_COLOR
        h, lo, hi = float(r["harm"]), float(r["harm_ci_low"]), float(r["harm_ci_high"])
        err = [[h - lo], [hi - h]] if finite(lo) and finite(hi) else None
        ax.errorbar([h], [y], xerr=err, fmt="o", color=color, ms=6 if broke else 5, capsize=3, lw=1.6)
    ax.axvline(0.0, color="black", lw=0.9)
    m = facts.min_harm(inp)
    if finite(m):
        ax.axvline(m, color="#57606a", lw=1.1, ls="--")
    lin = facts.harm_scale(inp)
    if lin:
        ax.set_xscale("symlog", linthresh=lin, linscale=1.0)
        ends = pd.to_numeric(pd.concat([c["harm_ci_low"], c["harm_ci_high"], c["harm"]]), errors="coerce")
        ends = ends[np.isfinite(ends)]
        lo, hi = min(float(ends.min()), -lin), max(float(ends.max()), m if finite(m) else lin)
        ax.set_xlim(lo * 1.8 if lo < -lin else lo - lin, hi * 1.8 if hi > lin else hi + lin)
    ax.set_yticks(ys, [str(u) for u in c["unit"]])
    for label, broke in zip(ax.get_yticklabels(), c["broke"].astype(bool)):
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
    if finite(m):
        handles.append(Line2D([], [], color="#57606a", ls="--", label=f"minimum harm {sig(m)}"))
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def _model_label(setting, seed) -> str:
    return f"{setting} seed {int(seed)}" if finite(seed) else str(setting)


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
    ax.set_xticks(xs, [_model_label(a, s).replace(" seed", "\nseed") for a, s in zip(d["setting"], d.get("seed", [np.nan] * n))],
                  fontsize=8)
    ax.set_ylabel("accuracy change, test (audit) − validation")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=5)
    fig.tight_layout()
    return fig


def draw(figure: Figure):
    """The matplotlib figure of a figure the report draws: its plot, or a placeholder saying why
    it is not available."""
    if figure.draw and not figure.missing:
        return figure.draw()
    return placeholder_figure(f"Not available: {figure.missing or 'no data'}")
