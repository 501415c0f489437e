"""Choose the `best` recipe's settings on a validation split (never the test split).

    python benchmarks/experiments/best_validation.py --epochs 6 best best+lr=0.005 best+dropout=0.2
    python benchmarks/experiments/best_validation.py --epochs 20 --val-size 10000 --seeds 2 best \\
        best+filters=48                       # seeds 0 and 1, 10,000 validation images

Each variant is a real `mnistlab.train` run on the first 60,000 - val_size training images with the
rest (6,000 by default) as validation, for each seed, variants alternating within a seed; the
printout is the validation accuracy per epoch, seconds per epoch and the best epoch. Variants use the
bench recipe syntax: a zoo name, then "+setting=value" changes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TRAIN_SIZE = 60_000


def main() -> None:
    import mnistlab
    from mnistlab.evaluation.bench import parse_recipe

    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1")
    parser.add_argument("--val-size", type=int, default=6000, help="the last N train images validate")
    args = parser.parse_args()
    cut = TRAIN_SIZE - args.val_size
    runs = [(seed, variant) for seed in range(args.seeds) for variant in args.variants]
    with tempfile.TemporaryDirectory(prefix="best-validation-") as scratch:
        for index, (seed, variant) in enumerate(runs):
            name, settings = parse_recipe(variant)
            settings = {"epochs": args.epochs, **settings}
            run = mnistlab.train(
                name,
                train_split=f"train[:{cut}]",
                val_split=f"train[{cut}:]",
                seed=seed,
                progress=False,
                out=str(Path(scratch) / str(index)),
                **settings,
            )
            history = run.history
            curve = " ".join(f"{value:.4f}" for value in history["val_accuracy"])
            best = history["val_accuracy"].max()
            print(
                f"{variant:<32} seed {seed} val {curve} | best {best:.4f} | last "
                f"{history['val_accuracy'].iloc[-1]:.4f} | {history['seconds'].mean():.1f} s/epoch",
                flush=True,
            )


if __name__ == "__main__":
    main()
