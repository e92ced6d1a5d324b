"""Names the report gives things: attribution methods, splits, the parts of the accuracy change,
and its figures."""

from __future__ import annotations


METHOD_NAMES = {
    "integrated_gradients": "integrated gradients",
    "input_x_gradient": "input × gradient",
    "loss_gradient": "loss gradient",
}


def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method.replace("_", " "))


SPLIT_NAMES = {"train": "train", "val": "validation", "audit": "test (audit)", "confirm": "test (confirmation)"}
EVAL_SPLITS = ("val", "audit", "confirm")  # evaluated splits (train metrics come from training)


# The four parts of the accuracy change validation -> test (columns of decomposition.csv).
PARTS = {
    "class_mix": ("class mix", "#bf8700"),
    "covariate": ("inputs", "#8250df"),
    "conditional": ("relation Y | X", "#d1242f"),
    "unsupported": ("outside support", "#8c959f"),
}


# Figures the report writes into report/figures/ (file stem -> title). The rule declares one
# output per name; figures made by other rules are copied byte for byte.
FIGURES = {
    "eda_class_distribution": "Class distribution",
    "eda_boxplots": "Per-class box plots",
    "eda_target_association": "Feature-class association",
    "training_curves": "Training curves",
    "gradient_flow": "Gradient flow",
    "generalization": "Generalization",
    "attribution": "Attribution",
    "conditional_shift": "Conditional shift",
    "decomposition": "Accuracy-drop decomposition",
    "remedy": "Remedy",
    "shared_bias": "Shared-bias study",
}
