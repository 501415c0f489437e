"""`mnistlab read`: the digits of a handwritten number written on one line, left to right.

    mnistlab read runs/2026-11-23-fastcnn year.jpg postcode.png       # year.jpg: 2026
    mnistlab read model.onnx *.png --json    # [{"file", "text", "digits": [{"label", "probability", "box"}]}]

A box is [x0, y0, x1, y1] in the picture's own pixels (x1, y1 exclusive). A picture without ink reads as
"" (printed as "(nothing read)"). A file that is not a picture gets one "error: FILE: ..." line on
stderr, and the exit status is then 2; the other files are still read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

MODEL_HELP = "A run directory, or a .keras / .skops / .onnx model file."


def read_command(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    files: Annotated[list[Path], typer.Argument(help="Pictures: PNG, JPEG, BMP, GIF, WebP, TIFF.")],
    json_output: Annotated[
        bool,
        typer.Option(
            "--json", help="Print one JSON list of {file, text, digits: [{label, probability, box}]}."
        ),
    ] = False,
) -> None:
    """Read the number written on one line in each picture (up to about 12 digits)."""
    from mnistlab.recognition.read import read

    results = read(model, files, on_error="collect")
    answered = [result for result in results if "error" not in result]
    if json_output:
        typer.echo(json.dumps(answered, indent=2))
    else:
        for result in answered:
            typer.echo(f"{result['file']}: {result['text'] or '(nothing read)'}")
    failed = [result for result in results if "error" in result]
    for result in failed:
        print(f"error: {result['error']}", file=sys.stderr)
    if failed:
        raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    app.command("read")(read_command)
