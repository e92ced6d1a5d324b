"""The verdict: which features, if any, are shortcuts, and what else changed between the files.

A unit (a feature, or a group of strongly associated features) is a **shortcut suspect** when

1. the grid models **rely** on it: its grouped permutation importance on the validation split has
   an interval above 0 and a material share (``shortcut.reliance``), AND
2. its **relation to the label broke** on the test rows: the harm of the feature's train relation
   on the supported test rows, after refitting the class mix, is significant after Holm's
   correction and at least ``min_harm`` nats per row (``shortcut.conditional``).

Neither a change of the class mix nor a test file drawn from one part of the input space can
produce (2): under both, the model with the feature is at least as good on test as the model
without it. So under those shifts no feature is named, and the answer names the change instead,
in words a user acts on:

* the class mix changed (``shortcut.shift.class_mix``) beyond what the inputs explain (the mix
  the train-fitted evidence model predicts for the test rows, ``shortcut.conditional.
  class_mix_explained``, differs from the observed one by at least the same total variation):
  "no shortcut; the class mix changed", with the accuracy the models would have after
  re-weighting their classes to the new mix (estimated without test labels,
  ``shortcut.decompose``). When the inputs explain the new mix (a test file drawn from one part
  of the input space changes the class mix too), the change is named as covariate shift and
  the class mix is reported beside it;
* the inputs moved beyond what the class mix explains (``shortcut.domain``): "no shortcut; the
  model meets inputs unlike its training rows", naming the features that separate the files and
  the share of test rows outside the training support;
* too few (supported) test rows to tell: "insufficient evidence", with the smallest harm the data
  could detect, when it exceeds what a full break of a relied-on feature would cost.

Every sentence is built from the numbers it shows; direction words come from ``direction``, so a
sentence cannot say "falls" beside a value that rose.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

"""Fewer supported test rows than this: no conditional comparison is attempted."""


def direction(before, after, tol: float = 0.0005) -> str:
    """'rises' / 'falls' / 'stays' for a change from ``before`` to ``after`` ('changes' when
    either is not a number). Every sentence of the verdict and the report takes its direction
    word from here, so no sentence can say "falls" beside a value that rose."""
    before, after = _num(before), _num(after)
    if not (np.isfinite(before) and np.isfinite(after)):
        return "changes"
    if after > before + tol:
        return "rises"
    if after < before - tol:
        return "falls"
    return "stays"


def fmt(x, digits: int = 3) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return f"{v:.{digits}f}" if np.isfinite(v) else "n/a"


def remedy_name(members: Sequence[str], features: Sequence[str]) -> str:
    """Feature set without ``members``: ``drop-a`` or ``drop-a+b`` (members in config order)."""
    order = {f: i for i, f in enumerate(features)}
    return "drop-" + "+".join(sorted(members, key=lambda f: order.get(f, len(order))))


def broken_elsewhere(evidence: pd.DataFrame) -> dict:
    """Per unit, the members of the OTHER units whose relation broke (set aside from its
    reliance share, ``shortcut.reliance.reliance_table``)."""
    broke = [(str(r["unit"]), set(str(r["members"]).split(";")))
             for r in evidence.to_dict("records") if _bool(r.get("broke"))]
    out = {}
    for r in evidence.to_dict("records"):
        mine = set(str(r["members"]).split(";"))
        out[str(r["unit"])] = sorted(set().union(*[m for u, m in broke if u != r["unit"] and not (m & mine)]))
    return out


def _records(frame: pd.DataFrame | None, key: str) -> dict:
    if frame is None or len(frame) == 0:
        return {}
    return {str(r[key]): r for r in frame.to_dict("records")}


def _bool(x) -> bool:
    if isinstance(x, str):
        return x.strip().lower() in ("true", "1", "yes")
    try:
        return bool(x) and not (isinstance(x, float) and np.isnan(x))
    except (TypeError, ValueError):
        return False


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _reading(relied: bool, broke: bool, insufficient: bool) -> str:
    if relied and broke:
        return "shortcut suspect: relied on, and its relation to the label broke on test"
    if broke:
        return "relation broke on test, but the models do not rely on it: harmless to them"
    if relied and insufficient:
        return "relied on; too few test rows to tell whether its relation holds"
    if relied:
        return "relied on, and its relation to the label holds on test: genuine signal"
    return "not relied on, relation holds"


def diagnose(*, reliance: pd.DataFrame, evidence: pd.DataFrame, covariate: Mapping,
             class_mix: Mapping, features: Sequence[str], label_shift: pd.DataFrame | None = None,
             decomposition: pd.DataFrame | None = None, marginal: pd.DataFrame | None = None,
             thresholds: Mapping) -> dict:
    """Combine the evidence into the verdict (see the module docstring).

    ``reliance``: ``shortcut.reliance.reliance_table`` of the grid models on validation;
    ``evidence``: ``shortcut.conditional.conditional_shift`` (final rows);
    ``covariate``: ``shortcut.domain.shift_model`` summary (no per-row arrays needed);
    ``class_mix``: ``shortcut.shift.class_mix``; ``label_shift``/``decomposition``: per grid model
    (``shortcut.decompose``); ``marginal``: ``shortcut.shift.shift_table``.
    """
    th = thresholds  # {"min_test_rows"} from the config (diagnose.min_test_rows)
    rel = _records(reliance, "unit")
    ev = _records(evidence, "unit")
    units = list(dict.fromkeys(list(ev) + list(rel)))
    n_rows = int(_num(evidence["n_rows"].iloc[0])) if len(evidence) and "n_rows" in evidence else 0
    too_few = n_rows < th["min_test_rows"]
    table = {}
    for u in units:
        r, e = rel.get(u, {}), ev.get(u, {})
        members = str(e.get("members") or r.get("members") or u).split(";")
        relied = _bool(r.get("relied", False))
        broke = _bool(e.get("broke", False)) and not too_few
        harm, mde, value = _num(e.get("harm")), _num(e.get("mde")), _num(e.get("value_val"))
        min_harm = _num(e.get("min_harm"))
        needed = max(value if np.isfinite(value) else 0.0, min_harm if np.isfinite(min_harm) else 0.0)
        insufficient = bool(relied and not broke and (too_few or not np.isfinite(mde) or mde > needed))
        table[u] = {
            "unit": u, "kind": e.get("kind") or r.get("kind") or "feature", "members": members,
            "importance": _num(r.get("importance")), "importance_ci_low": _num(r.get("importance_ci_low")),
            "importance_ci_high": _num(r.get("importance_ci_high")), "share": _num(r.get("share")),
            "n_relied": int(_num(r.get("n_relied", 0)) or 0), "n_models": int(_num(r.get("n_models", 0)) or 0),
            "relied": relied, "harm": harm, "harm_ci_low": _num(e.get("harm_ci_low")),
            "harm_ci_high": _num(e.get("harm_ci_high")), "p_holm": _num(e.get("p_holm")), "mde": mde,
            "change": _num(e.get("change")), "change_ci_low": _num(e.get("change_ci_low")),
            "change_ci_high": _num(e.get("change_ci_high")), "value_val": value,
            "acc_with": _num(e.get("acc_with")), "acc_without": _num(e.get("acc_without")),
            "step": e.get("step"), "broke": broke, "insufficient": insufficient,
            "suspect": bool(relied and broke),
        }
        table[u]["reading"] = _reading(relied, broke, insufficient)

    suspect_units = [u for u in units if table[u]["suspect"]]
    # a group is named only when no member was already named on its own
    named: list[str] = []
    kept_units = []
    for u in sorted(suspect_units, key=lambda u: -table[u]["harm"]):
        new = [m for m in table[u]["members"] if m not in named]
        if new:
            kept_units.append(u)
            named += new
    suspects = [f for f in features if f in named]
    remedy_members = {remedy_name(table[u]["members"], features): list(table[u]["members"])
                      for u in kept_units}
    if len(kept_units) >= 2:
        remedy_members[remedy_name(suspects, features)] = list(suspects)
    remedies = list(remedy_members)

    answer = _answer(table, kept_units, suspects, covariate, class_mix, label_shift, n_rows, too_few)
    result = {
        "suspects": suspects,
        "suspect_units": [{"unit": u, "members": table[u]["members"], "kind": table[u]["kind"]}
                          for u in kept_units],
        "remedies": remedies,
        "remedy_members": remedy_members,
        "answer": answer,
        "evidence": table,
        "units": units,
        "features": list(features),
        "n_test_rows": n_rows,
        "class_mix": dict(class_mix),
        "covariate": {k: v for k, v in covariate.items() if not isinstance(v, np.ndarray)},
        "label_shift": _label_shift_summary(label_shift),
        "decomposition": _decomposition_summary(decomposition),
        "marginal_shifted": ([str(f) for f in marginal.loc[marginal["shifted"].map(_bool), "feature"]]
                             if marginal is not None and len(marginal) else []),
        "thresholds": dict(th),
        "rules": {
            "relied": str(next(iter(rel.values()), {}).get("rule", "")),
            "broke": str(next(iter(ev.values()), {}).get("rule", "")),
            "suspect": "shortcut suspect if relied on AND its relation to the label broke",
            "class_mix": class_mix.get("rule", ""),
            "label_shift": ("label shift if the class mix changed and the part the inputs do not explain "
                            "(total variation between the mix the train-fitted model predicts for the "
                            f"test rows and the observed one) is at least {_num(class_mix.get('min_tv', 0.05)):g}"),
            "covariate": covariate.get("rule", ""),
            "support": covariate.get("support_rule", ""),
            "insufficient": ("insufficient evidence for a relied-on unit when its minimum detectable "
                             "harm exceeds both the harm threshold and its value on validation (what "
                             f"a full break would cost), or fewer than {th['min_test_rows']} supported "
                             "test rows"),
        },
    }
    result["summary"] = " ".join([answer["headline"], *answer["sentences"]])
    return result


def _label_shift_summary(label_shift: pd.DataFrame | None) -> dict:
    if label_shift is None or len(label_shift) == 0:
        return {}
    return {
        "acc_test": float(label_shift["acc_test"].mean()),
        "acc_test_prior_corrected": float(label_shift["acc_test_prior_corrected"].mean()),
        "n_models": int(len(label_shift)),
    }


def _decomposition_summary(decomposition: pd.DataFrame | None) -> dict:
    if decomposition is None or len(decomposition) == 0:
        return {}
    cols = [c for c in decomposition.columns if c in (
        "acc_val", "acc_test", "total", "class_mix", "covariate", "conditional", "unsupported")]
    return {c: float(decomposition[c].mean()) for c in cols} | {"n_models": int(len(decomposition))}


def _answer(table, kept_units, suspects, covariate, class_mix, label_shift, n_rows, too_few) -> dict:
    sentences: list[str] = []
    changes: list[str] = []
    explained = covariate.get("class_mix_explained") or {}
    unexplained = _num(explained.get("unexplained_tv"))
    mix_moved = bool(class_mix.get("changed"))
    if mix_moved and not (np.isfinite(unexplained) and unexplained < _num(class_mix.get("min_tv", 0.05))):
        changes.append("label shift")
    if covariate.get("shifted"):
        changes.append("covariate shift")
    share_out = _num(covariate.get("share_unsupported"))
    if kept_units:
        kind = "shortcut"
        headline = (f"Shortcut suspect{'s' if len(suspects) > 1 else ''}: "
                    + ", ".join(f"`{f}`" for f in suspects) + ".")
        for u in kept_units:
            t = table[u]
            sentences.append(
                f"The models rely on `{u}` ({t['n_relied']} of {t['n_models']} models; permutation importance "
                f"{fmt(t['importance'])} nats, {fmt(100 * t['share'], 0)} % of the total), and on the test rows its train relation "
                f"costs {fmt(t['harm'])} nats per row (95 % CI {fmt(t['harm_ci_low'])} to "
                f"{fmt(t['harm_ci_high'])}, Holm-adjusted p {fmt(t['p_holm'], 4)}): the evidence "
                f"model's test accuracy {direction(t['acc_with'], t['acc_without'])} from "
                f"{fmt(t['acc_with'])} to {fmt(t['acc_without'])} without it.")
    else:
        insufficient = [u for u, t in table.items() if t["insufficient"]]
        if too_few or insufficient:
            kind = "insufficient evidence"
            headline = "Insufficient evidence: too few test rows to tell whether a relied-on feature's relation holds."
            if too_few:
                sentences.append(f"Only {n_rows} test rows lie inside the training support.")
            for u in insufficient:
                t = table[u]
                sentences.append(
                    f"For `{u}` the smallest harm these rows could detect is {fmt(t['mde'])} nats per "
                    f"row, above what a full break would cost ({fmt(max(t['value_val'], 0))} nats, its "
                    f"value on validation).")
        else:
            kind = "no shortcut"
            if changes == ["label shift"]:
                headline = "No shortcut; the class mix changed."
            elif changes == ["covariate shift"]:
                headline = "No shortcut; the model meets inputs unlike its training rows."
            elif changes:
                headline = ("No shortcut; the class mix changed and the model meets inputs unlike "
                            "its training rows.")
            elif mix_moved:
                headline = "No shortcut; the class mix changed with the inputs."
            else:
                headline = "No shortcut, and no material shift between the files."
    if mix_moved:
        tr, te = class_mix.get("share_train", []), class_mix.get("share_test", [])
        moved = [f"class {k}: {fmt(a)} {direction(a, b)} to {fmt(b)}" for k, (a, b) in enumerate(zip(tr, te))
                 if abs(b - a) >= 0.01]
        text = (f"The class mix changed (total variation {fmt(class_mix.get('tv'))}, chi-square p "
                f"{fmt(class_mix.get('chi2_pvalue'), 4)}): " + "; ".join(moved) + ".")
        if np.isfinite(unexplained):
            text += (f" The inputs {'explain most of it' if 'label shift' not in changes else 'do not explain it'}: "
                     f"the mix the train-fitted model predicts for the test rows differs from the "
                     f"observed one by {fmt(unexplained)} (total variation, 95 % CI "
                     f"{fmt(explained.get('unexplained_tv_ci_low'))} to {fmt(explained.get('unexplained_tv_ci_high'))}).")
        ls = _label_shift_summary(label_shift)
        if ls and "label shift" in changes:
            text += (f" Re-weighting the models' classes to the mix estimated from their own test "
                     f"predictions (no test labels) moves mean test accuracy from "
                     f"{fmt(ls['acc_test'])} to {fmt(ls['acc_test_prior_corrected'])}.")
        sentences.append(text)
    if "covariate shift" in changes:
        feats = covariate.get("feature_auc", {}) or {}
        top = sorted(((a, f) for f, a in feats.items() if np.isfinite(a) and a >= 0.55), reverse=True)
        named = ", ".join(f"`{f}` (AUC {fmt(a)})" for a, f in top[:3]) or "no single feature"
        sentences.append(
            f"The test inputs differ from the training rows beyond the class mix (domain AUC "
            f"{fmt(covariate.get('auc'))}, 95 % CI {fmt(covariate.get('auc_ci_low'))} to "
            f"{fmt(covariate.get('auc_ci_high'))}); the features that separate the files: {named}.")
    if np.isfinite(share_out) and share_out > 0:
        sentences.append(
            f"{fmt(100 * share_out, 1)} % of the test rows lie outside the training support; they "
            f"cannot be judged and are left out of the conditional comparison.")
    return {"kind": kind, "changes": changes, "headline": headline, "sentences": sentences}


VERDICT_COLUMNS = [
    "unit", "kind", "members", "importance", "importance_ci_low", "importance_ci_high", "share",
    "n_relied", "n_models", "relied", "harm", "harm_ci_low", "harm_ci_high", "p_holm", "mde", "change", "change_ci_low",
    "change_ci_high", "value_val", "broke", "insufficient", "suspect", "reading",
]


def verdict_table(result: dict) -> pd.DataFrame:
    """One row per unit: each piece of evidence, each rule's outcome, the verdict (suspects first,
    then by decreasing importance)."""
    rows = []
    for u in result["units"]:
        t = dict(result["evidence"][u])
        t["members"] = ";".join(t["members"])
        rows.append({c: t.get(c) for c in VERDICT_COLUMNS})
    df = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    if len(df):
        df = df.assign(_s=~df["suspect"].astype(bool), _i=-df["importance"].fillna(-np.inf))
        df = df.sort_values(["_s", "_i"], kind="stable").drop(columns=["_s", "_i"])
    return df.reset_index(drop=True)
