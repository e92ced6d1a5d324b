"""Predictions for new rows from the model the audit recommends.

The model is the grid's model setting on one feature set: by default (``feature_set: auto``) the
remedy confirmed on the held-back rows when there is one (the one with the largest confirmed
gain), else all features. Its seeds' probabilities are averaged. The new rows go through the
same cleaning (one-line errors for bad cells) and the same fitted encoder as the test rows;
which model was used, and why, is written into the output's metadata. A target column, if the
file has one, is ignored for the prediction and scored separately.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .data import TARGET


def choose_feature_set(requested: str, answer: dict, confirmation: pd.DataFrame) -> tuple[str, str]:
    """The feature set to predict with, and the reason in words."""
    if requested != "auto":
        return requested, f"feature set {requested} chosen in the config (predict.feature_set)"
    confirmed = list(answer.get("confirmed_remedies") or [])
    if not confirmed:
        return "all", "no remedy was confirmed: the models on all features"
    pooled = confirmation[confirmation["setting"] == "all settings"].set_index("feature_set")
    best = max(confirmed, key=lambda fs: float(pooled.loc[fs, "diff"]) if fs in pooled.index else -np.inf)
    return best, (f"the confirmed remedy {best} (confirmation accuracy +{float(pooled.loc[best, 'diff']):.3f} "
                  "over all features)" if best in pooled.index else f"the confirmed remedy {best}")


def cell_flags(frame: pd.DataFrame, encoder: dict) -> tuple[list[str], list[str]]:
    """Per row, the features whose cell was imputed (missing) and those with a level the encoder
    was not fitted on (encoded as all zeros), each ";"-joined."""
    imputed = np.full(len(frame), "", dtype=object)
    unseen = np.full(len(frame), "", dtype=object)

    def add(target, mask, name):
        target[mask] = np.where(target[mask] == "", name, target[mask] + ";" + name)

    for col, enc in encoder["categorical"].items():
        values = frame[col]
        missing = values.isna().to_numpy()
        add(imputed, missing, col)
        filled = values.fillna(enc["fill"]).to_numpy()
        add(unseen, ~np.isin(filled, np.asarray(enc["levels"], dtype=object)), col)
    for col in encoder["numeric"]:
        add(imputed, frame[col].isna().to_numpy(), col)
    return imputed.tolist(), unseen.tolist()


def predict_rows(frame: pd.DataFrame, encoder: dict, models: Sequence, classes: Sequence,
                 class_names: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """One output row per input row: its row number, the predicted class and its name, the
    probability of every class (mean over ``models``), and the imputed and unseen cells."""
    from .data import transform

    X, _ = transform(frame, encoder, dtype=np.dtype(models[0].dtype))
    proba = np.mean([np.asarray(m.predict_proba(X), dtype=np.float64) for m in models], axis=0)
    predicted = np.argmax(proba, axis=1)
    imputed, unseen = cell_flags(frame, encoder)
    out = pd.DataFrame({
        "row": frame["row"].to_numpy(dtype=np.int64),
        "predicted": [str(classes[k]) for k in predicted],
        "predicted_name": [str(class_names[k]) for k in predicted],
    })
    for k, name in enumerate(class_names):
        out[f"p_{name}"] = proba[:, k]
    out["imputed"] = imputed
    out["unseen"] = unseen
    return out, proba


def score(frame: pd.DataFrame, proba: np.ndarray, encoder: dict, n_classes: int) -> dict:
    """Metrics of the predictions against the file's own target column (if it has one)."""
    from .metrics import classification_metrics, majority_class

    if TARGET not in frame.columns:
        return {"scored": False, "reason": "the file has no target column"}
    majority = majority_class(encoder)
    return {"scored": True, **classification_metrics(frame[TARGET].to_numpy(), proba, n_classes, majority)}
