"""File I/O: the only module that takes paths. Deterministic, atomic output; reading input CSVs.

Every file the pipeline writes goes through these helpers: the bytes depend only on the
content (sorted JSON keys, fixed parquet settings, fixed zip timestamps), and a file
appears under its final name only once it is complete (written to a temporary name in
the same folder, flushed, then renamed). A killed job therefore never leaves a half-written
parquet, npz or JSON behind under an output's name.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .errors import DataError
from .spec import TARGET


def _file_mode() -> int:
    """The mode a plain ``open(path, "w")`` gives a new file: 0666 masked by the process umask
    (0644 under the usual 022). Read by setting the umask and putting it straight back."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched. A process
    killed between creating and renaming its temporary file (SIGKILL, power loss) leaves it
    behind: the next write of the same ``path`` removes it (see :func:`remove_stale_temps`).
    The temporary file is created private (0600); before the rename it gets the mode any file
    the user writes gets (:func:`_file_mode`), so a report copied to a shared folder or served
    by a web server is readable like the user's other files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files an earlier, killed write of ``path`` left beside it.

    Only ``.<name>.<8 random characters>.tmp`` of this very ``path`` is matched: Snakemake runs
    one job at a time for an output (and locks the output), so such a file is never a write in
    progress. Returns the removed paths.
    """
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path.parent):
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def to_json_text(obj: Any) -> str:
    """Canonical JSON text: sorted keys, 2-space indent, NaN/inf as null, final newline."""
    return json.dumps(_jsonable(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(to_json_text(obj), encoding="utf-8")


def log_file_handler(path: str | os.PathLike):
    """A logging handler writing a job's log file (truncated: the log is the last run's)."""
    import logging

    return logging.FileHandler(path, mode="w", encoding="utf-8")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_yaml(path: str | os.PathLike, obj: Any, header: str = "") -> None:
    """``obj`` as YAML (key order kept, text that YAML would read as another type quoted), after
    the comment lines ``header``."""
    import yaml

    write_text(path, header + yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))


def read_yaml(path: str | os.PathLike) -> Any:
    import yaml

    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_text_chunks(path: str | os.PathLike, chunks: Iterable[str]) -> None:
    """:func:`write_text` of the text the ``chunks`` join to, written as they come (never whole)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(chunk)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def read_bytes(path: str | os.PathLike) -> bytes:
    return Path(path).read_bytes()


# pyarrow's default row group length: a frame written in slices of it makes the same file
PARQUET_ROW_GROUP = 1 << 20


def write_parquet(df, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write a pandas DataFrame as parquet with settings fixed for byte-stable output.

    ``metadata`` (JSON-able) is stored in the file's schema metadata under ``shortcut_audit``
    (``pyarrow.parquet.read_schema(path).metadata[b"shortcut_audit"]``). A large frame is
    converted one row group at a time (the same bytes as converting it whole), so no second copy
    of every column is held. A ``shortcut.table.Table`` (no metadata) is written by
    ``write_columns``, without pandas."""
    from .table import Table

    if isinstance(df, Table):
        if metadata is not None:
            raise ValueError("a Table is written without metadata")
        write_columns(df.columns, path)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    def arrow(part):
        table = pa.Table.from_pandas(part, preserve_index=False)
        if metadata is not None:
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), b"shortcut_audit": to_json_text(metadata).encode("utf-8")})
        return table

    with atomic_path(path) as tmp:
        if len(df) <= PARQUET_ROW_GROUP:
            pq.write_table(arrow(df), tmp, compression="zstd", write_statistics=True)
            return
        first = arrow(df.iloc[:PARQUET_ROW_GROUP])
        with pq.ParquetWriter(tmp, first.schema, compression="zstd", write_statistics=True) as writer:
            writer.write_table(first, row_group_size=PARQUET_ROW_GROUP)
            del first
            for start in range(PARQUET_ROW_GROUP, len(df), PARQUET_ROW_GROUP):
                writer.write_table(arrow(df.iloc[start:start + PARQUET_ROW_GROUP]), row_group_size=PARQUET_ROW_GROUP)


def write_table(table, path: str | os.PathLike, schema) -> None:
    """A table one rule writes and another reads, as parquet in the types its
    ``shortcut.table.Schema`` declares (``table``: a DataFrame or a ``shortcut.table.Table``;
    no pandas is imported for a Table). A column missing, undeclared or not of its declared
    type is an error; read it back with :func:`read_table`."""
    from .table import Table, typed_column

    where = str(path)
    if isinstance(table, Table):
        columns = table.columns
    else:
        columns = {str(name): table[name].to_numpy() for name in table.columns}
    schema.check_names(list(columns), where)
    # the declared columns in their declared order, then the families' columns as they come
    order = [*schema, *(name for name in columns if name not in schema)]
    write_columns({name: typed_column(columns[name], schema.type_of(name), name, where) for name in order}, path)


def read_table(path: str | os.PathLike, schema):
    """A table :func:`write_table` wrote, as a DataFrame, after checking it against ``schema``:
    every declared column present, none undeclared, each of its declared type (a file written
    by another version of the code fails here with one line, not three rules later)."""
    arrow = _read_arrow(path)
    _check_schema(arrow.schema, schema, path)
    return arrow.to_pandas()


def _check_schema(arrow_schema, schema, path) -> None:
    """The file's columns against ``schema`` (a ``shortcut.table.Schema``): one line naming the
    file, the table and the first column that is missing, undeclared or of another type."""
    import pyarrow as pa

    from .errors import TableError

    schema.check_names(arrow_schema.names, str(path))
    for field in arrow_schema:
        want, t = schema.type_of(field.name), field.type
        got = ("bool" if pa.types.is_boolean(t) else "int64" if pa.types.is_int64(t)
               else "float64" if pa.types.is_float64(t)
               else "string" if (pa.types.is_string(t) or pa.types.is_large_string(t)) else str(t))
        if got != want:
            raise TableError(f"{path}: column '{field.name}' of table {schema.name} is {got}, declared {want}")


def write_columns(columns: dict, path: str | os.PathLike) -> None:
    """Write named 1-d NumPy arrays as a parquet table (the settings of ``write_parquet``), without
    pandas: for a job that has no other use for it (0.2 s to import)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def arrow(values):
        values = np.ascontiguousarray(values)
        if values.dtype.kind in "iuf":  # through the buffer: pa.array(ndarray) imports pandas
            return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])
        if values.dtype.kind == "b":  # bit-packed, as arrow keeps them
            return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(np.packbits(values, bitorder="little"))])
        texts = [None if v is None else str(v).encode("utf-8") for v in values.tolist()]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([0 if t is None else len(t) for t in texts])
        valid = np.array([t is not None for t in texts], dtype=bool)  # bool when empty too
        bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
        data = pa.py_buffer(b"".join(t for t in texts if t is not None))
        return pa.Array.from_buffers(pa.large_string(), len(texts), [bitmap, pa.py_buffer(offsets), data],
                                     null_count=int((~valid).sum()))

    table = pa.Table.from_arrays([arrow(v) for v in columns.values()], names=list(columns))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)


def read_parquet(path: str | os.PathLike):
    import pandas as pd

    return pd.read_parquet(path)


def read_parquet_table(path: str | os.PathLike, strings_as_dictionary: bool = False, schema=None):
    """A parquet file as a pyarrow Table (no pandas copy: columns are converted as they are used).

    ``strings_as_dictionary``: text columns are read as dictionary arrays (codes and each
    distinct text once; decode them with ``cast`` to the dictionary's value type). ``schema``: a
    table another rule wrote, checked first as :func:`read_table` checks it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if schema is not None:
        _check_schema(pq.read_schema(path), schema, path)

    table = _read_arrow(path, strings_as_dictionary)
    pa.default_memory_pool().release_unused()  # the decoding buffers, back to the system
    return table


def _read_arrow(path: str | os.PathLike, strings_as_dictionary: bool = False):
    """The whole file through ``pyarrow.parquet.ParquetFile``, which (unlike ``read_table``, which
    goes through ``pyarrow.dataset``) does not import pandas: 0.2 s less for every job that reads
    a parquet file and has no other use for pandas."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    dictionary = None
    if strings_as_dictionary:
        schema = pq.read_schema(path)
        dictionary = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    with pq.ParquetFile(path, read_dictionary=dictionary) as pf:
        return pf.read()


def write_csv(df, path: str | os.PathLike, float_format: str = "%.6g") -> None:
    """A DataFrame, or a ``shortcut.table.Table`` (the same text, without pandas), as CSV."""
    from .table import Table, csv_text

    if isinstance(df, Table):
        write_text(path, csv_text(df, float_format))
        return
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n")


def read_csv(path: str | os.PathLike, sep: str = ","):
    """A CSV (or, with ``sep="\\t"``, a TSV); an empty file (no header) is an empty frame."""
    import pandas as pd

    try:
        return pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """``np.savez`` into a temporary file, then rename (NumPy >= 2.4 writes fixed zip times)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickled objects allowed), read into memory."""
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save a matplotlib figure as PNG without a timestamp (byte-stable), atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None}, bbox_inches="tight")


# ---------------------------------------------------------------------------------------------
# reading input CSVs (the only place a raw CSV is opened)

NULL_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"]


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _python_encoding(encoding: str) -> str:
    """The codec a file is read with: UTF-8 also accepts a byte-order mark (files saved by Excel)."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def decode_error(path: str | os.PathLike, encoding: str) -> DataError | None:
    """The first byte of ``path`` that ``encoding`` cannot decode, as a one-line error naming the
    byte offset and the config key that sets the encoding (None if the whole file decodes)."""
    decoder = codecs.getincrementaldecoder(_python_encoding(encoding))()
    offset = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                at = offset - pending + exc.start  # exc.object is the pending bytes + this block
                shown = f" (0x{exc.object[exc.start]:02x})" if exc.start < len(exc.object) else ""
                return DataError(f"{path}: byte {at}{shown} is not valid {encoding}: set data.encoding to the "
                                 "file's encoding (for example latin-1 or cp1252)")
            offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return DataError(f"{path}: the file ends inside a {encoding} character: set data.encoding to the "
                         "file's encoding")
    return None


def read_csv_header(path: str | os.PathLike, encoding: str) -> list[str]:
    """The column names of a CSV's header line (stripped), with one-line errors for a missing,
    empty or header-less file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    try:
        with open(path, newline="", encoding=_python_encoding(encoding)) as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        raise decode_error(path, encoding) from None
    if not header or all(not h.strip() for h in header):
        raise DataError(f"{path}: file has no header line")
    return [h.strip() for h in header]


def has_labels(path: str | os.PathLike, target: str, encoding: str) -> bool:
    """Whether a test CSV has labels (the workflow's DAG differs without them, so this runs when
    it is parsed): False when the header lacks ``target``, or when every cell of that column is
    empty or a null spelling (:data:`NULL_VALUES`). Only the header and the first data row are
    read unless that row's label is empty; then the column is read to the end, to tell a file
    without labels from a file with a gap (a labelled file whose clean job names the row). A file
    that cannot be read counts as labelled: the clean job reports why in one line."""
    try:
        header = read_csv_header(path, encoding)
        if target not in header:
            return False
        k = header.index(target)
        with open(path, newline="", encoding=_python_encoding(encoding), errors="replace") as fh:
            rows = csv.reader(fh)
            next(rows, None)

            def empty(row: list[str]) -> bool:
                return k >= len(row) or row[k].strip() in NULL_VALUES

            first = next(rows, None)
            if first is None or not empty(first):
                return True
            return any(not empty(row) for row in rows)
    except (DataError, OSError, csv.Error, LookupError):
        return True


def _check_header(path: Path, header: list[str], required: Sequence[str]) -> None:
    seen = set()
    for i, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(f"{path}: column '{name}' appears more than once in the header (column {i})")
        seen.add(name)
    for col in required:
        if col not in seen:
            raise DataError(f"{path}: column '{col}' required by the config is missing (header: {', '.join(header)})")


def _raw_csv_options(path: Path, required: Sequence[str], encoding: str, optional: Sequence[str],
                     block_size: int):
    """Header checks, then the pyarrow read and convert options of :func:`read_raw_csv`."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = read_csv_header(path, encoding)
    _check_header(path, header, required)
    wanted = [c for c in optional if c in header] + list(required)
    utf8 = codecs.lookup(encoding).name == "utf-8"
    read = pacsv.ReadOptions(use_threads=False, block_size=block_size, encoding="utf8" if utf8 else encoding)
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header},
        include_columns=wanted,
        strings_can_be_null=True,
        null_values=NULL_VALUES,
        quoted_strings_can_be_null=True,
    )
    return read, convert


def _raw_csv_error(path: Path, encoding: str, exc: Exception) -> DataError:
    """The one-line error for a CSV pyarrow cannot read (a bad byte: its offset and the key)."""
    if isinstance(exc, UnicodeDecodeError):
        return decode_error(path, encoding)
    if "UTF8" in str(exc) or "utf-8" in str(exc).lower():
        error = decode_error(path, encoding)
        if error is not None:
            return error
    return DataError(f"{path}: not a readable CSV: {str(exc).splitlines()[0]}")


def read_raw_csv(path: str | os.PathLike, required: Sequence[str], encoding: str, optional: Sequence[str] = ()):
    """The ``required`` columns of a CSV, and those of ``optional`` its header has, as a pyarrow
    table of strings (empty text and the usual NA spellings are null), in the order
    optional + required. One-line errors name the file (and the byte of a bad encoding)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    read, convert = _raw_csv_options(path, required, encoding, optional, 1 << 24)
    try:
        table = pacsv.read_csv(path, read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _raw_csv_error(path, encoding, exc) from None
    if table.num_rows == 0:
        raise DataError(f"{path}: file has a header but no data rows")
    return table


def read_raw_csv_batches(path: str | os.PathLike, required: Sequence[str], encoding: str,
                         optional: Sequence[str] = (), block_size: int = 1 << 24):
    """:func:`read_raw_csv` as a stream: record batches of strings of about ``block_size`` bytes
    of the file each, in file order, so a large CSV is never held whole. The header is checked
    before this returns; a bad byte, an unreadable line or a file without data rows raises the
    same one-line errors while the batches are read."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = Path(path)
    read, convert = _raw_csv_options(path, required, encoding, optional, block_size)
    try:
        reader = pacsv.open_csv(path, read_options=read, convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _raw_csv_error(path, encoding, exc) from None

    def batches():
        rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                raise _raw_csv_error(path, encoding, exc) from None
            rows += batch.num_rows
            yield batch
        if rows == 0:
            raise DataError(f"{path}: file has a header but no data rows")

    return batches()


def csv_origin(path: str | os.PathLike) -> dict:
    """What the cleaning audit records of an input file: its path as given and its SHA-256."""
    return {"file": str(path), "sha256": file_sha256(path)}


# ---------------------------------------------------------------------------------------------
# encoded splits

def _column_into(out: np.ndarray, column) -> None:
    """Copy a numeric pyarrow column (ChunkedArray) into ``out``. Chunks of integers or floats
    without nulls are read through their value buffer: pyarrow's ``to_numpy`` imports pandas
    (0.2 s), which a job reading an encoded split has no other use for."""
    import pyarrow as pa

    start = 0
    for chunk in column.chunks:
        n = len(chunk)
        kind = chunk.type
        if chunk.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            dtype = np.dtype(kind.to_pandas_dtype())
            values = np.frombuffer(chunk.buffers()[1], dtype=dtype, count=n, offset=chunk.offset * dtype.itemsize)
        else:
            values = chunk.to_numpy(zero_copy_only=False)
        out[start:start + n] = values
        start += n


def never_missing(cells_path: str | os.PathLike, features: Sequence[str]) -> list[str]:
    """The features with no empty (or coerced-to-empty) cell in the training file, from the clean
    job's ``train_cells.json``: a test cell empty in one of them holds no value the models know."""
    cells = read_json(cells_path)["columns"]
    return [f for f in dict.fromkeys(features) if cells[f]["missing"] + cells[f]["coerced_to_missing"] == 0]


def read_missing(path: str | os.PathLike, columns: Sequence[str], rows: np.ndarray) -> dict:
    """Which of ``rows`` (source row numbers) have an empty cell, per column of ``columns``, in a
    cleaned parquet file (no pandas: the columns' validity bitmaps)."""
    import pyarrow.compute as pc

    table = _read_arrow(path)
    at = {int(r): i for i, r in enumerate(table.column("row").to_numpy())}
    order = np.array([at[int(r)] for r in rows], dtype=np.int64)
    out = {}
    for name in columns:
        out[name] = pc.is_null(table.column(name), nan_is_null=True).to_numpy(zero_copy_only=False)[order]
    return out


def read_encoded(path: str | os.PathLike, dtype=np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature matrix, labels and source row numbers of an encoded split, read from its parquet
    file straight into one C-ordered array (no pandas: one copy of the features, not three)."""
    import pyarrow as pa

    table = _read_arrow(path)
    features = [c for c in table.column_names if c not in (TARGET, "row")]

    X = np.empty((table.num_rows, len(features)), dtype=dtype)
    for j, name in enumerate(features):
        _column_into(X[:, j], table.column(name))
    y = np.empty(table.num_rows, dtype=np.int64)
    rows = np.empty(table.num_rows, dtype=np.int64)
    _column_into(y, table.column(TARGET))
    _column_into(rows, table.column("row"))
    del table
    pa.default_memory_pool().release_unused()  # the table's buffers, back to the system
    return X, y, rows
