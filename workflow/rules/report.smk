# The generalization report: one self-contained HTML page and its Markdown twin, from every
# stage's outputs. Its inputs depend on the diagnose checkpoint (one remedy per suspect).


rule report:
    input:
        lib("report.py"),
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
        conditional_shift=report_figure("conditional_shift", "Shift"),
        decomposition=report_figure("decomposition", "Shift"),
        remedy=report_figure("remedy", "Remedy"),
        shared_bias=report_figure("shared_bias"),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        benchmark("report")
    conda:
        CONDA_ENV
    threads: 2  # figures drawn in two processes (the last job: nothing else wants the core)
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
            "benchmark_root": BENCHMARKS,
        },
    script:
        "../scripts/report.py"
