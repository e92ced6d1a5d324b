"""Is the remedy real? Each suspect removed, judged on rows no decision has seen.

The test file is split once into an audit part (every decision: the shift evidence, the verdict,
which feature sets to retrain) and a confirmation part, used only here. For a remedy feature set
(the grid retrained without a suspect, or without all suspects) and each model setting, the
paired difference of confirmation accuracy, remedy minus all features, is averaged over seeds.
Its interval comes from a two-level bootstrap: confirmation rows resampled (the same rows for
both models of a pair), and seeds resampled with replacement within each setting, so it carries
both the row sampling and the seed-to-seed spread. The pooled difference averages the settings.

Decision rule: a remedy is **confirmed** when the lower bound of the pooled difference's 95 %
interval is above 0 (removing the feature raised confirmation accuracy beyond noise). Otherwise
the report says "suspect not confirmed: removing it did not help".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import stats
from .diagnose import direction, fmt

POOLED = "all settings"


def _correct(frame: pd.DataFrame, order: np.ndarray) -> np.ndarray:
    from .data import TARGET

    f = frame.set_index("row").loc[order]
    return (f["predicted"] == f[TARGET]).to_numpy(dtype=np.float64)


def compare(all_preds: Sequence[pd.DataFrame], remedy_preds: Sequence[pd.DataFrame], keys: Sequence[dict], *,
            n_boot: int, alpha: float, seed: int) -> list[dict]:
    """Rows (one per model setting, then the pooled one) comparing a remedy with all features."""
    order = all_preds[0]["row"].to_numpy()
    A = np.vstack([_correct(f, order) for f in all_preds])
    R = np.vstack([_correct(f, order) for f in remedy_preds])
    D = R - A
    n = D.shape[1]
    acts = list(dict.fromkeys(k["act"] for k in keys))
    members = {a: np.flatnonzero([k["act"] == a for k in keys]) for a in acts}
    per_model = stats.bootstrap_means(D.T, n_boot, seed).T  # (model, resample)
    rng = np.random.default_rng(seed + 1)
    draws = {}
    for a in acts:
        m = members[a]
        pick = m[rng.integers(0, m.size, size=(n_boot, m.size))]
        draws[a] = per_model[pick, np.arange(n_boot)[:, None]].mean(axis=1)
    draws[POOLED] = np.mean([draws[a] for a in acts], axis=0)
    rows = []
    for a in [*acts, POOLED]:
        m = np.arange(len(keys)) if a == POOLED else members[a]
        acc_all = float(np.mean(A[m])) if n else float("nan")
        acc_rem = float(np.mean(R[m])) if n else float("nan")
        lo, hi = stats.percentile_ci(draws[a], alpha)
        rows.append({"setting": a, "n_rows": int(n), "n_models": int(len(m)), "acc_all": acc_all,
                     "acc_remedy": acc_rem, "diff": acc_rem - acc_all, "ci_low": float(lo),
                     "ci_high": float(hi), "confirmed": bool(np.isfinite(lo) and lo > 0)})
    return rows


RULE = ("confirmed if the 95 % interval of the confirmation-accuracy gain (remedy minus all features, "
        "averaged over seeds and settings; rows and seeds bootstrapped) lies above 0")


def confirmation_table(all_preds, remedies: dict, keys, *, n_boot: int, alpha: float, seed: int) -> pd.DataFrame:
    """One block of rows per remedy feature set (``remedies``: feature set -> its predictions)."""
    rows = [{"feature_set": fs, **r} for fs, preds in remedies.items() for r in compare(all_preds, preds, keys, n_boot=n_boot, alpha=alpha, seed=seed)]
    cols = ["feature_set", "setting", "n_rows", "n_models", "acc_all", "acc_remedy", "diff", "ci_low",
            "ci_high", "confirmed"]
    return pd.DataFrame(rows, columns=cols).assign(rule=RULE)


def final_answer(verdict: dict, table: pd.DataFrame, has_test_file: bool = True) -> dict:
    """The report's top answer: the verdict, with every suspect confirmed or not by its remedy."""
    answer = dict(verdict["answer"])
    sentences = list(answer.get("sentences", []))
    pooled = table[table["setting"] == POOLED].set_index("feature_set") if len(table) else table
    confirmed_sets = [fs for fs in verdict.get("remedies", []) if fs in pooled.index and pooled.loc[fs, "confirmed"]]
    if verdict.get("suspects"):
        outcome = []
        for fs in verdict["remedies"]:
            if fs not in pooled.index:
                continue
            r = pooled.loc[fs]
            names = ", ".join(f"`{m}`" for m in verdict["remedy_members"][fs])
            numbers = (f"confirmation accuracy {direction(r['acc_all'], r['acc_remedy'])} from "
                       f"{fmt(r['acc_all'])} to {fmt(r['acc_remedy'])}, a change of {r['diff']:+.3f} "
                       f"(95 % CI {r['ci_low']:+.3f} to {r['ci_high']:+.3f}) on {int(r['n_rows'])} rows "
                       f"no decision saw")
            if r["confirmed"]:
                outcome.append(f"Confirmed: without {names} the {numbers}.")
            else:
                outcome.append(f"Suspect not confirmed: removing {names} did not help ({numbers}).")
        confirmed = [m for fs in confirmed_sets for m in verdict["remedy_members"][fs]]
        confirmed = [f for f in verdict["suspects"] if f in set(confirmed)]
        if confirmed:
            answer["kind"] = "shortcut"
            answer["headline"] = (f"Shortcut{'s' if len(confirmed) > 1 else ''}: "
                                  + ", ".join(f"`{f}`" for f in confirmed) + " (confirmed).")
            answer["confirmed"] = confirmed
        else:
            answer["kind"] = "suspect not confirmed"
            answer["headline"] = ("Suspect not confirmed: removing " + ", ".join(f"`{f}`" for f in verdict["suspects"])
                                  + " did not help on the confirmation rows.")
            answer["confirmed"] = []
        sentences = outcome + sentences
    if not has_test_file:
        sentences.append("There is no test file: the audit and confirmation parts are held-out rows "
                         "of the training file, so they can show a shortcut only if it is already "
                         "inconsistent within the training file.")
    answer["sentences"] = sentences
    answer["confirmed_remedies"] = confirmed_sets
    answer["rule"] = RULE
    answer["text"] = " ".join([answer["headline"], *sentences])
    return answer
