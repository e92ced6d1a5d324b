"""Shared fixtures: the repository root, the real data (when present), scratch workflow copies."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = (ROOT / ".." / "shared" / "data" / "airbnb").resolve()
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
WORKFLOW_FILES = ["Snakefile", "workflow", "config", "environment.yml"]


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not (REAL_DATA / "train.csv").is_file():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA


def copy_workflow(dest: Path) -> Path:
    """A scratch copy of the workflow (no results, no .snakemake) to run the real engine in."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the real snakemake command in ``workdir``; output captured, failure shown in full."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [*SNAKEMAKE, *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    return copy_workflow(tmp_path / "wf")


def write_override(workdir: Path, overrides: dict, name: str = "override.yaml") -> list[str]:
    """A config file merged over config/config.yaml (``--config`` would turn nested numbers into text)."""
    import yaml

    path = workdir / name
    path.write_text(yaml.safe_dump(overrides, sort_keys=False))
    return ["--configfile", name]
