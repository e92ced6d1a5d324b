"""Atomic, deterministic output (shortcut.files): complete files only, modes like any file the user
writes."""

from __future__ import annotations

import os
import stat

import pytest

from shortcut import files


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask):
        os.umask(mask)

    yield set_mask
    os.umask(old)


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_get_the_mode_the_umask_gives(tmp_path, umask, mask, mode):
    umask(mask)
    for name, write in [("a.json", lambda p: files.write_json(p, {"x": 1})),
                        ("b.txt", lambda p: files.write_text(p, "text")),
                        ("b2.txt", lambda p: files.write_text_chunks(p, iter(["te", "xt"]))),
                        ("c.csv", lambda p: files.write_csv(__import__("pandas").DataFrame({"x": [1]}), p))]:
        write(tmp_path / name)
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    # a plain open() under the same umask agrees
    with open(tmp_path / "plain", "w") as fh:
        fh.write("x")
    assert stat.S_IMODE((tmp_path / "plain").stat().st_mode) == mode


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    files.write_text(target, "old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_temporaries_of_a_killed_write_are_removed_by_the_next(tmp_path):
    target = tmp_path / "out.txt"
    stale = tmp_path / ".out.txt.abcd1234.tmp"
    stale.write_text("left by SIGKILL")
    other = tmp_path / ".other.txt.abcd1234.tmp"
    other.write_text("someone else's")
    files.write_text(target, "new")
    assert not stale.exists() and other.exists() and target.read_text() == "new"


def test_text_written_in_chunks_is_the_joined_text_and_atomic(tmp_path):
    target = tmp_path / "out.csv"
    files.write_text_chunks(target, (f"{i},caf\u00e9\n" for i in range(1000)))
    assert target.read_text(encoding="utf-8") == "".join(f"{i},caf\u00e9\n" for i in range(1000))

    def broken():
        yield "half"
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        files.write_text_chunks(target, broken())
    assert target.read_text(encoding="utf-8").startswith("0,caf") and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_parquet_written_a_row_group_at_a_time_is_the_same_file(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=1000).astype(np.float32), "n": np.arange(1000),
                          "s": pd.Series(rng.choice(["a", "b", None], 1000), dtype="str")})
    files.write_parquet(frame, tmp_path / "whole.parquet", metadata={"k": 1})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**table.schema.metadata, b"shortcut_audit": files.to_json_text({"k": 1}).encode()})
    pq.write_table(table, tmp_path / "direct.parquet", compression="zstd", write_statistics=True, row_group_size=128)
    monkeypatch.setattr(files, "PARQUET_ROW_GROUP", 128)
    files.write_parquet(frame, tmp_path / "sliced.parquet", metadata={"k": 1})
    assert (tmp_path / "sliced.parquet").read_bytes() == (tmp_path / "direct.parquet").read_bytes()
    assert pq.ParquetFile(tmp_path / "sliced.parquet").metadata.num_row_groups == 8
    pd.testing.assert_frame_equal(files.read_parquet(tmp_path / "sliced.parquet"), frame)
    pd.testing.assert_frame_equal(files.read_parquet(tmp_path / "whole.parquet"), frame)


def test_an_encoded_split_is_read_whatever_its_row_groups_and_nulls(tmp_path):
    """``read_encoded`` copies value buffers chunk by chunk (pandas is never imported for it): a
    file of several row groups, a float64 column and a column with a null (read through pyarrow's
    own conversion) give exactly the arrays pandas gives."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(1)
    n = 1000
    columns = {"a": rng.normal(size=n).astype(np.float32), "b": rng.normal(size=n),
               "c": pa.array([None if i == 7 else float(i) for i in range(n)], type=pa.float32()),
               "target": rng.integers(0, 4, n), "row": np.arange(n) * 3}
    pq.write_table(pa.table(columns), tmp_path / "split.parquet", row_group_size=128)
    X, y, rows = files.read_encoded(tmp_path / "split.parquet")
    expected = pq.read_table(tmp_path / "split.parquet").to_pandas()
    np.testing.assert_array_equal(X, expected[["a", "b", "c"]].to_numpy(np.float32))
    assert np.isnan(X[7, 2]) and X.flags.c_contiguous and X.dtype == np.float32
    np.testing.assert_array_equal(y, columns["target"])
    np.testing.assert_array_equal(rows, columns["row"])


def test_columns_written_without_pandas_read_back_as_the_frame(tmp_path):
    import numpy as np
    import pandas as pd

    columns = {"epoch": np.arange(1, 4), "loss": np.array([0.5, 0.25, np.nan])}
    files.write_columns(columns, tmp_path / "h.parquet")
    first = (tmp_path / "h.parquet").read_bytes()
    files.write_columns(columns, tmp_path / "h.parquet")
    assert (tmp_path / "h.parquet").read_bytes() == first
    pd.testing.assert_frame_equal(files.read_parquet(tmp_path / "h.parquet"), pd.DataFrame(columns))


def test_jobs_that_read_encoded_splits_do_not_import_pandas(tmp_path):
    """Reading an encoded split, training and writing the history must not load pandas (0.2 s of
    every training job); checked in a fresh interpreter."""
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": np.ones(10, np.float32), "target": np.zeros(10, np.int64),
                             "row": np.arange(10)}), tmp_path / "s.parquet")
    scripts = Path(files.__file__).resolve().parents[1]
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from shortcut import files, nn, metrics;"
        "X, y, r = files.read_encoded(sys.argv[2]);"
        "files.write_columns({'x': X[:, 0]}, sys.argv[3]);"
        "assert 'pandas' not in sys.modules, 'pandas was imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(scripts), str(tmp_path / "s.parquet"), str(tmp_path / "o.parquet")],
                   check=True)
