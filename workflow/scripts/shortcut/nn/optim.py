"""Optimisers as objects (like scikit-learn's ``neural_network/_stochastic_optimizers.py``).

An optimiser holds references to the parameter arrays and updates them IN PLACE from a list of
gradient arrays aligned with them. All state (velocities, moments) and scratch space is
allocated once in ``__init__``; a step allocates nothing. Passing a network's single packed
vector (``model.packed_params()`` / ``model.packed_grads()``) makes each update a handful of
vector operations, whatever the number of layers.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Sequence

import numpy as np

__all__ = ["OPTIMIZERS", "SGD", "Adam", "Optimizer", "as_param_list", "make_optimizer"]

OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")


def as_param_list(params) -> list[np.ndarray]:
    """``params`` (one array or a sequence) as a list of writeable float arrays (updated in place)."""
    if isinstance(params, np.ndarray):
        params = [params]
    params = list(params)
    for p in params:
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError("parameters must be floating-point numpy arrays (updated in place)")
        if not p.flags.writeable:
            raise ValueError("parameters must be writeable")
    return params


class Optimizer:
    """Base: ``update(grads)`` applies one step to ``params`` in place.

    Subclasses write a step once, as ``update_ops(grads)``: a list of in-place NumPy operations
    (``functools.partial``) bound to the gradient arrays, which a training loop can replay every
    batch. ``update`` runs them (rebuilt only when it is given other gradient arrays).
    """

    def __init__(self, params: Sequence[np.ndarray] | np.ndarray, lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be > 0, got {lr}")
        self.params = as_param_list(params)
        self.lr = float(lr)
        self.t = 0
        self._work = [np.empty_like(p) for p in self.params]
        self._cached: tuple[tuple, list] | None = None

    def _check(self, grads) -> list[np.ndarray]:
        if isinstance(grads, np.ndarray):
            grads = [grads]
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"{len(grads)} gradients for {len(self.params)} parameters")
        for p, g in zip(self.params, grads):
            if g.shape != p.shape:
                raise ValueError(f"gradient of shape {g.shape} for a parameter of shape {p.shape}")
        return grads

    def update_ops(self, grads) -> list:
        """The operations of one step with these gradient arrays (each replay is one step)."""
        raise NotImplementedError

    def update(self, grads) -> None:
        """One step: update the parameters in place from ``grads`` (aligned with ``params``)."""
        grads = self._check(grads)
        key = tuple(id(g) for g in grads)  # the cached ops keep the arrays alive: ids stay unique
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self.update_ops(grads))
        for op in self._cached[1]:
            op()


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Plain: ``p -= lr * g``. Momentum (sklearn's form): ``v = momentum * v - lr * g; p += v``.
    Nesterov: ``v`` as above, then ``p += momentum * v - lr * g``.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov) and self.momentum > 0
        self.velocities = [np.zeros_like(p) for p in self.params] if self.momentum else []

    def _count(self) -> None:
        self.t += 1

    def update_ops(self, grads) -> list:
        grads = self._check(grads)
        lr, mu = self.lr, self.momentum
        ops: list = [self._count]
        for i, (p, g, w) in enumerate(zip(self.params, grads, self._work)):
            ops.append(partial(np.multiply, g, lr, w))
            if not mu:
                ops.append(partial(np.subtract, p, w, p))
                continue
            v = self.velocities[i]
            ops += [partial(np.multiply, v, mu, v), partial(np.subtract, v, w, v)]
            if self.nesterov:
                ops += [
                    partial(np.subtract, p, w, p),
                    partial(np.multiply, v, mu, w),
                    partial(np.add, p, w, p),
                ]
            else:
                ops.append(partial(np.add, p, v, p))
        return ops


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1 with the bias corrections folded into the step size).

    ``m = beta1 m + (1 - beta1) g``; ``v = beta2 v + (1 - beta2) g^2``;
    ``p -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)`` — the update of
    scikit-learn's ``AdamOptimizer``.

    To save operations per step, ``ms`` and ``vs`` hold the moments scaled by ``1 / (1 - beta1)``
    and ``1 / (1 - beta2)`` (``M = beta1 M + g``, ``V = beta2 V + g^2``), with the constants
    moved into the step size and eps: 10 vector operations per step instead of 12. The step size
    lives in a 0-d array of each parameter's dtype, refreshed by the first operation of a step.
    """

    def __init__(self, params, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(params, lr)
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {beta1}, {beta2}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.ms = [np.zeros_like(p) for p in self.params]  # m / (1 - beta1)
        self.vs = [np.zeros_like(p) for p in self.params]  # v / (1 - beta2)
        self._steps = {p.dtype: np.zeros((), dtype=p.dtype) for p in self.params}

    def _advance(self) -> None:
        """t += 1 and the step size for this t (bias corrections and moment scalings folded in)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.lr * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t) * (1.0 - b1) / math.sqrt(1.0 - b2)
        for arr in self._steps.values():
            arr[()] = step

    def update_ops(self, grads) -> list:
        grads = self._check(grads)
        b1, b2 = self.beta1, self.beta2
        eps = self.eps / math.sqrt(1.0 - b2)  # sqrt(v) + eps = sqrt(1 - beta2) (sqrt(V) + eps')
        ops: list = [self._advance]
        for p, g, m, v, w in zip(self.params, grads, self.ms, self.vs, self._work):
            ops += [
                partial(np.multiply, m, b1, m),
                partial(np.add, m, g, m),
                partial(np.multiply, g, g, w),
                partial(np.multiply, v, b2, v),
                partial(np.add, v, w, v),
                partial(np.sqrt, v, w),
                partial(np.add, w, eps, w),
                partial(np.divide, m, w, w),
                partial(np.multiply, w, self._steps[p.dtype], w),
                partial(np.subtract, p, w, p),
            ]
        return ops


def make_optimizer(name: str, params, *, lr: float, momentum: float, **adam_options) -> Optimizer:
    """Build an optimiser by name.

    "gd": plain gradient descent (meant for full-batch training), "sgd": plain minibatch SGD,
    "momentum": SGD with ``momentum``, "nesterov": Nesterov momentum, "adam": Adam (``beta1``,
    ``beta2``, ``eps`` in ``adam_options``). ``momentum`` is ignored by the optimisers without
    one, so a training loop can pass its setting whatever the optimiser.
    """
    if name in ("gd", "sgd"):
        return SGD(params, lr)
    if name in ("momentum", "nesterov"):
        return SGD(params, lr, momentum=momentum, nesterov=name == "nesterov")
    if name == "adam":
        keys = ("beta1", "beta2", "eps")
        return Adam(params, lr, **{k: adam_options[k] for k in keys if k in adam_options})
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
