"""Train the wholeness network shipped in src/mnistlab/recognition/ (wholeness.onnx + .json).

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/train_wholeness.py \
        src/mnistlab/recognition [--numbers 4000] [--seed 0] [--epochs 5] [--workers N]

Numbers of 2-7 digits are written with MNIST train[:50000] digits by bench_read.py's generator (never
train[50000:], on which read.py's weights are measured, nor test, on which bench_read.py reports); every
hypothesis segment.py makes of them is labelled by which digit its ink came from (wholeness.labels) and
the network is fitted on them (wholeness.train). Writing the numbers is most of the time: about 0.2 s
per number and core.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_read import random_number  # noqa: E402

CHUNK = 100  # numbers per task


def examples(seed: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` numbers from seed -> labelled hypotheses: (pictures, numbers, whole), unsure ones left out."""
    import mnistlab
    from mnistlab.recognition import segment, wholeness

    images, labels = mnistlab.load("mnist", split="train[:50000]", as_supervised=True)
    rng = np.random.default_rng(seed)
    pictures, numbers, whole = [], [], []
    for _ in range(count):
        data, _text, info = random_number(images[..., 0], labels, rng)
        line = segment.find_line(data)
        options = segment.hypotheses(line)
        found = wholeness.labels(line, options, info["owners"])
        kept = np.flatnonzero(found >= 0)
        some_pictures, some_numbers = wholeness.features(line, [options[i] for i in kept])
        pictures.append(some_pictures)
        numbers.append(some_numbers)
        whole.append(found[kept])
    return np.concatenate(pictures), np.concatenate(numbers), np.concatenate(whole)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--numbers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()

    from mnistlab.recognition.wholeness import train
    from mnistlab.rundir import cpu_model

    started = time.perf_counter()
    chunks = [(args.seed * 100_000 + index, CHUNK) for index in range(-(-args.numbers // CHUNK))]
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(examples, *zip(*chunks, strict=True)))
    pictures, numbers, whole = (np.concatenate(column) for column in zip(*parts, strict=True))
    written = time.perf_counter() - started
    info = train(
        pictures,
        numbers,
        whole,
        args.out,
        seed=args.seed,
        epochs=args.epochs,
        trained_on=f"hypotheses of {len(chunks) * CHUNK} numbers written with MNIST train[:50000] digits "
        "by benchmarks/bench_read.py",
    )
    print(json.dumps(info, indent=2))
    machine = f"{cpu_model()}, {os.cpu_count()} cores, python {platform.python_version()}"
    print(
        f"numbers written in {written:.0f} s, all done in {time.perf_counter() - started:.0f} s on {machine}"
    )


if __name__ == "__main__":
    main()
