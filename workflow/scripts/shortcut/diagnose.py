"""Shortcut diagnosis: combine saliency (does the model rely on a feature?) with the shift table
(did the feature's relation to the label and its distribution change from train to test?).

A feature is a SHORTCUT SUSPECT when the model relies on it AND its association with the label
collapses from train to test (1 and 2 below); with ``require_shift`` (off by default) its
distribution must also have shifted (3). The three pieces of evidence:

1. ``relies`` - the model trained on all features relies on it, measured on the reliance split
   (default the validation split: what the model learned, before any test data is seen):
   ``share >= share_min`` OR (``rank == 1`` AND ``share >= rank1_lift / n_features``).
   ``share`` is the feature's share of the total mean |attribution| (averaged over seeds), so
   shares sum to 1 over features and a model that spreads its attention evenly gives every
   feature 1 / F. The first clause catches a feature carrying a large absolute part of the
   decision (default 0.30: nearly a third of all attribution). The second catches the
   top-ranked feature of a wide model whose share is small in absolute terms but still
   ``rank1_lift`` (default 2) times the even share; being rank 1 alone is not enough, since
   some feature is always rank 1.
2. ``assoc_dropped`` - its association with the label collapses from train to test:
   ``nmi_drop >= nmi_drop_min`` OR ``onefeat_drop >= onefeat_drop_min`` (both 0.05 by
   default, the same values as ``shift.DEFAULT_THRESHOLDS``; see ``shift`` for why). NMI catches
   a collapse that leaves the majority class per bin unchanged; the one-feature accuracy
   speaks in accuracy points.
3. ``shifted`` - its distribution moved: the ``shifted`` flag of the shift table (PSI / KS /
   Cramer's V rules, with the thresholds the table was built with; its rule text is copied).

Why the shift is not required by default: a shortcut is a feature the model leans on whose
link to the label does not hold on new data. That link can break while the feature's marginal
distribution stays the same (a score that tracks the class in train and is noise in test, with
the same overall spread): the purest shortcut, invisible to PSI and KS. A marginal shift is
reported beside the verdict as supporting evidence ("distribution shifted" or "concept shift:
marginal unchanged"). Other combinations are read out in ``reading``: relied on and shifted
but still predictive = covariate shift the model may extrapolate over; shifted or dropped but
not relied on = harmless to this model. "No suspect" is a valid, explicit outcome.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

DEFAULT_THRESHOLDS: dict = {
    "share_min": 0.30,
    "rank1_lift": 2.0,
    "nmi_drop_min": 0.05,
    "onefeat_drop_min": 0.05,
    "require_shift": False,
}
"""Diagnosis thresholds (see the module docstring for the rules they enter and why)."""

DEFAULT_METHOD = "integrated_gradients"


def _rules(th: Mapping, reliance_split: str) -> dict:
    return {
        "relies": (f"model relies on the feature if, on the {reliance_split} split, share >= "
                   f"{th['share_min']:g}, or rank == 1 and share >= {th['rank1_lift']:g} / "
                   f"n_features"),
        "assoc_dropped": (f"association dropped if NMI train - test >= {th['nmi_drop_min']:g} or "
                          f"one-feature accuracy train - test >= {th['onefeat_drop_min']:g}"),
        "shifted": "distribution shifted: the shift table's `shifted` flag",
        "suspect": ("shortcut suspect if relies AND assoc_dropped AND shifted" if th["require_shift"]
                    else "shortcut suspect if relies AND assoc_dropped (shifted is reported as supporting evidence)"),
    }


def _saliency_wide(sal: pd.DataFrame, method: str | None) -> tuple[pd.DataFrame, str | None]:
    """(feature x split) mean share and the rank of that mean share within the split."""
    need = {"feature", "split", "share"}
    missing = need - set(sal.columns)
    if missing:
        raise ValueError(f"saliency_by_feature lacks columns {sorted(missing)}")
    df = sal
    used_method = None
    if "method" in df.columns:
        methods = list(dict.fromkeys(df["method"]))
        used_method = method or (DEFAULT_METHOD if DEFAULT_METHOD in methods else None)
        if used_method is None:
            if len(methods) != 1:
                raise ValueError(f"several saliency methods {methods}: pass method=")
            used_method = methods[0]
        if used_method not in methods:
            raise ValueError(f"method {used_method!r} not in saliency table ({methods})")
        df = df[df["method"] == used_method]
    # Several rows per (feature, split), e.g. one per seed: average the shares.
    agg = {"share": ("share", "mean")}
    if "share_sd" in df.columns:
        agg["share_sd"] = ("share_sd", "mean")
    g = df.groupby(["split", "feature"], sort=False).agg(**agg).reset_index()
    if "share_sd" not in g.columns:
        sd = df.groupby(["split", "feature"], sort=False)["share"].std(ddof=1)
        g["share_sd"] = sd.reindex(pd.MultiIndex.from_frame(g[["split", "feature"]])).to_numpy()
    g["rank"] = g.groupby("split")["share"].rank(ascending=False, method="min").astype(int)
    g["n_features"] = g.groupby("split")["feature"].transform("count")
    return g, used_method


def _num(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def _reading(relies: bool, dropped: bool, shifted: bool) -> str:
    if relies and dropped and shifted:
        return "shortcut: relied on, association collapsed on test, distribution shifted"
    if relies and dropped:
        return "shortcut (concept shift): relied on, association collapsed on test, marginal unchanged"
    if relies and shifted:
        return "covariate shift: relied on and shifted, association holds"
    if relies:
        return "relied on, stable: genuine signal"
    if dropped or shifted:
        return "changed but not relied on: harmless to this model"
    return "not relied on, stable"


def diagnose(saliency_by_feature: pd.DataFrame, shift: pd.DataFrame, thresholds: Mapping | None = None,
             *, reliance_split: str = "validation", method: str | None = None) -> dict:
    """Decide which features are shortcut suspects from saliency and shift evidence.

    Parameters
    ----------
    saliency_by_feature : columns ``feature``, ``split``, ``share`` (optionally ``method``,
        ``share_sd``, ``seed``...): per feature the share of mean |attribution| of the models
        trained on all features, on the validation and on the test split. Several rows per
        (feature, split) (e.g. per seed) are averaged; ranks are recomputed from the mean share.
        If a ``method`` column is present, ``method`` (default "integrated_gradients") picks one.
    shift : the ``shift.shift_table`` output (``feature``, ``shifted``, ``nmi_drop``,
        ``onefeat_drop`` and the other statistics, which are copied into the evidence).
    thresholds : overrides of ``DEFAULT_THRESHOLDS``.
    reliance_split : the split on which reliance is judged (default "validation").

    Returns
    -------
    ``{"suspects": [feature, ...] (by decreasing share), "evidence": {feature: {...}},
    "thresholds": {...}, "rules": {name: text}, "summary": str, "method": str | None,
    "reliance_split": str, "features": [...]}``
    """
    th = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    unknown = set(th) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise ValueError(f"unknown thresholds {sorted(unknown)}")
    wide, used_method = _saliency_wide(saliency_by_feature, method)
    splits = list(dict.fromkeys(wide["split"]))
    if reliance_split not in splits:
        raise ValueError(f"reliance split {reliance_split!r} not in saliency table (splits: {splits})")
    sal = {(r.split, r.feature): r for r in wide.itertuples(index=False)}
    shift_rows = {str(r["feature"]): r for r in shift.to_dict("records")}

    features = list(dict.fromkeys(list(shift_rows) + list(wide["feature"])))
    evidence: dict = {}
    for f in features:
        ev: dict = {"feature": f}
        for split in splits:
            r = sal.get((split, f))
            ev[f"share_{split}"] = float(r.share) if r is not None else float("nan")
            ev[f"share_sd_{split}"] = _num(r.share_sd) if r is not None else float("nan")
            ev[f"rank_{split}"] = int(r.rank) if r is not None else None
        rr = sal.get((reliance_split, f))
        if rr is not None:
            n_feat = int(rr.n_features)
            share, rank = float(rr.share), int(rr.rank)
            relies = bool(share >= th["share_min"] or (rank == 1 and share >= th["rank1_lift"] / n_feat))
        else:
            n_feat, relies = None, False
        ev["n_features"] = n_feat
        ev["relies"] = relies

        sr = shift_rows.get(f)
        if sr is not None:
            for key in ("kind", "ks", "ks_pvalue", "psi", "psi_observed", "cramers_v", "chi2_pvalue",
                        "missing_train", "missing_test", "nmi_train", "nmi_test", "nmi_drop",
                        "onefeat_acc_train", "onefeat_acc_test", "onefeat_drop", "flags",
                        "shifted_rule"):
                if key in sr:
                    v = sr[key]
                    ev[key] = v if isinstance(v, str) else _num(v)
            nmi_drop, acc_drop = _num(sr.get("nmi_drop")), _num(sr.get("onefeat_drop"))
            dropped = bool((nmi_drop >= th["nmi_drop_min"]) or (acc_drop >= th["onefeat_drop_min"]))
            shifted = bool(sr.get("shifted", False))
        else:
            dropped = shifted = False
        ev["assoc_dropped"] = dropped
        ev["shifted"] = shifted
        ev["in_saliency"] = rr is not None
        ev["in_shift"] = sr is not None
        ev["n_pass"] = int(relies) + int(dropped) + int(shifted)
        ev["suspect"] = bool(relies and dropped and (shifted or not th["require_shift"]))
        ev["reading"] = _reading(relies, dropped, shifted) if (rr is not None and sr is not None) else (
            "incomplete evidence: " + ("no saliency" if rr is None else "no shift statistics"))
        evidence[f] = ev

    key = f"share_{reliance_split}"
    suspects = sorted([f for f in features if evidence[f]["suspect"]],
                      key=lambda f: (-evidence[f][key], features.index(f)))
    result = {
        "suspects": suspects,
        "evidence": evidence,
        "thresholds": dict(th),
        "rules": _rules(th, reliance_split),
        "method": used_method,
        "reliance_split": reliance_split,
        "features": features,
    }
    result["summary"] = _summary(result)
    return result


def _fmt_ev(ev: dict, split: str) -> str:
    return (f"{ev['feature']} ({split} share {ev.get(f'share_{split}', float('nan')):.2f}, rank "
            f"{ev.get(f'rank_{split}')}; NMI {ev.get('nmi_train', float('nan')):.3f} -> "
            f"{ev.get('nmi_test', float('nan')):.3f}; one-feature accuracy "
            f"{ev.get('onefeat_acc_train', float('nan')):.3f} -> {ev.get('onefeat_acc_test', float('nan')):.3f}; "
            f"PSI {ev.get('psi', float('nan')):.3f}"
            + (f", KS {ev['ks']:.3f}" if np.isfinite(ev.get("ks", float("nan"))) else "")
            + (f", Cramer's V {ev['cramers_v']:.3f}" if np.isfinite(ev.get("cramers_v", float("nan"))) else "")
            + ")")


def _summary(result: dict) -> str:
    ev, split = result["evidence"], result["reliance_split"]
    if result["suspects"]:
        n = len(result["suspects"])
        head = f"{n} shortcut suspect{'s' if n > 1 else ''}: " + "; ".join(
            _fmt_ev(ev[f], split) for f in result["suspects"])
        return head + ". The model relies on it and its link to the label breaks on test."
    needed = "relied on, association dropped" + (", shifted" if result["thresholds"]["require_shift"] else "")
    text = f"No shortcut suspect: no feature meets every rule ({needed})."
    closest = sorted((f for f in result["features"] if ev[f]["n_pass"] == 2),
                     key=lambda f: result["features"].index(f))
    if closest:
        text += " Two of three: " + "; ".join(f"{f} - {ev[f]['reading']}" for f in closest) + "."
    return text


def verdict_table(result: dict) -> pd.DataFrame:
    """One row per feature: each piece of evidence, each rule's pass/fail, the verdict."""
    split = result["reliance_split"]
    ev = result["evidence"]
    splits = sorted({k[len("share_"):] for e in ev.values() for k in e
                     if k.startswith("share_") and not k.startswith("share_sd_")},
                    key=lambda s: (s != split, s))

    def pf(b: bool) -> str:
        return "pass" if b else "fail"

    rows = []
    for f in result["features"]:
        e = ev[f]
        row = {"feature": f}
        for s in splits:
            row[f"share_{s}"] = e.get(f"share_{s}", float("nan"))
            row[f"rank_{s}"] = e.get(f"rank_{s}")
        row["relies"] = pf(e["relies"])
        for k in ("nmi_train", "nmi_test", "nmi_drop", "onefeat_acc_train", "onefeat_acc_test",
                  "onefeat_drop"):
            row[k] = e.get(k, float("nan"))
        row["assoc_dropped"] = pf(e["assoc_dropped"])
        for k in ("psi", "ks", "cramers_v"):
            row[k] = e.get(k, float("nan"))
        row["shifted"] = pf(e["shifted"])
        row["suspect"] = "SUSPECT" if e["suspect"] else "no"
        row["reading"] = e["reading"]
        rows.append(row)
    df = pd.DataFrame(rows)
    key = f"share_{split}"
    if key in df.columns and len(df):
        df = df.sort_values(["suspect", key], ascending=[True, False], kind="stable",
                            key=lambda c: c.map({"SUSPECT": 0, "no": 1}) if c.name == "suspect" else c)
    return df.reset_index(drop=True)
