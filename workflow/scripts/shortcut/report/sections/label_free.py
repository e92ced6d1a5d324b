"""Section "Without labels: expected against measured": what the label-free audit of the same
test rows expected (their labels not read), beside the accuracy the labels measured."""

from __future__ import annotations

from .. import facts
from ..load import Inputs
from ..render import Section
from ..unlabeled import labelled_section, measured_test_accuracy


def section(inp: Inputs) -> Section:
    measured = measured_test_accuracy(inp.per_seed, inp.test_split, facts.models(inp))
    return labelled_section(inp.label_free, measured, list(inp.diagnosis.get("suspects", [])))
