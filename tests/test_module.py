"""The workflow as a Snakemake module of another project, run from that project's own directory
(outside the checkout), from a local path and from a git source, and the .test config the
workflow catalog's CI convention runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import pytest
import yaml

from configs import small_demo
from conftest import ROOT, copy_workflow, run_snakemake
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)
from workflow_scratch import job_blocks, parse_jobs, products

pytestmark = pytest.mark.workflow

SMALL = small_demo("mod")


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


# ----------------------------------------------------------------------------------------------
# From a git source: gitfile() on a tagged local repository, github() from a pre-filled clone.

# Where a git source's scripts and library are copied in the project (rules/library.py: COPY).
COPY = ".snakemake/shortcut-audit/scripts"
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (ROOT / "workflow/scripts/shortcut/version.py").read_text())[1]
MARKER = 'import sys as _s\nprint("shortcut library:", __file__, file=_s.stderr)\n'


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.invalid",
                    "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
                   check=True, capture_output=True, text=True)


def tagged_repository(path: Path, tag: str) -> Path:
    """A git repository of the checkout's workflow files as they are in the working tree, whose
    library says where it is imported from (one stderr line per import), committed and tagged."""
    copy_workflow(path)
    (path / ".gitignore").write_text("__pycache__/\n*.egg-info/\n")
    init = path / "workflow/scripts/shortcut/__init__.py"
    init.write_text(init.read_text() + MARKER)
    git(path, "init", "--quiet")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "--message", "the workflow")
    git(path, "tag", tag)
    return path


def module_project(path: Path, snakefile: str) -> Path:
    """A project whose Snakefile uses the workflow as a module from ``snakefile`` (an expression)."""
    path.mkdir(exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(SMALL, sort_keys=False))
    (path / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n\n'
        f"module audit:\n    snakefile:\n        {snakefile}\n    config:\n        config\n\n\n"
        "use rule * from audit as audit_*\n"
    )
    return path


def importers(repo: Path, library_file: str) -> set[str]:
    """The rules (``audit_<rule>``) whose script imports ``library_file`` (a path below
    workflow/scripts), by the repository's own import closure (``lib()``)."""
    loader = SourceFileLoader("repo_library", str(repo / "workflow/rules/library.py"))
    module = module_from_spec(spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    library = module.Library(str(repo / "workflow/scripts"))
    target = os.path.abspath(repo / "workflow/scripts" / library_file)
    found = set()
    for smk in sorted((repo / "workflow/rules").glob("*.smk")):
        rule = None
        lines = smk.read_text().splitlines()
        for i, line in enumerate(lines):
            if m := re.match(r"\s*(?:rule|checkpoint) (\w+):", line):
                rule = m[1]
            elif line.strip() == "script:" and rule:
                script = re.search(r'"\.\./scripts/([\w.]+)"', lines[i + 1])[1]
                if target in {os.path.abspath(p) for p in library.lib(script)}:
                    found.add(f"audit_{rule}")
    return found


def test_a_gitfile_module_runs_and_a_library_change_reruns_only_its_importers(tmp_path):
    """gitfile() with a tag, run for real from another directory: the jobs import the library
    copied at that tag into the project. A new tag that changes one library file reruns the jobs
    whose scripts import it, for that file; every other job listed only follows their outputs,
    and no other job (no training) reruns."""
    repo = tagged_repository(tmp_path / "repo", f"v{VERSION}")
    project = module_project(tmp_path / "project",
                             f'gitfile("{repo}", path="workflow/Snakefile", tag="v{VERSION}")')
    proc = run_snakemake(project, "--cores", "2")
    ran = set(parse_jobs(proc.stdout + proc.stderr))
    assert {"audit_train_model", "audit_shift_evidence", "audit_diagnose", "audit_report"} <= {r for r, _ in ran}
    assert (project / "results/mod/report/report.html").is_file()
    # (parallel jobs' lines may interleave)
    imported = {Path(p).resolve() for p in re.findall(r"shortcut library: (\S+?/__init__\.py)", proc.stderr)}
    assert imported == {(project / COPY / "shortcut/__init__.py").resolve()}, imported
    assert "Nothing to be done" in run_snakemake(project, "-n").stdout
    # Every output as a target: behind the diagnosis checkpoint, the default target alone would
    # hide the remedy's jobs from a dry run (see tests/test_incremental.py).
    targets = products(project, [])

    changed = "shortcut/reliance.py"
    with open(repo / "workflow/scripts" / changed, "a") as fh:
        fh.write("# a change in the next release\n")
    git(repo, "commit", "--quiet", "--all", "--message", "change one library file")
    git(repo, "tag", "next")
    module_project(project, f'gitfile("{repo}", path="workflow/Snakefile", tag="next")')
    proc = run_snakemake(project, "-n", *targets)
    reasons = {j: dict(part.split(": ", 1) for part in fields["reason"].split("; "))
               for j, fields in job_blocks(proc.stdout + proc.stderr)}
    direct = {j for j, why in reasons.items() if "Updated input files" in why}
    expected = {j for j in ran if j[0] in importers(repo, changed)}
    # Every importer reruns; one that also follows a rerun job upstream is listed for that reason
    # only (Snakemake checks a job's own inputs only when nothing upstream reruns).
    assert direct and direct <= expected <= set(reasons), (sorted(direct), sorted(expected))
    for j, why in reasons.items():
        # no other reason: no changed input set, code or params
        assert set(why) <= {"Updated input files", "Input files updated by another job"}, (j, why)
        assert why.get("Updated input files", f"{COPY}/{changed}") == f"{COPY}/{changed}", (j, why)
        assert j in expected or set(why) == {"Input files updated by another job"}, (j, why)
    assert not any(j[0] == "audit_train_model" for j in reasons)


def test_a_github_module_takes_the_same_path(tmp_path, monkeypatch):
    """github() with a tag, offline: Snakemake's clone of the repository is put where its source
    cache keeps it, so nothing is fetched. The library is copied from that clone at the tag, the
    jobs' library inputs are the copies, and a job runs."""
    repo = tagged_repository(tmp_path / "repo", f"v{VERSION}")
    cache = tmp_path / "cache"
    clones = cache / "snakemake/snakemake/source-cache/snakemake-git-cache/github.com/owner"
    clones.mkdir(parents=True)
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(clones / "shortcut-audit")], check=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    project = module_project(tmp_path / "project",
                             f'github("owner/shortcut-audit", path="workflow/Snakefile", tag="v{VERSION}")')
    proc = run_snakemake(project, "-n")
    listed = dict(job_blocks(proc.stdout + proc.stderr))
    assert {"audit_train_model", "audit_diagnose", "audit_report"} <= {r for r, _ in listed}
    (clean,) = [f for j, f in listed.items() if j == ("audit_clean", (("source", "train"),))]
    assert f"{COPY}/shortcut/__init__.py" in clean["input"] and "workflow/scripts" not in clean["input"]
    proc = run_snakemake(project, "--cores", "1", "results/mod/raw/train.csv")
    assert (project / "results/mod/raw/train.csv").is_file()
    assert f"{project / COPY}/shortcut/__init__.py" in proc.stderr
