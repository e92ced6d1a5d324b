"""In-place NumPy operations bound to fixed buffers: the building blocks of every pass.

A pass (a layer's forward, an activation's derivative, an optimiser step) is written once as a
list of zero-argument operations (``functools.partial`` of NumPy calls writing into preallocated
arrays); ``run_ops`` executes such a list. The training loop builds its lists once per ``fit`` and
replays them, so the per-call overhead of NumPy, not Python, is what a step costs.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

__all__ = ["constant", "product", "run_ops"]

_CONSTANTS: dict[tuple[float, str], np.ndarray] = {}


def constant(value: float, shape: tuple, dtype) -> np.ndarray:
    """A read-only array of ``value`` with ``shape``: a view of a cached flat buffer.

    NumPy's binary ufuncs are ~3x faster on two same-shape contiguous operands than with a
    broadcast row or a scalar (one long SIMD loop instead of one short loop per row), so the
    activations compare against full-size constant arrays. Zeros come from ``np.zeros``
    (calloc: untouched pages cost no memory).
    """
    dtype = np.dtype(dtype)
    size = math.prod(shape)
    key = (float(value), dtype.str)
    flat = _CONSTANTS.get(key)
    if flat is None or flat.size < size:
        length = max(size, 1 << 16)
        flat = np.zeros(length, dtype=dtype) if value == 0 else np.full(length, value, dtype=dtype)
        flat.flags.writeable = False
        _CONSTANTS[key] = flat
    return flat[:size].reshape(shape)


def product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> partial:
    """The operation ``out[...] = a @ b``.

    ``np.dot`` has about half the call overhead of ``np.matmul`` but wants contiguous operands
    (C or Fortran order, i.e. transposes are fine) and a C-contiguous ``out``; ``np.matmul``
    also handles strided views (rows of a wider buffer) without copies.
    """
    contiguous = all(x.flags.c_contiguous or x.flags.f_contiguous for x in (a, b))
    if contiguous and out.flags.c_contiguous:
        return partial(np.dot, a, b, out)
    return partial(np.matmul, a, b, out)


def run_ops(ops) -> None:
    """Execute a list of zero-argument operations (``functools.partial`` of NumPy calls)."""
    for op in ops:
        op()

