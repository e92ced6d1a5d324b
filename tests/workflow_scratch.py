"""Scratch workflow copies on their own CSVs with a small config, and what snakemake says it runs.

Shared by test_incremental.py, test_parallel.py and test_interrupt.py (no tests in this file).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from itertools import product
from pathlib import Path

import pytest

from conftest import ROOT, copy_workflow, write_override

DATASET = "own"
RESULTS = f"results/{DATASET}"
TRAIN_CSV, TEST_CSV = "in/train.csv", "in/test.csv"
GRID = ["relu", "sigmoid"]
SEEDS = [0, 1]
# Models trained on fs=all for the first seed only, for the gradient-flow study.
STUDY_ONLY = ["assignment-sigmoid", "assignment-relu"]


def demo_dataset_settings() -> dict:
    """The demo's dataset settings (its block of config/config.yaml) as the top-level keys of a
    config that names the demo's CSVs as its own data (with 'data' the demo block is not used)."""
    import yaml

    block = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["demo"]
    keys = {key: block[key] for key in ("target", "classes", "class_names", "features", "log1p")}
    return {**keys, "impute": {"columns": block["impute_columns"]}}


# The small demo: ~3000/800 rows, 2 seeds, a few epochs. A full run is ~40 jobs of ~1 s each.
SMALL = {
    "demo": None,
    **demo_dataset_settings(),
    "dataset": DATASET,
    "data": {"train": TRAIN_CSV, "test": TEST_CSV},
    "models": {
        "relu": {"epochs": 6, "patience": 0},
        "sigmoid": {"epochs": 6, "patience": 0},
        "assignment-sigmoid": {"epochs": 20},
        "assignment-relu": {"epochs": 20},
    },
    "grid": {"models": GRID, "seeds": SEEDS},
    "shared_bias": {"epochs": 4},
    "saliency": {"ig_steps": 8},
}


def make_scratch(dest: Path, overrides: dict | None = None) -> tuple[Path, list[str]]:
    """A copy of the workflow whose raw CSVs are files of its own (written by the demo generator),
    so a test can edit them; returns (workdir, the --configfile arguments of the small config)."""
    if str(ROOT / "workflow/scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "workflow/scripts"))
    from shortcut import demo

    wf = copy_workflow(dest)
    train, test = demo.generate(3000, 800, seed=7)
    (wf / "in").mkdir(exist_ok=True)
    (wf / TRAIN_CSV).write_text(demo.to_csv_text(train, integers=False))
    (wf / TEST_CSV).write_text(demo.to_csv_text(test, integers=True))
    return wf, write_override(wf, {**SMALL, **(overrides or {})})


# ----------------------------------------------------------------------------------------------
# Jobs as snakemake lists them: "rule X:" (dry run) or "localrule X:" (run), then indented lines,
# one of them "wildcards: a=1, b=2".

Job = tuple  # (rule, (("wildcard", "value"), ...)) with the wildcards sorted by name

# Indented: a job inside a group job (a dry run lists "Group job <id>:", then its jobs).
_HEADER = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (?P<rule>[A-Za-z_][\w-]*):$")
_FIELD = re.compile(r"^\s+(?P<key>[a-z_]+): (?P<value>.*)$")


def job(rule: str, **wildcards) -> Job:
    return (rule, tuple(sorted((k, str(v)) for k, v in wildcards.items())))


def jobs(rule: str, **wildcards) -> set[Job]:
    """Every job of ``rule`` over the product of the wildcard values (a scalar is one value)."""
    names = list(wildcards)
    values = [v if isinstance(v, (list, tuple, set)) else [v] for v in wildcards.values()]
    return {job(rule, **dict(zip(names, combo))) for combo in product(*values)}


def _pairs(value: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in value.split(", ") if "=" in item)


def job_blocks(text: str) -> list[tuple[Job, dict[str, str]]]:
    """(job, its indented fields: input, output, reason, wildcards, resources, ...) per listed job."""
    blocks: list[tuple[str, dict[str, str]]] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            blocks.append((header["rule"], {}))
        elif blocks and (m := _FIELD.match(line)) and m["key"] not in blocks[-1][1]:
            blocks[-1][1][m["key"]] = m["value"]
    return [(job(rule, **_pairs(fields.get("wildcards", ""))), fields) for rule, fields in blocks]


def parse_jobs(text: str, skip=("all", "default")) -> Counter:
    """Counter of the jobs listed in snakemake's output (target rules in ``skip`` left out)."""
    return Counter(j for j, _ in job_blocks(text) if j[0] not in skip)


def resources(fields: dict[str, str]) -> dict[str, str]:
    return _pairs(fields.get("resources", ""))


def rule_counts(found) -> Counter:
    return Counter(j[0] for j in (found.elements() if isinstance(found, Counter) else found))


def describe(found: set[Job]) -> str:
    return "\n".join(f"  {r}[{', '.join(f'{k}={v}' for k, v in w)}]" for r, w in sorted(found)) or "  (none)"


# ----------------------------------------------------------------------------------------------
# Outputs.

def strip_cost(text: str) -> str:
    """A report without its timing section (the only part of it that may differ between runs)."""
    return re.sub(r"<!-- cost:start -->.*?<!-- cost:end -->", "", text, flags=re.S)


def output_digests(workdir: Path) -> dict[str, str]:
    """sha256 of every file under results/, except logs and benchmarks (they carry times); the
    report pages are hashed without their cost section."""
    results = workdir / "results"
    out = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results).as_posix()
        if not path.is_file() or rel.split("/")[1] in ("logs", "benchmarks"):
            continue
        data = path.read_bytes()
        if path.name in ("report.html", "report.md"):
            data = strip_cost(data.decode("utf-8")).encode("utf-8")
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def products(workdir: Path, args: list[str]) -> list[str]:
    """Every output file of the workflow's current DAG (from ``--detailed-summary``)."""
    from conftest import run_snakemake

    proc = run_snakemake(workdir, "--detailed-summary", *args)
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows and rows[0][0] == "output_file", proc.stdout[:2000]
    return [row[0] for row in rows[1:] if row and row[0].startswith("results/")]


def suspects(workdir: Path) -> list[str]:
    return json.loads((workdir / RESULTS / "diagnosis/shortcut.json").read_text())["suspects"]


@pytest.fixture(scope="module", autouse=True)
def _no_slurm_controller_probe(tmp_path_factory):
    """Keep the SLURM executor plugin from stalling every snakemake call these local runs make.

    The plugin runs ``scontrol show config`` when snakemake starts (to pick its status command).
    With the SLURM client installed but no controller up (the test cluster of .ci/slurm is
    stopped), that call waits ~9 s, on every snakemake invocation. An empty SLURM config makes it
    fail at once; these tests never use SLURM. (With the cluster up it answers quickly anyway.)
    """
    empty = tmp_path_factory.mktemp("no-slurm") / "slurm.conf"
    empty.write_text("")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SLURM_CONF", str(empty))
        yield
