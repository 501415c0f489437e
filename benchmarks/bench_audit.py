"""The label audit, checked against label errors we plant ourselves, and timed.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_audit.py \
        [--examples 20000] [--rate 0.02] [--folds 4] [--seeds 1] [--plantings 1] [--full-train]

A planted copy of MNIST: the first `--examples` training digits of the file, with `--rate` of their labels
moved to another class at random (seeded per planting), written as IDX files and registered as the
dataset `mnist_planted` (its test split is MNIST's). The train-split audit then runs on it exactly as
`mnistlab audit --split train` would, and we report the share of planted flips recovered (in the flagged
list, and within its first len(planted) ranks), the precision of the list and the wall-clock time.
MNIST's own labels have errors too (a few dozen in train), so a flagged unplanted digit is not
necessarily a false alarm. `--full-train` also times the real audit of all 60,000 training labels.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mnistlab.data.idx import read_idx, write_idx
from mnistlab.data.registry import DataFile, DatasetSpec, SplitFiles, get_dataset, register_dataset
from mnistlab.evaluation.audit import FILTER_BY, audit
from mnistlab.rundir import cpu_kind

PLANTED = "mnist_planted"


def plant(data_dir: Path, out: Path, examples: int, rate: float, seed: int) -> np.ndarray:
    """Write a planted copy of MNIST under out/mnist_planted/, register it; -> the flipped file indices."""
    mnist = get_dataset("mnist")
    source = Path(data_dir) / "mnist"
    images = read_idx(source / mnist.splits["train"].images.filename, 3)[:examples]
    labels = read_idx(source / mnist.splits["train"].labels.filename, 1)[:examples].copy()
    rng = np.random.default_rng(seed)
    flipped = np.sort(rng.choice(examples, size=round(rate * examples), replace=False))
    labels[flipped] = (labels[flipped] + rng.integers(1, 10, size=len(flipped))) % 10  # always another class
    folder = out / PLANTED
    write_idx(folder / "train-images-idx3-ubyte.gz", images)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels)
    test = mnist.splits["test"]
    for data_file in (test.images, test.labels):
        (folder / data_file.filename).write_bytes((source / data_file.filename).read_bytes())
    register_dataset(
        DatasetSpec(
            name=PLANTED,
            description=f"MNIST train[:{examples}] (file order) with {len(flipped)} labels moved.",
            class_names=mnist.class_names,
            splits={
                "train": SplitFiles(
                    DataFile("train-images-idx3-ubyte.gz"), DataFile("train-labels-idx1-ubyte.gz"), examples
                ),
                "test": SplitFiles(DataFile(test.images.filename), DataFile(test.labels.filename), 10000),
            },
            mirrors=(),
            homepage="",
            citation="",
        )
    )
    return flipped


def recovery(issues: list[dict], planted: np.ndarray) -> dict:
    """Shares of the planted flips found: anywhere in the list, and within its first len(planted) ranks."""
    found = [issue["file_index"] for issue in issues]
    planted_set = set(planted.tolist())
    hits = planted_set & set(found)
    top = planted_set & set(found[: len(planted)])
    return {
        "flagged": len(found),
        "recall": len(hits) / len(planted),
        "recall_at_planted": len(top) / len(planted),
        "precision": len(hits) / max(1, len(found)),
    }


def summary(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=None, help="Folder holding mnist/ (default $MNISTLAB_DATA_DIR)."
    )
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=0.02)
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--plantings", type=int, default=1, help="Independent plantings (seeds 0..n-1).")
    parser.add_argument("--filter-by", default=FILTER_BY, help="cleanlab's flagging rule.")
    parser.add_argument("--full-train", action="store_true", help="Also time the audit of MNIST train.")
    args = parser.parse_args()
    import os

    data_dir = Path(args.data_dir or os.environ.get("MNISTLAB_DATA_DIR", ""))
    if not (data_dir / "mnist").is_dir():
        sys.exit("set MNISTLAB_DATA_DIR (or --data-dir) to the folder holding mnist/")
    import cleanlab
    import tensorflow as tf

    print(f"# {platform.processor() or platform.machine()}, kind {cpu_kind()}, {os.cpu_count()} cores")
    print(f"# tensorflow {tf.__version__}, cleanlab {cleanlab.__version__}, numpy {np.__version__}")
    print(f"# flagging rule: {args.filter_by}")
    print(f"# planted: {args.rate:.0%} of train[:{args.examples}], folds {args.folds}, seeds {args.seeds}")
    rows = []
    for planting in range(args.plantings):
        with tempfile.TemporaryDirectory() as work:
            os.environ["MNISTLAB_CACHE_DIR"] = str(Path(work) / "cache")  # the planted arrays stay in here
            planted = plant(data_dir, Path(work) / "data", args.examples, args.rate, planting)
            start = time.perf_counter()
            found = audit(
                PLANTED,
                "train",
                out=Path(work) / "audit",
                folds=args.folds,
                seeds=args.seeds,
                data_dir=Path(work) / "data",
                progress=False,
                filter_by=args.filter_by,
            )
            row = {**recovery(found.issues, planted), "seconds": time.perf_counter() - start}
            rows.append(row)
            print(f"planting {planting}: " + ", ".join(f"{key} {value:.3f}" for key, value in row.items()))
    for key in ("recall", "recall_at_planted", "precision", "seconds") if rows else ():
        print(f"{key}: {summary([row[key] for row in rows])} (n={len(rows)})")
    if args.full_train:
        with tempfile.TemporaryDirectory() as work:
            start = time.perf_counter()
            found = audit("mnist", "train", out=Path(work), data_dir=data_dir, progress=False)
            print(
                f"MNIST train audit ({found.models} runs): {time.perf_counter() - start:.0f} s, "
                f"{len(found.issues)} flagged"
            )


if __name__ == "__main__":
    main()
