"""The report's inputs: what the files the report rule names hold, gathered into one :class:`Inputs`.

The rule script reads the files; nothing here opens one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Mapping

import numpy as np
import pandas as pd


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
    eda_figures: dict  # figure name -> PNG bytes (drawn by the eda rule)
    histories: dict  # (setting, seed) -> per-epoch history frame
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
    gradient_flow_png: bytes | None = None
    shared_bias_history: pd.DataFrame | None = None
    shared_bias_summary: pd.DataFrame | None = None
    shared_bias_png: bytes | None = None
    gradcheck: pd.DataFrame | None = None
    benchmarks: pd.DataFrame | None = None  # rule, job, s, max_rss
    saliency_meta: list = field(default_factory=list)  # meta.json of every grid model (all features, val and audit)
    label_free: dict | None = None  # label_free/summary.json: the audit of the same test rows without their labels


def _listed(value) -> list:
    """The contents of an input that names a list of files (one file counts as a list of one)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _frames(tables: Mapping[str, object], key: str) -> pd.DataFrame:
    """The tables of ``key`` and of ``remedy_<key>`` stacked (the remedy's feature sets after all features)."""
    frames = _listed(tables.get(key)) + _listed(tables.get(f"remedy_{key}"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def benchmark_table(timings: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per benchmark table: the rule, the job, s and max RSS.

    ``timings`` maps each benchmark file's path below the benchmarks folder to its table. Snakemake
    writes ``<rule>/<wildcards...>.tsv`` or ``<rule>.tsv``, so the first folder names the rule and
    the rest the job; a file with repeats has several rows (mean seconds, largest RSS are kept).
    """
    rows = []
    for name, table in timings.items():
        parts = PurePath(name).with_suffix("").parts
        seconds = pd.to_numeric(table["s"], errors="coerce")
        rss = pd.to_numeric(table.get("max_rss", pd.Series(dtype=float)), errors="coerce")
        rows.append({
            "rule": parts[0], "job": "/".join(parts[1:]),
            "s": float(seconds.mean()) if seconds.notna().any() else np.nan,
            "max_rss": float(rss.max()) if rss.notna().any() else np.nan,
        })
    return pd.DataFrame(rows, columns=["rule", "job", "s", "max_rss"])


def make_inputs(tables: Mapping[str, object], settings: Mapping,
                benchmarks: pd.DataFrame | None = None) -> Inputs:
    """The report's inputs from what the report rule's input files hold.

    ``tables`` maps the rule's input names to the files' contents (a dict from JSON, a frame from
    CSV or parquet, the bytes of a PNG; a list of them for a list of files). The side studies may
    be absent (the report then says they were not run); ``remedy_metrics``, ``remedy_per_seed`` and
    ``remedy_saliency`` add to ``metrics`` ... ``saliency``. ``settings["histories"]`` lists the
    ``[setting, seed]`` of each history, in order. ``benchmarks``: see :func:`benchmark_table`.
    """
    settings = dict(settings)
    histories = {(str(setting), int(seed)): frame
                 for (setting, seed), frame in zip(settings["histories"], _listed(tables["histories"]))}
    eda_pngs = {"eda_class_distribution": "eda_classes_png", "eda_boxplots": "eda_boxplots_png",
                "eda_target_association": "eda_association_png"}
    return Inputs(
        settings=settings,
        cells={"train": tables["clean_train_cells"], "test": tables["clean_test_cells"]},
        encoder=tables["encoder"],
        test_cells=tables["test_cells"],
        test_split=tables.get("test_split") or {},
        class_distribution=tables["eda_classes"],
        association=tables["eda_association"],
        eda_summary=tables["eda_summary"],
        eda_figures={name: tables[key] for name, key in eda_pngs.items() if tables.get(key) is not None},
        histories=histories,
        metrics=_frames(tables, "metrics"),
        per_seed=_frames(tables, "per_seed"),
        saliency=_frames(tables, "saliency"),
        importance=_frames(tables, "importance"),
        shift=tables["shift"],
        class_mix=tables["class_mix"],
        covariate=tables["covariate"],
        conditional=tables["conditional"],
        conditional_steps=tables["conditional_steps"] if tables.get("conditional_steps") is not None
        else pd.DataFrame(),
        decomposition=tables["decomposition"],
        label_shift=tables["label_shift"],
        diagnosis=tables["diagnosis"],
        verdict=tables["verdict"],
        confirmation=tables["confirmation"],
        answer=tables["answer"],
        gradient_flow=tables.get("gradient_flow"),
        gradient_flow_png=tables.get("gradient_flow_png"),
        shared_bias_history=tables.get("shared_bias_history"),
        shared_bias_summary=tables.get("shared_bias_summary"),
        shared_bias_png=tables.get("shared_bias_png"),
        gradcheck=tables.get("gradcheck"),
        benchmarks=benchmarks,
        saliency_meta=_listed(tables.get("saliency_meta")),
        label_free=tables.get("label_free"),
    )
