"""Training loop for the NumPy networks of ``shortcut.network``.

``fit`` runs minibatch (or full-batch) training with one of the optimisers of ``shortcut.optim``
and returns a per-epoch history. It is written for speed on small tabular networks, where the
per-call overhead of NumPy, not the arithmetic, dominates (2 x 64 ReLU units, batches of 256: a
step is ~40 NumPy calls of 1-20 us each):

* the training set is gathered once per epoch into shuffled buffers (``np.take(..., out=)``), so
  every minibatch is a fixed view of them;
* one epoch is compiled once per ``fit`` into a flat list of in-place NumPy operations bound to
  those views and to preallocated buffers (the network's forward and backward operations, the
  softmax/cross-entropy gradient, the gradient statistics, the optimiser step); an epoch then
  replays the list, allocating nothing;
* parameters and gradients are one packed vector each, so the optimiser step is ~10 vector
  operations whatever the depth;
* the training loss and accuracy come from the minibatch forward passes (as in scikit-learn);
  the validation set gets one (also compiled) forward pass per epoch;
* OpenBLAS runs single-threaded while training (see ``limit_blas_threads``).

Same inputs and seed give bit-identical weights.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
from functools import partial
from typing import Iterator

import numpy as np

from .network import _as_labels, _BaseNet, _product, one_hot, run_ops
from .optim import EarlyStopping, make_optimizer

__all__ = ["HISTORY_COLUMNS", "blas_threads", "fit", "history_frame", "limit_blas_threads"]

HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")

# (get, set) symbol pairs of OpenBLAS builds: NumPy/SciPy wheels (64-bit ints, prefixed), plain.
_OPENBLAS_SYMBOLS = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)
_blas_controls: list[tuple] | None = None


def _openblas_controls() -> list[tuple]:
    """(get, set) functions of every OpenBLAS loaded in this process (Linux; else none)."""
    global _blas_controls
    if _blas_controls is None:
        _blas_controls = []
        try:
            with open("/proc/self/maps", encoding="utf-8") as fh:
                paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and "/" in ln})
        except OSError:
            paths = []
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for get_name, set_name in _OPENBLAS_SYMBOLS:
                if hasattr(lib, get_name) and hasattr(lib, set_name):
                    get, set_ = getattr(lib, get_name), getattr(lib, set_name)
                    get.restype, get.argtypes = ctypes.c_int, []
                    set_.restype, set_.argtypes = None, [ctypes.c_int]
                    _blas_controls.append((get, set_))
                    break
    return _blas_controls


def blas_threads() -> int | None:
    """Current thread count of the (first) loaded OpenBLAS, or None if it cannot be queried."""
    controls = _openblas_controls()
    return int(controls[0][0]()) if controls else None


@contextlib.contextmanager
def limit_blas_threads(n: int | None) -> Iterator[None]:
    """Run the block with OpenBLAS limited to ``n`` threads (None: leave as is), then restore.

    The matrix products of small networks are far too small to gain from threads: on a busy
    2-core machine two OpenBLAS threads made an epoch 3-10x slower than one. One thread also makes
    results independent of the machine's core count.
    """
    controls = _openblas_controls() if n else []
    before = [get() for get, _ in controls]
    for _, set_ in controls:
        set_(int(n))
    try:
        yield
    finally:
        for (_, set_), count in zip(controls, before):
            set_(count)


def _row_max_ops(z, out) -> list:
    """Operations writing the row maxima of ``z`` (b, k) into the vector ``out``.

    For a few columns this goes column by column: a NumPy reduction along a short axis runs
    one tiny loop per row (~10 us for 256 x 4). ``np.fmax`` (which skips NaN) is fine for this
    stabilising shift: a NaN logit still turns its row's loss into NaN.
    """
    k = z.shape[1]
    if k == 1:
        return [partial(np.copyto, out, z[:, 0])]
    if k > 8:
        return [partial(np.maximum.reduce, z, axis=1, out=out)]
    return [partial(np.fmax, z[:, 0], z[:, 1], out)] + [
        partial(np.fmax, out, z[:, j], out) for j in range(2, k)
    ]


def _softmax_ce_ops(z, Y, row_max, sumexp, delta) -> list:
    """Operations computing dL/dz of the batch-mean cross-entropy into ``delta``.

    ``z`` (b, k) are the batch logits and ``Y`` their one-hot labels. The row maxima and the sums
    of ``exp(z - max)`` are left in ``row_max`` / ``sumexp`` (b, 1), from which the epoch's loss is
    summed afterwards (``_Scores``).
    """
    b, k = z.shape
    ones = np.ones((k, 1), dtype=z.dtype)
    return [
        *_row_max_ops(z, row_max[:, 0]),
        partial(np.subtract, z, row_max, delta),
        partial(np.exp, delta, delta),
        _product(delta, ones, sumexp),
        partial(np.divide, delta, sumexp, delta),  # softmax
        partial(np.subtract, delta, Y, delta),
        partial(np.multiply, delta, 1.0 / b, delta),
    ]


class _Scores:
    """Cross-entropy sum and number of correct rows of ``n`` rows of logits.

    ``ops(z, work)`` are the operations that fill the row maxima and the sums of ``exp(z - max)``
    (the training step computes them itself); ``__call__`` then reads off the loss (float64 sums)
    and the accuracy. A row is correct when its label's logit is the row maximum; if some row has
    several maximal logits, ``np.argmax``'s first-index rule decides instead.
    """

    def __init__(self, n: int, k: int, dtype):
        self.row_max = np.empty((n, 1), dtype=dtype)
        self.sumexp = np.empty((n, 1), dtype=dtype)
        self._flat_rows = np.arange(n, dtype=np.intp) * k  # flat index of each row's first logit
        self._index = np.empty(n, dtype=np.intp)
        self._true = np.empty(n, dtype=dtype)

    def ops(self, z, work) -> list:
        ones = np.ones((z.shape[1], 1), dtype=z.dtype)
        return [
            *_row_max_ops(z, self.row_max[:, 0]),
            partial(np.subtract, z, self.row_max, work),
            partial(np.exp, work, work),
            _product(work, ones, self.sumexp),
        ]

    def __call__(self, z, y) -> tuple[float, int]:
        row_max = self.row_max[:, 0]
        np.add(self._flat_rows, y, out=self._index)
        z.reshape(-1).take(self._index, out=self._true)  # the label's logit of every row
        np.subtract(self._true, row_max, out=self._true)  # <= 0, exact in float32
        loss = np.sum(np.log(self.sumexp), dtype=np.float64) - np.sum(self._true, dtype=np.float64)
        n_max = sum(np.count_nonzero(z[:, j] == row_max) for j in range(z.shape[1]))
        if n_max == z.shape[0]:  # one maximal logit per row: correct iff it is the label's
            correct = np.count_nonzero(self._true == 0)
        else:
            correct = np.count_nonzero(z.argmax(axis=1) == y)
        return float(loss), int(correct)


class _GradStats:
    """Mean |gradient| per parameter array, averaged over the batches of an epoch."""

    def __init__(self, model: _BaseNet):
        grads = model.packed_grads()
        segments = model._segments  # (name, start, stop) in packed order
        self._starts = np.array([start for _, start, _ in segments], dtype=np.intp)
        self._sizes = np.array([stop - start for _, start, stop in segments], dtype=np.float64)
        self._index = {f"grad_{name}": j for j, (name, _, _) in enumerate(segments)}
        self._abs = np.empty_like(grads)
        self._acc = np.zeros_like(grads)
        nc = len(model.coefs)
        self.names = [f"grad_W{i}" for i in range(nc)] + [f"grad_b{i}" for i in range(len(model.intercepts))]

    def reset(self) -> None:
        self._acc[...] = 0

    def ops(self, grads: np.ndarray) -> list:
        """Accumulate |grads| element-wise (summed per array only at the end of the epoch)."""
        return [partial(np.abs, grads, self._abs), partial(np.add, self._acc, self._abs, self._acc)]

    def means(self, n_batches: int) -> np.ndarray:
        """Per ``names``: the mean |gradient| of each array averaged over ``n_batches``."""
        sums = np.add.reduceat(self._acc.astype(np.float64), self._starts) / self._sizes / max(n_batches, 1)
        return np.array([sums[self._index[name]] for name in self.names])


class _Epoch:
    """One epoch of training compiled into a flat list of in-place operations.

    For each minibatch (a fixed view of the shuffled buffers ``Xs``/``Ys``) the list holds the
    network's forward operations (logits written straight into the epoch's logit buffer), the
    softmax/cross-entropy gradient, the network's backward operations, the gradient statistics
    and the optimiser step. Built once per ``fit``; an epoch is then a plain loop over the list.
    """

    def __init__(self, model: _BaseNet, Xs, Ys, batch_size: int, optimizer, stats: _GradStats):
        n, k = Ys.shape
        self.logits = np.empty((n, k), dtype=model.dtype)
        self.scores = _Scores(n, k, model.dtype)
        delta = np.empty((batch_size, k), dtype=model.dtype)
        grads = model.packed_grads()
        step = optimizer.update_ops([grads])
        self.ops: list = []
        self.n_batches = 0
        for start in range(0, n, batch_size):
            rows = slice(start, min(start + batch_size, n))
            xb, Yb, z = Xs[rows], Ys[rows], self.logits[rows]
            ws = model._ws.get(xb.shape[0])
            d = delta[: xb.shape[0]]
            self.ops += model._forward_ops(xb, ws, z)
            self.ops += _softmax_ce_ops(z, Yb, self.scores.row_max[rows], self.scores.sumexp[rows], d)
            self.ops += model._backward_ops(xb, ws, d, param_grads=True, dx=None)
            self.ops += stats.ops(grads)
            self.ops += step
            self.n_batches += 1

    def run(self) -> None:
        for op in self.ops:
            op()

    def train_scores(self, ys) -> tuple[float, int]:
        """(sum of the batch cross-entropies, number correct) from the epoch's forward passes."""
        return self.scores(self.logits, ys)


class _Validation:
    """The validation pass (forward and scores), compiled once per ``fit``, in chunks of at most
    ``model.CHUNK_ROWS`` rows so that the network's buffers stay small for large sets."""

    def __init__(self, model: _BaseNet, Xv, yv):
        n, k = Xv.shape[0], model.n_out
        self.y = yv
        self.logits = np.empty((n, k), dtype=model.dtype)
        self.scores = _Scores(n, k, model.dtype)
        Xin = model._network_input(Xv)
        self.ops = []
        for start in range(0, n, model.CHUNK_ROWS):
            rows = slice(start, start + model.CHUNK_ROWS)
            self.ops += model._forward_ops(Xin[rows], model._ws.get(Xin[rows].shape[0]), self.logits[rows])
        self.ops += self.scores.ops(self.logits, np.empty((n, k), dtype=model.dtype))

    def __call__(self) -> tuple[float, int]:
        run_ops(self.ops)
        return self.scores(self.logits, self.y)


def fit(
    model: _BaseNet,
    X_train,
    y_train,
    X_val,
    y_val,
    *,
    optimizer: str = "adam",
    lr: float = 1e-3,
    batch_size: int | None = 256,
    epochs: int = 30,
    patience: int | None = None,
    seed: int = 0,
    momentum: float = 0.9,
    min_delta: float = 0.0,
    blas_threads: int | None = 1,
    verbose: bool = False,
) -> dict:
    """Train ``model`` in place and return its per-epoch history.

    Parameters
    ----------
    model : an ``MLP`` or ``SharedBiasNet``.
    X_train, y_train, X_val, y_val : features and integer labels; cast to ``model.dtype``.
    optimizer : "adam", "sgd", "momentum", "nesterov" or "gd". "gd" is plain full-batch gradient
        descent: it always uses the whole training set per step (``batch_size`` is ignored).
    lr, momentum : learning rate; momentum of "momentum"/"nesterov".
    batch_size : minibatch size; None or 0 means full batch.
    epochs : maximum number of passes over the training set.
    patience : if set, stop once the validation loss has not improved (by more than
        ``min_delta``) for ``patience`` epochs, and restore the weights of the best epoch.
    seed : seed of ``np.random.default_rng`` used to shuffle the rows every epoch.
    blas_threads : OpenBLAS threads while training (default 1, see ``limit_blas_threads``;
        None leaves the setting alone).

    Returns
    -------
    dict with per-epoch numpy arrays ``epoch`` (1-based), ``train_loss``, ``train_acc`` (mean
    cross-entropy and accuracy over the epoch's minibatch forward passes, without the L2
    penalty), ``val_loss``, ``val_acc`` (one pass after the epoch), ``grad_W{i}`` / ``grad_b{i}``
    (mean |gradient| of layer i's weights / biases, averaged over the epoch's batches), and
    scalars ``best_epoch`` (lowest validation loss), ``best_val_loss``, ``stopped_epoch`` (last
    epoch trained), ``early_stopped`` and ``restored_best`` (whether the best weights were put
    back). ``pandas.DataFrame(history)`` gives one row per epoch.
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    with limit_blas_threads(blas_threads):
        return _fit(
            model,
            X_train,
            y_train,
            X_val,
            y_val,
            optimizer,
            lr,
            batch_size,
            epochs,
            patience,
            seed,
            momentum,
            min_delta,
            verbose,
        )


def _fit(
    model,
    X_train,
    y_train,
    X_val,
    y_val,
    optimizer,
    lr,
    batch_size,
    epochs,
    patience,
    seed,
    momentum,
    min_delta,
    verbose,
) -> dict:
    """The body of ``fit`` (arguments as there)."""
    X, y, Xv, yv = _prepare(model, X_train, y_train, X_val, y_val)
    n, k, dtype = X.shape[0], model.n_out, model.dtype
    full_batch = optimizer == "gd" or not batch_size
    bs = n if full_batch else min(int(batch_size), n)

    params = model.packed_params()
    opt = make_optimizer(optimizer, [params], lr=lr, momentum=momentum)
    stopper = EarlyStopping(patience, min_delta) if patience else None
    rng = np.random.default_rng(seed)

    X, Y = model._network_input(X), one_hot(y, k, dtype)
    if full_batch:  # no shuffling: the gradient of the full batch does not depend on row order
        Xs, Ys, ys = X, Y, y
    else:  # gather buffers, refilled in shuffled order every epoch
        Xs, Ys, ys = np.empty_like(X), np.empty_like(Y), np.empty_like(y)
    model._cache = None  # training reuses the network's buffers: no stale forward pass for backward
    model._ws.get(max(bs, min(Xv.shape[0], model.CHUNK_ROWS)))  # size the buffers once, for all passes
    stats = _GradStats(model)
    epoch_ops = _Epoch(model, Xs, Ys, bs, opt, stats)
    validate = _Validation(model, Xv, yv)
    rows: list[tuple] = []
    grad_rows: list[np.ndarray] = []

    for epoch in range(1, int(epochs) + 1):
        if not full_batch:
            perm = rng.permutation(n)
            np.take(X, perm, axis=0, out=Xs)
            np.take(Y, perm, axis=0, out=Ys)
            np.take(y, perm, axis=0, out=ys)
        stats.reset()
        epoch_ops.run()
        loss_sum, correct = epoch_ops.train_scores(ys)
        val_sum, val_correct = validate()
        val_loss = val_sum / Xv.shape[0]
        rows.append((epoch, loss_sum / n, correct / n, val_loss, val_correct / Xv.shape[0]))
        grad_rows.append(stats.means(epoch_ops.n_batches))
        if verbose:
            print(
                f"epoch {epoch:4d}  train loss {loss_sum / n:.4f} acc {correct / n:.4f}  "
                f"val loss {val_loss:.4f} acc {val_correct / Xv.shape[0]:.4f}"
            )
        if stopper is not None and stopper.step(val_loss, [params], epoch):
            break
        if not math.isfinite(loss_sum):
            break

    if stopper is not None:
        stopper.restore([params])
    return _history(rows, grad_rows, stats.names, stopper)


def _prepare(model, X_train, y_train, X_val, y_val):
    """Validate and cast the four arrays (a contiguous copy only where needed)."""
    if not isinstance(model, _BaseNet):
        raise TypeError(f"model must be an MLP or SharedBiasNet, got {type(model).__name__}")
    model._sync_params()
    X = model._as_input(X_train)
    Xv = model._as_input(X_val)
    if X.shape[0] == 0 or Xv.shape[0] == 0:
        raise ValueError("training and validation sets must not be empty")
    y = _as_labels(y_train, model.n_out, X.shape[0])
    yv = _as_labels(y_val, model.n_out, Xv.shape[0])
    return X, y, Xv, yv


def _history(rows, grad_rows, grad_names, stopper) -> dict:
    """Columns of the per-epoch history plus the scalar summary."""
    cols = list(zip(*rows))
    history = {
        "epoch": np.asarray(cols[0], dtype=np.int64),
        **{name: np.asarray(col, dtype=np.float64) for name, col in zip(HISTORY_COLUMNS[1:], cols[1:])},
    }
    grads = np.asarray(grad_rows, dtype=np.float64)
    for j, name in enumerate(grad_names):
        history[name] = grads[:, j]
    val = history["val_loss"]
    finite = np.where(np.isfinite(val), val, np.inf)
    best = int(np.argmin(finite))
    history["best_epoch"] = int(history["epoch"][best])
    history["best_val_loss"] = float(val[best])
    history["stopped_epoch"] = int(history["epoch"][-1])
    history["early_stopped"] = bool(stopper is not None and stopper.stopped_epoch is not None)
    history["restored_best"] = bool(stopper is not None and stopper.best_epoch is not None)
    if stopper is not None and stopper.best_epoch is not None:
        history["best_epoch"] = int(stopper.best_epoch)
        history["best_val_loss"] = float(stopper.best_loss)
    return history


def history_frame(history: dict):
    """The per-epoch part of a ``fit`` history as a pandas DataFrame (scalars dropped)."""
    import pandas as pd

    return pd.DataFrame({k: v for k, v in history.items() if isinstance(v, np.ndarray)})
