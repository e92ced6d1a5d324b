# The generalization report: one self-contained HTML page and its Markdown twin, from every
# stage's outputs. Its inputs depend on the diagnose checkpoint (one remedy per suspect).


if TEST_LABELED:
    # (without test labels the report is rules/unlabeled.smk's)

    rule report:
        input:
            lib("report.py"),
            unpack(report_inputs),
            unpack(report_remedy_inputs),
        output:
            html=report(
                f"{REPORT}/report.html",
                caption="../report/report.rst",
                category="Report",
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
                # target, classes and the roles: from the roles file (an input)
                "class_names": dataset_setting("class_names"),
                "models": config["grid"]["models"],
                "seeds": config["grid"]["seeds"],
                "method": diagnose_params().get("method"),
                "ig_steps": config["saliency"]["ig_steps"],
                "max_ig_gap": config["saliency"]["max_ig_gap"],
                "histories": report_histories(),
                "benchmark_root": BENCHMARKS,
            },
        script:
            "../scripts/report.py"


rule gate:
    # fail_on (config): the run ends non-zero, after the report is written, when the answer is
    # one the config lists; one line says why. gate.txt is written only on a pass, so a failed
    # gate runs again at the next run. A target of `all` only when fail_on is set.
    input:
        lib("gate.py"),
        answer=f"{RESULTS}/diagnosis/answer.json",
        html=rules.report.output.html,
        md=rules.report.output.md,
        predictions=prediction_targets(),
    output:
        f"{RESULTS}/diagnosis/gate.txt",
    log:
        f"{RESULTS}/logs/gate.log",
    benchmark:
        benchmark("gate")
    localrule: True  # reads one JSON file: runs beside snakemake, no sbatch
    conda:
        CONDA_ENV
    params:
        fail_on=config["fail_on"],
    script:
        "../scripts/gate.py"


GATE = rules.gate.output if config["fail_on"] else []
