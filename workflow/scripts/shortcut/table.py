"""Named, equal-length columns in order: the tables the evaluate jobs write, without pandas.

Eighteen evaluate jobs in the demo each write small summary tables and one per-row table. pandas
would cost each of them 0.2 s just to import, more than their summaries take to compute, so
``shortcut.saliency``, ``shortcut.reliance`` and ``shortcut.metrics`` build a :class:`Table` and
``shortcut.files`` writes it: the same CSV text as ``pandas.DataFrame.to_csv`` (the test suite
compares the bytes) and a parquet file of the same columns. ``to_frame`` gives the DataFrame
(pandas is imported then) to callers that want one.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["Table", "csv_text"]


class Table:
    """Columns by name, in insertion order; each a 1-d NumPy array of the same length."""

    def __init__(self, columns: Mapping[str, object] | None = None):
        self.columns: dict[str, np.ndarray] = {}
        for name, values in (columns or {}).items():
            self[name] = values

    @classmethod
    def from_records(cls, records: Sequence[Mapping], names: Sequence[str]) -> "Table":
        """One row per record (a mapping of ``names`` to values)."""
        return cls({name: [r[name] for r in records] for name in names})

    @classmethod
    def concat(cls, tables: Iterable["Table"]) -> "Table":
        """The rows of ``tables`` (same column names, in the same order) one after another."""
        tables = list(tables)
        if not tables:
            return cls()
        names = list(tables[0].columns)
        if any(list(t.columns) != names for t in tables):
            raise ValueError("tables to stack must have the same columns in the same order")
        return cls({name: np.concatenate([t.columns[name] for t in tables]) for name in names})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __setitem__(self, name: str, values) -> None:
        self.columns[name] = self._column(values)

    def insert(self, at: int, name: str, values) -> None:
        """Put column ``name`` at position ``at`` (a scalar fills every row)."""
        if name in self.columns:
            raise ValueError(f"column {name!r} already exists")
        items = list(self.columns.items())
        items.insert(at, (name, self._column(values)))
        self.columns = dict(items)

    def _column(self, values) -> np.ndarray:
        n = len(self) if self.columns else None
        arr = np.asarray(values)
        if arr.ndim == 0:
            if n is None:
                raise ValueError("a scalar column needs the table's length: add a column first")
            arr = np.full(n, arr.item(), dtype=arr.dtype if arr.dtype.kind != "U" else object)
        if arr.ndim != 1:
            raise ValueError(f"a column must be 1-d, got shape {arr.shape}")
        if arr.dtype.kind == "U":  # text as Python strings (what a DataFrame's column holds)
            arr = arr.astype(object)
        if n is not None and len(arr) != n:
            raise ValueError(f"column of length {len(arr)} for a table of {n} rows")
        return arr

    def to_frame(self):
        """The table as a pandas DataFrame (text columns in pandas' own string dtype)."""
        import pandas as pd

        return pd.DataFrame({name: (pd.array(list(v), dtype="str") if v.dtype == object else v)
                             for name, v in self.columns.items()})


def _cells(values: np.ndarray, float_format: str) -> list[str]:
    """A column's CSV cells as ``DataFrame.to_csv`` writes them (missing: empty)."""
    kind = values.dtype.kind
    if kind == "f":
        return ["" if v != v else float_format % v for v in values.tolist()]
    if kind == "b":
        return ["True" if v else "False" for v in values.tolist()]
    if kind in "iu":
        return [str(v) for v in values.tolist()]
    return ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in values.tolist()]


def csv_text(table: Table, float_format: str = "%.6g") -> str:
    """The CSV text ``table.to_frame().to_csv(index=False, float_format=..., lineterminator="\\n")``
    gives, built with the csv module (which pandas uses too: the same quoting)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(table.columns))
    writer.writerows(zip(*(_cells(v, float_format) for v in table.columns.values())))
    return out.getvalue()
