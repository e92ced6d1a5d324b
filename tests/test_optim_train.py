"""Unit tests of shortcut.nn's optimisers, early stopping and training loop."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pandas as pd
import pytest

from configs import MINIMAL, train_settings, validated
from shortcut import files, nn
from shortcut.nn import MLP, SGD, Adam, EarlyStopping, SharedBiasNet, blas_threads, history_frame, limit_blas_threads, make_optimizer
from shortcut.errors import DataError, TrainingDiverged
from shortcut.nn import train as train_module
from shortcut.nn.train import _Epoch


def fit(model, X, y, Xv, yv, *, seed=0, **values):
    """``nn.fit`` with the schema's default settings and ``values`` over them; these tests train
    without early stopping unless they set ``patience``."""
    return nn.fit(model, X, y, Xv, yv, train_settings(**{"patience": 0, **values}), seed=seed, blas_threads=1)


def blobs(n, seed, k=3, d=2, spread=0.6):
    """k well separated Gaussian blobs."""
    rng = np.random.default_rng(seed)
    centres = np.array([[3.0 * np.cos(2 * np.pi * c / k), 3.0 * np.sin(2 * np.pi * c / k)] for c in range(k)])
    y = rng.integers(0, k, n)
    X = centres[y, :d] + rng.normal(0, spread, (n, d))
    return X.astype(np.float32), y


def imbalanced(n, seed):
    """4 classes with the assignment's shares (0.135/0.563/0.238/0.064) and one near-separating
    feature (like amenity_score), plus noise and one-hot columns."""
    rng = np.random.default_rng(seed)
    y = rng.choice(4, size=n, p=[0.135, 0.563, 0.238, 0.064])
    score = np.array([22.7, 46.9, 70.8, 87.0])[y] + rng.normal(0, 6, n)
    X = np.column_stack([(score - 50) / 20, rng.standard_normal((n, 5)), np.eye(3)[rng.integers(0, 3, n)]])
    return X.astype(np.float32), y


# -- optimisers ------------------------------------------------------------------------------


def test_sgd_plain_momentum_nesterov_match_formulas():
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    p = np.array([1.0, 1.0])
    SGD([p], lr=0.1).update([g1])
    np.testing.assert_allclose(p, [0.9, 1.2])

    p = np.array([1.0, 1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    opt.update([g1])
    opt.update([g2])
    v1 = -0.1 * g1
    v2 = 0.9 * v1 - 0.1 * g2
    np.testing.assert_allclose(p, 1.0 + v1 + v2)

    p = np.array([1.0, 1.0])
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    opt.update([g1])
    opt.update([g2])
    np.testing.assert_allclose(p, 1.0 + (0.9 * v1 - 0.1 * g1) + (0.9 * v2 - 0.1 * g2))


def test_adam_matches_reference_formula():
    rng = np.random.default_rng(0)
    p = rng.standard_normal(5)
    q = p.copy()
    m = v = np.zeros(5)
    opt = Adam([p], lr=0.01, beta1=0.8, beta2=0.99, eps=1e-7)
    for t in range(1, 4):
        g = rng.standard_normal(5)
        opt.update([g])
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        q = q - 0.01 * (m / (1 - 0.8**t)) / (
            np.sqrt(v) / math.sqrt(1 - 0.99**t) + 1e-7 / math.sqrt(1 - 0.99**t)
        )
    np.testing.assert_allclose(p, q, rtol=1e-12)


def test_optimisers_update_in_place_and_keep_dtype():
    p = np.ones((3, 2), dtype=np.float32)
    ref = p
    for name in ("gd", "sgd", "momentum", "nesterov", "adam"):
        opt = make_optimizer(name, [p], lr=0.1, momentum=0.5)
        opt.update([np.full((3, 2), 0.5, dtype=np.float32)])
        assert p is ref and p.dtype == np.float32
    assert isinstance(make_optimizer("momentum", [p], lr=0.1, momentum=0.9), SGD)
    assert make_optimizer("momentum", [p], lr=0.1, momentum=0.9).momentum == 0.9
    assert make_optimizer("gd", [p], lr=0.1, momentum=0.9).momentum == 0.0
    assert isinstance(make_optimizer("adam", [p], lr=0.1, momentum=0.3), Adam)
    with pytest.raises(ValueError):
        make_optimizer("rmsprop", [p], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError):
        SGD([p], lr=0.1).update([p, p])


def test_early_stopping_keeps_and_restores_best_copy():
    p = np.zeros(3)
    stop = EarlyStopping(patience=2)
    losses = [1.0, 0.5, 0.7, 0.4, 0.6, 0.45]
    stopped = []
    for epoch, loss in enumerate(losses, start=1):
        p[...] = epoch
        stopped.append(stop.step(loss, [p], epoch))
    assert stopped == [False, False, False, False, False, True]
    assert stop.best_epoch == 4 and stop.best_loss == 0.4 and stop.stopped_epoch == 6
    stop.restore([p])
    np.testing.assert_array_equal(p, 4.0)
    stop2 = EarlyStopping(patience=1, min_delta=0.2)
    assert not stop2.step(1.0, [p], 1)
    assert stop2.step(0.9, [p], 2)  # improvement smaller than min_delta does not count
    assert not EarlyStopping(1).step(float("nan"), [p], 1)


# -- training loop ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "optimizer, lr, batch_size, epochs",
    [("adam", 1e-2, 64, 20), ("sgd", 0.1, 32, 20), ("momentum", 0.05, 64, 20), ("gd", 0.5, 0, 150)],
)
def test_optimisers_learn_a_separable_problem(optimizer, lr, batch_size, epochs):
    X, y = blobs(600, 0)
    Xv, yv = blobs(300, 1)
    net = MLP(2, [16], 3, "relu", seed=0)
    hist = fit(net, X, y, Xv, yv, optimizer=optimizer, lr=lr, batch_size=batch_size, epochs=epochs)
    assert hist["val_acc"][-1] >= 0.97
    assert hist["train_acc"][-1] >= 0.95
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert np.mean(net.predict(Xv) == yv) == pytest.approx(hist["val_acc"][-1])


def test_shared_bias_net_trains_with_the_same_loop():
    X, y = blobs(600, 2)
    Xv, yv = blobs(300, 3)
    net = SharedBiasNet(2, 3, "tanh", seed=0)
    hist = fit(net, X, y, Xv, yv, optimizer="adam", lr=2e-2, batch_size=64, epochs=25)
    assert hist["val_acc"][-1] >= 0.95
    assert {"grad_W0", "grad_W1", "grad_b0"} <= set(hist) and "grad_b1" not in hist


def test_history_columns_and_values():
    X, y = blobs(500, 4)
    Xv, yv = blobs(200, 5)
    net = MLP(2, [8, 8], 3, "sigmoid", seed=1)
    hist = fit(net, X, y, Xv, yv, epochs=7, batch_size=100)
    frame = pd.DataFrame(hist)
    assert len(frame) == 7
    for col in [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "grad_W0",
        "grad_W1",
        "grad_W2",
        "grad_b0",
        "grad_b1",
        "grad_b2",
        "best_epoch",
        "stopped_epoch",
    ]:
        assert col in frame.columns
    assert list(hist["epoch"]) == list(range(1, 8))
    assert hist["stopped_epoch"] == 7 and not hist["early_stopped"] and not hist["restored_best"]
    assert hist["best_epoch"] == int(hist["epoch"][np.argmin(hist["val_loss"])])
    assert all(np.all(hist[f"grad_W{i}"] > 0) for i in range(3))
    assert list(history_frame(hist).columns)[:5] == [
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
    ]
    # validation figures equal an independent evaluation of the final weights
    assert hist["val_loss"][-1] == pytest.approx(net.loss(Xv, yv), rel=1e-5)
    assert hist["val_acc"][-1] == pytest.approx(np.mean(net.predict(Xv) == yv))


def test_grad_columns_are_mean_abs_gradients_over_batches():
    X, y = blobs(64, 6)
    net = MLP(2, [5], 3, "tanh", seed=2, dtype="float64")
    start = net.copy()
    hist = fit(net, X, y, X, y, optimizer="gd", lr=0.1, epochs=1)
    # one full-batch step: the recorded means are those of the gradient at the start weights
    start.loss(X, y)
    from shortcut.probability import cross_entropy

    _, d = cross_entropy(start.forward(X), y)
    start.backward(d)
    assert hist["grad_W0"][0] == pytest.approx(np.mean(np.abs(start.coef_grads[0])), rel=1e-12)
    assert hist["grad_b1"][0] == pytest.approx(np.mean(np.abs(start.intercept_grads[1])), rel=1e-12)


def test_early_stopping_restores_the_best_weights():
    # few noisy rows, big net, large lr: validation loss soon rises
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 10)).astype(np.float32)
    y = (X[:, 0] + rng.normal(0, 1.5, 60) > 0).astype(int)
    Xv = rng.standard_normal((400, 10)).astype(np.float32)
    yv = (Xv[:, 0] > 0).astype(int)
    kw = dict(optimizer="adam", lr=0.02, batch_size=16, seed=3)
    net = MLP(10, [64, 64], 2, "relu", seed=0)
    hist = fit(net, X, y, Xv, yv, epochs=200, patience=5, **kw)
    best = hist["best_epoch"]
    assert hist["early_stopped"] and hist["restored_best"]
    assert hist["stopped_epoch"] == best + 5 < 200
    assert hist["val_loss"][best - 1] == hist["best_val_loss"] == np.min(hist["val_loss"])
    # the restored weights are exactly those after `best` epochs of the same run
    again = MLP(10, [64, 64], 2, "relu", seed=0)
    fit(again, X, y, Xv, yv, epochs=best, **kw)
    np.testing.assert_array_equal(net.packed_params(), again.packed_params())
    assert net.loss(Xv, yv) == pytest.approx(hist["best_val_loss"], rel=1e-5)


def test_training_is_deterministic_and_saves_byte_identical_npz(tmp_path):
    X, y = imbalanced(1500, 0)
    Xv, yv = imbalanced(500, 1)
    paths = []
    for run in range(2):
        net = MLP(X.shape[1], [32, 32], 4, "relu", seed=5, l2=1e-4)
        hist = fit(net, X, y, Xv, yv, epochs=4, seed=11)
        paths.append(tmp_path / f"run{run}.npz")
        files.save_npz(paths[-1], **net.to_arrays())
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = MLP(X.shape[1], [32, 32], 4, "relu", seed=5, l2=1e-4)
    fit(other, X, y, Xv, yv, epochs=4, seed=12)  # another shuffling seed: other weights
    files.save_npz(tmp_path / "other.npz", **other.to_arrays())
    assert (tmp_path / "other.npz").read_bytes() != paths[0].read_bytes()
    assert np.isfinite(hist["train_loss"]).all()


def test_full_batch_normal001_sigmoid_stalls_while_adam_relu_learns():
    """The assignment's stalled sigmoid run: randn*0.01 weights, 2 x 64 sigmoid, full-batch GD at
    lr 0.1 for 300 epochs never leaves the majority class (it reported val acc 0.5583, the
    majority share); Adam with ReLU on the same data learns."""
    X, y = imbalanced(3000, 0)
    Xv, yv = imbalanced(1000, 1)
    majority = np.bincount(y).argmax()
    share = np.mean(yv == majority)
    sig = MLP(X.shape[1], [64, 64], 4, "sigmoid", init="normal001", seed=0)
    hist = fit(sig, X, y, Xv, yv, optimizer="gd", lr=0.1, epochs=300)
    assert np.all(sig.predict(Xv) == majority)
    assert np.all(hist["val_acc"] == share)
    assert hist["grad_W0"].max() < 1e-4  # the first layer receives (almost) no signal

    relu = MLP(X.shape[1], [64, 64], 4, "relu", seed=0)
    hist = fit(relu, X, y, Xv, yv, optimizer="adam", lr=1e-3, batch_size=256, epochs=30)
    assert hist["val_acc"][-1] > share + 0.25
    assert len(np.unique(relu.predict(Xv))) == 4


def test_gd_ignores_batch_size_and_inputs_are_validated():
    X, y = blobs(100, 7)
    a, b = MLP(2, [4], 3, "relu", seed=1), MLP(2, [4], 3, "relu", seed=1)
    fit(a, X, y, X, y, optimizer="gd", lr=0.1, epochs=3)
    fit(b, X, y, X, y, optimizer="sgd", lr=0.1, epochs=3, batch_size=0)
    np.testing.assert_array_equal(a.packed_params(), b.packed_params())
    with pytest.raises(ValueError):
        fit(a, X, y + 5, X, y)
    with pytest.raises(ValueError):
        fit(a, X[:, :1], y, X, y)
    with pytest.raises(ValueError):
        fit(a, X, y, X, y, optimizer="lbfgs")


def test_fit_restores_the_blas_thread_setting():
    before = blas_threads()
    X, y = blobs(50, 8)
    fit(MLP(2, [4], 3, "relu"), X, y, X, y, epochs=1)
    assert blas_threads() == before
    if before is not None:
        with limit_blas_threads(1):
            assert blas_threads() == 1
        assert blas_threads() == before


def test_nesterov_is_selectable_in_the_config_and_reaches_the_optimizer(monkeypatch):
    config = validated({**MINIMAL, "models": {"t": {"activation": "relu", "lr": 0.05, "optimizer": "nesterov",
                                                     "momentum": 0.8}}, "grid": {"models": ["t"]}})
    built = []

    def recording(*args, **kwargs):
        built.append(make_optimizer(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(train_module, "make_optimizer", recording)
    X, y = blobs(60, 2)
    nn.fit(MLP(2, [4], 3, "relu"), X, y, X, y, nn.TrainSettings.from_config(config["models"]["t"]), seed=0,
           blas_threads=1)
    [opt] = built
    assert isinstance(opt, SGD) and opt.nesterov and opt.momentum == pytest.approx(0.8)
    with pytest.raises(Exception, match="momentum"):  # the schema and SGD agree: momentum < 1
        validated({**MINIMAL, "models": {"t": {"activation": "relu", "lr": 0.05, "momentum": 1.0}},
                   "grid": {"models": ["t"]}})


def test_a_diverging_learning_rate_stops_with_one_line_naming_setting_epoch_and_lr():
    X, y = blobs(200, 3)
    Xv, yv = blobs(100, 4)
    settings = train_settings(patience=0, optimizer="sgd", lr=1e3, epochs=20, batch_size=32)
    with pytest.raises(TrainingDiverged) as err:
        nn.fit(MLP(2, [8], 3, "relu", seed=0), X, y, Xv, yv, settings, seed=0, blas_threads=1, setting="relu")
    message = str(err.value)
    assert re.fullmatch(r"training 'relu' diverged at epoch \d+ \(loss (nan|inf)\) with lr 1000; lower models\.relu\.lr",
                        message), message
    assert isinstance(err.value, DataError)  # the job wrapper ends the job with this one line


def test_reaching_the_epoch_limit_without_early_stopping_is_logged(caplog):
    X, y = blobs(200, 3)
    Xv, yv = blobs(100, 4)
    with caplog.at_level(logging.INFO, logger="shortcut"):
        hist = nn.fit(MLP(2, [8], 3, "relu", seed=0), X, y, Xv, yv, train_settings(patience=50, epochs=3, lr=1e-2),
                      seed=0, blas_threads=1, setting="relu")
    assert not hist["early_stopped"]
    [line] = [r.getMessage() for r in caplog.records if "epoch limit" in r.getMessage()]
    assert line.startswith("training 'relu' reached the epoch limit (3) without early stopping")
    caplog.clear()
    noise = np.random.default_rng(0).integers(0, 3, len(yv))  # validation labels it cannot learn
    with caplog.at_level(logging.INFO, logger="shortcut"):
        hist = nn.fit(MLP(2, [8], 3, "relu", seed=0), X, y, Xv, noise,
                      train_settings(patience=1, epochs=200, lr=1e-2), seed=0, blas_threads=1, setting="relu")
    assert hist["early_stopped"]
    assert not [r for r in caplog.records if "epoch limit" in r.getMessage()]


def test_validation_pass_in_chunks_gives_the_same_history(monkeypatch):
    X, y = blobs(300, 9)
    Xv, yv = blobs(250, 10)
    kw = dict(epochs=3, batch_size=64, lr=1e-2)
    whole = fit(MLP(2, [8], 3, "relu", seed=4), X, y, Xv, yv, **kw)
    monkeypatch.setattr(MLP, "CHUNK_ROWS", 100)
    net = MLP(2, [8], 3, "relu", seed=4)
    chunked = fit(net, X, y, Xv, yv, **kw)
    assert net.workspace(1)["a"][0].base.shape[0] == 100  # buffers of one chunk
    np.testing.assert_allclose(chunked["val_loss"], whole["val_loss"], rtol=1e-6)
    np.testing.assert_array_equal(chunked["val_acc"], whole["val_acc"])


def _fit_bytes(net, *args, **kw):
    hist = fit(net, *args, **kw)
    arrays = {k: np.asarray(v).tobytes() for k, v in hist.items()}
    return net.packed_params().tobytes(), arrays


@pytest.mark.parametrize("window_rows, max_slots", [(1, 32), (200, 32), (10**6, 4), (10**6, 5)])
def test_window_size_does_not_change_training(monkeypatch, window_rows, max_slots):
    """Minibatches are streamed through windows of a few batches; however many batches a window
    holds (1, a few, all; last window and last batch partial), weights and history are
    bit-identical to those of the default window."""
    X, y = imbalanced(1001, 3)  # 16 batches of 64, the last one of 41 rows
    Xv, yv = imbalanced(300, 4)
    cases = [
        (lambda: MLP(X.shape[1], [16, 16], 4, "relu", seed=1), dict(optimizer="adam", lr=1e-2)),
        (lambda: MLP(X.shape[1], [8], 4, "sigmoid", seed=2, l2=1e-3), dict(optimizer="nesterov", lr=0.1)),
        (lambda: SharedBiasNet(X.shape[1], 4, "tanh", seed=3), dict(optimizer="momentum", lr=0.05)),
    ]
    kw = dict(batch_size=64, epochs=3, seed=7)
    default = [_fit_bytes(make(), X, y, Xv, yv, **opts, **kw) for make, opts in cases]
    monkeypatch.setattr(_Epoch, "WINDOW_ROWS", window_rows)
    monkeypatch.setattr(_Epoch, "MAX_SLOTS", max_slots)
    assert [_fit_bytes(make(), X, y, Xv, yv, **opts, **kw) for make, opts in cases] == default


def test_fit_streams_minibatches_without_copying_the_training_set():
    """Per epoch the rows are gathered window by window from the original arrays: a fit holds
    per-row score vectors (~64 bytes per row) and window-sized buffers, no copy of X (gathering a
    shuffled copy and widening the MLP input took > 2 X.nbytes)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n, d = 50_000, 64
    X = rng.standard_normal((n, d), dtype=np.float32)
    y = rng.integers(0, 4, n)
    for net in (MLP(d, [32, 32], 4, "relu"), SharedBiasNet(d, 4, "tanh")):
        tracemalloc.start()
        try:
            fit(net, X, y, X[:500], y[:500], batch_size=128, epochs=1)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 0.75 * X.nbytes, (type(net).__name__, peak)
