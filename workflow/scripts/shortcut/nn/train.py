"""Training loop for the NumPy networks of ``shortcut.nn.network``.

``fit`` runs minibatch (or full-batch) training with one of the optimisers of ``shortcut.nn.optim``
as described by one ``TrainSettings`` and returns a per-epoch history. It is written for speed on small tabular networks, where the
per-call overhead of NumPy, not the arithmetic, dominates (2 x 64 ReLU units, batches of 256: a
step is ~40 NumPy calls of 1-20 us each):

* minibatches are streamed from the encoded arrays, never from a copy of the training set:
  every epoch draws one permutation of the rows and walks it in windows of a few consecutive
  minibatches (``_Epoch.WINDOW_ROWS`` rows: 16 batches of 256). A window's rows are gathered
  from the ORIGINAL arrays into small preallocated window buffers (``np.take(..., out=)``; the
  MLP's input buffer keeps its constant ones column, only the feature columns are written), its
  one-hot targets are gathered from an identity matrix by label;
* the operations of a window are compiled once per ``fit`` into a flat list of in-place NumPy
  operations bound to the window buffers and to preallocated network buffers (per minibatch:
  the network's forward and backward operations, the softmax/cross-entropy gradient, the
  gradient statistics, the optimiser step): one list for a full window and one for the last
  window (whose last minibatch may be partial). An epoch replays them window by window,
  allocating nothing in the loop, and the compiled list and the buffers do not grow with the
  number of rows. Beyond the input arrays a ``fit`` keeps only per-row vectors for the epoch's
  loss and accuracy (the permutation, labels, logits, row maxima and sums: ~64 bytes per row
  with 4 classes in float32; ~210 MB for 3.3M rows, whatever the number of features);
* full-batch training ("gd") does not shuffle: its single step is bound to the arrays themselves
  (the MLP's input is widened by its ones column once per ``fit``);
* parameters and gradients are one packed vector each, so the optimiser step is ~10 vector
  operations whatever the depth;
* the training loss and accuracy come from the minibatch forward passes (as in scikit-learn);
  the validation set gets one (also compiled) forward pass per epoch, in chunks of
  ``CHUNK_ROWS`` rows (an MLP copies each chunk into one chunk-sized input buffer);
* BLAS (OpenBLAS or MKL) runs single-threaded while training (see ``limit_blas_threads``).

A non-finite training loss stops ``fit`` with :class:`~shortcut.errors.TrainingDiverged`, one line
naming the model setting, the epoch and the learning rate; reaching the epoch limit without
early stopping is logged (logger ``shortcut``, the job's log).

Same inputs and seed give bit-identical weights; the window size does not change them (the
minibatches, their order and every operation are those of training from one shuffled copy).
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from functools import partial
from typing import Iterator

import numpy as np

from ..errors import TrainingDiverged
from ..probability import as_labels, one_hot
from ..table import Schema
from .early_stopping import EarlyStopping
from .network import Network
from .ops import product, run_ops
from .optim import OPTIMIZERS, make_optimizer

__all__ = ["HISTORY_COLUMNS", "HISTORY_TABLE", "TrainSettings", "blas_threads", "fit", "history_columns", "history_frame", "limit_blas_threads"]

HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc")
# models/<fs>/<setting>/seed<s>/history.parquet (train_model), read by gradient_flow and the
# report: the columns above, then the mean |gradient| of every parameter (grad_W<i>, grad_b<i>).
HISTORY_TABLE = Schema("training history",
                       {"epoch": "int64", **dict.fromkeys(HISTORY_COLUMNS[1:], "float64")},
                       families={"grad_W": "float64", "grad_b": "float64"})

log = logging.getLogger("shortcut")


def blas_threads() -> int | None:
    """Current thread count of the (first) loaded BLAS library, or None if there is none that
    threadpoolctl can query."""
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    return int(blas[0]["num_threads"]) if blas else None


@contextlib.contextmanager
def limit_blas_threads(n: int | None) -> Iterator[None]:
    """Run the block with every loaded BLAS library (OpenBLAS, MKL, ...) limited to ``n`` threads
    (None: leave as is), then restore, through threadpoolctl (about 0.3 ms per call).

    The matrix products of small networks are far too small to gain from threads: on a busy
    2-core machine two OpenBLAS threads made an epoch 3-10x slower than one. One thread also makes
    results independent of the machine's core count.
    """
    if not n:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(n), user_api="blas"):
        yield


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
        product(delta, ones, sumexp),
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
            product(work, ones, self.sumexp),
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

    def __init__(self, model: Network):
        grads = model.packed_grads()
        segments = model.param_segments()  # (name, start, stop) in packed order
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
        sums = np.add.reduceat(self._acc.astype(np.float64), self._starts)
        # an empty array (the weights of a network without inputs) has no mean: NaN
        sums = np.where(self._sizes > 0, sums / np.maximum(self._sizes, 1), np.nan) / max(n_batches, 1)
        return np.array([sums[self._index[name]] for name in self.names])


def _input_buffer(model: Network, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``(rows, width)`` buffer in the layout ``model.forward_ops`` takes, and its feature view.

    The feature view (the first ``n_in`` columns) is where input rows are copied; it is the buffer
    itself unless the network widens its input (the MLP's constant column of ones, which is set
    once here and never overwritten).
    """
    zeros = np.zeros((rows, model.n_in), dtype=model.dtype)
    buf = model.network_input(zeros)
    return buf, (buf if buf is zeros else buf[:, : model.n_in])


class _Epoch:
    """One epoch of training, streamed from the training arrays through a window of minibatches.

    Minibatch mode (``shuffle``): an epoch visits ``perm`` (one permutation of the rows) in windows
    of ``slots`` consecutive minibatches (at most ``WINDOW_ROWS`` rows). Per window the rows are
    gathered from the ORIGINAL arrays into small preallocated window buffers (features, labels,
    one-hot targets), the window's compiled operations run (per minibatch: the network's forward
    operations, the softmax/cross-entropy gradient, the network's backward operations, the
    gradient statistics and the optimiser step), and the window's logits, row maxima and sums of
    exponentials are copied to the epoch's per-row score buffers (``_Scores``). The operations are
    compiled once per ``fit``, for each slot of a full window and once for the last window (whose
    last minibatch may be partial), so the compiled list and the buffers are bounded by the window
    size, not by the number of rows.

    Full batch (no ``shuffle``): one slot holding every row, bound to the arrays themselves (the
    MLP's input widened once by its ones column); nothing is gathered or copied per epoch.

    The operations and the values they see are those of one shuffled full-size copy of the
    training set cut into minibatches, so results are bit-identical to training from such a copy.
    """

    #: rows per window: the gather and copy-out calls are amortised over its minibatches
    WINDOW_ROWS = 4096
    #: at most this many minibatches per window (bounds the compiled list for tiny batches)
    MAX_SLOTS = 32

    def __init__(
        self, model: Network, X, y, batch_size: int, optimizer, stats: _GradStats, *, shuffle: bool
    ):
        n, d = X.shape
        k, dtype = model.n_out, model.dtype
        bs = batch_size
        self.X, self.y, self.n = X, y, n
        self.n_batches = -(-n // bs)
        self.scores = _Scores(n, k, dtype)
        self.logits = np.empty((n, k), dtype=dtype)
        last_rows = n - (self.n_batches - 1) * bs  # rows of the last minibatch, 1..bs
        if shuffle:
            slots = max(1, min(self.n_batches, self.MAX_SLOTS, self.WINDOW_ROWS // bs))
            rows = min(slots * bs, n)
            self.xin, self.features = _input_buffer(model, rows)
            # np.take writes a strided ``out`` through a temporary copy: gather into a contiguous
            # buffer first when the features are a strided view (the MLP's ones column)
            self.gathered = self.features
            if self.features is not self.xin:
                self.gathered = np.empty((rows, d), dtype=dtype)
            self.ys = np.empty(n, dtype=y.dtype)  # labels in epoch (permuted) order
            self.Y = np.empty((rows, k), dtype=dtype)
            self.eye = np.eye(k, dtype=dtype)  # one-hot rows, gathered by label
            self.z = np.empty((rows, k), dtype=dtype)
            self.row_max = np.empty((rows, 1), dtype=dtype)
            self.sumexp = np.empty((rows, 1), dtype=dtype)
        else:  # one slot bound to the full arrays
            slots, rows = 1, n
            self.xin, self.ys, self.Y = model.network_input(X), y, one_hot(y, k, dtype)
            self.z, self.row_max, self.sumexp = self.logits, self.scores.row_max, self.scores.sumexp
        self.shuffle, self.window_rows = shuffle, rows
        self.n_windows = -(-self.n_batches // slots)

        delta = np.empty((bs, k), dtype=dtype)
        grads = model.packed_grads()
        tail = stats.ops(grads) + optimizer.update_ops([grads])

        def slot_ops(j: int, m: int) -> list:
            """The minibatch of ``m`` rows at slot ``j`` of the window buffers."""
            r = slice(j * bs, j * bs + m)
            xb, z, ws, dm = self.xin[r], self.z[r], model.workspace(m), delta[:m]
            return [
                *model.forward_ops(xb, ws, z),
                *_softmax_ce_ops(z, self.Y[r], self.row_max[r], self.sumexp[r], dm),
                *model.backward_ops(xb, ws, dm, param_grads=True, dx=None),
                *tail,
            ]

        last_slots = self.n_batches - (self.n_windows - 1) * slots  # minibatches of the last window
        full = [slot_ops(j, bs) for j in range(slots if self.n_windows > 1 else last_slots - 1)]
        self.window_ops = [op for ops in full for op in ops]  # a full window (all but the last)
        self.last_ops = [op for ops in full[: last_slots - 1] for op in ops]
        self.last_ops += slot_ops(last_slots - 1, last_rows)

    def run(self, perm: np.ndarray | None) -> None:
        """One epoch over the rows in the order ``perm`` (None: the full, unshuffled batch)."""
        if not self.shuffle:
            run_ops(self.last_ops)
            return
        X, y, n, rows = self.X, self.y, self.n, self.window_rows
        features, gathered, ys, Y, eye = self.features, self.gathered, self.ys, self.Y, self.eye
        z, row_max, sumexp = self.z, self.row_max, self.sumexp
        logits, all_max, all_sumexp = self.logits, self.scores.row_max, self.scores.sumexp
        last = self.n_windows - 1
        for w in range(self.n_windows):
            start = w * rows
            stop = min(start + rows, n)
            m = stop - start
            index, labels = perm[start:stop], ys[start:stop]
            # perm holds valid row numbers: mode="clip" skips numpy's bounds-check buffer copy
            np.take(X, index, axis=0, out=gathered[:m], mode="clip")
            if gathered is not features:
                np.copyto(features[:m], gathered[:m])
            np.take(y, index, out=labels, mode="clip")
            np.take(eye, labels, axis=0, out=Y[:m], mode="clip")
            for op in self.window_ops if w < last else self.last_ops:
                op()
            np.copyto(logits[start:stop], z[:m])
            np.copyto(all_max[start:stop], row_max[:m])
            np.copyto(all_sumexp[start:stop], sumexp[:m])

    def train_scores(self) -> tuple[float, int]:
        """(sum of the batch cross-entropies, number correct) from the epoch's forward passes."""
        return self.scores(self.logits, self.ys)


class _Validation:
    """The validation pass (forward and scores), compiled once per ``fit``, in chunks of at most
    ``model.CHUNK_ROWS`` rows so that the network's buffers stay small for large sets; a network
    that widens its input (the MLP) gets each chunk copied into one chunk-sized input buffer."""

    def __init__(self, model: Network, Xv, yv):
        n, k = Xv.shape[0], model.n_out
        self.y = yv
        self.logits = np.empty((n, k), dtype=model.dtype)
        self.scores = _Scores(n, k, model.dtype)
        chunk = min(n, model.CHUNK_ROWS)
        xin, features = _input_buffer(model, chunk)
        self.ops = []
        for start in range(0, n, chunk):
            rows = slice(start, start + chunk)
            m = Xv[rows].shape[0]
            if features is xin:
                xb = Xv[rows]
            else:
                xb = xin[:m]
                self.ops.append(partial(np.copyto, features[:m], Xv[rows]))
            self.ops += model.forward_ops(xb, model.workspace(m), self.logits[rows])
        self.ops += self.scores.ops(self.logits, np.empty((n, k), dtype=model.dtype))

    def __call__(self) -> tuple[float, int]:
        run_ops(self.ops)
        return self.scores(self.logits, self.y)


@dataclass(frozen=True)
class TrainSettings:
    """How ``fit`` trains: one value per field, no defaults (those live in the config schema,
    ``workflow/schemas/config.schema.yaml``, ``models.*``).

    optimizer : "adam", "sgd", "momentum", "nesterov" or "gd". "gd" is plain full-batch gradient
        descent: it always uses the whole training set per step (``batch_size`` is ignored).
    lr : learning rate.
    batch_size : minibatch size; 0 means full batch.
    epochs : maximum number of passes over the training set (>= 1).
    patience : if > 0, stop once the validation loss has not improved for ``patience`` epochs,
        and restore the weights of the best epoch; 0 disables early stopping.
    momentum : momentum of "momentum"/"nesterov" (ignored by the other optimisers).
    """

    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    patience: int
    momentum: float

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if int(self.epochs) < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")

    @classmethod
    def from_config(cls, setting: dict) -> "TrainSettings":
        """The settings of one validated config entry (``models.<name>``, ``shared_bias``), whose
        defaults the schema has filled in."""
        return cls(**{name: setting[name] for name in cls.__dataclass_fields__})


def fit(model: Network, X_train, y_train, X_val, y_val, settings: TrainSettings, *, seed: int,
        blas_threads: int | None, setting: str | None = None) -> dict:
    """Train ``model`` in place as ``settings`` say and return its per-epoch history.

    Parameters
    ----------
    model : an ``MLP`` or ``SharedBiasNet``.
    X_train, y_train, X_val, y_val : features and integer labels; cast to ``model.dtype``.
    settings : optimiser, learning rate, batch size, epochs, patience, momentum.
    seed : seed of ``np.random.default_rng`` used to shuffle the rows every epoch.
    blas_threads : BLAS threads while training (1 is fastest, see ``limit_blas_threads``;
        None leaves the setting alone).
    setting : name of the model setting (``models.<setting>`` in the config) that the divergence
        error and the epoch-limit log line name; None for settings from elsewhere.

    Returns
    -------
    dict with per-epoch numpy arrays ``epoch`` (1-based), ``train_loss``, ``train_acc`` (mean
    cross-entropy and accuracy over the epoch's minibatch forward passes, without the L2
    penalty), ``val_loss``, ``val_acc`` (one pass after the epoch), ``grad_W{i}`` / ``grad_b{i}``
    (mean |gradient| of layer i's weights / biases, averaged over the epoch's batches), and
    scalars ``best_epoch`` (lowest validation loss), ``best_val_loss``, ``stopped_epoch`` (last
    epoch trained), ``early_stopped`` and ``restored_best`` (whether the best weights were put
    back). ``pandas.DataFrame(history)`` gives one row per epoch.

    Raises
    ------
    TrainingDiverged : the training loss of an epoch is not finite (the learning rate is too
        high for the setting); the message is one line naming the setting, epoch and rate.
    """
    # overflow on the way to a non-finite loss is reported by the one-line error, not warnings
    with limit_blas_threads(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        return _fit(model, X_train, y_train, X_val, y_val, settings, seed, setting)


def _fit(model, X_train, y_train, X_val, y_val, settings: TrainSettings, seed, setting) -> dict:
    """The body of ``fit`` (arguments as there)."""
    X, y, Xv, yv = _prepare(model, X_train, y_train, X_val, y_val)
    n = X.shape[0]
    full_batch = settings.optimizer == "gd" or not settings.batch_size
    bs = n if full_batch else min(int(settings.batch_size), n)

    params = model.packed_params()
    opt = make_optimizer(settings.optimizer, [params], lr=settings.lr, momentum=settings.momentum)
    stopper = EarlyStopping(settings.patience) if settings.patience else None
    rng = np.random.default_rng(seed)

    model.forget_forward()  # training reuses the network's buffers: no stale forward pass for backward
    model.workspace(max(bs, min(Xv.shape[0], model.CHUNK_ROWS)))  # size the buffers once, for all passes
    stats = _GradStats(model)
    epoch_ops = _Epoch(model, X, y, bs, opt, stats, shuffle=not full_batch)
    validate = _Validation(model, Xv, yv)
    rows: list[tuple] = []
    grad_rows: list[np.ndarray] = []

    for epoch in range(1, int(settings.epochs) + 1):
        # no shuffling for full batch: its gradient does not depend on the row order
        perm = None if full_batch else rng.permutation(n)
        stats.reset()
        epoch_ops.run(perm)
        perm = None  # freed before the next one is drawn
        loss_sum, correct = epoch_ops.train_scores()
        val_sum, val_correct = validate()
        val_loss = val_sum / Xv.shape[0]
        if not math.isfinite(loss_sum):
            raise TrainingDiverged(_diverged(setting, epoch, loss_sum / n, settings.lr))
        rows.append((epoch, loss_sum / n, correct / n, val_loss, val_correct / Xv.shape[0]))
        grad_rows.append(stats.means(epoch_ops.n_batches))
        if stopper is not None and stopper.step(val_loss, [params], epoch):
            break

    if stopper is not None:
        stopper.restore([params])
    history = _history(rows, grad_rows, stats.names, stopper)
    if not history["early_stopped"]:
        log.info("%s", _epoch_limit(setting, settings, history))
    return history


def _training(setting: str | None) -> str:
    return f"training {setting!r}" if setting else "training"


def _diverged(setting: str | None, epoch: int, loss: float, lr: float) -> str:
    """The one-line message of a non-finite training loss."""
    where = f"models.{setting}.lr" if setting else "the learning rate"
    return f"{_training(setting)} diverged at epoch {epoch} (loss {loss}) with lr {lr:g}; lower {where}"


def _epoch_limit(setting: str | None, settings: TrainSettings, history: dict) -> str:
    """The log line of a training run that used every epoch it was allowed."""
    text = f"{_training(setting)} reached the epoch limit ({settings.epochs})"
    if not settings.patience:
        return f"{text}; early stopping is off (patience 0)"
    text += " without early stopping"
    if history["best_epoch"] < history["stopped_epoch"]:
        return f"{text} (best validation loss at epoch {history['best_epoch']}, patience {settings.patience})"
    more = f" (models.{setting}.epochs)" if setting else ""
    return f"{text}: the validation loss still fell in the last epoch; more epochs may help{more}"


def _prepare(model, X_train, y_train, X_val, y_val):
    """Validate and cast the four arrays (a contiguous copy only where needed)."""
    if not isinstance(model, Network):
        raise TypeError(f"model must be an MLP or SharedBiasNet, got {type(model).__name__}")
    model.sync_params()
    X = model.as_input(X_train)
    Xv = model.as_input(X_val)
    if X.shape[0] == 0 or Xv.shape[0] == 0:
        raise ValueError("training and validation sets must not be empty")
    y = as_labels(y_train, model.n_out, X.shape[0])
    yv = as_labels(y_val, model.n_out, Xv.shape[0])
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


def history_columns(history: dict) -> dict[str, np.ndarray]:
    """The per-epoch part of a ``fit`` history: its columns in order (scalars dropped)."""
    return {k: v for k, v in history.items() if isinstance(v, np.ndarray)}


def history_frame(history: dict):
    """The per-epoch part of a ``fit`` history as a pandas DataFrame (scalars dropped)."""
    import pandas as pd

    return pd.DataFrame(history_columns(history))
