"""Helpers for the tests that run snakemake on the local single-node SLURM cluster.

The cluster is the one `.ci/slurm/start.sh` starts (ClusterName=shortcut-ci, loopback only).
`SHORTCUT_SLURM` steers what the `slurm_cluster` fixture in test_slurm.py does:

* ``1``   the caller (CI) started the cluster; the tests fail if it does not answer.
* ``0``   never use nor start a cluster; the tests skip.
* unset   use the shortcut-ci cluster if it already answers, otherwise run start.sh and
          stop.sh afterwards; skip with start.sh's one-line reason when it cannot start one
          (not root, no apt).

Only the shortcut-ci cluster is used without SHORTCUT_SLURM=1, so a developer's `slurm-client`
configured for a real site never receives test jobs.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = REPO / ".ci" / "slurm" / "start.sh"
STOP = REPO / ".ci" / "slurm" / "stop.sh"
CLUSTER_NAME = "shortcut-ci"
UNAVAILABLE_RC = 3  # start.sh: "cannot provide a cluster here"

# Extra snakemake arguments for the CI cluster, on top of workflow/profiles/slurm (option
# names checked against snakemake-executor-plugin-slurm 2.8.0). The plugin polls squeue
# `init` seconds after a job finished and adds 10 s after every poll that found nothing
# finished; a job here lasts ~5 s (snakemake start-up inside srun), so an interval just
# above that costs one poll per DAG level. Keep 3 x init <= MinJobAge (300, slurm.conf.in).
CI_SNAKEMAKE_ARGS = [
    "--slurm-init-seconds-before-status-checks",
    "8",
    "--seconds-between-status-checks",
    "8",
    "--slurm-keep-successful-logs",
]

# A group job is named by a UUID, a single job by its number.
SUBMITTED_RE = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+)")
USABLE_STATES = {"idle", "mixed", "allocated", "completing"}


def _run(cmd: list[str], timeout: float = 5) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None


def cluster_name() -> str | None:
    """ClusterName reported by slurmctld, or None when no controller answers."""
    res = _run(["scontrol", "show", "config"])
    if res is None or res.returncode != 0:
        return None
    m = re.search(r"^ClusterName\s*=\s*(\S+)", res.stdout, re.MULTILINE)
    return m.group(1) if m else None


def node_ready() -> bool:
    """True when sinfo answers and at least one node can take jobs."""
    res = _run(["sinfo", "-h", "-N", "-o", "%T"])
    if res is None or res.returncode != 0:
        return False
    return any(s.strip() in USABLE_STATES for s in res.stdout.split())


def start_cluster() -> tuple[int, str]:
    """Run start.sh; return (exit code, output). Exit code 3 = unavailable here."""
    try:
        res = subprocess.run(
            ["bash", str(START)],
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        return 1, f"start.sh timed out: {exc}"
    return res.returncode, (res.stdout + res.stderr).strip()


def stop_cluster() -> None:
    subprocess.run(["bash", str(STOP)], capture_output=True, timeout=120, stdin=subprocess.DEVNULL)


def last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def clean_env(pythonpath: Path | None = None) -> dict[str, str]:
    """Environment for snakemake subprocesses: the venv first in PATH, no inherited SLURM
    job context (the plugin would strip it anyway), no user-level snakemake profile.

    PYTHONPATH, when given, goes before the editable install of the repository, so that the
    scripts of a scratch copy import that copy's library (jobs inherit it: sbatch --export=ALL).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_")) and k != "SNAKEMAKE_PROFILE"
    }
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "/usr/bin:/bin")])
    env.setdefault("HOME", "/root")
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return env


@dataclass
class RunResult:
    returncode: int
    output: str
    workdir: Path

    def submitted(self) -> dict[str, int]:
        """Snakemake job id (a group job's UUID) -> SLURM job id: one per sbatch call, from the
        plugin's log lines."""
        return {a: int(b) for a, b in SUBMITTED_RE.findall(self.output)}

    def diagnostics(self, tail: int = 80) -> str:
        parts = ["--- snakemake output (tail) ---", *self.output.splitlines()[-tail:]]
        logdir = self.workdir / ".snakemake" / "slurm_logs"
        if logdir.is_dir():
            for log in sorted(logdir.rglob("*.log"))[-6:]:
                parts.append(f"--- {log.relative_to(self.workdir)} (tail) ---")
                parts.extend(log.read_text(errors="replace").splitlines()[-25:])
        return "\n".join(parts)


def snakemake(
    workdir: Path, args: list[str], timeout: float = 300, pythonpath: Path | None = None
) -> RunResult:
    """Run `python -m snakemake ARGS` in WORKDIR with the interpreter running the tests.

    On timeout, snakemake gets SIGINT first so that it scancels its own jobs.
    """
    cmd = [sys.executable, "-m", "snakemake", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=workdir,
        env=clean_env(pythonpath),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        out = (out or "") + f"\n[test] snakemake killed after {timeout}s timeout"
        return RunResult(-1, out, workdir)
    return RunResult(proc.returncode, out, workdir)


def copy_workflow(dest: Path, names=("Snakefile", "workflow", "config")) -> Path:
    """Copy the pipeline sources (no results, caches or metadata) into DEST."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake", "results", "*.pyc")
    for name in names:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    return dest


def result_files(root: Path, ignore: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Relative path -> bytes for every file under ROOT, minus IGNORE glob patterns."""
    files = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        if any(fnmatch.fnmatch(rel, pat) for pat in ignore):
            continue
        files[rel] = p.read_bytes()
    return files


def diff_trees(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    """Human-readable differences between two result_files() maps (empty when identical)."""
    problems = []
    for rel in sorted(set(a) | set(b)):
        if rel not in a:
            problems.append(f"only in second run: {rel}")
        elif rel not in b:
            problems.append(f"only in first run: {rel}")
        elif a[rel] != b[rel]:
            problems.append(f"differs: {rel} ({len(a[rel])} vs {len(b[rel])} bytes)")
    return problems
