# Evaluation, saliency, train/test shift and the shortcut diagnosis (a checkpoint).


rule evaluate:
    input:
        lib("data", "spec", "network", "metrics", "saliency", "pipeline"),
        model=f"{MODELS}/model.npz",
        split=f"{RESULTS}/features/{{fs}}/{{split}}.parquet",
        encoder=f"{RESULTS}/features/{{fs}}/encoder.json",
    output:
        metrics=f"{EVAL}/metrics.json",
        rows=f"{SALIENCY}/rows.parquet",
        by_column=f"{SALIENCY}/by_column.csv",
        by_feature=f"{SALIENCY}/by_feature.csv",
        meta=f"{SALIENCY}/meta.json",
    log:
        f"{RESULTS}/logs/evaluate/{{fs}}/{{act}}/seed{{seed}}/{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{fs}}/{{act}}/seed{{seed}}/{{split}}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        n_classes=len(config["classes"]),
        saliency=config["saliency"],
    script:
        "../scripts/evaluate.py"


rule collect:
    input:
        lib("metrics", "pipeline"),
        metrics=lambda w: evaluation_files(w.fs, "metrics"),
        by_feature=lambda w: evaluation_files(w.fs, "by_feature"),
    output:
        per_seed=f"{RESULTS}/evaluation/{{fs}}/metrics_per_seed.csv",
        summary=f"{RESULTS}/evaluation/{{fs}}/metrics_summary.csv",
        saliency=f"{RESULTS}/evaluation/{{fs}}/saliency_by_feature.csv",
    log:
        f"{RESULTS}/logs/collect/{{fs}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/collect/{{fs}}.tsv"
    conda:
        CONDA_ENV
    params:
        models=lambda w: evaluation_keys(w.fs, with_train=True),
    script:
        "../scripts/collect.py"


rule shift:
    input:
        lib("data", "spec", "shift", "pipeline"),
        train=f"{RESULTS}/clean/train.parquet",
        test=f"{RESULTS}/clean/test.parquet",
    output:
        table=f"{RESULTS}/shift/shift.csv",
        label_drift=f"{RESULTS}/shift/label_drift.json",
    log:
        f"{RESULTS}/logs/shift.log",
    benchmark:
        f"{RESULTS}/benchmarks/shift.tsv"
    conda:
        CONDA_ENV
    params:
        dataset=dataset_params("clean"),
        shift=config["shift"],
    script:
        "../scripts/shift_stats.py"


checkpoint diagnose:
    input:
        lib("diagnose", "pipeline"),
        saliency=f"{RESULTS}/evaluation/all/saliency_by_feature.csv",
        shift=f"{RESULTS}/shift/shift.csv",
    output:
        verdict=f"{RESULTS}/diagnosis/shortcut.json",
        table=f"{RESULTS}/diagnosis/verdict.csv",
    log:
        f"{RESULTS}/logs/diagnose.log",
    benchmark:
        f"{RESULTS}/benchmarks/diagnose.tsv"
    conda:
        CONDA_ENV
    params:
        diagnose=diagnose_params(),
    script:
        "../scripts/diagnose_verdict.py"


rule saliency:
    # Named target: metrics and saliency of every grid model on all features, val and test.
    input:
        f"{RESULTS}/evaluation/all/metrics_summary.csv",
        f"{RESULTS}/evaluation/all/saliency_by_feature.csv",
