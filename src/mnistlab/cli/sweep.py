"""`mnistlab sweep`: a grid of settings x seeds, one run directory per point (see training/sweep.py).

mnistlab sweep --model fastcnn --param lr=0.001,0.003 --param epochs=1 --seeds 0-1 --out sweeps/lr
mnistlab sweep --model fastcnn --param lr=0.001,0.003 --set train_split='train[:2%]' --seeds 0-1
mnistlab sweep --resume sweeps/lr --engine ray --workers 2        # finish it on a local Ray instance
mnistlab sweep --resume sweeps/lr --engine ray --address 10.0.0.5:6379   # ... or on a cluster

A --param value is read like a `bench` recipe's (`fastcnn+lr=0.003`): int, then float, then text.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mnistlab.errors import MnistlabError


def parse_param(model: str, text: str) -> tuple[str, list[Any]]:
    """ "lr=0.001,0.003" -> ("lr", [0.001, 0.003]), each value read by bench's recipe parser."""
    name, equals, listed = text.partition("=")
    if not equals or not name or not listed:
        raise MnistlabError(f"--param {text!r}: expected setting=value[,value...], e.g. lr=0.001,0.003")
    return name, [_read_value(model, name, value) for value in listed.split(",")]


def parse_setting(model: str, text: str) -> tuple[str, Any]:
    """ "train_split=train[:2%]" -> ("train_split", "train[:2%]"): one value, commas and all."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise MnistlabError(f"--set {text!r}: expected setting=value, e.g. train_split='train[:2%]'")
    return name, _read_value(model, name, value)


def _read_value(model: str, name: str, value: str) -> Any:
    from mnistlab.evaluation.bench import parse_recipe

    return parse_recipe(f"{model}+{name}={value}")[1][name]


# The engine options `sweep` shares with `bench` (and whose meaning training/engines.py defines).
Workers = Annotated[
    int | None, typer.Option(help="Runs at a time (local default 1; ray default: as many as CPUs allow).")
]
Address = Annotated[
    str | None, typer.Option(help="Ray cluster to join (default $RAY_ADDRESS, else a new local one).")
]
CpusPerRun = Annotated[int, typer.Option(help="ray: CPUs reserved per run, and TensorFlow's threads in it.")]
GpusPerRun = Annotated[
    float,
    typer.Option(help="ray: GPUs reserved per run (0.5: two share one); they train with KERAS_BACKEND=jax."),
]


def sweep_command(
    model: Annotated[str | None, typer.Option(help="The model of every point (default fastcnn).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="setting=value[,value...]: one axis of the grid, e.g. lr=0.001,0.003. Repeatable."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="setting=value for every point, e.g. train_split='train[:2%]'. Repeatable.",
        ),
    ] = None,
    seeds: Annotated[str, typer.Option(help="Seeds of every grid point: 0-4, or 0,3,7.")] = "0",
    out: Annotated[
        Path | None, typer.Option(help="Sweep folder (default runs/sweep-<date>-<model>[-N]).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(help="Finish this sweep folder: finished runs are reused, interrupted ones resumed."),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="local: fresh processes on this machine | ray: tasks on a Ray cluster.")
    ] = "local",
    workers: Workers = None,
    address: Address = None,
    cpus_per_run: CpusPerRun = 1,
    gpus_per_run: GpusPerRun = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the sweep's runs as one JSON list (leaderboard rows).")
    ] = False,
) -> None:
    """Train a grid of settings x seeds, one run directory per point, then rank them."""
    from mnistlab.evaluation.evaluation import write_run_report
    from mnistlab.evaluation.leaderboard import list_runs
    from mnistlab.training.sweep import parse_seeds, sweep

    if resume is not None and (model or param or set_ or out):
        raise MnistlabError("--resume runs the sweep's saved grid; drop --model, --param, --set and --out")
    params: dict[str, list[Any]] = {}
    recipe = model or "fastcnn"
    given = [parse_param(recipe, text) for text in param or []]
    given += [(name, [value]) for name, value in (parse_setting(recipe, text) for text in set_ or [])]
    for name, values in given:
        if name in params:
            raise MnistlabError(f"{name} is given twice; list all its values in one --param {name}=a,b")
        params[name] = values
    # In --json mode stdout carries the JSON list alone; the runs' own lines go to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        result = sweep(
            None if resume is not None else recipe,
            params,
            parse_seeds(seeds) if resume is None else (),
            out=out,
            resume=resume,
            engine=engine,
            workers=workers,
            address=address,
            cpus_per_run=cpus_per_run,
            gpus_per_run=gpus_per_run,
            report=write_run_report,
        )
    rows = [row for row in list_runs(result.dir) if Path(row["path"]).name in result.outcomes]
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    from mnistlab.cli.evaluation import _print_runs

    counts = {kind: list(result.outcomes.values()).count(kind) for kind in ("trained", "resumed", "reused")}
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    typer.echo(f"sweep {result.dir}: {len(result.points)} runs ({summary}) in {result.seconds:.1f} s")
    _print_runs(rows, result.dir)


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep_command)
