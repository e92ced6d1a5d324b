"""Configs as the workflow sees them: defaults live only in the JSON schema, so a test that builds
a partial config fills it the way the Snakefile does (``snakemake.utils.validate`` with
``set_default=True``) before handing it to the library."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"


# The smallest dataset section the schema accepts (for defaults that do not depend on it).
MINIMAL = {"target": "y", "classes": [0, 1], "features": {"categorical": [], "numeric": ["x"]}}


def validated(partial: dict) -> dict:
    """``partial`` completed from the schema's defaults. Required keys it lacks (the model grid,
    the dataset's name) come from the shipped default config; nothing else does."""
    shipped = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config = {key: shipped[key] for key in ("dataset", "models", "grid")}
    config.update(copy.deepcopy(partial))
    validate(config, str(SCHEMA), set_default=True)
    return config


def defaults(*keys: str):
    """The schema's default value at ``keys`` (e.g. ``defaults("shift", "thresholds")``), as the
    workflow hands it to a job."""
    config = validated(MINIMAL)
    for key in keys:
        config = config[key]
    return copy.deepcopy(config)


def evidence_settings(seed: int = 0, **values):
    """The shift evidence's settings as the workflow builds them, ``values`` over the defaults."""
    from shortcut import conditional

    return conditional.EvidenceSettings.from_config({**defaults("shift", "evidence"), **values}, seed)


def domain_settings(seed: int = 0, **values):
    """The domain classifier's settings as the workflow builds them, ``values`` over the defaults."""
    from shortcut import domain

    return domain.DomainSettings.from_config({**defaults("shift", "domain"), **values}, seed)


def train_settings(**values):
    """``TrainSettings`` of a model setting completed from the schema's defaults, ``values`` over
    them. ``lr`` has no default in the schema (every setting names one): pass it, or the test
    gets 1e-3."""
    from shortcut import nn

    config = {**MINIMAL, "models": {"t": {"activation": "relu", "lr": 1e-3}}, "grid": {"models": ["t"], "seeds": [0]}}
    # values go over the completed setting unvalidated, so a test can pass a bad one on purpose
    return nn.TrainSettings.from_config({**validated(config)["models"]["t"], **values})


def small_demo(dataset: str, **overrides) -> dict:
    """A complete config of a tiny demo run (2,000 training rows, one 5-epoch ReLU model, one
    seed) in which the planted shortcut is still confirmed: for tests that run the whole workflow,
    also as a module (whose config is only what it is given, so every role is spelled out).
    ``overrides`` replace top-level keys."""
    return {
        "dataset": dataset,
        "demo": {"rows_train": 2000, "rows_test": 600, "seed": 7},
        "target": "price_class",
        "classes": [0, 1, 2, 3],
        "class_names": ["Budget", "Mid-range", "Premium", "Luxury"],
        "features": {"categorical": ["neighbourhood_group", "room_type"],
                     "numeric": ["minimum_nights", "amenity_score", "number_of_reviews", "availability_365"]},
        "models": {"relu": {"activation": "relu", "lr": 0.003, "epochs": 5, "patience": 0}},
        "grid": {"models": ["relu"], "seeds": [0]},
        "shared_bias": {"epochs": 2},
        "saliency": {"ig_steps": 4},
        **overrides,
    }
