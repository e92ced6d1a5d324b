"""The level of the harm test under nulls that are hard for fitted networks.

``shortcut.conditional`` tests, per unit, H0: harm <= 0 (the model with the unit is no worse on
the audit rows than the one without it, after refitting the class mix). Under any change of P(X)
and of P(Y) with P(Y | X) fixed, the TRUE harm is <= 0. But the test looks at fitted networks: in
a sparse region of the training data, or when the networks cannot represent P(Y | X), the full
network's estimation error can make the fitted harm positive with no broken relation. The test's
interval carries the rows' sampling and the fit-to-fit spread of the ensemble's networks; this
script measures whether that is enough: the share of unit tests with one-sided p < alpha (the
first round, before any multiplicity correction), and the share of audits in which the whole
procedure calls any unit "broke" with the material margin set to 0 (only the tests guard) and
with the shipped margin.

Nulls (P(Y | X) fixed throughout; ``tests/synthetic.py``'s population: x1 strong, x2 correlated
with x1, c1 a 4-level categorical), 800 training rows each:

* ``sparse``: the audit rows are drawn from the tail x1 > 1.5 (about 7 % of the training rows);
* ``sparse-tiny``: the same with 300 training rows;
* ``misspecified``: P(Y | X) has an interaction the networks cannot fit, logits + 2.5 sin(2 x1) x2,
  and the evidence networks have 2 hidden units; the audit rows are a selection x2 > 0.5;
* ``label``: one class three times as likely in the audit rows (small files: 300 rows).

Run: ``python benchmarks/harm_level.py [--reps 125] [--alpha 0.05] [--kl-credit 0]`` (4 nulls x
reps audits; ``--kl-credit`` measures the level of a harm test that credits a share of the
evidence model's own KL, ``shortcut.conditional.KL_CREDIT``; write it with ``--out`` elsewhere).
Prints per null the unit tests, rejections at alpha with the Wilson interval (target: upper
bound <= 1.5 alpha), and the audits with any unit broke (margin 0, and the shipped margin).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "workflow" / "scripts"), str(ROOT / "tests")]

import synthetic as syn  # noqa: E402
from configs import domain_settings, evidence_settings  # noqa: E402
from shortcut import conditional, stats  # noqa: E402

NULLS = ("sparse", "sparse-tiny", "misspecified", "label")


def _misspecified_population(n: int, seed: int) -> pd.DataFrame:
    pop = syn.population(n, seed)
    rng = np.random.default_rng(seed + 99)
    x1, x2 = pop["x1"].to_numpy(), pop["x2"].to_numpy()
    c1 = np.searchsorted(syn.LEVELS, pop["c1"].to_numpy())
    logits = (np.outer(x1, syn.BETA_X1) + np.outer(x2, syn.BETA_X2) + syn.GAMMA_C1[:, c1].T
              + 2.5 * np.outer(np.sin(2 * x1) * x2, [0.0, 1.0, -1.0]))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    pop["target"] = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).astype(np.int64)
    return pop


def make_null(kind: str, seed: int):
    """(train, audit, evidence overrides) of one null audit."""
    rng = np.random.default_rng(seed)
    if kind == "misspecified":
        pop = _misspecified_population(40_000, seed)
    else:
        pop = syn.population(40_000, seed)
    n_train = 300 if kind == "sparse-tiny" else 800
    train, pool = pop.iloc[:n_train].reset_index(drop=True), pop.iloc[n_train:].reset_index(drop=True)
    overrides: dict = {}
    if kind in ("sparse", "sparse-tiny"):
        test = pool[pool["x1"] > 1.5].head(500)
    elif kind == "misspecified":
        test = pool[pool["x2"] > 0.5].head(500)
        overrides = {"hidden": [2]}
    else:
        w = np.array([3.0, 1.0, 1.0])[pool["target"].to_numpy()]
        test = syn.draw(pool, 300, seed, weights=w)
    return train, test.reset_index(drop=True), overrides


def run_null(kind: str, seed: int, alpha: float) -> dict:
    train, test, overrides = make_null(kind, seed)
    splits, encoder = syn.encoded(train, test)
    out = {"null": kind, "seed": seed, "n_train": len(train), "n_audit": len(test)}
    for label, share in (("margin0", 0.0), ("shipped", None)):
        extra = dict(overrides, alpha=alpha, **({"min_harm_share": 0.0, "margin_break_share": 0.0}
                                                  if share == 0.0 else {}))
        result = conditional.audit_evidence(*splits, encoder, 3, domain_settings=domain_settings(seed),
                                            evidence_settings=evidence_settings(seed, **extra))
        steps, ev = result["steps"], result["evidence"]
        first = steps[steps["step"] == 1]
        if label == "margin0":
            out["unit_tests"] = int(first["p_value"].notna().sum())
            out["rejected"] = int((first["p_value"] < alpha).sum())
            out["max_harm"] = float(first["harm"].max())
        out[f"any_broke_{label}"] = bool(ev["broke"].astype(bool).any())
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=125)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "harm_level_cases.csv"))
    ap.add_argument("--kl-credit", type=float, default=0.0,
                    help="the harm test credits this share of the evidence model's own KL "
                         "(shortcut.conditional.KL_CREDIT; 0 ships)")
    a = ap.parse_args(argv)
    conditional.KL_CREDIT = a.kl_credit
    started = time.perf_counter()
    rows = [run_null(kind, 1000 * k + r, a.alpha) for k, kind in enumerate(NULLS) for r in range(a.reps)]
    frame = pd.DataFrame(rows)
    frame.to_csv(a.out, index=False)
    print(f"harm test level: {len(frame)} null audits, alpha {a.alpha:g}, KL credit {a.kl_credit:g}, "
          f"{time.perf_counter() - started:.0f} s")
    print("| null | audits | unit tests | p < alpha | rate [95 % CI] | audits with a unit broke (margin 0) | (shipped margin) |")
    print("|---|---|---|---|---|---|---|")
    for kind in [*NULLS, "all"]:
        sub = frame if kind == "all" else frame[frame["null"] == kind]
        k, n = int(sub["rejected"].sum()), int(sub["unit_tests"].sum())
        lo, hi = stats.wilson(k, n)
        b0, b1 = int(sub["any_broke_margin0"].sum()), int(sub["any_broke_shipped"].sum())
        print(f"| {kind} | {len(sub)} | {n} | {k} | {k / n:.3f} [{float(lo):.3f}, {float(hi):.3f}] | {b0} | {b1} |")
    print(f"per-audit rows: {a.out}")


if __name__ == "__main__":
    main()
