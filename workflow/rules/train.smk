# Training: one job per feature set x model setting x seed; jobs are independent.


rule train_model:
    input:
        lib("train_model.py"),
        train=f"{RESULTS}/features/{{fs}}/train.parquet",
        val=f"{RESULTS}/features/{{fs}}/val.parquet",
        encoder=f"{RESULTS}/features/{{fs}}/encoder.json",
        roles=ROLES,
    output:
        model=f"{MODELS}/model.npz",
        history=f"{MODELS}/history.parquet",
        params=f"{MODELS}/params.json",
        metrics=f"{MODELS}/train_metrics.json",
    log:
        f"{RESULTS}/logs/train_model/{{fs}}/{{setting}}/seed{{seed}}.log",
    benchmark:
        benchmark("train_model", "{fs}", "{setting}", "seed{seed}")
    priority: 10
    # one cluster job with the evaluate job of the same model (never two models in one)
    group:
        "model-{fs}-{setting}-seed{seed}"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        setting=lambda w: config["models"][w.setting],
        network=config["network"],
    script:
        "../scripts/train_model.py"


rule train:
    # Named target: every grid model on all features, and the gradient-flow study's models.
    input:
        train_targets(),
