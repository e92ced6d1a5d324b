"""Hand-computed checks of shortcut.metrics."""

import math

import numpy as np
import pytest

from shortcut.metrics import classification_metrics, log_loss, summarize_seeds

# 6 rows, 3 classes; predictions (argmax) are [0, 1, 1, 1, 2, 0].
Y = np.array([0, 0, 1, 1, 2, 2])
P = np.array(
    [
        [0.7, 0.2, 0.1],  # true 0, pred 0, p_true 0.7
        [0.2, 0.5, 0.3],  # true 0, pred 1, p_true 0.2
        [0.3, 0.6, 0.1],  # true 1, pred 1, p_true 0.6
        [0.25, 0.5, 0.25],  # true 1, pred 1, p_true 0.5
        [0.1, 0.1, 0.8],  # true 2, pred 2, p_true 0.8
        [0.6, 0.1, 0.3],  # true 2, pred 0, p_true 0.3
    ]
)


def test_hand_computed_case():
    m = classification_metrics(Y, P, n_classes=3, majority_class=1)
    assert m["n"] == 6
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls 1/2, 2/2, 1/2
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    # precisions 1/2, 2/3, 1/1 -> F1 = 2tp/(support+predicted): 2/4, 4/5, 2/3
    assert m["f1"] == pytest.approx([0.5, 0.8, 2 / 3])
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    expected_ll = -np.mean(np.log([0.7, 0.2, 0.6, 0.5, 0.8, 0.3]))
    assert m["log_loss"] == pytest.approx(expected_ll)
    assert m["majority_baseline"] == pytest.approx(2 / 6)
    assert isinstance(m["confusion"], list) and isinstance(m["confusion"][0], list)


def test_majority_baseline_uses_given_class_not_split_majority():
    # The split's own majority is class 0, but the caller's (train) majority is 2.
    y = np.array([0, 0, 0, 2])
    p = np.tile([1.0, 0.0, 0.0], (4, 1))
    m = classification_metrics(y, p, n_classes=3, majority_class=2)
    assert m["majority_baseline"] == pytest.approx(0.25)
    assert m["accuracy"] == pytest.approx(0.75)


def test_log_loss_is_clipped_and_finite():
    y = np.array([0, 1])
    p = np.array([[0.0, 1.0], [1.0, 0.0]])  # confidently wrong: p_true = 0
    ll = log_loss(y, p)
    assert math.isfinite(ll)
    assert ll == pytest.approx(-math.log(1e-15))
    # float32 input, unnormalised rows are renormalised
    assert log_loss([0], np.array([[2.0, 2.0]], dtype=np.float32)) == pytest.approx(math.log(2))


def test_absent_class_excluded_from_balanced_accuracy_and_macro_f1():
    # class 2 never occurs and is never predicted
    y = np.array([0, 1, 1])
    p = np.array([[0.9, 0.1, 0.0], [0.9, 0.1, 0.0], [0.1, 0.9, 0.0]])
    m = classification_metrics(y, p, n_classes=3, majority_class=1)
    assert m["balanced_accuracy"] == pytest.approx((1.0 + 0.5) / 2)
    # class 0: tp1, support1, pred2 -> 2/3 ; class 1: tp1, support2, pred1 -> 2/3
    assert m["macro_f1"] == pytest.approx(2 / 3)
    assert math.isnan(m["f1"][2])


def test_input_validation():
    with pytest.raises(ValueError):
        classification_metrics(np.array([0, 3]), np.ones((2, 3)) / 3, 3, 0)
    with pytest.raises(ValueError):
        classification_metrics(np.array([0, 1]), np.ones((2, 2)) / 2, 3, 0)


def test_summarize_seeds():
    recs = [{"accuracy": 0.5, "n": 10}, {"accuracy": 0.7, "n": 10}, {"accuracy": 0.9, "n": 10}]
    s = summarize_seeds(recs, ["accuracy"])
    assert s["accuracy"]["mean"] == pytest.approx(0.7)
    assert s["accuracy"]["sd"] == pytest.approx(0.2)  # ddof=1
    assert s["accuracy"]["values"] == [0.5, 0.7, 0.9]
    one = summarize_seeds(recs[:1], ["accuracy", "n"])
    assert one["accuracy"]["sd"] == 0.0 and one["n"]["mean"] == 10.0
