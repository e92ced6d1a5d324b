"""Does the model rely on a feature? Grouped permutation importance with uncertainty, and the
groups of strongly associated features that could hide each other.

Permutation importance of a unit (one source feature, or a group of strongly associated features)
is the increase of the model's log loss on the validation split when the rows of ALL encoded
columns of the unit are permuted together (one permutation for the whole unit, so a one-hot
block stays a valid one-hot row and a group keeps its joint values). It is repeated with
different seeded permutations for every grid model. Unlike a gradient share it is in the units of
the loss, it is zero for a feature the model ignores, and its spread over repeats and models
gives an interval.

Copies of one leak hide each other from single-feature permutation (permuting one copy leaves the
other), so the groups of strongly associated features found on the training partition
(``shortcut.codes.association_groups``, stored in the encoder) are permuted as one unit too.

Decision rule (``relied_rule``): a unit is **relied on** when the lower bound of its importance
interval is above 0 AND (its importance is at least the material loss the diagnosis passes, or
its share of the summed importance of the single features is at least ``min_share_factor / F``) (F = number of features; with the default factor 0.5, half of what an
even split would give each feature: 0.25 for F = 2, 0.083 for F = 6, 0.017 for F = 30). The first
clause rules out noise; the second ties "material" to the number of features instead of one
fixed share, which would be unreachable for every feature of a wide model or trivial for a
narrow one. A group's share is its importance over the same sum (it can exceed a member's).
Features of other units whose relation to the label broke are set aside from the sum and from F
(``set_aside``), so a dominant leak cannot hide a second one.

Interval and decision per model: the importance is the mean, over the validation rows, of each
row's loss rise averaged over the repeats; its standard error is that of a mean of the rows'
averages (``importance_se``), with n_rows - 1 degrees of freedom. It covers the sample of rows
and the permutations at once (each row's average carries its own permutation noise), so a noise
feature whose value on this sample happens to be above 0 is not relied on, and the repeats only
shrink the permutation noise. (An earlier interval added the repeats' spread to one repeat's
rows' error, counting the permutation noise twice, with the few degrees of freedom of the
repeats: with 3 repeats the Welch degrees of freedom fall towards 2, where the bound lies up to
4.3 standard errors below the mean, and a leak the model used for a quarter of its importance
was "not relied on".) The grid relies on a
unit when at least half of its models do (settings can differ tenfold in how much they use a
feature: that is not uncertainty about whether each uses it).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from . import stats
from .table import Schema, Table

# metrics/<fs>/<setting>/seed<s>/<split>/importance.parquet (the evaluate rule, one per model and
# split), stacked by the collect rule: see ``permutation_importance``.
IMPORTANCE_COLUMNS = Schema("permutation importance", {
    "unit": "string", "kind": "string", "members": "string", "repeat": "int64",
    "importance": "float64", "importance_se": "float64", "base_log_loss": "float64", "n_rows": "int64",
})


def units_of(sources: Sequence[str], groups: Sequence[Sequence[str]]) -> list[tuple[str, str, tuple]]:
    """(name, kind, members) of every feature and every group of two or more present features."""
    features = list(dict.fromkeys(sources))
    out = [(f, "feature", (f,)) for f in features]
    for g in groups:
        members = tuple(f for f in features if f in set(g))
        if len(members) >= 2:
            out.append(("+".join(members), "group", members))
    return out


# ---------------------------------------------------------------------------------------------
# permutation importance


def _losses(model, X, y) -> tuple[float, np.ndarray]:
    """The model's mean log loss on (X, y) and each row's (the mean of the rows' losses is
    ``metrics.log_loss``, bit for bit: negation commutes with every rounding of the sum)."""
    from .metrics import log_loss_rows

    rows = log_loss_rows(y, model.predict_proba(X))
    return (float(rows.mean()) if len(rows) else float("nan")), rows


def permutation_importance(model, X, y, sources: Sequence[str], groups: Sequence[Sequence[str]], *,
                           repeats: int, seed: int, max_rows: int) -> Table:
    """Increase of log loss when a unit's encoded columns are permuted together, per repeat.

    With more than ``max_rows`` rows, it is measured on a seeded sample of ``max_rows`` rows
    stratified by label (every permutation then costs a forward pass of the sample, not of all
    rows; the repeats' spread still gives the interval). Returns a ``shortcut.table.Table``
    (``.to_frame()`` for pandas) with columns ``unit``, ``kind``,
    ``members`` (";"-joined), ``repeat``, ``importance`` (nats per row; may be slightly negative
    for an unused feature), ``importance_se`` (the standard error of the unit's importance averaged
    over the repeats: of the mean over rows of each row's rise averaged over the repeats, so the
    validation rows count as a sample too; the same on every repeat of the unit), ``base_log_loss`` and ``n_rows`` (the rows it was measured
    on).
    """
    X = np.asarray(X)
    y = np.asarray(y, dtype=np.int64)
    if len(y) > max_rows:
        keep = stats.stratified_sample(y, max_rows, seed)
        X, y = X[keep], y[keep]
    base, base_rows = _losses(model, X, y)
    src = np.asarray(sources)
    rows = []
    work = X.copy()
    for k, (name, kind, members) in enumerate(units_of(sources, groups)):
        cols = np.flatnonzero(np.isin(src, members))
        rng = np.random.default_rng([seed, k])
        rises = np.zeros(len(y))
        unit_rows = []
        for r in range(repeats):
            perm = rng.permutation(len(X))
            work[:, cols] = X[np.ix_(perm, cols)]  # the unit's columns only, not a permuted copy of X
            loss, loss_rows = _losses(model, work, y)
            rises += loss_rows - base_rows
            unit_rows.append({"unit": name, "kind": kind, "members": ";".join(members), "repeat": r,
                              "importance": loss - base, "base_log_loss": base, "n_rows": len(y)})
            work[:, cols] = X[:, cols]
        # the standard error of the repeats' mean: each row's rise averaged over the repeats
        se = float(np.std(rises / max(repeats, 1), ddof=1) / np.sqrt(len(y))) if len(y) > 1 else float("nan")
        rows += [dict(row, importance_se=se) for row in unit_rows]
    return Table.from_records(rows, list(IMPORTANCE_COLUMNS))


def relied_rule(min_share_factor: float, material: float | None = None) -> str:
    floor = "" if material is None else f" or its importance >= the material loss {material:.4g} nats"
    return (f"relied on by a model if the 95 % interval of its permutation importance (over repeats and "
            f"validation rows) "
            f"is above 0 and its share of the model's summed single-feature importance >= "
            f"{min_share_factor:g} / F (features of other units whose relation broke set aside from the "
            f"sum and from F){floor}; relied on by the grid if by at least half of its models")


def reliance_table(importance, model_keys: Sequence[str] = ("setting", "seed"),
                   *, min_share_factor: float, material: float | None = None,
                   set_aside: Mapping[str, Iterable[str]] | None = None):
    """Per unit: the decision of every model, and their summary.

    ``importance`` stacks ``permutation_importance`` outputs of several models, tagged with the
    ``model_keys`` columns (absent keys: one model). ``set_aside`` maps a unit to features left
    out of its share's sum and of F: the members of the OTHER units whose relation to the label
    broke. A dominant leak takes nearly all the importance, which would push a second leak below
    any share floor; with it set aside, the second is judged against the features that remain.

    Columns: ``importance`` (mean over models) with ``importance_ci_low``/``_high`` (the models
    held fixed: the repeats' and the rows' standard errors combined), ``share`` (mean over models), ``share_floor``,
    ``n_relied`` of ``n_models``, ``relied`` and ``rule``. Models of different settings may rely
    on a feature to very different degrees; that spread is not uncertainty about whether these
    models use it, so each model is judged on its own and the grid by the majority.
    ``material`` (nats, optional): a unit whose mean importance reaches it is material whatever
    its share. A share is relative: next to a feature that carries six nats, a leak whose loss
    would cost the model a third of a nat has a share of 2 %, below the floor, and was not
    relied on, although its break cost the model 0.2 nats on test. The diagnosis passes the
    evidence's material floor (``min_harm_share`` x H(Y)), the same yardstick as the harm's.
    ``importance`` and the result are pandas DataFrames.
    """
    import pandas as pd

    keys = [k for k in model_keys if k in importance.columns]
    frame = importance.assign(_model=importance[keys].astype(str).agg("|".join, axis=1) if keys else "m")
    stats_per = (frame.groupby(["_model", "unit", "kind", "members"], sort=False)["importance"]
                 .agg(["mean", "std", "count"]).reset_index())
    # the standard error of each model's importance (``importance_se``, over the rows); without it
    # (a table of repeats only) the repeats' spread, with their degrees of freedom
    by_model = frame.groupby(["_model", "unit", "kind", "members"], sort=False)
    has_se = "importance_se" in frame
    stats_per["se"] = by_model["importance_se"].max().to_numpy() if has_se else np.nan
    stats_per["n_rows"] = by_model["n_rows"].max().to_numpy() if "n_rows" in frame else 1
    rows = []
    for (unit, kind, members), sub in stats_per.groupby(["unit", "kind", "members"], sort=False):
        aside = set((set_aside or {}).get(unit, ())) - set(members.split(";"))
        decisions, shares, ses = [], [], []
        for r in sub.itertuples(index=False):
            singles = stats_per[(stats_per["_model"] == r._0) & (stats_per["kind"] == "feature")]
            kept = singles[~singles["unit"].isin(aside)]
            total = kept["mean"].clip(lower=0).sum()
            share = max(r.mean, 0.0) / total if total > 0 else float("nan")
            floor = min_share_factor / max(len(kept), 1)
            if has_se:
                se, df = float(r.se), max(int(r.n_rows) - 1, 1)
            else:
                se, df = (float(r.std / np.sqrt(r.count)), r.count - 1) if r.count > 1 else (float("nan"), 1)
            lo = r.mean - stats.t_quantile(df) * se if np.isfinite(se) else float("nan")
            big = material is not None and np.isfinite(material) and r.mean >= material
            decisions.append(bool(np.isfinite(lo) and lo > 0 and ((np.isfinite(share) and share >= floor) or big)))
            shares.append(share)
            ses.append(se)
        m = len(decisions)
        mean = float(sub["mean"].mean())
        se_mean = float(np.sqrt(np.nansum(np.square(ses))) / m) if m else float("nan")
        z = stats.normal_quantile(0.975)
        rows.append({"unit": unit, "kind": kind, "members": members, "importance": mean,
                     "importance_ci_low": mean - z * se_mean, "importance_ci_high": mean + z * se_mean,
                     "share": float(np.nanmean(shares)) if m else float("nan"), "share_floor": floor,
                     "set_aside": ";".join(sorted(aside)), "n_relied": int(sum(decisions)), "n_models": m,
                     "relied": bool(m and 2 * sum(decisions) >= m),
                     "rule": relied_rule(min_share_factor, material)})
    return pd.DataFrame(rows)
