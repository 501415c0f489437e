"""Calibrate a trained model's probabilities: one temperature, fitted on examples it did not learn from.

    temperature = fit_temperature(probabilities, labels)      # minimises the cross-entropy
    calibrate(classifier, data)                               # fit, record calibration.json, apply

Label smoothing, one-cycle schedules and ensembling leave a network under- or over-confident; dividing
its log-probabilities by one temperature T (Guo et al. 2017) fixes most of it without changing any
prediction. T is fitted on the run's validation split; a recipe without one (fastcnn) uses 5,000
examples of its training split, which a one-epoch run has seen once (calibration.json says which).
"""

from __future__ import annotations

import numpy as np

from mnistlab.classifier import Classifier, with_temperature
from mnistlab.files import atomic_write_json
from mnistlab.metrics import calibration_error, cross_entropy
from mnistlab.rundir import CALIBRATION_FILE
from mnistlab.training.inputs import TrainingData

TRAINING_SAMPLE = 5000  # training examples used when the run has no validation split


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] whose scaled probabilities have the lowest cross-entropy."""
    from scipy.optimize import minimize_scalar

    def loss(log_temperature: float) -> float:
        return cross_entropy(labels, with_temperature(probabilities, float(np.exp(log_temperature))))

    best = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20)), method="bounded")
    return round(float(np.exp(best.x)), 4)


def calibrate(classifier: Classifier, data: TrainingData, seed: int = 0) -> dict:
    """Fit the classifier's temperature, write <run>/calibration.json and set classifier.temperature."""
    if data.val_images is not None and len(data.val_labels):
        images, labels, fitted_on = data.val_images, data.val_labels, "validation split"
    else:
        pick = np.random.default_rng(seed).permutation(len(data.train_labels))[:TRAINING_SAMPLE]
        images, labels = data.train_images[pick], data.train_labels[pick]
        fitted_on = f"{len(pick)} training examples (the run has no validation split)"
    classifier.temperature = 1.0
    raw = classifier.predict_proba(images, data.num_classes)
    temperature = fit_temperature(raw, labels)
    scaled = with_temperature(raw, temperature)
    record = {
        "temperature": temperature,
        "fitted_on": fitted_on,
        "examples": int(len(labels)),
        "calibration_error_before": calibration_error(labels, raw),
        "calibration_error_after": calibration_error(labels, scaled),
    }
    atomic_write_json(classifier.run_dir / CALIBRATION_FILE, record)
    classifier.temperature = temperature
    return record
