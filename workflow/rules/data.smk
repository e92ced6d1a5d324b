# Data stage: raw CSV -> validated parquet -> encoded splits (+ EDA).


if DEMO:

    rule generate_demo:
        input:
            lib("generate_demo.py"),
        output:
            train=DATA["train"],
            test=DATA["test"],
        log:
            f"{RESULTS}/logs/generate_demo.log",
        benchmark:
            benchmark("generate_demo")
        localrule: True  # sub-second (the demo's rows); no sbatch on a cluster
        conda:
            CONDA_ENV
        params:
            demo={key: DEMO[key] for key in ("rows_train", "rows_test", "seed")},
        script:
            "../scripts/generate_demo.py"


rule roles:
    # The column roles, once: the config's target, classes and features where given, the rest
    # inferred from the training CSV (classes: its labels, sorted; features: every other column,
    # numeric if it parses as numbers; an identifier or a constant column left out, with a
    # warning). Every job that needs the roles reads the file; the test CSV is not an input.
    input:
        lib("roles.py"),
        csv=DATA["train"],
    output:
        roles=ROLES,
    log:
        f"{RESULTS}/logs/roles.log",
    benchmark:
        benchmark("roles")
    priority: 10
    localrule: True  # one read of the training CSV's text: runs beside snakemake, no sbatch
    conda:
        CONDA_ENV
    params:
        roles=roles_params(),
        encoding=ENCODING,
        max_coerced_fraction=config["clean"]["max_coerced_fraction"],
    script:
        "../scripts/roles.py"


rule clean:
    input:
        lib("clean.py"),
        csv=lambda w: raw_csv(w.source),
        roles=ROLES,
    output:
        parquet=f"{RESULTS}/clean/{{source}}.parquet",
        cells=f"{RESULTS}/clean/{{source}}_cells.json",
    log:
        f"{RESULTS}/logs/clean/{{source}}.log",
    benchmark:
        benchmark("clean", "{source}")
    priority: 10
    # On a cluster the train side heads the group encode-all (clean -> fit_encoder ->
    # apply_encoder of all features: one sbatch); the test side stays a job of its own.
    group:
        lambda w: "encode-all" if w.source == "train" else None
    conda:
        CONDA_ENV
    params:
        dataset=dataset_params("clean"),
        holdout=lambda w: holdout_params(),
        # False: the test file has no labels (read without its target column)
        labeled=lambda w: w.source == "train" or TEST_LABELED,
    script:
        "../scripts/clean.py"


rule split_test:
    # The test rows, once, into the audit part (the only test rows any decision sees) and the
    # confirmation part (used only to judge the remedy). Stratified and seeded.
    input:
        lib("split_test.py"),
        clean=f"{RESULTS}/clean/test.parquet",
    output:
        audit=f"{RESULTS}/clean/audit.parquet",
        confirm=f"{RESULTS}/clean/confirm.parquet",
        summary=f"{RESULTS}/clean/test_split.json",
    log:
        f"{RESULTS}/logs/split_test.log",
    benchmark:
        benchmark("split_test")
    priority: 10
    localrule: True  # sub-second bookkeeping: runs beside snakemake, no sbatch
    conda:
        CONDA_ENV
    params:
        split=test_split_params(),
        has_test_file=bool(DATA.get("test")),
    script:
        "../scripts/split_test.py"


rule fit_encoder:
    input:
        lib("fit_encoder.py"),
        clean=f"{RESULTS}/clean/train.parquet",
        roles=ROLES,
    output:
        encoder=f"{RESULTS}/features/{{fs}}/encoder.json",
        train=f"{RESULTS}/features/{{fs}}/train.parquet",
        val=f"{RESULTS}/features/{{fs}}/val.parquet",
    log:
        f"{RESULTS}/logs/fit_encoder/{{fs}}.log",
    benchmark:
        benchmark("fit_encoder", "{fs}")
    priority: 10
    group:
        "encode-{fs}"  # one cluster job with apply_encoder of the same feature set
    conda:
        CONDA_ENV
    params:
        dataset=dataset_params("encode"),
        split=split_params(),
        group_association=config["reliance"]["group_association"],
    script:
        "../scripts/fit_encoder.py"


rule apply_encoder:
    input:
        lib("apply_encoder.py"),
        audit=f"{RESULTS}/clean/audit.parquet",
        confirm=f"{RESULTS}/clean/confirm.parquet",
        encoder=f"{RESULTS}/features/{{fs}}/encoder.json",
    output:
        audit=f"{RESULTS}/features/{{fs}}/audit.parquet",
        confirm=f"{RESULTS}/features/{{fs}}/confirm.parquet",
        cells=f"{RESULTS}/features/{{fs}}/test_cells.json",
    log:
        f"{RESULTS}/logs/apply_encoder/{{fs}}.log",
    benchmark:
        benchmark("apply_encoder", "{fs}")
    priority: 20
    group:
        "encode-{fs}"
    conda:
        CONDA_ENV
    script:
        "../scripts/apply_encoder.py"


rule eda:
    # Also the named target for the exploratory tables and figures.
    input:
        lib("eda.py"),
        train=f"{RESULTS}/clean/train.parquet",
        test=f"{RESULTS}/clean/test.parquet",
        roles=ROLES,
    output:
        classes=f"{RESULTS}/eda/class_distribution.parquet",
        association=f"{RESULTS}/eda/target_association.parquet",
        summary=f"{RESULTS}/eda/summary.parquet",
        classes_csv=f"{RESULTS}/eda/class_distribution.csv",
        association_csv=f"{RESULTS}/eda/target_association.csv",
        summary_csv=f"{RESULTS}/eda/summary.csv",
        classes_png=report(
            f"{RESULTS}/eda/class_distribution.png",
            caption="../report/eda_classes.rst",
            category="Data",
        ),
        boxplots_png=report(
            f"{RESULTS}/eda/boxplots.png",
            caption="../report/eda_boxplots.rst",
            category="Data",
        ),
        association_png=report(
            f"{RESULTS}/eda/target_association.png",
            caption="../report/eda_association.rst",
            category="Data",
        ),
    log:
        f"{RESULTS}/logs/eda.log",
    benchmark:
        benchmark("eda")
    conda:
        CONDA_ENV
    params:
        dataset=dataset_params("eda"),
    script:
        "../scripts/eda.py"
