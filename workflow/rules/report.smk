# The generalization report: one self-contained HTML page and its Markdown twin, from every
# stage's outputs. Its inputs depend on the diagnose checkpoint (one remedy per suspect).

REPORT = f"{RESULTS}/report"

# Side studies: read when a rule of this workflow writes them (the report says "not run" otherwise).
REPORT_STUDIES = {
    "gradient_flow": f"{RESULTS}/studies/gradient_flow.csv",
    "gradient_flow_png": f"{RESULTS}/studies/gradient_flow.png",
    "shared_bias_history": f"{RESULTS}/studies/shared_bias_history.csv",
    "shared_bias_summary": f"{RESULTS}/studies/shared_bias_summary.csv",
    "shared_bias_png": f"{RESULTS}/studies/shared_bias.png",
    "gradcheck": f"{RESULTS}/checks/gradcheck.csv",
}


def report_producer(path):
    """The rule of this workflow that writes ``path`` (None if no rule does)."""
    for candidate in workflow.rules:
        if candidate.name != "report" and any(
            out.match(path) for out in candidate.output
        ):
            return candidate
    return None


def _job_benchmarks(path, found, seen):
    """Add the benchmark file of the job writing ``path`` and, recursively, of the jobs writing
    its static inputs (input functions are not followed)."""
    producer = report_producer(path) if path not in seen else None
    seen.add(path)
    if producer is None:
        return
    wildcards = producer.get_wildcards(path)
    if producer.benchmark:
        found[producer.benchmark.apply_wildcards(wildcards)] = None
    for item in producer.input:
        if not callable(item) and not item.is_callable():
            _job_benchmarks(item.apply_wildcards(wildcards), found, seen)


def report_benchmarks(feature_sets, extra=()):
    """Benchmark files of the jobs behind the evaluations of ``feature_sets`` and behind ``extra``
    (the cost section)."""
    paths = list(extra)
    for fs in feature_sets:
        paths += evaluation_files(fs, "metrics")
        paths.append(f"{RESULTS}/evaluation/{fs}/metrics_summary.csv")
    found, seen = {}, set()
    for path in paths:
        _job_benchmarks(path, found, seen)
    return list(found)


def report_inputs(wildcards):
    """Everything but the remedy. Known before the diagnose checkpoint has run, so a DAG built
    without running it (`snakemake --report`) still holds the jobs behind these files.
    """
    studies = {k: p for k, p in REPORT_STUDIES.items() if report_producer(p)}
    fixed = {
        "clean_train_audit": f"{RESULTS}/clean/train_audit.json",
        "clean_test_audit": f"{RESULTS}/clean/test_audit.json",
        "encoder": f"{RESULTS}/features/all/encoder.json",
        "test_audit": f"{RESULTS}/features/all/test_audit.json",
        "eda_classes": f"{RESULTS}/eda/class_distribution.csv",
        "eda_association": f"{RESULTS}/eda/target_association.csv",
        "eda_summary": f"{RESULTS}/eda/summary.csv",
        "eda_classes_png": f"{RESULTS}/eda/class_distribution.png",
        "eda_boxplots_png": f"{RESULTS}/eda/boxplots.png",
        "eda_association_png": f"{RESULTS}/eda/target_association.png",
        "histories": [
            os.path.join(MODELS.format(fs="all", act=act, seed=seed), "history.parquet")
            for act, seed in report_histories()
        ],
        "metrics": [f"{RESULTS}/evaluation/all/metrics_summary.csv"],
        "per_seed": [f"{RESULTS}/evaluation/all/metrics_per_seed.csv"],
        "saliency": [f"{RESULTS}/evaluation/all/saliency_by_feature.csv"],
        "shift": f"{RESULTS}/shift/shift.csv",
        "label_drift": f"{RESULTS}/shift/label_drift.json",
        "diagnosis": f"{RESULTS}/diagnosis/shortcut.json",
        "verdict": f"{RESULTS}/diagnosis/verdict.csv",
        **studies,
    }
    extra = [*DATA.values(), *fixed.values(), *studies.values()]
    extra = [p for item in extra for p in ([item] if isinstance(item, str) else item)]
    return {**fixed, "benchmarks": report_benchmarks(["all"], extra)}


def report_remedy_inputs(wildcards):
    """The remedy: one retrained feature set per suspect of the diagnose checkpoint."""
    feature_sets = remedy_feature_sets()
    per_fs = lambda name: [
        f"{RESULTS}/evaluation/{fs}/{name}.csv" for fs in feature_sets
    ]
    return {
        "remedy_metrics": per_fs("metrics_summary"),
        "remedy_per_seed": per_fs("metrics_per_seed"),
        "remedy_saliency": per_fs("saliency_by_feature"),
        "remedy_benchmarks": report_benchmarks(feature_sets),
    }


def report_histories():
    return [
        (act, seed)
        for act in config["grid"]["models"]
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


rule report:
    input:
        lib("report"),
        unpack(report_inputs),
        unpack(report_remedy_inputs),
    output:
        html=report(
            f"{REPORT}/report.html", caption="../report/report.rst", category="Report"
        ),
        md=f"{REPORT}/report.md",
        captions=f"{REPORT}/figures/captions.json",
        eda_class_distribution=report_figure("eda_class_distribution"),
        eda_boxplots=report_figure("eda_boxplots"),
        eda_target_association=report_figure("eda_target_association"),
        training_curves=report_figure("training_curves", "Training"),
        gradient_flow=report_figure("gradient_flow"),
        generalization=report_figure("generalization", "Generalization"),
        attribution=report_figure("attribution", "Attribution"),
        remedy=report_figure("remedy", "Remedy"),
        shared_bias=report_figure("shared_bias"),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    conda:
        CONDA_ENV
    params:
        settings={
            "dataset": config["dataset"],
            "target": config["target"],
            "classes": config["classes"],
            "class_names": config.get("class_names"),
            "models": config["grid"]["models"],
            "seeds": config["grid"]["seeds"],
            "method": diagnose_params().get("method"),
            "histories": report_histories(),
            "benchmark_root": f"{RESULTS}/benchmarks",
        },
    script:
        "../scripts/build_report.py"
