"""How well predicted probabilities match labels, computed the same way for every kind of model.

score(probabilities, labels)   # probabilities (N, C) float, labels (N,) int -> {"accuracy", "loss"}
"""

from __future__ import annotations

import numpy as np

# Probabilities are clipped to [1e-7, 1] before the log, as Keras' cross-entropy does, so a Keras
# model and a random forest (whose trees give exact zeros) report comparable losses.
_EPSILON = 1e-7


def score(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy (fraction) and mean cross-entropy (nats per example) of probabilities against labels."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    picked = probabilities[np.arange(len(labels)), labels]
    loss = -np.log(np.clip(picked, _EPSILON, 1.0)).mean()
    accuracy = (probabilities.argmax(axis=1) == labels).mean()
    return {"accuracy": float(accuracy), "loss": float(loss)}


def keras_probabilities(model, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Softmax outputs (N, C) float32 of a Keras model, in inference mode (dropout off)."""
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0), dtype=np.float32)
