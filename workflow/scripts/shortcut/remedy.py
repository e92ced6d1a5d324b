"""Is the remedy real? Each suspect removed, judged on rows no decision has seen.

The test file is split once into an audit part (every decision: the shift evidence, the verdict,
which feature sets to retrain) and a confirmation part, used only here. For a remedy feature set
(the grid retrained without a suspect, or without all suspects) and each model setting, the
paired difference of confirmation accuracy, remedy minus all features, is averaged over seeds.
Its interval comes from a two-level bootstrap: confirmation rows resampled (the same rows for
both models of a pair), and seeds resampled with replacement within each setting, so it carries
both the row sampling and the seed-to-seed spread. The pooled difference averages the settings.

Decision rule, three ways. With R remedies judged in one run, every interval is the two-sided
(1 - alpha/R) percentile interval (Bonferroni over the remedies: the chance that noise alone makes
any of them look helpful stays at most alpha). From the pooled difference's interval:

- **helped** (the remedy is *confirmed*): the lower bound is above 0;
- **did not help**: the upper bound is below ``min_gain``, the smallest gain in accuracy worth
  having (and the lower bound is not above 0): a useful gain is ruled out;
- **inconclusive**: otherwise; the rows cannot tell a gain of at least ``min_gain`` from none.

Only "did not help" is worded as the suspect not being confirmed because removing it did not
help; an inconclusive remedy is reported with its interval and the gain it cannot rule out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from . import stats
from .answer import with_plain_text
from .table import Schema

from .text import direction, prose

POOLED = "all settings"
HELPED, NO_HELP, INCONCLUSIVE = "helped", "did not help", "inconclusive"
OUTCOMES = (HELPED, NO_HELP, INCONCLUSIVE)

# The confirmation table (diagnosis/confirmation.csv), in this order: which remedy and setting,
# the rows and models behind it, the accuracies and their paired difference with its interval, the
# interval's level and what it was corrected for, the outcome, and the rule in words.
CONFIRMATION_COLUMNS = Schema("confirmation", {
    "feature_set": "string", "setting": "string", "n_rows": "int64", "n_models": "int64",
    **dict.fromkeys(["acc_all", "acc_remedy", "diff", "ci_low", "ci_high", "ci_level"], "float64"),
    "n_remedies": "int64", "min_gain": "float64", "outcome": "string", "confirmed": "bool", "rule": "string",
})

RULE = ("confirmed (helped) if the two-sided (1 - alpha/R) interval of the confirmation-accuracy gain "
        "(remedy minus all features, averaged over seeds and settings; rows and seeds bootstrapped; "
        "Bonferroni over the R remedies judged) lies above 0; did not help if its upper bound is below "
        "the minimum useful gain (confirm.min_gain) and it does not lie above 0; inconclusive otherwise")


def ci_level(alpha: float, n_remedies: int) -> float:
    """Level of every interval when ``n_remedies`` remedies are judged at family level ``alpha``."""
    return 1.0 - alpha / max(int(n_remedies), 1)


def level_text(level) -> str:
    """'95 % CI', '97.5 % CI' ('CI' when the level is unknown)."""
    try:
        v = float(level)
    except (TypeError, ValueError):
        return "CI"
    if not np.isfinite(v):
        return "CI"
    return f"{100 * v:.1f}".removesuffix(".0") + " % CI"


def rule_text(n_remedies: int, alpha: float, min_gain: float) -> str:
    """:data:`RULE` with the numbers of one run."""
    n = int(n_remedies)
    correction = (f"1 - {alpha:g}/{n}: Bonferroni over {n} remedies" if n > 1
                  else "one remedy: no multiplicity correction")
    return (f"confirmed (helped) if the two-sided {level_text(ci_level(alpha, n)).removesuffix(' CI')} interval "
            f"({correction}) of the "
            "confirmation-accuracy gain (remedy minus all features, averaged over seeds and settings; rows and "
            f"seeds bootstrapped) lies above 0; did not help if its upper bound is below the minimum useful gain "
            f"{min_gain:g} and it does not lie above 0; inconclusive otherwise")


def classify(ci_low, ci_high, min_gain: float) -> str:
    """The outcome of one interval: "helped", "did not help" or "inconclusive"."""
    lo, hi = float(ci_low), float(ci_high)
    if np.isfinite(lo) and lo > 0:
        return HELPED
    if np.isfinite(hi) and hi < min_gain:
        return NO_HELP
    return INCONCLUSIVE


def _correct(frame: pd.DataFrame, order: np.ndarray) -> np.ndarray:
    from .spec import TARGET

    f = frame.set_index("row").loc[order]
    return (f["predicted"] == f[TARGET]).to_numpy(dtype=np.float64)


def compare(all_preds: Sequence[pd.DataFrame], remedy_preds: Sequence[pd.DataFrame], keys: Sequence[dict], *,
            n_boot: int, alpha: float, seed: int, min_gain: float, n_remedies: int) -> list[dict]:
    """Rows (one per model setting, then the pooled one) comparing a remedy with all features.

    Every interval is the two-sided ``1 - alpha / n_remedies`` percentile interval (Bonferroni
    over the ``n_remedies`` remedies judged together); its outcome follows :func:`classify`."""
    order = all_preds[0]["row"].to_numpy()
    A = np.vstack([_correct(f, order) for f in all_preds])
    R = np.vstack([_correct(f, order) for f in remedy_preds])
    D = R - A
    n = D.shape[1]
    names = list(dict.fromkeys(k["setting"] for k in keys))
    members = {a: np.flatnonzero([k["setting"] == a for k in keys]) for a in names}
    per_model = stats.bootstrap_means(D.T, n_boot, seed).T  # (model, resample)
    rng = np.random.default_rng(seed + 1)
    draws = {}
    for a in names:
        m = members[a]
        pick = m[rng.integers(0, m.size, size=(n_boot, m.size))]
        draws[a] = per_model[pick, np.arange(n_boot)[:, None]].mean(axis=1)
    draws[POOLED] = np.mean([draws[a] for a in names], axis=0)
    level = ci_level(alpha, n_remedies)
    rows = []
    for a in [*names, POOLED]:
        m = np.arange(len(keys)) if a == POOLED else members[a]
        acc_all = float(np.mean(A[m])) if n else float("nan")
        acc_rem = float(np.mean(R[m])) if n else float("nan")
        lo, hi = stats.percentile_ci(draws[a], alpha / max(int(n_remedies), 1))
        outcome = classify(lo, hi, min_gain)
        rows.append({"setting": a, "n_rows": int(n), "n_models": int(len(m)), "acc_all": acc_all,
                     "acc_remedy": acc_rem, "diff": acc_rem - acc_all, "ci_low": float(lo),
                     "ci_high": float(hi), "ci_level": level, "n_remedies": int(n_remedies),
                     "min_gain": float(min_gain), "outcome": outcome, "confirmed": outcome == HELPED})
    return rows


def confirmation_table(all_preds, remedies: dict, keys, *, n_boot: int, alpha: float, seed: int,
                       min_gain: float) -> pd.DataFrame:
    """One block of rows per remedy feature set (``remedies``: feature set -> its predictions),
    in :data:`CONFIRMATION_COLUMNS`; the intervals are Bonferroni-corrected over the remedies."""
    n_remedies = len(remedies)
    rule = rule_text(n_remedies, alpha, min_gain)
    rows = [{"feature_set": fs, **r, "rule": rule} for fs, preds in remedies.items()
            for r in compare(all_preds, preds, keys, n_boot=n_boot, alpha=alpha, seed=seed, min_gain=min_gain,
                             n_remedies=n_remedies)]
    return pd.DataFrame(rows, columns=list(CONFIRMATION_COLUMNS))


def outcome_of(row) -> str:
    """A confirmation row's outcome. Tables written before the outcome column are classified from
    their interval, with a minimum useful gain of 0 when they do not carry one."""
    if "outcome" in row and row["outcome"] in OUTCOMES:
        return str(row["outcome"])
    min_gain = float(row["min_gain"]) if "min_gain" in row and np.isfinite(row["min_gain"]) else 0.0
    return classify(row["ci_low"], row["ci_high"], min_gain)


def remedy_sentence(names: str, r, outcome: str) -> str:
    """One remedy's result on the confirmation rows, in words built from its pooled row ``r``."""
    ci = f"{level_text(r.get('ci_level'))} {r['ci_low']:+.3f} to {r['ci_high']:+.3f}"
    n_rows = int(r["n_rows"])
    if outcome == HELPED:
        return (f"Confirmed: without {names} the confirmation accuracy {direction(r['acc_all'], r['acc_remedy'])} "
                f"from {prose(r['acc_all'])} to {prose(r['acc_remedy'])}, a change of {r['diff']:+.3f} ({ci}) on "
                f"{n_rows} rows no decision saw.")
    min_gain = float(r["min_gain"]) if "min_gain" in r and np.isfinite(r["min_gain"]) else None
    if outcome == NO_HELP:
        below = (f"; the interval lies below the minimum useful gain of {min_gain:g}" if min_gain is not None
                 else "")
        return (f"Suspect not confirmed: removing {names} did not help (confirmation accuracy "
                f"{direction(r['acc_all'], r['acc_remedy'])} from {prose(r['acc_all'])} to {prose(r['acc_remedy'])}, "
                f"a change of {r['diff']:+.3f} ({ci}) on {n_rows} rows no decision saw{below}).")
    gain = f"a gain of at least {min_gain:g}" if min_gain is not None else "a gain"
    return (f"Inconclusive: removing {names} changed confirmation accuracy by {r['diff']:+.3f} ({ci}) on "
            f"{n_rows} rows; these rows cannot tell {gain} from none.")


def final_answer(verdict: dict, table: pd.DataFrame, has_test_file: bool = True, *,
                 version: str | None = None) -> dict:
    """The report's top answer: the verdict, with every suspect's remedy judged helped, did not
    help, or inconclusive (see the module's rule). Its markdown fields (``headline``,
    ``sentences``, ``text``) come with plain-text twins (``headline_plain`` ...), and ``version``
    (the release that wrote it, given by the caller: ``shortcut.version`` is imported only where
    the version is written, see that module) when given. ``workflow/schemas/answer.schema.json``
    describes every field."""
    answer = dict(verdict["answer"])
    answer.setdefault("confirmed", [])
    sentences = list(answer.get("sentences", []))
    pooled = table[table["setting"] == POOLED].set_index("feature_set") if len(table) else table
    outcomes = {fs: outcome_of(pooled.loc[fs]) for fs in verdict.get("remedies", []) if fs in pooled.index}
    confirmed_sets = [fs for fs, o in outcomes.items() if o == HELPED]
    if verdict.get("suspects"):
        said = [remedy_sentence(", ".join(f"`{m}`" for m in verdict["remedy_members"][fs]), pooled.loc[fs], o)
                for fs, o in outcomes.items()]

        def members_of(sets):
            found = {m for fs in sets for m in verdict["remedy_members"][fs]}
            return [f for f in verdict["suspects"] if f in found]

        confirmed = members_of(confirmed_sets)
        undecided = [fs for fs, o in outcomes.items() if o == INCONCLUSIVE]
        if confirmed:
            answer["kind"] = "shortcut"
            answer["headline"] = (f"Shortcut{'s' if len(confirmed) > 1 else ''}: "
                                  + ", ".join(f"`{f}`" for f in confirmed) + " (confirmed).")
        elif undecided:
            n_rows = max(int(pooled.loc[fs, "n_rows"]) for fs in undecided)
            answer["kind"] = "suspect inconclusive"
            answer["headline"] = ("Suspect not confirmed: " + ", ".join(f"`{f}`" for f in members_of(undecided))
                                  + f" (inconclusive on {n_rows} confirmation rows).")
        else:
            answer["kind"] = "suspect not confirmed"
            answer["headline"] = ("Suspect not confirmed: removing " + ", ".join(f"`{f}`" for f in verdict["suspects"])
                                  + " did not help on the confirmation rows.")
        answer["confirmed"] = confirmed
        sentences = said + sentences
    if not has_test_file:
        sentences.append("There is no test file: the audit and confirmation parts are held-out rows "
                         "of the training file, so they can show a shortcut only if it is already "
                         "inconsistent within the training file.")
    answer["sentences"] = sentences
    answer["confirmed_remedies"] = confirmed_sets
    rules = table["rule"].dropna() if len(table) and "rule" in table else []
    answer["rule"] = str(rules.iloc[0]) if len(rules) else RULE
    answer["text"] = " ".join([answer["headline"], *sentences])
    if version is not None:
        answer["version"] = version
    return with_plain_text(answer)
