"""Coverage of the harm's one-sided upper bound at the sizes users have.

The verdict says a relied-on feature's relation **holds** when the one-sided (1 - alpha) upper
confidence bound of its harm (mean per-row log-loss difference, ``shortcut.conditional``) is below
the material margin. That is an equivalence test: its error (a broken relation called "holds") is
the bound's miss rate, P(upper < true mean), which must stay at or below alpha. Per-row log-loss
differences are skewed and heavy-tailed: most rows cost a little either way, a few rows where the
broken feature makes the model confidently wrong cost several nats. This script draws such rows
from three generators and measures the miss rate of three bounds at 100, 250 and 500 audit rows:

* ``normal``: mean + z * bootstrap standard error;
* ``percentile``: the (1 - alpha) quantile of the bootstrap means;
* ``bootstrap-t``: ``shortcut.stats.studentized_upper`` at nominal alpha;
* ``pipeline``: the same at nominal alpha / 2, which is what decides "holds"
  (``shortcut.conditional.holds_alpha``).

Generators (true means known in closed form):

* ``rare-costly``: with probability 0.05 a row costs Exp(mean 1.5) nats, else N(-0.01, 0.05);
* ``lognormal``: 0.02 * (LogNormal(0, 1.2) - E) + 0.03 (right-skewed, mean 0.03);
* ``leak-mixture``: with probability 0.3 a row costs Exp(mean 0.6) nats, else N(-0.05, 0.1).

Run: ``python benchmarks/harm_interval.py [--reps 2000] [--alpha 0.05]``. It prints one line per
generator, size and bound with the miss rate and its Wilson interval.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from shortcut import stats  # noqa: E402


def rare_costly(rng, n):
    hit = rng.random(n) < 0.05
    return np.where(hit, rng.exponential(1.5, n), rng.normal(-0.01, 0.05, n)), 0.05 * 1.5 + 0.95 * -0.01


def lognormal(rng, n):
    s = 1.2
    return 0.02 * (rng.lognormal(0.0, s, n) - np.exp(s * s / 2)) + 0.03, 0.03


def leak_mixture(rng, n):
    hit = rng.random(n) < 0.3
    return np.where(hit, rng.exponential(0.6, n), rng.normal(-0.05, 0.1, n)), 0.3 * 0.6 + 0.7 * -0.05


GENERATORS = {"rare-costly": rare_costly, "lognormal": lognormal, "leak-mixture": leak_mixture}
SIZES = (100, 250, 500)
BOUNDS = ("normal", "percentile", "bootstrap-t", "pipeline")


def bounds(d: np.ndarray, alpha: float, n_boot: int, seed: int) -> dict:
    """The three upper bounds of mean(d), from one bootstrap (the pipeline's resampler)."""
    n = len(d)
    draws = stats.bootstrap_means(np.column_stack([d, d * d]), n_boot, seed=seed)
    m, sd = float(d.mean()), float(d.std(ddof=1))
    se = float(np.std(draws[:, 0], ddof=1))
    return {"normal": m + stats.normal_quantile(1 - alpha) * se,
            "percentile": float(np.quantile(draws[:, 0], 1 - alpha)),
            "bootstrap-t": stats.studentized_upper(m, sd, n, draws[:, 0], draws[:, 1], alpha),
            "pipeline": stats.studentized_upper(m, sd, n, draws[:, 0], draws[:, 1], alpha / 2)}


def miss_rates(generator, n: int, reps: int, alpha: float, n_boot: int = 1000, seed: int = 0) -> dict:
    """Share of replicates whose bound lies below the true mean, per bound."""
    rng = np.random.default_rng(seed)
    misses = dict.fromkeys(BOUNDS, 0)
    for r in range(reps):
        d, mu = generator(rng, n)
        for k, b in bounds(d, alpha, n_boot, seed + r).items():
            misses[k] += b < mu
    return {k: v / reps for k, v in misses.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--alpha", type=float, default=0.05)
    a = ap.parse_args(argv)
    print(f"miss rate of the one-sided {100 * (1 - a.alpha):g} % upper bound (target <= {a.alpha:g}), "
          f"{a.reps} replicates each")
    print(f"{'generator':<14}{'rows':>6}  " + "  ".join(f"{k:>22}" for k in BOUNDS))
    for name, gen in GENERATORS.items():
        for n in SIZES:
            rates = miss_rates(gen, n, a.reps, a.alpha)
            cells = []
            for k in BOUNDS:
                lo, hi = stats.wilson(round(rates[k] * a.reps), a.reps)
                cells.append(f"{rates[k]:.3f} [{float(lo):.3f}, {float(hi):.3f}]")
            print(f"{name:<14}{n:>6}  " + "  ".join(f"{c:>22}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
