"""The NumPy network engine: networks, optimisers, the training loop, gradient checks.

The public contract (everything a caller outside ``shortcut.nn`` uses):

* networks: ``MLP``, ``SharedBiasNet`` (base class ``Network``), ``build_model`` (an MLP from a
  validated config), ``load`` (any network from its ``to_arrays()``; the ``.npz`` file itself
  is read and written by ``shortcut.files``), ``independent_bias_twin``, ``ACTIVATIONS``;
* training: ``TrainSettings`` (one frozen settings object, ``TrainSettings.from_config``),
  ``fit``, ``history_columns``, ``history_frame``, ``HISTORY_COLUMNS``, ``blas_threads``, ``limit_blas_threads``;
* optimisers and early stopping: ``make_optimizer``, ``SGD``, ``Adam``, ``EarlyStopping``.

Softmax, log-softmax and cross-entropy are not here: they live in ``shortcut.probability``, which
jobs that only score probabilities import without loading this engine.
"""

from .activations import ACTIVATIONS
from .early_stopping import EarlyStopping
from .network import MLP, Network, SharedBiasNet, build_model, independent_bias_twin, load
from .optim import OPTIMIZERS, SGD, Adam, make_optimizer
from .train import HISTORY_COLUMNS, HISTORY_TABLE, TrainSettings, blas_threads, fit, history_columns, history_frame, limit_blas_threads

__all__ = [
    "ACTIVATIONS",
    "HISTORY_COLUMNS",
    "HISTORY_TABLE",
    "MLP",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "EarlyStopping",
    "Network",
    "SharedBiasNet",
    "TrainSettings",
    "blas_threads",
    "build_model",
    "fit",
    "history_columns",
    "history_frame",
    "independent_bias_twin",
    "limit_blas_threads",
    "load",
    "make_optimizer",
]
