"""`mnistlab audit`: the likely label errors of a split, ranked (see evaluation/audit.py).

mnistlab audit --split test                       # -> runs/audit-mnist-test/{issues.json,sheet.png}
mnistlab audit --split train --json --out audit/  # 4 folds x 2 seeds of fastcnn, then cleanlab
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from mnistlab.evaluation.audit import DEFAULT_FOLDS, DEFAULT_SEEDS

SHOWN = 20  # rows of the table printed on a terminal; --json and issues.json hold every flagged example


def audit_command(
    dataset: Annotated[str, typer.Option(help="Dataset: mnist | fashion_mnist | kmnist.")] = "mnist",
    split: Annotated[str, typer.Option(help="The split whose labels are audited: train or test.")] = "test",
    out: Annotated[
        Path | None,
        typer.Option(
            help="Work folder: the scoring runs and the answer (default runs/audit-<dataset>-<split>)."
        ),
    ] = None,
    folds: Annotated[
        int, typer.Option(help="Folds of a train-split audit: each is scored by runs trained on the others.")
    ] = DEFAULT_FOLDS,
    seeds: Annotated[int, typer.Option(help="fastcnn runs (seeds) averaged per fold.")] = DEFAULT_SEEDS,
    data_dir: Annotated[Path | None, typer.Option(help="Folder holding the dataset files.")] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the flagged examples as one JSON list, most suspicious first, nothing else."
        ),
    ] = False,
) -> None:
    """Find likely label errors: every example scored by models that never saw it, ranked by cleanlab."""
    from mnistlab.evaluation.audit import audit

    # In --json mode stdout carries the JSON list alone; the training lines go to stderr.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        found = audit(dataset, split, out=out, folds=folds, seeds=seeds, data_dir=data_dir)
    if as_json:
        sys.stdout.write(json.dumps(found.issues) + "\n")
        return
    _print_issues(found)


def _print_issues(found) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{len(found.issues):,} likely label errors in {found.dataset} {found.split} "
        f"({found.examples:,} examples, {found.models} scoring runs)"
    )
    for column in ("rank", "file_index", "label", "suggested", "score"):
        table.add_column(column, justify="right")
    for rank, issue in enumerate(found.issues[:SHOWN], 1):
        table.add_row(
            str(rank),
            str(issue["file_index"]),
            str(issue["label"]),
            str(issue["suggested"]),
            f"{issue['score']:.4f}",
        )
    console = Console()
    console.print(table)
    if len(found.issues) > SHOWN:
        console.print(f"... and {len(found.issues) - SHOWN:,} more in {found.out / 'issues.json'}")
    console.print(f"picture sheet: {found.out / 'sheet.png'}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
