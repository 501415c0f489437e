"""Calibration in the report: the reliability table behind the one ECE, the raw outputs recovered from the
scaled ones, the diagram before and after temperature scaling, and a real calibrated run."""

from __future__ import annotations

import numpy as np
import pytest

import mnistlab
from mnistlab.classifier import load_classifier, with_temperature
from mnistlab.evaluation.reliability import calibration_summary, reliability_figure, uncalibrated
from mnistlab.metrics import calibration_bins, calibration_error


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def overconfident():
    """Labels drawn from softmax(z) and a model that reports softmax(2.5 z): T = 2.5 calibrates it."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (20000, 10))
    labels = np.array([rng.choice(10, p=row) for row in _softmax(logits)])
    return labels, _softmax(2.5 * logits).astype(np.float32)


def test_bins_by_hand_and_the_error_they_give():
    # confidences 0.9, 0.9 (one right) and 0.6, 0.6 (both right); 0.3 falls in no bin (top is 0.7)
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1, 0])
    table = calibration_bins(labels, probabilities, bins=10)
    assert table["count"].tolist() == [0, 0, 0, 0, 0, 0, 2, 1, 0, 2]
    assert table["accuracy"][9] == 0.5 and table["accuracy"][6] == 1.0 and table["accuracy"][7] == 0.0
    assert table["confidence"][9] == pytest.approx(0.9) and table["confidence"][0] == 0.0
    expected = (2 * 0.4 + 2 * 0.4 + 1 * 0.7) / 5
    assert calibration_error(labels, probabilities, bins=10) == pytest.approx(expected)
    ones = calibration_bins(np.array([0]), np.array([[1.0, 0.0]]), bins=15)
    assert ones["count"][-1] == 1  # confidence 1.0 lies in the last bin


def test_raw_outputs_are_recovered_from_scaled_ones(overconfident):
    _, raw = overconfident
    for temperature in (0.4, 2.5):
        scaled = with_temperature(raw, temperature)
        np.testing.assert_allclose(uncalibrated(scaled, temperature), raw, atol=2e-6)


def test_summary_before_and_after(overconfident):
    labels, raw = overconfident
    scaled = with_temperature(raw, 2.5)
    summary = calibration_summary(labels, scaled, 2.5)
    assert summary["temperature"] == 2.5
    assert summary["ece_before"] == pytest.approx(calibration_error(labels, raw), abs=1e-6)
    assert summary["ece_before"] > 0.1 and summary["ece"] < 0.02
    plain = calibration_summary(labels, raw, 1.0)
    assert plain["ece"] == plain["ece_before"] == calibration_error(labels, raw)
    logits = np.random.default_rng(1).normal(size=(5, 10))  # not probabilities: nothing to report
    assert calibration_summary(np.zeros(5, int), logits, 1.0)["ece"] is None


def test_diagram_has_one_panel_per_state(overconfident):
    labels, raw = overconfident
    two = reliability_figure(labels, with_temperature(raw, 2.5), 2.5)
    titles = [axes.get_title() for axes in two.axes]
    assert len(titles) == 2 and "before" in titles[0] and "T = 2.5" in titles[1]
    assert f"{calibration_error(labels, raw):.4f}" in titles[0]
    one = reliability_figure(labels, raw, 1.0)
    assert len(one.axes) == 1 and "no temperature scaling" in one.axes[0].get_title()
    assert reliability_figure(np.zeros(3, int), np.full((3, 10), 2.0), 1.0) is None


def test_a_real_calibrated_run(fastcnn_run, mnist_dir):
    """The fastcnn run has a fitted temperature: 'before' equals the model's unscaled outputs' error."""
    evaluation = mnistlab.evaluate(fastcnn_run, split="test[:2000]", data_dir=mnist_dir)
    temperature = evaluation.classifier.temperature
    assert temperature != 1.0
    summary = evaluation.calibration
    assert summary["ece"] == evaluation.metrics["calibration_error"]  # the one computation, reported twice
    unscaled = load_classifier(fastcnn_run)
    unscaled.temperature = 1.0
    raw = unscaled.predict_proba(evaluation.images)
    assert summary["ece_before"] == pytest.approx(calibration_error(evaluation.labels, raw), abs=1e-4)
    assert evaluation.to_dict()["calibration"] == summary
    assert len(evaluation.plot_reliability().axes) == 2
