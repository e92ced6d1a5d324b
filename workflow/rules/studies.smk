# Side studies of the seed assignment: gradient flow, the shared bias, and gradient checks.


if config["gradient_flow"]["models"]:

    rule gradient_flow:
        input:
            lib("gradient_flow.py"),
            histories=expand(
                f"{RESULTS}/models/all/{{setting}}/seed{FIRST_SEED}/history.parquet",
                setting=config["gradient_flow"]["models"],
            ),
        output:
            table=f"{RESULTS}/studies/gradient_flow.parquet",
            summary=f"{RESULTS}/studies/gradient_flow_summary.parquet",
            table_csv=f"{RESULTS}/studies/gradient_flow.csv",
            summary_csv=f"{RESULTS}/studies/gradient_flow_summary.csv",
            figure=report(
                f"{RESULTS}/studies/gradient_flow.png",
                caption="../report/gradient_flow.rst",
                category="Training",
            ),
        log:
            f"{RESULTS}/logs/gradient_flow.log",
        benchmark:
            benchmark("gradient_flow")
        conda:
            CONDA_ENV
        params:
            models=config["gradient_flow"]["models"],
            activations={
                name: config["models"][name]["activation"]
                for name in config["gradient_flow"]["models"]
            },
        script:
            "../scripts/gradient_flow.py"


rule shared_bias:
    input:
        lib("shared_bias.py"),
        train=f"{RESULTS}/features/all/train.parquet",
        val=f"{RESULTS}/features/all/val.parquet",
        roles=ROLES,
    output:
        history=f"{RESULTS}/studies/shared_bias_history.parquet",
        summary=f"{RESULTS}/studies/shared_bias_summary.parquet",
        history_csv=f"{RESULTS}/studies/shared_bias_history.csv",
        summary_csv=f"{RESULTS}/studies/shared_bias_summary.csv",
        figure=report(
            f"{RESULTS}/studies/shared_bias.png",
            caption="../report/shared_bias.rst",
            category="Training",
        ),
    log:
        f"{RESULTS}/logs/shared_bias.log",
    benchmark:
        benchmark("shared_bias")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        study=config["shared_bias"],
        seeds=config["grid"]["seeds"],
        dtype=config["network"]["dtype"],
    script:
        "../scripts/shared_bias.py"


rule gradcheck:
    input:
        lib("gradcheck.py"),
        train=f"{RESULTS}/features/all/train.parquet",
    output:
        table=f"{RESULTS}/checks/gradcheck.parquet",
        csv=f"{RESULTS}/checks/gradcheck.csv",
    log:
        f"{RESULTS}/logs/gradcheck.log",
    benchmark:
        benchmark("gradcheck")
    conda:
        CONDA_ENV
    params:
        seed=FIRST_SEED,
    script:
        "../scripts/gradcheck.py"
