"""How long everyday commands take, wall clock in a fresh process: train (outside training), evaluate,
predict, read, models, serve until ready.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_startup.py [RUN] \
        [--repeats 3] [--before SRC]

`train --model fastcnn` runs first, into a scratch folder: its wall clock less the training itself
(metrics.json's train_seconds, inside fit only) is the time outside training (import, data, evaluation,
report). The first run it trains is the RUN of the other commands unless one is given (a finished fastcnn
run directory made by this version: evaluate without TensorFlow needs what its report records). Its ONNX
copy is made first, as the first `predict` would. Each command runs `--repeats` times; `serve` counts from
the start of the process until GET /health answers. With `--before SRC` (a `src/` folder of another
checkout) every command also runs with that code on PYTHONPATH, alternating with this one, so a change in
the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SERVE_PORT = 8765


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        lines = [line.strip("│ ") for line in done.stderr.splitlines() if line.strip("│ ╭╰─")]
        sys.exit(f"{' '.join(command[2:4])} failed: {lines[-1] if lines else done.returncode}")
    return time.perf_counter() - start


def serve_ready(run: str, env: dict) -> float:
    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "mnistlab", "serve", run, "--port", str(SERVE_PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while server.poll() is None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{SERVE_PORT}/health", timeout=1).read()
                return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        sys.exit("mnistlab serve exited before answering")
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", nargs="?")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", help="a src/ folder whose code runs alternately, for comparison")
    args = parser.parse_args()

    import numpy as np
    from PIL import Image

    import mnistlab
    from mnistlab.recognition.onnx_copy import predicting_classifier
    from mnistlab.rundir import cpu_kind, cpu_model

    folder = Path(tempfile.mkdtemp(prefix="mnistlab-startup-"))
    trained = []

    def train(env: dict) -> float:
        out = folder / f"train-{len(trained)}"
        wall = timed([*python, "train", "--model", "fastcnn", "--seed", "0", "--out", str(out)], env)
        trained.append(out)
        return wall - json.loads((out / "metrics.json").read_text())["train_seconds"]

    python = [sys.executable, "-m", "mnistlab"]
    variants = {"now": dict(os.environ)}
    if args.before:
        variants["before"] = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
    print(f"# {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"# {cpu_model()} ({cpu_kind()}), {os.cpu_count()} cores; python {platform.python_version()}")
    print(f"# load average at the start: {os.getloadavg()[0]:.2f}")
    print("\n| command | " + " | ".join(variants) + " |\n|---|" + "---|" * len(variants))
    measure_all({"train --model fastcnn: outside training": train}, variants, args.repeats)
    run = args.run or str(trained[0])
    predicting_classifier(run)  # the copy, made once as the first predict makes it
    digits = mnistlab.load("mnist", split="test[:4]")["image"][..., 0]
    Image.fromarray(255 - digits[0]).resize((200, 200)).save(folder / "one.png")
    Image.fromarray(255 - np.concatenate(list(digits), axis=1)).resize((480, 120)).save(folder / "number.png")
    commands = {
        "evaluate RUN": lambda env: timed([*python, "evaluate", run, "--out", str(folder / "eval")], env),
        "predict RUN one.png": lambda env: timed([*python, "predict", run, str(folder / "one.png")], env),
        "read RUN number.png": lambda env: timed([*python, "read", run, str(folder / "number.png")], env),
        "models": lambda env: timed([*python, "models"], env),
        "serve RUN, until /health answers": lambda env: serve_ready(run, env),
    }
    measure_all(commands, variants, args.repeats)


def measure_all(commands: dict, variants: dict, repeats: int) -> None:
    """Each command `repeats` times per variant, the variants' order alternating; one table row each."""
    import numpy as np

    for name, measure in commands.items():
        seconds: dict[str, list[float]] = {variant: [] for variant in variants}
        for repeat in range(repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
            for variant in order:
                try:
                    seconds[variant].append(measure(variants[variant]))
                except SystemExit as failure:  # e.g. `read` did not exist before
                    print(f"# {variant}: {failure}", file=sys.stderr)
                    seconds[variant].append(float("nan"))
        cells = [
            f"{statistics.median(values):.2f} s (median of {', '.join(f'{v:.2f}' for v in values)})"
            if not any(np.isnan(values))
            else "failed"
            for values in seconds.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
