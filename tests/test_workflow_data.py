"""The data stage driven through the real snakemake command on a scratch copy of the workflow."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_snakemake, write_override

pytestmark = pytest.mark.workflow

SMALL_DEMO = {"demo": {"rows_train": 3000, "rows_test": 800, "seed": 7}}
DATA_TARGETS = ["results/demo/features/all/encoder.json", "results/demo/features/all/audit.parquet",
                "results/demo/eda/summary.csv"]


def digests(results: Path) -> dict[str, str]:
    """sha256 of every output file except logs and timing records (which carry times)."""
    out = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results).as_posix()
        if path.is_file() and not rel.split("/")[1] in ("logs", "benchmarks"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_data_stage_outputs_and_byte_identical_rerun(workflow_copy):
    run_snakemake(workflow_copy, *DATA_TARGETS, "--cores", "2", *write_override(workflow_copy, SMALL_DEMO))
    results = workflow_copy / "results"
    first = digests(results)
    for name in ["demo/clean/train.parquet", "demo/clean/train_cells.json", "demo/clean/test.parquet",
                 "demo/clean/audit.parquet", "demo/clean/confirm.parquet", "demo/clean/test_split.json",
                 "demo/features/all/train.parquet", "demo/features/all/val.parquet",
                 "demo/features/all/audit.parquet", "demo/features/all/confirm.parquet",
                 "demo/features/all/encoder.json",
                 "demo/eda/boxplots.png", "demo/eda/target_association.csv"]:
        assert name in first, name
    encoder = json.loads((results / "demo/features/all/encoder.json").read_text())
    assert encoder["split"]["n_train"] + encoder["split"]["n_val"] == 3000
    # outputs are readable like any file the user writes: 0666 masked by the umask (0644 under 022)
    mask = os.umask(0o022)
    os.umask(mask)
    modes = {p.relative_to(results).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in results.rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o666 & ~mask}, modes
    # the test rows, once, into two parts: stratified, seeded, half each by default
    split = json.loads((results / "demo/clean/test_split.json").read_text())
    assert split["audit"] + split["confirm"] == split["rows"] == 800 and abs(split["confirm"] - 400) <= 2
    shutil.rmtree(results)
    shutil.rmtree(workflow_copy / ".snakemake")
    run_snakemake(workflow_copy, *DATA_TARGETS, "--cores", "2", *write_override(workflow_copy, SMALL_DEMO))
    assert digests(results) == first


def _own_csvs(workflow_copy: Path, train_text: str, test_text: str) -> list[str]:
    (workflow_copy / "in").mkdir(exist_ok=True)
    (workflow_copy / "in/train.csv").write_text(train_text)
    (workflow_copy / "in/test.csv").write_text(test_text)
    from workflow_scratch import demo_dataset_settings  # the demo's CSVs as own data: its roles too

    return write_override(
        workflow_copy, {"demo": None, "dataset": "own", "data": {"train": "in/train.csv", "test": "in/test.csv"},
                        **demo_dataset_settings()}
    )


def test_bad_test_csv_fails_cleanly_and_keeps_train_results(workflow_copy):
    sys.path.insert(0, str(ROOT / "workflow/scripts"))
    from shortcut import demo

    train, test = demo.generate(3000, 800, seed=9)
    args = _own_csvs(workflow_copy, demo.to_csv_text(train, False), demo.to_csv_text(test, True))
    targets = ["results/own/features/all/audit.parquet"]
    run_snakemake(workflow_copy, *targets, "--cores", "2", *args)
    results = workflow_copy / "results/own"
    kept = {p: (results / p).read_bytes() for p in ["clean/train.parquet", "features/all/encoder.json"]}
    lines = (workflow_copy / "in/test.csv").read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 1)[0] + ",9"
    (workflow_copy / "in/test.csv").write_text("\n".join(lines) + "\n")
    proc = run_snakemake(workflow_copy, *targets, "--cores", "2", *args, check=False)
    assert proc.returncode != 0
    assert "in/test.csv: column 'price_class', row 5: label '9' is not one of the declared classes" in proc.stdout + proc.stderr
    assert not (results / "clean/test.parquet").exists()
    assert not list(results.rglob("*.tmp"))
    for path, content in kept.items():
        assert (results / path).read_bytes() == content


def test_unknown_config_key_stops_before_any_job(workflow_copy):
    args = write_override(workflow_copy, {"split": {"val_fraction": 0.2, "sedd": 3}})
    proc = run_snakemake(workflow_copy, "-n", *args, check=False)
    assert proc.returncode != 0
    assert "'sedd' was unexpected" in proc.stdout + proc.stderr
    assert not (workflow_copy / "results").exists()


def test_wrong_type_names_the_key(workflow_copy):
    proc = run_snakemake(workflow_copy, "-n", *write_override(workflow_copy, {"split": {"val_fraction": "big"}}), check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "val_fraction" in output and "'big' is not of type 'number'" in output


def test_class_names_yaml_reads_as_booleans_stop_with_the_quoted_fix(workflow_copy):
    (workflow_copy / "names.yaml").write_text("dataset: own\ndata: {train: x.csv}\ntarget: y\nclass_names: [No, Yes]\n")
    proc = run_snakemake(workflow_copy, "-n", "--configfile", "names.yaml", check=False)
    assert proc.returncode != 0
    assert ('config: class_names [False, True] were read by YAML as booleans; quote them, e.g. '
            'class_names: ["No", "Yes"]') in proc.stdout + proc.stderr


def test_demo_never_writes_outside_results(workflow_copy):
    """A merged config that names 'data' turns the demo off (its block in config/config.yaml is
    inherited but not used): the generator never writes the user's CSVs, and without a target
    the run stops before any job, asking for one."""
    proc = run_snakemake(workflow_copy, "-n", "--config", "data={'train': 'x.csv'}", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "config: set 'target'" in output
    (workflow_copy / "x.csv").write_text("a,y\n1,no\n2,yes\n")
    proc = run_snakemake(workflow_copy, "-n", "--config", "data={'train': 'x.csv'}", "target=y")
    output = proc.stdout + proc.stderr
    assert "'data' is set, so the demo is off" in output and "generate_demo" not in output
    assert "rule roles:" in output
    out = run_snakemake(workflow_copy, "-n", "--forceall", "--configfile", "config/airbnb.yaml", check=False)
    assert "generate_demo" not in out.stdout


def test_real_data_config_dry_run(workflow_copy, real_data):
    proc = run_snakemake(workflow_copy, "-n", "--configfile", "config/airbnb.yaml", "--config",
                         f"data={{'train': '{real_data}/train.csv', 'test': '{real_data}/test.csv'}}")
    assert "rule clean" in proc.stdout


def test_lint_is_clean(workflow_copy):
    proc = run_snakemake(workflow_copy, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_snakefmt_is_clean():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    files = [ROOT / "Snakefile", ROOT / "workflow/Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))]
    proc = subprocess.run([str(snakefmt), "--check", *map(str, files)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
