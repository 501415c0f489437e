"""How every run ends, whatever trained it: history.csv, metrics.json (one schema), report, cleanup.

    run = finish(classifier, state, probabilities, data, eval_seconds=0.4, load_seconds=0.1, report=write)

A single run and an ensemble both end here, so their metrics.json files have the same keys (an ensemble
adds `members` and `member_test_accuracy` through `extra`). The report belongs to evaluation, a layer
above training: whoever starts the training passes its writer in (`mnistlab.train` passes
evaluation's `write_run_report`); without one the run ends without report.html, and resuming it later
writes the report only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.classifier import Classifier, load_classifier, with_temperature
from mnistlab.metrics import calibration_error, score
from mnistlab.rundir import finish_run, write_history, write_metrics
from mnistlab.training.checkpoints import LoopState
from mnistlab.training.inputs import TrainingData
from mnistlab.training.run import Run, load_run

# (the run's classifier, its (N, C) probabilities on the test split or None) -> the report's path
ReportWriter = Callable[[Classifier, np.ndarray | None], Path]


def summarize(
    state: LoopState,
    test: dict,
    *,
    eval_seconds: float,
    load_seconds: float,
    params: int | None,
    data: TrainingData,
) -> dict[str, Any]:
    """The metrics.json of a run: test scores, the epoch kept, and where the time went."""
    best = next((row for row in state.history if row["epoch"] == state.best_epoch), None)
    final = best or (state.history[-1] if state.history else {})
    return {
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "train_seconds": round(state.train_seconds, 3),  # inside fit only: no loading, no test evaluation
        "epochs": state.epoch,
        "best_epoch": state.best_epoch or state.epoch,
        "stopped_early": state.stopped_early,
        "val_accuracy": final.get("val_accuracy"),
        "val_loss": final.get("val_loss"),
        "seconds_per_epoch": round(state.train_seconds / max(state.epoch, 1), 3),
        "eval_seconds": round(eval_seconds, 3),
        "load_seconds": round(load_seconds, 3),
        "params": params,  # Keras: weights; forest: tree nodes
        **data.sizes(),
    }


MONITOR_USE = "curves only: early stopping, the best epoch and the checkpoints never look at it"


def monitoring(split: str | None) -> dict[str, Any]:
    """What metrics.json says of the monitor split: which one, and that it chose nothing (None: no keys)."""
    return {} if split is None else {"monitor_split": split, "monitor_use": MONITOR_USE}


def finish(
    classifier: Classifier,
    state: LoopState,
    probabilities: np.ndarray,
    data: TrainingData,
    *,
    eval_seconds: float,
    load_seconds: float,
    extra: dict[str, Any] | None = None,
    report: ReportWriter | None = None,
) -> Run:
    """Write what a trained run leaves besides its model; probabilities: the saved model's (N, C) on test,
    before calibration (the temperature fitted here is applied to them)."""
    from mnistlab.training.calibration import calibrate

    run_dir = classifier.run_dir
    timing = {"eval_seconds": eval_seconds, "load_seconds": load_seconds}
    calibration = calibrate(classifier, data)
    probabilities = with_temperature(probabilities, classifier.temperature)
    test = score(data.test_labels, probabilities)
    metrics = {**summarize(state, test, **timing, params=classifier.params, data=data), **(extra or {})}
    metrics.update(monitoring(classifier.config.get("monitor_split")))
    metrics["temperature"] = calibration["temperature"]
    metrics["test_calibration_error"] = calibration_error(data.test_labels, probabilities)
    write_history(run_dir, state.history)
    write_metrics(run_dir, metrics)  # its presence marks the training complete
    if report is not None:
        report(classifier, probabilities)  # reusing the test outputs
    finish_run(run_dir)
    run = load_run(run_dir)
    run._model = classifier.model
    return run


def finish_report(run_dir: Path, report: ReportWriter | None) -> Run:
    """Write the report of a run whose training finished (metrics.json) but whose report did not."""
    if report is not None:
        report(load_classifier(run_dir), None)
    finish_run(run_dir)
    return load_run(run_dir)
