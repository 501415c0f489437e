"""ensemble: N `best` networks whose averaged probabilities give 99.74% test accuracy on MNIST (20 members).

    mnistlab train --model ensemble       # up to 20 `best` runs (seeds 0..) within 90 minutes, averaged
    mnistlab train --resume runs/2026-11-23-ensemble                          # after an interruption

    from mnistlab.models.ensemble import train_ensemble, combine
    run = train_ensemble(n_estimators=5)        # 5 `best` runs (seeds 0..4), one after another, then combined
    model = combine([run_a.model, run_b.model]) # any trained models -> one model averaging their outputs

The combined model is one ordinary .keras file: a functional model whose members (nested Sequential
models) each see the input, followed by keras.layers.Average over their softmax outputs. It holds
standard layers only, so safe-mode loading, evaluation, serving and ONNX export treat it like any other
model. Each member is trained alone by the normal training loop (its own seed, so its own initial
weights, augmentation and shuffling); training the averaged output jointly would couple the members
(a member that is already right gets most of the gradient on a hard example) and make them less diverse.
With a time budget, the number of members is decided by training time alone, never by test accuracy:
a member is started only if, taking as long as the mean member so far, it ends within the budget.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError
from mnistlab.models import best
from mnistlab.models.registry import ModelSpec, get_spec, register

MEMBER_RECIPE = "best"


def combine(members: list, name: str = "ensemble"):
    """Trained keras models, each (N, 28, 28, 1) -> (N, C) probabilities -> one model of their mean."""
    import keras

    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
    inputs = keras.Input(tuple(members[0].input_shape[1:]))
    # Each member is wrapped under a unique name: members trained apart carry the same layer names.
    outputs = [
        keras.Sequential([member], name=f"member_{index}")(inputs) for index, member in enumerate(members)
    ]
    return keras.Model(inputs, keras.layers.Average()(outputs), name=name)


def build(input_shape, num_classes: int, n_estimators: int = 5, filters: int = 32, dropout: float = 0.3):
    """n_estimators fresh `best` networks (see models/best.py), averaged; for training, see train_ensemble."""
    members = [
        best.build(input_shape, num_classes, filters=filters, dropout=dropout) for _ in range(n_estimators)
    ]
    return combine(members)


def train_ensemble(
    n_estimators: int = 5,
    *,
    member: str = MEMBER_RECIPE,
    seed: int = 0,
    out: str | Path | None = None,
    **settings: Any,
):
    """Train `n_estimators` runs of `member` (seeds seed, seed+1, ...) and combine them into one run.

    settings: TrainConfig fields for every member (e.g. epochs=2 for a quick try, budget_minutes=90).
    The same as `mnistlab train --model ensemble`, with the member recipe as a choice.
    """
    from mnistlab.training.config import resolve_config

    settings = {**settings, "model": "ensemble", "n_estimators": n_estimators, "seed": seed}
    if out is not None:
        settings["out"] = str(out)
    config = resolve_config(settings, get_spec(member).defaults)
    return fit_ensemble(config, None, member=member)


def _member_settings(config) -> dict[str, Any]:
    """The ensemble's settings that each member run takes (not its name, size, budget, seed or folder)."""
    own = {"model", "n_estimators", "budget_minutes", "seed", "out"}
    return {name: value for name, value in config.to_dict().items() if name not in own and value is not None}


def _over_budget(config, runs: list) -> bool:
    """Whether one more member, taking as long as the mean so far, would end past the budget."""
    if not config.budget_minutes or len(runs) < 2:  # an ensemble has at least 2 members
        return False
    spent = sum(run.metrics["train_seconds"] for run in runs)
    return spent + spent / len(runs) > 60 * config.budget_minutes


def fit_ensemble(config, run_dir: Path | None, member: str | None = None):
    """The ensemble recipe's trainer: members one after another in <run>/members/<i>/, then combined.

    run_dir None starts a new run; an existing one resumes: finished members are kept, an interrupted
    one continues from its last checkpoint. The run directory holds the combined model.keras,
    metrics.json (train_seconds: the members' sum), history.csv (one row per member) and report.html.
    """
    import mnistlab
    from mnistlab.evaluation.api import write_run_report
    from mnistlab.files import atomic_path
    from mnistlab.rundir import (
        CONFIG_FILE,
        METRICS_FILE,
        MODEL_KERAS,
        environment,
        finish_run,
        member_dir,
        new_run_dir,
        read_config,
        write_config,
        write_history,
        write_metrics,
    )
    from mnistlab.training.inputs import load_training_data
    from mnistlab.training.run import load_run
    from mnistlab.training.scores import keras_probabilities, score

    n_estimators = config.n_estimators or ARCHITECTURE["n_estimators"]
    if n_estimators < 2:
        raise MnistlabError(f"n_estimators={n_estimators}: an ensemble needs at least 2 members")
    if run_dir is None:
        run_dir = new_run_dir("ensemble", config.out)
        write_config(run_dir, {**config.to_dict(), "n_estimators": n_estimators}, environment())
    elif member is None and (member_dir(run_dir, 0) / CONFIG_FILE).is_file():
        member = read_config(member_dir(run_dir, 0))["model"]  # resuming: the recipe the members used
    member = member or MEMBER_RECIPE
    runs = []
    for index in range(n_estimators):
        folder = member_dir(run_dir, index)
        if (folder / METRICS_FILE).is_file():
            run = load_run(folder)  # finished before an interruption
        elif (folder / CONFIG_FILE).is_file():
            run = mnistlab.train(resume=folder, progress=config.progress)
        elif _over_budget(config, runs):
            budget = f"{config.budget_minutes:g}-minute budget"
            print(f"stopping at {index} members: one more would pass the {budget}", file=sys.stderr)
            break
        else:
            run = mnistlab.train(
                member, **{**_member_settings(config), "seed": config.seed + index, "out": str(folder)}
            )
        runs.append(run)
    model = combine([run.model for run in runs])
    with atomic_path(run_dir / MODEL_KERAS) as tmp:
        model.save(tmp)
    data = load_training_data(config)
    probabilities = keras_probabilities(model, data.test_images)
    test = score(probabilities, data.test_labels)
    history = [
        {"epoch": index + 1, **{key: run.metrics[key] for key in ("test_accuracy", "train_seconds")}}
        for index, run in enumerate(runs)
    ]
    write_history(run_dir, history)
    write_metrics(
        run_dir,
        {
            "test_accuracy": test["accuracy"],
            "test_loss": test["loss"],
            "train_seconds": round(sum(row["train_seconds"] for row in history), 3),
            "epochs": config.epochs,
            "members": len(runs),
            "member_test_accuracy": [run.metrics["test_accuracy"] for run in runs],
            "params": model.count_params(),
            **data.sizes(),
        },
    )
    write_run_report(run_dir, model=model, probabilities=probabilities)
    finish_run(run_dir)
    return load_run(run_dir)


# 20 members at most: the 90-minute budget decides (20 took 89 minutes here).
ARCHITECTURE = {"n_estimators": 20, "filters": 32, "dropout": 0.3}

register(
    ModelSpec(
        name="ensemble",
        description=f"Average of up to 20 `{MEMBER_RECIPE}` networks trained apart, 90-minute budget",
        build=build,
        kind="keras",
        expected_accuracy=0.9974,  # measured: 20 members, 89 minutes (benchmarks/RESULTS.md)
        architecture=ARCHITECTURE,
        defaults={**best.DEFAULTS, "budget_minutes": 90},  # each member's training settings, and the budget
        trainer=fit_ensemble,
    )
)
