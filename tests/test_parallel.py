"""Parallel runs: --cores 2 and --cores 1 give the same bytes; grid jobs declare their threads and
resources, and BLAS inside every job is limited to the job's threads."""

from __future__ import annotations

import re

import pytest

from conftest import ROOT, run_snakemake
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)
from workflow_scratch import DATASET, RESULTS, job_blocks, make_scratch, output_digests, resources

pytestmark = pytest.mark.workflow

GRID_RULES = ["train_model", "evaluate", "shared_bias", "shift_evidence"]  # the jobs that train or run saliency
RUNNER = "workflow/scripts/shortcut/job.py"
RUNNER_ANCHOR = '    log.info("rule %s %s", snakemake.rule, dict(snakemake.wildcards.items()))\n'
# Test-only instrumentation of a scratch copy's runner (the jobs import their own copy's library):
# the thread settings a job starts with, and the OpenBLAS thread count inside every training fit.
PROBE = '''\
    import os as _os
    from shortcut.nn import train as _train

    _fit = _train._fit

    def _probe_fit(*args, **kwargs):
        log.info("probe fit blas_threads=%s", _train.blas_threads())
        return _fit(*args, **kwargs)

    _train._fit = _probe_fit
    log.info("probe threads=%s OMP_NUM_THREADS=%s OPENBLAS_NUM_THREADS=%s blas_threads=%s", snakemake.threads,
             _os.environ.get("OMP_NUM_THREADS"), _os.environ.get("OPENBLAS_NUM_THREADS"), _train.blas_threads())
'''


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The default target from empty results, once with 2 cores and once with 1."""
    out = {}
    for cores in ("2", "1"):
        wf, args = make_scratch(tmp_path_factory.mktemp(f"cores{cores}") / "wf")
        runner = wf / RUNNER
        text = runner.read_text()
        assert RUNNER_ANCHOR in text, "job.run changed: update the probe of this test"
        runner.write_text(text.replace(RUNNER_ANCHOR, RUNNER_ANCHOR + PROBE))
        proc = run_snakemake(wf, "--cores", cores, *args)
        out[cores] = (wf, proc.stdout + proc.stderr)
    return out


def test_cores_2_and_cores_1_give_byte_identical_outputs(runs):
    two, one = (output_digests(runs[c][0]) for c in ("2", "1"))
    assert len(two) > 100 and f"{DATASET}/report/report.html" in two
    assert two.keys() == one.keys()
    assert [k for k in two if two[k] != one[k]] == []


def test_blas_threads_inside_every_job_equal_its_threads(runs):
    """Snakemake exports OMP/OPENBLAS_NUM_THREADS = threads to script jobs; OpenBLAS in the job
    runs with that many threads (1 on a 2-core machine, where its default would be 2), and the
    training fits limit it to the job's threads as well."""
    for cores, (wf, _) in runs.items():
        logs = sorted((wf / RESULTS / "logs").rglob("*.log"))
        assert len(logs) > 30
        fits = 0
        for log in logs:
            text = log.read_text()
            probe = re.search(r"probe threads=(\S+) OMP_NUM_THREADS=(\S+) OPENBLAS_NUM_THREADS=(\S+) "
                              r"blas_threads=(\S+)", text)
            assert probe, f"--cores {cores}: no probe line in {log}"
            threads = probe[1]
            assert probe.groups() == (threads,) * 4, f"--cores {cores}, {log}: {probe[0]}"
            in_fit = re.findall(r"probe fit blas_threads=(\S+)", text)
            assert set(in_fit) <= {threads}, f"--cores {cores}, {log}: {in_fit}"
            fits += len(in_fit)
            if "/train_model/" in log.as_posix() or log.name == "shared_bias.log":
                assert in_fit, f"--cores {cores}: {log} trained without the fit probe"
        assert fits >= 10


def rule_block(name: str) -> str:
    """Text of ``rule <name>:`` in workflow/rules/*.smk, up to the next top-level line."""
    for path in sorted((ROOT / "workflow/rules").glob("*.smk")):
        m = re.search(rf"^(?:rule|checkpoint) {name}:\n((?:[ \t]+.*\n|\n)*)", path.read_text(), re.M)
        if m:
            return m[1]
    raise AssertionError(f"rule {name} not found")


@pytest.mark.parametrize("rule", GRID_RULES)
def test_grid_rules_declare_threads_and_resources(rule, runs):
    block = rule_block(rule)
    assert re.search(r"^    threads: *\d+", block, re.M), f"rule {rule} declares no threads"
    declared = re.search(r"^    resources:\n((?:        .*\n)+)", block, re.M)
    assert declared and {"mem_mb", "runtime"} <= set(re.findall(r"(\w+)=", declared[1])), block
    # ... and the engine ran every job of it with those resources.
    listed = [fields for j, fields in job_blocks(runs["2"][1]) if j[0] == rule]
    assert listed, f"no {rule} job in the run"
    for fields in listed:
        res = resources(fields)
        assert int(res["mem_mb"]) > 0 and int(res["runtime"]) > 0, fields


def test_every_job_logs_its_peak_memory_within_what_it_declares(runs):
    """The job wrapper logs the kernel's count of the job's peak memory (every job's log has it);
    where a rule declares ``mem_mb`` (what a cluster reserves), the job stayed within it."""
    wf, output = runs["2"]
    logs = sorted((wf / RESULTS / "logs").rglob("*.log"))
    peak = {}
    for path in logs:
        found = re.findall(r"done in [0-9.]+ s, peak memory ([0-9]+) MB", path.read_text())
        assert found and 10 < int(found[-1]) < 24 * 1024, f"{path}: {found}"
        peak[path.relative_to(wf).as_posix()] = int(found[-1])
    assert len(logs) > 30
    checked = 0
    for job, fields in job_blocks(output):
        declared = resources(fields).get("mem_mb")
        log = fields.get("log", "").split(",")[0].strip()
        if declared and log in peak:
            assert peak[log] <= int(declared), (job, peak[log], declared)
            checked += 1
    assert checked > 10
