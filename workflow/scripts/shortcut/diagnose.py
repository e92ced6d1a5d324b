"""The verdict: which features, if any, are shortcuts, and what else changed between the files.

A unit (a feature, or a group of strongly associated features) is a **shortcut suspect** when

1. the grid models **rely** on it: its grouped permutation importance on the validation split has
   an interval above 0 and a material share (``shortcut.reliance``), AND
2. its **relation to the label broke** on the audit rows (``shortcut.conditional``: significant
   after the family-wise correction and at least its material margin), OR at least
   ``min_unseen_share`` of its test values are categorical levels never seen in training (new
   IDs: the models know nothing about them; the remedy then confirms or not).

Every relied-on unit's relation has one of three outcomes: broke, holds (its harm's upper bound
is below the margin) or undetermined. Neither a change of the class mix nor a test file drawn
from one part of the input space can make a relation break; under those the answer names the
change, first, in words a user acts on:

* the class mix changed (observed on the test labels) while the inputs within each class held
  (no covariate shift by the domain model, which holds the label): "The class mix changed; no
  shortcut.", followed by the accuracy the models would have after re-weighting their classes to
  the new mix (BBSE from their own predictions, no test labels; not quoted when the confusion
  matrix is near-singular). When the inputs within the classes moved too, the new mix comes
  with a selection on the inputs, and the mix is reported beside it;
* the inputs moved (``shortcut.domain``): "The model meets inputs unlike its training rows; …",
  naming the features that separate the files and the share of rows outside the support;
* a feature's share of missing cells moved by at least ``min_missing_change`` (95 % interval
  excluding 0): "Missing values changed in `x`; …", with both shares;
* several of these at once, or "No material shift between the files; …" (with everything
  checked: "No shortcut, and no material shift between the files.").

What was measured leads the headline; what could not be checked qualifies it rather than
replacing it: when undetermined relied-on units carry ``partial_reliance`` or more of the
models' reliance the headline reads "<the shift measured>; no shortcut in the N % of the models'
reliance that could be checked.", and from ``insufficient_reliance`` (kind "insufficient
evidence") "<the shift measured>; N % of the models' reliance could not be checked with these M
audit rows." (or, below ``min_test_rows`` supported rows, that no relation could be checked).
Undetermined units always get one sentence with their share.

Every sentence is built from the numbers it shows; direction words come from ``direction``, so a
sentence cannot say "falls" beside a value that rose.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import stats
from .table import Schema
from .text import direction, names, prose


def remedy_name(members: Sequence[str], features: Sequence[str]) -> str:
    """Feature set without ``members``: ``drop-a`` or ``drop-a+b`` (members in config order)."""
    order = {f: i for i, f in enumerate(features)}
    return "drop-" + "+".join(sorted(members, key=lambda f: order.get(f, len(order))))


def material_loss(evidence: pd.DataFrame) -> float | None:
    """The evidence's material floor in nats (``min_harm``: ``min_harm_share`` x H(Y)), the loss
    a model relies on a unit for materially whatever its share (``reliance.reliance_table``);
    None without evidence."""
    values = evidence["min_harm"].dropna() if "min_harm" in evidence else []
    return float(values.iloc[0]) if len(values) else None


def broken_elsewhere(evidence: pd.DataFrame) -> dict:
    """Per unit, the members of the OTHER units whose relation broke (set aside from its
    reliance share, ``shortcut.reliance.reliance_table``)."""
    broke = [(str(r["unit"]), set(str(r["members"]).split(";")))
             for r in evidence.to_dict("records") if r["broke"]]
    out = {}
    for r in evidence.to_dict("records"):
        mine = set(str(r["members"]).split(";"))
        out[str(r["unit"])] = sorted(set().union(*[m for u, m in broke if u != r["unit"] and not (m & mine)]))
    return out


def _records(frame: pd.DataFrame | None, key: str) -> dict:
    if frame is None or len(frame) == 0:
        return {}
    return {str(r[key]): r for r in frame.to_dict("records")}


def _value(record: Mapping, key: str) -> float:
    """A number of a typed table's record or of a JSON summary; NaN where the record has none (a
    unit that is in the reliance table but not in the evidence, or the reverse; a null)."""
    v = record.get(key)
    return float("nan") if v is None else float(v)


def _reading(relied: bool, outcome: str, unseen: float, min_unseen: float, immaterial: bool = False) -> str:
    if relied and outcome == "broke":
        return "shortcut suspect: relied on, and its relation to the label broke on test"
    if relied and np.isfinite(unseen) and unseen >= min_unseen:
        return (f"shortcut suspect: relied on, and {100 * unseen:.0f} % of its test values were never "
                "seen in training")
    if outcome == "broke":
        return "relation broke on test, but the models do not rely on it: harmless to them"
    if relied and outcome == "undetermined":
        return "relied on; these test rows cannot tell whether its relation holds"
    if relied and immaterial:
        return ("relied on, but even a full break of it would cost less than the material margin: no break of "
                "it can matter")
    if relied:
        return "relied on, and its relation to the label holds on test: genuine signal"
    return "not relied on" + (", relation holds" if outcome == "holds" else "")


def diagnose(*, reliance: pd.DataFrame, evidence: pd.DataFrame, covariate: Mapping,
             class_mix: Mapping, features: Sequence[str], label_shift: pd.DataFrame | None = None,
             decomposition: pd.DataFrame | None = None, marginal: pd.DataFrame | None = None,
             thresholds: Mapping) -> dict:
    """Combine the evidence into the verdict (see the module docstring).

    ``reliance``: ``shortcut.reliance.reliance_table`` of the grid models on validation;
    ``evidence``: ``shortcut.conditional.conditional_shift`` (final rows);
    ``covariate``: ``shortcut.domain.shift_model`` summary (no per-row arrays needed);
    ``class_mix``: ``shortcut.shift.class_mix``; ``label_shift``/``decomposition``: per grid model
    (``shortcut.decompose``); ``marginal``: ``shortcut.shift.shift_table``. ``thresholds``: the
    ``diagnose`` section of the config (``min_test_rows``, ``min_unseen_share``,
    ``min_missing_change``, ``min_confusion_singular``, ``partial_reliance``,
    ``insufficient_reliance``, ``min_feature_auc``).
    """
    th = dict(thresholds)
    rel = _records(reliance, "unit")
    ev = _records(evidence, "unit")
    units = list(dict.fromkeys(list(ev) + list(rel)))
    n_rows = int(evidence["n_rows"].iloc[0]) if len(evidence) else 0
    too_few = n_rows < th["min_test_rows"]
    table = {}
    for u in units:
        r, e = rel.get(u, {}), ev.get(u, {})
        members = str(e.get("members") or r.get("members") or u).split(";")
        relied = bool(r.get("relied", False))
        outcome = e.get("outcome") or "undetermined"
        if outcome not in OUTCOMES:
            outcome = "undetermined"
        if too_few:
            outcome = "undetermined"
        broke = outcome == "broke"
        unseen = _value(e, "unseen_share")
        new_levels = bool(relied and not broke and np.isfinite(unseen) and unseen >= th["min_unseen_share"])
        table[u] = {
            "unit": u, "kind": e.get("kind") or r.get("kind") or "feature", "members": members,
            "importance": _value(r, "importance"), "importance_ci_low": _value(r, "importance_ci_low"),
            "importance_ci_high": _value(r, "importance_ci_high"), "share": _value(r, "share"),
            "n_relied": int(r.get("n_relied", 0)), "n_models": int(r.get("n_models", 0)),
            "relied": relied, "harm": _value(e, "harm"), "harm_ci_low": _value(e, "harm_ci_low"),
            "harm_ci_high": _value(e, "harm_ci_high"), "harm_upper": _value(e, "harm_upper"),
            "min_harm": _value(e, "min_harm"), "margin": _value(e, "margin"), "p_holm": _value(e, "p_holm"), "mde": _value(e, "mde"),
            "change": _value(e, "change"), "change_ci_low": _value(e, "change_ci_low"),
            "change_ci_high": _value(e, "change_ci_high"), "value_val": _value(e, "value_val"),
            "break_cost": _value(e, "break_cost"), "full_break_harm": _value(e, "full_break_harm"),
            "unseen_share": unseen,
            "acc_with": _value(e, "acc_with"), "acc_without": _value(e, "acc_without"),
            "step": e.get("step"), "broke": broke, "outcome": outcome,
            "suspect": bool(relied and (broke or new_levels)), "new_levels": new_levels,
        }
        t = table[u]
        immaterial = bool(outcome == "holds" and not (t["harm_upper"] < t["margin"]) and t["full_break_harm"] < t["margin"])
        t["reading"] = _reading(relied, outcome, unseen, th["min_unseen_share"], immaterial)

    suspect_units = [u for u in units if table[u]["suspect"]]
    # a group is named only when no member was already named on its own
    named: list[str] = []
    kept_units = []
    for u in sorted(suspect_units, key=lambda u: (not table[u]["broke"], -np.nan_to_num(table[u]["harm"], nan=-np.inf))):
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

    missing = missing_shift(marginal, class_mix, th["min_missing_change"])
    reliance_shares = _reliance_shares(table, features, set(suspects))
    ls = _label_shift_summary(label_shift, th["min_confusion_singular"])
    answer = _answer(table, kept_units, suspects, covariate, class_mix, ls, missing, reliance_shares,
                     n_rows, too_few, th)
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
        "label_shift": ls,
        "decomposition": _decomposition_summary(decomposition),
        "marginal_shifted": ([str(f) for f in marginal.loc[marginal["shifted"], "feature"]]
                             if marginal is not None and len(marginal) else []),
        "missing_shift": missing,
        "reliance_undetermined": reliance_shares,
        "thresholds": dict(th),
        "rules": {
            "relied": str(next(iter(rel.values()), {}).get("rule", "")),
            "broke": str(next(iter(ev.values()), {}).get("rule", "")),
            "holds": str(next(iter(ev.values()), {}).get("holds_rule", "")),
            "suspect": ("shortcut suspect if relied on AND (its relation to the label broke, or at least "
                        f"{100 * th['min_unseen_share']:g} % of its test values are levels never seen in training)"),
            "class_mix": class_mix.get("rule", ""),
            "label_shift": ("label shift if the class mix changed (test labels observed) and the inputs within "
                            "each class held: no covariate shift by the domain model, which holds the label"),
            "covariate": covariate.get("rule", ""),
            "support": covariate.get("support_rule", ""),
            "missing": (f"missing-value shift if a feature's share of missing cells moved by at least "
                        f"{th['min_missing_change']:g} and its 95 % interval excludes 0"),
            "undetermined": ("insufficient evidence (the headline: the shift measured, then the share of "
                             "the reliance that could not be checked) when relied-on units whose relation is "
                             f"undetermined carry at least {100 * th['insufficient_reliance']:g} % of the "
                             f"models' reliance or fewer than {th['min_test_rows']} audit rows lie in the "
                             "training support; '…; no shortcut in the N % … that could be checked' "
                             f"from {100 * th['partial_reliance']:g} %"),
        },
    }
    result["summary"] = " ".join([answer["headline"], *answer["sentences"]])
    return result


OUTCOMES = ("broke", "holds", "undetermined")

def _reliance_shares(table: dict, features: Sequence[str], suspects: set) -> dict:
    """The share of the models' reliance held by relied-on units whose outcome is undetermined
    (and not suspects): importance over the summed importance of the single features; a group
    counts once, by the larger of its own importance and its members'."""
    singles = {u: t for u, t in table.items() if t["kind"] != "group"}
    total = sum(max(t["importance"], 0.0) for t in singles.values() if np.isfinite(t["importance"]))
    open_units = [u for u, t in table.items() if t["relied"] and t["outcome"] == "undetermined"
                  and not t["suspect"] and not (set(t["members"]) & suspects)]
    covered: set = set()
    amount = 0.0
    for u in sorted(open_units, key=lambda u: -len(table[u]["members"])):
        members = set(table[u]["members"]) - covered
        if not members:
            continue
        own = sum(max(singles[m]["importance"], 0.0) for m in members if m in singles
                  and np.isfinite(singles[m]["importance"]))
        grp = max(table[u]["importance"], 0.0) if len(members) == len(table[u]["members"]) else 0.0
        amount += max(own, grp if np.isfinite(grp) else 0.0)
        covered |= members
    share = min(amount / total, 1.0) if total > 0 else (1.0 if open_units else 0.0)
    units = [u for u in open_units if set(table[u]["members"]) & covered]
    return {"share": float(share), "units": units,
            "features": [f for f in features if f in covered]}


def missing_shift(marginal: pd.DataFrame | None, class_mix: Mapping, min_change: float) -> list[dict]:
    """Features whose share of missing cells moved between the training file and the audit rows by
    at least ``min_change``, with a 95 % (Wald) interval of the change that excludes 0."""
    if marginal is None or not len(marginal) or "missing_train" not in marginal:
        return []
    n_tr, n_te = _value(class_mix, "n_train"), _value(class_mix, "n_test")
    out = []
    for r in marginal.to_dict("records"):
        a, b = r["missing_train"], r["missing_test"]
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        diff = b - a
        se = (np.sqrt(a * (1 - a) / n_tr + b * (1 - b) / n_te)
              if np.isfinite(n_tr) and np.isfinite(n_te) and n_tr > 0 and n_te > 0 else float("nan"))
        z = stats.normal_quantile(1 - stats.ALPHA / 2)
        lo, hi = diff - z * se, diff + z * se
        if abs(diff) >= min_change and np.isfinite(se) and (lo > 0 or hi < 0):
            out.append({"feature": str(r["feature"]), "share_train": a, "share_test": b, "change": diff,
                        "ci_low": float(lo), "ci_high": float(hi)})
    return out


def _label_shift_summary(label_shift: pd.DataFrame | None, min_singular: float) -> dict:
    if label_shift is None or len(label_shift) == 0:
        return {}
    out = {
        "acc_test": float(label_shift["acc_test"].mean()),
        "acc_test_prior_corrected": float(label_shift["acc_test_prior_corrected"].mean()),
        "n_models": int(len(label_shift)),
    }
    if "confusion_min_singular" in label_shift:
        sv = float(label_shift["confusion_min_singular"].min())
        out["confusion_min_singular"] = sv
        out["estimable"] = bool(np.isfinite(sv) and sv >= min_singular)
    else:
        out["estimable"] = True
    return out


def _decomposition_summary(decomposition: pd.DataFrame | None) -> dict:
    if decomposition is None or len(decomposition) == 0:
        return {}
    cols = [c for c in decomposition.columns if c in (
        "acc_val", "acc_test", "total", "class_mix", "covariate", "conditional", "unsupported")]
    return {c: float(decomposition[c].mean()) for c in cols} | {"n_models": int(len(decomposition))}


NO_SHIFT = "no material shift between the files"


def _shift_phrase(changes: list[str], missing: list[dict]) -> str:
    """What was measured between the files, in the words of the headline."""
    parts = []
    if "label shift" in changes:
        parts.append("the class mix changed")
    if "covariate shift" in changes:
        parts.append("the model meets inputs unlike its training rows")
    if "missing-value shift" in changes:
        parts.append("missing values changed in " + names([m["feature"] for m in missing]))
    if not parts:
        return NO_SHIFT
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _answer(table, kept_units, suspects, covariate, class_mix, ls, missing, reliance_shares, n_rows,
            too_few, th) -> dict:
    sentences: list[str] = []
    changes: list[str] = []
    mix_moved = bool(class_mix.get("changed"))
    # label shift: the class mix changed (observed) while the inputs within each class held (the
    # domain model holds the label, so its input part measures P(X | Y)); when they moved too, a
    # selection on the inputs explains the new mix, and the mix is reported beside it
    if mix_moved and not covariate.get("shifted"):
        changes.append("label shift")
    if covariate.get("shifted"):
        changes.append("covariate shift")
    if missing:
        changes.append("missing-value shift")
    share_out = _value(covariate, "share_unsupported")
    phrase = _shift_phrase(changes, missing)
    lead = phrase[0].upper() + phrase[1:]  # the measured shift heads every headline without a suspect
    open_share = reliance_shares["share"]
    open_units = reliance_shares["units"]
    if kept_units:
        kind = "shortcut"
        headline = (f"Shortcut suspect{'s' if len(suspects) > 1 else ''}: "
                    + ", ".join(f"`{f}`" for f in suspects) + ".")
        for u in kept_units:
            t = table[u]
            relied = (f"The models rely on `{u}` ({t['n_relied']} of {t['n_models']} models; permutation "
                      f"importance {prose(t['importance'])} nats, {prose(100 * t['share'], 0)} % of the total)")
            if t["broke"]:
                sentences.append(
                    f"{relied}, and on the test rows its train relation "
                    f"costs {prose(t['harm'])} nats per row (95 % CI {prose(t['harm_ci_low'])} to "
                    f"{prose(t['harm_ci_high'])}, Holm-adjusted p {prose(t['p_holm'], 4)}): the evidence "
                    f"model's test accuracy {direction(t['acc_with'], t['acc_without'])} from "
                    f"{prose(t['acc_with'])} to {prose(t['acc_without'])} without it.")
            else:
                sentences.append(
                    f"{relied}, and {prose(100 * t['unseen_share'], 0)} % of its test values were never seen "
                    f"in training: the models meet levels they know nothing about, so the remedy without "
                    f"it is retrained and judged on the confirmation rows.")
    elif too_few or open_share >= th["insufficient_reliance"]:
        # what was measured leads; what could not be checked is the qualifier, with its share
        kind = "insufficient evidence"
        if too_few:
            headline = (f"{lead}; with only {n_rows} test rows inside the training support, no relied-on "
                        "feature's relation could be checked.")
            sentences.append(f"Only {n_rows} test rows lie inside the training support. That is too few to "
                             f"judge any feature's relation (at least {th['min_test_rows']} are needed).")
        else:
            headline = (f"{lead}; {prose(100 * open_share, 0)} % of the models' reliance could not be checked "
                        f"with these {n_rows} audit rows.")
    else:
        kind = "no shortcut"
        if open_share >= th["partial_reliance"]:
            headline = (f"{lead}; no shortcut in the {prose(100 * (1 - open_share), 0)} % of the models' "
                        "reliance that could be checked.")
        elif phrase == NO_SHIFT:
            headline = "No shortcut, and no material shift between the files."
        else:
            headline = f"{lead}; no shortcut."
    if mix_moved:
        tr, te = class_mix.get("share_train", []), class_mix.get("share_test", [])
        moved = [f"class {k}: {prose(a)} {direction(a, b)} to {prose(b)}" for k, (a, b) in enumerate(zip(tr, te))
                 if abs(b - a) >= 0.01]
        text = (f"The class mix changed (total variation {prose(class_mix.get('tv'))}, chi-square p "
                f"{prose(class_mix.get('chi2_pvalue'), 4)}): " + "; ".join(moved) + ".")
        if "label shift" not in changes:
            text += " The inputs within each class moved too, so the new mix comes with them (see below)."
        elif ls and ls.get("estimable", True):
            # the actionable fact first: what re-weighting the classes gives back
            sentences.insert(0, f"Re-weighting the models' classes to the mix estimated from their own test "
                                f"predictions (no test labels) moves mean test accuracy from "
                                f"{prose(ls['acc_test'])} to {prose(ls['acc_test_prior_corrected'])}.")
        elif ls:
            text += (f" The class mix cannot be estimated from these predictions (the models' confusion "
                     f"matrix is near-singular: smallest singular value {prose(ls.get('confusion_min_singular'))}).")
        sentences.append(text)
    if "covariate shift" in changes:
        feats = covariate.get("feature_auc", {}) or {}
        top = sorted(((a, f) for f, a in feats.items() if np.isfinite(a) and a >= th["min_feature_auc"]),
                     reverse=True)
        named = ", ".join(f"`{f}` (AUC {prose(a)})" for a, f in top[:3]) or "no single feature"
        sentences.append(
            f"Within each class the test inputs differ from the training rows (domain AUC "
            f"{prose(covariate.get('auc'))}, 95 % CI {prose(covariate.get('auc_ci_low'))} to "
            f"{prose(covariate.get('auc_ci_high'))}); the features that separate the files: {named}.")
    for m in missing:
        sentences.append(
            f"`{m['feature']}` is missing in {prose(100 * m['share_test'], 1)} % of the test rows against "
            f"{prose(100 * m['share_train'], 1)} % in training (change 95 % CI {prose(100 * m['ci_low'], 1)} to "
            f"{prose(100 * m['ci_high'], 1)} points); the rows it is missing in are left out of its own "
            f"relation's test, so the fill value cannot make it a suspect.")
    if open_units and not too_few:
        t_names = names(reliance_shares["features"] or open_units)
        bounds = "; ".join(f"`{u}` {prose(table[u]['harm_upper'])} against {prose(table[u]['margin'])}"
                           for u in open_units[:4]) + ("; …" if len(open_units) > 4 else "")
        sentences.append(
            f"{t_names} could not be checked with these {n_rows} audit rows ({prose(100 * open_share, 0)} % of "
            f"the models' reliance): the upper bound of the harm reaches the material margin, the larger of "
            f"a floor share of the label's entropy and half of the harm a full break would cause "
            f"({bounds}; nats per row).")
    if np.isfinite(share_out) and share_out > 0:
        sentences.append(
            f"{prose(100 * share_out, 1)} % of the test rows lie outside the training support; they "
            f"cannot be judged and are left out of the conditional comparison.")
    return {"kind": kind, "changes": changes, "headline": headline, "sentences": sentences}


# diagnosis/verdict.parquet (and its CSV copy), read by the report.
VERDICT_COLUMNS = Schema("verdict", {
    "unit": "string", "kind": "string", "members": "string",
    **dict.fromkeys(["importance", "importance_ci_low", "importance_ci_high", "share"], "float64"),
    "n_relied": "int64", "n_models": "int64", "relied": "bool",
    **dict.fromkeys(["harm", "harm_ci_low", "harm_ci_high", "p_holm", "mde", "change", "change_ci_low",
                     "change_ci_high", "value_val", "break_cost", "full_break_harm", "harm_upper", "min_harm",
                     "margin", "unseen_share"], "float64"),
    "broke": "bool", "outcome": "string", "suspect": "bool", "reading": "string",
})


def verdict_table(result: dict) -> pd.DataFrame:
    """One row per unit: each piece of evidence, each rule's outcome, the verdict (suspects first,
    then by decreasing importance)."""
    rows = []
    for u in result["units"]:
        t = dict(result["evidence"][u])
        t["members"] = ";".join(t["members"])
        rows.append({c: t.get(c) for c in VERDICT_COLUMNS})
    df = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))
    if len(df):
        df = df.assign(_s=~df["suspect"].astype(bool), _i=-df["importance"].fillna(-np.inf))
        df = df.sort_values(["_s", "_i"], kind="stable").drop(columns=["_s", "_i"])
    return df.reset_index(drop=True)
