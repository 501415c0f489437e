"""ensemble: N `best` networks whose averaged probabilities reach >= 99.80% test accuracy on MNIST.

    from mnistlab.models.ensemble import train_ensemble, combine
    run = train_ensemble(n_estimators=5)        # 5 `best` runs (seeds 0..4), one after another, then combined
    model = combine([run_a.model, run_b.model]) # any trained models -> one model averaging their outputs

The combined model is one ordinary .keras file: a functional model whose members (nested Sequential
models) each see the input, followed by keras.layers.Average over their softmax outputs. It holds
standard layers only, so safe-mode loading, evaluation, serving and ONNX export treat it like any other
model. Each member is trained alone by the normal training loop (its own seed, so its own initial
weights, augmentation and shuffling); training the averaged output jointly would couple the members
(a member that is already right gets most of the gradient on a hard example) and make them less diverse.
`mnistlab train --model ensemble` today fits the averaged model as one model, members together; the
recipe is train_ensemble (command line: `python benchmarks/bench_train.py --ensemble 5`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

    settings: training settings for every member (e.g. epochs=2 for a quick try). The members' runs are
    kept in <run>/members/<i>/; the run directory itself holds the combined model.keras, metrics.json
    (train_seconds: the members' sum), history.csv (one row per member) and report.html.
    """
    import mnistlab
    from mnistlab.evaluation.api import write_run_report
    from mnistlab.files import atomic_path
    from mnistlab.training.config import resolve_config
    from mnistlab.training.inputs import load_training_data
    from mnistlab.training.run import load_run
    from mnistlab.training.rundir import environment, new_run_dir, write_config, write_history, write_metrics
    from mnistlab.training.scores import keras_probabilities, score

    config = resolve_config({**settings, "model": member, "seed": seed}, get_spec(member).defaults)
    run_dir = new_run_dir("ensemble", None if out is None else str(out))
    recorded = {**config.to_dict(), "model": "ensemble", "member": member, "n_estimators": n_estimators}
    write_config(run_dir, recorded, environment())
    runs = []
    for index in range(n_estimators):
        member_dir = run_dir / "members" / str(index)
        runs.append(mnistlab.train(member, **{**settings, "seed": seed + index, "out": str(member_dir)}))
    model = combine([run.model for run in runs])
    with atomic_path(run_dir / "model.keras") as tmp:
        model.save(tmp)
    data = load_training_data(config)
    probabilities = keras_probabilities(model, data.test_images)
    test = score(probabilities, data.test_labels)
    history = [{"epoch": index + 1, **run.metrics} for index, run in enumerate(runs)]
    write_history(
        run_dir, [{key: row[key] for key in ("epoch", "test_accuracy", "train_seconds")} for row in history]
    )
    write_metrics(
        run_dir,
        {
            "test_accuracy": test["accuracy"],
            "test_loss": test["loss"],
            "train_seconds": round(sum(run.metrics["train_seconds"] for run in runs), 3),
            "epochs": config.epochs,
            "members": n_estimators,
            "member_test_accuracy": [run.metrics["test_accuracy"] for run in runs],
            "params": model.count_params(),
            **data.sizes(),
        },
    )
    write_run_report(run_dir, model=model, probabilities=probabilities)
    return load_run(run_dir)


register(
    ModelSpec(
        name="ensemble",
        description=f"Average of 5 `{MEMBER_RECIPE}` networks trained apart: >= 99.80% test accuracy",
        build=build,
        kind="keras",
        expected_accuracy=0.998,  # the target; not yet measured (a 90-minute run)
        architecture={"n_estimators": 5, "filters": 32, "dropout": 0.3},
        defaults=best.DEFAULTS,  # each member's training settings
    )
)
