"""Gradient saliency of an ``shortcut.nn.MLP`` (or anything honouring its contract).

The model contract used here is small: ``model.forward(X) -> logits`` (caches the pass) and
``model.backward(dlogits) -> dX`` called right after it, with ``dlogits`` of shape
``(n, m, n_out)`` returning ``dX`` of shape ``(n, m, n_in)`` WITHOUT touching parameter
gradients. Every quantity below is one forward plus one batched backward per chunk of rows
(integrated gradients: one of each per interpolation step), so nothing is ever looped per row.
Rows are processed in chunks of at most ``chunk_rows`` (default 65,536) and at most
``PASS_ROWS`` (4,096): intermediate memory is bounded by the chunk, whatever the number of rows;
only the ``(n, d)`` outputs grow with n. The second cap is for speed: a pass over 4,096 rows keeps
its buffers in the CPU's cache (on the 2-core test machine a forward and backward cost 0.26 us
per row at 4,096 rows and 0.6 us at 8,192 or more). A split smaller than that gets several
interpolation steps of integrated gradients stacked into one pass instead.

Numerics: probabilities are recomputed from the logits in float64 (stable softmax), the
backward runs in the model's own dtype, and every result is returned as float64; integrals
over interpolation steps and the per-feature / per-column means are accumulated in float64.

Sign conventions: all per-row values are SIGNED. Absolute values are taken only when
summarising (``summarize_by_column`` / ``summarize_by_feature``).

Quantities (n rows, d encoded input columns, k classes)
-------------------------------------------------------
* ``loss_gradient``: dL_i/dx_i of the row's own cross-entropy at its TRUE label,
  ``L_i = -log softmax(z(x_i))[y_i]`` (not divided by n).
* ``class_jacobian``: ``J[i, c, j] = d f_c(x_i) / d x_ij`` with ``f = softmax`` probabilities
  (``wrt="probability"``, the default) or the raw logits (``wrt="logit"``).
* ``input_x_gradient``: ``(x - baseline) * d f_t / dx`` with f_t the target-class
  PROBABILITY; ``baseline = 0`` gives the classic input x gradient, the training mean gives its
  first-order (one-step) version of integrated gradients.
* ``integrated_gradients``: ``(x - b) * integral_0^1 d f_t(b + a (x - b)) / dx da`` with f_t
  the target-class probability, by the trapezoid rule on ``steps`` equal intervals
  (``steps + 1`` gradient evaluations; ``rule="midpoint"`` for the Riemann midpoint sum).
  Completeness (Sundararajan et al. 2017) says ``sum_j attr_ij = f_t(x_i) - f_t(b)``;
  the returned ``gap_i = |sum_j attr_ij - (f_t(x_i) - f_t(b))|`` is the quadrature error,
  which shrinks as O(1 / steps^2).

Aggregation to source features
------------------------------
``sources[j]`` names the source feature of encoded column j (a one-hot column maps back to its
categorical feature). A feature's per-row value is the SUM of its columns' signed per-row
values, and only then is |.| taken. Rationale: attributions are additive (IG's completeness
holds for any grouping of columns), so the sum is the attribution of the feature as a whole;
for gradients it is the directional derivative along the feature's column group. Summing
absolute values instead would count opposite-signed effects of one categorical's levels
twice. For a one-hot block at most one column is active per row, so the row's sum is that
level's attribution for attribution methods; for raw loss gradients it mixes the slopes of
all levels, which is why ``loss_gradient`` is best read per column.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import stats
from .probability import softmax
from .table import Schema, Table

DEFAULT_CHUNK_ROWS = 65_536
PASS_ROWS = 4096
"""At most this many rows per forward and backward pass (see the module docstring)."""
DEFAULT_IG_STEPS = 32
METHODS = ("loss_gradient", "input_x_gradient", "integrated_gradients")

# saliency/<fs>/<setting>/seed<s>/<split>/by_feature.parquet (the evaluate rule, one per model and
# split), stacked by the collect rule: the ``by_feature`` table of ``saliency_tables``.
BY_FEATURE_COLUMNS = Schema("saliency by feature", {
    "method": "string", "feature": "string", "n_columns": "int64",
    **dict.fromkeys(["mean_abs", "abs_mean", "share", "share_low", "share_high"], "float64"),
    "rank": "int64", "n": "int64",
})


# ------------------------------------------------------------------------------- helpers


def _pass_rows(chunk_rows) -> int:
    """Rows per pass: ``chunk_rows`` (None or <= 0: no limit), capped at ``PASS_ROWS``."""
    return PASS_ROWS if chunk_rows is None or chunk_rows <= 0 else min(int(chunk_rows), PASS_ROWS)


def _chunks(n: int, chunk_rows: int):
    chunk_rows = _pass_rows(chunk_rows)
    for start in range(0, n, chunk_rows):
        yield slice(start, min(n, start + chunk_rows))


def _as_2d(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, encoded columns), got shape {X.shape}")
    return X


def _targets(target_class, n: int) -> np.ndarray:
    t = np.asarray(target_class)
    if t.ndim == 0:
        t = np.full(n, int(t), dtype=np.int64)
    t = t.astype(np.int64, copy=False)
    if t.shape != (n,):
        raise ValueError(f"target_class must be an int or shape ({n},), got {t.shape}")
    return t


def _prob_grad_dlogits(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """d p_t / d z = p_t (e_t - p) for each row, shape (n, 1, k) (float64)."""
    n, k = p.shape
    pt = p[np.arange(n), t]
    d = -pt[:, None] * p
    d[np.arange(n), t] += pt
    return d[:, None, :]


def _backward(model, dlogits3: np.ndarray) -> np.ndarray:
    """Batched input backward (n, m, k) -> (n, m, d) in float64."""
    dtype = _model_dtype(model)
    dX = model.backward(np.ascontiguousarray(dlogits3, dtype=dtype))
    return np.asarray(dX, dtype=np.float64)


def _model_dtype(model):
    dt = getattr(model, "dtype", None)
    try:
        return np.dtype(dt) if dt is not None else np.dtype(np.float64)
    except TypeError:
        return np.dtype(np.float64)


def _forward(model, X) -> np.ndarray:
    return np.asarray(model.forward(np.ascontiguousarray(X, dtype=_model_dtype(model))))


def _prob_and_grad(model, X, t) -> tuple[np.ndarray, np.ndarray]:
    """(f_t(X) float64 (n,), d f_t / dX float64 (n, d)) in one forward + one backward."""
    p = softmax(np.asarray(_forward(model, X), dtype=np.float64))
    g = _backward(model, _prob_grad_dlogits(p, t))[:, 0, :]
    return p[np.arange(len(t)), t], g


def _path_gradients(model, b, diff, t, alphas, chunk_rows: int):
    """``(f, g)`` at every point ``b + a * diff`` of the path, for each ``a`` in ``alphas`` in
    order: ``f`` the target probabilities (m,) and ``g`` their input gradients (m, d). When the
    m rows are fewer than a pass holds (``_pass_rows``), the points of several alphas are stacked
    into one forward and one backward, so the per-call cost is paid once per group of alphas."""
    m = diff.shape[0]
    group = max(1, _pass_rows(chunk_rows) // max(m, 1))
    for start in range(0, len(alphas), group):
        block = np.asarray(alphas[start:start + group], dtype=np.float64)
        points = (b + block[:, None, None] * diff[None, :, :]).reshape(len(block) * m, diff.shape[1])
        f, g = _prob_and_grad(model, points, np.tile(t, len(block)))
        for i in range(len(block)):
            yield f[i * m:(i + 1) * m], g[i * m:(i + 1) * m]


# ------------------------------------------------------------------------------- methods


def loss_gradient(model, X, y, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """Signed dL_i/dx_i, L_i = cross-entropy of row i at its true label ``y[i]``; (n, d) float64."""
    X = _as_2d(X)
    y = _targets(y, len(X))
    out = np.empty(X.shape, dtype=np.float64)
    for sl in _chunks(len(X), chunk_rows):
        p = softmax(np.asarray(_forward(model, X[sl]), dtype=np.float64))
        d = p.copy()
        d[np.arange(len(d)), y[sl]] -= 1.0  # dL/dz = p - onehot(y)
        out[sl] = _backward(model, d[:, None, :])[:, 0, :]
    return out


def class_jacobian(model, X, wrt: str = "probability", chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """Full per-class input Jacobian, shape (n, k, d), float64.

    ``J[i, c, j] = d f_c(x_i) / d x_ij`` where ``f`` is the softmax probability vector
    (``wrt="probability"``, default) or the logit vector (``wrt="logit"``). One forward and ONE
    batched backward per chunk: the k cotangents of a row are stacked on the middle axis
    (identity rows for logits; ``p_c (e_c - p)`` for probabilities).
    """
    if wrt not in ("probability", "logit"):
        raise ValueError("wrt must be 'probability' or 'logit'")
    X = _as_2d(X)
    out = None
    for sl in _chunks(len(X), chunk_rows):
        logits = _forward(model, X[sl])
        m, k = logits.shape
        if wrt == "logit":
            d = np.broadcast_to(np.eye(k), (m, k, k))
        else:
            p = softmax(np.asarray(logits, dtype=np.float64))
            # d p_c / d z_l = p_c (delta_cl - p_l)
            d = p[:, :, None] * (np.eye(k)[None, :, :] - p[:, None, :])
        J = _backward(model, d)
        if out is None:
            out = np.empty((len(X), k, X.shape[1]), dtype=np.float64)
        out[sl] = J
    if out is None:
        out = np.empty((0, 0, X.shape[1]), dtype=np.float64)
    return out


def input_x_gradient(model, X, target_class, baseline=None,
                     chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """Signed ``(x - baseline) * d f_t(x) / dx``, f_t = probability of ``target_class``; (n, d).

    ``target_class``: an int or a per-row (n,) array. ``baseline``: None (zeros: the classic
    input x gradient) or a (d,) vector.
    """
    X = _as_2d(X)
    t = _targets(target_class, len(X))
    b = np.zeros(X.shape[1]) if baseline is None else np.asarray(baseline, dtype=np.float64)
    out = np.empty(X.shape, dtype=np.float64)
    for sl in _chunks(len(X), chunk_rows):
        _, g = _prob_and_grad(model, X[sl], t[sl])
        out[sl] = (np.asarray(X[sl], dtype=np.float64) - b) * g
    return out


def _ig_nodes(steps: int, rule: str) -> tuple[np.ndarray, np.ndarray]:
    if steps < 1:
        raise ValueError("steps must be >= 1")
    if rule == "trapezoid":
        alphas = np.linspace(0.0, 1.0, steps + 1)
        w = np.full(steps + 1, 1.0 / steps)
        w[[0, -1]] *= 0.5
    elif rule == "midpoint":
        alphas = (np.arange(steps) + 0.5) / steps
        w = np.full(steps, 1.0 / steps)
    else:
        raise ValueError("rule must be 'trapezoid' or 'midpoint'")
    return alphas, w


def integrated_gradients(model, X, target_class, baseline=None, steps: int = DEFAULT_IG_STEPS,
                         chunk_rows: int = DEFAULT_CHUNK_ROWS, rule: str = "trapezoid"):
    """Integrated gradients of the target-class probability; returns ``(attr, gap)``.

    ``attr`` (n, d) float64 signed attributions; ``gap`` (n,) the completeness gap
    ``|sum_j attr_ij - (f_t(x_i) - f_t(baseline))|``. ``baseline`` defaults to zeros; the
    pipeline passes the training mean vector of the encoded inputs (for standardised columns
    ~0). ``rule``: "trapezoid" (default; steps + 1 gradient evaluations) or "midpoint".
    """
    X = _as_2d(X)
    n, dcols = X.shape
    t = _targets(target_class, n)
    b = np.zeros(dcols) if baseline is None else np.asarray(baseline, dtype=np.float64)
    if b.shape != (dcols,):
        raise ValueError(f"baseline must have shape ({dcols},), got {b.shape}")
    alphas, weights = _ig_nodes(steps, rule)
    attr = np.empty((n, dcols), dtype=np.float64)
    gap = np.empty(n, dtype=np.float64)
    for sl in _chunks(n, chunk_rows):
        x = np.asarray(X[sl], dtype=np.float64)
        diff = x - b
        tt = t[sl]
        acc = np.zeros_like(x)
        f_x = f_b = None
        for a, w, (f, g) in zip(alphas, weights, _path_gradients(model, b, diff, tt, alphas, chunk_rows)):
            acc += w * g
            if a == 0.0:
                f_b = f
            if a == 1.0:
                f_x = f
        if f_b is None:
            f_b = _prob_and_grad(model, np.broadcast_to(b, x.shape), tt)[0]
        if f_x is None:
            f_x = _prob_and_grad(model, x, tt)[0]
        A = diff * acc
        attr[sl] = A
        gap[sl] = np.abs(A.sum(axis=1) - (f_x - f_b))
    return attr, gap


# ------------------------------------------------------------------------------- summaries


def _summary_table(values: np.ndarray, names: Sequence[str], name_col: str) -> Table:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(names):
        raise ValueError(f"values must be (n, {len(names)}), got {v.shape}")
    n = v.shape[0]
    if n:
        mean_abs = np.abs(v).mean(axis=0, dtype=np.float64)
        abs_mean = np.abs(v.mean(axis=0, dtype=np.float64))
    else:
        mean_abs = np.full(len(names), np.nan)
        abs_mean = np.full(len(names), np.nan)
    total = np.nansum(mean_abs)
    share = mean_abs / total if total > 0 else np.zeros(len(names))
    order = np.argsort(-np.nan_to_num(mean_abs, nan=-np.inf), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(1, len(names) + 1)
    return Table({name_col: np.array(list(names), dtype=object), "mean_abs": mean_abs, "abs_mean": abs_mean,
                  "share": share, "rank": rank, "n": np.full(len(names), n, dtype=np.int64)})


def summarize_by_column(values, columns: Sequence[str]) -> Table:
    """Per encoded column: mean_abs = mean_i |v_ij|, abs_mean = |mean_i v_ij|,
    share = mean_abs / sum of mean_abs, rank (1 = largest mean_abs; ties by column order), n."""
    return _summary_table(values, list(columns), "column")


def feature_matrix(columns: Sequence[str], sources: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """0/1 matrix M (d, F) with M[j, f] = 1 when column j belongs to feature f, and the features
    in order of first appearance in ``sources``."""
    if len(columns) != len(sources):
        raise ValueError("columns and sources must have the same length")
    features = list(dict.fromkeys(sources))
    idx = {f: i for i, f in enumerate(features)}
    M = np.zeros((len(columns), len(features)))
    M[np.arange(len(columns)), [idx[s] for s in sources]] = 1.0
    return M, features


def feature_values(values, columns: Sequence[str], sources: Sequence[str],
                   weights=None) -> tuple[np.ndarray, list[str]]:
    """Per-row signed sum of each source feature's columns: (n, F) float64, and the features.

    ``weights`` (n, d), if given, multiplies the values first (see ``active_level_weights``)."""
    M, features = feature_matrix(columns, sources)
    v = np.asarray(values, dtype=np.float64)
    if weights is not None:
        v = v * weights
    return v @ M, features


def active_level_weights(X, columns: Sequence[str], sources: Sequence[str]) -> np.ndarray:
    """(n, d) weights that keep, of a one-hot block, only the row's own level (its x, 0 or 1),
    and every numeric column (weight 1).

    Used to aggregate raw GRADIENTS per source feature: the gradient of a one-hot column the row
    does not have is the slope towards a level it is not at, and summing the slopes of all levels
    would rank a categorical feature by its number of levels. The row's own level's gradient
    is the sensitivity of the loss to the value the row actually has, as for a numeric column.
    """
    X = np.asarray(X, dtype=np.float64)
    onehot = np.array([c != s for c, s in zip(columns, sources)])
    return np.where(onehot[None, :], X, 1.0)


def summarize_by_feature(values, columns: Sequence[str], sources: Sequence[str],
                         weights=None) -> Table:
    """Like ``summarize_by_column`` per SOURCE feature: the signed per-row values of a feature's
    columns are summed first (optionally weighted), then |.| is taken (see the module docstring)."""
    fv, features = feature_values(values, columns, sources, weights)
    df = _summary_table(fv, features, "feature")
    M, _ = feature_matrix(columns, sources)
    df.insert(1, "n_columns", M.sum(axis=0).astype(np.int64))
    return df


# ------------------------------------------------------------------------------- all together


# Rows whose explained probability moves less than this from the baseline to the row are left
# out of the relative completeness gap: there is nearly nothing to attribute, and dividing by
# a difference that small measures rounding, not the quadrature.
MIN_ATTRIBUTED_CHANGE = 1e-3


def relative_gap(gap: np.ndarray, delta: np.ndarray) -> tuple[float, int]:
    """Integrated gradients' completeness gap relative to what it attributes,
    |sum_j IG_j - (f(x) - f(b))| / |f(x) - f(b)|, averaged over the rows whose |f(x) - f(b)| is at
    least ``MIN_ATTRIBUTED_CHANGE``; with the number of those rows (NaN and 0 when there are none).
    The trapezoid rule's error falls with the square of ``saliency.ig_steps``."""
    gap, delta = np.asarray(gap, dtype=np.float64), np.abs(np.asarray(delta, dtype=np.float64))
    use = np.isfinite(gap) & np.isfinite(delta) & (delta >= MIN_ATTRIBUTED_CHANGE)
    if not use.any():
        return float("nan"), 0
    return float(np.mean(gap[use] / delta[use])), int(use.sum())


def _all_methods(model, X, y, b, alphas, weights, chunk_rows: int, target: str) -> dict:
    """Loss gradient, input x gradient and integrated gradients of every row of X, chunk by chunk:
    one forward and one backward at x serve the loss gradient and the target's gradient."""
    n, dcols = X.shape
    out = {"grad": np.empty((n, dcols)), "ixg": np.empty((n, dcols)), "ig": np.empty((n, dcols)),
           "gap": np.empty(n), "delta": np.empty(n), "pred": np.empty(n, dtype=np.int64), "tgt": np.empty(n, dtype=np.int64),
           "p_t": np.empty(n)}
    for sl in _chunks(n, chunk_rows):
        x = np.asarray(X[sl], dtype=np.float64)
        p = softmax(np.asarray(_forward(model, x), dtype=np.float64))
        m = len(p)
        pr = np.argmax(p, axis=1)
        t = pr if target == "predicted" else y[sl]
        # one backward for the loss gradient and the target-probability gradient at x
        d = np.empty((m, 2, p.shape[1]))
        d[:, 0, :] = p
        d[np.arange(m), 0, y[sl]] -= 1.0
        d[:, 1:, :] = _prob_grad_dlogits(p, t)
        g2 = _backward(model, d)
        out["grad"][sl] = g2[:, 0, :]
        out["ixg"][sl] = (x - b) * g2[:, 1, :]
        diff = x - b
        acc = weights[-1] * g2[:, 1, :]  # alpha = 1 node reuses the pass at x
        f_x = p[np.arange(m), t]
        f_b = None
        path = _path_gradients(model, b, diff, t, alphas[:-1], chunk_rows)
        for a, w, (f, g) in zip(alphas[:-1], weights[:-1], path):
            acc += w * g
            if a == 0.0:
                f_b = f
        A = diff * acc
        out["ig"][sl] = A
        out["gap"][sl] = np.abs(A.sum(axis=1) - (f_x - f_b))
        out["delta"][sl] = f_x - f_b
        out["pred"][sl], out["tgt"][sl], out["p_t"][sl] = pr, t, f_x
    return out


def _loss_gradient_pass(model, X, y, chunk_rows: int, target: str) -> dict:
    """The loss gradient, prediction, explained class and its probability of every row (one
    forward and one backward per chunk): what the per-row table keeps for rows outside the
    attribution sample."""
    n = X.shape[0]
    out = {"grad": np.empty(X.shape, dtype=np.float64), "pred": np.empty(n, dtype=np.int64),
           "tgt": np.empty(n, dtype=np.int64), "p_t": np.empty(n)}
    for sl in _chunks(n, chunk_rows):
        p = softmax(np.asarray(_forward(model, X[sl]), dtype=np.float64))
        m = len(p)
        pr = np.argmax(p, axis=1)
        t = pr if target == "predicted" else y[sl]
        d = p.copy()
        d[np.arange(m), y[sl]] -= 1.0
        out["grad"][sl] = _backward(model, d[:, None, :])[:, 0, :]
        out["pred"][sl], out["tgt"][sl], out["p_t"][sl] = pr, t, p[np.arange(m), t]
    return out


def share_interval(values, n_boot: int, seed: int, strata=None, alpha: float = stats.ALPHA):
    """Bootstrap percentile interval of every column's share of the summed mean |value| (the
    ``share`` of the summaries), resampling rows within ``strata``: the sampling uncertainty of
    shares computed on a row sample."""
    A = np.abs(np.asarray(values, dtype=np.float64))
    n, k = A.shape
    draws = np.full((n_boot, k), np.nan)
    if n:
        for start, counts in stats.bootstrap_counts(n, n_boot, seed, strata=strata):
            means = counts @ A / n
            total = means.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                draws[start:start + len(counts)] = np.where(total > 0, means / total, np.nan)
    return stats.percentile_ci(draws, alpha)


def _with_interval(table: Table, values, sampled, n_boot: int, seed: int, strata) -> Table:
    """``share_low``/``share_high``: the share's sampling interval when ``sampled`` (the values of
    a row sample), else the share itself (every row was used: no sampling error)."""
    if sampled:
        lo, hi = share_interval(values, n_boot, seed, strata)
    else:
        lo = hi = table["share"]
    at = list(table.columns).index("share")
    table.insert(at + 1, "share_low", lo)
    table.insert(at + 2, "share_high", hi)
    return table


SHARE_BOOT = 200
"""Bootstrap resamples of the shares' sampling intervals (200 put the 2.5 % and 97.5 %
percentiles within a few hundredths of the interval's width of their limit)."""


def saliency_tables(model, X, y, columns: Sequence[str], sources: Sequence[str], *, baseline,
                    ig_steps: int, chunk_rows: int, target: str, max_rows: int, seed: int,
                    row_ids=None) -> dict:
    """Every saliency method on (X, y) and its summaries.

    ``target`` picks the class explained by input x gradient and IG: "predicted" (the model's
    own decision, i.e. what it relies on) or "label". The loss gradient always uses the true
    label. With more than ``max_rows`` rows, input x gradient and IG (``ig_steps`` + 1 passes per
    row) are computed on a seeded sample of ``max_rows`` rows stratified by label, and their
    shares carry a bootstrap interval of that sampling; the loss gradient keeps every row.
    Returns a dict:

    * ``rows``: wide per-row ``Table`` (``shortcut.table``; ``.to_frame()`` for pandas):
      ``row_id``, ``label``, ``predicted``, ``target``, ``p_target`` (f_t(x)), ``ig_gap``
      (completeness gap), then signed values
      ``grad__<col>``, ``ixg__<col>``, ``ig__<col>`` for every encoded column (``ixg``, ``ig``
      and ``ig_gap`` are NaN on rows outside the sample);
    * ``by_column`` / ``by_feature``: one summary ``Table`` per method stacked, with ``method``,
      ``n`` (rows used) and ``share_low``/``share_high`` (the share's sampling interval; the share
      itself where every row was used);
    * ``meta``: sizes, settings, baseline, the sample and completeness-gap statistics.
    """
    X = _as_2d(X)
    n, dcols = X.shape
    columns = list(columns)
    if len(columns) != dcols or len(sources) != dcols:
        raise ValueError("columns and sources must name every column of X")
    y = _targets(y, n)
    if target not in ("predicted", "label"):
        raise ValueError("target must be 'predicted' or 'label'")
    b = np.zeros(dcols) if baseline is None else np.asarray(baseline, dtype=np.float64)
    alphas, weights = _ig_nodes(ig_steps, "trapezoid")

    sampled = n > max_rows
    if not sampled:
        v = _all_methods(model, X, y, b, alphas, weights, chunk_rows, target)
        sample = np.arange(n)
    else:
        sample = stats.stratified_sample(y, max_rows, seed)
        part = _all_methods(model, X[sample], y[sample], b, alphas, weights, chunk_rows, target)
        v = _loss_gradient_pass(model, X, y, chunk_rows, target)
        v["ixg"], v["ig"] = part["ixg"], part["ig"]  # the sample's rows only (NaN elsewhere: _rows_table)
        v["gap"] = np.full(n, np.nan)
        v["gap"][sample] = part["gap"]
        v["delta"] = np.full(n, np.nan)
        v["delta"][sample] = part["delta"]
        del part
    gap = v["gap"]

    by_column, by_feature = [], []
    for method, key in zip(METHODS, ("grad", "ixg", "ig")):
        on_sample = sampled and method != "loss_gradient"
        use = v[key]  # the sample's rows when on_sample
        strata = y[sample] if on_sample else None
        bc = _with_interval(summarize_by_column(use, columns), use, on_sample, SHARE_BOOT, seed, strata)
        bc.insert(0, "method", method)
        by_column.append(bc)
        weights_f = active_level_weights(X, columns, sources) if method == "loss_gradient" else None
        bf = summarize_by_feature(use, columns, sources, weights_f)
        if on_sample:  # the interval resamples the per-feature values (else it is the share itself)
            fv, _ = feature_values(use, columns, sources, weights_f)
        else:
            fv = None
        del weights_f
        bf = _with_interval(bf, fv, on_sample, SHARE_BOOT, seed, strata)
        bf.insert(0, "method", method)
        by_feature.append(bf)
        del use
    gap_s = gap[sample]
    relative, n_relative = relative_gap(gap_s, v["delta"][sample])
    meta = {
        "n_rows": int(n),
        "n_columns": int(dcols),
        "columns": columns,
        "sources": list(sources),
        "features": list(dict.fromkeys(sources)),
        "methods": list(METHODS),
        "target": target,
        "loss_gradient": "d cross-entropy(true label) / dx, per row, signed",
        "input_x_gradient": "(x - baseline) * d p_target / dx",
        "integrated_gradients": f"trapezoid rule, {ig_steps} intervals, f = p_target",
        "aggregation": "per-row signed sum over a feature's columns, then |.|; for loss_gradient "
                       "a one-hot block contributes only the row's own level's column",
        "ig_steps": int(ig_steps),
        "chunk_rows": int(chunk_rows),
        "baseline": b.tolist(),
        "ig_gap_mean": float(gap_s.mean()) if n else float("nan"),
        "ig_gap_max": float(gap_s.max()) if n else float("nan"),
        "ig_gap_p95": float(np.quantile(gap_s, 0.95)) if n else float("nan"),
        "ig_gap_relative": relative,
        "ig_gap_relative_rows": n_relative,
        "accuracy": float(np.mean(v["pred"] == y)) if n else float("nan"),
    }
    if sampled:
        meta["attribution_sample"] = {
            "rows": int(len(sample)), "of": int(n), "max_rows": int(max_rows), "seed": int(seed),
            "stratified_by": "label", "share_interval": f"bootstrap percentile, {SHARE_BOOT} resamples, 95 %",
        }
    return {"rows": _rows_table(v, y, columns, row_ids, sample if sampled else None),
            "by_column": Table.concat(by_column), "by_feature": Table.concat(by_feature), "meta": meta}


def _rows_table(v: dict, y: np.ndarray, columns: Sequence[str], row_ids, sample=None) -> Table:
    """The per-row table of ``saliency_tables``. Built column by column: each (n, d) array of
    ``v`` is dropped once its columns are copied out, and the table takes the columns as they
    are (no second copy of every value). With a ``sample``, ``v["ixg"]`` and
    ``v["ig"]`` hold those rows only, the others are NaN."""
    n = len(y)
    ids = np.arange(n) if row_ids is None else np.asarray(row_ids)
    cols = {"row_id": ids, "label": y, "predicted": v.pop("pred"), "target": v.pop("tgt"),
            "p_target": v.pop("p_t"), "ig_gap": v.pop("gap")}
    for pre, key in (("grad", "grad"), ("ixg", "ixg"), ("ig", "ig")):
        values = v.pop(key)
        at = sample if key != "grad" else None
        for j, c in enumerate(columns):
            if at is None:
                cols[f"{pre}__{c}"] = np.ascontiguousarray(values[:, j])
            else:
                cols[f"{pre}__{c}"] = np.full(n, np.nan)
                cols[f"{pre}__{c}"][at] = values[:, j]
        del values
    return Table(cols)
