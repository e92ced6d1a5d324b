"""Training speed: shortcut.nn.fit vs PyTorch CPU eager vs scikit-learn MLPClassifier.

Same task for all three: 2 hidden layers of 64 ReLU units, softmax output, Adam (lr 1e-3),
minibatches of 256 reshuffled every epoch, float32, the same number of epochs (default 30),
one run each (after a one-batch warm-up; ``--repeats`` interleaves several and keeps the
fastest). Data: the real training partition, 33,078 rows x 12 encoded columns, cleaned and
encoded by the pipeline's own library (``bench_data.encoded_splits``) when
``../shared/data/airbnb`` is present, else synthetic data of the same shape (``--rows``).

What each timing includes per epoch: ours = ``fit`` (shuffle + gather, forward, backward, Adam,
train loss/accuracy from the batch passes, per-layer gradient statistics, one validation pass);
torch = shuffle + gather, forward, CE, backward, Adam step, ``loss.item()`` per batch and one
validation pass under ``no_grad``; sklearn = ``MLPClassifier.fit`` time / ``n_iter_`` (its own
loop: shuffle, forward, backward, Adam, loss; no validation).

Threads: ``fit`` runs OpenBLAS with 1 thread (its default, see ``shortcut.nn.limit_blas_threads``);
torch gets ``torch.set_num_threads`` equal to that and scikit-learn runs under
``threadpoolctl.threadpool_limits`` of the same count (``--threads`` changes all three).

Both wall-clock and CPU (process) time are reported, with the ratios ours/torch and
ours/sklearn for each: on a machine shared with other jobs the wall-clock ratio swings with their
load, CPU time much less.

When ``OPENBLAS_CORETYPE`` is set (it pins OpenBLAS to one CPU type's kernels; PyTorch brings
its own), ours is also timed in a child process without it (``ours_native_blas``: the kernel
OpenBLAS picks for this CPU, as on a machine without the variable), and its ratios are reported
beside the pinned ones, all measured in the same run.

Also measured: float32 matmul peak GFLOP/s (a big sgemm, with that thread count and with all
threads), the exact matmul FLOPs of one training epoch (forward + weight and input gradients)
and the fraction of peak the three implementations achieve. Results go to
``benchmarks/out/train_speed.json`` (``--out``).

    .venv/bin/python benchmarks/train_speed.py [--epochs 30] [--rows 33078] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_data import REAL, encoded_splits  # noqa: E402
from shortcut.files import write_json  # noqa: E402
from shortcut.nn import MLP, TrainSettings, blas_threads, fit, limit_blas_threads  # noqa: E402

HIDDEN = (64, 64)
N_CLASSES = 4
BATCH = 256
LR = 1e-3
TARGET_VS_TORCH = 0.25
TARGET_VS_SKLEARN = 0.5
#: a machine-wide OPENBLAS_CORETYPE pins OpenBLAS to one CPU's kernels (this machine: Haswell, AVX2,
#: on an AVX-512 CPU), which PyTorch's own kernels ignore; "ours" is then also timed in a child
#: process without it, i.e. with the kernel OpenBLAS picks itself, as on a user's machine
NATIVE = "ours_native_blas"


# -- data ---------------------------------------------------------------------------------------


def make_synthetic(rows: int, n_features: int = 12, seed: int = 0):
    """Synthetic data of the real split's shape: 4 imbalanced classes, one strong feature."""
    rng = np.random.default_rng(seed)
    n = rows + rows // 4
    y = rng.choice(N_CLASSES, size=n, p=[0.135, 0.563, 0.238, 0.064])
    X = rng.standard_normal((n, n_features))
    X[:, 0] += 1.5 * y
    X = X.astype(np.float32)
    return X[:rows], y[:rows], X[rows:], y[rows:]


# -- timings ------------------------------------------------------------------------------------


class Timer:
    """Wall-clock and CPU (process) time of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        return False


def per_epoch(timer: Timer, epochs: int, **extra) -> dict:
    """Per-epoch wall and CPU seconds of a timed run, plus ``extra`` fields."""
    return {
        "seconds_per_epoch": timer.wall / epochs,
        "cpu_seconds_per_epoch": timer.cpu / epochs,
        "epochs": epochs,
        **extra,
    }


def settings(epochs: int) -> TrainSettings:
    """Adam, lr LR, minibatches of BATCH, no early stopping."""
    return TrainSettings(optimizer="adam", lr=LR, batch_size=BATCH, epochs=epochs, patience=0, momentum=0.9)


def time_ours(X, y, Xv, yv, epochs: int, threads: int) -> dict:
    """``shortcut.nn.fit`` (it includes a validation pass and gradient statistics every epoch)."""
    warm = MLP(X.shape[1], HIDDEN, N_CLASSES, "relu", seed=0)
    fit(warm, X[:BATCH], y[:BATCH], Xv[:BATCH], yv[:BATCH], settings(1), seed=0, blas_threads=threads)
    model = MLP(X.shape[1], HIDDEN, N_CLASSES, "relu", seed=0)
    with Timer() as timer:
        hist = fit(model, X, y, Xv, yv, settings(epochs), seed=0, blas_threads=threads)
    return per_epoch(timer, epochs, val_acc=float(hist["val_acc"][-1]))


def time_ours_native(X, y, Xv, yv, epochs: int, threads: int) -> dict | None:
    """``time_ours`` in a child process without OPENBLAS_CORETYPE (same data: the arrays go through
    a temporary .npz), plus that process's sgemm peak; None when the variable is not set."""
    if not os.environ.get("OPENBLAS_CORETYPE"):
        return None
    import json
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, X=X, y=y, Xv=Xv, yv=yv)
        proc = subprocess.run([sys.executable, __file__, "--only-ours", str(data), "--epochs", str(epochs),
                               "--threads", str(threads)], env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def only_ours(data: Path, epochs: int, threads: int) -> None:
    """The child of ``time_ours_native``: time ours on the saved arrays, print one JSON line."""
    import json

    arrays = np.load(data)
    result = time_ours(arrays["X"], arrays["y"], arrays["Xv"], arrays["yv"], epochs, threads)
    result["sgemm_peak_gflops"] = sgemm_peak(threads)
    print(json.dumps(result))


def time_torch(X, y, Xv, yv, epochs: int, threads: int) -> dict | None:
    """PyTorch CPU eager: nn.Sequential, torch.optim.Adam, manual batching; None if not installed."""
    try:
        import torch
    except ImportError:
        print(
            "torch is not installed: skipping the PyTorch reference "
            "(pip install torch==2.13.0 into the venv to include it)"
        )
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def make():
        layers, fan_in = [], X.shape[1]
        for width in HIDDEN:
            layers += [torch.nn.Linear(fan_in, width), torch.nn.ReLU()]
            fan_in = width
        return torch.nn.Sequential(*layers, torch.nn.Linear(fan_in, N_CLASSES))

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    Xvt, yvt = torch.from_numpy(Xv), torch.from_numpy(yv.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(model, opt, n_epochs, Xt, yt):
        n = Xt.shape[0]
        for _ in range(n_epochs):
            perm = torch.randperm(n)
            Xs, ys = Xt[perm], yt[perm]
            total = 0.0
            for s in range(0, n, BATCH):
                xb, yb = Xs[s : s + BATCH], ys[s : s + BATCH]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()
                total += loss.item() * xb.shape[0]
            with torch.no_grad():
                val_acc = (model(Xvt).argmax(1) == yvt).float().mean().item()
        return val_acc

    warm = make()
    run(warm, torch.optim.Adam(warm.parameters(), lr=LR), 1, Xt[:BATCH], yt[:BATCH])
    model = make()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    with Timer() as timer:
        val_acc = run(model, opt, epochs, Xt, yt)
    return per_epoch(
        timer, epochs, val_acc=val_acc, version=torch.__version__, threads=torch.get_num_threads()
    )


def time_sklearn(X, y, Xv, yv, epochs: int, threads: int) -> dict | None:
    """scikit-learn's MLPClassifier, alpha=0 like ours (no L2); None if not installed."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
        import sklearn
    except ImportError:
        print(
            "scikit-learn is not installed: skipping the scikit-learn reference "
            "(pip install scikit-learn into the venv to include it)"
        )
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a scikit-learn dependency
        threadpool_limits = None

    def make(max_iter):
        return MLPClassifier(
            hidden_layer_sizes=HIDDEN,
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=BATCH,
            learning_rate_init=LR,
            max_iter=max_iter,
            shuffle=True,
            early_stopping=False,
            tol=0.0,
            n_iter_no_change=10**9,
            random_state=0,
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        limits = threadpool_limits(limits=threads) if threadpool_limits else None
        try:
            make(1).fit(X[:BATCH], y[:BATCH])
            clf = make(epochs)
            with Timer() as timer:
                clf.fit(X, y)
        finally:
            if limits is not None:
                limits.unregister()
    return per_epoch(
        timer,
        int(clf.n_iter_),
        val_acc=float(np.mean(clf.predict(Xv) == yv)),
        version=sklearn.__version__,
        weights_dtype=str(clf.coefs_[0].dtype),
        threads_limited=threadpool_limits is not None,
    )


def sgemm_peak(threads: int | None, size: int = 2048, repeats: int = 10) -> float:
    """Best-of-``repeats`` GFLOP/s of a ``size`` x ``size`` float32 matmul."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    best = float("inf")
    with limit_blas_threads(threads):
        np.matmul(a, b, out=out)
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


def epoch_flops(n_rows: int, sizes) -> dict:
    """Exact matmul FLOPs of one training epoch (2 per multiply-add).

    forward: 2 N fi fo per layer; weight gradients: 2 N fi fo per layer; input deltas:
    2 N fi fo for every layer but the first (dL/dX is not needed when training).
    """
    pairs = list(zip(sizes[:-1], sizes[1:]))
    forward = sum(2 * n_rows * fi * fo for fi, fo in pairs)
    weight_grads = forward
    deltas = sum(2 * n_rows * fi * fo for fi, fo in pairs[1:])
    n_params = sum(fi * fo + fo for fi, fo in pairs)
    return {
        "forward": forward,
        "weight_grads": weight_grads,
        "input_deltas": deltas,
        "total": forward + weight_grads + deltas,
        "six_n_params": 6 * n_rows * n_params,
        "n_params": n_params,
    }


# -- main ----------------------------------------------------------------------------------------


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--rows", type=int, default=33078, help="rows of synthetic data (if the CSV is absent)"
    )
    parser.add_argument("--synthetic", action="store_true", help="use synthetic data even if the CSV exists")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads for all three (default 1)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="repeat the three runs (interleaved) and keep each one's fastest (default 1)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "train_speed.json")
    parser.add_argument("--only-ours", type=Path, help=argparse.SUPPRESS)  # the native-kernel child
    args = parser.parse_args(argv)
    if args.only_ours:
        only_ours(args.only_ours, args.epochs, args.threads)
        return {}

    if REAL.joinpath("train.csv").is_file() and not args.synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            X, y, Xv, yv, _, _, source = encoded_splits(Path(tmp))
    else:
        X, y, Xv, yv = make_synthetic(args.rows)
        source = "synthetic"
    sizes = (X.shape[1], *HIDDEN, N_CLASSES)
    print(
        f"data: {source}  train {X.shape}  val {Xv.shape}  layers {sizes}  batch {BATCH}  "
        f"epochs {args.epochs}  threads {args.threads}"
    )
    env = {
        k: os.environ.get(k)
        for k in (
            "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE",
            "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
        )
    }
    print("environment:", {k: v for k, v in env.items() if v is not None} or "no BLAS variables set")

    runners = {"ours": time_ours, NATIVE: time_ours_native, "torch": time_torch, "sklearn": time_sklearn}
    runs: dict[str, list] = {name: [] for name in runners}
    loads = []
    for _ in range(args.repeats):  # the three interleaved; one run each by default
        for name, runner in runners.items():
            runs[name].append(runner(X, y, Xv, yv, args.epochs, args.threads))
            loads.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
    results = {}
    for name, rs in runs.items():
        rs = [r for r in rs if r is not None]
        if not rs:
            results[name] = None
            continue
        best = dict(min(rs, key=lambda r: r["seconds_per_epoch"]))
        best["cpu_seconds_per_epoch"] = min(r["cpu_seconds_per_epoch"] for r in rs)
        best["runs"] = len(rs)
        results[name] = best

    flops = epoch_flops(X.shape[0], sizes)
    peak = sgemm_peak(args.threads)
    peak_all = sgemm_peak(None)
    for name, res in results.items():
        if res is not None:
            own_peak = res.get("sgemm_peak_gflops", peak)  # the native child measured its own
            res["gflops"] = flops["total"] / res["seconds_per_epoch"] / 1e9
            res["fraction_of_peak"] = res["gflops"] / own_peak
            res["fraction_of_peak_cpu_time"] = flops["total"] / res["cpu_seconds_per_epoch"] / 1e9 / own_peak

    ratios = {}
    for ours in ("ours", NATIVE):
        for name, target in (("torch", TARGET_VS_TORCH), ("sklearn", TARGET_VS_SKLEARN)):
            if results[ours] is not None and results[name] is not None:
                wall = results[ours]["seconds_per_epoch"] / results[name]["seconds_per_epoch"]
                cpu = results[ours]["cpu_seconds_per_epoch"] / results[name]["cpu_seconds_per_epoch"]
                ratios[f"{ours}_over_{name}"] = {
                    "ratio": wall,
                    "ratio_cpu_time": cpu,
                    "target": target,
                    "met": wall <= target,
                    "met_cpu_time": cpu <= target,
                }

    print(f"\n{'implementation':<18}{'ms/epoch':>10}{'cpu ms':>9}{'GFLOP/s':>9}{'of peak':>9}{'val acc':>9}")
    for name, res in results.items():
        if res is None:
            print(f"{name:<18}{'skipped':>10}")
            continue
        print(
            f"{name:<18}{1e3 * res['seconds_per_epoch']:>10.1f}{1e3 * res['cpu_seconds_per_epoch']:>9.1f}"
            f"{res['gflops']:>9.2f}{res['fraction_of_peak']:>9.1%}{res['val_acc']:>9.4f}"
        )
    for key, r in ratios.items():
        print(
            f"{key}: {r['ratio']:.3f} wall, {r['ratio_cpu_time']:.3f} cpu time  (target <= {r['target']}: "
            f"{'met' if r['met'] else 'NOT met'} / {'met' if r['met_cpu_time'] else 'NOT met'})"
        )
    print(
        f"float32 sgemm peak: {peak:.1f} GFLOP/s with {args.threads} thread(s), {peak_all:.1f} GFLOP/s with "
        f"all BLAS threads; one epoch = {flops['total'] / 1e9:.3f} GFLOP of matmuls "
        f"(6*N*params = {flops['six_n_params'] / 1e9:.3f})"
    )
    if results[NATIVE] is not None:
        print(
            f"{NATIVE}: the same code without OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} (OpenBLAS "
            f"picks its kernel for this CPU): sgemm peak {results[NATIVE]['sgemm_peak_gflops']:.1f} GFLOP/s"
        )
    print(
        f"1-min load average after each run: {[round(v, 2) for v in loads if v is not None]} "
        f"on {os.cpu_count()} CPUs (other processes skew wall-clock ratios; cpu time is steadier)"
    )

    report = {
        "data": source,
        "train_shape": list(X.shape),
        "val_shape": list(Xv.shape),
        "layer_sizes": list(sizes),
        "batch_size": BATCH,
        "lr": LR,
        "epochs": args.epochs,
        "threads": args.threads,
        "blas_threads_default": blas_threads(),
        "repeats": args.repeats,
        "results": results,
        "ratios": ratios,
        "loadavg_after_each_run": loads,
        "sgemm_peak_gflops": peak,
        "sgemm_peak_gflops_all_threads": peak_all,
        "epoch_flops": flops,
        "environment": env,
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
    }
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
