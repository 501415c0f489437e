"""Input-pipeline speed, measured like `tfds.benchmark`: examples per second with and without the first batch.

    result = benchmark("mnist", batch_size=32)
    result.examples_per_s_first_excluded     # steady-state speed of the batches training reads

The stream measured is the one training reads (batches.py): float32 pixels in [0, 1], made once when the
split is loaded, then gathered batch by batch in each epoch's seeded order. Loading and converting the
split (a memory map when cached) is timed apart.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from mnistlab.data.batches import batches, epoch_order
from mnistlab.data.load import load

PIXEL_SCALE = np.float32(1 / 255)  # uint8 0..255 -> float32 0..1, as training reads them


@dataclass(frozen=True)
class BenchmarkResult:
    dataset: str
    split: str
    batch_size: int
    num_batches: int
    num_examples: int
    load_s: float  # mnistlab.load of the split and its conversion to float32
    first_batch_s: float  # creating the stream and producing its first batch
    total_s: float  # every batch, the first included
    cpu_s: float  # CPU time of this process over the same batches (less sensitive to a busy machine)

    @property
    def examples_per_s_first_included(self) -> float:
        return self.num_examples / self.total_s

    @property
    def examples_per_cpu_s(self) -> float:
        return self.num_examples / self.cpu_s if self.cpu_s > 0 else float("nan")

    @property
    def examples_per_s_first_excluded(self) -> float:
        rest = self.total_s - self.first_batch_s
        return (self.num_examples - self.batch_size) / rest if rest > 0 else float("nan")


def benchmark(
    name: str = "mnist",
    split: str = "train",
    batch_size: int = 32,
    num_batches: int | None = None,
    *,
    seed: int = 0,
    data_dir=None,
    download: bool = True,
) -> BenchmarkResult:
    """Time `num_batches` batches (default: one epoch; more go on into the next epochs)."""
    started = time.perf_counter()
    images, labels = load(name, split, as_supervised=True, data_dir=data_dir, download=download)
    pixels = np.multiply(images, PIXEL_SCALE, dtype=np.float32)
    load_s = time.perf_counter() - started

    wanted = max(1, -(-len(labels) // batch_size)) if num_batches is None else num_batches
    stream = itertools.chain.from_iterable(
        batches(pixels, labels, epoch_order(seed, epoch, len(labels)), batch_size)
        for epoch in itertools.count()
    )
    examples = produced = 0
    first_batch_s = 0.0
    started, cpu_started = time.perf_counter(), time.process_time()
    for _pixels, targets in stream:  # a training step would consume _pixels here
        examples += len(targets)
        produced += 1
        if produced == 1:
            first_batch_s = time.perf_counter() - started
        if produced >= wanted:
            break
    total_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    return BenchmarkResult(name, split, batch_size, produced, examples, load_s, first_batch_s, total_s, cpu_s)
