"""`mnistlab train` and `mnistlab models`: parse flags, call mnistlab.train / describe the zoo, print.

    mnistlab models                                    # the zoo: name, parameters, expected accuracy
    mnistlab train --model mlp --epochs 3 --val-fraction 0.1
    mnistlab train --model cnn --epochs 1 --train-split 'train[:2%]'          # tiny mode: seconds
    mnistlab train --model ensemble --n-estimators 9 --budget-minutes 90   # `best` members, then averaged
    mnistlab train --model my_net.py                   # a file with build_model(input_shape, num_classes)
    mnistlab train --resume runs/2026-11-23-mlp        # continue after Ctrl-C or a crash
    mnistlab train --resume runs/x --allow-code        # a run from my_net.py: runs the file again

Every flag is one field of the training config (mnistlab/training/config.py); a flag left out takes the
model recipe's value, then the config default.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

MODEL_HELP = (
    "A zoo name (see `mnistlab models`), a FILE.py defining build_model(input_shape, num_classes) "
    "that returns a keras.Model with softmax outputs, or a FILE.keras to train further. [default: fastcnn]"
)


def train_command(
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    dataset: Annotated[str | None, typer.Option(help="mnist | fashion_mnist | kmnist.")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Folder holding <dataset>/ IDX files.")] = None,
    train_split: Annotated[str | None, typer.Option(help="Training examples, e.g. 'train[:80%]'.")] = None,
    val_split: Annotated[str | None, typer.Option(help="Validation examples, e.g. 'train[80%:]'.")] = None,
    val_fraction: Annotated[
        float | None, typer.Option(help="Hold out this fraction of the train split for validation.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the training examples.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per optimizer step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    optimizer: Annotated[
        str | None, typer.Option(help="adam | adamw | sgd | nesterov | rmsprop | nadam.")
    ] = None,
    momentum: Annotated[float | None, typer.Option(help="Momentum of sgd and nesterov.")] = None,
    weight_decay: Annotated[float | None, typer.Option(help="Decoupled weight decay (0: none).")] = None,
    schedule: Annotated[
        str | None, typer.Option(help="Learning rate per step: constant | onecycle | cosine.")
    ] = None,
    warmup: Annotated[float | None, typer.Option(help="Fraction of steps warming the lr up.")] = None,
    label_smoothing: Annotated[float | None, typer.Option(help="Label smoothing, 0..1.")] = None,
    early_stopping: Annotated[
        int | None, typer.Option(help="Stop after this many epochs without a better val_loss (0: off).")
    ] = None,
    budget_minutes: Annotated[
        float | None, typer.Option(help="Ensembles: start no member expected to end past this (0: none).")
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="float32 | bfloat16 (mixed) | auto (bf16 if the CPU has it).")
    ] = None,
    steps_per_execution: Annotated[
        int | None, typer.Option(help="Optimizer steps per compiled call.")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="TensorFlow CPU threads (0: its default).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for weights, dropout and shuffling.")] = None,
    keep_checkpoints: Annotated[int | None, typer.Option(help="Per-epoch checkpoints to keep.")] = None,
    out: Annotated[str | None, typer.Option(help="Run directory [default: runs/<date>-<model>[-N]].")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Show progress.")] = None,
    hidden: Annotated[int | None, typer.Option(help="Architecture: units per hidden layer.")] = None,
    layers: Annotated[int | None, typer.Option(help="Architecture: hidden layers.")] = None,
    dropout: Annotated[float | None, typer.Option(help="Architecture: dropout rate.")] = None,
    filters: Annotated[int | None, typer.Option(help="Architecture: convolution filters.")] = None,
    n_estimators: Annotated[
        int | None, typer.Option(help="Architecture: trees in a forest, networks in an ensemble.")
    ] = None,
    max_depth: Annotated[int | None, typer.Option(help="Architecture: deepest tree level.")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue the unfinished run in this directory, with its settings.")
    ] = None,
    allow_code: Annotated[
        bool,
        typer.Option(
            "--allow-code", help="With --resume: run the Python model file the run was trained from."
        ),
    ] = False,
) -> None:
    """Train a model and save a run directory (config, history, checkpoints, model, metrics)."""
    settings = {
        name: value
        for name, value in locals().items()
        if value is not None and name not in ("resume", "allow_code")
    }
    from mnistlab import train

    if resume is not None:
        run = train(resume=resume, allow_code=allow_code, **settings)
    else:
        run = train(**settings)
    metrics = run.metrics
    epochs = f"{metrics['epochs']} epoch{'s' if metrics['epochs'] != 1 else ''}"
    if "members" in metrics:  # an ensemble
        epochs = f"{metrics['members']} members x {epochs}"
    typer.echo(
        f"test accuracy {metrics['test_accuracy']:.2%}  test loss {metrics['test_loss']:.4f}  "
        f"training {metrics['train_seconds']:.1f} s ({epochs})"
    )
    typer.echo(f"run directory: {run.dir}")
    from mnistlab.rundir import REPORT_FILE

    if (run.dir / REPORT_FILE).is_file():
        typer.echo(f"report: {run.dir / REPORT_FILE}")


def models_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the model zoo: name, description, parameters, expected test accuracy on MNIST."""
    from mnistlab.models.registry import describe_models

    rows = describe_models()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mnistlab models")
    for column in ("name", "description", "parameters", "expected accuracy"):
        table.add_column(column, justify="right" if column in ("parameters", "expected accuracy") else "left")
    for row in rows:
        params = "-" if row["params"] is None else f"{row['params']:,}"
        accuracy = "-" if row["expected_accuracy"] is None else f"{row['expected_accuracy']:.2%}"
        table.add_row(row["name"], row["description"], params, accuracy)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("models")(models_command)
