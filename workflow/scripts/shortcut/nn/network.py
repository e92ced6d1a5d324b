"""From-scratch NumPy neural networks: an MLP and the course assignment's shared-bias network.

Conventions (as in scikit-learn's ``_multilayer_perceptron.py``):

* ``coefs[i]`` has shape ``(fan_in, fan_out)`` and ``intercepts[i]`` shape ``(fan_out,)``; a layer
  computes ``Z = A @ W + b``.
* ``forward`` caches what ``backward`` needs (the input and every activation *output*); each
  activation's derivative is computed from its cached output, so no pre-activation is kept.
* ``backward(dlogits)`` receives dL/dlogits (for a mean loss: already divided by n), fills
  ``coef_grads`` / ``intercept_grads`` (the weight gradients include the L2 term ``l2 * W``) and
  returns dL/dX. With an extra middle axis, ``dlogits`` of shape ``(n, m, n_out)``, it returns the
  ``(n, m, n_in)`` input gradients of the m output directions and leaves parameter grads alone.

Speed (the training loop is dominated by NumPy's per-call overhead, not by arithmetic):

* all parameters live in ONE contiguous vector (``coefs`` and ``intercepts`` are reshaped views
  of it), and likewise all gradients, so an optimiser updates the whole network with a dozen
  vector operations and the L2 term is two;
* in the MLP each layer's ``[W; b]`` is one block and layer inputs carry a column of ones, so a
  single matrix product adds the bias and another gives weight and bias gradients together;
* element-wise operations use same-shape operands (NumPy broadcasting of a row runs one short
  loop per row and is ~3x slower here);
* every pass is written once as a list of in-place NumPy operations bound to fixed buffers
  (``forward_ops`` / ``backward_ops``); ``forward``/``backward`` build and run it, while
  ``shortcut.nn.train.fit`` builds it once per minibatch slot of its window buffers and replays
  it for every window of every epoch;
* per-row buffers (activations, deltas, scratch) are allocated once per batch size and reused.

The trainer's contract (public, used by ``shortcut.nn.train``): ``as_input``, ``network_input``,
``workspace``, ``forward_ops``, ``backward_ops``, ``packed_params``/``packed_grads``,
``param_segments``, ``sync_params`` and ``forget_forward``. Saving: ``to_arrays`` gives the
arrays of an ``.npz`` (written by ``shortcut.files.save_npz``), ``load`` / ``from_arrays``
rebuild a network from them; nothing here takes a path.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Sequence

import numpy as np

from ..probability import as_labels, cross_entropy, softmax
from .activations import ACTIVATIONS
from .ops import product, run_ops

__all__ = ["DTYPES", "INITS", "MLP", "Network", "SharedBiasNet", "build_model", "independent_bias_twin", "load"]

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INITS = ("auto", "he", "glorot", "normal001")


# --------------------------------------------------------------------------------------------
# per-row work buffers
# --------------------------------------------------------------------------------------------


class _Workspace:
    """Per-row buffers of fixed widths, allocated for the largest batch seen and reused.

    ``get(n)`` returns a dict of views ``name -> list of (n, width)`` arrays (and ``"ones"``, a
    length-n vector of ones used to sum rows with one BLAS call). Buffers start as zeros; those
    named in ``ones_columns`` (``(name, index)`` pairs) get a last column of ones, which lets a
    matrix product add a bias row (see ``MLP``). The views for a batch size are cached.
    """

    _MAX_CACHED_SIZES = 8

    def __init__(self, widths: dict[str, Sequence[int]], dtype: np.dtype, ones_columns=()):
        self.widths = {name: [int(w) for w in ws] for name, ws in widths.items()}
        self.ones_columns = set(ones_columns)
        self.dtype = dtype
        self.capacity = 0
        self._full: dict[str, list[np.ndarray]] = {}
        self._ones = np.empty(0, dtype=dtype)
        self._views: dict[int, dict] = {}

    def _grow(self, n: int) -> None:
        self.capacity = n
        self._full = {
            name: [np.zeros((n, w), dtype=self.dtype) for w in ws] for name, ws in self.widths.items()
        }
        for name, i in self.ones_columns:
            self._full[name][i][:, -1] = 1
        self._ones = np.ones(n, dtype=self.dtype)
        self._views.clear()

    def get(self, n: int) -> dict:
        views = self._views.get(n)
        if views is None:
            if n > self.capacity:
                self._grow(n)
            if len(self._views) >= self._MAX_CACHED_SIZES:
                self._views.clear()
            views = {name: [a[:n] for a in arrs] for name, arrs in self._full.items()}
            views["ones"] = self._ones[:n]
            self._views[n] = views
        return views


# --------------------------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------------------------


def _resolve_init(init: str, activation: str) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "auto":
        return "he" if activation in ("relu", "leaky_relu") else "glorot"
    return init


def _draw_weights(rng: np.random.Generator, scheme: str, fan_in: int, fan_out: int) -> np.ndarray:
    """Initial weights of one ``(fan_in, fan_out)`` matrix, drawn in float64."""
    shape = (fan_in, fan_out)
    if fan_in == 0:  # a layer without inputs has no weights to draw
        return np.zeros(shape)
    if scheme == "he":
        return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
    if scheme == "glorot":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    if scheme == "normal001":
        return rng.standard_normal(shape) * 0.01
    raise ValueError(f"unknown init scheme {scheme!r}")


class Network:
    """Parameter storage, caching, loss/predict/to_arrays/from_arrays shared by MLP and SharedBiasNet.

    A subclass calls ``_setup`` (packed layout, workspace widths) and ``_init_params`` in its
    ``__init__`` and defines the kernels ``forward_ops``, ``backward_ops`` and
    ``_backward_input`` (plus ``from_meta`` for ``from_arrays``).
    """

    kind = ""
    #: rows per chunk of ``predict``/``predict_proba``/``loss``: their buffers stay bounded
    CHUNK_ROWS = 16384

    # -- construction ---------------------------------------------------------------------

    def _setup(self, n_in, n_out, activation, layout, widths, dtype, l2, ones_columns=()):
        """Allocate the packed parameter/gradient vectors and the per-row workspace.

        ``layout``: ``(name, shape)`` pairs in packed order, names ``W{i}`` (coefs) and ``b{i}``
        (intercepts); ``widths``/``ones_columns``: the workspace buffers (see ``_Workspace``).
        """
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        dtype = np.dtype(dtype)
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        if float(l2) < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.n_in = int(n_in)
        self.n_out = int(n_out)
        self.activation = activation
        self._act = ACTIVATIONS[activation]
        self.dtype = dtype
        self.l2 = float(l2)

        total = sum(math.prod(shape) for _, shape in layout)
        self._params = np.zeros(total, dtype=dtype)
        self._grads = np.zeros(total, dtype=dtype)
        self._segments: list[tuple[str, int, int]] = []  # (name, start, stop) in packed order
        pviews, gviews = {}, {}
        start = 0
        for name, shape in layout:
            stop = start + math.prod(shape)
            self._segments.append((name, start, stop))
            pviews[name] = self._params[start:stop].reshape(shape)
            gviews[name] = self._grads[start:stop].reshape(shape)
            start = stop
        n_coefs = sum(name.startswith("W") for name, _ in layout)
        order = [f"W{i}" for i in range(n_coefs)] + [f"b{i}" for i in range(len(layout) - n_coefs)]
        self._pviews = tuple(pviews[name] for name in order)
        self._gviews = tuple(gviews[name] for name in order)
        self.coefs, self.intercepts = list(self._pviews[:n_coefs]), list(self._pviews[n_coefs:])
        self.coef_grads, self.intercept_grads = list(self._gviews[:n_coefs]), list(self._gviews[n_coefs:])
        self._weight_mask = np.zeros(total, dtype=dtype)  # 1 on weights, 0 on biases (for L2)
        for name, start, stop in self._segments:
            if name.startswith("W"):
                self._weight_mask[start:stop] = 1
        self._l2_work = np.empty(total, dtype=dtype)
        self._ws = _Workspace(widths, dtype, ones_columns)
        self._cache: tuple[np.ndarray, int] | None = None

    def _init_params(self, init: str, seed) -> None:
        """Seeded weights (``np.random.default_rng(seed)``, drawn in float64); zero biases."""
        self.init = init
        scheme = _resolve_init(init, self.activation)
        rng = np.random.default_rng(seed)
        for W in self.coefs:
            W[...] = _draw_weights(rng, scheme, *W.shape)
        for b in self.intercepts:
            b[...] = 0

    # -- parameter bookkeeping ------------------------------------------------------------------

    def packed_params(self) -> np.ndarray:
        """All parameters as one flat vector; ``coefs``/``intercepts`` are views of it (the order is
        ``_segments``)."""
        self.sync_params()
        return self._params

    def packed_grads(self) -> np.ndarray:
        """All gradients as one flat vector, aligned with ``packed_params()``."""
        self.sync_params()
        return self._grads

    def sync_params(self) -> None:
        """Re-attach ``coefs``/``intercepts`` to the packed vector if a caller replaced an entry.

        Assigning ``model.coefs[0] = W_new`` (instead of writing ``model.coefs[0][...] = W_new``)
        would detach the list from the packed storage; the new values are copied in here.
        """
        nc = len(self.coefs)
        current = list(self.coefs) + list(self.intercepts)
        if len(current) != len(self._pviews) or any(a is not b for a, b in zip(current, self._pviews)):
            if len(current) != len(self._pviews):
                raise ValueError("the number of coefs/intercepts of a network cannot change")
            for view, new in zip(self._pviews, current):
                if new is not view:
                    new = np.asarray(new)
                    if new.shape != view.shape:
                        raise ValueError(f"parameter of shape {new.shape} where {view.shape} is expected")
                    view[...] = new
            self.coefs, self.intercepts = list(self._pviews[:nc]), list(self._pviews[nc:])
        gcurrent = list(self.coef_grads) + list(self.intercept_grads)
        if any(a is not b for a, b in zip(gcurrent, self._gviews)) or len(gcurrent) != len(self._gviews):
            self.coef_grads, self.intercept_grads = list(self._gviews[:nc]), list(self._gviews[nc:])

    def _l2_ops(self) -> list:
        """Add ``l2 * W`` to every weight gradient: two operations on the packed vectors."""
        if not self.l2:
            return []
        scale = self._weight_mask * self.l2
        return [
            partial(np.multiply, self._params, scale, self._l2_work),
            partial(np.add, self._grads, self._l2_work, self._grads),
        ]

    def l2_penalty(self) -> float:
        """``0.5 * l2 * sum ||W||^2`` over weight matrices (biases are not penalised)."""
        if not self.l2:
            return 0.0
        return 0.5 * self.l2 * sum(float(np.sum(np.square(W, dtype=np.float64))) for W in self.coefs)

    def param_segments(self) -> list[tuple[str, int, int]]:
        """``(name, start, stop)`` of every parameter array in ``packed_params()``, in packed order
        (names ``W{i}`` for weights, ``b{i}`` for biases)."""
        return list(self._segments)

    def workspace(self, rows: int) -> dict:
        """The per-row buffers of a pass over ``rows`` rows (grown once, then reused): a dict
        ``name -> list of (rows, width)`` arrays that ``forward_ops``/``backward_ops`` take."""
        return self._ws.get(rows)

    def forget_forward(self) -> None:
        """Drop the cached forward pass (a trainer reusing the buffers makes it stale)."""
        self._cache = None

    # -- input handling -------------------------------------------------------------------

    def as_input(self, X) -> np.ndarray:
        """``X`` validated as ``(n, n_in)`` and cast to a C-contiguous array of ``dtype``."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"X must have shape (n, {self.n_in}), got {X.shape}")
        return X

    def network_input(self, X: np.ndarray) -> np.ndarray:
        """``X`` in the form ``forward_ops`` takes (a new array if it differs; see ``MLP``)."""
        return X

    def _stage_input(self, X: np.ndarray, ws: dict) -> np.ndarray:
        """``X`` in the form ``forward_ops`` takes, using workspace buffers where needed."""
        return X

    def _cached(self, n: int) -> tuple[np.ndarray, dict]:
        if self._cache is None or self._cache[1] != n:
            got = None if self._cache is None else self._cache[1]
            raise RuntimeError(f"backward needs a forward pass on the same {n} rows first (cached: {got})")
        return self._cache[0], self._ws.get(n)

    # -- public API -----------------------------------------------------------------------------

    def forward(self, X) -> np.ndarray:
        """Logits of ``X`` (a new array); caches what ``backward`` needs."""
        self.sync_params()
        return self._forward(self.as_input(X)).copy()

    def backward(self, dlogits) -> np.ndarray:
        """Back-propagate dL/dlogits through the last ``forward``.

        ``dlogits`` of shape ``(n, n_out)``: fills ``coef_grads`` (including ``l2 * W``) and
        ``intercept_grads`` and returns dL/dX ``(n, n_in)``. Shape ``(n, m, n_out)``: returns the
        ``(n, m, n_in)`` input gradients of the m directions in one pass; parameter grads untouched.
        """
        d = np.asarray(dlogits)
        if d.ndim not in (2, 3) or d.shape[-1] != self.n_out:
            raise ValueError(
                f"dlogits must have shape (n, {self.n_out}) or (n, m, {self.n_out}), got {d.shape}"
            )
        self.sync_params()
        if d.ndim == 3:
            self._cached(d.shape[0])
            return self._backward_input(np.asarray(d, dtype=self.dtype))
        _, ws = self._cached(d.shape[0])
        delta = ws["d"][-1]
        np.copyto(delta, d, casting="same_kind")
        return self._backward(delta, param_grads=True, input_grad=True).copy()

    def _logits(self, X) -> np.ndarray:
        """Logits of ``X`` (a new array), computed ``CHUNK_ROWS`` rows at a time so that the
        workspace stays small whatever the number of rows (no forward pass to back-propagate)."""
        self.sync_params()
        X = self.as_input(X)
        if X.shape[0] <= self.CHUNK_ROWS:
            return self._forward(X).copy()
        out = np.empty((X.shape[0], self.n_out), dtype=self.dtype)
        for start in range(0, X.shape[0], self.CHUNK_ROWS):
            rows = slice(start, start + self.CHUNK_ROWS)
            out[rows] = self._forward(X[rows])
        self._cache = None
        return out

    def loss(self, X, y) -> float:
        """Mean cross-entropy of ``X`` against labels ``y`` plus ``0.5 * l2 * sum ||W||^2``."""
        return cross_entropy(self._logits(X), y)[0] + self.l2_penalty()

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, n_out)``."""
        return softmax(self._logits(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of every row."""
        return np.argmax(self._logits(X), axis=1)

    def input_gradient(self, X, y) -> np.ndarray:
        """Row i: gradient of row i's own cross-entropy wrt x_i (no L2, not divided by n).

        Parameter gradients are not touched.
        """
        self.sync_params()
        X = self.as_input(X)
        logits = self._forward(X)
        y = as_labels(y, self.n_out, X.shape[0])
        d = softmax(logits)
        d[np.arange(X.shape[0]), y] -= 1
        return self._backward_input(d[:, None, :])[:, 0, :]

    # -- copies, save, load -------------------------------------------------------------

    def _meta(self) -> dict:
        return {
            "kind": np.array(self.kind),
            "activation": np.array(self.activation),
            "hidden": np.array(self.hidden, dtype=np.int64),
            "dtype": np.array(self.dtype.name),
            "l2": np.array(self.l2, dtype=np.float64),
            "n_in": np.array(self.n_in, dtype=np.int64),
            "n_out": np.array(self.n_out, dtype=np.int64),
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Weights and metadata as named arrays (the state an ``.npz`` holds; ``from_arrays``
        rebuilds the network). Write them with ``shortcut.files.save_npz(path, **arrays)``."""
        self.sync_params()
        arrays = self._meta()
        for i, W in enumerate(self.coefs):
            arrays[f"coef_{i}"] = W
        for i, b in enumerate(self.intercepts):
            arrays[f"intercept_{i}"] = b
        return arrays

    @classmethod
    def from_meta(cls, meta: dict) -> "Network":
        """An untrained network of this kind from its metadata (``activation``, ``hidden``,
        ``dtype``, ``l2``, ``n_in``, ``n_out``)."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, arrays) -> "Network":
        """Rebuild a network from ``to_arrays()`` (a dict or an open ``np.load`` archive);
        ``MLP.from_arrays`` / ``SharedBiasNet.from_arrays`` check the kind, ``load`` takes any."""
        kind = str(arrays["kind"])
        if kind not in _KINDS:
            raise ValueError(f"unknown network kind {kind!r}")
        target = _KINDS[kind]
        if not issubclass(target, cls):
            raise ValueError(f"the arrays hold a {kind}, not a {cls.__name__}; use load()")
        meta = {
            "activation": str(arrays["activation"]),
            "hidden": tuple(int(h) for h in arrays["hidden"]),
            "dtype": str(arrays["dtype"]),
            "l2": float(arrays["l2"]),
            "n_in": int(arrays["n_in"]),
            "n_out": int(arrays["n_out"]),
        }
        model = target.from_meta(meta)
        for i, W in enumerate(model.coefs):
            W[...] = arrays[f"coef_{i}"]
        for i, b in enumerate(model.intercepts):
            b[...] = arrays[f"intercept_{i}"]
        return model

    def copy(self) -> "Network":
        """An independent copy (same weights, dtype and metadata; no cached forward pass)."""
        return self.astype(self.dtype)

    def astype(self, dtype) -> "Network":
        """A copy of the network with parameters cast to ``dtype`` (float32 or float64)."""
        self.sync_params()
        meta = {
            "activation": self.activation,
            "hidden": tuple(self.hidden),
            "dtype": np.dtype(dtype).name,
            "l2": self.l2,
            "n_in": self.n_in,
            "n_out": self.n_out,
        }
        model = type(self).from_meta(meta)
        model.packed_params()[...] = self._params
        model.init = getattr(self, "init", "auto")
        return model

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_in={self.n_in}, hidden={list(self.hidden)}, n_out={self.n_out}, "
            f"activation={self.activation!r}, dtype={self.dtype.name!r}, l2={self.l2})"
        )

    # -- kernels ---------------------------------------------------------------------------
    #
    # Subclasses describe a pass as a list of in-place NumPy operations bound to fixed buffers
    # (``forward_ops`` / ``backward_ops``). ``_forward`` and ``_backward`` build and run them
    # once; ``shortcut.nn.train.fit`` builds them once per minibatch slot of its window buffers and
    # replays them for every window of every epoch. Either way the same code computes the
    # gradients that the gradient checks verify.

    def forward_ops(self, X: np.ndarray, ws: dict, logits: np.ndarray) -> list:
        """Operations that compute the logits of ``X`` into ``logits``, leaving in ``ws`` what
        the backward pass needs."""
        raise NotImplementedError

    def backward_ops(
        self, X: np.ndarray, ws: dict, delta: np.ndarray, *, param_grads: bool, dx: np.ndarray | None
    ) -> list:
        """Operations that back-propagate ``delta`` (dL/dlogits; overwritten freely) after the
        forward pass of ``X``: into the packed gradients if ``param_grads`` (with the L2 term) and
        into ``dx`` (dL/dX) unless it is None."""
        raise NotImplementedError

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Logits of a validated, contiguous ``X`` as a workspace view (overwritten by the next call)."""
        ws = self._ws.get(X.shape[0])
        logits = ws["a"][-1]
        X = self._stage_input(X, ws)
        run_ops(self.forward_ops(X, ws, logits))
        self._cache = (X, X.shape[0])
        return logits

    def _backward(self, delta: np.ndarray, *, param_grads: bool = True, input_grad: bool = False):
        """Back-propagate ``delta`` through the cached forward pass; returns dL/dX (a workspace
        view) if ``input_grad``, else None."""
        X, n = self._cache
        ws = self._ws.get(n)
        dx = ws["dx"][0] if input_grad else None
        run_ops(self.backward_ops(X, ws, delta, param_grads=param_grads, dx=dx))
        return dx

    def _backward_input(self, D: np.ndarray) -> np.ndarray:
        """``(n, m, n_out)`` output directions -> ``(n, m, n_in)`` input gradients (new array)."""
        raise NotImplementedError


class MLP(Network):
    """Fully connected network: ``hidden`` layers with one activation, linear output (logits).

    Parameters
    ----------
    n_in, n_out : input width and number of classes.
    hidden : widths of the hidden layers (may be empty: softmax regression).
    activation : one of ``ACTIVATIONS``.
    init : "auto" (He for relu/leaky_relu, Glorot-uniform for sigmoid/tanh), "he", "glorot" or
        "normal001" (``randn * 0.01`` as in the course assignment). Biases start at zero.
    dtype : "float32" (default) or "float64".
    seed : seed of ``np.random.default_rng`` for the initial weights.
    l2 : weight decay; the loss gets ``0.5 * l2 * sum ||W||^2`` and grads ``l2 * W``.

    Storage: layer i's weights and bias are one packed ``(fan_in + 1, fan_out)`` block
    ``[W_i; b_i]``, and the input of every layer carries a trailing column of ones (input and
    hidden activation buffers keep a ones column; ``network_input`` widens an array). One
    matrix product ``[A, 1] @ [W; b]`` then computes ``A @ W + b`` and ``[A, 1]^T @ delta``
    gives the weight and bias gradients together: NumPy's broadcast bias addition (a short loop
    per row) disappears from the training step.
    """

    kind = "MLP"

    def __init__(self, n_in, hidden, n_out, activation, *, init="auto", dtype="float32", seed=0, l2=0.0):
        hidden = (int(hidden),) if np.isscalar(hidden) else tuple(int(h) for h in hidden)
        # n_in = 0 is allowed: a network without inputs learns the class prior through its
        # biases (the remedy of a dataset whose only feature is a shortcut).
        if int(n_in) < 0 or int(n_out) < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"layer sizes must be positive (inputs may be 0): {n_in}, {hidden}, {n_out}")
        self.hidden = hidden
        sizes = [int(n_in), *hidden, int(n_out)]
        self.layer_sizes = tuple(sizes)
        layout = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layout += [(f"W{i}", (fan_in, fan_out)), (f"b{i}", (fan_out,))]
        wide = [h + 1 for h in hidden]  # hidden activations and their deltas carry a ones column
        widths = {
            "x": [sizes[0] + 1],
            "a": [*wide, sizes[-1]],
            "d": [*wide, sizes[-1]],
            "w": wide,
            "dx": [sizes[0]],
        }
        ones_columns = [("x", 0)] + [("a", i) for i in range(len(hidden))]
        self._setup(n_in, n_out, activation, layout, widths, dtype, l2, ones_columns)
        starts = {name: (start, stop) for name, start, stop in self._segments}
        self._blocks, self._grad_blocks = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            start, stop = starts[f"W{i}"][0], starts[f"b{i}"][1]
            self._blocks.append(self._params[start:stop].reshape(fan_in + 1, fan_out))
            self._grad_blocks.append(self._grads[start:stop].reshape(fan_in + 1, fan_out))
        self._init_params(init, seed)

    @classmethod
    def from_meta(cls, meta):
        return cls(
            meta["n_in"],
            meta["hidden"],
            meta["n_out"],
            meta["activation"],
            dtype=meta["dtype"],
            l2=meta["l2"],
        )

    def network_input(self, X):
        """``[X, 1]``: the input widened by a column of ones."""
        out = np.ones((X.shape[0], self.n_in + 1), dtype=self.dtype)
        out[:, : self.n_in] = X
        return out

    def _stage_input(self, X, ws):
        staged = ws["x"][0]
        np.copyto(staged[:, : self.n_in], X)
        return staged

    def forward_ops(self, X, ws, logits):
        ops = []
        last = len(self._blocks) - 1
        a = X  # [input, 1]
        for i, block in enumerate(self._blocks):
            if i == last:
                ops.append(product(a, block, logits))
                break
            full = ws["a"][i]  # (n, width + 1), last column ones
            width = block.shape[1]
            ops.append(product(a, block, full[:, :width]))
            ops += self._act.forward_ops(full, ws["w"][i])
            if not self._act.keeps_one:  # g(1) != 1: put the ones back
                ops.append(partial(full[:, width].fill, 1))
            a = full
        return ops

    def backward_ops(self, X, ws, delta, *, param_grads, dx):
        ops = []
        for i in range(len(self._blocks) - 1, -1, -1):
            a_prev = ws["a"][i - 1] if i > 0 else X  # with its ones column
            if param_grads:  # [A, 1]^T delta = [dL/dW; dL/db]
                ops.append(product(a_prev.T, delta, self._grad_blocks[i]))
            if i == 0:
                break
            width = self.layer_sizes[i]
            d_full = ws["d"][i - 1]  # its last column stays 0
            ops.append(product(delta, self.coefs[i].T, d_full[:, :width]))
            ops += self._act.backprop_ops(d_full, a_prev, ws["w"][i - 1])
            delta = d_full[:, :width]
        if param_grads:
            ops += self._l2_ops()
        if dx is not None:
            ops.append(product(delta, self.coefs[0].T, dx))
        return ops

    def _backward_input(self, D):
        X, n = self._cache
        ws = self._ws.get(n)
        acts = ws["a"]
        m = D.shape[1]
        G = D.reshape(n * m, self.n_out)
        for i in range(len(self.coefs) - 1, -1, -1):
            G = G @ self.coefs[i].T
            if i > 0:
                width = self.layer_sizes[i]
                # the derivative goes to the scratch buffer of the layer (no new array per call)
                deriv = self._act.derivative(acts[i - 1][:, :width], out=ws["w"][i - 1][:, :width])
                G.reshape(n, m, width)[...] *= deriv[:, None, :]
        return G.reshape(n, m, self.n_in)


class SharedBiasNet(Network):
    """The assignment's Question 2: ``h1 = g(W x + b)``, ``logits = U h1 + b``, softmax.

    One bias vector ``b`` (length k = n_classes) enters both layers, so the hidden width is k.
    ``coefs = [W (n_in, k), U (k, k)]``, ``intercepts = [b]``; the bias gradient is the sum of
    the two paths, dL/db = sum_rows(delta_out) + sum_rows(delta_hidden) (see ``BIAS_PATHS``).
    """

    kind = "SharedBiasNet"
    #: paths through which b reaches the loss; the gradient sums them (tests remove one).
    BIAS_PATHS: tuple[str, ...] = ("output", "hidden")

    def __init__(self, n_in, n_classes, activation, *, init="auto", dtype="float32", seed=0, l2=0.0):
        k = int(n_classes)
        if int(n_in) < 1 or k < 2:
            raise ValueError(f"need n_in >= 1 and n_classes >= 2, got {n_in}, {n_classes}")
        self.hidden = (k,)
        self.layer_sizes = (int(n_in), k, k)
        widths = {"a": [k, k], "d": [k, k], "w": [k], "dx": [int(n_in)]}
        layout = [("W0", (int(n_in), k)), ("W1", (k, k)), ("b0", (k,))]
        self._setup(n_in, k, activation, layout, widths, dtype, l2)
        self._bias_tmp = np.empty(k, dtype=self.dtype)
        self._init_params(init, seed)

    @classmethod
    def from_meta(cls, meta):
        return cls(meta["n_in"], meta["n_out"], meta["activation"], dtype=meta["dtype"], l2=meta["l2"])

    def forward_ops(self, X, ws, logits):
        (W, U), b = self.coefs, self.intercepts[0]
        h = ws["a"][0]
        return [
            product(X, W, h),
            partial(np.add, h, b, h),
            *self._act.forward_ops(h, ws["w"][0]),
            product(h, U, logits),
            partial(np.add, logits, b, logits),
        ]

    def backward_ops(self, X, ws, delta, *, param_grads, dx):
        (W, U), (gW, gU), gb = self.coefs, self.coef_grads, self.intercept_grads[0]
        h, dh, ones = ws["a"][0], ws["d"][0], ws["ones"]
        ops = []
        if param_grads:
            ops.append(product(h.T, delta, gU))
        ops.append(product(delta, U.T, dh))
        ops += self._act.backprop_ops(dh, h, ws["w"][0])  # dh is now dL/d(Wx + b)
        if param_grads:
            ops.append(product(X.T, dh, gW))
            # dL/db = sum over the paths through which b reaches the loss
            ops.append(partial(gb.fill, 0))
            for path in self.BIAS_PATHS:
                source = {"output": delta, "hidden": dh}[path]
                ops.append(product(ones, source, self._bias_tmp))
                ops.append(partial(np.add, gb, self._bias_tmp, gb))
            ops += self._l2_ops()
        if dx is not None:
            ops.append(product(dh, W.T, dx))
        return ops

    def _backward_input(self, D):
        X, n = self._cache
        h = self._ws.get(n)["a"][0]
        W, U = self.coefs
        m = D.shape[1]
        G = D.reshape(n * m, self.n_out) @ U.T
        G.reshape(n, m, -1)[...] *= self._act.derivative(h)[:, None, :]
        return (G @ W.T).reshape(n, m, self.n_in)

    def independent_twin(self) -> MLP:
        """The same network with two independent biases: ``MLP(n_in, [k], k, activation)`` whose
        weights are copies of ``W``, ``U`` and whose two bias vectors both start as ``b``."""
        return independent_bias_twin(self)


def independent_bias_twin(net: SharedBiasNet) -> MLP:
    """``MLP(n_in, [k], k, act)`` starting from the shared-bias net's weights, ``b`` copied to both layers."""
    net.sync_params()
    k = net.n_out
    twin = MLP(net.n_in, [k], k, net.activation, dtype=net.dtype, l2=net.l2)
    twin.coefs[0][...] = net.coefs[0]
    twin.coefs[1][...] = net.coefs[1]
    twin.intercepts[0][...] = net.intercepts[0]
    twin.intercepts[1][...] = net.intercepts[0]
    twin.init = getattr(net, "init", "auto")
    return twin


_KINDS: dict[str, type[Network]] = {"MLP": MLP, "SharedBiasNet": SharedBiasNet}


def load(arrays) -> MLP | SharedBiasNet:
    """Rebuild any network from its ``to_arrays()``, whatever its kind."""
    return Network.from_arrays(arrays)


def build_model(setting: dict, network: dict, n_in: int, n_classes: int, seed: int) -> MLP:
    """The untrained MLP of one validated model setting (``models.<name>``) and the ``network``
    section of the config (the schema has filled in every default): the setting's ``hidden``
    widths, else ``network.hidden``."""
    return MLP(
        n_in, setting.get("hidden") or network["hidden"], n_classes, setting["activation"],
        init=setting["init"], dtype=network["dtype"], seed=seed, l2=setting["l2"],
    )
