"""`mnistlab evaluate` (metrics, pictures, report.html for a run or a model file) and `mnistlab runs`.

mnistlab evaluate runs/2026-11-23-fastcnn                 # -> runs/2026-11-23-fastcnn/eval-test/
mnistlab evaluate model.skops --dataset fashion_mnist --split 'test[:50%]' --out out/ --json
mnistlab evaluate runs/latest --robustness                # + accuracy under 16 corruptions x 3 severities
mnistlab runs --dir runs --sort train_seconds
mnistlab runs compare runs/2026-11-23-fastcnn runs/latest  # paired: 95% intervals, McNemar, disagreements
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
    robustness: Annotated[
        bool,
        typer.Option(
            "--robustness", help="Also measure accuracy under corruptions (noise, blur, rotation, ...)."
        ),
    ] = False,
    robustness_limit: Annotated[
        int, typer.Option(help="Test digits (a seeded sample of the split) the corruptions are measured on.")
    ] = 2000,
    audit: Annotated[
        Path | None,
        typer.Option(
            help="An audit of this split (`mnistlab audit`'s folder): also report the accuracy with the "
            "labels it doubts set aside, and mark them in the gallery."
        ),
    ] = None,
) -> None:
    """Evaluate a model: accuracy, loss, per-class scores, confusion matrix, pictures and report.html."""
    from mnistlab.evaluation.evaluation import evaluate_to_dir

    # In --json mode stdout carries the JSON object alone; anything a library prints goes to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        evaluation, out_dir = evaluate_to_dir(
            target,
            dataset=dataset,
            split=split,
            data_dir=data_dir,
            out_dir=out,
            robustness_limit=robustness_limit if robustness else None,
            progress=None if as_json else _progress_line,
            audit=audit,
        )
    if as_json:
        sys.stdout.write(json.dumps(evaluation.to_dict()) + "\n")
        return
    _print_evaluation(evaluation.to_dict(), out_dir)


def _progress_line(corruption: str) -> None:
    sys.stderr.write(f"robustness: {corruption}\n")


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
    if "robustness" in result:
        console.print(_robustness_table(result["robustness"]))
    console.print(f"accuracy [bold]{result['accuracy']:.2%}[/bold]   loss {loss}")
    if "set_aside" in result:
        aside = result["set_aside"]
        console.print(
            f"accuracy [bold]{aside['accuracy']:.2%}[/bold] on the {aside['examples']:,} examples whose "
            f"labels the audit does not doubt ({aside['doubted']:,} set aside)"
        )
    console.print(escape(f"report: {out_dir / 'report.html'}"), highlight=False)


def _robustness_table(robustness: dict):
    from rich.table import Table

    examples, seed, clean = robustness["examples"], robustness["seed"], robustness["clean_accuracy"]
    table = Table(
        title=f"accuracy under corruptions ({examples:,} test digits, seed {seed}; clean {clean:.2%})"
    )
    for column in ("corruption", "tfds", "severity 1", "severity 2", "severity 3"):
        table.add_column(column, justify="right" if column.startswith("severity") else "left")
    for row in robustness["corruptions"]:
        table.add_row(row["name"], row["tfds"] or "-", *(f"{value:.2%}" for value in row["accuracy"]))
    return table


def runs_command(
    ctx: typer.Context,
    runs_dir: Annotated[Path, typer.Option("--dir", help="Folder holding run directories.")] = Path("runs"),
    sort: Annotated[
        str, typer.Option(help="Column to sort by: test_accuracy, train_seconds, date, epochs, model ...")
    ] = "test_accuracy",
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as one JSON array.")] = False,
) -> None:
    """Leaderboard of every run: model, dataset, epochs, test accuracy, training time, date, path.

    `mnistlab runs compare A B` compares two runs on the same test digits.
    """
    if ctx.invoked_subcommand is not None:
        return
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


def compare_command(
    run_a: Annotated[
        Path,
        typer.Argument(
            metavar="A",
            help="A run directory (or runs/latest), a model file, or a zoo model's name for its newest run.",
        ),
    ],
    run_b: Annotated[Path, typer.Argument(metavar="B", help="The run to compare it with (the same forms).")],
    dataset: Annotated[
        str | None, typer.Option(help="Dataset both are evaluated on (default: the runs' own dataset).")
    ] = None,
    split: Annotated[str, typer.Option(help="Split in tfds grammar, the same digits for both.")] = "test",
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding the dataset files.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder for comparison.json and disagreements.png (default: beside A)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the comparison, nothing else.")
    ] = False,
) -> None:
    """Compare two runs on the same digits: accuracies with 95% intervals, an exact McNemar test, and a
    sheet of the digits one got right and the other wrong."""
    from mnistlab.evaluation.compare import compare_runs, default_compare_dir

    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        comparison = compare_runs(run_a, run_b, dataset=dataset, split=split, data_dir=data_dir)
        out_dir = out or default_compare_dir(run_a, run_b)
        written = comparison.write(out_dir)
    result = {**comparison.to_dict(), "sheet": str(written["sheet"])}
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    _print_comparison(result)


def _print_comparison(result: dict) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=escape(f"{result['dataset']} {result['split']}: the same {result['n_examples']:,} digits")
    )
    for column in ("", "run", "model", "accuracy", "95% interval", "right only here"):
        table.add_column(column, justify="right" if column in ("accuracy", "right only here") else "left")
    for side, only in (("a", "only_a_right"), ("b", "only_b_right")):
        row = result[side]
        table.add_row(
            side.upper(),
            escape(row["name"]),
            escape(row["model"]),
            f"{row['accuracy']:.2%}",
            f"{row['ci_low']:.2%} - {row['ci_high']:.2%}",
            str(result[only]),
        )
    console = Console()
    console.print(table)
    verdict = "significant" if result["mcnemar_p"] < 0.05 else "not significant"
    console.print(f"exact McNemar test: p = {result['mcnemar_p']:.3g} (the difference is {verdict} at 5%)")
    console.print(escape(f"sheet: {result['sheet']}"), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
    # `runs` lists the runs when called alone, and holds `runs compare`
    runs = typer.Typer(invoke_without_command=True, no_args_is_help=False, rich_markup_mode="rich")
    runs.callback()(runs_command)
    runs.command("compare")(compare_command)
    app.add_typer(runs, name="runs")
