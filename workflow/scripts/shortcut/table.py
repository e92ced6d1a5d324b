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

from .errors import TableError

__all__ = ["Schema", "Table", "csv_text"]

# The four column types of a table one rule writes and another reads (missing values: NaN in a
# float64 column, None in a string column; bool and int64 columns have none).
TYPES = ("bool", "int64", "float64", "string")


class Schema:
    """The declared columns of a table one rule writes and another reads, in order, each with its
    type (one of ``TYPES``), and families of per-class columns (``train_share_0``, ...) given by a
    name prefix. Iterating gives the fixed column names, so a Schema stands where a list of
    column names did (``pd.DataFrame(rows, columns=list(SCHEMA))``).

    ``shortcut.files.write_table`` writes a table only in its schema's types, and
    ``shortcut.files.read_table`` rejects a file with a column missing, undeclared or of another
    type: what one rule writes is what the next one reads."""

    def __init__(self, name: str, columns: Mapping[str, str], families: Mapping[str, str] | None = None):
        self.name = name
        self.columns = dict(columns)
        self.families = dict(families or {})
        for column, kind in [*self.columns.items(), *self.families.items()]:
            if kind not in TYPES:
                raise ValueError(f"table {name}: column {column!r} has type {kind!r}, not one of {TYPES}")

    def __iter__(self):
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __contains__(self, column) -> bool:
        return column in self.columns

    def __repr__(self) -> str:
        return f"Schema({self.name!r}, {len(self.columns)} columns, families {list(self.families)})"

    def type_of(self, column: str) -> str | None:
        """The declared type of ``column`` (a fixed column, or a member ``<prefix><k>`` of a
        family, ``k`` a non-negative integer), or None if it is not declared."""
        if column in self.columns:
            return self.columns[column]
        for prefix, kind in self.families.items():
            if column.startswith(prefix) and column[len(prefix):].isdigit():
                return kind
        return None

    def check_names(self, names: Sequence[str], where: str) -> None:
        """Every fixed column present, nothing undeclared; ``where`` names the file for the error."""
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise TableError(f"{where}: table {self.name} has no column '{missing[0]}'")
        extra = [c for c in names if self.type_of(c) is None]
        if extra:
            raise TableError(f"{where}: table {self.name} has an undeclared column '{extra[0]}'")


def typed_column(values, kind: str, column: str, where: str) -> np.ndarray:
    """``values`` as a NumPy array of the declared type: bool, int64, float64 (missing: NaN) or
    string (an object array of ``str`` or None). Anything that is not already of that kind (a
    missing bool or int, a number in a text column, a fractional int) is an error, not a guess."""
    arr = np.asarray(values)
    if arr.dtype.kind == "U":
        arr = arr.astype(object)

    def fail(what):
        raise TableError(f"{where}: column '{column}' is declared {kind} but holds {what}")

    if kind == "float64":
        if arr.dtype.kind == "O":
            if any(not (v is None or isinstance(v, (int, float, np.integer, np.floating))) or isinstance(v, bool)
                   for v in arr.tolist()):
                fail("non-numeric values")
            return np.array([np.nan if v is None else v for v in arr.tolist()], dtype=np.float64)
        if arr.dtype.kind not in "iuf":
            fail(f"values of type {arr.dtype}")
        return arr.astype(np.float64)
    if kind == "int64":
        if arr.dtype.kind == "O":
            if any(not isinstance(v, (int, np.integer)) or isinstance(v, bool) for v in arr.tolist()):
                fail("values that are not integers")
            return arr.astype(np.int64)
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                fail("missing or fractional values")
        elif arr.dtype.kind not in "iu":
            fail(f"values of type {arr.dtype}")
        return arr.astype(np.int64)
    if kind == "bool":
        if arr.dtype.kind == "b":
            return arr
        if arr.dtype.kind == "O" and all(isinstance(v, (bool, np.bool_)) for v in arr.tolist()):
            return arr.astype(bool)
        fail("values that are not True/False")
    # string
    out = np.empty(len(arr), dtype=object)
    for i, v in enumerate(arr.tolist()):
        if v is None or (isinstance(v, float) and v != v) or type(v).__name__ == "NAType":
            out[i] = None
        elif isinstance(v, str):
            out[i] = v
        else:
            fail(f"a {type(v).__name__} ({v!r})")
    return out


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
