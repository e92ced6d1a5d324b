"""Predictions for new rows from the model the audit recommends.

The model is the grid's model setting on one feature set: by default (``feature_set: auto``) the
remedy confirmed on the held-back rows when there is one, else all features. Among several
confirmed remedies the audit rows choose (the setting's test accuracy on the audit part): the
confirmation rows only confirm, since the gain they measured would be biased upward for the
remedy picked by it. Its seeds' probabilities are averaged. The new rows go through the
same cleaning (one-line errors for bad cells) and the same fitted encoder as the test rows;
which model was used, and why, is written into the output's metadata. A target column, if the
file has one, is ignored for the prediction and scored separately.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from .spec import TARGET


def template_fields(template: str, written: str) -> dict[str, str]:
    """The wildcard values a file name was written with from a Snakemake path ``template``
    (``{name}`` fields, each within one path component), e.g. the feature set of a grid model
    from ``MODELS``: ``template_fields("m/{fs}/seed{seed}/model.npz", "m/all/seed0/model.npz")``
    is ``{"fs": "all", "seed": "0"}``. A name that does not follow the template is a ValueError."""
    pattern, seen = [], set()
    for i, part in enumerate(re.split(r"\{(\w+)\}", template)):
        if i % 2 == 0:
            pattern.append(re.escape(part))
        else:
            pattern.append(f"(?P={part})" if part in seen else f"(?P<{part}>[^/]+)")
            seen.add(part)
    match = re.fullmatch("".join(pattern), written)
    if match is None:
        raise ValueError(f"{written!r} does not follow the template {template!r}")
    return match.groupdict()


def audit_accuracy(audit: Sequence[pd.DataFrame], setting: str) -> dict[str, float]:
    """Feature set -> test (audit) accuracy of model setting ``setting``, mean over seeds, from the
    grid's metric summaries (``evaluation/<fs>/metrics_summary.parquet``, read with
    ``shortcut.summary.METRICS_SUMMARY_COLUMNS``: columns fs, setting, split, accuracy_mean, ...)."""
    frames = [f for f in audit if len(f)]
    if not frames:
        return {}
    table = pd.concat(frames, ignore_index=True)
    rows = table[(table["split"] == "audit") & (table["setting"] == setting)]
    return {str(fs): float(acc) for fs, acc in zip(rows["fs"], rows["accuracy_mean"]) if np.isfinite(acc)}


def choose_feature_set(requested: str, answer: dict, audit: Sequence[pd.DataFrame], setting: str) -> tuple[str, str]:
    """The feature set to predict with, and the reason in words.

    With ``requested == "auto"``: all features when no remedy was confirmed; else, of the
    confirmed remedies (``answer["confirmed_remedies"]``, in the verdict's order of remedies), the
    one whose models of ``setting`` have the highest test (audit) accuracy (``audit``: the metric
    summaries, see :func:`audit_accuracy`). Never by the confirmation gain: those rows measured
    it, so choosing by it would reuse them. Ties, and remedies without audit metrics, go by the
    verdict's order (the first)."""
    if requested != "auto":
        return requested, f"feature set {requested} chosen in the config (predict.feature_set)"
    confirmed = list(answer.get("confirmed_remedies") or [])
    if not confirmed:
        return "all", "no remedy was confirmed: the models on all features"
    if len(confirmed) == 1:
        return confirmed[0], f"the confirmed remedy {confirmed[0]} (the only remedy confirmed on the confirmation rows)"
    acc = audit_accuracy(audit, setting)
    best = max(confirmed, key=lambda fs: acc.get(fs, -np.inf))  # max keeps the first of equals
    if best not in acc:
        return best, (f"the confirmed remedy {best}: the first of the {len(confirmed)} confirmed remedies in the "
                      "verdict's order (no test (audit) accuracy to choose by)")
    return best, (f"the confirmed remedy {best}: of the {len(confirmed)} confirmed remedies, the one with the highest "
                  f"test (audit) accuracy of `{setting}` ({acc[best]:.3f}, mean over seeds); the audit rows chose it, "
                  "the confirmation rows only confirmed it")


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
