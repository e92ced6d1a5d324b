# Evaluation and reliance of every model, the shift evidence, the shortcut diagnosis (a
# checkpoint) and the confirmation of its remedy.


rule evaluate:
    # One job per model evaluates it on every split (val, audit, confirm): one start-up and one
    # load of the model instead of three; the grid's models stay separate jobs.
    input:
        lib("evaluate.py"),
        model=f"{MODELS}/model.npz",
        splits=expand(
            f"{RESULTS}/features/{{fs}}/{{split}}.parquet",
            split=EVAL_SPLITS,
            allow_missing=True,
        ),
        encoder=f"{RESULTS}/features/{{fs}}/encoder.json",
        roles=ROLES,
    output:
        metrics=expand(f"{EVAL}/metrics.json", split=EVAL_SPLITS, allow_missing=True),
        predictions=expand(
            f"{EVAL}/predictions.parquet", split=EVAL_SPLITS, allow_missing=True
        ),
        importance=expand(
            f"{EVAL}/importance.parquet", split=EVAL_SPLITS, allow_missing=True
        ),
        rows=expand(f"{SALIENCY}/rows.parquet", split=EVAL_SPLITS, allow_missing=True),
        by_column=expand(
            f"{SALIENCY}/by_column.csv", split=EVAL_SPLITS, allow_missing=True
        ),
        by_feature=expand(
            f"{SALIENCY}/by_feature.parquet", split=EVAL_SPLITS, allow_missing=True
        ),
        meta=expand(f"{SALIENCY}/meta.json", split=EVAL_SPLITS, allow_missing=True),
    log:
        f"{RESULTS}/logs/evaluate/{{fs}}/{{setting}}/seed{{seed}}.log",
    benchmark:
        benchmark("evaluate", "{fs}", "{setting}", "seed{seed}")
    priority: 10
    group:
        "model-{fs}-{setting}-seed{seed}"  # with train_model of this model
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        splits=list(EVAL_SPLITS),
        saliency=config["saliency"],
        reliance=config["reliance"],
    script:
        "../scripts/evaluate.py"


rule collect:
    input:
        lib("collect.py"),
        metrics=lambda w: evaluation_files(w.fs, "metrics"),
        by_feature=lambda w: evaluation_files(w.fs, "by_feature"),
        importance=lambda w: evaluation_files(w.fs, "importance"),
    output:
        per_seed=f"{RESULTS}/evaluation/{{fs}}/metrics_per_seed.parquet",
        summary=f"{RESULTS}/evaluation/{{fs}}/metrics_summary.parquet",
        saliency=f"{RESULTS}/evaluation/{{fs}}/saliency_by_feature.parquet",
        importance=f"{RESULTS}/evaluation/{{fs}}/importance.parquet",
        per_seed_csv=f"{RESULTS}/evaluation/{{fs}}/metrics_per_seed.csv",
        summary_csv=f"{RESULTS}/evaluation/{{fs}}/metrics_summary.csv",
        saliency_csv=f"{RESULTS}/evaluation/{{fs}}/saliency_by_feature.csv",
        importance_csv=f"{RESULTS}/evaluation/{{fs}}/importance.csv",
    log:
        f"{RESULTS}/logs/collect/{{fs}}.log",
    benchmark:
        benchmark("collect", "{fs}")
    priority: 10
    localrule: True  # sub-second bookkeeping: runs beside snakemake, no sbatch
    conda:
        CONDA_ENV
    params:
        models=lambda w: evaluation_keys(w.fs, with_train=True),
    script:
        "../scripts/collect.py"


rule shift:
    # Marginal statistics of every feature and the class mix: train file against the audit part.
    input:
        lib("shift.py"),
        train=f"{RESULTS}/clean/train.parquet",
        test=f"{RESULTS}/clean/audit.parquet",
        roles=ROLES,
    output:
        table=f"{RESULTS}/shift/shift.parquet",
        csv=f"{RESULTS}/shift/shift.csv",
        class_mix=f"{RESULTS}/shift/class_mix.json",
    log:
        f"{RESULTS}/logs/shift.log",
    benchmark:
        benchmark("shift")
    priority: 10
    localrule: True  # sub-second: runs beside snakemake, no sbatch
    conda:
        CONDA_ENV
    params:
        dataset=dataset_params("clean"),
        shift={key: config["shift"][key] for key in ("bins", "thresholds")},
    script:
        "../scripts/shift.py"


rule shift_evidence:
    # Covariate shift and training support (domain classifier), and the conditional-shift
    # evidence of every feature (did its relation to the label break on the audit rows?).
    input:
        lib("shift_evidence.py"),
        train=f"{RESULTS}/features/all/train.parquet",
        val=f"{RESULTS}/features/all/val.parquet",
        audit=f"{RESULTS}/features/all/audit.parquet",
        encoder=f"{RESULTS}/features/all/encoder.json",
        # the audit rows' empty cells (the encoded rows hold the fill values) and the training
        # file's missing counts: a cell empty only in test is left out of its feature's harm
        clean_audit=f"{RESULTS}/clean/audit.parquet",
        train_cells=f"{RESULTS}/clean/train_cells.json",
        roles=ROLES,
    output:
        covariate=f"{RESULTS}/shift/covariate.json",
        support=f"{RESULTS}/shift/support.parquet",
        conditional=f"{RESULTS}/shift/conditional.parquet",
        steps=f"{RESULTS}/shift/conditional_steps.parquet",
        conditional_csv=f"{RESULTS}/shift/conditional.csv",
        steps_csv=f"{RESULTS}/shift/conditional_steps.csv",
    log:
        f"{RESULTS}/logs/shift_evidence.log",
    benchmark:
        benchmark("shift_evidence")
    priority: 20
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        seed=config["shift"]["seed"],
        domain=config["shift"]["domain"],
        evidence=config["shift"]["evidence"],
    script:
        "../scripts/shift_evidence.py"


rule decompose:
    # Per grid model: the validation -> test accuracy change split into class mix, inputs,
    # relation Y | X and unsupported rows; and the class mix estimated from predictions alone.
    input:
        lib("decompose.py"),
        support=f"{RESULTS}/shift/support.parquet",
        val=grid_predictions("all", "val"),
        audit=grid_predictions("all", "audit"),
        roles=ROLES,
    output:
        decomposition=f"{RESULTS}/shift/decomposition.parquet",
        label_shift=f"{RESULTS}/shift/label_shift.parquet",
        decomposition_csv=f"{RESULTS}/shift/decomposition.csv",
        label_shift_csv=f"{RESULTS}/shift/label_shift.csv",
    log:
        f"{RESULTS}/logs/decompose.log",
    benchmark:
        benchmark("decompose")
    priority: 10
    conda:
        CONDA_ENV
    params:
        models=grid_keys(),
        seed=config["shift"]["seed"],
        n_boot=config["shift"]["evidence"]["n_boot"],
    script:
        "../scripts/decompose.py"


checkpoint diagnose:
    input:
        lib("diagnose.py"),
        importance=f"{RESULTS}/evaluation/all/importance.parquet",
        shift=f"{RESULTS}/shift/shift.parquet",
        class_mix=f"{RESULTS}/shift/class_mix.json",
        covariate=f"{RESULTS}/shift/covariate.json",
        conditional=f"{RESULTS}/shift/conditional.parquet",
        decomposition=f"{RESULTS}/shift/decomposition.parquet",
        label_shift=f"{RESULTS}/shift/label_shift.parquet",
        roles=ROLES,  # the features' order: the remedies' names
    output:
        verdict=f"{RESULTS}/diagnosis/shortcut.json",
        table=f"{RESULTS}/diagnosis/verdict.parquet",
        csv=f"{RESULTS}/diagnosis/verdict.csv",
    log:
        f"{RESULTS}/logs/diagnose.log",
    benchmark:
        benchmark("diagnose")
    priority: 10
    localrule: True  # sub-second bookkeeping: runs beside snakemake, no sbatch
    conda:
        CONDA_ENV
    params:
        diagnose=diagnose_params(),
        reliance=config["reliance"],
    script:
        "../scripts/diagnose.py"


# The JSON Schema answer.json is checked against when confirm writes it; a param, so a change to
# the schema reruns confirm (a path from workflow.source_path is per run for a git module).
with open(
    workflow.source_path("../schemas/answer.schema.json"), encoding="utf-8"
) as _fh:
    ANSWER_SCHEMA = json.load(_fh)


rule confirm:
    # The remedy judged on the confirmation part of the test file, which no decision has seen.
    input:
        unpack(confirm_inputs),
        lib("confirm.py"),
        verdict=f"{RESULTS}/diagnosis/shortcut.json",
    output:
        table=f"{RESULTS}/diagnosis/confirmation.parquet",
        csv=f"{RESULTS}/diagnosis/confirmation.csv",
        answer=f"{RESULTS}/diagnosis/answer.json",
    log:
        f"{RESULTS}/logs/confirm.log",
    benchmark:
        benchmark("confirm")
    priority: 10
    localrule: True  # sub-second bookkeeping: runs beside snakemake, no sbatch
    conda:
        CONDA_ENV
    params:
        models=grid_keys(),
        confirm=config["confirm"],
        seed=config["shift"]["seed"],
        has_test_file=bool(DATA.get("test")),
        answer_schema=ANSWER_SCHEMA,
    script:
        "../scripts/confirm.py"


rule predict:
    # Predictions for new rows (predict.files) from the model the audit recommends.
    input:
        unpack(predict_inputs),
        lib("predict.py"),
        roles=ROLES,
    output:
        parquet=f"{RESULTS}/predictions/{{name}}.parquet",
        csv=f"{RESULTS}/predictions/{{name}}.csv",
        metrics=f"{RESULTS}/predictions/{{name}}_metrics.json",
    log:
        f"{RESULTS}/logs/predict/{{name}}.log",
    benchmark:
        benchmark("predict", "{name}")
    conda:
        CONDA_ENV
    params:
        dataset=dataset_params("predict"),
        predict=PREDICT,
        setting=PREDICT_SETTING,
        seeds=config["grid"]["seeds"],
        # the layout of the model inputs, from which the script reads each one's feature set
        # (a function: a params string would have its {fs} expanded as a wildcard)
        model_template=lambda wildcards: os.path.join(MODELS, "model.npz"),
    script:
        "../scripts/predict.py"


rule predictions:
    # Named target: the predictions of every file under predict.files.
    input:
        prediction_targets(),


rule saliency:
    # Named target: metrics and saliency of every grid model on all features, on every split.
    input:
        f"{RESULTS}/evaluation/all/metrics_summary.csv",
        f"{RESULTS}/evaluation/all/saliency_by_feature.csv",
