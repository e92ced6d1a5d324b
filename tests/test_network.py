"""Unit tests of shortcut.nn's networks and shortcut.probability: activations, softmax/CE, MLP,
SharedBiasNet, to_arrays/from_arrays through the npz files of shortcut.files."""

from __future__ import annotations

import numpy as np
import pytest

from shortcut import files
from shortcut.nn import ACTIVATIONS, MLP, SharedBiasNet, independent_bias_twin, load
from shortcut.probability import cross_entropy, log_softmax, one_hot, softmax

ACTS = sorted(ACTIVATIONS)


def _data(n=9, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, k, n)


# -- activations -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTS)
def test_activation_derivative_from_cached_output_matches_finite_differences(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-3, 3, 61) + 0.013  # avoid the kink of relu/leaky_relu at exactly 0
    a = act.forward(z.copy())
    eps = 1e-6
    numeric = (act.forward(z + eps) - act.forward(z - eps)) / (2 * eps)
    np.testing.assert_allclose(act.derivative(a), numeric, rtol=1e-6, atol=1e-9)
    delta = np.ones_like(a)
    np.testing.assert_allclose(act.backprop(delta, a, np.empty_like(a)), numeric, rtol=1e-6, atol=1e-9)


def test_activation_values():
    z = np.array([[-2.0, 0.5, 3.0]])
    np.testing.assert_allclose(ACTIVATIONS["relu"].forward(z.copy()), [[0, 0.5, 3]])
    np.testing.assert_allclose(ACTIVATIONS["leaky_relu"].forward(z.copy()), [[-0.02, 0.5, 3]])
    np.testing.assert_allclose(ACTIVATIONS["sigmoid"].forward(z.copy()), 1 / (1 + np.exp(-z)), rtol=1e-12)
    np.testing.assert_allclose(ACTIVATIONS["tanh"].forward(z.copy()), np.tanh(z))
    # sigmoid is evaluated without overflow warnings for huge inputs
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        np.testing.assert_array_equal(ACTIVATIONS["sigmoid"].forward(np.array([-1e6, 1e6])), [0.0, 1.0])


# -- softmax and cross-entropy ------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = np.array([[1e6, -1e6, 0.0], [-1e6, 1e6, 1e6], [-1e6, -1e6, -1e6]], dtype=dtype)
    y = np.array([0, 0, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-2e6) may underflow to 0
        loss, d = cross_entropy(logits, y)
        p = softmax(logits)
        lp = log_softmax(logits)
    assert np.isfinite(loss) and np.all(np.isfinite(d)) and np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    # row 0 is right with certainty (0), row 1 is wrong by 2e6 (+log 2), row 2 is uniform (log 3)
    expected = (0.0 + (2e6 + np.log(2)) + np.log(3)) / 3
    assert loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    assert d.dtype == dtype
    np.testing.assert_allclose(d, (p - one_hot(y, 3, dtype)) / 3, atol=1e-7)


def test_cross_entropy_matches_naive_formula_and_gradient():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((7, 4))
    y = rng.integers(0, 4, 7)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    loss, d = cross_entropy(z, y)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(7), y])), rel=1e-12)
    eps = 1e-6
    num = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[idx] += eps
        zm[idx] -= eps
        num[idx] = (cross_entropy(zp, y)[0] - cross_entropy(zm, y)[0]) / (2 * eps)
    np.testing.assert_allclose(d, num, atol=1e-9)


def test_cross_entropy_rejects_bad_labels():
    with pytest.raises(ValueError):
        cross_entropy(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError):
        cross_entropy(np.zeros((2, 3)), [0.5, 1])


# -- MLP basics ------------------------------------------------------------------------------


def test_mlp_shapes_attributes_and_dtypes():
    net = MLP(5, [8, 6], 3, "relu", l2=0.1)
    assert [W.shape for W in net.coefs] == [(5, 8), (8, 6), (6, 3)]
    assert [b.shape for b in net.intercepts] == [(8,), (6,), (3,)]
    assert net.dtype == np.float32 and net.coefs[0].dtype == np.float32
    assert net.hidden == (8, 6) and net.activation == "relu" and net.l2 == 0.1
    X, _ = _data()
    assert net.forward(X).dtype == np.float32
    assert net.predict_proba(X).shape == (9, 3)
    assert net.predict(X).shape == (9,)
    net64 = MLP(5, [8], 3, "tanh", dtype="float64")
    assert net64.forward(X).dtype == np.float64
    with pytest.raises(ValueError):
        MLP(5, [8], 3, "swish")
    with pytest.raises(ValueError):
        MLP(5, [8], 3, "relu", dtype="float16")


def test_init_schemes_are_seeded_and_scaled():
    a = MLP(40, [30], 20, "relu", seed=3)
    b = MLP(40, [30], 20, "relu", seed=3)
    c = MLP(40, [30], 20, "relu", seed=4)
    np.testing.assert_array_equal(a.coefs[0], b.coefs[0])
    assert not np.array_equal(a.coefs[0], c.coefs[0])
    assert all(np.all(bias == 0) for bias in a.intercepts)
    # He: std sqrt(2 / fan_in); Glorot-uniform: bound sqrt(6 / (fan_in + fan_out))
    assert np.std(a.coefs[0]) == pytest.approx(np.sqrt(2 / 40), rel=0.1)
    g = MLP(40, [30], 20, "tanh", seed=3)
    assert np.abs(g.coefs[0]).max() <= np.sqrt(6 / 70)
    assert np.abs(g.coefs[0]).max() > 0.9 * np.sqrt(6 / 70)
    tiny = MLP(40, [30], 20, "sigmoid", init="normal001", seed=3)
    assert np.std(tiny.coefs[0]) == pytest.approx(0.01, rel=0.1)
    # float32 and float64 draw the same numbers
    np.testing.assert_allclose(
        MLP(40, [30], 20, "relu", seed=3, dtype="float64").coefs[0], a.coefs[0], rtol=1e-7
    )
    with pytest.raises(ValueError):
        MLP(4, [3], 2, "relu", init="xavier")


def test_backward_fills_grads_including_l2_and_returns_dx():
    X, y = _data()
    net = MLP(5, [7, 6], 3, "tanh", dtype="float64", l2=0.3, seed=1)
    _, d = cross_entropy(net.forward(X), y)
    dX = net.backward(d)
    assert dX.shape == X.shape
    grads_l2 = [g.copy() for g in net.coef_grads]
    bias_grads = [g.copy() for g in net.intercept_grads]
    net0 = net.copy()
    net0.l2 = 0.0
    net0.forward(X)
    net0.backward(d)
    for g, g0, W in zip(grads_l2, net0.coef_grads, net.coefs):
        np.testing.assert_allclose(g - g0, 0.3 * W, atol=1e-12)
    for g, g0 in zip(bias_grads, net0.intercept_grads):
        np.testing.assert_allclose(g, g0, atol=1e-15)
    assert net.loss(X, y) == pytest.approx(
        cross_entropy(net.forward(X), y)[0] + 0.15 * sum(np.sum(W**2) for W in net.coefs), rel=1e-12
    )


def test_backward_requires_a_matching_forward():
    net = MLP(5, [4], 3, "relu")
    with pytest.raises(RuntimeError):
        net.backward(np.zeros((2, 3)))
    net.forward(np.zeros((4, 5)))
    with pytest.raises(RuntimeError):
        net.backward(np.zeros((2, 3)))


@pytest.mark.parametrize("kind", ["mlp", "shared"])
@pytest.mark.parametrize("act", ACTS)
def test_extra_axis_backward_equals_loop_of_single_backward_passes(kind, act):
    X, y = _data(n=11, d=5, k=4, seed=2)
    net = (
        MLP(5, [6, 7], 4, act, dtype="float64", seed=2, l2=0.1)
        if kind == "mlp"
        else SharedBiasNet(5, 4, act, dtype="float64", seed=2, l2=0.1)
    )
    rng = np.random.default_rng(5)
    m = 4
    D = rng.standard_normal((11, m, 4))
    net.forward(X)
    net.backward(rng.standard_normal((11, 4)))  # fill parameter grads with something
    before = net.packed_grads().copy()
    J = net.backward(D)
    assert J.shape == (11, m, 5)
    np.testing.assert_array_equal(net.packed_grads(), before)  # untouched by the 3-D pass
    for j in range(m):
        net.forward(X)
        np.testing.assert_allclose(J[:, j, :], net.backward(D[:, j, :]), rtol=1e-12, atol=1e-14)
    # float32 works too (the saliency module's all-classes Jacobian)
    net32 = net.astype("float32")
    net32.forward(X)
    eye = np.broadcast_to(np.eye(4), (11, 4, 4))
    J32 = net32.backward(eye)
    assert J32.dtype == np.float32
    net.forward(X)
    np.testing.assert_allclose(J32, net.backward(np.ascontiguousarray(eye)), rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["mlp", "shared"])
@pytest.mark.parametrize("act", ACTS)
def test_input_gradient_matches_per_row_finite_differences(kind, act):
    X, y = _data(n=6, d=5, k=3, seed=3)
    net = (
        MLP(5, [6, 5], 3, act, dtype="float64", seed=3, l2=0.5)
        if kind == "mlp"
        else SharedBiasNet(5, 3, act, dtype="float64", seed=3, l2=0.5)
    )
    for b in net.intercepts:
        b[...] = 0.1
    G = net.input_gradient(X, y)
    assert G.shape == X.shape
    assert np.all(net.packed_grads() == 0)  # parameter grads untouched
    eps = 1e-6
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            xp, xm = X[i : i + 1].copy(), X[i : i + 1].copy()
            xp[0, j] += eps
            xm[0, j] -= eps
            lp = cross_entropy(net.forward(xp), y[i : i + 1])[0]
            lm = cross_entropy(net.forward(xm), y[i : i + 1])[0]
            assert G[i, j] == pytest.approx((lp - lm) / (2 * eps), rel=1e-5, abs=1e-8)


def test_replacing_a_coef_array_is_picked_up():
    X, _ = _data()
    net = MLP(5, [4], 3, "relu", dtype="float64")
    W = np.full((5, 4), 0.5)
    net.coefs[0] = W
    out = net.forward(X)
    assert net.coefs[0] is not W and np.all(net.coefs[0] == 0.5)
    np.testing.assert_array_equal(net.packed_params()[:20], 0.5)
    manual = np.maximum(X @ W, 0) @ net.coefs[1] + net.intercepts[1]
    np.testing.assert_allclose(out, manual)


# -- shared bias ----------------------------------------------------------------------------


@pytest.mark.parametrize("act", ACTS)
def test_shared_bias_net_matches_manual_formula_and_its_twin(act):
    X, y = _data(n=8, d=5, k=4, seed=4)
    net = SharedBiasNet(5, 4, act, dtype="float64", seed=4)
    net.intercepts[0][...] = [0.1, -0.2, 0.3, 0.05]
    W, U = net.coefs
    b = net.intercepts[0]
    g = ACTIVATIONS[act]
    manual = g.forward(X @ W + b) @ U + b
    np.testing.assert_allclose(net.forward(X), manual, rtol=1e-12)
    assert len(net.intercepts) == 1 and net.hidden == (4,)
    twin = independent_bias_twin(net)
    assert isinstance(twin, MLP) and twin.hidden == (4,) and len(twin.intercepts) == 2
    np.testing.assert_allclose(twin.forward(X), manual, rtol=1e-12)
    # dL/db of the shared net = sum of the twin's two bias gradients
    _, d = cross_entropy(net.forward(X), y)
    net.backward(d)
    twin.forward(X)
    twin.backward(d)
    np.testing.assert_allclose(
        net.intercept_grads[0], twin.intercept_grads[0] + twin.intercept_grads[1], rtol=1e-12
    )
    np.testing.assert_allclose(net.coef_grads[0], twin.coef_grads[0], rtol=1e-12)
    np.testing.assert_allclose(net.coef_grads[1], twin.coef_grads[1], rtol=1e-12)
    assert net.independent_twin().coefs[0] is not net.coefs[0]


# -- save / load --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["mlp", "shared"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_roundtrip(tmp_path, kind, dtype):
    X, _ = _data(n=10, d=5, k=3)
    if kind == "mlp":
        net = MLP(5, [6, 4], 3, "leaky_relu", dtype=dtype, seed=7, l2=0.01)
        cls = MLP
    else:
        net = SharedBiasNet(5, 3, "tanh", dtype=dtype, seed=7, l2=0.02)
        cls = SharedBiasNet
    for b in net.intercepts:
        b[...] = np.linspace(-0.3, 0.3, b.size)
    path = tmp_path / "model.npz"
    files.save_npz(path, **net.to_arrays())
    back = cls.from_arrays(files.load_npz(path))
    same = load(files.load_npz(path))
    for other in (back, same):
        assert type(other) is type(net)
        assert (other.activation, other.hidden, other.dtype, other.l2) == (
            net.activation,
            net.hidden,
            net.dtype,
            net.l2,
        )
        for a, b in zip(net.coefs + net.intercepts, other.coefs + other.intercepts):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(other.forward(X), net.forward(X))
    with np.load(path, allow_pickle=False) as z:  # no pickled objects inside
        assert str(z["activation"]) == net.activation
    other_cls = SharedBiasNet if kind == "mlp" else MLP
    with pytest.raises(ValueError):
        other_cls.from_arrays(files.load_npz(path))
    files.save_npz(tmp_path / "again.npz", **net.to_arrays())
    assert (tmp_path / "again.npz").read_bytes() == path.read_bytes()


def test_predictions_of_many_rows_are_chunked_with_bounded_buffers(monkeypatch):
    X, y = _data(n=50, d=5, k=3, seed=8)
    net = MLP(5, [6], 3, "tanh", dtype="float64", seed=8, l2=0.1)
    expected = (net.forward(X), net.predict_proba(X), net.predict(X), net.loss(X, y))
    fresh = net.copy()
    monkeypatch.setattr(MLP, "CHUNK_ROWS", 16)
    got = (fresh.predict_proba(X), fresh.predict(X), fresh.loss(X, y))
    assert fresh.workspace(1)["a"][0].base.shape[0] == 16  # the buffers grew to one chunk
    np.testing.assert_allclose(got[0], expected[1], rtol=1e-12)
    np.testing.assert_array_equal(got[1], expected[2])
    assert got[2] == pytest.approx(expected[3], rel=1e-12)
    with pytest.raises(RuntimeError):  # a chunked pass leaves nothing to back-propagate
        fresh.backward(np.zeros((50, 3)))
