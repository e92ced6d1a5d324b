"""Tests of shortcut.saliency against central finite differences, completeness, sanity checks."""

import numpy as np
import pandas as pd
import pytest

from configs import defaults
from shortcut import saliency
from shortcut.saliency import (
    METHODS,
    class_jacobian,
    input_x_gradient,
    integrated_gradients,
    loss_gradient,
    summarize_by_column,
    summarize_by_feature,
)


def saliency_tables(model, X, y, columns, sources, **values):
    """``saliency.saliency_tables`` with the config's defaults (``values`` over them): zero
    baseline, and no row cap unless ``max_rows`` is given."""
    cfg = defaults("saliency")
    kw = {"baseline": None, "ig_steps": cfg["ig_steps"], "chunk_rows": cfg["chunk_rows"],
          "target": cfg["explained_class"], "max_rows": 10**9, "seed": cfg["seed"], **values}
    out = saliency.saliency_tables(model, X, y, columns, sources, **kw)
    return {k: (v if k == "meta" else v.to_frame()) for k, v in out.items()}


from shortcut.nn import MLP
from shortcut.probability import cross_entropy


def _fit(model, X, y, epochs=300, lr=0.05):
    """Full-batch Adam on the mean cross-entropy via the network's packed params/grads
    (a few lines so that this test does not depend on the training module)."""
    params, grads = model.packed_params(), model.packed_grads()
    m, v = np.zeros_like(params), np.zeros_like(params)
    for t in range(1, epochs + 1):
        _, dlogits = cross_entropy(model.forward(X), y)
        model.backward(dlogits)
        m = 0.9 * m + 0.1 * grads
        v = 0.999 * v + 0.001 * grads * grads
        params -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return model


# ---------------------------------------------------------------- helpers
def _probs(model, X):
    z = np.asarray(model.forward(X), dtype=np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _logits(model, X):
    return np.asarray(model.forward(X), dtype=np.float64)


def _fd(fun, X, h=1e-5):
    """Central differences of a per-row vector function fun(X) -> (n, k): returns (n, k, d)."""
    n, d = X.shape
    out = None
    for j in range(d):
        Xp, Xm = X.copy(), X.copy()
        Xp[:, j] += h
        Xm[:, j] -= h
        col = (fun(Xp) - fun(Xm)) / (2 * h)
        if out is None:
            out = np.empty((n, col.shape[1], d))
        out[:, :, j] = col
    return out


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@pytest.fixture(params=["tanh", "relu"])
def setup64(request):
    rng = np.random.default_rng(0)
    model = MLP(5, [8, 6], 3, request.param, dtype="float64", seed=3)
    model.intercepts[0][...] = rng.normal(scale=0.3, size=8)  # non-zero biases too
    X = rng.normal(size=(12, 5))
    y = rng.integers(0, 3, 12)
    return model, X, y


# ---------------------------------------------------------------- finite differences
def test_loss_gradient_matches_fd(setup64):
    model, X, y = setup64

    def ce(Z):
        p = _probs(model, Z)
        return -np.log(p[np.arange(len(Z)), y])[:, None]

    fd = _fd(ce, X)[:, 0, :]
    g = loss_gradient(model, X, y)
    assert g.dtype == np.float64 and g.shape == X.shape
    assert _rel(g, fd) <= 1e-5


@pytest.mark.parametrize("wrt", ["probability", "logit"])
def test_class_jacobian_matches_fd(setup64, wrt):
    model, X, _ = setup64
    fun = (lambda Z: _probs(model, Z)) if wrt == "probability" else (lambda Z: _logits(model, Z))
    J = class_jacobian(model, X, wrt=wrt)
    assert J.shape == (12, 3, 5)
    assert _rel(J, _fd(fun, X)) <= 1e-5
    if wrt == "probability":  # probabilities sum to one -> columns of J sum to zero
        assert np.abs(J.sum(axis=1)).max() < 1e-12


def test_input_x_gradient_matches_fd(setup64):
    model, X, _ = setup64
    t = np.arange(12) % 3
    base = np.full(5, 0.3)
    fd = _fd(lambda Z: _probs(model, Z), X)[np.arange(12), t, :]
    got = input_x_gradient(model, X, t, baseline=base)
    assert _rel(got, (X - base) * fd) <= 1e-5
    # default baseline is zero: the classic input x gradient
    assert _rel(input_x_gradient(model, X, t), X * fd) <= 1e-5


@pytest.mark.parametrize("rule", ["trapezoid", "midpoint"])
def test_integrated_gradients_matches_fd_quadrature(setup64, rule):
    model, X, _ = setup64
    t = np.arange(12) % 3
    b = np.linspace(-0.5, 0.5, 5)
    steps = 6
    attr, gap = integrated_gradients(model, X, t, b, steps=steps, rule=rule)
    if rule == "trapezoid":
        alphas = np.linspace(0, 1, steps + 1)
        w = np.full(steps + 1, 1 / steps)
        w[[0, -1]] /= 2
    else:
        alphas = (np.arange(steps) + 0.5) / steps
        w = np.full(steps, 1 / steps)
    ref = np.zeros_like(X)
    for a, wi in zip(alphas, w):
        ref += wi * _fd(lambda Z: _probs(model, Z), b + a * (X - b))[np.arange(12), t, :]
    ref *= X - b
    assert _rel(attr, ref) <= 1e-5


def test_integrated_gradients_completeness_and_convergence(setup64):
    model, X, _ = setup64
    X = X * 2.0  # longer paths, more curvature
    t = np.argmax(_probs(model, X), axis=1)
    b = X.mean(axis=0)
    p = _probs(model, X)[np.arange(12), t]
    pb = _probs(model, np.broadcast_to(b, X.shape))[np.arange(12), t]
    gaps = []
    for steps in (2, 8, 32, 128):
        attr, gap = integrated_gradients(model, X, t, b, steps=steps)
        # the reported gap is the true completeness error
        assert np.allclose(np.abs(attr.sum(1) - (p - pb)), gap, atol=1e-12)
        gaps.append(gap.mean())
    assert all(g2 < g1 for g1, g2 in zip(gaps, gaps[1:])), gaps
    if model.activation == "tanh":  # smooth path: trapezoid error O(1/steps^2)
        assert gaps[-1] < 1e-4 and gaps[-1] < gaps[0] / 100, gaps
    else:  # ReLU kinks: first-order convergence only
        assert gaps[-1] < 1e-2 and gaps[-1] < gaps[0] / 10, gaps


# ---------------------------------------------------------------- chunking
def test_float32_model_gives_float64_results_close_to_float64_model(setup64):
    model64, X, y = setup64
    model32 = model64.astype("float32")
    cols = list("abcde")
    t32 = saliency_tables(model32, X, y, cols, cols, ig_steps=16)
    t64 = saliency_tables(model64, X, y, cols, cols, ig_steps=16)
    r32, r64 = t32["rows"], t64["rows"]
    for pre in ("grad", "ixg", "ig"):
        a = r32[[f"{pre}__{c}" for c in cols]].to_numpy()
        b = r64[[f"{pre}__{c}" for c in cols]].to_numpy()
        assert a.dtype == np.float64 and _rel(a, b) < 1e-4
    assert abs(t32["meta"]["ig_gap_max"] - t64["meta"]["ig_gap_max"]) < 1e-4


def test_chunked_equals_unchunked(setup64):
    model, X, y = setup64
    t = np.arange(12) % 3
    for chunk in (1, 5, 7):
        # (BLAS may round differently for other row counts: equal to ~1 ulp, not bitwise)
        assert np.allclose(loss_gradient(model, X, y, chunk_rows=chunk), loss_gradient(model, X, y),
                           rtol=1e-12, atol=1e-15)
        assert np.allclose(class_jacobian(model, X, chunk_rows=chunk), class_jacobian(model, X),
                           rtol=1e-12, atol=1e-15)
        assert np.allclose(input_x_gradient(model, X, t, chunk_rows=chunk),
                           input_x_gradient(model, X, t), rtol=1e-12, atol=1e-15)
        a1, g1 = integrated_gradients(model, X, t, steps=5, chunk_rows=chunk)
        a2, g2 = integrated_gradients(model, X, t, steps=5)
        assert np.allclose(a1, a2, rtol=1e-12, atol=1e-15) and np.allclose(g1, g2, rtol=1e-12, atol=1e-15)
    cols = list("abcde")
    s1 = saliency_tables(model, X, y, cols, cols, ig_steps=5, chunk_rows=5)
    s2 = saliency_tables(model, X, y, cols, cols, ig_steps=5, chunk_rows=10**6)
    pd.testing.assert_frame_equal(s1["rows"], s2["rows"], rtol=1e-12, atol=1e-15)
    pd.testing.assert_frame_equal(s1["by_feature"], s2["by_feature"], rtol=1e-12, atol=1e-15)


def test_saliency_tables_agree_with_single_functions(setup64):
    model, X, y = setup64
    cols = ["a", "b", "c", "d", "e"]
    b = np.full(5, 0.1)
    out = saliency_tables(model, X, y, cols, ["a", "b", "c", "c", "e"], baseline=b, ig_steps=8)
    rows = out["rows"]
    pred = np.argmax(_probs(model, X), axis=1)
    assert rows["predicted"].tolist() == pred.tolist() and rows["label"].tolist() == y.tolist()
    grad = rows[[f"grad__{c}" for c in cols]].to_numpy()
    ixg = rows[[f"ixg__{c}" for c in cols]].to_numpy()
    ig = rows[[f"ig__{c}" for c in cols]].to_numpy()
    assert np.allclose(grad, loss_gradient(model, X, y), rtol=0, atol=1e-14)
    assert np.allclose(ixg, input_x_gradient(model, X, pred, b), rtol=0, atol=1e-14)
    attr, gap = integrated_gradients(model, X, pred, b, steps=8)
    assert np.allclose(ig, attr, rtol=0, atol=1e-14)
    assert np.allclose(rows["ig_gap"], gap, rtol=0, atol=1e-14)
    assert (grad < 0).any() and (grad > 0).any()  # signed values are stored
    bf = out["by_feature"]
    assert sorted(bf["method"].unique()) == sorted(METHODS)
    for _, g in bf.groupby("method"):
        assert g["feature"].tolist() == ["a", "b", "c", "e"]
        assert g["share"].sum() == pytest.approx(1.0)
        assert sorted(g["rank"]) == [1, 2, 3, 4]
    assert set(out["by_column"]["column"]) == set(cols)
    assert out["meta"]["ig_steps"] == 8 and out["meta"]["n_rows"] == 12


# ---------------------------------------------------------------- aggregation
def test_by_feature_maps_one_hot_columns():
    cols = ["x", "c=a", "c=b", "c=c", "z"]
    src = ["x", "c", "c", "c", "z"]
    v = np.array(
        [
            [1.0, 2.0, -2.0, 0.0, -1.0],  # c's columns cancel in this row
            [-3.0, 0.0, 0.0, 4.0, 1.0],
        ]
    )
    bf = summarize_by_feature(v, cols, src).to_frame().set_index("feature")
    assert bf.index.tolist() == ["x", "c", "z"]
    assert bf["n_columns"].tolist() == [1, 3, 1]
    # per-row signed sums: x = [1, -3], c = [0, 4], z = [-1, 1]
    assert bf.loc["x", "mean_abs"] == pytest.approx(2.0) and bf.loc["x", "abs_mean"] == pytest.approx(1.0)
    assert bf.loc["c", "mean_abs"] == pytest.approx(2.0) and bf.loc["c", "abs_mean"] == pytest.approx(2.0)
    assert bf.loc["z", "mean_abs"] == pytest.approx(1.0) and bf.loc["z", "abs_mean"] == pytest.approx(0.0)
    assert bf["share"].tolist() == pytest.approx([0.4, 0.4, 0.2])
    assert bf["rank"].tolist() == [1, 2, 3]  # tie broken by feature order
    bc = summarize_by_column(v, cols).to_frame().set_index("column")
    assert bc.loc["c=a", "mean_abs"] == pytest.approx(1.0) and bc.loc["c=c", "mean_abs"] == pytest.approx(2.0)
    assert bc["rank"].tolist() == [1, 3, 4, 2, 5]
    assert bc["share"].sum() == pytest.approx(1.0)


def test_loss_gradient_of_a_categorical_is_its_own_levels_gradient():
    """Raw gradients of levels a row does not have are left out of the feature's value."""
    from shortcut.saliency import active_level_weights

    cols = ["x", "c=a", "c=b", "c=c"]
    src = ["x", "c", "c", "c"]
    X = np.array([[0.5, 1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 1.0], [2.0, 0.0, 0.0, 0.0]])  # last: unseen level
    g = np.array([[1.0, 5.0, 7.0, 9.0], [-2.0, 3.0, 3.0, -4.0], [3.0, 1.0, 1.0, 1.0]])
    w = active_level_weights(X, cols, src)
    assert w.tolist() == [[1, 1, 0, 0], [1, 0, 0, 1], [1, 0, 0, 0]]
    bf = summarize_by_feature(g, cols, src, w).to_frame().set_index("feature")
    assert bf.loc["c", "mean_abs"] == pytest.approx((5 + 4 + 0) / 3)
    assert bf.loc["x", "mean_abs"] == pytest.approx(2.0)
    unweighted = summarize_by_feature(g, cols, src).to_frame().set_index("feature")
    assert unweighted.loc["c", "mean_abs"] == pytest.approx((21 + 2 + 3) / 3)


# ---------------------------------------------------------------- sanity (Adebayo et al. 2018)
def test_weight_randomisation_changes_feature_ranking():
    rng = np.random.default_rng(1)
    n = 1500
    X = rng.normal(size=(n, 6))
    # label determined by column 2 (a one-hot-free numeric "key"); others are noise
    y = np.digitize(X[:, 2], [-0.7, 0.7])
    cols = [f"f{j}" for j in range(6)]
    trained = _fit(MLP(6, [16], 3, "tanh", dtype="float64", seed=0), X, y)
    assert np.mean(np.argmax(trained.predict_proba(X), 1) == y) > 0.9
    t_tab = saliency_tables(trained, X[:400], y[:400], cols, cols, ig_steps=8)["by_feature"]
    random = MLP(6, [16], 3, "tanh", dtype="float64", seed=7)
    r_tab = saliency_tables(random, X[:400], y[:400], cols, cols, ig_steps=8)["by_feature"]
    for method in METHODS:
        tr = t_tab[t_tab.method == method].set_index("feature")
        ra = r_tab[r_tab.method == method].set_index("feature")
        assert tr["rank"].idxmin() == "f2" and tr.loc["f2", "share"] > 0.5, method
        assert tr["rank"].tolist() != ra["rank"].tolist(), method
        assert ra.loc["f2", "share"] < tr.loc["f2", "share"] - 0.2, method


# ---------------------------------------------------------------- attribution on a row sample
@pytest.fixture(scope="module")
def big():
    """A trained model on 3,000 rows where f2 decides the label, f0 helps a little."""
    rng = np.random.default_rng(3)
    n = 3000
    X = rng.normal(size=(n, 5))
    y = np.digitize(X[:, 2] + 0.3 * X[:, 0], [-0.6, 0.6])
    model = _fit(MLP(5, [12], 3, "tanh", dtype="float64", seed=0), X, y, epochs=200)
    return model, X, y, [f"f{j}" for j in range(5)]


def test_below_the_cap_nothing_is_sampled(big):
    model, X, y, cols = big
    capped = saliency_tables(model, X, y, cols, cols, ig_steps=4, max_rows=len(X))
    free = saliency_tables(model, X, y, cols, cols, ig_steps=4)
    pd.testing.assert_frame_equal(capped["rows"], free["rows"])
    pd.testing.assert_frame_equal(capped["by_feature"], free["by_feature"])
    bf = capped["by_feature"]
    assert (bf["share_low"] == bf["share"]).all() and (bf["share_high"] == bf["share"]).all()
    assert "attribution_sample" not in capped["meta"] and not capped["rows"].isna().any().any()


def test_above_the_cap_attributions_use_a_stratified_sample_and_gradients_every_row(big):
    model, X, y, cols = big
    full = saliency_tables(model, X, y, cols, cols, ig_steps=4)
    out = saliency_tables(model, X, y, cols, cols, ig_steps=4, max_rows=600, seed=5)
    rows = out["rows"]
    in_sample = rows["ig_gap"].notna().to_numpy()
    assert in_sample.sum() == 600 and out["meta"]["attribution_sample"]["rows"] == 600
    # stratified: every class keeps its share of the rows (largest remainder)
    assert np.abs(np.bincount(y[in_sample], minlength=3) - 600 * np.bincount(y) / len(y)).max() < 1
    # the sampled rows' attributions are the full run's; the others are NaN
    for pre in ("ixg", "ig"):
        names = [f"{pre}__{c}" for c in cols]
        assert np.allclose(rows.loc[in_sample, names], full["rows"].loc[in_sample, names], rtol=1e-10, atol=1e-12)
        assert rows.loc[~in_sample, names].isna().all().all()
    # the loss gradient, predictions and probabilities cover every row
    names = [f"grad__{c}" for c in cols]
    assert np.allclose(rows[names], full["rows"][names], rtol=1e-10, atol=1e-12)
    assert rows["predicted"].tolist() == full["rows"]["predicted"].tolist()
    bf = out["by_feature"].set_index(["method", "feature"])
    assert (bf.loc["integrated_gradients", "n"] == 600).all() and (bf.loc["loss_gradient", "n"] == len(X)).all()
    # every sampled share has a proper interval around it, and the full-data share lies inside it
    ref = full["by_feature"].set_index(["method", "feature"])
    for method in ("input_x_gradient", "integrated_gradients"):
        s = bf.loc[method]
        assert (s["share_low"] < s["share"]).all() and (s["share"] < s["share_high"]).all()
        assert (s["share_high"] - s["share_low"]).max() < 0.25  # 600 rows: a few hundredths to ~0.1
        inside = (s["share_low"] <= ref.loc[method, "share"]) & (ref.loc[method, "share"] <= s["share_high"])
        assert inside.all(), method
    assert (bf.loc["loss_gradient", "share_low"] == bf.loc["loss_gradient", "share"]).all()
    # seeded: the same seed draws the same rows
    again = saliency_tables(model, X, y, cols, cols, ig_steps=4, max_rows=600, seed=5)
    pd.testing.assert_frame_equal(out["by_feature"], again["by_feature"])


def test_the_share_interval_narrows_with_the_sample(big):
    model, X, y, cols = big
    widths = []
    for size in (200, 1800):
        bf = saliency_tables(model, X, y, cols, cols, ig_steps=4, max_rows=size)["by_feature"]
        ig = bf[bf["method"] == "integrated_gradients"]
        widths.append((ig["share_high"] - ig["share_low"]).mean())
    assert widths[1] < widths[0] / 2, widths


def test_a_model_without_inputs_gets_empty_attributions():
    """The drop-all remedy trains on no feature at all (the class prior): every saliency table
    still comes out, with no columns to attribute to."""
    model = MLP(0, [4], 3, "relu", seed=0)
    X, y = np.zeros((50, 0), dtype=np.float32), np.arange(50) % 3
    out = saliency_tables(model, X, y, [], [], ig_steps=4)
    assert len(out["rows"]) == 50 and len(out["by_feature"]) == 0
    assert np.allclose(out["rows"]["ig_gap"], 0.0)


def test_relative_completeness_gap_is_reported_and_shrinks_with_steps(setup64):
    """meta's ig_gap_relative is |sum IG - (f(x) - f(b))| / |f(x) - f(b)| averaged over the rows:
    recomputed here from the single-row functions, and smaller with more steps."""
    model, X, y = setup64
    X = X * 2.0
    b = X.mean(axis=0)
    t = np.argmax(_probs(model, X), axis=1)
    p = _probs(model, X)[np.arange(12), t]
    pb = _probs(model, np.broadcast_to(b, X.shape))[np.arange(12), t]
    rel = {}
    for steps in (2, 64):
        meta = saliency_tables(model, X, y, [f"c{j}" for j in range(5)], [f"c{j}" for j in range(5)],
                               baseline=b, ig_steps=steps)["meta"]
        attr, _ = integrated_gradients(model, X, t, b, steps=steps)
        keep = np.abs(p - pb) >= saliency.MIN_ATTRIBUTED_CHANGE
        expected = np.mean(np.abs(attr.sum(1) - (p - pb))[keep] / np.abs(p - pb)[keep])
        assert meta["ig_gap_relative"] == pytest.approx(expected, rel=1e-9)
        assert meta["ig_gap_relative_rows"] == int(keep.sum())
        rel[steps] = meta["ig_gap_relative"]
    assert rel[64] < rel[2] / 10, rel


def test_relative_gap_leaves_out_rows_with_nothing_to_attribute():
    value, rows = saliency.relative_gap(np.array([0.01, 0.5, np.nan]), np.array([0.1, 1e-6, 0.2]))
    assert (value, rows) == (pytest.approx(0.1), 1)
    assert np.isnan(saliency.relative_gap(np.array([0.1]), np.array([0.0]))[0])


def test_report_shows_the_gap_and_warns_with_two_steps(setup64):
    """The attribution section's sentence: the gap of real saliency runs, with the warning and the
    remedy at ig_steps 2 (gap above saliency.max_ig_gap) and without them at 64 steps."""
    from types import SimpleNamespace

    from shortcut.report.sections.attribution import completeness_gap

    model, X, y = setup64
    X = X * 2.0
    cols = [f"c{j}" for j in range(5)]
    text = {}
    for steps in (2, 64):
        metas = [saliency_tables(model, X, y, cols, cols, baseline=X.mean(axis=0), ig_steps=steps)["meta"]]
        inp = SimpleNamespace(saliency_meta=metas, settings={"ig_steps": steps, "max_ig_gap": 0.05})
        text[steps] = completeness_gap(inp)
        assert "completeness gap" in text[steps] and f"with {steps} steps" in text[steps]
    assert "above 5 %" in text[2] and "more `saliency.ig_steps` (now 2) would close the gap" in text[2]
    assert "above" not in text[64]
