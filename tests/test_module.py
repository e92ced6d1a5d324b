"""The workflow as a Snakemake module of another project, run from that project's own directory
(outside the checkout), and the .test config the workflow catalog's CI convention runs."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import ROOT, run_snakemake
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)
from workflow_scratch import parse_jobs

pytestmark = pytest.mark.workflow

SMALL = {
    "dataset": "mod",
    "demo": {"rows_train": 2000, "rows_test": 600, "seed": 7},
    "target": "price_class",
    "classes": [0, 1, 2, 3],
    "class_names": ["Budget", "Mid-range", "Premium", "Luxury"],
    "features": {"categorical": ["neighbourhood_group", "room_type"],
                 "numeric": ["minimum_nights", "amenity_score", "number_of_reviews", "availability_365"]},
    "models": {"relu": {"activation": "relu", "lr": 0.003, "epochs": 5, "patience": 0}},
    "grid": {"models": ["relu"], "seeds": [0]},
    "shared_bias": {"epochs": 2},
    "saliency": {"ig_steps": 4},
}


def test_another_project_uses_the_workflow_as_a_module(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.yaml").write_text(yaml.safe_dump(SMALL, sort_keys=False))
    (project / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n\n'
        "module audit:\n"
        f'    snakefile:\n        "{ROOT / "workflow" / "Snakefile"}"\n'
        "    config:\n        config\n\n\n"
        "use rule * from audit as audit_*\n"
    )
    proc = run_snakemake(project, "--cores", "2")
    ran = {rule for rule, _ in parse_jobs(proc.stdout + proc.stderr)}
    assert {"audit_train_model", "audit_shift_evidence", "audit_diagnose", "audit_confirm", "audit_report"} <= ran
    results = project / "results" / "mod"
    answer = json.loads((results / "diagnosis/answer.json").read_text())
    assert answer["headline"].startswith("Shortcut") or answer["headline"].startswith("No shortcut")
    assert (results / "report/report.html").is_file()
    # every output lives in the project; the checkout only lent its code
    assert not (ROOT / "results" / "mod").exists() and not (ROOT / ".snakemake" / "mod").exists()
    assert "Nothing to be done" in run_snakemake(project, "--cores", "2", "-n").stdout


def test_the_test_config_runs_from_the_checkout_with_directory_dot_test(tmp_path):
    """`snakemake --directory .test` (what the workflow catalog's CI runs): the workflow's
    configfile is then .test/config/config.yaml; a dry run lists the whole pipeline."""
    from conftest import copy_workflow

    import shutil

    wf = copy_workflow(tmp_path / "wf")
    # the config only: a run in the checkout (.ci/run makes one) leaves results under .test/
    (wf / ".test/config").mkdir(parents=True)
    shutil.copy2(ROOT / ".test/config/config.yaml", wf / ".test/config/config.yaml")
    proc = run_snakemake(wf, "-n", "--directory", ".test")
    jobs = parse_jobs(proc.stdout + proc.stderr)
    assert {"generate_demo", "train_model", "shift_evidence", "diagnose", "report"} <= {r for r, _ in jobs}
    assert "results/test/" in proc.stdout
