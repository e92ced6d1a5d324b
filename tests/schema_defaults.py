"""Training settings for tests, built from the config schema's ``default:`` values (the one place
defaults live), so a test that does not care about a setting trains as the pipeline would."""

from __future__ import annotations

from pathlib import Path

import yaml

from shortcut import nn

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def model_defaults() -> dict:
    """The ``default:`` of every property of a ``models.<name>`` entry."""
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    props = schema["properties"]["models"]["additionalProperties"]["properties"]
    return {name: prop["default"] for name, prop in props.items() if "default" in prop}


def train_settings(**values) -> nn.TrainSettings:
    """``TrainSettings`` of a model setting with the schema's defaults, ``values`` over them (``lr``
    has no default: pass it, or it is 1e-3)."""
    return nn.TrainSettings.from_config({"lr": 1e-3, **model_defaults(), **values})
