# The report's inputs and figures (report.smk): what it reads, and the benchmark files of the jobs
# behind it, from the config (no rules in this file).

REPORT = f"{RESULTS}/report"


def report_studies():
    """The side studies' outputs, of the studies this config runs (the report says "not run" for
    the others): the gradient-flow rule exists only with gradient_flow.models (studies.smk).
    """
    studies = {}
    if config["gradient_flow"]["models"]:
        studies["gradient_flow"] = f"{RESULTS}/studies/gradient_flow.parquet"
        studies["gradient_flow_png"] = f"{RESULTS}/studies/gradient_flow.png"
    return {
        **studies,
        "shared_bias_history": f"{RESULTS}/studies/shared_bias_history.parquet",
        "shared_bias_summary": f"{RESULTS}/studies/shared_bias_summary.parquet",
        "shared_bias_png": f"{RESULTS}/studies/shared_bias.png",
        "gradcheck": f"{RESULTS}/checks/gradcheck.parquet",
    }


def grid_benchmarks(fs):
    """Benchmark files of the jobs that encode feature set ``fs`` and train, evaluate and collect
    the grid on it."""
    found = [benchmark("fit_encoder", fs), benchmark("apply_encoder", fs)]
    for key in grid_keys():
        job = [fs, key["setting"], f"seed{key['seed']}"]
        found += [benchmark("train_model", *job), benchmark("evaluate", *job)]
    return found + [benchmark("collect", fs)]


def report_benchmarks():
    """Benchmark files of the jobs behind the report's inputs, the remedy aside (the cost section):
    the data jobs, the grid on all features, the shift evidence, the diagnosis and its
    confirmation, and the side studies this config runs."""
    found = [benchmark("generate_demo")] if DEMO else []
    found += [
        benchmark("roles"),
        benchmark("clean", "train"),
        benchmark("clean", "test"),
    ]
    found += [benchmark("split_test"), benchmark("eda"), *grid_benchmarks("all")]
    found += [benchmark(rule) for rule in ("shift", "shift_evidence", "decompose")]
    found += [benchmark("diagnose"), benchmark("confirm"), benchmark("label_free")]
    if config["gradient_flow"]["models"]:
        found.append(benchmark("gradient_flow"))
        found += [
            benchmark("train_model", "all", setting, f"seed{FIRST_SEED}")
            for setting in config["gradient_flow"]["models"]
        ]
    found += [benchmark("shared_bias"), benchmark("gradcheck")]
    return list(dict.fromkeys(found))


def report_inputs(wildcards):
    """Everything but the remedy. Known before the diagnose checkpoint has run, so a DAG built
    without running it (`snakemake --report`) still holds the jobs behind these files.
    """
    return {
        "roles": ROLES,  # target, classes and the column roles of the data section
        "clean_train_cells": f"{RESULTS}/clean/train_cells.json",
        "clean_test_cells": f"{RESULTS}/clean/test_cells.json",
        "test_split": f"{RESULTS}/clean/test_split.json",
        "encoder": f"{RESULTS}/features/all/encoder.json",
        "test_cells": f"{RESULTS}/features/all/test_cells.json",
        "eda_classes": f"{RESULTS}/eda/class_distribution.parquet",
        "eda_association": f"{RESULTS}/eda/target_association.parquet",
        "eda_summary": f"{RESULTS}/eda/summary.parquet",
        "eda_classes_png": f"{RESULTS}/eda/class_distribution.png",
        "eda_boxplots_png": f"{RESULTS}/eda/boxplots.png",
        "eda_association_png": f"{RESULTS}/eda/target_association.png",
        "histories": [
            os.path.join(
                MODELS.format(fs="all", setting=setting, seed=seed), "history.parquet"
            )
            for setting, seed in report_histories()
        ],
        # integrated gradients' completeness gap of every grid model (attribution section)
        "saliency_meta": [
            os.path.join(model_path(SALIENCY, key), "meta.json")
            for key in evaluation_keys("all")
            if key["split"] in ("val", "audit")
        ],
        "metrics": [f"{RESULTS}/evaluation/all/metrics_summary.parquet"],
        "per_seed": [f"{RESULTS}/evaluation/all/metrics_per_seed.parquet"],
        "saliency": [f"{RESULTS}/evaluation/all/saliency_by_feature.parquet"],
        "importance": [f"{RESULTS}/evaluation/all/importance.parquet"],
        "shift": f"{RESULTS}/shift/shift.parquet",
        "class_mix": f"{RESULTS}/shift/class_mix.json",
        "covariate": f"{RESULTS}/shift/covariate.json",
        "conditional": f"{RESULTS}/shift/conditional.parquet",
        "conditional_steps": f"{RESULTS}/shift/conditional_steps.parquet",
        "decomposition": f"{RESULTS}/shift/decomposition.parquet",
        "label_shift": f"{RESULTS}/shift/label_shift.parquet",
        "diagnosis": f"{RESULTS}/diagnosis/shortcut.json",
        "verdict": f"{RESULTS}/diagnosis/verdict.parquet",
        "confirmation": f"{RESULTS}/diagnosis/confirmation.parquet",
        "answer": f"{RESULTS}/diagnosis/answer.json",
        # what the label-free audit expected, set beside what the labels measured
        "label_free": f"{RESULTS}/label_free/summary.json",
        **report_studies(),
        "benchmarks": report_benchmarks(),
    }


def report_remedy_inputs(wildcards):
    """The remedy: one retrained feature set per suspect of the diagnose checkpoint."""
    feature_sets = remedy_feature_sets()
    per_fs = lambda name: [
        f"{RESULTS}/evaluation/{fs}/{name}.parquet" for fs in feature_sets
    ]
    return {
        "remedy_metrics": per_fs("metrics_summary"),
        "remedy_per_seed": per_fs("metrics_per_seed"),
        "remedy_saliency": per_fs("saliency_by_feature"),
        "remedy_benchmarks": [p for fs in feature_sets for p in grid_benchmarks(fs)],
    }


def report_histories():
    return [
        (setting, seed)
        for setting in config["grid"]["models"]
        for seed in config["grid"]["seeds"]
    ]


def report_caption(path, name):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)[name]


def report_figure(name, category=None):
    """A figure of the report; with a category it is also registered for `snakemake --report`,
    labelled with its computed caption (read from captions.json when the report is built).
    """
    path = f"{REPORT}/figures/{name}.png"
    if category is None:
        return path
    return report(
        path,
        caption=f"../report/{name}.rst",
        category=category,
        labels=lambda wildcards, output: {
            "figure": name.replace("_", " "),
            "caption": report_caption(output.captions, name),
        },
    )
