"""`mnistlab evaluate` (metrics, pictures, report.html for a run or a model file) and `mnistlab runs`.

mnistlab evaluate runs/2026-11-23-fastcnn                 # -> runs/2026-11-23-fastcnn/eval-test/
mnistlab evaluate model.skops --dataset fashion_mnist --split 'test[:50%]' --out out/ --json
mnistlab runs --dir runs --sort train_seconds
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def evaluate_command(
    target: Annotated[Path, typer.Argument(help="A run directory or a .keras / .skops / .onnx model file.")],
    dataset: Annotated[
        str | None, typer.Option(help="Dataset to evaluate on (default: the run's dataset, else mnist).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split in tfds grammar, e.g. test or 'train[80%:]'.")] = "test",
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding the dataset files.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default: <run>/eval-<split>/, or beside the model file)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with every metric, nothing else.")
    ] = False,
) -> None:
    """Evaluate a model: accuracy, loss, per-class scores, confusion matrix, pictures and report.html."""
    from mnistlab.evaluation.evaluation import evaluate_to_dir

    # In --json mode stdout carries the JSON object alone; anything a library prints goes to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        evaluation, out_dir = evaluate_to_dir(
            target, dataset=dataset, split=split, data_dir=data_dir, out_dir=out
        )
    if as_json:
        sys.stdout.write(json.dumps(evaluation.to_dict()) + "\n")
        return
    _print_evaluation(evaluation.to_dict(), out_dir)


def _print_evaluation(result: dict, out_dir: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    loss = "n/a" if result["loss"] is None else f"{result['loss']:.4f}"
    table = Table(
        title=escape(
            f"{result['model']} on {result['dataset']} {result['split']} ({result['n_examples']:,} examples)"
        )
    )
    for column in ("label", "name", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "name" else "right")
    for row in result["per_class"]:
        table.add_row(
            str(row["label"]),
            escape(row["name"]),
            f"{row['precision']:.4f}",
            f"{row['recall']:.4f}",
            f"{row['f1']:.4f}",
            str(row["support"]),
        )
    macro = result["macro_avg"]
    table.add_section()
    table.add_row(
        "",
        "macro avg",
        f"{macro['precision']:.4f}",
        f"{macro['recall']:.4f}",
        f"{macro['f1']:.4f}",
        str(result["n_examples"]),
    )
    console = Console()
    console.print(table)
    console.print(f"accuracy [bold]{result['accuracy']:.2%}[/bold]   loss {loss}")
    console.print(escape(f"report: {out_dir / 'report.html'}"), highlight=False)


def runs_command(
    runs_dir: Annotated[Path, typer.Option("--dir", help="Folder holding run directories.")] = Path("runs"),
    sort: Annotated[
        str, typer.Option(help="Column to sort by: test_accuracy, train_seconds, date, epochs, model ...")
    ] = "test_accuracy",
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as one JSON array.")] = False,
) -> None:
    """Leaderboard of every run: model, dataset, epochs, test accuracy, training time, date, path."""
    from mnistlab.evaluation.leaderboard import list_runs

    rows = list_runs(runs_dir, sort=sort)
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    _print_runs(rows, runs_dir)


def _print_runs(rows: list[dict], runs_dir: Path) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"runs in {runs_dir} ({len(rows)})"))
    for column in ("model", "dataset", "epochs", "test accuracy", "train s", "date", "status"):
        table.add_column(
            column, justify="right" if column in ("epochs", "test accuracy", "train s") else "left"
        )
    # the path is what the next command needs: folded onto more lines in a narrow terminal, never cut
    table.add_column("path", overflow="fold")
    for row in rows:
        accuracy = row["test_accuracy"]
        seconds = row["train_seconds"]
        status = row["status"]
        if status != "ok":
            status = f"[red]{status}[/red]: {escape('; '.join(row['problems']))}"
        table.add_row(
            escape(str(row["model"] or "?")),
            escape(str(row["dataset"] or "?")),
            "" if row["epochs"] is None else str(row["epochs"]),
            "" if accuracy is None else f"{float(accuracy):.2%}",
            "" if seconds is None else f"{float(seconds):.1f}",
            escape(row["date"]),
            status,
            escape(row["path"]),
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
    app.command("runs")(runs_command)
