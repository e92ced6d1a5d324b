# Helpers shared by the workflow: config validation, paths, target lists (no rules in this file).
import json
import os
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader

from snakemake.logging import logger
from snakemake.utils import min_version, validate

min_version("9.0")

for _where in (config, config.get("demo") or {}):
    if any(isinstance(name, bool) for name in _where.get("class_names") or []):
        # unquoted no/yes (on/off, true/false, y/n) are booleans to YAML: one line with the fix
        _spelled = [
            ("Yes" if n else "No") if isinstance(n, bool) else n
            for n in _where["class_names"]
        ]
        _quoted = ", ".join(f'"{n}"' for n in _spelled)
        raise WorkflowError(
            f"config: class_names {_where['class_names']} were read by YAML as booleans; "
            f"quote them, e.g. class_names: [{_quoted}]"
        )

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

# The library (scripts/shortcut) on this process's and the jobs' path, and lib(script): the
# library files a rule script imports, declared as its inputs. rules/library.py does both; it is
# read through Snakemake's source cache, so a module from gitfile() or github() loads it too.
_loader = SourceFileLoader("shortcut_audit_library", workflow.source_path("library.py"))
_library = module_from_spec(spec_from_loader(_loader.name, _loader))
_loader.exec_module(_library)
LIBRARY = _library.setup(workflow.current_basedir, workflow.sourcecache)
lib = LIBRARY.lib
from shortcut.spec import DEMO_ENCODING  # noqa: E402

RESULTS = f"results/{config['dataset']}"
if not config.get("demo") and not config.get("data"):
    raise WorkflowError(
        "config: set 'data.train' (and optionally 'data.test') and 'target', or 'demo' for synthetic data"
    )
if config.get("demo") and config.get("data"):
    # a user's config merged over config/config.yaml inherits its demo block: data wins
    logger.info("config: 'data' is set, so the demo is off (its settings are not used)")
# The demo's dataset settings (target, classes, class names, features, impute columns, log1p)
# live in its block of config/config.yaml and apply only when the demo runs: a config with
# 'data' never inherits another dataset's column or class names.
DEMO = None if config.get("data") else config["demo"]


def dataset_setting(key):
    """A dataset key as the run uses it: the config's, else (the demo running) the demo block's."""
    given = config.get(key)
    if key == "impute":
        columns = given["columns"] or (DEMO or {}).get("impute_columns") or []
        return {**given, "columns": columns}
    if given not in (None, [], {}) and not (
        key == "features" and not any(given.values())
    ):
        return given
    return None if DEMO is None else DEMO.get(key)


if not dataset_setting("target"):
    raise WorkflowError(
        "config: set 'target', the name of the label column of the training CSV"
    )
# The demo CSVs are generated under results/, never at a user-given path: inputs are never outputs.
DATA = (
    {"train": f"{RESULTS}/raw/train.csv", "test": f"{RESULTS}/raw/test.csv"}
    if DEMO
    else config["data"]
)
ENCODING = config["data"]["encoding"] if config.get("data") else DEMO_ENCODING
# The column roles (target, classes, features, left-out columns), resolved once by the roles
# job from the training CSV and read by every job that needs them.
ROLES = f"{RESULTS}/config.yaml"
MODELS = f"{RESULTS}/models/{{fs}}/{{setting}}/seed{{seed}}"
EVAL = f"{RESULTS}/metrics/{{fs}}/{{setting}}/seed{{seed}}/{{split}}"
SALIENCY = f"{RESULTS}/saliency/{{fs}}/{{setting}}/seed{{seed}}/{{split}}"
BENCHMARKS = f"{RESULTS}/benchmarks"
FIRST_SEED = config["grid"]["seeds"][0]


def benchmark(rule, *parts):
    """Benchmark file of a job of ``rule``: ``benchmarks/<rule>.tsv``, or with parts (one per
    wildcard) ``benchmarks/<rule>/<part>/.../<part>.tsv``. Every rule's ``benchmark:`` names its
    file with wildcard patterns (``benchmark("collect", "{fs}")``); the report lists the files of
    the jobs behind it with their values (``benchmark("collect", "all")``)."""
    return f"{os.path.join(BENCHMARKS, rule, *parts)}.tsv"


def model_path(template, key):
    """``template`` (MODELS, EVAL or SALIENCY) for one key of ``evaluation_keys``."""
    return template.format(
        fs=key["fs"], setting=key["setting"], seed=key["seed"], split=key.get("split")
    )


def test_file_labeled():
    """Whether the test file has labels, read at parse time (the DAG differs without them):
    ``shortcut.files.has_labels`` (no target column, or every cell of it empty: no labels; a
    column empty in some rows only is labelled, and the clean job names the first empty row). The
    demo and a run without a test file (held-out training rows) are always labelled."""
    path = DATA.get("test")
    if DEMO or not path:
        return True
    from shortcut.files import has_labels

    return has_labels(path, dataset_setting("target"), ENCODING)


TEST_LABELED = test_file_labeled()
if not TEST_LABELED:
    logger.info(
        f"test file {DATA['test']}: no '{dataset_setting('target')}' labels, so it is audited "
        "without labels (label_free); give the labels to run the labelled audit"
    )

# val: validation split (train distribution); audit: the part of the test file every decision
# sees; confirm: the part held back to judge the remedy. Without test labels only validation:
# every test row is label-free audit material (the label_free rule).
EVAL_SPLITS = ("val", "audit", "confirm") if TEST_LABELED else ("val",)
for _name in (
    config["grid"]["models"]
    + config["gradient_flow"]["models"]
    + [n for n in [config["predict"]["model"]] if n]
):
    if _name not in config["models"]:
        raise WorkflowError(
            f"config: model setting '{_name}' is used but not defined under 'models'"
        )


CONDA_ENV = "../../environment.yml"


def raw_csv(source):
    """Raw CSV a clean job reads. Without a test CSV, the test rows are held out of the train CSV."""
    test = DATA.get("test")
    return DATA["train"] if source == "train" or not test else test


def roles_params():
    """The config keys the roles job reads (given ones are kept, the others inferred): changing
    one of them, or the training CSV, reruns it and every job that reads the roles."""
    return {
        "target": dataset_setting("target"),
        "classes": dataset_setting("classes"),
        "features": dataset_setting("features"),
    }


def dataset_params(stage):
    """The dataset settings a job reads beside the roles file: only these changing reruns it.

    Stages: "clean" (clean, shift: the CSV's encoding too), "encode" (fit_encoder: impute and
    log1p), "eda" (class names and log1p label and scale its plots), "predict" (reads new CSVs
    and names the predicted classes)."""
    keys = ["clean"]
    if stage == "encode":
        keys += ["impute", "log1p"]
    if stage in ("eda", "predict"):
        keys += ["class_names"]
    if stage == "eda":
        keys += ["log1p"]
    params = {
        key: config[key] if key == "clean" else dataset_setting(key) for key in keys
    }
    if stage in ("clean", "predict"):
        # the encoding reads the CSVs; the paths are the jobs' inputs, not params
        params["data"] = {"encoding": ENCODING}
    return params


def split_params():
    """The train/validation split of fit_encoder (test_fraction is the holdout's, not read here)."""
    return {
        key: config["split"].get(key) for key in ("val_fraction", "stratify", "seed")
    }


def test_split_params():
    """The audit/confirmation split of the test rows."""
    return {
        "fraction": config["split"]["confirm_fraction"],
        "stratify": config["split"]["stratify"],
        "seed": config["split"]["seed"],
    }


def holdout_params():
    """Holdout of test rows from the train CSV, used only when no test CSV is configured."""
    if DATA.get("test"):
        return None
    return {
        "fraction": config["split"]["test_fraction"],
        "seed": config["split"]["seed"],
    }


def evaluation_keys(fs, with_train=False):
    """(fs, setting, seed, split) of every evaluation of the grid on one feature set, in a fixed order.
    ``setting`` names the model setting (the column of that name in every per-model table); paths
    take it as the ``setting`` wildcard (see ``model_path``).

    The train split's metrics come from the training job; val and test from evaluate jobs.
    """
    splits = (["train"] if with_train else []) + list(EVAL_SPLITS)
    return [
        {"fs": fs, "setting": setting, "seed": seed, "split": split}
        for setting in config["grid"]["models"]
        for seed in config["grid"]["seeds"]
        for split in splits
    ]


def evaluation_files(fs, kind):
    """Metrics (train split included) or saliency summaries of the grid on one feature set."""
    if kind == "metrics":
        paths = []
        for key in evaluation_keys(fs, with_train=True):
            if key["split"] == "train":
                paths.append(
                    os.path.join(model_path(MODELS, key), "train_metrics.json")
                )
            else:
                paths.append(os.path.join(model_path(EVAL, key), "metrics.json"))
        return paths
    if kind == "predictions":
        return [
            os.path.join(model_path(EVAL, key), "predictions.parquet")
            for key in evaluation_keys(fs)
        ]
    if kind == "importance":
        return [
            os.path.join(model_path(EVAL, key), "importance.parquet")
            for key in evaluation_keys(fs)
        ]
    return [
        os.path.join(model_path(SALIENCY, key), f"{kind}.parquet")
        for key in evaluation_keys(fs)
    ]


def grid_predictions(fs, split):
    """Predictions of every grid model of one feature set on one split, in evaluation_keys order."""
    return [
        os.path.join(model_path(EVAL, key), "predictions.parquet")
        for key in evaluation_keys(fs)
        if key["split"] == split
    ]


def grid_keys():
    return [
        {"setting": setting, "seed": seed}
        for setting in config["grid"]["models"]
        for seed in config["grid"]["seeds"]
    ]


def diagnose_params():
    cfg = dict(config["diagnose"])
    cfg["models"] = cfg.get("models") or config["grid"]["models"]
    return cfg


def remedy_feature_sets():
    """Feature sets of the remedy, from the diagnosis checkpoint (without test labels: the
    label_free checkpoint, whose remedies are named alike, so the labelled run reuses their
    models): one drop-<unit> per suspect unit and, with two or more, one without all of them.
    """
    verdict = (
        checkpoints.diagnose.get().output.verdict
        if TEST_LABELED
        else checkpoints.label_free.get().output.summary
    )
    with open(verdict) as fh:
        return json.load(fh)["remedies"]


PREDICT = config["predict"]
PREDICT_SETTING = PREDICT["model"] or config["grid"]["models"][0]


def predict_inputs(wildcards):
    """New rows, the answer, and the encoder and grid models (one setting, every seed) of each
    feature set the prediction may use: the one chosen in the config, or with `auto` all
    features and every remedy (the script picks a confirmed one from answer.json, and among
    several the one with the best test (audit) accuracy, from each set's metric summary).
    """
    if wildcards.name not in PREDICT["files"]:
        raise WorkflowError(
            f"predictions '{wildcards.name}': not a file named under predict.files in the config"
        )
    chosen = PREDICT["feature_set"]
    sets = ["all", *remedy_feature_sets()] if chosen == "auto" else [chosen]
    return {
        "csv": PREDICT["files"][wildcards.name],
        "answer": f"{RESULTS}/diagnosis/answer.json",
        # with `auto`: each remedy's grid metrics (the audit split ranks the confirmed ones)
        "audit": [
            f"{RESULTS}/evaluation/{fs}/metrics_summary.parquet"
            for fs in sets
            if chosen == "auto" and fs != "all"
        ],
        "encoders": [f"{RESULTS}/features/{fs}/encoder.json" for fs in sets],
        "models": [
            os.path.join(
                MODELS.format(fs=fs, setting=PREDICT_SETTING, seed=seed), "model.npz"
            )
            for fs in sets
            for seed in config["grid"]["seeds"]
        ],
    }


def prediction_targets():
    return [
        f"{RESULTS}/predictions/{name}.{ext}"
        for name in PREDICT["files"]
        for ext in ("parquet", "csv")
    ]


def confirm_inputs(wildcards):
    """Confirmation-split predictions of the grid on all features and on every remedy set."""
    return {
        "all": grid_predictions("all", "confirm"),
        "remedy": [
            p for fs in remedy_feature_sets() for p in grid_predictions(fs, "confirm")
        ],
    }


def train_targets():
    models = expand(
        os.path.join(MODELS, "model.npz"),
        fs="all",
        setting=config["grid"]["models"],
        seed=config["grid"]["seeds"],
    )
    studies = expand(
        os.path.join(MODELS, "model.npz"),
        fs="all",
        setting=config["gradient_flow"]["models"],
        seed=FIRST_SEED,
    )
    return sorted(set(models + studies))


# The audit without test labels (rules/unlabeled.smk).
def label_free_params():
    """The config keys the label-free audit reads (shortcut.unlabeled.LabelFreeSettings)."""
    return {
        "shift": {
            "seed": config["shift"]["seed"],
            "domain": {
                k: config["shift"]["domain"][k]
                for k in ("l2", "folds", "min_auc", "min_train_rows")
            },
            "thresholds": {"label_tv": config["shift"]["thresholds"]["label_tv"]},
            "evidence": {
                k: config["shift"]["evidence"][k]
                for k in ("n_boot", "alpha", "min_harm_share", "margin_break_share")
            },
        },
        "diagnose": {"min_feature_auc": config["diagnose"]["min_feature_auc"]},
        "unlabeled": config["unlabeled"],
    }


def unlabeled_predict_inputs(wildcards):
    """The encoder and grid models (the predict setting, every seed) of all features and of
    every label-free suspect's remedy."""
    sets = ["all", *remedy_feature_sets()]
    return {
        "encoders": [f"{RESULTS}/features/{fs}/encoder.json" for fs in sets],
        "models": [
            os.path.join(
                MODELS.format(fs=fs, setting=PREDICT_SETTING, seed=seed), "model.npz"
            )
            for fs in sets
            for seed in config["grid"]["seeds"]
        ],
    }


# (a folder of its own: predictions/<name> are the predict rule's)
UNLABELED_PREDICTIONS = f"{RESULTS}/predictions/unlabeled/test"


def unlabeled_targets():
    """What a run without test labels ends with (nothing with labels): the predictions, the
    answer, and the side studies of the labelled report (report_studies, report_inputs.smk).
    Those read the training file only; run now, adding the labels later trains no model (the
    gradient-flow study trains its own settings' models)."""
    if TEST_LABELED:
        return []
    return [
        f"{UNLABELED_PREDICTIONS}.parquet",
        f"{UNLABELED_PREDICTIONS}.csv",
        f"{RESULTS}/diagnosis/answer.json",
        *report_studies().values(),
    ]
