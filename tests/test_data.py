"""Cleaning, validation and the train-only encoder (library level)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shortcut import data, demo, files
from shortcut.errors import DataError
from shortcut.spec import TARGET, DatasetSpec

from cleaning import clean_csv, clean_source
from configs import validated

CONFIG = {
    "target": "price_class",
    "classes": [0, 1, 2, 3],
    "class_names": ["Budget", "Mid-range", "Premium", "Luxury"],
    "features": {
        "categorical": ["neighbourhood_group", "room_type"],
        "numeric": ["minimum_nights", "amenity_score", "number_of_reviews", "availability_365"],
    },
    "impute": {
        "categorical": "mode",
        "numeric": "median",
        "columns": [{"column": "number_of_reviews", "strategy": "constant", "value": 0}],
    },
    "log1p": ["minimum_nights"],
    "clean": {"max_coerced_fraction": 0.01},
}
SPLIT = {"val_fraction": 0.2, "seed": 42, "stratify": True}


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    return DatasetSpec.from_config(validated(CONFIG))


@pytest.fixture(scope="module")
def demo_frames():
    return demo.generate(n_train=3000, n_test=800, seed=3)


@pytest.fixture
def train_csv(tmp_path, demo_frames):
    path = tmp_path / "train.csv"
    path.write_text(demo.to_csv_text(demo_frames[0], integers=False))
    return path


def write(tmp_path, text: str, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = "neighbourhood_group,room_type,minimum_nights,amenity_score,number_of_reviews,availability_365,price_class\n"
GOOD = "Manhattan,Private room,2,50.1,3,100,1\n"


# --- bad input: one clear line naming file, column and row ------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, "file not found"),
        ("", "file is empty"),
        (HEADER, "no data rows"),
        (HEADER.replace(",room_type", "") + "Manhattan,2,50,3,100,1\n", "column 'room_type' required by the config is missing"),
        (HEADER.replace("room_type", "room_type,room_type") + GOOD.replace("Private room", "Private room,x"), "'room_type' appears more than once"),
        (HEADER + GOOD + "Brooklyn,Private room,2,50,3,100,7\n", "column 'price_class', row 2: label '7' is not one of the declared classes"),
        (HEADER + GOOD + "Brooklyn,Private room,2,50,3,100,\n", "column 'price_class', row 2: label is missing"),
        (HEADER + GOOD + "Brooklyn,Private room,two,50,3,100,1\n", "column 'minimum_nights', row 2: non-numeric value 'two'"),
        (HEADER + "Brooklyn,,2,50,3,100,1\n" + "Queens,,3,50,3,100,2\n", "column 'room_type' is entirely empty"),
    ],
    ids=["missing-file", "empty-file", "header-only", "missing-column", "duplicate-column", "bad-label",
         "missing-label", "non-numeric", "empty-column"],
)
def test_bad_input_is_one_line_naming_file_column_row(tmp_path, spec, text, expected):
    path = tmp_path / "bad.csv" if text is None else write(tmp_path, text)
    with pytest.raises(DataError) as err:
        clean_csv(path, spec)
    message = str(err.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message


def test_non_numeric_below_tolerance_is_coerced_and_audited(tmp_path, spec):
    rows = [GOOD] * 199 + ["Brooklyn,Private room,n/a?,50,3,100,1\n"]
    path = write(tmp_path, HEADER + "".join(rows))
    frame, audit = clean_csv(path, spec)
    assert np.isnan(frame["minimum_nights"].iloc[-1])
    assert audit["columns"]["minimum_nights"] == {"missing": 0, "coerced_to_missing": 1, "first_coerced_row": 200}
    assert audit["coerced_cells"] == 1


def test_empty_text_is_missing_not_a_category(tmp_path, spec):
    path = write(tmp_path, HEADER + GOOD + ",  ,2,50,,100,1\n" + '"",Private room,2,50,3,100,2\n')
    frame, audit = clean_csv(path, spec)
    assert frame["neighbourhood_group"].isna().sum() == 2
    assert frame["room_type"].isna().sum() == 1
    assert set(audit["columns"]["neighbourhood_group"]["levels"]) == {"Manhattan"}
    assert audit["columns"]["number_of_reviews"]["missing"] == 1
    assert audit["missing_cells"] == 4


def test_float_written_labels_and_types(tmp_path, spec):
    path = write(tmp_path, HEADER + GOOD.replace(",1\n", ",1.0\n") + GOOD.replace(",1\n", ",3\n"))
    frame, _ = clean_csv(path, spec)
    assert frame[TARGET].tolist() == [1, 3]
    assert frame["minimum_nights"].dtype == np.float64


def test_audit_counts_missing_cells_of_demo(train_csv, spec, demo_frames):
    frame, audit = clean_csv(train_csv, spec)
    for column in spec.features:
        assert audit["columns"][column]["missing"] == int(demo_frames[0][column].isna().sum())
    assert audit["rows"] == len(demo_frames[0])
    assert sum(audit["label_counts"].values()) == len(frame)


# --- split and encoder: fitted on the training partition only ---------------------------------


def test_split_is_stratified_and_seeded():
    labels = np.repeat([0, 1, 2, 3], [135, 563, 238, 64])
    mask = data.stratified_split(labels, 0.2, seed=5)
    for k, n in zip(range(4), [135, 563, 238, 64]):
        assert mask[labels == k].sum() == round(0.2 * n)
    assert np.array_equal(mask, data.stratified_split(labels, 0.2, seed=5))
    assert not np.array_equal(mask, data.stratified_split(labels, 0.2, seed=6))


def _clean(train_csv, spec):
    frame, _ = clean_source(train_csv, spec, "train")
    return frame


def test_encoder_ignores_validation_rows(train_csv, spec):
    clean = _clean(train_csv, spec)
    encoder, _, _ = data.encode_train(clean, spec, "all", SPLIT)
    is_val = data.stratified_split(clean[TARGET].to_numpy(), SPLIT["val_fraction"], SPLIT["seed"])
    perturbed = clean.copy()
    perturbed.loc[is_val, "availability_365"] = 1e6
    perturbed.loc[is_val, "amenity_score"] = np.nan
    perturbed.loc[is_val, "room_type"] = "Castle"
    again, _, val = data.encode_train(perturbed, spec, "all", SPLIT)
    encoder.pop("val_report"), again.pop("val_report")
    assert files.to_json_text(again) == files.to_json_text(encoder)
    # Negative control: the same perturbation on training-partition rows does change the encoder.
    control = clean.copy()
    control.loc[~is_val, "availability_365"] = 1e6
    changed, _, _ = data.encode_train(control, spec, "all", SPLIT)
    assert changed["numeric"]["availability_365"] != encoder["numeric"]["availability_365"]
    assert (val.filter(like="room_type=").sum(axis=1) == 0).sum() == is_val.sum()  # unseen -> all zero


def test_statistics_are_those_of_the_training_partition(train_csv, spec):
    clean = _clean(train_csv, spec)
    encoder, train, val = data.encode_train(clean, spec, "all", SPLIT)
    # Standardised training columns have mean 0 and std 1; validation columns do not exactly.
    for column in spec.numeric:
        assert abs(train[column].mean()) < 1e-5 and abs(train[column].std(ddof=0) - 1) < 1e-4
    assert abs(val["availability_365"].mean()) > 1e-5
    is_val = data.stratified_split(clean[TARGET].to_numpy(), 0.2, 42)
    fit_rows = clean.loc[~is_val]
    assert encoder["numeric"]["minimum_nights"]["fill"] == fit_rows["minimum_nights"].median()
    assert encoder["numeric"]["number_of_reviews"]["fill"] == 0.0
    mode = fit_rows["room_type"].value_counts().idxmax()
    assert encoder["categorical"]["room_type"]["fill"] == mode
    assert encoder["split"]["n_train"] == len(fit_rows) and encoder["split"]["n_val"] == int(is_val.sum())


def test_transform_is_the_raw_pipeline_not_a_refit(spec):
    """The assignment's bug: scaling test rows with statistics of already-normalised data."""
    rng = np.random.default_rng(0)
    clean = pd.DataFrame({c: rng.normal(50, 10, 500) for c in spec.numeric})
    for c in spec.categorical:
        clean[c] = pd.Series(rng.choice(["a", "b"], 500), dtype="str")
    clean[TARGET] = rng.integers(0, 4, 500)
    encoder = data.fit_encoder(clean, spec, "all")
    x, _ = data.transform(clean, encoder)
    twice, _ = data.transform(clean, encoder)
    assert np.array_equal(x, twice)
    column = encoder["columns"].index("amenity_score")
    expected = (clean["amenity_score"] - clean["amenity_score"].mean()) / clean["amenity_score"].std(ddof=0)
    np.testing.assert_allclose(x[:, column], expected, rtol=1e-5, atol=1e-5)


def test_unseen_test_levels_are_zero_rows_and_counted(spec, train_csv):
    clean = _clean(train_csv, spec)
    encoder, _, _ = data.encode_train(clean, spec, "all", SPLIT)
    test = clean.head(5).copy()
    test["neighbourhood_group"] = pd.Series(["Mars", "Mars", "Venus", "Brooklyn", None], dtype="str")
    frame, report = data.encode_rows(test, encoder)
    onehot = frame.filter(like="neighbourhood_group=").drop(columns=[data.missing_column("neighbourhood_group")],
                                                            errors="ignore")
    assert onehot.sum(axis=1).tolist() == [0, 0, 0, 1, 1]
    if encoder["categorical"]["neighbourhood_group"]["missing_indicator"]:  # the empty cell is marked
        assert frame[data.missing_column("neighbourhood_group")].tolist() == [0, 0, 0, 0, 1]
    assert report["unseen_levels"]["neighbourhood_group"] == {"Mars": 2, "Venus": 1}
    assert report["unseen_level_rows"] == 3
    assert report["imputed"]["neighbourhood_group"] == 1


def test_zero_std_becomes_one(spec):
    clean = pd.DataFrame({c: np.full(50, 3.0) for c in spec.numeric})
    for c in spec.categorical:
        clean[c] = pd.Series(["a"] * 50, dtype="str")
    clean[TARGET] = np.arange(50) % 4
    encoder = data.fit_encoder(clean, spec, "all")
    assert encoder["numeric"]["amenity_score"]["std"] == 1.0
    x, _ = data.transform(clean, encoder)
    assert np.isfinite(x).all()


def test_feature_sets(spec, train_csv):
    clean = _clean(train_csv, spec)
    encoder = data.fit_encoder(clean, spec, "drop-room_type")
    assert not any(c.startswith("room_type") for c in encoder["columns"])
    assert set(encoder["sources"]) == set(spec.features) - {"room_type"}
    with pytest.raises(DataError, match="feature set 'drop-nope'"):
        data.fit_encoder(clean, spec, "drop-nope")


def test_encoder_maps_columns_to_sources(spec, train_csv):
    encoder = data.fit_encoder(_clean(train_csv, spec), spec, "all")
    assert len(encoder["columns"]) == len(encoder["sources"])
    for column, source in zip(encoder["columns"], encoder["sources"]):
        assert column == source or column.startswith(source + "=")


def test_holdout_when_no_test_csv(train_csv, spec):
    holdout = {"fraction": 0.15, "seed": 1}
    train, _ = clean_source(train_csv, spec, "train", holdout)
    test, audit = clean_source(train_csv, spec, "test", holdout)
    assert set(train["row"]).isdisjoint(test["row"])
    assert len(train) + len(test) == audit["rows"]


def test_spec_check_rejects_conflicting_roles():
    bad = dict(CONFIG, features={"categorical": ["room_type"], "numeric": ["room_type"]}, impute={}, log1p=[])
    with pytest.raises(DataError, match="'room_type' is listed as both"):
        DatasetSpec.from_config(validated(bad)).check()


def test_demo_generator_is_deterministic_and_plants_the_shortcut():
    a_train, a_test = demo.generate(2000, 500, seed=11)
    b_train, _ = demo.generate(2000, 500, seed=11)
    assert demo.to_csv_text(a_train, False) == demo.to_csv_text(b_train, False)
    assert a_test.isna().sum().sum() == 0 and a_train.isna().sum().sum() > 0
    share = np.bincount(a_train["price_class"], minlength=4) / 2000
    np.testing.assert_allclose(share, demo.CLASS_SHARES, atol=0.002)
    rho_train = a_train[["amenity_score", "price_class"]].corr(method="spearman").iloc[0, 1]
    rho_test = a_test[["amenity_score", "price_class"]].corr(method="spearman").iloc[0, 1]
    assert rho_train > 0.8 and abs(rho_test) < 0.1


@pytest.mark.parametrize("integers", [False, True])
def test_demo_csv_in_chunks_is_the_whole_text(demo_frames, integers):
    frame = demo_frames[0] if not integers else demo_frames[1]
    whole = demo.to_csv_text(frame, integers)
    for rows in (1, 7, 1000, 1 << 18):
        assert "".join(demo.csv_chunks(frame, integers, rows=rows)) == whole
    assert "".join(demo.csv_chunks(frame.head(0), integers)) == demo.to_csv_text(frame.head(0), integers)


def test_demo_csv_blocks_pandas_would_quote_or_print_otherwise_go_through_pandas():
    """The fast formatter gives way whenever its text could differ from pandas': a cell to quote,
    an empty text, a float with more than one decimal or a negative one. Whatever formats a
    block, the file is pandas' text."""
    base = pd.DataFrame({"a": pd.Series(["x", None, "y z"], dtype="str"), "b": [1.5, np.nan, 2.0],
                         "c": [1, 2, 3]})
    assert demo._arrow_csv_text(base, False, True) == demo.to_csv_text(base, False)
    odd = [base.assign(a=pd.Series(["x,1", "y", "z"], dtype="str")),
           base.assign(a=pd.Series(['say "hi"', "y", "z"], dtype="str")),
           base.assign(a=pd.Series(["", "y", "z"], dtype="str")),
           base.assign(b=[1.25, 2.0, 3.0]), base.assign(b=[-1.5, 2.0, 3.0]), base.assign(b=[1e20, 1.0, 2.0])]
    for frame in odd:
        assert demo._arrow_csv_text(frame, False, True) is None
        assert "".join(demo.csv_chunks(frame, False, rows=2)) == demo.to_csv_text(frame, False)


def test_encoder_survives_its_json_round_trip(spec, train_csv):
    """encoder.json is written with sorted keys; applying the reloaded encoder must give the same matrix.

    Regression: columns were once filled in the order of the (sorted) per-feature entries, which
    scrambled the numeric columns of every split encoded from encoder.json (the test file).
    """
    import json

    clean = _clean(train_csv, spec)
    encoder, train, _ = data.encode_train(clean, spec, "all", SPLIT)
    reloaded = json.loads(files.to_json_text(encoder))
    assert list(reloaded["numeric"]) != list(encoder["numeric"])  # the round trip does reorder
    is_val = data.stratified_split(clean[TARGET].to_numpy(), SPLIT["val_fraction"], SPLIT["seed"])
    again, _ = data.encode_rows(clean.loc[~is_val].reset_index(drop=True), reloaded)
    pd.testing.assert_frame_equal(again, train)
    # and each column holds its own feature: decode one numeric column back to the raw values
    enc = reloaded["numeric"]["availability_365"]
    raw = clean.loc[~is_val, "availability_365"].fillna(enc["fill"]).to_numpy()
    np.testing.assert_allclose(again["availability_365"] * enc["std"] + enc["mean"], raw, rtol=1e-5, atol=1e-3)


def test_read_encoded_reads_an_encoded_split_as_written(tmp_path, spec, train_csv):
    encoder, train, _ = data.encode_train(_clean(train_csv, spec), spec, "all", SPLIT)
    files.write_parquet(train, tmp_path / "train.parquet")
    X, y, rows = files.read_encoded(tmp_path / "train.parquet")
    X_frame, y_frame = data.split_xy(train)
    assert X.flags.c_contiguous and X.dtype == np.float32 and X.shape == (len(train), len(encoder["columns"]))
    assert np.array_equal(X, X_frame) and np.array_equal(y, y_frame)
    assert np.array_equal(rows, train["row"].to_numpy())


# --- encodings and classes of the training file ------------------------------------------------


def test_a_utf8_byte_order_mark_is_accepted(tmp_path, spec):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + GOOD + GOOD.replace(",1\n", ",2\n")).encode("utf-8"))
    frame, _ = clean_csv(path, spec)
    assert list(frame.columns[:2]) == ["neighbourhood_group", "room_type"] and len(frame) == 2


def test_another_encoding_is_one_line_naming_the_byte_and_the_key(tmp_path, spec):
    rows = HEADER + GOOD + "Manhattan,Caf\xe9 room,2,50,3,100,2\n"  # a Latin-1 e-acute
    path = tmp_path / "latin1.csv"
    path.write_bytes(rows.encode("latin-1"))
    with pytest.raises(DataError) as err:
        clean_csv(path, spec)
    message = str(err.value)
    offset = rows.encode("latin-1").index(b"\xe9")
    assert message == (f"{path}: byte {offset} (0xe9) is not valid utf-8: set data.encoding to the file's "
                       "encoding (for example latin-1 or cp1252)")
    # the header line too: a raw UnicodeDecodeError never reaches the user
    head = tmp_path / "latin1-header.csv"
    head_bytes = HEADER.replace("room_type", "room_typ\xe9").encode("latin-1")
    head.write_bytes(head_bytes + GOOD.encode())
    at = head_bytes.index(b"\xe9")
    with pytest.raises(DataError, match=rf"byte {at} \(0xe9\) is not valid utf-8"):
        clean_csv(head, spec)
    # with the key set, the same file reads
    latin = DatasetSpec.from_config(validated({**CONFIG, "data": {"train": "t.csv", "encoding": "latin-1"}}))
    frame, _ = clean_csv(path, latin)
    assert frame["room_type"].iloc[1] == "Café room"


def test_an_unknown_encoding_is_a_config_error():
    bad = DatasetSpec.from_config(validated({**CONFIG, "data": {"train": "t.csv", "encoding": "klingon"}}))
    with pytest.raises(DataError, match="data.encoding 'klingon' is not a text encoding"):
        bad.check()


def test_a_training_file_with_one_class_is_an_error_and_missing_classes_a_warning(tmp_path, spec, caplog):
    one = write(tmp_path, HEADER + GOOD + GOOD, "one.csv")
    with pytest.raises(DataError) as err:
        clean_source(one, spec, "train")
    assert str(err.value) == (f"{one}: column 'price_class': every training row has class 1; a classifier "
                              "needs rows of at least two of the declared classes [0, 1, 2, 3]")
    two = write(tmp_path, HEADER + GOOD + GOOD.replace(",1\n", ",2\n"), "two.csv")
    with caplog.at_level("WARNING", logger="shortcut"):
        _, cells = clean_source(two, spec, "train")
    assert cells["classes_without_rows"] == ["0", "3"]
    assert "declared class(es) 0, 3 have no training row" in caplog.text
    # a test file may hold fewer classes: that is the shift evidence's business, not an error
    _, test_cells = clean_source(one, spec, "test")
    assert "classes_without_rows" not in test_cells


# --- cleaning in batches: row numbers stay the file's ------------------------------------------


def _rows(n, bad=None):
    """``n`` good data rows, with ``bad`` ({row number: line}) replacing some (1-based)."""
    bad = bad or {}
    return HEADER + "".join(bad.get(i, GOOD) for i in range(1, n + 1))


@pytest.mark.parametrize("batch_rows", [1, 3, 7, 1 << 18])
@pytest.mark.parametrize("bad, expected", [
    ({8: "Brooklyn,Private room,two,50,3,100,1\n", 9: "Brooklyn,Private room,x,50,3,100,1\n"},
     "column 'minimum_nights', row 8: non-numeric value 'two' (2 of 10 cells not numeric"),
    ({9: "Brooklyn,Private room,2,50,3,100,7\n"}, "column 'price_class', row 9: label '7' is not one of"),
    # a missing label anywhere is reported before an undeclared one, as for the whole file at once
    ({2: "Brooklyn,Private room,2,50,3,100,7\n", 10: "Brooklyn,Private room,2,50,3,100,\n"},
     "column 'price_class', row 10: label is missing"),
    # the tolerance is judged on every row of the file, not per batch
    ({4: "Brooklyn,Private room,2,?,3,100,1\n", 6: "Brooklyn,Private room,2,50,3,100,9\n"},
     "column 'amenity_score', row 4: non-numeric value '?' (1 of 10 cells not numeric"),
], ids=["non-numeric", "bad-label", "missing-label-first", "tolerance-of-the-file"])
def test_errors_name_the_files_row_in_any_batch(tmp_path, spec, bad, expected, batch_rows):
    path = write(tmp_path, _rows(10, bad))
    with pytest.raises(DataError) as err:
        clean_source(path, spec, "test", batch_rows=batch_rows)
    assert str(err.value).startswith(f"{path}: {expected}") and "\n" not in str(err.value)


def test_the_file_streamed_in_small_blocks_cleans_as_a_whole(tmp_path, spec):
    """A CSV read in blocks of a few rows (many record batches) cleans to the same frame and audit
    as the whole file at once; a coerced cell in a later batch keeps its row number."""
    lines = {i: f"Queens,Shared room,{i},{i}.5,{i},{i},{i % 4}\n" for i in range(1, 400)}
    lines[351] = "Queens,Shared room,nope,1,1,1,0\n"
    lines[200] = "  ,Entire home/apt,1,NA,1,1,2.0\n"
    path = write(tmp_path, _rows(399, lines))
    whole, whole_audit = clean_source(path, spec, "train")
    assert len(list(files.read_raw_csv_batches(path, [spec.target, *spec.features], spec.encoding,
                                               block_size=256))) > 20
    for block_size, batch_rows in [(256, 1 << 18), (1 << 20, 5), (300, 2)]:
        frame, audit = clean_source(path, spec, "train", block_size=block_size, batch_rows=batch_rows)
        pd.testing.assert_frame_equal(frame, whole)
        assert files.to_json_text(audit) == files.to_json_text(whole_audit)
    assert whole_audit["columns"]["minimum_nights"]["first_coerced_row"] == 351
    assert whole_audit["columns"]["neighbourhood_group"]["missing"] == 1
    assert whole_audit["columns"]["amenity_score"]["missing"] == 1
    assert np.isnan(whole.loc[whole["row"] == 351, "minimum_nights"]).all()
    # the table read whole (the predict script's way) cleans the same
    frame, audit = clean_csv(path, spec)
    pd.testing.assert_frame_equal(frame, whole.drop(columns="row"))


def test_a_stream_without_data_rows_or_with_a_bad_byte_late_is_one_line(tmp_path, spec):
    empty = write(tmp_path, HEADER, "empty.csv")
    with pytest.raises(DataError, match="file has a header but no data rows"):
        clean_source(empty, spec, "train", block_size=256)
    text = (HEADER + GOOD * 40).encode() + "Queens,Caf\xe9,2,50,3,100,1\n".encode("latin-1")
    late = tmp_path / "late.csv"
    late.write_bytes(text)
    with pytest.raises(DataError) as err:
        clean_source(late, spec, "train", block_size=256)
    at = text.index(b"\xe9")
    assert str(err.value).startswith(f"{late}: byte {at} (0xe9) is not valid utf-8")


# --- encoding one column and one block of rows at a time -----------------------------------------


def test_encoding_the_parquet_table_in_blocks_is_encoding_the_frame(tmp_path, spec, train_csv):
    """fit_encoder reads the cleaned parquet as a pyarrow table (text as dictionary codes) and
    encodes a few rows at a time: the encoder, the frames and the counts are those of the frame."""
    clean = _clean(train_csv, spec)
    clean.loc[5, "room_type"] = None
    files.write_parquet(clean, tmp_path / "clean.parquet")
    table = files.read_parquet_table(tmp_path / "clean.parquet", strings_as_dictionary=True)
    encoder, train, val = data.encode_train(clean, spec, "all", SPLIT, 0.3)
    for block_rows in (7, 1000, 1 << 18):
        again, train2, val2 = data.encode_train(table, spec, "all", SPLIT, 0.3, block_rows=block_rows)
        assert files.to_json_text(again) == files.to_json_text(encoder)
        pd.testing.assert_frame_equal(train2, train)
        pd.testing.assert_frame_equal(val2, val)
    test = clean.head(50).copy()
    test["neighbourhood_group"] = pd.Series(["Mars"] * 20 + ["Venus"] * 5 + [None] * 25, dtype="str")
    files.write_parquet(test, tmp_path / "test.parquet")
    whole, report = data.encode_rows(test, encoder)
    for block_rows in (3, 1 << 18):
        rows = files.read_parquet_table(tmp_path / "test.parquet", strings_as_dictionary=True)
        frame, counts = data.encode_rows(rows, encoder, block_rows=block_rows)
        pd.testing.assert_frame_equal(frame, whole)
        assert counts == report
    assert report["unseen_levels"]["neighbourhood_group"] == {"Mars": 20, "Venus": 5}
    assert report["imputed"]["neighbourhood_group"] == 25 and report["unseen_level_rows"] == 25


def test_a_feature_with_empty_training_cells_gets_a_missingness_indicator_fitted_on_train():
    from configs import validated
    from shortcut.spec import DatasetSpec

    spec = DatasetSpec.from_config(validated({"target": TARGET, "classes": [0, 1],
                                              "features": {"categorical": ["c"], "numeric": ["x", "z"]}}))
    train = pd.DataFrame({"row": np.arange(1, 9), "c": pd.Series(["a", None, "b", "a", "b", "a", "b", "a"], dtype="str"),
                          "x": [1.0, np.nan, 3.0, 4.0, np.nan, 6.0, 7.0, 8.0], "z": np.arange(8.0),
                          TARGET: [0, 1, 0, 1, 0, 1, 0, 1]})
    encoder = data.fit_encoder(train, spec, "all")
    assert data.missing_column("x") in encoder["columns"] and data.missing_column("c") in encoder["columns"]
    assert data.missing_column("z") not in encoder["columns"]  # no empty cell in training: no indicator
    assert encoder["sources"][encoder["columns"].index(data.missing_column("x"))] == "x"
    test = pd.DataFrame({"c": pd.Series([None, "a"], dtype="str"), "x": [np.nan, 2.0], "z": [np.nan, 1.0]})
    X, _ = data.transform(test, encoder)
    col = {name: j for j, name in enumerate(encoder["columns"])}
    assert X[:, col[data.missing_column("x")]].tolist() == [1, 0]
    assert X[:, col[data.missing_column("c")]].tolist() == [1, 0]
