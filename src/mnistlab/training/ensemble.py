"""Train an ensemble: member runs one after another in <run>/members/<i>/, then one averaged model.

    mnistlab train --model ensemble        # up to 20 `best` runs (seeds 0..) within 90 minutes, averaged
    mnistlab train --resume runs/2026-11-23-ensemble                          # after an interruption

    from mnistlab.training.ensemble import train_ensemble
    run = train_ensemble(5)                # 5 `best` runs (seeds 0..4), one after another, then combined

Each member is an ordinary run trained alone by the single-run trainer (its own seed, so its own initial
weights, augmentation and shuffling); training the averaged output jointly would couple the members (a
member that is already right gets most of the gradient on a hard example) and make them less diverse.
With a time budget, the number of members is decided by training time alone, never by test accuracy: a
member is started only if, taking as long as the mean member so far, it ends within the budget. The run
ends like any other (finish.py); its metrics add `members` and `member_test_accuracy`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mnistlab import reporter
from mnistlab.classifier import run_classifier
from mnistlab.errors import MnistlabError
from mnistlab.models.ensemble import MEMBER_RECIPE, combine
from mnistlab.models.registry import get_spec
from mnistlab.rundir import (
    CONFIG_FILE,
    environment,
    existing_run,
    is_complete,
    is_run_dir,
    member_dir,
    new_run_dir,
    read_config,
    write_config,
)
from mnistlab.training.checkpoints import LoopState
from mnistlab.training.config import TrainConfig, resolve_config
from mnistlab.training.finish import ReportWriter, finish
from mnistlab.training.plan import configure, configure_resume
from mnistlab.training.run import Run, load_run
from mnistlab.training.single_run import train_single


def train_ensemble(
    n_estimators: int = 5,
    *,
    member: str = MEMBER_RECIPE,
    seed: int = 0,
    out: str | Path | None = None,
    report: ReportWriter | None = None,
    **settings: Any,
) -> Run:
    """Train `n_estimators` runs of `member` (seeds seed, seed+1, ...) and combine them into one run.

    settings: TrainConfig fields for every member (e.g. epochs=2 for a quick try, budget_minutes=90).
    The same as `mnistlab train --model ensemble`, with the member recipe as a choice.
    """
    settings = {**settings, "model": "ensemble", "n_estimators": n_estimators, "seed": seed}
    if out is not None:
        settings["out"] = str(out)
    config = resolve_config(settings, get_spec(member).defaults)
    return fit_ensemble(config, None, member=member, report=report)


def _member_settings(config: TrainConfig) -> dict[str, Any]:
    """The ensemble's settings that each member run takes (not its name, size, budget, seed or folder)."""
    own = {"model", "n_estimators", "budget_minutes", "seed", "out"}
    return {name: value for name, value in config.to_dict().items() if name not in own and value is not None}


def _over_budget(config: TrainConfig, runs: list[Run]) -> bool:
    """Whether one more member, taking as long as the mean so far, would end past the budget."""
    if not config.budget_minutes or len(runs) < 2:  # an ensemble has at least 2 members
        return False
    spent = sum(run.metrics["train_seconds"] for run in runs)
    return spent + spent / len(runs) > 60 * config.budget_minutes


def _member_run(
    config: TrainConfig, run_dir: Path, index: int, member: str, report: ReportWriter | None
) -> Run:
    """Member `index`: kept if finished, resumed if started, else trained with its own seed."""
    folder = member_dir(run_dir, index)
    if is_complete(folder):
        return load_run(folder)  # finished before an interruption
    if is_run_dir(folder):
        return train_single(*configure_resume(existing_run(folder), progress=config.progress), folder, report)
    settings = {**_member_settings(config), "seed": config.seed + index, "out": str(folder)}
    return train_single(*configure(member, settings), None, report)


def fit_ensemble(
    config: TrainConfig, run_dir: Path | None, member: str | None = None, report: ReportWriter | None = None
) -> Run:
    """The ensemble's trainer: a new run (run_dir None) or the claimed, unfinished run_dir resumed."""
    from mnistlab.training.inputs import load_training_data

    n_estimators = config.n_estimators or get_spec("ensemble").architecture["n_estimators"]
    if n_estimators < 2:
        raise MnistlabError(f"n_estimators={n_estimators}: an ensemble needs at least 2 members")
    if run_dir is None:
        run_dir = new_run_dir("ensemble", config.out)
        write_config(run_dir, {**config.to_dict(), "n_estimators": n_estimators}, environment())
    elif member is None and (member_dir(run_dir, 0) / CONFIG_FILE).is_file():
        member = read_config(member_dir(run_dir, 0))["model"]  # resuming: the recipe the members used
    member = member or MEMBER_RECIPE
    runs: list[Run] = []
    for index in range(n_estimators):
        if not (member_dir(run_dir, index) / CONFIG_FILE).is_file() and _over_budget(config, runs):
            budget = f"{config.budget_minutes:g}-minute budget"
            reporter.warn(f"stopping at {index} members: one more would pass the {budget}")
            break
        runs.append(_member_run(config, run_dir, index, member, report))

    classifier = run_classifier("keras", combine([run.model for run in runs]), run_dir)
    classifier.save()
    start = time.perf_counter()
    data = load_training_data(config)
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probabilities = classifier.predict_proba(data.test_images)
    eval_seconds = time.perf_counter() - start
    history = [
        {"epoch": index + 1, **{key: run.metrics[key] for key in ("test_accuracy", "train_seconds")}}
        for index, run in enumerate(runs)
    ]
    train_seconds = sum(row["train_seconds"] for row in history)
    state = LoopState(epoch=config.epochs, history=history, train_seconds=train_seconds)
    extra = {
        "members": len(runs),
        "member_test_accuracy": [run.metrics["test_accuracy"] for run in runs],
        "seconds_per_epoch": round(train_seconds / (len(runs) * config.epochs), 3),  # of one member
    }
    timing = {"eval_seconds": eval_seconds, "load_seconds": load_seconds}
    return finish(classifier, state, probabilities, data, **timing, extra=extra, report=report)
