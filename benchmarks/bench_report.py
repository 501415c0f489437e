"""Cost of the evaluation report that `mnistlab train` writes at the end of every run.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_report.py [--repeats 5]

Trains two tiny runs once (mlp, and cnn for the feature maps; 1 epoch on train[:5%]), then measures,
interleaved so that machine noise hits each alike:
  (a) write_run_report with the model and test predictions training already holds (what `train` pays);
  (b) the same without them: load model.keras and predict the 10,000 test images first;
  (c) each picture alone: building the Figure and encoding its PNG.
Prints the hardware, library versions, load average, number of repeats, and mean ± std of the wall
time and of the process's CPU time (all threads), in seconds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import mnistlab
from mnistlab.classifier import load_classifier
from mnistlab.evaluation import plots
from mnistlab.evaluation.evaluation import evaluate_classifier, write_run_report
from mnistlab.evaluation.report import PICTURES
from mnistlab.rundir import cpu_model


def timed(function, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU time is the steadier one."""
    started, cpu_started = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - started, time.process_time() - cpu_started


def render_picture(make) -> None:
    """Build one picture (None where it does not apply) and encode it as PNG, as the report does."""
    figure = make()
    if figure is not None:
        plots.figure_to_png(figure)


def summary(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):6.3f} ± {spread:.3f} s"


def print_table(times: dict[str, list[tuple[float, float]]]) -> None:
    print(f"{'':55s} {'wall':>15s}   {'CPU':>15s}")
    for label, pairs in times.items():
        walls, cpus = [wall for wall, _ in pairs], [cpu for _, cpu in pairs]
        print(f"{label:55s} {summary(walls)}   {summary(cpus)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import keras
    import matplotlib

    print(f"hardware: {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}")
    print(f"keras {keras.__version__} ({keras.backend.backend()}), matplotlib {matplotlib.__version__}")
    print(f"load average before: {os.getloadavg()[0]:.2f}; repeats: {args.repeats}")

    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    runs = {
        name: mnistlab.train(name, epochs=1, train_split="train[:5%]", out=str(folder / name), progress=False)
        for name in ("mlp", "cnn")
    }
    held = {}  # what training holds in memory when it writes the report
    for name, run in runs.items():
        classifier = load_classifier(run.dir)
        evaluation = evaluate_classifier(classifier)
        held[name] = (classifier, evaluation)

    times: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            classifier, evaluation = held[name]
            times.setdefault(f"{name}: report, reusing predictions (train)", []).append(
                timed(write_run_report, run.dir, classifier.model, evaluation.probabilities)
            )
            times.setdefault(f"{name}: report from disk (load + predict)", []).append(
                timed(write_run_report, run.dir)
            )
            for picture in PICTURES:
                make = getattr(evaluation, f"plot_{picture}")
                times.setdefault(f"{name}: picture {picture}", []).append(timed(render_picture, make))
    print_table(times)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    sizes = {name: (run.dir / "report.html").stat().st_size for name, run in runs.items()}
    print("report.html size: " + ", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in sizes.items()))


if __name__ == "__main__":
    sys.exit(main())
