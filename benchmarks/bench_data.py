"""Data shared by the benchmarks: the real files encoded by the pipeline's own library."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from shortcut import data, demo, files  # noqa: E402
from shortcut.spec import DatasetSpec  # noqa: E402

from cleaning import clean_source  # noqa: E402  (what the clean rule script does)
from configs import validated  # noqa: E402  (defaults from the schema)

REAL = ROOT.parent / "shared" / "data" / "airbnb"
CONFIG = {
    "target": "price_class",
    "classes": [0, 1, 2, 3],
    "features": {
        "categorical": ["neighbourhood_group", "room_type"],
        "numeric": ["minimum_nights", "amenity_score", "number_of_reviews", "availability_365"],
    },
    "impute": {"columns": [{"column": "number_of_reviews", "strategy": "constant", "value": 0},
                           {"column": "amenity_score", "strategy": "constant", "value": 0}]},
    "log1p": ["minimum_nights", "number_of_reviews"],
}


def encoded_splits(tmp: Path):
    """(X_train, y_train, X_val, y_val, X_test, y_test, source) through the pipeline's library."""
    spec = DatasetSpec.from_config(validated(CONFIG))
    if (REAL / "train.csv").is_file():
        paths, source = (REAL / "train.csv", REAL / "test.csv"), "real data (shared/data/airbnb)"
    else:
        train_df, test_df = demo.generate()
        paths = (tmp / "train.csv", tmp / "test.csv")
        files.write_text(paths[0], demo.to_csv_text(train_df, False))
        files.write_text(paths[1], demo.to_csv_text(test_df, True))
        source = "synthetic demo data"
    clean_train, _ = clean_source(paths[0], spec, "train")
    clean_test, _ = clean_source(paths[1], spec, "test")
    encoder, tr, va = data.encode_train(clean_train, spec, "all", {"val_fraction": 0.2, "seed": 42, "stratify": True})
    te, _ = data.encode_rows(clean_test, encoder)
    return (*data.split_xy(tr), *data.split_xy(va), *data.split_xy(te), source)
