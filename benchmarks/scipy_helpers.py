"""Hand-written statistics against scipy.stats: why the library keeps one and uses scipy for the rest.

The library uses ``scipy.stats`` for ranks (``rankdata``: the AUC and DeLong's interval) and for
Spearman's rho (``spearmanr``: the EDA's association). It keeps one helper of its own: the Pearson
chi-square inside Cramér's V (``shortcut.codes.cramers_v``). That V runs for every pair of features
in ``codes.association_groups`` (F (F - 1) / 2 calls per ``fit_encoder`` job, one job per feature
set), on small tables, where ``scipy.stats.chi2_contingency`` costs far more per call than the sums
themselves; and ``fit_encoder`` loads no ``scipy.stats`` otherwise, whose import alone is about
as long as the job's own CPU time.

Printed (best of ``--repeat``; ratio = scipy / ours, above 1 means ours is faster):
* the chi-square of Cramér's V per call on binned-feature tables, and over the pairs of
  ``--features`` features (the association groups' loop), with the largest relative difference
  of V (the two give the same numbers);
* the import of ``scipy.stats`` in a fresh interpreter that already has NumPy, pandas and
  ``scipy.special``;
* for the record, the replaced helpers: ranks and Spearman's rho against a NumPy version of what
  the library had (the ratios are near 1, and their jobs load ``scipy.stats`` anyway).

    .venv/bin/python benchmarks/scipy_helpers.py [--repeat 20] [--features 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import timeit
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from shortcut import codes  # noqa: E402


def best_of(fn, repeat: int) -> float:
    return min(timeit.repeat(fn, number=1, repeat=repeat))


def cramers_v_scipy(table: np.ndarray) -> float:
    """``codes.cramers_v`` (bias-corrected) with the chi-square from ``scipy.stats.chi2_contingency``."""
    from scipy.stats import chi2_contingency

    t = np.asarray(table, dtype=np.float64)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    n = t.sum()
    r, c = t.shape
    if r < 2 or c < 2 or n < 2:
        return 0.0
    chi2 = chi2_contingency(t, correction=False).statistic
    phi2c = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    denom = min(r - (r - 1) ** 2 / (n - 1) - 1, c - (c - 1) ** 2 / (n - 1) - 1)
    return float(np.sqrt(phi2c / denom)) if denom > 0 else 0.0


def midranks(x: np.ndarray) -> np.ndarray:
    """The library's former ranks (ties share the mean of their positions)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    boundaries = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [x.size]])
    ranks = np.empty(x.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def import_seconds(module: str, before: str, repeat: int) -> float:
    """Best wall time of ``import module`` in a fresh interpreter that has imported ``before``."""
    code = (f"import time, {before}; t = time.perf_counter(); import {module}; "
            "print(time.perf_counter() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeat)]
    return min(runs)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--rows", type=int, default=50_000, help="rows of the association groups' sample")
    args = parser.parse_args(argv)
    from scipy.stats import rankdata, spearmanr

    rng = np.random.default_rng(0)
    results = {}
    print("Cramér's V (chi-square), per call:")
    worst = 0.0
    for shape in ((2, 2), (10, 4), (10, 10), (50, 10)):
        table = rng.integers(0, 500, shape).astype(np.float64)
        ours, theirs = codes.cramers_v(table), cramers_v_scipy(table)
        worst = max(worst, abs(ours - theirs) / max(abs(ours), 1e-300))
        t_ours = best_of(lambda: codes.cramers_v(table), args.repeat)
        t_scipy = best_of(lambda: cramers_v_scipy(table), args.repeat)
        results[f"chi2_{shape[0]}x{shape[1]}"] = t_scipy / t_ours
        print(f"  {shape[0]:>2} x {shape[1]:<2}  ours {t_ours * 1e6:8.1f} us  scipy {t_scipy * 1e6:8.1f} us  "
              f"ratio {t_scipy / t_ours:6.1f}")

    # the association groups' loop: every pair of binned features (deciles), as codes.association_groups
    feats = [np.minimum((rng.random(args.rows) * 10).astype(np.int64), 9) for _ in range(args.features)]
    pairs = [(a, b) for i, a in enumerate(feats) for b in feats[i + 1:]]

    def loop(v):
        return [v(codes.contingency(a, b, 10, 10)) for a, b in pairs]

    worst = max(worst, max(abs(x - y) / max(abs(x), 1e-300) for x, y in zip(loop(codes.cramers_v), loop(cramers_v_scipy))))
    t_ours = best_of(lambda: loop(codes.cramers_v), max(1, args.repeat // 4))
    t_scipy = best_of(lambda: loop(cramers_v_scipy), max(1, args.repeat // 4))
    results["association_groups"] = t_scipy / t_ours
    print(f"  {len(pairs)} pairs of {args.features} features ({args.rows} rows): ours {t_ours:.3f} s  "
          f"scipy {t_scipy:.3f} s  ratio {t_scipy / t_ours:.2f}")
    print(f"  largest relative difference of V: {worst:.1e}")

    t_import = import_seconds("scipy.stats", "numpy, pandas, scipy.special", max(1, args.repeat // 4))
    results["import_scipy_stats_s"] = t_import
    print(f"import scipy.stats (after numpy, pandas, scipy.special): {t_import:.3f} s "
          "(fit_encoder loads no scipy.stats otherwise)")

    print("replaced by scipy (for the record):")
    for n in (1_000, 100_000, 1_000_000):
        x = np.round(rng.normal(size=n), 2)
        y = rng.integers(0, 4, n)
        assert np.array_equal(midranks(x), rankdata(x))
        t_ours = best_of(lambda: midranks(x), max(1, args.repeat // 4))
        t_scipy = best_of(lambda: rankdata(x), max(1, args.repeat // 4))
        rho = float(np.corrcoef(midranks(x), midranks(y.astype(np.float64)))[0, 1])
        rho_scipy = float(spearmanr(x, y).statistic)
        t_rho = best_of(lambda: np.corrcoef(midranks(x), midranks(y.astype(np.float64))), max(1, args.repeat // 4))
        t_rho_scipy = best_of(lambda: spearmanr(x, y), max(1, args.repeat // 4))
        results[f"rank_{n}"], results[f"spearman_{n}"] = t_scipy / t_ours, t_rho_scipy / t_rho
        print(f"  {n:>9} rows: ranks ratio {t_scipy / t_ours:5.2f}, Spearman ratio {t_rho_scipy / t_rho:5.2f} "
              f"(rho differs by {abs(rho - rho_scipy) / max(abs(rho), 1e-300):.1e} relative)")
    return results


if __name__ == "__main__":
    main()
