"""Conditional-shift evidence: did the relation between a feature and the label, P(Y | X), change
from train to test in a way that makes the feature's train relation cost accuracy on test?

The question and why it needs this design
-----------------------------------------
A shortcut is a feature whose relation to the label does not hold on new data. Two other changes
move every univariate train-vs-test comparison but are NOT shortcuts:

* a change of the class mix (label shift: P(X | Y) fixed, P(Y) changes), and
* a test file drawn from one part of the input space (covariate shift: P(Y | X) fixed, P(X)
  changes; including a selection on another feature correlated with this one, which moves the
  univariate P(Y | X_j)).

Both are cases of one null model: p_test(x, y) proportional to p_train(x, y) a(x) b(y). Under it,
p_test(y | x) is proportional to p_train(y | x) b(y): the train conditional is still right up to
one offset per class. So the evidence compares, on the test rows themselves (which weights every
region by the test rows' mass), models fitted on train whose class offsets are refitted on test:

1. Evidence models: small networks of this library (one hidden layer, early stopping on the
   validation split) fitted on the training partition; one on a set S of features and one on S
   without the unit u (a feature, or a group of strongly associated features that can stand in
   for each other). Each model averages the probabilities of ``ensemble`` networks fitted with
   different seeds: the harm's interval covers the sampling of test rows, not the fit-to-fit
   variation of one network, which on small training sets produced most false positives of the
   calibration study (three seeds removed 13 of its 17 cases). The networks fit on at most
   ``max_train_rows`` training rows (a stratified, seeded sample): beyond that the evidence is
   limited by the test rows, and the cost stays flat. Likewise the validation rows (early
   stopping, temperature, the change's reference) are a stratified, seeded sample of at most
   ``max_val_rows``. Rare levels of a categorical (fewer than ``min_level_rows`` training rows) are
   pooled into one column first, so a feature with many levels cannot fit noise level by level:
   this is how many-level categoricals are kept from inflating the value (the test suite plants a
   200-level noise categorical and checks it).
2. Prior refit: each model's log-probabilities get per-class offsets b fitted by maximum
   likelihood on the (supported) test rows; a class absent from the test rows gets probability 0.
   This absorbs any change of the class mix exactly (under label shift the refitted offsets are
   log p_test(y) / p_train(y)).
3. Support: rows outside the training support (see ``shortcut.domain``) are left out and counted;
   there a difference is extrapolation, never concept shift.
4. Per test row i, ``d_i = loss_S(i) - loss_{S-u}(i)`` (log loss, nats). The **harm** of u is
   mean(d): how much worse the model that uses u does on test than the one without it.

   Under the null, for every x the full model is the best predictor, so E[d | x] = -KL(p_S || p_{S-u})
   <= 0 for any change of P(X) and of P(Y): a genuine feature can have a harm of about zero (when
   the selection makes it constant, say), never a positive one. When u's relation breaks (a
   leak that is noise in test, even with an unchanged marginal), the full model is confidently
   wrong and the harm is large. This is the decision statistic.

   Beside it, the **change** measures whether the relation changed at all, whichever way:
   ``e_i = d_i + KL_i(p_S || p_{S-u})`` removes the part of d the models themselves expect, so
   E[e | x] = 0 for a model that is right about P(Y | X) whatever the feature's value. A fitted
   model is not exactly right: its estimation error alone makes e slightly positive on any new
   rows (seen on plain random splits). So the change is mean(e) on the test rows MINUS mean(e) on
   the validation rows (new rows of the training distribution): ~0 for every feature under pure
   label shift or selection on X, large when a relation breaks, and negative when it
   strengthens. Its interval resamples both sets of rows. It is reported but enters no rule: it
   reacts to small calibration errors of the evidence models on strong genuine features, and
   the decision must never name a genuine feature.

Why leave-one-out refits rather than a Shapley attribution over mechanisms (Zhang et al. 2023):
the refit answers the user's question directly (is the model better on the new data without this
feature?), needs F + 1 cheap fits instead of an exponential number of coalitions, and its sign
under the null follows from KL >= 0 without any model of the shift.

Masking: with a strong leak in the model every other comparison is made in a broken model
(dropping a genuine feature changes how the leak is used, which moves the test loss either way).
So the units are tested step by step: at each step every remaining unit is tested against the
current feature set; the unit with the largest harm among those that pass the rule is removed,
and the remaining units are tested again without it. At the end every removed unit is checked
once more, alone, against the final feature set (add-back); it stays flagged only if it still
passes. Two independent leaks are then both found, and a duplicated leak is found as a group.

Each evidence model is temperature-scaled on the validation split before any of this (one
parameter; fitted networks are a little overconfident on new rows).

Rows a feature cannot be judged on: where its cell is empty in test but never in training, or
holds a level never seen in training (``missing_test``), the networks would see a fill value that
meant something else in training. Such a row is left out of that feature's own harm (the mean
over the kept rows is a ratio of means in the same bootstrap). Every other unit is judged on it
with models that do not have the feature at all (pattern submodels, Mercaldo & Blume 2020): on a
row where ``f`` is empty, the harm of ``g`` compares the model on S - {f} with the one on
S - {f} - g. Judged with the fill value instead, a genuine ``g`` that the networks read together
with ``f`` (a difference of the two, say) can look broken, because with ``f`` at its fill value
``g`` says something it never said in training; the test suite plants that case. Rows are grouped
by which features they cannot be judged on; beyond ``MAX_PATTERNS`` groups the rarer rows use the
models without every such feature (fewer features, never a fill value).

Uncertainty, and why the test's null is calibrated. The harm's interval resamples the audit rows
(percentile bootstrap of mean(d), the fitted models held fixed) AND carries the fit-to-fit
spread: each evidence model averages ``ensemble`` networks fitted with different seeds, the
harm is also computed network by network (network k with the unit against network k without
it), and the variance of those per-network harms over k, divided by k, is added to the rows'
variance. The one-sided p-value for H0: E[d] <= 0 is the studentised mean with that total
standard error. This is the cheapest remedy for the failure of a z-test that conditions on one
fit (in sparse regions or under misspecification the full network's estimation error can make
the fitted harm positive with no broken relation); a reference harm on held-out training rows
reweighted to the audit rows (audit minus reference) would also remove a bias but pays for it
with the weights' variance, which on small audit files turns most answers undetermined.
``benchmarks/harm_level.py`` measures the level that results on 500 null audits (sparse tails
of 300 and 800 training rows, networks too small for P(Y | X), label shift): the rejection
rate's upper 95 % bound stays below 1.5 alpha in each (README).

Family-wise error: the stepwise procedure makes at most ``max_steps`` + 1 removal rounds and one
add-back round on the same rows, each against a base chosen from the data. ``alpha`` is split
over them (weighted Bonferroni, :func:`round_alpha`): half to the first round, a quarter to the
add-back round, the last quarter shared by the later removal rounds; each round runs a weighted
Holm at its share, every round with the same rule (:func:`_decide`), and every unit flagged in
any round, the last included, must pass the add-back round to keep "broke": its test against
the final feature set. A unit flagged against that very set (a lone leak, flagged in the first
round with nothing else removed) already passed that test on the same rows, at its round's share
of alpha, so it is not tested twice: a false "broke" then needs a false rejection in the round
that made it, whose share of alpha already counts it, and the sum over rounds stays alpha. The weights
(:func:`holm_weights`) are what a full break of each unit would cost on validation rows, fixed
before the audit rows are looked at: alpha goes where a break would matter, and a unit whose full
break could not reach its margin (it holds whatever the rows say) does not dilute it.

Decision rule (written beside the statistic in the output), with the unit's material margin m
(:func:`margin`): the relation **broke** when the round's weighted-Holm-adjusted p is below the round's
share of ``alpha`` AND harm >= m; it **holds** when the harm's one-sided upper bound (the
studentised bootstrap bound at ``alpha`` / 2, :func:`holds_alpha`) is below m, an equivalence
test: whatever broke is smaller than the margin; otherwise it is **undetermined** (these rows
cannot tell). m is the larger of ``min_harm_share`` x H(Y), where H(Y) is the entropy of the
class mix of the training partition (nats), and ``margin_break_share`` of the harm a full break
of the unit would cause (:func:`full_break_harm`: its validation loss when its inputs are
permuted, against the model without it). A loss difference in nats means little on its
own: a leak in a 3 %-minority binary task moves the log loss by a few thousandths of a nat, one
in a balanced four-class task by tenths, because the label holds 0.15 nats of uncertainty in the
first and 1.4 in the second; relative to H(Y) the floor reads the same everywhere. The break-cost
share scales the margin to what a break of the unit would do: a fully broken relation costs
about that harm, so it never holds, while a feature whose full break would cost half a nat is not
left undetermined for want of a hundredth. The resolved
values are written beside every row (``min_harm``, ``margin``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from . import stats
from .table import Schema
from .probability import log_softmax, logsumexp, softmax

LOG_FLOOR = np.log(1e-6)
"""Probabilities are floored at 1e-6 before the log (at most 13.8 nats per row), so one row
cannot dominate a mean of thousands."""


EVIDENCE_ACTIVATION = "relu"  # the evidence networks' units (not a setting: the statistic is built on it)


@dataclass(frozen=True)
class EvidenceSettings:
    """Evidence models and the decision rule: ``shift.evidence`` of the validated config (the
    defaults live in the schema) and the seed."""

    hidden: tuple
    activation: str
    lr: float
    batch_size: int
    epochs: int
    patience: int
    l2: float
    min_level_rows: int
    seed: int
    alpha: float
    min_harm_share: float
    margin_break_share: float
    n_boot: int
    max_steps: int
    ensemble: int
    max_train_rows: int
    max_val_rows: int

    @classmethod
    def from_config(cls, cfg: dict, seed: int) -> "EvidenceSettings":
        fields = [f for f in cls.__dataclass_fields__ if f not in ("activation", "seed", "hidden")]
        return cls(hidden=tuple(cfg["hidden"]), activation=EVIDENCE_ACTIVATION, seed=seed,
                   **{f: cfg[f] for f in fields})


def rounds(s: EvidenceSettings) -> int:
    """Most rounds of tests the stepwise procedure can make: ``max_steps`` + 1 removal rounds and
    the add-back round."""
    return s.max_steps + 2


ADD_BACK = 0
"""The round index of the add-back round in :func:`round_alpha` (removal rounds count from 1)."""


def round_alpha(s: EvidenceSettings, step: int = 1) -> float:
    """The level a round's Holm procedure runs at: a weighted Bonferroni split of ``alpha`` over
    every round the procedure can make, so that all its tests together keep one family-wise error
    of ``alpha``. The first round gets half (every unit is tested there, and a leak is found there
    when it is found at all), the add-back round (``step`` = ``ADD_BACK``) a quarter, and the
    ``max_steps`` later removal rounds share the last quarter."""
    if step == ADD_BACK:
        return s.alpha / 4
    if step <= 1:
        return s.alpha / 2
    return s.alpha / 4 / s.max_steps


def full_break_harm(break_cost: float, value_val: float) -> float:
    """The harm a full break of the unit's relation would cause: the model with the unit, its
    inputs replaced by noise (permuted), against the model without it, on validation rows:
    ``break_cost`` (permuted minus intact loss of the model with the unit) minus ``value_val``
    (the loss the model without it gives up). Never below 0."""
    if not np.isfinite(break_cost):
        return float("nan")
    return float(max(break_cost - (value_val if np.isfinite(value_val) else 0.0), 0.0))


def margin(s: EvidenceSettings, min_harm: float, full_break: float) -> float:
    """The unit's material margin m: the larger of ``min_harm_share`` x H(Y) (``min_harm``, the
    floor: a share of what there is to know about the label) and ``margin_break_share`` of the
    harm a full break of the unit would cause (:func:`full_break_harm`). A relation that broke
    fully costs about that harm, so it cannot "hold" under this margin; a strong feature whose
    twin could stand in (the models would lose much more by trusting it wrongly than by dropping
    it) is not left undetermined for want of a hundredth of a nat. The same margin decides
    "broke" (harm at least m) and "holds" (upper bound below m)."""
    extra = s.margin_break_share * full_break if np.isfinite(full_break) else 0.0
    return float(max(min_harm, extra))


def margin_text(s: EvidenceSettings, min_harm: float | None = None) -> str:
    """The material margin in words, as both rules state it."""
    nats = f" = {min_harm:.4g} nats" if min_harm is not None else ""
    return (f"m = max({s.min_harm_share:g} x H(Y){nats}, {s.margin_break_share:g} x the harm a full break "
            f"of the unit would cause)")


def decision_rule(s: EvidenceSettings, min_harm: float | None = None) -> str:
    return (f"relation broke if the round's weighted-Holm-adjusted p (H0: harm <= 0; each unit weighted by "
            f"the harm a full break of it would cause on validation, 0 if that is below its margin) < its "
            f"share of alpha {s.alpha:g} "
            f"(first round {round_alpha(s, 1):.4g}, add-back {round_alpha(s, ADD_BACK):.4g}, each later "
            f"round {round_alpha(s, 2):.4g}: Bonferroni over at most {rounds(s)} rounds), harm >= "
            f"{margin_text(s, min_harm)} per test row, and the unit passes again in the add-back round against "
            f"the final feature set (unless it was flagged against that very set, which would repeat its test)")


def holds_alpha(s: EvidenceSettings) -> float:
    """Nominal miss rate of the upper bound that decides "holds": alpha / 2. Per-row log-loss
    differences are skewed and heavy-tailed; at 100 to 500 rows the studentised bootstrap's
    nominal-alpha bound misses the true mean up to twice as often as alpha, the alpha / 2 bound
    about alpha or less (``benchmarks/harm_interval.py``; a broken relation called "holds" is
    this miss)."""
    return s.alpha / 2


def holds_rule(s: EvidenceSettings, min_harm: float | None = None) -> str:
    return (f"relation holds if the one-sided {100 * (1 - holds_alpha(s)):g} % upper bound of the harm "
            f"(studentised bootstrap, alpha / 2 so that its measured miss rate stays near alpha on "
            f"heavy-tailed rows) < {margin_text(s, min_harm)}, or if even a full break would cause less "
            f"harm than m: any break is smaller than the material margin; undetermined if neither broke "
            f"nor holds")


def outcome(broke: bool, upper: float, margin: float, full_break: float = float("nan")) -> str:
    """'broke', 'holds' or 'undetermined' (neither). A relation holds when the harm's upper bound
    is below the material margin (an equivalence test), or when even a full break of the unit
    (``full_break``, :func:`full_break_harm`) would cause less harm than the margin: no break of
    it can be material, so none needs to be ruled out on the rows."""
    if broke:
        return "broke"
    if np.isfinite(upper) and upper < margin:
        return "holds"
    if np.isfinite(full_break) and full_break < margin:
        return "holds"
    return "undetermined"


# ---------------------------------------------------------------------------------------------
# design matrix of the evidence models


TARGET_ENCODING_FOLDS = 5
"""Folds of the out-of-fold target encoding of the training rows (:class:`Design`)."""


@dataclass
class Design:
    """Encoded columns regrouped for the evidence models: rare levels pooled, one column index
    list per source feature, and for every categorical with pooled levels ``n_classes`` target-
    encoding columns that keep what each level says about the label.

    Why target encoding: pooling alone hides the levels a grid model can still use. A column of
    250 IDs with about 20 training rows each carries the label level by level in a leak; pooled,
    the evidence networks see one constant column and the harm is ~0, so the leak is missed. Each
    level's encoding is its smoothed class log-odds, log((n_lk + a p_k) / (n_l + a)) - log p_k
    (shrunk towards the training mix p with ``a`` pseudo-rows, estimated per feature from the
    levels' spread by empirical Bayes: :func:`level_smoothing`), computed on
    the training rows OUT OF FOLD (each training row's value from the other folds' rows), so the
    networks learn how much a level's label history predicts a new row's label, not the row's own
    label: a level of pure noise gets no weight, and no false harm follows (the 200-level noise
    test). Validation and test rows get the encoding of all training rows; a level never seen in
    training gets 0 (the training mix)."""

    matrix_map: np.ndarray  # (d_encoded, d_design) 0/1
    feature_columns: dict  # source feature -> list of design column indices
    features: list
    encodings: dict = field(default_factory=dict)  # feature -> (encoded column indices, design column indices)
    y_train: np.ndarray | None = None
    n_classes: int = 0
    smoothing: dict = field(default_factory=dict)  # feature -> a, its empirical-Bayes pseudo-rows
    seed: int = 0
    tables: dict = field(default_factory=dict)  # feature -> its levels' encoding from all training rows

    def apply(self, X, out_of_fold: bool = False) -> np.ndarray:
        """The design matrix of encoded rows ``X``; ``out_of_fold`` for the training rows the
        design was built on (their target encoding from the other folds)."""
        X = np.asarray(X, dtype=np.float32)
        out = X @ self.matrix_map
        for f, (enc_cols, design_cols) in self.encodings.items():
            onehot = X[:, enc_cols] != 0
            if out_of_fold:
                fold = np.random.default_rng(self.seed + 29).integers(0, TARGET_ENCODING_FOLDS, len(X))
                values = np.zeros((len(X), self.n_classes), dtype=np.float32)
                for k in range(TARGET_ENCODING_FOLDS):
                    inside = fold == k
                    table = self.level_table(onehot[~inside], self.y_train[~inside], self.smoothing[f])
                    values[inside] = self._lookup(onehot[inside], table)
            else:
                values = self._lookup(onehot, self.tables[f])
            out[:, design_cols] = values
        return out

    def level_table(self, onehot: np.ndarray, y: np.ndarray, a: float) -> np.ndarray:
        """(levels + 1, classes) class log-odds per level, shrunk towards the mix with ``a``
        pseudo-rows (:func:`level_smoothing`); the last row (no level) is 0, as is every row when
        ``a`` is infinite (the levels say nothing beyond the mix)."""
        k = self.n_classes
        if not np.isfinite(a):
            return np.zeros((onehot.shape[1] + 1, k), dtype=np.float32)
        counts = level_counts(onehot, y, k)
        prior = (np.bincount(y, minlength=k) + 0.5) / (len(y) + 0.5 * k)
        logodds = np.log((counts + a * prior) / (counts.sum(axis=1, keepdims=True) + a)) - np.log(prior)
        return np.vstack([logodds, np.zeros(k)]).astype(np.float32)

    @staticmethod
    def _lookup(onehot: np.ndarray, table: np.ndarray) -> np.ndarray:
        level = np.where(onehot.any(axis=1), np.argmax(onehot, axis=1), table.shape[0] - 1)
        return table[level]

    def columns_of(self, features) -> np.ndarray:
        cols = [c for f in self.features if f in features for c in self.feature_columns[f]]
        return np.asarray(sorted(cols), dtype=np.int64)


def build_design(X_train, sources: Sequence[str], categorical: Sequence[str], min_level_rows: int,
                 y_train=None, n_classes: int = 0, seed: int = 0) -> Design:
    """Pool the one-hot columns of rare levels (fewer than ``min_level_rows`` training rows) of
    each categorical into one column; numeric columns pass through. With ``y_train``, every
    categorical with pooled levels also gets ``n_classes`` target-encoding columns (see
    :class:`Design`)."""
    X_train = np.asarray(X_train)
    features = list(dict.fromkeys(sources))
    cat = set(categorical)
    counts = (X_train != 0).sum(axis=0)
    targets: list[int] = []
    feature_columns: dict = {f: [] for f in features}
    n_design = 0
    pooled_slot: dict = {}
    for j, src in enumerate(sources):
        if src in cat and counts[j] < min_level_rows:
            if src not in pooled_slot:
                pooled_slot[src] = n_design
                feature_columns[src].append(n_design)
                n_design += 1
            targets.append(pooled_slot[src])
        else:
            targets.append(n_design)
            feature_columns[src].append(n_design)
            n_design += 1
    encodings = {}
    if y_train is not None and n_classes:
        for src in pooled_slot:
            design_cols = list(range(n_design, n_design + n_classes))
            n_design += n_classes
            feature_columns[src] += design_cols
            encodings[src] = ([j for j, f in enumerate(sources) if f == src], design_cols)
    M = np.zeros((len(sources), n_design), dtype=np.float32)
    M[np.arange(len(sources)), targets] = 1.0
    design = Design(M, feature_columns, features, encodings,
                    None if y_train is None else np.asarray(y_train, dtype=np.int64), n_classes, {}, seed)
    for f, (cols, _) in encodings.items():
        onehot = X_train[:, cols] != 0
        design.smoothing[f] = level_smoothing(level_counts(onehot, design.y_train, n_classes))
        design.tables[f] = design.level_table(onehot, design.y_train, design.smoothing[f])
    return design


def level_counts(onehot: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """(levels, classes) training rows per level and class."""
    counts = np.zeros((onehot.shape[1], n_classes))
    for c in range(n_classes):
        counts[:, c] = onehot[y == c].sum(axis=0)
    return counts


def level_smoothing(counts: np.ndarray) -> float:
    """Pseudo-rows ``a`` of a categorical's target encoding, by empirical Bayes (method of
    moments for a Dirichlet-multinomial): how far the levels' class shares really spread around
    the mix, once their sampling noise is taken out. tau2 = sum over classes of [mean over levels
    of (r_lk - p_k)^2 - mean over levels of p_k (1 - p_k) / n_l], and a = sum_k p_k (1 - p_k) / tau2
    - 1 (at least 1); infinite when tau2 <= 0: the levels carry nothing beyond their noise and
    the encoding is 0.

    Why not a fixed ``a``: with ``min_level_rows`` = 30 pseudo-rows, a level of 15 rows, 90 % of
    one class, was encoded at a quarter of what it says, and the evidence networks (early
    stopping) barely used the encoding: an ID-like leak that the grid models memorise level by
    level kept a harm near 0 and was called "holds". A noise column gets tau2 near 0 and so a
    large ``a`` (an encoding near 0), a label-carrying one a small ``a``: the shrinkage is what
    the levels' spread earns, the James-Stein idea."""
    n_l = counts.sum(axis=1)
    seen = n_l > 0
    if seen.sum() < 2:
        return float("inf")
    counts, n_l = counts[seen], n_l[seen]
    p = counts.sum(axis=0) / n_l.sum()
    between = np.mean((counts / n_l[:, None] - p) ** 2, axis=0) - np.mean(1.0 / n_l) * p * (1 - p)
    tau2 = float(np.sum(between))
    if tau2 <= 0:
        return float("inf")
    return float(max(np.sum(p * (1 - p)) / tau2 - 1, 1.0))


# ---------------------------------------------------------------------------------------------
# evidence models


class PriorModel:
    """The model with no feature: the training class shares."""

    def __init__(self, y, n_classes: int):
        counts = np.bincount(y, minlength=n_classes).astype(np.float64) + 0.5
        self.log_prior = np.log(counts / counts.sum())

    def log_proba(self, X) -> np.ndarray:
        return np.tile(self.log_prior, (len(X), 1))

    def log_probas(self, X) -> list:
        return [self.log_proba(X)]


PREDICT_BLOCK_ROWS = 1 << 16
"""The evidence models predict this many rows at a time (more rows: several blocks)."""


class NetModel:
    """One network, or several fitted with different seeds whose probabilities are averaged."""

    def __init__(self, nets):
        self.nets = list(nets)

    def log_proba(self, X) -> np.ndarray:
        if len(X) == 0:
            return np.zeros((0, self.nets[0].n_out))
        if len(X) > PREDICT_BLOCK_ROWS:  # bounded activations: a block of rows at a time
            return np.concatenate([self.log_proba(X[i:i + PREDICT_BLOCK_ROWS])
                                   for i in range(0, len(X), PREDICT_BLOCK_ROWS)])
        logs = self.log_probas(X)
        if len(logs) == 1:
            return logs[0]
        stacked = np.stack(logs)
        m = stacked.max(axis=0)
        return m + np.log(np.mean(np.exp(stacked - m), axis=0))

    def log_probas(self, X) -> list:
        """Each network's log-probabilities (the fit-to-fit spread of the evidence)."""
        if len(X) > PREDICT_BLOCK_ROWS:
            blocks = [self.log_probas(X[i:i + PREDICT_BLOCK_ROWS]) for i in range(0, len(X), PREDICT_BLOCK_ROWS)]
            return [np.concatenate([b[k] for b in blocks]) for k in range(len(self.nets))]
        return [log_softmax(net.forward(np.asarray(X, dtype=net.dtype)).astype(np.float64)) for net in self.nets]


def fit_evidence_model(X_train, y_train, X_val, y_val, n_classes: int, s: EvidenceSettings):
    """One evidence model on the given design columns (a prior model when there are none)."""
    if X_train.shape[1] == 0:
        return PriorModel(y_train, n_classes)
    from . import nn

    # Adam; momentum is a setting of the momentum optimisers only
    settings = nn.TrainSettings(optimizer="adam", lr=s.lr, batch_size=s.batch_size, epochs=s.epochs,
                                patience=s.patience, momentum=0.0)
    nets = []
    for k in range(max(1, s.ensemble)):
        net = nn.MLP(X_train.shape[1], list(s.hidden), n_classes, s.activation, seed=s.seed + k, l2=s.l2,
                     dtype="float32")
        nn.fit(net, X_train, y_train, X_val, y_val, settings, seed=s.seed + k, blas_threads=1)
        nets.append(net)
    return NetModel(nets)


def fit_temperature(logp: np.ndarray, y: np.ndarray) -> float:
    """Temperature T minimising the log loss of softmax(logp / T) (temperature scaling, Guo et al.
    2017), searched on log T in [-3, 3]. A fitted network is a little overconfident on rows it
    never saw; T > 1 undoes that, so "as likely as the model expects" is a fair null."""
    if len(y) == 0 or logp.shape[1] < 2:
        return 1.0
    rows = np.arange(len(y))

    def nll(log_t):
        z = logp / np.exp(log_t)
        return float(np.mean(logsumexp(z) - z[rows, y]))

    from scipy import optimize  # here, not at import: the tables' readers import this module for its schema

    res = optimize.minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def fit_offsets(logp: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class offsets b maximising sum_i log softmax(logp_i + b)[y_i] over the classes present
    in ``y``; absent classes get -inf (probability 0 after the refit)."""
    present = np.bincount(y, minlength=n_classes) > 0
    b = np.full(n_classes, -np.inf)
    idx = np.flatnonzero(present)
    if idx.size == 1:
        b[idx] = 0.0
        return b
    lp = logp[:, idx]
    remap = np.full(n_classes, -1)
    remap[idx] = np.arange(idx.size)
    yy = remap[y]
    freq = np.bincount(yy, minlength=idx.size) / len(yy)

    def objective(theta):
        z = lp + theta
        lse = logsumexp(z)
        nll = float(np.mean(lse - z[np.arange(len(yy)), yy]))
        p = np.exp(z - lse[:, None])
        return nll, p.mean(axis=0) - freq

    from scipy import optimize

    res = optimize.minimize(objective, np.zeros(idx.size), jac=True, method="L-BFGS-B",
                            bounds=[(-30.0, 30.0)] * idx.size)
    theta = res.x - res.x.mean()
    b[idx] = theta
    return b


def adjusted_log_proba(logp: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log softmax(logp + b) with absent classes (b = -inf) at probability 0, floored."""
    z = logp + np.where(np.isfinite(b), b, 0.0)
    z = np.where(np.isfinite(b), z, -np.inf)
    return np.maximum(z - logsumexp(z, keepdims=True), LOG_FLOOR)


# ---------------------------------------------------------------------------------------------
# units and the stepwise test


@dataclass(frozen=True)
class Unit:
    name: str
    members: tuple
    kind: str  # "feature" or "group"


def make_units(features: Sequence[str], groups: Sequence[Sequence[str]]) -> list[Unit]:
    """Every feature, then every group of two or more of them (the same units as the reliance)."""
    from .reliance import units_of

    return [Unit(name, members, kind) for name, kind, members in units_of(features, groups)]


@dataclass
class _Data:
    design: Design
    Xtr: np.ndarray
    ytr: np.ndarray
    Xva: np.ndarray
    yva: np.ndarray
    Xte: np.ndarray
    yte: np.ndarray
    n_classes: int
    settings: EvidenceSettings
    min_harm: float = 0.0
    skip: dict = field(default_factory=dict)  # feature -> test rows where its cell was empty (none in training)
    cache: dict = field(default_factory=dict)  # feature set -> its evidence model's scores
    row_groups: dict = field(default_factory=dict)  # base -> :meth:`patterns`

    def kept_rows(self, unit: "Unit") -> np.ndarray:
        """1.0 for the test rows that count towards ``unit``'s harm, 0.0 for the rows where a
        member cannot be judged (its cell empty while it never is in training, or a level never
        seen in training): the harm there would measure the fill value, not the relation."""
        keep = np.ones(len(self.yte))
        for m in unit.members:
            if m in self.skip:
                keep[self.skip[m]] = 0.0
        return keep

    def patterns(self, base: frozenset) -> list[tuple[frozenset, np.ndarray]]:
        """The test rows on which some feature of ``base`` cannot be judged, grouped by which:
        ``[(features, rows)]``, the most frequent group first. Beyond ``MAX_PATTERNS`` groups the
        rows of the rarer ones form one group with every such feature of ``base``."""
        if base not in self.row_groups:
            names = [f for f in self.design.features if f in base and f in self.skip]
            groups: dict[frozenset, list] = {}
            if names:
                masks = np.column_stack([self.skip[f] for f in names])
                found, inverse = np.unique(masks, axis=0, return_inverse=True)
                inverse = np.ravel(inverse)
                ranked = sorted(((int(np.sum(inverse == j)), j) for j in range(len(found)) if found[j].any()),
                                key=lambda t: (-t[0], t[1]))
                everything = frozenset(names)
                for i, (_, j) in enumerate(ranked):
                    features = (frozenset(f for f, on in zip(names, found[j]) if on)
                                if i < MAX_PATTERNS - 1 or len(ranked) <= MAX_PATTERNS else everything)
                    groups.setdefault(features, []).append(np.flatnonzero(inverse == j))
            self.row_groups[base] = [(f, np.sort(np.concatenate(r))) for f, r in groups.items()]
        return self.row_groups[base]

    def scores(self, features: frozenset, unadjusted: bool = False) -> dict:
        """Adjusted test log-probabilities, validation log-probabilities of the model on
        ``features`` (fitted once per feature set); with ``unadjusted``, also the test
        log-probabilities before the class offsets (kept only when asked: one more test-sized
        matrix per feature set)."""
        if features not in self.cache or (unadjusted and "test_unadjusted" not in self.cache[features]):
            cols = self.design.columns_of(features)
            model = fit_evidence_model(self.Xtr[:, cols], self.ytr, self.Xva[:, cols], self.yva,
                                       self.n_classes, self.settings)
            lp_va = model.log_proba(self.Xva[:, cols])
            t = fit_temperature(lp_va, self.yva)
            each = model.log_probas(self.Xte[:, cols]) if len(self.yte) else []
            lp_te = _mixture(each) / t if len(self.yte) else model.log_proba(self.Xte[:, cols]) / t
            b = fit_offsets(lp_te, self.yte, self.n_classes) if len(self.yte) else np.zeros(self.n_classes)
            lp_va = adjusted_log_proba(lp_va / t, np.zeros(self.n_classes))
            # each network alone, with the ensemble's temperature and class offsets: the same
            # statistic per fit, whose spread is the fit-to-fit variance of the harm
            self.cache[features] = {"test": adjusted_log_proba(lp_te, b), "val": lp_va, "offsets": b,
                                    "temperature": t, "model": model, "columns": cols,
                                    "test_each": [adjusted_log_proba(x / t, b) for x in each] if len(each) > 1 else []}
            if unadjusted:
                self.cache[features]["test_unadjusted"] = lp_te
        return self.cache[features]

    def break_cost(self, features: frozenset, unit: "Unit") -> float:
        """What a full break of ``unit``'s relation would cost the model on ``features``: its
        validation log loss with the unit's columns permuted across rows (the relation replaced
        by noise, the marginal kept) minus its loss as fitted, in nats per row, averaged over
        ``BREAK_PERMUTATIONS`` seeded permutations. Unlike the drop-and-refit value, a correlated
        twin cannot stand in for the permuted unit, so this is the loss a broken relation causes."""
        entry = self.scores(features)
        n = len(self.yva)
        own = [c for f in unit.members for c in self.design.feature_columns.get(f, [])]
        if n < 2 or not own:
            return float("nan")
        cols = entry["columns"]
        where = np.flatnonzero(np.isin(cols, own))
        X = self.Xva[:, cols]
        rows = np.arange(n)
        base = -float(np.mean(entry["val"][rows, self.yva]))
        rng = np.random.default_rng(self.settings.seed + 17)
        costs = []
        for _ in range(BREAK_PERMUTATIONS):
            Xp = X.copy()
            Xp[:, where] = X[rng.permutation(n)][:, where]
            lp = adjusted_log_proba(entry["model"].log_proba(Xp) / entry["temperature"],
                                    np.zeros(self.n_classes))
            costs.append(-float(np.mean(lp[rows, self.yva])) - base)
        return float(np.mean(costs))


def _mixture(logs: list) -> np.ndarray:
    """log of the mean of the probabilities exp(logs[k])."""
    if len(logs) == 1:
        return logs[0]
    stacked = np.stack(logs)
    m = stacked.max(axis=0)
    return m + np.log(np.mean(np.exp(stacked - m), axis=0))


BREAK_PERMUTATIONS = 3
"""Permutations averaged in :meth:`_Data.break_cost`."""

KL_CREDIT = 0.0
"""Not a setting; 0 ships. The share c of the evidence model's own expected gain that the harm's
null credits: the one-sided test is then of mean(d + c KL(p_S || p_S-u)) <= 0, which holds for
c <= 1 when the model on S is right about P(Y | X), and has up to twice the z of the harm for a
broken relation (c = 1 is the likelihood ratio of the two fitted models, the most powerful test
if they were exact). Fitted networks are not exact: ``benchmarks/harm_level.py --kl-credit 0.5``
measures the level it costs and ``benchmarks/power_ceiling.py --kl-credit`` the power it buys
(README, "Calibration"); the decision rule's other parts (the margin, "holds") are unchanged."""


MAX_PATTERNS = 4
"""Groups of rows by the features they cannot be judged on, each with its own models
(:meth:`_Data.patterns`)."""


def _test_scores(data: _Data, base: frozenset, unit: Unit) -> tuple:
    """Test log-probabilities with and without ``unit`` (against ``base``), and per network of
    the ensemble (lists, empty for a single network). Each row is scored by the models without
    the features it cannot be judged on (:meth:`_Data.patterns`), so no row's harm reads a
    fill value; the rows where the unit itself cannot be judged are left out later
    (:meth:`_Data.kept_rows`) and keep the base models' scores."""
    members = set(unit.members)
    full, reduced = data.scores(base), data.scores(base - members)
    n_each = len(full["test_each"])

    def nets(entry):  # per network; a prior (one "network") stands for each
        return entry["test_each"] or [entry["test"]] * n_each

    lf, lr, ef, er = full["test"], reduced["test"], nets(full), nets(reduced)
    kept = data.kept_rows(unit) > 0
    groups = [(features, rows[kept[rows]]) for features, rows in data.patterns(base)]
    groups = [(features, rows) for features, rows in groups if len(rows)]
    if groups:  # copies only when some rows take other models' scores
        lf, lr = lf.copy(), lr.copy()
        ef, er = [a.copy() for a in ef], [a.copy() for a in er]
    for features, rows in groups:
        drop = features - members
        pf, pr = data.scores(base - drop), data.scores(base - drop - members)
        for out, src in zip([lf, lr, *ef, *er], [pf["test"], pr["test"], *nets(pf), *nets(pr)]):
            out[rows] = src[rows]
    return lf, lr, ef, er


def _compare(data: _Data, base: frozenset, unit: Unit) -> dict:
    """Per-row harm d and change e of ``unit`` against the base feature set (on test), the unit's
    value on validation (drop and refit) and what a full break of it would cost (permutation)."""
    full = data.scores(base)
    reduced = data.scores(base - set(unit.members))
    rows = np.arange(len(data.yte))
    lf, lr, each_f, each_r = _test_scores(data, base, unit)
    d = lr[rows, data.yte] - lf[rows, data.yte]  # loss with the unit minus loss without it
    kl = np.sum(np.exp(lf) * (lf - lr), axis=1)
    vrows = np.arange(len(data.yva))
    vf, vr = full["val"], reduced["val"]
    d_val = vr[vrows, data.yva] - vf[vrows, data.yva]
    e_val = d_val + np.sum(np.exp(vf) * (vf - vr), axis=1)
    value_val = float(-np.mean(d_val)) if len(vrows) else float("nan")
    acc_full = float(np.mean(np.argmax(lf, axis=1) == data.yte)) if len(rows) else float("nan")
    acc_red = float(np.mean(np.argmax(lr, axis=1) == data.yte)) if len(rows) else float("nan")
    if each_f:  # network k with the unit against network k without it (the same seed); a prior has one
        d_each = np.stack([r[rows, data.yte] - f[rows, data.yte] for f, r in zip(each_f, each_r)])
    else:
        d_each = d[None, :]
    return {"d": d, "e": d + kl, "e_val": e_val, "value_val": value_val, "acc_with": acc_full,
            "acc_without": acc_red, "break_cost": data.break_cost(base, unit), "d_each": d_each}


def class_mix_explained(data: "_Data", features: frozenset) -> dict:
    """How much of the test rows' class mix the inputs explain: the mix the train-fitted model on
    ``features`` predicts for them (no class offsets) against the mix observed. Under covariate
    shift alone the two agree; the remainder, their total variation distance, is the change of
    the class mix that the inputs do not explain (label shift). Bootstrap interval over rows."""
    s = data.settings
    n, k = len(data.yte), data.n_classes
    if n == 0:
        nan = float("nan")
        return {"predicted_share": [nan] * k, "observed_share": [nan] * k, "unexplained_tv": nan,
                "unexplained_tv_ci_low": nan, "unexplained_tv_ci_high": nan}
    lp = data.scores(features, unadjusted=True).pop("test_unadjusted")
    p = softmax(lp)
    onehot = np.eye(k)[data.yte]
    draws = stats.bootstrap_means(np.hstack([p, onehot]), s.n_boot, seed=s.seed + 7)
    tv_draws = 0.5 * np.abs(draws[:, :k] - draws[:, k:]).sum(axis=1)
    predicted, observed = p.mean(axis=0), onehot.mean(axis=0)
    lo, hi = stats.percentile_ci(tv_draws)
    return {"predicted_share": predicted.tolist(), "observed_share": observed.tolist(),
            "unexplained_tv": float(0.5 * np.abs(predicted - observed).sum()),
            "unexplained_tv_ci_low": float(lo), "unexplained_tv_ci_high": float(hi)}


def _test_units(data: _Data, base: frozenset, units: list[Unit], step: int) -> list[dict]:
    """Every unit of ``units`` against ``base``: the harm with its interval, the studentised upper
    bound, the one-sided p-value adjusted by Holm at the round's level, and the outcome."""
    s = data.settings
    results = [_compare(data, base, u) for u in units]
    n, n_val = len(data.yte), len(data.yva)
    nan = float("nan")
    keeps = [data.kept_rows(u) for u in units]
    if n >= 2 and units:
        # d, e and d**2 of every unit over its kept rows, and the kept share, in the same
        # resamples (the bootstrap-t bound needs d**2; a mean over kept rows is a ratio of means)
        cols = [x for c, k in zip(results, keeps) for x in (c["d"] * k, c["e"] * k, c["d"] ** 2 * k, k)]
        raw = stats.bootstrap_means(np.column_stack(cols), s.n_boot, seed=s.seed + 1000 * step)
        with np.errstate(invalid="ignore", divide="ignore"):
            draws = np.column_stack([raw[:, 4 * k + j] / raw[:, 4 * k + 3] for k in range(len(units)) for j in range(3)])
    else:
        draws = np.full((s.n_boot, 3 * len(units)), np.nan)
    if n_val >= 2 and units:
        val_draws = stats.bootstrap_means(np.column_stack([c["e_val"] for c in results]), s.n_boot,
                                          seed=s.seed + 1000 * step + 1)
    else:
        val_draws = np.zeros((s.n_boot, len(units)))
    rows = []
    for k, (u, c) in enumerate(zip(units, results)):
        dd, ee, dsq = draws[:, 3 * k], draws[:, 3 * k + 1] - val_draws[:, k], draws[:, 3 * k + 2]
        kept = keeps[k] > 0
        n_kept = int(kept.sum())
        d_kept = c["d"][kept]
        harm = float(np.mean(d_kept)) if n_kept else nan
        se_rows = float(np.nanstd(dd, ddof=1)) if n_kept >= 2 else nan
        # fit-to-fit variance: the spread of the harm over the ensemble's networks, of their mean
        per_fit = c["d_each"][:, kept].mean(axis=1) if n_kept else np.array([nan])
        var_fit = float(np.var(per_fit, ddof=1) / len(per_fit)) if len(per_fit) > 1 else 0.0
        se = float(np.sqrt(se_rows ** 2 + var_fit)) if n_kept >= 2 else nan
        stat, se_stat = harm, se
        if KL_CREDIT and n_kept >= 2:  # benchmarks only (see KL_CREDIT): d + credit x KL per row
            stat = harm + KL_CREDIT * float(np.mean(c["e"][kept] - d_kept))
            credited = (1 - KL_CREDIT) * dd + KL_CREDIT * draws[:, 3 * k + 1]
            se_stat = float(np.sqrt(np.nanstd(credited, ddof=1) ** 2 + var_fit))
        if n_kept >= 2 and se_stat > 0:
            p = float(stats.normal_sf(stat / se_stat))
        elif n_kept >= 2:
            p = 0.0 if stat > 0 else 1.0
        else:
            p = nan
        h_lo, h_hi = stats.percentile_ci(dd) if n_kept >= 2 else (nan, nan)
        if var_fit > 0 and n_kept >= 2:  # widened by the fits' spread, in quadrature
            z = stats.normal_quantile(1 - stats.ALPHA / 2) * np.sqrt(var_fit)
            h_lo, h_hi = harm - float(np.hypot(harm - h_lo, z)), harm + float(np.hypot(h_hi - harm, z))
        e_lo, e_hi = stats.percentile_ci(ee) if n_kept >= 2 else (nan, nan)
        e_ref = float(np.mean(c["e_val"])) if n_val else 0.0
        upper = (stats.studentized_upper(harm, float(np.std(d_kept, ddof=1)), n_kept, dd, dsq, holds_alpha(s))
                 if n_kept >= 2 else nan)
        if np.isfinite(upper) and var_fit > 0:  # the rows' margin and the fits' margin, in quadrature
            upper = harm + float(np.hypot(upper - harm, stats.normal_quantile(1 - holds_alpha(s)) * np.sqrt(var_fit)))
        rows.append({
            "unit": u.name, "kind": u.kind, "members": ";".join(u.members), "step": step,
            "base": ";".join(f for f in data.design.features if f in base),
            "harm": harm, "harm_ci_low": float(h_lo), "harm_ci_high": float(h_hi), "harm_se": se,
            "harm_se_fit": float(np.sqrt(var_fit)),
            "harm_upper": upper, "p_value": p,
            "n_rows_unit": n_kept,
            "change": float(np.mean(c["e"][kept])) - e_ref if n_kept else nan,
            "change_ci_low": float(e_lo), "change_ci_high": float(e_hi),
            "value_val": c["value_val"], "break_cost": c["break_cost"],
            "acc_with": c["acc_with"], "acc_without": c["acc_without"],
        })
    _decide(rows, data, step)
    return rows


def _decide(rows: list[dict], data: _Data, step: int) -> None:
    """The one decision rule, for the stepwise rounds and the add-back round alike: Holm over the
    round's units at the round's share of ``alpha`` (Bonferroni over every round the procedure
    can make), the material margin, and the three outcomes."""
    s = data.settings
    level = round_alpha(s, step)
    for r in rows:
        r["full_break_harm"] = full_break_harm(r["break_cost"], r["value_val"])
        r["margin"] = margin(s, data.min_harm, r["full_break_harm"])
    weights = holm_weights(rows)
    adjusted = stats.weighted_holm([r["p_value"] for r in rows], weights)
    total = float(np.sum(weights))
    for r, pa, w in zip(rows, adjusted, weights):
        r["p_holm"] = float(pa)
        r["alpha_weight"] = float(w / total) if total > 0 else 0.0
        r["mde"] = stats.min_detectable(r["harm_se"], level * r["alpha_weight"]) if w > 0 else float("nan")
        r["broke"] = bool(np.isfinite(pa) and pa < level and r["harm"] >= r["margin"])
        r["outcome"] = outcome(r["broke"], r["harm_upper"], r["margin"], r["full_break_harm"])


def holm_weights(rows: list[dict]) -> np.ndarray:
    """Each unit's weight in its round's weighted Holm (:func:`shortcut.stats.weighted_holm`): the
    harm a full break of it would cause (``full_break_harm``, measured on validation rows by
    models fitted on training rows, so fixed before any audit row is seen), and 0 for a unit whose
    full break would cost less than its margin: such a unit cannot break materially (it "holds"
    whatever the audit rows say), so it is left out of the family instead of diluting alpha. A
    plain Holm over every unit spent alpha / F on each; with twenty features and one leak of
    moderate strength the leak then needed a p below 0.001. The weights give alpha where a break
    would matter. If a full break cannot be measured (a NaN), every unit weighs the same."""
    full = np.array([r["full_break_harm"] for r in rows], dtype=np.float64)
    if not np.all(np.isfinite(full)):
        return np.ones(len(rows))
    margins = np.array([r["margin"] for r in rows], dtype=np.float64)
    return np.where(full >= margins, full, 0.0)


# shift/conditional.parquet and conditional_steps.parquet (the shift_evidence rule), read by
# diagnose and the report.
EVIDENCE_COLUMNS = Schema("conditional evidence", {
    "unit": "string", "kind": "string", "members": "string", "step": "int64", "base": "string",
    "n_rows": "int64", "n_rows_unit": "int64",
    **dict.fromkeys(["harm", "harm_ci_low", "harm_ci_high", "harm_se", "harm_se_fit", "harm_upper", "p_value",
                     "p_holm", "alpha_weight", "mde", "change", "change_ci_low", "change_ci_high", "value_val", "break_cost",
                     "full_break_harm", "margin", "acc_with", "acc_without"], "float64"),
    "broke": "bool", "outcome": "string", "min_harm": "float64", "label_entropy": "float64",
    "unseen_share": "float64", "rule": "string", "holds_rule": "string",
})


def unseen_rows(X, sources: Sequence[str], categorical: Sequence[str]) -> dict:
    """Per categorical feature, which rows of ``X`` (encoded) hold a level never seen in training:
    the encoder leaves all of that feature's one-hot columns at 0 for them (a missing cell is
    filled with a training level first, so it is not counted)."""
    X = np.asarray(X)
    out = {}
    for f in dict.fromkeys(categorical):
        cols = [j for j, src in enumerate(sources) if src == f]
        if cols:
            out[f] = ~(X[:, cols] != 0).any(axis=1)
    return out


def unseen_share(unseen: dict, members: Sequence[str]) -> float:
    """Share of rows with a never-seen level in any categorical member of a unit (0 for none)."""
    masks = [unseen[m] for m in members if m in unseen]
    if not masks or not len(masks[0]):
        return 0.0
    return float(np.mean(np.logical_or.reduce(masks)))


def conditional_shift(X_train, y_train, X_val, y_val, X_test, y_test, *, sources: Sequence[str], categorical: Sequence[str],
                      groups: Sequence[Sequence[str]] = (), n_classes: int,
                      settings: EvidenceSettings, missing_test: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-unit conditional-shift evidence (final), and every step's tests.

    ``X_test``/``y_test`` are the supported test rows only (the caller drops the rest);
    ``missing_test``: per feature, which of these rows it cannot be judged on (an empty cell
    where training has none, or a level never seen in training): left out of that feature's
    units' harm (:meth:`_Data.kept_rows`). Returns
    ``(evidence, steps, mix)``: ``evidence`` has one row per unit (every feature, then every group
    of two or more strongly associated features) with ``EVIDENCE_COLUMNS``; ``steps`` every test
    made on the way (same columns, one row per unit and step); ``mix`` the class mix the inputs
    explain (:func:`class_mix_explained`, with all features).
    """
    s = settings
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    if len(y_train) > s.max_train_rows:
        from .data import stratified_split

        keep = stratified_split(y_train, s.max_train_rows / len(y_train), s.seed)
        X_train, y_train = X_train[keep], y_train[keep]
    X_val, y_val = np.asarray(X_val), np.asarray(y_val)
    if len(y_val) > s.max_val_rows:
        from .data import stratified_split

        keep = stratified_split(y_val, s.max_val_rows / len(y_val), s.seed + 1)
        X_val, y_val = X_val[keep], y_val[keep]
    design = build_design(X_train, sources, categorical, s.min_level_rows, y_train, n_classes, s.seed)
    entropy = stats.label_entropy(y_train, n_classes)
    data = _Data(design, design.apply(X_train, out_of_fold=True), np.asarray(y_train, dtype=np.int64),
                 design.apply(X_val), np.asarray(y_val, dtype=np.int64),
                 design.apply(X_test), np.asarray(y_test, dtype=np.int64), n_classes, s,
                 min_harm=s.min_harm_share * entropy,
                 skip={f: np.asarray(m, dtype=bool) for f, m in (missing_test or {}).items() if np.any(m)})
    units = make_units(design.features, groups)
    base = frozenset(design.features)
    mix = class_mix_explained(data, base)
    flagged: list[Unit] = []
    flagged_against: dict[str, frozenset] = {}  # unit -> the feature set of the round that flagged it
    bases = [base]
    all_steps: list[dict] = []
    final: dict = {}
    step = 1
    while True:
        remaining = [u for u in units if set(u.members) <= base]
        if not remaining:
            break
        rows = _test_units(data, base, remaining, step)
        all_steps += rows
        for r in rows:
            final[r["unit"]] = r
        passing = [(r["harm"], i) for i, r in enumerate(rows) if r["broke"]]
        if not passing or len(data.yte) == 0:
            break
        if step > s.max_steps:
            # no more removals: the units that pass in this last round still face the add-back
            flagged += [remaining[i] for _, i in sorted(passing, reverse=True)]
            flagged_against.update({remaining[i].name: base for _, i in passing})
            break
        _, best = max(passing)
        flagged.append(remaining[best])
        flagged_against[remaining[best].name] = base
        bases.append(base - set(remaining[best].members))
        base = bases[-1]
        step += 1
        # only the bases are compared again (the next step's, the add-back's): drop the models
        # without one unit of this step (a test-sized matrix each; a dropped one that were
        # needed again would be refitted identically)
        # (and the models without the features some rows cannot be judged on, per base)
        needed = set(bases) | {b - f for b in bases for f, _ in data.patterns(b)}
        data.cache = {k: v for k, v in data.cache.items() if k in needed}
    # add-back round: every flagged unit alone against the final feature set (without all the
    # flagged units), under the same rule; no unit keeps "broke" without it. A unit flagged
    # against that very set (a lone leak: flagged in the first round, nothing else removed) has
    # passed this test already, on the same rows at its round's share of alpha: repeating it
    # would only spend alpha twice on one hypothesis, so it keeps its round's decision, and the
    # add-back's share of alpha goes to the units it really tests.
    final_base = base - {m for u in flagged for m in u.members}
    again = [u for u in flagged if final_base | set(u.members) != flagged_against[u.name]]
    if again:
        checks = [_test_units(data, final_base | set(u.members), [u], step + 1)[0] for u in again]
        _decide(checks, data, ADD_BACK)
        for r in checks:
            all_steps.append(r)
            final[r["unit"]] = r
    # a unit that lost a member to a flagged unit was not tested again: its last result was
    # measured with the broken member inside, so its break is that member's, not its own
    names = {u.name for u in flagged}
    for u in units:
        if u.name not in names and u.name in final and not set(u.members) <= final_base:
            final[u.name] = dict(final[u.name], broke=False, outcome="undetermined")
    rule = decision_rule(s, data.min_harm)
    holds = holds_rule(s, data.min_harm)
    n = len(data.yte)
    evidence = []
    for u in units:
        r = dict(final[u.name]) if u.name in final else {"unit": u.name, "kind": u.kind,
                                                        "members": ";".join(u.members)}
        r["n_rows"] = n
        r["min_harm"] = data.min_harm
        r["label_entropy"] = entropy
        r["rule"] = rule
        r["holds_rule"] = holds
        r.setdefault("broke", False)
        r.setdefault("outcome", "undetermined")
        evidence.append(r)
    steps = pd.DataFrame(all_steps).assign(n_rows=n, min_harm=data.min_harm, label_entropy=entropy,
                                           rule=rule, holds_rule=holds)
    return (pd.DataFrame(evidence).reindex(columns=list(EVIDENCE_COLUMNS)),
            steps.reindex(columns=list(EVIDENCE_COLUMNS)), mix)


def audit_evidence(train, val, audit, encoder: dict, n_classes: int, *, domain_settings,
                   evidence_settings: EvidenceSettings, missing_audit: dict | None = None) -> dict:
    """The whole shift evidence of one dataset from its encoded splits, as the pipeline computes it.

    ``train``/``val``/``audit``: ``(X, y, rows)`` of the training partition, the validation split
    and the audit part of the test rows (``shortcut.files.read_encoded``); ``encoder``: the fitted
    encoder (sources, categorical levels, groups). Returns ``shift`` (the domain model
    of ``shortcut.domain.shift_model``), ``evidence`` and ``steps`` (``conditional_shift``, on the
    supported audit rows). ``missing_audit``: per feature with no empty cell in training, which
    audit rows had one (``shortcut.files.read_missing``).
    """
    from . import domain

    (Xtr, ytr, _), (Xva, yva, _), (Xte, yte, _) = train, val, audit
    layout = {"sources": encoder["sources"],
              "categorical": list(encoder["categorical"])}
    shift = domain.shift_model([Xtr, Xva], np.concatenate([ytr, yva]), Xte, yte, **layout,
                               n_classes=n_classes, X_train_partition=Xtr, settings=domain_settings,
                               missing_test=missing_audit)
    keep = shift["supported"]
    unseen = unseen_rows(Xte, encoder["sources"], encoder["categorical"])
    # rows a unit cannot be judged on: its feature's cell empty only in test, or a level of it
    # never seen in training
    skip = {f: np.asarray(m, dtype=bool) for f, m in (missing_audit or {}).items()}
    for f, m in unseen.items():
        skip[f] = skip[f] | m if f in skip else m
    evidence, steps, mix = conditional_shift(Xtr, ytr, Xva, yva, Xte[keep], yte[keep], **layout,
                                             groups=encoder.get("groups", []), n_classes=n_classes,
                                             settings=evidence_settings,
                                             missing_test={f: m[keep] for f, m in skip.items()})
    shift["class_mix_explained"] = mix
    evidence["unseen_share"] = [unseen_share(unseen, m.split(";")) for m in evidence["members"]]
    return {"shift": shift, "evidence": evidence, "steps": steps}
