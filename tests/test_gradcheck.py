"""Finite-difference gradient checks, and proof that the check catches broken backward passes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from shortcut.nn.gradcheck import TOLERANCE, check_model, gradcheck_table, relative_error
from shortcut.nn import ACTIVATIONS, MLP, Network, SharedBiasNet

ACTS = sorted(ACTIVATIONS)


def _batch(n=6, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, k, n)


def _mlp(act, l2=0.05, seed=0):
    net = MLP(5, [7, 6], 3, act, dtype="float64", seed=seed, l2=l2)
    for i, b in enumerate(net.intercepts):
        b[...] = np.random.default_rng(seed + i).normal(0, 0.1, b.shape)
    return net


def _shared(act, l2=0.05, seed=0):
    net = SharedBiasNet(5, 3, act, dtype="float64", seed=seed, l2=l2)
    net.intercepts[0][...] = [0.1, -0.05, 0.2]
    return net


def _errors(records):
    return {r["parameter"]: r["max_rel_error"] for r in records}


def test_relative_error_definition():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0], [1.1]) == pytest.approx(0.1 / 1.1)
    # below the floor the error is measured against the floor, not against ~0
    assert relative_error([0.0], [1e-10], floor=1e-3) == pytest.approx(1e-7)
    assert relative_error([], []) == 0.0


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("make", [_mlp, _shared], ids=["mlp", "shared_bias"])
def test_gradients_match_finite_differences(make, act):
    X, y = _batch()
    net = make(act)
    records = check_model(net, X, y)
    names = [r["parameter"] for r in records]
    expected = (
        [f"W{i}" for i in range(len(net.coefs))] + [f"b{i}" for i in range(len(net.intercepts))] + ["X"]
    )
    assert names == expected
    for r in records:
        assert r["model"] == type(net).__name__ and r["activation"] == act
        assert r["max_rel_error"] <= TOLERANCE, r
    # every entry of every array was checked
    sizes = {f"W{i}": W.size for i, W in enumerate(net.coefs)} | {
        f"b{i}": b.size for i, b in enumerate(net.intercepts)
    }
    sizes["X"] = X.size
    assert {r["parameter"]: r["n_checked"] for r in records} == sizes


def test_float32_model_is_checked_in_float64_without_being_modified():
    X, y = _batch()
    net = MLP(5, [4], 3, "relu", seed=1, l2=0.1)
    before = net.packed_params().copy()
    records = check_model(net, X, y)
    assert all(r["max_rel_error"] <= TOLERANCE for r in records)
    np.testing.assert_array_equal(net.packed_params(), before)
    assert net.dtype == np.float32


def test_max_entries_samples_large_arrays():
    X, y = _batch(d=5)
    net = MLP(5, [40], 3, "tanh", dtype="float64", seed=2)
    records = check_model(net, X, y, max_entries=25)
    assert {r["parameter"]: r["n_checked"] for r in records} == {
        "W0": 25,
        "W1": 25,
        "b0": 25,
        "b1": 3,
        "X": 25,
    }
    assert all(r["max_rel_error"] <= TOLERANCE for r in records)


# -- sabotage: the check must fail when backward is broken -------------------------------------


def test_check_fails_without_the_l2_term(monkeypatch):
    X, y = _batch()
    monkeypatch.setattr(Network, "_l2_ops", lambda self: [])
    errs = _errors(check_model(_mlp("relu", l2=0.05), X, y))
    assert all(errs[f"W{i}"] > 1e-3 for i in range(3))
    assert errs["b0"] <= TOLERANCE and errs["X"] <= TOLERANCE  # biases and X carry no L2 term
    errs = _errors(check_model(_shared("tanh", l2=0.05), X, y))
    assert errs["W0"] > 1e-3 and errs["W1"] > 1e-3


@pytest.mark.parametrize("kept", [("output",), ("hidden",)])
def test_check_fails_when_one_shared_bias_path_is_dropped(monkeypatch, kept):
    X, y = _batch()
    monkeypatch.setattr(SharedBiasNet, "BIAS_PATHS", kept)
    errs = _errors(check_model(_shared("sigmoid"), X, y))
    assert errs["b0"] > 1e-2
    assert errs["W0"] <= TOLERANCE and errs["W1"] <= TOLERANCE and errs["X"] <= TOLERANCE


@pytest.mark.parametrize("act", ACTS)
def test_check_fails_without_the_activation_derivative(monkeypatch, act):
    X, y = _batch()
    monkeypatch.setattr(ACTIVATIONS[act], "backprop_ops", lambda delta, a, work: [])
    errs = _errors(check_model(_mlp(act), X, y))
    assert errs["W0"] > 1e-3 and errs["X"] > 1e-3
    assert errs["W2"] <= TOLERANCE and errs["b2"] <= TOLERANCE  # the output layer has no activation
    errs = _errors(check_model(_shared(act), X, y))
    assert errs["W0"] > 1e-3 and errs["b0"] > 1e-3


def test_check_fails_with_a_wrong_derivative_formula(monkeypatch):
    """sigmoid' written as a (1 + a) instead of a (1 - a)."""
    X, y = _batch()
    sig = ACTIVATIONS["sigmoid"]

    def wrong(delta, a, work):
        return [
            partial(np.add, 1.0, a, out=work),
            partial(np.multiply, work, a, out=work),
            partial(np.multiply, delta, work, out=delta),
        ]

    monkeypatch.setattr(sig, "backprop_ops", wrong)
    errs = _errors(check_model(_mlp("sigmoid"), X, y))
    assert errs["W0"] > 1e-2 and errs["X"] > 1e-2


# -- table ------------------------------------------------------------------------------------


def test_gradcheck_table_random_and_real_rows():
    rng = np.random.default_rng(9)
    X_real = np.hstack([rng.standard_normal((50, 4)), np.eye(3)[rng.integers(0, 3, 50)]])
    y_real = rng.integers(0, 4, 50)
    table = gradcheck_table(X_real=X_real, y_real=y_real, n_real=6)
    assert list(table.columns[:5]) == ["model", "activation", "parameter", "max_rel_error", "n_checked"]
    assert set(table["activation"]) == set(ACTIVATIONS)
    assert set(table["model"]) == {"MLP", "SharedBiasNet"}
    assert set(table["data"]) == {"random", "real"}
    # per data set: 4 activations x (MLP: 3 W + 3 b + X, shared: 2 W + 1 b + X)
    assert len(table) == 2 * 4 * (7 + 4)
    assert table["passed"].all(), table.sort_values("max_rel_error").tail()
    real_x = table[(table["data"] == "real") & (table["parameter"] == "X")]
    assert (real_x["n_checked"] == 6 * 7).all()
