"""Synthetic NYC-listings-like data with a planted shortcut, so the default run needs no download.

The generator is written from published summary statistics of the course assignment's data
(class shares, per-class category mixes, per-class quantiles of the numeric columns, missing
rates), not from its rows. Like the real data, one column (``amenity_score``) nearly
determines the class in the training file and is uniform noise in the test file; every other
column has the same class-conditional distribution in both files.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

CLASS_SHARES = np.array([0.135, 0.563, 0.238, 0.064])
CLASS_NAMES = ["Budget", "Mid-range", "Premium", "Luxury"]

ROOM_TYPES = ["Entire home/apt", "Private room", "Shared room"]
# P(room_type | class), rows = class
ROOM_GIVEN_CLASS = np.array(
    [
        [0.028, 0.871, 0.101],
        [0.428, 0.556, 0.016],
        [0.906, 0.090, 0.004],
        [0.898, 0.096, 0.006],
    ]
)
BOROUGHS = ["Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island"]
# P(neighbourhood_group | class)
BOROUGH_GIVEN_CLASS = np.array(
    [
        [0.057, 0.546, 0.157, 0.225, 0.015],
        [0.023, 0.448, 0.393, 0.128, 0.008],
        [0.005, 0.301, 0.641, 0.050, 0.003],
        [0.007, 0.228, 0.732, 0.031, 0.002],
    ]
)
# amenity_score in train: per-class range (low, high); the real per-class means and sds
# (22.7/7.2, 46.9/10.4, 70.8/8.3, 87.0/6.1) are close to those of a uniform draw on each range
AMENITY_TRAIN = [(10, 35), (28, 68), (55, 88), (75, 99)]
AMENITY_RANGE = (10.0, 99.0)
REVIEWS_ZERO = np.array([0.19, 0.17, 0.21, 0.32])
REVIEWS_MEAN = np.array([25.0, 31.0, 27.0, 21.0])
AVAIL_ZERO = np.array([0.39, 0.38, 0.32, 0.22])
AVAIL_SHAPE = np.array([0.9, 0.85, 1.0, 1.5])  # Beta(a, 1) tilt of the non-zero days
NIGHTS_MU = np.array([0.75, 0.6, 0.85, 0.85])  # log-scale location of (nights - 1)
# missing-cell rates of the real training file; its test file has none
MISSING_TRAIN = {
    "neighbourhood_group": 0.0203,
    "room_type": 0.0148,
    "minimum_nights": 0.0320,
    "amenity_score": 0.0222,
    "number_of_reviews": 0.0272,
    "availability_365": 0.0144,
}
COLUMNS = [
    "neighbourhood_group",
    "room_type",
    "minimum_nights",
    "amenity_score",
    "number_of_reviews",
    "availability_365",
    "price_class",
]


def _categorical(rng: np.random.Generator, labels: np.ndarray, table: np.ndarray, levels) -> pd.Series:
    """Draw one level per row from the row's class-conditional distribution (vectorised); the
    levels as pandas' str column (arrow strings, never an array of Python objects)."""
    cdf = np.cumsum(table, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random(labels.size)
    idx = np.zeros(labels.size, dtype=np.int64)  # levels below u, one level at a time (no n x k array)
    for j in range(cdf.shape[1]):
        idx += u > cdf[labels, j]
    return pc.take(pa.array(levels, pa.large_string()), idx).to_pandas()


def _amenity(rng, labels: np.ndarray, shortcut: bool) -> np.ndarray:
    if not shortcut:
        return np.round(rng.uniform(*AMENITY_RANGE, labels.size), 1)
    out = np.empty(labels.size)
    for k, (low, high) in enumerate(AMENITY_TRAIN):
        rows = labels == k
        out[rows] = rng.uniform(low, high, int(rows.sum()))
    return np.round(out, 1)


def _numerics(rng, labels: np.ndarray) -> dict[str, np.ndarray]:
    n = labels.size
    nights = 1 + np.floor(rng.lognormal(NIGHTS_MU[labels], 1.25))
    monthly = rng.random(n) < 0.06
    nights[monthly] = 30
    nights = np.minimum(nights, 1250)
    reviews = rng.negative_binomial(0.55, 0.55 / (0.55 + REVIEWS_MEAN[labels]))
    reviews = np.where(rng.random(n) < REVIEWS_ZERO[labels], 0, np.minimum(reviews, 629)).astype(float)
    days = np.ceil(365 * rng.beta(AVAIL_SHAPE[labels], 1.0))
    avail = np.where(rng.random(n) < AVAIL_ZERO[labels], 0.0, np.clip(days, 1, 365))
    return {"minimum_nights": nights, "number_of_reviews": reviews, "availability_365": avail}


def make_split(n_rows: int, seed: int, shortcut: bool, missing: bool) -> pd.DataFrame:
    """One file's worth of rows. ``shortcut``: amenity_score tracks the class (train) or is noise (test)."""
    rng = np.random.default_rng(seed)
    counts = np.floor(CLASS_SHARES * n_rows).astype(int)
    counts[1] += n_rows - counts.sum()
    labels = rng.permutation(np.repeat(np.arange(len(CLASS_SHARES)), counts))
    df = pd.DataFrame(
        {
            "neighbourhood_group": _categorical(rng, labels, BOROUGH_GIVEN_CLASS, BOROUGHS),
            "room_type": _categorical(rng, labels, ROOM_GIVEN_CLASS, ROOM_TYPES),
        }
    )
    numerics = _numerics(rng, labels)
    df["minimum_nights"] = numerics["minimum_nights"]
    df["amenity_score"] = _amenity(rng, labels, shortcut)
    df["number_of_reviews"] = numerics["number_of_reviews"]
    df["availability_365"] = numerics["availability_365"]
    df["price_class"] = labels
    if missing:
        for column, rate in MISSING_TRAIN.items():
            df.loc[rng.random(n_rows) < rate, column] = None
    return df[COLUMNS]


def generate(n_train: int = 41_348, n_test: int = 7_297, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train rows (shortcut planted, with missing cells) and test rows (shortcut is noise, complete)."""
    train = make_split(n_train, seed, shortcut=True, missing=True)
    test = make_split(n_test, seed + 1, shortcut=False, missing=False)
    return train, test


def to_csv_text(df: pd.DataFrame, integers: bool, header: bool = True) -> str:
    """CSV text as the real files are written: train numerics as floats ('2.0'), test as integers."""
    out = df.copy()
    if integers:
        for column in ("minimum_nights", "number_of_reviews", "availability_365"):
            out[column] = out[column].astype("Int64")
    return out.to_csv(index=False, lineterminator="\n", header=header)


def csv_chunks(df: pd.DataFrame, integers: bool, rows: int = 1 << 18) -> Iterator[str]:
    """:func:`to_csv_text` in blocks of ``rows`` rows (the header with the first): joined, they
    are the same text, but a large file is never held whole. Each block is formatted by
    :func:`_arrow_csv_text` when it can reproduce pandas' text exactly (5x faster), else by
    pandas."""
    for start in range(0, max(len(df), 1), rows):
        block, header = df.iloc[start:start + rows], start == 0
        text = _arrow_csv_text(block, integers, header)
        yield to_csv_text(block, integers, header=header) if text is None else text


_INTEGER_COLUMNS = ("minimum_nights", "number_of_reviews", "availability_365")


def _arrow_cells(series: pd.Series, as_integer: bool):
    """One column's CSV cells as pandas writes them, as an arrow string array (missing: null),
    or None when this column is not one of the kinds handled: text without a character that
    needs quoting, integers, and floats whose shortest repr has at most one decimal below 1e15
    (``repr(7.3) == "7.3"``, ``repr(2.0) == "2.0"``; pandas writes floats by their repr)."""
    if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        cells = pa.array(series, type=pa.large_string(), from_pandas=True)
        # pandas quotes a cell with a separator, quote or line break (and an empty text)
        if pc.any(pc.match_substring_regex(cells, r'^$|[,"\n\r]')).as_py():
            return None
        return cells
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    finite = values[~missing]
    if finite.size and not (np.all(np.abs(finite) < 1e15) and np.all(finite >= 0)):
        return None
    if as_integer or pd.api.types.is_integer_dtype(series.dtype):
        if not np.all(finite == np.rint(finite)):
            return None
        whole = np.rint(np.where(missing, 0.0, values)).astype(np.int64)
        return pc.cast(pa.array(whole, mask=missing), pa.large_string())
    tenths = np.rint(np.where(missing, 0.0, values) * 10).astype(np.int64)
    if not np.all(tenths[~missing] / 10 == finite):
        return None
    whole = pc.cast(pa.array(tenths // 10, mask=missing), pa.large_string())
    digit = pc.cast(pa.array(tenths % 10, mask=missing), pa.large_string())
    return pc.binary_join_element_wise(whole, digit, pa.scalar(".", pa.large_string()))


def _arrow_csv_text(df: pd.DataFrame, integers: bool, header: bool) -> str | None:
    """:func:`to_csv_text` of ``df`` built with arrow string kernels, or None if some column is
    of a kind :func:`_arrow_cells` does not handle (the caller then asks pandas)."""
    if not len(df) or any("," in str(c) or '"' in str(c) for c in df.columns):
        return None
    cells = []
    for name in df.columns:
        column = _arrow_cells(df[name], integers and name in _INTEGER_COLUMNS)
        if column is None:
            return None
        cells.append(column)
    options = pc.JoinOptions(null_handling="replace", null_replacement="")
    empty, comma, newline = (pa.scalar(t, pa.large_string()) for t in ("", ",", "\n"))
    lines = pc.binary_join_element_wise(*cells, comma, options=options)
    body = pc.binary_join_element_wise(lines, empty, newline)  # each line, its newline, ""
    data, offsets = body.buffers()[2], np.frombuffer(body.buffers()[1], dtype=np.int64)
    text = data.to_pybytes()[offsets[body.offset]:offsets[body.offset + len(body)]].decode("utf-8")
    return (",".join(map(str, df.columns)) + "\n" + text) if header else text
