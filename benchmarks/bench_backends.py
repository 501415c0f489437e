"""One recipe trained on several Keras backends, side by side: seconds inside fit, wall clock, test accuracy.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_backends.py \\
        --models fastcnn mlp --backends tensorflow torch jax --seeds 2 --python torch=/path/to/venv/bin/python

Every run is `python -m mnistlab train` in a fresh process with KERAS_BACKEND set, the backends alternating
within each seed so that the machine's load hits them alike. torch is not in mnistlab's environment: pass
an interpreter that has it (and mnistlab) with --python torch=PATH. Prints mean ± std per model and backend.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train_once(python: str, backend: str, model: str, seed: int, out: Path) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [python, "-m", "mnistlab", "train", "--model", model, "--seed", str(seed), "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run([*command, "--no-progress"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{backend} {model} seed {seed} failed:\n{done.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {"train_seconds": metrics["train_seconds"], "wall": wall, "accuracy": metrics["test_accuracy"]}


def _summary(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    mean = statistics.mean(values) * scale
    spread = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {spread:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["fastcnn", "mlp"])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "torch"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--python", action="append", default=[], help="BACKEND=INTERPRETER (default: ours)")
    args = parser.parse_args()
    pythons = dict(entry.split("=", 1) for entry in args.python)
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.seeds):
            for model in args.models:
                for backend in args.backends:
                    out = Path(scratch) / f"{model}-{backend}-{seed}"
                    run = train_once(pythons.get(backend, sys.executable), backend, model, seed, out)
                    results.setdefault((model, backend), []).append(run)
                    print(f"{model} {backend} seed {seed}: {run}", file=sys.stderr)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}; n = {args.seeds} per row")
    print("| model | backend | training s (inside fit) | wall s (command) | test accuracy % | x TensorFlow |")
    print("|---|---|---|---|---|---|")
    for model in args.models:
        reference = results.get((model, "tensorflow"))
        for backend in args.backends:
            runs = results[(model, backend)]
            train = [run["train_seconds"] for run in runs]
            ratio = (
                f"{statistics.median(train) / statistics.median([r['train_seconds'] for r in reference]):.1f}"
                if reference
                else ""
            )
            print(
                f"| {model} | {backend} | {_summary(train)} | {_summary([run['wall'] for run in runs])} "
                f"| {_summary([run['accuracy'] for run in runs], 100)} | {ratio} |"
            )


if __name__ == "__main__":
    main()
