"""The generalization report: numbers in captions, self-contained HTML, byte-identical rebuilds,
the no-suspect and no-studies cases, and `snakemake --report` on a scratch copy of the workflow."""

from __future__ import annotations

import base64
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import copy_workflow, run_snakemake, write_override
from shortcut import io, report

MODELS = ["relu", "sigmoid"]
SEEDS = [0, 1]
CLASSES = ["low", "mid", "high"]
# Accuracy per (feature set, model, split), before the per-seed jitter of +-0.01.
ACCURACY = {
    ("all", "relu"): {"train": 0.86, "val": 0.84, "test": 0.47},
    ("all", "sigmoid"): {"train": 0.83, "val": 0.82, "test": 0.50},
    ("drop-alpha", "relu"): {"train": 0.63, "val": 0.62, "test": 0.61},
    ("drop-alpha", "sigmoid"): {"train": 0.62, "val": 0.61, "test": 0.60},
}
BASELINE = {"train": 0.625, "val": 0.625, "test": 0.58}
SHARES = {"all": {"alpha": 0.70, "beta": 0.20, "gamma": 0.10}, "drop-alpha": {"beta": 0.6, "gamma": 0.4}}
BENCH_SECONDS = {"train/all/relu/seed0": 2.0, "train/all/relu/seed1": 3.0, "evaluate/all/relu/seed0/val": 0.5,
                 "diagnose": 0.25}


def _png(path: Path, color: str = "#0969da") -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.bar([0, 1, 2], [1, 3, 2], color=color)
    io.save_figure(fig, path)
    return str(path)


def _csv(frame: pd.DataFrame, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return str(path)


def _json(obj, path: Path) -> str:
    io.write_json(path, obj)
    return str(path)


def per_seed_metrics() -> pd.DataFrame:
    rows = []
    for (fs, act), splits in ACCURACY.items():
        for seed in SEEDS:
            jitter = 0.01 if seed else -0.01
            for split, acc in splits.items():
                rows.append({"fs": fs, "act": act, "seed": seed, "split": split, "accuracy": acc + jitter,
                             "balanced_accuracy": acc - 0.1, "macro_f1": acc - 0.12, "log_loss": 1.0 - acc,
                             "majority_baseline": BASELINE[split], "n": 100})
    return pd.DataFrame(rows)


def summary_metrics(per_seed: pd.DataFrame) -> pd.DataFrame:
    keys = ["accuracy", "balanced_accuracy", "macro_f1", "log_loss", "majority_baseline"]
    rows = []
    for (fs, act, split), sub in per_seed.groupby(["fs", "act", "split"], sort=True):
        row = {"fs": fs, "act": act, "split": split, "n_seeds": len(sub)}
        for k in keys:
            row[f"{k}_mean"], row[f"{k}_sd"] = sub[k].mean(), sub[k].std(ddof=1)
        rows.append(row)
    return pd.DataFrame(rows)


def write_inputs(root: Path, suspects=("alpha",), studies: bool = True) -> tuple[dict, dict]:
    """Small but complete report inputs in the pipeline's formats; returns (paths, settings)."""
    root.mkdir(parents=True, exist_ok=True)
    feature_sets = ["all"] + [f"drop-{s}" for s in suspects]
    p: dict = {}
    p["clean_train_audit"] = _json({
        "file": "raw/train.csv", "rows": 1000, "missing_cells": 30, "coerced_cells": 2,
        "columns": {"alpha": {"missing": 10, "coerced_to_missing": 2}, "beta": {"missing": 20, "coerced_to_missing": 0},
                    "gamma": {"missing": 0, "coerced_to_missing": 0, "levels": {"x": 600, "y": 400}}},
        "label_counts": {"0": 250, "1": 625, "2": 125}}, root / "clean/train_audit.json")
    p["clean_test_audit"] = _json({
        "file": "raw/test.csv", "rows": 300, "missing_cells": 0, "coerced_cells": 0,
        "columns": {"alpha": {"missing": 0, "coerced_to_missing": 0}, "beta": {"missing": 0, "coerced_to_missing": 0},
                    "gamma": {"missing": 0, "coerced_to_missing": 0, "levels": {"x": 200, "y": 96, "z": 4}}},
        "label_counts": {"0": 75, "1": 174, "2": 51}}, root / "clean/test_audit.json")
    p["encoder"] = _json({
        "categorical": {"gamma": {"fill": "x", "impute": "mode", "levels": ["x", "y"]}},
        "numeric": {"alpha": {"fill": 0.0, "impute": "constant", "log1p": False, "mean": 5.0, "std": 2.0},
                    "beta": {"fill": 2.5, "impute": "median", "log1p": True, "mean": 1.0, "std": 0.5}},
        "split": {"class_counts_train": [200, 500, 100], "class_counts_val": [50, 125, 25], "n_train": 800,
                  "n_val": 200, "seed": 42, "stratify": True, "val_fraction": 0.2},
        "val_report": {"imputed": {"alpha": 3, "beta": 4, "gamma": 0}, "unseen_levels": {}}, "n_fit_rows": 800,
    }, root / "features/all/encoder.json")
    p["test_audit"] = _json({"imputed": {"alpha": 0, "beta": 0, "gamma": 0}, "rows": 300, "unseen_level_rows": 4,
                             "unseen_levels": {"gamma": {"z": 4}}}, root / "features/all/test_audit.json")
    dist = [{"part": part, "class": k, "name": name, "count": c, "share": c / total}
            for part, counts, total in (("train", [250, 625, 125], 1000), ("test", [75, 174, 51], 300))
            for k, (name, c) in enumerate(zip(CLASSES, counts))]
    p["eda_classes"] = _csv(pd.DataFrame(dist), root / "eda/class_distribution.csv")
    p["eda_association"] = _csv(pd.DataFrame([
        {"part": "train", "feature": "alpha", "measure": "spearman_rho", "value": 0.81},
        {"part": "train", "feature": "beta", "measure": "spearman_rho", "value": 0.12},
        {"part": "train", "feature": "gamma", "measure": "cramers_v", "value": 0.30},
        {"part": "test", "feature": "alpha", "measure": "spearman_rho", "value": -0.02},
        {"part": "test", "feature": "beta", "measure": "spearman_rho", "value": 0.11},
        {"part": "test", "feature": "gamma", "measure": "cramers_v", "value": 0.33},
    ]), root / "eda/target_association.csv")
    p["eda_summary"] = _csv(pd.DataFrame([
        {"part": part, "feature": f, "class": k, "count": 100, "missing": 0, "mean": 1.0, "q25": 0.5,
         "median": med, "q75": 2.0}
        for part, meds in (("train", [10.0, 50.0, 90.0]), ("test", [48.0, 50.0, 52.5]))
        for f in ("alpha", "beta") for k, med in enumerate(meds)
    ]), root / "eda/summary.csv")
    p["eda_classes_png"] = _png(root / "eda/class_distribution.png")
    p["eda_boxplots_png"] = _png(root / "eda/boxplots.png", "#d1242f")
    p["eda_association_png"] = _png(root / "eda/target_association.png", "#1a7f37")

    histories = []
    for act in MODELS:
        for seed in SEEDS:
            n = 5 + seed
            e = np.arange(1, n + 1)
            h = pd.DataFrame({"epoch": e, "train_loss": 1.0 / e, "train_acc": 0.8 + 0.01 * e,
                              "val_loss": 1.1 / e + 0.1 * (e == n), "val_acc": 0.78 + 0.01 * e,
                              "grad_W0": 0.01 / e, "grad_W1": 0.02 / e, "grad_b0": 0.001 / e})
            path = root / f"models/all/{act}/seed{seed}/history.parquet"
            io.write_parquet(h, path)
            histories.append(str(path))
    p["histories"] = histories

    per_seed = per_seed_metrics()
    per_seed = per_seed[per_seed["fs"].isin(feature_sets)]
    summary = summary_metrics(per_seed)
    for fs in feature_sets:  # as the rule names them: all features, then the remedy's
        key = "" if fs == "all" else "remedy_"
        p.setdefault(f"{key}per_seed", []).append(
            _csv(per_seed[per_seed["fs"] == fs], root / f"evaluation/{fs}/metrics_per_seed.csv"))
        p.setdefault(f"{key}metrics", []).append(
            _csv(summary[summary["fs"] == fs], root / f"evaluation/{fs}/metrics_summary.csv"))
    sal = []
    for fs in feature_sets:
        for act in MODELS:
            for seed in SEEDS:
                for split in ("val", "test"):
                    for method in ("loss_gradient", "input_x_gradient", "integrated_gradients"):
                        shares = SHARES[fs]
                        order = sorted(shares, key=shares.get, reverse=True)
                        for f, share in shares.items():
                            sal.append({"method": method, "feature": f, "n_columns": 1, "mean_abs": share * 2,
                                        "abs_mean": share, "share": share, "rank": order.index(f) + 1, "n": 100,
                                        "fs": fs, "act": act, "seed": seed, "split": split})
    sal = pd.DataFrame(sal)
    for fs in feature_sets:
        p.setdefault("saliency" if fs == "all" else "remedy_saliency", []).append(
            _csv(sal[sal["fs"] == fs], root / f"evaluation/{fs}/saliency_by_feature.csv"))

    rules = {"ks_rule": "shifted if KS >= 0.1", "psi_rule": "shifted if PSI >= 0.25",
             "nmi_drop_rule": "association dropped if NMI train - test >= 0.05"}
    p["shift"] = _csv(pd.DataFrame([
        {"feature": "alpha", "kind": "numeric", "ks": 0.31, "psi": 0.45, "cramers_v": np.nan, "nmi_train": 0.4,
         "nmi_test": 0.01, "nmi_drop": 0.39, "onefeat_acc_train": 0.8, "onefeat_acc_test": 0.4, "onefeat_drop": 0.4,
         "shifted": True, "assoc_dropped": True, "flags": "ks;psi;nmi_drop;onefeat_drop",
         "cramers_v_rule": "n/a (numeric)", **rules},
        {"feature": "beta", "kind": "numeric", "ks": 0.01, "psi": 0.02, "cramers_v": np.nan, "nmi_train": 0.05,
         "nmi_test": 0.05, "nmi_drop": 0.0, "onefeat_acc_train": 0.6, "onefeat_acc_test": 0.6, "onefeat_drop": 0.0,
         "shifted": False, "assoc_dropped": False, "flags": np.nan, "cramers_v_rule": "n/a (numeric)", **rules},
        {"feature": "gamma", "kind": "categorical", "ks": np.nan, "psi": 0.01, "cramers_v": 0.02, "nmi_train": 0.1,
         "nmi_test": 0.11, "nmi_drop": -0.01, "onefeat_acc_train": 0.62, "onefeat_acc_test": 0.62,
         "onefeat_drop": 0.0, "shifted": False, "assoc_dropped": False, "flags": np.nan,
         "cramers_v_rule": "shifted if Cramer's V >= 0.1", **{**rules, "ks_rule": "n/a (categorical)"}},
    ]), root / "shift/shift.csv")
    p["label_drift"] = _json({"psi": 0.004, "cramers_v": 0.01, "chi2_pvalue": 0.7, "drifted": False,
                              "rule": "label drift if PSI >= 0.1", "share_train": [0.25, 0.625, 0.125],
                              "share_test": [0.25, 0.58, 0.17]}, root / "shift/label_drift.json")
    evidence = {"alpha": {"share_validation": 0.7, "rank_validation": 1, "n_features": 3, "nmi_train": 0.4,
                          "nmi_test": 0.01, "onefeat_acc_train": 0.8, "onefeat_acc_test": 0.4, "psi": 0.45,
                          "ks": 0.31, "cramers_v": None, "shifted": True, "suspect": True}}
    p["diagnosis"] = _json({
        "suspects": list(suspects), "evidence": evidence, "method": "integrated_gradients", "models": MODELS,
        "reliance_split": "validation", "thresholds": {"share_min": 0.3, "rank1_lift": 2.0},
        "rules": {"suspect": "shortcut suspect if relies AND assoc_dropped AND shifted"},
        "summary": f"{len(suspects)} shortcut suspect(s)."}, root / "diagnosis/shortcut.json")
    p["verdict"] = _csv(pd.DataFrame([
        {"feature": "alpha", "share_validation": 0.7, "relies": "pass", "suspect": "SUSPECT" if suspects else "no"},
        {"feature": "beta", "share_validation": 0.2, "relies": "fail", "suspect": "no"},
    ]), root / "diagnosis/verdict.csv")

    if studies:
        flow = [{"model": m, "activation": a, "epoch": e, "layer": layer, "param": "W",
                 "mean_abs_grad": g * (1e-3 if a == "sigmoid" and layer == 0 else 1.0) / e}
                for m, a in (("assignment-sigmoid", "sigmoid"), ("relu", "relu"))
                for layer, g in ((0, 0.02), (1, 0.04)) for e in (1, 2, 3)]
        p["gradient_flow"] = _csv(pd.DataFrame(flow), root / "studies/gradient_flow.csv")
        p["gradient_flow_png"] = _png(root / "studies/gradient_flow.png", "#8250df")
        p["shared_bias_history"] = _csv(pd.DataFrame([
            {"variant": v, "seed": s, "epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "val_acc": 0.6}
            for v in ("shared", "independent") for s in SEEDS for e in (1, 2, 3, 4)]), root / "studies/shared_bias_history.csv")
        p["shared_bias_summary"] = _csv(pd.DataFrame([
            {"variant": "shared", "seed": 0, "final_train_loss": 0.30, "final_val_loss": 0.35, "final_val_acc": 0.71,
             "target_loss": 0.4, "epochs_to_target": 3},
            {"variant": "shared", "seed": 1, "final_train_loss": 0.32, "final_val_loss": 0.37, "final_val_acc": 0.73,
             "target_loss": 0.4, "epochs_to_target": np.nan},
            {"variant": "independent", "seed": 0, "final_train_loss": 0.28, "final_val_loss": 0.33,
             "final_val_acc": 0.75, "target_loss": 0.4, "epochs_to_target": 2},
            {"variant": "independent", "seed": 1, "final_train_loss": 0.29, "final_val_loss": 0.34,
             "final_val_acc": 0.77, "target_loss": 0.4, "epochs_to_target": 4},
        ]), root / "studies/shared_bias_summary.csv")
        p["shared_bias_png"] = _png(root / "studies/shared_bias.png", "#bf8700")
        p["gradcheck"] = _csv(pd.DataFrame([
            {"model": "MLP", "activation": a, "parameter": par, "max_rel_error": err, "n_checked": 10,
             "data": d, "tolerance": 1e-6, "passed": err <= 1e-6}
            for a in ("relu", "sigmoid") for par, err in (("W0", 2e-9), ("b0", 3e-8)) for d in ("random", "real")
        ]), root / "checks/gradcheck.csv")

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


def build(root: Path, out: Path, **kwargs) -> tuple[report.Document, Path]:
    paths, settings = write_inputs(root, **kwargs)
    doc = report.build_report(report.load_inputs(paths, settings))
    report.write_report(doc, out / "report.html", out / "report.md",
                        {name: out / "figures" / f"{name}.png" for name in report.FIGURES},
                        captions_path=out / "figures" / "captions.json")
    return doc, out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    return build(tmp / "inputs", tmp / "out")


def captions(doc: report.Document) -> dict[str, str]:
    return {f.name: f.caption for f in doc.figures()}


def section_text(doc: report.Document, section_id: str) -> str:
    section = next(s for s in doc.sections if s.id == section_id)
    parts = []
    for b in section.blocks:
        if isinstance(b, report.Para):
            parts.append(b.text)
        elif isinstance(b, report.Bullets):
            parts += b.items
        elif isinstance(b, report.Table):
            parts += [" | ".join(r) for r in b.rows]
        elif isinstance(b, report.Figure):
            parts.append(b.caption)
    return "\n".join(parts)


def mean_acc(fs, act, split):
    return np.mean([ACCURACY[(fs, act)][split] + (0.01 if s else -0.01) for s in SEEDS])


# ---------------------------------------------------------------------------------------------


def test_sections_in_order_with_the_verdict_first(built):
    doc, _ = built
    assert [s.id for s in doc.sections] == ["verdict", "data", "training", "generalization", "attribution", "shift",
                                            "diagnosis", "remedy", "studies", "cost"]
    verdict = section_text(doc, "verdict")
    assert "Answer: a shortcut" in verdict
    assert "`alpha`" in verdict
    for number in ("0.70", "0.400", "0.010", "0.800", "0.450", "0.310"):  # share, NMI, one-feature acc, PSI, KS
        assert number in verdict, number


def test_generalization_caption_and_baseline_statement_carry_the_computed_numbers(built):
    doc, _ = built
    cap = captions(doc)["generalization"]
    val, test = mean_acc("all", "relu", "val"), mean_acc("all", "relu", "test")
    assert f"`relu` reaches {val:.2f} validation accuracy but {test:.2f} on test, below the 0.58 majority baseline" in cap
    text = section_text(doc, "generalization")
    assert "**Test accuracy is below the majority baseline** for `relu` (0.470) and `sigmoid` (0.500)" in text
    # gap = val - test per seed, mean +- sd over seeds (the jitter cancels: sd 0)
    assert "0.370 ± 0.000" in text


def test_attribution_remedy_and_training_captions(built):
    doc, _ = built
    cap = captions(doc)
    assert "0.70 of the validation attribution on `alpha` (relu 0.70, sigmoid 0.70)" in cap["attribution"]
    assert "the next feature, `beta`, gets 0.20" in cap["attribution"]
    remedy = cap["remedy"]
    assert (f"without `alpha`, `relu`'s test accuracy rises from {mean_acc('all', 'relu', 'test'):.2f} to "
            f"{mean_acc('drop-alpha', 'relu', 'test'):.2f} (above the 0.58 majority baseline)") in remedy
    # histories: val loss lowest at the second-to-last epoch of each seed (the last one is bumped)
    assert "`relu` trains for 5–6 epochs and has its lowest validation loss at epoch 4–5" in cap["training_curves"]
    assert "5.0e-04 times the last layer's for `assignment-sigmoid` (2.0e-05 against 4.0e-02)" in cap["gradient_flow"]
    assert "0.5 times the last layer's for `relu` (2.0e-02 against 4.0e-02)" in cap["gradient_flow"]
    assert "Mid" not in cap["eda_class_distribution"]
    assert "the largest class, mid, holds 62.5% of train rows and 58.0% of test rows" in cap["eda_class_distribution"]
    assert "range from 10 to 90 on train but from 48 to 52.5 on test" in cap["eda_boxplots"]
    assert "`alpha` (Spearman's rho 0.81), which is -0.02 on test" in cap["eda_target_association"]
    assert "`independent` reaches the target training loss after 3.0 epochs (2 of 2 seeds)" in cap["shared_bias"]
    assert "`shared` reaches the target training loss after 3.0 epochs (1 of 2 seeds)" in cap["shared_bias"]


def test_data_section_lists_imputation_coercion_and_unseen_levels(built):
    doc, _ = built
    text = section_text(doc, "data")
    assert "`alpha` | numeric | 10 | 2 | 0 | 0 | constant | 0 | 3 | 0 | standardised" in text
    assert "`beta` | numeric | 20 | 0 | 0 | 0 | median | 2.5 | 4 | 0 | log1p, standardised" in text
    assert "`gamma` | categorical | 0 | 0 | 0 | 0 | mode | `x`" in text
    assert "`z` (4 rows)" in text
    assert "800 training and 200 validation rows" in text


def test_shift_and_verdict_tables_show_rules_and_thresholds(built):
    doc, _ = built
    shift = section_text(doc, "shift")
    assert "shifted if KS >= 0.1" in shift and "shifted if Cramer's V >= 0.1" in shift
    assert "n/a (numeric)" not in shift
    assert "label drift if PSI >= 0.1" in shift
    table = next(b for s in doc.sections if s.id == "shift" for b in s.blocks if isinstance(b, report.Table))
    assert (0, 2) in table.strong and (1, 2) not in table.strong  # alpha's KS crossed, beta's did not
    diag = section_text(doc, "diagnosis")
    assert "share_min | 0.3" in diag and "rank1_lift | 2" in diag
    assert "shortcut suspect if relies AND assoc_dropped AND shifted" in diag


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


def test_markdown_links_the_figure_files_relatively(built):
    doc, out = built
    md = (out / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(report.FIGURES)
    for link in links:
        assert link.startswith("figures/") and (out / link).is_file()
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
    doc = report.build_report(report.load_inputs(paths, settings))
    second = tmp_path / "out2"
    report.write_report(doc, second / "report.html", second / "report.md",
                        {n: second / "figures" / f"{n}.png" for n in report.FIGURES}, second / "figures/captions.json")
    for name in ("report.html", "report.md"):
        a, b = (first / name).read_text(), (second / name).read_text()
        assert a != b
        assert report.strip_cost(a) == report.strip_cost(b)
    for png in (first / "figures").iterdir():
        assert png.read_bytes() == (second / "figures" / png.name).read_bytes(), png.name


def test_no_suspect_and_no_studies(tmp_path):
    doc, out = build(tmp_path / "in", tmp_path / "out", suspects=(), studies=False)
    verdict = section_text(doc, "verdict")
    assert "Answer: no shortcut suspect" in verdict
    assert "below the majority baseline for relu and sigmoid" in verdict
    remedy = section_text(doc, "remedy")
    assert "No shortcut suspect, so no feature was dropped" in remedy
    assert "No suspect was dropped; with all features the test accuracy is 0.47 for `relu`" in captions(doc)["remedy"]
    studies = section_text(doc, "studies")
    assert "shared-bias study was not run" in studies and "gradient check was not run" in studies
    assert "gradient-flow study was not run" in section_text(doc, "training")
    page = (out / "report.html").read_text()
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == len(report.FIGURES)
    for name in report.FIGURES:
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_number_formatting():
    assert report.num(0.83669) == "0.837"
    assert report.num(-0.00004) == "0.000"
    assert report.num(41348.0) == "41,348"
    assert report.num(float("nan")) == "–"
    assert report.pm(0.5, 0.0123, 3) == "0.500 ± 0.012"
    assert report.pm(0.5, 0.0, 1) == "0.500"
    assert report.sci(3.2e-7) == "3.2e-07"
    assert report.plain(72.0) == "72" and report.plain(2.5) == "2.5"
    assert report.sig(0.2613) == "0.26" and report.sig(4e-5) == "4.0e-05"


def test_benchmarks_parse_rule_and_job_from_the_path(tmp_path):
    root = tmp_path / "benchmarks"
    (root / "evaluate/all/relu/seed0").mkdir(parents=True)
    (root / "evaluate/all/relu/seed0/val.tsv").write_text("s\th:m:s\tmax_rss\n1.5\t0:00:01\t12.5\n2.5\t0:00:02\t-\n")
    (root / "eda.tsv").write_text("s\th:m:s\tmax_rss\n0.25\t0:00:00\t-\n")
    b = report.load_benchmarks([root / "evaluate/all/relu/seed0/val.tsv", root / "eda.tsv"], str(root))
    assert b["rule"].tolist() == ["evaluate", "eda"]
    assert b["job"].tolist() == ["all/relu/seed0/val", ""]
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
                 "boxplots.png", "gradient_flow.png", "shared_bias.png"):
        assert any(n.endswith(name) for n in names), name
