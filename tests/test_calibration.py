"""Calibrated probabilities: the temperature fit, the calibration error, and a real run that records both."""

from __future__ import annotations

import json

import numpy as np
import pytest

import mnistlab
from mnistlab.classifier import with_temperature
from mnistlab.metrics import calibration_error
from mnistlab.training.calibration import fit_temperature


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_the_fit_recovers_a_known_temperature():
    """Labels drawn from softmax(z), a model reporting softmax(2.5 z): the fitted temperature is ~2.5."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (20000, 10))
    calibrated = _softmax(logits)
    labels = np.array([rng.choice(10, p=row) for row in calibrated])
    overconfident = _softmax(2.5 * logits).astype(np.float32)
    assert fit_temperature(overconfident, labels) == pytest.approx(2.5, rel=0.05)
    assert calibration_error(labels, overconfident) > 0.1  # the overconfident model is visibly off
    fixed = with_temperature(overconfident, 2.5)
    assert calibration_error(labels, fixed) < 0.02
    np.testing.assert_array_equal(fixed.argmax(axis=1), overconfident.argmax(axis=1))  # same predictions
    np.testing.assert_allclose(fixed.sum(axis=1), 1, rtol=1e-5)


def test_calibration_error_by_hand():
    # two bins used: confidence 0.9 (2 examples, 1 right) and 0.6 (2 examples, both right)
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    labels = np.array([0, 1, 1, 1])
    assert calibration_error(labels, probabilities) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert calibration_error(np.array([], int), np.zeros((0, 2))) is None


def test_temperature_keeps_impossible_classes_impossible():
    forest_like = np.array([[0.0, 0.7, 0.3], [1.0, 0.0, 0.0]], dtype=np.float32)
    scaled = with_temperature(forest_like, 2.0)
    assert scaled[0, 0] == 0 and scaled[1].tolist() == [1.0, 0.0, 0.0]
    assert scaled[0, 1] < 0.7  # softened towards the other possible class


def test_a_run_records_its_temperature_and_evaluation_uses_it(mnist_dir, tmp_path):
    run = mnistlab.train(
        "logreg",
        epochs=1,
        train_split="train[:3000]",
        val_fraction=0.2,
        out=str(tmp_path / "run"),
        data_dir=str(mnist_dir),
        progress=False,
    )
    record = json.loads((run.dir / "calibration.json").read_text())
    assert record["fitted_on"] == "validation split" and record["examples"] == 600
    assert 0.05 <= record["temperature"] <= 20 and record["temperature"] != 1.0
    assert run.metrics["temperature"] == record["temperature"]
    classifier = mnistlab.load_classifier(run.dir)
    assert classifier.temperature == record["temperature"]
    evaluation = mnistlab.evaluate(run.dir, data_dir=mnist_dir)
    assert evaluation.metrics["calibration_error"] == pytest.approx(
        run.metrics["test_calibration_error"], abs=1e-4
    )
    assert evaluation.loss == pytest.approx(
        run.metrics["test_loss"], rel=1e-4
    )  # one loss, calibrated both times
    assert "Calibration error" in (run.dir / "report.html").read_text()
