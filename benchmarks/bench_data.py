"""Data loading speed: warm load (memory-mapped .npy) vs parsing the .gz files, and the batch stream.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_data.py [--repeats 20]

Measures, side by side in one process, interleaved so that machine noise hits every method alike:
  (a) mnistlab.load("mnist") of train and test with the .npy cache warm (target <= 30 ms);
  (b) parsing the four .gz files directly (gzip + IDX header checks, no cache);
  (b') a cold load: parse, verify md5s, put in tfds's order and write the .npy cache (fresh cache dir);
  (c) `mnistlab data bench`: examples/s of the batches training reads (float32, batches of 32, each
      epoch in its seeded order), one epoch of train per repeat, first batch included and excluded;
  (d) variants of the per-batch work: the gather training uses against gathers with preallocated buffers.
Prints the hardware, library versions, number of repeats, and mean ± std.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

import mnistlab
from mnistlab.data import fetch, idx
from mnistlab.data.benchmark import benchmark
from mnistlab.data.registry import get_dataset
from mnistlab.rundir import cpu_model


def warm_load() -> float:
    started = time.perf_counter()
    splits = mnistlab.load("mnist")
    elapsed = time.perf_counter() - started
    assert len(splits["train"]["label"]) == 60000 and len(splits["test"]["label"]) == 10000
    return elapsed


def parse_gz() -> float:
    spec = get_dataset("mnist")
    started = time.perf_counter()
    for files in spec.splits.values():
        images = idx.read_idx(fetch.find_file(spec, files.images.filename), ndim=3)
        labels = idx.read_idx(fetch.find_file(spec, files.labels.filename), ndim=1)
        images = images.reshape(len(images), 28, 28, 1)
        labels = labels.astype(np.int64)
    elapsed = time.perf_counter() - started
    assert len(labels) == 10000 and images.shape == (10000, 28, 28, 1)
    return elapsed


def cold_load() -> float:
    with tempfile.TemporaryDirectory() as cache:
        previous = os.environ.get("MNISTLAB_CACHE_DIR")
        os.environ["MNISTLAB_CACHE_DIR"] = cache
        try:
            started = time.perf_counter()
            mnistlab.load("mnist")
            return time.perf_counter() - started
        finally:
            if previous is None:
                del os.environ["MNISTLAB_CACHE_DIR"]
            else:
                os.environ["MNISTLAB_CACHE_DIR"] = previous


def stream_variants(images: np.ndarray, labels: np.ndarray, batch_size: int) -> dict:
    """One shuffled epoch per variant of the per-batch work, as CPU seconds (compared side by side)."""
    scale = np.float32(1 / 255)
    prenormalised = np.multiply(images, scale, dtype=np.float32)
    gathered = np.empty((batch_size, *images.shape[1:]), np.uint8)
    pixels = np.empty((batch_size, *images.shape[1:]), np.float32)
    order = np.random.default_rng(0).permutation(len(images))
    starts = range(0, len(images) - batch_size + 1, batch_size)

    def cast_then_scale(mode: str) -> None:  # uint8 gathered, then normalised per batch
        for start in starts:
            images.take(order[start : start + batch_size], axis=0, out=gathered, mode=mode)
            np.copyto(pixels, gathered)
            np.multiply(pixels, scale, out=pixels)

    def mixed_multiply() -> None:
        for start in starts:
            images.take(order[start : start + batch_size], axis=0, out=gathered, mode="clip")
            np.multiply(gathered, scale, out=pixels)

    def gather_prenormalised() -> None:
        for start in starts:
            prenormalised.take(order[start : start + batch_size], axis=0, out=pixels, mode="clip")

    def fancy_index() -> None:
        for start in starts:
            prenormalised[order[start : start + batch_size]]

    variants = {
        "uint8 take (clip) + cast + scale": lambda: cast_then_scale("clip"),
        "uint8 take (raise, numpy's default) + cast + scale": lambda: cast_then_scale("raise"),
        "uint8 take (clip) + one mixed-type multiply": mixed_multiply,
        "float32 take from a prenormalised split": gather_prenormalised,
        "float32 fancy index from a prenormalised split [used: data/batches.py]": fancy_index,
    }
    return {name: _cpu_seconds(run) for name, run in variants.items()}


def _cpu_seconds(run) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def summary(values: list[float], scale: float, unit: str, digits: int = 1, higher_is_better=False) -> str:
    """mean ± std, then the median and the best repeat: robust views of a shared, noisy machine."""
    mean = statistics.fmean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    median = statistics.median(values) * scale
    best = (max(values) if higher_is_better else min(values)) * scale
    spread = f"{mean:,.{digits}f} ± {std:,.{digits}f} {unit}"
    return f"{spread} (median {median:,.{digits}f}, best {best:,.{digits}f})"


def rate(values: list[float]) -> str:
    return summary(values, 1, "examples/s", 0, higher_is_better=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=20, help="repeats of (a) and (c); (b) runs repeats/4")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    print(f"hardware: {cpu_model()}, {os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.1f}")
    versions = f"python {platform.python_version()}, numpy {np.__version__}, mnistlab {mnistlab.__version__}"
    print(f"versions: {versions}")
    print(f"data: {fetch.find_file(get_dataset('mnist'), 'train-images-idx3-ubyte.gz').parent}")
    print(f"cache: {fetch.cache_root()}")
    warm_load()  # builds the .npy cache if needed; not timed

    loads, parses, colds = [], [], []
    for repeat in range(args.repeats):
        loads.append(warm_load())
        if repeat % 4 == 0:
            parses.append(parse_gz())
            colds.append(cold_load())
    print(
        f"\n(a) warm load of train+test (.npy memory maps), {len(loads)} repeats: {summary(loads, 1e3, 'ms')}"
    )
    print(f"(b) parse the four .gz files directly, {len(parses)} repeats: {summary(parses, 1e3, 'ms')}")
    print(f"    ratio (b)/(a): {statistics.fmean(parses) / statistics.fmean(loads):,.0f}x")
    cold = summary(colds, 1e3, "ms")
    print(f"(b') cold load (parse, verify md5, reorder, write cache), {len(colds)} repeats: {cold}")

    included, excluded, per_cpu_s, first = [], [], [], []
    for _ in range(args.repeats):
        result = benchmark("mnist", "train", args.batch_size)
        included.append(result.examples_per_s_first_included)
        excluded.append(result.examples_per_s_first_excluded)
        per_cpu_s.append(result.examples_per_cpu_s)
        first.append(result.first_batch_s)
    print(
        f"\n(c) data bench: shuffled float32 batches of {args.batch_size}, one epoch of train "
        f"({result.num_batches} batches) per repeat, {len(included)} repeats"
    )
    print(f"    examples/s, first batch included: {rate(included)}")
    print(f"    examples/s, first batch excluded: {rate(excluded)}")
    print(f"    examples per CPU second:          {rate(per_cpu_s)}")
    print(f"    first batch:                      {summary(first, 1e3, 'ms', 2)}")

    images, labels = mnistlab.load("mnist", "train", as_supervised=True)
    per_variant: dict[str, list[float]] = {}
    for _ in range(max(3, args.repeats // 3)):
        for name, seconds in stream_variants(images, labels, args.batch_size).items():
            per_variant.setdefault(name, []).append(len(labels) / seconds)
    repeats = len(next(iter(per_variant.values())))
    print(f"\n(d) per-batch work, one epoch each, interleaved, {repeats} repeats, examples per CPU second:")
    for name, rates in per_variant.items():
        print(f"    {name:52s} {rate(rates)}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"\ncommand: {' '.join([os.path.basename(sys.executable), *sys.argv])}")


if __name__ == "__main__":
    main()
