"""`mnistlab bench`: train recipes over seeds side by side; training time, accuracy, time-to-accuracy.

    mnistlab bench                                     # fastcnn, cnn and mlp tutorials, 3 seeds each
    mnistlab bench --recipes fastcnn,cnn --seeds 5 --json
    mnistlab bench --epochs-cap 1 --train-split 'train[:2%]' --seeds 1     # tiny mode: seconds
    mnistlab bench --recipes fastcnn,cnn --seeds 5 --engine ray --workers 4   # runs as Ray tasks

The tutorials' own recipes (`cnn`: 10 epochs at batch 64, `mlp`: 10 epochs at batch 32) run as
baselines in the same process. Times are training only (inside fit), mean ± std over seeds. With
--engine ray or --workers above 1, each run is a fresh process and runs side by side share cores: the
output says so under the hardware line.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mnistlab.cli.sweep import Address, CpusPerRun, GpusPerRun, Workers


def bench_command(
    recipes: Annotated[str, typer.Option(help="Comma-separated zoo names.")] = "fastcnn,cnn,mlp",
    seeds: Annotated[int, typer.Option(help="Runs per recipe, with seeds 0..N-1.")] = 3,
    data_dir: Annotated[str | None, typer.Option(help="Folder holding mnist/ IDX files.")] = None,
    epochs_cap: Annotated[
        int | None, typer.Option(help="Train each recipe at most this many epochs (tiny mode).")
    ] = None,
    train_split: Annotated[
        str | None, typer.Option(help="Train on this split instead, e.g. 'train[:2%]' (tiny mode).")
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Keep the run directories here (default: a temporary folder).")
    ] = None,
    engine: Annotated[
        str,
        typer.Option(help="local: this process (fresh processes if --workers > 1) | ray: tasks on Ray."),
    ] = "local",
    workers: Workers = None,
    address: Address = None,
    cpus_per_run: CpusPerRun = 1,
    gpus_per_run: GpusPerRun = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Benchmark training: accuracy and training seconds per recipe (mean ± std), and speed-ups."""
    from mnistlab.evaluation.bench import bench

    names = [name.strip() for name in recipes.split(",") if name.strip()]
    report = bench(
        names,
        seeds,
        data_dir=data_dir,
        epochs_cap=epochs_cap,
        train_split=train_split,
        out=out,
        engine=engine,
        workers=workers,
        address=address,
        cpus_per_run=cpus_per_run,
        gpus_per_run=gpus_per_run,
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    _print_tables(report)


def _print_tables(report) -> None:
    from rich.console import Console
    from rich.table import Table

    from mnistlab.evaluation.bench import describe

    console = Console()
    hardware, versions = report.environment["hardware"], report.environment["versions"]
    kind = hardware.get("kind", "kind unknown")  # reports made before the kind was recorded lack it
    machine = f"{hardware['cpu']} ({kind}), {hardware['cores']} cores"
    console.print(f"{machine}; seeds {report.seeds}", highlight=False)
    console.print(", ".join(f"{name} {value}" for name, value in versions.items() if value), highlight=False)
    if report.execution["note"]:  # runs side by side: the seconds are not those of a machine to itself
        console.print(f"note: {report.execution['note']}", highlight=False)
    table = Table(title="training (mean ± std over seeds; seconds inside fit only)")
    table.add_column("recipe")
    table.add_column("epochs", justify="right")
    table.add_column("test accuracy", justify="right")
    table.add_column("train s", justify="right")
    for target in report.targets:
        table.add_column(f"s to {target:.1%}", justify="right")
    for row in report.rows.values():
        accuracy = f"{row.test_accuracy.mean:.2%} ± {row.test_accuracy.std:.2%}"
        seconds = f"{row.train_seconds.mean:.1f} ± {row.train_seconds.std:.1f}"
        cells = [row.recipe, str(row.runs[0].epochs), accuracy, seconds]
        for target in report.targets:
            cells.append(row.time_to_text(target))
        table.add_row(*cells)
    console.print(table)
    for speedup in report.speedups:
        console.print(describe(speedup), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
