"""Deterministic, atomic file output.

Every file the pipeline writes goes through these helpers: the bytes depend only on the
content (sorted JSON keys, fixed parquet settings, fixed zip timestamps), and a file
appears under its final name only once it is complete (written to a temporary name in
the same folder, flushed, then renamed). A killed job therefore never leaves a half-written
parquet, npz or JSON behind under an output's name.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


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


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_parquet(df, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write a pandas DataFrame as parquet with settings fixed for byte-stable output.

    ``metadata`` (JSON-able) is stored in the file's schema metadata under ``shortcut_audit``
    (``pyarrow.parquet.read_schema(path).metadata[b"shortcut_audit"]``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"shortcut_audit": to_json_text(metadata).encode("utf-8")})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)


def read_parquet(path: str | os.PathLike):
    import pandas as pd

    return pd.read_parquet(path)


def write_csv(df, path: str | os.PathLike, float_format: str = "%.6g") -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n")


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """``np.savez`` into a temporary file, then rename (NumPy >= 2.4 writes fixed zip times)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save a matplotlib figure as PNG without a timestamp (byte-stable), atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None}, bbox_inches="tight")
