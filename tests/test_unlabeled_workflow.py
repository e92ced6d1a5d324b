"""End to end, through the real snakemake command: the seed's real data audited without test
labels (issue 22), each case with its expected headline fixed here.

Two scratch workflows, each trained once (a reduced grid: ``relu``, seed 0; no side study while
unlabelled), with the test file swapped between runs (only the test side reruns):

* with `amenity_score` (the seed's leak): the test labels removed -> `amenity_score` is an
  unconfirmed suspect, the expected accuracy is reported, the remedy's predictions differ;
  a leak whose distribution is unchanged (its test values drawn from the training values) -> no
  suspect, and the stated limit; then the labels added -> only the label-dependent jobs, the
  remedy's new evaluations and the report run (no training), and the labelled verdict confirms
  the suspect with the expected accuracy beside the measured one in the report.
* without `amenity_score`: the real test file -> no suspect; a changed class mix -> the class-mix
  answer; test rows of one room type -> the inputs answer.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import copy_workflow, run_snakemake, write_override
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)
from workflow_scratch import job, parse_jobs, products

pytestmark = pytest.mark.workflow

DATASET = "air"
RESULTS = f"results/{DATASET}"
TARGET = "price_class"
LEAK = "amenity_score"
CONFIG = {
    "dataset": DATASET, "demo": None, "data": {"train": "in/train.csv", "test": "in/test.csv"},
    "target": TARGET, "classes": [0, 1, 2, 3], "class_names": ["Budget", "Mid-range", "Premium", "Luxury"],
    "impute": {"categorical": "mode", "numeric": "median",
               "columns": [{"column": "number_of_reviews", "strategy": "constant", "value": 0}]},
    "log1p": ["minimum_nights", "number_of_reviews"],
    "grid": {"models": ["relu"], "seeds": [0]}, "diagnose": {"models": ["relu"]},
    "gradient_flow": {"models": []}, "shared_bias": {"epochs": 2}, "saliency": {"ig_steps": 4},
}


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_rows(path: Path, header: list[str], rows: list[list[str]], drop: tuple = ()) -> None:
    keep = [i for i, name in enumerate(header) if name not in drop]
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([header[i] for i in keep])
        out.writerows([[r[i] for i in keep] for r in rows])


def answer(wf: Path) -> dict:
    return json.loads((wf / RESULTS / "diagnosis/answer.json").read_text())


def setup(dest: Path, real_data: Path, leak: bool) -> tuple[Path, list[str]]:
    wf = copy_workflow(dest)
    (wf / "in").mkdir()
    header, rows = read_rows(real_data / "train.csv")
    write_rows(wf / "in/train.csv", header, rows, drop=() if leak else (LEAK,))
    numeric = ["minimum_nights", LEAK, "number_of_reviews", "availability_365"] if leak else \
        ["minimum_nights", "number_of_reviews", "availability_365"]
    config = {**CONFIG, "features": {"categorical": ["neighbourhood_group", "room_type"], "numeric": numeric}}
    return wf, write_override(wf, config)


def run_with(wf: Path, args: list[str], header, rows, drop=()) -> dict:
    write_rows(wf / "in/test.csv", header, rows, drop=(TARGET, *drop))
    proc = run_snakemake(wf, "--cores", "2", *args)
    return {"answer": answer(wf), "log": proc.stdout + proc.stderr,
            "summary": json.loads((wf / RESULTS / "label_free/summary.json").read_text()),
            "report": (wf / RESULTS / "report/report.md").read_text()}


@pytest.fixture(scope="module")
def with_leak(tmp_path_factory, real_data):
    """The seed data: unlabelled, then a leak with unchanged distribution, then unlabelled again and
    the labels added (the dry run of that step and the real run)."""
    wf, args = setup(tmp_path_factory.mktemp("unlabeled") / "wf", real_data, leak=True)
    header, rows = read_rows(real_data / "test.csv")
    out = {"unlabeled": run_with(wf, args, header, rows)}
    # the leak's test values redrawn from its training values: its distribution unchanged
    train_header, train_rows = read_rows(real_data / "train.csv")
    k, j = train_header.index(LEAK), header.index(LEAK)
    pool = [r[k] for r in train_rows if r[k].strip()]
    rng = np.random.default_rng(0)
    drawn = [[*r[:j], pool[rng.integers(len(pool))], *r[j + 1:]] for r in rows]
    out["permuted"] = run_with(wf, args, header, drawn)
    out["unlabeled_again"] = run_with(wf, args, header, rows)
    # the labels added: what the dry run says will run, then the run
    (wf / "in/test.csv").write_bytes((real_data / "test.csv").read_bytes())
    targets = ["all", *products(wf, args)]
    out["dry"] = parse_jobs(run_snakemake(wf, *targets, "--dry-run", *args).stdout)
    proc = run_snakemake(wf, "--cores", "2", *args)
    out["labeled"] = {"answer": answer(wf), "ran": parse_jobs(proc.stdout + proc.stderr),
                      "report": (wf / RESULTS / "report/report.md").read_text()}
    return out


@pytest.fixture(scope="module")
def without_leak(tmp_path_factory, real_data):
    """The seed data without `amenity_score`: the real test file, a changed class mix, one room type."""
    wf, args = setup(tmp_path_factory.mktemp("unlabeled_noleak") / "wf", real_data, leak=False)
    header, rows = read_rows(real_data / "test.csv")
    y = np.array([int(float(r[header.index(TARGET)])) for r in rows])
    rng = np.random.default_rng(1)
    mix = np.array([0.30, 0.40, 0.15, 0.15])
    picked = np.concatenate([rng.choice(np.flatnonzero(y == c), int(3000 * mix[c]), replace=False)
                             for c in range(4)])
    room = header.index("room_type")
    return {
        "real": run_with(wf, args, header, rows, drop=(LEAK,)),
        "mix": run_with(wf, args, header, [rows[i] for i in np.sort(picked)], drop=(LEAK,)),
        "room": run_with(wf, args, header, [r for r in rows if r[room] == "Private room"], drop=(LEAK,)),
    }


def no_shortcut_claim(a: dict) -> bool:
    return "no shortcut" in a["text"].lower()


def test_the_seed_data_without_test_labels_names_amenity_score_an_unconfirmed_suspect(with_leak):
    a = with_leak["unlabeled"]["answer"]
    assert a["kind"] == "suspect unconfirmed" and a["labeled"] is False, a["headline"]
    assert a["headline"].startswith("Suspect, unconfirmed without labels: `amenity_score` — the models rely on it "
                                    "and its distribution moved ("), a["headline"]
    assert a["label_free"]["suspects"] == [LEAK] and a["confirmed"] == [] and not no_shortcut_claim(a)
    # what labels would settle, and the remedy's predictions beside all features'
    assert a["label_free"]["labels_needed"][LEAK] >= 1
    assert a["label_free"]["predictions_differ"]["drop-amenity_score"] > 0
    # the expected accuracy, both ways, with the assumption said in words
    assert 0 < a["label_free"]["acc_expected_importance"] <= 1
    assert "assume P(Y | X) holds" in a["text"] and "Expected accuracy" in a["text"]
    report = with_leak["unlabeled"]["report"]
    assert "Expected accuracy on the new rows" in report and "cannot be seen" in report


def test_a_leak_whose_distribution_did_not_move_is_no_suspect_and_the_limit_is_said(with_leak):
    a = with_leak["permuted"]["answer"]
    assert a["label_free"]["suspects"] == [] and a["kind"] != "suspect unconfirmed", a["headline"]
    assert "a leak whose distribution did not move" in a["text"] and not no_shortcut_claim(a)


def test_without_the_leak_the_real_test_file_shows_no_suspect(without_leak):
    a = without_leak["real"]["answer"]
    assert a["label_free"]["suspects"] == [] and a["headline"] == "No sign of trouble in the inputs.", a["headline"]
    assert not no_shortcut_claim(a)


def test_without_the_leak_a_changed_class_mix_is_the_class_mix_answer(without_leak):
    a = without_leak["mix"]["answer"]
    assert a["kind"] == "class mix moved" and a["label_free"]["suspects"] == [], a["headline"]
    assert a["headline"].startswith("The class mix moved (") and \
        a["headline"].endswith("); no relied-on input moved beyond it.")
    mix = without_leak["mix"]["summary"]["class_mix"]
    assert mix["estimable"]
    # the short version of benchmarks/label_free_mix.py: the drawn rows' mix inside every interval
    drawn = [900 / 3000, 1200 / 3000, 450 / 3000, 450 / 3000]
    assert all(lo <= t <= hi for t, lo, hi in zip(drawn, mix["ci_low"], mix["ci_high"])), mix


def test_without_the_leak_one_room_type_is_the_inputs_answer(without_leak):
    a = without_leak["room"]["answer"]
    assert a["kind"] == "inputs moved" and a["label_free"]["suspects"] == [], a["headline"]
    assert a["headline"].startswith("Inputs unlike the training rows: the test rows are a selection on `room_type`")


def test_adding_the_labels_reruns_only_the_label_dependent_jobs_and_trains_nothing(with_leak):
    """The same test file with its labels: the test side, every grid evaluation (now on the test
    rows too), the labelled evidence and verdict, the label-free audit (its input, the cleaned test
    rows, was rewritten) and the report; not the side studies, which read the training file only
    and ran without labels. No encoder fit and no training: the remedy's models, trained for the
    label-free suspect, are the labelled verdict's remedy (its evaluation runs after the checkpoint)."""
    dry, ran = set(with_leak["dry"]), set(with_leak["labeled"]["ran"])
    label_dependent = {
        job("clean", source="test"), job("split_test"), job("apply_encoder", fs="all"),
        job("evaluate", fs="all", setting="relu", seed=0), job("collect", fs="all"), job("shift"),
        job("shift_evidence"), job("decompose"), job("diagnose"), job("confirm"), job("eda"), job("label_free"),
        job("report"),
    }
    assert dry == label_dependent, sorted(dry ^ label_dependent)
    remedy = {job("apply_encoder", fs="drop-amenity_score"), job("collect", fs="drop-amenity_score"),
              job("evaluate", fs="drop-amenity_score", setting="relu", seed=0)}
    assert ran == label_dependent | remedy, sorted(ran ^ (label_dependent | remedy))
    assert not {r for r, _ in ran} & {"train_model", "fit_encoder", "roles"}


def test_with_the_labels_the_verdict_confirms_and_the_report_sets_expected_beside_measured(with_leak):
    a = with_leak["labeled"]["answer"]
    assert a["kind"] == "shortcut" and a["confirmed"] == [LEAK], a["headline"]
    report = with_leak["labeled"]["report"]
    section = report[report.index("Without labels: expected against measured"):]
    assert "measured on every test row (labels)" in section and "expected by importance weighting" in section
    assert "Without the labels the audit named `amenity_score` as a suspect, unconfirmed" in section


def test_a_label_missing_in_some_rows_is_one_line_and_labels_missing_in_every_row_mean_no_labels(tmp_path):
    """Labelled or not is a property of the test file: a target column empty in some rows is a
    labelled file with a bad row (the clean job's one-line error names it); empty in every row,
    the file has no labels and the DAG is the label-free one."""
    from workflow_scratch import TEST_CSV, make_scratch

    wf, args = make_scratch(tmp_path / "wf")
    path = wf / TEST_CSV
    lines = path.read_text().splitlines()
    k = lines[0].split(",").index(TARGET)

    def blank(line: str) -> str:
        cells = line.split(",")
        cells[k] = ""
        return ",".join(cells)

    path.write_text("\n".join([lines[0], lines[1], blank(lines[2]), *lines[3:]]) + "\n")
    proc = run_snakemake(wf, "results/own/clean/test.parquet", "--cores", "1", *args, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"column '{TARGET}', row 2: label is missing" in out, out[-2000:]
    path.write_text("\n".join([lines[0], *[blank(line) for line in lines[1:]]]) + "\n")
    rules = {r for r, _ in parse_jobs(run_snakemake(wf, "--dry-run", *args).stdout)}
    assert {"label_free", "predict_unlabeled", "report"} <= rules and not rules & {"split_test", "confirm"}, rules
