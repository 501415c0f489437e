"""Choose the `best` recipe's settings on a validation split (never the test split).

    python benchmarks/experiments/best_validation.py --epochs 6 best best+lr=0.005 best+dropout=0.2

Each variant is a real `mnistlab.train` run on train[:54000] with train[54000:] as validation; the
printout is the validation accuracy per epoch, seconds per epoch and the best epoch. Variants use the
bench recipe syntax: a zoo name, then "+setting=value" changes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TRAIN_SPLIT = "train[:54000]"
VAL_SPLIT = "train[54000:]"


def main() -> None:
    import mnistlab
    from mnistlab.bench import parse_recipe

    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="best-validation-") as scratch:
        for index, variant in enumerate(args.variants):
            name, settings = parse_recipe(variant)
            settings = {"epochs": args.epochs, **settings}
            run = mnistlab.train(
                name,
                train_split=TRAIN_SPLIT,
                val_split=VAL_SPLIT,
                seed=args.seed,
                progress=False,
                out=str(Path(scratch) / str(index)),
                **settings,
            )
            history = run.history
            curve = " ".join(f"{value:.4f}" for value in history["val_accuracy"])
            best = history["val_accuracy"].max()
            print(
                f"{variant:<40} val {curve} | best {best:.4f} | {history['seconds'].mean():.1f} s/epoch",
                flush=True,
            )


if __name__ == "__main__":
    main()
