"""Reading, validating and cleaning raw CSVs; the train-only encoder and its application.

Design rule that makes the course assignment's bug (test features scaled with statistics of
already-normalised training data) impossible by construction: an :class:`Encoder` is a plain
value fitted from the *raw cleaned* training partition by :func:`fit_encoder`, written to
``encoder.json``, and :func:`transform` is the only way features are produced, for every split,
from raw cleaned values. Nothing re-fits on transformed data, and validation and test rows are
never passed to :func:`fit_encoder`.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError
from .spec import NUMBER_PATTERN, TARGET, DatasetSpec



# ---------------------------------------------------------------------------------------------
# reading and cleaning


def _first_row(mask: np.ndarray) -> int:
    """1-based data-row number (line number minus the header) of the first True."""
    return int(np.flatnonzero(mask)[0]) + 1


def _row_batches(rows, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``batch_rows`` rows, in order, of a table or of batches."""
    for batch in (rows.to_batches() if isinstance(rows, pa.Table) else rows):
        for start in range(0, batch.num_rows, batch_rows):
            yield batch.slice(start, batch_rows)


def _label_lookup(classes: tuple) -> dict[str, int]:
    lookup = {}
    for index, label in enumerate(classes):
        lookup[str(label)] = index
        if isinstance(label, (int, float)) and not isinstance(label, bool):
            lookup[repr(float(label))] = index  # '2.0' is class 2
    return lookup


class _Cleaner:
    """Cleans a CSV's rows batch by batch: typed columns and the audit, summed over the batches.

    ``offset`` (rows of the earlier batches) keeps every row number the file's data-row number;
    the errors that depend on every row (the coerced-value tolerance, an empty column, a bad
    label anywhere) are raised by :meth:`finish`, in the order the columns are checked in."""

    def __init__(self, spec: DatasetSpec, where: str):
        self.spec, self.where = spec, where
        self.n = 0
        self.has_target = None
        self.parts: dict[str, list] = {name: [] for name in (*spec.features, spec.target)}
        self.audit = {name: {"missing": 0, "coerced_to_missing": 0} for name in spec.features}
        self.levels: dict[str, dict[str, int]] = {name: {} for name in spec.categorical}
        self.first_coerced: dict[str, str] = {}  # numeric column -> its first non-numeric text
        self.first_infinite: dict[str, int] = {}
        self.label_missing: int | None = None  # first row without a label
        self.label_unknown: tuple[int, str] | None = None  # first row with an undeclared label
        lookup = _label_lookup(spec.classes)
        self.label_text = pa.array(list(lookup), pa.string())
        self.label_codes = np.array(list(lookup.values()), dtype=np.int64)

    def add(self, batch: pa.RecordBatch) -> None:
        if self.has_target is None:
            self.has_target = self.spec.target in batch.schema.names
        for name in self.spec.categorical:
            self._categorical(name, batch.column(name))
        for name in self.spec.numeric:
            self._numeric(name, batch.column(name))
        if self.has_target:
            self._labels(batch.column(self.spec.target))
        self.n += batch.num_rows

    def _categorical(self, name: str, arr: pa.Array) -> None:
        arr = pc.utf8_trim_whitespace(arr)
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
        self.parts[name].append(arr.cast(pa.large_string()))  # what pandas' str columns hold
        self.audit[name]["missing"] += arr.null_count
        levels = self.levels[name]
        if arr.null_count < len(arr):
            for item in pc.value_counts(arr.drop_null()).to_pylist():
                levels[item["values"]] = levels.get(item["values"], 0) + int(item["counts"])

    def _numeric(self, name: str, arr: pa.Array) -> None:
        stripped = pc.utf8_trim_whitespace(arr)
        present = pc.is_valid(stripped).to_numpy(zero_copy_only=False)
        valid = pc.fill_null(pc.match_substring_regex(stripped, NUMBER_PATTERN), False)
        bad = present & ~valid.to_numpy(zero_copy_only=False)
        audit = self.audit[name]
        audit["missing"] += int((~present).sum())
        n_bad = int(bad.sum())
        if n_bad and "first_coerced_row" not in audit:
            row = _first_row(bad)
            audit["first_coerced_row"] = self.n + row
            self.first_coerced[name] = stripped[row - 1].as_py()
        audit["coerced_to_missing"] += n_bad
        cleaned = pc.if_else(valid, stripped, pa.scalar(None, pa.string()))
        values = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        finite = np.isfinite(values) | np.isnan(values)
        if not finite.all() and name not in self.first_infinite:  # 'inf' does not match the pattern
            self.first_infinite[name] = self.n + _first_row(~finite)
        self.parts[name].append(values)

    def _labels(self, arr: pa.Array) -> None:
        text = pc.utf8_trim_whitespace(arr)
        missing = pc.is_null(text).to_numpy(zero_copy_only=False)
        if missing.any() and self.label_missing is None:
            self.label_missing = self.n + _first_row(missing)
        index = pc.index_in(text, value_set=self.label_text)
        unknown = pc.is_null(index).to_numpy(zero_copy_only=False) & ~missing
        if unknown.any() and self.label_unknown is None:
            row = _first_row(unknown)
            self.label_unknown = (self.n + row, text[row - 1].as_py())
        self.parts[self.spec.target].append(self.label_codes[pc.fill_null(index, 0).to_numpy(zero_copy_only=False)])

    def finish(self) -> tuple[pd.DataFrame, dict]:
        spec, where, n = self.spec, self.where, self.n
        tolerance = spec.max_coerced_fraction
        for name in spec.numeric:
            audit = self.audit[name]
            n_bad = audit["coerced_to_missing"]
            if n_bad > tolerance * n:
                raise DataError(
                    f"{where}: column '{name}', row {audit['first_coerced_row']}: non-numeric value "
                    f"{self.first_coerced[name]!r} ({n_bad} of {n} cells not numeric, above the tolerance "
                    f"clean.max_coerced_fraction={tolerance})"
                )
            if name in self.first_infinite:
                raise DataError(f"{where}: column '{name}', row {self.first_infinite[name]}: infinite value")
        for name in spec.features:
            if self.audit[name]["missing"] + self.audit[name]["coerced_to_missing"] == n:
                raise DataError(f"{where}: column '{name}' is entirely empty ({n} rows, no value)")
        if self.has_target:
            if self.label_missing is not None:
                raise DataError(f"{where}: column '{spec.target}', row {self.label_missing}: label is missing")
            if self.label_unknown is not None:
                row, text = self.label_unknown
                raise DataError(f"{where}: column '{spec.target}', row {row}: label {text!r} is not one of the "
                                f"declared classes {list(spec.classes)}")
        for name in spec.categorical:
            self.audit[name]["levels"] = dict(sorted(self.levels[name].items()))
        # numerics straight into the one float64 block pandas would consolidate them into
        block = np.empty((len(spec.numeric), n), dtype=np.float64)
        for j, name in enumerate(spec.numeric):
            parts, self.parts[name], start = self.parts[name], [], 0
            while parts:
                values = parts.pop(0)
                block[j, start:start + values.size] = values
                start += values.size
        frame = pd.DataFrame(block.T, columns=list(spec.numeric), copy=False)
        del block
        for name in reversed(spec.categorical):
            parts, self.parts[name] = self.parts[name], []
            text = pa.concat_arrays(parts) if parts else pa.array([], pa.large_string())
            del parts
            frame.insert(0, name, pd.Series(text.to_pandas(), dtype=pd.StringDtype(na_value=np.nan)))
            del text
        labels = None
        if self.has_target:
            labels = np.concatenate(self.parts.pop(spec.target))
            frame[TARGET] = labels
        audit_cols = self.audit
        audit = {
            "rows": n,
            "columns": audit_cols,
            "missing_cells": sum(c["missing"] for c in audit_cols.values()),
            "coerced_cells": sum(c["coerced_to_missing"] for c in audit_cols.values()),
            "label_counts": ({str(spec.classes[k]): int(c) for k, c in
                              enumerate(np.bincount(labels, minlength=len(spec.classes)))} if self.has_target else None),
        }
        return frame, audit


def clean_table(table, spec: DatasetSpec, origin: dict, batch_rows: int = 1 << 18) -> tuple[pd.DataFrame, dict]:
    """Raw CSV columns (strings, as ``files.read_raw_csv`` returns them, or the record batches
    of ``files.read_raw_csv_batches``) -> typed DataFrame (categoricals as strings, numerics
    float64, target class index).

    ``origin`` ({"file", "sha256"}) names the file in every error and opens the audit. Returns the
    frame and an audit of every missing and coerced cell per column. Without a target column
    (rows to predict) the frame has no ``target`` column. Rows are cleaned ``batch_rows`` at a
    time (the whole file is never held as text); row numbers in errors and the audit are the
    file's data-row numbers.
    """
    cleaner = _Cleaner(spec, origin["file"])
    if isinstance(table, pa.Table):
        cleaner.has_target = spec.target in table.column_names
    for batch in _row_batches(table, batch_rows):
        cleaner.add(batch)
    frame, audit = cleaner.finish()
    return frame, {**origin, **audit}


def clean_source(table, spec: DatasetSpec, origin: dict, source: str,
                 holdout: dict | None, batch_rows: int = 1 << 18) -> tuple[pd.DataFrame, dict]:
    """Clean the rows of one source (``train`` or ``test``) read from its CSV (``table``,
    ``origin`` and ``batch_rows``: see :func:`clean_table`).

    ``holdout`` ({"fraction", "seed"}) is given when there is no test CSV: then ``table`` is the
    train CSV and the test source is a stratified, seeded share of its rows (train the rest).
    Row numbers stay those of the file, so every error and audit entry points at a real line.
    """
    part = source
    frame, audit = clean_table(table, spec, origin, batch_rows)
    frame.insert(0, "row", np.arange(1, len(frame) + 1, dtype=np.int64))
    if holdout:
        test_rows = stratified_split(frame[TARGET].to_numpy(), holdout["fraction"], holdout["seed"])
        keep = test_rows if part == "test" else ~test_rows
        frame = frame.loc[keep].reset_index(drop=True)
        audit["holdout"] = {"part": part, "rows_kept": int(keep.sum()), **holdout}
    if part == "train":
        audit["classes_without_rows"] = _check_training_classes(origin["file"], frame[TARGET].to_numpy(), spec)
    return frame, audit


def _check_training_classes(where: str, labels: np.ndarray, spec: DatasetSpec) -> list[str]:
    """A classifier needs at least two classes in its training rows (else a one-line error); a
    declared class with no training row is a warning, returned for the record and the report."""
    counts = np.bincount(labels, minlength=len(spec.classes))
    present = [str(spec.classes[k]) for k in np.flatnonzero(counts)]
    missing = [str(spec.classes[k]) for k in np.flatnonzero(counts == 0)]
    if len(present) < 2:
        raise DataError(f"{where}: column '{spec.target}': every training row has class {present[0] if present else '?'}; "
                        f"a classifier needs rows of at least two of the declared classes {list(spec.classes)}")
    if missing:
        import logging

        logging.getLogger("shortcut").warning(
            "%s: column '%s': declared class(es) %s have no training row; the models can never predict them",
            where, spec.target, ", ".join(missing))
    return missing


# ---------------------------------------------------------------------------------------------
# split and encoder


def stratified_split(labels: np.ndarray, fraction: float, seed: int, stratify: bool = True) -> np.ndarray:
    """Boolean mask of validation rows: per class (or overall) a seeded random ``fraction``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mask = np.zeros(labels.size, dtype=bool)
    groups = [np.flatnonzero(labels == k) for k in np.unique(labels)] if stratify else [np.arange(labels.size)]
    for rows in groups:
        take = int(round(fraction * rows.size))
        mask[rng.permutation(rows)[:take]] = True
    return mask


def split_test(clean: pd.DataFrame, fraction: float, seed: int, stratify: bool = True):
    """The test rows into the audit part and the confirmation part (``fraction`` of the rows,
    stratified by class and seeded). Returns ``(audit, confirm, summary)``."""
    labels = clean[TARGET].to_numpy()
    is_confirm = stratified_split(labels, fraction, seed, stratify)
    audit = clean.loc[~is_confirm].reset_index(drop=True)
    confirm = clean.loc[is_confirm].reset_index(drop=True)
    summary = {"rows": int(len(clean)), "audit": int(len(audit)), "confirm": int(len(confirm)),
               "confirm_fraction": fraction, "seed": seed, "stratify": stratify}
    return audit, confirm, summary


def dropped_features(spec: DatasetSpec, feature_set: str) -> list[str]:
    """Source features a feature set leaves out: ``all`` none, ``drop-a`` or ``drop-a+b+...``.

    Names are matched against the configured features, so a feature whose own name holds a "+"
    still parses (the longest configured name that fits is taken first)."""
    if feature_set == "all":
        return []
    error = DataError(f"feature set '{feature_set}': expected 'all' or 'drop-<feature>[+<feature>...]' "
                      f"with features from {list(spec.features)}")
    if not feature_set.startswith("drop-"):
        raise error
    rest, out = feature_set[5:], []
    names = sorted(spec.features, key=len, reverse=True)
    while rest:
        match = next((n for n in names if rest == n or rest.startswith(n + "+")), None)
        if match is None or match in out:
            raise error
        out.append(match)
        rest = rest[len(match) + 1:]
    return out


def feature_set_features(spec: DatasetSpec, feature_set: str) -> tuple[list[str], list[str]]:
    """(categorical, numeric) source features of a feature set (see :func:`dropped_features`)."""
    dropped = set(dropped_features(spec, feature_set))
    return [c for c in spec.categorical if c not in dropped], [c for c in spec.numeric if c not in dropped]


def _impute_value(values, rule: dict, kind: str, column: str):
    strategy = rule["strategy"]
    if strategy == "constant":
        return rule["value"] if kind == "categorical" else float(rule["value"])
    present = values.dropna()
    if present.empty:
        raise DataError(f"column '{column}': no value in the training partition to impute from")
    if strategy == "mode":
        counts = present.value_counts()
        top = counts[counts == counts.max()].index
        return sorted(top)[0] if kind == "categorical" else float(min(top))
    if kind == "categorical":
        raise DataError(f"column '{column}': imputation '{strategy}' needs a numeric column")
    return float(present.median() if strategy == "median" else present.mean())


def missing_column(col: str) -> str:
    """The encoded column that marks an empty cell of ``col``."""
    return f"{col}=(missing)"


def fit_encoder(train: pd.DataFrame, spec: DatasetSpec, feature_set: str) -> dict:
    """Fit every statistic on ``train`` (the training partition only). Returns a JSON-able encoder.

    A feature with empty cells in the training partition also gets a missingness indicator
    column (``<feature>=(missing)``, 1 where the cell was empty), part of the feature: the models
    can tell a filled cell from an observed value, and a label carried by missingness is seen by
    the reliance and the shift evidence as that feature's. A feature without empty cells in
    training gets none (nothing about the test file reaches the encoder)."""
    categorical, numeric = feature_set_features(spec, feature_set)
    enc_cat, enc_num, columns, sources = {}, {}, [], []
    for col in categorical:
        column = train[col]  # once: ``train`` may read its columns on demand (see _Rows)
        fill = _impute_value(column, spec.impute[col], "categorical", col)
        levels = sorted(set(column.dropna().unique().tolist()) | {fill})
        had_missing = bool(column.isna().any())
        del column
        enc_cat[col] = {"impute": spec.impute[col]["strategy"], "fill": fill, "levels": levels,
                        "missing_indicator": had_missing}
        for level in levels:
            columns.append(f"{col}={level}")
            sources.append(col)
        if had_missing:
            columns.append(missing_column(col))
            sources.append(col)
    for col in numeric:
        column = train[col]
        fill = _impute_value(column, spec.impute[col], "numeric", col)
        values = column.to_numpy(dtype=np.float64, na_value=np.nan).copy()
        del column
        had_missing = bool(np.isnan(values).any())
        values[np.isnan(values)] = fill
        log = col in spec.log1p
        if log:
            if values.min() <= -1:
                raise DataError(f"column '{col}': log1p needs values > -1 (min {values.min()})")
            values = np.log1p(values)
        mean = float(values.mean())
        std = float(values.std())
        enc_num[col] = {
            "impute": spec.impute[col]["strategy"],
            "fill": fill,
            "log1p": log,
            "mean": mean,
            "std": std if std > 0 and math.isfinite(std) else 1.0,
            "missing_indicator": had_missing,
        }
        columns.append(col)
        sources.append(col)
        if had_missing:
            columns.append(missing_column(col))
            sources.append(col)
    return {
        "feature_set": feature_set,
        "categorical": enc_cat,
        "numeric": enc_num,
        "columns": columns,
        "sources": sources,
        "n_fit_rows": int(len(train)),
    }


def transform(frame: pd.DataFrame, encoder: dict, dtype=np.float32) -> tuple[np.ndarray, dict]:
    """Apply a fitted encoder to raw cleaned rows. Returns the matrix and counts of imputed/unseen cells.

    Every output column is placed by its name in ``encoder["columns"]``, never by the order of
    the per-feature entries (JSON round trips sort those), so a column cannot be scrambled.
    """
    n = len(frame)
    position = {name: j for j, name in enumerate(encoder["columns"])}
    out = np.zeros((n, len(position)), dtype=dtype)
    report = {"imputed": {}, "unseen_levels": {}}
    for col, enc in encoder["categorical"].items():
        values = frame[col]
        missing = values.isna().to_numpy()
        report["imputed"][col] = int(missing.sum())
        filled = values.fillna(enc["fill"]) if missing.any() else values
        text = pa.array(filled, from_pandas=True)  # arrow strings (no array of Python objects)
        index = pc.index_in(text, value_set=pa.array(enc["levels"]).cast(text.type))
        unseen = pc.is_null(index).to_numpy(zero_copy_only=False)
        codes = pc.fill_null(index, -1).to_numpy(zero_copy_only=False)
        del text, index
        if unseen.any():
            levels = filled[unseen].value_counts()
            report["unseen_levels"][col] = {str(k): int(v) for k, v in sorted(levels.items())}
        targets = np.array([position[f"{col}={level}"] for level in enc["levels"]])
        rows = np.flatnonzero(~unseen)
        out[rows, targets[codes[rows]]] = 1
        if enc.get("missing_indicator"):
            out[:, position[missing_column(col)]] = missing
    for col, enc in encoder["numeric"].items():
        values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan).copy()
        missing = np.isnan(values)
        report["imputed"][col] = int(missing.sum())
        values[missing] = enc["fill"]
        if enc["log1p"]:
            values = np.log1p(np.maximum(values, -1 + 1e-12))
        out[:, position[col]] = (values - enc["mean"]) / enc["std"]
        if enc.get("missing_indicator"):
            out[:, position[missing_column(col)]] = missing
    return out, report


def encoded_frame(matrix: np.ndarray, labels: np.ndarray, rows: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Encoded split as a DataFrame: feature columns, then ``target`` and the source ``row`` number."""
    frame = pd.DataFrame(matrix, columns=columns, copy=False)
    frame[TARGET] = np.asarray(labels, dtype=np.int64)
    frame["row"] = np.asarray(rows, dtype=np.int64)
    return frame


def feature_frame(table, spec: DatasetSpec) -> pd.DataFrame:
    """The features and target of a cleaned file read as a pyarrow table (what the EDA and the
    marginal shift statistics read), as a DataFrame: text read as dictionary codes becomes
    categorical (codes, each level once), not a column of strings. The table's buffers are
    released as its columns are converted."""
    keep = [c for c in [*spec.numeric, *spec.categorical, TARGET] if c in table.column_names]
    frame = table.select(keep).to_pandas(self_destruct=True, split_blocks=True)
    pa.default_memory_pool().release_unused()  # the converted columns' buffers, back to the system
    return frame


def split_xy(frame: pd.DataFrame, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix and labels of an encoded split (copies: pandas may hand out read-only views)."""
    features = [c for c in frame.columns if c not in (TARGET, "row")]
    X = np.ascontiguousarray(frame[features].to_numpy(dtype=dtype), dtype=dtype)
    return X.copy() if not X.flags.writeable else X, frame[TARGET].to_numpy(dtype=np.int64).copy()


class _Rows:
    """Some rows (``positions``) of a cleaned frame or pyarrow table, read one column at a time.

    It offers what :func:`fit_encoder`, :func:`transform` and ``codes.association_groups`` read
    of a frame: ``len()``, ``[column]`` (a Series, index 0..n-1) and ``.iloc[positions]`` (some
    of these rows, again as ``_Rows``), so a partition is never copied whole."""

    def __init__(self, source, positions: np.ndarray):
        self.source, self.positions = source, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, column: str) -> pd.Series:
        if isinstance(self.source, pa.Table):
            values = self.source.column(column).take(self.positions)
            if pa.types.is_dictionary(values.type):  # text read as codes: decoded to pandas' str
                values = values.cast(values.type.value_type)
            series = values.to_pandas()
            del values
            pa.default_memory_pool().release_unused()  # the arrow copies above, back to the system
            return series
        return self.source[column].iloc[self.positions].reset_index(drop=True)

    @property
    def iloc(self):
        rows = self

        class Positions:
            def __getitem__(self, at):
                return _Rows(rows.source, rows.positions[at])

        return Positions()


def _numpy(clean, column: str) -> np.ndarray:
    """One column of a cleaned frame or pyarrow table as a NumPy array."""
    if isinstance(clean, pa.Table):
        return clean.column(column).to_numpy()
    return clean[column].to_numpy()


def _encode(clean, positions: np.ndarray, encoder: dict, block_rows: int) -> tuple[np.ndarray, dict]:
    """:func:`transform` of the rows ``positions`` of ``clean``, ``block_rows`` rows at a time
    (each row is encoded on its own, so the matrix and the counts are those of one call)."""
    n = len(positions)
    out = np.zeros((n, len(encoder["columns"])), dtype=np.float32)
    report: dict = {}
    for start in range(0, max(n, 1), block_rows):
        block, counts = transform(_Rows(clean, positions[start:start + block_rows]), encoder)
        out[start:start + len(block)] = block
        if not report:
            report = counts
            continue
        for col, k in counts["imputed"].items():
            report["imputed"][col] += k
        for col, levels in counts["unseen_levels"].items():
            merged = report["unseen_levels"].setdefault(col, {})
            for level, k in levels.items():
                merged[level] = merged.get(level, 0) + k
    report["unseen_levels"] = {col: dict(sorted(levels.items())) for col, levels in report["unseen_levels"].items()}
    return out, report


def encode_train(clean, spec: DatasetSpec, feature_set: str, split: dict,
                 group_association: float | None = None, block_rows: int = 1 << 18):
    """Split the cleaned training rows, fit the encoder on the training partition, encode both.

    ``clean`` is the cleaned frame or the pyarrow table of its parquet file: the encoder is fitted
    one column at a time and rows are encoded ``block_rows`` at a time, so the partitions are
    never copied whole. Returns ``(encoder, train_frame, val_frame)``. The encoder records
    the split it was fitted on and, with ``group_association``, the groups of strongly associated
    features of the training partition (``shortcut.reliance.association_groups``): features that
    could stand in for each other, so reliance and shift are also measured on them together.
    """
    labels = _numpy(clean, TARGET).astype(np.int64, copy=False)
    is_val = stratified_split(labels, split["val_fraction"], split["seed"], split["stratify"])
    parts = {"train": np.flatnonzero(~is_val), "val": np.flatnonzero(is_val)}
    del is_val
    categorical, numeric = feature_set_features(spec, feature_set)
    fit_rows = _Rows(clean, parts["train"])
    encoder = fit_encoder(fit_rows, spec, feature_set)
    if group_association is not None:
        from .codes import association_groups

        groups = association_groups(fit_rows, numeric, categorical, group_association)
    frames, reports = [], {}
    for name, at in parts.items():
        matrix, reports[name] = _encode(clean, at, encoder, block_rows)
        frames.append(encoded_frame(matrix, labels[at], _Rows(clean, at)["row"], encoder["columns"]))
        del matrix
    k = len(spec.classes)
    encoder["split"] = {
        **split,
        "n_train": int(len(parts["train"])),
        "n_val": int(len(parts["val"])),
        "class_counts_train": np.bincount(labels[parts["train"]], minlength=k).tolist(),
        "class_counts_val": np.bincount(labels[parts["val"]], minlength=k).tolist(),
    }
    encoder["val_report"] = reports["val"]
    if group_association is not None:
        encoder["groups"] = groups
    # Training mean of every encoded column: the default integrated-gradients baseline (the
    # frame's float32 block reduced in place, as selecting its columns first would copy it).
    encoder["column_means"] = frames[0].mean()[encoder["columns"]].astype(float).tolist()
    return encoder, frames[0], frames[1]


def encode_rows(clean, encoder: dict, block_rows: int = 1 << 18) -> tuple[pd.DataFrame, dict]:
    """Apply a fitted encoder unchanged to other rows (the test file; a cleaned frame or the
    pyarrow table of its parquet file, encoded ``block_rows`` rows at a time). Returns the frame
    and the counts of imputed and unseen cells."""
    n = clean.num_rows if isinstance(clean, pa.Table) else len(clean)
    matrix, report = _encode(clean, np.arange(n), encoder, block_rows)
    frame = encoded_frame(matrix, _numpy(clean, TARGET), _numpy(clean, "row"), encoder["columns"])
    report["rows"] = int(n)
    report["unseen_level_rows"] = int(sum(sum(v.values()) for v in report["unseen_levels"].values()))
    return frame, report
