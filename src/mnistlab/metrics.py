"""Classification metrics in plain numpy, the one definition that training and evaluation both report.

    labels = np.array([0, 1, 1, 2])                 # (N,) int true classes
    probabilities = model_probabilities             # (N, C) float, rows sum to 1
    score(labels, probabilities)                    # {"accuracy", "loss"}: what training records
    metrics = compute_metrics(labels, probabilities)
    metrics["accuracy"], metrics["per_class"][1]["recall"], metrics["confusion_matrix"]

Conventions follow scikit-learn: the confusion matrix has true labels as rows and predicted labels as
columns; a precision or recall whose denominator is 0 is 0 (sklearn's zero_division=0). Cross-entropy clips
probabilities to [1e-7, 1 - 1e-7] as Keras' loss does, so the loss in metrics.json, in the report and in the
training history (which Keras computes) are the same number, and a random forest, whose trees give exact
zeros, gets a finite loss comparable to a network's.
"""

from __future__ import annotations

import numpy as np

# Rows of a probability matrix must sum to 1 within this tolerance for the cross-entropy to mean anything;
# a model that outputs logits (e.g. an exported graph without its softmax) gets no loss ("n/a").
_SUM_TOLERANCE = 1e-3
EPSILON = 1e-7  # Keras' backend epsilon, the clip of its cross-entropy


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts: entry [t, p] = how many examples of true class t were predicted as p."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    flat = labels * num_classes + predictions
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    numerator = numerator.astype(np.float64)
    denominator = denominator.astype(np.float64)
    result = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result


def per_class_scores(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 (each (C,) float64) and support ((C,) int64) from a confusion matrix."""
    true_positives = np.diag(confusion)
    predicted_counts = confusion.sum(axis=0)  # column sums: how often each class was predicted
    support = confusion.sum(axis=1)  # row sums: how many examples each class has
    precision = _safe_divide(true_positives, predicted_counts)
    recall = _safe_divide(true_positives, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def cross_entropy(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """Mean negative log-probability of the true class (nats), or None if the rows are not probabilities."""
    probabilities = np.asarray(probabilities)
    if len(probabilities) == 0:
        return None
    row_sums = probabilities.sum(axis=1, dtype=np.float64)
    if np.any(probabilities < 0) or not np.allclose(row_sums, 1.0, atol=_SUM_TOLERANCE):
        return None
    picked = probabilities[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)].astype(np.float64)
    return float(-np.mean(np.log(np.clip(picked, EPSILON, 1 - EPSILON))))


def calibration_bins(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> dict[str, np.ndarray]:
    """The reliability table behind the calibration error: the top probability of each example put in one of
    `bins` equal-width confidence bins over [0, 1] (1.0 in the last).

    Returns (bins,) arrays: `count` (int64 examples), `confidence` (mean top probability) and `accuracy`
    (fraction right); both means are 0 in an empty bin.
    """
    probabilities = np.asarray(probabilities)
    confidence = probabilities.max(axis=1).astype(np.float64)
    correct = (probabilities.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins)
    return {
        "count": count.astype(np.int64),
        "confidence": _safe_divide(np.bincount(which, weights=confidence, minlength=bins), count),
        "accuracy": _safe_divide(np.bincount(which, weights=correct, minlength=bins), count),
    }


def calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> float | None:
    """Expected calibration error: how far the top probability is from the accuracy, averaged over
    `bins` equal-width confidence bins weighted by their size (Guo et al. 2017); 0 is perfectly calibrated."""
    if len(labels) == 0:
        return None
    table = calibration_bins(labels, probabilities, bins)
    weights = table["count"] / table["count"].sum()
    return float(np.sum(weights * np.abs(table["accuracy"] - table["confidence"])))


def accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The fraction of examples whose most probable class is the true one (0 for no examples)."""
    labels = np.asarray(labels, dtype=np.int64)
    return float(np.mean(np.asarray(probabilities).argmax(axis=1) == labels)) if len(labels) else 0.0


def score(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float | None]:
    """Accuracy (fraction) and mean cross-entropy (nats per example): what training records per epoch."""
    return {"accuracy": accuracy(labels, probabilities), "loss": cross_entropy(labels, probabilities)}


def top_confusions(confusion: np.ndarray, limit: int = 10) -> list[tuple[int, int, int]]:
    """The most frequent mistakes as (true class, predicted class, count), largest first, ties by class."""
    off_diagonal = confusion.copy()
    np.fill_diagonal(off_diagonal, 0)
    pairs = [
        (int(true), int(predicted), int(off_diagonal[true, predicted]))
        for true, predicted in zip(*np.nonzero(off_diagonal), strict=True)
    ]
    pairs.sort(key=lambda pair: (-pair[2], pair[0], pair[1]))
    return pairs[:limit]


def compute_metrics(
    labels: np.ndarray, probabilities: np.ndarray, class_names: list[str] | None = None
) -> dict:
    """Every number the evaluation reports, as plain Python types (JSON-ready).

    labels: (N,) int true classes; probabilities: (N, C) float model outputs.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities)
    num_classes = probabilities.shape[1]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    predictions = probabilities.argmax(axis=1)
    confusion = confusion_matrix(labels, predictions, num_classes)
    scores = per_class_scores(confusion)
    per_class = [
        {
            "label": index,
            "name": names[index],
            "precision": float(scores["precision"][index]),
            "recall": float(scores["recall"][index]),
            "f1": float(scores["f1"][index]),
            "support": int(scores["support"][index]),
        }
        for index in range(num_classes)
    ]
    return {
        "n_examples": int(len(labels)),
        "accuracy": accuracy(labels, probabilities),
        "loss": cross_entropy(labels, probabilities),
        "calibration_error": calibration_error(labels, probabilities),
        # unweighted means over classes, as sklearn's average="macro"
        "macro_avg": {
            "precision": float(scores["precision"].mean()),
            "recall": float(scores["recall"].mean()),
            "f1": float(scores["f1"].mean()),
        },
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "top_confusions": [
            {"true": true, "predicted": predicted, "count": count}
            for true, predicted, count in top_confusions(confusion)
        ],
    }
