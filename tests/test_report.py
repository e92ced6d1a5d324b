"""The generalization report: the answer first (verbatim from answer.json), the verdict table with its
rules, the shift evidence (class mix, covariate shift and support, conditional shift, accuracy-drop
decomposition, marginal and missingness tables), the remedy judged on the confirmation rows, numbers
in captions, self-contained HTML, byte-identical rebuilds, the no-suspect and no-studies cases, and
`snakemake --report` on a scratch copy of the workflow."""

from __future__ import annotations

import base64
import json
import re
import runpy
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, copy_workflow, run_snakemake, write_override
from shortcut import files, report
from shortcut.report import fmt

# The rule script: it reads the inputs and writes the outputs (the package takes and returns contents).
SCRIPT = runpy.run_path(str(ROOT / "workflow/scripts/report.py"))
read_inputs, write_report, SCHEMAS = SCRIPT["read_inputs"], SCRIPT["write_report"], SCRIPT["SCHEMAS"]

MODELS = ["relu", "sigmoid"]
SEEDS = [0, 1]
CLASSES = ["low", "mid", "high"]
FEATURES = ["alpha", "beta", "gamma"]
# Accuracy per (feature set, model, split), before the per-seed jitter of +-0.01. A remedy feature set
# not listed here gets the drop-alpha numbers.
ACCURACY = {
    ("all", "relu"): {"train": 0.86, "val": 0.84, "audit": 0.47, "confirm": 0.46},
    ("all", "sigmoid"): {"train": 0.83, "val": 0.82, "audit": 0.50, "confirm": 0.49},
    ("drop-alpha", "relu"): {"train": 0.63, "val": 0.62, "audit": 0.61, "confirm": 0.60},
    ("drop-alpha", "sigmoid"): {"train": 0.62, "val": 0.61, "audit": 0.60, "confirm": 0.59},
}
BASELINE = {"train": 0.625, "val": 0.625, "audit": 0.58, "confirm": 0.58}
SHARES = {"all": {"alpha": 0.70, "beta": 0.20, "gamma": 0.10}}
BENCH_SECONDS = {"train/all/relu/seed0": 2.0, "train/all/relu/seed1": 3.0, "evaluate/all/relu/seed0/val": 0.5,
                 "diagnose": 0.25}
RULES = {
    "relied": "relied on if the 95 % interval of the permutation importance is above 0 and its share >= 0.5 / F",
    "broke": "relation broke if Holm-adjusted p < 0.05 (H0: harm <= 0) and harm >= 0.02 nats per test row",
    "suspect": "shortcut suspect if relied on AND its relation to the label broke",
    "class_mix": "class mix changed if the chi-square p < 0.05 and the total variation distance >= 0.05",
    "covariate": "covariate shift if the lower bound of the 95 % interval of the AUC > 0.55",
    "support": "unsupported: a level unseen in training or a numeric value outside the training range",
    "holds": "relation holds if the one-sided 95 % upper bound of the harm < m = 0.02 nats",
}
CONFIRM_RULE = ("confirmed (helped) if the two-sided 95 % interval of the confirmation-accuracy gain lies above 0; "
                "did not help if its upper bound is below the minimum useful gain 0.01; inconclusive otherwise")
N_AUDIT, N_CONFIRM = 150, 150


def accuracy(fs: str, setting: str) -> dict:
    return ACCURACY.get((fs, setting), ACCURACY[("drop-alpha", setting)])


def _png(path: Path, color: str = "#0969da") -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.bar([0, 1, 2], [1, 3, 2], color=color)
    files.save_figure(fig, path)
    return str(path)


def _table(name: str, rows, path: Path) -> str:
    """Input ``name`` as its rule writes it: parquet in the types of its declared columns (those
    the rows leave out are missing: NaN or no text; every integer and flag column is given)."""
    schema = SCHEMAS[name]
    frame = pd.DataFrame(rows).reset_index(drop=True)
    for column, kind in schema.columns.items():
        if column not in frame:
            assert kind in ("float64", "string"), f"{name}: the fixture must give {column} ({kind})"
            frame[column] = np.nan if kind == "float64" else None
    frame = frame[[*schema, *(c for c in frame if c not in schema.columns)]]
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_table(frame, path, schema)
    return str(path)


def _json(obj, path: Path) -> str:
    files.write_json(path, obj)
    return str(path)


def per_seed_metrics(feature_sets) -> pd.DataFrame:
    rows = []
    for fs in feature_sets:
        for setting in MODELS:
            for seed in SEEDS:
                jitter = 0.01 if seed else -0.01
                for split, acc in accuracy(fs, setting).items():
                    rows.append({"fs": fs, "setting": setting, "seed": seed, "split": split, "accuracy": acc + jitter,
                                 "balanced_accuracy": acc - 0.1, "macro_f1": acc - 0.12, "log_loss": 1.0 - acc,
                                 "majority_baseline": BASELINE[split], "n": 100})
    return pd.DataFrame(rows)


def summary_metrics(per_seed: pd.DataFrame) -> pd.DataFrame:
    keys = ["accuracy", "balanced_accuracy", "macro_f1", "log_loss", "majority_baseline"]
    rows = []
    for (fs, setting, split), sub in per_seed.groupby(["fs", "setting", "split"], sort=True):
        row = {"fs": fs, "setting": setting, "split": split, "n_seeds": len(sub)}
        for k in keys:
            row[f"{k}_mean"], row[f"{k}_sd"] = sub[k].mean(), sub[k].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows)


def remedy_name(members) -> str:
    return "drop-" + "+".join(members)


def remedies_of(suspects) -> dict:
    """remedy feature set -> members, as the verdict names them (one per suspect, then all together)."""
    out = {remedy_name([s]): [s] for s in suspects}
    if len(suspects) >= 2:
        out[remedy_name(list(suspects))] = list(suspects)
    return out


def conditional_row(unit, step, base, harm, lo, hi, p_holm, mde, change, acc_with, acc_without, broke):
    return {"unit": unit, "kind": "feature", "members": unit, "step": step, "base": ";".join(base),
            "n_rows": N_AUDIT - 6, "n_rows_unit": N_AUDIT - 6, "harm": harm, "harm_ci_low": lo, "harm_ci_high": hi,
            "harm_se": 0.1,
            "p_value": p_holm, "p_holm": p_holm, "mde": mde, "change": change, "change_ci_low": change - 0.2,
            "change_ci_high": change + 0.2, "value_val": 0.3, "acc_with": acc_with, "acc_without": acc_without,
            "broke": broke, "min_harm": 0.02, "rule": RULES["broke"], "harm_upper": hi + 0.01,
            "margin": 0.02 if harm < 0.5 else 0.15, "outcome": "broke" if broke else ("holds" if hi + 0.01 < 0.02 else "undetermined"),
            "holds_rule": RULES["holds"]}


def answer_for(suspects, share_unsupported: float) -> dict:
    """answer.json as the confirm rule writes it (text is the pipeline's, not the report's)."""
    sentences = []
    if suspects:
        names = ", ".join(f"`{s}`" for s in suspects)
        sentences.append(f"Confirmed: without {names} the confirmation accuracy rises from 0.475 to 0.595, a change "
                         f"of +0.120 (95 % CI +0.080 to +0.160) on {N_CONFIRM} rows no decision saw.")
        sentences.append("The models rely on `alpha` (permutation importance 0.805 nats, 80 % of the total), and on "
                         "the test rows its train relation costs 0.800 nats per row (95 % CI 0.600 to 1.000, "
                         "Holm-adjusted p 0.0001): the evidence model's test accuracy rises from 0.450 to 0.600 "
                         "without it.")
        kind, headline = "shortcut", f"Shortcut: {names} (confirmed)."
    else:
        kind, headline = "no shortcut", "No shortcut; the model meets inputs unlike its training rows."
    sentences.append("The test inputs differ from the training rows beyond the class mix (domain AUC 0.710, 95 % CI "
                     "0.660 to 0.760); the features that separate the files: `alpha` (AUC 0.700).")
    if share_unsupported:
        sentences.append(f"{100 * share_unsupported:.1f} % of the test rows lie outside the training support; they "
                         "cannot be judged and are left out of the conditional comparison.")
    rem = list(remedies_of(suspects))
    return {"kind": kind, "changes": ["covariate shift"], "headline": headline, "sentences": sentences,
            "confirmed": list(suspects), "confirmed_remedies": rem, "rule": CONFIRM_RULE,
            "text": " ".join([headline, *sentences])}


def write_inputs(root: Path, suspects=("alpha",), studies: bool = True,
                 n_unsupported: int = 6) -> tuple[dict, dict]:
    """Small but complete report inputs in the pipeline's formats; returns (paths, settings)."""
    root.mkdir(parents=True, exist_ok=True)
    suspects = list(suspects)
    remedies = remedies_of(suspects)
    feature_sets = ["all", *remedies]
    p: dict = {}
    p["clean_train_cells"] = _json({
        "file": "raw/train.csv", "rows": 1000, "missing_cells": 30, "coerced_cells": 2,
        "columns": {"alpha": {"missing": 10, "coerced_to_missing": 2}, "beta": {"missing": 20, "coerced_to_missing": 0},
                    "gamma": {"missing": 0, "coerced_to_missing": 0, "levels": {"x": 600, "y": 400}}},
        "label_counts": {"0": 250, "1": 625, "2": 125}}, root / "clean/train_cells.json")
    p["clean_test_cells"] = _json({
        "file": "raw/test.csv", "rows": 300, "missing_cells": 0, "coerced_cells": 0,
        "columns": {"alpha": {"missing": 0, "coerced_to_missing": 0}, "beta": {"missing": 0, "coerced_to_missing": 0},
                    "gamma": {"missing": 0, "coerced_to_missing": 0, "levels": {"x": 200, "y": 96, "z": 4}}},
        "label_counts": {"0": 75, "1": 174, "2": 51}}, root / "clean/test_cells.json")
    p["test_split"] = _json({"rows": 300, "audit": N_AUDIT, "confirm": N_CONFIRM, "confirm_fraction": 0.5,
                             "seed": 42, "source": "test file", "stratify": True}, root / "clean/test_split.json")
    p["encoder"] = _json({
        "categorical": {"gamma": {"fill": "x", "impute": "mode", "levels": ["x", "y"]}},
        "numeric": {"alpha": {"fill": 0.0, "impute": "constant", "log1p": False, "mean": 5.0, "std": 2.0},
                    "beta": {"fill": 2.5, "impute": "median", "log1p": True, "mean": 1.0, "std": 0.5}},
        "split": {"class_counts_train": [200, 500, 100], "class_counts_val": [50, 125, 25], "n_train": 800,
                  "n_val": 200, "seed": 42, "stratify": True, "val_fraction": 0.2},
        "val_report": {"imputed": {"alpha": 3, "beta": 4, "gamma": 0}, "unseen_levels": {}}, "n_fit_rows": 800,
    }, root / "features/all/encoder.json")
    p["test_cells"] = _json({
        "audit": {"imputed": {"alpha": 1, "beta": 0, "gamma": 0}, "rows": N_AUDIT, "unseen_level_rows": 3,
                  "unseen_levels": {"gamma": {"z": 3}}},
        "confirm": {"imputed": {"alpha": 0, "beta": 2, "gamma": 0}, "rows": N_CONFIRM, "unseen_level_rows": 1,
                    "unseen_levels": {"gamma": {"z": 1}}},
    }, root / "features/all/test_cells.json")
    dist = [{"part": part, "class": str(k), "name": name, "count": c, "share": c / total}
            for part, counts, total in (("train", [250, 625, 125], 1000), ("test", [75, 174, 51], 300))
            for k, (name, c) in enumerate(zip(CLASSES, counts))]
    p["eda_classes"] = _table("eda_classes", dist, root / "eda/class_distribution.parquet")
    p["eda_association"] = _table("eda_association", [
        {"part": "train", "feature": "alpha", "measure": "spearman_rho", "value": 0.81},
        {"part": "train", "feature": "beta", "measure": "spearman_rho", "value": 0.12},
        {"part": "train", "feature": "gamma", "measure": "cramers_v", "value": 0.30},
        {"part": "test", "feature": "alpha", "measure": "spearman_rho", "value": -0.02},
        {"part": "test", "feature": "beta", "measure": "spearman_rho", "value": 0.11},
        {"part": "test", "feature": "gamma", "measure": "cramers_v", "value": 0.33},
    ], root / "eda/target_association.parquet")
    p["eda_summary"] = _table("eda_summary", [
        {"part": part, "feature": f, "class": str(k), "count": 100, "missing": 0, "mean": 1.0, "q25": 0.5,
         "median": med, "q75": 2.0}
        for part, meds in (("train", [10.0, 50.0, 90.0]), ("test", [48.0, 50.0, 52.5]))
        for f in ("alpha", "beta") for k, med in enumerate(meds)
    ], root / "eda/summary.parquet")
    p["eda_classes_png"] = _png(root / "eda/class_distribution.png")
    p["eda_boxplots_png"] = _png(root / "eda/boxplots.png", "#d1242f")
    p["eda_association_png"] = _png(root / "eda/target_association.png", "#1a7f37")

    histories = []
    for setting in MODELS:
        for seed in SEEDS:
            n = 5 + seed
            e = np.arange(1, n + 1)
            h = pd.DataFrame({"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.8 + 0.01 * e,
                              "val_loss": 1.1 / e + 0.1 * (e == n), "val_acc": 0.78 + 0.01 * e,
                              "grad_W0": 0.01 / e, "grad_W1": 0.02 / e, "grad_b0": 0.001 / e})
            path = root / f"models/all/{setting}/seed{seed}/history.parquet"
            files.write_parquet(h, path)
            histories.append(str(path))
    p["histories"] = histories

    per_seed = per_seed_metrics(feature_sets)
    summary = summary_metrics(per_seed)
    for fs in feature_sets:  # as the rule names them: all features, then the remedy's
        key = "" if fs == "all" else "remedy_"
        p.setdefault(f"{key}per_seed", []).append(
            _table("per_seed", per_seed[per_seed["fs"] == fs], root / f"evaluation/{fs}/metrics_per_seed.parquet"))
        p.setdefault(f"{key}metrics", []).append(
            _table("metrics", summary[summary["fs"] == fs], root / f"evaluation/{fs}/metrics_summary.parquet"))
    sal = []
    for fs in feature_sets:
        shares = SHARES.get(fs) or {f: 1.0 / len([g for g in FEATURES if g not in remedies[fs]])
                                    for f in FEATURES if f not in remedies[fs]}
        order = sorted(shares, key=shares.get, reverse=True)
        for setting in MODELS:
            for seed in SEEDS:
                for split in ("val", "audit", "confirm"):
                    for method in ("loss_gradient", "input_x_gradient", "integrated_gradients"):
                        for f, share in shares.items():
                            sal.append({"method": method, "feature": f, "n_columns": 1, "mean_abs": share * 2,
                                        "abs_mean": share, "share": share, "rank": order.index(f) + 1, "n": 100,
                                        "fs": fs, "setting": setting, "seed": seed, "split": split})
    sal = pd.DataFrame(sal)
    for fs in feature_sets:
        p.setdefault("saliency" if fs == "all" else "remedy_saliency", []).append(
            _table("saliency", sal[sal["fs"] == fs], root / f"evaluation/{fs}/saliency_by_feature.parquet"))
    imp = [{"unit": u, "kind": "feature", "members": u, "repeat": r,
            "importance": base[setting][split] + 0.01 * seed, "base_log_loss": 0.4, "n_rows": 100, "fs": "all",
            "setting": setting,
            "seed": seed, "split": split}
           for u, base in (("alpha", {"relu": {"val": 0.9, "audit": -0.1, "confirm": -0.1},
                                      "sigmoid": {"val": 0.7, "audit": -0.2, "confirm": -0.2}}),
                           ("beta", {a: {"val": 0.05, "audit": 0.06, "confirm": 0.06} for a in MODELS}),
                           ("gamma", {a: {"val": 0.02, "audit": 0.02, "confirm": 0.02} for a in MODELS}))
           for setting in MODELS for seed in SEEDS for split in ("val", "audit", "confirm") for r in (0, 1)]
    p["importance"] = [_table("importance", imp, root / "evaluation/all/importance.parquet")]

    missing_rule = "missingness changed if |test - train share missing| >= 0.01 and the two-proportion test's p < 0.05"
    common = {"psi_rule": "shifted if PSI (observed values) >= 0.25", "missing_rule": missing_rule}
    numeric = {**common, "ks_rule": "shifted if KS >= 0.1", "tv_rule": "n/a (numeric)",
               "shifted_rule": "distribution shifted if PSI >= 0.25 or KS >= 0.1"}
    categorical = {**common, "ks_rule": "n/a (categorical)",
                   "tv_rule": "shifted if the total variation distance of the levels >= 0.1",
                   "shifted_rule": "distribution shifted if PSI >= 0.25 or TV >= 0.1"}
    p["shift"] = _table("shift", [
        {"feature": "alpha", "kind": "numeric", "n_codes": 10, "psi": 0.45, "ks": 0.31, "ks_pvalue": 1e-6,
         "tv": np.nan, "missing_train": 0.01, "missing_test": 0.0, "missing_change": -0.01, "missing_pvalue": 0.03,
         "missing_changed": True, "shifted": True, "flags": "psi;ks;missingness", **numeric},
        {"feature": "beta", "kind": "numeric", "n_codes": 10, "psi": 0.02, "ks": 0.01, "ks_pvalue": 0.9,
         "tv": np.nan, "missing_train": 0.02, "missing_test": 0.015, "missing_change": -0.005, "missing_pvalue": 0.2,
         "missing_changed": False, "shifted": False, "flags": np.nan, **numeric},
        {"feature": "gamma", "kind": "categorical", "n_codes": 2, "psi": 0.01, "ks": np.nan, "ks_pvalue": np.nan,
         "tv": 0.02, "missing_train": 0.0, "missing_test": 0.0, "missing_change": 0.0, "missing_pvalue": 1.0,
         "missing_changed": False, "shifted": False, "flags": np.nan, **categorical},
    ], root / "shift/shift.parquet")
    class_mix = {"share_train": [0.25, 0.625, 0.125], "share_train_ci_low": [0.23, 0.6, 0.11],
                 "share_train_ci_high": [0.27, 0.65, 0.14], "share_test": [0.25, 0.58, 0.17],
                 "share_test_ci_low": [0.19, 0.5, 0.12], "share_test_ci_high": [0.32, 0.66, 0.24],
                 "n_train": 1000, "n_test": N_AUDIT, "tv": 0.045, "chi2": 8.8, "chi2_pvalue": 0.012,
                 "classes_missing_in_test": [], "rule": RULES["class_mix"], "changed": False}
    p["class_mix"] = _json(class_mix, root / "shift/class_mix.json")
    covariate = {"auc": 0.71, "auc_se": 0.025, "auc_ci_low": 0.66, "auc_ci_high": 0.76, "inputs_auc": 0.72,
                 "inputs_auc_ci_low": 0.67, "inputs_auc_ci_high": 0.77, "inputs_auc_se": 0.025,
                 "feature_auc": {"alpha": 0.70, "beta": 0.52, "gamma": 0.49}, "shifted": True,
                 "rule": RULES["covariate"], "n_source": 1000, "n_test": N_AUDIT, "n_unsupported": n_unsupported,
                 "share_unsupported": n_unsupported / N_AUDIT,
                 "unsupported_by_reason": {"unseen_level": 3, "out_of_range": n_unsupported - 3,
                                           "low_train_density": 0},
                 "support_rule": RULES["support"]}
    p["covariate"] = _json(covariate, root / "shift/covariate.json")
    final = [conditional_row("alpha", 3, FEATURES, 0.80, 0.60, 1.00, 1e-4, 0.12, 0.75, 0.45, 0.60, True),
             conditional_row("beta", 2, ["beta", "gamma"], -0.01, -0.03, 0.01, 1.0, 0.02, 0.0, 0.60, 0.58, False),
             conditional_row("gamma", 2, ["beta", "gamma"], 0.005, -0.01, 0.02, 0.9, 0.02, 0.01, 0.60, 0.59, False)]
    steps = [conditional_row("alpha", 1, FEATURES, 0.80, 0.60, 1.00, 1e-4, 0.12, 0.75, 0.45, 0.60, True),
             conditional_row("beta", 1, FEATURES, 0.05, 0.03, 0.07, 1e-3, 0.02, 0.04, 0.45, 0.44, True),
             conditional_row("gamma", 1, FEATURES, 0.0, -0.01, 0.01, 1.0, 0.02, 0.0, 0.45, 0.45, False),
             final[1], final[2], final[0]]
    p["conditional"] = _table("conditional", final, root / "shift/conditional.parquet")
    p["conditional_steps"] = _table("conditional_steps", steps, root / "shift/conditional_steps.parquet")
    decomposition = []
    for setting in MODELS:
        for seed in SEEDS:
            parts = {"class_mix": 0.01, "covariate": -0.02, "conditional": -0.33, "unsupported": -0.02}
            row = {"setting": setting, "seed": seed, "acc_val": 0.83, "acc_val_class_mix": 0.84, "acc_val_reweighted": 0.82,
                   "acc_test_supported": 0.49, "acc_test": 0.47, "total": -0.36, "total_ci_low": -0.40,
                   "total_ci_high": -0.32, "ess_val": 150.4, "n_val": 200, "n_test": N_AUDIT,
                   "share_unsupported": n_unsupported / N_AUDIT}
            for k, v in parts.items():
                row.update({k: v, f"{k}_ci_low": v - 0.01, f"{k}_ci_high": v + 0.01})
            decomposition.append(row)
    p["decomposition"] = _table("decomposition", decomposition, root / "shift/decomposition.parquet")
    label_shift = []
    for setting in MODELS:
        for seed in SEEDS:
            acc = accuracy("all", setting)["audit"] + (0.01 if seed else -0.01)
            row = {"setting": setting, "seed": seed, "acc_test": acc, "acc_test_prior_corrected": acc + 0.01}
            for k, (tr, te, bb) in enumerate(zip([0.25, 0.625, 0.125], [0.25, 0.58, 0.17], [0.26, 0.57, 0.17])):
                row.update({f"train_share_{k}": tr, f"test_share_{k}": te, f"bbse_share_{k}": bb,
                            f"bbse_ci_low_{k}": bb - 0.05, f"bbse_ci_high_{k}": bb + 0.05,
                            f"weights_{k}": bb / tr})
            label_shift.append(row)
    p["label_shift"] = _table("label_shift", label_shift, root / "shift/label_shift.parquet")

    verdict = [
        {"unit": "alpha", "kind": "feature", "members": "alpha", "importance": 0.805, "importance_ci_low": 0.6,
         "importance_ci_high": 1.0, "share": 0.8, "n_relied": 4, "n_models": 4, "relied": True, "harm": 0.80,
         "harm_ci_low": 0.60,
         "harm_ci_high": 1.00, "p_holm": 1e-4, "mde": 0.12, "change": 0.75, "change_ci_low": 0.55,
         "change_ci_high": 0.95, "value_val": 0.3, "broke": True, "outcome": "broke", "harm_upper": 0.98, "suspect": bool(suspects),
         "reading": "shortcut suspect: relied on, and its relation to the label broke on test"},
        {"unit": "beta", "kind": "feature", "members": "beta", "importance": 0.05, "importance_ci_low": 0.04,
         "importance_ci_high": 0.06, "share": 0.05, "n_relied": 0, "n_models": 4, "relied": False, "harm": -0.01,
         "harm_ci_low": -0.03,
         "harm_ci_high": 0.01, "p_holm": 1.0, "mde": 0.02, "change": 0.0, "change_ci_low": -0.01,
         "change_ci_high": 0.01, "value_val": 0.01, "broke": False, "outcome": "holds", "harm_upper": 0.008,
         "suspect": False,
         "reading": "not relied on, relation holds"},
        {"unit": "gamma", "kind": "feature", "members": "gamma", "importance": 0.02, "importance_ci_low": 0.01,
         "importance_ci_high": 0.03, "share": 0.02, "n_relied": 1, "n_models": 4, "relied": False, "harm": 0.005,
         "harm_ci_low": -0.01,
         "harm_ci_high": 0.02, "p_holm": 0.9, "mde": 0.02, "change": 0.01, "change_ci_low": -0.01,
         "change_ci_high": 0.03, "value_val": 0.01, "broke": False, "outcome": "undetermined", "harm_upper": 0.021,
         "suspect": False,
         "reading": "not relied on, relation holds"},
    ]
    p["verdict"] = _table("verdict", verdict, root / "diagnosis/verdict.parquet")
    answer = answer_for(suspects, n_unsupported / N_AUDIT)
    p["diagnosis"] = _json({
        "suspects": suspects, "suspect_units": [{"unit": s, "members": [s], "kind": "feature"} for s in suspects],
        "remedies": list(remedies), "remedy_members": remedies,
        "answer": {k: answer[k] for k in ("kind", "changes", "headline")} | {"sentences": answer["sentences"][1:]},
        "evidence": {r["unit"]: r for r in verdict}, "units": FEATURES, "features": FEATURES,
        "n_test_rows": N_AUDIT - n_unsupported, "class_mix": class_mix, "covariate": covariate,
        "marginal_shifted": ["alpha"], "thresholds": {"min_test_rows": 30}, "rules": RULES,
        "summary": answer["text"], "models": MODELS}, root / "diagnosis/shortcut.json")
    conf = []
    for fs in remedies:
        for setting, acc_all, acc_rem in (("relu", 0.46, 0.60), ("sigmoid", 0.49, 0.59), ("all settings", 0.475, 0.595)):
            n_models = len(SEEDS) * (len(MODELS) if setting == "all settings" else 1)
            conf.append({"feature_set": fs, "setting": setting, "n_rows": N_CONFIRM, "n_models": n_models,
                         "acc_all": acc_all, "acc_remedy": acc_rem, "diff": acc_rem - acc_all,
                         "ci_low": acc_rem - acc_all - 0.04, "ci_high": acc_rem - acc_all + 0.04,
                         "ci_level": 1 - 0.05 / len(remedies), "n_remedies": len(remedies), "min_gain": 0.01,
                         "outcome": "helped", "confirmed": True, "rule": CONFIRM_RULE})
    cols = ["feature_set", "setting", "n_rows", "n_models", "acc_all", "acc_remedy", "diff", "ci_low", "ci_high",
            "ci_level", "n_remedies", "min_gain", "outcome", "confirmed", "rule"]
    p["confirmation"] = _table("confirmation", pd.DataFrame(conf, columns=cols),
                               root / "diagnosis/confirmation.parquet")
    p["answer"] = _json(answer, root / "diagnosis/answer.json")

    if studies:
        flow = [{"model": m, "activation": a, "epoch": e, "layer": layer, "param": "W",
                 "mean_abs_grad": g * (1e-3 if a == "sigmoid" and layer == 0 else 1.0) / e}
                for m, a in (("assignment-sigmoid", "sigmoid"), ("relu", "relu"))
                for layer, g in ((0, 0.02), (1, 0.04)) for e in (1, 2, 3)]
        p["gradient_flow"] = _table("gradient_flow", flow, root / "studies/gradient_flow.parquet")
        p["gradient_flow_png"] = _png(root / "studies/gradient_flow.png", "#8250df")
        p["shared_bias_history"] = _table("shared_bias_history", [
            {"variant": v, "seed": s, "epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "val_acc": 0.6}
            for v in ("shared", "independent") for s in SEEDS for e in (1, 2, 3, 4)],
            root / "studies/shared_bias_history.parquet")
        p["shared_bias_summary"] = _table("shared_bias_summary", [
            {"variant": "shared", "seed": 0, "final_train_loss": 0.30, "final_val_loss": 0.35, "final_val_acc": 0.71,
             "target_loss": 0.4, "epochs_to_target": 3},
            {"variant": "shared", "seed": 1, "final_train_loss": 0.32, "final_val_loss": 0.37, "final_val_acc": 0.73,
             "target_loss": 0.4, "epochs_to_target": np.nan},
            {"variant": "independent", "seed": 0, "final_train_loss": 0.28, "final_val_loss": 0.33,
             "final_val_acc": 0.75, "target_loss": 0.4, "epochs_to_target": 2},
            {"variant": "independent", "seed": 1, "final_train_loss": 0.29, "final_val_loss": 0.34,
             "final_val_acc": 0.77, "target_loss": 0.4, "epochs_to_target": 4},
        ], root / "studies/shared_bias_summary.parquet")
        p["shared_bias_png"] = _png(root / "studies/shared_bias.png", "#bf8700")
        p["gradcheck"] = _table("gradcheck", [
            {"model": "MLP", "activation": a, "parameter": par, "max_rel_error": err, "n_checked": 10,
             "data": d, "tolerance": 1e-6, "passed": err <= 1e-6}
            for a in ("relu", "sigmoid") for par, err in (("W0", 2e-9), ("b0", 3e-8)) for d in ("random", "real")
        ], root / "checks/gradcheck.parquet")

    bench = root / "benchmarks"
    p["benchmarks"] = []
    for job, seconds in BENCH_SECONDS.items():
        path = bench / f"{job}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("s\th:m:s\tmax_rss\tmax_vms\n" f"{seconds}\t0:00:0{int(seconds)}\t{100 * seconds:.1f}\t500\n")
        p["benchmarks"].append(str(path))
    p["remedy_benchmarks"] = p["benchmarks"][-2:]  # a job behind both input parts is counted once
    settings = {"dataset": "fixture", "target": "label", "classes": [0, 1, 2], "class_names": CLASSES,
                "models": MODELS, "seeds": SEEDS, "method": "integrated_gradients",
                "histories": [[a, s] for a in MODELS for s in SEEDS], "benchmark_root": str(bench)}
    return p, settings


def outputs(out: Path) -> dict:
    """The report rule's outputs under ``out``."""
    return {"html": out / "report.html", "md": out / "report.md", "captions": out / "figures" / "captions.json",
            **{name: out / "figures" / f"{name}.png" for name in report.FIGURES}}


def build(root: Path, out: Path, **kwargs) -> tuple[report.Document, Path]:
    """Write the inputs, then do what the rule script does."""
    paths, settings = write_inputs(root, **kwargs)
    doc = report.build_report(read_inputs(paths, settings))
    write_report(doc, outputs(out))
    return doc, out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    return build(tmp / "inputs", tmp / "out")


def captions(doc: report.Document) -> dict[str, str]:
    return {f.name: f.caption for f in doc.figures()}


def section(doc: report.Document, section_id: str) -> report.Section:
    return next(s for s in doc.sections if s.id == section_id)


def section_text(doc: report.Document, section_id: str) -> str:
    parts = []
    for b in section(doc, section_id).blocks:
        if isinstance(b, (report.Para, report.Heading)):
            parts.append(b.text)
        elif isinstance(b, report.Bullets):
            parts += b.items
        elif isinstance(b, report.Table):
            parts += [" | ".join(r) for r in b.rows]
        elif isinstance(b, report.Figure):
            parts.append(b.caption)
    return "\n".join(parts)


def table_after(doc: report.Document, section_id: str, heading: str, k: int = 0) -> report.Table:
    """The k-th table after a sub-heading of a section."""
    blocks = section(doc, section_id).blocks
    start = next(i for i, b in enumerate(blocks) if isinstance(b, report.Heading) and b.text == heading)
    return [b for b in blocks[start + 1:] if isinstance(b, report.Table)][k]


def mean_acc(fs, setting, split):
    return np.mean([accuracy(fs, setting)[split] + (0.01 if s else -0.01) for s in SEEDS])


# ---------------------------------------------------------------------------------------------


def test_sections_in_order_with_the_answer_first(built):
    doc, _ = built
    assert [s.id for s in doc.sections] == ["verdict", "data", "training", "generalization", "attribution", "shift",
                                            "label_free", "remedy", "studies", "cost"]
    first = section(doc, "verdict").blocks[0]
    assert isinstance(first, report.Para) and first.kind == "answer alert"


def test_headline_and_sentences_are_answer_json_verbatim(built, tmp_path):
    doc, out = built
    answer = json.loads((out.parent / "inputs/diagnosis/answer.json").read_text())
    blocks = section(doc, "verdict").blocks
    assert blocks[0].text == f"**{answer['headline']}**"
    assert isinstance(blocks[1], report.Bullets) and blocks[1].items == answer["sentences"]
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert '<p class="answer alert"><strong>Shortcut: <code>alpha</code> (confirmed).</strong></p>' in html
    assert html.index("Shortcut: <code>alpha</code> (confirmed).") < html.index("<h2>2. Data</h2>")
    assert f"> **{answer['headline']}**" in md
    for sentence in answer["sentences"]:
        assert f"- {sentence}" in md


def test_verdict_table_shows_every_rule_outcome_and_the_rule_texts(built):
    doc, _ = built
    text = section_text(doc, "verdict")
    assert ("`alpha` | 0.805 [0.600, 1.000] | 80.0% | yes (4 of 4) | 0.800 [0.600, 1.000] | 0.980 | 1.0e-04 | broke | yes"
            in text)
    assert "`beta` | 0.050 [0.040, 0.060] | 5.0% | no (0 of 4) | -0.010 [-0.030, 0.010] | 0.008 | 1.000 | holds | no" in text
    assert "`gamma` | 0.020 [0.010, 0.030] | 2.0% | no (1 of 4) | 0.005 [-0.010, 0.020] | 0.021 | 0.900 | undetermined | no" in text
    assert "`alpha`: shortcut suspect: relied on, and its relation to the label broke on test." in text
    rules = table_after(doc, "verdict", "Rules and outcomes")
    by_rule = {r[0]: r for r in rules.rows}
    for key, rule in RULES.items():
        assert rule in {r[1] for r in rules.rows}, key
    assert by_rule["relied on"][2] == "`alpha` (1 of 3 units)"
    assert by_rule["relation broke"][2] == "`alpha` (1 of 3 units)"
    assert by_rule["relation holds"][2] == "holds: `beta`; undetermined: `gamma` (of 3 units)"
    assert by_rule["class mix changed"][2] == "not changed (total variation 0.045, chi-square p 0.012)"
    assert by_rule["covariate shift"][2] == "**covariate shift** (AUC 0.710, 95 % CI 0.660 to 0.760)"
    assert by_rule["training support"][2] == "6 of 150 test (audit) rows unsupported (4.0%)"
    assert by_rule["remedy confirmed"][1:] == [CONFIRM_RULE, "without `alpha`: **confirmed**"]
    assert "`min_test_rows` 30" in text
    # the per-model accuracies: validation, both test parts, and the remedy on the confirmation rows
    assert ("`relu` on all features: validation accuracy 0.84, test (audit) 0.47, test (confirmation) 0.46; "
            "majority baseline 0.58; retrained without `alpha`: test (confirmation) 0.60.") in text


def test_generalization_caption_and_baseline_statement_carry_the_computed_numbers(built):
    doc, _ = built
    cap = captions(doc)["generalization"]
    val, audit, confirm = (mean_acc("all", "relu", s) for s in ("val", "audit", "confirm"))
    assert (f"`relu` reaches {val:.2f} validation accuracy but {audit:.2f} on the test (audit) rows and "
            f"{confirm:.2f} on the test (confirmation) rows, below the 0.58 majority baseline") in cap
    text = section_text(doc, "generalization")
    assert "**Test (audit) accuracy is below the majority baseline** for `relu` (0.470) and `sigmoid` (0.500)" in text
    # gap = val - audit per seed, mean +- sd over seeds (the jitter cancels: sd 0)
    assert "0.370 ± 0.000" in text
    header = section(doc, "generalization").blocks[0].header
    assert {"validation accuracy", "test (audit) accuracy", "test (confirmation) accuracy"} <= set(header)


def test_attribution_remedy_and_training_captions(built):
    doc, _ = built
    cap = captions(doc)
    assert "0.70 of the validation attribution on `alpha` (relu 0.70, sigmoid 0.70)" in cap["attribution"]
    assert "the next feature, `beta`, gets 0.20" in cap["attribution"]
    remedy = cap["remedy"]
    assert (f"retrained without `alpha`, `relu`'s test (confirmation) accuracy rises from "
            f"{mean_acc('all', 'relu', 'confirm'):.2f} to {mean_acc('drop-alpha', 'relu', 'confirm'):.2f} "
            "(above the 0.58 majority baseline)") in remedy
    # histories: val loss lowest at the second-to-last epoch of each seed (the last one is bumped)
    assert "`relu` trains for 5–6 epochs and has its lowest validation loss at epoch 4–5" in cap["training_curves"]
    assert "5.0e-04 times the last layer's for `assignment-sigmoid` (2.0e-05 against 4.0e-02)" in cap["gradient_flow"]
    assert "0.5 times the last layer's for `relu` (2.0e-02 against 4.0e-02)" in cap["gradient_flow"]
    assert "Mid" not in cap["eda_class_distribution"]
    assert "the largest class, mid, holds 62.5% of train rows and 58.0% of test rows" in cap["eda_class_distribution"]
    assert "test (audit) rows: 0.045" in cap["eda_class_distribution"]
    assert "range from 10 to 90 on train but from 48 to 52.5 on test" in cap["eda_boxplots"]
    assert "`alpha` (Spearman's rho 0.81), which is -0.02 on test" in cap["eda_target_association"]
    assert "`independent` reaches the target training loss after 3.0 epochs (2 of 2 seeds)" in cap["shared_bias"]
    assert "`shared` reaches the target training loss after 3.0 epochs (1 of 2 seeds)" in cap["shared_bias"]


def test_permutation_importance_per_model_and_split(built):
    doc, _ = built
    table = table_after(doc, "attribution", "Permutation importance (the reliance evidence)")
    assert table.header == ["unit", "relu, validation", "relu, test (audit)", "sigmoid, validation",
                            "sigmoid, test (audit)"]
    # mean over the 2 repeats per model, then mean +- sd over seeds (0.9, 0.91)
    assert table.rows[0] == ["`alpha`", "0.905 ± 0.007", "-0.095 ± 0.007", "0.705 ± 0.007", "-0.195 ± 0.007"]


def test_data_section_lists_imputation_coercion_split_and_unseen_levels(built):
    doc, _ = built
    text = section_text(doc, "data")
    assert "`alpha` | numeric | 10 | 2 | 0 | 0 | constant | 0 | 3 | 1 | 0 | standardised" in text
    assert "`beta` | numeric | 20 | 0 | 0 | 0 | median | 2.5 | 4 | 0 | 2 | log1p, standardised" in text
    assert "`gamma` | categorical | 0 | 0 | 0 | 0 | mode | `x`" in text
    assert "**Unseen levels, test (audit):** 3 of 150 rows" in text and "`z` (3 rows)" in text
    assert "**Unseen levels, test (confirmation):** 1 of 150 rows" in text and "`z` (1 row)" in text
    assert "800 training and 200 validation rows" in text
    assert ("The 300 test rows (test file) are split once (stratified, seed 42) into an **audit part** of 150 "
            "rows") in text
    assert "**confirmation part** of 150 rows (fraction 0.5), which only judges the remedy" in text


def test_shift_class_mix_with_intervals_and_bbse(built):
    doc, _ = built
    text = section_text(doc, "shift")
    assert "low | 0.250 [0.230, 0.270] | 0.250 [0.190, 0.320] | +0.000 | 0.260 [0.210, 0.310]" in text
    assert "high | 0.125 [0.110, 0.140] | 0.170 [0.120, 0.240] | +0.045 | 0.170 [0.120, 0.220]" in text
    assert "Total variation distance (half the summed absolute share differences): 0.045" in text
    assert "chi-square test of equal mixes: p 0.012" in text
    assert f"Rule: {RULES['class_mix']}. Outcome: the class mix did not change." in text
    # BBSE: mean over the 4 grid models; audit accuracy 0.47 / 0.50 (+-0.01), corrected +0.01
    assert "raises mean test (audit) accuracy from 0.485 to 0.495: what correcting for the class mix alone gives back" in text
    assert "its estimate is up to 0.010 away from the labelled audit shares" in text


def test_shift_covariate_shift_and_support(built):
    doc, _ = built
    text = section_text(doc, "shift")
    assert "the AUC of its input part is 0.710 (95 % CI 0.660 to 0.760)" in text
    assert "From the inputs alone the AUC is 0.720 (95 % CI 0.670 to 0.770)" in text
    assert f"Rule: {RULES['covariate']}. Outcome: **covariate shift**." in text
    table = table_after(doc, "shift", "Inputs (covariate shift) and training support")
    assert [r[0] for r in table.rows] == ["`alpha`", "`beta`", "`gamma`"]  # largest AUC first
    assert table.rows[0] == ["`alpha`", "0.700", "+0.200"]
    assert "Training support: 6 of 150 test (audit) rows (4.0%) lie outside it" in text
    for part in ("a level unseen in training: 3", "a numeric value outside the training range: 3",
                 "too little training density: 0"):
        assert part in text
    assert RULES["support"] in text
    assert "Most test (audit) rows" not in text


def test_most_rows_unsupported_is_said_plainly(tmp_path):
    doc, _ = build(tmp_path / "in", tmp_path / "out", n_unsupported=120)
    text = section_text(doc, "shift")
    assert ("**Most test (audit) rows (80.0%) lie outside the training support. The models extrapolate there, so "
            "those rows cannot be judged:** the conditional comparison below uses only the 30 supported rows") in text


def test_shift_conditional_table_steps_and_figure(built):
    doc, out = built
    table = table_after(doc, "shift", "Relation to the label (conditional shift)")
    assert table.header[:6] == ["unit", "rows", "harm (nats/row) [95 % CI]", "upper", "margin", "Holm p"]
    assert table.rows[0] == ["`alpha`", "144", "0.800 [0.600, 1.000]", "1.010", "0.150", "1.0e-04",
                             "0.750 [0.550, 0.950]", "0.450 / 0.600", "broke"]
    assert [r[0] for r in table.rows] == ["`alpha`", "`gamma`", "`beta`"]  # largest harm first
    assert {(0, 0), (0, 2), (0, 8)} <= table.strong and (1, 8) not in table.strong
    assert RULES["holds"] in section_text(doc, "shift")
    steps = table_after(doc, "shift", "Relation to the label (conditional shift)", 1)
    assert steps.rows == [
        ["1", "all features", "`alpha`, `beta` and `gamma`", "`alpha` (0.800) and `beta` (0.050)"],
        ["2", "all but `alpha`", "`beta` and `gamma`", "none"],
        ["3", "all features", "`alpha`", "`alpha` (0.800)"],
    ]
    cap = captions(doc)["conditional_shift"]
    assert "on the 144 supported test (audit) rows" in cap
    assert "dashed line: the 0.02 nats minimum harm of the rule; symmetric log scale, linear within ±0.02" in cap
    assert "The relation broke for `alpha` (harm 0.800, 95 % CI 0.600 to 1.000)" in cap
    assert "among the other units the largest harm is 0.005 (`gamma`)" in cap
    fig = next(f for f in doc.figures() if f.name == "conditional_shift")
    assert fig.draw is not None and not fig.missing
    assert (out / "figures/conditional_shift.png").read_bytes()[:4] == b"\x89PNG"
    assert RULES["broke"] in section_text(doc, "shift")


def test_shift_decomposition_table_and_figure(built):
    doc, out = built
    table = table_after(doc, "shift", "Where the accuracy went (decomposition)")
    assert table.header == ["model", "seed", "validation acc.", "test (audit) acc.", "total [95 % CI]",
                            "class mix [95 % CI]", "inputs [95 % CI]", "relation Y | X [95 % CI]",
                            "outside support [95 % CI]", "ESS"]
    assert table.rows[0] == ["`relu`", "0", "0.830", "0.470", "-0.360 [-0.400, -0.320]", "+0.010 [+0.000, +0.020]",
                             "-0.020 [-0.030, -0.010]", "-0.330 [-0.340, -0.320]", "-0.020 [-0.030, -0.010]", "150"]
    assert table.total and table.rows[-1] == ["mean", "–", "0.830", "0.470", "-0.360", "+0.010", "-0.020", "-0.330",
                                              "-0.020", "–"]
    cap = captions(doc)["decomposition"]
    assert ("Mean over 4 models: total -0.360, the sum of class mix +0.010, inputs -0.020, relation Y | X -0.330 "
            "and outside support -0.020; the largest part is relation Y | X.") in cap
    fig = next(f for f in doc.figures() if f.name == "decomposition")
    assert fig.draw is not None and not fig.missing
    assert (out / "figures/decomposition.png").read_bytes()[:4] == b"\x89PNG"


def test_shift_marginal_and_missingness_tables(built):
    doc, _ = built
    marginal = table_after(doc, "shift", "Marginal distributions")
    assert marginal.header == ["feature", "kind", "PSI", "KS", "KS p", "TV", "shifted"]
    assert marginal.rows[0] == ["`alpha`", "numeric", "0.450", "0.310", "1.0e-06", "–", "yes"]
    assert marginal.rows[2] == ["`gamma`", "categorical", "0.010", "–", "–", "0.020", "no"]
    assert {(0, 2), (0, 3), (0, 6)} <= marginal.strong and (1, 2) not in marginal.strong
    rules = table_after(doc, "shift", "Marginal distributions", 1)
    assert ["KS", "shifted if KS >= 0.1"] in rules.rows
    assert ["TV", "shifted if the total variation distance of the levels >= 0.1"] in rules.rows
    assert not any("n/a" in r[1] for r in rules.rows)
    missing = table_after(doc, "shift", "Missing values, train against test")
    assert missing.header == ["feature", "missing (train file)", "missing (test, audit)", "change", "p", "changed"]
    assert missing.rows[0] == ["`alpha`", "1.0%", "0.0%", "-1.0 pp", "0.030", "yes"]
    assert missing.rows[1] == ["`beta`", "2.0%", "1.5%", "-0.5 pp", "0.200", "no"]
    text = section_text(doc, "shift")
    assert "Missingness changed for 1 of 3 features: `alpha`" in text
    assert "missingness changed if |test - train share missing| >= 0.01" in text
    for gone in ("NMI", "Cramér", "one-feature", "label drift"):
        assert gone not in text


def test_remedy_is_judged_on_the_confirmation_rows(built):
    doc, _ = built
    text = section_text(doc, "remedy")
    assert "3,648" not in text and "150 rows (test file) that **no decision saw**" in text
    assert CONFIRM_RULE in text
    table = table_after(doc, "remedy", "Retrained without `alpha`")
    assert table.header[-2:] == ["gain (remedy − all) [95 % CI]", "outcome"]
    assert table.rows == [
        ["`relu`", "2", "150", "0.460", "0.600", "+0.140 [+0.100, +0.180]", "helped"],
        ["`sigmoid`", "2", "150", "0.490", "0.590", "+0.100 [+0.060, +0.140]", "helped"],
        ["all settings", "4", "150", "0.475", "0.595", "+0.120 [+0.080, +0.160]", "helped"],
    ]
    assert table.total
    assert ("Pooled over settings, retrained without `alpha` the confirmation accuracy rises from 0.475 to 0.595, "
            "a change of +0.120 (95 % CI +0.080 to +0.160, 4 models on 150 rows): **confirmed** (removing it "
            "helped).") in text
    metrics = table_after(doc, "remedy", "Accuracy of the remedy models")
    assert "test (confirmation) accuracy" in metrics.header
    assert metrics.rows[1][:2] == ["`relu`", "without `alpha`"]
    assert metrics.rows[1][5] == "0.600 ± 0.014" and metrics.rows[1][7] == "+0.140"


def test_two_suspects_name_every_remedy_set(tmp_path):
    doc, out = build(tmp_path / "in", tmp_path / "out", suspects=("alpha", "beta"), studies=False)
    text = section_text(doc, "remedy")
    for heading in ("Retrained without `alpha`", "Retrained without `beta`", "Retrained without `alpha` and `beta`"):
        assert heading in text
        assert table_after(doc, "remedy", heading).rows[-1][0] == "all settings"
    assert "without `alpha` and `beta`: **confirmed**" in section_text(doc, "verdict")
    assert (out / "figures/remedy.png").is_file()
    # three remedies: every interval at 1 - 0.05/3 (Bonferroni), and the header says so
    assert table_after(doc, "remedy", "Retrained without `alpha`").header[-2] == "gain (remedy − all) [98.3 % CI]"


def test_the_remedy_section_words_each_of_the_three_outcomes(tmp_path):
    paths, settings = write_inputs(tmp_path / "in", suspects=("alpha", "beta"), studies=False)
    conf = files.read_table(paths["confirmation"], SCHEMAS["confirmation"])
    for fs, diff, lo, hi, outcome in (("drop-beta", -0.005, -0.008, 0.004, "did not help"),
                                      ("drop-alpha+beta", 0.004, -0.010, 0.018, "inconclusive")):
        at = conf["feature_set"] == fs
        conf.loc[at, ["acc_remedy", "diff", "ci_low", "ci_high", "outcome", "confirmed"]] = [
            0.475 + diff, diff, lo, hi, outcome, False]
    files.write_table(conf, paths["confirmation"], SCHEMAS["confirmation"])
    doc = report.build_report(read_inputs(paths, settings))
    text = section_text(doc, "remedy")
    assert [table_after(doc, "remedy", h).rows[-1][-1] for h in (
        "Retrained without `alpha`", "Retrained without `beta`", "Retrained without `alpha` and `beta`")] == [
        "helped", "did not help", "inconclusive"]
    assert "4 models on 150 rows): **confirmed** (removing it helped)." in text
    assert ("retrained without `beta` the confirmation accuracy falls from 0.475 to 0.470, a change of -0.005 "
            "(98.3 % CI -0.008 to +0.004, 4 models on 150 rows): **not confirmed**: removing it did not help (the "
            "interval lies below the minimum useful gain of 0.01).") in text
    assert ("a change of +0.004 (98.3 % CI -0.010 to +0.018, 4 models on 150 rows): **inconclusive**: these rows "
            "cannot tell a gain of at least 0.01 from none.") in text


def test_cost_section_sums_the_benchmarks(built):
    doc, out = built
    cost = section_text(doc, "cost")
    total = sum(BENCH_SECONDS.values())
    assert f"4 jobs took {total:.1f} s" in cost
    assert "`train` | 2 | 5.0 | 2.50 | 3.00 | 300" in cost
    assert f"total | 4 | {total:.1f}" in cost
    for name in ("report.html", "report.md"):
        text = (out / name).read_text()
        assert text.count(report.COST_START) == 1 and text.count(report.COST_END) == 1
        assert text.index(report.COST_START) < text.index("took 5.8 s") < text.index(report.COST_END)


def test_html_is_self_contained(built):
    doc, out = built
    page = (out / "report.html").read_text()
    assert 'src="http' not in page and "<link" not in page and "<script" not in page
    assert not re.search(r"""(?:src|href)=["'](?:https?:|//|file:)""", page)
    assert "@import" not in page and "url(" not in page
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(srcs) == len(doc.figures()) == len(report.FIGURES)
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert '<h2>1. Verdict</h2>' in page
    assert page.index("1. Verdict") < page.index("2. Data")
    for name in ("conditional_shift", "decomposition"):
        assert f'<figure id="fig-{name}">' in page


def test_markdown_links_the_figure_files_relatively(built):
    doc, out = built
    md = (out / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(report.FIGURES)
    for link in links:
        assert link.startswith("figures/") and (out / link).is_file()
    assert "figures/conditional_shift.png" in links and "figures/decomposition.png" in links
    caps = json.loads((out / "figures/captions.json").read_text())
    assert caps == captions(doc)
    for caption in caps.values():  # the same captions in both renderings
        assert caption in md


def test_copied_figures_are_byte_identical_to_their_source(built):
    _, out = built
    inputs = out.parent / "inputs"
    assert (out / "figures/eda_boxplots.png").read_bytes() == (inputs / "eda/boxplots.png").read_bytes()
    assert (out / "figures/gradient_flow.png").read_bytes() == (inputs / "studies/gradient_flow.png").read_bytes()


def test_rebuild_is_byte_identical_apart_from_the_cost_block(tmp_path):
    _, first = build(tmp_path / "in1", tmp_path / "out1")
    paths, settings = write_inputs(tmp_path / "in1")
    for p in Path(settings["benchmark_root"]).rglob("*.tsv"):  # different timings on the rerun
        p.write_text("s\th:m:s\tmax_rss\n9.5\t0:00:09\t321.0\n")
    doc = report.build_report(read_inputs(paths, settings))
    second = tmp_path / "out2"
    write_report(doc, outputs(second), processes=2)  # and every other figure drawn by a child process
    for name in ("report.html", "report.md"):
        a, b = (first / name).read_text(), (second / name).read_text()
        assert a != b
        assert report.strip_cost(a) == report.strip_cost(b)
    for png in (first / "figures").iterdir():
        assert png.read_bytes() == (second / "figures" / png.name).read_bytes(), png.name


def test_no_suspect_and_no_studies(tmp_path):
    doc, out = build(tmp_path / "in", tmp_path / "out", suspects=(), studies=False)
    answer = json.loads((tmp_path / "in/diagnosis/answer.json").read_text())
    first = section(doc, "verdict").blocks[0]
    assert first.text == f"**{answer['headline']}**" and first.kind == "answer"
    verdict = section_text(doc, "verdict")
    assert "no remedy trained" in verdict
    remedy = section_text(doc, "remedy")
    assert "No shortcut suspect, so no remedy was trained" in remedy
    assert "no decision saw" not in remedy
    assert ("No remedy was trained; with all features the test (confirmation) accuracy is 0.46 for `relu`"
            in captions(doc)["remedy"])
    studies = section_text(doc, "studies")
    assert "shared-bias study was not run" in studies and "gradient check was not run" in studies
    assert "gradient-flow study was not run" in section_text(doc, "training")
    page = (out / "report.html").read_text()
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == len(report.FIGURES)
    for name in report.FIGURES:
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_number_formatting():
    assert fmt.num(0.83669) == "0.837"
    assert fmt.num(-0.00004) == "0.000"
    assert fmt.num(41348.0) == "41,348"
    assert fmt.num(float("nan")) == "–"
    assert fmt.pm(0.5, 0.0123, 3) == "0.500 ± 0.012"
    assert fmt.pm(0.5, 0.0, 1) == "0.500"
    assert fmt.sci(3.2e-7) == "3.2e-07"
    assert fmt.plain(72.0) == "72" and fmt.plain(2.5) == "2.5"
    assert fmt.sig(0.2613) == "0.26" and fmt.sig(4e-5) == "4.0e-05"
    assert fmt.signed(0.26046) == "+0.260" and fmt.signed(-0.00004) == "+0.000"
    assert fmt.ci(0.602, 0.592, 0.612) == "0.602 [0.592, 0.612]"
    assert fmt.ci(0.1, 0.05, 0.15, sign=True) == "+0.100 [+0.050, +0.150]"
    assert fmt.pval(0.4685) == "0.469" and fmt.pval(1.9e-100) == "1.9e-100" and fmt.pval(0.0) == "< 1e-300"


def test_benchmarks_parse_rule_and_job_from_the_path(tmp_path):
    root = tmp_path / "benchmarks"
    (root / "evaluate/all/relu").mkdir(parents=True)
    (root / "evaluate/all/relu/seed0.tsv").write_text("s\th:m:s\tmax_rss\n1.5\t0:00:01\t12.5\n2.5\t0:00:02\t-\n")
    (root / "eda.tsv").write_text("s\th:m:s\tmax_rss\n0.25\t0:00:00\t-\n")
    paths = [root / "evaluate/all/relu/seed0.tsv", root / "eda.tsv"]
    b = report.benchmark_table({str(p.relative_to(root)): files.read_csv(p, sep="\t") for p in paths})
    assert b["rule"].tolist() == ["evaluate", "eda"]
    assert b["job"].tolist() == ["all/relu/seed0", ""]
    assert b["s"].tolist() == [2.0, 0.25]
    assert b["max_rss"].iloc[0] == 12.5 and np.isnan(b["max_rss"].iloc[1])


# ---------------------------------------------------------------------------------------------
# The rule, through the real snakemake command, and `snakemake --report`
# ---------------------------------------------------------------------------------------------

SMALL = {
    "demo": {"rows_train": 3000, "rows_test": 800, "seed": 7},
    "grid": {"models": ["relu", "sigmoid"], "seeds": [0]},
    "models": {name: {"epochs": 4, "patience": 0} for name in ("relu", "sigmoid")},
    "gradient_flow": {"models": ["sigmoid", "relu"]},
    "shared_bias": {"epochs": 3},
}


@pytest.mark.workflow
def test_report_rule_and_snakemake_report(tmp_path):
    wf = copy_workflow(tmp_path / "wf")
    args = ["--cores", "2", *write_override(wf, SMALL)]
    run_snakemake(wf, *args)
    out = wf / "results/demo/report"
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert "<h2>1. Verdict</h2>" in html and "## 1. Verdict" in md
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'<img [^>]*src="([^"]+)"', html))
    assert "not run in this workflow" not in html  # the studies are rules of the workflow
    assert "`report`" not in html.split(report.COST_START)[1]  # the report's own job is not in its cost
    first = {p.name: p.read_bytes() for p in (out / "figures").iterdir()}

    run_snakemake(wf, *args, "--forcerun", "report")
    assert report.strip_cost((out / "report.html").read_text()) == report.strip_cost(html)
    assert report.strip_cost((out / "report.md").read_text()) == report.strip_cost(md)
    assert {p.name: p.read_bytes() for p in (out / "figures").iterdir()} == first

    run_snakemake(wf, *args, "--report", "results/demo/report/snakemake_report.zip")
    with zipfile.ZipFile(out / "snakemake_report.zip") as zf:
        names = zf.namelist()
    # the report's own figures, and those other rules register (EDA, studies): their jobs are in the
    # DAG that `--report` builds without running the diagnose checkpoint
    for name in ("report.html", "training_curves.png", "generalization.png", "attribution.png", "remedy.png",
                 "conditional_shift.png", "decomposition.png", "boxplots.png", "gradient_flow.png",
                 "shared_bias.png"):
        assert any(n.endswith(name) for n in names), name


def dry_run_jobs(wf: Path, *args: str) -> dict[str, list[dict]]:
    """Rule -> the jobs a dry run of the report lists, each with its input files and benchmark
    file (jobs inside a group job, which a dry run indents, included)."""
    from workflow_scratch import job_blocks

    proc = run_snakemake(wf, "report", "--dry-run", "--cores", "1", *args)
    found: dict[str, list[dict]] = {}
    for (rule, _), fields in job_blocks(proc.stdout):
        found.setdefault(rule, []).append(fields)
    return found


@pytest.mark.workflow
@pytest.mark.parametrize("overrides", [{}, {"gradient_flow": {"models": []}}], ids=["default", "no-gradient-flow"])
def test_report_reads_the_benchmark_of_every_job_behind_it(tmp_path, overrides):
    """Before the diagnose checkpoint has run, the report's inputs (the remedy aside) are known: the
    benchmark files it reads are exactly those of the other jobs in its DAG, as their rules declare
    them, so none is missed or read from a job that does not run (the paths come from the config,
    not from Snakemake's rule objects)."""
    wf = copy_workflow(tmp_path / "wf")
    jobs = dry_run_jobs(wf, *write_override(wf, overrides))
    declared = {j["benchmark"] for rule, js in jobs.items() if rule != "report" for j in js}
    (report_job,) = jobs["report"]
    read = {p for p in report_job["input"].split(", ") if "/benchmarks/" in p}
    assert declared and read == declared
    assert ("gradient_flow" in jobs) == bool(overrides.get("gradient_flow", {"models": True})["models"])
    assert any("/studies/gradient_flow.parquet" in p for p in report_job["input"].split(", ")) == ("gradient_flow" in jobs)


def test_the_data_section_shows_the_resolved_roles_and_the_columns_left_out(tmp_path):
    """The roles file (the roles job's) reaches the report through the rule's `roles` input:
    target and classes from it, and a table of the roles with the columns left out and why."""
    from shortcut import files as shortcut_files
    from shortcut.report.sections import data as data_section

    paths, settings = write_inputs(tmp_path / "in")
    resolved = {"target": "label", "classes": [0, 1, 2],
                "features": {"categorical": ["city"], "numeric": ["alpha", "beta"]},
                "left_out": [{"column": "id", "reason": "text unique per row (an identifier)"}],
                "source": {"target": "config", "classes": "inferred from the training labels", "features": "config"}}
    shortcut_files.write_yaml(tmp_path / "config.yaml", resolved)
    inputs = read_inputs({**paths, "roles": str(tmp_path / "config.yaml")}, settings)
    assert inputs.settings["roles"] == resolved and inputs.settings["classes"] == [0, 1, 2]
    blocks = data_section.roles_blocks(inputs.settings)
    table = blocks[1]
    assert [row[0] for row in table.rows] == ["target", "classes", "numeric features", "categorical features"]
    assert table.rows[1][2] == "inferred from the training labels"
    assert "`id`, text unique per row (an identifier)" in blocks[2].text
    assert data_section.roles_blocks({}) == []
