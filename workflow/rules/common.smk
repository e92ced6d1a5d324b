# Helpers shared by the workflow: config validation, paths, target lists (no rules in this file).
import json
import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")

validate(config, schema="../schemas/config.schema.yaml", set_default=True)

SCRIPTS = os.path.normpath(os.path.join(workflow.current_basedir, "..", "scripts"))
sys.path.insert(0, SCRIPTS)
# Jobs import the library of THIS workflow, not a copy installed from another checkout (which
# would shadow it from site-packages: Snakemake would rerun a job for a code change the job never
# sees). PYTHONPATH comes before site-packages in a job's Python. It is set here, not required
# from the user, so it is no `envvars:` entry.
_PYTHONPATH = [SCRIPTS, *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
os.environ.update(
    PYTHONPATH=os.pathsep.join(dict.fromkeys(p for p in _PYTHONPATH if p))
)
from shortcut.errors import DataError  # noqa: E402
from shortcut.spec import DatasetSpec  # noqa: E402

SPEC = DatasetSpec.from_config(config)
try:
    SPEC.check()
except DataError as exc:
    raise WorkflowError(str(exc)) from None

RESULTS = f"results/{config['dataset']}"
if config.get("demo") and config.get("data"):
    raise WorkflowError(
        "config: both 'demo' and 'data' are set; to run on your CSVs set 'demo: null' beside 'data'"
    )
if not config.get("demo") and not config.get("data"):
    raise WorkflowError(
        "config: set 'data.train' (and optionally 'data.test'), or 'demo' for synthetic data"
    )
# The demo CSVs are generated under results/, never at a user-given path: inputs are never outputs.
DATA = (
    {"train": f"{RESULTS}/raw/train.csv", "test": f"{RESULTS}/raw/test.csv"}
    if config.get("demo")
    else config["data"]
)
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


# val: validation split (train distribution); audit: the part of the test file every decision
# sees; confirm: the part held back to judge the remedy.
EVAL_SPLITS = ("val", "audit", "confirm")
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
LIBRARY = os.path.join(SCRIPTS, "shortcut")


def _module_file(name):
    """File of library module ``name`` (dotted, below ``shortcut``), or None if there is none."""
    base = os.path.join(LIBRARY, *name.split("."))
    for path in (f"{base}.py", os.path.join(base, "__init__.py")):
        if os.path.exists(path):
            return path
    return None


# (path, name) -> the modules it imports: each file is parsed once per workflow parse
_IMPORTS = {}


def _imports(path, name):
    """Library modules (dotted names below ``shortcut``) that the Python file ``path`` imports:
    ``shortcut.x`` from a script, relative imports inside the package, found by walking the syntax
    tree, so imports inside functions count too. ``name`` is the file's own module name (None for
    a rule script). Each file is parsed once per workflow parse (cached in ``_IMPORTS``), not once
    for every rule whose script imports it.
    """
    if (path, name) not in _IMPORTS:
        _IMPORTS[path, name] = _parse_imports(path, name)
    return _IMPORTS[path, name]


def _parse_imports(path, name):
    """``_imports`` without the cache."""
    import ast

    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), path)
    # The package a relative import of level 1 starts from.
    package = []
    if name is not None:
        package = name.split(".")
        if not path.endswith("__init__.py"):
            package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level and name is not None:
                start = package[: len(package) - (node.level - 1)]
                dotted = start + (node.module.split(".") if node.module else [])
            elif not node.level and (node.module or "").split(".")[0] == "shortcut":
                dotted = node.module.split(".")[1:]
            else:
                continue
            if dotted:
                found.add(".".join(dotted))
            # ``from package import name``: the name may itself be a module
            found.update(".".join([*dotted, alias.name]) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("shortcut."):
                    found.add(alias.name.split(".", 1)[1])
    # A module also runs the __init__ of every package above it.
    closed = set()
    for dotted in found:
        parts = dotted.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return frozenset(m for m in closed if _module_file(m))


def lib(script):
    """Library files the rule script ``script`` imports, directly or through other library
    modules (its import closure, computed when the workflow is parsed), declared as inputs so a
    code change reruns exactly the jobs that run that code."""
    todo = set(_imports(os.path.join(SCRIPTS, script), None))
    seen = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _imports(_module_file(name), name)
    # Plain paths relative to the working directory, not workflow.source_path: Snakemake records
    # a source-cache input under a per-run cache path, so its checksum never matched (a touched
    # but unchanged module reran every job) and a moved checkout changed every job's input set.
    files = {os.path.join(LIBRARY, "__init__.py")}
    files.update(_module_file(name) for name in seen)
    return [os.path.relpath(path) for path in sorted(files)]


def raw_csv(source):
    """Raw CSV a clean job reads. Without a test CSV, the test rows are held out of the train CSV."""
    test = DATA.get("test")
    return DATA["train"] if source == "train" or not test else test


def dataset_params(stage):
    """The config keys a data job reads: only these changing reruns it.

    Stages: "clean" (clean, shift: the CSV's encoding too), "encode" (fit_encoder), "eda"
    (eda: class names and log1p label and scale its plots), "predict" (reads new CSVs
    and names the predicted classes)."""
    keys = ["target", "classes", "features", "clean"]
    if stage == "encode":
        keys += ["impute", "log1p"]
    if stage in ("eda", "predict"):
        keys += ["class_names"]
    if stage == "eda":
        keys += ["log1p"]
    params = {key: config.get(key) for key in keys}
    if stage in ("clean", "predict"):
        # the encoding reads the CSVs; the paths are the jobs' inputs, not params
        params["data"] = {"encoding": SPEC.encoding}
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
            os.path.join(model_path(EVAL, key), "importance.csv")
            for key in evaluation_keys(fs)
        ]
    return [
        os.path.join(model_path(SALIENCY, key), f"{kind}.csv")
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
    """Feature sets of the remedy, from the diagnosis checkpoint: one drop-<unit> per suspect unit
    and, with two or more, one without all of them."""
    verdict = checkpoints.diagnose.get().output.verdict
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
            f"{RESULTS}/evaluation/{fs}/metrics_summary.csv"
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
