"""Calibration of an evaluation: the expected calibration error and a reliability diagram, before and after
the run's temperature scaling.

    summary = calibration_summary(labels, probabilities, temperature)   # {"temperature", "ece", "ece_before"}
    figure = reliability_figure(labels, probabilities, temperature)     # a matplotlib Figure

`probabilities` are what the classifier outputs, i.e. already scaled by its temperature (classifier.py applies
it in predict_proba). The raw outputs are recovered exactly by scaling with 1 / T: softmax(log p / T) scaled
again by T gives softmax(log p - c) = p. The error is metrics.calibration_error (15 bins), the one the
training records in metrics.json, so the numbers here and there agree.
"""

from __future__ import annotations

import numpy as np

from mnistlab.classifier import with_temperature
from mnistlab.evaluation.plots import CORRECT_COLOR, PREDICTED_COLOR, TRUE_COLOR, new_figure
from mnistlab.metrics import calibration_bins, calibration_error, cross_entropy

BINS = 15  # the bins of metrics.calibration_error's default, so the diagram shows the number it reports


def uncalibrated(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """(N, C) probabilities scaled by `temperature` -> the model's raw (N, C) probabilities."""
    return with_temperature(probabilities, 1.0 / temperature)


def _is_probabilities(labels: np.ndarray, probabilities: np.ndarray) -> bool:
    """Rows that sum to 1 (a model that outputs logits has no calibration to show)."""
    return len(labels) > 0 and cross_entropy(labels, probabilities) is not None


def calibration_summary(labels: np.ndarray, probabilities: np.ndarray, temperature: float) -> dict:
    """{"temperature", "ece" (the outputs as evaluated), "ece_before" (before temperature scaling; equal to
    "ece" where the temperature is 1)}; the errors are None where the outputs are not probabilities."""
    if not _is_probabilities(labels, probabilities):
        return {"temperature": float(temperature), "ece": None, "ece_before": None}
    ece = calibration_error(labels, probabilities, BINS)
    before = (
        ece if temperature == 1 else calibration_error(labels, uncalibrated(probabilities, temperature), BINS)
    )
    return {"temperature": float(temperature), "ece": ece, "ece_before": before}


def _draw(axes, labels: np.ndarray, probabilities: np.ndarray, title: str) -> None:
    """One reliability diagram: accuracy per confidence bin (bars) against the diagonal of perfect
    calibration, the gap between each bin's accuracy and its mean confidence hatched red (above the bar:
    overconfident, inside it: underconfident), and the share of examples per bin as a green line."""
    table = calibration_bins(labels, probabilities, BINS)
    width = 1.0 / BINS
    centers = (np.arange(BINS) + 0.5) * width
    used = table["count"] > 0
    axes.bar(
        centers[used],
        table["accuracy"][used],
        width=width,
        color=TRUE_COLOR,
        edgecolor="white",
        label="accuracy",
    )
    gap = table["confidence"][used] - table["accuracy"][used]
    axes.bar(
        centers[used],
        gap,
        bottom=table["accuracy"][used],
        width=width,
        fill=False,
        hatch="///",
        edgecolor=PREDICTED_COLOR,
        linewidth=0.8,
        label="gap to mean confidence",
    )
    axes.plot([0, 1], [0, 1], color="0.3", linestyle="--", linewidth=1, label="perfect calibration")
    share = table["count"] / max(1, table["count"].sum())
    axes.plot(centers, share, color=CORRECT_COLOR, marker=".", linewidth=1, label="share of examples")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("confidence (top probability)")
    axes.set_title(f"{title}: ECE {calibration_error(labels, probabilities, BINS):.4f}", fontsize=10)


def reliability_figure(labels: np.ndarray, probabilities: np.ndarray, temperature: float = 1.0):
    """Reliability diagrams: one panel where the temperature is 1, else before and after scaling side by side.
    None where the outputs are not probabilities."""
    labels = np.asarray(labels, dtype=np.int64)
    if not _is_probabilities(labels, probabilities):
        return None
    panels = [(probabilities, "no temperature scaling")]
    if temperature != 1:
        panels = [
            (uncalibrated(probabilities, temperature), "before temperature scaling"),
            (probabilities, f"after scaling (T = {temperature:g})"),
        ]
    figure = new_figure(4.4 * len(panels), 4.2)
    for index, (shown, title) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        _draw(axes, labels, shown, title)
        if index == 0:
            axes.set_ylabel("accuracy / share")
    # one legend under the panels, where it hides no bar
    figure.legend(
        *axes.get_legend_handles_labels(), loc="outside lower center", ncols=2 * len(panels), fontsize=8
    )
    return figure
