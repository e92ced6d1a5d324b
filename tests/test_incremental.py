"""Incremental reruns against the real engine: after a change, exactly the affected jobs rerun.

One full run of the default target on a small config (module fixture), then, for each change,
the exact set of jobs (rule and wildcards) that ``snakemake -n`` lists, compared with the set
written down here from what each job reads. Every scenario undoes its change afterwards.

The dry run names the default target AND every output file of the finished run (from
``--detailed-summary``): while the diagnose checkpoint is due to rerun, the report's inputs (an
input function behind the checkpoint) are unknown to a dry run, so the default target alone
would hide the jobs the run adds after the checkpoint (the remedy feature sets, EDA, studies).
``test_test_csv_change_reruns_only_test_side_jobs`` checks that prediction against a real run.

Rerun triggers (Snakemake 9 defaults: mtime, params, input, software-env, code), as measured here:

* data and library modules: rerun when the content changes. A touch alone (same content) does
  not rerun: the input is newer than the outputs, but its sha256 equals the one recorded
  (Snakemake records checksums of inputs up to 1 MB, ``--max-checksum-file-size``; a larger
  raw CSV that is only touched DOES rerun everything downstream).
* rule scripts (``workflow/scripts/*.py``, the ``script:`` directive): compared by mtime only,
  so a touch reruns the rule's jobs, and an edit that keeps an older mtime (``cp -p``) does not.
* params: only the config keys a job receives as ``params`` rerun it.
* software-env: environment.yml counts only with ``--sdm conda``; a plain run ignores it.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from conftest import run_snakemake, write_override
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)
from workflow_scratch import (
    GRID, RESULTS, SEEDS, STUDY_ONLY, TEST_CSV, TRAIN_CSV, describe, job, jobs, make_scratch,
    output_digests, parse_jobs, products, rule_counts, suspects,
)

pytestmark = pytest.mark.workflow

TRAIN = "train_model"  # the grid's training rule
EDA = "eda"
LIBRARY = "workflow/scripts/shortcut"


@dataclass
class Scratch:
    wf: Path
    args: list[str]
    targets: list[str]
    fs: list[str] = field(default_factory=list)  # "all" and the remedy's drop-<suspect> sets
    rules: set[str] = field(default_factory=set)
    digests: dict = field(default_factory=dict)

    def would_run(self):
        proc = run_snakemake(self.wf, *self.targets, "--dry-run", *self.args)
        return parse_jobs(proc.stdout + proc.stderr)

    def assert_reruns(self, expected: set, what: str = "") -> None:
        """The dry run lists exactly ``expected`` (each job once); else an AssertionError that
        names the missing and the unexpected jobs."""
        found = self.would_run()
        twice = [j for j, n in found.items() if n > 1]
        missing, extra = expected - set(found), set(found) - expected
        if missing or extra or twice:
            raise AssertionError(
                f"{what}: the dry run does not rerun exactly the affected jobs\n"
                f"affected but NOT rerun ({len(missing)}):\n{describe(missing)}\n"
                f"rerun but NOT affected ({len(extra)}):\n{describe(extra)}\n"
                f"listed twice: {twice}\nrerun per rule: {dict(rule_counts(found))}"
            )

    # -- the job sets, written from what each job reads ------------------------------------
    def report(self):
        return {job("report")} if "report" in self.rules else set()

    def train_all(self):
        return jobs(TRAIN, fs=self.fs, setting=GRID, seed=SEEDS) | jobs(TRAIN, fs="all", setting=STUDY_ONLY, seed=SEEDS[0])

    def evaluate(self, acts=GRID):
        """One evaluate job per model: it evaluates val, audit and confirm rows together."""
        return jobs("evaluate", fs=self.fs, setting=acts, seed=SEEDS)

    def after_evaluate(self):
        """collect of every feature set, the decomposition (reads the grid's predictions), the
        diagnosis and the label-free audit (both read collect of fs=all), the confirmation and the
        report."""
        return (jobs("collect", fs=self.fs) | {job("decompose"), job("diagnose"), job("confirm"), job("label_free")}
                | self.report())

    def after_verdict(self):
        """What reads the verdict: the confirmation of the remedy and the report."""
        return {job("diagnose"), job("confirm")} | self.report()

    def after_training(self):
        """Every model retrained: evaluations, collect, diagnosis, gradient flow, report."""
        return self.train_all() | self.evaluate() | self.after_evaluate() | {job("gradient_flow")}

    def after_features(self):
        """The encoded train/val features of every feature set changed."""
        return (
            jobs("fit_encoder", fs=self.fs) | jobs("apply_encoder", fs=self.fs) | self.after_training()
            | {job("shared_bias"), job("gradcheck"), job("shift_evidence")}
        )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Scratch:
    wf, args = make_scratch(tmp_path_factory.mktemp("incremental") / "wf")
    run_snakemake(wf, "--cores", "2", *args)
    s = Scratch(wf, args, ["all", *products(wf, args)])
    s.fs = ["all"] + [f"drop-{name}" for name in suspects(wf)]
    assert len(s.fs) > 1, "the small demo must have a suspect, so the remedy jobs are covered"
    s.rules = set(run_snakemake(wf, "--list-rules", *args).stdout.split())
    s.digests = output_digests(wf)
    return s


# -- changes, each undone on exit --------------------------------------------------------------

@contextmanager
def edited(path: Path, edit=None):
    """Change the file's content with ``edit`` (text -> text; None: touch only, same content),
    with an mtime newer than every output; restore content and mtime on exit."""
    stat, original = path.stat(), path.read_bytes()
    if edit is not None:
        path.write_text(edit(original.decode("utf-8")), encoding="utf-8")
    later = time.time_ns() + 1_000_000_000
    os.utime(path, ns=(later, later))
    try:
        yield
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def merged(base: dict, patch: dict) -> dict:
    out = dict(base)
    for key, value in patch.items():
        out[key] = merged(base.get(key) or {}, value) if isinstance(value, dict) else value
    return out


@contextmanager
def config_changed(s: Scratch, patch: dict):
    path = s.wf / s.args[-1]
    original = path.read_text()
    write_override(s.wf, merged(yaml.safe_load(original), patch), name=s.args[-1])
    try:
        yield
    finally:
        path.write_text(original)


def relabel_row(text: str, row: int = 3) -> str:
    """Move one data row of a CSV to another class (its label is the last field)."""
    lines = text.splitlines(keepends=True)
    head, label = lines[row].rstrip("\n").rsplit(",", 1)
    lines[row] = f"{head},{(int(float(label)) + 1) % 4}\n"
    return "".join(lines)


def comment_appended(text: str) -> str:
    return text + "\n# incremental test: a content change without any effect\n"


# -- the scenarios ------------------------------------------------------------------------------

def test_nothing_changed_nothing_to_do(scratch):
    scratch.assert_reruns(set(), "nothing changed")
    proc = run_snakemake(scratch.wf, "--dry-run", *scratch.args)
    assert "Nothing to be done" in proc.stdout + proc.stderr


# name: (change, the jobs that must rerun: exactly these)
FILE_SCENARIOS = {
    # The roles job resolves the column roles from the train CSV, and every job that reads them
    # (the test side's cleaning too) follows it: the roles may have changed with the file.
    "train CSV changed: the roles and everything downstream of them": (
        lambda s: edited(s.wf / TRAIN_CSV, relabel_row),
        lambda s: ({job("roles"), job("clean", source="train"), job("clean", source="test"), job("split_test"),
                    job("shift"), job(EDA)} | s.after_features()),
    ),
    "train CSV touched, same content: nothing (checksum matches)": (
        lambda s: edited(s.wf / TRAIN_CSV),
        lambda s: set(),
    ),
    "network module changed: training, evaluation, the evidence networks and what reads them": (
        lambda s: edited(s.wf / LIBRARY / "nn" / "network.py", comment_appended),
        lambda s: s.after_training() | {job("shared_bias"), job("gradcheck"), job("shift_evidence")},
    ),
    "conditional-shift module changed: the evidence and what reads it, no training": (
        lambda s: edited(s.wf / LIBRARY / "conditional.py", comment_appended),
        lambda s: {job("shift_evidence"), job("decompose")} | s.after_verdict(),
    ),
    "network module touched, same content: nothing (checksum matches)": (
        lambda s: edited(s.wf / LIBRARY / "nn" / "network.py"),
        lambda s: set(),
    ),
    "training rule script touched, same content: the grid reruns (scripts go by mtime)": (
        lambda s: edited(s.wf / "workflow/scripts/train_model.py"),
        lambda s: s.after_training(),
    ),
    "shared-bias study module changed: that study and the report": (
        lambda s: edited(s.wf / LIBRARY / "shared_bias.py", comment_appended),
        lambda s: {job("shared_bias")} | s.report(),
    ),
    "report package changed (one of its modules): the report only": (
        lambda s: edited(s.wf / LIBRARY / "report" / "render.py", comment_appended),
        lambda s: s.report(),
    ),
    "environment.yml changed: nothing without --sdm conda": (
        lambda s: edited(s.wf / "environment.yml", comment_appended),
        lambda s: set(),
    ),
}

CONFIG_SCENARIOS = {
    "ReLU learning rate: ReLU models of every feature set and their downstream, no sigmoid": (
        {"models": {"relu": {"lr": 0.01}}},
        lambda s: (jobs(TRAIN, fs=s.fs, setting="relu", seed=SEEDS) | s.evaluate(acts=["relu"])
                   | s.after_evaluate() | {job("gradient_flow")}),
    ),
    "diagnose setting: the diagnosis, the confirmation and the report, no training": (
        {"diagnose": {"min_test_rows": 31}},
        lambda s: s.after_verdict(),
    ),
    "marginal shift thresholds: shift, diagnosis, confirmation, report": (
        {"shift": {"thresholds": {"psi": 0.3}}},
        lambda s: {job("shift")} | s.after_verdict(),
    ),
    "conditional-shift threshold: the evidence and what reads it, no training": (
        {"shift": {"evidence": {"min_harm_share": 0.03}}},
        # the label-free audit reads it too (the material margin behind "labels needed")
        lambda s: {job("shift_evidence"), job("decompose"), job("label_free")} | s.after_verdict(),
    ),
    "reliance repeats: every evaluation, no training": (
        {"reliance": {"repeats": 3}},
        lambda s: s.evaluate() | s.after_evaluate(),
    ),
    "confirmation share of the test rows: the test side, no training": (
        {"split": {"confirm_fraction": 0.4}},
        lambda s: ({job("split_test"), job("shift"), job("shift_evidence")} | jobs("apply_encoder", fs=s.fs)
                   | s.evaluate() | s.after_evaluate()),
    ),
    "saliency steps: every evaluation, no training": (
        {"saliency": {"ig_steps": 4}},
        lambda s: s.evaluate() | s.after_evaluate(),
    ),
    "log1p: encoding and everything after it, and the EDA plots; cleaning and shift stay": (
        {"log1p": ["minimum_nights"]},
        lambda s: s.after_features() | {job(EDA)},
    ),
    "a roles key (the class order): the roles job and every job that reads the roles": (
        {"classes": [3, 2, 1, 0]},
        lambda s: ({job("roles"), job("clean", source="train"), job("clean", source="test"), job("split_test"),
                    job("shift"), job(EDA)} | s.after_features()),
    ),
    "class names (labels only): the EDA plots, the label-free answer's sentences and the report": (
        {"class_names": ["Cheap", "Mid", "High", "Top"]},
        lambda s: {job(EDA), job("label_free")} | s.report(),
    ),
    "holdout fraction with a test CSV given: nothing reads it": (
        {"split": {"test_fraction": 0.3}},
        lambda s: set(),
    ),
}


@pytest.mark.parametrize("name", list(FILE_SCENARIOS))
def test_file_change_reruns_exactly_the_affected_jobs(scratch, name):
    change, expected = FILE_SCENARIOS[name]
    with change(scratch):
        scratch.assert_reruns(expected(scratch), name)


@pytest.mark.parametrize("name", list(CONFIG_SCENARIOS))
def test_config_change_reruns_exactly_the_affected_jobs(scratch, name):
    patch, expected = CONFIG_SCENARIOS[name]
    with config_changed(scratch, patch):
        scratch.assert_reruns(expected(scratch), name)


def test_every_change_was_undone(scratch):
    """The scenarios above put content and mtimes back: nothing to do, outputs untouched."""
    scratch.assert_reruns(set(), "after undoing every change")
    assert output_digests(scratch.wf) == scratch.digests


def test_a_moved_workflow_directory_reruns_nothing(scratch, tmp_path):
    """Renaming or moving the checkout (results and .snakemake with it, mtimes kept) is no change:
    the library inputs are recorded relative to the working directory, not as absolute paths."""
    moved = tmp_path / "moved"
    shutil.copytree(scratch.wf, moved, symlinks=True)
    Scratch(moved, scratch.args, scratch.targets).assert_reruns(set(), "workflow directory moved")


def test_test_csv_change_reruns_only_test_side_jobs(scratch):
    """Only what reads the test rows: no training, no encoder fit (each model's evaluate job reruns:
    it evaluates the audit and confirmation rows, with the validation rows in the same job).
    The dry run's prediction is checked against a real run (which adds the jobs behind the
    checkpoint), after which there is nothing to do (the edited CSV is the new state)."""
    s = scratch
    expected = (
        {job("clean", source="test"), job("split_test"), job("shift"), job("shift_evidence"), job(EDA),
         job("label_free")}
        | jobs("apply_encoder", fs=s.fs) | s.evaluate() | s.after_evaluate()
    )
    path = s.wf / TEST_CSV
    path.write_text(relabel_row(path.read_text()))
    s.assert_reruns(expected, "test CSV changed")
    proc = run_snakemake(s.wf, "--cores", "2", *s.args)
    ran = parse_jobs(proc.stdout + proc.stderr)
    assert set(ran) == expected and max(ran.values()) == 1, (
        "test CSV changed: the real run differs from the dry run's prediction\n"
        f"predicted, not run:\n{describe(expected - set(ran))}\nrun, not predicted:\n{describe(set(ran) - expected)}"
    )
    s.assert_reruns(set(), "test CSV changed, rerun")
    # The bytes agree: test-side outputs changed, no model and nothing of train or val did.
    changed = {k for k, v in output_digests(s.wf).items() if s.digests.get(k) != v}
    train_side = [k for k in changed if "/models/" in k or "/val/" in k
                  or k.endswith(("/train.parquet", "/val.parquet", "/encoder.json"))]
    assert any("/audit/" in k for k in changed) and train_side == [], sorted(changed)


def test_jobs_import_the_library_of_their_own_workflow_copy(tmp_path):
    """The code Snakemake tracks is the code a job runs: a job imports ``shortcut`` from its own
    workflow, not from the checkout the environment installed (editable or not), which would
    come first on sys.path (site-packages) and make code-change reruns run stale code."""
    wf, args = make_scratch(tmp_path / "wf")
    marker = wf / LIBRARY / "__init__.py"
    marker.write_text(marker.read_text() + 'import sys as _s\nprint("shortcut library:", __file__, file=_s.stderr)\n')
    proc = run_snakemake(wf, f"{RESULTS}/features/all/encoder.json", "--cores", "2", *args)
    seen = {line.split(":", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("shortcut library:")}
    assert seen == {str(marker.resolve())}, seen


def test_a_dropped_library_dependency_is_detected(tmp_path):
    """Meta-test: make the computed library inputs of the training rule miss "network" in a copy
    (as a hand-written list that forgot an import would), and the network-module check above
    (same helper, same expectation) fails, naming the training job that no longer reruns."""
    wf, args = make_scratch(tmp_path / "wf")
    target = f"{RESULTS}/metrics/all/relu/seed0/val/metrics.json"
    s = Scratch(wf, args, [target])
    run_snakemake(wf, target, "--cores", "2", *args)
    expected = {job(TRAIN, fs="all", setting="relu", seed=0), job("evaluate", fs="all", setting="relu", seed=0)}
    network = wf / LIBRARY / "nn" / "network.py"
    with edited(network, comment_appended):
        s.assert_reruns(expected, "intact rule: network module changed")  # the control

    library = wf / "workflow/rules/library.py"
    text = library.read_text()
    anchor = "        # Plain paths relative to the working directory"
    assert anchor in text, "library.py's lib() changed: update this meta-test"
    library.write_text(text.replace(anchor, f'        if script == "{TRAIN}.py":\n            seen.discard("nn.network")\n{anchor}', 1))
    # Dropping an input is itself a change of the job's input set: it reruns once ...
    proc = run_snakemake(wf, target, "--dry-run", *args)
    assert "Set of input files has changed" in proc.stdout
    run_snakemake(wf, target, "--cores", "2", *args)
    s.assert_reruns(set(), "dependency dropped, rerun once")
    # ... after which a network change no longer retrains: the check catches it.
    with edited(network, comment_appended):
        with pytest.raises(AssertionError) as caught:
            s.assert_reruns(expected, "dropped dependency: network module changed")
    message = str(caught.value)
    missing = message.split("affected but NOT rerun (1):\n", 1)[1].split("\n", 1)[0]
    assert missing.strip() == f"{TRAIN}[fs=all, seed=0, setting=relu]", message


def test_library_inputs_cover_every_module_a_script_imports():
    """The computed inputs of each rule hold every library module its script loads when imported
    (checked in a fresh interpreter per script, scripts' own top-level imports only)."""
    import ast
    import subprocess
    import sys
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader

    from conftest import ROOT

    loader = SourceFileLoader("workflow_library", str(ROOT / "workflow/rules/library.py"))
    module = module_from_spec(spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    library = module.Library(str(ROOT / "workflow/scripts"))
    for script in sorted((ROOT / "workflow/scripts").glob("*.py")):
        # dotted module names under shortcut: "nn/network.py" -> "nn.network", "nn/__init__.py" -> "nn"
        relative = [os.path.relpath(p, ROOT / "workflow/scripts/shortcut")[:-3] for p in library.lib(script.name)]
        declared = {r.replace(os.sep, ".").removesuffix(".__init__") for r in relative}
        tree = ast.parse(script.read_text())
        imports = "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))
        code = (f"import sys; sys.path.insert(0, {str(ROOT / 'workflow/scripts')!r})\n{imports}\n"
                "print(' '.join(sorted(m.split('.', 1)[1] for m in sys.modules if m.startswith('shortcut.'))))")
        loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
                     .stdout.split())
        assert loaded <= declared, f"{script.name}: imports {sorted(loaded - declared)} not declared"
