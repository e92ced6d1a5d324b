"""shortcut.table: the pandas-free tables of the evaluate jobs write what pandas would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shortcut import files
from shortcut.table import Table, csv_text


def mixed() -> Table:
    return Table({
        "text": np.array(["a", "b,c", 'say "hi"', "", None, "line\nbreak"], dtype=object),
        "x": np.array([1.5, np.nan, -0.0, 1e-7, 123456789.0, 2.0]),
        "i": np.arange(6) - 2,
        "flag": np.array([True, False, True, True, False, False]),
    })


@pytest.mark.parametrize("float_format", ["%.6g", "%.3e", "%.6f"])
def test_csv_text_is_the_text_pandas_writes(float_format):
    table = mixed()
    want = table.to_frame().to_csv(index=False, float_format=float_format, lineterminator="\n")
    assert csv_text(table, float_format) == want
    empty = Table({"a": np.array([], dtype=float), "b": np.array([], dtype=object)})
    assert csv_text(empty) == empty.to_frame().to_csv(index=False, lineterminator="\n")


def test_tables_stack_insert_and_refuse_ragged_columns():
    t = Table({"a": [1, 2]})
    t.insert(0, "method", "ig")
    t["b"] = np.array([0.5, 0.25])
    assert list(t.columns) == ["method", "a", "b"] and list(t["method"]) == ["ig", "ig"]
    both = Table.concat([t, t])
    assert len(both) == 4 and both["a"].tolist() == [1, 2, 1, 2]
    with pytest.raises(ValueError, match="length 3"):
        t["c"] = [1, 2, 3]
    with pytest.raises(ValueError, match="same columns"):
        Table.concat([t, Table({"a": [1]})])
    with pytest.raises(ValueError, match="already exists"):
        t.insert(0, "a", 1)
    records = [{"u": "x", "v": 1.0}, {"u": "y", "v": 2.0}]
    assert Table.from_records(records, ["u", "v"]).to_frame().equals(pd.DataFrame(records))


def test_a_table_written_as_parquet_reads_back_as_its_frame(tmp_path):
    table = mixed()
    files.write_parquet(table, tmp_path / "t.parquet")
    first = (tmp_path / "t.parquet").read_bytes()
    files.write_parquet(table, tmp_path / "t.parquet")
    assert (tmp_path / "t.parquet").read_bytes() == first
    pd.testing.assert_frame_equal(files.read_parquet(tmp_path / "t.parquet"), table.to_frame())
    files.write_csv(table, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == csv_text(table)


def test_an_empty_typed_table_keeps_its_columns_and_types(tmp_path):
    """A table with no rows (a feature set without a numeric feature has no numeric summary) is
    still written with its declared columns, text columns included, and reads back typed."""
    from shortcut.table import Schema

    schema = Schema("t", {"part": "string", "count": "int64", "share": "float64", "ok": "bool"})
    files.write_table(pd.DataFrame(columns=list(schema)), tmp_path / "t.parquet", schema)
    back = files.read_table(tmp_path / "t.parquet", schema)
    assert list(back.columns) == list(schema) and len(back) == 0
    assert [back[c].dtype for c in ("count", "share", "ok")] == [np.int64, np.float64, np.bool_]


def test_an_evaluate_job_never_imports_pandas(tmp_path):
    """What an evaluate job runs, from reading a split to writing every table, in a fresh
    interpreter: pandas (0.2 s to import) is never loaded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    pq.write_table(pa.table({"a": rng.normal(size=60).astype(np.float32), "b": rng.normal(size=60).astype(np.float32),
                             "target": rng.integers(0, 3, 60), "row": np.arange(60)}), tmp_path / "s.parquet")
    scripts = Path(files.__file__).resolve().parents[1]
    code = f"""
import sys
sys.path.insert(0, {str(scripts)!r})
from shortcut import files, metrics, nn, reliance, saliency
X, y, rows = files.read_encoded({str(tmp_path / 's.parquet')!r})
model = nn.MLP(2, [4], 3, "relu", seed=0)
proba = model.predict_proba(X)
imp = reliance.permutation_importance(model, X, y, ["a", "b"], [], repeats=2, seed=0, max_rows=40)
tables = saliency.saliency_tables(model, X, y, ["a", "b"], ["a", "b"], row_ids=rows, target="predicted",
                                  baseline=None, ig_steps=4, chunk_rows=100, max_rows=30, seed=0)
out = {str(tmp_path)!r}
files.write_parquet(metrics.predictions_table(rows, y, proba), out + "/p.parquet")
files.write_table(imp, out + "/i.parquet", reliance.IMPORTANCE_COLUMNS)
files.write_parquet(tables["rows"], out + "/r.parquet")
files.write_csv(tables["by_column"], out + "/c.csv")
files.write_table(tables["by_feature"], out + "/f.parquet", saliency.BY_FEATURE_COLUMNS)
assert "pandas" not in sys.modules, "pandas was imported"
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    from shortcut import reliance, saliency

    by_feature = files.read_table(tmp_path / "f.parquet", saliency.BY_FEATURE_COLUMNS)
    assert by_feature["method"].nunique() == 3 and by_feature["rank"].dtype == np.int64
    importance = files.read_table(tmp_path / "i.parquet", reliance.IMPORTANCE_COLUMNS)
    assert list(importance.columns) == list(reliance.IMPORTANCE_COLUMNS) and len(importance) == 4
