"""Float vs int8 ONNX for one run: file size, test accuracy, argmax agreement, onnxruntime latency.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_quantize.py runs/fastcnn \
        [--quant-format QDQ|QOperator] [--per-channel] [--repeats 1000 100] [--rounds 10]

The float model is the run's model.onnx (converted from model.keras in memory where there is none); the
int8 one is what `mnistlab export RUN --quantize int8` would write (mnistlab.recognition.quantize), made
in memory: nothing is written into the run. Latency is one session.run on 1 image and on a batch of 256,
(N, 28, 28, 1) float32 test images, median and p10-p90 over the repeats after one warm-up call, with
onnxruntime on 1 thread and on its default thread count; float and int8 take turns (--rounds), so that
load from other processes on shared cores falls on both alike. --quant-format and --per-channel try
the choices quantize.py made by this measurement.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np


def float_model(run: Path) -> bytes:
    """The run's model.onnx, or its model.keras converted (and checked against Keras) in memory."""
    from mnistlab.rundir import MODEL_ONNX

    if (run / MODEL_ONNX).is_file():
        return (run / MODEL_ONNX).read_bytes()
    from mnistlab.classifier import load_classifier
    from mnistlab.recognition.onnx_conversion import keras_to_onnx

    classifier = load_classifier(run)
    return keras_to_onnx(classifier.model, classifier.temperature)


def session(model: bytes, threads: int):
    """An onnxruntime CPU session; threads 0 is onnxruntime's default (one per core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def latencies_ms(sessions: dict, pixels: np.ndarray, repeats: int, rounds: int) -> dict:
    """Milliseconds of each session.run on pixels, {name: [repeats times]}. The sessions take turns, in
    `rounds` blocks of repeats / rounds calls each, so that a neighbour's load on shared cores falls on
    all of them alike rather than on whichever ran during it."""
    times = {name: [] for name in sessions}
    for running in sessions.values():  # warm-up: first-call allocations and kernel selection
        running.run(None, {running.get_inputs()[0].name: pixels})
    for _ in range(rounds):
        for name, running in sessions.items():
            feed = {running.get_inputs()[0].name: pixels}
            for _ in range(max(1, repeats // rounds)):
                start = time.perf_counter()
                running.run(None, feed)
                times[name].append(1e3 * (time.perf_counter() - start))
    return times


def spread(times: list[float], digits: int) -> str:
    """median (p10-p90), in ms."""
    low, median, high = np.percentile(times, [10, 50, 90])
    return f"{median:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path, help="A run directory (model.onnx or model.keras).")
    parser.add_argument("--quant-format", choices=("QDQ", "QOperator"), default=None)
    parser.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument(
        "--repeats", type=int, nargs=2, default=(1000, 100), metavar=("ONE", "BATCH"), help="timed calls"
    )
    parser.add_argument("--rounds", type=int, default=10, help="turns float and int8 take at each column")
    args = parser.parse_args()

    import onnx
    import onnxruntime

    import mnistlab
    from mnistlab.recognition import quantize
    from mnistlab.rundir import cpu_kind, cpu_model, read_config

    quant_format = args.quant_format or quantize.QUANT_FORMAT
    per_channel = quantize.PER_CHANNEL if args.per_channel is None else args.per_channel
    dataset = read_config(args.run).get("dataset") or "mnist"
    train_images, _ = mnistlab.load(dataset, split="train", as_supervised=True)
    test_images, test_labels = mnistlab.load(dataset, split="test", as_supervised=True)

    models = {"float32": float_model(args.run)}
    start = time.perf_counter()
    calibration = quantize.calibration_images(train_images)
    models["int8"] = quantize.quantize_bytes(models["float32"], calibration, quant_format, per_channel)
    quantize_s = time.perf_counter() - start
    check = quantize.compare(models["float32"], models["int8"], test_images, test_labels)

    print(
        f"# {cpu_model()}, kind {cpu_kind()}, {os.cpu_count()} cores; python {platform.python_version()}, "
        f"onnxruntime {onnxruntime.__version__}, onnx {onnx.__version__}, numpy {np.__version__}, "
        f"mnistlab {mnistlab.__version__}"
    )
    print(
        f"# run {args.run}; int8: {quant_format}, {'per channel' if per_channel else 'per tensor'}, MinMax "
        f"on {len(calibration)} {dataset} train images (seed {quantize.CALIBRATION_SEED}), made in "
        f"{quantize_s:.1f} s; accepted by the rule: {check.passes()}"
    )
    print(
        f"# latency: median (p10-p90) ms of session.run over {args.repeats[0]} calls (1 image) and "
        f"{args.repeats[1]} calls (256 images), float and int8 taking turns in {args.rounds} rounds, after "
        f"1 warm-up; accuracy on {check.test_images:,} test images"
    )
    pixels = np.asarray(test_images[:256], dtype=np.float32).reshape(256, 28, 28, 1) / 255
    columns = [(1, 1), (256, 1), (1, 0), (256, 0)]  # (batch, threads); 0: onnxruntime's default
    measured = {}
    for batch, threads in columns:
        sessions = {name: session(model, threads) for name, model in models.items()}
        repeats = args.repeats[0] if batch == 1 else args.repeats[1]
        measured[batch, threads] = latencies_ms(sessions, pixels[:batch], repeats, args.rounds)
    header = ["model", "size KB", "test acc %", "agrees %"]
    header += [f"{batch} img, {threads or 'default'} thr, ms" for batch, threads in columns]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, model in models.items():
        accuracy = check.float_accuracy if name == "float32" else check.int8_accuracy
        agreement = 1.0 if name == "float32" else check.agreement
        cells = [name, f"{len(model) / 1e3:,.0f}", f"{100 * accuracy:.2f}", f"{100 * agreement:.2f}"]
        cells += [spread(measured[column][name], 3 if column[0] == 1 else 2) for column in columns]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
