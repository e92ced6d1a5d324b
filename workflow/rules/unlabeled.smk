# The audit without test labels (shortcut/unlabeled.py): the label-free evidence, a checkpoint
# whose suspects name the remedy feature sets; with labels it still runs, so the report sets the
# expected accuracy beside the measured one. Without labels: predictions for the test rows from
# all features and every suspect's remedy, the answer, and the label-free report.


checkpoint label_free:
    # Every test row, its labels (if any) never read: the class mix from predictions, each
    # relied-on unit's input shift beyond it, support, expected accuracy, labels needed.
    input:
        lib("label_free.py"),
        train=f"{RESULTS}/features/all/train.parquet",
        val=f"{RESULTS}/features/all/val.parquet",
        encoder=f"{RESULTS}/features/all/encoder.json",
        test=f"{RESULTS}/clean/test.parquet",
        train_cells=f"{RESULTS}/clean/train_cells.json",
        importance=f"{RESULTS}/evaluation/all/importance.parquet",
        models=[
            os.path.join(model_path(MODELS, key), "model.npz")
            for key in evaluation_keys("all")
            if key["split"] == "val"
        ],
        roles=ROLES,
    output:
        summary=f"{RESULTS}/label_free/summary.json",
        units=f"{RESULTS}/label_free/units.parquet",
        units_csv=f"{RESULTS}/label_free/units.csv",
        class_mix=f"{RESULTS}/label_free/class_mix.parquet",
        class_mix_csv=f"{RESULTS}/label_free/class_mix.csv",
    log:
        f"{RESULTS}/logs/label_free.log",
    benchmark:
        benchmark("label_free")
    priority: 10
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        settings=label_free_params(),
        models=diagnose_params()["models"],
        reliance=config["reliance"],
        class_names=dataset_setting("class_names"),
    script:
        "../scripts/label_free.py"


if not TEST_LABELED:

    # without labels the answer is this rule's (the confirm rule's needs the labelled verdict)
    ruleorder: predict_unlabeled > confirm

    rule predict_unlabeled:
        # The test rows' predicted classes from all features and from every suspect's remedy,
        # the rows where they differ, and the final answer (diagnosis/answer.json).
        input:
            unpack(unlabeled_predict_inputs),
            lib("predict_unlabeled.py"),
            summary=f"{RESULTS}/label_free/summary.json",
            test=f"{RESULTS}/clean/test.parquet",
            roles=ROLES,
        output:
            parquet=f"{UNLABELED_PREDICTIONS}.parquet",
            csv=f"{UNLABELED_PREDICTIONS}.csv",
            answer=f"{RESULTS}/diagnosis/answer.json",
        log:
            f"{RESULTS}/logs/predict_unlabeled.log",
        benchmark:
            benchmark("predict_unlabeled")
        priority: 10
        conda:
            CONDA_ENV
        params:
            dataset=dataset_params("predict"),
            setting=PREDICT_SETTING,
            seeds=config["grid"]["seeds"],
            model_template=lambda wildcards: os.path.join(MODELS, "model.npz"),
            answer_schema=ANSWER_SCHEMA,
        script:
            "../scripts/predict_unlabeled.py"

    rule report:
        # The report without labels: the label-free answer and evidence, the predictions.
        input:
            lib("report_unlabeled.py"),
            summary=f"{RESULTS}/label_free/summary.json",
            units=f"{RESULTS}/label_free/units.parquet",
            class_mix=f"{RESULTS}/label_free/class_mix.parquet",
            answer=f"{RESULTS}/diagnosis/answer.json",
            metrics=f"{RESULTS}/evaluation/all/metrics_summary.parquet",
            roles=ROLES,
        output:
            html=f"{RESULTS}/report/report.html",
            md=f"{RESULTS}/report/report.md",
        log:
            f"{RESULTS}/logs/report.log",
        benchmark:
            benchmark("report")
        conda:
            CONDA_ENV
        params:
            dataset=config["dataset"],
            class_names=dataset_setting("class_names"),
        script:
            "../scripts/report_unlabeled.py"
