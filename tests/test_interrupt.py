"""A run killed with SIGKILL mid-training leaves no truncated output under a final name, and
``--rerun-incomplete`` (after ``--unlock``) completes it to the bytes of an uninterrupted run.

What a user sees after the kill, measured on Snakemake 9:
1. plain rerun: IncompleteFilesException listing the outputs the killed jobs had already written
   (use --rerun-incomplete); when they had written none yet, LockException (use --unlock).
   (workflow/profiles/default sets ``rerun-incomplete: true``, but Snakemake looks for a default
   workflow profile in profiles/default beside the Snakefile, i.e. at the repository root, so
   that file is not read: a plain run does not use it.)
2. ``--rerun-incomplete``: LockException, the kill left snakemake's lock (use --unlock);
3. ``--unlock`` then ``--rerun-incomplete``: completes; the outputs equal an uninterrupted run's.
A SIGKILL between a writer's mkstemp and its rename leaves ``.<name>.XXXXXXXX.tmp`` (seen in
practice, e.g. ``.shift.csv.*.tmp``); the rerun's write of the same output removes it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import SNAKEMAKE, run_snakemake
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)
from workflow_scratch import RESULTS, make_scratch, output_digests

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    wf, args = make_scratch(tmp_path_factory.mktemp("uninterrupted") / "wf")
    run_snakemake(wf, "--cores", "2", *args)
    return output_digests(wf)


def running_training(wf: Path) -> list[Path]:
    """Model folders of training jobs that started (log written) and did not finish."""
    logs = wf / RESULTS / "logs/train_model"
    out = []
    for log in logs.rglob("*.log") if logs.is_dir() else []:
        fs, act, seed = log.relative_to(logs).with_suffix("").parts
        folder = wf / RESULTS / "models" / fs / act / seed
        if not (folder / "train_metrics.json").exists():  # the job's last output
            out.append(folder)
    return out


def assert_outputs_complete(results: Path) -> None:
    """Every parquet, npz and json under its final name reads in full."""
    counts = {".parquet": 0, ".npz": 0, ".json": 0}
    for path in results.rglob("*"):
        if path.suffix not in counts or path.name.startswith("."):
            continue
        if path.suffix == ".parquet":
            pq.read_table(path)
        elif path.suffix == ".npz":
            with np.load(path) as archive:
                for name in archive.files:
                    archive[name]
        else:
            json.loads(path.read_text())
        counts[path.suffix] += 1
    assert all(counts.values()), counts


def test_sigkill_mid_training_then_rerun_incomplete(tmp_path, reference):
    wf, args = make_scratch(tmp_path / "wf")
    with open(tmp_path / "killed_run.log", "w") as out:
        proc = subprocess.Popen(
            [*SNAKEMAKE, "--cores", "2", *args], cwd=wf, stdout=out, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"), start_new_session=True,
        )
        deadline = time.monotonic() + 300
        try:
            # Training has started: a model is written, and another training job is still running.
            while not (list((wf / RESULTS).glob("models/*/*/*/model.npz")) and running_training(wf)):
                assert proc.poll() is None, "the run ended before it could be killed mid-training"
                assert time.monotonic() < deadline, "training never started"
                time.sleep(0.01)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # snakemake and every job it started
            proc.wait()
    killed = running_training(wf)
    assert killed
    results = wf / "results"
    assert_outputs_complete(results)  # nothing truncated under a final name, right after the kill

    # A kill between a writer's mkstemp and its rename leaves the temporary file (too short a
    # window to hit on purpose): put one where the killed job writes its model.
    killed[0].mkdir(parents=True, exist_ok=True)
    stale = killed[0] / ".model.npz.killed00.tmp"
    stale.write_bytes(b"PK\x03\x04 truncated")

    # A plain rerun refuses: the outputs the killed jobs had already written are marked incomplete
    # (IncompleteFilesException); if they had written none yet, the stale lock stops it instead.
    plain = run_snakemake(wf, "--cores", "2", *args, check=False)
    said = plain.stdout + plain.stderr
    assert plain.returncode != 0, said
    assert ("IncompleteFilesException" in said and "--rerun-incomplete" in said) or (
        "LockException" in said and "--unlock" in said), said

    locked = run_snakemake(wf, "--cores", "2", "--rerun-incomplete", *args, check=False)
    said = locked.stdout + locked.stderr
    assert locked.returncode != 0 and "LockException" in said and "--unlock" in said, said

    run_snakemake(wf, "--unlock", *args)
    run_snakemake(wf, "--cores", "2", "--rerun-incomplete", *args)
    dry = run_snakemake(wf, "--dry-run", *args)
    assert "Nothing to be done" in dry.stdout + dry.stderr

    assert output_digests(wf) == reference
    assert_outputs_complete(results)
    assert sorted(results.rglob(".*.tmp")) == []


def test_a_write_removes_the_temporary_files_a_killed_write_of_the_same_file_left(tmp_path):
    from shortcut import files

    stale = [".model.npz.abcd_123.tmp", ".model.npz.k3j4h5g6.tmp"]  # mkstemp names of model.npz
    other = [".model.npz.abcd_1234.tmp", ".model.npz.gz.abcd1234.tmp", ".history.parquet.abcd1234.tmp",
             "model.npz.abcd1234.tmp"]
    for name in stale + other:
        (tmp_path / name).write_bytes(b"stale")
    files.save_npz(tmp_path / "model.npz", w=np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(other + ["model.npz"])
