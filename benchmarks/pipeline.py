"""Pipeline benchmark: wall time of the whole workflow on a scratch copy, as users run it.

Measured, in one run, on a fresh copy of the workflow (nothing shared with the checkout's
results/ or .snakemake/):
* ``full``: ``snakemake --cores N`` from empty results (all seeds, both activations, remedy,
  studies, report);
* ``noop``: the same command again, with nothing to do;
* ``dry_run``: ``snakemake -n`` with nothing to do;
* ``test_csv_changed``: a rerun after one cell of the test CSV changes (only test-side jobs
  run), with the count of jobs it ran;
* per job of the full run: its wall time (Snakemake's ``benchmark:`` record) minus the work it
  measured itself (the job wrapper logs the time spent in the rule script's ``main``): the fixed
  cost of a job (Python start-up, Snakemake's script preamble, the script's module-level
  imports). Heavy libraries a job imports when it first uses them count as its work.

``--reference REV`` also runs the full and the nothing-to-do run of another commit of this
repository (``git archive``; default ``0.2.0``'s commit, the state before the per-job
overhead work) in the same run, on the same machine, and prints the ratios.
The reference in the same run is ``python -c "import snakemake"``-free: ``startup``, the time of
``snakemake --version``, so the figures can be read as multiples of the engine's own start-up.
It also records what makes a start wait for SLURM: whether the executor plugin is installed
(it runs ``scontrol show config`` at every start), where ``scontrol`` is and whether a
controller answers. Run it before and after ``make slurm-venv`` to compare.

    .venv/bin/python benchmarks/pipeline.py [--cores 2] [--repeats 3] [--configfile extra.yaml]

With ``--repeats N`` the full run of the reference and of the current workflow alternate N times,
each on a fresh copy, and the medians are compared (a shared machine's load swings between runs).
Results: benchmarks/out/pipeline.json (``--out``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from shortcut.files import write_json  # noqa: E402

COPY = ["Snakefile", "workflow", "config", "environment.yml"]


def scratch_copy(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def jobs_run(output: str) -> int:
    """Number of jobs a finished run executed, from Snakemake's 'N of M steps' lines."""
    done = re.findall(r"(\d+) of (\d+) steps", output)
    return int(done[-1][0]) if done else 0


def change_test_csv(workdir: Path, dataset: str) -> Path:
    """Change one numeric cell of the test CSV the workflow reads (the demo's generated file)."""
    path = workdir / "results" / dataset / "raw" / "test.csv"
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[2] = str(int(float(cells[2])) + 1)
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path


REFERENCE = "dc90429"  # 0.2.0: 71 jobs on the demo, one evaluate job per model and split


def reference_copy(rev: str, dest: Path) -> Path:
    """The workflow of commit ``rev`` of this repository, unpacked into ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, *COPY], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "x"], cwd=dest, input=archive, check=True)
    return dest


def job_overheads(results: Path) -> list[dict]:
    """Per job: wall seconds (benchmark TSV), seconds of measured work (its log's "done in") and
    their difference, paired by the path below ``benchmarks/`` and ``logs/``."""
    rows = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        rel = tsv.relative_to(results / "benchmarks").with_suffix("")
        log = results / "logs" / rel.with_suffix(".log")
        found = re.findall(r"done in ([0-9.]+) s", log.read_text()) if log.is_file() else []
        if not found:
            continue
        wall = float(tsv.read_text().splitlines()[-1].split("\t")[0])
        work = float(found[-1])
        rows.append({"job": str(rel), "rule": rel.parts[0], "wall": wall, "work": work, "overhead": wall - work})
    return rows


def run_workflow(work: Path, snakemake: list[str], cores: str, extra: list[str]) -> dict:
    full, log = timed([*snakemake, "--cores", cores, *extra], work)
    noop, log_noop = timed([*snakemake, "--cores", cores, *extra], work)
    return {"full": full, "noop": noop, "jobs": jobs_run(log), "noop_jobs": jobs_run(log_noop)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", default="2")
    parser.add_argument("--reference", default=REFERENCE,
                        help="commit to run in the same session for comparison ('' to skip)")
    parser.add_argument("--configfile", type=Path, help="extra config merged over config/config.yaml")
    parser.add_argument("--repeats", type=int, default=1,
                        help="full runs of each (reference and current alternating); medians are compared")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "pipeline.json")
    args = parser.parse_args(argv)

    snakemake = [sys.executable, "-m", "snakemake"]
    extra = ["--configfile", str(args.configfile.resolve())] if args.configfile else []
    import statistics

    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        reference, ref_fulls, fulls = None, [], []
        for r in range(args.repeats):  # reference and current alternate: both see the same load
            if args.reference:
                ref_work = reference_copy(args.reference, Path(tmp) / f"reference{r}")
                ref_run = run_workflow(ref_work, snakemake, args.cores, extra)
                ref_fulls.append(ref_run["full"])
                if reference is None:
                    reference = {"rev": args.reference, **ref_run}
                    ref_over = job_overheads(ref_work / "results" / "demo")
                    reference["median_job_overhead"] = (statistics.median(o["overhead"] for o in ref_over)
                                                        if ref_over else None)
                shutil.rmtree(ref_work)
            work = scratch_copy(Path(tmp) / f"current{r}")
            if r == 0:
                startup, _ = timed([*snakemake, "--version"], work)
            seconds, log_run = timed([*snakemake, "--cores", args.cores, *extra], work)
            fulls.append(seconds)
            if r == 0:
                log, first = log_run, work
            else:
                shutil.rmtree(work)
        work = first
        full = statistics.median(fulls)
        if reference is not None:
            reference["full_runs"], reference["full"] = ref_fulls, statistics.median(ref_fulls)
        n_full = jobs_run(log)
        overheads = job_overheads(work / "results" / "demo")
        noop, log_noop = timed([*snakemake, "--cores", args.cores, *extra], work)
        dry, _ = timed([*snakemake, "-n", *extra], work)
        change_test_csv(work, "demo")
        changed, log_changed = timed([*snakemake, "--cores", args.cores, *extra], work)
    slurm = slurm_setting()
    per_rule: dict[str, list[float]] = {}
    for r in overheads:
        per_rule.setdefault(r["rule"], []).append(r["overhead"])
    result = {
        "cores": args.cores,
        "slurm": slurm,
        "full_runs": fulls,
        "seconds": {"startup": startup, "full": full, "noop": noop, "dry_run": dry, "test_csv_changed": changed},
        "jobs": {"full": n_full, "noop": jobs_run(log_noop), "test_csv_changed": jobs_run(log_changed)},
        "over_startup": {k: v / startup for k, v in
                         {"full": full, "noop": noop, "dry_run": dry, "test_csv_changed": changed}.items()},
        "job_overhead": {"median": statistics.median(r["overhead"] for r in overheads) if overheads else None,
                         "jobs_measured": len(overheads),
                         "median_by_rule": {k: statistics.median(v) for k, v in sorted(per_rule.items())}},
        "reference": reference,
        "targets": {"full_over_reference": 0.6, "noop_seconds": 2, "median_job_overhead": 0.4},
    }
    write_json(args.out, result)
    for name, seconds in result["seconds"].items():
        print(f"{name:<18} {seconds:8.2f} s  ({seconds / startup:5.1f} x startup)")
    print(f"jobs: full {n_full}, nothing-to-do {result['jobs']['noop']}, "
          f"after test CSV change {result['jobs']['test_csv_changed']}")
    if overheads:
        print(f"job overhead (wall - measured work): median {result['job_overhead']['median']:.3f} s over "
              f"{len(overheads)} jobs; by rule: " + ", ".join(
                  f"{k} {v:.2f}" for k, v in result["job_overhead"]["median_by_rule"].items()))
    if reference:
        print(f"full runs: now {', '.join(f'{x:.2f}' for x in fulls)} s; reference "
              f"{', '.join(f'{x:.2f}' for x in reference['full_runs'])} s (medians compared)")
        print(f"reference {reference['rev']}: full {reference['full']:.2f} s ({reference['jobs']} jobs), "
              f"nothing-to-do {reference['noop']:.2f} s; now/reference: full {full / reference['full']:.2f}, "
              f"jobs {n_full}/{reference['jobs']}"
              + (f"; reference median job overhead {reference['median_job_overhead']:.3f} s"
                 if reference["median_job_overhead"] is not None else ""))
    print(f"nothing-to-do rerun {noop:.2f} s with the SLURM executor plugin "
          f"{'installed' if slurm['plugin_installed'] else 'not installed'}; scontrol "
          f"{slurm['scontrol'] or 'not on PATH'}; SLURM_CONF {slurm['slurm_conf'] or 'unset'}; "
          f"a SLURM controller {'answers' if slurm['controller_answers'] else 'does not answer'}")
    return result


def slurm_setting() -> dict:
    """What decides whether a snakemake start waits for SLURM: the executor plugin runs
    `scontrol show config` when it is installed, which blocks ~9 s where the client tools exist
    but no controller answers."""
    import importlib.util
    import os

    scontrol = shutil.which("scontrol")
    answers = False
    if scontrol:
        try:
            answers = subprocess.run([scontrol, "ping"], capture_output=True, text=True,
                                     timeout=15).returncode == 0
        except subprocess.TimeoutExpired:
            answers = False
    return {"plugin_installed": importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None,
            "scontrol": scontrol, "slurm_conf": os.environ.get("SLURM_CONF"), "controller_answers": answers}


if __name__ == "__main__":
    main()
