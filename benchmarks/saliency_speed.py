"""Saliency speed: gradient saliency of every test row of one model, against references in the same run.

Data: the real test file encoded by the pipeline's own library (clean -> encoder fitted on the
training partition -> apply), falling back to the synthetic demo data when ``../shared`` is
absent. Model: the default ReLU network (2 x 64), trained for a few epochs (timings do not
depend on the weights, only on shapes).

Timed (best of ``--repeat`` runs, seconds):
* ``loss_gradient``: per-row dL/dx of every test row, one forward + one backward;
* ``forward``: ``predict_proba`` of every test row (the floor a backward pass is compared to);
* ``per_row_loop``: the same gradients one row at a time (``model.input_gradient`` per row),
  measured on ``--loop-rows`` rows and scaled to all rows: the naive reference;
* ``class_jacobian``: d p_c / dx for every class in ONE batched backward, against
  ``jacobian_k_passes``: one backward pass per class;
* ``integrated_gradients``: ``--ig-steps`` steps, every test row.

    .venv/bin/python benchmarks/saliency_speed.py [--repeat 20] [--ig-steps 32]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_data import encoded_splits  # noqa: E402
from shortcut import files, nn, saliency  # noqa: E402

TARGET_SECONDS = 0.010


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--ig-steps", type=int, default=32)
    parser.add_argument("--loop-rows", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "saliency_speed.json")
    args = parser.parse_args(argv)

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        X_tr, y_tr, X_va, y_va, X, y, source = encoded_splits(Path(tmp))
    model = nn.MLP(X.shape[1], [64, 64], 4, "relu", seed=0)
    settings = nn.TrainSettings(optimizer="adam", lr=3e-3, batch_size=256, epochs=5, patience=0, momentum=0.9)
    nn.fit(model, X_tr, y_tr, X_va, y_va, settings, seed=0, blas_threads=1)
    n, k = X.shape[0], 4

    times = {
        "loss_gradient": best_of(lambda: saliency.loss_gradient(model, X, y), args.repeat),
        "forward": best_of(lambda: model.predict_proba(X), args.repeat),
        "class_jacobian": best_of(lambda: saliency.class_jacobian(model, X), args.repeat),
    }

    def k_passes():
        for c in range(k):
            saliency.input_x_gradient(model, X, np.full(n, c))

    times["jacobian_k_passes"] = best_of(k_passes, max(3, args.repeat // 4))
    rows = X[: args.loop_rows]
    loop = best_of(lambda: [model.input_gradient(rows[i : i + 1], y[i : i + 1]) for i in range(len(rows))], 3)
    times["per_row_loop"] = loop * n / len(rows)
    times["integrated_gradients"] = best_of(
        lambda: saliency.integrated_gradients(model, X, model.predict(X), steps=args.ig_steps), 3
    )
    result = {
        "data": source,
        "rows": n,
        "columns": int(X.shape[1]),
        "seconds": times,
        "ratios": {
            "loss_gradient_over_forward": times["loss_gradient"] / times["forward"],
            "loss_gradient_over_per_row_loop": times["loss_gradient"] / times["per_row_loop"],
            "class_jacobian_over_k_passes": times["class_jacobian"] / times["jacobian_k_passes"],
        },
        "target_seconds": TARGET_SECONDS,
        "meets_target": times["loss_gradient"] <= TARGET_SECONDS,
    }
    files.write_json(args.out, result)
    print(f"saliency of all {n} test rows ({X.shape[1]} encoded columns, {source}):")
    for name, seconds in times.items():
        print(f"  {name:<22} {seconds * 1e3:10.2f} ms")
    for name, ratio in result["ratios"].items():
        print(f"  {name:<34} {ratio:8.3f}")
    verdict = "meets" if result["meets_target"] else "MISSES"
    print(f"loss_gradient {times['loss_gradient'] * 1e3:.2f} ms {verdict} the {TARGET_SECONDS * 1e3:.0f} ms target")
    return result


if __name__ == "__main__":
    main()
