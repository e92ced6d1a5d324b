"""Early stopping on the validation loss, beside the training loop that uses it."""

from __future__ import annotations

import math

import numpy as np

from .optim import as_param_list

__all__ = ["EarlyStopping"]


class EarlyStopping:
    """Stop when the validation loss has not improved by more than ``min_delta`` for
    ``patience`` consecutive epochs; keeps a copy of the best weights to restore.

    ``step(val_loss, params, epoch)`` returns True when training should stop.
    ``restore(params)`` copies the best weights back in place (no-op before the first step).
    A NaN loss never counts as an improvement.
    """

    def __init__(self, patience: int, min_delta: float = 0.0):
        if int(patience) < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.wait = 0
        self._best: list[np.ndarray] | None = None

    def step(self, val_loss: float, params, epoch: int | None = None) -> bool:
        params = as_param_list(params)
        if self._best is None:
            self._best = [np.array(p, copy=True) for p in params]
            self.best_loss, self.best_epoch, self.wait = float(val_loss), epoch, 0
            if math.isnan(self.best_loss):
                self.best_loss = math.inf
            return False
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = float(val_loss), epoch, 0
            for dst, src in zip(self._best, params):
                np.copyto(dst, src)
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def restore(self, params) -> None:
        if self._best is None:
            return
        for dst, src in zip(as_param_list(params), self._best):
            np.copyto(dst, src)
