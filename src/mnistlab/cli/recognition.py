"""`mnistlab predict`, `read`, `export`, `serve`: recognize real pictures and numbers, export, serve.

    mnistlab predict runs/2026-11-23-fastcnn photo.jpg scan.png --top-k 3
    mnistlab predict model.onnx *.png --json --show seen/      # one JSON list; pictures of what it saw
    mnistlab predict RUN seven.png --explain --show seen/      # ... and where it looked (occlusion map)
    mnistlab read runs/2026-11-23-fastcnn year.jpg             # year.jpg: 2026 (--json: digits and boxes)
    mnistlab export runs/2026-11-23-fastcnn --format onnx --out digits.onnx
    mnistlab export runs/2026-11-23-fastcnn --quantize int8   # model.int8.onnx, if as accurate as float
    mnistlab serve runs/2026-11-23-fastcnn --port 8000         # drawing page at http://127.0.0.1:8000/

predict answers every picture: with its digit, or refused (label null and a reason) when it does not
hold one digit it can read (blank paper, a letter, a symbol, a scribble, several digits). read answers
"(nothing read)" for a picture without ink. A file that is not a picture gets one "error: FILE: ..." line
on stderr, and the exit status is then 2; the other files are still answered. --explain adds each digit's
occlusion map: in --json as "explanation" (28 rows of 28 floats, on one line each), in --show's pictures
as a third panel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

MODEL_HELP = "A run directory, or a .keras / .skops / .onnx model file."


def predict_command(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    files: Annotated[list[Path], typer.Argument(help="Pictures: PNG, JPEG, BMP, GIF, WebP, TIFF.")],
    top_k: Annotated[int, typer.Option(help="How many of the most probable digits to list.")] = 3,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON list of {file, label, probability, top_k[, reason]}."),
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Refuse pictures whose probability of holding one digit is below this (0..1); "
            "lower refuses fewer digits and accepts more non-digits. [default: chosen so that 0.5% of "
            "MNIST digits are refused]"
        ),
    ] = None,
    show: Annotated[
        Path | None, typer.Option(help="Folder for one PNG per input: the picture beside what the model saw.")
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Add where the model looked: an occlusion map per digit read (28x28, probability lost when "
            "each spot is hidden), as `explanation` in --json and over the digit in --show's pictures.",
        ),
    ] = False,
) -> None:
    """Recognize the digit in each picture (photos, scans, drawings), prepared like MNIST."""
    from mnistlab.errors import MnistlabError
    from mnistlab.recognition.predict import predict

    if explain and not (json_output or show):
        raise MnistlabError(
            "--explain shows its maps in --json output or in --show pictures; add one of them"
        )
    results = predict(
        model, files, top_k=top_k, threshold=threshold, show_dir=show, on_error="collect", explain=explain
    )

    def line(result: dict) -> str:
        ranking = ", ".join(f"{c['label']} {100 * c['probability']:.1f}%" for c in result["top_k"])
        if result["label"] is None:
            return f"{result['file']}: refused, {result['reason']}" + (f"  ({ranking})" if ranking else "")
        return f"{result['file']}: {result['label']}  ({ranking})"

    echo_results(results, json_output, line)


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
    echo_results(
        results, json_output, lambda result: f"{result['file']}: {result['text'] or '(nothing read)'}"
    )


def echo_results(results: list[dict], json_output: bool, line) -> None:
    """Answers on stdout (one JSON list, or line(result) each); one "error: ..." line on stderr per file
    that could not be read, and then exit status 2."""
    answered = [result for result in results if "error" not in result]
    if json_output:
        typer.echo(json_text(answered))
    else:
        for result in answered:
            typer.echo(line(result))
    failed = [result for result in results if "error" in result]
    for result in failed:
        print(f"error: {result['error']}", file=sys.stderr)
    if failed:
        raise typer.Exit(code=2)


def json_text(value, depth: int = 0) -> str:
    """JSON indented by 2, except that a list of numbers stays on one line: a 28 x 28 map takes 28 lines,
    not 812, and a box [x0, y0, x1, y1] one."""
    inner, outer = "  " * (depth + 1), "  " * depth
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(key)}: {json_text(item, depth + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{outer}}}"
    numbers = isinstance(value, list) and all(
        isinstance(item, (int, float)) and not isinstance(item, bool) for item in value
    )
    if isinstance(value, list) and value and not numbers:
        items = [f"{inner}{json_text(item, depth + 1)}" for item in value]
        return "[\n" + ",\n".join(items) + f"\n{outer}]"
    return json.dumps(value)


def export_command(
    model: Annotated[
        str, typer.Argument(help="A run directory or a .keras model file (with --quantize int8, also .onnx).")
    ],
    format: Annotated[str, typer.Option(help="onnx | saved_model.")] = "onnx",
    out: Annotated[Path | None, typer.Option(help="Where to write [default: beside the model].")] = None,
    quantize: Annotated[
        str,
        typer.Option(
            help="none | int8: onnxruntime's static quantization (onnx only), calibrated on 1,000 training "
            "images, kept only if its test accuracy is within 0.1 point of float and its argmax agrees "
            "on >= 99.8% of test images; written beside the model as model.int8.onnx (NAME.int8.onnx)."
        ),
    ] = "none",
) -> None:
    """Export a Keras model as ONNX (checked against Keras; optionally int8) or as a TensorFlow SavedModel."""
    from mnistlab.recognition.export import export
    from mnistlab.recognition.quantize import recorded_check

    target = export(model, format=format, out=out, quantize=quantize)
    typer.echo(f"wrote {target}")
    if quantize == "int8":
        typer.echo(recorded_check(target).describe())


def serve_command(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    max_upload_mb: Annotated[float, typer.Option(help="Largest request body accepted, in MB.")] = 5.0,
    engine: Annotated[
        str, typer.Option(help="auto (onnxruntime if the model converts, else Keras) | onnxruntime | keras.")
    ] = "auto",
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Server processes sharing the port (default: one per core, at most 4). Each answers "
            "requests on its own, so N processes answer up to N times as many at once.",
        ),
    ] = None,
) -> None:
    """Serve the drawing page (GET /) and the REST API (POST /predict, /predict/batch; docs at /docs)."""
    from mnistlab.recognition.server import serve

    serve(model, host=host, port=port, max_upload_mb=max_upload_mb, engine=engine, workers=workers)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_command)
    app.command("read")(read_command)
    app.command("export")(export_command)
    app.command("serve")(serve_command)
