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

With engine "ray", or "local" with workers above 1, the members are jobs of engines.run_jobs instead,
`workers` at a time, each in a fresh process that decides like sweep.train_point (a finished member
reused, a started one resumed, else trained). The budget is then wall-clock: no member starts once the
time since the members began plus the mean member's wall-clock would pass it.

    mnistlab train --model ensemble --n-estimators 20 --budget-minutes 90 --engine ray --workers 8
"""

from __future__ import annotations

import contextlib
import sys
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
from mnistlab.training.config import ENGINE_FIELDS, TrainConfig, resolve_config
from mnistlab.training.engines import Job, run_jobs
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
    own = {"model", "n_estimators", "budget_minutes", "seed", "out", *ENGINE_FIELDS}
    return {name: value for name, value in config.to_dict().items() if name not in own and value is not None}


def _over_budget(config: TrainConfig, runs: list[Run]) -> bool:
    """Whether one more member, taking as long as the mean so far, would end past the budget."""
    if not config.budget_minutes or len(runs) < 2:  # an ensemble has at least 2 members
        return False
    spent = sum(run.metrics["train_seconds"] for run in runs)
    return spent + spent / len(runs) > 60 * config.budget_minutes


def _over_wall_clock_budget(config: TrainConfig, elapsed: float, member_seconds: list[float]) -> bool:
    """Whether one more member, started now and taking the mean member's wall-clock, would end past the
    budget. elapsed: seconds since the members began; member_seconds: those trained so far (reused ones
    cost nothing and would drag the mean down)."""
    if not config.budget_minutes or not member_seconds:
        return False
    return elapsed + sum(member_seconds) / len(member_seconds) > 60 * config.budget_minutes


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


def _train_members_here(
    config: TrainConfig, run_dir: Path, n_estimators: int, member: str, report: ReportWriter | None
) -> list[Run]:
    """The members one after another in this process, under a budget of training seconds."""
    runs: list[Run] = []
    for index in range(n_estimators):
        if not (member_dir(run_dir, index) / CONFIG_FILE).is_file() and _over_budget(config, runs):
            budget = f"{config.budget_minutes:g}-minute budget"
            reporter.warn(f"stopping at {index} members: one more would pass the {budget}")
            break
        runs.append(_member_run(config, run_dir, index, member, report))
    return runs


def in_process(config: TrainConfig) -> bool:
    """Whether the members train here, one after another (the default), rather than as engine jobs."""
    return config.engine == "local" and (config.workers or 1) == 1


def train_member(run_dir: str, member: str, settings: dict[str, Any], report=None) -> dict[str, Any]:
    """One member brought to its end in this (fresh) process -> {"outcome", "seconds": its wall-clock}."""
    start = time.perf_counter()
    path = Path(run_dir)
    outcome = "reused"  # finished before: kept as it is
    if not is_complete(path):
        with contextlib.redirect_stdout(sys.stderr):  # the member's lines; stdout belongs to the ensemble
            if is_run_dir(path):
                train_single(*configure_resume(existing_run(path)), path, report)
                outcome = "resumed"
            else:
                train_single(*configure(member, {**settings, "out": str(path)}), None, report)
                outcome = "trained"
    return {"outcome": outcome, "seconds": round(time.perf_counter() - start, 3)}


def _train_members_as_jobs(
    config: TrainConfig, run_dir: Path, n_estimators: int, member: str, report: ReportWriter | None
) -> list[Run]:
    """The members as engine jobs, `workers` at a time, under a wall-clock budget -> runs in index order."""
    settings = _member_settings(config)
    if config.engine == "ray" and not config.threads:  # TensorFlow's threads match the CPUs Ray reserved
        settings["threads"] = config.cpus_per_run
    jobs = []
    for index in range(n_estimators):
        kwargs = {"settings": {**settings, "seed": config.seed + index}, "report": report}
        # absolute: a Ray worker's working directory is its raylet's, not this process's
        folder = member_dir(run_dir.absolute(), index)
        jobs.append(Job(str(index), {"run_dir": str(folder), "member": member, **kwargs}))
    started = time.perf_counter()

    def admit(job: Job, results: dict[str, Any]) -> bool:
        index = int(job.name)
        if index < 2 or (member_dir(run_dir, index) / CONFIG_FILE).is_file():
            return True  # an ensemble has at least 2 members; a started one is finished
        trained = [result["seconds"] for result in results.values() if result["outcome"] != "reused"]
        if _over_wall_clock_budget(config, time.perf_counter() - started, trained):
            budget = f"{config.budget_minutes:g}-minute budget (wall-clock)"
            reporter.warn(f"stopping at {index} members: one more would pass the {budget}")
            return False
        return True

    results = run_jobs(
        train_member,
        jobs,
        engine=config.engine,
        workers=config.workers,
        address=config.address,
        cpus_per_run=config.cpus_per_run,
        gpus_per_run=config.gpus_per_run,
        admit=admit,
    )
    return [load_run(member_dir(run_dir, index)) for index in sorted(map(int, results))]


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
    members_started = time.perf_counter()
    if in_process(config):
        runs = _train_members_here(config, run_dir, n_estimators, member, report)
    else:
        runs = _train_members_as_jobs(config, run_dir, n_estimators, member, report)
    members_seconds = time.perf_counter() - members_started

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
    if not in_process(config):  # members side by side: train_seconds adds theirs up, this is the clock's
        extra["members_wall_seconds"] = round(members_seconds, 3)
    timing = {"eval_seconds": eval_seconds, "load_seconds": load_seconds}
    return finish(classifier, state, probabilities, data, **timing, extra=extra, report=report)
