"""Coverage and width of the label-free class-mix interval on the seed data (issue 22).

The label-free audit estimates the test file's class mix from the grid's predictions
(``shortcut.unlabeled.class_mix``: soft BBSE, percentile bootstrap over validation and test
rows). This script measures how often its 95 % interval covers the true mix, and how wide it is,
on the seed's real data without ``amenity_score`` (the leak; without it P(X | Y) is the same in
both files, so a test file drawn class by class is a pure change of the class mix):

1. a scratch copy of the workflow trains the grid of ``config/config.yaml`` (``relu`` and
   ``sigmoid``, seeds 0-2) on the training file without ``amenity_score``, and encodes the test
   file's rows (with their labels, which only this script reads);
2. for every seed, a true mix is drawn and ``--rows`` test rows are drawn class by class without
   replacement to match it (fewer when a class runs out): Dirichlet(3, 3, 3, 3) by default (any
   mix, often far from training's), or with ``--concentration c`` Dirichlet(c x the training mix)
   (moderate changes around it);
3. the mix is estimated from the grid's mean probabilities, exactly as the ``label_free`` rule
   does, with ``shift.evidence.n_boot`` resamples.

Printed: the share of (seed, class) intervals covering the drawn rows' class share, with its
Wilson interval; the share of seeds whose every class is covered; the mean and the largest
interval width; the share of seeds where the mix is estimable (``unlabeled.min_singular``); and
the narrowest 95 % interval these predictions allow at the same mixes and row counts
(:func:`information_bound`), with the measured width's ratio to it.

The information bound: under label shift a test row's likelihood is proportional to
``sum_y q(y) r_y(x)`` with ``r_y(x) = p(y | x) / p_train(y)``. Its Fisher information for the mix
(the expectation over test rows taken on validation rows weighted by ``sum_y q(y) r_y(x)``)
bounds the variance of any unbiased estimate from ``n`` test rows (Cramér-Rao), taking the grid's
probabilities as calibrated and the validation rows as exact. No estimator built on these
predictions (BBSE, MLLS or another) can give narrower intervals at that coverage; the bound is
optimistic, since the validation rows are a sample too.

Run: ``python benchmarks/label_free_mix.py [--seeds 50] [--rows 3000] [--concentration C] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from shortcut import files, nn, stats, unlabeled  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data" / "airbnb").resolve()
LEAK, TARGET, DATASET = "amenity_score", "price_class", "mixbench"


def without(src: Path, dest: Path, column: str) -> None:
    with open(src, newline="") as fh:
        rows = list(csv.reader(fh))
    k = rows[0].index(column)
    with open(dest, "w", newline="") as fh:
        csv.writer(fh).writerows([r[:k] + r[k + 1:] for r in rows])


def train_grid(workdir: Path) -> Path:
    """The grid on the training file without the leak, and the encoded test rows."""
    from conftest import copy_workflow

    wf = copy_workflow(workdir) if not (workdir / "Snakefile").exists() else workdir
    (wf / "in").mkdir(exist_ok=True)
    for name in ("train", "test"):
        without(DATA / f"{name}.csv", wf / "in" / f"{name}.csv", LEAK)
    shipped = yaml.safe_load((ROOT / "config" / "airbnb.yaml").read_text())
    config = {**shipped, "dataset": DATASET, "data": {"train": "in/train.csv", "test": "in/test.csv"},
              "features": {"categorical": ["neighbourhood_group", "room_type"],
                           "numeric": ["minimum_nights", "number_of_reviews", "availability_365"]},
              "impute": {**shipped["impute"], "columns": [c for c in shipped["impute"]["columns"]
                                                          if c["column"] != LEAK]}}
    (wf / "bench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    grid = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["grid"]
    results = wf / "results" / DATASET
    targets = [f"results/{DATASET}/features/all/{part}.parquet" for part in ("audit", "confirm")]
    targets += [f"results/{DATASET}/models/all/{m}/seed{s}/model.npz" for m in grid["models"] for s in grid["seeds"]]
    subprocess.run([sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--configfile", "bench.yaml"],
                   cwd=wf, check=True, capture_output=True)
    return results


def information_bound(p_val: np.ndarray, y_val: np.ndarray, q: np.ndarray, n: int, z: float = 1.959964) -> np.ndarray:
    """Per class, the width of the narrowest 95 % interval of the mix ``q`` that ``n`` test rows
    allow with these predictions (Cramér-Rao; see the module docstring)."""
    K = p_val.shape[1]
    prior = np.bincount(y_val, minlength=K) / len(y_val)
    r = p_val / prior
    density = r @ q  # p_test(x) / p_train(x) under label shift
    score = (r[:, :-1] - r[:, [-1]]) / density[:, None]
    info = np.einsum("i,ij,ik->jk", density, score, score) / len(r)
    cov = np.linalg.inv(info) / n
    ones = np.ones(K - 1)
    return 2 * z * np.sqrt(np.append(np.diag(cov), ones @ cov @ ones))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--concentration", type=float, default=None)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/shortcut-audit-label-free-mix"))
    a = ap.parse_args(argv)
    start = time.time()
    results = train_grid(a.workdir)
    from configs import validated

    cfg = validated({})
    settings = unlabeled.LabelFreeSettings.from_config(cfg["shift"], cfg["diagnose"], cfg["unlabeled"])
    X_val, y_val, _ = files.read_encoded(results / "features/all/val.parquet")
    parts = [files.read_encoded(results / f"features/all/{p}.parquet") for p in ("audit", "confirm")]
    X_test, y_test = np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    models = [nn.load(files.load_npz(path)) for path in sorted(results.glob("models/all/*/seed*/model.npz"))]
    per_val = [np.asarray(m.predict_proba(X_val), dtype=np.float64) for m in models]
    p_val, p_test = np.mean(per_val, axis=0), np.mean([m.predict_proba(X_test) for m in models], axis=0)
    correct = np.mean([p.argmax(axis=1) == y_val for p in per_val], axis=0)
    K = p_val.shape[1]
    trained = time.time() - start
    rng = np.random.default_rng(0)
    covered, all_covered, widths, estimable, rows, bounds = [], [], [], [], [], []
    for seed in range(a.seeds):
        p_train = np.bincount(y_val, minlength=K) / len(y_val)
        want = rng.dirichlet(np.full(K, 3.0) if a.concentration is None else a.concentration * p_train)
        available = np.bincount(y_test, minlength=K)
        n = int(min(a.rows, np.floor(np.min(available / np.maximum(want, 1e-9)))))
        take = np.floor(want * n).astype(int)
        idx = np.concatenate([rng.choice(np.flatnonzero(y_test == k), take[k], replace=False) for k in range(K)])
        true = np.bincount(y_test[idx], minlength=K) / len(idx)
        m = unlabeled.class_mix(p_val, y_val, correct, p_test[idx], K, n_boot=settings.n_boot, seed=seed)
        lo, hi = np.array(m["ci_low"]), np.array(m["ci_high"])
        hit = (lo <= true) & (true <= hi)
        covered += hit.tolist()
        all_covered.append(bool(hit.all()))
        widths += (hi - lo).tolist()
        estimable.append(m["min_singular"] >= settings.min_singular)
        rows.append(len(idx))
        bounds += information_bound(p_val, y_val, true, len(idx)).tolist()
    lo, hi = stats.wilson(int(np.sum(covered)), len(covered))
    jl, jh = stats.wilson(int(np.sum(all_covered)), len(all_covered))
    mixes = "Dirichlet(3, ..., 3)" if a.concentration is None else f"Dirichlet({a.concentration:g} x training mix)"
    print(f"true mixes {mixes}; {len(models)} grid models; {a.seeds} seeds, {int(np.mean(rows))} test rows on average "
          f"(min {min(rows)}); smallest singular value of the soft confusion matrix "
          f"{m['min_singular']:.4f} (estimable: {np.mean(estimable):.0%} of seeds)")
    print(f"coverage per class share: {np.mean(covered):.3f} (Wilson 95 % {float(lo):.3f} to {float(hi):.3f}; "
          f"{len(covered)} intervals)")
    print(f"all classes covered at once: {np.mean(all_covered):.3f} (Wilson 95 % {float(jl):.3f} to {float(jh):.3f})")
    print(f"interval width: mean {np.mean(widths):.3f}, median {np.median(widths):.3f}, largest {np.max(widths):.3f}; "
          f"per class mean " + ", ".join(f"{np.mean(widths[k::K]):.3f}" for k in range(K)))
    print(f"narrowest width these predictions allow (Cramér-Rao, same mixes and rows): mean {np.mean(bounds):.3f}; "
          f"per class mean " + ", ".join(f"{np.mean(bounds[k::K]):.3f}" for k in range(K))
          + f"; measured / bound {np.mean(widths) / np.mean(bounds):.2f}")
    print(f"seconds: {trained:.0f} to train and encode, {time.time() - start - trained:.0f} for the seeds")


if __name__ == "__main__":
    main()
