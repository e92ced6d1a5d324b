"""The answer for machines: answer.json's JSON Schema (workflow/schemas/answer.schema.json), its
version and plain-text fields, and the ``fail_on`` gate (shortcut.answer), as a unit and in a
real run that fails after the report is written."""

from __future__ import annotations

import json
import re

import pytest

from configs import small_demo
from conftest import ROOT, copy_workflow, run_snakemake, write_override
from shortcut import answer, remedy
from shortcut.errors import DataError
from shortcut.version import __version__
from test_remedy import frames, table
from workflow_scratch import _no_slurm_controller_probe  # noqa: F401 (autouse fixture)

SCHEMA = json.loads((ROOT / "workflow/schemas/answer.schema.json").read_text())


def verdict(kind: str, headline: str, suspects=()) -> dict:
    """diagnosis/shortcut.json as the confirm rule reads it (its answer as diagnose words it)."""
    remedies = {f"drop-{s}": [s] for s in suspects}
    return {"answer": {"kind": kind, "changes": ["covariate shift"], "headline": headline,
                       "sentences": ["Within each class the test inputs differ from the training rows."]},
            "suspects": list(suspects), "remedies": list(remedies), "remedy_members": remedies}


def outcome_answers() -> dict[str, dict]:
    """A final answer of each kind, as the confirm rule writes it: the three outcomes of a
    suspect's confirmation, and the two answers without a suspect."""
    helped, no_help, unsure = frames(2000, 200, 40), frames(4000, 40, 60), frames(300, 15, 14)
    suspect = verdict("shortcut", "Shortcut suspect: `score`.", ["score"])
    out = {}
    for kind, (all_preds, rem) in [("shortcut", helped), ("suspect not confirmed", no_help),
                                   ("suspect inconclusive", unsure)]:
        out[kind] = remedy.final_answer(suspect, table(all_preds, {"drop-score": rem}), version=__version__)
        assert out[kind]["kind"] == kind
    for kind, headline in [("insufficient evidence", "The model meets inputs unlike its training rows; 60 % of "
                                                     "the models' reliance could not be checked with these 240 "
                                                     "audit rows."),
                           ("no shortcut", "The model meets inputs unlike its training rows; no shortcut.")]:
        out[kind] = remedy.final_answer(verdict(kind, headline), table(helped[0], {}), has_test_file=False,
                                        version=__version__)
    out.update(label_free_answers())
    return out


def label_free_answers() -> dict[str, dict]:
    """A final answer of each label-free kind, as the predict_unlabeled rule writes it."""
    from shortcut import unlabeled

    out = {}
    for kind, headline, suspects in [
            ("suspect unconfirmed", "Suspect, unconfirmed without labels: `score` — the models rely on it and its "
                                    "distribution moved (…).", ["score"]),
            ("inputs moved", "Inputs unlike the training rows: the test rows are a selection on `region` (…).", []),
            ("class mix moved", "The class mix moved (…); no relied-on input moved beyond it.", []),
            ("no sign of trouble", "No sign of trouble in the inputs.", [])]:
        remedies = {f"drop-{s}": [s] for s in suspects}
        summary = {"answer": {"kind": kind, "headline": headline, "sentences": ["A.", "B.", unlabeled.LIMIT]},
                   "suspects": suspects, "selections": [], "remedies": list(remedies), "remedy_members": remedies,
                   "class_mix": {"moved": kind == "class mix moved", "estimable": True, "acc_expected": 0.8},
                   "inputs": {"moved": kind == "inputs moved"}, "expected": {"importance": {"acc": 0.81}},
                   "units": [{"unit": s, "suspect": True, "labels_needed": 49.0} for s in suspects],
                   "rules": {"suspect": "relied on and moved beyond the class mix, not a selection"}}
        out[kind] = unlabeled.final_answer(summary, {fs: {"rows": 100, "differ": 7} for fs in remedies},
                                           version=__version__)
    return out


ANSWERS = outcome_answers()
LABEL_FREE = {"labeled", "label_free"}  # the fields only an answer without test labels has


def test_the_schema_is_a_valid_draft_2020_12_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    kinds = set(SCHEMA["properties"]["kind"]["enum"])
    assert kinds == set(ANSWERS)
    assert {k for values in answer.FAIL_ON.values() for k in values} <= kinds
    assert all(str(p.get("description", "")).strip() for p in SCHEMA["properties"].values())


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_every_kind_of_answer_matches_the_schema(kind):
    a = ANSWERS[kind]
    answer.check(a, SCHEMA)
    assert a["version"] == __version__
    assert set(a) == set(SCHEMA["required"]) | (LABEL_FREE if a.get("labeled") is False else set())
    assert a.get("labeled") is not False or "no shortcut" not in a["text"].lower()


def test_the_plain_fields_are_the_markdown_ones_without_markup():
    a = ANSWERS["shortcut"]
    assert a["headline"] == "Shortcut: `score` (confirmed)."
    assert a["headline_plain"] == "Shortcut: score (confirmed)."
    assert len(a["sentences_plain"]) == len(a["sentences"]) and "`" in a["sentences"][0]
    for text in [a["headline_plain"], a["text_plain"], *a["sentences_plain"]]:
        assert "`" not in text and "**" not in text
    assert a["text_plain"] == " ".join([a["headline_plain"], *a["sentences_plain"]])
    assert answer.plain("**Shortcut**: `a_b` and `c*d`") == "Shortcut: a_b and c*d"


@pytest.mark.parametrize("broken, where", [
    (lambda a: a.pop("version"), "(top level): 'version' is a required property"),
    (lambda a: a.update(kind="maybe"), "at kind:"),
    (lambda a: a.update(extra=1), "Additional properties are not allowed"),
    (lambda a: a.update(confirmed=[]), "at confirmed:"),  # a shortcut names what it confirmed
    (lambda a: a["sentences_plain"].append(3), "at sentences_plain/"),
])
def test_an_answer_off_its_schema_fails_with_one_line(broken, where):
    a = json.loads(json.dumps(ANSWERS["shortcut"]))
    broken(a)
    with pytest.raises(DataError) as err:
        answer.check(a, SCHEMA, "results/x/diagnosis/answer.json")
    message = str(err.value)
    assert "\n" not in message and message.startswith("results/x/diagnosis/answer.json does not match its schema")
    assert where in message, message


@pytest.mark.parametrize("kind, fails_on", [
    ("shortcut", ["shortcut"]),
    ("suspect not confirmed", ["suspect not confirmed"]),
    ("suspect inconclusive", ["suspect not confirmed"]),
    ("insufficient evidence", ["insufficient evidence"]),
    ("no shortcut", []),
    ("suspect unconfirmed", ["suspect unconfirmed"]),
    ("inputs moved", []),
    ("class mix moved", []),
    ("no sign of trouble", []),
])
def test_the_gate_fails_on_the_listed_kinds_only(kind, fails_on):
    a = ANSWERS[kind]
    every = list(answer.FAIL_ON)
    assert answer.gate_failures(a, every) == fails_on
    assert answer.gate_failures(a, []) == []
    for value in every:
        assert answer.gate_failures(a, [value]) == ([value] if value in fails_on else [])


def test_the_gate_says_why_in_one_line():
    a = ANSWERS["shortcut"]
    line = answer.gate_reason(a, answer.gate_failures(a, ["insufficient evidence", "shortcut"]), "r/answer.json")
    assert line == "fail_on: shortcut — Shortcut: score (confirmed). (r/answer.json)"
    passed = answer.gate_passed(ANSWERS["no shortcut"], ["shortcut"])
    assert passed.startswith("pass: fail_on [shortcut] not met; the answer is no shortcut: The model meets")
    with pytest.raises(DataError, match="fail_on: unknown value 'shortcuts'"):
        answer.gate_failures(a, ["shortcuts"])


def test_the_config_schema_offers_exactly_the_gates_values():
    import yaml

    config_schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    entry = config_schema["properties"]["fail_on"]
    assert entry["default"] == [] and set(entry["items"]["enum"]) == set(answer.FAIL_ON)


# --- a real run: fail_on ends it non-zero after the report ------------------------------------

# A tiny demo run (as tests/test_module.py's): the planted shortcut is confirmed.
SMALL = small_demo("gate", gradient_flow={"models": []})


@pytest.mark.workflow
def test_fail_on_ends_the_run_non_zero_after_the_report(tmp_path):
    wf = copy_workflow(tmp_path / "wf")
    args = ["--cores", "2", *write_override(wf, SMALL)]
    results = wf / "results/gate"

    proc = run_snakemake(wf, *args, "--config", "fail_on=[shortcut]", check=False)
    out = proc.stdout + proc.stderr
    final = json.loads((results / "diagnosis/answer.json").read_text())
    answer.check(final, SCHEMA)
    assert final["kind"] == "shortcut", final["headline"]
    assert proc.returncode == 1, out[-3000:]
    assert (results / "report/report.html").is_file() and (results / "report/report.md").is_file()
    assert f"shortcut-audit {__version__}" in (results / "report/report.md").read_text()
    reason = ("fail_on: shortcut — " + final["headline_plain"] + " (results/gate/diagnosis/answer.json; "
              "report: results/gate/report/report.html)")
    assert len([line for line in out.splitlines() if reason in line]) >= 1, out[-3000:]
    assert re.search(r"^localrule gate:", out, re.M) and not (results / "diagnosis/gate.txt").exists()

    # a rerun checks again (nothing else to do), and fails the same way
    again = run_snakemake(wf, *args, "--config", "fail_on=[shortcut]", check=False)
    assert again.returncode == 1 and reason in again.stdout + again.stderr
    assert {r for r in re.findall(r"^(?:local)?rule (\w+):", again.stdout + again.stderr, re.M)} == {"gate"}

    # a gate the answer does not meet passes and writes its file; without fail_on nothing gates
    run_snakemake(wf, *args, "--config", "fail_on=[insufficient evidence]")
    assert (results / "diagnosis/gate.txt").read_text().startswith(
        "pass: fail_on [insufficient evidence] not met; the answer is shortcut:")
    plain = run_snakemake(wf, *args)
    assert plain.returncode == 0 and "gate" not in {
        r for r in re.findall(r"^(?:local)?rule (\w+):", plain.stdout + plain.stderr, re.M)}
