"""`mnistlab train` and `mnistlab models`: parse flags, call mnistlab.train / describe the zoo, print.

    mnistlab models                                    # the zoo: name, parameters, expected accuracy
    mnistlab train --model mlp --epochs 3 --val-fraction 0.1
    mnistlab train --model cnn --epochs 1 --train-split 'train[:2%]'          # tiny mode: seconds
    mnistlab train --model ensemble --n-estimators 9 --budget-minutes 90   # `best` members, then averaged
    mnistlab train --model my_net.py                   # a file with build_model(input_shape, num_classes)
    mnistlab train --resume runs/2026-11-23-mlp        # continue after Ctrl-C or a crash
    mnistlab train --resume runs/x --allow-code        # a run from my_net.py: runs the file again

Every flag but --resume and --allow-code is generated from one field of the training config
(mnistlab/training/config.py), help text included; a flag left out takes the model recipe's value, then the
config default.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from collections.abc import Callable
from typing import Annotated, Any

import typer

from mnistlab.training.config import TrainConfig

_TYPES = typing.get_type_hints(TrainConfig)  # field name -> type, e.g. "hidden" -> int | None


def _setting_flag(field: dataclasses.Field) -> inspect.Parameter:
    """A config field -> the parameter Typer turns into its flag: `batch_size` -> `--batch-size`.

    The help is the field's own. The flag defaults to None, "not given", so that the model recipe's value
    applies when it is left out; the help shows the config's default instead.
    """
    hint = _TYPES[field.name]
    value_type = next(t for t in typing.get_args(hint) or [hint] if t is not type(None))  # int | None -> int
    name = field.name.replace("_", "-")
    declarations = [f"--{name}/--no-{name}"] if value_type is bool else []
    if field.default is None:  # the help says what unset means
        shown_default: bool | str = False
    elif value_type is bool:
        shown_default = f"--{name}" if field.default else f"--no-{name}"
    else:
        shown_default = str(field.default)
    option = typer.Option(*declarations, help=field.metadata["help"], show_default=shown_default)
    annotation = Annotated[value_type | None, option]
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def _with_setting_flags(command: Callable[..., None]) -> Callable[..., None]:
    """Give `command` one flag per TrainConfig field, ahead of its own flags; its **settings receives them."""
    setting_flags = [_setting_flag(field) for field in dataclasses.fields(TrainConfig)]
    own_flags = [
        parameter
        for parameter in inspect.signature(command, eval_str=True).parameters.values()
        if parameter.kind is not parameter.VAR_KEYWORD
    ]
    command.__signature__ = inspect.Signature([*setting_flags, *own_flags])
    return command


@_with_setting_flags
def train_command(
    *,
    resume: Annotated[
        str | None, typer.Option(help="Continue the unfinished run in this directory, with its settings.")
    ] = None,
    allow_code: Annotated[
        bool,
        typer.Option(
            "--allow-code", help="With --resume: run the Python model file the run was trained from."
        ),
    ] = False,
    **settings: Any,
) -> None:
    """Train a model and save a run directory (config, history, checkpoints, model, metrics).

    A setting left out takes the model recipe's value (`mnistlab models --json` lists them), else the
    default shown.
    """
    settings = {name: value for name, value in settings.items() if value is not None}
    from mnistlab import train

    if resume is not None:
        run = train(resume=resume, allow_code=allow_code, **settings)
    else:
        run = train(**settings)
    from mnistlab.recognition.onnx_copy import copy_trained_run

    # In a Python session TensorFlow is loaded anyway; commands are fresh processes, which the copy spares it.
    copy_trained_run(run)
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
        typer.echo(f"report: {run.dir / REPORT_FILE}  (open it in a browser)")
    typer.echo("next:")
    for command, what in (
        (f"mnistlab evaluate {run.dir} --robustness", "pictures, calibration, corruptions"),
        (f"mnistlab predict {run.dir} YOUR_PHOTO.jpg", "a picture of a digit you wrote"),
        (f"mnistlab serve {run.dir}", "draw digits at http://127.0.0.1:8000/"),
    ):
        typer.echo(f"  {command:<58} # {what}")


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
