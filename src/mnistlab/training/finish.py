"""How every run ends, whatever trained it: history.csv, metrics.json (one schema), report.html, cleanup.

    run = finish(run_dir, model, state, probabilities, data, eval_seconds=0.4, load_seconds=0.1, params=n)

A single run and an ensemble both end here, so their metrics.json files have the same keys (an ensemble
adds `members` and `member_test_accuracy` through `extra`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.rundir import finish_run, write_history, write_metrics
from mnistlab.training.checkpoints import LoopState
from mnistlab.training.inputs import TrainingData
from mnistlab.training.run import Run, load_run


def summarize(
    state: LoopState, test: dict, *, eval_seconds: float, load_seconds: float, params: int, data: TrainingData
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


def finish(
    run_dir: Path,
    model,
    state: LoopState,
    probabilities: np.ndarray,
    data: TrainingData,
    *,
    eval_seconds: float,
    load_seconds: float,
    params: int,
    extra: dict[str, Any] | None = None,
) -> Run:
    """Write what a trained run leaves besides its model; probabilities: the saved model's (N, C) on test."""
    from mnistlab.evaluation.api import write_run_report
    from mnistlab.training.scores import score

    test = score(probabilities, data.test_labels)
    timing = {"eval_seconds": eval_seconds, "load_seconds": load_seconds}
    metrics = {**summarize(state, test, **timing, params=params, data=data), **(extra or {})}
    write_history(run_dir, state.history)
    write_metrics(run_dir, metrics)  # its presence marks the training complete
    write_run_report(run_dir, model=model, probabilities=probabilities)  # reusing the test outputs
    finish_run(run_dir)
    run = load_run(run_dir)
    run._model = model
    return run


def finish_report(run_dir: Path) -> Run:
    """Write the report of a run whose training finished (metrics.json) but whose report did not."""
    from mnistlab.evaluation.api import write_run_report

    write_run_report(run_dir)
    finish_run(run_dir)
    return load_run(run_dir)
