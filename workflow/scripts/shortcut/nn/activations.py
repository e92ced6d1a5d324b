"""Element-wise activations, each written once as lists of in-place NumPy operations."""

from __future__ import annotations

from functools import partial

import numpy as np

from .ops import constant, run_ops

__all__ = ["ACTIVATIONS", "LEAKY_SLOPE", "Activation", "LeakyReLU", "ReLU", "Sigmoid", "Tanh"]

LEAKY_SLOPE = 0.01


class Activation:
    """An element-wise activation g whose derivative is computed from its own output a = g(z).

    Each activation is written once, as lists of in-place NumPy operations bound to fixed buffers
    (``functools.partial``), so that a training loop can build them once and replay them:

    * ``forward_ops(z, work)``: overwrite ``z`` with g(z) (``work``: scratch shaped like ``z``);
    * ``backprop_ops(delta, a, work)``: multiply ``delta`` in place by g'(z), computed from the
      cached output ``a``.

    ``forward``, ``derivative`` and ``backprop`` run those same operations once.
    """

    name = ""
    #: whether g(1) == 1 (then a trailing column of ones survives the activation)
    keeps_one = False

    def forward_ops(self, z: np.ndarray, work: np.ndarray) -> list:
        raise NotImplementedError

    def backprop_ops(self, delta: np.ndarray, a: np.ndarray, work: np.ndarray) -> list:
        raise NotImplementedError

    def forward(self, z: np.ndarray, out: np.ndarray | None = None, work: np.ndarray | None = None):
        """g(z) into ``out`` (a new array if None; ``out`` may be ``z``)."""
        if out is None:
            out = np.array(z, dtype=np.result_type(z, np.float32), copy=True)
        elif out is not z:
            np.copyto(out, z)
        run_ops(self.forward_ops(out, np.empty_like(out) if work is None else work))
        return out

    def derivative(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """g'(z) from the output ``a = g(z)`` (the ``backprop`` of a delta of ones)."""
        out = np.ones_like(a) if out is None else out
        out.fill(1)
        run_ops(self.backprop_ops(out, a, np.empty_like(a)))
        return out

    def backprop(self, delta: np.ndarray, a: np.ndarray, work: np.ndarray) -> np.ndarray:
        """``delta *= g'(z)`` in place, using ``work`` (shaped like ``a``) as scratch."""
        run_ops(self.backprop_ops(delta, a, work))
        return delta

    def __call__(self, z) -> np.ndarray:
        return self.forward(np.asarray(z))

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


class ReLU(Activation):
    """max(z, 0); g' = 1 where the output is positive, else 0."""

    name = "relu"
    keeps_one = True

    def forward_ops(self, z, work):
        return [partial(np.maximum, z, constant(0, z.shape, z.dtype), out=z)]

    def backprop_ops(self, delta, a, work):
        # g' = ceil(min(a, 1)): exactly 1 for every a > 0 (denormals included) and 0 for a = 0;
        # two fast same-shape operations instead of a (slow) comparison cast to floats.
        return [
            partial(np.minimum, a, constant(1, a.shape, a.dtype), out=work),
            partial(np.ceil, work, work),
            partial(np.multiply, delta, work, delta),
        ]


class Sigmoid(Activation):
    """1 / (1 + exp(-z)), evaluated as 0.5 * (1 + tanh(z / 2)) (no overflow); g' = a (1 - a)."""

    name = "sigmoid"
    keeps_one = False

    def forward_ops(self, z, work):
        return [
            partial(np.multiply, z, 0.5, z),
            partial(np.tanh, z, z),
            partial(np.multiply, z, 0.5, z),
            partial(np.add, z, 0.5, z),
        ]

    def backprop_ops(self, delta, a, work):
        return [
            partial(np.subtract, 1.0, a, work),
            partial(np.multiply, work, a, work),
            partial(np.multiply, delta, work, delta),
        ]


class Tanh(Activation):
    """tanh(z); g' = 1 - a^2."""

    name = "tanh"
    keeps_one = False

    def forward_ops(self, z, work):
        return [partial(np.tanh, z, z)]

    def backprop_ops(self, delta, a, work):
        return [
            partial(np.multiply, a, a, work),
            partial(np.subtract, 1.0, work, work),
            partial(np.multiply, delta, work, delta),
        ]


class LeakyReLU(Activation):
    """max(z, alpha z) with alpha = 0.01; g' = 1 where the output is positive, else alpha."""

    name = "leaky_relu"
    keeps_one = True

    def __init__(self, alpha: float = LEAKY_SLOPE):
        self.alpha = float(alpha)

    def forward_ops(self, z, work):
        return [partial(np.multiply, z, self.alpha, work), partial(np.maximum, z, work, out=z)]

    def backprop_ops(self, delta, a, work):
        return [
            partial(np.greater, a, 0, work),
            partial(np.multiply, work, 1.0 - self.alpha, work),
            partial(np.add, work, self.alpha, work),
            partial(np.multiply, delta, work, delta),
        ]


ACTIVATIONS: dict[str, Activation] = {
    "relu": ReLU(),
    "sigmoid": Sigmoid(),
    "tanh": Tanh(),
    "leaky_relu": LeakyReLU(),
}
